"""Fixtures: a simulated drone on free loopback ports and a raw pymavlink client."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pymavlink.dialects.v20 import common as M  # noqa: N812

from simulator.vehicle import FlightMode, SimDrone, SimFleet, build_fleet_config
from tests.conftest import free_udp_ports

HOME = (47.397742, 8.545594, 488.0)
SPEEDUP = 20.0


class RawClient:
    """A GCS-like pymavlink peer bound to the drone's client port."""

    def __init__(self, port: int, vehicle_port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.vehicle = ("127.0.0.1", vehicle_port)
        self.mav = M.MAVLink(None, srcSystem=255, srcComponent=190)
        self.parser = M.MAVLink(None)
        self.parser.robust_parsing = True
        self.log: list[Any] = []

    def send(self, msg: Any) -> None:
        self.sock.sendto(msg.pack(self.mav), self.vehicle)
        self.mav.seq = (self.mav.seq + 1) % 256

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.vehicle)

    def heartbeat(self) -> None:
        self.send(M.MAVLink_heartbeat_message(6, 8, 0, 0, 4, 3))

    def _drain(self) -> None:
        while True:
            try:
                data = self.sock.recv(65535)
            except BlockingIOError:
                return
            for m in self.parser.parse_buffer(data) or []:
                if m.get_type() != "BAD_DATA":
                    self.log.append(m)

    async def wait_for(
        self,
        mtype: str,
        cond: Callable[[Any], bool] = lambda m: True,
        timeout_s: float = 20.0,
        clear: bool = False,
    ) -> Any:
        """Next message of `mtype` satisfying `cond` (searching what arrived since the last clear)."""
        if clear:
            self._drain()
            self.log.clear()
        deadline = time.monotonic() + timeout_s
        idx = 0
        while time.monotonic() < deadline:
            self._drain()
            while idx < len(self.log):
                m = self.log[idx]
                idx += 1
                if (mtype == "ANY" or m.get_type() == mtype) and cond(m):
                    del self.log[idx - 1]
                    return m
            await asyncio.sleep(0.005)
        raise TimeoutError(f"no {mtype} within {timeout_s}s")

    async def command(
        self, cmd: int, *params: float, target_comp: int = 1, timeout_s: float = 10.0
    ) -> Any:
        p = list(params) + [0.0] * (7 - len(params))
        self._drain()
        self.log = [m for m in self.log if m.get_type() != "COMMAND_ACK"]
        self.send(M.MAVLink_command_long_message(1, target_comp, cmd, 0, *p))
        return await self.wait_for("COMMAND_ACK", lambda m: m.command == cmd, timeout_s)

    def close(self) -> None:
        self.sock.close()


@contextlib.asynccontextmanager
async def sim_rig(**config: Any) -> AsyncIterator[tuple[SimFleet, RawClient]]:
    """One drone at HOME on free ports and a client that has heard it; `config` for the fleet."""
    api, client = free_udp_ports(2)
    cfg = build_fleet_config(
        1,
        [HOME],
        speedup=SPEEDUP,
        api_base_port=api,
        client_base_port=client,
        gcs_base_port=None,
        max_stream_hz=10.0,
        **config,
    )
    rc = RawClient(client, api)
    try:
        async with SimFleet(cfg) as fleet:
            await rc.wait_for("HEARTBEAT")
            yield fleet, rc
    finally:
        rc.close()


@pytest.fixture
async def sim() -> AsyncIterator[tuple[SimFleet, RawClient]]:
    async with sim_rig() as rig:
        yield rig


async def until(
    cond: Callable[[], bool], timeout_s: float = 60.0, rc: RawClient | None = None
) -> None:
    """Poll `cond` (heartbeating as a GCS when `rc` is given) until it holds."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        if rc is not None:
            rc.heartbeat()
        await asyncio.sleep(0.02)


async def fly_up(fleet: SimFleet, rc: RawClient, alt_m: float = 15.0) -> SimDrone:
    """Arm drone 0 and take off to `alt_m` above home; returns it holding there."""
    d = fleet.drone(0)
    rc.heartbeat()
    assert (await rc.command(400, 1)).result == 0
    nan = float("nan")
    assert (await rc.command(22, 0, 0, 0, nan, nan, nan, d.origin_alt_amsl_m + alt_m)).result == 0
    await until(lambda: d.mode is FlightMode.LOITER and d.phys.up_m > alt_m - 1.0, rc=rc)
    return d
