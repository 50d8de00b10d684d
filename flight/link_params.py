"""Vehicle parameters: the PARAM protocol (PX4's bytewise INT32) and the agency's failsafe set."""

from __future__ import annotations

import asyncio
import struct

from flight import mavlink_wire as wire
from flight.errors import InvalidCommandError, LinkTimeoutError, SafetyConfigError
from flight.link_context import LinkContext
from flight.models import VehicleEventKind


def _f32_bits_from_int(value: int) -> float:
    return float(struct.unpack("<f", struct.pack("<i", value))[0])


def _int_from_f32_bits(value: float) -> int:
    return int(struct.unpack("<i", struct.pack("<f", value))[0])


class VehicleParams:
    """The parameter capability of one vehicle link (one exchange at a time)."""

    def __init__(self, ctx: LinkContext) -> None:
        self._ctx = ctx
        self._lock = asyncio.Lock()
        self._safety_lock = asyncio.Lock()
        #: The failsafe set was written and read back on this connection, and no PARAM_VALUE
        #: has shown one of its parameters changed since: a launch need not write it again.
        self.safety_confirmed = False

    def forget_safety_config(self) -> None:
        """The vehicle may no longer hold the confirmed set (link lost, vehicle restarted)."""
        self.safety_confirmed = False

    def on_param_value(self, msg: object) -> None:
        """PX4 sends PARAM_VALUE on every link when anyone sets a parameter: a changed failsafe
        parameter (another ground station) must be written and checked again before arming."""
        if not self.safety_confirmed:
            return
        name = str(getattr(msg, "param_id", "")).rstrip("\x00")
        wanted = self._ctx.config.safety.params().get(name)
        if wanted is None:
            return
        raw = float(getattr(msg, "param_value", 0.0))
        if int(getattr(msg, "param_type", 0)) in wire.PARAM_TYPES_INTEGER:
            same = isinstance(wanted, int) and _int_from_f32_bits(raw) == wanted
        else:
            same = not isinstance(wanted, int) and wire.echo_equal(raw, wanted)
        if not same:
            self.safety_confirmed = False

    async def get_param(self, name: str) -> float | int:
        """Read one parameter (PX4 bytewise INT32 decoded to int)."""
        return await self._exchange(name, None)

    async def set_param(self, name: str, value: float | int) -> float | int:
        """Set one parameter; int values go as INT32 (bytewise), floats as REAL32. Returns the echo."""
        return await self._exchange(name, value)

    def _send(self, pid: bytes, value: float | int | None) -> None:
        t = self._ctx.transport
        if value is None:
            t.send(t.mav.param_request_read_encode(*t.target, pid, -1))
        elif isinstance(value, int):
            t.send(
                t.mav.param_set_encode(
                    *t.target, pid, _f32_bits_from_int(value), wire.PARAM_TYPE_INT32
                )
            )
        else:
            t.send(t.mav.param_set_encode(*t.target, pid, float(value), wire.PARAM_TYPE_REAL32))

    async def _exchange(self, name: str, value: float | int | None) -> float | int:
        ctx = self._ctx
        cfg = ctx.config
        op = f"param {name}"
        ctx.require_link(op)
        if value is not None:
            await ctx.fence(op)
        if len(name) > 16:
            raise InvalidCommandError(f"parameter name {name!r} longer than 16 characters")
        pid = name.encode("ascii")
        async with self._lock:
            for _ in range(cfg.param_retries + 1):
                ctx.require_link(op)
                self._send(pid, value)
                msg = await ctx.transport.wait_msg(
                    frozenset({wire.PARAM_VALUE}),
                    lambda m: str(m.param_id).rstrip("\x00") == name,
                    cfg.param_timeout_s,
                )
                if msg is None:
                    continue
                if int(msg.param_type) in wire.PARAM_TYPES_INTEGER:  # bytewise on PX4
                    return _int_from_f32_bits(float(msg.param_value))
                return float(msg.param_value)
        raise LinkTimeoutError(ctx.vehicle_id, op, cfg.param_timeout_s * (cfg.param_retries + 1))

    async def apply_safety_config(self, *, force: bool = False) -> None:
        """Set the agency's failsafe parameters and read them back; SafetyConfigError if not confirmed.

        Done once per connection (at connect, or at the first launch if that failed); later calls
        return at once unless `force`, or a PARAM_VALUE showed one of them changed.
        """
        async with self._safety_lock:
            if self.safety_confirmed and not force:
                return
            vehicle_id = self._ctx.vehicle_id
            for name, wanted in self._ctx.config.safety.params().items():
                try:
                    await self.set_param(name, wanted)
                    got = await self.get_param(name)
                except LinkTimeoutError as exc:
                    raise SafetyConfigError(vehicle_id, name, wanted, None, "no answer") from exc
                ok = (
                    got == wanted
                    if isinstance(wanted, int)
                    else wire.echo_equal(float(got), wanted)
                )
                if not ok or isinstance(wanted, int) != isinstance(got, int):
                    raise SafetyConfigError(vehicle_id, name, wanted, got)
            self.safety_confirmed = True
            self._ctx.emit(VehicleEventKind.COMMAND, "safety configuration confirmed")
