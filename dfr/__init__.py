"""DFR service: composition root (settings, persistence, dispatch, HTTP/WebSocket API, console, CLI)."""

__all__: list[str] = []
