"""Conditions, rules and rule sets: small frozen value objects that are data, not code.

A :class:`Condition` is one test on one column (``{"feature": "torque", "op": ">=", "value": 62.0}``); a
:class:`Rule` is a conjunction of conditions that implies an outcome condition, together with the evidence for
that claim; a :class:`RuleSet` is an ordered, immutable collection of rules. All three convert to and from plain
JSON documents and never execute anything they read.

Examples
--------
>>> import pandas as pd
>>> c = Condition("temp_diff", "<", 8.6)
>>> c.text
'temp_diff < 8.6'
>>> c.mask(pd.DataFrame({"temp_diff": [8.5, 8.6, None]})).tolist()
[True, False, False]
>>> Condition.from_json({"feature": "Type", "op": "in", "value": ["L", "M"]}).text
"Type in ['L', 'M']"
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from leanlearn._util import json_plain
from leanlearn.errors import PackError

Op = Literal["<", "<=", ">", ">=", "==", "!=", "in", "between"]
OPS: tuple[str, ...] = ("<", "<=", ">", ">=", "==", "!=", "in", "between")
WASTES: tuple[str, ...] = (
    "defects",
    "waiting",
    "overproduction",
    "transport",
    "inventory",
    "motion",
    "overprocessing",
    "downtime",
    "setup",
)
REVIEW_STATES: tuple[str, ...] = ("pending", "approved", "rejected")

Scalar = float | int | str | bool


def format_value(value: Any) -> str:
    """Write a threshold the way a person would: ``11000`` not ``11000.0``, ``8.6`` not ``8.6000000001``."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isfinite(v) and v == round(v) and abs(v) < 1e15:
            return str(int(round(v)))
        if math.isfinite(v) and abs(v) >= 1e15:
            return np.format_float_scientific(v, trim="-")  # 1.7e+308, not 309 digits
        return np.format_float_positional(v, trim="-")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(repr(x) if isinstance(x, str) else format_value(x) for x in value) + "]"
    return str(value)


def _plain(value: Any) -> Any:
    """Numpy scalars and tuples as plain Python values, NaN and infinity kept (``leanlearn._util.json_plain``)."""
    return json_plain(value, keep_nonfinite=True)


