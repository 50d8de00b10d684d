"""One vehicle's MAVLink connection: socket, framing, sequence counting, round trips and waits.

Connection URLs follow the PX4/MAVSDK forms: `udpin://127.0.0.1:14541` (listen; answer whoever sent
last, as PX4 does), `udpout://host:port` (send first), `tcp://host:port` (tcpout); `serial://`
raises UnsupportedConnectionError.

The receive path runs in the event loop: a datagram is split into frames by reading the MAVLink
header only, and `MAVLink.decode` (CRC check + unpack) runs only for the message ids the link uses;
high-rate position messages are decoded at most `state_rate_hz` times a second. Frames we do not need
still count for packet loss (sequence numbers) but cost no decode.

Before a frame of our vehicle is counted or decoded it passes two gates: its signature (when the
link signs, flight/signing.py) and, on a `udpin` link, its source address. The link binds to the
address of the first frame it accepts and drops frames from any other address (reason "address"),
so nobody on the network can redirect our replies; only after the link was lost (the bound
address silent beyond the link-loss timeout) may an accepted frame, signed if signing is on,
bind a new address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import struct
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pymavlink.dialects.v20 import common as mavlink

from flight import mavlink_wire as wire
from flight.errors import UnsupportedConnectionError
from flight.link_config import LinkConfig
from flight.models import VehicleId
from flight.signing import FrameRejection, LinkSigning

logger = logging.getLogger(__name__)

#: Called with every decoded message of our vehicle and its (sysid, compid).
MessageHandler = Callable[[Any, int, int], None]
#: Called with the reason of every frame of our vehicle's system id that was dropped.
RejectionHandler = Callable[[FrameRejection], None]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed connection URL."""

    scheme: str  # udpin | udpout | tcp
    host: str
    port: int


