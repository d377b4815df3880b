"""Revision: when rules drift, re-mine the recent events into a candidate pack, and say what changed.

- :func:`revise_pack` re-mines a table of recent events with the pack's own settings (its derived features, miner
  parameters, feature columns, waste tags and numeric-outcome directions, via :func:`~leanlearn.packs.build.mine_pack`)
  for the targets of the drifted rules (or all), and returns a :class:`Revision`: the candidate pack — its
  ``parent`` is the old pack's content hash, rules of targets not re-mined are carried over unchanged — and a
  :func:`diff_packs` table.
- :func:`diff_packs` matches the rules of two packs by target and *shape* (the same features compared the same way)
  and labels each pair ``kept`` (same thresholds), ``threshold changed``, ``dropped`` (old only) or ``new``.
- :class:`RecentRows` keeps the last events (raw rows) for re-mining; :class:`Reviser` is what the monitor loop
  uses: it watches the alerts, and some events after a rule drifts re-mines the rows since the rule's warning began,
  writes ``<name>-<event>.json`` (the candidate) and ``<name>-<event>.diff.csv`` to a folder, and registers the
  candidate in MLflow with alias ``candidate`` if asked (:func:`leanlearn.packs.registry.register_pack`, imported
  only then).
- :class:`OnlineRuleLearner` runs beside the monitor: a River Hoeffding adaptive tree (binary outcomes) or AMRules
  (numeric outcomes) learning from every event; :meth:`OnlineRuleLearner.candidate_rules` turns its paths into
  :class:`~leanlearn.mining.rules.Rule` objects with evidence computed on a table of recent events. Their p-values
  are *not* adjusted for the search (the tree's splits were chosen on the same stream): they are suggestions for
  review, not mined claims.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from leanlearn.packs.build import mine_pack
>>> rng = np.random.default_rng(0)
>>> def line(n, limit):  # scrap when the temperature is above a limit
...     temp = rng.normal(60, 5, n)
...     return pd.DataFrame({"temp": temp, "speed": rng.normal(100, 10, n), "scrap": (temp > limit).astype(int)})
>>> old = mine_pack(line(5000, 68.0), ["scrap"], line="L1")
>>> [r.text for r in old.rules][:1]
['temp >= 68 → scrap']
>>> revision = revise_pack(old, line(5000, 65.0), drifted=[old.rules[0].id])
>>> revision.candidate.parent == old.content_hash
True
>>> revision.diff[["change", "old_rule", "new_rule"]].head(1).values.tolist()
[['threshold changed', 'temp >= 68 → scrap', 'temp >= 65 → scrap']]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leanlearn.errors import DataError, PackError
from leanlearn.mining.rules import Condition, Rule, RuleSet, Shift
from leanlearn.mining.settings import MiningSettingError, MiningSettings
from leanlearn.online.alerts import Alert
from leanlearn.online.base import OnlineBase
from leanlearn.packs.pack import RulePack, _now, fingerprint

DIFF_COLUMNS = ["change", "target", "old_id", "new_id", "old_rule", "new_rule", "old_confidence", "new_confidence",
                "old_n", "new_n", "remined"]


# -- what changed ---------------------------------------------------------------------------------------------------
def _shape(rule: Rule) -> tuple[Any, ...]:
    """What a rule compares, without the thresholds: target, outcome test, and (feature, direction) per condition."""
    def direction(op: str) -> str:
        return {"<": "<", "<=": "<", ">": ">", ">=": ">"}.get(op, op)

    conds = tuple(sorted((c.feature, direction(c.op)) + ((c.value,) if c.op in ("==", "!=", "in") else ())
                         for c in rule.conditions))
    return rule.target, rule.outcome.feature, direction(rule.outcome.op), conds


def _distance(a: Rule, b: Rule) -> float:
    """How far apart the thresholds of two rules of the same shape are (relative, summed)."""
    total = 0.0
    for x, y in zip(sorted(a.conditions, key=lambda c: (c.feature, c.op)),
                    sorted(b.conditions, key=lambda c: (c.feature, c.op))):
        for u, v in zip(np.ravel([x.value]), np.ravel([y.value])):
            if isinstance(u, (int, float)) and isinstance(v, (int, float)):
                total += abs(float(u) - float(v)) / max(abs(float(u)), abs(float(v)), 1e-12)
            elif u != v:
                total += 1.0
    return total


def _same(a: Rule, b: Rule) -> bool:
    return set(a.conditions) == set(b.conditions) and a.outcome == b.outcome


def diff_packs(old: RulePack, new: RulePack, remined: Iterable[str] | None = None) -> pd.DataFrame:
    """Rule by rule: what ``new`` keeps, changes, drops and adds relative to ``old``.

    Parameters
    ----------
    old, new : RulePack
    remined : list of str, optional
        Targets that were re-mined (default: all); the ``remined`` column says whether a row's target was.

    Returns
    -------
    DataFrame
        Columns ``change`` (``kept``, ``threshold changed``, ``dropped``, ``new``), ``target``, ``old_id``,
        ``new_id``, ``old_rule``, ``new_rule``, ``old_confidence``, ``new_confidence``, ``old_n``, ``new_n``,
        ``remined``; old rules first in their order, then the new ones.
    """
    remined_set = None if remined is None else set(remined)
    pending = list(new.rules)
    rows = []

    def row(change: str, a: Rule | None, b: Rule | None) -> dict[str, Any]:
        target = (a or b).target  # type: ignore[union-attr]
        return {"change": change, "target": target, "old_id": a.id if a else None, "new_id": b.id if b else None,
                "old_rule": a.text if a else None, "new_rule": b.text if b else None,
                "old_confidence": a.confidence if a else None, "new_confidence": b.confidence if b else None,
                "old_n": a.n if a else None, "new_n": b.n if b else None,
                "remined": remined_set is None or target in remined_set}

    matched: list[tuple[Rule, Rule | None]] = []
    for a in old.rules:  # exact matches first, so a kept rule is never paired with a look-alike
        exact = next((b for b in pending if _same(a, b)), None)
        if exact is not None:
            pending.remove(exact)
        matched.append((a, exact))
    for k, (a, b) in enumerate(matched):
        if b is None:
            same_shape = [c for c in pending if _shape(c) == _shape(a)]
            if same_shape:
                b = min(same_shape, key=lambda c: _distance(a, c))
                pending.remove(b)
                matched[k] = (a, b)
    for a, b in matched:
        if b is None:
            rows.append(row("dropped", a, None))
        else:
            rows.append(row("kept" if _same(a, b) else "threshold changed", a, b))
    rows.extend(row("new", None, b) for b in pending)
    frame = pd.DataFrame(rows, columns=DIFF_COLUMNS)
    for column in ("old_id", "new_id", "old_rule", "new_rule"):  # None, not NaN, where a side is missing
        frame[column] = pd.Series([r[column] for r in rows], dtype=object, index=frame.index)
    return frame


@dataclass(frozen=True)
class Revision:
    """A candidate pack proposed after drift, with the diff against the pack it revises.

    Attributes
    ----------
    candidate : RulePack
        ``parent`` = the old pack's content hash.
    diff : DataFrame
        See :func:`diff_packs`.
    drifted : tuple of str
        Ids of the rules whose drift led to the revision.
    targets : tuple of str
        The targets re-mined.
    rows : int
        Events re-mined.
    events : (int, int) or None
        First and last event (stream index) of the re-mined rows, when known.
    """

    candidate: RulePack
    diff: pd.DataFrame
    drifted: tuple[str, ...]
    targets: tuple[str, ...]
    rows: int
    events: tuple[int, int] | None = None

    def describe(self) -> str:
        """The revision in plain words, one line per changed rule."""
        where = f" (events {self.events[0]:,}–{self.events[1]:,})" if self.events else ""
        lines = [f"candidate {self.candidate.name!r}: re-mined {', '.join(self.targets)} on {self.rows:,} recent "
                 f"events{where} after drift of {', '.join(self.drifted) or 'no rule'}"]
        for r in self.diff.itertuples(index=False):
            if r.change == "kept" and not r.remined:
                continue
            if r.change == "threshold changed":
                lines.append(f"  threshold changed: {r.old_rule}  ⇒  {r.new_rule} "
                             f"(confidence {r.old_confidence:.0%} → {r.new_confidence:.0%})")
            elif r.change == "dropped":
                lines.append(f"  dropped: {r.old_rule} (no longer supported by the recent events)")
            elif r.change == "new":
                lines.append(f"  new: {r.new_rule} (confidence {r.new_confidence:.0%} on {r.new_n:,.0f} rows)")
            else:
                lines.append(f"  kept: {r.old_rule}")
        return "\n".join(lines)


def _mining_settings(pack: RulePack) -> MiningSettings:
    """The settings ``pack`` was mined with (settings it predates take their default; no automatic features
    unless the pack says so)."""
    try:
        settings = MiningSettings.from_json(pack.mining, record=True)
    except MiningSettingError as exc:
        raise PackError(f"pack {pack.name!r}: its mining record is invalid: {exc}") from None
    return settings.replace(auto_features=bool(pack.mining.get("auto_features", False)))


def revise_pack(
    pack: RulePack,
    frame: pd.DataFrame,
    *,
    drifted: Sequence[str] = (),
    targets: Sequence[str] | None = None,
    events: tuple[int, int] | None = None,
    **overrides: Any,
) -> Revision:
    """Re-mine ``frame`` (recent raw events) with ``pack``'s settings into a candidate pack.

    Parameters
    ----------
    pack : RulePack
        The pack to revise.
    frame : DataFrame
        Recent events: the pack's raw feature columns and its targets.
    drifted : list of str
        Ids of the rules that drifted (recorded; their targets are re-mined when ``targets`` is not given).
    targets : list of str, optional
        Targets to re-mine; default: those of ``drifted``, or all when ``drifted`` is empty.
    events : (int, int), optional
        Stream indices of the first and last row, recorded in the candidate's description.
    **overrides
        Miner parameters replacing the pack's (e.g. ``min_support``).
    """
    from leanlearn.packs.build import mine_pack

    by_id = {r.id: r for r in pack.rules}
    unknown = [i for i in drifted if i not in by_id]
    if unknown:
        raise DataError(f"rule(s) {', '.join(unknown)} are not in pack {pack.name!r}")
    if targets is None:
        targets = sorted({by_id[i].target for i in drifted}, key=[t.name for t in pack.targets].index) if drifted \
            else [t.name for t in pack.targets]
    kinds = {t.name: t for t in pack.targets}
    missing = [t for t in targets if t not in kinds]
    if missing:
        raise DataError(f"target(s) {', '.join(missing)} are not targets of pack {pack.name!r}")
    derived_names = {n for n, _ in pack.derived}
    raw = [f.name for f in pack.features if not f.derived and f.name not in derived_names and f.name in frame.columns]
    if not raw:
        raise DataError(f"the recent events carry none of pack {pack.name!r}'s feature columns")
    absent = [t for t in targets if t not in frame.columns]
    if absent:
        raise DataError(f"the recent events lack the target column(s) {', '.join(absent)}")
    table = frame[[*raw, *targets]].reset_index(drop=True)
    span = f"events {events[0]:,}–{events[1]:,}" if events else f"{len(table):,} recent events"
    mined = mine_pack(
        table, list(targets), derive=dict(pack.derived),
        line=pack.line, name=pack.name, waste={t: kinds[t].waste for t in targets},
        units={f.name: f.unit for f in pack.features if f.unit}, source=f"monitor: {span}",
        settings=_mining_settings(pack),
        worse={t: str(kinds[t].positive) for t in targets if kinds[t].kind == "numeric"},
        description=f"revision of {pack.name} ({pack.content_hash[:19]}…) after drift of "
                    f"{', '.join(drifted) or 'no rule'}, re-mined on {span}",
        **overrides,
    )
    keep = [r for r in pack.rules if r.target not in targets]
    new_rules = [r for t in pack.targets for r in ([*mined.rules.for_target(t.name)] if t.name in targets else
                                                   [x for x in keep if x.target == t.name])]
    derived = tuple(pack.derived) + tuple((n, e) for n, e in mined.derived if n not in derived_names)
    mining = dict(pack.mining)
    for key in ("n_tests", "seconds"):
        mining[key] = {**(pack.mining.get(key) or {}), **(mined.mining.get(key) or {})}
    mining["source"] = mined.mining.get("source")
    candidate = replace(pack, rules=RuleSet(tuple(new_rules)), derived=derived, parent=pack.content_hash,
                        created=_now(), data=fingerprint(table), mining=mining, description=mined.description,
                        discretization={**pack.discretization, **mined.discretization})
    return Revision(candidate, diff_packs(pack, candidate, remined=targets), tuple(drifted), tuple(targets),
                    len(table), events)


# -- the recent events ----------------------------------------------------------------------------------------------
class RecentRows:
    """The last ``capacity`` events (raw rows), for re-mining.

    >>> recent = RecentRows(3)
    >>> recent.extend(pd.DataFrame({"x": [1, 2]}), first_event=0)
    >>> recent.extend(pd.DataFrame({"x": [3, 4]}), first_event=2)
    >>> recent.since(0)["x"].tolist(), recent.first_event
    ([2, 3, 4], 1)
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = max(int(capacity), 1)
        self._chunks: list[tuple[int, pd.DataFrame]] = []
        self._rows = 0

    def __len__(self) -> int:
        return self._rows

    @property
    def first_event(self) -> int | None:
        return self._chunks[0][0] if self._chunks else None

    def extend(self, frame: pd.DataFrame, first_event: int) -> None:
        if not len(frame):
            return
        self._chunks.append((first_event, frame))
        self._rows += len(frame)
        while self._rows - len(self._chunks[0][1]) >= self.capacity:
            self._rows -= len(self._chunks.pop(0)[1])
        excess = self._rows - self.capacity
        if excess > 0:
            start, chunk = self._chunks[0]
            self._chunks[0] = (start + excess, chunk.iloc[excess:])
            self._rows -= excess

    def since(self, event: int) -> pd.DataFrame:
        """The kept rows from stream index ``event`` on (all kept rows if ``event`` is older)."""
        parts = []
        for start, chunk in self._chunks:
            end = start + len(chunk)
            if end <= event:
                continue
            parts.append(chunk.iloc[max(event - start, 0):])
        if not parts:
            return pd.DataFrame()
        return pd.concat(parts, ignore_index=True)


