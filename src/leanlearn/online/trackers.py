"""One rule, tracked over a sliding window: windowed confidence against the pack's evidence, drift detectors, and
the ``ok / warning / drift`` state with hysteresis.

What a :class:`RuleTracker` does each time its rule fires (a *check*)
---------------------------------------------------------------------
1. The firing enters the window (the last ``window`` events of the stream, or the last ``window`` nanoseconds for a
   time-based window); firings that left the window are dropped. ``fired`` = firings in the window, ``hits`` =
   those after which the outcome held; windowed confidence = hits / fired.
2. River's ADWIN gets the hit (1/0); for a numeric outcome, a two-sided Page-Hinkley also gets the outcome value
   (standardised by the rule's evidence: centred on the mean under the rule, in units of the rule's mean shift).
   A detector alarm *counts* while it lies inside the window, and beyond that until the rule is back to ``ok``.
3. If ``fired >= min_fired``, the check counts: the hit count is *outside* when it lies outside the expected range
   (level ``alpha``), *inside* when it lies in the narrower central range of level ``alpha_ok`` — in between it is
   neither, and breaks both streaks. Two thresholds, as in a Schmitt trigger: a window too small to tell (its range
   wide enough to hold almost anything) does not bring a drifted rule back.
4. The state moves (hysteresis)::

       ok       → warning   the check is outside
       ok       → drift     the check is outside, it is the drift_after-th outside check in a row, and a detector
                            alarm counts (possible when drift_after = 1)
       warning  → drift     drift_after outside checks in a row AND a detector alarm counts
       warning  → ok        ok_after inside checks in a row
       drift    → ok        ok_after inside checks in a row
       ok, warning → drift  the sequential test alarms (any firing, see below)

The sequential test (issue 11)
------------------------------
Beside the window, each firing feeds the rule's Bernoulli CUSUM (:mod:`leanlearn.online.sequential`; ``p0`` = the
pack's lower confidence bound, threshold calibrated to ``false_alarms_per_million`` with the pack's coverage). Its
alarm drives ``drift`` at once — from ``ok`` or ``warning``, even before the window holds ``min_fired`` firings — with
these rules, the same in both paths, to keep the hysteresis coherent:

- an alarm acts only once the rule has *held on this line* (one inside check since the start): a rule outside from
  the very first check never held here and stays at ``warning`` (no change happened; ADWIN agrees);
- a check counts as inside only when its window starts after the last acting alarm: the firings from before the
  change cannot bring the rule back to ``ok``; it returns after ``ok_after`` inside checks of post-alarm windows;
- the transition's ``test`` is ``"sequential"``, ``detected_at`` the alarm's event, and ``change_fired`` /
  ``change_hits`` the evidence since the CUSUM's estimated change point.

The expected range (our choice, documented)
-------------------------------------------
The pack gives the rule's confidence with a 95 % interval ``ci = (a, b)`` from ``n`` rows. A window with ``m``
firings sees ``H ~ Binomial(m, p)`` hits for the true confidence ``p``; we accept every hit count that is central
(two-sided level ``1 - alpha``) for *some* ``p`` in ``[a, b]``. Binomial quantiles grow with ``p``, so the range is
``[binom.ppf(alpha/2, m, a), binom.ppf(1 - alpha/2, m, b)]``: the pack's interval widened by the exact sampling
noise of ``m`` firings — wide for a small window, close to ``ci`` for a large one. Reported as confidences, the
range divided by ``m``. For numeric rules ``confidence`` is the share of firings worse than the overall median
(the rule's binary evidence), and the window mean of the outcome is reported beside it.

Why integer counts and not River's ``utils.Rolling(stats.Mean)``: counts are exact, so a window's statistics do not
depend on how the stream was cut into batches (River's rolling mean adds and subtracts floats, and the per-event and
batched paths would disagree in the last bits). River does what it is best at here: the drift detectors.

The batched path (:meth:`RuleTracker.update_many`) keeps only the firings (numpy arrays), computes every window count
with cumulative sums and binary search, feeds the detectors the firings in order, and walks the state machine from
one transition to the next with ``searchsorted`` over precomputed streaks — no per-event Python. It gives the same
states and transitions as calling :meth:`RuleTracker.update` event by event (property-tested).

The per-event path keeps its window as a deque of Python tuples and reads the expected-range tables through
memoryviews (Python ints, no numpy scalars): 1.9 µs per firing instead of 4.3 (one rule, window 10,000 events with
250 firings, on the shared 2-core machine; River's ADWIN update is 0.6 µs of it). A window holding more than
:data:`DEQUE_MAX` firings (10,000; about 170 bytes each in that form) goes back to the numpy buffer (25 bytes each).

Examples
--------
>>> from leanlearn.mining.rules import Condition, Rule
>>> rule = Rule((Condition("x", ">", 1.0),), Condition("y", "==", 1), support=0.1, coverage=0.1, confidence=0.9,
...             lift=4.5, leverage=0.08, conviction=8.0, n=500, hits=450, p_value=1e-9, p_value_raw=1e-10,
...             ci=(0.87, 0.92), base_rate=0.2, id="R1")
>>> import random
>>> rng = random.Random(0)
>>> tracker = RuleTracker(rule, window=500)
>>> tracker
RuleTracker(rule='R1', settings=TrackerSettings(window=Window('500 events')))
>>> for i in range(20_000):  # the rule fires on 10 % of events; from event 10,000 on the outcome follows half the time
...     fires = rng.random() < 0.1
...     _ = tracker.update(fires, rng.random() < (0.9 if i < 10_000 else 0.5))
>>> tracker.state
'drift'
>>> [(t.event, t.previous, t.state, f"{t.confidence:.0%}", t.test) for t in tracker.pop_transitions()]
[(10271, 'ok', 'drift', '72%', 'sequential')]
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from leanlearn.mining.rules import Rule
from leanlearn.online.base import MonitorError, OnlineBase
from leanlearn.online.buffers import EventBuffer
from leanlearn.online.detectors import DriftDetector
from leanlearn.online.sequential import BernoulliCusum, SequentialAlarm, wilson
from leanlearn.online.settings import TrackerSettings, Window

State = Literal["ok", "warning", "drift"]
OK: State = "ok"
WARNING: State = "warning"
DRIFT: State = "drift"
STATES: tuple[State, ...] = (OK, WARNING, DRIFT)
NO_POSITION = -(2**62)  # "never": far below any position, yet safe to subtract a window from
DETECTORS = ("", "adwin", "page_hinkley")  # codes of the detector behind the latest alarm (0: none yet)
MIN_P0 = 1e-3  # a rule whose lower confidence bound is below this cannot drop: no sequential test
MAX_P0 = 1 - 1e-4  # a lower bound of 1 (degenerate evidence) is read as this: one miss is not yet an alarm
_NAN = float("nan")
DEQUE_MAX = 10_000  # the per-event path keeps at most this many firings as Python tuples (about 170 bytes each)


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of a rule's state, with the window as it was at that check.

    ``low`` and ``high`` bound the expected hit count for ``fired`` firings; ``mean`` is the window mean of a
    numeric outcome under the rule (``None`` for binary rules); ``detected_at`` is the event of the detector alarm
    that counts (``None`` if there is none). ``test`` names what made the change: ``"sequential"`` (the CUSUM of
    :mod:`leanlearn.online.sequential` alarmed), ``"adwin"`` or ``"page_hinkley"`` (outside checks in a row with
    that detector's alarm), ``"interval"`` (the windowed check alone: to ``warning``, or back to ``ok``). For a
    sequential alarm, ``change_fired`` and ``change_hits`` are the firings and hits since the estimated change point.
    """

    event: int
    position: int
    previous: State
    state: State
    fired: int
    hits: int
    low: int
    high: int
    mean: float | None
    detected_at: int | None
    test: str = "interval"
    change_fired: int | None = None
    change_hits: int | None = None

    @property
    def confidence(self) -> float:
        return self.hits / self.fired

    @property
    def change_confidence(self) -> float | None:
        """Confidence since the estimated change point (sequential alarms)."""
        return None if not self.change_fired or self.change_hits is None else self.change_hits / self.change_fired

    @property
    def change_interval(self) -> tuple[float, float] | None:
        """Wilson 95 % interval of :attr:`change_confidence`."""
        if not self.change_fired or self.change_hits is None:
            return None
        return wilson(self.change_hits, self.change_fired)

    @property
    def expected(self) -> tuple[float, float]:
        return self.low / self.fired, self.high / self.fired


