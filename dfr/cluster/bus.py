"""The live bus between instances: publish/subscribe and request/reply on NATS subjects.

`InProcessBus` keeps everything in this process (one instance, the default); `NatsBus` talks to a
NATS server and reconnects forever. Both follow NATS subject rules (dot-separated tokens; `*` matches
one token, `>` one or more at the end) and deliver to handlers on the event loop after `publish`
returns, in publish order. `serve` answers requests only; a plain publish on its subject is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol, Self
from urllib.parse import urlsplit

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from dfr.cluster.errors import (
    BusNoRespondersError,
    BusRemoteError,
    BusTimeoutError,
    BusUnavailableError,
    InvalidSubjectError,
)
from dfr.errors import InvalidInputError
from lifecycle import TaskOwner

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], None]
Responder = Callable[[bytes], Awaitable[bytes]]

#: The reply header carrying a responder's failure (the NATS services convention).
ERROR_HEADER = "Nats-Service-Error"
_ERROR_CODE_HEADER = "Nats-Service-Error-Code"
_MAX_ERROR_CHARS = 500


class BusSubscription(Protocol):
    """A subscription or a served subject; `unsubscribe` ends it (idempotent)."""

    async def unsubscribe(self) -> None:
        """Deliver nothing more to this subscription."""


class LiveBus(Protocol):
    """Publish/subscribe and request/reply between the instances (or within this one)."""

    kind: str

    @property
    def connected(self) -> bool:
        """True while messages can reach the other instances."""

    async def __aenter__(self) -> Self:
        """Connect (BusUnavailableError if that cannot be done in time)."""

    async def __aexit__(self, *exc_info: object) -> None:
        """Disconnect, sending what is still queued first."""

    def publish(self, subject: str, data: bytes) -> None:
        """Send `data` on `subject` without waiting (loop thread); never raises for a lost connection."""

    async def subscribe(self, subject: str, handler: Handler) -> BusSubscription:
        """Call `handler(subject, data)` for each later message on `subject` (wildcards allowed)."""

    async def request(self, subject: str, data: bytes, *, timeout_s: float) -> bytes:
        """The reply to `data` on `subject`: BusTimeoutError, BusNoRespondersError, BusRemoteError."""

    async def serve(self, subject: str, responder: Responder) -> BusSubscription:
        """Answer each request on `subject` with `responder`'s bytes (a failure: BusRemoteError)."""


_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_WHITESPACE = re.compile(r"\s")


def subject_token(text: str) -> str:
    """`text` as one safe subject token: letters, digits, `_`, `-` kept, other UTF-8 bytes `%XX`, "" `%`."""
    if _SAFE_TOKEN.fullmatch(text):
        return text
    if not text:
        return "%"
    return "".join(
        ch if ch in _SAFE_CHARS else "".join(f"%{byte:02X}" for byte in ch.encode()) for ch in text
    )


def token_text(token: str) -> str:
    """The text `subject_token` made `token` from."""
    if token == "%":
        return ""
    if "%" not in token:
        return token
    parts = token.split("%")
    raw = bytearray(parts[0].encode())
    for part in parts[1:]:
        raw += bytes.fromhex(part[:2])
        raw += part[2:].encode()
    return raw.decode()


def subject_tokens(subject: str, *, wildcards: bool) -> list[str]:
    """The tokens of `subject`; InvalidSubjectError if it is none (or has a wildcard not allowed)."""
    if not subject:
        raise InvalidSubjectError(subject, "empty")
    if _WHITESPACE.search(subject):
        raise InvalidSubjectError(subject, "whitespace")
    tokens = subject.split(".")
    last = len(tokens) - 1
    for index, token in enumerate(tokens):
        if not token:
            raise InvalidSubjectError(subject, "an empty token")
        if token in ("*", ">"):
            if not wildcards:
                raise InvalidSubjectError(subject, "a wildcard here (only subscriptions have them)")
            if token == ">" and index != last:
                raise InvalidSubjectError(subject, "'>' before the last token")
        elif "*" in token or ">" in token:
            raise InvalidSubjectError(subject, "a wildcard inside a token")
    return tokens


