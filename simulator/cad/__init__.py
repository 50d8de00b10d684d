"""A simulated CAD server (independent of the service's code)."""

__all__: list[str] = []
