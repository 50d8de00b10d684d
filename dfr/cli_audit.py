"""`dfr audit verify` (walk the audit hash chain) and `dfr recordings purge` (apply retention)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dfr.cli_options import ConfigOpt, DataDirOpt, cli_settings

audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Walk the audit hash chain; print the report; exit 1 at the first broken row."""
    from dfr.audit import verify_chain
    from dfr.db import make_engine, upgrade_schema

    settings = cli_settings(config, data_dir=data_dir)
    upgrade_schema(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        report = verify_chain(engine)
    finally:
        engine.dispose()
    sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    if not report.ok:
        typer.echo(
            f"dfr: the audit chain is broken at row {report.first_bad_id}: {report.problem}",
            err=True,
        )
        raise typer.Exit(1)


def recordings_purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="list what is due, delete nothing")
    ] = False,
    fleet: Annotated[
        Path | None, typer.Option("--fleet", help="TOML fleet file (its retention table)")
    ] = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Delete the recordings, snapshots, flight paths and audit rows the retention policy says
    are due (held recordings are kept); print what went, one audit row per deletion."""
    from dfr.db import make_engine, upgrade_schema
    from dfr.fleet import read_fleet_file
    from dfr.retention import RetentionJob

    settings = cli_settings(config, data_dir=data_dir, fleet_file=fleet)
    if settings.fleet_file is None:
        typer.echo("dfr: no fleet file, so no [retention] policy: nothing is due", err=True)
    policy = None if settings.fleet_file is None else read_fleet_file(settings.fleet_file).retention
    upgrade_schema(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        report = RetentionJob(engine, settings.data_dir, policy).purge(dry_run=dry_run)
    finally:
        engine.dispose()
    sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    if report.failed:
        raise typer.Exit(1)
