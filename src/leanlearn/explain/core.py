"""Does an independent model see what a rule says? A LightGBM surrogate per target, SHAP values, and per rule its
corroboration, counterexamples and a sentence in plain words.

LightGBM and SHAP are imported inside :func:`explain` only (``import leanlearn`` stays light).

How a rule is judged (the thresholds are fields of :class:`ExplainSettings`):

- a LightGBM surrogate is fitted per target on the pack's features (derived ones recomputed with the pack's own
  whitelisted expressions) and cross-validated with stratified k-fold (AUC for a binary target, R² for a numeric
  one; every fold recorded);
- SHAP TreeExplainer values are computed on a seeded sample of rows (at most ``max_shap_rows``) plus the rows each
  rule covers (at most ``max_covered_rows`` per rule, sampled with the same seed);
- on the covered rows, *sign agreement* is the share of rows where the SHAP values of the rule's features (those of
  its conditions, and the columns a derived one is computed from) add up to a push toward the outcome, and *SHAP
  share* is the share of all |SHAP| those features hold there;
- a rule is ``corroborated`` when the surrogate is informative (AUC ≥ ``min_auc``, R² ≥ ``min_r2``), sign agreement
  ≥ ``min_sign_agreement`` and SHAP share ≥ ``min_shap_share``; otherwise it is kept and flagged with the reason.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from leanlearn._util import json_plain
from leanlearn.errors import DataError, LeanlearnError, PackError
from leanlearn.mining.expressions import Expression
from leanlearn.mining.rules import Condition, Rule, format_value
from leanlearn.packs.pack import RulePack

#: Most rows (a seeded sample) whose SHAP values are computed per target for importances and plots.
MAX_SHAP_ROWS = 2000
#: Rows (a seeded sample) whose SHAP interaction values are computed per target (0 turns interactions off).
MAX_INTERACTION_ROWS = 300
#: Most covered rows per rule whose SHAP values are computed for its corroboration (a seeded sample beyond that).
MAX_COVERED_ROWS = 1000


class ExplainSettingError(LeanlearnError, ValueError):
    """A setting of :class:`ExplainSettings` out of its range."""


@dataclass(frozen=True, slots=True)
class ExplainSettings:
    """How :func:`explain` fits the surrogate and judges each rule (frozen, validated).

    Parameters
    ----------
    folds : int, default=5
        Cross-validation folds (fewer when the rarer class has fewer rows).
    n_estimators, num_leaves, learning_rate, min_child_samples
        LightGBM surrogate parameters (small: the surrogate judges, it does not compete).
    max_shap_rows : int, default=MAX_SHAP_ROWS
        Rows sampled per target for SHAP importances and dependence plots.
    max_covered_rows : int, default=MAX_COVERED_ROWS
        Covered rows per rule explained for its corroboration.
    min_sign_agreement : float, default=0.8
        Smallest share of covered rows where the rule's features push toward the outcome.
    min_shap_share : float, default=0.25
        Smallest share of |SHAP| the rule's features must hold on its covered rows.
    min_auc, min_r2 : float, default=0.6, 0.05
        Below these cross-validated scores the surrogate is too weak to corroborate anything.
    missed_min_share : float, default=0.1
        Share of mean |SHAP| from which a feature no rule uses is listed under "what the rules miss".
    max_interaction_rows : int, default=MAX_INTERACTION_ROWS
        Rows sampled per target for SHAP interaction values (0: no interactions).
    missed_min_interaction : float, default=0.05
        Share of the mean |SHAP interaction| matrix from which a pair of features no single rule uses together is
        listed under "what the rules miss".
    counterexamples : int, default=5
        Rows shown per kind of counterexample.
    seed : int, default=0
        Seed of the folds, the model and the row samples.
    """

    folds: int = 5
    n_estimators: int = 100
    num_leaves: int = 15
    learning_rate: float = 0.1
    min_child_samples: int = 10
    max_shap_rows: int = MAX_SHAP_ROWS
    max_covered_rows: int = MAX_COVERED_ROWS
    min_sign_agreement: float = 0.8
    min_shap_share: float = 0.25
    min_auc: float = 0.6
    min_r2: float = 0.05
    missed_min_share: float = 0.1
    max_interaction_rows: int = MAX_INTERACTION_ROWS
    missed_min_interaction: float = 0.05
    counterexamples: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        whole = {"folds": 2, "n_estimators": 1, "num_leaves": 2, "min_child_samples": 1, "max_shap_rows": 10,
                 "max_covered_rows": 1, "max_interaction_rows": 0,
                 "counterexamples": 0, "seed": 0}
        for name, low in whole.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ExplainSettingError(f"explain setting {name}={value!r}: give a whole number ≥ {low}")
        for name in ("learning_rate", "min_sign_agreement", "min_shap_share", "min_auc", "missed_min_share",
                     "missed_min_interaction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ExplainSettingError(f"explain setting {name}={value!r}: give a number between 0 and 1")
        if isinstance(self.min_r2, bool) or not isinstance(self.min_r2, (int, float)) or not self.min_r2 <= 1:
            raise ExplainSettingError(f"explain setting min_r2={self.min_r2!r}: give a number at most 1")

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Explanation:
    """What :func:`explain` found, as DataFrames (one row per target, fold, rule, counterexample, feature).

    Attributes
    ----------
    models : DataFrame
        Per target: ``kind``, ``metric`` (``"auc"`` or ``"r2"``), cross-validated ``score`` (mean) and
        ``score_std``, ``folds``, ``rows``, ``positives``, ``features``, ``shap_rows``.
    folds : DataFrame
        Per target and fold: ``n_train``, ``n_test``, ``score``.
    rules : DataFrame
        Per rule: evidence (``n``, ``hits``, ``confidence``, ``ci_low``, ``ci_high``, ``base_rate``, ``p_value``),
        ``sentence``, ``features`` (judged), ``covered_rows`` (explained), ``sign_agreement``, ``shap_share``,
        ``corroborated`` and ``reason``.
    counterexamples : DataFrame
        Per rule: ``kind`` (``"covered without outcome"`` or ``"uncovered with outcome"``), ``rank``, ``row`` (index
        label in the data), ``distance`` (how far an uncovered row is from meeting the conditions, in standard
        deviations), ``surrogate`` (the model's prediction) and ``values`` (the row's condition features and target).
    importance : DataFrame
        Per target and feature: ``mean_abs_shap``, ``share`` and ``used`` (by a rule of that target).
    missed : DataFrame
        The rows of ``importance`` no rule uses with ``share`` ≥ ``settings.missed_min_share``.
    interactions : DataFrame
        Per target and pair of features: ``mean_abs_interaction`` (both off-diagonal halves), ``share`` of the whole
        mean |SHAP interaction| matrix, and ``used`` (some rule of the target speaks about both).
    missed_interactions : DataFrame
        The rows of ``interactions`` no rule uses with ``share`` ≥ ``settings.missed_min_interaction``.
    shap : mapping of str to DataFrame
        Per target: SHAP values of the explained rows (index: row labels; columns: features).
    values : mapping of str to DataFrame
        Per target: the features of those rows, as in the data (for plots).
    """

    pack: str
    content_hash: str
    models: pd.DataFrame
    folds: pd.DataFrame
    rules: pd.DataFrame
    counterexamples: pd.DataFrame
    importance: pd.DataFrame
    missed: pd.DataFrame
    settings: ExplainSettings
    interactions: pd.DataFrame = field(default_factory=pd.DataFrame)
    missed_interactions: pd.DataFrame = field(default_factory=pd.DataFrame)
    shap: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    values: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    seconds: float = 0.0

    def rule(self, rule_id: str) -> dict[str, Any]:
        """One rule's figures (a row of :attr:`rules`) with its counterexamples, as plain Python values."""
        match = self.rules[self.rules["rule_id"] == rule_id]
        if match.empty:
            raise LeanlearnError(f"explanation of pack {self.pack!r} has no rule {rule_id!r}; rules: "
                                 f"{', '.join(self.rules['rule_id'].astype(str))}")
        doc: dict[str, Any] = json_plain(match.iloc[0].to_dict())
        cex = self.counterexamples[self.counterexamples["rule_id"] == rule_id]
        doc["counterexamples"] = json_plain(cex.drop(columns="rule_id").to_dict(orient="records"))
        return doc

    def _rule_docs(self) -> list[dict[str, Any]]:
        """Every rule's figures with its counterexamples (one pass: no per-rule search)."""
        grouped = {key: json_plain(part.drop(columns="rule_id").to_dict(orient="records"))
                   for key, part in self.counterexamples.groupby("rule_id", sort=False)}
        docs: list[dict[str, Any]] = json_plain(self.rules.to_dict(orient="records"))
        for doc in docs:
            doc["counterexamples"] = grouped.get(doc["rule_id"], [])
        return docs

    def to_json(self) -> dict[str, Any]:
        """The figures per rule and per target as JSON-ready values (no SHAP matrices)."""
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return list(json_plain(frame.to_dict(orient="records")))

        return {
            "pack": self.pack,
            "content_hash": self.content_hash,
            "settings": self.settings.to_json(),
            "seconds": round(self.seconds, 3),
            "models": records(self.models),
            "folds": records(self.folds),
            "rules": self._rule_docs(),
            "missed": records(self.missed),
            "missed_interactions": records(self.missed_interactions),
            "importance": records(self.importance),
        }


