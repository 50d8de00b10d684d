"""The composition root: `build_service(settings)` builds every service once, in dependency order.

Each service gets its collaborators as constructor arguments; nothing looks another up at run
time. Data flows one way: intake (HTTP or EIDO subscription) -> store -> dispatcher (decides,
plans, commands) -> flight service (MAVLink) -> call ledger (call state and outbox rows, in the
flight event's transaction) and recordings -> outbox delivery / stream hub. The running parts
start in construction order and stop in reverse, both written once, below.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cad_bridge import CallTypeMapper, EidoSubscriber, OutboxDelivery
from dfr.airspace import AirspaceService
from dfr.cad_ingest import CallWriter
from dfr.call_intake import CallIntake
from dfr.call_ledger import CallLedger, HubPublisher
from dfr.db import make_engine
from dfr.dispatch import AgencyPolicy
from dfr.dispatch.service import Dispatcher
from dfr.fleet import read_fleet_file
from dfr.flights import FlightService
from dfr.metrics import Metrics, ServiceState
from dfr.models import Drone
from dfr.outbox import build_delivery, delivering, pending_count
from dfr.runtime import (
    add_drone_link,
    bootstrap_airspace,
    bootstrap_database,
    keep_airspace_prepared,
    link_config,
    weather_source,
)
from dfr.settings import Settings
from dfr.tokens import PrincipalCache
from dfr.video_service import FlightRecordingHook, VideoService
from flight import Clock, FleetLink, SystemClock
from telemetry import Hub

_T = TypeVar("_T")


class Run(enum.Flag):
    """The running parts a service starts; every service object is built either way."""

    NONE = 0
    #: MAVLink links to the fleet's drones, and the flight service tracking their flights.
    LINKS = enum.auto()
    #: Decisions and auto-launches for calls submitted by the intake.
    DISPATCH = enum.auto()
    #: Outbox delivery to CAD and the EIDO conveyance subscription.
    CAD = enum.auto()
    #: Video recordings of flights.
    RECORDINGS = enum.auto()
    ALL = LINKS | DISPATCH | CAD | RECORDINGS


@dataclass(frozen=True, slots=True)
class Service:
    """Every service of one running DFR instance, each built once (the app holds only this)."""

    settings: Settings
    engine: Engine
    default_agency_id: str
    metrics: Metrics
    clock: Clock
    hub: Hub
    airspace: AirspaceService
    principals: PrincipalCache
    outbox: OutboxDelivery
    ledger: CallLedger
    video: VideoService
    recordings: FlightRecordingHook
    fleet: FleetLink
    flights: FlightService
    dispatcher: Dispatcher
    intake: CallIntake
    eido_subscriber: EidoSubscriber | None
    loop: asyncio.AbstractEventLoop
    #: The running parts this service was asked to start.
    run: Run
    #: The services' names in the order they were built (and their running parts started).
    construction_order: tuple[str, ...]

    def part_states(self) -> dict[str, str]:
        """Each running part: "running", "stopped" or "not configured" (for health)."""

        def state(running: bool) -> str:
            return "running" if running else "stopped"

        eido = "not configured"
        if self.eido_subscriber is not None:
            eido = state(Run.CAD in self.run)
        return {
            "flights": state(self.flights.running),
            "dispatch": state(self.dispatcher.running),
            "cad_delivery": state(Run.CAD in self.run),
            "eido_subscription": eido,
            "recordings": state(Run.RECORDINGS in self.run),
        }


class _Built:
    """Notes the order services are built in."""

    def __init__(self) -> None:
        self.order: list[str] = []

    def __call__(self, name: str, service: _T) -> _T:
        self.order.append(name)
        return service


@asynccontextmanager
async def build_service(settings: Settings, *, run: Run = Run.ALL) -> AsyncIterator[Service]:
    """Build the service graph from `settings`, start the parts in `run`, stop them at the end."""
    loop = asyncio.get_running_loop()
    built = _Built()
    async with AsyncExitStack() as stack:
        engine = built("engine", make_engine(settings.database_url, echo=settings.database.echo))
        stack.callback(engine.dispose)
        default_agency_id, zone_documents = await asyncio.to_thread(
            bootstrap_database, engine, settings.database_url, settings.fleet_file
        )
        metrics = built("metrics", Metrics())
        clock = built("clock", SystemClock(speed=settings.speedup))
        hub = built("hub", Hub(queue_size=settings.telemetry.client_queue_size))
        airspace = built(
            "airspace",
            AirspaceService(engine, default_agency_id, settings.flight.max_alt_agl_m),
        )
        await asyncio.to_thread(bootstrap_airspace, airspace, zone_documents)
        principals = built("principals", PrincipalCache(engine))
        http = await stack.enter_async_context(httpx.AsyncClient())
        outbox = built("outbox", build_delivery(settings, engine, http, default_agency_id, metrics))
        ledger = built(
            "ledger",
            CallLedger(
                publisher=HubPublisher(hub, loop), wake_outbox=outbox.notify, loop=loop, clock=clock
            ),
        )
        video = built("video", VideoService(engine, settings.data_dir))
        recordings = built("recordings", FlightRecordingHook(video, loop))
        fleet = built("fleet", FleetLink(config=link_config(settings), clock=clock))
        flights = built(
            "flights",
            FlightService(
                engine=engine,
                fleet=fleet,
                airspace=airspace,
                hub=hub,
                clock=clock,
                ledger=ledger,
                sinks=(ledger, recordings),
                metrics=metrics,
            ),
        )
        dispatcher = built(
            "dispatcher",
            Dispatcher(
                engine=engine,
                airspace=airspace,
                weather=weather_source(settings, clock.now()),
                policy=_agency_policy(settings),
                clock=clock,
                flights=flights,
                ledger=ledger,
                metrics=metrics,
            ),
        )
        intake = built(
            "intake",
            CallIntake(
                writer=CallWriter(engine),
                dispatcher=dispatcher,
                mapper=CallTypeMapper(),
                default_agency_id=default_agency_id,
                max_payload_bytes=settings.cad.max_payload_bytes,
                metrics=metrics,
            ),
        )
        eido_subscriber = built("eido_subscriber", _eido_subscriber(settings, intake))
        service = Service(
            settings=settings,
            engine=engine,
            default_agency_id=default_agency_id,
            metrics=metrics,
            clock=clock,
            hub=hub,
            airspace=airspace,
            principals=principals,
            outbox=outbox,
            ledger=ledger,
            video=video,
            recordings=recordings,
            fleet=fleet,
            flights=flights,
            dispatcher=dispatcher,
            intake=intake,
            eido_subscriber=eido_subscriber,
            loop=loop,
            run=run,
            construction_order=tuple(built.order),
        )
        metrics.watch(lambda: _read_state(service))
        await _start(stack, service, run)
        # Entered last, so left first: every stream client ends before the running parts stop.
        stack.callback(hub.close)
        yield service


async def _start(stack: AsyncExitStack, service: Service, run: Run) -> None:
    """Start the running parts in construction order; the stack stops them in reverse."""
    if Run.CAD in run:
        await stack.enter_async_context(delivering(service.outbox))
    stack.push_async_callback(service.video.aclose)
    if Run.RECORDINGS in run:
        stack.push_async_callback(service.recordings.aclose)
        await service.recordings.resume_unfinished(service.engine)
    if Run.LINKS in run:
        await stack.enter_async_context(service.fleet)
        for drone in await asyncio.to_thread(_drones, service.engine):
            add_drone_link(service.fleet, drone)
        await stack.enter_async_context(service.flights)
    if Run.DISPATCH in run:
        await stack.enter_async_context(service.dispatcher)
        warmer = asyncio.create_task(keep_airspace_prepared(service.airspace, service.clock))
        stack.push_async_callback(_cancel, warmer)
    if Run.CAD in run and service.eido_subscriber is not None:
        subscriber = service.eido_subscriber
        task = asyncio.create_task(subscriber.run(), name="eido-subscriber")
        stack.push_async_callback(_cancel, task)
        stack.push_async_callback(subscriber.stop)


async def _read_state(service: Service) -> ServiceState:
    """The state the metrics' gauges show, read from the services now."""
    pending = await asyncio.to_thread(pending_count, service.engine)
    fleet, hub = service.fleet, service.hub
    return ServiceState(
        flights_by_phase=service.flights.flights_by_phase(),
        links=[(str(vid), fleet.vehicle(vid).health()) for vid in fleet.vehicle_ids()],
        stream_clients=hub.subscriber_count,
        stream_dropped=sum(s.dropped for s in hub.stats()),
        stream_published=hub.published,
        outbox_pending=pending,
    )


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _drones(engine: Engine) -> list[Drone]:
    with Session(engine) as session:
        return list(session.exec(select(Drone)).all())


def _agency_policy(settings: Settings) -> AgencyPolicy:
    if settings.fleet_file is None:
        return AgencyPolicy()
    return read_fleet_file(settings.fleet_file).policy or AgencyPolicy()


def _eido_subscriber(settings: Settings, intake: CallIntake) -> EidoSubscriber | None:
    url = settings.cad.eido_subscribe_url
    if not url:
        return None
    token = settings.cad.token.get_secret_value() if settings.cad.token else None
    return EidoSubscriber(url, intake.receive_eido, token=token)
