"""RuleMiner: rules whose consequent is a binary waste outcome, with the evidence to trust them.

Two classes, one search
-----------------------
:class:`RuleMinerCore` (this module) holds the whole search and imports neither scikit-learn nor SciPy: importing
``sklearn.base`` costs 1.4–1.9 s (it loads SciPy), more than mining a million rows, so the command line, pipelines
and :func:`~leanlearn.packs.build.mine_pack` fit the core. :class:`~leanlearn.mining.estimator.RuleMiner` is the
scikit-learn estimator over it (``RuleMiner(ClassifierMixin, RuleMinerCore, BaseEstimator)``): the same
parameters, fit and rules, plus ``get_params`` / ``set_params`` / ``clone``, ``score``, tags and scikit-learn's own
input checks. ``from leanlearn.mining.miner import RuleMiner`` (and ``leanlearn.RuleMiner``) still give the
estimator: this module's ``__getattr__`` imports :mod:`leanlearn.mining.estimator` on first access, so only code
that asks for the estimator pays for scikit-learn. The core keeps four input hooks the estimator overrides
(``_as_array``, ``_check_features``, ``_check_fitted``, ``_copy``); everything else is shared.

How a fit works
---------------
:meth:`RuleMinerCore.fit` validates its parameters once (:class:`~leanlearn.mining.settings.MiningSettings`), then runs
named steps:

1. ``_prepare`` — derived features are computed from their expressions (:mod:`leanlearn.mining.expressions`),
   and, when none is declared, products, ratios and differences of the strongest numeric columns are screened
   (:mod:`leanlearn.mining.autofeatures`). A derived feature that reads the target or equals it is refused.
2. ``_itemize`` — columns become items (:class:`~leanlearn.mining.features.Itemizer`): categorical levels (a
   boolean column gives ``x == True``, plus ``x == False`` where that is the minority), and one-sided numeric
   conditions at cut points chosen against the outcome; the items are packed column by column, one bit per item and row
   (:class:`~leanlearn.mining.bitsets.PackedItems`).
3. ``_enumerate`` — an itemset engine enumerates, *on the rows where the outcome holds*, every valid conjunction of
   up to ``max_conditions`` conditions (an interval on one column is one;
   :class:`~leanlearn.mining.bitsets.ItemConstraints`) with at least ``min_support × rows`` hits (the
   class-association-rule trick: a rule's support is its itemset's frequency among positive rows). Coverage on
   all rows is counted once per candidate, prefix-shared over the packed bits. The
   search never holds more than ``max_candidates`` itemsets: on a wide table it is narrowed to the columns with
   the strongest single-condition evidence, and every candidate set aside still counts in the correction.
4. ``_refine_candidates`` — the most significant candidates have each numeric threshold refined given the rule's
   other conditions: the cut that minimises the one-sided Fisher p-value (and the surest cut), at the roundest
   number between two observed values.
5. ``_select_rules`` — a rule is kept only if every condition improves it significantly over the rule without
   that condition (productive rules), if its confidence reaches ``min_confidence``, and if its p-value, adjusted
   for *every* candidate and threshold the search evaluated (Holm by default; by layer of rule length, as in
   :mod:`leanlearn.mining.layers`), is at most ``alpha``; near-duplicates are merged and a covering selection
   (:mod:`leanlearn.mining.selection`) keeps a rule as a finding only if the rows it adds beyond the findings
   before it are significantly many and precise enough — the others go to ``context_rules_``; at most
   ``max_rules`` are reported, the most significant first.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"humidity": rng.uniform(30, 90, 4000).round(1), "press": rng.choice(["P1", "P2", "P3"], 4000)})
>>> risk = np.where((X.humidity >= 70) & (X.press == "P3"), 0.6, 0.03)
>>> y = pd.Series(rng.random(4000) < risk, name="scrap")
>>> miner = RuleMinerCore(engine="bitset").fit(X, y)
>>> miner.rules_[0].text
'humidity >= 70 and press == P3 → scrap'
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from leanlearn.errors import DataError, SchemaError
from leanlearn.mining.autofeatures import propose_features
from leanlearn.mining.bitsets import ItemConstraints, PackedItems
from leanlearn.mining.engines import BitsetEngine, TooManyItemsets, get_engine, length_thresholds
from leanlearn.mining.expressions import evaluate_derived
from leanlearn.mining.features import Itemizer, SortedValues, Threshold, best_threshold
from leanlearn.mining.layers import (
    combinations_by_layer,
    itemsets_by_layer,
    largest_reportable_p,
    layered_adjust,
    weighted_length,
)
from leanlearn.mining.rules import WASTES, Condition, Rule, RuleSet
from leanlearn.mining.selection import Candidate, cover, merge_near_duplicates
from leanlearn.mining.settings import MiningSettingError, MiningSettings
from leanlearn.mining.stats import (
    adjust,
    fisher_greater,
    fisher_greater_log,
    fisher_greater_log_exceeds,
    fisher_greater_log_top,
    fisher_min_hits,
)

if TYPE_CHECKING:
    from typing import Self

    from leanlearn.mining.estimator import RuleMiner as RuleMiner


def __getattr__(name: str) -> Any:
    """``RuleMiner`` (the scikit-learn estimator) is built on first access: see the module docstring."""
    if name == "RuleMiner":
        from leanlearn.mining.estimator import RuleMiner

        return RuleMiner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# How much evidence a rounder threshold may cost: 1 % of log p for the strongest-evidence cut, 0.01 of the lower
# confidence bound for the surest cut.
ROUND_TOLERANCE = {"fisher": 0.01, "precision": 0.01}
#: Most itemsets × words of 64 rows the exact count of the hypotheses that cover ``min_rows`` rows may cost; beyond
#: it, the count is the upper bound :func:`~leanlearn.mining.layers.combinations_by_layer` (about a second of work).
COUNT_WORK = 200_000_000


class TargetError(SchemaError, ValueError):
    """The outcome ``y`` is not what the miner mines (also a ``ValueError``, as scikit-learn expects)."""


def as_target(y: Any) -> pd.Series:
    """``y`` as a Series: a list or array, or a one-column 2-d array (with scikit-learn's conversion warning)."""
    if isinstance(y, pd.Series):
        return y
    if isinstance(y, pd.DataFrame) and y.shape[1] == 1:
        return y.iloc[:, 0]
    values = np.asarray(y)
    if values.ndim == 2 and values.shape[1] == 1:
        import warnings

        from sklearn.exceptions import DataConversionWarning

        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; it is read as one outcome column",
            DataConversionWarning, stacklevel=3,
        )
        values = values.ravel()
    if values.ndim != 1:
        raise TargetError(f"the outcome y must be one column, got an array of shape {values.shape}")
    return pd.Series(values)


def binary_outcome(y: Any, name: str = "outcome") -> np.ndarray:
    """Validate a binary outcome (0/1, True/False, or two numeric values {0, k}) and return it as bool.

    Missing values are not allowed here; drop or quarantine those rows first. Errors are :class:`TargetError`.
    """
    s = as_target(y)
    if s.isna().any():
        row = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise TargetError(f"target {name!r} has a missing value in row {row}; drop those rows or fill them")
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=bool)
    values = pd.unique(s)
    if pd.api.types.is_numeric_dtype(s.dtype) and set(np.asarray(values, dtype=float).tolist()) <= {0.0, 1.0}:
        return s.to_numpy(dtype=float) == 1.0
    example = next((v for v in values if v not in (0, 1, True, False)), values[0] if len(values) else None)
    example = example.item() if example is not None and hasattr(example, "item") else example
    kind = ""
    if pd.api.types.is_float_dtype(s.dtype):
        finite = s.to_numpy(dtype=float)
        finite = finite[np.isfinite(finite)]
        if finite.size and not np.array_equal(finite, np.round(finite)):
            kind = ", a continuous outcome"
    raise TargetError(
        f"target {name!r} is not a binary waste outcome: it has {len(values):,} distinct values{kind} "
        f"(e.g. {example!r}); a binary target must be 0/1 or true/false — for a numeric outcome say which "
        f"direction is waste (--worse {name}=higher), or derive a flag (--derive 'late=wait_min > 30')"
    )


