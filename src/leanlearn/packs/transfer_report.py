"""A transfer validation as one self-contained HTML page, with a forest plot of confidence at origin vs target.

The page references nothing outside itself (the plot is an inline SVG data URI; no script, style sheet, font or
image from the network), so it opens from a file or as an MLflow artifact alike. Every text that comes from the pack
or the data (rule ids, rule texts, line names) is HTML-escaped, and kept out of matplotlib's math parser in the plot.
matplotlib is imported inside :func:`forest_plot` only.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from leanlearn.mining.rules import Condition, Rule, RuleSet
>>> from leanlearn.packs.pack import RulePack, Target
>>> from leanlearn.packs.transfer import validate_transfer
>>> rule = Rule.from_counts([Condition("x", ">=", 5)], "bad", hits=90, n=100, positives=120, rows=1000, id="<R1>")
>>> pack = RulePack(name="p", line="L1", targets=(Target("bad"),), rules=RuleSet((rule,)))
>>> frame = pd.DataFrame({"x": np.r_[np.full(200, 6.0), np.zeros(800)], "bad": np.r_[np.ones(180), np.zeros(820)]})
>>> page = report_html(validate_transfer(pack, frame))
>>> page.startswith("<!DOCTYPE html>"), "&lt;R1&gt;" in page, "<R1>" in page, "http" in page.replace("http-equiv", "")
(True, True, False, False)
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanlearn.packs.transfer import RuleVerdict, TransferReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from leanlearn.packs.gate import GateResult

__all__ = ["COLOURS", "MAX_PLOTTED_RULES", "forest_plot", "report_html", "write_report"]

#: Rules drawn in the forest plot (the first ones of the report); every rule stays in the table.
MAX_PLOTTED_RULES = 150
#: Colour of each verdict, in the plot and the table.
COLOURS = {"holds": "#1a7f37", "weaker": "#d9822b", "fails": "#c0392b", "not enough data": "#7f8c8d"}
_ORIGIN = "#34495e"

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:0.6em 0;font-size:0.86em}
td,th{border:1px solid #ddd;padding:0.25em 0.5em;text-align:left;vertical-align:top}th{background:#f4f4f4}
td.num{text-align:right;white-space:nowrap}
.v-holds{color:#1a7f37;font-weight:600}.v-weaker{color:#b35900;font-weight:600}.v-fails{color:#c0392b;font-weight:600}
.v-not{color:#5f6b6d;font-weight:600}.passed{color:#1a7f37;font-weight:700}.failed{color:#c0392b;font-weight:700}
.plot img{max-width:100%;height:auto}code{background:#f4f4f4;padding:0 0.2em}.note{color:#555;font-size:0.9em}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _plain_label(text: str, limit: int = 60) -> str:
    """``text`` for a matplotlib label: shortened, ``$`` escaped (no math mode), control characters dropped."""
    clean = "".join(ch if ch.isprintable() else " " for ch in str(text))
    if len(clean) > limit:
        clean = clean[: limit - 1] + "…"
    return clean.replace("\\", "\\\\").replace("$", r"\$")


def _share(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value * 100:.1f} %"


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"


def _p(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if value < 1e-300:
        return "&lt; 1e-300"
    return f"{value:.2g}"


def forest_plot(report: TransferReport, *, max_rules: int = MAX_PLOTTED_RULES) -> Figure:
    """Per rule, its confidence at origin (dark, hollow) and on the target (verdict colour) with 95 % intervals.

    Numeric-outcome rules get a second panel with Cliff's delta at origin and on the target (Hanley–McNeil
    intervals). Only the first ``max_rules`` rules are drawn. Returns a :class:`matplotlib.figure.Figure` (no
    pyplot, no display needed).
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    shown = list(report.verdicts[:max_rules])
    binary = [v for v in shown if v.kind == "binary"]
    numeric = [v for v in shown if v.kind == "numeric"]
    panels = [p for p in ((binary, "confidence"), (numeric, "delta")) if p[0]] or [(binary, "confidence")]
    heights = [max(len(p[0]), 1) for p in panels]
    figure = Figure(figsize=(8.6, 1.3 + 0.36 * sum(heights) + 0.5 * len(panels)), dpi=100, layout="constrained")
    grid = figure.add_gridspec(len(panels), 1, height_ratios=heights)
    for k, (items, what) in enumerate(panels):
        ax = figure.add_subplot(grid[k])
        for row, v in enumerate(items):
            y = len(items) - 1 - row
            origin: float | None
            origin_ci: tuple[float, float] | None
            if what == "confidence":
                origin, origin_ci = v.origin_confidence, v.origin_ci
                target, target_ci = v.confidence, v.ci
            else:
                origin, origin_ci = v.origin_delta, v.origin_delta_ci
                target, target_ci = v.delta, v.delta_ci
            colour = COLOURS.get(v.verdict, "#7f8c8d")
            if origin is not None and math.isfinite(origin):
                if origin_ci is not None:
                    ax.plot(origin_ci, [y + 0.17] * 2, color=_ORIGIN, linewidth=1.4)
                ax.plot([origin], [y + 0.17], marker="o", markersize=6, markerfacecolor="white",
                        markeredgecolor=_ORIGIN, linestyle="none")
            if target is not None and math.isfinite(target):
                if target_ci is not None:
                    ax.plot(target_ci, [y - 0.17] * 2, color=colour, linewidth=2.0)
                ax.plot([target], [y - 0.17], marker="s", markersize=6, color=colour, linestyle="none")
            else:
                ax.annotate("no covered rows", (0.02, y - 0.17), xycoords=("axes fraction", "data"), fontsize=7,
                            color=colour, va="center")
        labels = [_plain_label(f"{v.rule_id} · {v.verdict}") for v in items]
        ax.set_yticks(range(len(items)), labels[::-1], fontsize=8)
        for tick, v in zip(ax.get_yticklabels(), items[::-1], strict=True):
            tick.set_color(COLOURS.get(v.verdict, "#222"))
        ax.set_ylim(-0.7, max(len(items), 1) - 0.3)
        if what == "confidence":
            ax.set_xlim(-0.02, 1.02)
            ax.set_xlabel("confidence (share of covered rows with the outcome), 95 % Wilson interval", fontsize=8)
        else:
            ax.set_xlim(-1.02, 1.02)
            ax.axvline(0, color="#999", linewidth=0.6)
            ax.set_xlabel("Cliff's delta of the numeric outcome (covered vs uncovered), 95 % interval", fontsize=8)
        if k == 0:
            title = f"Pack {report.pack_name} from line {report.line} on line {report.target}"
            ax.set_title(_plain_label(title, 110), fontsize=10)
        ax.grid(axis="x", color="#eee")
        ax.tick_params(axis="x", labelsize=8)
    handles = [Line2D([], [], marker="o", markerfacecolor="white", markeredgecolor=_ORIGIN, color=_ORIGIN,
                      label=f"origin (line {_plain_label(report.line, 30)})")]
    handles += [Line2D([], [], marker="s", color=c, label=f"target: {name}") for name, c in COLOURS.items()]
    figure.legend(handles=handles, loc="outside upper center", ncol=5, fontsize=7, frameon=False)
    return figure


