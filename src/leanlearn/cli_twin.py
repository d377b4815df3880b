"""``leanlearn twin ...``: the digital twin of a line — simulate a line spec, and what-if over kanban, WIP, batch.

Thin: read the spec (:func:`leanlearn.twin.load_spec`), call :func:`leanlearn.twin.simulation` or
:func:`leanlearn.twin.what_if`, print rich tables for people or ``--json`` (only JSON on stdout) for scripts.
``calibrate`` and ``check`` are registered on the same group by :mod:`leanlearn.cli_twin_calibrate`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from leanlearn._util import help_text

if TYPE_CHECKING:
    from leanlearn.twin.simulation import SimulationResult
    from leanlearn.twin.what_if import WhatIfResult

app = typer.Typer(
    name="twin",
    help=(
        "The digital twin of a line: a discrete-event simulation (SimPy) of stations with cycle-time "
        "distributions, setups, breakdowns, buffers, shifts and a release policy (push, CONWIP, kanban, replay).\n\n"
        "\b\n"
        "  leanlearn twin simulate line.yaml --horizon 2000 --replications 10\n"
        "  leanlearn twin whatif line.yaml --vary wip=1..12 --target-throughput 0.7 --plot front.png\n"
        "  leanlearn twin whatif line.yaml --vary kanban=1..12 --vary batch=1,5,10 --json"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def command(func: Callable[..., None]) -> Callable[..., None]:
    """Register ``func`` on the group, its docstring reflowed as :mod:`leanlearn.cli` does for its commands."""
    text = help_text(func.__doc__)
    return app.command(name=func.__name__.rstrip("_"), help=text)(func)


SpecArgument = Annotated[Path, typer.Argument(metavar="SPEC.yaml", help="The line spec (see `leanlearn twin`).")]
HorizonOption = Annotated[
    float, typer.Option("--horizon", metavar="T", help="Simulated time per replication, in the spec's time unit.")
]
WarmupOption = Annotated[
    float | None, typer.Option("--warmup", metavar="T", help="Initial time left out of the KPIs (default: a tenth "
                                                            "of the horizon).")
]
SeedOption = Annotated[int, typer.Option("--seed", metavar="S", help="Seed of the replications' random streams.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def _check_times(horizon: float, warmup: float | None) -> float:
    from leanlearn.cli import _fail

    if not (math.isfinite(horizon) and horizon > 0):
        raise _fail(f"--horizon {horizon:g} must be a positive time; e.g. --horizon 2000")
    warm = horizon / 10 if warmup is None else warmup
    if not (math.isfinite(warm) and 0 <= warm < horizon):
        raise _fail(f"--warmup {warm:g} must be at least 0 and below --horizon {horizon:g}")
    return warm


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}g}"


def _interval(low: Any, high: Any) -> str:
    if low is None or high is None or (isinstance(low, float) and math.isnan(low)):
        return "—"
    return f"[{_fmt(low)}, {_fmt(high)}]"


def _print_simulation(result: SimulationResult) -> None:
    from rich.table import Table
    from rich.text import Text

    from leanlearn.cli import _console, _printable, _say

    console = _console()
    spec = result.spec
    table = Table(title=f"twin simulate: {_printable(spec.line)} ({spec.release.policy})", title_justify="left",
                  show_edge=False, header_style="bold")
    for name, justify in (("KPI", "left"), ("mean", "right"), ("95 % interval", "right"), ("unit", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for kpi, row in result.summary.iterrows():
        table.add_row(Text(_printable(kpi)), _fmt(row["mean"]), _interval(row["low"], row["high"]), row["unit"])
    console.print(table)
    _say(console, f"{len(result.replications)} replication(s) of {result.horizon:g} {spec.time_unit} "
                  f"(warm-up {result.warmup:g}), seed {result.seed}, {result.events:,} simulated events", "dim")


@command
def simulate(
    spec_file: SpecArgument,
    horizon: HorizonOption = 1000.0,
    warmup: WarmupOption = None,
    replications: Annotated[int, typer.Option("--replications", "-r", metavar="R", help="Independent "
                                              "replications (the 95 % intervals are over them).")] = 5,
    seed: SeedOption = 0,
    out: Annotated[Path | None, typer.Option("--out", metavar="DIR", help="Write the first replication's "
                                             "operations, downtime and orders tables (CSV) here.")] = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Simulate a line spec: throughput, WIP, lead time (mean, p50, p90) and per-station utilization, each with a
    95 % interval over the replications.

    KPIs count only the time after the warm-up. The tables written with --out are canonical operations and downtime
    tables, so `leanlearn` value-stream analysis runs on them as on real data.

    \b
    [bold]Examples[/bold]
      leanlearn twin simulate line.yaml
      leanlearn twin simulate line.yaml --horizon 5000 --warmup 500 --replications 20 --seed 7
      leanlearn twin simulate line.yaml --out sim/ --json > kpis.json
    """
    from leanlearn.cli import _about, _console, _fail, _say, _user_errors
    from leanlearn.twin.spec import SpecError

    warm = _check_times(horizon, warmup)
    if replications < 1:
        raise _fail(f"--replications {replications} must be at least 1; e.g. --replications 5")
    with _user_errors():
        from leanlearn.twin.simulation import simulate as run
        from leanlearn.twin.spec import load_spec

        spec = load_spec(spec_file)
        with _about(spec_file, SpecError):
            result = run(spec, horizon, warm, replications, seed, progress=not quiet and not json_out)
        written = []
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            first = result.replications[0]
            for name, frame in (("operations", first.operations), ("downtime", first.downtime),
                                ("orders", first.orders)):
                path = out / f"{name}.csv"
                frame.to_csv(path, index=False)
                written.append(path)
    if json_out:
        doc = result.to_json()
        if written:
            doc["written"] = [str(p) for p in written]
        typer.echo(json.dumps(doc, indent=2))
        return
    _print_simulation(result)
    for path in written:
        _say(_console(), f"wrote {path}")


