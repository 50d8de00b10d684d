"""A pilot's weather override set on one instance is the override of every instance."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import pytest

from dfr.cluster import InProcessBus, LiveBus, NatsBus
from dfr.cluster.weather import WeatherSharing
from dfr.dispatch import ManualWeatherSource, StaticWeatherSource, WeatherFacts

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
CONFIGURED = WeatherFacts(observed_at=NOW, source="configured observation", wind_speed_mps=3.0)


@pytest.fixture(params=["in-process", "nats"])
async def instances(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """Starts one more instance's weather (each on its own NATS connection, or one shared bus)."""
    async with AsyncExitStack() as stack:
        shared = None
        if request.param == "in-process":
            shared = await stack.enter_async_context(InProcessBus())

        async def start(name: str) -> ManualWeatherSource:
            bus: LiveBus
            if shared is not None:
                bus = shared
            else:
                url: str = request.getfixturevalue("nats_url")
                bus = await stack.enter_async_context(NatsBus(url, name=name))
            weather = ManualWeatherSource(StaticWeatherSource(CONFIGURED))
            await stack.enter_async_context(WeatherSharing(weather, bus, name))
            return weather

        yield start


async def _until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not check():  # noqa: ASYNC110 - the change arrives over the bus, not as an event here
            await asyncio.sleep(0.01)


async def test_an_override_set_or_cleared_on_one_instance_applies_on_the_others(
    instances: Any,
) -> None:
    a, b = await instances("a"), await instances("b")
    a.set(NOW, wind_speed_mps=14.0, wind_gust_mps=20.0, present_weather=("+TSRA",), observer="p1")
    await _until(lambda: b.override is not None)
    seen = b.current(NOW)
    assert seen is not None and seen == a.current(NOW)
    assert seen.source == "manual (p1)" and seen.present_weather == ("+TSRA",)

    b.clear()
    await _until(lambda: a.override is None)
    assert a.current(NOW) == CONFIGURED


async def test_an_instance_starting_later_takes_the_override_already_set(instances: Any) -> None:
    a = await instances("a")
    a.set(NOW, wind_speed_mps=16.0, observer="p1")
    late = await instances("late")
    assert late.override == a.override
