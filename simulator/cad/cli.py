"""`dfr-sim cad`: run the simulated CAD alone, optionally posting calls to a DFR service."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import httpx
import typer

from simulator.cad.incidents import CallGenerator, SimIncident
from simulator.cad.patrols import Patrols, post_patrols
from simulator.cad.server import DfrPoster, SimulatedCad

app = typer.Typer(
    help="Simulated CAD: holds incidents, posts calls to DFR, records what DFR sends back.",
    no_args_is_help=True,
    add_completion=False,
)
log = logging.getLogger(__name__)


def load_script(path: Path) -> list[tuple[float, SimIncident]]:
    """A script: a JSON list of `{at_s, cad_incident_id, call_type, call_type_text?, priority, lat,
    lon, address?, status?, notes?}`; a repeated id is an update of that incident."""
    rows = json.loads(path.read_text())
    if not isinstance(rows, list):
        raise ValueError("a CAD script is a JSON list of calls")
    out = [
        (
            float(row.get("at_s", 0.0)),
            SimIncident(
                incident_id=str(row["cad_incident_id"]),
                call_type=str(row["call_type"]),
                call_type_text=str(row.get("call_type_text", "")),
                priority=int(row["priority"]),
                lat=float(row["lat"]),
                lon=float(row["lon"]),
                address=str(row.get("address", "")),
                received_at=datetime.now(UTC),
                status=str(row.get("status", "Active")),
                notes=[str(n) for n in row.get("notes", [])],
            ),
        )
        for row in rows
    ]
    return sorted(out, key=lambda r: r[0])


async def _run(
    port: int,
    dfr_url: str | None,
    token: str | None,
    wire_format: str,
    seed: int,
    count: int,
    interval_s: float,
    script: Path | None,
    cad_token: str | None,
    patrols: int = 0,
    patrol_interval_s: float = 5.0,
) -> None:
    cad = SimulatedCad(port=port, token=cad_token)
    await cad.start()
    sys.stdout.write(f"{cad.base_url}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with httpx.AsyncClient() as client:
        patrol_task: asyncio.Task[None] | None = None
        if dfr_url and token and patrols > 0:
            beat = Patrols(patrols, seed)
            patrol_task = asyncio.create_task(
                _patrol(client, dfr_url, token, beat, patrol_interval_s, stop)
            )
        if dfr_url and token:
            poster = DfrPoster(client, dfr_url, token, wire_format=wire_format)
            plan: list[tuple[float, SimIncident]]
            if script is not None:
                plan = load_script(script)
            else:
                generator = CallGenerator(seed)
                plan = [(i * interval_s, generator.next_incident()) for i in range(count)]
            started = loop.time()
            for at_s, incident in plan:
                delay = started + at_s - loop.time()
                if delay > 0:
                    try:
                        async with asyncio.timeout(delay):
                            await stop.wait()
                    except TimeoutError:
                        pass
                if stop.is_set():
                    break
                cad.add_incident(incident)
                cad.publisher.publish_incident(incident)
                try:
                    response = await poster.post(incident)
                    log.info("posted %s: %s", incident.incident_id, response.status_code)
                except httpx.TransportError as exc:
                    log.warning("DFR unreachable for %s: %s", incident.incident_id, exc)
        await stop.wait()
        if patrol_task is not None:
            await patrol_task
    await cad.close()


async def _patrol(
    client: httpx.AsyncClient,
    dfr_url: str,
    token: str,
    beat: Patrols,
    interval_s: float,
    stop: asyncio.Event,
) -> None:
    """Post the patrol units' positions every `interval_s` until `stop`."""
    while not stop.is_set():
        try:
            response = await post_patrols(client, dfr_url, token, beat.reports(interval_s))
            if response.status_code != 202:
                log.warning("DFR refused the patrol positions: %s", response.status_code)
        except httpx.TransportError as exc:
            log.warning("DFR unreachable for the patrol positions: %s", exc)
        try:
            async with asyncio.timeout(interval_s):
                await stop.wait()
        except TimeoutError:
            pass


@app.command("serve")
def serve(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1 (0 = any free port)")] = 0,
    dfr_url: Annotated[str | None, typer.Option(help="DFR base URL to post calls to")] = None,
    token: Annotated[str | None, typer.Option(help="DFR token with role cad")] = None,
    wire_format: Annotated[str, typer.Option("--format", help="plain or eido")] = "plain",
    seed: Annotated[int, typer.Option(help="generator seed")] = 1,
    count: Annotated[int, typer.Option(help="generated calls to post")] = 10,
    interval_s: Annotated[float, typer.Option(help="seconds between generated calls")] = 30.0,
    script: Annotated[Path | None, typer.Option(help="JSON script of calls instead")] = None,
    cad_token: Annotated[
        str | None, typer.Option(help="bearer token DFR must send to this CAD")
    ] = None,
    patrols: Annotated[
        int, typer.Option(help="patrol units whose positions are posted to DFR (AVL)")
    ] = 0,
    patrol_interval_s: Annotated[
        float, typer.Option(help="seconds between patrol position posts")
    ] = 5.0,
) -> None:
    """Run the simulated CAD; prints its base URL on standard output."""
    if wire_format not in ("plain", "eido"):
        raise typer.BadParameter("--format is plain or eido")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(
        _run(
            port,
            dfr_url,
            token,
            wire_format,
            seed,
            count,
            interval_s,
            script,
            cad_token,
            patrols,
            patrol_interval_s,
        )
    )


@app.command("generate")
def generate(
    seed: Annotated[int, typer.Option(help="generator seed")] = 1,
    count: Annotated[int, typer.Option(help="how many calls")] = 5,
    wire_format: Annotated[str, typer.Option("--format", help="plain or eido")] = "plain",
) -> None:
    """Print generated calls as JSON lines (plain or EIDO documents)."""
    from simulator.cad.documents import eido_document, plain_document

    generator = CallGenerator(seed)
    for _ in range(count):
        incident = generator.next_incident()
        doc = eido_document(incident) if wire_format == "eido" else plain_document(incident)
        sys.stdout.write(json.dumps(doc) + "\n")
