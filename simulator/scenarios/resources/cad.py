"""The simulated CAD (`dfr-sim cad`): what the service delivered to CAD, and CAD's outages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel

from simulator.cad import DfrPoster, SimIncident
from simulator.scenarios.errors import ResourceError
from simulator.scenarios.ports import free_port
from simulator.scenarios.process import ChildProcess, dfr_sim_command, http_ok
from simulator.scenarios.resources.base import SPEC_CONFIG, Resource, RunContext


class ServiceEndpoint(Protocol):
    """Where a call is posted: the service's URL and its tokens (a DfrService is one)."""

    @property
    def base_url(self) -> str:
        """The service's HTTP root."""
        ...

    def token(self, role: str) -> str:
        """A token of `role`."""
        ...


class SimCadSpec(BaseModel):
    """The simulated CAD server (`dfr-sim cad`)."""

    model_config = SPEC_CONFIG

    format: Literal["plain", "eido"] = "plain"
    agency: str = "scenario"


class SimCad(Resource[SimCadSpec]):
    """`dfr-sim cad` on a free port: receives and records everything the service sends."""

    type_name = "SimCad"
    spec_type = SimCadSpec

    def __init__(self, name: str, spec: SimCadSpec, context: RunContext) -> None:
        super().__init__(name, spec, context)
        self.port = 0
        self.process: ChildProcess | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def base_url(self) -> str:
        """Where the service delivers notes, unit statuses and cancellations."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def client(self) -> httpx.AsyncClient:
        """An HTTP client for the simulated CAD's own API."""
        if self._client is None:
            raise ResourceError(f"resource {self.name!r} (SimCad) is not started")
        return self._client

    async def start(self, others: Mapping[str, Resource[Any]]) -> None:
        """Start `dfr-sim cad serve`."""
        self.port = free_port()
        argv = dfr_sim_command(
            "cad", "serve", "--port", str(self.port), "--format", self.spec.format
        )
        self.process = ChildProcess(
            f"simulated CAD ({self.name})", argv, self.context.work_dir / f"cad-{self.name}.log"
        )
        await self.process.start()
        await self.process.wait_ready(
            lambda: http_ok(f"{self.base_url}/events"), self.context.start_timeout_s, "answering"
        )
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=10.0)

    async def received(self, cad_incident_id: str | None = None) -> list[dict[str, Any]]:
        """Everything the service delivered (optionally for one incident), in arrival order.

        Each item: `{seq, idempotency_key, incident_id, format, received_at, body}`.
        """
        params = {"incident": cad_incident_id} if cad_incident_id else None
        response = await self.client.get("/events", params=params)
        response.raise_for_status()
        return list(response.json()["data"])

    async def set_outage(self, mode: str, duration_s: float | None = None) -> None:
        """Switch the CAD's outage mode (`none`, `503`, `timeout`, `slow`, `refuse`)."""
        body: dict[str, Any] = {"mode": mode}
        if duration_s is not None:
            body["duration_s"] = duration_s
        response = await self.client.post("/control/outage", json=body)
        response.raise_for_status()

    async def post_call(self, service: ServiceEndpoint, incident: SimIncident) -> httpx.Response:
        """Post a call to the service the way this CAD does (plain JSON or EIDO, role `cad`)."""
        async with httpx.AsyncClient() as client:
            poster = DfrPoster(
                client, service.base_url, service.token("cad"), wire_format=self.spec.format
            )
            return await poster.post(incident)

    async def stop(self) -> None:
        """Stop the server."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self.process is not None:
            await self.process.stop()
            self.process = None
