"""testflow.plugins."""
