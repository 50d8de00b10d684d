"""An httpx transport of N lanes, each one keep-alive connection, for many events posted at once.

httpcore's connection pool looks at every connection for every queued request each time a request
starts or ends, so its cost per request grows with the requests in flight: with 16 at once a POST
cost about 1.8 times the CPU it did alone (bench/cad_delivery.py). Here each request waits for a
free lane, and each lane's pool holds one connection and one request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that gives its lane back when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._release()


class LanedTransport(httpx.AsyncBaseTransport):
    """`lanes` connections at most, one request on each; a request waits for a free lane."""

    def __init__(self, lanes: int) -> None:
        if lanes < 1:
            raise ValueError("lanes must be at least 1")
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self._lanes = [httpx.AsyncHTTPTransport(limits=one) for _ in range(lanes)]
        self._free: asyncio.Queue[httpx.AsyncHTTPTransport] = asyncio.Queue()
        for lane in self._lanes:
            self._free.put_nowait(lane)

    @property
    def free_lanes(self) -> int:
        """Lanes no request holds now."""
        return self._free.qsize()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        lane = await self._free.get()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._free.put_nowait(lane)

        try:
            response = await lane.handle_async_request(request)
        except BaseException:
            release()
            raise
        if not isinstance(response.stream, httpx.AsyncByteStream):
            release()
            raise TypeError("an async transport answered with a sync body")
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_ReleasingStream(response.stream, release),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for lane in self._lanes:
            await lane.aclose()
