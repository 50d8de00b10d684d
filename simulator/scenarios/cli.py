"""`dfr-sim scenario run`: run configurations or scenarios, show progress, write the report."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from simulator.scenarios.config import RunPlan, ScenarioEntry
    from simulator.scenarios.record import RunRecord, ScenarioRecord

app = typer.Typer(help="SITL scenarios: run them and write a report.", no_args_is_help=True)

EXIT_BAD_INPUT = 2
_OUTCOME_STYLE = {
    "passed": "green",
    "failed": "red",
    "error": "magenta",
    "not_implemented": "yellow",
    "skipped": "yellow",
}


class _RichListener:
    """Progress lines on standard error."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def scenario_started(self, index: int, total: int, entry: ScenarioEntry) -> None:
        title = entry.scenario_type.documentation().title
        self.console.print(f"[bold]({index + 1}/{total})[/bold] {title} …")

    def scenario_finished(self, index: int, total: int, record: ScenarioRecord) -> None:
        style = _OUTCOME_STYLE.get(record.outcome.value, "white")
        self.console.print(
            f"    [{style}]{record.outcome.value}[/{style}] in {record.duration_s:.1f} s"
        )
        for check in record.checks():
            if check.outcome.value == "failed":
                self.console.print(
                    f"    [red]✗[/red] {check.severity.icon} {check.name}: {check.summary}"
                )
        if record.error:
            style = _OUTCOME_STYLE["skipped" if record.outcome.value == "skipped" else "error"]
            self.console.print(f"    [{style}]{record.error}[/{style}]")


def _plan(targets: list[str]) -> RunPlan:
    from simulator.scenarios.config import load_config, plan_for_scenarios

    configs = [t for t in targets if t.endswith((".yaml", ".yml"))]
    scenarios = [t for t in targets if t not in configs]
    if configs and scenarios:
        raise typer.BadParameter("give either configuration files or scenarios, not both")
    if len(configs) > 1:
        plans = [load_config(Path(c)) for c in configs]
        merged = plans[0]
        for other in plans[1:]:
            merged.resources.update(other.resources)
            merged.scenarios += other.scenarios
        return merged
    if configs:
        return load_config(Path(configs[0]))
    return plan_for_scenarios(scenarios)


async def _run_cancellable(plan: RunPlan, **kwargs: object) -> RunRecord:
    from simulator.scenarios.runner import run_plan

    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    assert task is not None
    # SIGTERM cancels like Ctrl-C, so every child process is stopped in the runner's finally blocks.
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    return await run_plan(plan, **kwargs)  # type: ignore[arg-type]


@app.command("run")
def run(
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="configuration YAML files, or scenario names / .py files"),
    ] = None,
    speedup: Annotated[
        float | None, typer.Option("--speedup", help="simulator speed-up (1..50)")
    ] = None,
    vehicle: Annotated[
        list[str] | None,
        typer.Option(
            "--vehicle",
            help="external vehicle MAVLink URL (udpin://HOST:PORT[?gcs=HOST:PORT]) instead of "
            "starting the simulator; repeat per vehicle",
        ),
    ] = None,
    vehicle_timeout: Annotated[
        float | None,
        typer.Option(
            "--vehicle-timeout",
            help="seconds an external vehicle has to send its first heartbeat (default 30)",
        ),
    ] = None,
    report_dir: Annotated[
        Path | None, typer.Option("--report-dir", help="where to write the report")
    ] = None,
    keep_work_dir: Annotated[
        bool, typer.Option("--keep-work-dir", help="keep process logs and data of the run")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log details")] = False,
) -> None:
    """Run scenarios; exit 1 when a high or critical check fails (or a scenario errs), 2 on bad input."""
    from rich.console import Console

    from simulator.scenarios.config import CONFIG_DIR
    from simulator.scenarios.errors import ScenarioError
    from simulator.scenarios.report import write_report

    console = Console(stderr=True)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if speedup is not None and not (1.0 <= speedup <= 50.0):
        console.print(f"[red]--speedup must be within 1..50, got {speedup:g}[/red]")
        raise typer.Exit(EXIT_BAD_INPUT)
    if vehicle_timeout is not None and not (0.0 < vehicle_timeout <= 3600.0):
        console.print(
            f"[red]--vehicle-timeout must be within 0..3600 s, got {vehicle_timeout:g}[/red]"
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        plan = _plan(targets or [str(CONFIG_DIR / "ci.yaml")])
    except (ScenarioError, typer.BadParameter) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not plan.scenarios:
        console.print(f"[red]error:[/red] {plan.path or 'the arguments'} name no scenario")
        raise typer.Exit(EXIT_BAD_INPUT)
    console.print(
        f"[bold]{plan.name}[/bold]: {len(plan.scenarios)} scenario(s), "
        f"speed-up {speedup or plan.speedup:g}x"
        + (f", external vehicles {', '.join(vehicle)}" if vehicle else "")
    )
    try:
        record = asyncio.run(
            _run_cancellable(
                plan,
                speedup=speedup,
                vehicle_urls=tuple(vehicle or ()),
                vehicle_timeout_s=vehicle_timeout,
                listener=_RichListener(console),
                keep_work_dir=keep_work_dir,
            )
        )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; every started process was stopped[/yellow]")
        raise typer.Exit(130) from None
    directory = report_dir or Path("reports") / "scenarios" / datetime.now(UTC).strftime(
        "%Y%m%dT%H%M%SZ"
    )
    files = write_report(record, directory)
    console.print(f"report: {files.html} (JUnit {files.junit.name}, JSON {files.json.name})")
    if record.aborted:
        console.print(f"[red]run stopped:[/red] {record.aborted}")
        raise typer.Exit(EXIT_BAD_INPUT if record.abort_kind == "bad_input" else 1)
    if not record.passed:
        console.print("[red]FAILED[/red]: a high or critical check failed, or a scenario erred")
        raise typer.Exit(1)
    skipped = sum(1 for s in record.scenarios if s.outcome.value == "skipped")
    console.print("[green]passed[/green]" + (f" ({skipped} skipped)" if skipped else ""))
