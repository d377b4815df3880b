"""The monitor's settings as frozen, validated values: :class:`Window` and :class:`TrackerSettings`.

A setting is checked once, here, with one clear error (:class:`~leanlearn.online.base.MonitorError`) naming the
setting, the value and what would be accepted; the CLI (``--window``, ``--horizon``), :class:`Monitor`,
:class:`RuleTracker`, checkpoints and their resume all use these objects.

Limits (documented, on purpose not environment-tunable: they bound memory, not taste)

====================  ================  ===========================================================================
limit                 value             why
====================  ================  ===========================================================================
``MAX_WINDOW_EVENTS`` 10,000,000        a count window holds every event of an outcome (25 bytes each) in memory
``MAX_WINDOW_SPAN``   366 days          a time window longer than a year is a typo (``10000d``) or a unit mistake
``MAX_HORIZON``       3,660 days        the far-future bound (see :class:`TrackerSettings`) must still be a bound
====================  ================  ===========================================================================

Examples
--------
>>> Window.parse(1000), Window.parse("2,000"), Window.parse("10min")
(Window('1,000 events'), Window('2,000 events'), Window('10min'))
>>> Window.parse("90min").span == 90 * 60 * 10**9, str(Window.parse("1.5h"))
(True, '90min')
>>> Window.parse("10**30")
Traceback (most recent call last):
...
leanlearn.online.base.MonitorError: window '10**30': neither a number of events (e.g. 2000) nor a duration ...
>>> TrackerSettings(window="10min")
Traceback (most recent call last):
...
leanlearn.online.base.MonitorError: a time window (10min) needs time_column (--time COLUMN): ...
>>> s = TrackerSettings(window=2000, min_fired=5)
>>> s, TrackerSettings.from_json(s.to_json()) == s
(TrackerSettings(window=Window('2,000 events'), min_fired=5), True)
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from leanlearn.online.base import MonitorError

__all__ = ["MAX_HORIZON", "MAX_WINDOW_EVENTS", "MAX_WINDOW_SPAN", "TrackerSettings", "Window"]

NS_PER_DAY = 86_400 * 10**9
MAX_WINDOW_EVENTS = 10_000_000
MAX_WINDOW_SPAN = 366 * NS_PER_DAY
MAX_HORIZON = 3660 * NS_PER_DAY
_UNITS = (("d", NS_PER_DAY), ("h", 3600 * 10**9), ("min", 60 * 10**9), ("s", 10**9), ("ms", 10**6), ("us", 10**3),
          ("ns", 1))
_HINT = "neither a number of events (e.g. 2000) nor a duration (e.g. 10min, 2h, 1d)"


def _duration_text(ns: int) -> str:
    """The largest unit that divides the span exactly: 5400 s → '90min'."""
    for unit, size in _UNITS:
        if ns % size == 0:
            return f"{ns // size:,}{unit}".replace(",", "")
    return f"{ns}ns"  # pragma: no cover - ns divides everything


def _parse_duration(text: str, what: str) -> int:
    """A duration as nanoseconds (pandas' spelling: 10min, 2h, 1d, 1h30min, 00:10:00)."""
    import warnings

    import pandas as pd

    try:
        with warnings.catch_warnings():  # pandas deprecates the unit 'd' in favour of 'D': both are days here
            warnings.simplefilter("ignore")
            delta = pd.Timedelta(text)
    except (ValueError, TypeError, OverflowError, OutOfBoundsError):
        raise MonitorError(f"{what} {text!r}: {_HINT}") from None
    if pd.isna(delta):
        raise MonitorError(f"{what} {text!r}: {_HINT}")
    return int(delta.value)


try:  # pandas' overflow error for durations beyond ±292 years
    from pandas.errors import OutOfBoundsTimedelta as OutOfBoundsError
except ImportError:  # pragma: no cover
    OutOfBoundsError = OverflowError  # type: ignore[misc,assignment]


@dataclass(frozen=True, slots=True)
class Window:
    """A sliding window: the last ``span`` events, or the events of the last ``span`` nanoseconds.

    Build it with :meth:`parse`; ``Window(size, time)`` is the validated constructor underneath.

    Attributes
    ----------
    span : int
        Events (count window) or nanoseconds (time window).
    time : bool
        Whether the window is a time span.
    """

    span: int
    time: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.span, bool) or not isinstance(self.span, (int, np.integer)):
            raise MonitorError(f"window {self.span!r}: {_HINT}")
        object.__setattr__(self, "span", int(self.span))
        if self.span < 1:
            raise MonitorError(f"window {self}: must be at least 1 {'nanosecond' if self.time else 'event'}")
        if not self.time and self.span > MAX_WINDOW_EVENTS:
            raise MonitorError(f"window {self.span:,} events: more than the limit of {MAX_WINDOW_EVENTS:,} events "
                               "(each event of the window is held in memory); use a smaller window, or a time window")
        if self.time and self.span > MAX_WINDOW_SPAN:
            raise MonitorError(f"window {self}: longer than the limit of {MAX_WINDOW_SPAN // NS_PER_DAY} days; "
                               "use a shorter duration (10min, 8h, 7d)")

    @classmethod
    def parse(cls, value: int | str | dt.timedelta | Window, *, what: str = "window") -> Window:
        """A window from a number of events (``1000``, ``"2,000"``) or a duration (``"10min"``, a timedelta).

        ``what`` names the setting in messages (``"window"``, ``"horizon"``).
        """
        if isinstance(value, Window):
            return value
        if isinstance(value, bool):
            raise MonitorError(f"{what} {value!r}: {_HINT}")
        if isinstance(value, (int, np.integer)):
            return cls._checked(int(value), False, what)
        if isinstance(value, (float, np.floating)):
            if math.isfinite(value) and float(value).is_integer():
                return cls._checked(int(value), False, what)
            raise MonitorError(f"{what} {value!r}: a number of events is a whole number (e.g. 2000)")
        if isinstance(value, dt.timedelta):  # also pandas.Timedelta
            import pandas as pd

            return cls._checked(int(pd.Timedelta(value).value), True, what)
        if not isinstance(value, str):
            raise MonitorError(f"{what} {value!r}: {_HINT}")
        text = value.strip()
        plain = text.replace("_", "").replace(",", "")
        if plain.isdigit():
            if len(plain) > 18:
                raise MonitorError(f"{what} {text!r}: more than the limit of {MAX_WINDOW_EVENTS:,} events")
            return cls._checked(int(plain), False, what)
        if not text or not any(c.isalpha() or c == ":" for c in text):
            raise MonitorError(f"{what} {text!r}: {_HINT}")
        return cls._checked(_parse_duration(text, what), True, what)

    @classmethod
    def _checked(cls, span: int, time: bool, what: str) -> Window:
        try:
            return cls(span, time)
        except MonitorError as exc:
            if what == "window":
                raise
            raise MonitorError(str(exc).replace("window", what, 1)) from None

    def __str__(self) -> str:
        return _duration_text(self.span) if self.time else f"{self.span:,} events"

    def __repr__(self) -> str:
        return f"Window({str(self)!r})"

    def to_json(self) -> int | str:
        """``1000`` for a count window, ``"10min"`` for a time window (what :meth:`parse` reads back)."""
        return _duration_text(self.span) if self.time else self.span

    @classmethod
    def from_json(cls, doc: Any) -> Window:
        return cls.parse(doc)


