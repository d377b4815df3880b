"""Alerts: a rule's state changed. Frozen records, written one JSON object per line.

An :class:`Alert` carries what a person needs to act: which rule, from which state to which, at which event (and
time, when the stream has one), the window's statistics (firings, hits, confidence, support, coverage, base rate,
lift; for numeric outcomes the mean under the rule and overall), the expected interval the confidence left or came
back to, and the event of the detector alarm behind a drift.

:class:`AlertLog` appends alerts to a JSONL file (a :class:`JsonLinesLog`, as the quarantine file is). It knows
its size in bytes, so a checkpoint can record how much of the file belongs to the state it saved, and a resumed
run can cut off alerts written after that checkpoint — the events behind them are replayed and raise them again
(exactly once in the file).

Examples
--------
>>> alert = Alert(rule="R1", text="x > 1 → y", target="y", previous="warning", state="drift", event=10_400,
...               time=None, window="1,000 events", events=1000, fired=120, hits=60, confidence=0.5,
...               expected=(0.78, 0.97), evidence=0.9, support=0.06, coverage=0.12, base_rate=0.2, lift=2.5,
...               detected_at=10_380)
>>> print(alert.message)
R1 warning → drift at event 10,400: confidence 50% (60 of 120 firings in the last 1,000 events),
expected 78%–97% (pack: 90%); change detected at event 10,380 — x > 1 → y
>>> Alert.from_json(alert.to_json()) == alert
True
>>> fast = Alert(rule="R2", text="x > 2 → y", target="y", previous="ok", state="drift", event=10_130, time=None,
...              window="1,000 events", events=1000, fired=9, hits=6, confidence=6 / 9, expected=(0.33, 1.0),
...              evidence=0.95, support=0.006, coverage=0.009, base_rate=0.2, lift=3.3, detected_at=10_130,
...              test="sequential", change_fired=12, change_hits=6, change_interval=(0.25, 0.75))
>>> print(fast.message)
R2 ok → drift at event 10,130: confidence 67% (6 of 9 firings in the last 1,000 events),
expected 33%–100% (pack: 95%); change detected at event 10,130 (sequential); 6 of 12 firings since the change
point held (50%, 95% interval 25%–75%) — x > 2 → y
>>> Alert.from_json(fast.to_json()) == fast
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self

from leanlearn.online.base import MonitorError

ALERT_SCHEMA = "leanlearn.alert/1"


@dataclass(frozen=True, slots=True)
class Alert:
    """A rule changed state (``ok`` / ``warning`` / ``drift``).

    Attributes
    ----------
    rule, text, target : str
        The rule's id, its text and its outcome column.
    previous, state : str
        The state before and after.
    event : int
        Index of the event (0-based, in stream order) at which the change happened.
    time : str or None
        That event's timestamp (ISO 8601, UTC) when the monitor has a time column.
    window : str
        The window, e.g. ``"1,000 events"`` or ``"0 days 00:10:00"``.
    events, fired, hits : int
        Events in the window (with a known outcome), firings of the rule among them, and hits among those.
    confidence : float
        hits / fired.
    expected : (float, float)
        The interval the windowed confidence was expected in, for this many firings.
    evidence : float
        The rule's confidence in the pack.
    support, coverage : float
        hits / events and fired / events.
    base_rate, lift : float or None
        Share of window events with the outcome, and confidence / base_rate.
    mean, mean_overall : float or None
        Numeric outcomes: the window mean under the rule and over all window events.
    detected_at : int or None
        Event of the detector alarm (ADWIN, Page-Hinkley, or the sequential test) behind the change, if any.
    test : str or None
        What made the change: ``"sequential"`` (the rule's CUSUM, :mod:`leanlearn.online.sequential`),
        ``"adwin"`` or ``"page_hinkley"`` (outside checks in a row with that detector's alarm), ``"interval"``
        (the windowed check: to ``warning``, or back to ``ok``); ``None`` in alerts written before issue 11.
    change_fired, change_hits : int or None
        Sequential alarms: firings since the estimated change point, and hits among them.
    change_interval : (float, float) or None
        Wilson 95 % interval of the confidence since the change point.
    """

    rule: str
    text: str
    target: str
    previous: str
    state: str
    event: int
    time: str | None
    window: str
    events: int
    fired: int
    hits: int
    confidence: float
    expected: tuple[float, float]
    evidence: float
    support: float
    coverage: float
    base_rate: float | None
    lift: float | None
    mean: float | None = None
    mean_overall: float | None = None
    detected_at: int | None = None
    test: str | None = None
    change_fired: int | None = None
    change_hits: int | None = None
    change_interval: tuple[float, float] | None = None

    @property
    def change_confidence(self) -> float | None:
        """Confidence since the estimated change point (sequential alarms)."""
        return None if not self.change_fired or self.change_hits is None else self.change_hits / self.change_fired

    @property
    def message(self) -> str:
        """The alert in one line of plain words."""
        lo, hi = self.expected
        text = (
            f"{self.rule} {self.previous} → {self.state} at event {self.event:,}"
            + (f" ({self.time})" if self.time else "")
            + f": confidence {self.confidence:.0%} ({self.hits:,} of {self.fired:,} firings in the last {self.window})"
            + f", expected {lo:.0%}–{hi:.0%} (pack: {self.evidence:.0%})"
        )
        if self.mean is not None and self.mean_overall is not None:
            text += f"; {self.target} mean {self.mean:.4g} under the rule vs {self.mean_overall:.4g} overall"
        if self.detected_at is not None:
            text += f"; change detected at event {self.detected_at:,}"
            if self.test is not None and self.test != "interval":
                text += f" ({self.test})"
        if self.change_fired and self.change_hits is not None and self.change_interval is not None:
            clo, chi = self.change_interval
            text += (f"; {self.change_hits:,} of {self.change_fired:,} firings since the change point held "
                     f"({self.change_hits / self.change_fired:.0%}, 95% interval {clo:.0%}–{chi:.0%})")
        return f"{text} — {self.text}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready document (``"schema": "leanlearn.alert/1"``)."""
        doc = {"schema": ALERT_SCHEMA, **asdict(self)}
        doc["expected"] = list(self.expected)
        if self.change_interval is not None:
            doc["change_interval"] = list(self.change_interval)
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Alert:
        if not isinstance(doc, dict) or doc.get("schema") != ALERT_SCHEMA:
            raise ValueError(f"not a {ALERT_SCHEMA} document")
        fields = {k: v for k, v in doc.items() if k != "schema"}
        fields["expected"] = tuple(fields["expected"])
        if fields.get("change_interval") is not None:
            fields["change_interval"] = tuple(fields["change_interval"])
        return cls(**fields)


def read_alerts(path: str | Path) -> list[Alert]:
    """The alerts in a JSONL file written by :class:`AlertLog` (a damaged line raises :class:`MonitorError`)."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(Alert.from_json(json.loads(line)))
            except (ValueError, TypeError, KeyError) as exc:
                raise MonitorError(f"{path} line {number}: not an alert written by leanlearn ({exc})") from None
    return out


class JsonLinesLog:
    """A JSON Lines file the monitor appends to, that knows its size and can be cut back to a checkpoint's size.

    Parameters
    ----------
    path : str or Path
        The file (created with its folder if missing). Existing content is kept (a resumed run continues it).
    """

    what = "log file"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise MonitorError(f"{self.path}: not a file; name a file for the {self.what}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab")
        except OSError as exc:
            raise MonitorError(f"{self.path}: cannot open the {self.what} ({exc.strerror or exc})") from None
        self.written = 0

    @property
    def size(self) -> int:
        """Bytes in the file (after the buffered writes)."""
        self._fh.flush()
        return self._fh.tell()

    def write_docs(self, docs: Iterable[dict[str, Any]]) -> None:
        for doc in docs:
            self._fh.write((json.dumps(doc, ensure_ascii=False, allow_nan=False) + "\n").encode())
            self.written += 1

    def sync(self) -> int:
        """Flush to the disk (fsync); return the file size in bytes."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        return self._fh.tell()

    def truncate(self, size: int) -> None:
        """Cut the file to ``size`` bytes (what was written after a checkpoint, replayed on resume).

        Raises :class:`MonitorError` when the file holds fewer bytes: it was rotated or truncated since the
        checkpoint, and what belongs to the checkpoint is gone.
        """
        self._fh.flush()
        current = self._fh.seek(0, os.SEEK_END)
        if size > current:
            raise MonitorError(
                f"{self.path}: the {self.what} holds {current:,} bytes, fewer than the {size:,} the checkpoint "
                "recorded (it was rotated or truncated since); put the file back, or resume with another file name "
                "(the run then starts that file afresh)")
        self._fh.truncate(size)
        self._fh.seek(size)

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            self._fh.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AlertLog(JsonLinesLog):
    """Append alerts to a JSONL file (see :class:`JsonLinesLog`)."""

    what = "alert file"

    def write(self, alerts: Iterable[Alert]) -> None:
        self.write_docs(alert.to_json() for alert in alerts)
