"""The whole chain on real sockets: `dfr-sim fleet`, `dfr-sim cad serve` and `dfr serve` as processes.

One stack per test module (module scope): the demo fleet of Colorado Springs on free loopback ports,
time sped up x20, a calm configured wind, the simulated CAD recording what the service sends. Tests
that share a stack fly different drones, so they do not interfere. Every process is ended in
`finally`, its whole process group, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from websockets import Subprotocol
from websockets.sync.client import connect as ws_connect

from dfr.fleet import DEMO_FLEET_FILE
from simulator.scenarios.process import free_port, udp_port_free

SPEEDUP = 20.0
#: Roles a test acts as; each gets a token in the service's store before it starts.
ROLES = ("admin", "dispatcher", "pilot", "cad", "tester")
DRONE_IDS = ("D1", "D2", "D3", "D4")
START_TIMEOUT_S = 120.0
T = TypeVar("T")


class WaitTimeoutError(AssertionError):
    """A condition polled for did not become true before its deadline."""


def wait_for(
    probe: Callable[[], T | None],
    timeout_s: float,
    what: str,
    interval_s: float = 0.2,
    describe: Callable[[], str] | None = None,
) -> T:
    """Poll `probe` until it returns a truthy value (returned); fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = f"; last seen: {describe()}" if describe is not None else ""
            raise WaitTimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}{extra}")
        time.sleep(interval_s)


def _free_udp_pair(used: set[int]) -> int:
    """A client port P with P+40 free too (the simulated vehicle binds P+40 like PX4 SITL)."""
    for _ in range(200):
        port = free_port(socket.SOCK_DGRAM, avoid=set(used))
        if port + 40 <= 65535 and port + 40 not in used and udp_port_free(port + 40):
            used.update({port, port + 40})
            return port
    raise RuntimeError("no free pair of UDP ports")


def demo_fleet_copy(ports: dict[str, int], *, signing_keys: bool = False) -> str:
    """The demo fleet file with each drone's MAVLink port replaced (and a signing key, if asked).

    Its policy is the agency's default with a night waiver, so the daylight rule does not decide
    these tests by the hour they run at. A key in the file is known to the simulated drone and to
    every service started on it, even on an empty database.
    """
    text = DEMO_FLEET_FILE.read_text(encoding="utf-8")
    blocks = re.split(r"(?=^\[\[drones\]\]$)", text, flags=re.M)
    out = [blocks[0]]
    for block in blocks[1:]:
        found = re.search(r'^id = "([^"]+)"$', block, flags=re.M)
        assert found is not None, block
        port = ports[found.group(1)]
        block = re.sub(
            r'^mavlink_url = "[^"]*"$',
            f'mavlink_url = "udpin://127.0.0.1:{port}"',
            block,
            flags=re.M,
        )
        if signing_keys:
            block = block.replace(
                found.group(0), f'{found.group(0)}\nsigning_key = "{secrets.token_hex(32)}"', 1
            )
        out.append(block)
    return "".join(out)


