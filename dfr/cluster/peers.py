"""Flights of drones linked by another instance: their shared states, and operations forwarded.

Every instance publishes the state of each drone it links on `dfr.vehicle.<drone>` (with the
drone's unfinished flight) and keeps the others' latest; an operation on a drone linked elsewhere
(launch, reassignment, pilot command, recall) is a request on `dfr.rpc.<holder instance>`, which the
holder's `PeerServer` runs on its own flight service. Errors come back by kind, so the API answers
the same problem whichever instance the client reached.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from dfr.cluster.bus import BusSubscription, LiveBus, subject_token
from dfr.cluster.errors import BusError
from dfr.cluster.leases import LeaseStore, drone_resource
from dfr.errors import (
    ConflictError,
    DfrError,
    ForbiddenError,
    InvalidInputError,
    LaunchRefusedError,
    NotFoundError,
    ServiceUnavailableError,
)
from dfr.flights import FlightService
from dfr.video_service import VideoService
from flight import (
    CommandAck,
    FlightError,
    InvalidCommandError,
    VehicleId,
    VehicleState,
    vehicle_state_from_json,
    vehicle_state_to_json,
)
from geofence import GeoPoint
from lifecycle import TaskOwner
from telemetry.video import BadOfferError, SessionLimitError, VideoError, WhepAnswer

log = logging.getLogger(__name__)

VEHICLE_SUBJECT = "dfr.vehicle"
RPC_SUBJECT = "dfr.rpc"
#: A shared state older than this (wall seconds) means the drone has no holder sharing it.
STATE_STALE_S = 5.0
#: Sharing each drone's state at most this often (the dispatcher needs facts, not a video).
SHARE_INTERVAL_S = 0.5
RPC_TIMEOUT_S = 30.0


def rpc_subject(instance_id: str) -> str:
    """Where an instance answers operations on the drones it links."""
    return f"{RPC_SUBJECT}.{subject_token(instance_id)}"


class PeerFlights:
    """RemoteFlights over the live bus: shared states in, operations out to the holder."""

    def __init__(self, *, bus: LiveBus, store: LeaseStore) -> None:
        self._bus = bus
        self._store = store
        self._states: dict[str, tuple[float, VehicleState, int | None]] = {}
        self._subscription: BusSubscription | None = None
        self.states_received = 0

    async def start(self) -> None:
        """Begin keeping the other instances' shared drone states."""
        self._subscription = await self._bus.subscribe(f"{VEHICLE_SUBJECT}.>", self._on_state)

    async def stop(self) -> None:
        """Stop listening."""
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    def _on_state(self, _subject: str, data: bytes) -> None:
        try:
            envelope = json.loads(data)
            if envelope["origin"] == self._store.instance_id:
                return
            state = vehicle_state_from_json(envelope["state"].encode())
        except (ValueError, KeyError, TypeError):
            log.warning("dropped a malformed shared vehicle state")
            return
        self.states_received += 1
        self._states[str(state.vehicle_id)] = (time.monotonic(), state, envelope.get("flight_id"))

    def _fresh(self, drone_id: str) -> tuple[float, VehicleState, int | None] | None:
        entry = self._states.get(drone_id)
        if entry is None or time.monotonic() - entry[0] > STATE_STALE_S:
            return None
        return entry

    def state_of(self, drone_id: str) -> VehicleState | None:
        """See RemoteFlights."""
        entry = self._fresh(drone_id)
        return None if entry is None else entry[1]

    def flight_of(self, drone_id: str) -> int | None:
        """See RemoteFlights."""
        entry = self._fresh(drone_id)
        return None if entry is None else entry[2]

    async def _call(self, drone_id: str, op: str, args: dict[str, Any]) -> Any:
        now = datetime.now(UTC)
        holder = await asyncio.to_thread(self._store.holder_of, drone_resource(drone_id), now)
        if holder is None:
            raise ServiceUnavailableError(
                f"no instance holds the link to drone {drone_id!r} now; try again in a few seconds"
            )
        request = json.dumps({"op": op, "drone_id": drone_id, "args": args}).encode()
        try:
            reply = json.loads(
                await self._bus.request(rpc_subject(holder), request, timeout_s=RPC_TIMEOUT_S)
            )
        except BusError as exc:
            raise ServiceUnavailableError(
                f"instance {holder} holding drone {drone_id!r} did not answer: {exc}"
            ) from exc
        if "error" in reply:
            raise error_from_reply(reply["error"])
        return reply["result"]

    async def launch(
        self, drone_id: str, target: GeoPoint, *, call_id: int | None, **options: Any
    ) -> int:
        """See RemoteFlights."""
        args = {"lat": target.lat_deg, "lon": target.lon_deg, "call_id": call_id, **options}
        return int(await self._call(drone_id, "launch", args))

    async def retask(self, drone_id: str, target: GeoPoint, **options: Any) -> int:
        """See RemoteFlights."""
        args = {"lat": target.lat_deg, "lon": target.lon_deg, **options}
        return int(await self._call(drone_id, "retask", args))

    async def command(self, drone_id: str, flight_id: int, **options: Any) -> CommandAck:
        """See RemoteFlights."""
        ack = await self._call(drone_id, "command", {"flight_id": flight_id, **options})
        return CommandAck(
            VehicleId(ack["vehicle_id"]),
            ack["command"],
            int(ack["result"]),
            int(ack["attempts"]),
            float(ack["rtt_ms"]),
        )

    async def recall(self, drone_id: str, flight_id: int, reason: str) -> None:
        """See RemoteFlights."""
        await self._call(drone_id, "recall", {"flight_id": flight_id, "reason": reason})

    async def watch(
        self,
        drone_id: str,
        video_url: str | None,
        offer_sdp: str,
        actor: str,
        role: str,
        token_id: int | None = None,
        client_address: str = "",
    ) -> WhepAnswer:
        """See dfr.video_service.RemoteVideo."""
        args = {
            "video_url": video_url,
            "offer": offer_sdp,
            "actor": actor,
            "role": role,
            "token_id": token_id,
            "client_address": client_address,
        }
        answer = await self._call(drone_id, "whep_offer", args)
        return WhepAnswer(session_id=str(answer["session_id"]), sdp=str(answer["sdp"]))

    async def end_watch(
        self, drone_id: str, session_id: str, actor: str, role: str, client_address: str = ""
    ) -> None:
        """See dfr.video_service.RemoteVideo (the holder checks the caller)."""
        args = {
            "session_id": session_id,
            "actor": actor,
            "role": role,
            "client_address": client_address,
        }
        await self._call(drone_id, "whep_end", args)