def _coverage(items: PackedItems | np.ndarray, itemsets: Sequence[tuple[int, ...]]) -> np.ndarray:
    """Rows covered by each itemset (AND of its items), over all rows of the packed ``items``.

    ``items`` is a :class:`~leanlearn.mining.bitsets.PackedItems`, or its ``uint64`` bits (n_items, n_words).
    Prefix-shared and in bounded memory (:meth:`~leanlearn.mining.engines.ItemsetEngine.coverage`).
    """
    if not isinstance(items, PackedItems):
        bits = np.asarray(items)
        if bits.dtype != np.uint64:
            raise TypeError(f"_coverage takes PackedItems or packed uint64 bits, got {bits.dtype}")
        items = PackedItems(bits, 64 * bits.shape[1])  # padding bits are 0: counts do not need n_rows
    return BitsetEngine().coverage(items, itemsets)


def _item_constraints(items: Sequence[Condition]) -> ItemConstraints:
    """Which items combine: on one column only a lower and an upper bound forming a non-empty interval (one
    condition); the engines never produce another combination, so none is counted or tested."""
    return ItemConstraints.from_conditions(items)


def _column_options(
    items: Sequence[Condition], constraints: ItemConstraints, index: Sequence[int] | np.ndarray | None = None
) -> dict[str, int]:
    """Per column, how many valid ways it can enter a rule (its items, and its intervals), among ``index``."""
    keep = np.arange(len(items)) if index is None else np.asarray(index, dtype=np.int64)
    by_column: dict[str, list[int]] = {}
    for j in keep:
        by_column.setdefault(items[int(j)].feature, []).append(int(j))
    return {column: constraints.subset(members).space(1)[0] for column, members in by_column.items()}


class MinerInputError(DataError, ValueError):
    """``X`` or ``y`` cannot be mined (also a ``ValueError``, as scikit-learn expects)."""


def leaking_features(
    frame: pd.DataFrame, derive: Mapping[str, str], targets: Mapping[str, np.ndarray | None]
) -> None:
    """Refuse a derived feature that reads a target or equals it on every row.

    A rule on such a feature only restates its target (a "100 %" rule that nobody can act on). ``targets`` maps
    each target's name to its values (``None``: check only that no expression reads it).

    Raises
    ------
    DataError
        Naming the feature, its expression and the target.
    """
    from leanlearn.mining.expressions import Expression

    for name, source in derive.items():
        read = Expression.parse(source).columns
        for target in targets:
            if target in read:
                raise DataError(
                    f"derived feature {name!r} = {source!r} reads the target {target!r}: its rules would only "
                    f"restate the target; derive it from process columns only"
                )
    for name in derive:
        if name not in frame.columns:
            continue
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        for target, outcome in targets.items():
            if outcome is None or len(outcome) != len(values) or not len(values):
                continue
            if np.array_equal(values, np.asarray(outcome, dtype=float), equal_nan=True):
                raise DataError(
                    f"derived feature {name!r} = {derive[name]!r} equals the target {target!r} on every row: "
                    f"its rules would only restate the target; remove it"
                )


def _rank_columns(
    items: list[Condition], packed: PackedItems, positive_rows: PackedItems, outcome: np.ndarray
) -> list[list[int]]:
    """Item indices grouped by column, the column with the strongest single-condition evidence first."""
    positives, n_rows = int(outcome.sum()), len(outcome)
    logp = fisher_greater_log(positive_rows.counts(), packed.counts(), positives, n_rows)
    best: dict[str, tuple[float, int]] = {}
    members: dict[str, list[int]] = {}
    for j, item in enumerate(items):
        score, first = best.get(item.feature, (0.0, j))
        best[item.feature] = (min(score, float(logp[j])), first)
        members.setdefault(item.feature, []).append(j)
    return [members[c] for c in sorted(best, key=lambda c: best[c])]


def _columns_within(
    ranked: list[list[int]], max_len: int, bound: float, constraints: ItemConstraints | None = None
) -> np.ndarray:
    """Items of the leading columns of ``ranked`` while the valid itemsets of up to ``max_len`` conditions they
    allow (:meth:`~leanlearn.mining.bitsets.ItemConstraints.space`) stay within ``bound`` (the first column
    always). Without ``constraints`` every item is its own condition."""
    kept: list[int] = []
    sums = [1] + [0] * max_len  # elementary symmetric sums of the kept columns' options: itemsets by length
    for column in ranked:
        # a column enters a rule in one of its valid ways (an item, or an interval); without constraints every
        # item is a column of its own
        options = [constraints.subset(column).space(1)[0]] if constraints is not None else [1] * len(column)
        trial = list(sums)
        for count in options:
            for level in range(max_len, 0, -1):
                trial[level] += trial[level - 1] * count
        if kept and sum(trial[1:]) > bound:
            break
        sums = trial
        kept.extend(column)
    return np.array(sorted(kept), dtype=np.int64)


class MinerNotFittedError(ValueError, AttributeError):
    """:meth:`RuleMinerCore.predict` before :meth:`~RuleMinerCore.fit` (the estimator raises scikit-learn's
    ``NotFittedError``, which has the same two bases)."""


