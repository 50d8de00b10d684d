"""The live stream (`WS /api/v1/stream`) as the console sees it, recorded for a scenario's checks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import websockets

from simulator.scenarios.resources import DfrService

log = logging.getLogger(__name__)


class StreamWatcher:
    """Keeps the live stream (`WS /api/v1/stream`) open and records every message, as the console would."""

    def __init__(self, service: DfrService, role: str = "dispatcher") -> None:
        self._service = service
        self._role = role
        self.messages: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def start(self, timeout_s: float = 10.0) -> None:
        """Connect (and keep reconnecting after a service restart) until `stop()`."""
        self._task = asyncio.get_running_loop().create_task(self._run())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), timeout_s)

    async def _run(self) -> None:
        url = self._service.ws_url
        # The token goes as the bearer subprotocol, as the console sends it (never in the URL).
        protocols = [
            websockets.Subprotocol("bearer"),
            websockets.Subprotocol(self._service.token(self._role)),
        ]
        while True:
            try:
                async with websockets.connect(url, subprotocols=protocols, open_timeout=10.0) as ws:
                    self.connected.set()
                    async for raw in ws:
                        self._take(json.loads(raw))
            except (
                OSError,
                websockets.WebSocketException,
                TimeoutError,
                ValueError,
            ) as exc:
                log.debug("stream connection ended: %s", exc)
            await asyncio.sleep(0.5)

    def _take(self, message: Any) -> None:
        if isinstance(message, list):  # a frame may carry a batch of envelopes
            for item in message:
                self._take(item)
            return
        if not isinstance(message, dict):
            return
        if message.get("type") == "snapshot":
            data = message.get("data") or {}
            inner = data if isinstance(data, list) else data.get("messages", [])
            self._take(list(inner))
            return
        self.messages.append(message)

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert payload seen (snapshots included, so repeats are possible)."""
        return [dict(m.get("data") or {}) for m in self.messages if m.get("type") == "alert"]

    async def stop(self) -> None:
        """Close the stream."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
