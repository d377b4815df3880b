"""Monitor: track every active rule of a pack on live events; raise alerts when a rule leaves its evidence.

A :class:`Monitor` holds one :class:`~leanlearn.online.trackers.RuleTracker` per active rule (every rule of the
pack not rejected in review) and, per outcome, the window of observed outcomes (for the base rate, lift and the
overall mean of numeric outcomes). Feed it one event at a time with :meth:`Monitor.update` (a dict) or
micro-batches with :meth:`Monitor.update_many` (a DataFrame); both return the :class:`~leanlearn.online.alerts.Alert`
objects raised, and both lead to the very same states and alerts however the stream is cut (property-tested).

An event with a value that cannot be used (text where a number belongs, a list, an unreadable or far-future time)
is quarantined — counted, kept with its reason (:meth:`Monitor.pop_quarantined`, see
:mod:`leanlearn.online.quarantine`) — and the monitor goes on; a column an event does not carry is a missing value
(its conditions do not hold), as a stream may omit empty fields.

The batched path evaluates every rule with vectorised masks (each distinct condition once) and hands each tracker
only the rows where its rule fires; River's detectors see only those rows' hits. The per-event path hands the
usual event to the pack's generated function (:mod:`leanlearn.online.compiled`: value check, index — one interval or
value per rule — and conditions as straight-line comparisons, in one call); any other event (a missing or odd value,
an absent column, a time window) is checked value by value and evaluated through the index of
:mod:`leanlearn.online.evaluate`, with the same answer. A rule whose indexed condition fails on an event costs that
event nothing; the outcome windows are collected in bulk (compact arrays, at most 4,096 events per outcome before
they join the window); a firing goes straight to :meth:`RuleTracker.fire
<leanlearn.online.trackers.RuleTracker.fire>`. See :mod:`leanlearn.online.trackers` for the window statistics, the
expected interval and the state machine.

Windows are count-based (``window=1000``: the last 1,000 events) or time-based (``window="10min"`` with
``time_column``: events of the last ten minutes). Time policy of a time window: a *late* event (earlier than the
latest accepted time) is kept and counted at the latest accepted time — the window never moves back; an event more
than ``horizon`` (default one day) after the later of the latest accepted time and the wall clock is quarantined as
``future-time`` — one wrong clock cannot freeze the window; an event without a readable time is quarantined; and the
stream's first event must carry the time column (else :class:`MonitorError`: a ``--time`` naming a column the stream
does not have). The whole state is a JSON document (:meth:`Monitor.to_json`), restored with
:meth:`Monitor.from_json` — see :mod:`leanlearn.online.checkpoint`.

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
>>> monitor
Monitor(pack='press', settings=TrackerSettings(window=Window('2,000 events')))
>>> alerts = monitor.update_many(events)
>>> [(a.rule, a.previous, a.state) for a in alerts]
[('R1', 'ok', 'drift')]
>>> alerts[-1].event - 20_000 < 2000, alerts[-1].test  # drift within one window of the change
(True, 'sequential')
>>> monitor.states
{'R1': 'drift'}
>>> _ = monitor.update({"torque": "n/a", "scrap": 0})  # quarantined, not fatal
>>> monitor.n_quarantined, monitor.pop_quarantined()[0].reason
(1, "column 'torque' holds text 'n/a' where a number belongs")
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from leanlearn.online.alerts import Alert
from leanlearn.online.base import MonitorError, OnlineBase
from leanlearn.online.buffers import EventBuffer
from leanlearn.online.compiled import event_function
from leanlearn.online.evaluate import (
    _EVALUATION_ERRORS,
    BadValue,
    CompiledPack,
    FrameResult,
    _first_line,
    _short,
    is_missing,
)
from leanlearn.online.quarantine import Quarantined
from leanlearn.online.settings import TrackerSettings, Window
from leanlearn.online.trackers import (
    DRIFT,
    NO_POSITION,
    OK,
    STATES,
    WARNING,
    RuleTracker,
    Transition,
    window_mean,
)
from leanlearn.packs.pack import RulePack

__all__ = ["MONITOR_SCHEMA", "Monitor", "MonitorError", "timestamps_ns"]

MONITOR_SCHEMA = "leanlearn.monitor/2"
_OLD_MONITOR_SCHEMA = "leanlearn.monitor/1"
_MAX_NS = 2**62


def _seconds_ns(seconds: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        ns = np.round(seconds * 1e9)
    ok = np.isfinite(ns) & (np.abs(ns) < _MAX_NS)
    return np.where(ok, np.nan_to_num(ns), NO_POSITION).astype(np.int64)


def _datetimes_ns(parsed: pd.Series) -> np.ndarray:
    """Parsed UTC datetimes (any unit) as int64 ns; NaT and times beyond ±146 years of 1970 → ``NO_POSITION``."""
    naive = parsed.dt.tz_localize(None) if isinstance(parsed.dtype, pd.DatetimeTZDtype) else parsed
    values = np.asarray(naive.to_numpy())
    if values.dtype.kind != "M":
        values = values.astype("datetime64[us]")
    unit = np.datetime_data(values.dtype)[0]
    scale = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}.get(unit)
    if scale is None:  # pragma: no cover - pandas parses into s, ms, us or ns
        values, scale = values.astype("datetime64[s]"), 10**9
    ints = values.view(np.int64)
    ok = ~np.isnat(values) & (np.abs(ints) < _MAX_NS // scale)
    return np.where(ok, ints * scale, NO_POSITION).astype(np.int64)


def timestamps_ns(values: pd.Series) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch (UTC); unreadable or missing → ``NO_POSITION``.

    Value by value: text is read as ISO 8601 (without a zone: UTC), numbers as seconds since the epoch, datetimes as
    they are; anything else is unreadable. So a value gets the same time alone as in any column.

    >>> timestamps_ns(pd.Series(["2024-01-01T00:00:01Z", None])).tolist() == [1704067201 * 10**9, NO_POSITION]
    True
    >>> timestamps_ns(pd.Series([1704067201, "2024-01-01T00:00:01Z", "soon"], dtype=object)).tolist()[2] == NO_POSITION
    True
    """
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return np.full(len(values), NO_POSITION, np.int64)
    if pd.api.types.is_numeric_dtype(dtype):
        return _seconds_ns(values.to_numpy(dtype=float, na_value=np.nan))
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return _datetimes_ns(pd.to_datetime(values, utc=True))
    items = values.tolist()
    out = np.full(len(items), NO_POSITION, np.int64)
    numbers = [i for i, v in enumerate(items) if isinstance(v, (int, float, np.integer, np.floating))
               and not isinstance(v, (bool, np.bool_))]
    if numbers:
        out[numbers] = _seconds_ns(np.array([float(items[i]) for i in numbers], dtype=float))
    texts = [i for i, v in enumerate(items) if isinstance(v, str) and v.strip()]
    if texts:
        parsed = pd.to_datetime(pd.Series([items[i] for i in texts], dtype=object), utc=True, errors="coerce",
                                format="ISO8601")
        out[texts] = _datetimes_ns(parsed)
    stamps = [i for i, v in enumerate(items) if isinstance(v, (pd.Timestamp, np.datetime64)) or
              (hasattr(v, "isoformat") and not isinstance(v, str))]
    if stamps:
        try:
            out[stamps] = _datetimes_ns(pd.to_datetime(pd.Series([items[i] for i in stamps], dtype=object), utc=True))
        except (ValueError, TypeError, OverflowError):  # one odd value among them: judge each alone
            for i in stamps:
                try:
                    out[i] = _datetimes_ns(pd.to_datetime(pd.Series([items[i]], dtype=object), utc=True))[0]
                except (ValueError, TypeError, OverflowError):
                    out[i] = NO_POSITION
    return out


