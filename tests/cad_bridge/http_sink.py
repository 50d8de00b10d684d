"""A minimal HTTP/1.1 server on loopback answering every request 202, for CAD delivery tests and bench."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field


@dataclass
class SlowServer:
    """Answers 202 after `delay_s`; counts the connections it saw and the most open at once."""

    delay_s: float = 0.05
    close_first: int = 0  # this many requests get their connection closed without an answer
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    answered: int = 0
    port: int = 0
    _seen_requests: int = field(default=0, init=False)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                self._seen_requests += 1
                if self._seen_requests <= self.close_first:
                    return
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
                self.answered += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open_now -= 1
            writer.close()


async def serve_forever(port: int) -> None:
    """Answer 202 at once on 127.0.0.1:`port` until killed."""
    server = await asyncio.start_server(SlowServer(delay_s=0.0).handle, "127.0.0.1", port)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve_forever(int(sys.argv[1])))
