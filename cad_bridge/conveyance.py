"""EIDO conveyance subscriber (NENA-STA-024.1a): WebSocket subscribe / event / eventResponse.

Message shapes follow the EidoLib WebSocket test files: `{"subscribe": {requestId, requestType:
"EIDO", requestSubType: "new", requestAccepts}}` -> `{"subscribeResponse": {requestId,
subscriptionId, expires, statusCode, statusText}}`; `{"event": {subscriptionId, transactionId,
notification: [EIDO...]}}` -> `{"eventResponse": {transactionId, statusCode, statusText}}`;
`{"unsubscribe": {requestId, subscriptionId}}` and `{"terminate": {requestId, subscriptionId}}`
with their `...Response`. An event is acknowledged (200) only after every EIDO in it was stored;
when storing fails the answer is a 500 and the publisher keeps the event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from cad_bridge.errors import CadInputError, ConveyanceError
from cad_bridge.outbox import Backoff

log = logging.getLogger(__name__)
REQUEST_ACCEPTS: Final = 'application/emergency.eido+json; version="1.0"'

StoreEido = Callable[[dict[str, Any]], Awaitable[None]]


def subscribe_message(request_id: str, *, min_rate_ms: int | None = None) -> dict[str, Any]:
    """A `subscribe` request for new EIDOs."""
    body: dict[str, Any] = {
        "requestId": request_id,
        "requestType": "EIDO",
        "requestSubType": "new",
        "requestAccepts": REQUEST_ACCEPTS,
    }
    if min_rate_ms is not None:
        body["minRate"] = min_rate_ms
    return {"subscribe": body}


def event_response(transaction_id: str, status_code: int, status_text: str) -> dict[str, Any]:
    """The answer to an `event`."""
    return {
        "eventResponse": {
            "transactionId": transaction_id,
            "statusCode": status_code,
            "statusText": status_text,
        }
    }


@dataclass
class EidoSubscriber:
    """Keeps one subscription alive: connects, subscribes, stores events, reconnects with backoff."""

    url: str
    store: StoreEido
    token: str | None = None
    backoff: Backoff = field(default_factory=lambda: Backoff(base_s=0.5, cap_s=30.0))
    answer_timeout_s: float = 10.0
    idle_timeout_s: float = 120.0
    rng: random.Random = field(default_factory=random.Random)
    subscription_id: str | None = field(default=None, init=False)
    events_acked: int = field(default=0, init=False)
    connects: int = field(default=0, init=False)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _ws: ClientConnection | None = field(default=None, init=False)

    async def run(self) -> None:
        """Subscribe and stay subscribed until stop()."""
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._session()
                failures = 0
            except asyncio.CancelledError:
                raise
            except (OSError, WebSocketException, ConveyanceError, TimeoutError) as exc:
                failures += 1
                log.warning("EIDO conveyance to %s lost: %s", self.url, exc)
            if self._stopping.is_set():
                break
            delay_s = self.backoff.delay_s(max(1, failures), self.rng)
            try:
                async with asyncio.timeout(delay_s):
                    await self._stopping.wait()
            except TimeoutError:
                pass

    async def stop(self) -> None:
        """Unsubscribe (best effort) and end run()."""
        self._stopping.set()
        ws, sub = self._ws, self.subscription_id
        if ws is not None and sub is not None:
            try:
                async with asyncio.timeout(self.answer_timeout_s):
                    await ws.send(
                        json.dumps(
                            {"unsubscribe": {"requestId": str(uuid.uuid4()), "subscriptionId": sub}}
                        )
                    )
            except (OSError, WebSocketException, TimeoutError):
                pass
        if ws is not None:
            await ws.close()

    async def _recv(self, ws: ClientConnection, timeout_s: float) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s):
            raw = await ws.recv()
        try:
            message = json.loads(raw)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ConveyanceError(f"not a JSON message: {str(raw)[:100]!r}") from exc
        if not isinstance(message, dict) or len(message) != 1:
            raise ConveyanceError(f"a message must be one named object: {str(raw)[:100]!r}")
        return message

    async def _session(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        async with asyncio.timeout(self.answer_timeout_s):
            ws = await connect(self.url, additional_headers=headers, open_timeout=None)
        self._ws = ws
        self.connects += 1
        try:
            request_id = str(uuid.uuid4())
            await ws.send(json.dumps(subscribe_message(request_id)))
            answer = (await self._recv(ws, self.answer_timeout_s)).get("subscribeResponse")
            if not isinstance(answer, dict) or answer.get("requestId") != request_id:
                raise ConveyanceError(f"expected subscribeResponse to {request_id}, got {answer}")
            if answer.get("statusCode") != 200:
                raise ConveyanceError(
                    f"subscription refused: {answer.get('statusCode')} {answer.get('statusText')}"
                )
            self.subscription_id = str(answer.get("subscriptionId"))
            log.info("EIDO conveyance subscribed at %s as %s", self.url, self.subscription_id)
            while not self._stopping.is_set():
                message = await self._recv(ws, self.idle_timeout_s)
                if "event" in message:
                    await self._on_event(ws, message["event"])
                elif "terminate" in message:
                    body = message["terminate"] if isinstance(message["terminate"], dict) else {}
                    await ws.send(
                        json.dumps(
                            {
                                "terminateResponse": {
                                    "requestId": body.get("requestId"),
                                    "subscriptionId": body.get("subscriptionId"),
                                    "statusCode": 200,
                                    "statusText": "OK",
                                }
                            }
                        )
                    )
                    raise ConveyanceError("the publisher terminated the subscription")
                elif "unsubscribeResponse" in message:
                    return
                else:
                    log.warning("ignoring conveyance message %s", next(iter(message)))
        finally:
            self._ws = None
            self.subscription_id = None
            await ws.close()

    async def _on_event(self, ws: ClientConnection, event: Any) -> None:
        if not isinstance(event, dict) or not isinstance(event.get("transactionId"), str):
            raise ConveyanceError("an event needs a transactionId")
        transaction_id: str = event["transactionId"]
        notifications = event.get("notification")
        if not isinstance(notifications, list):
            await ws.send(json.dumps(event_response(transaction_id, 400, "no notification list")))
            return
        try:
            for document in notifications:
                if not isinstance(document, dict):
                    raise CadInputError("a notification must be an EIDO object")
                await self.store(document)
        except CadInputError as exc:
            # A document that can never be stored: say so, so the publisher does not resend it.
            await ws.send(json.dumps(event_response(transaction_id, 400, str(exc)[:200])))
            return
        except Exception as exc:
            log.exception("could not store EIDO event %s", transaction_id)
            await ws.send(json.dumps(event_response(transaction_id, 500, str(exc)[:200])))
            return
        await ws.send(json.dumps(event_response(transaction_id, 200, "OK")))
        self.events_acked += 1
