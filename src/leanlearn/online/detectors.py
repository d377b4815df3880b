"""River's drift detectors, imported lazily, fed in bulk, and saved as data (never pickled).

The monitor uses two of River's detectors per rule:

- River's ADWIN (:class:`river.drift.ADWIN`, see :class:`Adwin`) on the rule's *hit sequence* — 1 when the
  outcome follows a firing, 0 when it does not — for every rule;
- a two-sided :class:`river.drift.PageHinkley` on the outcome value itself, for rules on numeric outcomes.

:func:`feed` updates a detector with many values and returns where it signalled: the batched path calls it with
only the rows where a rule fires, in order, so a detector sees exactly the sequence the per-event path gives it.

:func:`dump` / :func:`load` turn a detector into a JSON document and back: Page-Hinkley as its few numbers (floats
round-trip exactly through JSON's shortest repr); ADWIN as the byte string River's own Rust core writes for its
state (``AdaptiveWindowing.__getstate__``: the buckets and totals, a data format, base64 in the JSON) — loading it
runs no code. The River version is recorded beside it and a checkpoint from another River version is refused
(the byte layout is River's, not ours).

Examples
--------
>>> d = make_adwin(delta=0.002, clock=1)
>>> feed(d, [0.0] * 500 + [1.0] * 200)
[510]
>>> doc = dump(d)
>>> doc["kind"], load(doc).width == d.width
('adwin', True)
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

from leanlearn.errors import LeanlearnError


def river_version() -> str:
    """The installed River version (imports River)."""
    import river

    return str(river.__version__)


class Adwin:
    """River's ADWIN, without importing :mod:`river.drift`.

    ``river.drift.ADWIN`` is a thin Python wrapper around River's Rust core ``AdaptiveWindowing``: on each
    ``update`` it first resets the core if the previous update detected a drift, then updates it. This class is
    that wrapper, identical in behaviour (tested against ``river.drift.ADWIN``), built directly on the Rust core:
    importing ``river.drift`` also imports River's datasets and, through them, scikit-learn — about a second at the
    start of every monitor process.
    """

    def __init__(self, delta: float = 0.002, clock: int = 32, max_buckets: int = 5, min_window_length: int = 5,
                 grace_period: int = 10) -> None:
        self.delta = delta
        self.clock = clock
        self.max_buckets = max_buckets
        self.min_window_length = min_window_length
        self.grace_period = grace_period
        self._reset()

    def _reset(self) -> None:
        from river._river_rust.drift import AdaptiveWindowing

        self._drift_detected = False
        self._helper = AdaptiveWindowing(delta=self.delta, clock=self.clock, max_buckets=self.max_buckets,
                                         min_window_length=self.min_window_length, grace_period=self.grace_period)

    @property
    def drift_detected(self) -> bool:
        return self._drift_detected

    @property
    def width(self) -> int:
        return int(self._helper.get_width())

    @property
    def estimation(self) -> float:
        width = self._helper.get_width()
        return self._helper.get_total() / width if width else 0.0

    def update(self, x: float) -> None:
        if self._drift_detected:
            self._reset()
        self._drift_detected = self._helper.update(x)


def make_adwin(delta: float = 0.002, clock: int = 1, min_window_length: int = 5, grace_period: int = 10) -> Adwin:
    """A fresh ADWIN (River's, see :class:`Adwin`)."""
    return Adwin(delta=delta, clock=clock, min_window_length=min_window_length, grace_period=grace_period)


def make_page_hinkley(delta: float, threshold: float, min_instances: int = 30, alpha: float = 1 - 1e-4) -> Any:
    """A fresh two-sided :class:`river.drift.PageHinkley`."""
    from river import drift

    return drift.PageHinkley(min_instances=min_instances, delta=delta, threshold=threshold, alpha=alpha, mode="both")


def feed(detector: Any, values: Sequence[float]) -> list[int]:
    """Update ``detector`` with ``values`` in order; return the indices at which it signalled a drift.

    For ADWIN this calls River's Rust core directly, doing exactly what :meth:`river.drift.ADWIN.update` does
    (reset on the update after a detection, then update) without the Python wrapper around each call: the same
    states, about twice as fast. Other detectors go through their ``update``.

    >>> from river.drift import ADWIN
    >>> a, b = make_adwin(clock=32), ADWIN()
    >>> values = [0.0] * 300 + [1.0] * 300 + [0.0] * 300
    >>> fast = feed(a, values)
    >>> slow = [i for i, x in enumerate(values) if b.update(x) is None and b.drift_detected]
    >>> fast == slow, dump(a) == dump(b)
    (True, True)
    """
    out = []
    if type(detector).__name__ in ("ADWIN", "Adwin"):
        flag = detector._drift_detected
        update = detector._helper.update
        for i, x in enumerate(values):
            if flag:
                detector._reset()
                update = detector._helper.update
            flag = update(x)
            if flag:
                out.append(i)
        detector._drift_detected = flag
        return out
    update = detector.update
    for i, x in enumerate(values):
        update(x)
        if detector._drift_detected:
            out.append(i)
    return out


def _float(x: float) -> float | str:
    return x if math.isfinite(x) else repr(x)  # 'inf', '-inf', 'nan' as text: JSON has no non-finite numbers


def _unfloat(x: float | str) -> float:
    return float(x)


def dump(detector: Any) -> dict[str, Any]:
    """The detector's parameters and state as a JSON-ready document."""
    name = type(detector).__name__
    if name in ("ADWIN", "Adwin"):
        return {
            "kind": "adwin",
            "params": {"delta": detector.delta, "clock": detector.clock, "max_buckets": detector.max_buckets,
                       "min_window_length": detector.min_window_length, "grace_period": detector.grace_period},
            "drift_detected": bool(detector._drift_detected),
            "state": base64.b64encode(detector._helper.__getstate__()).decode(),
        }
    if name == "PageHinkley":
        return {
            "kind": "page-hinkley",
            "params": {"min_instances": detector.min_instances, "delta": detector.delta,
                       "threshold": detector.threshold, "alpha": detector.alpha, "mode": detector.mode},
            "drift_detected": bool(detector._drift_detected),
            "n": _float(detector._x_mean.n),
            "mean": _float(detector._x_mean._mean),
            "sum_increase": _float(detector._sum_increase),
            "sum_decrease": _float(detector._sum_decrease),
            "min_increase": _float(detector._min_increase),
            "max_decrease": _float(detector._max_decrease),
        }
    raise TypeError(f"cannot save a {name} detector")


def load(doc: dict[str, Any]) -> Any:
    """Rebuild a detector saved by :func:`dump`."""
    kind = doc.get("kind")
    try:
        if kind == "adwin":
            detector = Adwin(**doc["params"])
            detector._helper.__setstate__(base64.b64decode(doc["state"].encode()))
        elif kind == "page-hinkley":
            from river import drift

            detector = drift.PageHinkley(**doc["params"])
            detector._x_mean.n = _unfloat(doc["n"])
            detector._x_mean._mean = _unfloat(doc["mean"])
            detector._sum_increase = _unfloat(doc["sum_increase"])
            detector._sum_decrease = _unfloat(doc["sum_decrease"])
            detector._min_increase = _unfloat(doc["min_increase"])
            detector._max_decrease = _unfloat(doc["max_decrease"])
        else:
            raise LeanlearnError(f"unknown detector kind {kind!r} in a monitor checkpoint")
    except (KeyError, TypeError, ValueError) as exc:
        raise LeanlearnError(f"a {kind} detector in the monitor checkpoint is damaged ({exc})") from None
    detector._drift_detected = bool(doc.get("drift_detected", False))
    return detector
