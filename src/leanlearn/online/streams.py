"""Event streams for the monitor: replay a table file, read JSON Lines from stdin, tail a folder of growing files.

Every stream yields micro-batches (DataFrames, one row per event, in order) from :meth:`batches`, and can say
where it stands (:meth:`position`, a small JSON document) and go back there (:meth:`seek`) — what a checkpoint
needs to resume with no event lost or read twice.

- :class:`FileReplay` — a CSV, Parquet or JSON Lines file (read with :func:`leanlearn.data.sources.read_table`),
  as fast as possible or at ``rate`` events per second. Position: rows delivered.
- :class:`JsonLinesStream` — one JSON object per line from a binary file object (stdin by default), read on a
  background thread so the monitor stays responsive (and stoppable) while no line comes. The thread reads the file
  descriptor itself (``select`` + ``os.read``), never through Python's buffered ``sys.stdin``: a stop (Ctrl-C,
  SIGTERM) while the producer is still connected ends the thread and the process cleanly. A line longer than
  ``MAX_LINE_BYTES`` (16 MiB) is counted as a bad line and skipped, never held in memory. Position: lines consumed.
  Resuming skips that many lines: the producer is expected to send the same stream again from its start (e.g.
  ``cat events.jsonl | leanlearn monitor ...``).
- :class:`DirectoryStream` — a folder of ``.jsonl`` / ``.ndjson`` / ``.csv`` files, taken in name order; new
  complete lines of the newest file are picked up as they are appended, new files as they appear (a file is
  finished once a file with a later name exists). Position: current file and byte offset.

Lines that are not JSON objects are not dropped silently: they are counted in ``bad_lines`` (kept in the position,
so the count survives a restart) with the first few in ``problems``.

:func:`open_stream` picks the stream for a command-line argument: ``-`` (stdin), a folder, or a file.

Examples
--------
>>> import pandas as pd
>>> path = getfixture("tmp_path") / "events.csv"
>>> pd.DataFrame({"torque": [50.0, 61.0, 70.0], "scrap": [0, 1, 1]}).to_csv(path, index=False)
>>> stream = open_stream(str(path))
>>> [len(b) for b in stream.batches(2)], stream.position()
([2, 1], {'kind': 'file', 'events': 3})
>>> stream = open_stream(str(path)); stream.seek({"kind": "file", "events": 2})
>>> [b["torque"].tolist() for b in stream.batches(10)]
[[70.0]]
"""

from __future__ import annotations

import io
import json
import math
import os
import queue
import select
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import pandas as pd

from leanlearn.errors import DataError

TAIL_SUFFIXES = (".jsonl", ".ndjson", ".csv")
_MAX_PROBLEMS = 5
MAX_LINE_BYTES = 16 << 20
_TOO_LONG = b"\x00leanlearn: line too long\x00"
_TICK = 0.05  # seconds: how finely a rate-limited replay is paced
_IDLE = 0.2  # seconds: longest wait inside a stream before it yields an empty batch (so a stop is noticed)


class Stream(Protocol):
    """What the monitor loop needs from a source of events."""

    label: str
    bad_lines: int
    problems: list[str]

    def batches(self, size: int) -> Iterator[pd.DataFrame]:
        """Micro-batches of at most ``size`` events; an empty one now and then while no event arrives."""
        ...

    def position(self) -> dict[str, Any]:
        """Where the stream stands after the last batch yielded."""
        ...

    def seek(self, position: dict[str, Any]) -> None:
        """Continue after ``position`` (from :meth:`position`, possibly of an earlier process)."""
        ...

    def close(self) -> None: ...


def _position_int(position: dict[str, Any], key: str, label: str, default: int | None = None) -> int:
    """A count from a checkpoint's stream position (a damaged one raises :class:`DataError`)."""
    value = position.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataError(f"{label}: the checkpoint's stream position has {key}={value!r}, not a count; remove the "
                        "checkpoint folder to start over")
    return value


def _check_kind(position: dict[str, Any], kind: str, label: str) -> None:
    if not isinstance(position, dict):
        raise DataError(f"{label}: the checkpoint's stream position is damaged; remove the checkpoint folder to "
                        "start over")
    if position.get("kind") != kind:
        raise DataError(
            f"{label}: the checkpoint was taken on a {position.get('kind')} stream, not a {kind} stream; resume with "
            "the same kind of STREAM, or use a new checkpoint folder"
        )