def _svg_uri(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _verdict_cell(v: RuleVerdict) -> str:
    css = "v-not" if v.verdict == "not enough data" else f"v-{v.verdict}"
    extra = " (stronger)" if v.stronger else ""
    return f'<td class="{css}">{_e(v.verdict)}{_e(extra)}</td>'


def _row(v: RuleVerdict) -> str:
    if v.kind == "numeric":
        origin_fig = f"δ {_num(v.origin_delta, 2)}"
        target_fig = f"δ {_num(v.delta, 2)}" + (
            f" [{_num(v.delta_ci[0], 2)}, {_num(v.delta_ci[1], 2)}]" if v.delta_ci else "")
    else:
        origin_fig = f"lift {_num(v.origin_lift)}"
        target_fig = f"lift {_num(v.lift)}; base {_share(v.base_rate)}"
    ci = f" [{_share(v.ci[0])}, {_share(v.ci[1])}]" if v.ci else ""
    needed = "" if v.verdict != "not enough data" else (
        f"{v.needed_rows:,}" if v.needed_rows is not None else "—")
    cells = [
        f"<td><code>{_e(v.rule_id)}</code></td>", f"<td>{_e(v.text)}</td>", _verdict_cell(v),
        f"<td>{_e(v.reason)}</td>",
        f'<td class="num">{v.origin_n:,} / {v.origin_hits:,}</td>',
        f'<td class="num">{_share(v.origin_confidence)} [{_share(v.origin_ci[0])}, {_share(v.origin_ci[1])}]</td>',
        f'<td class="num">{_e(origin_fig)}</td>',
        f'<td class="num">{v.n:,} / {v.hits:,}' + (f" ({v.missing:,} missing)" if v.missing else "") + "</td>",
        f'<td class="num">{_share(v.confidence)}{ci}</td>', f'<td class="num">{_e(target_fig)}</td>',
        f'<td class="num">{_p(v.p_weaker)} / {_p(v.p_weaker_adj)}</td>',
        f'<td class="num">{_p(v.p_holds)} / {_p(v.p_holds_adj)}</td>',
        f'<td class="num">{_p(v.p_points)} / {_p(v.p_points_adj)}</td>',
        f'<td class="num" title="{_e(v.needed_note)}">{_e(needed)}</td>',
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def report_html(report: TransferReport, gate: GateResult | None = None, *,
                max_plotted_rules: int = MAX_PLOTTED_RULES) -> str:
    """The validation as one self-contained HTML page: summary, gate result, forest plot, verdict table."""
    counts = report.counts
    gate_html = ""
    if gate is not None:
        state = "passed" if gate.passed else "failed"
        reasons = "".join(f"<li>{_e(r)}</li>" for r in gate.reasons)
        gate_html = (f'<h2>The gate</h2><p>Promotion gate <span class="{state}">{state}</span> '
                     f"({_e(gate.gate.describe())}).</p><ul>{reasons}</ul>")
    plot = ""
    if report.verdicts:
        figure = forest_plot(report, max_rules=max_plotted_rules)
        more = len(report.verdicts) - max_plotted_rules
        plot = (f'<h2>Confidence at origin and on the target</h2><div class="plot"><img alt="forest plot" '
                f'src="{_svg_uri(figure)}"></div>'
                + (f'<p class="note">The plot shows the first {max_plotted_rules} rules; {more:,} more are in the '
                   "table.</p>" if more > 0 else ""))
    notes = sorted({v.needed_note for v in report.verdicts if v.verdict == "not enough data" and v.needed_note})
    fp = report.data_fingerprint or {}
    missing = ", ".join(f"{k}: {n:,}" for k, n in report.missing.items() if n) or "none"
    head = ("<tr><th>rule</th><th>text</th><th>verdict</th><th>why</th><th>origin n / hits</th>"
            "<th>origin confidence [95 %]</th><th>origin</th><th>target n / hits</th>"
            "<th>target confidence [95 %]</th><th>target</th><th>p weaker raw / Holm</th>"
            "<th>p holds raw / Holm</th><th>p points at waste raw / Holm</th><th>rows needed</th></tr>")
    table = f"<table>{head}{''.join(_row(v) for v in report.verdicts)}</table>" if report.verdicts else \
        "<p>The pack has no rules.</p>"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(report.pack_name)} on line {_e(report.target)} — transfer validation</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>Rule pack {_e(report.pack_name)}: from line {_e(report.line)} to line {_e(report.target)}</h1>"
        f"<p>{_e(report.summary())}</p>"
        f"<p>{counts['holds']} hold · {counts['weaker']} weaker · {counts['fails']} fail · "
        f"{counts['not enough data']} not enough data. Pack content hash <code>{_e(report.content_hash)}</code>; "
        f"target data {int(fp.get('rows', report.rows)):,} rows, sha256 <code>{_e(str(fp.get('sha256', 'n/a')))}"
        f"</code>; rows with a missing outcome left out: {_e(missing)}; validated {_e(report.created)}.</p>"
        f"{gate_html}{plot}"
        "<h2>How each rule is judged</h2>"
        "<p>On the target's rows with a known outcome, per rule: <strong>weaker</strong> — a one-sided "
        "two-proportion test (Agresti–Caffo) that the target's confidence is below the origin's; "
        f"<strong>holds</strong> — equivalence within ±{report.margin * 100:g} percentage points"
        + (f", never more than {report.relative_margin:.0%} of the rule's origin confidence" if report.relative_margin
           else "")
        + " (TOST; a rule above "
        "the origin only needs the lower test, and is marked stronger when clearly above the margin); "
        "<strong>points at waste</strong> — a one-sided Fisher test that the covered rows' rate exceeds the uncovered "
        "rows'. Numeric outcomes: Mann–Whitney covered vs uncovered, and "
        f"Cliff's delta against the origin's within ±{report.delta_margin:g}. Each family is Holm-adjusted over the "
        f"pack's {len(report.verdicts)} rules at α = {report.alpha:g}. A rule holds when equivalent and pointing at "
        "waste, fails when significantly weaker and no longer pointing at waste, is weaker when significantly weaker "
        "but still pointing at waste, and has not enough data otherwise.</p>"
        f"<h2>Verdicts</h2>{table}"
        + (("<h2>Rows needed</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>") if notes else "")
        + "</body></html>\n"
    )


def write_report(report: TransferReport, path: str | Path, gate: GateResult | None = None) -> Path:
    """Write :func:`report_html` to ``path`` (UTF-8) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(report, gate), encoding="utf-8")
    return path
