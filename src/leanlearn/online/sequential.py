"""A sequential test on a rule's own firings: the Bernoulli CUSUM behind the monitor's fast ``drift`` verdicts.

The windowed interval and ADWIN (:mod:`leanlearn.online.trackers`) need a window's worth of firings before they can
tell; a rule that fires on 1 % of events gives them a handful per window. A CUSUM accumulates the evidence of every
firing since the last time the rule looked fine, and calls a drop within a few firings of its size.

The test
--------
Each firing of the rule is a Bernoulli trial: the outcome holds (a *hit*) or not (a *miss*). Against the in-control
confidence ``p0`` (the monitor uses the pack's lower 95 % bound of the rule's confidence, ``rule.ci[0]``: a rule
holding at anything the pack deems plausible is at or above it) and the alternative ``p1 = max(p0 - shift, p0 / 2)``
(``shift`` = ``TrackerSettings.sequential_shift``, default 0.2), a firing's log-likelihood ratio is
``log(p1 / p0) < 0`` for a hit and ``log((1 - p1) / (1 - p0)) > 0`` for a miss. Page's CUSUM adds them up, floored at
zero, and alarms when the sum reaches a threshold ``h``; it then starts again from zero.

The scores are *integers*: the two ratios are scaled so the smaller is :data:`RESOLUTION` (4) and rounded (a hit
scores ``-score_hit``, a miss ``+score_miss``). Integer sums are exact, so the per-event and batched paths agree to
the bit (floats summed in another order would not), and they make the calibration exact.

Calibration
-----------
The user gives a false-alarm rate ``f`` per rule per million events (``TrackerSettings.false_alarms_per_million``,
default 0.1). A rule that fires on a share ``c`` of events (the pack's ``coverage``) fires ``c * 1e6`` times per
million events, so its CUSUM must run on average ``arl = c * 1e6 / f`` firings between false alarms at ``p = p0``
(with restart at zero after an alarm, alarms form a renewal process: the rate is exactly ``1 / arl`` per firing).
With integer scores the CUSUM is a Markov chain on ``0 … h-1``; its average run length is the solution of one linear
system (``(I - Q) L = 1``), and :func:`calibrate` picks the smallest ``h`` whose exact ARL at ``p0`` reaches ``arl``
(Siegmund's approximation ``h ≈ log(arl)`` only seeds the search). For a rule truly at its pack confidence (above
``p0``) false alarms are rarer than ``f``; for a rule below ``p0`` more frequent — it is then not the rule the pack
says.

The estimated change point is the last firing at which the sum was zero: the alarm reports the firings since then,
the hits among them, their confidence and its Wilson 95 % interval (:class:`SequentialAlarm`).

Numeric outcomes: the test runs on the rule's binary evidence (a firing is a hit when the outcome is worse than the
overall median, see :mod:`leanlearn.online.trackers`); the mean shift itself is watched by Page-Hinkley (a CUSUM on
the standardised value), which is not calibrated to ``f``.

Memory: a few integers per rule, whatever the stream's length.

Examples
--------
>>> cusum = BernoulliCusum(p0=0.95, p1=0.75, arl=100_000)
>>> cusum
BernoulliCusum(p0=0.95, p1=0.75, arl=100000)
>>> cusum.score_hit, cusum.score_miss, cusum.threshold
(4, 27, 150)
>>> alarms = cusum.update_many([True] * 1000 + [True, False, True, False] * 20)  # from firing 1000 on: 50 %
>>> [(a.index, a.fired, a.hits, f"{a.confidence:.0%}") for a in alarms]
[(1013, 13, 6, '46%'), (1027, 13, 6, '46%'), (1041, 13, 6, '46%'), (1055, 13, 6, '46%'), (1069, 13, 6, '46%')]
>>> BernoulliCusum.from_json(cusum.to_json()).to_json() == cusum.to_json()
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from leanlearn.online.base import MonitorError, OnlineBase

__all__ = ["MAX_ARL", "RESOLUTION", "BernoulliCusum", "SequentialAlarm", "arl", "calibrate", "wilson"]

RESOLUTION = 4  # the smaller of the two integer scores
MAX_ARL = 1e12  # firings: beyond this the threshold is a bound no stream reaches
MAX_THRESHOLD = 3_000  # states of the calibration chain (p1 very close to p0 would need more: refused at once)
_Z95 = 1.959963984540054


def wilson(hits: int, fired: int) -> tuple[float, float]:
    """Wilson 95 % interval of ``hits / fired`` (``(0, 1)`` for no firings).

    >>> [round(x, 3) for x in wilson(6, 12)]
    [0.254, 0.746]
    """
    if fired <= 0:
        return 0.0, 1.0
    p, z2 = hits / fired, _Z95 * _Z95
    d = 1 + z2 / fired
    c = (p + z2 / (2 * fired)) / d
    h = _Z95 * math.sqrt(max(p * (1 - p) / fired + z2 / (4 * fired * fired), 0.0)) / d
    return max(0.0, c - h), min(1.0, c + h)


@dataclass(frozen=True, slots=True)
class SequentialAlarm:
    """The CUSUM reached its threshold at firing ``index`` (0-based among the firings given to ``update_many``).

    ``fired`` firings since the estimated change point (the last firing at which the sum was zero), ``hits`` of them
    hits.
    """

    index: int
    fired: int
    hits: int

    @property
    def confidence(self) -> float:
        return self.hits / self.fired if self.fired else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """Wilson 95 % interval of :attr:`confidence`."""
        return wilson(self.hits, self.fired)


def scores(p0: float, p1: float) -> tuple[int, int]:
    """Integer scores ``(hit, miss)``: the log-likelihood ratios scaled so the smaller is :data:`RESOLUTION`.

    >>> scores(0.95, 0.75)
    (4, 27)
    """
    a, b = math.log(p0 / p1), math.log((1 - p1) / (1 - p0))
    k = RESOLUTION / min(a, b)
    return max(1, round(a * k)), max(1, round(b * k))


def arl(p: float, score_hit: int, score_miss: int, threshold: int) -> float:
    """Exact average run length (in firings, from zero) of the integer CUSUM when the confidence is ``p``.

    >>> round(arl(0.5, 1, 1, 2), 6)  # a miss from 1 alarms; from 0 it climbs to 1: the run is 6 firings on average
    6.0
    """
    h = int(threshold)
    if h <= 0:
        return 1.0
    s = np.arange(h)
    q = np.zeros((h, h))
    np.add.at(q, (s, np.maximum(s - score_hit, 0)), p)
    up = s + score_miss
    keep = up < h
    q[s[keep], up[keep]] += 1 - p
    np.fill_diagonal(q, q.diagonal() - 1.0)
    try:
        run = np.linalg.solve(-q, np.ones(h))
    except np.linalg.LinAlgError:  # p = 1: no miss ever
        return math.inf
    return float(run[0]) if np.isfinite(run[0]) and run[0] > 0 else math.inf


@lru_cache(maxsize=4096)
def calibrate(p0: float, p1: float, target: float) -> tuple[int, int, int]:
    """``(score_hit, score_miss, threshold)``: the smallest threshold whose ARL at ``p0`` is at least ``target``.

    >>> calibrate(0.95, 0.75, 100_000)
    (4, 27, 150)
    """
    u, v = scores(p0, p1)
    target = min(max(float(target), 1.0), MAX_ARL)
    a = math.log(p0 / p1) / u  # nats per score unit
    guess = max(1, round(math.log(target) / a))  # Siegmund, to seed the search
    if guess > MAX_THRESHOLD:
        raise MonitorError(f"the sequential test for confidence {p0:.4g} against {p1:.4g} needs a threshold "
                           f"beyond {MAX_THRESHOLD:,} states; raise false_alarms_per_million or sequential_shift")

    def enough(h: int) -> bool:
        return arl(p0, u, v, h) >= target

    if guess > 4:  # log ARL grows almost linearly with the threshold: one secant step lands within a few units
        g2 = max(1, round(guess * 0.8))
        a1, a2 = math.log(arl(p0, u, v, guess)), math.log(arl(p0, u, v, g2))
        if a1 > a2 and math.isfinite(a1):
            guess = max(1, min(MAX_THRESHOLD, round(guess + (math.log(target) - a1) * (guess - g2) / (a1 - a2))))
    step = 1
    if enough(guess):
        hi, lo = guess, guess - step
        while lo > 0 and enough(lo):
            hi, lo, step = lo, lo - step, 2 * step
        lo = max(lo, 0)  # fails (a threshold of 0 alarms at once)
    else:
        lo, hi = guess, min(MAX_THRESHOLD, guess + step)
        while not enough(hi):
            if hi >= MAX_THRESHOLD:
                raise MonitorError(f"the sequential test for confidence {p0:.4g} against {p1:.4g} needs a threshold "
                                   f"beyond {MAX_THRESHOLD:,}; raise false_alarms_per_million or sequential_shift")
            lo, hi, step = hi, min(MAX_THRESHOLD, hi + step), 2 * step
    while hi - lo > 1:  # invariant: lo fails, hi passes
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    return u, v, hi


class BernoulliCusum(OnlineBase):
    """Page's CUSUM for a drop of a Bernoulli rate, with integer scores and an exactly calibrated threshold.

    Parameters
    ----------
    p0 : float
        In-control confidence, in (0, 1).
    p1 : float
        The drop to detect quickly, in (0, p0).
    arl : float
        Average run length at ``p0`` between false alarms, in firings (at least 1; capped at :data:`MAX_ARL`).

    Attributes
    ----------
    score_hit, score_miss, threshold : int
        The calibrated scores and threshold.
    value : int
        The current sum (``0 <= value < threshold``).
    run_fired, run_hits : int
        Firings and hits since the sum was last zero (the estimated change point).
    n_alarms : int
        Alarms so far.
    """

    def __init__(self, p0: float, p1: float, arl: float) -> None:
        for name, x in (("p0", p0), ("p1", p1), ("arl", arl)):
            if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)) or not math.isfinite(x):
                raise MonitorError(f"sequential test: {name}={x!r} is not a finite number")
        if not 0 < p0 < 1:
            raise MonitorError(f"sequential test: p0={p0!r} must lie in (0, 1)")
        if not 0 < p1 < p0:
            raise MonitorError(f"sequential test: p1={p1!r} must lie in (0, p0={p0!r})")
        if arl < 1:
            raise MonitorError(f"sequential test: arl={arl!r} must be at least 1 firing")
        self.p0, self.p1, self.arl = p0, p1, arl
        self.score_hit, self.score_miss, self.threshold = calibrate(float(p0), float(p1), float(arl))
        self.reset()

    def reset(self) -> BernoulliCusum:
        self.value = 0
        self.run_fired = 0
        self.run_hits = 0
        self.n_alarms = 0
        return self

    def update(self, hit: bool) -> SequentialAlarm | None:
        """One firing; the alarm if the sum reached the threshold (the sum then restarts at zero)."""
        s = self.value + (-self.score_hit if hit else self.score_miss)
        if s <= 0:
            self.value, self.run_fired, self.run_hits = 0, 0, 0
            return None
        self.value = s
        self.run_fired += 1
        self.run_hits += 1 if hit else 0
        if s < self.threshold:
            return None
        alarm = SequentialAlarm(0, self.run_fired, self.run_hits)
        self.value, self.run_fired, self.run_hits = 0, 0, 0
        self.n_alarms += 1
        return alarm

    def update_many(self, hits: Sequence[bool] | np.ndarray) -> list[SequentialAlarm]:
        """Many firings in order: the alarms (``index`` = position in ``hits``), as :meth:`update` on each in turn.

        Vectorised: the sum is ``C_t - min(0, min C)`` over the cumulative scores ``C``, searched in chunks that
        grow until an alarm (the sum restarts after it).
        """
        h = np.asarray(hits, dtype=bool)
        n = len(h)
        x = np.where(h, -self.score_hit, self.score_miss).astype(np.int64)
        alarms: list[SequentialAlarm] = []
        start, chunk = 0, 256
        while start < n:
            stop = min(n, start + chunk)
            c = self.value + np.cumsum(x[start:stop])
            s = c - np.minimum(np.minimum.accumulate(c), 0)
            over = np.flatnonzero(s >= self.threshold)
            end = int(over[0]) + 1 if len(over) else stop - start
            zeros = np.flatnonzero(s[:end] == 0)
            hit = h[start:start + end]
            if len(zeros):
                z = int(zeros[-1])
                fired, hits_run = end - z - 1, int(hit[z + 1:].sum())
            else:
                fired, hits_run = self.run_fired + end, self.run_hits + int(hit.sum())
            if len(over):
                alarms.append(SequentialAlarm(start + end - 1, fired, hits_run))
                self.value, self.run_fired, self.run_hits = 0, 0, 0
                self.n_alarms += 1
                chunk = 256
            else:
                self.value, self.run_fired, self.run_hits = int(s[-1]), fired, hits_run
                chunk *= 4
            start += end
        return alarms

    def to_json(self) -> dict[str, Any]:
        """Parameters, calibration and state (the calibration is checked again on load)."""
        return {"kind": "bernoulli_cusum", "p0": self.p0, "p1": self.p1, "arl": self.arl,
                "score_hit": self.score_hit, "score_miss": self.score_miss, "threshold": self.threshold,
                "value": self.value, "run_fired": self.run_fired, "run_hits": self.run_hits,
                "n_alarms": self.n_alarms}

    @classmethod
    def from_json(cls, doc: Any) -> BernoulliCusum:
        """Rebuild from :meth:`to_json` (a damaged document raises :class:`MonitorError`)."""
        if not isinstance(doc, dict) or doc.get("kind") != "bernoulli_cusum":
            raise MonitorError("not a saved sequential test (kind 'bernoulli_cusum')")
        try:
            cusum = cls(doc["p0"], doc["p1"], doc["arl"])
            state = {k: doc[k] for k in ("value", "run_fired", "run_hits", "n_alarms")}
            saved = (doc["score_hit"], doc["score_miss"], doc["threshold"])
        except KeyError as exc:
            raise MonitorError(f"saved sequential test: {exc} is missing") from None
        if saved != (cusum.score_hit, cusum.score_miss, cusum.threshold):
            raise MonitorError(f"saved sequential test: calibration {saved} differs from this version's "
                               f"{(cusum.score_hit, cusum.score_miss, cusum.threshold)}")
        for k, x in state.items():
            if isinstance(x, bool) or not isinstance(x, int) or x < 0:
                raise MonitorError(f"saved sequential test: {k}={x!r} is not a count")
        if state["value"] >= cusum.threshold or state["run_hits"] > state["run_fired"]:
            raise MonitorError("saved sequential test: its state is inconsistent (sum or run counts)")
        cusum.value, cusum.run_fired = state["value"], state["run_fired"]
        cusum.run_hits, cusum.n_alarms = state["run_hits"], state["n_alarms"]
        return cusum
