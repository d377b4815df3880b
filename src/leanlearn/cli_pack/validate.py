"""``leanlearn pack validate``: does each rule of a pack hold on another line's data — and may it steer that line?

Thin: read the pack (its signature checked as the line's policy says), the data and the mapping, call
:func:`leanlearn.packs.transfer.validate_transfer` and :meth:`leanlearn.packs.gate.Gate.check`, print or write the
report, and log it beside a registered version with ``--model``. Exit code 0: the gate passed; 1: it failed;
2: a user error (one ``error:`` line).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from leanlearn.cli_pack import command
from leanlearn.cli_pack.sign import RequireSignatureOption, TrustedKeysOption

if TYPE_CHECKING:
    from rich.console import Console

    from leanlearn.packs.gate import GateResult
    from leanlearn.packs.transfer import TransferReport

_STYLE = {"holds": "green", "weaker": "dark_orange", "fails": "red", "not enough data": "bright_black"}


def _share(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value * 100:.1f} %"


def _p(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return "<1e-300" if value < 1e-300 else f"{value:.2g}"


def _check_setting(name: str, value: float | None, low: float, high: float, example: str) -> None:
    from leanlearn.cli import _fail

    if value is not None and not (math.isfinite(value) and low < value < high):
        raise _fail(f"{name} {value:g} is not between {low:g} and {high:g} (exclusive); e.g. {name} {example}")


def _print_report(console: Console, report: TransferReport, gate: GateResult) -> None:
    from rich.table import Table
    from rich.text import Text

    from leanlearn.cli import _printable, _say

    table = Table(title="transfer validation", title_justify="left", show_edge=False, header_style="bold")
    for name, justify in (("rule", "left"), ("verdict", "left"), ("origin conf. (n)", "right"),
                          ("target conf. [95 %] (n)", "right"), ("p weaker", "right"), ("p holds", "right"),
                          ("p waste", "right"), ("rows needed", "right"), ("why", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for v in report.verdicts:
        if v.kind == "numeric":
            origin = f"δ {v.origin_delta:.2f} ({v.origin_n:,})" if v.origin_delta is not None else "n/a"
            target = f"δ {v.delta:.2f} ({v.n:,})" if v.delta is not None else f"n/a ({v.n:,})"
        else:
            origin = f"{_share(v.origin_confidence)} ({v.origin_n:,})"
            ci = f" [{_share(v.ci[0])}–{_share(v.ci[1])}]" if v.ci else ""
            target = f"{_share(v.confidence)}{ci} ({v.n:,})"
        needed = ""
        if v.verdict == "not enough data":
            needed = f"{v.needed_rows:,}" if v.needed_rows is not None else "—"
        verdict = v.verdict + (" (stronger)" if v.stronger else "")
        table.add_row(Text(_printable(v.rule_id)), Text(verdict, style=_STYLE.get(v.verdict, "")), origin, target,
                      _p(v.p_weaker_adj), _p(v.p_holds_adj), _p(v.p_points_adj), needed, Text(_printable(v.reason)))
    console.print(table)
    notes = sorted({v.needed_note for v in report.verdicts if v.verdict == "not enough data" and v.needed_note})
    for note in notes:
        _say(console, _printable(f"  rows needed: {note}"), "dim")
    _say(console, _printable(report.summary()))
    _say(console, _printable(gate.summary()), "green" if gate.passed else "red")


@command
def validate(
    pack_file: Annotated[Path, typer.Argument(metavar="PACK.json", help="The rule pack to validate.")],
    data: Annotated[Path, typer.Argument(metavar="DATA", help="The target line's table: CSV, Parquet or JSONL.")],
    mapping_file: Annotated[
        Path | None, typer.Option("--mapping", metavar="MAP.yaml",
                                  help="Translate the pack into the target line's vocabulary first.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print only the report and gate result as JSON.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", metavar="report.html", help="Write the HTML report here.")
    ] = None,
    margin: Annotated[
        float, typer.Option("--margin", metavar="F", help="Equivalence margin on confidence, a share (0.1 = ±10 pp).")
    ] = 0.10,
    relative_margin: Annotated[
        float, typer.Option("--relative-margin", metavar="F",
                            help="Cap of the margin relative to a rule's origin confidence (0.5: a 10 % rule must "
                                 "stay within ±5 pp; 1 = no cap).")
    ] = 0.5,
    alpha: Annotated[float, typer.Option("--alpha", metavar="F", help="Significance level after Holm.")] = 0.05,
    power: Annotated[float, typer.Option("--power", metavar="F", help="Power assumed for 'rows needed'.")] = 0.80,
    delta_margin: Annotated[
        float, typer.Option("--delta-margin", metavar="F", help="Equivalence margin on Cliff's delta (numeric "
                                                                "outcomes).")
    ] = 0.10,
    min_holds: Annotated[
        float, typer.Option("--min-holds", metavar="F", help="Gate: least share of rules that must hold.")
    ] = 0.5,
    max_fails: Annotated[int, typer.Option("--max-fails", metavar="N", help="Gate: most rules that may fail.")] = 0,
    max_not_enough: Annotated[
        int | None, typer.Option("--max-not-enough", metavar="N",
                                 help="Gate: most rules without enough data for a verdict (default: no limit).")
    ] = None,
    line: Annotated[
        str | None, typer.Option("--line", metavar="L", help="Name of the target line in the report (default: the "
                                                             "mapping's target_line, or an imported pack's line).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", metavar="MODEL_URI",
                                 help="Log the report and gate result beside this registered version.")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option("--tracking-uri", metavar="URI",
                                 help="MLflow tracking URI for --model (default: MLFLOW_TRACKING_URI or "
                                      "~/.leanlearn/mlflow.db).")
    ] = None,
    trusted_keys: TrustedKeysOption = None,
    require_signature: RequireSignatureOption = None,
    encoding: Annotated[
        str | None, typer.Option(metavar="ENC", help="Text encoding of a CSV/JSONL file that is not UTF-8.")
    ] = None,
) -> None:
    """Validate a rule pack on another line's data: per rule holds / weaker / fails / not enough data, and the gate.

    Each rule's confidence on DATA is compared with the origin's (the evidence in the pack): weaker (one-sided
    two-proportion test), holds (equivalence within ±--margin, TOST; a rule clearly stronger on the target holds too),
    and still pointing at waste (covered vs uncovered rows, Fisher); numeric outcomes by Mann–Whitney and Cliff's
    delta. Each family is Holm-adjusted over the pack's rules. A rule without a verdict says how many covered rows it
    would need. The gate (--max-fails, --min-holds, --max-not-enough) decides whether the pack may be promoted to
    production on this line; with --model the report and the gate result are logged beside that registered version
    (validate the pack file `leanlearn pack import` wrote, so the report names that version's content).

    Exit code: 0 the gate passed, 1 the gate failed, 2 a user error (missing file, wrong columns, a bad setting).

    \b
    [bold]Examples[/bold]
      leanlearn pack validate L1-defect.L2.json l2-runs.csv
      leanlearn pack validate L1-defect.json l2-runs.csv --mapping l1-to-l2.yaml --out report.html
      leanlearn pack validate L1-defect.L2.json l2-runs.parquet --margin 0.05 --min-holds 0.8 --json > report.json
      leanlearn pack validate L1-defect.L2.json l2-runs.csv --model models:/leanlearn.L2.defect/3
    """
    from leanlearn.cli import _about, _console, _fail, _printable, _say, _user_errors
    from leanlearn.errors import PackError

    _check_setting("--margin", margin, 0.0, 1.0, "0.1")
    if not 0.0 < relative_margin <= 1.0:
        raise _fail(f"--relative-margin {relative_margin:g} is not in (0, 1]; e.g. --relative-margin 0.5")
    _check_setting("--alpha", alpha, 0.0, 0.5, "0.05")
    _check_setting("--power", power, 0.0, 1.0, "0.8")
    _check_setting("--delta-margin", delta_margin, 0.0, 2.0, "0.1")
    if not (math.isfinite(min_holds) and 0.0 <= min_holds <= 1.0):
        raise _fail(f"--min-holds {min_holds:g} is not a share between 0 and 1; e.g. --min-holds 0.5")
    if max_fails < 0 or (max_not_enough is not None and max_not_enough < 0):
        raise _fail("--max-fails and --max-not-enough count rules: give 0 or more")
    if out is not None and out.suffix.lower() not in (".html", ".htm"):
        raise _fail(f"--out {out}: the report is an HTML page; give a file name ending in .html")
    with _user_errors():
        from leanlearn.cli_pack.sign import load_pack_file
        from leanlearn.data.sources import read_table
        from leanlearn.packs.gate import Gate
        from leanlearn.packs.transfer import validate_transfer

        gate = Gate(max_fails=max_fails, min_holds=min_holds, max_not_enough=max_not_enough)
        pack = load_pack_file(pack_file, trusted_keys=trusted_keys, require_signature=require_signature)
        mapping = None
        if mapping_file is not None:
            from leanlearn.packs.mapping import Mapping

            mapping = Mapping.load(mapping_file)
            if (pack.lineage or {}).get("mapping_hash") == mapping.content_hash:
                raise PackError(f"{pack_file} was imported through this very mapping ({mapping_file}) already; "
                                "validate it without --mapping (translating it twice would rename it twice)")
        frame = read_table(data, encoding=encoding)
        from leanlearn.packs.mapping import require_compatible, translate

        with _about(data, PackError):
            fit = require_compatible(pack, frame, mapping, where=str(data))
            if mapping is not None:
                pack = translate(pack, mapping)
            source = (pack.lineage or {}).get("source_line")
            imported = pack.line if source and source != pack.line else None
            name = line or (mapping.target_line if mapping is not None else None) or imported  # else "target"
            report = validate_transfer(pack, frame, margin=margin, alpha=alpha, power=power,
                                       relative_margin=None if relative_margin >= 1.0 else relative_margin,
                                       delta_margin=delta_margin, target_line=name)
        warn = _console(stderr=True)
        for text in fit.warnings:
            _say(warn, _printable(f"warning: {text}"), "yellow")
        result = gate.check(report)
        html = None
        if out is not None or model is not None:
            from leanlearn.packs.transfer_report import report_html

            html = report_html(report, result)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(html or "", encoding="utf-8")
        logged = None
        if model is not None:
            from leanlearn.packs.exchange import log_validation

            logged = log_validation(model, report, result, report_html=html, tracking_uri=tracking_uri or None)
        if json_out:
            doc: dict[str, Any] = {"report": report.to_json(), "gate": result.to_json()}
            if out is not None:
                doc["out"] = str(out)
            if logged is not None:
                doc["logged"] = {"model": model, "artifact": logged}
            typer.echo(json.dumps(doc, ensure_ascii=False, allow_nan=False))
        else:
            console = _console()
            _print_report(console, report, result)
            if out is not None:
                _say(console, _printable(f"wrote the report to {out}"))
            if logged is not None:
                _say(console, _printable(f"logged the validation beside {model} ({logged})"))
    if not result.passed:
        raise typer.Exit(1)