class Reviser:
    """Propose a revised pack some events after a rule drifts (used by the monitor loop).

    Parameters
    ----------
    pack : RulePack
        The monitored pack.
    folder : str or Path, optional
        Where candidates (``<name>-<event>.json``) and diffs (``<name>-<event>.diff.csv``) are written.
    buffer : int, default=50_000
        Recent events kept for re-mining.
    after : int, default=5_000
        Events to wait after a drift alert before re-mining (so the new behaviour is in the rows).
    min_rows : int, default=2_000
        Fewest rows to re-mine: when the rows since the warning began are fewer, the last ``min_rows`` are used.
    register : bool
        Register each candidate in MLflow with alias ``candidate``.
    """

    def __init__(self, pack: RulePack, folder: str | Path | None = None, *, buffer: int = 50_000,
                 after: int = 5_000, min_rows: int = 2_000, register: bool = False,
                 tracking_uri: str | None = None) -> None:
        self.pack = pack
        self.folder = None if folder is None else Path(folder)
        self.recent = RecentRows(buffer)
        self.after = int(after)
        self.min_rows = int(min_rows)
        self.register = register
        self.tracking_uri = tracking_uri
        self._warned_at: dict[str, int] = {}
        self._pending: dict[str, tuple[int, int]] = {}  # rule id → (since event, due event)
        self.revisions: list[Revision] = []
        self.written: list[Path] = []
        self.registered: list[Any] = []

    def observe(self, frame: pd.DataFrame, first_event: int, alerts: Sequence[Alert]) -> None:
        """Keep the batch's rows and note the drift alerts it raised."""
        self.recent.extend(frame, first_event)
        for alert in alerts:
            if alert.state == "warning":
                self._warned_at[alert.rule] = alert.event
            elif alert.state == "drift":
                since = self._warned_at.get(alert.rule, alert.event)
                self._pending.setdefault(alert.rule, (since, alert.event + self.after))
            elif alert.state == "ok":
                self._warned_at.pop(alert.rule, None)
                self._pending.pop(alert.rule, None)

    def due(self, n_events: int, final: bool = False) -> list[Revision]:
        """Re-mine for every drift whose wait is over (or all pending ones when ``final``)."""
        ready = [rid for rid, (_, at) in self._pending.items() if final or n_events >= at]
        if not ready:
            return []
        since = min(self._pending[rid][0] for rid in ready)
        for rid in ready:
            self._pending.pop(rid)
        frame = self.recent.since(since)
        if len(frame) < self.min_rows:
            frame = self.recent.since(n_events - self.min_rows)
        if not len(frame):
            return []
        first = n_events - len(frame)
        revision = revise_pack(self.pack, frame, drifted=ready, events=(first, n_events - 1))
        self.revisions.append(revision)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            stem = f"{revision.candidate.name}-{n_events}"
            self.written.append(revision.candidate.save(self.folder / f"{stem}.json"))
            path = self.folder / f"{stem}.diff.csv"
            revision.diff.to_csv(path, index=False)
            self.written.append(path)
        if self.register:
            from leanlearn.packs.registry import register_pack

            self.registered.extend(register_pack(revision.candidate, tracking_uri=self.tracking_uri,
                                                 alias="candidate"))
        return [revision]