def _matches(pattern: list[str], tokens: list[str]) -> bool:
    for index, want in enumerate(pattern):
        if want == ">":
            return len(tokens) > index
        if index >= len(tokens) or (want != "*" and want != tokens[index]):
            return False
    return len(tokens) == len(pattern)


def _failure_text(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:_MAX_ERROR_CHARS]


class _LocalSubscription:
    """One subscription (a handler) or served subject (a responder) of an InProcessBus."""

    def __init__(
        self,
        bus: InProcessBus,
        pattern: list[str],
        handler: Handler | None,
        responder: Responder | None,
    ) -> None:
        self._bus = bus
        self.pattern = pattern
        self.handler = handler
        self.responder = responder
        self.active = True

    def deliver(self, subject: str, data: bytes) -> None:
        if not self.active or self.handler is None:
            return  # unsubscribed after the message was queued
        try:
            self.handler(subject, data)
        except Exception:
            log.exception("bus handler failed on %s", subject)

    async def answer(self, subject: str, data: bytes) -> tuple[bytes, str | None]:
        assert self.responder is not None
        try:
            return await self.responder(data), None
        except Exception as exc:
            log.exception("bus responder failed on %s", subject)
            return b"", _failure_text(exc)

    async def unsubscribe(self) -> None:
        """Deliver nothing more to this subscription."""
        self.active = False
        self._bus._release(self)


class InProcessBus(TaskOwner):
    """The bus of a single instance: every subscriber and responder lives in this process."""

    kind: str = "in-process"

    def __init__(self) -> None:
        super().__init__()
        self._subscriptions: list[_LocalSubscription] = []
        self.published = 0

    @property
    def connected(self) -> bool:
        """True while open."""
        return self.running

    async def _stop(self) -> None:
        for subscription in self._subscriptions:
            subscription.active = False
        self._subscriptions.clear()

    def _require_open(self) -> None:
        if not self.running:
            raise BusUnavailableError("in-process", "the bus is not open")

    def _release(self, subscription: _LocalSubscription) -> None:
        with contextlib.suppress(ValueError):
            self._subscriptions.remove(subscription)

    def publish(self, subject: str, data: bytes) -> None:
        """Queue `data` for every handler subscribed to a pattern matching `subject`."""
        self._require_open()
        tokens = subject_tokens(subject, wildcards=False)
        self._offer(subject, tokens, data)
        self.published += 1

    def _offer(self, subject: str, tokens: list[str], data: bytes) -> None:
        loop = asyncio.get_running_loop()
        for subscription in self._subscriptions:
            if subscription.handler is not None and _matches(subscription.pattern, tokens):
                # Later, not now: a publisher never runs its subscribers' code (as over NATS).
                loop.call_soon(subscription.deliver, subject, data)

    async def subscribe(self, subject: str, handler: Handler) -> BusSubscription:
        """Call `handler(subject, data)` for each later message matching `subject`."""
        self._require_open()
        subscription = _LocalSubscription(
            self, subject_tokens(subject, wildcards=True), handler, None
        )
        self._subscriptions.append(subscription)
        return subscription

    async def serve(self, subject: str, responder: Responder) -> BusSubscription:
        """Answer each request matching `subject` with `responder`'s bytes."""
        self._require_open()
        subscription = _LocalSubscription(
            self, subject_tokens(subject, wildcards=True), None, responder
        )
        self._subscriptions.append(subscription)
        return subscription

    async def request(self, subject: str, data: bytes, *, timeout_s: float) -> bytes:
        """The first answer of a responder matching `subject` (handlers see the request too)."""
        self._require_open()
        tokens = subject_tokens(subject, wildcards=False)
        matching = [s for s in self._subscriptions if _matches(s.pattern, tokens)]
        if not matching:
            raise BusNoRespondersError(subject)
        self._offer(subject, tokens, data)
        answers = [
            self._spawn(s.answer(subject, data), name=f"bus-answer {subject}")
            for s in matching
            if s.responder is not None
        ]
        if not answers:
            # Subscribers that never answer: a NATS requester would wait its timeout out too.
            await asyncio.sleep(timeout_s)
            raise BusTimeoutError(subject, timeout_s)
        # Responders late for the first answer go on running (their answers are dropped), as over NATS.
        done, _ = await asyncio.wait(
            answers, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if not done:
            raise BusTimeoutError(subject, timeout_s)
        answer: tuple[bytes, str | None] = next(iter(done)).result()
        reply, error = answer
        if error is not None:
            raise BusRemoteError(subject, error)
        return reply


class _NatsSubscription:
    """A nats-py subscription behind the BusSubscription protocol."""

    def __init__(self, subscription: Subscription) -> None:
        self._subscription = subscription
        self._done = False

    async def unsubscribe(self) -> None:
        """Deliver nothing more to this subscription."""
        if self._done:
            return
        self._done = True
        # Closed or reconnecting: the server forgets the subscription with the connection anyway.
        with contextlib.suppress(nats.errors.Error):
            await self._subscription.unsubscribe()


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}"


