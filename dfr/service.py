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
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from cad_bridge import (
    MAX_PARALLEL_INCIDENTS,
    CallTypeMapper,
    EidoSubscriber,
    LanedTransport,
    OutboxDelivery,
)
from dfr.airspace import AirspaceService
from dfr.auth_guard import AuthGuard
from dfr.cad_ingest import CallWriter
from dfr.cad_units import CadUnits
from dfr.call_intake import CallIntake
from dfr.call_ledger import CallLedger, HubPublisher
from dfr.camera_service import CameraService
from dfr.cluster import HubBridge, InProcessBus, LiveBus, open_bus
from dfr.cluster.keeper import DroneLinks, HeldLeases, LinkKeeper
from dfr.cluster.leases import OUTBOX_RESOURCE, RECOVERY_RESOURCE, LeaseStore, drone_resource
from dfr.cluster.peers import PeerFlights, PeerServer, StateSharing
from dfr.cluster.recovery import CallRecovery
from dfr.cluster.weather import WeatherSharing
from dfr.db import make_engine
from dfr.dispatch import AgencyPolicy
from dfr.dispatch.service import Dispatcher
from dfr.errors import FleetFileError
from dfr.fleet import read_fleet_file
from dfr.flights import FlightService
from dfr.flights.records import PhaseTimesRecorder
from dfr.integrated_cameras import IntegratedCameraService
from dfr.mail import Mailer, MailSink
from dfr.metrics import Metrics, ServiceState
from dfr.models import Drone
from dfr.outbox import build_delivery, delivering, pending_count
from dfr.planning import REPORTED_LIMITS, with_return_speed
from dfr.privacy import CameraAim, PrivacyLifts, private_in_transit
from dfr.retention import RetentionJob
from dfr.retention_policy import RetentionPolicy
from dfr.runtime import (
    bootstrap_airspace,
    bootstrap_database,
    keep_airspace_prepared,
    link_config,
    url_policy,
    weather_source,
)
from dfr.settings import Settings
from dfr.share_links import ShareSessions
from dfr.signing_keys import (
    KeyCipher,
    RejectedFramesCollector,
    SigningKeys,
    fleet_file_keys,
    load_key_encryption_key,
)
from dfr.token_sessions import TokenSessions
from dfr.tokens import PrincipalCache
from dfr.video_service import FlightRecordingHook, VideoService
from flight import Clock, Fence, FleetLink, LinkConfig, SystemClock, VehicleId
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
    #: The live bus between instances (in this process only when no NATS server is set).
    bus: LiveBus
    #: This instance's leases (drone links, outbox, recovery) and heartbeat in the database.
    leases: LeaseStore
    held: HeldLeases
    airspace: AirspaceService
    principals: PrincipalCache
    #: WebSockets and WHEP viewers held open under a token (ended when it is revoked or expires).
    sessions: TokenSessions
    #: Viewers of view-only call links (ended when their link is revoked or expires).
    shares: ShareSessions
    #: Failed authentication: throttled per client address, audited as summaries.
    auth_guard: AuthGuard
    outbox: OutboxDelivery
    ledger: CallLedger
    #: The community camera registry, footage requests and owners' uploads (and the mail sink).
    cameras: CameraService
    integrated_cameras: IntegratedCameraService
    video: VideoService
    recordings: FlightRecordingHook
    #: Retention: purges due recordings, snapshots, flight paths and audit rows (holds kept).
    retention: RetentionJob
    fleet: FleetLink
    #: Privacy in transit: where each flight's camera looks, and lifting it for one flight.
    camera_aim: CameraAim
    privacy: PrivacyLifts
    #: The drones' MAVLink signing keys (sealed at rest), given to each link it opens.
    signing_keys: SigningKeys
    flights: FlightService
    dispatcher: Dispatcher
    #: CAD responder units' latest positions (AVL feed and EIDO), told to the live stream.
    cad_units: CadUnits
    intake: CallIntake
    eido_subscriber: EidoSubscriber | None
    keeper: LinkKeeper
    recovery: CallRecovery
    #: With several instances: other instances' drones (states in, operations out), and ours for them.
    peers: PeerFlights | None
    peer_server: PeerServer | None
    state_sharing: StateSharing | None
    hub_bridge: HubBridge | None
    weather_sharing: WeatherSharing | None
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
        bus = "in-process"
        if self.bus.kind != InProcessBus.kind:
            bus = "connected" if self.bus.connected else "disconnected"
        return {
            "bus": bus,
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
            bootstrap_database,
            engine,
            settings.database_url,
            settings.fleet_file,
            url_policy(settings),
        )
        metrics = built("metrics", Metrics())
        clock = built("clock", SystemClock(speed=settings.speedup))
        hub = built("hub", Hub(queue_size=settings.telemetry.client_queue_size))
        bus = built("bus", open_bus(settings.bus.url, settings.instance_id))
        await stack.enter_async_context(bus)
        clustered = bus.kind != InProcessBus.kind
        leases = built(
            "leases", LeaseStore(engine, settings.instance_id, settings.cluster.lease_ttl_s)
        )
        held = HeldLeases()
        airspace = built(
            "airspace",
            AirspaceService(engine, default_agency_id, settings.flight.max_alt_agl_m),
        )
        await asyncio.to_thread(bootstrap_airspace, engine, airspace, zone_documents)
        principals = built("principals", PrincipalCache(engine))
        sessions = TokenSessions(engine)
        shares = ShareSessions(engine)
        auth_guard = AuthGuard(engine)
        # CAD's client: one connection per incident delivered at once (see cad_bridge.lanes).
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=LanedTransport(MAX_PARALLEL_INCIDENTS))
        )
        outbox = built(
            "outbox",
            build_delivery(
                settings,
                engine,
                http,
                default_agency_id,
                metrics,
                may_deliver=(lambda: held.holds(OUTBOX_RESOURCE)) if clustered else lambda: True,
            ),
        )
        ledger = built(
            "ledger",
            CallLedger(
                publisher=HubPublisher(hub, loop),
                wake_outbox=_outbox_waker(outbox, bus) if clustered else outbox.notify,
                loop=loop,
                clock=clock,
            ),
        )
        peers = built("peers", PeerFlights(bus=bus, store=leases)) if clustered else None
        video = built(
            "video",
            VideoService(
                engine,
                settings.data_dir,
                remote=peers,
                linked_here=lambda drone_id: held.holds(drone_resource(drone_id)),
                sessions=sessions,
            ),
        )
        sink = MailSink() if settings.smtp.sink else None
        mailer = Mailer(settings.smtp, sink)
        cameras = built(
            "cameras",
            CameraService(
                engine=engine,
                settings=settings.cameras,
                mailer=mailer,
                sink=sink,
                ledger=ledger,
                data_dir=settings.data_dir,
                default_agency_id=default_agency_id,
                max_body_bytes=settings.cad.max_payload_bytes,
            ),
        )
        integrated_cameras = built(
            "integrated_cameras",
            IntegratedCameraService(
                engine=engine,
                settings=settings.cameras,
                mailer=mailer,
                video=video,
                default_agency_id=default_agency_id,
            ),
        )
        privacy_policy = settings.privacy
        recordings = built(
            "recordings",
            FlightRecordingHook(
                video, loop, private_transit=functools.partial(private_in_transit, privacy_policy)
            ),
        )
        retention = built(
            "retention",
            RetentionJob(
                engine,
                settings.data_dir,
                _retention_policy(settings),
                busy=lambda flight_id: video.recording_status(flight_id) is not None,
            ),
        )
        fleet = built("fleet", FleetLink(config=link_config(settings), clock=clock))
        camera_aim = built("camera_aim", CameraAim(fleet, loop, privacy_policy))
        privacy = built(
            "privacy",
            PrivacyLifts(
                engine=engine,
                ledger=ledger,
                recordings=recordings,
                camera=camera_aim,
                policy=privacy_policy,
            ),
        )
        signing_keys = await asyncio.to_thread(_signing_keys, settings, engine)
        metrics.registry.register(RejectedFramesCollector(fleet))
        flights = built(
            "flights",
            FlightService(
                engine=engine,
                fleet=fleet,
                airspace=airspace,
                hub=hub,
                clock=clock,
                ledger=ledger,
                sinks=(ledger, recordings, camera_aim, PhaseTimesRecorder()),
                metrics=metrics,
                remote=peers,
            ),
        )
        call_writer = CallWriter(engine, received_by=settings.instance_id)
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
                intake_idle_s=lambda: call_writer.idle_s,
            ),
        )
        cad_units = built(
            "cad_units",
            CadUnits(engine=engine, hub=hub, default_agency_id=default_agency_id),
        )
        intake = built(
            "intake",
            CallIntake(
                writer=call_writer,
                dispatcher=dispatcher,
                mapper=CallTypeMapper(),
                default_agency_id=default_agency_id,
                max_payload_bytes=settings.cad.max_payload_bytes,
                metrics=metrics,
                units=cad_units,
            ),
        )
        eido_subscriber = built("eido_subscriber", _eido_subscriber(settings, intake))
        keeper = built(
            "keeper",
            LinkKeeper(
                store=leases,
                held=held,
                links=_drone_links(engine, fleet, flights, signing_keys, link_config(settings)),
                renew_interval_s=settings.cluster.renew_interval_s,
                bus_kind=bus.kind,
                sole=not clustered,
                on_takeover=metrics.lease_takeovers.inc,
            ),
        )
        recovery = built(
            "recovery",
            CallRecovery(
                engine=engine,
                store=leases,
                holds_recovery=lambda: held.holds(RECOVERY_RESOURCE),
                submit=dispatcher.submit,
            ),
        )
        peer_server = state_sharing = hub_bridge = weather_sharing = None
        if clustered:
            peer_server = built(
                "peer_server",
                PeerServer(bus=bus, instance_id=settings.instance_id, flights=flights, video=video),
            )
            state_sharing = built(
                "state_sharing",
                StateSharing(
                    bus=bus,
                    instance_id=settings.instance_id,
                    states=fleet.snapshot,
                    flight_of=flights.active_flight_of,
                ),
            )
            hub_bridge = built("hub_bridge", HubBridge(hub, bus, settings.instance_id))
            weather_sharing = built(
                "weather_sharing", WeatherSharing(dispatcher.weather, bus, settings.instance_id)
            )
        service = Service(
            settings=settings,
            engine=engine,
            default_agency_id=default_agency_id,
            metrics=metrics,
            clock=clock,
            hub=hub,
            airspace=airspace,
            principals=principals,
            sessions=sessions,
            shares=shares,
            auth_guard=auth_guard,
            outbox=outbox,
            ledger=ledger,
            cameras=cameras,
            integrated_cameras=integrated_cameras,
            video=video,
            recordings=recordings,
            retention=retention,
            fleet=fleet,
            camera_aim=camera_aim,
            privacy=privacy,
            signing_keys=signing_keys,
            flights=flights,
            dispatcher=dispatcher,
            cad_units=cad_units,
            intake=intake,
            eido_subscriber=eido_subscriber,
            bus=bus,
            leases=leases,
            held=held,
            keeper=keeper,
            recovery=recovery,
            peers=peers,
            peer_server=peer_server,
            state_sharing=state_sharing,
            hub_bridge=hub_bridge,
            weather_sharing=weather_sharing,
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
    await stack.enter_async_context(service.auth_guard)
    await stack.enter_async_context(service.sessions)
    await stack.enter_async_context(service.cameras)
    await stack.enter_async_context(service.integrated_cameras)
    await stack.enter_async_context(service.shares)
    if service.hub_bridge is not None:
        await stack.enter_async_context(service.hub_bridge)
    if service.peers is not None:
        await service.peers.start()
        stack.push_async_callback(service.peers.stop)
    if service.weather_sharing is not None:
        await stack.enter_async_context(service.weather_sharing)
    if Run.CAD in run:
        if service.peers is not None:
            # Rows written on any instance wake the delivery of the one holding the outbox lease.
            woken = await service.bus.subscribe(OUTBOX_WAKE_SUBJECT, _wake(service.outbox))
            stack.push_async_callback(woken.unsubscribe)
        await stack.enter_async_context(delivering(service.outbox))
    stack.push_async_callback(service.video.aclose)
    if Run.RECORDINGS in run:
        stack.push_async_callback(service.recordings.aclose)
        stack.push_async_callback(service.camera_aim.aclose)
        await service.recordings.resume_unfinished(service.engine)
        await stack.enter_async_context(service.retention)
    if Run.LINKS in run:
        await stack.enter_async_context(service.fleet)
        await stack.enter_async_context(service.flights)
        # The keeper opens the links of the drones this instance holds, and adopts their flights.
        await stack.enter_async_context(service.keeper)
        if service.peer_server is not None and service.state_sharing is not None:
            await stack.enter_async_context(service.peer_server)
            await stack.enter_async_context(service.state_sharing)
    if Run.DISPATCH in run:
        await stack.enter_async_context(service.dispatcher)
        warmer = asyncio.create_task(keep_airspace_prepared(service.airspace, service.clock))
        stack.push_async_callback(_cancel, warmer)
    if Run.DISPATCH in run and service.bus.kind != InProcessBus.kind:
        await stack.enter_async_context(service.recovery)
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
        held_links=len(service.keeper.held_drones()),
        bus_sent=0 if service.hub_bridge is None else service.hub_bridge.messages_out,
        bus_received=0 if service.hub_bridge is None else service.hub_bridge.messages_in,
        decisions_waiting=service.dispatcher.decisions_waiting,
    )


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


