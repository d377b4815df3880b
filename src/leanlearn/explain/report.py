"""The explanation as one self-contained HTML file: one section per rule, plots embedded as SVG data URIs.

The file references nothing outside itself (no script, style sheet, font or image from the network), so it opens
from a file, an e-mail attachment or an MLflow artifact view alike. Every text that comes from the pack or the data
(rule ids, feature names, values) is HTML-escaped. matplotlib is imported inside :func:`report_html` only.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leanlearn.explain.core import Explanation, p_text, percent, round_for_people
from leanlearn.mining.rules import Condition, Rule
from leanlearn.packs.pack import RulePack

#: Rules that get dependence plots in a report (the first ones of the pack); later rules get their figures as text.
MAX_PLOTTED_RULES = 200

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}
section.rule{border:1px solid #ddd;border-radius:6px;padding:0.6em 1.2em;margin:1.5em 0}
section.flagged{border-color:#d9822b;background:#fff8f0}
.ok{color:#1a7f37;font-weight:600}.bad{color:#b35900;font-weight:600}
table{border-collapse:collapse;margin:0.6em 0;font-size:0.92em}
td,th{border:1px solid #ddd;padding:0.25em 0.6em;text-align:left}th{background:#f4f4f4}
.sentence{font-size:1.08em}.plots img{max-width:100%;height:auto}
code{background:#f4f4f4;padding:0 0.2em}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return _e(round_for_people(value))


def _svg_uri(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _thresholds(cond: Condition) -> list[float]:
    if cond.op == "between":
        return [float(v) for v in cond.value]
    if cond.op in ("<", "<=", ">", ">="):
        return [float(cond.value)]
    return []


def dependence_plot(explanation: Explanation, rule: Rule, cond: Condition) -> str | None:
    """A SHAP dependence plot of ``cond``'s feature (rule-covered rows highlighted, threshold drawn), as a data URI.

    ``None`` when the feature's SHAP values are not in the explanation (e.g. the target had no surrogate).
    """
    from matplotlib.figure import Figure

    shap = explanation.shap.get(rule.target)
    values = explanation.values.get(rule.target)
    if shap is None or values is None or cond.feature not in shap.columns:
        return None
    x_raw = values[cond.feature]
    y = shap[cond.feature].to_numpy(dtype=float)
    covered = rule.mask(values) if all(c.feature in values.columns for c in rule.conditions) else np.zeros(len(y), bool)
    figure = Figure(figsize=(5.2, 3.2), dpi=100)
    ax = figure.add_subplot()
    numeric = pd.api.types.is_numeric_dtype(x_raw.dtype) or pd.api.types.is_bool_dtype(x_raw.dtype)
    if numeric:
        x = x_raw.to_numpy(dtype=float)
    else:
        levels = sorted(x_raw.dropna().astype(str).unique())
        codes = {level: i for i, level in enumerate(levels)}
        jitter = np.random.default_rng(0).uniform(-0.25, 0.25, len(x_raw))
        x = np.array([codes.get(str(v), np.nan) for v in x_raw], dtype=float) + jitter
        ax.set_xticks(range(len(levels)), levels)
    ax.scatter(x[~covered], y[~covered], s=6, alpha=0.35, color="#7f8c8d", label="other rows", rasterized=True)
    ax.scatter(x[covered], y[covered], s=9, alpha=0.8, color="#d35400", label=f"covered by {rule.id}", rasterized=True)
    for t in _thresholds(cond):
        ax.axvline(t, color="#c0392b", linestyle="--", linewidth=1.2)
        ax.annotate(f"{cond.op} {round_for_people(t)}", (t, 1), xycoords=("data", "axes fraction"),
                    xytext=(3, -12), textcoords="offset points", color="#c0392b", fontsize=8)
    ax.axhline(0, color="#999", linewidth=0.6)
    ax.set_xlabel(cond.feature)
    ax.set_ylabel(f"SHAP of {cond.feature}\n(toward {rule.target} ↑)", fontsize=8)
    ax.set_title(f"{rule.id}: {cond.text}", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    return _svg_uri(figure)


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{_e(k)}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row.values()) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cex_rows(explanation: Explanation, rule_id: str, kind: str) -> list[dict[str, Any]]:
    cex = explanation.counterexamples
    picked = cex[(cex["rule_id"] == rule_id) & (cex["kind"] == kind)]
    rows = []
    item: dict[Any, Any]
    for item in picked.to_dict(orient="records"):
        row: dict[str, Any] = {"row": item["row"]}
        row.update({str(k): round_for_people(v) for k, v in dict(item["values"]).items()})
        row["surrogate"] = round_for_people(item["surrogate"])
        if item["distance"] is not None and not pd.isna(item["distance"]):
            row["distance (sd)"] = round_for_people(item["distance"])
        rows.append(row)
    return rows


def _rule_section(explanation: Explanation, pack: RulePack, rule: Rule, plot_limit: int | None = None) -> str:
    """One rule's section; ``plot_limit`` set: no plots, say that only the first ``plot_limit`` rules have them."""
    plot = plot_limit is None
    no_plot = ("<p>no plot: the feature has no SHAP values</p>" if plot else
               f"<p>no plot: only the first {plot_limit} rules are plotted</p>")
    figures = explanation.rule(rule.id)
    ok = bool(figures["corroborated"])
    verdict = ('<span class="ok">corroborated</span>' if ok else
               f'<span class="bad">not corroborated</span>: {_e(figures["reason"])}')
    evidence = [{
        "rows covered": f"{rule.n:,}", "with outcome": f"{rule.hits:,}",
        "confidence": f"{percent(rule.confidence)} (95 % CI {percent(rule.ci[0])}–{percent(rule.ci[1])})",
        "overall": percent(rule.base_rate), "lift": round_for_people(rule.lift), "adjusted p": p_text(rule.p_value),
    }]
    sign, share = figures["sign_agreement"], figures["shap_share"]
    corroboration = [{
        "rows judged": f"{figures['covered_rows']:,}",
        "sign agreement": percent(sign) if sign is not None else "n/a",
        "share of |SHAP|": percent(share) if share is not None else "n/a",
        "features judged": ", ".join(figures["features"]),
    }]
    plots = [dependence_plot(explanation, rule, cond) if plot else None for cond in rule.conditions]
    images = "".join(f'<img alt="{_e("dependence plot of " + c.feature)}" src="{uri}">'
                     for c, uri in zip(rule.conditions, plots, strict=True) if uri)
    return (
        f'<section class="rule{"" if ok else " flagged"}" id="{_e(rule.id)}">'
        f"<h3>{_e(rule.id)} — <code>{_e(rule.text)}</code></h3>"
        f'<p class="sentence">{_e(figures["sentence"])}</p>'
        f"<h4>Evidence</h4>{_table(evidence)}"
        f"<h4>Corroboration by the surrogate model</h4><p>{verdict}</p>{_table(corroboration)}"
        f'<div class="plots">{images or no_plot}</div>'
        f"<h4>Covered rows without the outcome</h4>{_table(_cex_rows(explanation, rule.id, 'covered without outcome'))}"
        f"<h4>Nearest uncovered rows with the outcome</h4>"
        f"{_table(_cex_rows(explanation, rule.id, 'uncovered with outcome'))}"
        "</section>"
    )


