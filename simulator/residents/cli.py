"""`dfr-sim residents`: simulated residents beside a running service (its mail sink on)."""

from __future__ import annotations

import asyncio
import logging

import httpx
import typer

from simulator.residents.run import Residents, ResidentsConfig

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def residents(
    url: str = typer.Option(..., help="the service's base URL"),
    tester_token: str = typer.Option(..., help="a tester token (reads the demo mailbox)"),
    count: int = typer.Option(30, min=1, max=500),
    center: str = typer.Option("38.85,-104.75", help="lat,lon of the neighbourhood"),
    radius_m: float = typer.Option(3000.0, min=1.0),
    answer_rate: float = typer.Option(0.5, min=0.0, max=1.0),
    seed: int = typer.Option(1),
) -> None:
    """Register COUNT residents' cameras around CENTER and answer some footage requests."""
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not every mailbox poll
    lat, lon = (float(v) for v in center.split(","))
    config = ResidentsConfig(
        base_url=url,
        tester_token=tester_token,
        count=count,
        center_lat=lat,
        center_lon=lon,
        radius_m=radius_m,
        answer_rate=answer_rate,
        seed=seed,
    )

    async def main() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            await Residents(config, client).run()

    asyncio.run(main())