def _print_whatif(result: WhatIfResult) -> None:
    from rich.table import Table
    from rich.text import Text

    from leanlearn.cli import _console, _printable, _say

    console = _console()
    unit = result.time_unit
    table = Table(title=f"twin whatif: {len(result.table)} point(s) ({result.search})", title_justify="left",
                  show_edge=False, header_style="bold")
    for key in result.keys:
        table.add_column(_printable(key), justify="right")
    for name in (f"throughput /{unit} [95 %]", "inventory", "lead time", "service level", "front"):
        table.add_column(name, justify="right")
    point = result.recommendation.get("point", {})
    for row in result.table.to_dict("records"):
        chosen = all(row[k] == v for k, v in point.items())
        style = "bold green" if chosen else ""
        table.add_row(*[Text(_fmt(row[k]), style=style) for k in result.keys],
                      Text(f"{_fmt(row['throughput'])} {_interval(row['throughput_low'], row['throughput_high'])}",
                           style=style),
                      _fmt(row["inventory"]), _fmt(row["lead_time_mean"]), _fmt(row["service_level"], 3),
                      "●" if row["pareto"] else "")
    console.print(table)
    rec = result.recommendation
    where = ", ".join(f"{k}={_fmt(v)}" for k, v in rec.get("point", {}).items())
    _say(console, _printable(f"recommendation: {where} — {rec.get('reason', '')}"),
         "green" if rec.get("meets_target") else "yellow")


