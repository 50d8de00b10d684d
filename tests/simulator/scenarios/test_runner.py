"""How the runner starts and stops a scenario's resources: by dependency, independent ones together."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from simulator.scenarios.errors import ResourceStartError
from simulator.scenarios.resources import SPEC_CONFIG, Resource, RunContext
from simulator.scenarios.runner import start_resources, stop_resources

# A generous bound for steps that take microseconds; only a broken runner (deadlock) reaches it.
DEADLOCK_S = 10.0


class StepSpec(BaseModel):
    """A resource that may reference another."""

    model_config = SPEC_CONFIG

    needs: str | None = None


class Step(Resource[StepSpec]):
    """Records what happened to it in a shared journal; a start may wait for a gate."""

    type_name = "Step"
    spec_type = StepSpec
    references = ("needs",)

    def __init__(self, name: str, journal: list[str], *, needs: str | None = None) -> None:
        super().__init__(name, StepSpec(needs=needs), RunContext(work_dir=Path(".")))
        self.journal = journal
        self.gate: asyncio.Event | None = None
        self.opens: asyncio.Event | None = None
        self.fails = False

    async def prepare(self) -> None:
        self.journal.append(f"prepare {self.name}")

    async def start(self, others: Mapping[str, Resource[Any]]) -> None:
        self.journal.append(f"start {self.name}")
        if self.opens is not None:
            self.opens.set()
        if self.fails:
            raise ResourceStartError(f"{self.name} cannot start")
        if self.gate is not None:
            await self.gate.wait()
        self.journal.append(f"up {self.name}")

    async def stop(self) -> None:
        self.journal.append(f"stop {self.name}")


async def test_independent_resources_start_together_and_a_dependent_after_them() -> None:
    journal: list[str] = []
    cad, fleet = Step("cad", journal), Step("fleet", journal)
    service = Step("service", journal, needs="fleet")
    # The CAD's start only ends once the fleet's has begun: started one after the other, it hangs.
    cad.gate = fleet.opens = asyncio.Event()
    async with asyncio.timeout(DEADLOCK_S):
        started = await start_resources({"cad": cad, "fleet": fleet, "service": service})
    assert set(started) == {"cad", "fleet", "service"}
    assert journal.index("up fleet") < journal.index("start service")
    # The service prepares while the fleet it references is still starting.
    assert journal.index("prepare service") < journal.index("up fleet")


async def test_a_failed_start_ends_the_other_starts_and_every_resource_is_stopped() -> None:
    journal: list[str] = []
    cad, fleet = Step("cad", journal), Step("fleet", journal)
    service = Step("service", journal, needs="fleet")
    fleet.fails = True
    cad.gate = asyncio.Event()  # never opened: only a cancellation ends the CAD's start
    resources = {"cad": cad, "fleet": fleet, "service": service}
    with pytest.raises(ResourceStartError, match="fleet cannot start"):
        async with asyncio.timeout(DEADLOCK_S):
            await start_resources(resources)
    assert "start service" not in journal and "up cad" not in journal
    await stop_resources(resources)
    assert sorted(e for e in journal if e.startswith("stop")) == [
        "stop cad",
        "stop fleet",
        "stop service",
    ]


async def test_a_resource_stops_only_after_every_resource_that_references_it() -> None:
    journal: list[str] = []
    weather = Step("weather", journal)
    fleet = Step("fleet", journal, needs="weather")
    service = Step("service", journal, needs="fleet")
    cad = Step("cad", journal)
    await stop_resources({"weather": weather, "cad": cad, "fleet": fleet, "service": service})
    stops = [e for e in journal if e.startswith("stop")]
    assert stops.index("stop service") < stops.index("stop fleet") < stops.index("stop weather")
    assert len(stops) == 4
