"""testflow: durable end-to-end tests for B2B integrations, run as Temporal workflows."""

__version__ = "0.1.0"
