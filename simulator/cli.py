"""`dfr-sim`: simulated drones, a simulated CAD, and SITL scenarios."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="dfr-sim",
    help="Simulated PX4-compatible drones, a simulated CAD, and SITL scenarios.",
    no_args_is_help=True,
    add_completion=False,
)

# Subcommands register themselves below (one line each, lazily importing their module).


def main() -> None:
    """Console-script entry point."""
    app()
