"""ShiftMiner: rules for numeric waste outcomes (setup minutes, waiting, scrap quantity, cycle time).

A numeric rule says where the outcome runs worse: "on Machine 4, changeovers from Spur Gear take longer (median
95 vs 45 min)". It is subgroup discovery with the same guarantees as :class:`~leanlearn.mining.miner.RuleMiner`:

1. rows worse than the overall median (``worse="higher"``: above it) form a binary proxy, and the binary search
   (items, itemsets, threshold refinement) proposes candidate conditions from it;
2. each candidate is tested on the numeric outcome itself: a one-sided Mann–Whitney U test of covered vs
   uncovered rows, and, for every condition, of the rule vs the rows its generalisation adds (each condition must
   make the shift significantly worse). Where one value holds :data:`TIED_SHARE` of the rows or more (reject
   counts that are mostly 0), the normal approximation of that test is far too optimistic in the tail, so each
   test there is also the exact Fisher test of "worse than the overall median" and the larger p-value counts
   (see :func:`shift_p`);
3. the rule's p-value is the largest of these tests, Holm-adjusted over every hypothesis the search evaluated —
   by layer (rule length, :mod:`leanlearn.mining.layers`) unless ``layered=False``, so a one-condition shift is
   judged against the one-condition hypotheses; near-duplicates are merged and the covering selection
   (:func:`~leanlearn.mining.selection.cover_shift`) keeps a rule only if the rows it adds beyond the findings
   before it are significantly worse; the others are ``context_rules_``;
4. evidence: mean and median under the rule and overall, Cliff's delta, plus the binary evidence of the proxy
   (``confidence`` = share of covered rows worse than the overall median).

:class:`ShiftMinerCore` (this module) is the search without scikit-learn, used by the command line and
:func:`~leanlearn.packs.build.mine_pack`; ``ShiftMiner`` is its scikit-learn estimator
(:mod:`leanlearn.mining.estimator`), still importable from here: this module's ``__getattr__`` loads it on first
access (see :mod:`leanlearn.mining.miner`). The Mann–Whitney test is computed here, without SciPy.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(1)
>>> X = pd.DataFrame({"pair": rng.choice(["A→B", "B→A", "A→C"], 600), "crew": rng.choice(["x", "y"], 600)})
>>> setup = pd.Series(rng.gamma(4, 10, 600) + np.where(X.pair == "A→B", 60, 0), name="setup_min")
>>> miner = ShiftMinerCore(worse="higher").fit(X, setup)
>>> miner.rules_[0].text
'pair == A→B → setup_min ↑'
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from leanlearn.mining.expressions import evaluate_derived
from leanlearn.mining.miner import RuleMinerCore, TargetError, _make_rule, as_target
from leanlearn.mining.rules import Condition, Rule, RuleSet, Shift
from leanlearn.mining.selection import Candidate, cover_shift, merge_near_duplicates
from leanlearn.mining.settings import MiningSettingError
from leanlearn.mining.stats import fisher_greater

if TYPE_CHECKING:
    from typing import Self

    from leanlearn.mining.estimator import ShiftMiner as ShiftMiner

#: Fewest rows a numeric rule covers unless ``min_rows`` says otherwise: below about 20 rows a median shift is not
#: stable and, with many ties, the Mann–Whitney normal approximation serves it poorly.
NUMERIC_MIN_ROWS = 20

#: Share of the rows one value must hold for the Mann–Whitney normal approximation to be distrusted. Measured under
#: random permutations of 3,785 rows (groups of 20 and 50): with the largest tie block at 17–20 % of the rows the
#: approximation's tail is within about 1.25× of the nominal rate down to p = 1e-5; at 50 % it admits 1.5–2.3×
#: as many p-values below 1e-4–1e-5, at 80 % 3.5–9.5× and at 94 % 12–42×; on the 4TU reject counts themselves
#: (94 % zeros; groups of 20 and 40 of their 3,785 rows) 2.7× below 1e-2, 3.7–4.7× below 1e-3, 8–14× below 1e-4.
TIED_SHARE = 0.2


def __getattr__(name: str) -> Any:
    """``ShiftMiner`` (the scikit-learn estimator) is built on first access: see the module docstring."""
    if name == "ShiftMiner":
        from leanlearn.mining.estimator import ShiftMiner

        return ShiftMiner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def numeric_outcome(y: Any, name: str) -> np.ndarray:
    """Validate a numeric outcome; raise :class:`~leanlearn.mining.miner.TargetError` with an example of what is
    wrong. Text that holds only numbers (an object column of numbers) is read as numbers."""
    s = as_target(y)
    if s.dtype == object:
        converted = pd.to_numeric(s, errors="coerce")
        if converted.notna().sum() == s.notna().sum():
            s = converted
    if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        example = s.dropna().iloc[0] if s.notna().any() else None
        raise TargetError(
            f"target {name!r} is not numeric (example value {example!r}); a numeric waste outcome holds minutes, "
            "counts or quantities"
        )
    if s.isna().any():
        row = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise TargetError(f"target {name!r} has a missing value in row {row}; drop those rows or fill them")
    values = s.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        row = int(np.flatnonzero(~np.isfinite(values))[0])
        raise TargetError(f"target {name!r} has an infinite value in row {row}; drop those rows or fill them")
    return values


def _mean(values: np.ndarray) -> float:
    """Mean without overflow near the float maximum (each term scaled before the sum)."""
    if not values.size:
        return float("nan")
    with np.errstate(over="ignore"):
        plain = float(values.mean())
    return plain if math.isfinite(plain) else float(np.sum(values / values.size))


def _median(values: np.ndarray) -> float:
    """Median without overflow near the float maximum (the two middle values halved before they are added)."""
    if not values.size:
        return float("nan")
    with np.errstate(over="ignore"):
        plain = float(np.median(values))
    if math.isfinite(plain):
        return plain
    ordered = np.sort(values)
    mid = ordered.size // 2
    if ordered.size % 2:
        return float(ordered[mid])
    return float(ordered[mid - 1] / 2 + ordered[mid] / 2)


def _greater_p(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """One-sided Mann–Whitney p-value that ``a`` tends to exceed ``b``, and Cliff's delta.

    The normal approximation with tie and continuity corrections — what ``scipy.stats.mannwhitneyu(a, b,
    alternative="greater", method="asymptotic")`` computes (tests/test_shift_stats.py compares the two), without
    importing SciPy (most of a second on every command-line run).

    >>> p, delta = _greater_p(np.array([5.0, 6.0, 7.0, 8.0]), np.array([1.0, 2.0, 3.0, 5.0]))
    >>> round(p, 4), delta
    (0.021, 0.9375)
    """
    n1, n2 = int(a.size), int(b.size)
    if n1 == 0 or n2 == 0:
        return 1.0, 0.0
    values = np.concatenate([np.asarray(a, dtype=float), np.asarray(b, dtype=float)])
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    ties = np.diff(np.append(starts, ordered.size))
    ranks = np.empty(values.size)
    ranks[order] = np.repeat((2 * starts + ties + 1) / 2.0, ties)  # average rank of each run of equal values
    u1 = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2.0
    n = n1 + n2
    tie_term = float((ties.astype(float) ** 3 - ties).sum())
    spread = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))) if n > 1 else 0.0
    numerator = u1 - n1 * n2 / 2.0 - 0.5
    if spread == 0.0:  # every value equal: no evidence
        p = 1.0 if numerator <= 0 else 0.0
    else:  # the upper tail of the standard normal at z, through erf near 0 and erfc in the tail
        x = -(numerator / spread) * math.sqrt(0.5)
        p = 0.5 + 0.5 * math.erf(x) if abs(x) < math.sqrt(0.5) else 0.5 * math.erfc(abs(x))
        if x > 0 and abs(x) >= math.sqrt(0.5):
            p = 1.0 - p
    return min(max(p, 0.0), 1.0), 2.0 * u1 / (n1 * n2) - 1.0


def tie_share(values: np.ndarray) -> float:
    """Share of the rows that hold the most common value (0 for no rows).

    >>> tie_share(np.array([0.0, 0.0, 0.0, 2.0, 5.0]))
    0.6
    """
    values = np.asarray(values, dtype=float)
    if not values.size:
        return 0.0
    _, counts = np.unique(values, return_counts=True)
    return float(counts.max() / values.size)


def tied_cut(values: np.ndarray) -> float | None:
    """The cut :func:`shift_p` needs for these (worse-oriented) values: their median where one value holds
    :data:`TIED_SHARE` of them or more, else ``None`` (the Mann–Whitney approximation serves).

    >>> tied_cut(np.array([0.0, 0.0, 0.0, 2.0, 5.0])), tied_cut(np.arange(10.0)) is None
    (0.0, True)
    """
    return _median(np.asarray(values, dtype=float)) if tie_share(values) >= TIED_SHARE else None


def shift_p(a: np.ndarray, b: np.ndarray, cut: float | None = None) -> tuple[float, float]:
    """One-sided p-value that ``a`` tends to exceed ``b``, valid under heavy ties, and Cliff's delta.

    Without ``cut``: the Mann–Whitney p-value of :func:`_greater_p`. With ``cut`` (the overall median, for an
    outcome with one value on :data:`TIED_SHARE` of the rows or more: :func:`tied_cut`): the larger of that
    p-value and the exact one-sided Fisher p-value that ``a`` holds more values above ``cut`` than ``b``. Under
    random labels the Fisher p-value is exact (the cut depends only on the values, which a permutation keeps), so
    the larger of the two is never below the nominal rate; the Mann–Whitney approximation alone is, where most
    values are tied.

    Six of 20 rows with rejects where 5 % of the others have one: the approximation says p ≈ 1e-7, the exact
    count of rows with rejects says 4e-4.

    >>> a, b = np.array([0.0] * 14 + [2.0] * 6), np.array([0.0] * 950 + [1.0] * 50)
    >>> f"{_greater_p(a, b)[0]:.1e}", f"{shift_p(a, b, cut=0.0)[0]:.1e}"
    ('1.3e-07', '4.5e-04')
    """
    p, delta = _greater_p(a, b)
    if cut is None or not (a.size and b.size):
        return p, delta
    above = int(np.count_nonzero(a > cut))
    positives = above + int(np.count_nonzero(b > cut))
    exact = float(fisher_greater(np.array([above]), np.array([a.size]), positives, a.size + b.size)[0])
    return max(p, exact), delta


class ShiftMinerCore(RuleMinerCore):
    """Mine rules under which a numeric waste outcome is significantly worse, without scikit-learn.

    The search behind the estimator ``ShiftMiner`` (:mod:`leanlearn.mining.estimator`).

    Parameters
    ----------
    worse : {"higher", "lower"}, default="higher"
        Which direction of the outcome is waste (setup minutes: higher; yield: lower).
    min_support, min_hits, min_confidence, max_conditions, alpha, correction, derive, engine, max_rules, min_lift, \
