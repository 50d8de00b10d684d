"""PX4-compatible simulated drones speaking MAVLink over UDP (independent of the service's code)."""

__all__: list[str] = []