@dataclass
class Child:
    """A child process in its own process group, logging to a file."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it."""
        with self.log_path.open("ab") as out:
            out.write(f"$ {' '.join(self.argv)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        """True while it has not exited."""
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        """The end of its log, for failure messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, grace_s: float = 10.0) -> None:
        """Signal its process group, wait, then SIGKILL the group."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5.0)


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).is_success
    except httpx.HTTPError:
        return False


@dataclass
class Stack:
    """The running chain and clients for each side of it."""

    work_dir: Path
    fleet_file: Path
    data_dir: Path
    service_port: int
    cad_port: int
    control_port: int
    tokens: dict[str, str] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)
    service: Child | None = None
    #: Extra DFR_* settings of the service (a module's SERVICE_ENV).
    service_env: dict[str, str] = field(default_factory=dict)
    _clients: dict[str, httpx.Client] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """The service's root URL."""
        return f"http://127.0.0.1:{self.service_port}"

    @property
    def cad_url(self) -> str:
        """The simulated CAD's root URL."""
        return f"http://127.0.0.1:{self.cad_port}"

    def api(self, role: str) -> httpx.Client:
        """An HTTP client on /api/v1 with a token of `role`."""
        if role not in self._clients:
            self._clients[role] = httpx.Client(
                base_url=f"{self.base_url}/api/v1",
                headers={"Authorization": f"Bearer {self.tokens[role]}"},
                timeout=30.0,
            )
        return self._clients[role]

    # -- the simulator's side: truth and faults

    def truth(self, drone_id: str) -> dict[str, Any]:
        """The simulated drone's true state (control API; index = order in the fleet file)."""
        index = DRONE_IDS.index(drone_id)
        response = httpx.get(f"http://127.0.0.1:{self.control_port}/drones/{index}", timeout=10.0)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def fault(self, drone_id: str, kind: str, **params: Any) -> None:
        """Inject a fault into a simulated drone."""
        index = DRONE_IDS.index(drone_id)
        response = httpx.post(
            f"http://127.0.0.1:{self.control_port}/drones/{index}/faults/{kind}",
            json=params,
            timeout=10.0,
        )
        assert response.status_code == 200, response.text

    # -- the CAD's side

    def cad_events(self, cad_incident_id: str) -> list[dict[str, Any]]:
        """What the service delivered to the simulated CAD for an incident, in arrival order."""
        response = httpx.get(
            f"{self.cad_url}/events", params={"incident": cad_incident_id}, timeout=10.0
        )
        response.raise_for_status()
        return list(response.json()["data"])

    def post_call(
        self,
        cad_incident_id: str,
        lat: float,
        lon: float,
        *,
        call_type: str = "BURGLARY",
        priority: int = 1,
        status: str = "Active",
        in_progress: bool = True,
    ) -> int:
        """Post a call as CAD does (plain JSON, role cad); returns DFR's call id."""
        body = {
            "cad_incident_id": cad_incident_id,
            "agency": "cspd",
            "call_type": call_type,
            "call_type_text": f"{call_type} test call",
            "priority": priority,
            "location": {"lat": lat, "lon": lon, "address": "test address"},
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "status": status,
            "notes": [],
            "flags": {"in_progress": in_progress, "weapons": False, "outdoor": True},
        }
        response = self.api("cad").post("/cad/incidents", json=body)
        assert response.status_code == 202, response.text
        return int(response.json()["id"])

    # -- the service's side

    def decision(self, call_id: int, timeout_s: float = 60.0) -> dict[str, Any]:
        """The call's stored decision, once the dispatcher has made one."""

        def probe() -> dict[str, Any] | None:
            response = self.api("dispatcher").get(f"/calls/{call_id}/decision")
            return response.json() if response.status_code == 200 else None

        return wait_for(probe, timeout_s, f"a decision for call {call_id}")

    def flight(self, flight_id: int) -> dict[str, Any]:
        """A flight with events, route and track."""
        response = self.api("pilot").get(f"/flights/{flight_id}")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def wait_flight_state(
        self, flight_id: int, states: set[str] | str, timeout_s: float
    ) -> dict[str, Any]:
        """Poll until the flight is in one of `states`."""
        wanted = {states} if isinstance(states, str) else states
        last: dict[str, Any] = {}

        def probe() -> dict[str, Any] | None:
            nonlocal last
            last = self.flight(flight_id)
            return last if last["state"] in wanted else None

        return wait_for(
            probe,
            timeout_s,
            f"flight {flight_id} in {sorted(wanted)}",
            describe=lambda: (
                f"{last.get('state')} ({last.get('state_reason')}); events "
                + str([(e["to_state"], e["reason"]) for e in last.get("events", [])])
            ),
        )

    def start_pilot_flight(self, drone_id: str, lat: float, lon: float) -> int:
        """A pilot's flight without a call (POST /flights); returns its id."""
        response = self.api("pilot").post(
            "/flights", json={"drone_id": drone_id, "target": {"lat": lat, "lon": lon}}
        )
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def command(self, flight_id: int, command: str, **params: Any) -> httpx.Response:
        """A pilot command (POST /flights/{id}/commands)."""
        return self.api("pilot").post(
            f"/flights/{flight_id}/commands", json={"command": command, **params}
        )

    def wait_truth(
        self, drone_id: str, check: Callable[[dict[str, Any]], bool], timeout_s: float, what: str
    ) -> dict[str, Any]:
        """Poll the simulator's truth of a drone until `check` holds."""
        last: dict[str, Any] = {}

        def probe() -> dict[str, Any] | None:
            nonlocal last
            last = self.truth(drone_id)
            return last if check(last) else None

        return wait_for(probe, timeout_s, f"{drone_id}: {what}", 0.1, lambda: str(last))

    def drone_frames(self) -> dict[str, dict[str, Any]]:
        """Every drone's latest frame from the live stream's snapshot."""
        url = f"ws://127.0.0.1:{self.service_port}/api/v1/stream"
        protocols = [Subprotocol("bearer"), Subprotocol(self.tokens["tester"])]
        with ws_connect(url, subprotocols=protocols, open_timeout=10.0, close_timeout=2.0) as ws:
            frame = json.loads(ws.recv(timeout=10.0))
        snapshot = frame[0]
        assert snapshot["type"] == "snapshot", snapshot
        return {
            m["data"]["drone_id"]: m["data"]
            for m in snapshot["data"]["messages"]
            if m["type"] == "drone"
        }

    def live_drones(self) -> dict[str, dict[str, Any]]:
        """Every drone's live state as the dispatcher reads it (GET /drones), linked ones only."""
        response = self.api("tester").get("/drones")
        response.raise_for_status()
        return {d["id"]: d["live"] for d in response.json()["data"] if d.get("live")}

    def wait_links_up(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Until the service has a connected link to every drone, each on the ground with a fix.

        Both views must agree: the live stream's snapshot and the state the dispatcher decides on
        (in a cluster, a drone just handed to another instance is linked again only once the new
        holder's state has reached this one).
        """
        frames: dict[str, dict[str, Any]] = {}

        def ready(views: dict[str, dict[str, Any]]) -> bool:
            return all(
                views.get(d, {}).get("link") == "connected"
                and views[d].get("available")
                and (views[d].get("gps_fix") or 0) >= 3
                and views[d].get("lat") is not None
                for d in DRONE_IDS
            )

        def probe() -> bool:
            nonlocal frames
            try:
                frames = self.drone_frames()
                if not ready(frames):
                    return False
                frames = self.live_drones()
            except (OSError, TimeoutError, ValueError, httpx.HTTPError):
                return False
            return ready(frames)

        wait_for(probe, timeout_s, "links to every drone", 0.5, lambda: json.dumps(frames)[:2000])

    def start_service(self) -> None:
        """Start `dfr serve` (again after a kill: same port, same data)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DFR_")}
        env.update(
            DFR_MODE="test",
            DFR_SPEEDUP=f"{SPEEDUP:g}",
            DFR_WEATHER__STATIC_WIND_MPS="3",
            DFR_CAD__BASE_URL=self.cad_url,
            DFR_CAD__TOKEN=self.tokens["_cad_secret"],
            DFR_CAD__FORMAT="plain",
        )
        env.update(self.service_env)
        argv = [sys.executable, "-m", "dfr", "serve", "--host", "127.0.0.1"]
        argv += ["--port", str(self.service_port), "--data-dir", str(self.data_dir)]
        argv += ["--fleet", str(self.fleet_file)]
        child = Child("dfr serve", argv, self.work_dir / "service.log", env)
        child.start()
        self.service = child
        wait_for(
            lambda: _http_ok(f"{self.base_url}/api/v1/health") or _dead(child),
            START_TIMEOUT_S,
            "a healthy service",
            0.25,
        )
        assert child.running, f"dfr serve exited:\n{child.log_tail()}"

    def kill_service(self) -> None:
        """SIGKILL the service (a crash, not a shutdown)."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        if self.service is not None:
            self.service.stop(signal.SIGKILL, grace_s=5.0)
            self.service = None

    def close(self) -> None:
        """Stop everything; safe after a failed start."""
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                client.close()
        self._clients.clear()
        if self.service is not None:
            self.service.stop()
            self.service = None
        for child in reversed(self.children):
            child.stop()


class TruthRecorder:
    """Samples a simulated drone's true position in a thread, for checks on the whole flown path."""

    def __init__(self, stack: Stack, drone_id: str, interval_s: float = 0.05) -> None:
        self._stack, self._drone_id, self._interval_s = stack, drone_id, interval_s
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"truth-{drone_id}", daemon=True)

    def __enter__(self) -> TruthRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                self.samples.append(self._stack.truth(self._drone_id))
            self._stop.wait(self._interval_s)

    def airborne_path(self) -> list[tuple[float, float]]:
        """(lat, lon) of every sample while armed or off the ground."""
        return [
            (float(s["lat_deg"]), float(s["lon_deg"]))
            for s in list(self.samples)
            if s["armed"] or not s["landed"]
        ]


def _dead(child: Child) -> bool:
    return not child.running


def _wait_answering(child: Child, url: str) -> None:
    wait_for(
        lambda: _http_ok(url) or _dead(child), START_TIMEOUT_S, f"{child.name} answering", 0.25
    )
    assert child.running, f"{child.name} exited:\n{child.log_tail()}"


def start_simulators(
    work: Path,
    fleet_file: Path,
    *,
    cad_port: int,
    control_port: int,
    cad_secret: str,
    fleet_options: Sequence[str] = (),
) -> list[Child]:
    """`dfr-sim cad serve` and `dfr-sim fleet` (x SPEEDUP, no GCS link), both answering.

    Returns them started, in start order; the caller stops them (also when this raises).
    """
    sim = [sys.executable, "-c", "from simulator.cli import main; main()"]
    cad = Child(
        "dfr-sim cad",
        [*sim, "cad", "serve", "--port", str(cad_port), "--cad-token", cad_secret],
        work / "cad.log",
    )
    fleet = Child(
        "dfr-sim fleet",
        [
            *sim,
            "fleet",
            "--fleet",
            str(fleet_file),
            "--speedup",
            f"{SPEEDUP:g}",
            "--gcs-base-port",
            "0",  # no GCS link: it would send to PX4's 14550
            "--control-port",
            str(control_port),
            "--seed",
            "1",
            *fleet_options,
        ],
        work / "fleet.log",
    )
    children = [cad, fleet]
    cad.start()
    fleet.start()
    try:
        _wait_answering(cad, f"http://127.0.0.1:{cad_port}/events")
        _wait_answering(fleet, f"http://127.0.0.1:{control_port}/drones")
    except BaseException:
        for child in reversed(children):
            child.stop()
        raise
    return children


def _create_tokens(data_dir: Path) -> dict[str, str]:
    from dfr.auth import create_token
    from dfr.db import make_engine, session_scope, upgrade_schema
    from dfr.models import Role

    url = f"sqlite:///{(data_dir / 'dfr.sqlite3').resolve()}"
    upgrade_schema(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return {role: create_token(session, f"e2e-{role}", Role(role))[1] for role in ROLES}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Simulated fleet, simulated CAD and the service, up with every drone linked.

    A test module may set `SERVICE_ENV = {"DFR_...": "..."}` for settings of its own.
    """
    work = tmp_path_factory.mktemp("e2e")
    used: set[int] = set()
    ports = {d: _free_udp_pair(used) for d in DRONE_IDS}
    fleet_file = work / "fleet.toml"
    fleet_file.write_text(demo_fleet_copy(ports), encoding="utf-8")
    data_dir = work / "data"
    data_dir.mkdir()
    s = Stack(
        work_dir=work,
        fleet_file=fleet_file,
        data_dir=data_dir,
        service_port=free_port(avoid=used),
        cad_port=free_port(avoid=used),
        control_port=free_port(avoid=used),
        service_env=dict(getattr(request.module, "SERVICE_ENV", {})),
    )
    cad_secret = secrets.token_urlsafe(16)
    try:
        s.tokens = _create_tokens(data_dir)
        s.tokens["_cad_secret"] = cad_secret
        s.children += start_simulators(
            work,
            fleet_file,
            cad_port=s.cad_port,
            control_port=s.control_port,
            cad_secret=cad_secret,
        )
        s.start_service()
        s.wait_links_up()
        yield s
    finally:
        s.close()
