"""The HTTP API (FastAPI): translation between HTTP and the server's operations only."""
