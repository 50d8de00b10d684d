"""The service under test: `dfr serve` started here on a free port, or attached to by URL.

It is reached only as a user reaches it: its command line (`dfr token create` for the first
token), its environment (`DFR_*`), its fleet file, and its HTTP API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, Field

from simulator.scenarios.errors import ResourceError, ResourceStartError
from simulator.scenarios.ports import free_port
from simulator.scenarios.process import ChildProcess, http_ok, python_module_command
from simulator.scenarios.resources.base import SPEC_CONFIG, Resource, RunContext
from simulator.scenarios.resources.cad import SimCad
from simulator.scenarios.resources.fleet import SimFleet
from simulator.scenarios.resources.weather import Weather
from simulator.scenarios.resources.zones import ZoneSet

ROLES: tuple[str, ...] = ("admin", "dispatcher", "pilot", "analyst", "tester", "cad")


class DfrServiceSpec(BaseModel):
    """`dfr serve` started here (fleet/cad/zones/weather wired by resource name) or attached by URL."""

    model_config = SPEC_CONFIG

    url: str | None = None
    tokens: dict[str, str] = Field(default_factory=dict)
    fleet: str | None = None
    cad: str | None = None
    zones: str | None = None
    weather: str | None = None
    settings: dict[str, str] = Field(default_factory=dict)


class DfrService(Resource[DfrServiceSpec]):
    """The service under test; `client(role)` gives an HTTP client with a token of that role."""

    type_name = "DfrService"
    spec_type = DfrServiceSpec
    references = ("fleet", "cad", "zones", "weather")

    def __init__(self, name: str, spec: DfrServiceSpec, context: RunContext) -> None:
        super().__init__(name, spec, context)
        self.port = 0
        self.data_dir: Path | None = None
        self.process: ChildProcess | None = None
        self._tokens: dict[str, str] = {}
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._env: dict[str, str] = {}
        self._argv: list[str] = []

    @property
    def base_url(self) -> str:
        """The service's root URL."""
        return self.spec.url or f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """The live stream (`WS /api/v1/stream`)."""
        return self.base_url.replace("http", "ws", 1) + "/api/v1/stream"

    def token(self, role: str) -> str:
        """A token of `role`."""
        try:
            return self._tokens[role]
        except KeyError:
            raise ResourceError(f"resource {self.name!r} has no token for role {role!r}") from None

    def client(self, role: str = "tester") -> httpx.AsyncClient:
        """An HTTP client on `/api/v1` with a bearer token of `role`."""
        if role not in self._clients:
            self._clients[role] = httpx.AsyncClient(
                base_url=f"{self.base_url}/api/v1",
                headers={"Authorization": f"Bearer {self.token(role)}"},
                timeout=15.0,
            )
        return self._clients[role]

    async def prepare(self) -> None:
        """Make the data directory and the first admin token while the fleet and the CAD start."""
        if self.spec.url:
            return
        self.data_dir = self.context.work_dir / f"service-{self.name}"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("DFR_")}
        self._env.update(
            _service_settings(
                data_dir=self.data_dir,
                speedup=self.context.speedup,
                zones=None,
                cad=None,
                weather=None,
                extra=self.spec.settings,
            )
        )
        # The token only needs the data directory; the other resources' settings come in `start`.
        await self._create_admin_token()

    async def start(self, others: Mapping[str, Resource[Any]]) -> None:
        """Start (or attach to) the service and wait for its health check."""
        if self.spec.url:
            self._tokens = dict(self.spec.tokens)
            if not await http_ok(f"{self.base_url}/api/v1/health", timeout_s=5.0):
                raise ResourceStartError(f"resource {self.name!r}: {self.base_url} is not healthy")
            return
        if self.data_dir is None or "admin" not in self._tokens:
            await self.prepare()
        assert self.data_dir is not None
        fleet = self._ref(others, self.spec.fleet, SimFleet)
        cad = self._ref(others, self.spec.cad, SimCad)
        zones = self._ref(others, self.spec.zones, ZoneSet)
        weather = self._ref(others, self.spec.weather, Weather)
        self.port = free_port()
        self._env.update(
            _service_settings(
                data_dir=self.data_dir,
                speedup=self.context.speedup,
                zones=zones,
                cad=cad,
                weather=weather,
                extra=self.spec.settings,
            )
        )
        self._argv = python_module_command(
            "dfr", "serve", "--host", "127.0.0.1", "--port", str(self.port)
        )
        if fleet is not None and fleet.fleet_file is not None:
            self._argv += ["--fleet", str(self._fleet_file(fleet, zones))]
        await self._launch()
        await self._create_role_tokens()

    def _fleet_file(self, fleet: SimFleet, zones: ZoneSet | None) -> Path:
        # The service loads its zones from the fleet file's top-level `zones` list.
        if zones is None or zones.path is None:
            assert fleet.fleet_file is not None
            return fleet.fleet_file
        path = self.context.work_dir / f"fleet-{self.name}-with-zones.toml"
        header = f"zones = [{json.dumps(str(zones.path.resolve()))}]\n\n"
        path.write_text(header + fleet.fleet_toml(), encoding="utf-8")
        return path

    async def _create_admin_token(self) -> None:
        # The first token comes from the service's own command line, as an operator makes it;
        # every other role's is then asked of the admin API (`_create_role_tokens`).
        argv = python_module_command(
            "dfr", "token", "create", "--role", "admin", "--name", "scenario-admin"
        )
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env,
        )
        try:
            async with asyncio.timeout(self.context.start_timeout_s):
                out, err = await proc.communicate()
        except TimeoutError:
            await _end(proc)
            raise ResourceStartError(f"resource {self.name!r}: `dfr token create` hung") from None
        except BaseException:
            await asyncio.shield(_end(proc))  # cancelled (another resource failed, Ctrl-C)
            raise
        secret = out.decode(errors="replace").strip()
        if proc.returncode != 0 or not secret:
            tail = "\n".join(err.decode(errors="replace").splitlines()[-15:])
            raise ResourceStartError(
                f"resource {self.name!r}: `dfr token create` exited with code {proc.returncode}; "
                f"it wrote:\n{tail}"
            )
        self._tokens["admin"] = secret

    async def _create_role_tokens(self) -> None:
        admin = self.client("admin")
        for role in ROLES:
            if role in self._tokens:
                continue
            response = await admin.post("/tokens", json={"name": f"scenario-{role}", "role": role})
            if response.status_code != 201:
                raise ResourceStartError(
                    f"resource {self.name!r}: POST /api/v1/tokens for role {role!r} answered "
                    f"{response.status_code} {response.text[:300]}"
                )
            self._tokens[role] = str(response.json()["token"])

    async def _launch(self) -> None:
        self.process = ChildProcess(
            f"service ({self.name})",
            self._argv,
            self.context.work_dir / f"service-{self.name}.log",
            env=self._env,
        )
        await self.process.start()
        await self.process.wait_ready(
            lambda: http_ok(f"{self.base_url}/api/v1/health"),
            self.context.start_timeout_s,
            "a healthy /api/v1/health",
        )

    async def restart(self, kill: bool = False) -> None:
        """Stop (SIGTERM, or SIGKILL with `kill`) and start again on the same port and data."""
        if self.process is None:
            raise ResourceError(f"resource {self.name!r}: only a service started here can restart")
        await self._close_clients()
        if kill:
            await self.process.kill()
        else:
            await self.process.stop()
        await self._launch()

    async def kill(self) -> None:
        """SIGKILL the service (a crash)."""
        if self.process is not None:
            await self.process.kill()

    async def _close_clients(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def stop(self) -> None:
        """Stop the service."""
        await self._close_clients()
        if self.process is not None:
            await self.process.stop()
            self.process = None


async def _end(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


def _service_settings(
    *,
    data_dir: Path,
    speedup: float,
    zones: ZoneSet | None,
    cad: SimCad | None,
    weather: Weather | None,
    extra: Mapping[str, str],
) -> dict[str, str]:
    """The service's DFR_* variables for this run (it refuses any name it does not know)."""
    env = {"DFR_MODE": "test", "DFR_DATA_DIR": str(data_dir), "DFR_SPEEDUP": f"{speedup:g}"}
    if zones is not None and zones.path is not None:
        env["DFR_ZONES_FILE"] = str(zones.path)
    if cad is not None:
        env["DFR_CAD__BASE_URL"] = cad.base_url
        env["DFR_CAD__FORMAT"] = cad.spec.format
    if weather is not None:
        # A fixed observation, not a METAR: a METAR's stamp ages with the sped-up service clock
        # (90 simulated minutes pass in 4.5 wall minutes at 20x) and would then be refused as stale.
        w = weather.spec
        env["DFR_WEATHER__STATIC_WIND_MPS"] = f"{w.wind_speed_mps:g}"
        if w.gust_mps > w.wind_speed_mps:
            env["DFR_WEATHER__STATIC_GUST_MPS"] = f"{w.gust_mps:g}"
        env["DFR_WEATHER__STATIC_VISIBILITY_M"] = f"{w.visibility_m:g}"
    env.update(extra)
    return env
