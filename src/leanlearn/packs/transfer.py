"""Transfer validation: does each rule of a pack still hold on another line's data?

A pack mined on one line (the *origin*) carries, per rule, the origin's evidence: rows covered ``n``, ``hits``,
``confidence`` with its Wilson interval, ``support``, ``lift``, ``base_rate`` (and for a numeric outcome its
``shift``: means, medians, Cliff's delta). :func:`validate_transfer` recomputes the same figures on the *target*
line's table — the pack already in the target's vocabulary (``leanlearn.packs.mapping.translate``) — and judges each
rule with three one-sided questions, each a family Holm-adjusted over the pack's rules:

- **weaker** — is the target's confidence below the origin's? Two independent proportions, one-sided
  (``statsmodels`` ``test_proportions_2indep``, Agresti–Caffo, ``alternative="smaller"``);
- **holds** — is it the same within ``±margin`` (default 10 percentage points of confidence, and never more than
  ``relative_margin`` — default half — of the origin's confidence, so a 10 %-confidence rule that drops to 3 % does
  not "hold"; each verdict records the margin it was judged with)? Equivalence by TOST
  (``tost_proportions_2indep``). A rule whose target confidence is *above* the origin's only has to show that it is
  not worse by more than the margin (the TOST's lower test, i.e. non-inferiority): a rule that is clearly stronger
  on the target holds — the origin's claim is true there, and more — and is marked ``stronger``;
- **points at waste** — is the covered rows' outcome rate above the uncovered rows' on the target? One-sided Fisher
  exact test (the miner's own test).

The verdict, Holm-adjusted p-values against ``alpha``:

- ``holds``: equivalent (or non-inferior when stronger) **and** still points at waste;
- ``fails``: significantly weaker **and** no longer shown to point at waste on the target;
- ``weaker``: significantly weaker, but still points at waste;
- ``not enough data``: none of these shown (or no covered rows). ``needed_rows`` then says how many covered rows a
  verdict would need, under a stated assumption: the target's confidence equals the origin's, the TOST (and the
  points-at-waste test) then reach ``power`` at level ``alpha / k`` — ``k`` the rules of that family not yet
  significant, Holm's threshold for the next one. ``None`` with the reason when no number of target rows is enough
  (the origin's own ``n`` leaves an interval wider than the margin, or the origin's confidence is not above the
  target's uncovered rate).

A **numeric outcome** (the pack's target has ``kind="numeric"`` and the rule a ``shift``) is judged by its shift on
the target: covered vs uncovered rows, one-sided Mann–Whitney in the worse direction (``scipy``) for "points at
waste", and Cliff's delta compared with the origin's: "weaker" by a one-sided z-test of the two deltas, "holds" by
TOST within ``±delta_margin`` (default 0.10 on Cliff's −1…1 scale, about half the width of Romano's "small"
band), the standard error of each delta from the Hanley–McNeil variance of the AUC (delta = 2·AUC − 1). The share of
covered rows worse than the origin's overall median is reported as the rule's confidence, for the plot.

Rows whose outcome is missing (or, for a numeric outcome, not finite) are left out of that outcome's figures and
counted (``RuleVerdict.missing``, ``TransferReport.missing``). A binary outcome column that is not 0/1 is one
:class:`~leanlearn.errors.DataError` naming the column and its values. statsmodels and scipy are imported when
:func:`validate_transfer` runs.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from leanlearn.mining.rules import Condition, Rule, RuleSet
>>> from leanlearn.packs.pack import RulePack, Target
>>> rule = Rule.from_counts([Condition("x", ">=", 5)], "bad", hits=90, n=100, positives=120, rows=1000, id="R1")
>>> pack = RulePack(name="p", line="L1", targets=(Target("bad"),), rules=RuleSet((rule,)))
>>> x = np.r_[np.full(200, 6.0), np.zeros(1800)]
>>> bad = np.r_[np.ones(178), np.zeros(22), np.ones(40), np.zeros(1760)]
>>> report = validate_transfer(pack, pd.DataFrame({"x": x, "bad": bad}), target_line="L2")
>>> v = report.verdicts[0]
>>> v.verdict, v.n, v.hits, round(v.confidence, 2)
('holds', 200, 178, 0.89)
>>> print(report.summary())  # doctest: +NORMALIZE_WHITESPACE
Pack 'p' from line L1 on line L2 (2,000 rows): of 1 rule, 1 holds, 0 weaker, 0 fail, 0 not enough data
(margin ±10 pp (≤ 50% of origin confidence), α = 0.05, Holm).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from leanlearn._util import json_plain
from leanlearn.errors import DataError
from leanlearn.mining.rules import Rule
from leanlearn.packs.pack import RulePack, Target, fingerprint

__all__ = [
    "DEFAULT_DELTA_MARGIN", "DEFAULT_MARGIN", "DEFAULT_RELATIVE_MARGIN", "VERDICTS", "RuleVerdict", "TransferReport",
    "validate_transfer",
]

#: The four verdicts, in the order reports list them.
VERDICTS: tuple[str, ...] = ("holds", "weaker", "fails", "not enough data")
#: Default equivalence margin on a rule's confidence (a share: 0.10 = 10 percentage points).
DEFAULT_MARGIN = 0.10
#: Default equivalence margin on Cliff's delta of a numeric-outcome rule (−1…1 scale).
DEFAULT_DELTA_MARGIN = 0.10
#: Default cap of the confidence margin relative to the origin's confidence (0.5: at most half of it).
DEFAULT_RELATIVE_MARGIN = 0.5
#: Most covered rows :func:`validate_transfer` will ever say a verdict needs (beyond: "never", with the reason).
MAX_NEEDED_ROWS = 10**9


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """One rule judged on the target line, beside the origin's evidence.

    Target-side figures are ``None`` where they cannot be computed (no covered rows, no rows with a known outcome);
    p-values are ``None`` where the test cannot run. ``kind`` is ``"binary"`` or ``"numeric"``; the ``*delta*`` and
    mean/median fields are set for numeric rules only.
    """

    rule_id: str
    outcome: str
    kind: str
    text: str
    verdict: str
    reason: str
    origin_n: int
    origin_hits: int
    origin_confidence: float
    origin_ci: tuple[float, float]
    origin_support: float
    origin_lift: float | None
    origin_base_rate: float
    rows: int
    missing: int
    n: int
    hits: int
    support: float | None
    confidence: float | None
    ci: tuple[float, float] | None
    base_rate: float | None
    lift: float | None
    uncovered_rate: float | None
    difference: float | None
    p_weaker: float | None
    p_weaker_adj: float | None
    p_holds: float | None
    p_holds_adj: float | None
    p_points: float | None
    p_points_adj: float | None
    stronger: bool = False
    needed_rows: int | None = None
    needed_note: str = ""
    origin_delta: float | None = None
    delta: float | None = None
    delta_ci: tuple[float, float] | None = None
    origin_delta_ci: tuple[float, float] | None = None
    mean: float | None = None
    median: float | None = None
    mean_uncovered: float | None = None
    median_uncovered: float | None = None
    margin: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: every field, tuples as lists, NaN and infinity as ``null``."""
        doc = {f.name: getattr(self, f.name) for f in fields(self)}
        return dict(json_plain(doc))

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RuleVerdict:
        values: dict[str, Any] = {f.name: doc[f.name] for f in fields(cls) if f.name in doc}
        for key in ("origin_ci", "ci", "delta_ci", "origin_delta_ci"):
            pair = values.get(key)
            if pair is not None:
                values[key] = (float(pair[0]), float(pair[1]))
        return cls(**values)


