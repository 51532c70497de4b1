"""The flow language: models, loader, templating, JSONPath, assertions, registry. Pure: no I/O."""
