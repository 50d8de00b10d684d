"""Connection forms other than udpin, GCS identity, and link quality figures."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pymavlink.dialects.v20 import common as mavlink

from flight.mavlink_link import LinkConfig, MavlinkVehicleLink
from flight.models import LinkState, VehicleId
from tests.flight.px4_peer import Px4Peer


async def wait_for(cond: Any, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not cond():  # noqa: ASYNC110 - conditions on a peer's state have no event to await
            await asyncio.sleep(0.01)


async def test_udpout_link_speaks_first_and_uses_configured_gcs_sysid() -> None:
    peer = Px4Peer()
    await peer.start(None)  # type: ignore[arg-type]  # learns the link's address from its first packet
    port = peer.transport.get_extra_info("sockname")[1]  # type: ignore[union-attr]
    cfg = LinkConfig(gcs_sysid=200, gcs_compid=191)
    try:
        async with MavlinkVehicleLink(
            VehicleId("o"), f"udpout://127.0.0.1:{port}", config=cfg
        ) as link:
            await link.wait_connected(10)
            assert (await link.hold()).result == 0
            hb = next(m for m in peer.received if m.get_type() == "HEARTBEAT")
            assert (hb.get_srcSystem(), hb.get_srcComponent()) == (200, 191)
            assert link.health().rtt_ms is not None
    finally:
        await peer.stop()


async def test_sequence_gaps_show_as_packet_loss_and_degrade_link() -> None:
    peer = Px4Peer()
    try:
        from tests.conftest import free_udp_ports

        (port,) = free_udp_ports(1)
        cfg = LinkConfig(degraded_loss_pct=20.0)
        async with MavlinkVehicleLink(
            VehicleId("l"), f"udpin://127.0.0.1:{port}", config=cfg
        ) as link:
            await peer.start(("127.0.0.1", port))
            await link.wait_connected(10)
            original = peer.send

            def lossy(msg: Any) -> None:
                original(msg)
                peer.mav.seq = (peer.mav.seq + 1) % 256  # every other frame "lost" on the way

            peer.send = lossy  # type: ignore[method-assign]
            await wait_for(lambda: link.health().packet_loss_pct > 30.0)
            await wait_for(lambda: link.link_state == LinkState.DEGRADED)
            assert link.state().available
    finally:
        await peer.stop()


async def test_tcp_link_reconnects_after_peer_closes() -> None:
    mav = mavlink.MAVLink(None, 1, 1)
    connections = 0
    acks = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections, acks
        connections += 1
        rx = mavlink.MAVLink(None, 0, 0)
        hb = mav.heartbeat_encode(2, 12, 1 | 4 | 8 | 16, 4 << 16 | 3 << 24, 3, 3).pack(mav)

        async def beat() -> None:
            while True:
                writer.write(hb)
                await asyncio.sleep(0.1)

        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(beat())
            try:
                while data := await reader.read(4096):
                    for msg in rx.parse_buffer(data) or []:
                        if msg.get_type() == "COMMAND_LONG":
                            acks += 1
                            writer.write(mav.command_ack_encode(msg.command, 0).pack(mav))
                            if connections == 1:
                                writer.close()  # drop the first connection after one command
                                task.cancel()
                                return
            finally:
                task.cancel()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cfg = LinkConfig(lost_after_s=0.5, degraded_after_s=0.3)
    async with (
        server,
        MavlinkVehicleLink(VehicleId("t"), f"tcp://127.0.0.1:{port}", config=cfg) as link,
    ):
        await link.wait_connected(10)
        assert (await link.hold()).result == 0
        await wait_for(lambda: connections == 2)
        await wait_for(lambda: link.link_state == LinkState.CONNECTED)
        assert (await link.hold()).result == 0
        assert acks == 2
    with contextlib.suppress(Exception):
        server.close()