# -- plain words ------------------------------------------------------------------------------------------------
_OP_WORDS = {"<": "below", "<=": "at most", ">": "above", ">=": "at least", "==": "is", "!=": "is not"}


def round_for_people(value: Any) -> str:
    """A number as a person writes it: 3 significant digits, thousands separated, no trailing zeros.

    >>> round_for_people(11000.0), round_for_people(8.6000001), round_for_people(1379.5), round_for_people(0.01234)
    ('11,000', '8.6', '1,380', '0.0123')
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    digits = 3 - int(math.floor(math.log10(abs(v)))) - 1
    rounded = round(v, digits)
    if abs(rounded) >= 1000 or rounded == int(rounded):
        return f"{rounded:,.0f}" if rounded == int(rounded) else f"{rounded:,}"
    return format_value(rounded)


def percent(share: float) -> str:
    """A share as a rounded percentage: ``'100 %'``, ``'7 %'``, ``'0.5 %'`` (never ``'0 %'`` for a non-zero share).

    >>> percent(1.0), percent(0.0098), percent(0.0046), percent(0.0)
    ('100 %', '1 %', '0.5 %', '0 %')
    """
    if not math.isfinite(share):
        return "n/a"
    if share == 0 or share >= 0.0095:
        return f"{round(share * 100):.0f} %"
    return f"{max(round(share * 100, 1), 0.1):.1f} %"


def p_text(p: float) -> str:
    """A p-value for people: ``'p < 1e-12'`` below 0.001 (the next power of ten up), else ``'p = 0.03'``.

    >>> p_text(4.3e-13), p_text(0.0312), p_text(0.0)
    ('p < 1e-12', 'p = 0.031', 'p < 1e-300')
    """
    if not math.isfinite(p):
        return "p n/a"
    if p < 1e-300:
        return "p < 1e-300"
    if p < 0.001:
        return f"p < 1e-{-math.ceil(math.log10(p)) if math.log10(p) % 1 else -int(math.log10(p)) - 1}"
    return f"p = {p:.2g}"


def _condition_words(cond: Condition, units: Mapping[str, str | None]) -> str:
    unit = units.get(cond.feature)
    suffix = f" {unit}" if unit else ""
    if cond.op == "between":
        lo, hi = cond.value
        return f"{cond.feature} between {round_for_people(lo)} and {round_for_people(hi)}{suffix}"
    if cond.op == "in":
        return f"{cond.feature} one of {', '.join(round_for_people(v) for v in cond.value)}"
    value = cond.value
    if cond.op in ("==", "!=") and isinstance(value, str):
        return f"{cond.feature} {value}" if cond.op == "==" else f"{cond.feature} other than {value}"
    return f"{cond.feature} {_OP_WORDS[cond.op]} {round_for_people(value)}{suffix}"


def sentence(rule: Rule, pack: RulePack) -> str:
    """The rule in plain words, numbers rounded for people.

    >>> from leanlearn.mining.rules import RuleSet
    >>> from leanlearn.packs.pack import Target
    >>> rule = Rule.from_counts([Condition("strain", ">=", 11000)], "OSF", hits=87, n=87, positives=98, rows=10000,
    ...                         p_value=4.3e-13)
    >>> pack = RulePack(name="p", line="L", targets=(Target("OSF"),), rules=RuleSet((rule,)),
    ...                 derived=(("strain", "`Tool wear [min]` * `Torque [Nm]`"),))
    >>> print(sentence(rule, pack))  # doctest: +NORMALIZE_WHITESPACE
    Parts with strain at least 11,000 (strain = Tool wear [min] * Torque [Nm]) show OSF in 100 % of 87 cases,
    against 1 % overall — p < 1e-12.
    """
    units = {f.name: f.unit for f in pack.features}
    derived = dict(pack.derived)
    lhs = " and ".join(_condition_words(c, units) for c in rule.conditions) or "all parts"
    notes = [f"{c.feature} = {derived[c.feature].replace('`', '')}" for c in rule.conditions if c.feature in derived]
    notes = list(dict.fromkeys(notes))
    where = f" ({'; '.join(notes)})" if notes else ""
    if rule.shift is not None:
        s = rule.shift
        return (
            f"Parts with {lhs}{where} have a {s.worse} {rule.target}: median {round_for_people(s.median)} against "
            f"{round_for_people(s.median_overall)} overall, in {rule.n:,} cases; {percent(rule.confidence)} of them "
            f"are worse than the overall median — {p_text(rule.p_value)}."
        )
    return (
        f"Parts with {lhs}{where} show {rule.target} in {percent(rule.confidence)} of {rule.n:,} cases, against "
        f"{percent(rule.base_rate)} overall — {p_text(rule.p_value)}."
    )


# -- helpers ----------------------------------------------------------------------------------------------------
def rule_features(rule: Rule, pack: RulePack) -> list[str]:
    """The features a rule speaks about: its conditions' features and the columns derived ones are computed from."""
    derived = dict(pack.derived)
    out: list[str] = []
    pending = [c.feature for c in rule.conditions]
    while pending:
        name = pending.pop(0)
        if name in out:
            continue
        out.append(name)
        if name in derived:
            pending.extend(sorted(Expression.parse(derived[name]).columns))
    return out