def _number(name: str, value: Any, *, low: float, high: float = math.inf, low_open: bool = False,
            high_open: bool = False, integer: bool = False) -> Any:
    bad = isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
    if not bad:
        if integer and not float(value).is_integer():
            bad = True
        elif not math.isfinite(float(value)) and not (high == math.inf and not high_open and value == math.inf):
            bad = True
        elif value < low or (low_open and value == low) or value > high or (high_open and value == high):
            bad = True
    if bad:
        span = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        kind = "a whole number" if integer else "a number"
        raise MonitorError(f"{name}={value!r}: must be {kind} in {span}")
    return int(value) if integer else float(value)


@dataclass(frozen=True, slots=True, init=False)
class TrackerSettings:
    """How the monitor tracks each rule (shared by :class:`Monitor` and every :class:`RuleTracker`).

    Parameters
    ----------
    window : int, str or Window, default=1000
        Events per window, or a duration (``"10min"``) for a time window (needs ``time_column``); see
        :meth:`Window.parse`.
    time_column : str, optional
        Column with each event's time (ISO 8601 text, datetimes, or seconds since the epoch).
    alpha : float, default=0.01
        Two-sided level of the expected hit-count range.
    min_fired : int, default=10
        Checks count only when the window holds at least this many firings.
    drift_after : int, default=5
        Outside checks in a row that, with a detector alarm in the window, make ``drift``.
    ok_after : int, default=10
        Inside checks in a row that bring a ``warning`` or ``drift`` back to ``ok``.
    alpha_ok : float, default=0.2
        Two-sided level of the narrower range a check must fall in to count as inside (at least ``alpha``).
    adwin_delta : float, default=0.002
        ADWIN's confidence parameter.
    adwin_clock : int, default=1
        ADWIN checks for a change every ``adwin_clock`` firings.
    ph_threshold, ph_delta : float, default=25.0, 0.25
        Page-Hinkley threshold and tolerance for numeric outcomes, in units of the rule's mean shift.
    false_alarms_per_million : float, default=0.1
        The sequential test (:mod:`leanlearn.online.sequential`): false alarms per rule per million events it may
        raise for a rule holding at the pack's lower confidence bound (fewer for a rule at its pack confidence). The
        threshold is calibrated with the rule's firing rate (the pack's coverage). ``0`` turns the test off.
    sequential_shift : float, default=0.2
        The drop of confidence the sequential test is tuned to call fastest: ``p1 = max(p0 - shift, p0 / 2)``.
    horizon : str or Window, default="1d"
        Time windows only — the far-future bound: an event whose time lies more than ``horizon`` after the later
        of the stream's latest accepted time and the wall clock is quarantined instead of moving the window (one
        wrong clock would otherwise freeze the window at that time). Late events (earlier than the latest accepted
        time) are kept and counted at the latest accepted time: a window never moves back.
    """

    window: Window
    time_column: str | None
    alpha: float
    min_fired: int
    drift_after: int
    ok_after: int
    alpha_ok: float
    adwin_delta: float
    adwin_clock: int
    ph_threshold: float
    ph_delta: float
    horizon: Window
    false_alarms_per_million: float
    sequential_shift: float

    def __init__(self, window: int | str | dt.timedelta | Window = 1000, time_column: str | None = None, *,
                 alpha: float = 0.01, min_fired: int = 10, drift_after: int = 5, ok_after: int = 10,
                 alpha_ok: float = 0.2, adwin_delta: float = 0.002, adwin_clock: int = 1,
                 ph_threshold: float = 25.0, ph_delta: float = 0.25,
                 horizon: str | dt.timedelta | Window = "1d", false_alarms_per_million: float = 0.1,
                 sequential_shift: float = 0.2) -> None:
        put = object.__setattr__
        put(self, "window", Window.parse(window))
        if time_column is not None and (not isinstance(time_column, str) or not time_column.strip()):
            raise MonitorError(f"time_column={time_column!r}: name the column holding each event's time")
        put(self, "time_column", time_column)
        if self.window.time and time_column is None:
            raise MonitorError(f"a time window ({self.window}) needs time_column (--time COLUMN): the column holding "
                               "each event's time")
        put(self, "alpha", _number("alpha", alpha, low=0, high=1, low_open=True, high_open=True))
        put(self, "min_fired", _number("min_fired", min_fired, low=1, high=MAX_WINDOW_EVENTS, integer=True))
        put(self, "drift_after", _number("drift_after", drift_after, low=1, high=MAX_WINDOW_EVENTS, integer=True))
        put(self, "ok_after", _number("ok_after", ok_after, low=1, high=MAX_WINDOW_EVENTS, integer=True))
        put(self, "alpha_ok", _number("alpha_ok", alpha_ok, low=self.alpha, high=1, high_open=True))
        put(self, "adwin_delta", _number("adwin_delta", adwin_delta, low=0, high=1, low_open=True, high_open=True))
        put(self, "adwin_clock", _number("adwin_clock", adwin_clock, low=1, high=MAX_WINDOW_EVENTS, integer=True))
        put(self, "ph_threshold", _number("ph_threshold", ph_threshold, low=0, high=1e12, low_open=True))
        put(self, "ph_delta", _number("ph_delta", ph_delta, low=0, high=1e12))
        h = Window.parse(horizon, what="horizon") if not isinstance(horizon, Window) else horizon
        if not h.time:
            raise MonitorError(f"horizon={horizon!r}: give a duration (e.g. 1d, 6h)")
        if h.span > MAX_HORIZON:
            raise MonitorError(f"horizon {h}: longer than the limit of {MAX_HORIZON // NS_PER_DAY} days")
        put(self, "horizon", h)
        put(self, "false_alarms_per_million", _number("false_alarms_per_million", false_alarms_per_million, low=0,
                                                      high=1e6))
        put(self, "sequential_shift", _number("sequential_shift", sequential_shift, low=0, high=1, low_open=True,
                                              high_open=True))

    @property
    def time_based(self) -> bool:
        return self.window.time

    def replace(self, **changes: Any) -> TrackerSettings:
        """A copy with some settings changed (validated again)."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """Every setting as plain JSON (windows as :meth:`Window.to_json`)."""
        doc: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        doc["window"] = self.window.to_json()
        doc["horizon"] = self.horizon.to_json()
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> TrackerSettings:
        """Settings saved by :meth:`to_json` (an unknown or malformed one raises :class:`MonitorError`)."""
        if not isinstance(doc, dict):
            raise MonitorError(f"tracker settings must be a JSON object, not {type(doc).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise MonitorError(f"unknown tracker setting {', '.join(map(repr, unknown))}; known: "
                               f"{', '.join(sorted(known))}")
        return cls(**doc)

    def __repr__(self) -> str:
        default = TrackerSettings()
        changed = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                   if f.name == "window" or getattr(self, f.name) != getattr(default, f.name)]
        return f"TrackerSettings({', '.join(changed)})"
