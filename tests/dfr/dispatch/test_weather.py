"""Weather sources: METAR reports read with python-metar, the pilot's override, a fixed value."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from dfr.dispatch import (
    ManualWeatherSource,
    MetarParseError,
    MetarWeatherSource,
    StaticWeatherSource,
    WeatherError,
    WeatherSource,
    parse_metar,
)
from tests.dfr.dispatch.builders import calm

NOW = datetime(2026, 11, 12, 19, 10, tzinfo=UTC)


def test_metar_with_gusts_visibility_and_few_clouds() -> None:
    facts = parse_metar("METAR KCOS 121854Z 33015G28KT 10SM FEW080 22/03 A3012 RMK AO2 SLP145", NOW)
    assert facts.source == "METAR KCOS"
    assert facts.observed_at == datetime(2026, 11, 12, 18, 54, tzinfo=UTC)
    assert facts.wind_speed_mps == pytest.approx(15 * 0.514444, rel=1e-4)
    assert facts.wind_gust_mps == pytest.approx(28 * 0.514444, rel=1e-4)
    assert facts.visibility_m == pytest.approx(16093.44)
    assert facts.ceiling_ft is None
    assert facts.present_weather == ()


def test_metar_thunderstorm_fog_and_vertical_visibility_ceiling() -> None:
    facts = parse_metar("SPECI KCOS 121854Z 27012KT 1/2SM +TSRA FG VV002 18/17 A2990", NOW)
    assert facts.present_weather == ("+TSRA", "FG")
    assert facts.ceiling_ft == 200.0
    assert facts.visibility_m == pytest.approx(804.672)


def test_metar_ceiling_is_the_lowest_broken_or_overcast_layer() -> None:
    facts = parse_metar("KDEN 121853Z 18008KT 10SM SCT015 BKN040 OVC080 02/M05 A2990", NOW)
    assert facts.ceiling_ft == 4000.0


def test_metar_calm_cavok_and_meters_per_second_wind() -> None:
    cavok = parse_metar("LFPG 121830Z 00000KT CAVOK 12/08 Q1020", NOW)
    assert cavok.wind_speed_mps == 0.0 and cavok.visibility_m == 10_000.0
    mps = parse_metar("UUEE 121830Z 27010MPS 4000 -SHSN BKN005 M02/M04 Q0998", NOW)
    assert mps.wind_speed_mps == 10.0
    assert mps.present_weather == ("-SHSN",)
    assert mps.ceiling_ft == 500.0


def test_metar_from_the_end_of_last_month_is_dated_last_month() -> None:
    facts = parse_metar(
        "KCOS 312354Z 33005KT 10SM CLR 05/M03 A3020", datetime(2026, 11, 1, 0, 20, tzinfo=UTC)
    )
    assert facts.observed_at == datetime(2026, 10, 31, 23, 54, tzinfo=UTC)


def test_metar_with_an_unknown_group_is_read_and_the_warning_does_not_escape() -> None:
    facts = parse_metar("KCOS 121854Z 27010KT 9999 VCTS -FZRA BR OVC010 ZZZ", NOW)
    assert facts.present_weather == ("VCTS", "-FZRA", "BR")


@pytest.mark.parametrize(
    ("report", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("garbage text", "observation time"),
        ("KCOS 121854Z", "no wind"),
    ],
)
def test_unreadable_metar_is_refused_with_the_reason(report: str, reason: str) -> None:
    with pytest.raises(MetarParseError, match=reason):
        parse_metar(report, NOW)


def test_metar_source_keeps_the_newest_report() -> None:
    source = MetarWeatherSource("kcos")
    assert source.current(NOW) is None
    source.update("KCOS 121854Z 33005KT 10SM CLR 05/M03 A3020", NOW)
    source.update("KCOS 121754Z 33025KT 10SM CLR 05/M03 A3020", NOW)  # older, arrives late
    latest = source.current(NOW)
    assert latest is not None and latest.observed_at.hour == 18
    assert isinstance(source, WeatherSource)


async def test_metar_source_refresh_reads_the_fetched_report() -> None:
    async def fetch() -> str:
        return "KCOS 121854Z 33005KT 10SM CLR 05/M03 A3020"

    source = MetarWeatherSource("KCOS", fetch)
    facts = await source.refresh(NOW)
    assert source.current(NOW) == facts


async def test_metar_source_refresh_gives_up_at_its_deadline() -> None:
    never = asyncio.Event()

    async def fetch() -> str:
        await never.wait()
        return ""

    source = MetarWeatherSource("KCOS", fetch, fetch_timeout_s=0.05)
    with pytest.raises(WeatherError, match="not received"):
        await source.refresh(NOW)
    assert source.current(NOW) is None


async def test_metar_source_without_a_reader_cannot_refresh() -> None:
    with pytest.raises(WeatherError, match="no report reader"):
        await MetarWeatherSource("KCOS").refresh(NOW)


def test_manual_override_wins_while_valid_then_the_fallback_applies() -> None:
    fallback = StaticWeatherSource(calm(), fresh=True)
    manual = ManualWeatherSource(fallback, valid_for=timedelta(minutes=30))
    manual.set(NOW, wind_speed_mps=13.0, visibility_m=8000.0, present_weather=("-ra",))
    current = manual.current(NOW + timedelta(minutes=10))
    assert current is not None and current.wind_speed_mps == 13.0
    assert current.source == "manual (pilot)" and current.present_weather == ("-RA",)
    later = manual.current(NOW + timedelta(minutes=31))
    assert later is not None and later.wind_speed_mps == 4.0
    manual.set(NOW, wind_speed_mps=13.0)
    manual.clear()
    cleared = manual.current(NOW)
    assert cleared is not None and cleared.source == "METAR KCOS"


def test_manual_override_without_fallback_expires_to_none() -> None:
    manual = ManualWeatherSource(valid_for=timedelta(minutes=5))
    manual.set(NOW, wind_speed_mps=3.0, visibility_m=10_000.0)
    assert manual.current(NOW + timedelta(minutes=6)) is None


def test_static_source_fresh_restamps_and_fixed_does_not() -> None:
    facts = calm(NOW)
    later = NOW + timedelta(hours=5)
    fresh = StaticWeatherSource(facts).current(later)
    assert fresh is not None and fresh.observed_at == later
    fixed = StaticWeatherSource(facts, fresh=False).current(later)
    assert fixed is not None and fixed.observed_at == NOW
    assert StaticWeatherSource(None).current(NOW) is None
