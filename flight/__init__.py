"""Flight plans, the MAVLink vehicle link for a fleet, commands and flight state."""

__all__: list[str] = []
