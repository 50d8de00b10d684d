"""`dfr report annual --state IL|TX --year Y` and `dfr report monthly --month YYYY-MM`."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from dfr.cli_options import ConfigOpt, DataDirOpt, cli_settings

report_app = typer.Typer(help="Flight reports (state statutes, monthly).", no_args_is_help=True)

OutOpt = Annotated[Path | None, typer.Option("--out", help="write here (default: CSV to stdout)")]


def _recorded(recordings_root: Path) -> set[int]:
    found: set[int] = set()
    if recordings_root.is_dir():
        for folder in recordings_root.glob("flight-*"):
            suffix = folder.name.removeprefix("flight-")
            if suffix.isdigit() and any(p.is_file() for p in folder.iterdir()):
                found.add(int(suffix))
    return found


def _emit(report: object, out: Path | None, xlsx: bool, sheet: str) -> None:
    from dfr.reports import Report, write_csv, write_xlsx

    assert isinstance(report, Report)
    if xlsx:
        if out is None:
            typer.echo("dfr: --xlsx needs --out FILE.xlsx", err=True)
            raise typer.Exit(2)
        write_xlsx(report, out, sheet)
    elif out is None:
        sys.stdout.write(write_csv(report))
    else:
        out.write_text(write_csv(report), encoding="utf-8")
    typer.echo(f"{len(report.rows)} rows", err=True)


@report_app.command("annual")
def annual(
    state: Annotated[
        str, typer.Option("--state", help="IL (725 ILCS 167/35) or TX (Gov't Code 423.008)")
    ],
    year: Annotated[int, typer.Option("--year", min=2000, max=2100)],
    out: OutOpt = None,
    xlsx: Annotated[bool, typer.Option("--xlsx", help="write an .xlsx workbook to --out")] = False,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """One row per drone use in the year, with every column the state's statute asks for."""
    from sqlmodel import Session

    from dfr.db import make_engine, upgrade_schema
    from dfr.reports import annual_report

    code = state.strip().upper()
    if code not in ("IL", "TX"):
        typer.echo(f"dfr: --state must be IL or TX, not {state!r}", err=True)
        raise typer.Exit(2)
    settings = cli_settings(config, data_dir=data_dir)
    upgrade_schema(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            report = annual_report(
                session,
                state="IL" if code == "IL" else "TX",
                year=year,
                agency_id=_agency_id(session),
                recorded=_recorded(settings.data_dir / "recordings"),
            )
    finally:
        engine.dispose()
    _emit(report, out, xlsx, f"{code} {year}")


@report_app.command("monthly")
def monthly(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    out: OutOpt = None,
    xlsx: Annotated[bool, typer.Option("--xlsx", help="write an .xlsx workbook to --out")] = False,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Flights and flight hours in the month, by call type."""
    from sqlmodel import Session

    from dfr.db import make_engine, upgrade_schema
    from dfr.reports import monthly_report

    match = re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", month.strip())
    if match is None:
        typer.echo(f"dfr: --month must be YYYY-MM, not {month!r}", err=True)
        raise typer.Exit(2)
    settings = cli_settings(config, data_dir=data_dir)
    upgrade_schema(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            report = monthly_report(
                session,
                year=int(match[1]),
                month=int(match[2]),
                agency_id=_agency_id(session),
            )
    finally:
        engine.dispose()
    _emit(report, out, xlsx, f"flights {month}")


def _agency_id(session: object) -> str:
    from sqlmodel import Session, select

    from dfr.models import Agency

    assert isinstance(session, Session)
    first = session.exec(select(Agency.id).order_by(Agency.id)).first()
    return first or ""
