"""Wind over the limit (see the .md beside this file). Documented first; not implemented yet."""

from __future__ import annotations

from simulator.scenarios.errors import ScenarioNotImplementedError
from simulator.scenarios.framework import Scenario
from simulator.scenarios.resources import DfrService, SimCad, SimFleet


class WindLimit(Scenario):
    """Wind over the limit."""

    def __init__(self, service: DfrService, cad: SimCad, fleet: SimFleet) -> None:
        super().__init__()
        self.service = service
        self.cad = cad
        self.fleet = fleet

    async def run(self) -> None:
        raise ScenarioNotImplementedError(
            "Wind over the limit: needs the dispatch decisions with the weather source, which the service does not offer yet"
        )