@command
def whatif(
    spec_file: SpecArgument,
    vary: Annotated[list[str], typer.Option("--vary", metavar="KEY=VALUES", help="A key and its values: a range "
                                            "1..12 (step 1..12:2) or a list 1,5,10. Keys: wip, kanban, kanban.S1, "
                                            "batch, batch.A, capacity.S1, buffer.S1, or a dotted spec path.")],
    target_throughput: Annotated[float | None, typer.Option("--target-throughput", metavar="X", help="Jobs per "
                                                            "time unit the recommendation must reach.")] = None,
    target_service_level: Annotated[float | None, typer.Option("--target-service-level", metavar="F",
                                                               help="Share of demand served from stock at once "
                                                                    "(kanban with demand).")] = None,
    horizon: HorizonOption = 1000.0,
    warmup: WarmupOption = None,
    replications: Annotated[int, typer.Option("--replications", "-r", metavar="R", help="Replications per point "
                                              "(same seeds at every point).")] = 3,
    seed: SeedOption = 0,
    search: Annotated[str, typer.Option("--search", metavar="MODE", help="auto | grid | bisect (bisect a level "
                                        "such as wip or kanban for the least one meeting the target).")] = "auto",
    plot: Annotated[Path | None, typer.Option("--plot", metavar="P.png", help="Chart of throughput vs "
                                              "inventory with the front.")] = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """What-if over kanban cards, CONWIP level, batch size, capacity, ...: the Pareto front of throughput vs
    inventory and lead time (with service level), and a recommendation with its interval.

    The recommendation is the point of least inventory whose mean throughput meets --target-throughput (and
    --target-service-level); the reason says whether its whole 95 % interval does. A large grid with a level key
    (wip, kanban, capacity) and a target is searched by bisection on the level instead of point by point.

    \b
    [bold]Examples[/bold]
      leanlearn twin whatif line.yaml --vary wip=1..12 --target-throughput 0.7
      leanlearn twin whatif line.yaml --vary kanban=1..12 --vary batch=1,5,10 --plot front.png
      leanlearn twin whatif line.yaml --vary kanban.S2=1..8 --target-service-level 0.95 --json
    """
    from leanlearn.cli import _about, _console, _fail, _say, _user_errors
    from leanlearn.twin.spec import SpecError

    warm = _check_times(horizon, warmup)
    if replications < 1:
        raise _fail(f"--replications {replications} must be at least 1; e.g. --replications 3")
    if plot is not None and plot.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise _fail(f"--plot {plot}: give a file name ending in .png, .svg or .pdf")
    with _user_errors():
        from leanlearn.twin.spec import load_spec
        from leanlearn.twin.what_if import parse_vary
        from leanlearn.twin.what_if import whatif as run

        grid: dict[str, list[Any]] = {}
        for text in vary:
            key, values = parse_vary(text)
            if key in grid:
                raise SpecError(f"--vary {key} is given twice; give each key once")
            grid[key] = values
        spec = load_spec(spec_file)
        with _about(spec_file, SpecError):
            progress = None if quiet or json_out else _Progress()
            with progress or _nothing():
                result = run(spec, grid, target_throughput=target_throughput,
                             target_service_level=target_service_level, horizon=horizon, warmup=warm,
                             replications=replications, seed=seed, search=search,
                             on_point=progress.step if progress else None)
        path = result.plot(plot) if plot is not None else None
    if json_out:
        doc = result.to_json()
        if path is not None:
            doc["plot"] = str(path)
        typer.echo(json.dumps(doc, indent=2))
        return
    _print_whatif(result)
    if path is not None:
        _say(_console(), f"wrote {path}")


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _Progress:
    """A spinner on stderr counting evaluated points."""

    def __enter__(self) -> _Progress:
        from rich.progress import Progress, SpinnerColumn, TextColumn

        from leanlearn.cli import _console

        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True,
                            console=_console(stderr=True))
        self.bar.__enter__()
        self.task = self.bar.add_task("what-if: 0 points", total=None)
        self.count = 0
        return self

    def step(self, row: dict[str, Any]) -> None:
        self.count += 1
        self.bar.update(self.task, description=f"what-if: {self.count} point(s)")

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)
