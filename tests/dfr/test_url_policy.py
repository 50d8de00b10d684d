"""Drone URLs checked for sense: the link's and the video ingest's own forms, permitted hosts, one
drone per port; the fleet file refused naming the drone, as the admin API refuses the same input."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dfr.db import session_scope
from dfr.errors import FleetFileError
from dfr.fleet import apply_fleet_file, read_fleet_file
from dfr.models import Drone
from dfr.settings import Settings
from dfr.url_policy import (
    Binding,
    UrlPolicy,
    UrlRefusedError,
    check_mavlink_url,
    check_video_url,
    drone_bindings,
)
from telemetry.video import StreamUriError, parse_stream_uri

FLEET_HEAD = "[agency]\nid='a'\nname='A'\n[[docks]]\nid='d'\nname='D'\nlat=38.8\nlon=-104.7\n"


def _fleet(tmp_path: Path, *drones: tuple[str, str, str | None]) -> Path:
    path = tmp_path / "fleet.toml"
    text = FLEET_HEAD
    for drone_id, mavlink_url, video_url in drones:
        text += f"[[drones]]\nid='{drone_id}'\ndock='d'\nmavlink_url='{mavlink_url}'\n"
        if video_url is not None:
            text += f"video_url='{video_url}'\n"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "url",
    ["5600", "udp://127.0.0.1:5600", "rtp://0.0.0.0:5600", "udp://:5600", "udp://[::1]:5600",
     "UDP://127.0.0.1:5600", "udp://127.0.0.1:0", "udp://127.0.0.1:70000", "udp://127.0.0.1:5600/x",
     "tcp://127.0.0.1:5600", "http://127.0.0.1:5600/", "udp://127.0.0.1"],
)  # fmt: skip
def test_a_video_url_is_accepted_exactly_when_the_video_ingest_can_listen_on_it(url: str) -> None:
    try:
        parse_stream_uri(url)
        ingest_reads_it = True
    except StreamUriError:
        ingest_reads_it = False
    try:
        check_video_url(url)
        accepted = True
    except UrlRefusedError:
        accepted = False
    assert accepted == ingest_reads_it


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("udpin://169.254.10.1:14540", "link-local"),
        ("udpout://[fe80::1]:14550", "link-local"),
        ("udpout://[fd00:ec2::254]:14550", "metadata"),
        ("tcp://168.63.129.16:5760", "metadata"),
        ("udpout://224.0.0.1:14550", "multicast"),
        ("udpout://255.255.255.255:14550", "broadcast"),
        ("tcp://0.0.0.0:5760", "only udpin may listen"),
        ("udpout://gcs.example:14550", "IP address"),
        ("udpin://[::1:14540", "not a connection URL"),
    ],
)
def test_a_mavlink_url_naming_a_host_no_drone_is_at_is_refused(url: str, reason: str) -> None:
    with pytest.raises(UrlRefusedError, match=reason):
        check_mavlink_url(url)


def test_the_allowed_networks_come_from_the_environment_as_a_comma_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DFR_FLEET__ALLOWED_NETWORKS", "10.20.0.0/16, 192.0.2.0/24")
    policy = UrlPolicy(Settings().fleet.allowed_networks)
    policy.bindings("udpout://192.0.2.7:14550", "udp://10.20.1.1:5600")
    policy.bindings("udpin://127.0.0.1:14540", None)  # loopback whatever the networks
    with pytest.raises(UrlRefusedError, match="192.0.2.0/24") as refused:
        policy.bindings("udpin://127.0.0.1:14540", "udp://192.168.1.1:5600")
    assert refused.value.field == "video_url"


def test_listening_on_every_address_clashes_with_any_address_on_that_port() -> None:
    def listen(host: str, port: int) -> Binding:
        address = IPv4Address(host)
        return Binding("listen", "udp", address, port, "mavlink_url", f"udpin://{host}", address)

    assert listen("0.0.0.0", 14540).clashes_with(listen("10.0.0.1", 14540))
    assert not listen("127.0.0.1", 14540).clashes_with(listen("10.0.0.1", 14540))
    assert not listen("0.0.0.0", 14540).clashes_with(listen("0.0.0.0", 14541))
    udp, tcp = drone_bindings("udpout://10.0.0.5:5760", None) + drone_bindings(
        "tcp://10.0.0.5:5760", None
    )
    assert not udp.clashes_with(tcp)


def test_a_fleet_file_with_two_drones_on_one_port_is_refused_naming_both(tmp_path: Path) -> None:
    path = _fleet(
        tmp_path,
        ("X1", "udpin://127.0.0.1:24601", "udp://127.0.0.1:25601"),
        ("X2", "udpin://127.0.0.1:24602", "25601"),
    )
    with pytest.raises(FleetFileError, match=r"drone 'X2': video_url .* drone 'X1'"):
        read_fleet_file(path)


def test_a_fleet_file_naming_a_metadata_address_is_refused_naming_the_drone(
    tmp_path: Path,
) -> None:
    path = _fleet(tmp_path, ("X1", "udpin://127.0.0.1:24601", "udp://169.254.169.254:80"))
    with pytest.raises(FleetFileError, match=r"drone 'X1': video_url: .*169\.254\.169\.254"):
        read_fleet_file(path)


def test_a_fleet_file_outside_the_allowed_networks_is_refused_and_nothing_is_written(
    engine: Engine, tmp_path: Path
) -> None:
    path = _fleet(
        tmp_path,
        ("X1", "udpin://127.0.0.1:24601", None),
        ("X2", "udpout://10.9.8.7:14550", None),
    )
    policy = UrlPolicy((IPv4Network("10.20.0.0/16"),))
    with pytest.raises(FleetFileError, match=r"drone 'X2': .*10\.9\.8\.7"):
        with session_scope(engine) as session:
            apply_fleet_file(session, read_fleet_file(path), policy)
    with Session(engine) as session:
        assert session.exec(select(Drone)).all() == []


def test_a_fleet_file_may_swap_two_drones_ports(engine: Engine, tmp_path: Path) -> None:
    first = ("X1", "udpin://127.0.0.1:24601", None), ("X2", "udpin://127.0.0.1:24602", None)
    swapped = ("X1", "udpin://127.0.0.1:24602", None), ("X2", "udpin://127.0.0.1:24601", None)
    for drones in (first, swapped):
        with session_scope(engine) as session:
            apply_fleet_file(session, read_fleet_file(_fleet(tmp_path, *drones)))
    with Session(engine) as session:
        urls = {d.id: d.mavlink_url for d in session.exec(select(Drone)).all()}
    assert urls == {"X1": "udpin://127.0.0.1:24602", "X2": "udpin://127.0.0.1:24601"}