class _LineParser:
    """JSON Lines → records, counting (not dropping silently) the lines that are not JSON objects."""

    label: str

    def __init__(self) -> None:
        self.bad_lines = 0
        self.problems: list[str] = []

    def _parse(self, line: bytes, number: int) -> dict[str, Any] | None:
        if line is _TOO_LONG:
            self._bad(number, f"longer than {MAX_LINE_BYTES:,} bytes (skipped)")
            return None
        text = line.strip()
        if not text:
            return None
        try:
            record = json.loads(text)
        except RecursionError:
            self._bad(number, "nested too deeply to read")
            return None
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, and integers of more than 4,300 digits
            self._bad(number, f"not valid JSON ({str(exc)[:200]})")
            return None
        if not isinstance(record, dict):
            self._bad(number, f"a {type(record).__name__}, not an object")
            return None
        return record

    def _bad(self, number: int, why: str) -> None:
        self.bad_lines += 1
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(f"{self.label} line {number}: {why}")
        return None


# -- a file, replayed ----------------------------------------------------------------------------------------------
class FileReplay:
    """Replay a table file (CSV, Parquet, JSON Lines) as a stream.

    Parameters
    ----------
    path : str or Path
        The file.
    rate : float, optional
        Events per second; default: as fast as the monitor takes them.
    encoding : str, optional
        Text encoding of a CSV / JSONL file that is not UTF-8.
    """

    def __init__(self, path: str | Path, *, rate: float | None = None, encoding: str | None = None,
                 frame: pd.DataFrame | None = None) -> None:
        self.path = Path(path)
        self.label = str(path)
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise DataError(f"--rate {rate}: give a positive number of events per second")
        self.rate = rate
        self.encoding = encoding
        self._frame = frame
        self._next = 0
        self.bad_lines = 0
        self.problems: list[str] = []

    def _table(self) -> pd.DataFrame:
        if self._frame is None:
            from leanlearn.data.sources import read_table

            # coerce=False: the monitor judges every value itself and quarantines the event of a stray cell
            self._frame = read_table(self.path, encoding=self.encoding, coerce=False)
        return self._frame

    def __len__(self) -> int:
        return len(self._table())

    def batches(self, size: int) -> Iterator[pd.DataFrame]:
        frame = self._table()
        size = max(int(size), 1)
        if self.rate is not None:
            size = max(1, min(size, math.ceil(self.rate * _TICK)))
        started, first = time.monotonic(), self._next
        while self._next < len(frame):
            end = min(self._next + size, len(frame))
            if self.rate is not None:
                due = started + (end - first) / self.rate
                while (wait := due - time.monotonic()) > 0:
                    time.sleep(min(wait, _IDLE))
                    if due - time.monotonic() > 0:
                        yield frame.iloc[0:0]  # nothing yet: the caller may update its display or stop
            batch = frame.iloc[self._next:end]
            self._next = end
            yield batch

    def position(self) -> dict[str, Any]:
        return {"kind": "file", "events": self._next}

    def seek(self, position: dict[str, Any]) -> None:
        _check_kind(position, "file", self.label)
        events = _position_int(position, "events", self.label)
        if events > len(self._table()):
            raise DataError(f"{self.label}: the checkpoint is at event {events:,} but the file holds only "
                            f"{len(self._table()):,} rows; is this the same file?")
        self._next = events

    def close(self) -> None:
        pass


# -- JSON Lines on stdin (or any binary file object) ---------------------------------------------------------------
_EOF = object()