@dataclass(frozen=True, slots=True)
class Condition:
    """One test on one column.

    Parameters
    ----------
    feature : str
        Column name (a raw column or a derived feature).
    op : {"<", "<=", ">", ">=", "==", "!=", "in", "between"}
        Comparison. ``in`` takes a list of values, ``between`` a closed ``[lo, hi]`` pair.
    value : float, int, str, bool, or tuple
        Right-hand side.

    Missing values never satisfy a condition (also not ``!=``).
    """

    feature: str
    op: Op
    value: Any

    def __post_init__(self) -> None:
        if not isinstance(self.feature, str) or not self.feature:
            raise PackError(f"condition feature must be a non-empty string, got {self.feature!r}")
        if self.op not in OPS:
            raise PackError(f"condition on {self.feature!r}: unknown op {self.op!r}; use one of {', '.join(OPS)}")
        if self.op in ("in", "between"):
            if not isinstance(self.value, (list, tuple)):
                raise PackError(f"condition on {self.feature!r}: op {self.op!r} needs a list value, got {self.value!r}")
            object.__setattr__(self, "value", tuple(_plain(v) for v in self.value))
            if self.op == "between" and len(self.value) != 2:
                raise PackError(f"condition on {self.feature!r}: 'between' needs [lo, hi], got {list(self.value)!r}")
        else:
            if isinstance(self.value, (list, tuple, dict)) or self.value is None:
                raise PackError(
                    f"condition on {self.feature!r}: op {self.op!r} needs a single value, got {self.value!r}"
                )
            object.__setattr__(self, "value", _plain(self.value))

    @property
    def text(self) -> str:
        """The condition in words, e.g. ``'rpm < 1380'``."""
        if self.op == "between":
            lo, hi = self.value
            return f"{format_value(lo)} <= {self.feature} <= {format_value(hi)}"
        return f"{self.feature} {self.op} {format_value(self.value)}"

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean array: which rows of ``frame`` satisfy the condition."""
        if self.feature not in frame.columns:
            raise PackError(
                f"condition {self.text!r} needs column {self.feature!r}, which the data does not have; "
                f"available: {', '.join(map(str, frame.columns[:12]))}"
            )
        return self.mask_values(frame[self.feature])

    def mask_values(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """Boolean array: which of ``values`` satisfy the condition (missing values never do)."""
        s = pd.Series(values) if not isinstance(values, pd.Series) else values
        present = s.notna().to_numpy()
        op, v = self.op, self.value
        with np.errstate(invalid="ignore"):
            if op == "in":
                hit = s.isin(list(v)).to_numpy(dtype=bool, na_value=False)
            elif op == "between":
                hit = ((s >= v[0]) & (s <= v[1])).to_numpy(dtype=bool, na_value=False)
            elif op == "==":
                hit = (s == v).to_numpy(dtype=bool, na_value=False)
            elif op == "!=":
                hit = (s != v).to_numpy(dtype=bool, na_value=False)
            else:
                numeric = pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)
                if isinstance(v, str) or not numeric:
                    raise PackError(
                        f"condition {self.text!r}: column {self.feature!r} is not numeric "
                        f"(example value {s.dropna().iloc[0] if present.any() else None!r})"
                    )
                if op == "<":
                    hit = (s < v).to_numpy(dtype=bool, na_value=False)
                elif op == "<=":
                    hit = (s <= v).to_numpy(dtype=bool, na_value=False)
                elif op == ">":
                    hit = (s > v).to_numpy(dtype=bool, na_value=False)
                else:
                    hit = (s >= v).to_numpy(dtype=bool, na_value=False)
        return np.asarray(hit, dtype=bool) & present

    def to_json(self) -> dict[str, Any]:
        """Plain JSON document ``{"feature", "op", "value"}``."""
        return {"feature": self.feature, "op": self.op, "value": _plain(self.value)}

    @classmethod
    def from_json(cls, doc: Any) -> Condition:
        """Build from ``{"feature", "op", "value"}``; raises :class:`PackError` naming the bad field."""
        if not isinstance(doc, dict):
            raise PackError(f"a condition must be an object with feature, op and value; got {doc!r}")
        missing = [k for k in ("feature", "op", "value") if k not in doc]
        if missing:
            raise PackError(f"condition {doc!r} lacks field(s) {', '.join(missing)}")
        return cls(doc["feature"], doc["op"], doc["value"])


@dataclass(frozen=True, slots=True)
class Review:
    """An engineer's decision on a rule: ``status``, who (``by``), when (``at``, UTC ISO 8601), why (``reason``) and
    the latest ``comment``."""

    status: Literal["pending", "approved", "rejected"] = "pending"
    by: str | None = None
    at: str | None = None
    comment: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc = {"status": self.status, "by": self.by, "at": self.at, "comment": self.comment}
        if self.reason is not None:  # written only when there is one: older packs keep their bytes and hash
            doc["reason"] = self.reason
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Review:
        status = doc.get("status", "pending")
        if status not in REVIEW_STATES:
            raise PackError(f"review status {status!r} is not one of {', '.join(REVIEW_STATES)}")
        return cls(status, doc.get("by"), doc.get("at"), doc.get("comment"), doc.get("reason"))


@dataclass(frozen=True, slots=True)
class Shift:
    """How a numeric outcome moves under a rule (subgroup discovery).

    ``effect_size`` is Cliff's delta (−1…1: the probability that a covered row is worse than an uncovered one,
    minus the reverse); ``test`` names the one-sided test behind the rule's p-value.
    """

    mean: float
    median: float
    mean_overall: float
    median_overall: float
    effect_size: float
    worse: Literal["higher", "lower"] = "higher"
    test: str = "mann-whitney"

    def to_json(self) -> dict[str, Any]:
        return {
            "mean": self.mean, "median": self.median, "mean_overall": self.mean_overall,
            "median_overall": self.median_overall, "effect_size": self.effect_size, "worse": self.worse,
            "test": self.test,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Shift:
        try:
            return cls(
                float(doc["mean"]), float(doc["median"]), float(doc["mean_overall"]), float(doc["median_overall"]),
                float(doc["effect_size"]), doc.get("worse", "higher"), doc.get("test", "mann-whitney"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PackError(f"shift evidence is incomplete or has the wrong type ({exc})") from None


EVIDENCE_FIELDS: tuple[str, ...] = (
    "support",
    "coverage",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "n",
    "hits",
    "p_value",
    "p_value_raw",
    "ci",
    "base_rate",
)


@dataclass(frozen=True, slots=True)
class Rule:
    """``if`` all ``conditions`` hold ``then`` ``outcome`` holds — with the evidence for it.

    Evidence (computed on the data the rule was mined from):

    - ``n``: rows the conditions cover; ``hits``: covered rows where the outcome holds;
    - ``support`` = hits / rows, ``coverage`` = n / rows, ``confidence`` = hits / n, ``base_rate`` = P(outcome);
    - ``lift`` = confidence / base_rate, ``leverage`` = support - coverage * base_rate,
      ``conviction`` = (1 - base_rate) / (1 - confidence) (``None`` when confidence is 1: infinite);
    - ``p_value_raw``: one-sided Fisher exact test that the outcome is more frequent under the rule than outside;
      ``p_value``: the same, adjusted for every candidate the search evaluated (by default within its rule length:
      the layered correction of :mod:`leanlearn.mining.layers`);
    - ``ci``: 95 % Wilson interval of the confidence;
    - ``holdout_confidence``, ``holdout_n``: confidence and rows covered on data the search never saw (set by the
      ``"holdout"`` correction; ``None`` otherwise);
    - ``shift``: for a numeric outcome, its mean and median under the rule vs overall, effect size and test
      (:class:`Shift`); the binary evidence then describes "worse than the overall median".
    """

    conditions: tuple[Condition, ...]
    outcome: Condition
    support: float
    coverage: float
    confidence: float
    lift: float
    leverage: float
    conviction: float | None
    n: int
    hits: int
    p_value: float
    p_value_raw: float
    ci: tuple[float, float]
    base_rate: float
    id: str = ""
    waste: str = "defects"
    review: Review = field(default_factory=Review)
    holdout_confidence: float | None = None
    holdout_n: int | None = None
    shift: Shift | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "conditions", tuple(self.conditions))
        object.__setattr__(self, "ci", (float(self.ci[0]), float(self.ci[1])))
        if self.waste not in WASTES:
            raise PackError(f"rule {self.id or self.text!r}: waste {self.waste!r} is not one of {', '.join(WASTES)}")

    @classmethod
    def from_counts(
        cls,
        conditions: Sequence[Condition],
        outcome: str | Condition,
        *,
        hits: int,
        n: int,
        positives: int,
        rows: int,
        p_value: float | None = None,
        **fields: Any,
    ) -> Rule:
        """A rule with all its evidence computed from four counts.

        Parameters
        ----------
        conditions : sequence of Condition
            The ``if`` part.
        outcome : str or Condition
            The target's name (the outcome is then ``target == 1``) or the outcome condition.
        hits, n, positives, rows : int
            Covered rows where the outcome holds, covered rows, rows where the outcome holds, all rows.
        p_value : float, optional
            The adjusted p-value; default: the raw one-sided Fisher p-value (unadjusted).
        **fields
            Any other field of :class:`Rule` (``id``, ``waste``, ``review``, ``shift``, ``holdout_n``, ...).

        Examples
        --------
        >>> rule = Rule.from_counts([Condition("rpm", "<", 1380)], "HDF", hits=90, n=100, positives=115, rows=10000)
        >>> rule.confidence, round(rule.lift, 1), rule.text
        (0.9, 78.3, 'rpm < 1380 → HDF')
        """
        hits, n, positives, rows = int(hits), int(n), int(positives), int(rows)
        if not (0 <= hits <= n <= rows and hits <= positives <= rows and rows > 0 and n > 0):
            raise PackError(
                f"rule counts must satisfy 0 <= hits <= n <= rows, hits <= positives <= rows and n > 0; got "
                f"hits={hits}, n={n}, positives={positives}, rows={rows}"
            )
        from leanlearn.mining.stats import fisher_greater, wilson_interval

        base = positives / rows
        confidence = hits / n
        p_raw = float(fisher_greater(np.array([hits]), np.array([n]), positives, rows)[0])
        lo, hi = wilson_interval(np.array([hits]), np.array([n]))
        then = outcome if isinstance(outcome, Condition) else Condition(outcome, "==", 1)
        return cls(
            conditions=tuple(conditions),
            outcome=then,
            support=hits / rows,
            coverage=n / rows,
            confidence=confidence,
            lift=confidence / base if base else float("nan"),
            leverage=hits / rows - (n / rows) * base,
            conviction=None if confidence >= 1 else (1 - base) / (1 - confidence),
            n=n,
            hits=hits,
            p_value=p_raw if p_value is None else float(p_value),
            p_value_raw=p_raw,
            ci=(float(lo[0]), float(hi[0])),
            base_rate=base,
            **fields,
        )

    @property
    def target(self) -> str:
        return self.outcome.feature

    @property
    def text(self) -> str:
        """Compact form, e.g. ``'temp_diff < 8.6 and rpm < 1380 → HDF'``."""
        lhs = " and ".join(c.text for c in self.conditions) or "always"
        if self.shift is not None:
            arrow = "↑" if self.shift.worse == "higher" else "↓"
            return f"{lhs} → {self.target} {arrow}"
        out = self.outcome
        rhs = out.feature if out.op == "==" and out.value in (1, True) else out.text
        return f"{lhs} → {rhs}"

    def describe(self) -> str:
        """The rule in plain words with its evidence."""
        lhs = " and ".join(c.text for c in self.conditions)
        p = "p < 1e-300" if self.p_value < 1e-300 else f"p = {self.p_value:.2g}"
        if self.shift is not None:
            s = self.shift
            direction = "higher" if s.median > s.median_overall or s.mean > s.mean_overall else "lower"
            return (
                f"When {lhs}, {self.target} runs {direction}: median {format_value(round(s.median, 3))} "
                f"(mean {format_value(round(s.mean, 3))}) vs {format_value(round(s.median_overall, 3))} "
                f"({format_value(round(s.mean_overall, 3))}) overall, on {self.n:,} rows; "
                f"{self.confidence:.0%} of them are worse than the overall median; "
                f"Cliff's delta {s.effect_size:.2f}, adjusted {p}."
            )
        return (
            f"When {lhs}, {self.target} occurs in {self.confidence:.0%} of {self.n:,} rows "
            f"(95 % CI {self.ci[0]:.0%}–{self.ci[1]:.0%}) vs {self.base_rate:.1%} overall: "
            f"{self.lift:.1f}× as often, {self.hits:,} of its {self.target} rows, adjusted {p}."
        )

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows of ``frame`` where the rule fires (all conditions hold)."""
        out = np.ones(len(frame), dtype=bool)
        for c in self.conditions:
            out &= c.mask(frame)
        return out

    def with_review(self, review: Review) -> Rule:
        return replace(self, review=review)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON document: ``id``, ``if``, ``then``, evidence fields beside them, ``waste``, ``review``."""
        doc: dict[str, Any] = {
            "id": self.id,
            "target": self.target,
            "if": [c.to_json() for c in self.conditions],
            "then": self.outcome.to_json(),
            "text": self.text,
            "waste": self.waste,
        }
        for name in EVIDENCE_FIELDS:
            value = getattr(self, name)
            doc[name] = list(value) if name == "ci" else _plain(value)
        doc["holdout_confidence"] = self.holdout_confidence
        doc["holdout_n"] = self.holdout_n
        doc["shift"] = None if self.shift is None else self.shift.to_json()
        doc["review"] = self.review.to_json()
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> Rule:
        if not isinstance(doc, dict):
            raise PackError(f"a rule must be an object, got {type(doc).__name__}")
        where = f"rule {doc.get('id', '?')!r}"
        missing = [k for k in ("if", "then", *EVIDENCE_FIELDS) if k not in doc]
        if missing:
            raise PackError(f"{where} lacks field(s) {', '.join(missing)}")
        if not isinstance(doc["if"], list):
            raise PackError(f"{where}: 'if' must be a list of conditions")
        try:
            return cls(
                conditions=tuple(Condition.from_json(c) for c in doc["if"]),
                outcome=Condition.from_json(doc["then"]),
                support=float(doc["support"]),
                coverage=float(doc["coverage"]),
                confidence=float(doc["confidence"]),
                lift=float(doc["lift"]),
                leverage=float(doc["leverage"]),
                conviction=None if doc["conviction"] is None else float(doc["conviction"]),
                n=int(doc["n"]),
                hits=int(doc["hits"]),
                p_value=float(doc["p_value"]),
                p_value_raw=float(doc["p_value_raw"]),
                ci=(float(doc["ci"][0]), float(doc["ci"][1])),
                base_rate=float(doc["base_rate"]),
                id=str(doc.get("id", "")),
                waste=doc.get("waste", "defects"),
                review=Review.from_json(doc.get("review") or {}),
                holdout_confidence=None if doc.get("holdout_confidence") is None else float(doc["holdout_confidence"]),
                holdout_n=None if doc.get("holdout_n") is None else int(doc["holdout_n"]),
                shift=None if doc.get("shift") is None else Shift.from_json(doc["shift"]),
            )
        except PackError as exc:
            raise PackError(f"{where}: {exc}") from None
        except (TypeError, ValueError, IndexError) as exc:
            raise PackError(f"{where}: an evidence field has the wrong type ({exc})") from None


@dataclass(frozen=True, slots=True)
class RuleSet(Sequence[Rule]):
    """An ordered, immutable collection of rules.

    Examples
    --------
    >>> import pandas as pd
    >>> rs = RuleSet.from_json([])
    >>> len(rs), rs.fired(pd.DataFrame({"x": [1, 2]})).tolist()
    (0, [[], []])
    """

    rules: tuple[Rule, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))

    def __len__(self) -> int:
        return len(self.rules)

    @overload
    def __getitem__(self, i: int) -> Rule: ...

    @overload
    def __getitem__(self, i: slice) -> RuleSet: ...

    def __getitem__(self, i: int | slice) -> Rule | RuleSet:
        if isinstance(i, slice):
            return RuleSet(self.rules[i])
        return self.rules[i]

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def for_target(self, target: str) -> RuleSet:
        return RuleSet(tuple(r for r in self.rules if r.target == target))

    def fired(self, frame: pd.DataFrame) -> pd.Series:
        """Per row of ``frame``, the list of ids of the rules that fire."""
        ids: list[list[str]] = [[] for _ in range(len(frame))]
        for rule in self.rules:
            for i in np.flatnonzero(rule.mask(frame)):
                ids[i].append(rule.id)
        return pd.Series(ids, index=frame.index, name="rules", dtype=object)

    def to_frame(self) -> pd.DataFrame:
        """One row per rule with its text and evidence — handy in a notebook."""
        rows = []
        for r in self.rules:
            row: dict[str, Any] = {"id": r.id, "target": r.target, "rule": r.text, "waste": r.waste}
            row.update({k: getattr(r, k) for k in EVIDENCE_FIELDS if k != "ci"})
            row["ci_low"], row["ci_high"] = r.ci
            row["holdout_confidence"], row["holdout_n"] = r.holdout_confidence, r.holdout_n
            rows.append(row)
        return pd.DataFrame(rows, columns=["id", "target", "rule", "waste", *[k for k in EVIDENCE_FIELDS if k != "ci"],
                                           "ci_low", "ci_high", "holdout_confidence", "holdout_n"])

    def to_json(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.rules]

    @classmethod
    def from_json(cls, docs: Any) -> RuleSet:
        if not isinstance(docs, list):
            raise PackError("'rules' must be a list")
        return cls(tuple(Rule.from_json(d) for d in docs))
