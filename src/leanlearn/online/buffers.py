"""A sliding window of events held in numpy columns: append one event or many, drop the oldest, serialize.

:class:`EventBuffer` is the storage under every window of the online wing (a rule's firings, a target's observed
outcomes). It keeps four columns — event index, position (the event index, or a timestamp in nanoseconds for
time-based windows), hit (0/1) and value (the numeric outcome, NaN for binary ones) — in arrays with spare
capacity at the end, so appending one event costs a few array writes and appending a micro-batch is one slice
copy; dropping the oldest events only moves a start index. It serializes to plain JSON (base64 of little-endian
arrays): no pickle.

Examples
--------
>>> buf = EventBuffer()
>>> buf.append(0, 0, 1, 2.5)
>>> buf.extend([1, 2, 3], [1, 2, 3], [0, 1, 1], [1.0, 2.0, 3.0])
>>> len(buf), buf.hit.tolist()
(4, [1, 0, 1, 1])
>>> buf.drop_through(1)  # positions <= 1 leave the window
2
>>> buf.event.tolist(), buf.value.tolist()
([2, 3], [2.0, 3.0])
>>> EventBuffer.from_json(buf.to_json()).event.tolist()
[2, 3]
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np

_COLUMNS: tuple[tuple[str, type], ...] = (("event", np.int64), ("position", np.int64), ("hit", np.int8),
                                          ("value", np.float64))


def encode_array(values: np.ndarray, dtype: Any) -> str:
    """Base64 of ``values`` as little-endian ``dtype`` (exact, compact, no pickle)."""
    return base64.b64encode(np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()).decode()


def decode_array(text: str, dtype: Any) -> np.ndarray:
    """Inverse of :func:`encode_array` (returns a native-endian, writable copy)."""
    raw = np.frombuffer(base64.b64decode(text.encode(), validate=True), dtype=np.dtype(dtype).newbyteorder("<"))
    return raw.astype(np.dtype(dtype), copy=True)


class EventBuffer:
    """Events in arrival order, oldest first: ``event``, ``position``, ``hit`` and ``value`` columns.

    Parameters
    ----------
    capacity : int, default=64
        Initial room; the arrays double when full (after moving the live part to the front).
    """

    __slots__ = ("_end", "_event", "_hit", "_position", "_start", "_value")

    def __init__(self, capacity: int = 64) -> None:
        capacity = max(int(capacity), 8)
        self._event = np.empty(capacity, np.int64)
        self._position = np.empty(capacity, np.int64)
        self._hit = np.empty(capacity, np.int8)
        self._value = np.empty(capacity, np.float64)
        self._start = 0
        self._end = 0

    def __len__(self) -> int:
        return self._end - self._start

    def _room(self, n: int) -> None:
        """Make room for ``n`` more events at the end."""
        if self._end + n <= len(self._event):
            return
        live = self._end - self._start
        capacity = len(self._event)
        if live + n > capacity // 2:  # keep at least half free after compacting: appends stay amortized O(1)
            capacity = max(2 * capacity, 2 * (live + n))
        for name in ("_event", "_position", "_hit", "_value"):
            old = getattr(self, name)
            new = old if capacity == len(old) else np.empty(capacity, old.dtype)
            new[:live] = old[self._start:self._end]
            setattr(self, name, new)
        self._start, self._end = 0, live

    def append(self, event: int, position: int, hit: int, value: float) -> None:
        """Add one event at the end."""
        if self._end == len(self._event):
            self._room(1)
        end = self._end
        self._event[end] = event
        self._position[end] = position
        self._hit[end] = hit
        self._value[end] = value
        self._end = end + 1

    def extend(self, event: Sequence[int] | np.ndarray, position: Sequence[int] | np.ndarray,
               hit: Sequence[int] | np.ndarray, value: Sequence[float] | np.ndarray) -> None:
        """Add many events at the end (arrays of equal length, in arrival order)."""
        n = len(event)
        if n == 0:
            return
        self._room(n)
        end = self._end
        self._event[end:end + n] = event
        self._position[end:end + n] = position
        self._hit[end:end + n] = hit
        self._value[end:end + n] = value
        self._end = end + n

    def drop_first(self, n: int) -> None:
        """Forget the ``n`` oldest events."""
        self._start = min(self._start + max(int(n), 0), self._end)
        if self._start == self._end:
            self._start = self._end = 0

    def drop_through(self, position: int) -> int:
        """Forget the events at positions ``<= position`` (positions never decrease); return how many."""
        n = int(np.searchsorted(self.position, position, side="right"))
        self.drop_first(n)
        return n

    # views (read-only by convention: they share memory with the buffer)
    @property
    def event(self) -> np.ndarray:
        return self._event[self._start:self._end]

    @property
    def position(self) -> np.ndarray:
        return self._position[self._start:self._end]

    @property
    def hit(self) -> np.ndarray:
        return self._hit[self._start:self._end]

    @property
    def value(self) -> np.ndarray:
        return self._value[self._start:self._end]

    def first_position(self) -> int:
        """Position of the oldest event (only when not empty)."""
        return int(self._position[self._start])

    def first_hit(self) -> int:
        """Hit (0/1) of the oldest event (only when not empty)."""
        return int(self._hit[self._start])

    def to_json(self) -> dict[str, Any]:
        """``{"n": ..., "event": base64, "position": base64, "hit": base64, "value": base64}``."""
        doc: dict[str, Any] = {"n": len(self)}
        for name, dtype in _COLUMNS:
            doc[name] = encode_array(getattr(self, name), dtype)
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> EventBuffer:
        """Rebuild a buffer saved by :meth:`to_json` (``ValueError`` / ``KeyError`` / ``TypeError`` when damaged)."""
        n = doc["n"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"event buffer: n={n!r} is not a count")
        buf = cls(capacity=max(64, 2 * n))
        columns = [decode_array(str(doc[name]), dtype) for name, dtype in _COLUMNS]
        if any(len(c) != n for c in columns):
            raise ValueError(f"event buffer: columns do not all hold {n} values")
        buf.extend(*columns)
        return buf

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EventBuffer):
            return NotImplemented
        return len(self) == len(other) and all(
            np.array_equal(getattr(self, name), getattr(other, name), equal_nan=name == "value") for name, _ in _COLUMNS
        )

    def __repr__(self) -> str:
        return f"EventBuffer({len(self)} events)"
