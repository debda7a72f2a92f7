"""The FastAPI service, the settings object and the `anchor` CLI."""