def parse_connection_url(url: str, vehicle_id: str = "?") -> Endpoint:
    """Parse a PX4-style connection URL; raises UnsupportedConnectionError."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "serial":
        raise UnsupportedConnectionError(vehicle_id, f"serial links are not supported yet: {url!r}")
    if scheme == "tcpout":
        scheme = "tcp"
    if scheme not in ("udpin", "udpout", "tcp"):
        raise UnsupportedConnectionError(
            vehicle_id, f"unsupported connection URL {url!r} (use udpin://, udpout://, tcp://)"
        )
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise UnsupportedConnectionError(vehicle_id, f"bad port in {url!r}") from exc
    if not host or port is None or not 0 < port < 65536:
        raise UnsupportedConnectionError(vehicle_id, f"connection URL {url!r} needs host:port")
    if scheme == "udpout" and host == "0.0.0.0":
        raise UnsupportedConnectionError(vehicle_id, "udpout needs a destination host, not 0.0.0.0")
    return Endpoint(scheme, host, port)


class _SocketProtocol(asyncio.DatagramProtocol, asyncio.Protocol):
    """Feeds received bytes to the connection; one instance per socket."""

    def __init__(self, connection: MavlinkTransport) -> None:
        self._connection = connection
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._connection.datagram_received(data, addr)

    def data_received(self, data: bytes) -> None:
        self._connection.stream_received(data)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable on udpout while the vehicle is down: the watchdog reports it.
        logger.debug("udp error on %s: %s", self._connection.vehicle_id, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class MavlinkTransport:
    """The socket to one vehicle and the MAVLink framing on it; decoded messages go to `on_message`."""

    def __init__(
        self,
        vehicle_id: VehicleId,
        endpoint: Endpoint,
        config: LinkConfig,
        on_message: MessageHandler,
        *,
        target_sysid: int | None = None,
        signing: LinkSigning | None = None,
        on_rejected: RejectionHandler | None = None,
    ) -> None:
        self.vehicle_id = vehicle_id
        self.endpoint = endpoint
        self._cfg = config
        self._on_message = on_message
        self._on_rejected = on_rejected
        self.signing = signing
        self.mav = mavlink.MAVLink(None, config.gcs_sysid, config.gcs_compid)
        self.mav.robust_parsing = True
        # Decoding never consults pymavlink's own signing state (it records a stream's timestamp
        # before checking the signature): frames are checked here, by `signing`, first.
        self._decoder = mavlink.MAVLink(None, config.gcs_sysid, config.gcs_compid)
        self._decoder.robust_parsing = True
        self.target_sysid = target_sysid  # None: adopt the first autopilot heartbeat's sysid
        self.target_compid = 1
        self._socket: asyncio.BaseTransport | None = None
        self._remote: tuple[str, int] | None = None
        self._may_rebind = False
        self._stream_buf = b""
        self.rejected: Counter[FrameRejection] = Counter()
        # quality figures
        self._seq: dict[tuple[int, int], int] = {}
        self._win_received = 0
        self._win_missed = 0
        self.loss_pct = 0.0
        self.rtt_ms: float | None = None
        self.messages_received = 0
        self.bad_frames = 0
        self._decoded_at: dict[int, float] = {}
        self._timesync_sent: dict[int, float] = {}
        self._waiters: list[tuple[frozenset[int], Callable[[Any], bool], asyncio.Future[Any]]] = []
        self._taps: list[tuple[frozenset[int], asyncio.Queue[Any]]] = []

    @property
    def target(self) -> tuple[int, int]:
        """(sysid, compid) to address the vehicle with (sysid 0 until its heartbeat is heard)."""
        return self.target_sysid or 0, self.target_compid

    # ------------------------------------------------------------------ socket

    async def open(self) -> asyncio.Future[None]:
        """Open the socket; returns a future done when the socket closes."""
        loop = asyncio.get_running_loop()
        ep = self.endpoint
        proto: _SocketProtocol
        sock: asyncio.BaseTransport
        if ep.scheme == "udpin":
            sock, proto = await loop.create_datagram_endpoint(
                lambda: _SocketProtocol(self), local_addr=(ep.host, ep.port)
            )
        elif ep.scheme == "udpout":
            self._remote = (ep.host, ep.port)
            sock, proto = await loop.create_datagram_endpoint(
                lambda: _SocketProtocol(self), remote_addr=(ep.host, ep.port)
            )
        else:
            async with asyncio.timeout(5.0):
                sock, proto = await loop.create_connection(
                    lambda: _SocketProtocol(self), ep.host, ep.port
                )
            self._stream_buf = b""
        self._socket = sock
        return proto.closed

    @property
    def bound_address(self) -> tuple[str, int] | None:
        """The vehicle's UDP address replies go to (None until its first accepted frame)."""
        return self._remote

    def allow_rebind(self) -> None:
        """The bound address has been silent beyond the link-loss timeout: the next accepted frame may move it."""
        if self.endpoint.scheme == "udpin":
            self._may_rebind = True

    def close(self) -> None:
        """Close the socket (the future `open` returned completes)."""
        if self._socket is not None:
            self._socket.close()

    def detach(self) -> None:
        """Close the socket and forget it: nothing is sent until the next `open`."""
        self.close()
        self._socket = None

    def local_port(self) -> int | None:
        """Bound local UDP/TCP port (useful with port 0)."""
        if self._socket is None:
            return None
        sock = self._socket.get_extra_info("sockname")
        return int(sock[1]) if sock else None

    # ------------------------------------------------------------------ sending

    def send(self, msg: Any) -> None:
        """Send one encoded message (dropped while no socket is open)."""
        sock = self._socket
        if sock is None:
            return
        signing = self.signing
        if signing is not None and signing.key is not None:
            ms = self.mav.signing
            ms.secret_key = signing.key
            ms.link_id = signing.link_id
            ms.timestamp = signing.next_timestamp()
            ms.sign_outgoing = True
        else:
            self.mav.signing.sign_outgoing = False
        data = msg.pack(self.mav)
        # pack() does not advance the sequence number (MAVLink.send() would); the vehicle counts
        # its received-packet loss from it.
        self.mav.seq = (self.mav.seq + 1) % 256
        scheme = self.endpoint.scheme
        if scheme == "tcp":
            sock.write(data)  # type: ignore[attr-defined]
        elif scheme == "udpout":
            sock.sendto(data)  # type: ignore[attr-defined]
        elif self._remote is not None:
            sock.sendto(data, self._remote)  # type: ignore[attr-defined]

    def send_timesync(self) -> None:
        """Send a TIMESYNC request; its answer measures the round trip (`rtt_ms`)."""
        ts1 = time.monotonic_ns()
        self._timesync_sent[ts1] = time.monotonic()
        if len(self._timesync_sent) > 8:
            self._timesync_sent.pop(next(iter(self._timesync_sent)))
        self.send(self.mav.timesync_encode(0, ts1))

    # ------------------------------------------------------------------ receiving

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        """Take one UDP datagram."""
        if self.endpoint.scheme == "udpin":
            self._parse(data, (str(addr[0]), int(addr[1])))
        else:
            self._parse(data)

    def stream_received(self, data: bytes) -> None:
        """Take bytes from a TCP stream."""
        self._stream_buf = self._parse(self._stream_buf + data)

    def _parse(self, buf: bytes, source: tuple[str, int] | None = None) -> bytes:
        """Split `buf` into frames, decode the wanted ones; returns an incomplete tail.

        `source` is the sender of a `udpin` datagram: the address gate applies to it.
        """
        i = 0
        n = len(buf)
        now_real = time.monotonic()
        while i < n:
            magic = buf[i]
            if magic == 0xFD:
                if n - i < 10:
                    break
                flen = 12 + buf[i + 1] + (13 if buf[i + 2] & 1 else 0)
                seq, sysid, compid = buf[i + 4], buf[i + 5], buf[i + 6]
                msgid = buf[i + 7] | (buf[i + 8] << 8) | (buf[i + 9] << 16)
            elif magic == 0xFE:
                if n - i < 6:
                    break
                flen = 8 + buf[i + 1]
                seq, sysid, compid, msgid = buf[i + 2], buf[i + 3], buf[i + 4], buf[i + 5]
            else:
                i += 1  # resync on the next start byte
                continue
            if n - i < flen:
                break
            if self.target_sysid is not None and sysid != self.target_sysid:
                i += flen  # another system on the same port (a GCS, another vehicle)
                continue
            if msgid not in wire.KNOWN_IDS:
                # Not a frame of our dialect: most likely noise that happens to hold a start byte.
                self.bad_frames += 1
                i += 1
                continue
            decode = msgid in wire.WANTED and not (
                msgid in wire.RATE_LIMITED
                and now_real - self._decoded_at.get(msgid, -math.inf)
                < 1.0 / self._cfg.state_rate_hz
            )
            if (source is not None or self.signing is not None) and not self._admit(
                buf, i, flen, sysid, compid, msgid, source, verify=decode
            ):
                i += flen
                continue
            msg = None
            if decode:
                try:
                    msg = self._decoder.decode(bytearray(buf[i : i + flen]))
                except (mavlink.MAVError, struct.error, IndexError, ValueError):
                    self.bad_frames += 1
                    i += 1
                    continue
                self._decoded_at[msgid] = now_real
            self._count_seq(sysid, compid, seq)
            i += flen
            if msg is not None:
                try:
                    self._dispatch(msg, sysid, compid)
                except Exception:  # a malformed field must not kill the link
                    self.bad_frames += 1
                    logger.exception("link %s: cannot handle %s", self.vehicle_id, msgid)
        return buf[i:]

    def _admit(
        self,
        buf: bytes,
        i: int,
        flen: int,
        sysid: int,
        compid: int,
        msgid: int,
        source: tuple[str, int] | None,
        *,
        verify: bool,
    ) -> bool:
        """Pass a frame through the address and signature gates; binds the address on the first.

        The signature is checked when the frame will be decoded (`verify`) or would bind the
        address. A frame only counted (not decoded) from the bound address skips it: a hash per
        frame at PX4's stream rates doubles the receive path's cost, and such a frame reaches
        no state (on udpin links the address gate has already dropped other senders).
        """
        bound = self._remote
        moved = source is not None and bound is not None and source != bound
        if moved and not self._may_rebind:
            self._reject(FrameRejection.ADDRESS)
            return False
        binds = source is not None and (bound is None or moved)
        if binds and not wire.frame_crc_ok(memoryview(buf)[i : i + flen], msgid):
            # A broken frame must not choose whom the link answers: bind only on a whole one.
            self.bad_frames += 1
            return False
        if self.signing is not None and (verify or binds or source is None):
            reason = self.signing.check(memoryview(buf)[i : i + flen], sysid, compid)
            if reason is not None:
                self._reject(reason)
                return False
        if source is not None and (bound is None or moved):
            if moved:
                logger.warning(
                    "link %s: vehicle moved from %s:%d to %s:%d after link loss",
                    self.vehicle_id,
                    *bound,  # type: ignore[misc]
                    *source,
                    extra={"vehicle_id": self.vehicle_id},
                )
            self._remote = source
        self._may_rebind = False
        return True

    def _reject(self, reason: FrameRejection) -> None:
        self.rejected[reason] += 1
        if self._on_rejected is not None:
            self._on_rejected(reason)

    def _count_seq(self, sysid: int, compid: int, seq: int) -> None:
        self.messages_received += 1
        self._win_received += 1
        key = (sysid, compid)
        last = self._seq.get(key)
        self._seq[key] = seq
        if last is not None:
            gap = (seq - last - 1) & 0xFF
            if gap < 128:  # larger gaps are reordering or a peer restart
                self._win_missed += gap

    def roll_loss_window(self) -> None:
        """Turn the frames counted since the last call into `loss_pct` and start counting anew."""
        total = self._win_received + self._win_missed
        if total:
            self.loss_pct = 100.0 * self._win_missed / total
        self._win_received = self._win_missed = 0

    def _dispatch(self, msg: Any, sysid: int, compid: int) -> None:
        # The link's state is updated before a protocol session or a waiter sees the message.
        mid = msg.get_msgId()
        if mid == wire.TIMESYNC:
            self._on_timesync(msg)
        self._on_message(msg, sysid, compid)
        for ids, q in self._taps:
            if mid in ids:
                q.put_nowait(msg)
        if self._waiters:
            for ids, pred, fut in list(self._waiters):
                if mid in ids and not fut.done() and pred(msg):
                    fut.set_result(msg)

    def _on_timesync(self, msg: Any) -> None:
        sent = self._timesync_sent.pop(int(msg.ts1), None)
        if msg.tc1 != 0 and sent is not None:
            self.rtt_ms = (time.monotonic() - sent) * 1000.0
        elif msg.tc1 == 0:
            # A vehicle asking us: answer, as a GCS does, so its timesync converges.
            self.send(self.mav.timesync_encode(time.monotonic_ns(), int(msg.ts1)))

    # ------------------------------------------------------------------ waiting

    async def wait_msg(
        self, ids: frozenset[int], pred: Callable[[Any], bool], timeout_s: float
    ) -> Any | None:
        """The next message with one of `ids` that `pred` accepts, or None after `timeout_s`."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entry = (ids, pred, fut)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout_s):
                return await fut
        except TimeoutError:
            return None
        finally:
            self._waiters.remove(entry)

    @contextlib.contextmanager
    def tap(self, ids: frozenset[int]) -> Iterator[asyncio.Queue[Any]]:
        """Queue every message with one of `ids` while the block runs (a protocol session)."""
        entry: tuple[frozenset[int], asyncio.Queue[Any]] = (ids, asyncio.Queue())
        self._taps.append(entry)
        try:
            yield entry[1]
        finally:
            self._taps.remove(entry)
