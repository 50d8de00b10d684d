"""Fault-injection and true-state HTTP API on loopback (plain asyncio, JSON).

GET  /drones                       -> [snapshot, ...]
GET  /drones/{i}                   -> snapshot (+ recent STATUSTEXT events)
POST /drones/{i}/faults/link_cut      {"duration_s": 30, "direction": "both|to_vehicle|from_vehicle", "link": "api|gcs"?}
POST /drones/{i}/faults/gps_loss      {"duration_s": 20}
POST /drones/{i}/faults/battery_drop  {"fraction": 0.06}
POST /drones/{i}/faults/wind          {"speed_mps": 8, "from_deg": 270, "gust_mps": 3}
POST /drones/{i}/faults/refuse_next_command  {"result": 1}
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import Any

from .errors import SimControlError
from .fleet import SimFleet

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 16_384
READ_TIMEOUT_S = 5.0
_DIRECTIONS = {"both": (True, True), "to_vehicle": (True, False), "from_vehicle": (False, True)}


def _number(
    body: dict[str, Any],
    key: str,
    default: float | None = None,
    lo: float = -math.inf,
    hi: float = math.inf,
) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SimControlError(f"{key} must be a finite number")
    if not lo <= value <= hi:
        raise SimControlError(f"{key} must be within {lo}..{hi}")
    return float(value)


def apply_fault(fleet: SimFleet, index: int, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Apply one fault to drone `index`; raises SimControlError on bad input (nothing changes then)."""
    drone = fleet.drone(index)
    if kind == "link_cut":
        duration = _number(body, "duration_s", lo=0.0, hi=86_400.0)
        direction = str(body.get("direction", "both"))
        if direction not in _DIRECTIONS:
            raise SimControlError(f"direction must be one of {sorted(_DIRECTIONS)}")
        link = body.get("link")
        if link is not None and link not in {lk.name for lk in drone.links}:
            raise SimControlError(f"unknown link {link!r}")
        inbound, outbound = _DIRECTIONS[direction]
        drone.fault_link_cut(duration, inbound, outbound, link)
    elif kind == "gps_loss":
        drone.fault_gps_loss(_number(body, "duration_s", lo=0.0, hi=86_400.0))
    elif kind == "battery_drop":
        drone.fault_battery_drop(_number(body, "fraction", lo=0.0, hi=1.0))
    elif kind == "wind":
        drone.fault_wind(
            _number(body, "speed_mps", lo=0.0, hi=60.0),
            _number(body, "from_deg", 0.0, lo=0.0, hi=360.0),
            _number(body, "gust_mps", 0.0, lo=0.0, hi=30.0),
        )
    elif kind == "refuse_next_command":
        result = int(_number(body, "result", 1, lo=1, hi=4))
        drone.fault_refuse_next_command(result)
    else:
        raise SimControlError(f"unknown fault {kind!r}")
    return {"drone": index, "fault": kind, "applied": True}


class ControlServer:
    """A tiny HTTP/1.1 server (one request per connection) bound to 127.0.0.1."""

    def __init__(self, fleet: SimFleet, port: int, host: str = "127.0.0.1") -> None:
        self.fleet = fleet
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, payload = await asyncio.wait_for(self._handle(reader), READ_TIMEOUT_S)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError):
            status, payload = 400, {"error": "bad request"}
        body = json.dumps(payload).encode()
        reason = {
            200: "OK",
            400: "Bad Request",
            404: "Not Found",
            405: "Method Not Allowed",
            413: "Payload Too Large",
        }
        head = (
            f"HTTP/1.1 {status} {reason.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        try:
            writer.write(head.encode() + body)
            await asyncio.wait_for(writer.drain(), READ_TIMEOUT_S)
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader) -> tuple[int, Any]:
        request_line = (await reader.readline()).decode("latin-1").strip()
        parts = request_line.split()
        if len(parts) != 3:
            return 400, {"error": "bad request line"}
        method, path, _ = parts
        length = 0
        while True:
            line = (await reader.readline()).decode("latin-1").strip()
            if not line:
                break
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length > MAX_BODY_BYTES or length < 0:
            return 413, {"error": "body too large"}
        raw = await reader.readexactly(length) if length else b""
        return self.route(method, path, raw)

    def route(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        """Dispatch one request (also usable without a socket)."""
        segs = [s for s in path.split("?", 1)[0].split("/") if s]
        try:
            if segs == ["drones"] and method == "GET":
                return 200, [d.snapshot().as_dict() for d in self.fleet.drones]
            if len(segs) >= 2 and segs[0] == "drones":
                try:
                    index = int(segs[1])
                except ValueError:
                    return 404, {"error": f"unknown drone {segs[1]!r}"}
                if len(segs) == 2 and method == "GET":
                    d = self.fleet.drone(index)
                    return 200, {**d.snapshot().as_dict(), "events": [t for _, t in d.events[-20:]]}
                if len(segs) == 4 and segs[2] == "faults":
                    if method != "POST":
                        return 405, {"error": "use POST"}
                    body = json.loads(raw or b"{}")
                    if not isinstance(body, dict):
                        return 400, {"error": "body must be a JSON object"}
                    return 200, apply_fault(self.fleet, index, segs[3], body)
            return 404, {"error": "not found"}
        except json.JSONDecodeError:
            return 400, {"error": "body is not JSON"}
        except SimControlError as exc:
            status = 404 if "no drone" in str(exc) else 400
            return status, {"error": str(exc)}