class NatsBus(TaskOwner):
    """The bus over a NATS server: reconnects forever; publishes wait in a bounded queue meanwhile."""

    kind: str = "nats"

    def __init__(
        self,
        url: str,
        *,
        name: str,
        connect_timeout_s: float = 5.0,
        reconnect_wait_s: int = 1,
        max_queued: int = 10_000,
        flush_timeout_s: float = 2.0,
    ) -> None:
        super().__init__()
        self._url = url
        self.where = _redacted(url)
        self.name = name
        self._connect_timeout_s = connect_timeout_s
        self._reconnect_wait_s = reconnect_wait_s
        self._max_queued = max_queued
        self._flush_timeout_s = flush_timeout_s
        self._nc: NatsClient | None = None
        self._queued: deque[tuple[str, bytes]] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self._dropping = False
        self.published = 0
        self.dropped = 0
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        """True while the client is connected to the server."""
        return self._nc is not None and self._nc.is_connected

    async def _start(self) -> None:
        nc = NatsClient()
        try:
            # nats-py's first connect retries forever with max_reconnect_attempts=-1: bound it here.
            async with asyncio.timeout(self._connect_timeout_s):
                await nc.connect(
                    servers=[self._url],
                    name=self.name,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=self._reconnect_wait_s,
                    connect_timeout=max(1, round(self._connect_timeout_s)),
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            with contextlib.suppress(Exception):
                await nc.close()
            raise BusUnavailableError(
                self.where,
                f"not connected within {self._connect_timeout_s:g} s ({_failure_text(exc)})",
            ) from exc
        self._nc = nc
        self._closing = False
        log.info("bus connected to %s as %s", self.where, self.name)
        self._spawn(self._write_queued(), name="bus-writer")

    async def _stop(self) -> None:
        nc = self._nc
        if nc is None:
            return
        self._closing = True
        try:
            if nc.is_connected:
                await self._send_queued(nc)
                with contextlib.suppress(Exception):
                    await nc.flush(timeout=max(1, round(self._flush_timeout_s)))
        finally:
            self._nc = None
            self._queued.clear()
            with contextlib.suppress(Exception):
                await nc.close()

    async def _on_error(self, exc: Exception) -> None:
        # Every failed reconnect attempt lands here; disconnects themselves are logged once below.
        log.debug("bus client error: %s", _failure_text(exc))

    async def _on_disconnected(self) -> None:
        if not self._closing:
            log.warning("bus disconnected from %s; reconnecting", self.where)

    async def _on_reconnected(self) -> None:
        self.reconnects += 1
        self._dropping = False
        log.warning("bus reconnected to %s", self.where)

    def _client(self) -> NatsClient:
        if self._nc is None or not self.running:
            raise BusUnavailableError(self.where, "the bus is not open")
        return self._nc

    def publish(self, subject: str, data: bytes) -> None:
        """Queue `data` for `subject`; the oldest queued message goes when the queue is full."""
        self._client()
        subject_tokens(subject, wildcards=False)
        if len(self._queued) >= self._max_queued:
            self._queued.popleft()
            self._drop("the publish queue is full")
        self._queued.append((subject, data))
        self._wake.set()

    def _drop(self, why: str) -> None:
        self.dropped += 1
        if not self._dropping:
            self._dropping = True
            log.warning("bus dropping messages to %s: %s", self.where, why)

    async def _write_queued(self) -> None:
        while True:
            nc = self._nc
            if nc is not None:
                await self._send_queued(nc)
            self._wake.clear()
            await self._wake.wait()

    async def _send_queued(self, nc: NatsClient) -> None:
        # nats-py appends to its own buffer before its first await, so concurrent senders keep order.
        queued = self._queued
        while queued:
            subject, data = queued.popleft()
            try:
                await nc.publish(subject, data)
                self.published += 1
            except nats.errors.OutboundBufferLimitError:
                self._drop("disconnected and the client's buffer is full")
            except Exception as exc:
                # Broadly: a failed task of this TaskOwner would cancel the task that opened the bus.
                self._drop(_failure_text(exc))

    async def _flush_queued(self) -> None:
        nc = self._client()
        await self._send_queued(nc)

    async def _sync(self, nc: NatsClient) -> None:
        # The server has the subscription before subscribe returns. nats-py writes a flush's PING
        # straight to the socket, possibly ahead of the buffered SUB; by the first PONG its flusher
        # has written the SUB, so the second PING follows it.
        if nc.is_connected:
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                for _ in range(2):
                    await nc.flush(timeout=max(1, round(self._flush_timeout_s)))

    async def subscribe(self, subject: str, handler: Handler) -> BusSubscription:
        """Call `handler(subject, data)` for each later message matching `subject`."""
        nc = self._client()
        subject_tokens(subject, wildcards=True)

        async def on_message(msg: Msg) -> None:
            try:
                handler(msg.subject, msg.data)
            except Exception:
                log.exception("bus handler failed on %s", msg.subject)

        try:
            subscription = await nc.subscribe(subject, cb=on_message)
        except nats.errors.Error as exc:
            raise BusUnavailableError(self.where, _failure_text(exc)) from exc
        await self._sync(nc)
        return _NatsSubscription(subscription)

    async def serve(self, subject: str, responder: Responder) -> BusSubscription:
        """Answer each request matching `subject` with `responder`'s bytes, several at a time."""
        nc = self._client()
        subject_tokens(subject, wildcards=True)

        async def on_request(msg: Msg) -> None:
            if msg.reply and self.running:
                # A task per request: a slow answer must not hold up the next request.
                self._spawn(self._answer(msg, responder), name=f"bus-answer {msg.subject}")

        try:
            subscription = await nc.subscribe(subject, cb=on_request)
        except nats.errors.Error as exc:
            raise BusUnavailableError(self.where, _failure_text(exc)) from exc
        await self._sync(nc)
        return _NatsSubscription(subscription)

    async def _answer(self, msg: Msg, responder: Responder) -> None:
        headers: dict[str, str] | None = None
        try:
            reply = await responder(msg.data)
        except Exception as exc:
            log.exception("bus responder failed on %s", msg.subject)
            reply = b""
            headers = {ERROR_HEADER: _failure_text(exc), _ERROR_CODE_HEADER: "500"}
        try:
            # What the responder published goes out before its answer.
            await self._flush_queued()
            await self._client().publish(msg.reply, reply, headers=headers)
        except Exception as exc:
            log.warning("bus answer on %s not sent: %s", msg.subject, _failure_text(exc))

    async def request(self, subject: str, data: bytes, *, timeout_s: float) -> bytes:
        """The first reply to `data` on `subject` within `timeout_s`."""
        nc = self._client()
        subject_tokens(subject, wildcards=False)
        await self._send_queued(nc)  # what was published before goes out before the request
        try:
            reply = await nc.request(subject, data, timeout=timeout_s)
        except nats.errors.NoRespondersError as exc:
            raise BusNoRespondersError(subject) from exc
        except nats.errors.TimeoutError as exc:
            raise BusTimeoutError(subject, timeout_s) from exc
        except nats.errors.Error as exc:
            raise BusUnavailableError(self.where, _failure_text(exc)) from exc
        error = (reply.headers or {}).get(ERROR_HEADER)
        if error is not None:
            raise BusRemoteError(subject, error)
        return reply.data


def open_bus(url: str | None, instance_id: str) -> LiveBus:
    """The bus for these settings (not yet connected): NATS at `url`, else in this process."""
    if url is None:
        return InProcessBus()
    if not url.startswith(("nats://", "tls://")):
        raise InvalidInputError("must be a nats:// or tls:// URL", field="bus.url")
    return NatsBus(url, name=instance_id)
