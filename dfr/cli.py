"""`dfr`: run the service, manage its database and tokens, run the demo."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from dfr import __version__
from dfr.cli_audit import audit_app, recordings_purge
from dfr.cli_map import map_app
from dfr.cli_options import ConfigOpt, DataDirOpt, cli_settings
from dfr.cli_report import report_app
from dfr.log_format import configure_logging

app = typer.Typer(
    name="dfr",
    help="DFR: Drone-as-First-Responder dispatch and telemetry service.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
recordings_app = typer.Typer(help="Video recordings (evidence).", no_args_is_help=True)
app.add_typer(recordings_app, name="recordings")
recordings_app.command("purge")(recordings_purge)
app.add_typer(audit_app, name="audit")
app.add_typer(report_app, name="report")
app.add_typer(map_app, name="map")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dfr {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version")
    ] = False,
) -> None:
    # Before any settings are read, so their own errors are logged in the requested format too.
    configure_logging(os.environ.get("DFR_LOG_FORMAT", "text"))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    fleet: Annotated[Path | None, typer.Option("--fleet", help="TOML fleet file")] = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option("--tls-cert", help="PEM certificate: serve HTTPS (with --tls-key)"),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="PEM private key of --tls-cert")
    ] = None,
) -> None:
    """Run the service (HTTP API, console, links, CAD delivery)."""
    from dfr.server import serve_app

    tls = {"tls_cert_file": tls_cert, "tls_key_file": tls_key}
    http = {k: v for k, v in tls.items() if v is not None} or None
    settings = cli_settings(
        config, host=host, port=port, fleet_file=fleet, data_dir=data_dir, http=http
    )
    serve_app(settings)


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Apply every schema migration."""
    from dfr.db import upgrade_schema

    settings = cli_settings(config, data_dir=data_dir)
    upgrade_schema(settings.database_url)
    typer.echo("database is at the latest schema", err=True)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin|dispatcher|pilot|analyst|tester|cad")],
    name: Annotated[str, typer.Option(help="who or what the token is for (unique)")],
    expires_in_s: Annotated[
        int | None,
        typer.Option(
            min=60, max=10 * 365 * 86_400, help="the token expires after this many seconds"
        ),
    ] = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create an API token and print it alone on standard output."""
    from datetime import timedelta

    from sqlmodel import select

    from dfr.db import make_engine, session_scope, upgrade_schema
    from dfr.models import ApiToken, Role, utcnow
    from dfr.tokens import create_token

    try:
        role_value = Role(role)
    except ValueError:
        typer.echo(f"dfr: unknown role {role!r}; one of {[r.value for r in Role]}", err=True)
        raise typer.Exit(2) from None
    settings = cli_settings(config, data_dir=data_dir)
    upgrade_schema(settings.database_url)
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        if session.exec(select(ApiToken).where(ApiToken.name == name)).first() is not None:
            typer.echo(f"dfr: a token named {name!r} already exists", err=True)
            raise typer.Exit(2)
        expires_at = None if expires_in_s is None else utcnow() + timedelta(seconds=expires_in_s)
        _, secret = create_token(session, name, role_value, expires_at=expires_at)
    engine.dispose()
    sys.stdout.write(secret + "\n")


@recordings_app.command("verify")
def recordings_verify(
    path: Annotated[Path, typer.Argument(help="a recording directory (holds manifest.json)")],
) -> None:
    """Re-hash every segment and re-check the manifest chain; exit 1 on the first problem."""
    from telemetry.video.manifest import verify_recording

    report = verify_recording(path)
    sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="port of the service")] = 8000,
    data_dir: DataDirOpt = Path("data/demo"),
    speedup: Annotated[
        float, typer.Option(min=1.0, max=50.0, help="simulated time speed-up")
    ] = 5.0,
    calls: Annotated[int, typer.Option(min=0, help="calls the simulated CAD posts")] = 40,
    interval_s: Annotated[
        float, typer.Option(min=1.0, help="seconds between simulated calls")
    ] = 45.0,
) -> None:
    """Run the demo: service, simulated fleet of Colorado Springs and a simulated CAD posting calls."""
    from dfr.demo import run_demo

    run_demo(
        port=port,
        data_dir=data_dir or Path("data/demo"),
        speedup=speedup,
        calls=calls,
        interval_s=interval_s,
    )


def main() -> None:
    """Console-script entry point."""
    app()
