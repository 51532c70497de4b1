"""testflow.reporting."""
