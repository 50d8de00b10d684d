"""What every resource type shares: the run's context, the `Resource` base class, spec settings."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from simulator.scenarios.errors import ConfigurationError
from simulator.scenarios.record import ScenarioRecord

#: Model configuration of every resource specification: immutable, unknown keys refused.
SPEC_CONFIG = ConfigDict(frozen=True, extra="forbid")
SpecT = TypeVar("SpecT", bound=BaseModel)
#: How long an external vehicle has to send its first heartbeat unless the run says otherwise.
DEFAULT_VEHICLE_TIMEOUT_S = 30.0
_R = TypeVar("_R", bound="Resource[Any]")


@dataclass(frozen=True, slots=True)
class RunContext:
    """What every resource of a run shares."""

    work_dir: Path
    speedup: float = 20.0
    vehicle_urls: tuple[str, ...] = ()
    start_timeout_s: float = 90.0
    #: How long an external vehicle (`--vehicle`) has to send its first heartbeat.
    vehicle_timeout_s: float = DEFAULT_VEHICLE_TIMEOUT_S


class Resource(abc.ABC, Generic[SpecT]):
    """A named resource built from its specification (`spec`); `start()`/`stop()` bracket one scenario."""

    type_name: ClassVar[str]
    spec_type: ClassVar[type[BaseModel]]
    #: Spec fields that name other resources (started first and passed to `start`).
    references: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, spec: SpecT, context: RunContext) -> None:
        self.name = name
        self.spec = spec
        self.context = context

    def dependencies(self) -> list[str]:
        """Names of the resources this one needs started before it."""
        names = [getattr(self.spec, field) for field in self.references]
        return [n for n in names if n]

    async def prepare(self) -> None:  # noqa: B027 - most resources have nothing to do early
        """Work that needs no other resource; runs while the ones it references start."""

    async def start(self, others: Mapping[str, Resource[Any]]) -> None:  # noqa: B027 - data resources need nothing
        """Bring the resource up (others: the started resources it references)."""

    async def stop(self) -> None:  # noqa: B027 - data resources hold nothing
        """Release everything; safe to call twice, after a failed start, and without a start."""

    def contribute(self, record: ScenarioRecord) -> None:  # noqa: B027
        """Add evidence (zones, docks, tracks) to a scenario's record for the report."""

    def _ref(
        self, others: Mapping[str, Resource[Any]], name: str | None, kind: type[_R]
    ) -> _R | None:
        if not name:
            return None
        found = others.get(name)
        if not isinstance(found, kind):
            raise ConfigurationError(
                f"resource {self.name!r} references {name!r}, which is not a started {kind.__name__}"
            )
        return found
