"""One PX4-style MAVLink UDP link: bound locally, sending to a fixed remote until someone talks to it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymavlink.dialects.v20 import common as mavlink2

from .signing import VehicleSigning

log = logging.getLogger(__name__)

CAMERA_COMPONENT_ID = 100
AUTOPILOT_COMPONENT_ID = 1


@dataclass(slots=True)
class LinkCut:
    """A fault: drop traffic in one or both directions until `until_s` (simulated)."""

    until_s: float
    inbound: bool
    outbound: bool


class Link(asyncio.DatagramProtocol):
    """A UDP endpoint that encodes with pymavlink and hands decoded messages to `on_message`."""

    def __init__(
        self,
        name: str,
        onboard: bool,
        sysid: int,
        remote: tuple[str, int],
        on_message: Callable[[Link, Any], None],
        now_s: Callable[[], float],
    ) -> None:
        self.name = name
        self.onboard = onboard
        self.remote = remote
        self.int_mode = False  # PX4 starts each mavlink instance with non-INT mission requests
        self.cut: LinkCut | None = None
        self._on_message = on_message
        self._now_s = now_s
        self._transport: asyncio.DatagramTransport | None = None
        self.mav = mavlink2.MAVLink(None, srcSystem=sysid, srcComponent=AUTOPILOT_COMPONENT_ID)
        self.mav_camera = mavlink2.MAVLink(None, srcSystem=sysid, srcComponent=CAMERA_COMPONENT_ID)
        self._parser = mavlink2.MAVLink(None, srcSystem=sysid, srcComponent=AUTOPILOT_COMPONENT_ID)
        self._parser.robust_parsing = True
        self.rx_messages = 0
        self.rx_errors = 0
        self.rx_rejected = 0
        self.tx_messages = 0
        #: The vehicle's signing (shared by its links); None: the link neither signs nor checks.
        self.signing: VehicleSigning | None = None
        #: MAVLink instance number, the link id of the frames it signs (PX4: the instance id).
        self.link_id = 0

    # asyncio.DatagramProtocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self._cut_active(inbound=True):
            return
        sender = (str(addr[0]), int(addr[1]))
        signing = self.signing
        if signing is None or not signing.enabled:
            self.remote = sender
        try:
            msgs = self._parser.parse_buffer(data) or []
        except (
            Exception
        ):  # pymavlink raises several types on broken frames; one bad datagram never stops a link
            self.rx_errors += 1
            self._parser = mavlink2.MAVLink(None, srcSystem=self.mav.srcSystem, srcComponent=1)
            self._parser.robust_parsing = True
            return
        for msg in msgs:
            if msg.get_type() == "BAD_DATA":
                self.rx_errors += 1
                continue
            if signing is not None:
                if not signing.accepts(msg):
                    self.rx_rejected += 1
                    continue
                # Replies follow only a sender that proved it holds the key.
                self.remote = sender
                if signing.handle_setup(msg):
                    continue
            self.rx_messages += 1
            try:
                self._on_message(self, msg)
            except Exception:
                log.exception("link %s: handling %s failed", self.name, msg.get_type())

    def error_received(self, exc: Exception) -> None:
        # ICMP port-unreachable while nobody listens on the remote port: normal for PX4 too.
        pass

    def _cut_active(self, inbound: bool) -> bool:
        cut = self.cut
        if cut is None:
            return False
        if self._now_s() >= cut.until_s:
            self.cut = None
            return False
        return cut.inbound if inbound else cut.outbound

    def send(self, msg: Any, camera: bool = False) -> None:
        """Encode and send one message as the autopilot (or the camera) component."""
        if self._transport is None or self._cut_active(inbound=False):
            return
        mav = self.mav_camera if camera else self.mav
        if self.signing is not None:
            self.signing.sign_with(mav, self.link_id)
        buf = msg.pack(mav, force_mavlink1=False)
        mav.seq = (mav.seq + 1) % 256
        self.tx_messages += 1
        self._transport.sendto(buf, self.remote)

    def close(self) -> None:
        """Close the socket."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None


async def open_link(
    name: str,
    onboard: bool,
    sysid: int,
    bind_port: int,
    remote_port: int,
    on_message: Callable[[Link, Any], None],
    now_s: Callable[[], float],
    host: str = "127.0.0.1",
) -> Link:
    """Bind `host:bind_port` and start sending to `host:remote_port` (PX4's SITL boot behaviour)."""
    loop = asyncio.get_running_loop()
    link = Link(name, onboard, sysid, (host, remote_port), on_message, now_s)
    await loop.create_datagram_endpoint(lambda: link, local_addr=(host, bind_port))
    return link
