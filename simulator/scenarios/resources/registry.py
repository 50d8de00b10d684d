"""Resource types by name, as configs write them, and building one from its specification."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from simulator.scenarios.errors import ConfigurationError, UnknownResourceError
from simulator.scenarios.resources.base import Resource, RunContext
from simulator.scenarios.resources.cad import SimCad
from simulator.scenarios.resources.fleet import SimFleet
from simulator.scenarios.resources.service import DfrService
from simulator.scenarios.resources.weather import Weather
from simulator.scenarios.resources.zones import ZoneSet

RESOURCE_TYPES: dict[str, type[Resource[Any]]] = {
    t.type_name: t for t in (ZoneSet, Weather, SimCad, SimFleet, DfrService)
}


def build_resource(
    name: str, type_name: str, spec: Mapping[str, Any], context: RunContext
) -> Resource[Any]:
    """A resource of a named type from its specification (ConfigurationError when invalid)."""
    resource_type = RESOURCE_TYPES.get(type_name)
    if resource_type is None:
        raise UnknownResourceError(
            f"unknown resource type {type_name!r}; known types: {sorted(RESOURCE_TYPES)}"
        )
    try:
        parsed = resource_type.spec_type.model_validate(dict(spec))
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(spec)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(f"resource {name!r} ({type_name}): {reasons}") from None
    return resource_type(name, parsed, context)


def clean_work_dir(path: Path) -> None:
    """Remove a run's scratch directory."""
    shutil.rmtree(path, ignore_errors=True)