# -- an online rule learner beside the monitor ---------------------------------------------------------------------
def _round(x: float) -> float:
    """A split point as a person would write it (River's are means of bins: 8.799999999999976 → 8.8)."""
    return float(f"{float(x):.6g}")


def _paths_hat(node: Any, conditions: tuple[Condition, ...] = ()) -> Iterable[tuple[tuple[Condition, ...], Any]]:
    """(conditions, leaf) for every leaf of a River tree (numeric binary and nominal splits)."""
    from river.tree.nodes import branch

    children = getattr(node, "children", None)
    if not children:
        yield conditions, node
        return
    feature = node.feature
    if isinstance(node, branch.NumericBinaryBranch):
        threshold = _round(node.threshold)
        tests = [Condition(feature, "<=", threshold), Condition(feature, ">", threshold)]
    elif isinstance(node, branch.NominalBinaryBranch):
        tests = [Condition(feature, "==", node.value), Condition(feature, "!=", node.value)]
    elif isinstance(node, (branch.NumericMultiwayBranch, branch.NominalMultiwayBranch)):
        values = {v: k for k, v in node._mapping.items()} if hasattr(node, "_mapping") else {}
        tests = [Condition(feature, "==", values.get(i, i)) for i in range(len(children))]
    else:  # pragma: no cover - an unknown branch kind: stop the path here
        yield conditions, node
        return
    for test, child in zip(tests, children):
        if child is not None:
            yield from _paths_hat(child, (*conditions, test))


