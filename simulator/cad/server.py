"""The simulated CAD: a real HTTP server on loopback that holds incidents, posts calls to DFR, records
every event DFR sends back (deduplicated by Idempotency-Key, in arrival order), publishes EIDOs over
a NENA-STA-024 conveyance WebSocket, and can be made to fail (503, timeouts, slow answers, refused
connections).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from simulator.cad.documents import eido_document, plain_document
from simulator.cad.incidents import SimIncident

log = logging.getLogger(__name__)


class Outage(StrEnum):
    """How the CAD fails, when it does."""

    NONE = "none"
    UNAVAILABLE = "503"
    TIMEOUT = "timeout"
    SLOW = "slow"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    """One event DFR delivered (first delivery of its idempotency key)."""

    seq: int
    idempotency_key: str
    incident_id: str
    wire_format: str
    body: dict[str, Any]
    received_at: datetime


@dataclass
class CadState:
    """Everything the simulated CAD knows."""

    incidents: dict[str, SimIncident] = field(default_factory=dict)
    events: list[ReceivedEvent] = field(default_factory=list)
    by_key: dict[str, ReceivedEvent] = field(default_factory=dict)
    duplicates: int = 0
    rejected: int = 0
    attempts: int = 0
    outage: Outage = Outage.NONE
    slow_s: float = 2.0
    hang_s: float = 60.0
    token: str | None = None
    strict_incidents: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, key: str, incident_id: str, wire_format: str, body: dict[str, Any]) -> bool:
        """Store a delivery; False when the key was seen before."""
        if key in self.by_key:
            self.duplicates += 1
            return False
        event = ReceivedEvent(
            len(self.events) + 1, key, incident_id, wire_format, body, datetime.now(UTC)
        )
        self.events.append(event)
        self.by_key[key] = event
        self.changed.set()
        return True


class OutageSet(BaseModel):
    """The outage switch."""

    model_config = ConfigDict(extra="forbid")

    mode: Outage
    slow_s: float = Field(default=2.0, ge=0, le=600)
    hang_s: float = Field(default=60.0, ge=0, le=3600)
    duration_s: float | None = Field(default=None, gt=0, le=3600)


@dataclass
class ConveyanceItem:
    """An EIDO waiting to be acknowledged by a subscriber."""

    transaction_id: str
    document: dict[str, Any]
    acked: bool = False
    attempts: int = 0


@dataclass
class Publisher:
    """NENA-STA-024 publisher: every published EIDO is sent until a subscriber answers 200."""

    items: list[ConveyanceItem] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    subscriptions: dict[str, WebSocket] = field(default_factory=dict)
    answer_timeout_s: float = 10.0

    def publish(self, document: dict[str, Any]) -> str:
        """Queue an EIDO for subscribers; returns its transaction id."""
        item = ConveyanceItem(f"{uuid.uuid4().hex}@cad-sim", document)
        self.items.append(item)
        self.changed.set()
        return item.transaction_id

    def publish_incident(self, incident: SimIncident) -> str:
        """Queue `incident` as an EIDO."""
        return self.publish(eido_document(incident))

    def pending(self) -> list[ConveyanceItem]:
        """Items no subscriber has acknowledged yet."""
        return [i for i in self.items if not i.acked]

    async def serve(self, ws: WebSocket) -> None:
        """One subscriber connection."""
        await ws.accept()
        inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        async def reader() -> None:
            try:
                while True:
                    text = await ws.receive_text()
                    try:
                        message = json.loads(text)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(message, dict):
                        await inbox.put(message)
            except (WebSocketDisconnect, RuntimeError):
                await inbox.put(None)

        reading = asyncio.create_task(reader())
        subscription_id: str | None = None
        try:
            first = await asyncio.wait_for(inbox.get(), self.answer_timeout_s)
            request = (first or {}).get("subscribe")
            if not isinstance(request, dict) or request.get("requestType") != "EIDO":
                await ws.send_text(
                    json.dumps(
                        {
                            "subscribeResponse": {
                                "requestId": (request or {}).get("requestId"),
                                "statusCode": 400,
                                "statusText": "expected subscribe for EIDO",
                            }
                        }
                    )
                )
                return
            subscription_id = f"sub-{uuid.uuid4().hex[:12]}"
            self.subscriptions[subscription_id] = ws
            await ws.send_text(
                json.dumps(
                    {
                        "subscribeResponse": {
                            "requestId": request.get("requestId"),
                            "subscriptionId": subscription_id,
                            "expires": 3600,
                            "statusCode": 200,
                            "statusText": "OK",
                        }
                    }
                )
            )
            while True:
                todo = self.pending()
                if todo:
                    item = todo[0]
                    item.attempts += 1
                    await ws.send_text(
                        json.dumps(
                            {
                                "event": {
                                    "subscriptionId": subscription_id,
                                    "transactionId": item.transaction_id,
                                    "notification": [item.document],
                                }
                            }
                        )
                    )
                    answer = await asyncio.wait_for(inbox.get(), self.answer_timeout_s)
                    if answer is None:
                        return
                    if await self._control(ws, answer, subscription_id):
                        return
                    response = answer.get("eventResponse") or {}
                    if (
                        response.get("transactionId") == item.transaction_id
                        and response.get("statusCode") == 200
                    ):
                        item.acked = True
                    elif response.get("statusCode") == 400:
                        item.acked = True  # refused for good; do not resend
                    else:
                        await asyncio.sleep(0.2)
                    continue
                self.changed.clear()
                waiter = asyncio.create_task(self.changed.wait())
                getter = asyncio.create_task(inbox.get())
                done, _ = await asyncio.wait({waiter, getter}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if getter in done:
                    message = getter.result()
                    if message is None or await self._control(ws, message, subscription_id):
                        return
                else:
                    getter.cancel()
        except (TimeoutError, WebSocketDisconnect, RuntimeError):
            return
        finally:
            if subscription_id is not None:
                self.subscriptions.pop(subscription_id, None)
            reading.cancel()
            with contextlib.suppress(Exception):
                await ws.close()

    async def _control(self, ws: WebSocket, message: dict[str, Any], sub: str) -> bool:
        if "unsubscribe" in message:
            body = message["unsubscribe"] or {}
            await ws.send_text(
                json.dumps(
                    {
                        "unsubscribeResponse": {
                            "subscriptionId": body.get("subscriptionId", sub),
                            "statusCode": 200,
                            "statusText": "Unsubscribed",
                        }
                    }
                )
            )
            return True
        return "terminateResponse" in message

    async def terminate_all(self) -> int:
        """Send `terminate` to every subscriber (they must resubscribe)."""
        count = 0
        for sub, ws in list(self.subscriptions.items()):
            with contextlib.suppress(Exception):
                await ws.send_text(
                    json.dumps(
                        {"terminate": {"requestId": str(uuid.uuid4()), "subscriptionId": sub}}
                    )
                )
                count += 1
        return count


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse(
        {"title": "refused", "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def build_app(state: CadState, publisher: Publisher, control: SimulatedCad) -> FastAPI:
    """The CAD's HTTP interface."""
    app = FastAPI(title="Simulated CAD")

    async def _outage_gate() -> JSONResponse | None:
        state.attempts += 1
        if state.outage is Outage.UNAVAILABLE:
            return _problem(503, "CAD is down for maintenance")
        if state.outage is Outage.TIMEOUT:
            await asyncio.sleep(state.hang_s)
            return _problem(504, "CAD timed out")
        if state.outage is Outage.SLOW:
            await asyncio.sleep(state.slow_s)
        return None

    def _authorised(request: Request) -> bool:
        if state.token is None:
            return True
        return request.headers.get("authorization", "") == f"Bearer {state.token}"

    async def _receive(request: Request, incident_id: str, wire_format: str) -> JSONResponse:
        refused = await _outage_gate()
        if refused is not None:
            return refused
        if not _authorised(request):
            return _problem(401, "bad CAD token")
        key = request.headers.get("idempotency-key")
        if not key:
            state.rejected += 1
            return _problem(400, "Idempotency-Key header is required")
        try:
            body = json.loads(await request.body())
        except json.JSONDecodeError:
            state.rejected += 1
            return _problem(400, "body is not JSON")
        if not isinstance(body, dict):
            state.rejected += 1
            return _problem(400, "body must be an object")
        if wire_format == "plain" and body.get("event_id") != key:
            state.rejected += 1
            return _problem(400, "event_id differs from Idempotency-Key")
        if wire_format == "eido" and body.get("eidoVersion") != "1.0":
            state.rejected += 1
            return _problem(400, "not an EIDO 1.0 document")
        known = incident_id in state.incidents or any(
            i.incident_id.lower() in incident_id for i in state.incidents.values()
        )
        if state.strict_incidents and not known:
            state.rejected += 1
            return _problem(404, f"unknown incident {incident_id}")
        first = state.record(key, incident_id, wire_format, body)
        return JSONResponse({"accepted": True, "duplicate": not first}, status_code=200)

    @app.post("/incidents/{incident_id}/events")
    async def plain_event(incident_id: str, request: Request) -> JSONResponse:
        return await _receive(request, incident_id, "plain")

    @app.post("/incidents/{incident_id}/eido")
    async def eido_event(incident_id: str, request: Request) -> JSONResponse:
        return await _receive(request, incident_id, "eido")

    @app.get("/events")
    async def list_events(incident: str | None = None) -> dict[str, Any]:
        rows = [e for e in state.events if incident is None or e.incident_id == incident]
        return {
            "count": len(rows),
            "duplicates": state.duplicates,
            "rejected": state.rejected,
            "attempts": state.attempts,
            "data": [
                {
                    "seq": e.seq,
                    "idempotency_key": e.idempotency_key,
                    "incident_id": e.incident_id,
                    "format": e.wire_format,
                    "received_at": e.received_at.isoformat(),
                    "body": e.body,
                }
                for e in rows
            ],
        }

    @app.get("/incidents")
    async def list_incidents() -> dict[str, Any]:
        return {
            "count": len(state.incidents),
            "data": [
                {**plain_document(i), "dfr_call_id": i.dfr_call_id}
                for i in state.incidents.values()
            ],
        }

    @app.get("/incidents/{incident_id}/eido.json")
    async def incident_eido(incident_id: str) -> JSONResponse:
        incident = state.incidents.get(incident_id)
        if incident is None:
            return _problem(404, f"unknown incident {incident_id}")
        return JSONResponse(eido_document(incident))

    @app.post("/control/outage")
    async def set_outage(change: OutageSet) -> dict[str, Any]:
        await control.set_outage(
            change.mode, slow_s=change.slow_s, hang_s=change.hang_s, duration_s=change.duration_s
        )
        return {"mode": state.outage.value}

    @app.post("/control/terminate")
    async def terminate() -> dict[str, int]:
        return {"terminated": await publisher.terminate_all()}

    @app.get("/conveyance")
    async def conveyance() -> dict[str, Any]:
        return {
            "published": len(publisher.items),
            "acked": sum(1 for i in publisher.items if i.acked),
            "subscriptions": sorted(publisher.subscriptions),
        }

    @app.websocket("/eido/subscribe")
    async def subscribe(ws: WebSocket) -> None:
        await publisher.serve(ws)

    return app


