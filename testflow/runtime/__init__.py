"""testflow.runtime."""
