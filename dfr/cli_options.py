"""Options and settings loading shared by every `dfr` command group."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dfr.log_format import configure_logging

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file (same names as DFR_* vars)")
]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="where data is stored")]


def cli_settings(config: Path | None, **overrides: Any) -> Any:
    """Settings from the file, the environment and the command's options; exit 2 when invalid."""
    from dfr.settings import load_settings

    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = load_settings(config, **clean)
    except Exception as exc:
        typer.echo(f"dfr: refusing to start: {exc}", err=True)
        raise typer.Exit(2) from exc
    if settings.log_format == "json":
        # The settings file may ask for JSON too, and they name the instance.
        configure_logging("json", instance_id=settings.instance_id)
    return settings
