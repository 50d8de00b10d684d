"""`dfr-sim residents`: simulated residents beside a running service (its mail sink on)."""

from __future__ import annotations

import asyncio
import logging

import httpx
import typer

from simulator.residents.run import Residents, ResidentsConfig
from simulator.vehicle.camera import CameraConfig, SimCamera
from simulator.vehicle.camera_render import CameraPose

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
    business_camera_port: int = typer.Option(
        0, min=0, max=65535, help="stream a business's camera (H.264 over RTP) to this UDP port"
    ),
    business_camera_at: str = typer.Option("38.8400,-104.7560", help="lat,lon of that camera"),
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
        async with asyncio.TaskGroup() as tasks:
            if business_camera_port:
                tasks.create_task(business_camera(business_camera_port, business_camera_at))
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                await Residents(config, client).run()

    asyncio.run(main())


async def business_camera(port: int, at: str) -> None:
    """A shop's camera over its door: a fixed view, streamed as PX4 SITL streams (RTP/UDP)."""
    lat, lon = (float(v) for v in at.split(","))
    pose = CameraPose(lat, lon, 6.0, 90.0, -20.0)
    config = CameraConfig(port=port, width_px=640, height_px=360, fps=15, label="shop camera")
    await SimCamera(config, lambda: pose).run()
