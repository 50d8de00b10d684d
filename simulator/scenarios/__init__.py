"""SITL scenarios: documented scenario files, resources, the runner and its report."""

__all__: list[str] = []
