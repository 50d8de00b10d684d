"""Simulated PX4-compatible drones, a simulated CAD, and the SITL scenario runner (test harness; never imported by production code)."""

__all__: list[str] = []