# --- errors across instances ----------------------------------------------------------------------

_BY_NAME: dict[str, Callable[[str], Exception]] = {
    "LaunchRefusedError": LaunchRefusedError,
    "ForbiddenError": ForbiddenError,
    "ConflictError": ConflictError,
    "InvalidInputError": InvalidInputError,
    "InvalidCommandError": InvalidCommandError,
    "ServiceUnavailableError": ServiceUnavailableError,
}


def error_reply(exc: Exception) -> dict[str, Any]:
    """What a holder answers for an operation that raised `exc`."""
    reply: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, NotFoundError):
        reply["kind"] = exc.kind
        reply["ident"] = exc.ident if isinstance(exc.ident, int | str) else str(exc.ident)
    return reply


def error_from_reply(error: dict[str, Any]) -> Exception:
    """The error a holder's reply stands for (by kind; others as a conflict with its words)."""
    name, message = str(error.get("type", "")), str(error.get("message", ""))
    if name == "NotFoundError":
        return NotFoundError(str(error.get("kind", "resource")), error.get("ident"))
    make = _BY_NAME.get(name)
    if make is not None:
        return make(message)
    return ConflictError(message)


# --- the holder's side ------------------------------------------------------------------------------


class PeerServer(TaskOwner):
    """Answers the other instances' operations on the drones this instance links."""

    def __init__(
        self, *, bus: LiveBus, instance_id: str, flights: FlightService, video: VideoService
    ) -> None:
        super().__init__()
        self._bus = bus
        self._instance_id = instance_id
        self._flights = flights
        self._video = video
        self._subscription: BusSubscription | None = None
        self.served = 0

    async def _start(self) -> None:
        self._subscription = await self._bus.serve(rpc_subject(self._instance_id), self._answer)

    async def _stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    async def _answer(self, data: bytes) -> bytes:
        self.served += 1
        try:
            request = json.loads(data)
            result = await self._run(str(request["op"]), str(request["drone_id"]), request["args"])
        except (DfrError, FlightError) as exc:
            return json.dumps({"error": error_reply(exc)}).encode()
        except BadOfferError as exc:
            return json.dumps({"error": error_reply(InvalidInputError(str(exc)))}).encode()
        except SessionLimitError as exc:
            return json.dumps({"error": error_reply(ConflictError(str(exc)))}).encode()
        except VideoError as exc:
            reason = f"the drone's video cannot be received: {exc}"
            return json.dumps({"error": error_reply(ConflictError(reason))}).encode()
        except (ValueError, KeyError, TypeError) as exc:
            return json.dumps(
                {"error": {"type": "InvalidInputError", "message": str(exc)}}
            ).encode()
        return json.dumps({"result": result}).encode()

    async def _run(self, op: str, drone_id: str, args: dict[str, Any]) -> Any:
        flights = self._flights
        if op in ("launch", "retask"):
            target = GeoPoint(float(args.pop("lat")), float(args.pop("lon")))
            run = flights.launch if op == "launch" else flights.retask
            return await run(drone_id, target, **args)
        if op == "command":
            flight_id = int(args.pop("flight_id"))
            command = args.pop("command")
            return asdict(await flights.command(flight_id, command, **args))
        if op == "recall":
            await flights.recall(int(args["flight_id"]), str(args["reason"]))
            return None
        if op == "whep_offer":
            answer = await self._video.watch(
                drone_id,
                args["video_url"],
                str(args["offer"]),
                str(args["actor"]),
                str(args["role"]),
                None if args.get("token_id") is None else int(args["token_id"]),
                str(args.get("client_address", "")),
            )
            return {"session_id": answer.session_id, "sdp": answer.sdp}
        if op == "whep_end":
            await self._video.end_watch(
                drone_id,
                str(args["session_id"]),
                str(args["actor"]),
                str(args["role"]),
                str(args.get("client_address", "")),
            )
            return None
        raise InvalidInputError(f"unknown operation {op!r}", field="op")


class StateSharing(TaskOwner):
    """Publishes the state of every drone this instance links, for the others to decide with."""

    def __init__(
        self,
        *,
        bus: LiveBus,
        instance_id: str,
        states: Callable[[], dict[VehicleId, VehicleState]],
        flight_of: Callable[[str], int | None],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__()
        self._bus = bus
        self._instance_id = instance_id
        self._states = states
        self._flight_of = flight_of
        self._sleep = sleep
        self.shared = 0

    async def _start(self) -> None:
        self._spawn(self._share_forever())

    async def _share_forever(self) -> None:
        while True:
            self.share_once()
            await self._sleep(SHARE_INTERVAL_S)

    def share_once(self) -> None:
        """Publish every linked drone's state now."""
        for vehicle_id, state in self._states().items():
            drone_id = str(vehicle_id)
            envelope = {
                "origin": self._instance_id,
                "state": vehicle_state_to_json(state).decode(),
                "flight_id": self._flight_of(drone_id),
            }
            subject = f"{VEHICLE_SUBJECT}.{subject_token(drone_id)}"
            self._bus.publish(subject, json.dumps(envelope).encode())
            self.shared += 1
