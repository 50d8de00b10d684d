"""`dfr-sim`: simulated drones, a simulated CAD, and SITL scenarios."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="dfr-sim",
    help="Simulated PX4-compatible drones, a simulated CAD, and SITL scenarios.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Simulated PX4-compatible drones, a simulated CAD, and SITL scenarios."""


# Subcommands register themselves below (one line each, lazily importing their module).


@app.command(
    "fleet",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def fleet(ctx: typer.Context) -> None:
    """Run N simulated PX4-compatible drones; `fleet fault|state` talk to a running fleet (--help for options)."""
    from simulator.vehicle.cli import app as fleet_app

    fleet_app(list(ctx.args), prog_name="dfr-sim fleet")


@app.command(
    "cad",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
    help="The simulated CAD (see `dfr-sim cad --help`).",
)
def _cad(ctx: typer.Context) -> None:
    from simulator.cad.cli import app as cad_app

    cad_app(args=ctx.args, prog_name="dfr-sim cad")


@app.command(
    "residents",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
    help="Simulated residents: register cameras, answer footage requests (`dfr-sim residents --help`).",
)
def _residents(ctx: typer.Context) -> None:
    from simulator.residents.cli import app as residents_app

    residents_app(args=ctx.args, prog_name="dfr-sim residents")


from simulator.scenarios.cli import app as _scenario_app  # noqa: E402 - light: typer only

app.add_typer(_scenario_app, name="scenario")


def main() -> None:
    """Console-script entry point."""
    app()
