"""The drone's parts stand on their own: no import circle, and the mission service runs on a bare host."""

from __future__ import annotations

from typing import Any

import grimp
from pymavlink.dialects.v20 import common as M  # noqa: N812

from simulator.vehicle.link import Link
from simulator.vehicle.mission import MissionResult, MissionType, Plans, new_plans
from simulator.vehicle.mission_protocol import MissionProtocol


def test_no_vehicle_module_imports_itself_back() -> None:
    graph = grimp.build_graph("simulator")
    vehicle = {m for m in graph.modules if m.startswith("simulator.vehicle.")}
    circles = [
        (a, b)
        for a in vehicle
        for b in graph.find_modules_directly_imported_by(a)
        if b in vehicle and graph.find_shortest_chain(importer=b, imported=a)
    ]
    assert circles == []


class _Host:
    """Exactly what MissionProtocol may use of a drone."""

    sysid = 1

    def __init__(self) -> None:
        self.plans: Plans = new_plans()
        self.texts: list[str] = []
        self.uploaded: list[MissionType] = []
        self.current: list[int] = []

    def announce(self, severity: int, text: str) -> None:
        self.texts.append(text)

    def plan_uploaded(self, mission_type: MissionType, now_s: float) -> None:
        self.uploaded.append(mission_type)

    def mission_set_current(self, seq: int) -> None:
        self.current.append(seq)


class _Link(Link):
    """A link without a socket that keeps what it is asked to send."""

    def __init__(self) -> None:
        super().__init__("api", True, 1, ("127.0.0.1", 9), lambda link, msg: None, lambda: 0.0)
        self.sent: list[Any] = []

    def send(self, msg: Any, camera: bool = False) -> None:
        self.sent.append(msg)


_GCS = M.MAVLink(None, srcSystem=255, srcComponent=190)


def _received(msg: Any) -> Any:
    """`msg` as the vehicle decodes it off the wire (with its sender's ids)."""
    return M.MAVLink(None).parse_buffer(msg.pack(_GCS))[0]


def _item(seq: int) -> Any:
    return M.MAVLink_mission_item_int_message(
        1, 1, seq, 6, 16, 0, 1, 0, 0, 0, 0, 473977420, 85455940, 20.0, 0
    )


def test_mission_upload_and_set_current_on_a_bare_host() -> None:
    host, link = _Host(), _Link()
    protocol = MissionProtocol(host)
    protocol.handle(link, _received(M.MAVLink_mission_count_message(1, 1, 2, 0)), 0.0)
    assert link.sent[-1].get_type() == "MISSION_REQUEST"  # PX4 starts each link non-INT
    protocol.handle(link, _received(_item(0)), 0.1)
    assert link.int_mode and link.sent[-1].get_type() == "MISSION_REQUEST_INT"
    protocol.handle(link, _received(_item(1)), 0.2)
    ack = link.sent[-1]
    assert ack.get_type() == "MISSION_ACK" and ack.type == MissionResult.ACCEPTED
    assert [it.seq for it in host.plans.mission] == [0, 1]
    assert host.uploaded == [MissionType.MISSION]
    protocol.handle(link, _received(M.MAVLink_mission_set_current_message(1, 1, 1)), 0.3)
    protocol.handle(link, _received(M.MAVLink_mission_set_current_message(1, 1, 5)), 0.4)
    assert host.current == [1]
    assert host.texts == ["WPM: MISSION_SET_CURRENT seq out of bounds"]
