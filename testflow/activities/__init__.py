"""testflow.activities."""