def _encode(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Numbers as float, anything else as the codes of its sorted distinct values (missing stays missing)."""
    out = pd.DataFrame(index=frame.index)
    for name in names:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column.dtype) or pd.api.types.is_numeric_dtype(column.dtype):
            out[name] = column.astype(float)
        else:
            levels = sorted(column.dropna().astype(str).unique())
            codes = {level: float(i) for i, level in enumerate(levels)}
            out[name] = column.map(lambda v, codes=codes: codes.get(str(v), np.nan) if pd.notna(v) else np.nan)
    return out


def _gap(cond: Condition, values: pd.Series, scale: float) -> np.ndarray:
    """How far each value is from satisfying ``cond`` (0 when it does), in units of ``scale``; text: 0 or 1."""
    met = cond.mask_values(values)
    if cond.op in ("<", "<=", ">", ">=", "between"):
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        if cond.op == "between":
            lo, hi = (float(v) for v in cond.value)
            gap = np.maximum(lo - x, 0) + np.maximum(x - hi, 0)
        elif cond.op in ("<", "<="):
            gap = np.maximum(x - float(cond.value), 0)
        else:
            gap = np.maximum(float(cond.value) - x, 0)
        gap = np.where(met, 0.0, gap / (scale or 1.0))
        return np.where(np.isnan(x), np.inf, gap)
    return np.where(met, 0.0, 1.0)


def _shap_matrix(explainer: Any, X: pd.DataFrame) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():  # SHAP warns that its output format for LightGBM changed; we handle both
        warnings.simplefilter("ignore", UserWarning)
        raw = explainer.shap_values(X)
    if isinstance(raw, list):  # older SHAP: one matrix per class
        raw = raw[-1]
    values = np.asarray(raw, dtype=float)
    if values.ndim == 3:
        values = values[:, :, -1]
    return values


def _prepare(pack: RulePack, frame: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"explain needs a DataFrame of the data, got {type(frame).__name__}")
    if frame.empty:
        raise DataError("the data has no rows; explain needs the rows the rules are to be checked on")
    if len(pack.rules) == 0:
        raise PackError(f"rule pack {pack.name!r} has no rules to explain")
    prepared = pack.prepare(frame)
    missing = sorted({c.feature for r in pack.rules for c in r.conditions} - set(map(str, prepared.columns)))
    targets = [t.name for t in pack.targets if t.name not in prepared.columns]
    if targets:
        raise DataError(f"the data has no column for target(s) {', '.join(map(repr, targets))} of pack "
                        f"{pack.name!r}; explain needs the outcomes to check the rules against")
    if missing:
        raise DataError(f"the data lacks feature(s) {', '.join(map(repr, missing))} that rules of pack "
                        f"{pack.name!r} test; give data with these columns")
    return prepared


# -- the work ---------------------------------------------------------------------------------------------------
def explain(
    pack: RulePack,
    frame: pd.DataFrame,
    settings: ExplainSettings | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> Explanation:
    """Check every rule of ``pack`` against a LightGBM surrogate and its SHAP values on ``frame``.

    Parameters
    ----------
    pack : RulePack
        The rules (their derived features are recomputed on ``frame`` with the pack's own expressions).
    frame : DataFrame
        Data with the pack's features and targets (typically the data the pack was mined from).
    settings : ExplainSettings, optional
        Folds, sample caps, thresholds and seed; default :class:`ExplainSettings()`.
    progress : callable, optional
        Called with a short text at each step (per target), for a progress display.

    Returns
    -------
    Explanation
        The figures as DataFrames; rules that are not corroborated are flagged (``corroborated=False`` and a
        ``reason``), never dropped.

    Examples
    --------
    >>> import leanlearn as ll
    >>> frame = ll.load_ai4i()
    >>> rule = ll.Rule.from_counts([ll.Condition("Tool wear [min]", ">=", 203)], "TWF", hits=44, n=672,
    ...                            positives=46, rows=10000, id="TWF-001")
    >>> from leanlearn.packs.pack import Target
    >>> pack = ll.RulePack(name="twf", line="ai4i", targets=(Target("TWF"),), rules=ll.RuleSet((rule,)))
    >>> result = ll.explain(pack, frame.drop(columns=["UDI", "Product ID"]))
    >>> bool(result.rules.loc[0, "corroborated"])
    True
    """
    started = time.perf_counter()
    settings = settings or ExplainSettings()
    say = progress or (lambda text: None)
    prepared = _prepare(pack, frame)  # bad input fails before the heavy libraries load

    import warnings

    import lightgbm
    from sklearn.metrics import r2_score, roc_auc_score
    from sklearn.model_selection import KFold, StratifiedKFold

    with warnings.catch_warnings():  # SHAP's own deprecation notices about matplotlib colour maps
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap
    target_names = {t.name for t in pack.targets}
    declared = [f.name for f in pack.features] or [str(c) for c in prepared.columns]
    used_anywhere = [f for r in pack.rules for f in rule_features(r, pack)]
    names = [n for n in dict.fromkeys([*declared, *used_anywhere]) if n in prepared.columns and n not in target_names]
    encoded = _encode(prepared, names)
    encoded.columns = [f"f{i}" for i in range(len(names))]  # LightGBM refuses some characters in feature names
    rng = np.random.default_rng(settings.seed)

    model_rows: list[dict[str, Any]] = []
    fold_rows: list[dict[str, Any]] = []
    rule_rows: list[dict[str, Any]] = []
    cex_rows: list[dict[str, Any]] = []
    imp_rows: list[dict[str, Any]] = []
    inter_rows: list[dict[str, Any]] = []
    shap_frames: dict[str, pd.DataFrame] = {}
    value_frames: dict[str, pd.DataFrame] = {}

    for target in pack.targets:
        rules = list(pack.rules.for_target(target.name))
        if not rules:
            continue
        say(f"{target.name}: fitting the surrogate")
        present = prepared[target.name].notna().to_numpy()
        X = encoded[present]
        numeric = target.kind == "numeric"
        if numeric:
            y = pd.to_numeric(prepared.loc[present, target.name], errors="coerce").to_numpy(dtype=float)
            if np.isnan(y).any():
                raise DataError(f"target {target.name!r} is numeric in the pack but the data holds text in it")
            direction = -1.0 if target.positive == "lower" else 1.0
        else:
            y = (prepared.loc[present, target.name].to_numpy() == target.positive).astype(int)
            direction = 1.0
        params: dict[str, Any] = dict(n_estimators=settings.n_estimators, num_leaves=settings.num_leaves,
                      learning_rate=settings.learning_rate, min_child_samples=settings.min_child_samples,
                      random_state=settings.seed, n_jobs=1, verbose=-1, deterministic=True, force_col_wise=True)
        scores = _cross_validate(X, y, numeric, settings, params, lightgbm, (r2_score, roc_auc_score),
                                 (KFold, StratifiedKFold), target.name, fold_rows)
        model: Any = lightgbm.LGBMRegressor(**params) if numeric else lightgbm.LGBMClassifier(**params)
        model.fit(X, y)
        predicted = model.predict(X) if numeric else model.predict_proba(X)[:, 1]
        score = float(np.mean(scores)) if scores else float("nan")
        weak_limit = settings.min_r2 if numeric else settings.min_auc
        metric = "r2" if numeric else "auc"

        # rows to explain: a seeded sample, plus each rule's covered rows (capped)
        positions = np.arange(len(X))
        sample = rng.choice(positions, size=min(settings.max_shap_rows, len(X)), replace=False)
        masks = {r.id: r.mask(prepared[present]) for r in rules}
        explained = set(sample.tolist())
        covered_pos: dict[str, np.ndarray] = {}
        for r in rules:
            cov = positions[masks[r.id]]
            if len(cov) > settings.max_covered_rows:
                cov = np.sort(rng.choice(cov, size=settings.max_covered_rows, replace=False))
            covered_pos[r.id] = cov
            explained.update(cov.tolist())
        rows = np.array(sorted(explained))
        say(f"{target.name}: SHAP values of {len(rows):,} rows")
        values = _shap_matrix(shap.TreeExplainer(model), X.iloc[rows])
        shap_frame = pd.DataFrame(values, index=X.index[rows], columns=names)
        shap_frames[target.name] = shap_frame
        value_frames[target.name] = prepared.loc[X.index[rows], names]
        where = {p: i for i, p in enumerate(rows)}

        mean_abs = np.abs(values[[where[p] for p in sample]]).mean(axis=0)
        total = float(mean_abs.sum()) or 1.0
        used = {f for r in rules for f in rule_features(r, pack)}
        for name, m in zip(names, mean_abs, strict=True):
            imp_rows.append({"target": target.name, "feature": name, "mean_abs_shap": float(m),
                             "share": float(m) / total, "used": name in used})

        if settings.max_interaction_rows:
            say(f"{target.name}: SHAP interaction values")
            picked = sample[: settings.max_interaction_rows]
            inter_rows.extend(_interactions(shap.TreeExplainer(model), X.iloc[picked], names, target.name,
                                            [rule_features(r, pack) for r in rules]))
        model_rows.append({"target": target.name, "kind": "numeric" if numeric else "binary", "metric": metric,
                           "score": score, "score_std": float(np.std(scores)) if scores else float("nan"),
                           "folds": len(scores), "rows": int(len(X)), "positives": None if numeric else int(y.sum()),
                           "features": len(names), "shap_rows": int(len(rows))})

        scale = {n: float(encoded[f"f{i}"].std()) for i, n in enumerate(names)}
        for r in rules:
            feats = [f for f in rule_features(r, pack) if f in names]
            cols = [names.index(f) for f in feats]
            cov_rows = [where[p] for p in covered_pos[r.id]]
            sign = share = float("nan")
            if cov_rows:
                block = values[cov_rows]
                push = block[:, cols].sum(axis=1) * direction
                sign = float((push > 0).mean())
                denom = float(np.abs(block).sum())
                share = float(np.abs(block[:, cols]).sum()) / denom if denom else 0.0
            reason = _verdict(r, len(cov_rows), score, weak_limit, metric, sign, share, settings)
            rule_rows.append({
                "rule_id": r.id, "target": target.name, "text": r.text, "sentence": sentence(r, pack),
                "n": r.n, "hits": r.hits, "confidence": r.confidence, "ci_low": r.ci[0], "ci_high": r.ci[1],
                "base_rate": r.base_rate, "lift": r.lift, "p_value": r.p_value, "features": feats,
                "covered_rows": len(cov_rows), "covered_in_data": int(masks[r.id].sum()),
                "sign_agreement": sign, "shap_share": share, "corroborated": reason is None,
                "reason": reason or "",
            })
            cex_rows.extend(_counterexamples(r, prepared[present], masks[r.id], predicted, scale, settings))
        say(f"{target.name}: done")

    importance = pd.DataFrame(imp_rows, columns=["target", "feature", "mean_abs_shap", "share", "used"])
    importance = importance.sort_values(["target", "mean_abs_shap"], ascending=[True, False], kind="stable")
    importance = importance.reset_index(drop=True)
    missed = importance[(~importance["used"].astype(bool)) & (importance["share"] >= settings.missed_min_share)]
    inter = pd.DataFrame(inter_rows, columns=["target", "feature", "other", "mean_abs_interaction", "share", "used"])
    inter = inter.sort_values(["target", "mean_abs_interaction"], ascending=[True, False], kind="stable")
    inter = inter.reset_index(drop=True)
    missed_inter = inter[(~inter["used"].astype(bool)) & (inter["share"] >= settings.missed_min_interaction)]
    cex_columns = ["rule_id", "kind", "rank", "row", "distance", "surrogate", "values"]
    return Explanation(
        pack=pack.name,
        content_hash=pack.source_hash or pack.content_hash,
        models=pd.DataFrame(model_rows),
        folds=pd.DataFrame(fold_rows, columns=["target", "fold", "n_train", "n_test", "score"]),
        rules=pd.DataFrame(rule_rows),
        counterexamples=pd.DataFrame(cex_rows, columns=cex_columns),
        importance=importance,
        missed=missed.drop(columns="used").reset_index(drop=True),
        settings=settings,
        interactions=inter,
        missed_interactions=missed_inter.drop(columns="used").reset_index(drop=True),
        shap=shap_frames,
        values=value_frames,
        seconds=time.perf_counter() - started,
    )


def _interactions(explainer: Any, X: pd.DataFrame, names: list[str], target: str,
                  rule_feature_sets: list[list[str]]) -> list[dict[str, Any]]:
    """Pairs of features by mean |SHAP interaction| (both halves of the symmetric matrix), with their share."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        raw = explainer.shap_interaction_values(X)
    if isinstance(raw, list):
        raw = raw[-1]
    values = np.asarray(raw, dtype=float)
    if values.ndim == 4:
        values = values[-1] if values.shape[0] in (1, 2) and values.shape[1] == len(X) else values[..., -1]
    mean = np.abs(values).mean(axis=0)
    total = float(mean.sum()) or 1.0
    together = [set(s) for s in rule_feature_sets]
    out = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            strength = float(mean[i, j] + mean[j, i])
            out.append({"target": target, "feature": names[i], "other": names[j], "mean_abs_interaction": strength,
                        "share": strength / total, "used": any({names[i], names[j]} <= s for s in together)})
    return out


def _cross_validate(X: pd.DataFrame, y: np.ndarray, numeric: bool, settings: ExplainSettings, params: dict[str, Any],
                    lightgbm: Any, metrics: tuple[Any, Any], splitters: tuple[Any, Any], target: str,
                    out: list[dict[str, Any]]) -> list[float]:
    r2_score, roc_auc_score = metrics
    kfold, stratified = splitters
    if numeric:
        k = min(settings.folds, len(y))
        if k < 2:
            return []
        split = kfold(n_splits=k, shuffle=True, random_state=settings.seed).split(X)
    else:
        k = min(settings.folds, int(y.sum()), int(len(y) - y.sum()))
        if k < 2:
            return []
        split = stratified(n_splits=k, shuffle=True, random_state=settings.seed).split(X, y)
    scores = []
    for i, (train, test) in enumerate(split):
        model = lightgbm.LGBMRegressor(**params) if numeric else lightgbm.LGBMClassifier(**params)
        model.fit(X.iloc[train], y[train])
        if numeric:
            score = float(r2_score(y[test], model.predict(X.iloc[test])))
        else:
            score = float(roc_auc_score(y[test], model.predict_proba(X.iloc[test])[:, 1]))
        scores.append(score)
        out.append({"target": target, "fold": i + 1, "n_train": len(train), "n_test": len(test), "score": score})
    return scores


def _verdict(rule: Rule, covered: int, score: float, limit: float, metric: str, sign: float, share: float,
             settings: ExplainSettings) -> str | None:
    """``None`` when the rule is corroborated, else the reason in words."""
    name = "AUC" if metric == "auc" else "R²"
    if not math.isfinite(score):
        return (f"the surrogate could not be cross-validated for {rule.target} (too few rows of one outcome); "
                "nothing to corroborate with")
    if score < limit:
        return f"the surrogate model does not predict {rule.target} (cross-validated {name} {score:.2f} < {limit})"
    if covered == 0:
        return "the rule covers no row of this data"
    reasons = []
    if sign < settings.min_sign_agreement:
        reasons.append(f"its features push toward {rule.target} on only {sign:.0%} of its rows "
                       f"(at least {settings.min_sign_agreement:.0%} needed)")
    if share < settings.min_shap_share:
        reasons.append(f"its features hold only {share:.0%} of the model's |SHAP| there "
                       f"(at least {settings.min_shap_share:.0%} needed)")
    return "; ".join(reasons) or None


def _counterexamples(rule: Rule, data: pd.DataFrame, covered: np.ndarray, predicted: np.ndarray,
                     scale: Mapping[str, float], settings: ExplainSettings) -> list[dict[str, Any]]:
    if settings.counterexamples == 0:
        return []
    outcome = rule.outcome.mask(data)
    shown = list(dict.fromkeys([c.feature for c in rule.conditions] + [rule.target]))
    out: list[dict[str, Any]] = []

    def add(kind: str, positions: np.ndarray, distance: np.ndarray | None) -> None:
        for rank, p in enumerate(positions[: settings.counterexamples], start=1):
            row = data.iloc[p]
            out.append({"rule_id": rule.id, "kind": kind, "rank": rank, "row": json_plain(data.index[p]),
                        "distance": None if distance is None else float(distance[p]),
                        "surrogate": float(predicted[p]),
                        "values": {k: json_plain(row[k]) for k in shown}})

    wrong = np.flatnonzero(covered & ~outcome)
    add("covered without outcome", wrong[np.argsort(predicted[wrong], kind="stable")], None)
    missed = np.flatnonzero(~covered & outcome)
    if len(missed):
        dist = np.zeros(len(data))
        for c in rule.conditions:
            dist += _gap(c, data[c.feature], scale.get(c.feature, 1.0))
        order = missed[np.argsort(dist[missed], kind="stable")]
        add("uncovered with outcome", order[np.isfinite(dist[order])], dist)
    return out
