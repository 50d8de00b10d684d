"""Every package declares its public surface in `__all__`, and every name in it exists."""

import importlib

import pytest

PACKAGES = [
    "geofence",
    "flight",
    "cad_bridge",
    "telemetry",
    "cameras",
    "dfr",
    "simulator",
    "simulator.vehicle",
    "simulator.cad",
    "simulator.scenarios",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_package_declares_all_and_exports_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list), f"{name}.__all__ is missing"
    for member in exported:
        assert hasattr(module, member), f"{name}.__all__ names {member!r}, which does not exist"
    assert sorted(exported) == sorted(set(exported)), f"{name}.__all__ has duplicates"
