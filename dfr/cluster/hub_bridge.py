"""Every instance's telemetry hub shows what any instance publishes, through the live bus.

Each local publish and forget of the hub goes out on `dfr.live.<message type>` as one small JSON
envelope around the already serialised message: `{"o": origin instance, "op": "p" | "f", "k": key,
"e": is_event, "t": text}`. Envelopes from the other instances are put into the local hub without
being mirrored again; an instance's own come back from NATS and are ignored, so instance ids must
differ. A bridge that starts asks the others (`dfr.live.sync`) for the states they published, which
they send to it alone on `dfr.live-sync.<its id>`, so a console on a new instance starts complete.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Self

from dfr.cluster.bus import BusSubscription, LiveBus, subject_token
from dfr.cluster.errors import BusError
from telemetry import Hub, TelemetryError

log = logging.getLogger(__name__)

#: Subjects of the live stream, one per message type: `dfr.live.drone`, `dfr.live.alert` ...
LIVE_SUBJECT_PREFIX = "dfr.live"
#: Where a starting bridge asks the others for their states.
SYNC_REQUEST_SUBJECT = "dfr.live.sync"
_SYNC_REPLY_PREFIX = "dfr.live-sync"

_PUBLISH = "p"
_FORGET = "f"
_SYNC = "s"


def live_subject(key: str) -> str:
    """The bus subject of a message about `key` (`drone:D1` -> `dfr.live.drone`)."""
    kind = key.partition(":")[0]
    return f"{LIVE_SUBJECT_PREFIX}.{subject_token(kind)}"


class HubBridge:
    """Mirrors a hub to the bus and the bus into the hub, for an `async with` block (bus open)."""

    def __init__(self, hub: Hub, bus: LiveBus, instance_id: str) -> None:
        self._hub = hub
        self._bus = bus
        self.instance_id = instance_id
        self._sync_subject = f"{_SYNC_REPLY_PREFIX}.{subject_token(instance_id)}"
        self._subscriptions: list[BusSubscription] = []
        # Keys whose latest state this instance published: what it sends a starting instance.
        self._own_keys: set[str] = set()
        self._failing = False
        # Stream messages (publishes and forgets) sent and taken in; sync requests are apart.
        self.messages_out = 0
        self.messages_in = 0
        self.echoes = 0
        self.malformed = 0
        self.send_failures = 0
        self.syncs_answered = 0

    async def __aenter__(self) -> Self:
        try:
            self._subscriptions.append(
                await self._bus.subscribe(f"{LIVE_SUBJECT_PREFIX}.>", self._on_live)
            )
            self._subscriptions.append(await self._bus.subscribe(self._sync_subject, self._on_live))
        except BaseException:
            await self._unsubscribe()
            raise
        self._hub.add_mirror(self)
        self._send(SYNC_REQUEST_SUBJECT, {"o": self.instance_id, "op": _SYNC}, counted=False)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._hub.remove_mirror(self)
        await self._unsubscribe()

    async def _unsubscribe(self) -> None:
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            await subscription.unsubscribe()

    def mirror_publish(self, key: str, text: str, is_event: bool) -> None:
        """Send a local publish to the other instances."""
        if not is_event:
            self._own_keys.add(key)
        self._send_message(live_subject(key), key, text, is_event)

    def mirror_forget(self, key: str) -> None:
        """Send a local forget to the other instances."""
        self._own_keys.discard(key)
        self._send(live_subject(key), {"o": self.instance_id, "op": _FORGET, "k": key})

    def _send_message(self, subject: str, key: str, text: str, is_event: bool) -> None:
        envelope = {"o": self.instance_id, "op": _PUBLISH, "k": key, "e": is_event, "t": text}
        self._send(subject, envelope)

    def _send(self, subject: str, envelope: dict[str, Any], *, counted: bool = True) -> None:
        data = json.dumps(envelope, separators=(",", ":")).encode()
        try:
            self._bus.publish(subject, data)
        except BusError as exc:
            # Called from Hub.publish: the local stream goes on, the others miss this one.
            self.send_failures += 1
            if not self._failing:
                self._failing = True
                log.warning("hub bridge cannot publish on the bus: %s", exc)
            return
        self._failing = False
        if counted:
            self.messages_out += 1

    def _on_live(self, subject: str, data: bytes) -> None:
        try:
            envelope = json.loads(data)
            origin = envelope["o"]
            op = envelope["op"]
        except (ValueError, KeyError, TypeError):
            self._refuse(subject, "not an envelope")
            return
        if origin == self.instance_id:
            self.echoes += 1
            return
        try:
            if op == _PUBLISH:
                self._take_publish(envelope)
            elif op == _FORGET:
                self._take_forget(envelope)
            elif op == _SYNC:
                self._answer_sync(origin)
                return
            else:
                self._refuse(subject, f"unknown op {op!r}")
                return
        except (KeyError, TypeError, ValueError, TelemetryError) as exc:
            self._refuse(subject, str(exc))
            return
        self.messages_in += 1

    def _take_publish(self, envelope: dict[str, Any]) -> None:
        key, text, is_event = envelope["k"], envelope["t"], envelope["e"]
        if not (isinstance(key, str) and isinstance(text, str) and isinstance(is_event, bool)):
            raise TypeError("k and t are strings, e a boolean")
        self._hub.publish_text(key, text, is_event)
        # Another instance now speaks for this key: a newcomer must hear it from there.
        self._own_keys.discard(key)

    def _take_forget(self, envelope: dict[str, Any]) -> None:
        key = envelope["k"]
        if not isinstance(key, str):
            raise TypeError("k is a string")
        self._hub.forget(key, mirror=False)
        self._own_keys.discard(key)

    def _answer_sync(self, origin: object) -> None:
        if not isinstance(origin, str):
            raise TypeError("o is a string")
        subject = f"{_SYNC_REPLY_PREFIX}.{subject_token(origin)}"
        for key in list(self._own_keys):
            text = self._hub.latest(key)
            if text is None:
                self._own_keys.discard(key)
            else:
                self._send_message(subject, key, text, False)
        self.syncs_answered += 1

    def _refuse(self, subject: str, why: str) -> None:
        self.malformed += 1
        log.warning("hub bridge ignored a message on %s: %s", subject, why)
