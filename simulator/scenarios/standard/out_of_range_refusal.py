"""Out-of-range refusal (see the .md beside this file). Documented first; not implemented yet."""

from __future__ import annotations

from simulator.scenarios.errors import ScenarioNotImplementedError
from simulator.scenarios.framework import Scenario
from simulator.scenarios.resources import DfrService, SimCad, SimFleet


class OutOfRangeRefusal(Scenario):
    """Out-of-range refusal."""

    def __init__(self, service: DfrService, cad: SimCad, fleet: SimFleet) -> None:
        super().__init__()
        self.service = service
        self.cad = cad
        self.fleet = fleet

    async def run(self) -> None:
        raise ScenarioNotImplementedError(
            "Out-of-range refusal: needs the dispatch decisions on calls, which the service does not offer yet"
        )
