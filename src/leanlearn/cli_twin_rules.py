"""``leanlearn twin rules`` and ``leanlearn twin worth``: rule packs and modifiers in the digital twin.

Registered on the ``twin`` group by :mod:`leanlearn.cli` (``register(app)``), like ``calibrate`` and ``check``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from leanlearn._util import help_text

SpecArgument = Annotated[Path, typer.Argument(metavar="SPEC.yaml", help="The line spec (see `leanlearn twin`).")]


def register(app: typer.Typer) -> None:
    """Add ``rules`` and ``worth`` to the ``twin`` group."""

    for name, func in (("rules", rules), ("worth", worth_command)):
        text = help_text(func.__doc__)
        app.command(name=name, help=text)(func)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def rules(
    spec_file: SpecArgument,
    pack_file: Annotated[Path, typer.Argument(metavar="PACK.json", help="A rule pack (leanlearn mine --out).")],
    scrap_mode: Annotated[str, typer.Option("--scrap-mode", help="Defect rules: ratio | lift | confidence.")] = "ratio",
    station: Annotated[str | None, typer.Option("--station", help="Station of rules that name none.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")] = False,
) -> None:
    """Which rules of a pack become modifiers of the line spec, and why the others do not.

    \b
    [bold]Examples[/bold]
      leanlearn twin rules 4tu-twin.yaml models/4tu-setups.json
      leanlearn twin rules line.yaml pack.json --json | jq '.rules[] | select(.status == "applicable")'
    """
    from rich.table import Table
    from rich.text import Text

    from leanlearn.cli import _about, _console, _fail, _printable, _user_errors
    from leanlearn.twin.modifiers import ModifierError, from_pack
    from leanlearn.twin.spec import SpecError, load_spec

    if scrap_mode not in ("ratio", "lift", "confidence"):
        raise _fail(f"--scrap-mode {scrap_mode!r} is not one of ratio, lift, confidence")
    with _user_errors():
        spec = load_spec(spec_file)
        with _about(spec_file, SpecError, ModifierError):
            translation = from_pack(pack_file, spec, scrap_mode=scrap_mode, station=station)  # type: ignore[arg-type]
    if json_out:
        typer.echo(json.dumps(translation.to_json(), ensure_ascii=False))
        return
    table = Table(title=f"rules of {_printable(pack_file.name)} in {_printable(spec.line)}", title_justify="left",
                  show_edge=False, header_style="bold")
    for name in ("rule", "text", "status", "modifier or reason"):
        table.add_column(name)
    for row in translation.to_json()["rules"]:
        table.add_row(Text(_printable(row["rule"])), Text(_printable(row["text"])), row["status"],
                      Text(_printable(row["modifier"] or row["reason"] or "")))
    _console().print(table)


def worth_command(
    spec_file: SpecArgument,
    modify: Annotated[list[str] | None, typer.Option("--modify", "-m", metavar="MODIFIER",
                                                     help="A modifier, e.g. 'scrap[S3] *= 3' (repeatable).")] = None,
    modifiers_file: Annotated[Path | None, typer.Option("--modifiers", metavar="FILE.yaml",
                                                        help="A YAML file: modifiers: [...]")] = None,
    pack_file: Annotated[Path | None, typer.Option("--pack", metavar="PACK.json",
                                                   help="Use the applicable rules of this pack.")] = None,
    undo: Annotated[bool, typer.Option("--undo", help="Take the modifiers' effect out (a spec calibrated on the "
                                                      "log the rules come from already holds it).")] = False,
    horizon: Annotated[float, typer.Option("--horizon", metavar="T")] = 1000.0,
    warmup: Annotated[float | None, typer.Option("--warmup", metavar="T")] = None,
    replications: Annotated[int, typer.Option("--replications", "-r", metavar="R")] = 10,
    seed: Annotated[int, typer.Option("--seed", metavar="S")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")] = False,
) -> None:
    """What acting on rules (or a hypothesis) is worth: the line simulated with and without the modifiers on
    common random numbers; paired differences of throughput, WIP and lead time with 95 % intervals.

    \b
    [bold]Examples[/bold]
      leanlearn twin worth line.yaml -m 'setup[S2][A->B] += 0.67'
      leanlearn twin worth 4tu-twin.yaml --pack models/4tu-setups.json --undo --replications 20
      leanlearn twin worth line.yaml --modifiers mods.yaml --json
    """
    from rich.table import Table

    from leanlearn.cli import _about, _console, _fail, _say, _user_errors
    from leanlearn.twin.modifiers import ModifierError, from_pack, load_modifiers, parse_modifiers, worth
    from leanlearn.twin.spec import SpecError, load_spec

    if not (math.isfinite(horizon) and horizon > 0):
        raise _fail(f"--horizon {horizon:g} must be a positive time; e.g. --horizon 2000")
    warm = horizon / 10 if warmup is None else warmup
    if not (math.isfinite(warm) and 0 <= warm < horizon):
        raise _fail(f"--warmup {warm:g} must be at least 0 and below --horizon {horizon:g}")
    if replications < 2:
        raise _fail(f"--replications {replications} must be at least 2 for an interval; e.g. --replications 10")
    with _user_errors():
        spec = load_spec(spec_file)
        mods = []
        with _about(spec_file, SpecError, ModifierError):
            mods += parse_modifiers(modify or [], "--modify")
            if modifiers_file is not None:
                mods += load_modifiers(modifiers_file)
            if pack_file is not None:
                mods += from_pack(pack_file, spec).modifiers
            if not mods:
                raise _fail("no modifiers: give --modify 'scrap[S3] *= 3', --modifiers FILE.yaml or --pack PACK.json"
                            " (with applicable rules: see `leanlearn twin rules`)")
            if undo:
                mods = [m.undo() for m in mods]
            result = worth(spec, mods, horizon=horizon, warmup=warm, replications=replications, seed=seed)
    if json_out:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False, allow_nan=False))
        return
    console = _console()
    for change in result.changes:
        _say(console, f"changed: {change}", "dim")
    table = Table(title=f"worth of {len(mods)} modifier(s) on {spec.line}", title_justify="left", show_edge=False,
                  header_style="bold")
    for name in ("KPI", "base", "modified", "diff", "95 % interval", ""):
        table.add_column(name, justify="left" if name in ("KPI", "") else "right")
    for row in result.table.to_dict("records"):
        table.add_row(row["kpi"], f"{row['base']:.4g}", f"{row['modified']:.4g}", f"{row['diff']:+.4g}",
                      f"[{row['low']:+.4g}, {row['high']:+.4g}]", "significant" if row["significant"] else "")
    console.print(table)
    _say(console, f"{replications} paired replications of {horizon:g} {spec.time_unit} (warm-up {warm:g}), "
                  f"seed {seed}", "dim")