class RuleMinerCore:
    """Mine rules ``conditions → outcome`` for a binary waste outcome, without scikit-learn.

    The search behind :class:`~leanlearn.mining.estimator.RuleMiner` (the scikit-learn estimator; see the module
    docstring): every parameter is a keyword of ``__init__`` stored as given, validated in :meth:`fit` through
    :class:`~leanlearn.mining.settings.MiningSettings` (one clear
    :class:`~leanlearn.mining.settings.MiningSettingError` per bad value); :meth:`predict` before :meth:`fit`
    raises :class:`MinerNotFittedError`.

    Parameters
    ----------
    min_support : float, default=0.0005
        Smallest share of all rows a rule's hits (rows covered where the outcome holds) must make up.
    min_hits : int, default=5
        Smallest number of hits, whatever ``min_support`` says: no claim rests on fewer rows.
    min_confidence : float, default=0.0
        Smallest share of covered rows in which the outcome holds. Waste rules matter by how much they raise the
        rate (12 % scrap vs 4 %), so the default relies on ``min_lift`` and significance instead.
    max_conditions : int, default=4
        Most conditions in a rule (an interval on one column counts as one), 1 to 8.
    alpha : float, default=0.05
        Significance level for adjusted p-values and for the improvement test of each condition.
    correction : {"holm", "bh", "holdout", "none"}, default="holm"
        Multiple-testing adjustment. ``"holm"`` (default) counts every candidate and threshold the search evaluated
        and controls the chance of reporting *any* false rule — the right default when an engineer may change a
        line because of one printed rule. ``"bh"`` controls the expected share of false rules instead (more rules,
        a few of them possibly false). ``"holdout"`` (Webb, "Discovering significant patterns", 2007) explores on
        ``1 - holdout_share`` of the rows with unadjusted tests, then tests each surviving rule once on the
        held-out rows, Holm-adjusted over those rules only; rules then carry ``holdout_confidence`` and
        ``holdout_n``. ``"none"`` reports raw p-values (exploration only).
    derive : dict of str to str, optional
        Derived features ``{name: expression}``, computed before mining (see :mod:`leanlearn.mining.expressions`).
        A feature that reads the target, or equals it, is refused.
    engine : {"auto", "bitset", "mlxtend"}, default="auto"
        Itemset engine; ``"mlxtend"`` is the reference.
    max_rules : int, default=10
        Most rules reported, the most significant first.
    min_lift : float, default=1.5
        Smallest ratio of the rule's confidence to the overall rate.
    refine : bool, default=True
        Refine each numeric threshold of a candidate given its other conditions.
    max_refine : int, default=150
        How many of the most significant candidates are refined.
    waste : str, default="defects"
        Lean waste tag given to every rule.
    target : str, optional
        Name of the outcome; defaults to ``y.name`` or ``"outcome"``.
    auto_features : bool, optional
        Screen products, ratios and differences of numeric column pairs and mine the ones that beat their parents
        significantly (:mod:`leanlearn.mining.autofeatures`). Default: on when ``derive`` is empty.
    units : dict of str to str, optional
        Units of columns (else read from names like ``"Torque [Nm]"``); differences need equal units.
    holdout_share : float, default=0.3
        Share of rows held out (stratified by the outcome) when ``correction="holdout"``.
    random_state : int, default=0
        Seed of the holdout split.
    max_levels : int, default=50
        Categorical columns with more distinct values are skipped (identifiers, free text).
    max_candidates : int, default=1_000_000
        Memory guard on wide tables: the most candidate itemsets one search may enumerate. When the items allow
        more, only the columns with the strongest single-condition evidence are searched (``screened_`` lists
        the others), and every candidate set aside still counts in the correction (``n_tests_``).
    max_auto_columns : int, default=25
        Most numeric columns the automatic feature search pairs: those with the strongest single-cut evidence.
    layered : bool, default=True
        Spend α by rule length (Webb's layered critical values): see
        :class:`~leanlearn.mining.settings.MiningSettings`.
    duplicate_overlap : float, default=0.9
        Coverage overlap (Jaccard) above which two rules are near-duplicates and only the stronger is reported.
    cover_precision : float, default=0.5
        Covering selection: the share of its own confidence the rows a rule adds beyond the findings kept before
        it must reach (see :class:`~leanlearn.mining.settings.MiningSettings`).
    min_rows : int, optional
        Fewest rows a rule covers (default ``min_hits``); the correction counts every condition set that covers
        this many rows, a count that does not depend on the outcome (see
        :class:`~leanlearn.mining.settings.MiningSettings`).

    Attributes
    ----------
    rules_ : RuleSet
        The rules, most significant first.
    target_ : str
    n_rows_ : int
    base_rate_ : float
        Share of rows where the outcome holds.
    n_tests_ : int
        Number of hypotheses the search evaluated (candidates plus refinement thresholds); the correction counts
        all of them.
    n_tests_by_length_ : dict of int to int
        The same by layer (rule length, an automatic pair feature counting as two columns): what the layered
        correction counts for each length (:mod:`leanlearn.mining.layers`).
    n_layers_ : int
        Layers α is split over: ``max_conditions``, plus one when automatic pair features were added.
    layer_weights_ : dict of str to int
        Columns that count as two in a rule's length (the automatic pair features).
    context_rules_ : RuleSet
        Significant rules that are not findings: explained by sharper findings (covering selection). Not part of
        ``rules_`` or of a pack; ``context_reasons_`` maps each id (``<target>-c01`` …) to the reason.
    itemizer_ : Itemizer
        Items and the cut points chosen against the outcome (``itemizer_.cuts_``).
    n_features_in_ : int
        Number of columns of ``X``.
    feature_names_in_ : ndarray of str
        Columns of ``X`` (when ``X`` is a DataFrame with text column names).
    features_ : list of str
        Columns used as features (derived ones included).
    derived_ : dict of str to str
        Every derived feature the rules may use, ``{name: expression}``: the declared ones and those found
        automatically. Recompute them with :func:`~leanlearn.mining.expressions.evaluate_derived`.
    screened_ : list of str
        Columns left out of the search by the ``max_candidates`` guard (empty on most tables).
    n_candidates_ : int
        Itemsets the search enumerated (at most ``max_candidates``).
    min_hits_by_length_ : list of int
        Fewest hits the search required of an itemset of 1, 2, ... conditions: ``min_hits`` and ``min_support``,
        raised where no rule with fewer hits could survive the correction (the optimistic estimate; see
        :meth:`_reachable_counts`). Set when the search ran.
    """

    def __init__(
        self,
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
        self.min_support = min_support
        self.min_hits = min_hits
        self.min_confidence = min_confidence
        self.max_conditions = max_conditions
        self.alpha = alpha
        self.correction = correction
        self.derive = derive
        self.engine = engine
        self.max_rules = max_rules
        self.min_lift = min_lift
        self.refine = refine
        self.max_refine = max_refine
        self.waste = waste
        self.target = target
        self.auto_features = auto_features
        self.units = units
        self.holdout_share = holdout_share
        self.random_state = random_state
        self.max_levels = max_levels
        self.max_candidates = max_candidates
        self.max_auto_columns = max_auto_columns
        self.layered = layered
        self.duplicate_overlap = duplicate_overlap
        self.cover_precision = cover_precision
        self.min_rows = min_rows

    # -- settings -----------------------------------------------------------------------------------------------
    @classmethod
    def from_settings(cls, settings: MiningSettings, **params: Any) -> Self:
        """A miner with ``settings`` and the per-target ``params`` (``target``, ``waste``, ``derive``, ...)."""
        return cls(**{**settings.to_json(), **params})

    @property
    def settings(self) -> MiningSettings:
        """The miner's hyper-parameters as a validated :class:`MiningSettings` (raises on a bad value)."""
        return MiningSettings(**{name: getattr(self, name) for name in MiningSettings.names()})

    @classmethod
    def _param_names(cls) -> list[str]:
        """The keywords of ``__init__`` (what scikit-learn's ``get_params`` reports), sorted."""
        signature = inspect.signature(cls.__init__)
        return sorted(name for name in signature.parameters if name != "self")

    def _copy(self, **changes: Any) -> Self:
        """An unfitted miner of the same class with the same parameters (deep-copied, as ``clone`` does) and
        ``changes``."""
        params = copy.deepcopy({name: getattr(self, name) for name in self._param_names()})
        return type(self)(**{**params, **changes})

    # -- public API -----------------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> Self:
        """Mine rules for the binary outcome ``y`` from features ``X`` (a DataFrame, or a 2-d array).

        The steps: :meth:`_prepare` (derived and automatic features), :meth:`_itemize`, :meth:`_enumerate`,
        :meth:`_refine_candidates`, :meth:`_select_rules`.
        """
        settings = self._validate_params()
        y = self._check_target(y)
        X = self._check_input(X, y, reset=True)
        target = self._target_name(y)
        outcome = binary_outcome(y, target)
        self.classes_ = np.array([0, 1])
        if settings.correction == "holdout":
            return self._fit_holdout(X, outcome, target)
        X = self._prepare(X, outcome, target, settings)
        self.target_ = target
        self.n_rows_ = len(X)
        positives = int(outcome.sum())
        self.base_rate_ = positives / self.n_rows_ if self.n_rows_ else 0.0
        self.features_ = [str(c) for c in X.columns]
        self.screened_: list[str] = []
        self.n_candidates_ = 0
        self.rules_ = RuleSet()
        matrix = self._itemize(X, outcome, settings)
        if self.n_rows_ == 0 or positives == 0 or positives == self.n_rows_ or not self.itemizer_.items_:
            return self
        min_count = max(settings.min_hits, math.ceil(settings.min_support * self.n_rows_ - 1e-9))
        found = self._enumerate(matrix, outcome, min_count, settings)
        if not found:
            return self
        try:
            candidates = self._refine_candidates(found, matrix, X, outcome, settings)
        finally:
            self.__dict__.pop("_columns", None)  # the sorted columns serve one fit only (never pickled)
        self.rules_ = self._select_rules(candidates, X, outcome, min_count, settings, matrix)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """1 where at least one rule fires, else 0."""
        self._check_fitted()
        frame = evaluate_derived(self._check_input(X, None, reset=False).reset_index(drop=True), self.derived_)
        out = np.zeros(len(frame), dtype=bool)
        for rule in self.rules_:
            out |= rule.mask(frame)
        return out.astype(int)

    # -- fit steps ------------------------------------------------------------------------------------------
    def _validate_params(self) -> MiningSettings:
        """Every parameter checked once: the settings through :class:`MiningSettings`, the rest here."""
        settings = self.settings
        if self.waste not in WASTES:
            raise MiningSettingError("waste", self.waste, f"one of {', '.join(WASTES)}")
        for name in ("derive", "units"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Mapping):
                raise MiningSettingError(name, value, "a mapping of column name to text, or None")
        if self.target is not None and not isinstance(self.target, str):
            raise MiningSettingError("target", self.target, "a column name, or None")
        return settings

    def _check_input(self, X: Any, y: Any, *, reset: bool) -> pd.DataFrame:
        """``X`` as a DataFrame (a 2-d array gets columns ``x0, x1, ...``), checked against ``y`` / the fit.

        At fit time the number of columns (and a DataFrame's column names) are recorded, as scikit-learn does; an
        array given to :meth:`predict` must have as many columns. A DataFrame given to :meth:`predict` only needs
        the columns the rules and derived features read.
        """
        if isinstance(X, pd.DataFrame):
            frame = X
            if not all(isinstance(c, str) for c in frame.columns):
                frame = frame.rename(columns=str)  # rules name columns by text
            duplicated = frame.columns[frame.columns.duplicated()]
            if len(duplicated):
                raise MinerInputError(
                    f"X has two columns named {str(duplicated[0])!r}; give every column its own name"
                )
            if reset:
                self._check_features(frame, reset=True)
        else:
            array = self._as_array(X)
            self._check_features(array, reset=reset)
            frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])]).infer_objects()
        if y is not None and len(frame) != len(y):
            raise MinerInputError(f"X has {len(frame):,} rows but y has {len(y):,}; they must match row for row")
        return frame.reset_index(drop=True)

    # -- input hooks (the estimator replaces them with scikit-learn's checks and messages) --------------------
    def _as_array(self, X: Any) -> np.ndarray:
        """A non-DataFrame ``X`` as a 2-d array with at least one row."""
        array = np.asarray(X)
        if array.ndim != 2:
            raise MinerInputError(f"X must be a table (rows × columns), got an array of shape {array.shape}")
        if array.shape[0] < 1:
            raise MinerInputError(f"X has no rows (shape {array.shape}); give at least one row")
        return array

    def _check_features(self, X: pd.DataFrame | np.ndarray, *, reset: bool) -> None:
        """At fit (``reset``) record ``n_features_in_`` and text column names; later check the column count."""
        if reset:
            self.n_features_in_ = int(X.shape[1])
            names = getattr(X, "columns", None)
            if names is not None and all(isinstance(c, str) for c in names):
                self.feature_names_in_ = np.asarray(names, dtype=object)
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif X.shape[1] != self.n_features_in_:
            raise MinerInputError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {self.n_features_in_} "
                "features as input"
            )

    def _check_fitted(self) -> None:
        if not hasattr(self, "rules_"):
            raise MinerNotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call fit with the data before predict"
            )

    def _check_target(self, y: Any) -> pd.Series:
        """``y`` as a Series (see :func:`as_target`); ``None`` is refused."""
        if y is None:
            raise MinerInputError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        return as_target(y)

    def _target_name(self, y: Any) -> str:
        """The outcome's name: ``target``, else ``y.name``, else ``"outcome"``."""
        return self.target or (str(y.name) if isinstance(y, pd.Series) and y.name is not None else "outcome")

    def _prepare(self, X: pd.DataFrame, outcome: np.ndarray, target: str, settings: MiningSettings) -> pd.DataFrame:
        """Declared derived features, then automatic ones; the target never stays among the features."""
        derive = dict(self.derive or {})
        X = evaluate_derived(X, derive)
        leaking_features(X, derive, {target: outcome})
        if target in X.columns:
            X = X.drop(columns=[target])
        positives = int(outcome.sum())
        self.derived_ = derive
        self.n_tests_ = 0
        self.n_tests_by_length_: dict[int, int] = {}
        self.layer_weights_: dict[str, int] = {}
        self.n_layers_ = settings.max_conditions
        self.context_rules_ = RuleSet()
        self.context_reasons_: dict[str, str] = {}
        auto = (not derive) if settings.auto_features is None else settings.auto_features
        if auto and 0 < positives < len(X):
            proposal = propose_features(X, outcome, units=self.units, alpha=settings.alpha,
                                        min_hits=settings.min_hits, max_columns=settings.max_auto_columns)
            if proposal.features:  # a rule on a pair feature is judged with the two-condition rules
                self.layer_weights_ = {name: 2 for name in proposal.features}
                self.n_layers_ = settings.max_conditions + 1
                self._count_tests(2, proposal.evaluated)
            X = evaluate_derived(X, proposal.features)
            leaking_features(X, proposal.features, {target: outcome})
            self.derived_.update(proposal.features)
        return X

    def _itemize(self, X: pd.DataFrame, outcome: np.ndarray, settings: MiningSettings) -> PackedItems:
        """Cut points against the outcome, and the items packed column by column (one bit per item and row)."""
        self.itemizer_ = Itemizer(max_levels=settings.max_levels).fit(X, outcome)
        return self.itemizer_.transform_packed(X)

    def _enumerate(
        self, matrix: PackedItems, outcome: np.ndarray, min_count: int | Sequence[int], settings: MiningSettings
    ) -> list[tuple[tuple[int, ...], int, int]]:
        """Every valid itemset with at least ``min_count`` hits: ``(item indices, hits, rows covered)``.

        The engine searches the outcome rows only (``matrix.rows(outcome)``), with the item constraints (an
        interval is one condition; invalid combinations are never produced, counted or tested); coverage over all
        rows is counted once per candidate. ``min_count`` may be one per rule length (see
        :meth:`~leanlearn.mining.engines.ItemsetEngine.mine`). The search stays within ``max_candidates``
        itemsets: when the items allow more, only the columns with the strongest single-condition evidence are
        searched, and the candidates set aside count as tests.
        """
        items = self.itemizer_.items_
        engine = get_engine(settings.engine)
        max_len = settings.max_conditions
        constraints = _item_constraints(items)
        counts = np.atleast_1d(np.asarray(min_count, dtype=np.int64))
        rows_needed = self._rows_needed(settings)
        min_rows = max(rows_needed, int(counts.min()) if counts.size else 1)
        for length, n in self._cover_counts(matrix, min_rows, settings, constraints).items():
            self._count_tests(length, n)
        reachable = self._reachable_counts(counts, int(outcome.sum()), matrix.n_rows, settings)
        self.min_hits_by_length_ = reachable
        positive_rows = matrix.rows(outcome)
        try:
            found = engine.mine(positive_rows, reachable, max_len, max_itemsets=settings.max_candidates,
                                constraints=constraints)
        except TooManyItemsets:
            found = self._enumerate_screened(positive_rows, matrix, outcome, reachable, settings, constraints)
        self.n_candidates_ = len(found)
        if not found:
            return []
        covered = engine.coverage(matrix, [s for s, _ in found])
        return [(s, c, int(n)) for (s, c), n in zip(found, covered) if n >= rows_needed]

    def _reachable_counts(
        self, min_count: np.ndarray, positives: int, n_rows: int, settings: MiningSettings
    ) -> list[int]:
        """Per rule length, the fewest hits an itemset needs to be searched: ``min_count``, raised to the fewest
        with which a rule could still survive the correction (the optimistic estimate of Fisher's test,
        :func:`~leanlearn.mining.stats.fisher_min_hits`, against
        :func:`~leanlearn.mining.layers.largest_reportable_p`).

        Pruning there loses no finding: a rule's p-value is at least its optimistic estimate, an extension has fewer
        hits still, and the layer counts used here (the hypotheses :meth:`_cover_counts` counted) only grow before
        the correction. An itemset of ``L`` conditions may fall in any layer from ``L`` up (a pair feature counts
        twice), so its length takes the loosest of those layers' bounds; that is non-decreasing in ``L``, as the
        engine needs. On a small table with a common outcome it raises the fewest hits the most (half of
        scikit-learn's breast-cancer table, 284 rows, 37 % positive: 17, 17 and 20 for 2, 3 and 4 conditions
        instead of 5, and the search fits ``max_candidates`` where it overran it before); on a rare outcome
        (AI4I) it changes nothing. A miner that only proposes candidates for another test
        (:class:`~leanlearn.mining.shift.ShiftMinerCore`) is not pruned by Fisher's test.
        """
        floor = length_thresholds([int(c) for c in min_count.tolist()] or [1], settings.max_conditions)
        if self._explore_only or positives <= 0 or positives >= n_rows:
            return floor
        most_rules = settings.max_refine * (2 if settings.refine else 1)
        if settings.layered and settings.correction in ("holm", "bh"):
            need = {layer: fisher_min_hits(positives, n_rows, largest_reportable_p(
                        settings.alpha, layer, self.n_tests_by_length_.get(layer, 0), self.n_layers_,
                        settings.correction, most_rules))
                    for layer in range(1, self.n_layers_ + 1)}
        else:
            method = settings.correction if settings.correction in ("holm", "bh") else "none"
            flat = fisher_min_hits(positives, n_rows, largest_reportable_p(
                settings.alpha, 1, self.n_tests_, 1, method, most_rules))
            need = dict.fromkeys(range(1, self.n_layers_ + 1), flat)
        return [max(f, min(need[layer] for layer in range(min(k, self.n_layers_), self.n_layers_ + 1)))
                for k, f in enumerate(floor, start=1)]

    #: ``min_rows`` when the setting is ``None``: 0 here (``min_hits`` decides: a rule has that many hits at least);
    #: :class:`~leanlearn.mining.shift.ShiftMinerCore` sets its own.
    default_min_rows = 0

    def _rows_needed(self, settings: MiningSettings) -> int:
        """Fewest rows a rule covers: ``min_rows`` (by default :attr:`default_min_rows`), at least ``min_hits``."""
        rows = self.default_min_rows if settings.min_rows is None else settings.min_rows
        return max(int(settings.min_hits), int(rows))

    def _cover_counts(self, matrix: PackedItems, min_rows: int, settings: MiningSettings,
                      constraints: ItemConstraints) -> dict[int, int]:
        """Hypotheses by layer when a rule must cover ``min_rows`` rows: every valid itemset that does.

        Coverage does not depend on the outcome, so this count is the same whatever the outcome's values (a
        count of the itemsets with enough *hits* is not: it grows where the outcome happens to cluster, and a
        correction over it admits more false rules than ``alpha``). Exact (the engine over all rows, on the items
        that cover ``min_rows`` rows alone) while that costs at most :data:`COUNT_WORK` words and fits
        ``max_candidates``; beyond, the upper bound: every combination of those items (a set covers no more rows
        than any of its items).
        """
        items = self.itemizer_.items_
        engine = BitsetEngine()  # a count, the same whatever engine searches (the reference one is slow at it)
        single = matrix.counts()
        eligible = np.flatnonzero(single >= min_rows)
        bound = combinations_by_layer(_column_options(items, constraints, eligible), self.layer_weights_,
                                      settings.max_conditions, self.n_layers_)
        if sum(bound.values()) * matrix.n_words > COUNT_WORK or sum(bound.values()) > settings.max_candidates:
            return bound
        try:
            mined = engine.mine(matrix.items(eligible), min_rows, settings.max_conditions,
                                max_itemsets=settings.max_candidates, constraints=constraints.subset(eligible))
        except TooManyItemsets:
            return bound
        columns = [items[int(e)].feature for e in eligible.tolist()]
        return itemsets_by_layer((s for s, _ in mined), columns, self.layer_weights_, self.n_layers_)

    def _enumerate_screened(
        self, positive_rows: PackedItems, matrix: PackedItems, outcome: np.ndarray, min_count: int | Sequence[int],
        settings: MiningSettings, constraints: ItemConstraints,
    ) -> list[tuple[tuple[int, ...], int]]:
        """The search on the columns with the strongest single-condition evidence, as many as fit the guard.

        Starts optimistic (support pruning usually leaves far fewer itemsets than the items allow) and narrows
        by a factor of 4 while the engine still finds too many; every candidate of the columns set aside counts as
        a test, so screening never makes a rule look more significant than the full search would.
        """
        items = self.itemizer_.items_
        engine = get_engine(settings.engine)
        max_len = settings.max_conditions
        ranked = _rank_columns(items, matrix, positive_rows, outcome)
        bound = 4.0 * settings.max_candidates
        while True:
            keep = _columns_within(ranked, max_len, bound, constraints)
            try:
                mined = engine.mine(positive_rows.items(keep), min_count, max_len,
                                    max_itemsets=settings.max_candidates, constraints=constraints.subset(keep))
                break
            except TooManyItemsets:
                if len({items[j].feature for j in keep}) == 1:
                    raise DataError(
                        f"column {items[int(keep[0])].feature!r} alone gives more than max_candidates="
                        f"{settings.max_candidates:,} candidate rules; raise max_candidates or lower max_conditions"
                    ) from None
                bound /= 4
        kept_columns = {items[j].feature for j in keep}
        self.screened_ = sorted({c.feature for c in items} - kept_columns)
        # the candidates set aside count as tests: :meth:`_cover_counts` counts every itemset of every column
        return [(tuple(int(keep[i]) for i in itemset), count) for itemset, count in mined]

    def _refine_candidates(
        self,
        found: list[tuple[tuple[int, ...], int, int]],
        matrix: PackedItems,
        X: pd.DataFrame,
        outcome: np.ndarray,
        settings: MiningSettings,
    ) -> list[tuple[Condition, ...]]:
        """The most significant productive itemsets, each with its thresholds refined (two operating points)."""
        items = self.itemizer_.items_
        positives, n_rows = int(outcome.sum()), len(X)
        itemsets = [s for s, _, _ in found]
        hits = np.array([c for _, c, _ in found], dtype=np.int64)
        covered = np.array([n for _, _, n in found], dtype=np.int64)
        # log p of the productive itemsets that can be among the max_refine strongest (0 for the others)
        productive = _coarse_productive(itemsets, hits, covered, math.log(settings.alpha))
        logp = fisher_greater_log_top(hits, covered, positives, n_rows, settings.max_refine, keep=productive)
        order = np.argsort(logp, kind="stable")
        order = order[logp[order] < 0]
        candidates: dict[tuple[Condition, ...], None] = {}
        # A one-condition rule is refined over all rows: every sweep of a column in one direction evaluates the
        # same family of cuts ``x >= c`` (or ``x < c``), so each family counts once, however many candidates and
        # objectives sweep it. Longer rules count every threshold their sweeps evaluated, in their own layer.
        single_sweeps: dict[tuple[str, str], int] = {}
        for i in order[: settings.max_refine]:
            conds = [items[j] for j in itemsets[i]]
            if not settings.refine:
                candidates.setdefault(_canonical(conds), None)
                continue
            length = self._layer_of(c.feature for c in conds)
            for objective in ("fisher", "precision"):
                refined, n_thresholds = self._refine(list(conds), X, outcome, positives, objective, settings.min_hits)
                if len(conds) == 1:
                    key = (conds[0].feature, conds[0].op)
                    single_sweeps[key] = max(single_sweeps.get(key, 0), n_thresholds)
                else:
                    self._count_tests(length, n_thresholds)
                candidates.setdefault(_canonical(refined), None)
        for (feature, _), n in single_sweeps.items():
            self._count_tests(self._layer_of([feature]), n)
        return list(candidates)

    def _layer_of(self, features: Iterable[str]) -> int:
        """The layer of a rule on ``features`` (:func:`~leanlearn.mining.layers.weighted_length`)."""
        return weighted_length(features, self.layer_weights_, self.n_layers_)

    def _count_tests(self, length: int, n: int) -> None:
        """Count ``n`` hypotheses of rules with ``length`` conditions (``n_tests_`` and its layer)."""
        if n:
            self.n_tests_ += int(n)
            self.n_tests_by_length_[int(length)] = self.n_tests_by_length_.get(int(length), 0) + int(n)

    def _select_rules(
        self,
        candidates: list[tuple[Condition, ...]],
        X: pd.DataFrame,
        outcome: np.ndarray,
        min_count: int,
        settings: MiningSettings,
        matrix: PackedItems | None = None,
    ) -> RuleSet:
        """Evidence, productivity, the multiple-testing correction, near-duplicates and covering: the findings.

        The correction is layered by default (:mod:`leanlearn.mining.layers`); the significant rules then go
        through :func:`~leanlearn.mining.selection.merge_near_duplicates` and the covering selection
        :func:`~leanlearn.mining.selection.cover`. Significant rules that sharper findings explain are kept
        aside in ``context_rules_`` (with ``context_reasons_``), not reported.

        The rows of each distinct condition are found once (:class:`_ConditionRows`: an item's packed bits from
        ``matrix``, the fitted itemizer's items, else :meth:`Condition.mask <leanlearn.mining.rules.Condition.mask>`)
        and every count is a popcount of packed words; only a significant rule's rows are unpacked to a mask.
        """
        positives = int(outcome.sum())
        self.context_rules_, self.context_reasons_ = RuleSet(), {}
        rows = _ConditionRows(X, outcome, self.itemizer_.items_ if matrix is not None else (), matrix)
        scored = []
        for canonical in candidates:
            evaluated = self._evaluate(canonical, rows, positives, min_count, settings)
            if evaluated is None:
                continue
            hits, n, bits = evaluated
            p_improve = self._improvement_p(canonical, rows)
            if p_improve is None:
                continue
            rule, logp_rule = _make_rule(canonical, self.target_, hits, n, positives, rows.n_rows, self.waste)
            scored.append((rule, logp_rule, bits, max(rule.p_value_raw, p_improve)))
        if not scored:
            return RuleSet()
        adjusted = self._adjust(np.array([p for *_, p in scored]), [r for r, *_ in scored], settings)
        significant = [Candidate(r, lp, rows.mask(b), float(pa)) for (r, lp, b, _), pa in zip(scored, adjusted)
                       if pa <= settings.alpha]
        if self._explore_only:  # candidates for another test (ShiftMinerCore): every distinct rule, no covering
            unique: dict[bytes, Candidate] = {}
            for c in sorted(significant, key=lambda c: (c.p_adjusted, c.logp, len(c.rule.conditions))):
                unique.setdefault(np.packbits(c.mask).tobytes(), c)  # per row set, the strongest, simplest rule
            return self._report(list(unique.values()), [], settings)
        unique_rules, _ = merge_near_duplicates(significant, settings.duplicate_overlap, _two_levels(X, significant))
        findings, context = cover(unique_rules, outcome, min_count=min_count, alpha=settings.alpha,
                                  precision_share=settings.cover_precision, min_confidence=settings.min_confidence)
        return self._report(findings, context, settings)

    # Set on a miner that only proposes candidates for another test (the binary proxy of ShiftMinerCore).
    _explore_only = False

    def _adjust(self, p_values: np.ndarray, rules: Sequence[Rule], settings: MiningSettings) -> np.ndarray:
        """Adjusted p-values: layered by rule length (default), or one correction over all ``n_tests_``."""
        if not settings.layered or settings.correction not in ("holm", "bh"):
            return adjust(p_values, self.n_tests_, settings.correction)
        lengths = [self._layer_of(c.feature for c in r.conditions) for r in rules]
        return layered_adjust(p_values, lengths, self.n_tests_by_length_, max_length=self.n_layers_,
                              method=settings.correction)

    def _report(
        self, findings: list[Candidate], context: list[tuple[Candidate, str]], settings: MiningSettings
    ) -> RuleSet:
        """Findings (most significant first, at most ``max_rules``) as the rule set; context rules aside."""
        ranked = sorted(findings, key=lambda c: (c.p_adjusted, c.logp, len(c.rule.conditions)))[: settings.max_rules]
        ids = {id(c): f"{self.target_}-{rank:03d}" for rank, c in enumerate(ranked, start=1)}
        aside = sorted(context, key=lambda t: (t[0].p_adjusted, t[0].logp))[: settings.max_rules]
        self.context_rules_ = RuleSet(tuple(
            replace(c.rule, p_value=c.p_adjusted, id=f"{self.target_}-c{rank:02d}")
            for rank, (c, _) in enumerate(aside, start=1)
        ))
        self.context_reasons_ = {f"{self.target_}-c{rank:02d}": reason
                                 for rank, (_, reason) in enumerate(aside, start=1)}
        return RuleSet(tuple(replace(c.rule, p_value=c.p_adjusted, id=ids[id(c)]) for c in ranked))

    def _fit_holdout(self, X: pd.DataFrame, outcome: np.ndarray, target: str) -> Self:
        """Explore on part of the rows, then test each surviving rule once on the rows held out."""
        rng = np.random.default_rng(self.random_state)
        held = np.zeros(len(X), dtype=bool)
        for cls in (True, False):
            idx = np.flatnonzero(outcome == cls)
            held[rng.choice(idx, size=int(round(self.holdout_share * idx.size)), replace=False)] = True
        explorer = self._copy(correction="none", target=target, max_rules=max(5 * int(self.max_rules), 50))
        explorer.fit(X[~held], pd.Series(outcome[~held], name=target))
        for name in ("target_", "itemizer_", "features_", "derived_", "screened_"):
            setattr(self, name, getattr(explorer, name))
        self.n_rows_ = len(X)
        self.base_rate_ = float(outcome.mean()) if len(X) else 0.0
        self.n_explored_ = explorer.n_tests_
        self.n_tests_ = len(explorer.rules_)
        self.n_tests_by_length_ = {}
        self.context_rules_, self.context_reasons_ = RuleSet(), {}
        self.rules_ = RuleSet()
        if not len(explorer.rules_):
            return self
        frame = evaluate_derived(X[held].reset_index(drop=True), explorer.derived_)
        test_outcome = outcome[held]
        masks = [rule.mask(frame) for rule in explorer.rules_]
        n = np.array([m.sum() for m in masks])
        hits = np.array([(m & test_outcome).sum() for m in masks])
        p_test = fisher_greater(hits, n, int(test_outcome.sum()), int(held.sum()))
        adjusted = adjust(p_test, len(masks), "holm")
        kept = [i for i in np.argsort(p_test, kind="stable") if adjusted[i] <= self.alpha][: self.max_rules]
        self.rules_ = RuleSet(tuple(
            replace(explorer.rules_[i], p_value=float(adjusted[i]), id=f"{target}-{rank:03d}",
                    holdout_confidence=float(hits[i] / n[i]) if n[i] else None, holdout_n=int(n[i]))
            for rank, i in enumerate(kept, start=1)
        ))
        return self

    # -- internals ------------------------------------------------------------------------------------------
    def _refine(
        self, conds: list[Condition], X: pd.DataFrame, outcome: np.ndarray, positives: int, objective: str,
        min_hits: int,
    ) -> tuple[list[Condition], int]:
        """Move each numeric threshold to the best cut given the other conditions (sweeps until stable).

        ``objective="fisher"`` takes the cut with the smallest one-sided Fisher p-value (the strongest evidence);
        ``"precision"`` the cut with the highest lower 95 % Wilson bound of the confidence (the surest rule).
        Returns the refined conditions and the number of thresholds evaluated.
        """
        if not any(c.op in ("<", ">=") for c in conds):
            return conds, 0  # no threshold to move (and no mask to compute: a million rows per condition)
        columns = self._sorted_columns(X)
        masks = [columns.mask(c, X) for c in conds]
        evaluated = 0
        for _sweep in range(3):
            changed = False
            for k, cond in enumerate(conds):
                if cond.op not in ("<", ">="):
                    continue
                other = np.logical_and.reduce([m for j, m in enumerate(masks) if j != k]) if len(masks) > 1 else None
                found = columns.best_threshold(cond.feature, outcome, other, cond.op, objective, positives, min_hits)
                evaluated += found.evaluated
                if found.value is None:
                    continue
                value = found.value
                if value != cond.value:
                    conds[k] = Condition(cond.feature, cond.op, value)
                    masks[k] = columns.mask(conds[k], X)
                    changed = True
            if not changed:
                break
        return conds, evaluated

    def _sorted_columns(self, X: pd.DataFrame) -> _SortedColumns:
        """The numeric columns of ``X`` sorted once per fit for :meth:`_refine` (many refinements per column)."""
        columns = self.__dict__.get("_columns")
        if columns is None or columns.frame is not X:
            columns = _SortedColumns(X)
            self.__dict__["_columns"] = columns
        return columns

    def _evaluate(
        self, conds: tuple[Condition, ...], rows: _ConditionRows, positives: int, min_count: int,
        settings: MiningSettings,
    ) -> tuple[int, int, np.ndarray] | None:
        """``(hits, rows covered, the rows as packed words)`` of the rule on ``conds``; ``None`` when it covers no
        row or its counts miss ``min_confidence``, ``min_lift`` or ``min_count`` (the confidence and lift computed
        as :meth:`Rule.from_counts <leanlearn.mining.rules.Rule.from_counts>` does, before any p-value)."""
        bits = rows.of(conds)
        n = rows.count(bits)
        if n == 0:
            return None
        hits = rows.hits(bits)
        confidence, base = hits / n, positives / rows.n_rows
        lift = confidence / base if base else float("nan")
        if (confidence < settings.min_confidence or lift < settings.min_lift or hits < min_count
                or n < self._rows_needed(settings)):
            return None
        return hits, n, bits

    def _improvement_p(self, conds: Sequence[Condition], rows: _ConditionRows) -> float | None:
        """Largest p-value of the tests that each condition raises the confidence over the rule without it.

        One-sided Fisher test inside the rows the shorter rule covers. ``None`` when a condition removes no row
        (it says nothing). A rule with one condition has nothing to improve on: 0.
        """
        conds = tuple(conds)
        if len(conds) < 2:
            return 0.0
        full = rows.of(conds)
        n, h = rows.count(full), rows.hits(full)
        worst = 0.0
        for k in range(len(conds)):
            others = rows.of(conds[:k] + conds[k + 1 :])
            n0, h0 = rows.count(others), rows.hits(others)
            if n0 == n:
                return None
            worst = max(worst, float(fisher_greater(np.array([h]), np.array([n]), h0, n0)[0]))
        return worst


