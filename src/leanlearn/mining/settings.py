"""Mining settings: one frozen, validated value object for the miner's hyper-parameters.

:class:`MiningSettings` is what the CLI (``leanlearn mine``), pipelines (the ``mining:`` key), the revision of a
pack after drift and :class:`~leanlearn.mining.miner.RuleMiner` itself all use. It is validated once, when it is
built, with one clear error per bad value (:class:`MiningSettingError`, naming the setting, the value and what is
allowed), and it is serialised into a pack's ``mining`` record, from which :meth:`MiningSettings.from_json` reads it
back (packs written before a setting existed get its default).

Examples
--------
>>> s = MiningSettings(max_conditions=2)
>>> s.max_conditions, s.alpha
(2, 0.05)
>>> MiningSettings.from_json(s.to_json()) == s
True
>>> MiningSettings(alpha=2)
Traceback (most recent call last):
...
leanlearn.mining.settings.MiningSettingError: mining setting 'alpha' must be a number in (0, 1], got 2
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from leanlearn.errors import LeanlearnError

CORRECTIONS: tuple[str, ...] = ("holm", "bh", "holdout", "none")
ENGINE_NAMES: tuple[str, ...] = ("auto", "bitset", "mlxtend", "spark")
# Keys of a pack's ``mining`` record that describe a run, not a setting.
RECORD_KEYS: tuple[str, ...] = ("n_tests", "seconds", "ignored", "source", "screened")
MAX_CONDITIONS_LIMIT = 8


class MiningSettingError(LeanlearnError, ValueError):
    """A mining setting has the wrong type or is out of range.

    Attributes
    ----------
    setting : str
        Name of the setting (``"alpha"``).
    value : object
        The value given.
    allowed : str
        What the setting accepts, in words (``"a number in (0, 1]"``); for an unknown setting, the known ones.
    unknown : bool
        The setting does not exist.
    """

    def __init__(self, setting: str, value: Any, allowed: str, *, unknown: bool = False) -> None:
        self.setting, self.value, self.allowed, self.unknown = setting, value, allowed, unknown
        if unknown:
            super().__init__(f"unknown mining setting {setting!r}; {allowed}")
        else:
            super().__init__(f"mining setting {setting!r} must be {allowed}, got {value!r}")


def _number(name: str, value: Any, allowed: str, ok: Callable[[float], bool]) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise MiningSettingError(name, value, allowed)
    if not ok(float(value)):
        raise MiningSettingError(name, value, allowed)
    return float(value)


def _whole(name: str, value: Any, allowed: str, ok: Callable[[int], bool]) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise MiningSettingError(name, value, allowed)
    if not ok(int(value)):
        raise MiningSettingError(name, value, allowed)
    return int(value)


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise MiningSettingError(name, value, f"one of {', '.join(choices)}")
    return value


def _flag(name: str, value: Any, optional: bool = False) -> bool | None:
    if value is None and optional:
        return None
    if not isinstance(value, (bool, np.bool_)):
        raise MiningSettingError(name, value, "true or false" + (" (or empty: automatic)" if optional else ""))
    return bool(value)


@dataclass(frozen=True, slots=True)
class MiningSettings:
    """Hyper-parameters of a rule search, validated once.

    Parameters
    ----------
    min_support : float, default=0.0005
        Smallest share of all rows a rule's hits must make up, in [0, 1].
    min_hits : int, default=5
        Smallest number of hits of a rule, at least 1.
    min_confidence : float, default=0.0
        Smallest confidence of a rule, in [0, 1].
    min_lift : float, default=1.5
        Smallest lift of a rule, at least 0.
    max_conditions : int, default=4
        Most conditions in a rule, 1 to 8; an interval ``a <= x < b`` counts as one condition.
    alpha : float, default=0.05
        Significance level, in (0, 1].
    correction : {"holm", "bh", "holdout", "none"}, default="holm"
        Multiple-testing adjustment.
    engine : {"auto", "bitset", "mlxtend"}, default="auto"
        Itemset engine.
    max_rules : int, default=10
        Most rules reported per target, at least 1.
    refine : bool, default=True
        Refine each numeric threshold given a rule's other conditions.
    max_refine : int, default=150
        How many of the most significant candidates are refined, at least 1.
    holdout_share : float, default=0.3
        Share of rows held out when ``correction="holdout"``, in (0, 1).
    random_state : int, default=0
        Seed of the holdout split, at least 0.
    max_levels : int, default=50
        Categorical columns with more distinct values are skipped; at least 1.
    auto_features : bool or None, default=None
        Screen products, ratios and differences of numeric column pairs; ``None``: on when no feature is declared.
    max_candidates : int, default=1_000_000
        Guard on memory: most candidate itemsets one search may enumerate. Beyond it the miner keeps the columns
        with the strongest single-condition evidence (every candidate set aside still counts in the correction).
        At least 1,000.
    max_auto_columns : int, default=25
        Most numeric columns paired by the automatic feature search: the ones with the strongest single-cut
        evidence. At least 2.
    layered : bool, default=True
        Spend α by rule length (Webb's layered critical values, :mod:`leanlearn.mining.layers`): the rules of
        ``L`` conditions share ``α_L`` (halving from one length to the next: 8/15, 4/15, 2/15, 1/15 of ``α`` for
        4 layers), corrected against the hypotheses of their own length only, so a one-condition finding is not
        judged against every 3-condition combination. ``False``: one correction over every hypothesis (the form
        before layers).
    duplicate_overlap : float, default=0.9
        Two significant rules whose covered rows overlap by at least this Jaccard share (rows both cover / rows
        either covers) are near-duplicates: only the more significant one (at equal evidence the simpler one) is
        reported. In (0, 1]; 1 merges only rules that cover exactly the same rows.
    cover_precision : float, default=0.5
        Covering selection (:mod:`leanlearn.mining.selection`): a rule is a finding only if the rows it adds
        beyond the findings kept before it reach at least this share of its own confidence (besides being
        significantly many); a broad rule whose confidence comes from rows sharper findings already explain is
        reported as context instead. In [0, 1]; 0 keeps every rule that adds significant hits.
    min_rows : int, optional
        Fewest rows a rule covers; default ``min_hits`` for a binary outcome and 20 for a numeric one (below about
        20 rows a median shift is not stable and, with many ties, the Mann–Whitney normal approximation serves it
        poorly; a binary rule on few rows is still judged exactly, and 16 failures in 16 rows is a finding). The
        correction counts, layer by layer, every condition set that covers this many rows — whether the search
        met it or not: coverage does not depend on the outcome, so the chance of reporting any false rule stays
        at most ``alpha`` (a count of the sets the search met would follow the outcome's hits, and admit more).
        Exact while the sets are few enough to count over the rows, else an upper bound (every combination of
        the conditions that cover ``min_rows`` rows alone). No rule on fewer rows is tested or reported. A larger
        value spends fewer hypotheses on rules too small to act on, so the well-supported findings keep more
        power. At least 1.
    """

    min_support: float = 0.0005
    min_hits: int = 5
    min_confidence: float = 0.0
    min_lift: float = 1.5
    max_conditions: int = 4
    alpha: float = 0.05
    correction: str = "holm"
    engine: str = "auto"
    max_rules: int = 10
    refine: bool = True
    max_refine: int = 150
    holdout_share: float = 0.3
    random_state: int = 0
    max_levels: int = 50
    auto_features: bool | None = None
    max_candidates: int = 1_000_000
    max_auto_columns: int = 25
    layered: bool = True
    duplicate_overlap: float = 0.9
    cover_precision: float = 0.5
    min_rows: int | None = None

    def __post_init__(self) -> None:
        unit = "a number in [0, 1]"
        checked: dict[str, Any] = {
            "min_support": _number("min_support", self.min_support, unit, lambda v: 0 <= v <= 1),
            "min_hits": _whole("min_hits", self.min_hits, "a whole number of at least 1", lambda v: v >= 1),
            "min_confidence": _number("min_confidence", self.min_confidence, unit, lambda v: 0 <= v <= 1),
            "min_lift": _number("min_lift", self.min_lift, "a number of at least 0", lambda v: v >= 0),
            "max_conditions": _whole(
                "max_conditions", self.max_conditions, f"a whole number from 1 to {MAX_CONDITIONS_LIMIT}",
                lambda v: 1 <= v <= MAX_CONDITIONS_LIMIT,
            ),
            "alpha": _number("alpha", self.alpha, "a number in (0, 1]", lambda v: 0 < v <= 1),
            "correction": _choice("correction", self.correction, CORRECTIONS),
            "engine": _choice("engine", self.engine, ENGINE_NAMES),
            "max_rules": _whole("max_rules", self.max_rules, "a whole number of at least 1", lambda v: v >= 1),
            "refine": _flag("refine", self.refine),
            "max_refine": _whole("max_refine", self.max_refine, "a whole number of at least 1", lambda v: v >= 1),
            "holdout_share": _number("holdout_share", self.holdout_share, "a number in (0, 1)", lambda v: 0 < v < 1),
            "random_state": _whole("random_state", self.random_state, "a whole number of at least 0",
                                   lambda v: v >= 0),
            "max_levels": _whole("max_levels", self.max_levels, "a whole number of at least 1", lambda v: v >= 1),
            "auto_features": _flag("auto_features", self.auto_features, optional=True),
            "max_candidates": _whole("max_candidates", self.max_candidates, "a whole number of at least 1000",
                                     lambda v: v >= 1000),
            "max_auto_columns": _whole("max_auto_columns", self.max_auto_columns, "a whole number of at least 2",
                                       lambda v: v >= 2),
            "layered": _flag("layered", self.layered),
            "duplicate_overlap": _number("duplicate_overlap", self.duplicate_overlap, "a number in (0, 1]",
                                         lambda v: 0 < v <= 1),
            "cover_precision": _number("cover_precision", self.cover_precision, unit, lambda v: 0 <= v <= 1),
            "min_rows": None if self.min_rows is None else _whole(
                "min_rows", self.min_rows, "a whole number of at least 1 (or null: the default)", lambda v: v >= 1),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Names of every setting, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **changes: Any) -> MiningSettings:
        """A copy with ``changes`` applied (validated); an unknown name is a :class:`MiningSettingError`."""
        _check_names(changes)
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON document ``{setting: value}``, as stored in a pack's ``mining`` record."""
        return {name: getattr(self, name) for name in self.names()}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], *, record: bool = False) -> MiningSettings:
        """Settings from ``doc``; absent settings take their default.

        Parameters
        ----------
        doc : mapping
            ``{setting: value}``.
        record : bool, default=False
            ``doc`` is a pack's whole ``mining`` record: keys that are no setting (its run record: ``n_tests``,
            ``seconds``, ``ignored``, ``source``, ``screened``, ...) are skipped.

        Raises
        ------
        MiningSettingError
            For an unknown setting or a bad value.
        """
        if not isinstance(doc, Mapping):
            raise MiningSettingError("mining", doc, "a mapping of setting to value")
        values = {str(k): v for k, v in doc.items() if not (record and k not in cls.names())}
        _check_names(values)
        return cls(**values)


def _check_names(values: Mapping[str, Any]) -> None:
    known = MiningSettings.names()
    for key in values:
        if key not in known:
            import difflib

            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise MiningSettingError(str(key), values[key], f"{hint}known settings: {', '.join(known)}", unknown=True)