def window_mean(values: Sequence[float]) -> float:
    """The exact mean of ``values`` (not empty): :func:`math.fsum`, scaled first when the sum overflows.

    >>> window_mean([1e308, 1e308]), window_mean([0.1, 0.2])
    (1e+308, 0.15000000000000002)
    """
    try:
        return math.fsum(values) / len(values)
    except OverflowError:  # an intermediate sum beyond the float range: each value scaled down first
        n = len(values)
        return math.fsum(v / n for v in values)


def binomial_quantiles(size: int, p: float, q: float) -> np.ndarray:
    """For m = 0 … size-1: the smallest k with P(Binomial(m, p) <= k) >= q (as ``scipy.stats.binom.ppf``).

    Plain numpy (scipy.stats takes most of a second to import, at the start of every monitor process): the pmf from
    log-factorials on a band of ±(10 sd + 30) around the mean (the mass outside is below 1e-20), summed.

    >>> binomial_quantiles(6, 0.5, 0.025).tolist(), binomial_quantiles(6, 0.5, 0.975).tolist()
    ([0, 0, 0, 0, 0, 0], [0, 1, 2, 3, 4, 5])
    """
    m = np.arange(size)
    if p <= 0.0:
        return np.zeros(size, np.int64)
    if p >= 1.0:
        return m.astype(np.int64)
    logfact = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, size + 1, dtype=float)))))
    sd = np.sqrt(m * p * (1 - p))
    start = np.maximum(np.floor(m * p - 10 * sd - 30), 0).astype(np.int64)
    band = int(np.ceil(20 * sd.max() + 62)) if size else 1
    out = np.empty(size, np.int64)
    log_p, log_q = np.log(p), np.log1p(-p)
    step = max(1, 2_000_000 // band)
    for first in range(0, size, step):  # chunks keep the (m, k) grid small
        mm = m[first:first + step, None]
        k = start[first:first + step, None] + np.arange(band)[None, :]
        valid = k <= mm
        kk = np.minimum(k, mm)
        logpmf = logfact[mm] - logfact[kk] - logfact[mm - kk] + kk * log_p + (mm - kk) * log_q
        cdf = np.cumsum(np.where(valid, np.exp(logpmf), 0.0), axis=1)
        reached = cdf >= q * (1 - 1e-12)
        idx = np.where(reached.any(axis=1), reached.argmax(axis=1), band - 1)
        out[first:first + step] = np.minimum(start[first:first + step] + idx, m[first:first + step])
    return out


def _streaks(outside: np.ndarray, inside: np.ndarray, carry_out: int, carry_in: int) -> tuple[np.ndarray, np.ndarray]:
    """Per check: outside checks in a row ending there, and inside checks in a row ending there (with carry-in)."""
    n = len(outside)
    idx = np.arange(n)
    not_out = np.maximum.accumulate(np.where(~outside, idx, -1))  # last check that was not outside
    not_in = np.maximum.accumulate(np.where(~inside, idx, -1))
    out_streak = np.where(outside, idx - not_out + np.where(not_out < 0, carry_out, 0), 0)
    in_streak = np.where(inside, idx - not_in + np.where(not_in < 0, carry_in, 0), 0)
    return out_streak, in_streak


class RuleTracker(OnlineBase):
    """Tracks one rule's windowed confidence, drift detectors and state (River-style online object).

    Parameters
    ----------
    rule : Rule
        The rule, with its evidence (``ci`` gives the expected interval; ``shift`` marks a numeric outcome).
    settings : TrackerSettings, optional
        Window, levels, streak lengths and detector parameters (see
        :class:`~leanlearn.online.settings.TrackerSettings`; default: its defaults). A time window's span is in
        nanoseconds, and the caller passes timestamps as positions.
    window : int, str or Window, optional
        Shortcut for ``settings.replace(window=...)``.

    Attributes
    ----------
    state : {"ok", "warning", "drift"}
    n_events, n_fired, n_hits, n_detections : int
        Events seen (when the caller does not number them), firings, hits and detector alarms so far.
    """

    def __init__(self, rule: Rule, settings: TrackerSettings | None = None, *,
                 window: int | str | Window | None = None) -> None:
        settings = TrackerSettings() if settings is None else settings
        if not isinstance(settings, TrackerSettings):
            raise MonitorError(f"settings must be a TrackerSettings, not {type(settings).__name__}")
        if window is not None:
            settings = settings.replace(window=window)
        self.rule = rule
        self.settings = settings
        self._span = settings.window.span
        self._min_fired = settings.min_fired
        self._drift_after = settings.drift_after
        self._ok_after = settings.ok_after
        self.numeric = rule.shift is not None
        if rule.shift is not None:
            self._center = float(rule.shift.mean)
            scale = abs(rule.shift.mean - rule.shift.mean_overall)
            self._scale = float(scale) if scale > 0 and math.isfinite(scale) else 1.0
        self._low = np.zeros(0, np.int64)
        self._high = np.zeros(0, np.int64)
        self._low_ok = np.zeros(0, np.int64)
        self._high_ok = np.zeros(0, np.int64)
        self._ranges: tuple[Any, Any, Any, Any] = (self._low.data, self._high.data,
                                                   self._low_ok.data, self._high_ok.data)
        self.sequential_params = self._sequential_params()
        self.reset()

    def _sequential_params(self) -> tuple[float, float, float] | None:
        """``(p0, p1, arl)`` of the rule's sequential test, or ``None`` when it is off (see the module notes)."""
        far = self.settings.false_alarms_per_million
        p0 = float(self.rule.ci[0])
        if far <= 0 or not math.isfinite(p0) or p0 < MIN_P0:
            return None
        p0 = min(p0, MAX_P0)
        coverage = float(self.rule.coverage)
        rate = coverage if math.isfinite(coverage) and 0 < coverage <= 1 else 1.0
        return p0, max(p0 - self.settings.sequential_shift, p0 / 2), rate * 1e6 / far

    def params(self) -> dict[str, Any]:
        """``{"rule": ..., "settings": ...}`` (a ``window`` shortcut is folded into the settings)."""
        return {"rule": self.rule, "settings": self.settings}

    def _repr_value(self, name: str, value: Any) -> str:
        return repr(value.id or value.text) if name == "rule" else repr(value)

    # -- state ----------------------------------------------------------------------------------------------
    def reset(self) -> RuleTracker:
        """Forget everything seen (the state is ``ok`` again)."""
        self.state: State = OK
        self.n_events = 0
        self.n_fired = 0
        self.n_hits = 0
        self.n_detections = 0
        self.since: int | None = None  # event of the last transition
        self._buf = EventBuffer()
        self._q: deque[tuple[int, int, int, float]] | None = None  # the window as the per-event path keeps it
        self._h = 0
        self._out = 0
        self._in = 0
        self._floor = -1
        self._det_event = -1
        self._det_position = NO_POSITION
        self._det_kind = 0
        self._held = False  # one check inside since the start: a sequential alarm is a change, not "never held"
        self._seq_pos = NO_POSITION  # position of the last sequential alarm that acted
        s = self.settings
        self._seq = None if self.sequential_params is None else BernoulliCusum(*self.sequential_params)
        self._adwin = DriftDetector.adwin(s.adwin_delta, s.adwin_clock)
        self._ph = DriftDetector.page_hinkley(s.ph_delta, s.ph_threshold) if self.numeric else None
        self._pending: list[Transition] = []
        return self

    @property
    def sequential(self) -> BernoulliCusum | None:
        """The rule's sequential test (``None`` when off: ``false_alarms_per_million=0`` or no lower bound)."""
        return self._seq

    # The window lives in one of two forms: an EventBuffer of numpy columns (the batched path, saving) or, while
    # events come one at a time, a deque of (event, position, hit, value) tuples of Python numbers (no numpy scalar
    # boxing per firing; at most DEQUE_MAX firings, beyond that the per-event path works on the buffer too). Each
    # path converts the other's form on first use (O(window), once per switch); the content is the same either way.
    @property
    def _tail(self) -> EventBuffer:
        if self._q is not None:
            self._to_buffer()
        return self._buf

    @_tail.setter
    def _tail(self, buf: EventBuffer) -> None:
        self._buf, self._q = buf, None

    def _to_buffer(self) -> None:
        """Move the window from the deque to the numpy buffer."""
        q = self._q
        if q is None:
            return
        buf = EventBuffer(capacity=max(64, 2 * len(q)))
        if q:
            event, position, hit, value = zip(*q, strict=True)
            buf.extend(event, position, hit, value)
        self._buf, self._q = buf, None

    def _deque(self) -> deque[tuple[int, int, int, float]]:
        """The window as a deque of Python tuples (converted from the buffer when the batched path had it)."""
        if self._q is None:
            buf = self._buf
            self._q = deque(zip(buf.event.tolist(), buf.position.tolist(), buf.hit.tolist(), buf.value.tolist(),
                                strict=True))
        return self._q

    def pop_transitions(self) -> list[Transition]:
        """The transitions since the last call, oldest first."""
        out, self._pending = self._pending, []
        return out

    def _bounds(self, m: int) -> None:
        """Make the expected-range tables cover ``m`` firings."""
        if m < len(self._low):
            return
        size = max(2 * len(self._low), m + 1, 64)
        a, b = self.rule.ci
        a, b = min(max(a, 0.0), 1.0), min(max(b, 0.0), 1.0)
        alpha, alpha_ok = self.settings.alpha, self.settings.alpha_ok
        self._low = binomial_quantiles(size, a, alpha / 2)
        self._high = np.maximum(binomial_quantiles(size, b, 1 - alpha / 2), self._low)
        self._low_ok = np.clip(binomial_quantiles(size, a, alpha_ok / 2), self._low, self._high)
        self._high_ok = np.clip(binomial_quantiles(size, b, 1 - alpha_ok / 2), self._low_ok, self._high)
        # what the per-event path reads: memoryviews, whose items are Python ints (no numpy scalar), without a copy
        self._ranges = (self._low.data, self._high.data, self._low_ok.data, self._high_ok.data)

    def expected_range(self, fired: int) -> tuple[int, int]:
        """The hit counts judged inside for a window with ``fired`` firings."""
        self._bounds(fired)
        return int(self._low[fired]), int(self._high[fired])

    def window_counts(self, position: int | None = None) -> tuple[int, int]:
        """``(fired, hits)`` in the window ending at ``position`` (default: the last firing)."""
        if position is None:
            return (len(self._q) if self._q is not None else len(self._buf)), self._h
        tail = self._tail
        if not len(tail):
            return 0, self._h
        k = int(np.searchsorted(tail.position, position - self._span, side="right"))
        return len(tail) - k, int(tail.hit[k:].sum(dtype=np.int64))

    def window_mean(self, position: int | None = None) -> float | None:
        """Mean of the numeric outcome over the firings in the window (``None`` for binary rules or none)."""
        if not self.numeric:
            return None
        tail = self._tail
        k = 0 if position is None else int(np.searchsorted(tail.position, position - self._span, side="right"))
        values = tail.value[k:]
        return window_mean(values.tolist()) if len(values) else None

    def _step(self, outside: bool, latched: bool) -> State:
        state = self.state
        if state == OK:
            if outside:
                return DRIFT if (latched and self._out >= self._drift_after) else WARNING
        elif state == WARNING:
            if latched and self._out >= self._drift_after:
                return DRIFT
            if self._in >= self._ok_after:
                return OK
        elif self._in >= self._ok_after:
            return OK
        return state

    # -- one event ------------------------------------------------------------------------------------------
    def update(self, fired: bool, outcome: bool, value: float | None = None, *, event: int | None = None,
               position: int | None = None) -> RuleTracker:
        """Learn one event: whether the rule fired and whether its outcome held (``value``: the numeric outcome).

        ``event`` numbers the event in the stream (default: events counted by this tracker); ``position`` places
        it on the window's axis (default: ``event``; a timestamp in ns for time-based windows).
        """
        e = self.n_events if event is None else int(event)
        if not fired:
            self.n_events = e + 1
            return self
        self.fire(e, e if position is None else int(position), outcome, _NAN if value is None else float(value))
        return self

    def fire(self, e: int, p: int, outcome: bool, x: float) -> bool:
        """Learn one firing: event number ``e``, position ``p``, whether the outcome held, its value (NaN for binary
        outcomes); return whether it moved the state (the transition waits in :meth:`pop_transitions`).

        :meth:`update` for a firing, without its conversions: the per-event path of the monitor calls it directly.
        """
        self.n_events = e + 1
        hit = 1 if outcome else 0
        q = self._q
        if q is None:
            if len(self._buf) < DEQUE_MAX // 2:
                q = self._deque()
        elif len(q) >= DEQUE_MAX:  # a window this full goes back to the compact numpy form
            self._to_buffer()
            q = None
        h = self._h + hit
        self.n_fired += 1
        self.n_hits += hit
        cut = p - self._span
        if q is not None:
            q.append((e, p, hit, x))
            while q[0][1] <= cut:
                h -= q.popleft()[2]
            m, first = len(q), q[0][1]
        else:
            buf = self._buf
            buf.append(e, p, hit, x)
            while buf.first_position() <= cut:
                h -= buf.first_hit()
                buf.drop_first(1)
            m, first = len(buf), buf.first_position()
        self._h = h
        kind = 1 if self._adwin.update(1.0 if hit else 0.0) else 0
        if self._ph is not None and self._ph.update((x - self._center) / self._scale):
            kind = kind or 2
        if kind:
            self.n_detections += 1
            self._det_event, self._det_position, self._det_kind = e, p, kind
        seq = self._seq
        if seq is None or (hit and not seq.value and not seq.run_fired):
            alarm = None  # a hit on a CUSUM at zero leaves it at zero (what seq.update would do, without the call)
        else:
            alarm = seq.update(hit == 1)
        act = alarm if self._held else None
        if act is not None:
            self._seq_pos = p
        lows, highs, lows_ok, highs_ok = self._ranges
        if m >= len(lows):
            self._bounds(m)
            lows, highs, lows_ok, highs_ok = self._ranges
        if m < self._min_fired:
            if act is not None and self.state != DRIFT:
                latched = self._det_position > cut or self._det_event > self._floor
                self._transition(e, p, DRIFT, m, h, lows[m], highs[m], latched, act)
                return True
            return False
        low, high = lows[m], highs[m]
        if h < low or h > high:
            outside, inside = True, False
        else:
            outside = False
            inside = alarm is None and lows_ok[m] <= h <= highs_ok[m] and first > self._seq_pos
        if outside:
            self._out += 1
        elif self._out:
            self._out = 0
        if inside:
            self._in += 1
            self._held = True
        elif self._in:
            self._in = 0
        state = self.state
        if act is None and state == OK and not outside:
            return False  # the usual check: nothing can move (ok stays ok unless outside or a sequential alarm)
        latched = self._det_position > cut or self._det_event > self._floor
        new = DRIFT if act is not None else self._step(outside, latched)
        if new != state:
            self._transition(e, p, new, m, h, low, high, latched, act)
            return True
        return False

    def _transition(self, e: int, p: int, new: State, m: int, h: int, low: int, high: int, latched: bool,
                    alarm: SequentialAlarm | None) -> None:
        """Record the per-event path's transition to ``new`` at event ``e`` (window of ``m`` firings, ``h`` hits)."""
        mean = None
        if self.numeric:
            q = self._q
            mean = window_mean([v[3] for v in q] if q is not None else self._buf.value.tolist())
        test = "sequential" if alarm is not None else DETECTORS[self._det_kind] if new == DRIFT else "interval"
        detected = e if alarm is not None else self._det_event if latched else None
        self._pending.append(Transition(e, p, self.state, new, m, h, low, high, mean, detected, test,
                                        None if alarm is None else alarm.fired,
                                        None if alarm is None else alarm.hits))
        if new == OK:
            self._floor = e
        self.state = new
        self.since = e

    # -- many events ----------------------------------------------------------------------------------------
    def update_many(self, fired: np.ndarray, outcome: np.ndarray, value: np.ndarray | None = None, *,
                    events: np.ndarray | None = None, positions: np.ndarray | None = None) -> RuleTracker:
        """Learn a micro-batch: the same result as :meth:`update` on each event in turn.

        Parameters
        ----------
        fired, outcome : array of bool
            Per event: the rule fires; its outcome holds.
        value : array of float, optional
            The numeric outcome (numeric rules).
        events, positions : array of int, optional
            Event numbers and window positions (defaults as in :meth:`update`).
        """
        fired = np.asarray(fired, dtype=bool)
        n = len(fired)
        ev = np.arange(self.n_events, self.n_events + n, dtype=np.int64) if events is None else np.asarray(events,
                                                                                                           np.int64)
        if n:
            self.n_events = int(ev[-1]) + 1
        idx = np.flatnonzero(fired)
        pos = ev[idx] if positions is None else np.asarray(positions, np.int64)[idx]
        hit = np.asarray(outcome, dtype=bool)[idx].astype(np.int8)
        val = np.full(len(idx), np.nan) if value is None else np.asarray(value, dtype=float)[idx]
        self._update_firings(ev[idx], pos, hit, val)
        return self

    def _update_firings(self, ev: np.ndarray, pos: np.ndarray, hit: np.ndarray, val: np.ndarray) -> None:
        """Learn the firings of a micro-batch only: their events, positions, hits (0/1) and values, in order."""
        M = len(ev)
        if M == 0:
            return
        self.n_events = max(self.n_events, int(ev[-1]) + 1)
        W = self._span
        tail = self._tail
        T = len(tail)
        all_pos = np.concatenate((tail.position, pos))
        cum = np.zeros(T + M + 1, np.int64)
        np.cumsum(np.concatenate((tail.hit, hit)), out=cum[1:])
        lo = np.searchsorted(all_pos, pos - W, side="right")
        end = np.arange(T + 1, T + M + 1)
        fired_w = end - lo
        hits_w = cum[end] - cum[lo]

        adwin = self._adwin.update_many(hit.astype(np.float64).tolist())
        alarms = adwin
        if self._ph is not None:
            alarms = sorted(set(alarms) | set(self._ph.update_many(((val - self._center) / self._scale).tolist())))
        self.n_detections += len(alarms)
        if alarms:  # event, position and detector of the latest alarm at each firing
            det = np.zeros(M, dtype=bool)
            det[alarms] = True
            codes = np.full(M, 2, np.int8)
            codes[adwin] = 1
            last_e = np.maximum(np.maximum.accumulate(np.where(det, ev, -1)), self._det_event)
            last_p = np.maximum(np.maximum.accumulate(np.where(det, pos, NO_POSITION)), self._det_position)
            at = np.maximum.accumulate(np.where(det, np.arange(M), -1))
            last_k = np.where(at >= 0, codes[np.maximum(at, 0)], self._det_kind).astype(np.int8)
        else:
            last_e = np.full(M, self._det_event, dtype=np.int64)
            last_p = np.full(M, self._det_position, dtype=np.int64)
            last_k = np.full(M, self._det_kind, dtype=np.int8)
        seq = [] if self._seq is None else self._seq.update_many(hit.astype(bool))

        checks = fired_w >= self._min_fired
        V = np.arange(M) if checks.all() else np.flatnonzero(checks)
        if len(V):
            mv = fired_w[V]
            self._bounds(int(mv.max()))
            low, high = self._low[mv], self._high[mv]
            hv = hits_w[V]
            outside = (hv < low) | (hv > high)
            inside = (hv >= self._low_ok[mv]) & (hv <= self._high_ok[mv])
            if seq:  # a check at a sequential alarm is not inside (it breaks the streak back to ok)
                at_alarm = np.array([a.index for a in seq], np.int64)
                k = np.searchsorted(V, at_alarm)
                k = k[k < len(V)]
                inside[k[V[k] == at_alarm[:len(k)]]] = False
            if not self._held:  # alarms before the first inside check do not act (the rule never held here)
                held_at = int(V[int(np.argmax(inside))]) if inside.any() else M
                seq = [a for a in seq if a.index > held_at]
                self._held = bool(inside.any())
            if seq or self._seq_pos > NO_POSITION:  # inside only once the window starts after the last alarm
                acted = np.full(M, NO_POSITION, np.int64)
                acted[[a.index for a in seq]] = pos[[a.index for a in seq]]
                last_seq = np.maximum(np.maximum.accumulate(acted), self._seq_pos)
                inside &= all_pos[lo[V]] > last_seq[V]
            if not seq and not outside.any() and inside.all():  # the usual case: every check inside
                self._out = 0
                self._in += len(V)
                if self.state != OK and self._in >= self._ok_after:
                    in_streak = self._in - len(V) + 1 + np.arange(len(V))
                    self._walk(V, outside, np.zeros(len(V), np.int64), in_streak, ev, pos, last_e, last_p, last_k,
                               fired_w, hits_w, lo, end, val if self.numeric else None, seq)
            else:
                out_streak, in_streak = _streaks(outside, inside, self._out, self._in)
                self._walk(V, outside, out_streak, in_streak, ev, pos, last_e, last_p, last_k, fired_w, hits_w,
                           lo, end, val if self.numeric else None, seq)
                self._out, self._in = int(out_streak[-1]), int(in_streak[-1])
        elif seq and self._held:
            empty = np.zeros(0, np.int64)
            self._walk(V, np.zeros(0, bool), empty, empty, ev, pos, last_e, last_p, last_k, fired_w, hits_w, lo, end,
                       val if self.numeric else None, seq)

        self._det_event, self._det_position, self._det_kind = int(last_e[-1]), int(last_p[-1]), int(last_k[-1])
        if seq and self._held:
            self._seq_pos = max(self._seq_pos, int(pos[seq[-1].index]))
        self.n_fired += M
        self.n_hits += int(hit.sum(dtype=np.int64))
        tail.extend(ev, pos, hit, val)
        tail.drop_first(int(lo[-1]))
        self._h = int(cum[end[-1]] - cum[lo[-1]])

    def _walk(self, V: np.ndarray, outside: np.ndarray, out_streak: np.ndarray, in_streak: np.ndarray,
              ev: np.ndarray, pos: np.ndarray, last_e: np.ndarray, last_p: np.ndarray, last_k: np.ndarray,
              fired_w: np.ndarray, hits_w: np.ndarray, lo: np.ndarray, end: np.ndarray, val: np.ndarray | None,
              seq: list[SequentialAlarm]) -> None:
        """Run the state machine over the checks ``V`` and the sequential alarms ``seq``, jumping from one
        transition to the next (arrays without ``V`` are indexed by firing)."""
        W = self._span
        never = len(ev)  # a firing index beyond the batch
        outs = np.flatnonzero(outside)
        ready = np.flatnonzero(in_streak >= self._ok_after)
        candidates = np.flatnonzero(out_streak >= self._drift_after)
        at_alarm = np.array([a.index for a in seq], np.int64)
        vp, vle, vlp = pos[V], last_e[V], last_p[V]
        state, floor, cur = self.state, self._floor, -1
        tail_values = self._tail.value if val is not None else None
        if seq:
            self._bounds(int(fired_w.max()))

        def latched(f: int) -> bool:
            return bool(last_p[f] > pos[f] - W or last_e[f] > floor)

        def first(checks: np.ndarray, i: int) -> int:
            """The firing of the first of ``checks`` (indices into V) at or after check ``i``, else ``never``."""
            k = int(np.searchsorted(checks, i))
            return int(V[checks[k]]) if k < len(checks) else never

        while True:
            i = int(np.searchsorted(V, cur, side="right"))  # the first check after the last transition
            ka = int(np.searchsorted(at_alarm, cur, side="right"))
            fa = int(at_alarm[ka]) if ka < len(at_alarm) else never
            alarm: SequentialAlarm | None = None
            if state == OK:
                fo = first(outs, i)
                f = min(fo, fa)
                if f == never:
                    break
                if fa == f:
                    new: State = DRIFT
                else:
                    j = int(np.searchsorted(V, f))
                    new = DRIFT if (out_streak[j] >= self._drift_after and latched(f)) else WARNING
            elif state == WARNING:
                f1 = first(ready, i)
                k2 = int(np.searchsorted(candidates, i))
                stop = int(np.searchsorted(candidates, np.searchsorted(V, f1))) if f1 < never else len(candidates)
                f2 = never
                if stop > k2:
                    cs = candidates[k2:stop]
                    ok = (vlp[cs] > vp[cs] - W) | (vle[cs] > floor)
                    if ok.any():
                        f2 = int(V[cs[int(np.argmax(ok))]])
                f = min(f1, f2, fa)
                if f == never:
                    break
                new = DRIFT if f in (f2, fa) else OK
            else:
                f = first(ready, i)
                if f == never:
                    break
                new = OK
            if fa == f and new == DRIFT:
                alarm = seq[ka]
            m = int(fired_w[f])
            mean = None
            if val is not None and tail_values is not None:
                window_values: np.ndarray = np.concatenate((tail_values, val))[lo[f]:end[f]]
                mean = window_mean(window_values.tolist())
            is_latched = latched(f)
            test = "sequential" if alarm is not None else DETECTORS[int(last_k[f])] if new == DRIFT else "interval"
            self._pending.append(Transition(int(ev[f]), int(pos[f]), state, new, m, int(hits_w[f]),
                                            int(self._low[m]), int(self._high[m]), mean,
                                            int(ev[f]) if alarm is not None else int(last_e[f]) if is_latched
                                            else None, test,
                                            None if alarm is None else alarm.fired,
                                            None if alarm is None else alarm.hits))
            if new == OK:
                floor = int(ev[f])
            state = new
            self.since = int(ev[f])
            cur = f
        self.state, self._floor = state, floor

    # -- saving ---------------------------------------------------------------------------------------------
    def trim(self, position: int) -> None:
        """Drop the firings that left the window ending at ``position`` (what the next check would drop anyway)."""
        cut = position - self._span
        q = self._q
        if q is not None:  # the per-event form: drop from the left, the hit count follows
            h = self._h
            while q and q[0][1] <= cut:
                h -= q.popleft()[2]
            self._h = h
            return
        n = self._buf.drop_through(cut)
        if n:
            self._h = int(self._buf.hit.sum(dtype=np.int64))

    def to_json(self) -> dict[str, Any]:
        """Settings and everything learned, as a JSON-ready document (no pickle; see
        :mod:`leanlearn.online.detectors`)."""
        return {
            "rule": self.rule.id,
            "settings": self.settings.to_json(),
            "state": self.state,
            "since": self.since,
            "n_events": self.n_events,
            "n_fired": self.n_fired,
            "n_hits": self.n_hits,
            "n_detections": self.n_detections,
            "out_streak": self._out,
            "in_streak": self._in,
            "floor": self._floor,
            "detected_event": self._det_event,
            "detected_position": self._det_position,
            "window": self._tail.to_json(),
            "adwin": self._adwin.to_json(),
            "page_hinkley": None if self._ph is None else self._ph.to_json(),
            "detected_kind": DETECTORS[self._det_kind],
            "held": self._held,
            "sequential_position": self._seq_pos,
            "sequential": None if self._seq is None else self._seq.to_json(),
        }

    @classmethod
    def from_json(cls, doc: Any, rule: Rule) -> RuleTracker:
        """Rebuild a tracker saved by :meth:`to_json` for ``rule`` (the same rule: its id is checked).

        Raises
        ------
        MonitorError
            The document is not a tracker state of this rule, or a value in it is damaged.
        """
        if not isinstance(doc, dict):
            raise MonitorError(f"the saved state of rule {rule.id!r} is not a JSON object")
        if doc.get("rule") != rule.id:
            raise MonitorError(f"the saved monitor state tracks rule {doc.get('rule')!r} where the pack has "
                               f"{rule.id!r}")
        try:
            tracker = cls(rule, TrackerSettings.from_json(doc["settings"]))
            state = doc["state"]
            if state not in STATES:
                raise ValueError(f"state {state!r}")
            since = doc["since"]
            counts = {k: _count(doc[k], k) for k in ("n_events", "n_fired", "n_hits", "n_detections", "out_streak",
                                                     "in_streak")}
            tail = EventBuffer.from_json(doc["window"])
            adwin = DriftDetector.from_json(doc["adwin"])
            ph = None if doc.get("page_hinkley") is None else DriftDetector.from_json(doc["page_hinkley"])
            floor, det_event, det_position = (_integer(doc[k], k) for k in ("floor", "detected_event",
                                                                             "detected_position"))
            kind = doc.get("detected_kind", "adwin" if det_event >= 0 else "")  # absent before issue 11
            if kind not in DETECTORS:
                raise ValueError(f"detected_kind {kind!r}")
            seq = tracker._seq
            if doc.get("sequential") is not None:  # absent before issue 11: the test starts from zero
                seq = BernoulliCusum.from_json(doc["sequential"])
                if (seq.p0, seq.p1, seq.arl) != tracker.sequential_params:
                    raise ValueError("the sequential test was calibrated for other evidence or settings")
        except MonitorError as exc:
            raise MonitorError(f"the saved state of rule {rule.id!r} is damaged: {exc}") from None
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            what = f"{exc} is missing" if isinstance(exc, KeyError) else str(exc)
            raise MonitorError(f"the saved state of rule {rule.id!r} is damaged ({what})") from None
        if (ph is None) == tracker.numeric:
            raise MonitorError(f"the saved state of rule {rule.id!r} does not match the rule (numeric outcome or not)")
        tracker.state = state
        tracker.since = None if since is None else _integer(since, "since")
        tracker.n_events, tracker.n_fired, tracker.n_hits = counts["n_events"], counts["n_fired"], counts["n_hits"]
        tracker.n_detections = counts["n_detections"]
        tracker._out, tracker._in = counts["out_streak"], counts["in_streak"]
        tracker._floor, tracker._det_event, tracker._det_position = floor, det_event, det_position
        tracker._tail = tail
        tracker._h = int(tail.hit.sum(dtype=np.int64))
        tracker._adwin, tracker._ph = adwin, ph
        tracker._det_kind, tracker._seq = DETECTORS.index(kind), seq
        tracker._held = bool(doc.get("held", True))  # absent before issue 11: a resumed rule has been seen
        tracker._seq_pos = _integer(doc.get("sequential_position", NO_POSITION), "sequential_position")
        return tracker


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**63 - 1:
        raise ValueError(f"{name}={value!r} is not an integer")
    return value


def _count(value: Any, name: str) -> int:
    if _integer(value, name) < 0:
        raise ValueError(f"{name}={value!r} is negative")
    return int(value)
