"""The WebSocket endpoint of the live stream: authorise, subscribe to the hub, send batches.

Each WebSocket text frame is a JSON array of one or more envelopes (see STREAM.md); the first frame
holds the snapshot. Browsers cannot set headers on a WebSocket, so the token comes as the
`Sec-WebSocket-Protocol: bearer, <token>` pair, or an `Authorization: Bearer` header for other
clients (never in the URL: URLs end up in access logs); `authorize` (supplied by dfr) resolves it,
closes refused sockets itself and may close an admitted one later (its token revoked). This module
only moves text: it never parses.
"""

# No `from __future__ import annotations`: FastAPI must see the endpoint's `Depends(authorize)`
# as objects, and `authorize` is a closure variable that string annotations cannot resolve.
import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect

from telemetry.errors import SubscriberLimitError
from telemetry.hub import Hub, HubSubscription

log = logging.getLogger(__name__)

BEARER_SUBPROTOCOL = "bearer"
#: Close codes: 1001 the service is stopping; 1008 the client did not take a frame in time;
#: 1013 no room for another subscriber (try again later).
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_SLOW = 1008
CLOSE_TRY_AGAIN_LATER = 1013


def chosen_subprotocol(websocket: WebSocket) -> str | None:
    """`bearer` when the client offered it (the browser fails the handshake unless it is echoed)."""
    offered = [p.strip().lower() for p in websocket.scope.get("subprotocols") or []]
    return BEARER_SUBPROTOCOL if BEARER_SUBPROTOCOL in offered else None


async def _read_until_disconnect(websocket: WebSocket) -> None:
    # Clients have nothing to say yet; reading is how a disconnect is noticed.
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


async def _write(
    websocket: WebSocket, subscription: HubSubscription, send_timeout_s: float
) -> None:
    try:
        async for batch in subscription:
            async with asyncio.timeout(send_timeout_s):
                await websocket.send_text("[" + ",".join(batch) + "]")
    except TimeoutError:
        log.warning("stream client %s took no frame for %.0f s", subscription.name, send_timeout_s)
        await _close(websocket, CLOSE_TOO_SLOW, "too slow")
        return
    except (WebSocketDisconnect, RuntimeError, OSError):
        return  # the client went away while a frame was on its way
    await _close(websocket, CLOSE_GOING_AWAY, "stream closed")


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            await websocket.close(code=code, reason=reason)


def make_router(
    hub: Hub | Callable[..., Hub],
    authorize: Callable[..., Any],
    *,
    path: str = "/stream",
    send_timeout_s: float = 30.0,
) -> APIRouter:
    """A router with `WS path`; `hub` is a Hub or a dependency returning one."""
    hub_dependency: Callable[..., Hub] = (lambda: hub) if isinstance(hub, Hub) else hub
    router = APIRouter(tags=["stream"])

    @router.websocket(path, name="stream")
    async def stream(
        websocket: WebSocket,
        principal: Annotated[Any, Depends(authorize)],
        stream_hub: Annotated[Hub, Depends(hub_dependency)],
    ) -> None:
        """Snapshot, then every change, as JSON arrays of envelopes."""
        await websocket.accept(subprotocol=chosen_subprotocol(websocket))
        try:
            subscription = stream_hub.subscribe(name=str(getattr(principal, "name", "")))
        except SubscriberLimitError as exc:
            await _close(websocket, CLOSE_TRY_AGAIN_LATER, str(exc)[:120])
            return
        async with subscription, asyncio.TaskGroup() as tasks:
            reader = tasks.create_task(_read_until_disconnect(websocket))
            writer = tasks.create_task(_write(websocket, subscription, send_timeout_s))
            reader.add_done_callback(lambda _: writer.cancel())
            writer.add_done_callback(lambda _: reader.cancel())

    return router