class JsonLinesStream(_LineParser):
    """JSON objects, one per line, from a binary file object (default: standard input).

    Parameters
    ----------
    source : binary file object, optional
        Default ``sys.stdin.buffer``.
    label : str
        Name used in messages.
    linger : float
        Seconds to wait for a first line before yielding an empty batch (so the caller can update its display and
        notice a stop request).
    """

    def __init__(self, source: BinaryIO | None = None, *, label: str = "stdin", linger: float = 0.2) -> None:
        super().__init__()
        self.source = source if source is not None else sys.stdin.buffer
        self.label = label
        self.linger = linger
        self._lines = 0
        self._skip = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=100_000)
        self._thread: threading.Thread | None = None
        self._done = False
        self._closing = threading.Event()

    def _descriptor(self) -> int | None:
        """The source's file descriptor, when it can be read with ``select`` (POSIX pipes, ttys, files)."""
        if os.name == "nt":  # pragma: no cover - select() takes only sockets there
            return None
        try:
            fd = self.source.fileno()
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return None
        buffered = getattr(self.source, "peek", None)
        if buffered is not None and self.source is not getattr(sys.stdin, "buffer", None):
            return None  # another buffered reader may already hold data we would skip
        return fd

    def _put(self, item: Any) -> bool:
        while not self._closing.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        try:
            fd = self._descriptor()
            if fd is None:
                for line in self.source:
                    if self._closing.is_set() or not self._put(line):
                        return
            else:
                self._read_descriptor(fd)
        except (OSError, ValueError) as exc:  # the producer went away badly: end the stream, say why
            self.problems.append(f"{self.label}: reading stopped ({exc})")
        finally:
            self._queue.put(_EOF)

    def _read_descriptor(self, fd: int) -> None:
        pending = bytearray()
        skipping = False
        while not self._closing.is_set():
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            start = 0
            while True:
                end = chunk.find(b"\n", start)
                if end < 0:
                    if not skipping:
                        pending += chunk[start:]
                        if len(pending) > MAX_LINE_BYTES:
                            pending.clear()
                            skipping = True
                    break
                if skipping:
                    skipping = False
                    if not self._put(_TOO_LONG):
                        return
                else:
                    pending += chunk[start:end + 1]
                    if len(pending) > MAX_LINE_BYTES:
                        item = _TOO_LONG
                    else:
                        item = bytes(pending)
                    pending.clear()
                    if not self._put(item):
                        return
                start = end + 1
        if skipping:
            self._put(_TOO_LONG)
        elif pending:
            self._put(bytes(pending))

    def batches(self, size: int) -> Iterator[pd.DataFrame]:
        if self._thread is None:
            self._thread = threading.Thread(target=self._read, name="leanlearn-stdin", daemon=True)
            self._thread.start()
        size = max(int(size), 1)
        while not self._done:
            records: list[dict[str, Any]] = []
            lines = 0
            try:
                item = self._queue.get(timeout=self.linger)
            except queue.Empty:
                yield pd.DataFrame()
                continue
            while True:
                if item is _EOF:
                    self._done = True
                    break
                lines += 1
                number = self._lines + lines
                if number > self._skip:
                    record = self._parse(item, number)
                    if record is not None:
                        records.append(record)
                if len(records) >= size:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            self._lines += lines
            if records or not self._done:
                yield pd.DataFrame.from_records(records)

    def position(self) -> dict[str, Any]:
        return {"kind": "jsonl", "lines": max(self._lines, self._skip), "bad_lines": self.bad_lines}

    def seek(self, position: dict[str, Any]) -> None:
        _check_kind(position, "jsonl", self.label)
        self._skip = _position_int(position, "lines", self.label)
        self.bad_lines = _position_int(position, "bad_lines", self.label, 0)

    def close(self) -> None:
        """Stop the reader thread (it notices within a fraction of a second, even while no line comes)."""
        self._closing.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)


