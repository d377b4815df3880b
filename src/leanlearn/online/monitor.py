"""Monitor: track every active rule of a pack on live events; raise alerts when a rule leaves its evidence.

A :class:`Monitor` holds one :class:`~leanlearn.online.trackers.RuleTracker` per active rule (every rule of the
pack not rejected in review) and, per outcome, the window of observed outcomes (for the base rate, lift and the
overall mean of numeric outcomes). Feed it one event at a time with :meth:`Monitor.update_one` (a dict) or
micro-batches with :meth:`Monitor.update_many` (a DataFrame); both return the :class:`~leanlearn.online.alerts.Alert`
objects raised, and both lead to the very same states and alerts however the stream is cut (property-tested).

The batched path evaluates every rule with vectorised masks (each distinct condition once) and hands each tracker
only the rows where its rule fires; River's detectors see only those rows' hits. See
:mod:`leanlearn.online.trackers` for the window statistics, the expected interval and the state machine.

Windows are count-based (``window=1000``: the last 1,000 events) or time-based (``window="10min"`` with
``time_column``: events of the last ten minutes; a timestamp earlier than one already seen counts as the latest
time seen). The whole state is a JSON document (:meth:`Monitor.state_dict`), restored with
:meth:`Monitor.from_state` — see :mod:`leanlearn.online.checkpoint`.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from leanlearn.mining.rules import Condition, Rule, RuleSet
>>> from leanlearn.packs.pack import RulePack, Target
>>> rule = Rule((Condition("torque", ">=", 60.0),), Condition("scrap", "==", 1), support=0.05, coverage=0.1,
...             confidence=0.5, lift=5.0, leverage=0.04, conviction=1.8, n=1000, hits=500, p_value=1e-20,
...             p_value_raw=1e-22, ci=(0.47, 0.53), base_rate=0.1, id="R1")
>>> pack = RulePack(name="press", line="L1", targets=(Target("scrap"),), rules=RuleSet((rule,)))
>>> rng = np.random.default_rng(0)
>>> torque = rng.normal(50, 7, 40_000)
>>> p = np.where(torque >= 60, np.r_[np.full(20_000, 0.5), np.full(20_000, 0.1)], 0.05)  # the rule fails halfway
>>> events = pd.DataFrame({"torque": torque, "scrap": (rng.random(40_000) < p).astype(int)})
>>> monitor = Monitor(pack, window=2000)
>>> alerts = monitor.update_many(events)
>>> [(a.rule, a.previous, a.state) for a in alerts]
[('R1', 'ok', 'warning'), ('R1', 'warning', 'drift')]
>>> alerts[-1].event - 20_000 < 2000  # drift within one window of the change
True
>>> monitor.states
{'R1': 'drift'}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from leanlearn.errors import LeanlearnError
from leanlearn.online.alerts import Alert
from leanlearn.online.buffers import EventBuffer
from leanlearn.online.evaluate import CompiledPack, is_missing
from leanlearn.online.trackers import DRIFT, NO_POSITION, OK, STATES, WARNING, RuleTracker, Transition
from leanlearn.packs.pack import RulePack

MONITOR_SCHEMA = "leanlearn.monitor/1"


class MonitorError(LeanlearnError):
    """A monitor cannot be built or restored as asked."""


def timestamps_ns(values: pd.Series) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch (UTC); unparseable or missing → ``NO_POSITION``.

    Text is read as ISO 8601 (without a zone: UTC), numbers as seconds since the epoch.

    >>> timestamps_ns(pd.Series(["2024-01-01T00:00:01Z", None])).tolist() == [1704067201 * 10**9, NO_POSITION]
    True
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        values = values.astype(object)
    if pd.api.types.is_numeric_dtype(values.dtype):
        seconds = values.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            ns = np.round(seconds * 1e9)
        ok = np.isfinite(ns) & (np.abs(ns) < 2**62)
        return np.where(ok, np.nan_to_num(ns), NO_POSITION).astype(np.int64)
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = pd.to_datetime(values, utc=True)
    else:
        parsed = pd.to_datetime(values.astype(object).where(values.notna(), None), utc=True, errors="coerce",
                                format="ISO8601")
    out = parsed.dt.as_unit("ns").to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return np.where(parsed.isna().to_numpy(), NO_POSITION, out)


def _iso(ns: int) -> str | None:
    if ns == NO_POSITION:
        return None
    return pd.Timestamp(int(ns), unit="ns", tz="UTC").isoformat().replace("+00:00", "Z")


def _span(window: int | str | pd.Timedelta, time_column: str | None) -> tuple[int, bool, str]:
    """(span in positions, time-based?, description)."""
    if isinstance(window, (int, np.integer)) and not isinstance(window, bool):
        if window < 1:
            raise MonitorError(f"window must be at least 1 event, got {window}")
        return int(window), False, f"{int(window):,} events"
    try:
        delta = pd.Timedelta(window)
    except (ValueError, TypeError):
        raise MonitorError(f"window {window!r} is neither a number of events nor a duration like '10min'") from None
    if delta <= pd.Timedelta(0):
        raise MonitorError(f"window {window!r} must be a positive duration")
    if time_column is None:
        raise MonitorError(f"a time window ({window!r}) needs time_column: the column holding each event's time")
    return int(delta.value), True, str(window)


class Monitor:
    """Track a rule pack's active rules over a sliding window of live events.

    Parameters
    ----------
    pack : RulePack
        The pack; rules rejected in review are not tracked.
    window : int or str, default=1000
        Events per window, or a duration (``"10min"``, ``"2h"``) for a time-based window (needs ``time_column``).
    time_column : str, optional
        Column with each event's time (ISO 8601 text, datetimes, or seconds since the epoch); alerts then carry
        the time, and a duration ``window`` becomes possible.
    alpha, min_fired, drift_after, ok_after, alpha_ok, adwin_delta, adwin_clock, ph_threshold, ph_delta
        Passed to every :class:`~leanlearn.online.trackers.RuleTracker` (see there).

    Attributes
    ----------
    trackers : list of RuleTracker
        One per active rule, in the pack's order.
    n_events : int
        Events consumed so far (the stream offset a checkpoint records).
    n_alerts : dict
        Alerts raised so far, by the state entered.
    """

    def __init__(
        self,
        pack: RulePack,
        window: int | str = 1000,
        *,
        time_column: str | None = None,
        alpha: float = 0.01,
        min_fired: int = 10,
        drift_after: int = 5,
        ok_after: int = 10,
        alpha_ok: float = 0.2,
        adwin_delta: float = 0.002,
        adwin_clock: int = 1,
        ph_threshold: float = 25.0,
        ph_delta: float = 0.25,
    ) -> None:
        self.pack = pack
        self.window = window
        self.time_column = time_column
        self.span, self.time_based, self.window_text = _span(window, time_column)
        self.tracker_params = {"alpha": alpha, "min_fired": min_fired, "drift_after": drift_after,
                               "ok_after": ok_after, "alpha_ok": alpha_ok, "adwin_delta": adwin_delta,
                               "adwin_clock": adwin_clock,
                               "ph_threshold": ph_threshold, "ph_delta": ph_delta}
        self.compiled = CompiledPack(pack)
        if not self.compiled.rules:
            raise MonitorError(f"rule pack {pack.name!r} has no active rule to monitor (all are rejected, or none)")
        ids = [r.id for r in self.compiled.rules]
        if len(set(ids)) != len(ids) or "" in ids:
            raise MonitorError(f"rule pack {pack.name!r}: every monitored rule needs a distinct id")
        self.trackers = [RuleTracker(rule, self.span, **self.tracker_params) for rule in self.compiled.rules]
        self._pack_hash = pack.content_hash
        self.reset()

    def reset(self) -> Monitor:
        """Forget every event seen."""
        for tracker in self.trackers:
            tracker.reset()
        self._outcomes = [EventBuffer() for _ in self.compiled.groups]
        self.n_events = 0
        self.n_alerts = {OK: 0, WARNING: 0, DRIFT: 0}
        self._last_position = NO_POSITION
        return self

    # -- reading ----------------------------------------------------------------------------------------------
    @property
    def rules(self) -> tuple[Any, ...]:
        return self.compiled.rules

    @property
    def states(self) -> dict[str, str]:
        """``{rule id: state}``."""
        return {t.rule.id: t.state for t in self.trackers}

    def counts(self) -> dict[str, int]:
        """How many rules are in each state."""
        out = dict.fromkeys(STATES, 0)
        for t in self.trackers:
            out[t.state] += 1
        return out

    def _window_outcomes(self, group: int, event: int, position: int) -> tuple[int, int, float | None]:
        """(events, positives, overall mean) of an outcome in the window ending at ``event``."""
        buf = self._outcomes[group]
        k = int(np.searchsorted(buf.position, position - self.span, side="right"))
        u = int(np.searchsorted(buf.event, event, side="right"))
        n = max(u - k, 0)
        positives = int(buf.hit[k:u].sum(dtype=np.int64)) if n else 0
        mean = math.fsum(buf.value[k:u].tolist()) / n if n and self.compiled.numeric[group] else None
        return n, positives, mean

    def status(self) -> pd.DataFrame:
        """One row per tracked rule: state, window counts, confidence vs the expected interval, lift, alarms."""
        rows = []
        for i, t in enumerate(self.trackers):
            group = self.compiled.group_of[i]
            position = self._last_position
            fired, hits = t.window_counts(position if self.n_events else None)
            events, positives, mean_overall = self._window_outcomes(group, self.n_events - 1, position)
            low, high = t.expected_range(fired) if fired else (0, 0)
            confidence = hits / fired if fired else None
            base_rate = positives / events if events else None
            rows.append({
                "id": t.rule.id, "rule": t.rule.text, "state": t.state, "since": t.since,
                "fired": fired, "hits": hits, "confidence": confidence,
                "expected_low": low / fired if fired else None, "expected_high": high / fired if fired else None,
                "evidence": t.rule.confidence, "coverage": fired / events if events else None,
                "lift": confidence / base_rate if confidence is not None and base_rate else None,
                "mean": t.window_mean(position if self.n_events else None), "mean_overall": mean_overall,
                "n_fired": t.n_fired, "alarms": t.n_detections,
            })
        return pd.DataFrame(rows)

    # -- alerts -----------------------------------------------------------------------------------------------
    def _alert(self, i: int, t: Transition, time_ns: int | None) -> Alert:
        tracker = self.trackers[i]
        rule = tracker.rule
        events, positives, mean_overall = self._window_outcomes(self.compiled.group_of[i], t.event, t.position)
        base_rate = positives / events if events else None
        self.n_alerts[t.state] += 1
        return Alert(
            rule=rule.id, text=rule.text, target=rule.target, previous=t.previous, state=t.state, event=t.event,
            time=None if time_ns is None else _iso(time_ns), window=self.window_text, events=events,
            fired=t.fired, hits=t.hits, confidence=t.confidence, expected=t.expected, evidence=rule.confidence,
            support=t.hits / events if events else 0.0, coverage=t.fired / events if events else 0.0,
            base_rate=base_rate, lift=t.confidence / base_rate if base_rate else None, mean=t.mean,
            mean_overall=mean_overall if t.mean is not None else None, detected_at=t.detected_at,
        )

    # -- one event --------------------------------------------------------------------------------------------
    def _time_ns(self, row: Mapping[str, Any]) -> int:
        value = row.get(self.time_column) if self.time_column else None
        if is_missing(value):
            return NO_POSITION
        return int(timestamps_ns(pd.Series([value]))[0])

    def update_one(self, row: Mapping[str, Any]) -> list[Alert]:
        """Learn one event (column → value); return the alerts it raised."""
        e = self.n_events
        result = self.compiled.evaluate_row(row)
        time_ns = self._time_ns(row) if self.time_column else None
        if self.time_based:
            assert time_ns is not None
            position = max(self._last_position, time_ns)
        else:
            position = e
        for g, buf in enumerate(self._outcomes):
            if result.observed[g]:
                buf.append(e, position, 1 if result.hit[g] else 0, result.value[g])
        alerts: list[Alert] = []
        group_of = self.compiled.group_of
        for i, fired in enumerate(result.fired):
            if not fired:
                continue
            g = group_of[i]
            if not result.observed[g]:
                continue
            tracker = self.trackers[i]
            tracker.update(True, result.hit[g], result.value[g], event=e, position=position)
            if tracker._pending:
                alerts.extend(self._alert(i, t, time_ns) for t in tracker.pop_transitions())
        self.n_events = e + 1
        self._last_position = position
        if e % 1024 == 1023:
            self._trim_outcomes()
        return alerts

    def _trim_outcomes(self) -> None:
        for buf in self._outcomes:
            if len(buf):
                buf.drop_through(self._last_position - self.span)

    # -- many events ------------------------------------------------------------------------------------------
    def _positions(self, frame: pd.DataFrame, events: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if not self.time_column:
            return events, None
        column = frame[self.time_column] if self.time_column in frame.columns else pd.Series(
            [None] * len(frame), index=frame.index, dtype=object)
        times = timestamps_ns(column)
        if not self.time_based:
            return events, times
        positions = np.maximum.accumulate(np.concatenate(([self._last_position], times)))[1:]
        return positions, times

    def update_many(self, frame: pd.DataFrame | Sequence[Mapping[str, Any]]) -> list[Alert]:
        """Learn a micro-batch (a DataFrame, one row per event, in stream order); return the alerts it raised."""
        if not isinstance(frame, pd.DataFrame):
            frame = pd.DataFrame.from_records(list(frame))
        n = len(frame)
        if n == 0:
            return []
        e0 = self.n_events
        events = np.arange(e0, e0 + n, dtype=np.int64)
        positions, times = self._positions(frame, events)
        result = self.compiled.evaluate_frame(frame)
        for g, buf in enumerate(self._outcomes):
            known = result.observed[g]
            if known.all():
                buf.extend(events, positions, result.hit[g], result.value[g])
            else:
                idx = np.flatnonzero(known)
                buf.extend(events[idx], positions[idx], result.hit[g][idx], result.value[g][idx])
        found: list[tuple[int, int, Transition]] = []
        group_of = self.compiled.group_of
        for i, tracker in enumerate(self.trackers):
            g = group_of[i]
            idx = np.flatnonzero(result.fired[i] & result.observed[g])
            if not len(idx):
                continue
            tracker.consume(events[idx], positions[idx], result.hit[g][idx].view(np.int8), result.value[g][idx])
            if tracker._pending:
                found.extend((t.event, i, t) for t in tracker.pop_transitions())
        found.sort(key=lambda item: (item[0], item[1]))
        alerts = [self._alert(i, t, None if times is None else int(times[t.event - e0])) for _, i, t in found]
        self.n_events = e0 + n
        self._last_position = int(positions[-1])
        self._trim_outcomes()
        return alerts

    # -- saving -----------------------------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """The parameters the monitor was built with (what :meth:`from_state` needs besides the pack)."""
        window = self.window_text if self.time_based else int(self.window)
        return {"window": window, "time_column": self.time_column, **self.tracker_params}

    def state_dict(self) -> dict[str, Any]:
        """The whole state as a JSON-ready document: pack hash, parameters, events consumed, windows, detectors.

        Windows are first trimmed to the current position (what the next event would drop anyway), so the document
        does not depend on how the stream was cut into batches.
        """
        from leanlearn.online.detectors import river_version

        self._trim_outcomes()
        for tracker in self.trackers:
            if self.n_events:
                tracker.trim(self._last_position)
        return {
            "schema": MONITOR_SCHEMA,
            "pack": self._pack_hash,
            "pack_name": self.pack.name,
            "params": self.params(),
            "river": river_version(),
            "n_events": self.n_events,
            "last_position": self._last_position,
            "n_alerts": dict(self.n_alerts),
            "outcomes": [buf.to_json() for buf in self._outcomes],
            "trackers": [t.state_dict() for t in self.trackers],
        }

    @classmethod
    def from_state(cls, pack: RulePack, doc: Mapping[str, Any], **overrides: Any) -> Monitor:
        """Rebuild a monitor from :meth:`state_dict` and the same pack.

        Raises
        ------
        MonitorError
            The document is not a monitor state, was saved for another pack or with other parameters, or by
            another River version.
        """
        from leanlearn.online.detectors import river_version

        if not isinstance(doc, Mapping) or doc.get("schema") != MONITOR_SCHEMA:
            raise MonitorError("not a leanlearn monitor state (schema is not leanlearn.monitor/1)")
        if doc.get("pack") != pack.content_hash:
            raise MonitorError(
                f"the saved monitor state belongs to another rule pack ({str(doc.get('pack'))[:19]}…, "
                f"{doc.get('pack_name')!r}), not {pack.name!r} ({pack.content_hash[:19]}…); use a new checkpoint "
                "folder for a new pack"
            )
        if doc.get("river") != river_version():
            raise MonitorError(
                f"the saved monitor state was written with River {doc.get('river')}, this is River "
                f"{river_version()}; detector states do not carry over between River versions — start a new "
                "checkpoint folder"
            )
        params = dict(doc["params"])
        changed = {k: (params[k], v) for k, v in overrides.items() if k in params and params[k] != v}
        if changed:
            what = ", ".join(f"{k} {old!r} → {new!r}" for k, (old, new) in changed.items())
            raise MonitorError(f"the saved monitor state was built with other settings ({what}); keep them, or "
                               "start a new checkpoint folder")
        monitor = cls(pack, **params)
        if len(doc["trackers"]) != len(monitor.trackers) or len(doc["outcomes"]) != len(monitor._outcomes):
            raise MonitorError("the saved monitor state does not match the pack's active rules")
        for tracker, state in zip(monitor.trackers, doc["trackers"], strict=True):
            if state["rule"] != tracker.rule.id:
                raise MonitorError(f"the saved monitor state tracks rule {state['rule']!r} where the pack has "
                                   f"{tracker.rule.id!r}")
            tracker.load_state_dict(state)
        monitor._outcomes = [EventBuffer.from_json(b) for b in doc["outcomes"]]
        monitor.n_events = int(doc["n_events"])
        monitor._last_position = int(doc["last_position"])
        monitor.n_alerts = {k: int(v) for k, v in doc["n_alerts"].items()}
        return monitor

    def __repr__(self) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in self.counts().items())
        return f"Monitor({self.pack.name!r}, {len(self.trackers)} rules: {counts}; {self.n_events:,} events)"