def _blank(value: Any) -> bool:
    return is_missing(value) or (isinstance(value, str) and not value.strip())


def _iso(ns: int) -> str | None:
    if ns == NO_POSITION:
        return None
    return pd.Timestamp(int(ns), unit="ns", tz="UTC").isoformat().replace("+00:00", "Z")


class Monitor(OnlineBase):
    """Track a rule pack's active rules over a sliding window of live events.

    Parameters
    ----------
    pack : RulePack
        The pack; rules rejected in review are not tracked.
    settings : TrackerSettings, optional
        Window, time column, levels, streaks, detectors and the far-future horizon (see
        :class:`~leanlearn.online.settings.TrackerSettings`; default: its defaults).
    window, time_column : optional
        Shortcuts for ``settings.replace(window=..., time_column=...)``.
    clock : callable, optional
        The wall clock, in nanoseconds since the epoch, for the far-future bound (default :func:`time.time_ns`).

    Attributes
    ----------
    trackers : list of RuleTracker
        One per active rule, in the pack's order.
    n_events : int
        Events consumed so far, quarantined ones included (the stream offset a checkpoint records).
    n_alerts : dict
        Alerts raised so far, by the state entered.
    n_quarantined : int
        Events set aside so far.
    """

    def __init__(self, pack: RulePack, settings: TrackerSettings | None = None, *,
                 window: int | str | Window | None = None, time_column: str | None = None,
                 clock: Callable[[], int] | None = None) -> None:
        settings = TrackerSettings() if settings is None else settings
        if not isinstance(settings, TrackerSettings):
            raise MonitorError(f"settings must be a TrackerSettings, not {type(settings).__name__}")
        changes: dict[str, Any] = {}
        if window is not None:
            changes["window"] = window
        if time_column is not None:
            changes["time_column"] = time_column
        self.pack = pack
        self.settings = settings.replace(**changes) if changes else settings
        self.clock = clock
        self._clock: Callable[[], int] = clock if clock is not None else time.time_ns
        self._span = self.settings.window.span
        self._time_based = self.settings.time_based
        self._time_column = self.settings.time_column
        self._horizon = self.settings.horizon.span
        self.compiled = CompiledPack(pack, float_columns=() if self._time_column is None else (self._time_column,))
        if not self.compiled.rules:
            raise MonitorError(f"rule pack {pack.name!r} has no active rule to monitor (all are rejected, or none)")
        ids = [r.id for r in self.compiled.rules]
        if len(set(ids)) != len(ids) or "" in ids:
            raise MonitorError(f"rule pack {pack.name!r}: every monitored rule needs a distinct id")
        self.trackers = [RuleTracker(rule, self.settings) for rule in self.compiled.rules]
        # the pack's generated check-and-evaluate function (see leanlearn.online.compiled); None: the general path
        self._event = event_function(self.compiled)
        self._fast = self._event if self._time_column is None else None
        self._pack_hash = pack.content_hash
        self.reset()
        self._prepare_trackers()

    def _prepare_trackers(self) -> None:
        """Build each tracker's expected-range tables for the firings a count window will hold (its rule's coverage
        times the window, with room), so the first firings of a live stream do not wait for them (tables still grow
        on demand; their values do not depend on when they are built)."""
        if self._time_based:
            return
        for tracker in self.trackers:
            coverage = tracker.rule.coverage
            share = coverage if isinstance(coverage, (int, float)) and 0 < coverage <= 1 else 0.0
            tracker.expected_range(int(min(self._span, 1.5 * share * self._span + 64)))

    def params(self) -> dict[str, Any]:
        """``{"pack", "settings", "clock"}`` (the ``window`` / ``time_column`` shortcuts are in the settings)."""
        return {"pack": self.pack, "settings": self.settings, "clock": self.clock}

    def _repr_value(self, name: str, value: Any) -> str:
        return repr(value.name) if name == "pack" else repr(value)

    def reset(self) -> Monitor:
        """Forget every event seen."""
        for tracker in self.trackers:
            tracker.reset()
        self._outcomes = [EventBuffer() for _ in self.compiled.groups]
        # per outcome group, what the per-event path collected since the last flush (see _flush_outcomes), compact:
        # each event's number, or its complement ~e when the outcome did not hold; its position (time windows only:
        # a count window's position is the event number) and its value (numeric outcomes only)
        groups = range(len(self.compiled.groups))
        self._pend_codes = [array("q") for _ in groups]
        self._pend_positions = [array("q") for _ in groups]
        self._pend_values = [array("d") for _ in groups]
        self._numeric_groups = [g for g in groups if self.compiled.numeric[g]]
        # one binary outcome (the usual pack): the per-event path appends its code directly
        self._codes1 = self._pend_codes[0] if len(groups) == 1 and not self._numeric_groups else None
        self.n_events = 0
        self.n_alerts = {OK: 0, WARNING: 0, DRIFT: 0}
        self.n_quarantined = 0
        self._quarantined: list[Quarantined] = []
        self._last_position = NO_POSITION
        return self

    # -- reading ----------------------------------------------------------------------------------------------
    @property
    def rules(self) -> tuple[Any, ...]:
        return self.compiled.rules

    @property
    def window(self) -> Window:
        return self.settings.window

    @property
    def states(self) -> dict[str, str]:
        """``{rule id: state}``."""
        return {t.rule.id: t.state for t in self.trackers}

    def counts(self) -> dict[str, int]:
        """How many rules are in each state."""
        out: dict[str, int] = dict.fromkeys(STATES, 0)
        for t in self.trackers:
            out[t.state] += 1
        return out

    def pop_quarantined(self) -> list[Quarantined]:
        """The events quarantined since the last call, in stream order."""
        out, self._quarantined = self._quarantined, []
        return out

    def _window_outcomes(self, group: int, event: int, position: int) -> tuple[int, int, float | None]:
        """(events, positives, overall mean) of an outcome in the window ending at ``event``."""
        self._flush_outcomes()
        buf = self._outcomes[group]
        k = int(np.searchsorted(buf.position, position - self._span, side="right"))
        u = int(np.searchsorted(buf.event, event, side="right"))
        n = max(u - k, 0)
        positives = int(buf.hit[k:u].sum(dtype=np.int64)) if n else 0
        mean = window_mean(buf.value[k:u].tolist()) if n and self.compiled.numeric[group] else None
        return n, positives, mean

    def status(self) -> pd.DataFrame:
        """One row per tracked rule: state, window counts, confidence vs the expected interval, lift, alarms."""
        rows = []
        seen = self._last_position != NO_POSITION
        for i, t in enumerate(self.trackers):
            group = self.compiled.group_of[i]
            position = self._last_position
            fired, hits = t.window_counts(position if seen else None)
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
                "mean": t.window_mean(position if seen else None), "mean_overall": mean_overall,
                "n_fired": t.n_fired, "alarms": t.n_detections,
            })
        return pd.DataFrame(rows)

    # -- alerts and quarantine ---------------------------------------------------------------------------------
    def _alert(self, i: int, t: Transition, time_ns: int | None) -> Alert:
        tracker = self.trackers[i]
        rule = tracker.rule
        events, positives, mean_overall = self._window_outcomes(self.compiled.group_of[i], t.event, t.position)
        base_rate = positives / events if events else None
        self.n_alerts[t.state] += 1
        return Alert(
            rule=rule.id, text=rule.text, target=rule.target, previous=t.previous, state=t.state, event=t.event,
            time=None if time_ns is None else _iso(time_ns), window=str(self.settings.window), events=events,
            fired=t.fired, hits=t.hits, confidence=t.confidence, expected=t.expected, evidence=rule.confidence,
            support=t.hits / events if events else 0.0, coverage=t.fired / events if events else 0.0,
            base_rate=base_rate, lift=t.confidence / base_rate if base_rate else None, mean=t.mean,
            mean_overall=mean_overall if t.mean is not None else None, detected_at=t.detected_at,
            test=t.test, change_fired=t.change_fired, change_hits=t.change_hits, change_interval=t.change_interval,
        )

    def _quarantine(self, event: int, bad: BadValue) -> None:
        self.n_quarantined += 1
        self._quarantined.append(Quarantined(event=event, code=bad.code, column=bad.column,
                                             value=None if bad.value is None else _short(bad.value, 200),
                                             reason=bad.reason))

    def _time_problem(self, value: Any) -> BadValue:
        column = self._time_column
        if _blank(value):
            return BadValue(column, None, "no-time", f"no time in column {column!r} (a time window places every "
                                                     "event by its time)")
        return BadValue(column, value, "bad-time",
                        f"column {column!r} holds {_short(value)}, not a time between the years 1824 and 2116 (ISO "
                        "8601 text, a datetime, or seconds since the epoch)")

    def _future_problem(self, value: Any, ns: int, latest: int) -> BadValue:
        column = self._time_column
        since = "the stream's latest time" if latest != NO_POSITION and latest > self._clock() else "the wall clock"
        return BadValue(column, value, "future-time",
                        f"time {_iso(ns)} in column {column!r} lies more than {self.settings.horizon} after {since}; "
                        "the event is set aside so that one wrong clock does not freeze the window (raise "
                        "--horizon to accept it)")

    def _check_first(self, value: Any, columns: Sequence[str]) -> None:
        """The stream's first event must carry the time column (else ``--time`` names a column it lacks)."""
        if _blank(value):
            column = self._time_column
            shown = ", ".join(repr(str(c)) for c in list(columns)[:12]) + (", …" if len(columns) > 12 else "")
            raise MonitorError(f"--time {column!r}: the stream's first event has no time in column {column!r} (its "
                               f"columns: {shown or 'none'}); name the column that holds each event's time")

    # -- one event --------------------------------------------------------------------------------------------
    def update(self, row: Mapping[str, Any]) -> list[Alert]:
        """Take one event (column → value); return the alerts it raised (an unusable event is quarantined)."""
        fast = self._fast
        if fast is not None:  # the usual event of a count window: checked and evaluated by the pack's own function
            result = fast(row)
            if result is not None:
                e = self.n_events
                fired, outcomes = result
                codes = self._codes1  # every outcome is known: into the outcome windows (in bulk, see _flush_outcomes)
                if codes is not None:
                    codes.append(e if outcomes[0][1] else ~e)
                else:
                    for codes, outcome in zip(self._pend_codes, outcomes, strict=True):
                        codes.append(e if outcome[1] else ~e)
                    for g in self._numeric_groups:
                        self._pend_values[g].append(outcomes[g][2])
                alerts: list[Alert] = []
                if fired:
                    group_of = self.compiled.group_of
                    trackers = self.trackers
                    for i in fired:
                        _, hit, value = outcomes[group_of[i]]
                        tracker = trackers[i]
                        if tracker.fire(e, e, hit, value):
                            for t in tracker.pop_transitions():
                                alerts.append(self._alert(i, t, None))
                self._last_position = e
                self.n_events = e + 1
                if e & 4095 == 4095:
                    self._trim_outcomes()
                return alerts
        return self._update_any(row)

    def _update_any(self, row: Mapping[str, Any]) -> list[Alert]:
        """:meth:`update` for any event: checked, then evaluated (or quarantined); time windows and columns."""
        column = self._time_column
        e = self.n_events
        if e == 0 and column is not None:
            self._check_first(row.get(column), list(row))
        result: tuple[list[int], Sequence[tuple[bool, bool, float]]] | None = (
            None if self._event is None or column is None else self._event(row))
        checked, bad = (row, None) if result is not None else self.compiled.check_row(row)
        time_ns: int | None = None
        if column is not None:
            raw = checked.get(column)
            time_ns = NO_POSITION if _blank(raw) else int(timestamps_ns(pd.Series([raw], dtype=object))[0])
            if bad is None and self._time_based and time_ns == NO_POSITION:
                bad = self._time_problem(raw)
        if bad is None and result is None:
            try:
                result = self.compiled.evaluate_checked(checked)
            except _EVALUATION_ERRORS as exc:
                bad = BadValue(None, None, "unusable", _first_line(exc))
        if bad is None and self._time_based:
            assert time_ns is not None
            latest = self._last_position
            if time_ns > max(latest, self._clock()) + self._horizon:
                bad = self._future_problem(checked.get(column or ""), time_ns, latest)
        alerts: list[Alert] = []
        if bad is not None or result is None:
            if bad is not None:
                self._quarantine(e, bad)
            if not self._time_based:
                self._last_position = e
        else:
            if self._time_based:
                assert time_ns is not None
                position = max(self._last_position, time_ns)
            else:
                position = e
            fired, outcomes = result
            numeric = self.compiled.numeric
            for g, (known, hit, value) in enumerate(outcomes):
                if known:  # into the outcome window (appended in bulk, see _flush_outcomes)
                    self._pend_codes[g].append(e if hit else ~e)
                    if self._time_based:
                        self._pend_positions[g].append(position)
                    if numeric[g]:
                        self._pend_values[g].append(value)
            group_of = self.compiled.group_of
            for i in fired:
                known, hit, value = outcomes[group_of[i]]
                if known:
                    tracker = self.trackers[i]
                    if tracker.fire(e, position, hit, value):
                        for t in tracker.pop_transitions():
                            alerts.append(self._alert(i, t, time_ns))
            self._last_position = position
        self.n_events = e + 1
        if e & 4095 == 4095:
            self._trim_outcomes()
        return alerts

    def _flush_outcomes(self) -> None:
        """Move the outcomes the per-event path collected into the outcome windows (at most 4,096 per outcome)."""
        for g, buf in enumerate(self._outcomes):
            codes = self._pend_codes[g]
            if not codes:
                continue
            code = np.array(codes, np.int64)
            hit = code >= 0
            event = np.where(hit, code, ~code)
            position = np.array(self._pend_positions[g], np.int64) if self._time_based else event
            value = np.array(self._pend_values[g], np.float64) if self.compiled.numeric[g] else np.full(len(code),
                                                                                                        np.nan)
            buf.extend(event, position, hit.view(np.int8), value)
            del codes[:], self._pend_positions[g][:], self._pend_values[g][:]

    def _trim_outcomes(self) -> None:
        self._flush_outcomes()
        if self._last_position == NO_POSITION:
            return
        for buf in self._outcomes:
            if len(buf):
                buf.drop_through(self._last_position - self._span)

    # -- many events ------------------------------------------------------------------------------------------
    def update_many(self, frame: pd.DataFrame | Sequence[Mapping[str, Any]]) -> list[Alert]:
        """Take a micro-batch (a DataFrame, one row per event, in stream order); return the alerts it raised.

        The same alerts, states and quarantine as :meth:`update` on each event in turn.
        """
        if not isinstance(frame, pd.DataFrame):
            frame = pd.DataFrame.from_records(list(frame))
        n = len(frame)
        if n == 0:
            return []
        if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0 or frame.index.step != 1:
            frame = frame.reset_index(drop=True)
        e0 = self.n_events
        column = self._time_column
        if e0 == 0 and column is not None:
            self._check_first(frame[column].iloc[0] if column in frame.columns else None, list(frame.columns))
        checked, bad = self.compiled.check_frame(frame)
        times: np.ndarray | None = None
        raw_times: list[Any] | None = None
        if column is not None:
            if column in checked.columns:
                raw_times = checked[column].tolist()
                times = timestamps_ns(checked[column])  # value by value for text; as a whole for numbers, datetimes
                blank = [i for i, v in enumerate(raw_times) if _blank(v)]
                times[blank] = NO_POSITION
            else:
                raw_times = [None] * n
                times = np.full(n, NO_POSITION, np.int64)
            if self._time_based:
                for i in np.flatnonzero(times == NO_POSITION).tolist():
                    if i not in bad:
                        bad[i] = self._time_problem(raw_times[i])
        keep = np.arange(n) if not bad else np.setdiff1d(np.arange(n), np.fromiter(bad, np.int64, len(bad)))
        result = self._evaluate(checked, keep, bad)
        if len(result.fired) and len(keep) != len(result.fired[0]):  # some rows failed evaluation
            keep = np.setdiff1d(keep, np.fromiter(bad, np.int64, len(bad)))
        if self._time_based and len(keep):
            assert times is not None and raw_times is not None
            accepted = self._accept_times(times[keep])
            if not accepted.all():
                latest = self._last_position
                for j, k in enumerate(keep.tolist()):
                    if accepted[j]:
                        latest = max(latest, int(times[k]))
                    else:
                        bad[k] = self._future_problem(raw_times[k], int(times[k]), latest)
                keep = keep[accepted]
                result = _subset(result, accepted)
        for i in sorted(bad):
            self._quarantine(e0 + i, bad[i])
        events = (e0 + keep).astype(np.int64)
        if self._time_based:
            assert times is not None
            positions = np.maximum.accumulate(np.concatenate(([self._last_position], times[keep])))[1:]
        else:
            positions = events
        found: list[tuple[int, int, Transition]] = []
        if len(keep):
            self._flush_outcomes()
            for g, buf in enumerate(self._outcomes):
                known = result.observed[g]
                idx = np.flatnonzero(known)
                buf.extend(events[idx], positions[idx], result.hit[g][idx], result.value[g][idx])
            group_of = self.compiled.group_of
            for i, tracker in enumerate(self.trackers):
                g = group_of[i]
                idx = np.flatnonzero(result.fired[i] & result.observed[g])
                if not len(idx):
                    continue
                tracker.update_many(np.ones(len(idx), dtype=bool), result.hit[g][idx], result.value[g][idx],
                                    events=events[idx], positions=positions[idx])
                found.extend((t.event, i, t) for t in tracker.pop_transitions())
        found.sort(key=lambda item: (item[0], item[1]))
        alerts = [self._alert(i, t, None if times is None else int(times[t.event - e0])) for _, i, t in found]
        self.n_events = e0 + n
        if self._time_based:
            if len(keep):
                self._last_position = int(positions[-1])
        else:
            self._last_position = e0 + n - 1
        self._trim_outcomes()
        return alerts

    def _evaluate(self, checked: pd.DataFrame, keep: np.ndarray, bad: dict[int, BadValue]) -> FrameResult:
        """Evaluate the rows ``keep``; rows whose evaluation fails join ``bad`` (the result then lacks them)."""
        part = checked if len(keep) == len(checked) else checked.iloc[keep]
        try:
            return self.compiled.evaluate_frame(part)
        except _EVALUATION_ERRORS:
            records: list[dict[str, Any]] = part.to_dict("records")  # type: ignore[assignment]
            result, failed = self.compiled.evaluate_rows(records)
            for j, problem in failed.items():
                bad[int(keep[j])] = problem
            return result

    def _accept_times(self, times: np.ndarray) -> np.ndarray:
        """Which times are within the far-future bound, each judged against the latest time accepted before it."""
        now = self._clock()
        latest = self._last_position
        if not len(times) or int(times.max()) <= max(latest, now) + self._horizon:
            return np.ones(len(times), dtype=bool)
        out = np.ones(len(times), dtype=bool)
        for j, t in enumerate(times.tolist()):
            if t > max(latest, now) + self._horizon:
                out[j] = False
            elif t > latest:
                latest = t
        return out

    # -- saving -----------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The whole state as a JSON-ready document: pack hash, settings, events consumed, windows, detectors.

        Windows are first trimmed to the current position (what the next event would drop anyway), so the document
        does not depend on how the stream was cut into batches.
        """
        from leanlearn.online.detectors import river_version

        self._trim_outcomes()
        for tracker in self.trackers:
            if self._last_position != NO_POSITION:
                tracker.trim(self._last_position)
        return {
            "schema": MONITOR_SCHEMA,
            "pack": self._pack_hash,
            "pack_name": self.pack.name,
            "settings": self.settings.to_json(),
            "river": river_version(),
            "n_events": self.n_events,
            "n_quarantined": self.n_quarantined,
            "last_position": self._last_position,
            "n_alerts": dict(self.n_alerts),
            "outcomes": [buf.to_json() for buf in self._outcomes],
            "trackers": [t.to_json() for t in self.trackers],
        }

    @classmethod
    def from_json(cls, doc: Any, pack: RulePack, settings: TrackerSettings | None = None, *,
                  clock: Callable[[], int] | None = None) -> Monitor:
        """Rebuild a monitor from :meth:`to_json` and the same pack.

        ``settings``, when given, must be the saved ones (a resume with other settings would mix two monitors).
        A state saved by leanlearn's previous format (``leanlearn.monitor/1``) is read as well.

        Raises
        ------
        MonitorError
            The document is not a monitor state, is damaged, was saved for another pack or with other settings, or
            by another River version.
        """
        from leanlearn.online.detectors import river_version

        if isinstance(doc, Mapping) and doc.get("schema") == _OLD_MONITOR_SCHEMA:
            doc = _upgrade(doc)
        if not isinstance(doc, Mapping) or doc.get("schema") != MONITOR_SCHEMA:
            found = doc.get("schema") if isinstance(doc, Mapping) else type(doc).__name__
            raise MonitorError(f"not a leanlearn monitor state (schema {found!r}, expected {MONITOR_SCHEMA})")
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
        saved = TrackerSettings.from_json(doc.get("settings"))
        if settings is not None and settings != saved:
            what = ", ".join(f"{k} {v!r} → {settings.to_json()[k]!r}" for k, v in saved.to_json().items()
                             if settings.to_json()[k] != v)
            raise MonitorError(f"the saved monitor state was built with other settings ({what}); keep them, or "
                               "start a new checkpoint folder")
        monitor = cls(pack, saved, clock=clock)
        try:
            trackers, outcomes = doc["trackers"], doc["outcomes"]
            if not isinstance(trackers, list) or not isinstance(outcomes, list):
                raise TypeError("trackers and outcomes must be lists")
            if len(trackers) != len(monitor.trackers) or len(outcomes) != len(monitor._outcomes):
                raise MonitorError("the saved monitor state does not match the pack's active rules")
            monitor.trackers = [RuleTracker.from_json(state, tracker.rule)
                                for tracker, state in zip(monitor.trackers, trackers, strict=True)]
            monitor._outcomes = [EventBuffer.from_json(b) for b in outcomes]
            monitor._prepare_trackers()
            n_events, last, n_quarantined = doc["n_events"], doc["last_position"], doc.get("n_quarantined", 0)
            for name, value in (("n_events", n_events), ("last_position", last), ("n_quarantined", n_quarantined)):
                if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**63 - 1:
                    raise ValueError(f"{name}={value!r} is not an integer")
            if n_events < 0 or n_quarantined < 0 or n_quarantined > n_events:
                raise ValueError(f"n_events={n_events}, n_quarantined={n_quarantined}")
            n_alerts = {k: int(doc["n_alerts"][k]) for k in STATES}
        except MonitorError:
            raise
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
            what = f"{exc} is missing" if isinstance(exc, KeyError) else str(exc)
            raise MonitorError(f"the saved monitor state is damaged ({what})") from None
        monitor.n_events, monitor._last_position, monitor.n_quarantined = n_events, last, n_quarantined
        monitor.n_alerts = n_alerts
        return monitor


def _subset(result: FrameResult, mask: np.ndarray) -> FrameResult:
    return FrameResult([a[mask] for a in result.fired], [a[mask] for a in result.observed],
                       [a[mask] for a in result.hit], [a[mask] for a in result.value])


def _upgrade(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A ``leanlearn.monitor/1`` state (settings as ``params``, trackers without settings) in the current format."""
    try:
        params = dict(doc["params"])
        settings = TrackerSettings.from_json(params).to_json()
        trackers = [{**t, "settings": settings} for t in doc["trackers"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise MonitorError(f"the saved monitor state (leanlearn.monitor/1) is damaged ({exc})") from None
    out = {k: v for k, v in doc.items() if k != "params"}
    out.update(schema=MONITOR_SCHEMA, settings=settings, trackers=trackers, n_quarantined=0)
    return out
