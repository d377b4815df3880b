"""River's drift detectors, imported lazily, fed in bulk, and saved as data (never pickled).

The monitor uses two of River's detectors per rule:

- River's ADWIN (:class:`river.drift.ADWIN`, see :class:`Adwin`) on the rule's *hit sequence* — 1 when the
  outcome follows a firing, 0 when it does not — for every rule;
- a two-sided :class:`river.drift.PageHinkley` on the outcome value itself, for rules on numeric outcomes.

River keeps a detector's state in private attributes and offers pickle to save it. :class:`DriftDetector` is the
one adapter that knows those internals — picked by ``isinstance`` on River's classes (:meth:`DriftDetector.of`),
nowhere else in leanlearn — and gives the trackers what they need:

- :meth:`~DriftDetector.update` (one value → did it signal?) and :meth:`~DriftDetector.update_many` (many values →
  where it signalled; the batched path feeds only the rows where a rule fires, in order, so a detector sees exactly
  the sequence the per-event path gives it);
- :meth:`~DriftDetector.to_json` / :meth:`DriftDetector.from_json`: Page-Hinkley as its few numbers (floats
  round-trip exactly through JSON's shortest repr); ADWIN as the byte string River's own Rust core writes for its
  state (``AdaptiveWindowing.__getstate__``: the buckets and totals, a data format, base64 in the JSON) — loading
  it runs no code. The River version is recorded beside it (by the monitor) and a state from another River version
  is refused (the byte layout is River's, not ours).

Examples
--------
>>> d = DriftDetector.adwin(delta=0.002, clock=1)
>>> d.update_many([0.0] * 500 + [1.0] * 200)
[510]
>>> doc = d.to_json()
>>> doc["kind"], DriftDetector.from_json(doc).to_json() == doc
('adwin', True)
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any, ClassVar

from leanlearn.online.base import MonitorError


def river_version() -> str:
    """The installed River version (imports River)."""
    import river

    return str(river.__version__)


class Adwin:
    """River's ADWIN, without importing :mod:`river.drift` (attribute names as River's, for the adapter).

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



def _float(x: float) -> float | str:
    # 'inf', '-inf', 'nan' as text: JSON has no non-finite numbers. Always a float otherwise: River starts some
    # statistics as ints (Page-Hinkley's max decrease is -1), and a state saved before and after a round trip
    # must read the same.
    x = float(x)
    return x if math.isfinite(x) else repr(x)


def _river_drift() -> Any:
    from river import drift

    return drift


class DriftDetector:
    """The adapter around one River drift detector (ADWIN or Page-Hinkley): update, signal, save, restore.

    Build one with :meth:`adwin`, :meth:`page_hinkley`, :meth:`of` (wrap an existing River detector) or
    :meth:`from_json`.

    >>> from river.drift import ADWIN
    >>> values = [0.0] * 300 + [1.0] * 300 + [0.0] * 300
    >>> fast, slow = DriftDetector.adwin(clock=32), ADWIN()
    >>> found = fast.update_many(values)
    >>> reference = [i for i, x in enumerate(values) if slow.update(x) is None and slow.drift_detected]
    >>> found == reference, fast.to_json() == DriftDetector.of(slow).to_json()
    (True, True)
    """

    kind: ClassVar[str] = ""

    def __init__(self, detector: Any) -> None:
        self.detector = detector

    # -- building --------------------------------------------------------------------------------------------
    @staticmethod
    def adwin(delta: float = 0.002, clock: int = 1, min_window_length: int = 5,
              grace_period: int = 10) -> DriftDetector:
        """A fresh ADWIN (River's, see :class:`Adwin`)."""
        return _AdwinState(Adwin(delta=delta, clock=clock, min_window_length=min_window_length,
                                 grace_period=grace_period))

    @staticmethod
    def page_hinkley(delta: float, threshold: float, min_instances: int = 30,
                     alpha: float = 1 - 1e-4) -> DriftDetector:
        """A fresh two-sided :class:`river.drift.PageHinkley`."""
        return _PageHinkleyState(_river_drift().PageHinkley(min_instances=min_instances, delta=delta,
                                                            threshold=threshold, alpha=alpha, mode="both"))

    @staticmethod
    def of(detector: Any) -> DriftDetector:
        """Wrap a River detector (``river.drift.ADWIN``, :class:`Adwin`, ``river.drift.PageHinkley``)."""
        if isinstance(detector, DriftDetector):
            return detector
        if isinstance(detector, Adwin):
            return _AdwinState(detector)
        drift = _river_drift()
        if isinstance(detector, drift.ADWIN):
            return _AdwinState(detector)
        if isinstance(detector, drift.PageHinkley):
            return _PageHinkleyState(detector)
        raise TypeError(f"no adapter for a {type(detector).__name__} detector (ADWIN and PageHinkley are supported)")

    # -- learning --------------------------------------------------------------------------------------------
    @property
    def drift_detected(self) -> bool:
        return bool(self.detector.drift_detected)

    def update(self, x: float) -> bool:
        """Update with one value; return whether the detector signalled a drift on it."""
        self.detector.update(x)
        return self.drift_detected

    def update_many(self, values: Sequence[float]) -> list[int]:
        """Update with ``values`` in order; return the indices at which the detector signalled."""
        update = self.update
        return [i for i, x in enumerate(values) if update(x)]

    # -- saving ----------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The detector's parameters and state as a JSON-ready document."""
        raise NotImplementedError

    @staticmethod
    def from_json(doc: Any) -> DriftDetector:
        """Rebuild a detector saved by :meth:`to_json`; a damaged document raises :class:`MonitorError`."""
        kind = doc.get("kind") if isinstance(doc, dict) else None
        states: dict[str, type[DriftDetector]] = {"adwin": _AdwinState, "page-hinkley": _PageHinkleyState}
        if kind not in states:
            raise MonitorError(f"unknown detector kind {kind!r} in a saved monitor state")
        try:
            return states[kind]._load(doc)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise MonitorError(f"a {kind} detector in the saved monitor state is damaged ({detail})") from None

    @classmethod
    def _load(cls, doc: dict[str, Any]) -> DriftDetector:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"DriftDetector({self.detector!r})"