def _simplify(conditions: Sequence[Condition]) -> tuple[Condition, ...]:
    """Keep the tightest bound per feature and direction (a path may split on one feature several times)."""
    out: dict[tuple[str, str], Condition] = {}
    for c in conditions:
        key = (c.feature, c.op)
        old = out.get(key)
        if old is None:
            out[key] = c
        elif c.op in ("<", "<="):
            out[key] = c if c.value < old.value else old
        elif c.op in (">", ">="):
            out[key] = c if c.value > old.value else old
        else:
            out[(c.feature, f"{c.op}{c.value}")] = c
    return tuple(out.values())


class OnlineRuleLearner(OnlineBase):
    """An online rule learner beside the monitor: its paths become candidate rules.

    Parameters
    ----------
    target : str
        The outcome column.
    kind : {"binary", "numeric"}
        Binary outcomes: River's ``HoeffdingAdaptiveTreeClassifier`` (its leaves where the outcome dominates become
        rules); numeric outcomes: River's ``AMRules`` (each rule's literals become a rule; a one-literal rule is also
        offered negated, since the region it leaves out stays with AMRules' default rule).
    features : list of str, optional
        Columns to learn from (default: every column but the target).
    positive : object
        The outcome value that is waste (binary).
    worse : {"higher", "lower"}
        Direction of waste (numeric).
    model_params : dict, optional
        Passed to the River model (e.g. ``grace_period``, ``delta``, ``seed`` / ``n_min``). Defaults differ from
        River's where waste is rare: the tree splits after ``grace_period=200`` events at ``delta=1e-3`` (River:
        1e-7, which on a 0.3 % failure rate splits only after far more events than a line sees in a shift); AMRules
        expands after ``n_min=200``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"temp": rng.normal(60, 5, 6000), "speed": rng.normal(100, 10, 6000)})
    >>> X["scrap"] = (X.temp > 66).astype(int)
    >>> learner = OnlineRuleLearner("scrap", model_params={"seed": 0}).learn_many(X)
    >>> learner
    OnlineRuleLearner(target='scrap', kind='binary', positive=1, worse='higher', model_params={'seed': 0})
    >>> [r.text for r in learner.candidate_rules(X, min_confidence=0.9)]
    ['temp > 66... → scrap']
    """

    def __init__(self, target: str, kind: str = "binary", *, features: Sequence[str] | None = None,
                 positive: Any = 1, worse: str = "higher", model_params: Mapping[str, Any] | None = None) -> None:
        self.target = target
        self.kind = kind
        self.features = None if features is None else list(features)
        self.positive = positive
        self.worse = worse
        self.model_params = None if model_params is None else dict(model_params)
        params = self.model_params or {}
        if kind not in ("binary", "numeric"):
            raise DataError(f"kind must be 'binary' or 'numeric', got {kind!r}")
        self.model: Any
        try:
            if kind == "binary":
                from river import tree

                self.model = tree.HoeffdingAdaptiveTreeClassifier(**{"grace_period": 200, "delta": 1e-3, **params})
            else:
                from river import rules

                self.model = rules.AMRules(**{"n_min": 200, **params})
        except TypeError as exc:
            raise DataError(f"model_params {params!r} do not fit River's model ({exc})") from None
        self.n_seen = 0

    def _x(self, row: Mapping[str, Any]) -> dict[str, Any]:
        names = self.features if self.features is not None else [k for k in row if k != self.target]
        out = {}
        for k in names:
            v = row.get(k)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            out[k] = v
        return out

    def learn_one(self, row: Mapping[str, Any]) -> OnlineRuleLearner:
        """Learn one event (features and outcome in one mapping); events without an outcome are skipped."""
        y = row.get(self.target)
        if y is None or (isinstance(y, float) and math.isnan(y)):
            return self
        y = (y == self.positive) if self.kind == "binary" else float(y)
        self.model.learn_one(self._x(row), y)
        self.n_seen += 1
        return self

    def learn_many(self, frame: pd.DataFrame) -> OnlineRuleLearner:
        """Learn a micro-batch, row by row (River's trees learn one event at a time)."""
        for row in frame.to_dict("records"):
            self.learn_one({str(k): v for k, v in row.items()})
        return self

    def paths(self) -> list[tuple[Condition, ...]]:
        """The learner's current paths / rules as condition lists."""
        if self.kind == "binary":
            root = getattr(self.model, "_root", None)
            if root is None:
                return []
            return [_simplify(conds) for conds, leaf in _paths_hat(root) if conds]
        out = []
        for rule in getattr(self.model, "_rules", {}).values():
            conds = [Condition(lit.on, ">" if lit.neg else "<=", _round(lit.at)) for lit in rule.literals]
            if conds:
                out.append(_simplify(conds))
            if len(conds) == 1:  # what the rule leaves out stays with AMRules' default rule: offer it too
                c = conds[0]
                out.append((Condition(c.feature, "<=" if c.op == ">" else ">", c.value),))
        return out

    def candidate_rules(self, frame: pd.DataFrame, *, min_n: int = 20, min_confidence: float = 0.0,
                        min_lift: float = 1.5, waste: str = "defects") -> RuleSet:
        """The paths as rules, with evidence computed on ``frame`` (recent events), best first.

        Binary outcomes: ``if`` path ``then`` target; numeric outcomes: ``then`` worse than ``frame``'s median,
        with a :class:`~leanlearn.mining.rules.Shift`. ``p_value`` = ``p_value_raw``: unadjusted.
        """
        from scipy import stats as sps

        from leanlearn.mining.stats import fisher_greater, wilson_interval

        y = frame[self.target]
        if self.kind == "binary":
            outcome = Condition(self.target, "==", self.positive)
            hit_all = outcome.mask_values(y)
            values = None
            median = None
        else:
            values = y.to_numpy(dtype=float)
            median = float(np.nanmedian(values))
            outcome = Condition(self.target, ">" if self.worse == "higher" else "<", median)
            hit_all = outcome.mask_values(y)
        rows, positives = len(frame), int(hit_all.sum())
        base = positives / rows if rows else 0.0
        found: list[Rule] = []
        seen: set[frozenset[Condition]] = set()
        for conds in self.paths():
            key = frozenset(conds)
            if key in seen:
                continue
            seen.add(key)
            try:
                mask = np.ones(rows, dtype=bool)
                for c in conds:
                    mask &= c.mask(frame)
            except Exception:  # a feature the frame lacks: not a usable candidate here
                continue
            n, hits = int(mask.sum()), int((mask & hit_all).sum())
            if n < min_n or not base:
                continue
            conf = hits / n
            if conf < min_confidence or conf / base < min_lift:
                continue
            p = float(fisher_greater(np.array([hits]), np.array([n]), positives, rows)[0])
            lo, hi = wilson_interval(np.array([hits]), np.array([n]))
            shift = None
            if values is not None and median is not None:
                inside, outside = values[mask], values[~mask]
                if len(outside):
                    u = sps.mannwhitneyu(inside, outside, alternative="greater" if self.worse == "higher" else "less")
                    delta = 2.0 * float(u.statistic) / (len(inside) * len(outside)) - 1.0
                else:
                    delta = 0.0
                overall = values
                shift = Shift(float(inside.mean()), float(np.median(inside)), float(overall.mean()),
                              float(np.median(overall)), delta, "lower" if self.worse == "lower" else "higher")
            found.append(Rule(
                conditions=conds, outcome=outcome, support=hits / rows, coverage=n / rows, confidence=conf,
                lift=conf / base, leverage=hits / rows - (n / rows) * base,
                conviction=None if conf >= 1 else (1 - base) / (1 - conf), n=n, hits=hits, p_value=p,
                p_value_raw=p, ci=(float(lo[0]), float(hi[0])), base_rate=base, waste=waste, shift=shift,
            ))
        found.sort(key=lambda r: (-r.lift, -r.n))
        return RuleSet(tuple(replace(r, id=f"{self.target}-online-{k + 1:03d}") for k, r in enumerate(found)))
