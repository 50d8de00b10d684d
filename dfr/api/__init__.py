"""HTTP API of the service."""

__all__: list[str] = []