class _AdwinState(DriftDetector):
    """ADWIN: River's Python wrapper over the Rust core ``AdaptiveWindowing``, driven directly in bulk."""

    kind = "adwin"

    def update(self, x: float) -> bool:
        d = self.detector
        if d._drift_detected:
            d._reset()
        d._drift_detected = bool(d._helper.update(x))
        return bool(d._drift_detected)

    def update_many(self, values: Sequence[float]) -> list[int]:
        # exactly what river.drift.ADWIN.update does (reset on the update after a detection, then update),
        # without the Python wrapper around each call: the same states, about twice as fast
        d = self.detector
        out = []
        flag = d._drift_detected
        update = d._helper.update
        for i, x in enumerate(values):
            if flag:
                d._reset()
                update = d._helper.update
            flag = update(x)
            if flag:
                out.append(i)
        d._drift_detected = bool(flag)
        return out

    def to_json(self) -> dict[str, Any]:
        d = self.detector
        return {
            "kind": self.kind,
            "params": {"delta": d.delta, "clock": d.clock, "max_buckets": d.max_buckets,
                       "min_window_length": d.min_window_length, "grace_period": d.grace_period},
            "drift_detected": bool(d._drift_detected),
            "state": base64.b64encode(d._helper.__getstate__()).decode(),
        }

    @classmethod
    def _load(cls, doc: dict[str, Any]) -> DriftDetector:
        params = doc["params"]
        if not isinstance(params, dict):
            raise TypeError("params is not an object")
        detector = Adwin(**params)
        state = base64.b64decode(str(doc["state"]).encode(), validate=True)
        if not state:
            raise ValueError("empty state")
        detector._helper.__setstate__(state)
        detector._drift_detected = bool(doc.get("drift_detected", False))
        return cls(detector)


class _PageHinkleyState(DriftDetector):
    """Page-Hinkley: its mean and cumulative sums."""

    kind = "page-hinkley"

    def update(self, x: float) -> bool:
        d = self.detector
        d.update(x)
        return bool(d._drift_detected)

    def to_json(self) -> dict[str, Any]:
        d = self.detector
        return {
            "kind": self.kind,
            "params": {"min_instances": d.min_instances, "delta": d.delta, "threshold": d.threshold,
                       "alpha": d.alpha, "mode": d.mode},
            "drift_detected": bool(d._drift_detected),
            "n": _float(d._x_mean.n),
            "mean": _float(d._x_mean._mean),
            "sum_increase": _float(d._sum_increase),
            "sum_decrease": _float(d._sum_decrease),
            "min_increase": _float(d._min_increase),
            "max_decrease": _float(d._max_decrease),
        }

    @classmethod
    def _load(cls, doc: dict[str, Any]) -> DriftDetector:
        params = doc["params"]
        if not isinstance(params, dict):
            raise TypeError("params is not an object")
        d = _river_drift().PageHinkley(**params)
        numbers = {k: float(doc[k]) for k in ("n", "mean", "sum_increase", "sum_decrease", "min_increase",
                                              "max_decrease")}
        if not (math.isfinite(numbers["n"]) and numbers["n"] >= 0):
            raise ValueError(f"n={doc['n']!r}")
        d._x_mean.n = numbers["n"]
        d._x_mean._mean = numbers["mean"]
        d._sum_increase = numbers["sum_increase"]
        d._sum_decrease = numbers["sum_decrease"]
        d._min_increase = numbers["min_increase"]
        d._max_decrease = numbers["max_decrease"]
        d._drift_detected = bool(doc.get("drift_detected", False))
        return cls(d)