refine, max_refine, waste, target, auto_features, units, holdout_share, random_state, max_levels, max_candidates, \
max_auto_columns, layered, duplicate_overlap, cover_precision, min_rows
        As for :class:`~leanlearn.mining.miner.RuleMinerCore`; ``correction`` is one of ``"holm"``, ``"bh"`` or
        ``"none"``. ``min_confidence`` and ``min_lift`` apply to the binary proxy (share of covered rows worse
        than the overall median). ``min_rows`` defaults to :data:`NUMERIC_MIN_ROWS` (20) here.

    Attributes
    ----------
    rules_ : RuleSet
        Rules with :class:`~leanlearn.mining.rules.Shift` evidence, most significant first.
    median_ : float
        Overall median of the outcome.
    tie_share_ : float
        Share of the rows holding the outcome's most common value; from :data:`TIED_SHARE` on, every shift test
        is also the exact test of "worse than the median" (:func:`shift_p`).
    n_tests_ : int
        Hypotheses the search evaluated; the correction counts all of them.
    n_tests_by_length_ : dict of int to int
        The same by layer (rule length); their sum is ``n_tests_``.
    context_rules_ : RuleSet
        Significant rules the covering selection set aside (explained by findings), with ``context_reasons_``.
    """

    default_min_rows = NUMERIC_MIN_ROWS

    def __init__(
        self,
        worse: str = "higher",
        min_support: float = 0.0005,
        min_hits: int = 5,
        min_confidence: float = 0.0,
        max_conditions: int = 4,
        alpha: float = 0.05,
        correction: str = "holm",
        derive: dict[str, str] | None = None,
        engine: str = "auto",
        max_rules: int = 10,
        min_lift: float = 1.5,
        refine: bool = True,
        max_refine: int = 150,
        waste: str = "defects",
        target: str | None = None,
        auto_features: bool | None = None,
        units: dict[str, str] | None = None,
        holdout_share: float = 0.3,
        random_state: int = 0,
        max_levels: int = 50,
        max_candidates: int = 1_000_000,
        max_auto_columns: int = 25,
        layered: bool = True,
        duplicate_overlap: float = 0.9,
        cover_precision: float = 0.5,
        min_rows: int | None = None,
    ) -> None:
        super().__init__(
            min_support=min_support, min_hits=min_hits, min_confidence=min_confidence, max_conditions=max_conditions,
            alpha=alpha, correction=correction, derive=derive, engine=engine, max_rules=max_rules, min_lift=min_lift,
            refine=refine, max_refine=max_refine, waste=waste, target=target, auto_features=auto_features,
            units=units, holdout_share=holdout_share, random_state=random_state, max_levels=max_levels,
            max_candidates=max_candidates, max_auto_columns=max_auto_columns, layered=layered,
            duplicate_overlap=duplicate_overlap, cover_precision=cover_precision, min_rows=min_rows,
        )
        self.worse = worse

    def fit(self, X: Any, y: Any) -> Self:
        """Mine rules for the numeric outcome ``y``: propose (binary proxy), test each on ``y``, select."""
        self._validate_params()
        if self.worse not in ("higher", "lower"):
            raise MiningSettingError("worse", self.worse, "'higher' or 'lower'")
        if self.correction not in ("holm", "bh", "none"):
            raise MiningSettingError("correction", self.correction, "'holm', 'bh' or 'none' for a numeric outcome")
        y = self._check_target(y)
        X = self._check_input(X, y, reset=True)
        target = self._target_name(y)
        values = numeric_outcome(y, target)
        self.target_ = target
        self.n_rows_ = len(X)
        self.median_ = _median(values)
        self.tie_share_ = tie_share(values)
        self._cut = tied_cut(self._worse_values(values))  # where heavily tied, each shift test is also exact
        explorer, bad = self._propose(X, values, target)
        self.rules_ = RuleSet()
        if not len(explorer.rules_):
            return self
        scored = self._test_shifts(explorer, X, values, bad, target)
        self.rules_ = self._select_shifts(scored, target)
        return self

    def _worse_values(self, values: np.ndarray) -> np.ndarray:
        self._shift_values = values if self.worse == "higher" else -values
        return self._shift_values

    def _shift_p(self, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
        """:func:`shift_p` of two groups of worse-oriented values, exact where the outcome is heavily tied."""
        return shift_p(a, b, self._cut)

    def _propose(self, X: pd.DataFrame, values: np.ndarray, target: str) -> tuple[RuleMinerCore, np.ndarray]:
        """Candidates from the binary search on "worse than the overall median" (unadjusted, many)."""
        sign = 1.0 if self.worse == "higher" else -1.0
        bad = self._worse_values(values) > sign * self.median_
        self.base_rate_ = float(bad.mean()) if len(bad) else 0.0
        params = {name: getattr(self, name) for name in RuleMinerCore._param_names()}
        params.update(correction="none", alpha=1.0, min_lift=1.0, max_rules=max(20 * int(self.max_rules), 200),
                      target=target, min_rows=self._rows_needed(self.settings))
        explorer = RuleMinerCore(**params)
        explorer._explore_only = True  # every candidate goes to the Mann–Whitney tests; selection happens here
        explorer.fit(X, pd.Series(bad, name=target))  # the binary proxy, by design
        for name in ("itemizer_", "features_", "derived_", "screened_"):
            setattr(self, name, getattr(explorer, name))
        self.n_tests_ = explorer.n_tests_
        self.n_tests_by_length_ = dict(getattr(explorer, "n_tests_by_length_", {}))
        self.layer_weights_ = dict(getattr(explorer, "layer_weights_", {}))
        self.n_layers_ = int(getattr(explorer, "n_layers_", self.max_conditions))
        self.context_rules_, self.context_reasons_ = RuleSet(), {}
        return explorer, bad

    def _test_shifts(
        self, explorer: RuleMinerCore, X: pd.DataFrame, values: np.ndarray, bad: np.ndarray, target: str
    ) -> list[tuple[Rule, np.ndarray, float]]:
        """Each candidate tested on the outcome itself: the rule vs the rest and each condition's contribution."""
        worse_values = self._worse_values(values)
        frame = evaluate_derived(X, explorer.derived_)
        positives, rows = int(bad.sum()), len(X)
        scored: list[tuple[Rule, np.ndarray, float]] = []
        seen: set[bytes] = set()
        min_rows = self._rows_needed(self.settings)
        for candidate in explorer.rules_:
            masks = [c.mask(frame) for c in candidate.conditions]
            mask = np.logical_and.reduce(masks)
            key = np.packbits(mask).tobytes()
            if key in seen or mask.sum() < min_rows:
                continue
            seen.add(key)
            p_shift, delta = self._shift_p(worse_values[mask], worse_values[~mask])
            worst = p_shift
            for k in range(len(masks)):
                if len(masks) == 1:
                    break
                general = np.logical_and.reduce([m for j, m in enumerate(masks) if j != k])
                p_improve, _ = self._shift_p(worse_values[mask], worse_values[general & ~mask])
                worst = max(worst, p_improve)
            hits = int((mask & bad).sum())
            rule, _ = _make_rule(candidate.conditions, target, hits, int(mask.sum()), positives, rows, self.waste)
            covered = values[mask]
            shift = Shift(
                mean=_mean(covered), median=_median(covered), mean_overall=_mean(values),
                median_overall=self.median_, effect_size=delta, worse="higher" if self.worse == "higher" else "lower",
            )
            outcome = Condition(target, ">" if self.worse == "higher" else "<", self.median_)
            rule = replace(rule, outcome=outcome, shift=shift, p_value_raw=p_shift)
            scored.append((rule, mask, worst))
        return scored

    def _select_shifts(self, scored: list[tuple[Rule, np.ndarray, float]], target: str) -> RuleSet:
        """The correction (layered by rule length unless ``layered=False``), near-duplicates merged, then the
        covering selection on the outcome itself (:func:`~leanlearn.mining.selection.cover_shift`); rules that
        findings explain go to ``context_rules_``."""
        self.context_rules_, self.context_reasons_ = RuleSet(), {}
        if not scored:
            return RuleSet()
        settings = self.settings
        adjusted = self._adjust(np.array([p for *_, p in scored]), [r for r, *_ in scored], settings)
        significant = [Candidate(rule, math.log(max(rule.p_value_raw, 1e-300)), mask, float(pa))
                       for (rule, mask, _), pa in zip(scored, adjusted) if pa <= settings.alpha]
        unique, _ = merge_near_duplicates(significant, settings.duplicate_overlap)
        findings, context = cover_shift(unique, self._shift_values, min_count=self._rows_needed(settings),
                                        alpha=settings.alpha, precision_share=settings.cover_precision,
                                        greater_p=self._shift_p)
        return self._report(findings, context, settings)
