"""Low battery on scene (see the .md beside this file). Documented first; not implemented yet."""

from __future__ import annotations

from simulator.scenarios.errors import ScenarioNotImplementedError
from simulator.scenarios.framework import Scenario
from simulator.scenarios.resources import DfrService, SimCad, SimFleet


class LowBattery(Scenario):
    """Low battery on scene."""

    def __init__(self, service: DfrService, cad: SimCad, fleet: SimFleet) -> None:
        super().__init__()
        self.service = service
        self.cad = cad
        self.fleet = fleet

    async def run(self) -> None:
        raise ScenarioNotImplementedError(
            "Low battery on scene: needs POST /api/v1/calls/{id}/launch and the dispatch decisions, which the service does not offer yet"
        )

    async def cleanup(self) -> None:
        """Nothing to clean up until run() flies."""
