"""Call inside a keep-out zone (see the .md beside this file). Documented first; not implemented yet."""

from __future__ import annotations

from simulator.scenarios.errors import ScenarioNotImplementedError
from simulator.scenarios.framework import Scenario
from simulator.scenarios.resources import DfrService, SimCad, SimFleet, ZoneSet


class KeepOutCall(Scenario):
    """Call inside a keep-out zone."""

    def __init__(self, service: DfrService, cad: SimCad, fleet: SimFleet, zones: ZoneSet) -> None:
        super().__init__()
        self.service = service
        self.cad = cad
        self.fleet = fleet
        self.zones = zones

    async def run(self) -> None:
        raise ScenarioNotImplementedError(
            "Call inside a keep-out zone: needs the dispatch decisions and the planned stand-off, which the service does not offer yet"
        )

    async def cleanup(self) -> None:
        """Nothing to clean up until run() flies."""
