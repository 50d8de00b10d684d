"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from simulator.scenarios import ports as scenario_ports


@pytest.fixture(autouse=True)
def _clean_dfr_environ() -> Iterator[None]:
    """Tests build Settings explicitly; no DFR_* variable of the machine leaks in."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("DFR_")}
    for key in saved:
        del os.environ[key]
    yield
    for key in [k for k in os.environ if k.startswith("DFR_")]:
        del os.environ[key]
    os.environ.update(saved)


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (never one of PX4's defaults)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not (14000 <= port <= 19000):
            return port


def free_udp_ports(n: int) -> list[int]:
    """`n` distinct UDP ports on 127.0.0.1 free right now, never in PX4's default ranges."""
    return scenario_ports.free_udp_ports(n)
