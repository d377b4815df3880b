"""``leanlearn schedule ...``: solve a job shop, repair its schedule after a breakdown, check a schedule.

Thin: read the instance (standard job-shop text or leanlearn YAML) and the schedule JSON, call
:mod:`leanlearn.schedule`, print a table and a small text Gantt chart — or, with ``--json``, only the JSON on stdout.
``validate`` exits 0 when the schedule is feasible, 1 when it is not; every user mistake is one ``error:`` line and
exit code 2.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from leanlearn._util import help_text

if TYPE_CHECKING:
    from rich.console import Console

    from leanlearn.schedule.instance import Instance
    from leanlearn.schedule.repair import Disruption
    from leanlearn.schedule.solution import Schedule

app = typer.Typer(
    name="schedule",
    help=(
        "Job-shop scheduling with OR-Tools CP-SAT: solve an instance, repair a schedule when a machine goes down "
        "(right-shift repair beside it), check any schedule's feasibility.\n\n"
        "\b\n"
        "  leanlearn schedule solve ft06.txt --json > plan.json\n"
        "  leanlearn schedule repair ft06.txt --schedule plan.json --down 2:20:10\n"
        "  leanlearn schedule validate ft06.txt plan.json --down 2:20:10"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def command(func: Callable[..., None]) -> Callable[..., None]:
    """Register ``func`` on the group, its docstring reflowed as :mod:`leanlearn.cli` does for its commands."""
    text = help_text(func.__doc__)
    return app.command(name=func.__name__, help=text)(func)

TimeLimit = Annotated[float, typer.Option("--time-limit", help="Seconds CP-SAT may take in total.", min=0.01)]
JsonOut = Annotated[bool, typer.Option("--json", help="Print only the schedule JSON on stdout.")]
Workers = Annotated[int, typer.Option("--workers", help="CP-SAT search workers.", min=1, max=64)]
Seed = Annotated[int, typer.Option("--seed", help="CP-SAT random seed.")]
Rules = Annotated[list[Path] | None, typer.Option(
    "--rules", help="Rule pack JSON whose changeover rules lengthen setups or forbid sequences (repeatable).")]
TimeScale = Annotated[float, typer.Option("--rule-time-scale", help="Instance time units per pack time unit.",
                                          min=1e-9)]
Down = Annotated[list[str] | None, typer.Option(
    "--down", help="MACHINE:START:DURATION — machine (index or name) down during [START, START+DURATION); "
                   "repeatable.")]
Out = Annotated[Path | None, typer.Option("--out", help="Also write the schedule JSON to this file.")]
Objective = Annotated[list[str] | None, typer.Option(
    "--objective", help="Objectives in lexicographic order (repeatable): makespan, tardiness, bottleneck_idle, "
                        "moved.")]

_SYMBOLS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _load(instance_path: Path, rules: list[Path] | None, time_scale: float) -> tuple[Instance, list[str]]:
    from leanlearn.schedule.constraints import apply_constraints, read_constraints
    from leanlearn.schedule.instance import read_instance

    instance = read_instance(instance_path)
    skipped: list[str] = []
    for pack in rules or []:
        found, why = read_constraints(pack, time_scale=time_scale)
        instance = apply_constraints(instance, found)
        skipped += [f"{pack.name}: {w}" for w in why]
    return instance, skipped


def _downs(texts: list[str] | None, instance: Instance) -> list[Disruption]:
    from leanlearn.schedule.repair import Disruption

    return [Disruption.parse(t, instance) for t in texts or []]


def gantt(instance: Instance, schedule: Schedule, down: list[Disruption] | None = None, width: int = 72) -> list[str]:
    """A text Gantt chart: one row per machine, one character per time slice (job symbol, ``.`` idle, ``#`` down or
    unavailable), with the time axis below."""
    end = max([schedule.makespan, 1] + [d.end for d in down or []])
    width = max(10, min(width, end))
    scale = end / width
    blocked = [(m, s, e) for m, s, e in instance.unavailable] + [(d.machine, d.start, d.end) for d in down or []]
    label_w = max(len(instance.machine_label(m)) for m in range(instance.n_machines))
    rows = []
    for m in range(instance.n_machines):
        cells = ["."] * width
        for _, s, e in (w for w in blocked if w[0] == m):
            for c in range(int(s / scale), min(width, max(int(s / scale) + 1, int(-(-e // scale))))):
                cells[c] = "#"
        for o in schedule.operations:
            if o.machine != m or o.end <= o.start:
                continue
            symbol = _SYMBOLS[o.job] if o.job < len(_SYMBOLS) else "*"
            first, last = int(o.start / scale), max(int(o.start / scale) + 1, int(-(-o.end // scale)))
            for c in range(first, min(width, last)):
                cells[c] = symbol
        rows.append(f"{instance.machine_label(m).rjust(label_w)} |{''.join(cells)}|")
    axis = f"{'':>{label_w}}  0{str(end).rjust(width - 1)}"
    rows.append(axis)
    return rows


def _print_schedule(console: Console, instance: Instance, schedule: Schedule, title: str,
                    down: list[Disruption] | None = None) -> None:
    from leanlearn.cli import _printable, _say

    _say(console, _printable(title), "bold")
    for line in gantt(instance, schedule, down):
        _say(console, _printable(line))
    if len(instance.jobs) > len(_SYMBOLS):
        _say(console, f"(jobs {len(_SYMBOLS)} and above are drawn as '*')", "bright_black")


def _write(path: Path | None, doc: dict[str, Any]) -> None:
    if path is not None:
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


@command
def solve(
    instance: Annotated[Path, typer.Argument(help="Instance: standard job-shop text format or leanlearn YAML.")],
    time_limit: TimeLimit = 10.0,
    json_out: JsonOut = False,
    objective: Objective = None,
    workers: Workers = 2,
    seed: Seed = 0,
    rules: Rules = None,
    rule_time_scale: TimeScale = 1.0,
    out: Out = None,
) -> None:
    """Schedule every operation of INSTANCE with CP-SAT (minimum makespan unless --objective says otherwise)."""
    from rich.table import Table

    from leanlearn.cli import _console, _fail, _printable, _say, _user_errors
    from leanlearn.schedule.cpsat import solve as cp_solve
    from leanlearn.schedule.solution import kpis

    with _user_errors():
        inst, skipped = _load(instance, rules, rule_time_scale)
        schedule = cp_solve(inst, time_limit, workers=workers, seed=seed, objective=tuple(objective or ["makespan"]))
        if not schedule.operations:
            why = "no schedule satisfies the constraints" if schedule.status == "INFEASIBLE" else \
                f"no schedule found within {time_limit:g} s; raise --time-limit"
            raise _fail(f"{instance}: {why} ({schedule.status})")
        figures = kpis(schedule, inst)
        doc = schedule.to_json()
        doc["kpis"] = figures
        _write(out, doc)
    if json_out:
        typer.echo(json.dumps(doc))
        return
    console = _console()
    table = Table(title=f"{_printable(inst.name)}: {len(inst.jobs)} jobs × {inst.n_machines} machines",
                  title_justify="left", show_edge=False, header_style="bold")
    for name in ("status", "makespan", "total tardiness", "bottleneck", "bottleneck idle", "solve time"):
        table.add_column(name, justify="right")
    table.add_row(schedule.status, str(schedule.makespan), str(figures["total_tardiness"]),
                  _printable(inst.machine_label(figures["bottleneck"])), str(figures["bottleneck_idle"]),
                  f"{schedule.extra.get('solve_time_s', 0):.2f} s")
    console.print(table)
    _print_schedule(console, inst, schedule, "schedule")
    for line in skipped:
        _say(console, f"rule skipped: {_printable(line)}", "bright_black")
    if out is not None:
        _say(console, f"wrote {out}")


@command
def repair(
    instance: Annotated[Path, typer.Argument(help="Instance: standard job-shop text format or leanlearn YAML.")],
    schedule: Annotated[Path, typer.Option("--schedule", help="The schedule JSON to repair (from 'solve --json').")],
    down: Down = None,
    time_limit: TimeLimit = 10.0,
    json_out: JsonOut = False,
    objective: Objective = None,
    stability_weight: Annotated[int, typer.Option(
        "--stability-weight", help="Time units one moved operation costs in every objective stage.", min=0)] = 0,
    workers: Workers = 2,
    seed: Seed = 0,
    rules: Rules = None,
    rule_time_scale: TimeScale = 1.0,
    out: Out = None,
) -> None:
    """Repair SCHEDULE after machine breakdowns (--down): started operations keep their times, the one running on a
    downed machine restarts after the window, the rest are rescheduled by CP-SAT (bottleneck idle, then tardiness
    against the original completion times, then makespan; fewest operations moved last); right-shift beside it."""
    from rich.table import Table

    from leanlearn.cli import _console, _fail, _printable, _say, _user_errors
    from leanlearn.schedule.repair import DEFAULT_OBJECTIVE
    from leanlearn.schedule.repair import repair as do_repair
    from leanlearn.schedule.solution import read_schedule

    with _user_errors():
        inst, skipped = _load(instance, rules, rule_time_scale)
        plan = read_schedule(schedule)
        downs = _downs(down, inst)
        if not downs:
            raise _fail("give the breakdown with --down MACHINE:START:DURATION, e.g. --down 2:30:15")
        result = do_repair(inst, plan, downs, time_limit, objective=tuple(objective or DEFAULT_OBJECTIVE),
                           stability_weight=stability_weight, workers=workers, seed=seed)
        doc = result.to_json()
        _write(out, doc)
    if json_out:
        typer.echo(json.dumps(doc))
        return
    console = _console()
    table = Table(title=f"repair of {_printable(inst.name)} after "
                        + ", ".join(f"{_printable(inst.machine_label(d.machine))} down [{d.start}, {d.end})"
                                    for d in downs),
                  title_justify="left", show_edge=False, header_style="bold")
    table.add_column("")
    table.add_column("repair", justify="right")
    table.add_column("right-shift", justify="right")
    for key, label in (("makespan", "makespan"), ("total_tardiness", "total tardiness"),
                       ("bottleneck_idle", "bottleneck idle"), ("operations_moved", "operations moved"),
                       ("n_late", "late jobs")):
        table.add_row(label, str(result.kpis[key]), str(result.right_shift_kpis[key]))
    console.print(table)
    note = f"; {result.schedule.extra['fallback']} kept (no better schedule in time)" \
        if "fallback" in result.schedule.extra else ""
    _say(console, f"status {result.schedule.status}, {result.solve_time_s:.2f} s; bottleneck "
                  f"{_printable(inst.machine_label(result.kpis['bottleneck']))}; {len(result.frozen)} operation(s) "
                  f"frozen, restarted: "
                  + (", ".join(f"job {j} op {k}" for j, k in result.restarted) or "none") + note)
    _print_schedule(console, inst, plan, "before", downs)
    _print_schedule(console, inst, result.schedule, "after repair", downs)
    for line in skipped:
        _say(console, f"rule skipped: {_printable(line)}", "bright_black")
    if out is not None:
        _say(console, f"wrote {out}")


@command
def validate(
    instance: Annotated[Path, typer.Argument(help="Instance: standard job-shop text format or leanlearn YAML.")],
    schedule: Annotated[Path, typer.Argument(help="Schedule JSON.")],
    down: Down = None,
    json_out: JsonOut = False,
    rules: Rules = None,
    rule_time_scale: TimeScale = 1.0,
) -> None:
    """Check SCHEDULE against INSTANCE without any solver: every operation once with its duration, routing order,
    release dates, no overlap per machine (setups kept), windows and --down windows free. Exit 1 when infeasible."""
    from leanlearn.cli import _console, _printable, _say, _user_errors
    from leanlearn.schedule.solution import read_schedule
    from leanlearn.schedule.validate import validate_schedule

    with _user_errors():
        inst, _ = _load(instance, rules, rule_time_scale)
        plan = read_schedule(schedule)
        problems = validate_schedule(inst, plan, down=_downs(down, inst))
    if json_out:
        typer.echo(json.dumps({"feasible": not problems, "makespan": plan.makespan, "problems": problems}))
    else:
        console = _console()
        if problems:
            _say(console, f"{schedule}: NOT feasible for {inst.name} ({len(problems)} problem(s)):", "red")
            for p in problems:
                _say(console, f"  {_printable(p)}")
        else:
            _say(console, f"{schedule}: feasible for {inst.name}; makespan {plan.makespan}", "green")
    if problems:
        raise typer.Exit(1)
