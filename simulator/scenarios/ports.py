"""Free loopback ports for a run's processes and for tests, never one of PX4 SITL's defaults.

A run next to a real PX4 SITL must not bind or command its ports, or it would steer a vehicle it
does not own.
"""

from __future__ import annotations

import socket

from simulator.scenarios.errors import ResourceStartError

# PX4 SITL's default port ranges: a run must never bind or command them.
PX4_RESERVED_PORTS: tuple[range, ...] = (
    range(14540, 14560),
    range(14580, 14600),
    range(18570, 18600),
    range(14550, 14551),
    range(5600, 5610),
    range(13030, 13040),
)
#: The simulated vehicle binds its client's port + this, as PX4 SITL does.
VEHICLE_PORT_OFFSET = 40
#: Test ports stay clear of this whole band (every PX4 default above lies inside it).
_TEST_AVOIDED = range(5000, 20000)


def _reserved(port: int) -> bool:
    return any(port in r for r in PX4_RESERVED_PORTS)


def free_port(kind: int = socket.SOCK_STREAM, avoid: set[int] | None = None) -> int:
    """A loopback port free right now for `kind` (TCP or UDP), outside PX4's default ranges."""
    avoid = avoid or set()
    for _ in range(200):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not _reserved(port) and port not in avoid:
            avoid.add(port)
            return port
    raise ResourceStartError("no free loopback port found")


def udp_port_free(port: int) -> bool:
    """True when a UDP port can be bound on loopback right now."""
    if _reserved(port) or not (1024 <= port <= 65535):
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_udp_pair(used: set[int]) -> int:
    """A UDP port P with P + 40 also free (the simulated vehicle's side); both are added to `used`."""
    for _ in range(200):
        port = free_port(socket.SOCK_DGRAM, avoid=set(used))
        vehicle_port = port + VEHICLE_PORT_OFFSET
        if vehicle_port <= 65535 and vehicle_port not in used and udp_port_free(vehicle_port):
            used.update({port, vehicle_port})
            return port
    raise ResourceStartError("no free pair of UDP ports found")


def free_udp_ports(n: int) -> list[int]:
    """`n` distinct UDP ports on 127.0.0.1 free right now, all outside 5000-19999."""
    socks: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(s)  # held until all are picked, so the n ports differ
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
            if port not in _TEST_AVOIDED:
                ports.append(port)
    finally:
        for s in socks:
            s.close()
    return ports