def report_html(explanation: Explanation, pack: RulePack, *, max_plotted_rules: int = MAX_PLOTTED_RULES) -> str:
    """The whole report as one HTML string (self-contained: no network reference).

    Dependence plots are drawn for the first ``max_plotted_rules`` rules (default :data:`MAX_PLOTTED_RULES`), so a
    pack of thousands of rules still gives a report in seconds; every rule keeps its section and figures.
    """
    s = explanation.settings
    models = []
    r: dict[Any, Any]
    for r in explanation.models.to_dict(orient="records"):
        scores = explanation.folds.loc[explanation.folds["target"] == r["target"], "score"]
        models.append({
            "target": r["target"], "metric": "AUC" if r["metric"] == "auc" else "R²",
            "cross-validated": f"{r['score']:.3f} ± {r['score_std']:.3f}" if math.isfinite(r["score"]) else "n/a",
            "folds": r["folds"], "rows": f"{r['rows']:,}", "SHAP rows": f"{r['shap_rows']:,}",
            "fold scores": ", ".join(f"{v:.3f}" for v in scores),
        })
    missed = [{"target": m["target"], "feature": m["feature"], "share of mean |SHAP|": percent(float(m["share"]))}
              for m in explanation.missed.to_dict(orient="records")]
    missed_pairs = [{"target": m["target"], "features": f"{m['feature']} × {m['other']}",
                     "share of mean |SHAP interaction|": percent(float(m["share"]))}
                    for m in explanation.missed_interactions.to_dict(orient="records")]
    flagged = int((~explanation.rules["corroborated"].astype(bool)).sum()) if len(explanation.rules) else 0
    explained = set(explanation.rules["rule_id"])
    sections = "".join(_rule_section(explanation, pack, rule, None if i < max_plotted_rules else max_plotted_rules)
                       for i, rule in enumerate(r for r in pack.rules if r.id in explained))
    toc = "".join(f'<li><a href="#{_e(r.id)}">{_e(r.id)}</a> {_e(r.text)}</li>' for r in pack.rules)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(pack.name)} — explained rules</title><style>{_STYLE}</style></head><body>"
        f"<h1>Rule pack {_e(pack.name)} (line {_e(pack.line)}) — explained</h1>"
        f"<p>{_e(pack.description)}</p>"
        f"<p>{len(explanation.rules)} rule(s); {flagged} not corroborated by the surrogate model. Content hash "
        f"<code>{_e(explanation.content_hash)}</code>.</p><ul>{toc}</ul>"
        "<h2>Surrogate models</h2>"
        f"<p>One LightGBM model per target on the pack's features, {s.folds}-fold (stratified) cross-validated. "
        f"A rule is corroborated when the model is informative (AUC ≥ {s.min_auc}, R² ≥ {s.min_r2}) and, on the rows "
        f"the rule covers, its features push toward the outcome on at least {percent(s.min_sign_agreement)} of them "
        f"and hold at least {percent(s.min_shap_share)} of the model's |SHAP|. SHAP values from a sample of at "
        f"most {s.max_shap_rows:,} rows plus at most {s.max_covered_rows:,} covered rows per rule (seed {s.seed}).</p>"
        f"{_table(models)}"
        f"<h2>The rules</h2>{sections}"
        "<h2>What the rules miss</h2>"
        f"<p>Features holding at least {percent(s.missed_min_share)} of a target's mean |SHAP| that no rule of that "
        f"target uses:</p>{_table(missed)}"
        f"<p>Pairs of features whose SHAP interaction holds at least {percent(s.missed_min_interaction)} of a "
        f"target's mean |SHAP interaction| matrix ({s.max_interaction_rows:,} sampled rows) and that no single rule "
        f"uses together:</p>{_table(missed_pairs)}"
        "</body></html>\n"
    )


def write_report(explanation: Explanation, pack: RulePack, path: str | Path, *,
                 max_plotted_rules: int = MAX_PLOTTED_RULES) -> Path:
    """Write :func:`report_html` to ``path`` (UTF-8) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(explanation, pack, max_plotted_rules=max_plotted_rules), encoding="utf-8")
    return path
