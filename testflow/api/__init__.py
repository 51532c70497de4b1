"""testflow.api."""