class _ConditionRows:
    """The rows each distinct condition holds on, found once per selection and kept packed (one bit per row).

    A condition that is one of the fitted ``items`` takes its bits from ``matrix`` (the itemizer packed exactly
    :meth:`Condition.mask <leanlearn.mining.rules.Condition.mask>` of it); any other (a refined threshold) is
    computed with :meth:`Condition.mask` on ``frame`` once and packed. A rule's rows are the AND of its
    conditions' words and a count is a popcount, so selecting among hundreds of candidates on a million rows reads
    each condition's column once instead of once per candidate and test.

    >>> import numpy as np, pandas as pd
    >>> frame = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0], "b": ["x", "y", "x", "x"]})
    >>> rows = _ConditionRows(frame, np.array([True, False, True, True]))
    >>> bits = rows.of((Condition("a", ">=", 2.0), Condition("b", "==", "x")))
    >>> rows.count(bits), rows.hits(bits), rows.mask(bits).tolist()
    (1, 1, [False, False, False, True])
    """

    def __init__(
        self, frame: pd.DataFrame, outcome: np.ndarray, items: Sequence[Condition] = (),
        matrix: PackedItems | None = None,
    ) -> None:
        self.frame = frame
        self.n_rows = len(frame)
        self.outcome = self._pack(np.asarray(outcome, dtype=bool))
        self._bits: dict[Condition, np.ndarray] = {}
        if matrix is not None:
            if matrix.n_rows != self.n_rows or matrix.n_items != len(items):
                raise ValueError(f"matrix of {matrix.n_items} items × {matrix.n_rows:,} rows does not match "
                                 f"{len(items)} items × {self.n_rows:,} rows")
            for j, item in enumerate(items):
                self._bits.setdefault(item, matrix.bits[j])

    def _pack(self, mask: np.ndarray) -> np.ndarray:
        return PackedItems.from_columns([mask], n_rows=self.n_rows).bits[0]

    def __getitem__(self, condition: Condition) -> np.ndarray:
        bits = self._bits.get(condition)
        if bits is None:
            bits = self._bits[condition] = self._pack(condition.mask(self.frame))
        return bits

    def of(self, conditions: Sequence[Condition]) -> np.ndarray:
        """The rows where every condition holds (packed words; all rows for no condition)."""
        if not conditions:
            return self._pack(np.ones(self.n_rows, dtype=bool))
        out = self[conditions[0]].copy()
        for c in conditions[1:]:
            np.bitwise_and(out, self[c], out=out)
        return out

    @staticmethod
    def count(bits: np.ndarray) -> int:
        """Rows set in ``bits`` (padding bits are 0)."""
        return int(np.bitwise_count(bits).sum(dtype=np.int64))

    def hits(self, bits: np.ndarray) -> int:
        """Rows set in ``bits`` where the outcome holds."""
        return self.count(bits & self.outcome)

    def mask(self, bits: np.ndarray) -> np.ndarray:
        """``bits`` as a boolean vector over the rows."""
        return PackedItems(bits[np.newaxis, :], self.n_rows).column(0)


