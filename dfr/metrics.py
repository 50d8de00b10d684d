"""Prometheus metrics of one service: events counted where they happen, state read at scrape time.

Counters and histograms are updated by the services that see the event (intake, dispatcher,
launcher, outbox delivery). Gauges of current state (flights by phase, links by state, stream
clients, outbox depth) are not kept in sync by hand: a reader given by the composition root
collects them from the services when `/metrics` is scraped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from flight import LinkHealth, LinkState

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "ServiceState", "StateReader"]

#: Latency buckets (s), for a decision (route plans for every candidate drone) and a CAD round trip
#: (the adapters time out after a few seconds).
_LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class ServiceState:
    """The current state the gauges show, read from the services at scrape time."""

    flights_by_phase: Mapping[str, int]
    links: Sequence[tuple[str, LinkHealth]]
    stream_clients: int
    stream_dropped: int
    stream_published: int
    outbox_pending: int
    #: Drone links this instance holds by lease.
    held_links: int = 0
    #: Live messages this instance sent to / took in from the bus between instances.
    bus_sent: int = 0
    bus_received: int = 0
    #: Stored calls waiting for their dispatch decision (a burst's backlog).
    decisions_waiting: int = 0


StateReader = Callable[[], Awaitable[ServiceState]]


class _StateCollector(Collector):
    """Turns the last read ServiceState into metric families."""

    def __init__(self) -> None:
        self.state: ServiceState | None = None

    def collect(self) -> Iterator[Metric]:
        state = self.state
        if state is None:
            return
        flights = GaugeMetricFamily(
            "dfr_flights", "Tracked (unfinished) flights by phase.", labels=["phase"]
        )
        for phase, count in sorted(state.flights_by_phase.items()):
            flights.add_metric([phase], count)
        yield flights
        links = GaugeMetricFamily("dfr_links", "Drone MAVLink links by state.", labels=["state"])
        by_state = {str(s): 0 for s in LinkState}
        for _, health in state.links:
            by_state[str(health.state)] = by_state.get(str(health.state), 0) + 1
        for link_state, count in by_state.items():
            links.add_metric([link_state], count)
        yield links
        messages = CounterMetricFamily(
            "dfr_mavlink_messages_received",
            "MAVLink messages received per drone (rate() gives the message rate).",
            labels=["drone_id"],
        )
        bad = CounterMetricFamily(
            "dfr_mavlink_bad_frames", "Undecodable MAVLink frames per drone.", labels=["drone_id"]
        )
        for drone_id, health in state.links:
            messages.add_metric([drone_id], health.messages_received)
            bad.add_metric([drone_id], health.bad_frames)
        yield messages
        yield bad
        yield GaugeMetricFamily(
            "dfr_stream_clients", "Open live stream subscriptions.", value=state.stream_clients
        )
        yield GaugeMetricFamily(
            "dfr_stream_dropped_frames",
            "Frames dropped for the open stream subscriptions (slow readers).",
            value=state.stream_dropped,
        )
        yield CounterMetricFamily(
            "dfr_stream_messages_published",
            "Messages published on the live stream hub.",
            value=state.stream_published,
        )
        yield GaugeMetricFamily(
            "dfr_outbox_pending",
            "Outbound CAD events waiting for delivery.",
            value=state.outbox_pending,
        )
        yield GaugeMetricFamily(
            "dfr_decisions_waiting",
            "Stored calls waiting for their dispatch decision.",
            value=state.decisions_waiting,
        )
        yield GaugeMetricFamily(
            "dfr_held_links", "Drone links this instance holds by lease.", value=state.held_links
        )
        bus = CounterMetricFamily(
            "dfr_bus_messages",
            "Live messages exchanged with the other instances over the bus.",
            labels=["direction"],
        )
        bus.add_metric(["sent"], state.bus_sent)
        bus.add_metric(["received"], state.bus_received)
        yield bus


class Metrics:
    """The metrics of one service, on its own registry (services in one process never collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # Children bound once: the ingest path pays one increment per call, no label lookup.
        self.calls_created, self.calls_changed, self.calls_unchanged = self._counters(
            "dfr_calls_received",
            "CAD call documents stored, by outcome.",
            "outcome",
            ("created", "changed", "unchanged"),
        )
        self.call_launches, self.pilot_launches = self._counters(
            "dfr_launches", "Flights launched, for a call or by a pilot.", "kind", ("call", "pilot")
        )
        self.decision_seconds = self._seconds(
            "dfr_decision_seconds",
            "Time to decide for a call (facts, route plans, policy, stored decision).",
        )
        self.decision_batches = Counter(
            "dfr_decision_batches",
            "Transactions that stored dispatch decisions (decisions / batches: calls per batch).",
            registry=self.registry,
        )
        self.lease_takeovers = Counter(
            "dfr_lease_takeovers",
            "Leases (drone links, outbox, recovery) taken over from an instance that stopped renewing.",
            registry=self.registry,
        )
        self.outbox_delivery_seconds = self._seconds(
            "dfr_outbox_delivery_seconds", "CAD round trip of one accepted outbound event."
        )
        self._state = _StateCollector()
        self.registry.register(self._state)
        self._read_state: StateReader | None = None

    def _counters(
        self, name: str, documentation: str, label: str, values: Sequence[str]
    ) -> list[Counter]:
        counter = Counter(name, documentation, [label], registry=self.registry)
        return [counter.labels(**{label: v}) for v in values]

    def _seconds(self, name: str, documentation: str) -> Histogram:
        return Histogram(name, documentation, buckets=_LATENCY_BUCKETS_S, registry=self.registry)

    def watch(self, read_state: StateReader) -> None:
        """Read the state gauges with `read_state` at each scrape."""
        self._read_state = read_state

    async def scrape(self) -> bytes:
        """Every metric in the Prometheus text format."""
        if self._read_state is not None:
            # Read and rendered without an await in between, so concurrent scrapes stay consistent.
            self._state.state = await self._read_state()
        return _generate_latest(self.registry)