#: Published after a commit that wrote outbox rows, for the instance delivering them.
OUTBOX_WAKE_SUBJECT = "dfr.outbox.wake"


def _outbox_waker(outbox: OutboxDelivery, bus: LiveBus) -> Callable[[], None]:
    def wake() -> None:
        outbox.notify()
        bus.publish(OUTBOX_WAKE_SUBJECT, b"")

    return wake


def _wake(outbox: OutboxDelivery) -> Callable[[str, bytes], None]:
    def woken(_subject: str, _data: bytes) -> None:
        outbox.notify()

    return woken


def _drone_ids(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(Drone.id)).all())


def _signing_keys(settings: Settings, engine: Engine) -> SigningKeys:
    s = settings.signing
    kek = s.key_encryption_key.get_secret_value() if s.key_encryption_key else None
    keys = SigningKeys(
        engine,
        KeyCipher(load_key_encryption_key(kek, settings.data_dir)),
        required=s.required,
        confirm_timeout_s=s.confirm_timeout_s,
        rejected_alert_count=s.rejected_alert_count,
        rejected_alert_window_s=s.rejected_alert_window_s,
    )
    if settings.fleet_file is not None:
        keys.import_keys(fleet_file_keys(read_fleet_file(settings.fleet_file)))
    return keys