@dataclass(frozen=True)
class TransferReport:
    """The verdict on every rule of a pack on one target line's table.

    ``line`` is the line the pack was mined on (its lineage's ``source_line``, else ``pack.line``), ``target`` the
    line it was validated on; ``content_hash`` identifies the validated pack (``pack.source_hash or
    pack.content_hash``), ``data_fingerprint`` the table (:func:`leanlearn.packs.pack.fingerprint`).
    """

    pack_name: str
    line: str
    target: str
    content_hash: str
    data_fingerprint: dict[str, Any]
    margin: float
    alpha: float
    rows: int
    verdicts: tuple[RuleVerdict, ...]
    power: float = 0.80
    delta_margin: float = DEFAULT_DELTA_MARGIN
    missing: dict[str, int] = field(default_factory=dict)
    created: str = ""
    relative_margin: float | None = DEFAULT_RELATIVE_MARGIN

    @property
    def counts(self) -> dict[str, int]:
        """Rules per verdict, every verdict listed (``{"holds": 6, "weaker": 2, "fails": 1, "not enough data": 0}``)."""
        out = dict.fromkeys(VERDICTS, 0)
        for v in self.verdicts:
            out[v.verdict] += 1
        return out

    def ids(self, verdict: str) -> list[str]:
        """Ids of the rules with ``verdict``."""
        return [v.rule_id for v in self.verdicts if v.verdict == verdict]

    def summary(self) -> str:
        """The report in one line of words."""
        c = self.counts
        n = len(self.verdicts)

        def named(verdict: str) -> str:
            ids = self.ids(verdict)
            if not ids:
                return ""
            shown = ", ".join(ids[:6]) + (f", … {len(ids) - 6} more" if len(ids) > 6 else "")
            return f" ({shown})"

        return (
            f"Pack {self.pack_name!r} from line {self.line} on line {self.target} ({self.rows:,} rows): of {n} "
            f"rule{'s' if n != 1 else ''}, {c['holds']} hold{'s' if c['holds'] == 1 else ''}, "
            f"{c['weaker']} weaker{named('weaker')}, {c['fails']} fail{'s' if c['fails'] == 1 else ''}"
            f"{named('fails')}, {c['not enough data']} not enough data{named('not enough data')} "
            f"(margin ±{self.margin * 100:g} pp{self._cap()}, α = {self.alpha:g}, Holm)."
        )

    def _cap(self) -> str:
        return f" (≤ {self.relative_margin:.0%} of origin confidence)" if self.relative_margin else ""

    def to_json(self) -> dict[str, Any]:
        """JSON-safe document (no NaN): the settings, counts, summary and every verdict."""
        doc = {
            "pack_name": self.pack_name, "line": self.line, "target": self.target, "content_hash": self.content_hash,
            "data_fingerprint": self.data_fingerprint, "margin": self.margin, "alpha": self.alpha,
            "power": self.power, "delta_margin": self.delta_margin, "relative_margin": self.relative_margin,
            "rows": self.rows, "missing": self.missing,
            "created": self.created, "counts": self.counts, "summary": self.summary(),
            "verdicts": [v.to_json() for v in self.verdicts],
        }
        return dict(json_plain(doc))

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> TransferReport:
        """Rebuild a report from :meth:`to_json` (e.g. read back from the registry)."""
        try:
            return cls(
                pack_name=str(doc["pack_name"]), line=str(doc["line"]), target=str(doc["target"]),
                content_hash=str(doc["content_hash"]), data_fingerprint=dict(doc.get("data_fingerprint") or {}),
                margin=float(doc["margin"]), alpha=float(doc["alpha"]), rows=int(doc["rows"]),
                verdicts=tuple(RuleVerdict.from_json(v) for v in doc["verdicts"]),
                power=float(doc.get("power", 0.8)), delta_margin=float(doc.get("delta_margin", DEFAULT_DELTA_MARGIN)),
                missing={str(k): int(v) for k, v in dict(doc.get("missing") or {}).items()},
                created=str(doc.get("created", "")),
                relative_margin=(None if doc.get("relative_margin") is None else float(doc["relative_margin"]))
                if "relative_margin" in doc else DEFAULT_RELATIVE_MARGIN,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"not a transfer validation report ({type(exc).__name__}: {exc})") from None

    def to_frame(self) -> pd.DataFrame:
        """One row per rule: verdict, origin and target figures, p-values raw and Holm-adjusted, needed rows."""
        rows = []
        for v in self.verdicts:
            row = {f.name: getattr(v, f.name) for f in fields(v)}
            for key in ("origin_ci", "ci", "delta_ci", "origin_delta_ci"):
                pair = row.pop(key)
                row[f"{key}_low"], row[f"{key}_high"] = (None, None) if pair is None else pair
            rows.append(row)
        columns = [f.name for f in fields(RuleVerdict) if not f.name.endswith("ci")]
        columns += [f"{k}_{s}" for k in ("origin_ci", "ci", "delta_ci", "origin_delta_ci") for s in ("low", "high")]
        return pd.DataFrame(rows, columns=columns)


