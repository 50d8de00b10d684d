"""The pilot's weather override is the same on every instance: set on one, adopted by the others.

An override set or cleared here is published on `dfr.weather`; the others adopt it. A starting
instance asks the others for theirs (`dfr.weather.sync`), so a decision never ignores an override
because the call reached an instance that started after it was set.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from dfr.cluster.bus import BusSubscription, LiveBus
from dfr.cluster.errors import BusError
from dfr.dispatch import ManualWeatherSource, WeatherFacts

log = logging.getLogger(__name__)

WEATHER_SUBJECT = "dfr.weather"
WEATHER_SYNC_SUBJECT = "dfr.weather.sync"
SYNC_TIMEOUT_S = 2.0


def _encode(origin: str, facts: WeatherFacts | None) -> bytes:
    body: dict[str, Any] = {"origin": origin, "override": None}
    if facts is not None:
        body["override"] = facts.to_public()
    return json.dumps(body).encode()


def _decode(data: bytes) -> tuple[str, WeatherFacts | None]:
    body = json.loads(data)
    override = body["override"]
    return str(body["origin"]), None if override is None else WeatherFacts.from_public(override)


class WeatherSharing:
    """Keeps one instance's weather override in step with the others' (async context manager)."""

    def __init__(self, weather: ManualWeatherSource, bus: LiveBus, instance_id: str) -> None:
        self._weather = weather
        self._bus = bus
        self._instance_id = instance_id
        self._subscriptions: list[BusSubscription] = []
        weather.add_listener(self._publish)
        self.adopted = 0

    def _publish(self, facts: WeatherFacts | None) -> None:
        if self._subscriptions:
            self._bus.publish(WEATHER_SUBJECT, _encode(self._instance_id, facts))

    def _on_change(self, _subject: str, data: bytes) -> None:
        try:
            origin, facts = _decode(data)
        except (ValueError, KeyError, TypeError):
            log.warning("dropped a malformed weather override")
            return
        if origin != self._instance_id:
            self._weather.adopt(facts)
            self.adopted += 1

    async def _answer_sync(self, _data: bytes) -> bytes:
        return _encode(self._instance_id, self._weather.override)

    async def __aenter__(self) -> WeatherSharing:
        try:
            reply = await self._bus.request(WEATHER_SYNC_SUBJECT, b"", timeout_s=SYNC_TIMEOUT_S)
            _, facts = _decode(reply)
            if facts is not None:
                self._weather.adopt(facts)
        except BusError:
            pass  # the first instance up: nobody to ask
        except (ValueError, KeyError, TypeError):
            log.warning("an instance answered the weather sync with a malformed override")
        self._subscriptions = [
            await self._bus.subscribe(WEATHER_SUBJECT, self._on_change),
            await self._bus.serve(WEATHER_SYNC_SUBJECT, self._answer_sync),
        ]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            await subscription.unsubscribe()
