"""The live bus, in process and over a real nats-server on loopback: the same NATS semantics."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dfr.cluster import (
    BusNoRespondersError,
    BusRemoteError,
    BusTimeoutError,
    BusUnavailableError,
    InProcessBus,
    InvalidSubjectError,
    LiveBus,
    NatsBus,
    open_bus,
    subject_token,
    token_text,
)
from tests.nats_server import LocalNats, free_port, nats_server_binary

WAIT_S = 10.0


class Inbox:
    """Collects (subject, data) pairs a handler is given."""

    def __init__(self) -> None:
        self.got: list[tuple[str, bytes]] = []
        self._changed = asyncio.Event()

    def __call__(self, subject: str, data: bytes) -> None:
        self.got.append((subject, data))
        self._changed.set()

    async def wait_for(self, count: int, timeout_s: float = WAIT_S) -> list[tuple[str, bytes]]:
        await self.wait_until(lambda got: len(got) >= count, timeout_s)
        return self.got

    async def wait_until(
        self, done: Callable[[list[tuple[str, bytes]]], bool], timeout_s: float = WAIT_S
    ) -> None:
        async with asyncio.timeout(timeout_s):
            while not done(self.got):
                self._changed.clear()
                await self._changed.wait()


MARK = b"-settle-"


async def settle(a: LiveBus, inbox: Inbox, subject: str) -> list[tuple[str, bytes]]:
    """What `inbox` got before a marker `a` publishes now on `subject` arrived (one publisher's order)."""
    a.publish(subject, MARK)
    await inbox.wait_until(lambda got: (subject, MARK) in got)
    return [(s, data) for s, data in inbox.got if data != MARK]


async def eventually(check: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    """Wait until `check()` holds (polled: connection state has no event to wait on)."""
    async with asyncio.timeout(timeout_s):
        for _ in itertools.count():
            if check():
                return
            await asyncio.sleep(0.05)


@pytest.fixture(params=["in-process", "nats"])
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[LiveBus, LiveBus]]:
    """Two clients of one bus: the same InProcessBus twice, or two NatsBus on one server."""
    async with AsyncExitStack() as stack:
        if request.param == "in-process":
            bus = await stack.enter_async_context(InProcessBus())
            yield bus, bus
        else:
            url: str = request.getfixturevalue("nats_url")
            a = await stack.enter_async_context(NatsBus(url, name="test-a"))
            b = await stack.enter_async_context(NatsBus(url, name="test-b"))
            yield a, b


async def test_a_subscriber_gets_what_is_published_on_its_exact_subject_only(
    pair: tuple[LiveBus, LiveBus],
) -> None:
    a, b = pair
    inbox = Inbox()
    await b.subscribe("dfr.test.one", inbox)
    a.publish("dfr.test.one", b"1")
    a.publish("dfr.test.two", b"2")
    a.publish("dfr.test.one.deeper", b"3")
    a.publish("dfr.test.one", b"4")
    assert await settle(a, inbox, "dfr.test.one") == [
        ("dfr.test.one", b"1"),
        ("dfr.test.one", b"4"),
    ]


async def test_a_star_matches_exactly_one_token(pair: tuple[LiveBus, LiveBus]) -> None:
    a, b = pair
    inbox = Inbox()
    await b.subscribe("dfr.*.state", inbox)
    for subject in ("dfr.D1.state", "dfr.D1.D2.state", "dfr.state", "dfr.D2.state"):
        a.publish(subject, subject.encode())
    got = await settle(a, inbox, "dfr.D3.state")
    assert [subject for subject, _ in got] == ["dfr.D1.state", "dfr.D2.state"]


async def test_a_greater_than_matches_one_or_more_trailing_tokens(
    pair: tuple[LiveBus, LiveBus],
) -> None:
    a, b = pair
    inbox = Inbox()
    await b.subscribe("dfr.live.>", inbox)
    for subject in ("dfr.live", "dfr.live.drone", "dfr.live.a.b.c", "dfr.other.drone"):
        a.publish(subject, b"")
    got = await settle(a, inbox, "dfr.live.x")
    assert [subject for subject, _ in got] == ["dfr.live.drone", "dfr.live.a.b.c"]


async def test_messages_arrive_in_publish_order(pair: tuple[LiveBus, LiveBus]) -> None:
    a, b = pair
    inbox = Inbox()
    await b.subscribe("dfr.order", inbox)
    for n in range(500):
        a.publish("dfr.order", str(n).encode())
    got = await inbox.wait_for(500)
    assert [int(data) for _, data in got] == list(range(500))


async def test_unsubscribe_stops_delivery(pair: tuple[LiveBus, LiveBus]) -> None:
    a, b = pair
    inbox, witness = Inbox(), Inbox()
    subscription = await b.subscribe("dfr.gone", inbox)
    await b.subscribe("dfr.gone", witness)
    a.publish("dfr.gone", b"before")
    await inbox.wait_for(1)
    await subscription.unsubscribe()
    await subscription.unsubscribe()  # idempotent
    a.publish("dfr.gone", b"after")
    await settle(a, witness, "dfr.gone")
    await asyncio.sleep(0.1)  # each subscription is served apart: give a stray delivery its chance
    assert inbox.got == [("dfr.gone", b"before")]


async def test_a_request_gets_the_responders_reply(pair: tuple[LiveBus, LiveBus]) -> None:
    a, b = pair

    async def shout(data: bytes) -> bytes:
        return data.upper()

    await b.serve("dfr.shout.*", shout)
    assert await a.request("dfr.shout.D1", b"hello", timeout_s=WAIT_S) == b"HELLO"


async def test_a_slow_answer_does_not_hold_up_the_next_request(
    pair: tuple[LiveBus, LiveBus],
) -> None:
    a, b = pair
    release = asyncio.Event()

    async def answer(data: bytes) -> bytes:
        if data == b"slow":
            await release.wait()
        return data

    await b.serve("dfr.mixed", answer)
    slow = asyncio.ensure_future(a.request("dfr.mixed", b"slow", timeout_s=WAIT_S))
    assert await a.request("dfr.mixed", b"fast", timeout_s=WAIT_S) == b"fast"
    release.set()
    assert await slow == b"slow"


async def test_a_request_nobody_serves_fails_at_once_with_no_responders(
    pair: tuple[LiveBus, LiveBus],
) -> None:
    a, _ = pair
    started = time.monotonic()
    with pytest.raises(BusNoRespondersError):
        await a.request("dfr.nobody.home", b"?", timeout_s=WAIT_S)
    assert time.monotonic() - started < WAIT_S / 2


async def test_a_request_only_silent_subscribers_hear_times_out(
    pair: tuple[LiveBus, LiveBus],
) -> None:
    a, b = pair
    inbox = Inbox()
    await b.subscribe("dfr.silent", inbox)
    with pytest.raises(BusTimeoutError):
        await a.request("dfr.silent", b"anyone?", timeout_s=0.3)
    assert inbox.got == [("dfr.silent", b"anyone?")]


async def test_a_responder_that_does_not_answer_in_time_times_the_request_out(
    pair: tuple[LiveBus, LiveBus],
) -> None:
    a, b = pair

    async def never(data: bytes) -> bytes:
        await asyncio.sleep(WAIT_S)
        return data

    await b.serve("dfr.slow", never)
    with pytest.raises(BusTimeoutError) as caught:
        await a.request("dfr.slow", b"?", timeout_s=0.3)
    assert caught.value.timeout_s == 0.3


async def test_a_failing_responder_is_a_remote_error_for_the_requester(
    pair: tuple[LiveBus, LiveBus],
) -> None:
    a, b = pair

    async def broken(data: bytes) -> bytes:
        raise LookupError("no drone D9 here")

    await b.serve("dfr.broken", broken)
    with pytest.raises(BusRemoteError) as caught:
        await a.request("dfr.broken", b"?", timeout_s=WAIT_S)
    assert caught.value.message == "LookupError: no drone D9 here"
    assert caught.value.subject == "dfr.broken"


async def test_a_served_subject_still_answers_after_a_failure(
    pair: tuple[LiveBus, LiveBus],
) -> None:
    a, b = pair

    async def picky(data: bytes) -> bytes:
        if data == b"bad":
            raise ValueError("bad")
        return b"ok"

    await b.serve("dfr.picky", picky)
    with pytest.raises(BusRemoteError):
        await a.request("dfr.picky", b"bad", timeout_s=WAIT_S)
    assert await a.request("dfr.picky", b"good", timeout_s=WAIT_S) == b"ok"


async def test_a_handler_that_raises_does_not_end_its_subscription(
    pair: tuple[LiveBus, LiveBus],
) -> None:
    a, b = pair
    inbox = Inbox()

    def fussy(subject: str, data: bytes) -> None:
        if data == b"boom":
            raise RuntimeError("boom")
        inbox(subject, data)

    await b.subscribe("dfr.fussy", fussy)
    a.publish("dfr.fussy", b"boom")
    a.publish("dfr.fussy", b"fine")
    assert await inbox.wait_for(1) == [("dfr.fussy", b"fine")]


@pytest.mark.parametrize(
    "subject", ["", "dfr..x", "dfr.x.", "dfr x", "dfr.*", "dfr.>", "dfr.a*", "dfr.\tx"]
)
async def test_publish_refuses_what_is_not_a_plain_subject(
    pair: tuple[LiveBus, LiveBus], subject: str
) -> None:
    a, _ = pair
    with pytest.raises(InvalidSubjectError):
        a.publish(subject, b"")


@pytest.mark.parametrize("subject", ["dfr.>.x", "dfr.x>", ">.x", "dfr..*"])
async def test_subscribe_refuses_misplaced_wildcards(
    pair: tuple[LiveBus, LiveBus], subject: str
) -> None:
    a, _ = pair
    with pytest.raises(InvalidSubjectError):
        await a.subscribe(subject, Inbox())


@pytest.mark.parametrize("make", [InProcessBus, lambda: NatsBus("nats://127.0.0.1:1", name="x")])
async def test_a_bus_that_is_not_open_refuses_to_publish(make: Callable[[], LiveBus]) -> None:
    bus = make()
    with pytest.raises(BusUnavailableError):
        bus.publish("dfr.x", b"")
    assert not bus.connected


async def test_an_in_process_bus_calls_no_handler_before_publish_returns() -> None:
    async with InProcessBus() as bus:
        inbox = Inbox()
        await bus.subscribe("dfr.x", inbox)
        bus.publish("dfr.x", b"1")
        assert inbox.got == []
        await inbox.wait_for(1)


async def test_two_nats_clients_see_each_others_messages_both_ways(nats_url: str) -> None:
    async with NatsBus(nats_url, name="one") as one, NatsBus(nats_url, name="two") as two:
        assert one.connected and two.connected and one.kind == "nats"
        to_one, to_two = Inbox(), Inbox()
        await one.subscribe("dfr.chat", to_one)
        await two.subscribe("dfr.chat", to_two)
        one.publish("dfr.chat", b"from one")
        two.publish("dfr.chat", b"from two")
        assert sorted(await to_one.wait_for(2)) == [
            ("dfr.chat", b"from one"),
            ("dfr.chat", b"from two"),
        ]
        assert sorted(await to_two.wait_for(2)) == sorted(to_one.got)


async def test_opening_a_nats_bus_where_nothing_listens_fails_quickly_as_unavailable() -> None:
    bus = NatsBus(f"nats://127.0.0.1:{free_port()}", name="lonely", connect_timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(BusUnavailableError) as caught:
        async with bus:
            pytest.fail("connected to nothing")
    assert time.monotonic() - started < 5.0
    assert "127.0.0.1" in str(caught.value) and not bus.connected


async def test_a_nats_url_with_credentials_is_never_shown_with_its_password() -> None:
    bus = NatsBus(f"nats://dfr:s3cret@127.0.0.1:{free_port()}", name="x", connect_timeout_s=0.5)
    with pytest.raises(BusUnavailableError) as caught:
        async with bus:
            pass
    assert "s3cret" not in str(caught.value)


async def test_a_nats_bus_reconnects_after_the_server_restarts_and_messages_flow_again() -> None:
    server = LocalNats(binary=nats_server_binary())
    server.start()
    try:
        async with (
            NatsBus(server.url, name="sender") as sender,
            NatsBus(server.url, name="receiver") as receiver,
        ):
            inbox = Inbox()
            await receiver.subscribe("dfr.after", inbox)
            sender.publish("dfr.after", b"before")
            await inbox.wait_for(1)

            server.kill()
            await eventually(lambda: not (sender.connected or receiver.connected))
            sender.publish("dfr.after", b"while down")  # queued, never raised

            server.start()
            # The client's reconnected callback runs just after it counts as connected again.
            await eventually(
                lambda: sender.reconnects == 1 and receiver.reconnects == 1, WAIT_S * 2
            )
            assert sender.connected and receiver.connected
            sender.publish("dfr.after", b"after")
            await inbox.wait_until(lambda got: ("dfr.after", b"after") in got)
            # What was sent while down may beat the receiver's own reconnect, or be lost.
            assert inbox.got[0] == ("dfr.after", b"before")
            assert inbox.got[-1] == ("dfr.after", b"after")
    finally:
        server.stop()


async def test_closing_a_nats_bus_whose_server_is_gone_returns_promptly() -> None:
    server = LocalNats(binary=nats_server_binary())
    server.start()
    try:
        bus = NatsBus(server.url, name="orphan")
        async with asyncio.timeout(WAIT_S):
            async with bus:
                server.kill()
                await eventually(lambda: not bus.connected)
                bus.publish("dfr.lost", b"never sent")
        assert not bus.connected
    finally:
        server.stop()


async def test_open_bus_is_in_process_without_a_url_and_nats_with_one() -> None:
    assert open_bus(None, "i1").kind == "in-process"
    bus = open_bus("nats://127.0.0.1:4222", "i1")
    assert isinstance(bus, NatsBus) and bus.name == "i1"


@given(st.text(max_size=40))
def test_subject_token_makes_any_text_one_safe_token_and_back(text: str) -> None:
    token = subject_token(text)
    assert token and "." not in token and "*" not in token and ">" not in token
    assert token.isascii() and not any(ch.isspace() for ch in token)
    assert token_text(token) == text


def test_subject_token_keeps_plain_ids_as_they_are() -> None:
    assert subject_token("D1") == "D1"
    assert subject_token("station-7_b") == "station-7_b"
    assert subject_token("a.b c") == "a%2Eb%20c"
    assert subject_token("") == "%"
