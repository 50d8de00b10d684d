"""What the service graph is built from: the database and zones at start, link settings, weather, the airspace warm-up."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from dfr.airspace import AirspaceService, read_zone_source
from dfr.audit_chain import note_fleet_file
from dfr.db import session_scope, startup_lock, upgrade_schema
from dfr.dispatch import (
    ManualWeatherSource,
    MetarWeatherSource,
    StaticWeatherSource,
    WeatherFacts,
    WeatherSource,
)
from dfr.fleet import apply_fleet_file, ensure_agency, read_fleet_file
from dfr.settings import Settings
from dfr.url_policy import DEFAULT_URL_POLICY, UrlPolicy
from flight import (
    Clock,
    LinkConfig,
    SafetyConfig,
)

log = logging.getLogger(__name__)
DEFAULT_AGENCY_ID = "default"


def bootstrap_database(
    engine: Engine, url: str, fleet_file: Path | None, url_policy: UrlPolicy = DEFAULT_URL_POLICY
) -> tuple[str, list[bytes]]:
    """Apply migrations and the fleet file; returns the default agency id and its zone documents."""
    with startup_lock(engine):
        upgrade_schema(url)
        return _apply_fleet(engine, fleet_file, url_policy)


def _apply_fleet(
    engine: Engine, fleet_file: Path | None, url_policy: UrlPolicy
) -> tuple[str, list[bytes]]:
    with session_scope(engine) as session:
        if fleet_file is not None:
            fleet = read_fleet_file(fleet_file)
            apply_fleet_file(session, fleet, url_policy)
            # Fleet and policy changes made through the file are audited like the API's.
            note_fleet_file(session.connection(), fleet_file, fleet.agency.id)
            documents = [read_zone_source(z, fleet_file.parent) for z in fleet.zones]
            return fleet.agency.id, documents
        ensure_agency(session, DEFAULT_AGENCY_ID, "Default agency")
        return DEFAULT_AGENCY_ID, []


def bootstrap_airspace(engine: Engine, service: AirspaceService, documents: list[bytes]) -> None:
    """Load stored zones, then (re)import the fleet file's zone documents by id."""
    with startup_lock(engine):
        service.load()
        for document in documents:
            service.import_document(document, None)


def url_policy(settings: Settings) -> UrlPolicy:
    """Which networks drone URLs (admin API and fleet file) may name."""
    return UrlPolicy(settings.fleet.allowed_networks)


def link_config(settings: Settings) -> LinkConfig:
    """Link identity, timers and the agency's required failsafe parameters."""
    f = settings.flight
    return LinkConfig(
        gcs_sysid=f.gcs_system_id,
        gcs_compid=f.gcs_component_id,
        lost_after_s=f.heartbeat_timeout_s,
        lost_after_wall_s=f.heartbeat_timeout_wall_s,
        degraded_after_s=min(2.0, f.heartbeat_timeout_s / 2),
        safety=SafetyConfig(
            nav_dll_act=f.dll_action,
            com_dl_loss_t_s=round(f.dll_timeout_s),
            gf_action=f.geofence_action,
            rtl_return_alt_m=f.rtl_return_alt_m,
            com_low_bat_act=f.low_battery_action,
        ),
    )


def weather_source(settings: Settings, now: datetime) -> ManualWeatherSource:
    """The pilot's override on top of the configured METAR or fixed observation."""
    w = settings.weather
    fallback: WeatherSource | None = None
    if w.metar:
        station = w.metar.split()[0] if w.metar.split()[0] != "METAR" else w.metar.split()[1]
        metar = MetarWeatherSource(station)
        metar.update(w.metar, now)
        fallback = metar
    elif w.static_wind_mps is not None:
        fallback = StaticWeatherSource(
            WeatherFacts(
                observed_at=now,
                source="configured observation",
                wind_speed_mps=w.static_wind_mps,
                wind_gust_mps=w.static_gust_mps,
                visibility_m=w.static_visibility_m,
            )
        )
    return ManualWeatherSource(fallback)


#: How often (service-clock seconds) the routing structures are built ahead, for now and one
#: period on; zone time windows open in service time, so the period is counted in it too.
AIRSPACE_PREPARE_PERIOD_S = 30.0


async def keep_airspace_prepared(airspace: AirspaceService, clock: Clock) -> None:
    """Keep the routing structures of the zones active now and soon built, off the event loop."""
    while True:
        now = clock.now()
        ahead = now + timedelta(seconds=AIRSPACE_PREPARE_PERIOD_S)
        try:
            await asyncio.to_thread(airspace.prepare, now, ahead)
        except Exception:  # a bad zone set is reported where it is used; keep trying
            log.exception("preparing the airspace failed")
        await clock.sleep(AIRSPACE_PREPARE_PERIOD_S)