# -- a folder of growing files -------------------------------------------------------------------------------------
class DirectoryStream(_LineParser):
    """Tail a folder of ``.jsonl`` / ``.ndjson`` / ``.csv`` files (name order; only complete lines are read).

    Parameters
    ----------
    folder : str or Path
        The folder.
    follow : bool, default=True
        Keep watching for new lines and files; with ``False`` the stream ends when everything present is read.
    poll : float
        Seconds between looks at the folder while nothing new is there.
    """

    def __init__(self, folder: str | Path, *, follow: bool = True, poll: float = 0.2) -> None:
        super().__init__()
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise DataError(f"{self.folder}: no such folder")
        self.label = str(folder)
        self.follow = follow
        self.poll = poll
        self._file: str | None = None
        self._offset = 0
        self._header: str | None = None
        self._lines = 0  # lines read in the current file (for messages)

    def _files(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir()
                      if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in TAIL_SUFFIXES)

    def _csv(self) -> bool:
        return self._file is not None and self._file.lower().endswith(".csv")

    def _read_header(self, path: Path) -> bool:
        with open(path, "rb") as fh:
            line = fh.readline()
        if not line.endswith(b"\n"):
            return False
        self._header = line.decode("utf-8-sig")
        self._offset = max(self._offset, len(line))
        return True

    def _rows(self, size: int) -> list[bytes]:
        """Up to ``size`` complete new lines (moving on to the next file when the current one is finished)."""
        while True:
            files = self._files()
            if self._file is None:
                if not files:
                    return []
                self._file, self._offset, self._header, self._lines = files[0], 0, None, 0
            path = self.folder / self._file
            if self._csv() and self._header is None and not self._read_header(path):
                return []
            lines: list[bytes] = []
            if path.exists():
                with open(path, "rb") as fh:
                    fh.seek(self._offset)
                    while len(lines) < size:
                        line = fh.readline()
                        if not line.endswith(b"\n"):
                            break  # nothing more, or a line still being written
                        lines.append(line)
                        self._offset += len(line)
            if lines:
                return lines
            later = [f for f in files if f > self._file]
            if not later:
                return []
            self._file, self._offset, self._header, self._lines = later[0], 0, None, 0

    def _frame(self, lines: list[bytes]) -> pd.DataFrame:
        first = self._lines + 1
        self._lines += len(lines)
        if self._csv():
            from leanlearn.data.sources import sniff_delimiter

            assert self._header is not None
            text = self._header + b"".join(lines).decode("utf-8", errors="replace")
            try:
                return pd.read_csv(io.StringIO(text), sep=sniff_delimiter(self._header))
            except (ValueError, pd.errors.ParserError) as exc:
                self._bad(first, f"CSV lines {first}–{first + len(lines) - 1} of {self._file} unreadable ({exc})")
                return pd.DataFrame()
        records = []
        for k, line in enumerate(lines):
            record = self._parse(line, first + k)
            if record is not None:
                records.append(record)
        return pd.DataFrame.from_records(records)

    def _parse(self, line: bytes, number: int) -> dict[str, Any] | None:  # name the file in messages
        saved, self.label = self.label, f"{self.folder / (self._file or '')}"
        try:
            return super()._parse(line, number)
        finally:
            self.label = saved

    def batches(self, size: int) -> Iterator[pd.DataFrame]:
        size = max(int(size), 1)
        while True:
            lines = self._rows(size)
            if lines:
                yield self._frame(lines)
                continue
            if not self.follow:
                return
            time.sleep(self.poll)
            yield pd.DataFrame()

    def position(self) -> dict[str, Any]:
        return {"kind": "directory", "file": self._file, "offset": self._offset, "lines": self._lines,
                "bad_lines": self.bad_lines}

    def seek(self, position: dict[str, Any]) -> None:
        _check_kind(position, "directory", self.label)
        file = position.get("file")
        if file is not None and (not isinstance(file, str) or Path(file).name != file):
            raise DataError(f"{self.label}: the checkpoint's stream position names file {file!r}, not a file of this "
                            "folder; remove the checkpoint folder to start over")
        self._file = file
        self._offset = _position_int(position, "offset", self.label, 0)
        self._lines = _position_int(position, "lines", self.label, 0)
        self.bad_lines = _position_int(position, "bad_lines", self.label, 0)
        self._header = None
        if self._file is not None and not (self.folder / self._file).exists():
            raise DataError(f"{self.folder}: the checkpoint stands in file {self._file!r}, which is gone; resume "
                            "needs the files read so far to stay in place")
        if self._csv() and self._file is not None:
            offset = self._offset
            self._read_header(self.folder / self._file)
            self._offset = offset

    def close(self) -> None:
        pass


def open_stream(spec: str | Path, *, rate: float | None = None, follow: bool = True,
                encoding: str | None = None) -> Stream:
    """The stream behind a command-line argument: ``-`` (JSON Lines on stdin), a folder (tailed), or a file
    (replayed, at ``rate`` events per second if given)."""
    if str(spec) == "-":
        return JsonLinesStream()
    path = Path(spec)
    if path.is_dir():
        return DirectoryStream(path, follow=follow)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; STREAM is a table file, a folder of JSONL/CSV files, or - "
                        "for JSON Lines on stdin")
    return FileReplay(path, rate=rate, encoding=encoding)
