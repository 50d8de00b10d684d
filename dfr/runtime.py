"""The flight runtime component: MAVLink links to every drone and the flight service over them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlmodel import Session, select

from dfr.flights import FlightService
from dfr.models import Drone
from dfr.settings import Settings
from flight import FleetLink, FlightError, LinkConfig, SafetyConfig, SystemClock, VehicleId

log = logging.getLogger(__name__)


def link_config(settings: Settings) -> LinkConfig:
    """Link identity, timers and the agency's required failsafe parameters."""
    f = settings.flight
    return LinkConfig(
        gcs_sysid=f.gcs_system_id,
        gcs_compid=f.gcs_component_id,
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
