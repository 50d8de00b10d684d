"""Mission, fence and rally transfer with PX4: upload (verified by download), download, clear, jump.

PX4 starts each link in non-INT mode: its first request for an item is a MISSION_REQUEST, which we
answer UNSUPPORTED (as MAVSDK does) so it switches to MISSION_REQUEST_INT and asks again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from typing import Any

from flight import mavlink_wire as wire
from flight.errors import InvalidCommandError, LinkTimeoutError, MissionTransferError
from flight.link_context import LinkContext
from flight.mission_items import MavCmd, MavFrame, MissionItem, MissionType
from flight.models import VehicleEventKind

logger = logging.getLogger(__name__)


def item_from_mavlink(msg: Any) -> MissionItem:
    """A MissionItem from a decoded MISSION_ITEM_INT."""
    try:
        command: MavCmd | int = MavCmd(msg.command)
    except ValueError:
        command = int(msg.command)
    try:
        frame: MavFrame | int = MavFrame(msg.frame)
    except ValueError:
        frame = int(msg.frame)
    return MissionItem(
        command=command,
        frame=frame,
        param1=float(msg.param1),
        param2=float(msg.param2),
        param3=float(msg.param3),
        param4=float(msg.param4),
        x=int(msg.x),
        y=int(msg.y),
        z=float(msg.z),
        autocontinue=bool(msg.autocontinue),
        mission_type=MissionType(getattr(msg, "mission_type", 0)),
    )


def stored_like(sent: MissionItem, got: MissionItem) -> bool:
    """True if `got` (downloaded) is how PX4 stores `sent`.

    Fence and rally items keep only command, frame, position, altitude and (fence) vertex count or
    radius in PX4's storage, so the other params are not compared for them.
    """
    if sent.mission_type == MissionType.MISSION:
        return sent.same_on_wire(got)
    same = (
        int(sent.command) == int(got.command)
        and int(sent.frame) == int(got.frame)
        and sent.x == got.x
        and sent.y == got.y
        and wire.echo_equal(sent.z, got.z)
        and int(sent.mission_type) == int(got.mission_type)
    )
    if sent.mission_type == MissionType.FENCE:
        same = same and wire.echo_equal(sent.param1, got.param1)
    return same


def _fence_item_key(item: MissionItem) -> tuple[int, int, int, int, float, float]:
    return (
        int(item.command),
        int(item.frame),
        item.x,
        item.y,
        round(item.z, 2),
        round(item.param1, 3),
    )


def plan_content(items: Sequence[MissionItem], mtype: MissionType) -> Counter[Hashable]:
    """What a fence or rally plan means, whatever its order: PX4 applies every fence shape and
    rally point alike, so the same shapes (a polygon's vertices in order) in another order are
    the same fence. Items are compared as PX4 stores them (see `stored_like`)."""
    if mtype == MissionType.RALLY:
        return Counter(_fence_item_key(i)[:5] for i in items)
    shapes: Counter[Hashable] = Counter()
    i = 0
    while i < len(items):
        item = items[i]
        vertices = int(item.param1) if "POLYGON" in getattr(item.command, "name", "") else 1
        shape = tuple(_fence_item_key(v) for v in items[i : i + max(1, vertices)])
        shapes[shape] += 1
        i += max(1, vertices)
    return shapes


class MissionTransfer:
    """The mission capability of one vehicle link (one transfer at a time).

    Fence and rally plans verified on the vehicle are remembered for the connection: a launch
    whose fence and rally points are those the vehicle already holds uploads only its mission
    (after checking the vehicle still holds as many fence and rally items). Forgotten when the
    link is lost (the vehicle may have restarted), on a clear, and when an upload fails.
    """

    def __init__(self, ctx: LinkContext) -> None:
        self._ctx = ctx
        self._lock = asyncio.Lock()
        #: One upload of a type at a time, its verification included: a launch's fence upload
        #: waits for the one sent at connect and then finds the fence already on the vehicle.
        self._upload_locks: defaultdict[MissionType, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._on_vehicle: dict[MissionType, tuple[int, Counter[Hashable]]] = {}

    def forget_plans(self) -> None:
        """The vehicle may no longer hold the fence and rally points verified earlier."""
        self._on_vehicle.clear()

    async def _already_on_vehicle(self, items: Sequence[MissionItem], mtype: MissionType) -> bool:
        held = self._on_vehicle.get(mtype)
        if held is None or held != (len(items), plan_content(items, mtype)):
            return False
        # Another ground station may have replaced it since: PX4 says nothing of that, but it
        # answers how many items it holds, which a replacement rarely leaves unchanged.
        return await self.count(mtype) == len(items)

    def _refused(
        self, op: str, result: int, detail: str = "", reason: str | None = None
    ) -> MissionTransferError:
        reason = reason or wire.MISSION_RESULT_NAMES.get(result, str(result))
        return MissionTransferError(self._ctx.vehicle_id, op, reason, result=result, detail=detail)

    async def upload(self, items: Sequence[MissionItem], mtype: MissionType) -> None:
        """Upload items of one mission type, then download and compare them (unless configured off).

        A fence or rally plan the vehicle already holds, verified on this connection, is not sent again.
        """
        op = f"upload {mtype.name.lower()}"
        for idx, item in enumerate(items):
            if item.mission_type != mtype:
                raise InvalidCommandError(
                    f"{op}: item {idx} is of type {item.mission_type.name}, not {mtype.name}"
                )
        async with self._upload_locks[mtype]:
            if mtype != MissionType.MISSION and await self._already_on_vehicle(items, mtype):
                logger.debug("link %s: %s already on the vehicle", self._ctx.vehicle_id, op)
                return
            self._on_vehicle.pop(mtype, None)
            await self._upload(items, mtype, op)
            if not self._ctx.config.verify_uploads:
                return
            await self._verify(items, mtype, op)
            if mtype != MissionType.MISSION:
                self._on_vehicle[mtype] = (len(items), plan_content(items, mtype))

    async def _verify(self, items: Sequence[MissionItem], mtype: MissionType, op: str) -> None:
        got = await self.download(mtype)
        vehicle_id = self._ctx.vehicle_id
        if len(got) != len(items):
            raise MissionTransferError(
                vehicle_id, op, "verify", detail=f"vehicle has {len(got)} items, sent {len(items)}"
            )
        for idx, (sent, back) in enumerate(zip(items, got, strict=True)):
            if not stored_like(sent, back):
                raise MissionTransferError(
                    vehicle_id,
                    op,
                    "verify",
                    detail=f"item {idx} differs: sent {sent}, vehicle has {back}",
                )

    async def _next(
        self, q: asyncio.Queue[Any], mtype: MissionType, timeout_s: float
    ) -> Any | None:
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    msg = await q.get()
                    if int(getattr(msg, "mission_type", 0)) == int(mtype):
                        return msg
        except TimeoutError:
            return None

    def _send_ack(self, result: int, mtype: MissionType) -> None:
        t = self._ctx.transport
        t.send(t.mav.mission_ack_encode(*t.target, result, int(mtype)))

    def _send_count(self, count: int, mtype: MissionType) -> None:
        t = self._ctx.transport
        t.send(t.mav.mission_count_encode(*t.target, count, int(mtype)))

    def _send_item(self, item: MissionItem, seq: int, mtype: MissionType) -> None:
        t = self._ctx.transport
        t.send(
            t.mav.mission_item_int_encode(
                *t.target,
                seq,
                int(item.frame),
                int(item.command),
                1 if (seq == 0 and mtype == MissionType.MISSION) else 0,
                1 if item.autocontinue else 0,
                item.param1,
                item.param2,
                item.param3,
                item.param4,
                item.x,
                item.y,
                item.z,
                int(mtype),
            )
        )

    async def _upload(self, items: Sequence[MissionItem], mtype: MissionType, op: str) -> None:
        ctx = self._ctx
        ctx.require_link(op)
        await ctx.fence(op)
        cfg = ctx.config
        async with self._lock:
            with ctx.transport.tap(wire.MISSION_MSGS) as q:
                t0 = time.monotonic()
                self._send_count(len(items), mtype)
                requested_any = False
                silent = 0
                last_seq = -1
                while True:
                    msg = await self._next(q, mtype, cfg.mission_timeout_s)
                    if msg is None:
                        silent += 1
                        if silent > cfg.mission_retries:
                            raise MissionTransferError(
                                ctx.vehicle_id,
                                op,
                                "timeout",
                                detail=f"no answer after item {last_seq}"
                                if requested_any
                                else "no request",
                            )
                        ctx.require_link(op)
                        if not requested_any:
                            self._send_count(len(items), mtype)
                        # else: PX4 re-requests the item itself on its 0.5 s retry timer
                        continue
                    silent = 0
                    mid = msg.get_msgId()
                    if mid == wire.MISSION_REQUEST:
                        # PX4's first request on a link is non-INT: refuse it to get the INT form.
                        requested_any = True
                        self._send_ack(wire.MISSION_ACK_UNSUPPORTED, mtype)
                    elif mid == wire.MISSION_REQUEST_INT:
                        requested_any = True
                        seq = int(msg.seq)
                        if not 0 <= seq < len(items):
                            continue
                        last_seq = max(last_seq, seq)
                        self._send_item(items[seq], seq, mtype)
                    elif mid == wire.MISSION_ACK:
                        result = int(msg.type)
                        if result == wire.MISSION_ACK_ACCEPTED and (last_seq == len(items) - 1):
                            logger.debug(
                                "link %s: %s of %d items in %.1f ms",
                                ctx.vehicle_id,
                                op,
                                len(items),
                                (time.monotonic() - t0) * 1000,
                            )
                            return
                        early = result == wire.MISSION_ACK_ACCEPTED
                        raise self._refused(
                            op,
                            result,
                            ctx.telemetry.texts_since(t0),
                            "ACCEPTED before all items were sent" if early else None,
                        )

    async def count(self, mtype: MissionType) -> int:
        """How many items of `mtype` the vehicle holds (MISSION_REQUEST_LIST, then ACK ends it)."""
        ctx = self._ctx
        op = f"count {mtype.name.lower()}"
        ctx.require_link(op)
        cfg = ctx.config
        t = ctx.transport
        async with self._lock:
            with t.tap(wire.MISSION_MSGS) as q:
                for _ in range(cfg.mission_retries + 1):
                    ctx.require_link(op)
                    t.send(t.mav.mission_request_list_encode(*t.target, int(mtype)))
                    msg = await self._next(q, mtype, cfg.mission_timeout_s)
                    if msg is None:
                        continue
                    if msg.get_msgId() == wire.MISSION_COUNT:
                        # Ends the download PX4 has just opened: we want no items.
                        self._send_ack(wire.MISSION_ACK_ACCEPTED, mtype)
                        return int(msg.count)
                    if msg.get_msgId() == wire.MISSION_ACK and int(msg.type) != 0:
                        raise self._refused(op, int(msg.type))
        raise MissionTransferError(ctx.vehicle_id, op, "timeout", detail="no MISSION_COUNT")

    async def download(self, mtype: MissionType = MissionType.MISSION) -> list[MissionItem]:
        """Download the vehicle's mission, fence or rally items (used to adopt a flight)."""
        ctx = self._ctx
        op = f"download {mtype.name.lower()}"
        ctx.require_link(op)
        cfg = ctx.config
        t = ctx.transport
        async with self._lock:
            with t.tap(wire.MISSION_MSGS) as q:
                count: int | None = None
                for _ in range(cfg.mission_retries + 1):
                    ctx.require_link(op)
                    t.send(t.mav.mission_request_list_encode(*t.target, int(mtype)))
                    msg = await self._next(q, mtype, cfg.mission_timeout_s)
                    if msg is None:
                        continue
                    if msg.get_msgId() == wire.MISSION_COUNT:
                        count = int(msg.count)
                        break
                    if msg.get_msgId() == wire.MISSION_ACK and int(msg.type) != 0:
                        raise self._refused(op, int(msg.type))
                if count is None:
                    raise MissionTransferError(
                        ctx.vehicle_id, op, "timeout", detail="no MISSION_COUNT"
                    )
                items = [
                    await self._download_item(q, mtype, op, seq, count) for seq in range(count)
                ]
                self._send_ack(wire.MISSION_ACK_ACCEPTED, mtype)
                return items

    async def _download_item(
        self, q: asyncio.Queue[Any], mtype: MissionType, op: str, seq: int, count: int
    ) -> MissionItem:
        ctx = self._ctx
        cfg = ctx.config
        t = ctx.transport
        for _ in range(cfg.mission_retries + 1):
            ctx.require_link(op)
            t.send(t.mav.mission_request_int_encode(*t.target, seq, int(mtype)))
            deadline = time.monotonic() + cfg.mission_timeout_s
            while (left := deadline - time.monotonic()) > 0:
                msg = await self._next(q, mtype, left)
                if msg is None:
                    continue
                if msg.get_msgId() == wire.MISSION_ITEM_INT and int(msg.seq) == seq:
                    return item_from_mavlink(msg)
                if msg.get_msgId() == wire.MISSION_ACK and int(msg.type) != 0:
                    raise self._refused(op, int(msg.type))
        raise MissionTransferError(
            ctx.vehicle_id, op, "timeout", detail=f"item {seq} of {count} not received"
        )

    async def set_current(self, seq: int) -> None:
        """Continue the mission at item `seq` (MISSION_SET_CURRENT; confirmed by MISSION_CURRENT).

        Used to release a drone from an unlimited loiter over the scene onto the planned return.
        """
        ctx = self._ctx
        cfg = ctx.config
        t = ctx.transport
        op = f"set mission current {seq}"
        ctx.require_link(op)
        total = ctx.telemetry.mission_total
        if seq < 0 or (total is not None and seq >= total):
            raise InvalidCommandError(f"{ctx.vehicle_id}: {op}: outside the mission")
        for _ in range(cfg.command_retries + 1):
            ctx.require_link(op)
            await ctx.fence(op)
            t.send(t.mav.mission_set_current_encode(*t.target, seq))
            msg = await t.wait_msg(
                frozenset({wire.MISSION_CURRENT}),
                lambda m: int(m.seq) == seq,
                cfg.command_timeout_s,
            )
            if msg is not None:
                ctx.emit(VehicleEventKind.COMMAND, f"{op} confirmed", value=seq)
                return
        raise LinkTimeoutError(
            ctx.vehicle_id, op, cfg.command_timeout_s * (cfg.command_retries + 1)
        )

    async def clear(self, mtype: MissionType = MissionType.MISSION) -> None:
        """Clear the vehicle's mission, fence or rally items (MISSION_CLEAR_ALL)."""
        ctx = self._ctx
        t = ctx.transport
        op = f"clear {mtype.name.lower()}"
        ctx.require_link(op)
        await ctx.fence(op)
        self._on_vehicle.pop(mtype, None)
        async with self._lock:
            with t.tap(wire.MISSION_MSGS) as q:
                for _ in range(ctx.config.mission_retries + 1):
                    ctx.require_link(op)
                    t.send(t.mav.mission_clear_all_encode(*t.target, int(mtype)))
                    msg = await self._next(q, mtype, ctx.config.mission_timeout_s)
                    if msg is None or msg.get_msgId() != wire.MISSION_ACK:
                        continue
                    if int(msg.type) == 0:
                        return
                    raise self._refused(op, int(msg.type))
        raise MissionTransferError(ctx.vehicle_id, op, "timeout")
