"""FleetLink: several vehicles on one loop, merged streams, unknown ids."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from flight.errors import FlightError, UnknownVehicleError, UnsupportedConnectionError
from flight.fleet import FleetLink
from flight.models import LinkState, VehicleEventKind, VehicleId
from tests.conftest import free_udp_ports
from tests.flight.px4_peer import Px4Peer


async def test_fleet_links_three_vehicles_and_merges_their_states() -> None:
    peers = [Px4Peer(sysid=i + 1) for i in range(3)]
    try:
        async with FleetLink() as fleet:
            for i, peer in enumerate(peers):
                (port,) = free_udp_ports(1)
                fleet.add_vehicle(VehicleId(f"d{i}"), f"udpin://127.0.0.1:{port}", sysid=i + 1)
                await peer.start(("127.0.0.1", port))
            seen: set[str] = set()
            async with asyncio.timeout(20), contextlib.aclosing(fleet.states()) as stream:
                async for s in stream:
                    if s.available:
                        seen.add(s.vehicle_id)
                    if len(seen) == 3:
                        break
            assert fleet.connected_count() == 3
            assert (await fleet.vehicle(VehicleId("d1")).hold()).result == 0
            assert [
                m.command
                for m in peers[1].received
                if m.get_type() == "COMMAND_LONG" and m.command == 176
            ]
            assert not [
                m for m in peers[0].received if m.get_type() == "COMMAND_LONG" and m.command == 176
            ]
            with pytest.raises(UnknownVehicleError):
                fleet.vehicle(VehicleId("nope"))
            with pytest.raises(UnsupportedConnectionError):
                fleet.add_vehicle(VehicleId("d9"), "serial:///dev/ttyUSB0:57600")
            with pytest.raises(FlightError):
                fleet.add_vehicle(VehicleId("d0"), "udpin://127.0.0.1:1")
            snap = fleet.snapshot()
            assert set(snap) == {"d0", "d1", "d2"}
    finally:
        for peer in peers:
            await peer.stop()


async def test_fleet_events_report_link_loss_of_one_vehicle() -> None:
    peer = Px4Peer()
    try:
        async with FleetLink() as fleet:
            (port,) = free_udp_ports(1)
            from flight.mavlink_link import LinkConfig

            fleet.add_vehicle(
                VehicleId("a"),
                f"udpin://127.0.0.1:{port}",
                config=LinkConfig(lost_after_s=0.6, degraded_after_s=0.3),
            )
            await peer.start(("127.0.0.1", port))
            await fleet.vehicle(VehicleId("a")).wait_connected(10)
            async with asyncio.timeout(20), contextlib.aclosing(fleet.events()) as stream:
                peer.heartbeat = False
                async for e in stream:
                    if e.kind == VehicleEventKind.LINK and "-> lost" in e.detail:
                        break
            assert fleet.vehicle(VehicleId("a")).link_state == LinkState.LOST
            await fleet.remove_vehicle(VehicleId("a"))
            assert fleet.vehicle_ids() == []
    finally:
        await peer.stop()
