"""`dfr-sim fleet`: run N simulated drones; `dfr-sim fleet fault|state` talk to a running fleet's control API."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import signal
from pathlib import Path
from typing import Annotated

import httpx
import typer

from .camera_fleet import FleetCameraOptions, parse_camera_size
from .control import ControlServer
from .errors import SimVehicleError
from .fleet import (
    PX4_API_BASE_PORT,
    PX4_CLIENT_BASE_PORT,
    PX4_GCS_BASE_PORT,
    VIDEO_BASE_PORT,
    FleetConfig,
    SimFleet,
    build_fleet_config,
    load_fleet_file,
    with_cameras,
    with_signing_dir,
)

DEFAULT_CONTROL_PORT = 8799
DEFAULT_HOME = "47.397742,8.545594"  # PX4 SITL's default home (Zurich)

app = typer.Typer(
    help="Simulated PX4-compatible drones (one process, real MAVLink over UDP).",
    invoke_without_command=True,
)


def _parse_home(text: str) -> tuple[float, float, float]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (2, 3):
        raise typer.BadParameter(f"home must be LAT,LON[,ALT_AMSL_M], got {text!r}")
    try:
        values = [float(p) for p in parts]
    except ValueError as exc:
        raise typer.BadParameter(f"home must be numbers, got {text!r}") from exc
    return values[0], values[1], values[2] if len(values) == 3 else 488.0


async def _run(cfg: FleetConfig, control_port: int) -> None:
    fleet = SimFleet(cfg)
    await fleet.start()
    control = ControlServer(fleet, control_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await control.start()
        for d in fleet.drones:
            c = d.cfg
            typer.echo(
                f"drone {d.index} sysid {d.sysid}: api udp {c.host}:{c.api_port} -> {c.client_port}"
                + (f", gcs {c.gcs_port} -> {c.gcs_remote_port}" if c.gcs_port else "")
                + f", video {c.video_port}"
                + (" (camera on)" if cfg.camera is not None else "")
            )
        typer.echo(
            f"control API http://127.0.0.1:{control.port}  speed-up {cfg.speedup}x  (Ctrl-C stops)"
        )
        await stop.wait()
    finally:
        await control.stop()
        await fleet.stop()
        typer.echo("fleet stopped")


@app.callback()
def fleet(
    ctx: typer.Context,
    drones: Annotated[
        int, typer.Option("--drones", "-n", min=1, max=500, help="Number of drones")
    ] = 1,
    speedup: Annotated[float, typer.Option(min=1.0, max=50.0, help="Simulation speed-up")] = 1.0,
    home: Annotated[list[str] | None, typer.Option(help="LAT,LON[,ALT] per drone (cycled)")] = None,
    fleet_file: Annotated[
        Path | None, typer.Option("--fleet", help="Service TOML fleet file")
    ] = None,
    api_base_port: Annotated[
        int, typer.Option(help="Vehicle-side API port of drone 0")
    ] = PX4_API_BASE_PORT,
    client_base_port: Annotated[
        int, typer.Option(help="Client port drone 0 sends to")
    ] = PX4_CLIENT_BASE_PORT,
    gcs_base_port: Annotated[
        int, typer.Option(help="GCS link port of drone 0 (0 = no GCS link)")
    ] = PX4_GCS_BASE_PORT,
    control_port: Annotated[
        int, typer.Option(help="Control API port on 127.0.0.1")
    ] = DEFAULT_CONTROL_PORT,
    seed: Annotated[int, typer.Option(help="Seed for gusts and GPS noise")] = 0,
    camera: Annotated[
        bool, typer.Option("--camera/--no-camera", help="Stream each drone's camera (RTP/H.264)")
    ] = False,
    video_base_port: Annotated[
        int,
        typer.Option(
            min=1,
            max=65535,
            help="UDP video port of drone 0 (PX4 SITL: 5600); a fleet file's video_url wins",
        ),
    ] = VIDEO_BASE_PORT,
    camera_fps: Annotated[int, typer.Option(min=1, max=60, help="Camera frame rate")] = 10,
    camera_size: Annotated[str, typer.Option(help="Camera picture WIDTHxHEIGHT")] = "640x360",
    dock_charge_min: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=600.0,
            help="Simulated minutes to charge an empty battery on the dock after a flight "
            "(0 = full at disarm, as PX4 SITL)",
        ),
    ] = 0.0,
    signing_dir: Annotated[
        Path | None,
        typer.Option(
            help="Directory where each drone keeps its MAVLink signing key across restarts "
            "(as PX4 keeps it on its storage); a fleet file's signing_key preloads it"
        ),
    ] = None,
) -> None:
    """Run the fleet (unless a subcommand was given)."""
    if ctx.invoked_subcommand is not None:
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        gcs = gcs_base_port or None
        if fleet_file is not None:
            cfg = load_fleet_file(
                fleet_file,
                speedup=speedup,
                gcs_base_port=gcs,
                video_base_port=video_base_port,
                seed=seed,
                dock_charge_s=dock_charge_min * 60.0,
            )
        else:
            homes = [_parse_home(h) for h in (home or [DEFAULT_HOME])]
            cfg = build_fleet_config(
                drones,
                homes,
                speedup=speedup,
                api_base_port=api_base_port,
                client_base_port=client_base_port,
                gcs_base_port=gcs,
                video_base_port=video_base_port,
                seed=seed,
                dock_charge_s=dock_charge_min * 60.0,
            )
        if signing_dir is not None:
            cfg = with_signing_dir(cfg, signing_dir)
        if camera:
            width_px, height_px = parse_camera_size(camera_size)
            cfg = with_cameras(
                cfg, FleetCameraOptions(width_px=width_px, height_px=height_px, fps=camera_fps)
            )
        # A full collection over the imported heap pauses the loop for a few tenths of a second: at
        # x20 that is seconds of vehicle time without a GCS heartbeat. Frozen, it stays out of them.
        gc.collect()
        gc.freeze()
        asyncio.run(_run(cfg, control_port))
    except SimVehicleError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except KeyboardInterrupt:
        pass


def _call(method: str, url: str, body: dict[str, object] | None = None) -> None:
    try:
        resp = httpx.request(method, url, json=body, timeout=5.0)
    except httpx.HTTPError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(resp.json(), indent=2))
    if resp.status_code != 200:
        raise typer.Exit(1)


@app.command("state")
def state(
    drone: Annotated[int | None, typer.Argument(help="Drone index (all if omitted)")] = None,
    control_port: Annotated[int, typer.Option(help="Control API port")] = DEFAULT_CONTROL_PORT,
) -> None:
    """Print true state of the drones of a running fleet."""
    path = "/drones" if drone is None else f"/drones/{drone}"
    _call("GET", f"http://127.0.0.1:{control_port}{path}")


@app.command("fault")
def fault(
    drone: Annotated[int, typer.Argument(help="Drone index")],
    kind: Annotated[
        str, typer.Argument(help="link_cut | gps_loss | battery_drop | wind | refuse_next_command")
    ],
    duration_s: Annotated[
        float | None, typer.Option(help="link_cut / gps_loss duration (simulated s)")
    ] = None,
    direction: Annotated[
        str, typer.Option(help="link_cut: both | to_vehicle | from_vehicle")
    ] = "both",
    fraction: Annotated[
        float | None, typer.Option(help="battery_drop: remaining charge 0..1")
    ] = None,
    speed_mps: Annotated[float | None, typer.Option(help="wind speed")] = None,
    from_deg: Annotated[float, typer.Option(help="wind direction (from)")] = 0.0,
    gust_mps: Annotated[float, typer.Option(help="gust amplitude")] = 0.0,
    result: Annotated[int, typer.Option(help="refuse_next_command: MAV_RESULT to answer")] = 1,
    control_port: Annotated[int, typer.Option(help="Control API port")] = DEFAULT_CONTROL_PORT,
) -> None:
    """Inject a fault into a running fleet."""
    body: dict[str, object] = {
        "direction": direction,
        "from_deg": from_deg,
        "gust_mps": gust_mps,
        "result": result,
    }
    if duration_s is not None:
        body["duration_s"] = duration_s
    if fraction is not None:
        body["fraction"] = fraction
    if speed_mps is not None:
        body["speed_mps"] = speed_mps
    _call("POST", f"http://127.0.0.1:{control_port}/drones/{drone}/faults/{kind}", body)
