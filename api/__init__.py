"""FastAPI app that reads what the pipeline published (never writes to the lake or warehouse)."""
