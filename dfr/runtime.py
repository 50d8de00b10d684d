"""The flight runtime component: MAVLink links to every drone and the flight service over them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlmodel import Session, select

from dfr.airspace import AirspaceService
from dfr.dispatch import (
    AgencyPolicy,
    ManualWeatherSource,
    MetarWeatherSource,
    StaticWeatherSource,
    WeatherFacts,
    WeatherSource,
)
from dfr.dispatch.service import Dispatcher
from dfr.fleet import read_fleet_file
from dfr.flights import FlightService
from dfr.models import Drone
from dfr.outbox import notify_delivery
from dfr.settings import Settings
from flight import (
    Clock,
    FleetLink,
    FlightError,
    LinkConfig,
    SafetyConfig,
    SystemClock,
    VehicleId,
)

log = logging.getLogger(__name__)


def link_config(settings: Settings) -> LinkConfig:
    """Link identity, timers and the agency's required failsafe parameters."""
    f = settings.flight
    return LinkConfig(
        gcs_sysid=f.gcs_system_id,
        gcs_compid=f.gcs_component_id,
        lost_after_s=f.heartbeat_timeout_s,
        degraded_after_s=min(2.0, f.heartbeat_timeout_s / 2),
        safety=SafetyConfig(
            nav_dll_act=f.dll_action,
            com_dl_loss_t_s=round(f.dll_timeout_s),
            gf_action=f.geofence_action,
            rtl_return_alt_m=f.rtl_return_alt_m,
            com_low_bat_act=f.low_battery_action,
        ),
    )


def add_drone_link(fleet: FleetLink, drone: Drone) -> None:
    """Start the link to one drone; a URL we cannot open is logged, not fatal."""
    try:
        fleet.add_vehicle(VehicleId(drone.id), drone.mavlink_url)
    except FlightError as exc:
        log.error("drone %s: cannot open %s: %s", drone.id, drone.mavlink_url, exc)


@asynccontextmanager
async def flight_component(app: FastAPI) -> AsyncIterator[None]:
    """Links to the agency's drones and the flight service, for the app's lifetime."""
    settings: Settings = app.state.settings
    clock = SystemClock(speed=settings.speedup)
    with Session(app.state.engine) as session:
        drones = list(session.exec(select(Drone)).all())
    async with FleetLink(config=link_config(settings), clock=clock) as fleet:
        for drone in drones:
            add_drone_link(fleet, drone)
        async with FlightService(
            engine=app.state.engine,
            fleet=fleet,
            airspace=app.state.airspace,
            hub=app.state.hub,
            clock=clock,
            hooks=app.state.flight_hooks,
        ) as flights:
            app.state.fleet = fleet
            app.state.flights = flights
            app.state.clock = clock
            try:
                yield
            finally:
                app.state.flights = None
                app.state.fleet = None


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


@asynccontextmanager
async def dispatch_component(app: FastAPI) -> AsyncIterator[None]:
    """The dispatcher: decisions, launches, and flight transitions turned into call and CAD facts."""
    settings: Settings = app.state.settings
    policy = AgencyPolicy()
    if settings.fleet_file is not None:
        policy = read_fleet_file(settings.fleet_file).policy or policy
    clock = getattr(app.state, "clock", None) or SystemClock(speed=settings.speedup)

    def notify() -> None:
        notify_delivery(app)

    async with Dispatcher(
        engine=app.state.engine,
        airspace=app.state.airspace,
        hub=app.state.hub,
        weather=weather_source(settings, clock.now()),
        policy=policy,
        clock=clock,
        flights=lambda: getattr(app.state, "flights", None),
        notify_outbox=notify,
    ) as dispatcher:
        app.state.dispatcher = dispatcher
        app.state.flight_hooks.append(dispatcher.on_transition)
        warmer = asyncio.create_task(_keep_airspace_prepared(app.state.airspace, clock))
        try:
            yield
        finally:
            warmer.cancel()
            await asyncio.gather(warmer, return_exceptions=True)
            app.state.flight_hooks.remove(dispatcher.on_transition)
            app.state.dispatcher = None


#: How often (service-clock seconds) the routing structures are built ahead, for now and one
#: period on; zone time windows open in service time, so the period is counted in it too.
AIRSPACE_PREPARE_PERIOD_S = 30.0


async def _keep_airspace_prepared(airspace: AirspaceService, clock: Clock) -> None:
    """Keep the routing structures of the zones active now and soon built, off the event loop."""
    while True:
        now = clock.now()
        ahead = now + timedelta(seconds=AIRSPACE_PREPARE_PERIOD_S)
        try:
            await asyncio.to_thread(airspace.prepare, now, ahead)
        except Exception:  # a bad zone set is reported where it is used; keep trying
            log.exception("preparing the airspace failed")
        await clock.sleep(AIRSPACE_PREPARE_PERIOD_S)


def dispatch_call(app: FastAPI, call_id: int, *, ended: bool = False) -> None:
    """Hand a stored or updated call to the dispatcher (no-op when dispatch is not running)."""
    dispatcher: Dispatcher | None = getattr(app.state, "dispatcher", None)
    if dispatcher is not None:
        dispatcher.submit(call_id, ended=ended)
