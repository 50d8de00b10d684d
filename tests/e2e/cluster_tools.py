"""What the cluster tests and the cluster bench share: tokens in a database by URL, a stream watcher."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from websockets import Subprotocol
from websockets.sync.client import connect as ws_connect

from tests.e2e.conftest import ROLES


def create_tokens(url: str, prefix: str) -> dict[str, str]:
    """A token of every role in the database at `url` (migrated first), named `prefix-role`."""
    from dfr.db import make_engine, session_scope, upgrade_schema
    from dfr.models import Role
    from dfr.tokens import create_token

    upgrade_schema(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return {
                role: create_token(session, f"{prefix}-{role}", Role(role))[1] for role in ROLES
            }
    finally:
        engine.dispose()


class StreamWatcher:
    """A WebSocket client of one instance, recording (receipt time, lat, lon) of one drone's frames.

    It reconnects until stopped: the instance it watches may be killed, and only what it saw counts.
    """

    def __init__(self, url: str, drone_id: str) -> None:
        # The service refuses a token in the URL: a `?token=` here goes as the bearer subprotocol.
        self._url, _, token = url.partition("?token=")
        self._protocols = [Subprotocol("bearer"), Subprotocol(token)] if token else None
        self._drone_id = drone_id
        self.positions: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> StreamWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with ws_connect(
                    self._url, subprotocols=self._protocols, open_timeout=5.0, close_timeout=1.0
                ) as ws:
                    while not self._stop.is_set():
                        try:
                            raw = ws.recv(timeout=0.5)
                        except TimeoutError:
                            continue
                        self._take(json.loads(raw), time.time())
            except Exception:  # the instance may be gone; try again until stopped
                self._stop.wait(0.2)

    def _take(self, batch: list[dict[str, Any]], received: float) -> None:
        for message in batch:
            inner = message["data"]["messages"] if message["type"] == "snapshot" else [message]
            for m in inner:
                data = m.get("data") or {}
                if m["type"] == "drone" and data.get("drone_id") == self._drone_id:
                    if data.get("lat") is not None:
                        self.positions.append((received, float(data["lat"]), float(data["lon"])))

    def moved_between(self, start: float, end: float) -> bool:
        """Two different positions were received between `start` and `end` (wall time)."""
        seen = {(round(la, 6), round(lo, 6)) for t, la, lo in self.positions if start <= t <= end}
        return len(seen) >= 2
