"""In-process telemetry bus, WebSocket fan-out, track recording, video relay and recording."""

__all__: list[str] = []