# -- statistics ---------------------------------------------------------------------------------------------------
def _finite(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def holm_adjust(p_values: list[float | None]) -> list[float | None]:
    """Holm-adjusted p-values over the finite ones; ``None`` (no test) stays and does not count.

    The step-down of :func:`leanlearn.mining.stats.holm` — tested to equal ``statsmodels``'
    ``multipletests(method="holm")``, which is not called here because it runs a full garbage collection per call.

    >>> holm_adjust([0.01, None, 0.04, 0.03])
    [0.03, None, 0.06, 0.06]
    """
    from leanlearn.mining.stats import holm

    present = [i for i, p in enumerate(p_values) if p is not None and math.isfinite(p)]
    out: list[float | None] = [None] * len(p_values)
    if not present:
        return out
    adjusted = holm(np.array([float(p_values[i]) for i in present]))  # type: ignore[arg-type]
    for i, p in zip(present, adjusted, strict=True):
        out[i] = round(float(p), 15)
    return out


def wilson(hits: int, n: int, alpha: float = 0.05) -> tuple[float, float] | None:
    """Wilson interval of ``hits / n`` (``statsmodels`` ``proportion_confint(method="wilson")``); ``None`` for n = 0.

    >>> [round(x, 3) for x in wilson(8, 10)]
    [0.49, 0.943]
    """
    if n <= 0:
        return None
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(hits, n, alpha=alpha, method="wilson")
    return float(max(lo, 0.0)), float(min(hi, 1.0))


def _quiet_call(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def _z(p: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(p))


def _needed(se_at: Callable[[float], float], goal: float) -> int | None:
    """Smallest covered-row count ``m`` with ``se_at(m) <= goal`` (``se_at`` decreasing); ``None`` if none up to
    :data:`MAX_NEEDED_ROWS`."""
    if not math.isfinite(goal) or goal <= 0 or se_at(MAX_NEEDED_ROWS) > goal:
        return None
    lo, hi = 1, 1
    while se_at(hi) > goal:
        lo, hi = hi, hi * 2
    while lo < hi:
        mid = (lo + hi) // 2
        if se_at(mid) > goal:
            lo = mid + 1
        else:
            hi = mid
    return hi


def _hanley_mcneil_se(auc: float, n_pos: float, n_neg: float) -> float:
    """Standard error of an AUC (Hanley & McNeil 1982); AUC kept half a pair off 0 and 1."""
    if n_pos <= 0 or n_neg <= 0:
        return math.inf
    edge = 0.5 / max(min(n_pos, n_neg), 1.0)
    a = min(max(auc, edge), 1.0 - edge)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg)
    return math.sqrt(max(var, 0.0))


def _delta_se(delta: float, n_pos: float, n_neg: float) -> float:
    return 2.0 * _hanley_mcneil_se((delta + 1.0) / 2.0, n_pos, n_neg)


def _norm_sf(z: float) -> float:
    from scipy import stats

    return float(stats.norm.sf(z))


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One outcome column on the target: which rows are known, the values there."""

    name: str
    known: np.ndarray  # bool per row of the frame
    values: np.ndarray  # float per row (NaN where unknown)
    missing: int


def _outcome(frame: pd.DataFrame, target: Target, rule: Rule | None) -> _Outcome:
    name = target.name
    if name not in frame.columns:
        shown = ", ".join(map(str, list(frame.columns)[:12])) + (" …" if len(frame.columns) > 12 else "")
        raise DataError(
            f"outcome column {name!r} (target of the pack) is not in the data (columns: {shown}); map it with "
            "--mapping (targets:) or add the column"
        )
    raw = frame[name]
    if pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.to_numpy(dtype=float)
        known = np.ones(len(raw), dtype=bool)
    else:
        known = raw.notna().to_numpy()
        numeric = pd.to_numeric(raw, errors="coerce")
        bad = known & numeric.isna().to_numpy()
        if target.kind != "numeric" and rule is not None and not _is_one(rule):
            # a binary outcome with another positive value (e.g. "NOK"): judged by the rule's outcome condition
            hit = rule.outcome.mask_values(raw)
            return _Outcome(name, known, np.where(known, hit.astype(float), np.nan), int((~known).sum()))
        if bad.any():
            examples = sorted({str(v)[:40] for v in raw[bad].head(200)})[:3]
            kind = "numbers" if target.kind == "numeric" else "0/1 values"
            raise DataError(
                f"outcome column {name!r} holds text where {kind} belong (e.g. {', '.join(map(repr, examples))}); "
                "convert or map it (--mapping targets:) before validating"
            )
        values = numeric.to_numpy(dtype=float)
        if target.kind == "numeric":
            known = known & np.isfinite(values)
    if target.kind != "numeric":
        present = values[known]
        odd = np.setdiff1d(np.unique(present), [0.0, 1.0])
        if odd.size:
            shown = ", ".join(f"{v:g}" for v in odd[:5]) + (" …" if odd.size > 5 else "")
            raise DataError(
                f"outcome column {name!r} is not 0/1: it also holds {shown} ({odd.size:,} other value(s)); a binary "
                "outcome must be 0/1 or true/false — derive a flag or map the codes (--mapping targets:)"
            )
    values = np.where(known, values, np.nan)
    return _Outcome(name, known, values, int((~known).sum()))


def _is_one(rule: Rule) -> bool:
    out = rule.outcome
    return out.op == "==" and not isinstance(out.value, str) and out.value in (1, True)


@dataclass(frozen=True, slots=True)
class _Raw:
    """A rule's target figures and raw p-values, before Holm."""

    rule: Rule
    kind: str
    rows: int
    missing: int
    n: int
    hits: int
    confidence: float | None
    base_rate: float | None
    uncovered_rate: float | None
    p_weaker: float | None
    p_holds: float | None
    p_points: float | None
    stronger: bool
    extra: dict[str, Any]
    no_data: str = ""
    origin_se: float = math.nan  # numeric: SE of the origin's delta
    uncovered_n: int = 0


def _binary_tests(rule: Rule, n1: int, h1: int, margin: float, alpha: float) -> tuple[float, float, bool]:
    from statsmodels.stats.proportion import test_proportions_2indep, tost_proportions_2indep

    n0, h0 = int(rule.n), int(rule.hits)
    weaker = _quiet_call(test_proportions_2indep, h1, n1, h0, n0, alternative="smaller", method="agresti-caffo")
    tost = _quiet_call(tost_proportions_2indep, h1, n1, h0, n0, -margin, margin, method="agresti-caffo")
    above = h1 / n1 > h0 / n0
    p_holds = float(tost.results_larger.pvalue) if above else float(tost.pvalue)
    stronger = False
    if above:
        clear = _quiet_call(test_proportions_2indep, h1, n1, h0, n0, value=margin, alternative="larger",
                            method="agresti-caffo")
        stronger = bool(_finite(clear.pvalue) is not None and float(clear.pvalue) < alpha)
    return float(weaker.pvalue), p_holds, stronger


def _origin_rows(rule: Rule) -> int:
    if rule.coverage and rule.coverage > 0:
        return max(int(round(rule.n / rule.coverage)), int(rule.n))
    return int(rule.n)


def _judge_rule(rule: Rule, target: Target, outcome: _Outcome, covered: np.ndarray, margin: float,
                delta_margin: float, alpha: float) -> _Raw:
    known = outcome.known
    rows = int(known.sum())
    cov = covered & known
    n1 = int(cov.sum())
    missing = int((covered & ~known).sum())
    numeric = target.kind == "numeric" and rule.shift is not None
    kind = "numeric" if numeric else "binary"
    # the share of covered rows where the rule's outcome condition holds (numeric: worse than the origin's median)
    hit_rows = rule.outcome.mask_values(pd.Series(outcome.values)) & known if numeric or _is_one(rule) else None
    if hit_rows is None:
        hit_rows = (outcome.values == 1.0) & known
    h1 = int((hit_rows & cov).sum())
    positives = int(hit_rows.sum())
    base = positives / rows if rows else None
    unc_n = rows - n1
    unc_rate = (positives - h1) / unc_n if unc_n > 0 else None
    conf = h1 / n1 if n1 else None
    empty = _Raw(rule, kind, rows, missing, n1, h1, conf, base, unc_rate, None, None, None, False, {},
                 uncovered_n=unc_n)
    if rows == 0:
        return _replace_raw(empty, no_data=f"no row of the target has a known {outcome.name!r}")
    if n1 == 0:
        return _replace_raw(empty, no_data="the rule covers no row of the target")
    if not numeric:
        from leanlearn.mining.stats import fisher_greater

        p_weaker, p_holds, stronger = _binary_tests(rule, n1, h1, margin, alpha)
        p_points = float(fisher_greater(np.array([h1]), np.array([n1]), positives, rows)[0]) if unc_n > 0 else None
        return _replace_raw(empty, p_weaker=p_weaker, p_holds=p_holds, p_points=p_points, stronger=stronger)
    # numeric outcome: the shift, in the worse direction
    from leanlearn.mining.shift import shift_p, tied_cut

    assert rule.shift is not None
    sign = 1.0 if rule.shift.worse == "higher" else -1.0
    worse = sign * outcome.values
    a, b = worse[cov], worse[known & ~covered]
    extra: dict[str, Any] = {
        "mean": float(np.mean(outcome.values[cov])), "median": float(np.median(outcome.values[cov])),
        "mean_uncovered": float(np.mean(outcome.values[known & ~covered])) if b.size else None,
        "median_uncovered": float(np.median(outcome.values[known & ~covered])) if b.size else None,
    }
    d0 = float(rule.shift.effect_size)
    n0 = int(rule.n)
    se0 = _delta_se(d0, n0, max(_origin_rows(rule) - n0, 0))
    extra["origin_delta"] = d0
    extra["origin_delta_ci"] = _delta_ci(d0, se0)
    if b.size == 0:
        return _replace_raw(empty, no_data="the rule covers every row of the target: nothing to compare it with",
                            extra=extra, origin_se=se0)
    if np.ptp(np.r_[a, b]) == 0:
        d1, p_points = 0.0, 1.0
    else:
        # the miner's test: Mann–Whitney, and where the outcome is heavily tied also the exact test of "worse than
        # the median" (the larger p counts; its normal approximation alone is far too optimistic there)
        p_points, d1 = shift_p(a, b, tied_cut(np.r_[a, b]))
    se1 = _delta_se(d1, a.size, b.size)
    se = math.hypot(se0, se1)
    diff = d1 - d0
    p_weaker = _norm_sf(-diff / se) if se > 0 else (1.0 if diff >= 0 else 0.0)
    p_lower = _norm_sf((diff + delta_margin) / se) if se > 0 else (0.0 if diff > -delta_margin else 1.0)
    p_upper = _norm_sf((delta_margin - diff) / se) if se > 0 else (0.0 if diff < delta_margin else 1.0)
    p_holds = p_lower if diff > 0 else max(p_lower, p_upper)
    stronger = bool(diff > 0 and se > 0 and _norm_sf((diff - delta_margin) / se) < alpha)
    extra["delta"] = d1
    extra["delta_ci"] = _delta_ci(d1, se1)
    return _replace_raw(empty, p_weaker=p_weaker, p_holds=p_holds, p_points=p_points, stronger=stronger,
                        extra=extra, origin_se=se0)


def _delta_ci(delta: float, se: float) -> tuple[float, float] | None:
    if not math.isfinite(se):
        return None
    half = 1.959963984540054 * se
    return max(delta - half, -1.0), min(delta + half, 1.0)


def _replace_raw(raw: _Raw, **changes: Any) -> _Raw:
    from dataclasses import replace

    return replace(raw, **changes)


def _rule_margin(rule: Rule, margin: float, relative_margin: float | None) -> float:
    """The confidence margin a binary rule is judged with: ``margin``, capped at ``relative_margin`` × its origin
    confidence (a floor of 0.5 pp keeps a near-zero confidence testable)."""
    if relative_margin is None:
        return float(margin)
    return float(min(margin, max(relative_margin * float(rule.confidence), 0.005)))


def _needed_rows(raw: _Raw, margin: float, delta_margin: float, alpha_holds: float, alpha_points: float,
                 power: float, base: float | None) -> tuple[int | None, str]:
    """Covered rows a verdict would need if the target equalled the origin (see the module docstring)."""
    rule = raw.rule
    k_holds = _z(1 - alpha_holds) + _z((1 + power) / 2)
    k_points = _z(1 - alpha_points) + _z(power)
    assumption = (f"if the target's {'Cliff delta' if raw.kind == 'numeric' else 'confidence'} equalled the "
                  f"origin's, {{rows}} covered rows give the equivalence test (±{{margin}}) and the points-at-waste "
                  f"test {power:.0%} power at α = {alpha_holds:.2g}")
    if raw.kind == "binary":
        n0, h0 = int(rule.n), int(rule.hits)
        p0 = (h0 + 1) / (n0 + 2)
        var0 = p0 * (1 - p0) / (n0 + 2)
        c = float(rule.confidence)

        def se_holds(m: float) -> float:  # Agresti–Caffo, as the test: one success and one failure added per side
            p1 = (c * m + 1) / (m + 2)
            return math.sqrt(var0 + p1 * (1 - p1) / (m + 2))

        holds_rows = _needed(se_holds, margin / k_holds)
        if holds_rows is None:
            return None, (f"no number of target rows gives {power:.0%} power: the origin's own {n0:,} covered rows "
                          f"leave its confidence too uncertain to show ±{margin * 100:g} pp; widen the margin or "
                          "re-mine the origin on more rows")
        u = raw.uncovered_rate if raw.uncovered_rate is not None else base
        if u is None:
            return holds_rows, assumption.format(rows=f"{holds_rows:,}", margin=f"{margin * 100:g} pp")
        if c <= u:
            return None, (f"never: the origin's confidence {c:.1%} is not above the target's rate without the rule "
                          f"({u:.1%}), so the rule cannot point at waste there")
        unc = max(raw.uncovered_n, 1)
        points_rows = _needed(lambda m: math.sqrt(c * (1 - c) / m + u * (1 - u) / unc), (c - u) / k_points)
        if points_rows is None:
            return None, (f"never: with {unc:,} uncovered rows the target cannot show {c:.1%} above {u:.1%}; "
                          "validate on a larger table")
        rows = max(holds_rows, points_rows)
        return rows, assumption.format(rows=f"{rows:,}", margin=f"{margin * 100:g} pp")
    d0 = float(rule.shift.effect_size) if rule.shift is not None else 0.0
    se0 = raw.origin_se
    share = raw.n / raw.rows if raw.rows and raw.n else (rule.coverage or 0.5)
    share = min(max(share, 1e-6), 1 - 1e-6)
    ratio = (1 - share) / share
    holds_rows = _needed(lambda m: math.hypot(se0, _delta_se(d0, m, m * ratio)), delta_margin / k_holds)
    if holds_rows is None:
        return None, (f"no number of target rows gives {power:.0%} power: the origin's own {int(rule.n):,} covered "
                      f"rows leave its Cliff's delta too uncertain to show ±{delta_margin:g}; widen the delta margin "
                      "or re-mine the origin on more rows")
    if d0 <= 0:
        return None, "never: the origin's Cliff's delta is not above 0, so the rule cannot point at waste"
    points_rows = _needed(lambda m: _delta_se(0.0, m, m * ratio), d0 / k_points)
    if points_rows is None:
        return None, f"never: the origin's Cliff's delta {d0:.2g} is too small to show on any number of rows"
    rows = max(holds_rows, points_rows)
    return rows, assumption.format(rows=f"{rows:,}", margin=f"{delta_margin:g}")


def _verdict(raw: _Raw, pw: float | None, ph: float | None, pp: float | None, alpha: float) -> tuple[str, str]:
    if raw.no_data:
        return "not enough data", raw.no_data
    weaker = pw is not None and pw < alpha
    holds = ph is not None and ph < alpha
    points = pp is not None and pp < alpha
    what = "Cliff's delta" if raw.kind == "numeric" else "confidence"
    if holds and points:
        if raw.stronger:
            return "holds", f"stronger on the target: {what} clearly above the origin's, and points at waste"
        return "holds", f"{what} as at origin (within the margin) and points at waste on the target"
    if weaker and not points:
        return "fails", f"{what} significantly below the origin's and no longer shown to point at waste"
    if weaker:
        return "weaker", f"{what} significantly below the origin's, but still points at waste"
    if holds:
        return "not enough data", f"{what} as at origin, but not (yet) shown to point at waste on the target"
    if points:
        return "not enough data", "points at waste, but neither shown to be as at origin nor weaker"
    return "not enough data", f"too few covered rows to tell whether the {what} holds, is weaker or fails"


def validate_transfer(
    pack: RulePack,
    frame: pd.DataFrame,
    *,
    margin: float = DEFAULT_MARGIN,
    alpha: float = 0.05,
    power: float = 0.80,
    delta_margin: float = DEFAULT_DELTA_MARGIN,
    target_line: str | None = None,
    relative_margin: float | None = DEFAULT_RELATIVE_MARGIN,
) -> TransferReport:
    """Judge every rule of ``pack`` on ``frame``, the target line's table (see the module docstring).

    Parameters
    ----------
    pack : RulePack
        The pack in the target line's vocabulary (columns named as in ``frame``); its rules' evidence is the
        origin's.
    frame : DataFrame
        The target line's rows with the pack's features (derived ones are computed) and outcome columns.
    margin : float
        Equivalence margin on confidence, a share in (0, 1): 0.10 = ±10 percentage points.
    alpha : float
        Significance level of each family (weaker, holds, points at waste) after Holm over the pack's rules.
    power : float
        Power assumed when saying how many covered rows a "not enough data" rule would need.
    delta_margin : float
        Equivalence margin on Cliff's delta for numeric-outcome rules, in (0, 2).
    relative_margin : float or None
        Cap of a binary rule's margin relative to its origin confidence: the rule is judged with
        ``min(margin, relative_margin × origin confidence)`` (default 0.5: a 10 % rule must stay within ±5 pp);
        ``None`` judges every rule with ``margin``.
    target_line : str, optional
        Name of the target line in the report; default ``pack.line`` when the pack was imported (its lineage names
        another source line), else ``"target"``.

    Returns
    -------
    TransferReport

    Raises
    ------
    DataError
        Bad settings, an empty table, a missing outcome or feature column, an outcome column that is not 0/1.
    """
    for name, value, low, high in (("margin", margin, 0.0, 1.0), ("alpha", alpha, 0.0, 0.5),
                                   ("power", power, 0.0, 1.0), ("delta_margin", delta_margin, 0.0, 2.0)):
        number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
        v = _finite(value) if number else None
        if v is None or not low < v < high:
            raise DataError(f"{name} = {value!r:.40} is not a number between {low:g} and {high:g} (exclusive); "
                            f"e.g. {name}={ {'margin': 0.1, 'alpha': 0.05, 'power': 0.8, 'delta_margin': 0.1}[name]}")
    if relative_margin is not None:
        number = isinstance(relative_margin, (int, float, np.integer, np.floating)) and not isinstance(
            relative_margin, bool)
        cap = _finite(relative_margin) if number else None
        if cap is None or not 0.0 < cap <= 1.0:
            raise DataError(f"relative_margin = {relative_margin!r:.40} is not a number in (0, 1] (or None); "
                            "e.g. relative_margin=0.5")
    if not isinstance(pack, RulePack):
        raise DataError(f"validate_transfer needs a RulePack, got {type(pack).__name__}; load it with RulePack.load")
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"the target data must be a table (pandas DataFrame), got {type(frame).__name__}")
    repeated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if repeated:
        raise DataError(f"the target data has column(s) {', '.join(map(repr, repeated[:5]))} more than once; "
                        "name each column once")
    if len(frame) == 0:
        raise DataError("the target data has no rows; nothing to validate the pack on")
    prepared = pack.prepare(frame)
    needed = sorted({c.feature for r in pack.rules for c in r.conditions} - set(map(str, prepared.columns)))
    if needed:
        users = [r.id for r in pack.rules if any(c.feature in needed for c in r.conditions)]
        raise DataError(
            f"the target data lacks column(s) {', '.join(map(repr, needed[:8]))} that rule(s) "
            f"{', '.join(users[:8])}{' …' if len(users) > 8 else ''} need; rename or convert them with --mapping"
        )
    targets = {t.name: t for t in pack.targets}
    outcomes: dict[str, _Outcome] = {}
    raws: list[_Raw] = []
    for rule in pack.rules:
        target = targets.get(rule.target) or Target(rule.target)
        if rule.target not in outcomes:
            outcomes[rule.target] = _outcome(prepared, target, rule)
        covered = rule.mask(prepared)
        raws.append(_judge_rule(rule, target, outcomes[rule.target], covered, _rule_margin(rule, margin,
                                relative_margin), float(delta_margin), float(alpha)))
    adj_w = holm_adjust([r.p_weaker for r in raws])
    adj_h = holm_adjust([r.p_holds for r in raws])
    adj_p = holm_adjust([r.p_points for r in raws])
    open_h = sum(1 for p in adj_h if p is None or p >= alpha)
    open_p = sum(1 for p in adj_p if p is None or p >= alpha)
    verdicts = []
    for raw, pw, ph, pp in zip(raws, adj_w, adj_h, adj_p, strict=True):
        verdict, reason = _verdict(raw, pw, ph, pp, alpha)
        need, note = None, ""
        if verdict == "not enough data":
            need, note = _needed_rows(raw, _rule_margin(raw.rule, margin, relative_margin), float(delta_margin),
                                      alpha / max(open_h, 1), alpha / max(open_p, 1), float(power), raw.base_rate)
            if need is not None and need <= raw.n:
                note += (f"; it covers {raw.n:,} already — its figures on the target differ from the origin's more "
                         "than this assumes")
        rule = raw.rule
        conf = raw.confidence
        verdicts.append(RuleVerdict(
            rule_id=rule.id, outcome=rule.target, kind=raw.kind, text=rule.text, verdict=verdict, reason=reason,
            origin_n=int(rule.n), origin_hits=int(rule.hits), origin_confidence=float(rule.confidence),
            origin_ci=rule.ci, origin_support=float(rule.support), origin_lift=_finite(rule.lift),
            origin_base_rate=float(rule.base_rate), rows=raw.rows, missing=raw.missing, n=raw.n, hits=raw.hits,
            support=raw.hits / raw.rows if raw.rows else None, confidence=conf,
            ci=wilson(raw.hits, raw.n, 0.05), base_rate=raw.base_rate,
            lift=conf / raw.base_rate if conf is not None and raw.base_rate else None,
            uncovered_rate=raw.uncovered_rate,
            difference=(conf - float(rule.confidence)) if conf is not None and raw.kind == "binary" else (
                raw.extra["delta"] - raw.extra["origin_delta"] if "delta" in raw.extra else None),
            p_weaker=raw.p_weaker, p_weaker_adj=pw, p_holds=raw.p_holds, p_holds_adj=ph, p_points=raw.p_points,
            p_points_adj=pp, stronger=raw.stronger and verdict == "holds", needed_rows=need, needed_note=note,
            margin=_rule_margin(rule, margin, relative_margin) if raw.kind == "binary" else float(delta_margin),
            **{k: v for k, v in raw.extra.items() if k in _EXTRA},
        ))
    lineage = pack.lineage or {}
    origin = str(lineage.get("source_line") or pack.line)
    target_name = target_line or (pack.line if origin != pack.line else "target")
    return TransferReport(
        pack_name=pack.name, line=origin, target=str(target_name),
        content_hash=pack.source_hash or pack.content_hash, data_fingerprint=fingerprint(frame),
        margin=float(margin), alpha=float(alpha), rows=len(frame), verdicts=tuple(verdicts), power=float(power),
        delta_margin=float(delta_margin), missing={k: o.missing for k, o in outcomes.items()},
        relative_margin=None if relative_margin is None else float(relative_margin),
        created=datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    )


_EXTRA = frozenset({"origin_delta", "delta", "delta_ci", "origin_delta_ci", "mean", "median", "mean_uncovered",
                    "median_uncovered"})