def _listen_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class SimulatedCad:
    """Runs the CAD's server in the current event loop; `refuse` really closes the listener."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        strict_incidents: bool = False,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the simulated CAD listens on loopback only")
        self.state = CadState(token=token, strict_incidents=strict_incidents)
        self.publisher = Publisher()
        self.app = build_app(self.state, self.publisher, self)
        self._host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._restore: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The port the CAD listens on (fixed after the first start)."""
        return self._port

    @property
    def base_url(self) -> str:
        """HTTP base URL of the CAD."""
        return f"http://{self._host}:{self._port}"

    @property
    def conveyance_url(self) -> str:
        """WebSocket URL of the EIDO conveyance publisher."""
        return f"ws://{self._host}:{self._port}/eido/subscribe"

    async def start(self) -> None:
        """Start listening (again, on the same port)."""
        if self._server is not None:
            return
        sock = _listen_socket(self._host, self._port)
        self._port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            timeout_graceful_shutdown=1,
            lifespan="off",
            ws="websockets-sansio",
        )
        server = uvicorn.Server(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]))
        async with asyncio.timeout(30):
            while not server.started:
                if self._task.done():
                    self._task.result()
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop listening; new connections are refused."""
        server, task = self._server, self._task
        self._server, self._task = None, None
        if server is None or task is None:
            return
        server.should_exit = True
        await task

    async def close(self) -> None:
        """Stop everything."""
        if self._restore is not None:
            self._restore.cancel()
        await self.stop()

    async def set_outage(
        self,
        mode: Outage,
        *,
        slow_s: float = 2.0,
        hang_s: float = 60.0,
        duration_s: float | None = None,
    ) -> None:
        """Switch the outage mode; with `duration_s`, go back to normal after that long."""
        self.state.outage, self.state.slow_s, self.state.hang_s = mode, slow_s, hang_s
        if self._restore is not None:
            self._restore.cancel()
            self._restore = None
        if mode is Outage.REFUSE:
            # Close the listener from a task: this call may be running inside a request.
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self.stop()))
        elif self._server is None:
            await self.start()
        if duration_s is not None:
            self._restore = asyncio.create_task(self._back_after(duration_s))

    async def _back_after(self, duration_s: float) -> None:
        await asyncio.sleep(duration_s)
        self.state.outage = Outage.NONE
        await self.start()

    def add_incident(self, incident: SimIncident) -> None:
        """Hold `incident` (new or updated)."""
        self.state.incidents[incident.incident_id] = incident


class DfrPoster:
    """Posts incidents to DFR's `POST /api/v1/cad/incidents` (plain JSON or EIDO)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        dfr_url: str,
        token: str,
        *,
        wire_format: str = "plain",
        agency: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        if wire_format not in ("plain", "eido"):
            raise ValueError("wire_format is plain or eido")
        self._client = client
        self._url = dfr_url.rstrip("/") + "/api/v1/cad/incidents"
        self._token = token
        self._format = wire_format
        self._agency = agency
        self._timeout_s = timeout_s

    async def post(self, incident: SimIncident) -> httpx.Response:
        """Post one incident; records DFR's call id on it when accepted."""
        if self._format == "eido":
            body = eido_document(incident)
            content_type = 'application/emergency.eido+json; version="1.0"'
        else:
            body = plain_document(incident, agency=self._agency)
            content_type = "application/json"
        response = await self._client.post(
            self._url,
            content=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": content_type},
            timeout=self._timeout_s,
        )
        if response.status_code == 202:
            call_id = response.json().get("id")
            incident.dfr_call_id = call_id if isinstance(call_id, int) else None
        return response