class _SortedColumns:
    """Numeric columns of one frame as :class:`~leanlearn.mining.features.SortedValues`, each sorted on first use.

    ``mask`` states a one-sided numeric condition on the float values (missing values never hold), as
    :meth:`Condition.mask <leanlearn.mining.rules.Condition.mask>` does, without a pandas round trip.
    ``best_threshold`` remembers its answers: refinement asks the same question again (the sweep that confirms a
    threshold, candidates that share a condition), and the answer depends only on the column, the direction, the
    objective and the rows the other conditions leave (keyed by a digest of that mask).
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._sorted: dict[str, SortedValues] = {}
        self._found: dict[tuple[str, str, str, int, int, bytes], Threshold] = {}
        self._outcome: np.ndarray | None = None
        self._masks: dict[Condition, np.ndarray] = {}
        self._tails: dict[tuple[int, int, int, int, bool], float] = {}  # Fisher tails summed, for best_threshold

    def best_threshold(
        self, feature: str, outcome: np.ndarray, within: np.ndarray | None, op: str, objective: str, positives: int,
        min_hits: int,
    ) -> Threshold:
        """:func:`~leanlearn.mining.features.best_threshold` of ``feature`` (``outcome`` is the fit's, fixed)."""
        if outcome is not self._outcome:  # answers hold for one outcome array
            self._outcome, self._found, self._tails = outcome, {}, {}
        rows = b"" if within is None else hashlib.blake2b(np.packbits(within).tobytes(), digest_size=16).digest()
        key = (feature, op, objective, positives, min_hits, rows)
        found = self._found.get(key)
        if found is None:
            found = best_threshold(self[feature], outcome, within, op, objective, positives, min_hits,
                                   round_tolerance=ROUND_TOLERANCE[objective], tails=self._tails)
            self._found[key] = found
        return found

    def __getitem__(self, feature: str) -> SortedValues:
        column = self._sorted.get(feature)
        if column is None:
            column = SortedValues.of(self.frame[feature].to_numpy(dtype=float, na_value=np.nan))
            self._sorted[feature] = column
        return column

    def mask(self, condition: Condition, frame: pd.DataFrame) -> np.ndarray:
        """The rows of ``condition`` (read-only): a numeric threshold on the sorted column's floats, any other
        condition (a level of a categorical column: a pandas comparison) computed once per fit."""
        if condition.op in ("<", ">=") and not isinstance(condition.value, str):
            return self[condition.feature].mask(condition.op, float(condition.value))
        if frame is not self.frame:
            return condition.mask(frame)
        mask = self._masks.get(condition)
        if mask is None:
            mask = np.asarray(condition.mask(frame), dtype=bool)
            mask.setflags(write=False)
            self._masks[condition] = mask
        return mask


def _two_levels(X: pd.DataFrame, candidates: Sequence[Candidate]) -> dict[str, frozenset[object]]:
    """Levels of the columns that rules test with ``!=`` and that hold exactly two levels (complementary)."""
    out: dict[str, frozenset[object]] = {}
    for c in {cond.feature for cand in candidates for cond in cand.rule.conditions if cond.op == "!="}:
        if c in X.columns:
            levels = frozenset(pd.unique(X[c].dropna()).tolist())
            if len(levels) == 2:
                out[c] = levels
    return out


def _coarse_productive(
    itemsets: list[tuple[int, ...]], hits: np.ndarray, covered: np.ndarray, log_alpha: float
) -> np.ndarray:
    """Which itemsets improve significantly on each of their one-item-shorter subsets (all present: downward
    closure), judged with a one-sided Fisher test inside the subset's rows."""
    ok = np.ones(len(itemsets), dtype=bool)
    lengths = np.fromiter((len(s) for s in itemsets), dtype=np.int64, count=len(itemsets))
    longest = int(lengths.max(initial=1))
    base = 1 + max((max(s) for s in itemsets if s), default=0)
    if float(base) ** longest >= 2.0**62:  # keys would not fit in int64: look the subsets up one by one
        index = {s: i for i, s in enumerate(itemsets)}

        def subsets(rows: np.ndarray, k: int, drop: int) -> np.ndarray:
            return np.array([index.get(itemsets[i][:drop] + itemsets[i][drop + 1 :], -1) for i in rows.tolist()],
                            dtype=np.int64)
    else:  # each itemset as one integer (its items as digits in base `base`); subsets found by binary search
        by_length = {k: np.flatnonzero(lengths == k) for k in range(1, longest + 1)}
        matrices = {k: np.array([itemsets[i] for i in rows.tolist()], dtype=np.int64).reshape(rows.size, k)
                    for k, rows in by_length.items()}
        digits = base ** np.arange(longest, -1, -1, dtype=np.int64)
        keys = {k: matrices[k] @ digits[-k:] for k in by_length}
        sorted_keys = {k: np.argsort(keys[k], kind="stable") for k in by_length}

        def subsets(rows: np.ndarray, k: int, drop: int) -> np.ndarray:
            matrix = np.delete(matrices[k], drop, axis=1)
            wanted = matrix @ digits[-(k - 1):]
            order, pool = sorted_keys[k - 1], keys[k - 1]
            if not order.size:
                return np.full(rows.size, -1, dtype=np.int64)
            at = np.searchsorted(pool[order], wanted, side="right") - 1  # the last of equal keys, as a dict keeps
            hit = (at >= 0) & (pool[order[np.maximum(at, 0)]] == wanted)
            return np.where(hit, by_length[k - 1][order[np.maximum(at, 0)]], -1)

    for k in range(2, longest + 1):
        rows = np.flatnonzero(lengths == k)
        if not rows.size:
            continue
        for drop in range(k):
            sub = subsets(rows, k, drop)
            have = sub >= 0
            r = rows[have]
            s = sub[have]
            # fisher_greater_log(...) > log_alpha, its tails summed only where cheap bounds leave it open
            bad = fisher_greater_log_exceeds(hits[r], covered[r], hits[s], covered[s], log_alpha)
            bad |= covered[r] == covered[s]
            ok[r[bad]] = False
    return ok


def _canonical(conds: list[Condition]) -> tuple[Condition, ...]:
    return tuple(sorted(conds, key=lambda c: (c.feature, c.op, str(c.value))))


def _make_rule(
    conds: tuple[Condition, ...], target: str, hits: int, n: int, positives: int, rows: int, waste: str
) -> tuple[Rule, float]:
    """The rule with its evidence, and the natural log of its raw p-value (for ranking: p underflows to 0)."""
    rule = Rule.from_counts(_order_conditions(conds), target, hits=hits, n=n, positives=positives, rows=rows,
                            waste=waste)
    logp = float(fisher_greater_log(np.array([hits]), np.array([n]), positives, rows)[0])
    return rule, logp


def _order_conditions(conds: tuple[Condition, ...]) -> tuple[Condition, ...]:
    """Keep the mining order but put the two bounds of an interval next to each other, lower first."""
    out: list[Condition] = []
    for c in conds:
        if any(o.feature == c.feature for o in out):
            continue
        same = [o for o in conds if o.feature == c.feature]
        out.extend(sorted(same, key=lambda o: 0 if o.op in (">", ">=") else 1))
    return tuple(out)