def _drone_links(
    engine: Engine,
    fleet: FleetLink,
    flights: FlightService,
    signing: SigningKeys,
    config: LinkConfig,
) -> DroneLinks:
    """Gaining a drone's lease opens its link and adopts its flight; losing it, the reverse."""

    async def open_link(drone_id: str, fence: Fence) -> None:
        def load() -> Drone | None:
            with Session(engine) as session:
                return session.get(Drone, drone_id)

        drone = await asyncio.to_thread(load)
        if drone is None:
            raise FleetFileError(f"drone {drone_id!r} is not in the fleet")
        link_setup = await asyncio.to_thread(signing.link_config, drone.id, config)
        link_setup = with_return_speed(link_setup, drone)
        link = fleet.add_vehicle(
            VehicleId(drone.id), drone.mavlink_url, config=link_setup, fence=fence
        )
        signing.watch(drone.id, link)
        REPORTED_LIMITS.read(drone.id, link)
        if flights.running:
            await flights.adopt_drone(drone.id)

    async def close_link(drone_id: str) -> None:
        flights.let_go_of_drone(drone_id)
        signing.forget(drone_id)
        REPORTED_LIMITS.forget(drone_id)
        if VehicleId(drone_id) in fleet.vehicle_ids():
            await fleet.remove_vehicle(VehicleId(drone_id))

    def busy(drone_id: str) -> bool:
        return flights.active_flight_of(drone_id) is not None

    return DroneLinks(
        drone_ids=lambda: _drone_ids(engine),
        busy=busy,
        open_link=open_link,
        close_link=close_link,
    )


def _agency_policy(settings: Settings) -> AgencyPolicy:
    if settings.fleet_file is None:
        return AgencyPolicy()
    return read_fleet_file(settings.fleet_file).policy or AgencyPolicy()


def _retention_policy(settings: Settings) -> RetentionPolicy | None:
    if settings.fleet_file is None:
        return None
    return read_fleet_file(settings.fleet_file).retention


def _eido_subscriber(settings: Settings, intake: CallIntake) -> EidoSubscriber | None:
    url = settings.cad.eido_subscribe_url
    if not url:
        return None
    token = settings.cad.token.get_secret_value() if settings.cad.token else None
    return EidoSubscriber(url, intake.receive_eido, token=token)
