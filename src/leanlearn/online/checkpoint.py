"""Checkpoints: the monitor's state, the stream position and the alert-file size, saved atomically together.

A checkpoint folder holds one file, ``monitor-checkpoint.json``, replaced atomically (written to a temporary file
in the same folder, flushed to disk, then :func:`os.replace`\\ d over the old one, and the folder synced): a reader
— or a run restarted after ``kill -9`` or a power cut — sees either the previous checkpoint or the new one, never a
mix. It records, at one instant between two micro-batches:

- the monitor's whole state (:meth:`~leanlearn.online.monitor.Monitor.state_dict`: windows, counters, states,
  detector states) — JSON only, nothing pickled (see :mod:`leanlearn.online.detectors` for ADWIN's bytes);
- the stream position (events consumed, and where the reader stands in its source);
- the size of the alert file and of the quarantine file, flushed to disk before the checkpoint is written;
- the SHA-256 of all of the above: a checkpoint edited by hand or damaged on disk is refused with one clear message
  (before any of it reaches River's detector code).

Resuming loads the state, moves the stream to the recorded position and cuts the alert file back to the recorded
size: the events after the checkpoint are read again and raise their alerts again, so no event is lost or counted
twice and every alert is in the file exactly once. Checkpoints are local state of one monitor; they name the pack by
its content hash and the River version, and a mismatch is refused.

Format: ``leanlearn.checkpoint/2``. A ``leanlearn.checkpoint/1`` file (written before the quarantine and the hash)
is still read, without the hash check; its monitor state is converted (see
:meth:`~leanlearn.online.monitor.Monitor.from_json`).

Examples
--------
>>> folder = getfixture("tmp_path") / "ckpt"
>>> store = CheckpointStore(folder)
>>> store.load() is None
True
>>> path = store.save({"schema": "leanlearn.monitor/2", "n_events": 3}, stream={"events": 3}, alerts_bytes=0)
>>> doc = store.load()
>>> doc["stream"], doc["monitor"]["n_events"], doc["alerts_bytes"]
({'events': 3}, 3, 0)
>>> _ = path.write_text(path.read_text().replace('"n_events":3', '"n_events":4'))
>>> store.load()
Traceback (most recent call last):
...
leanlearn.online.checkpoint.CheckpointError: ...: the checkpoint was edited or damaged (its SHA-256 does not match); ...
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leanlearn.online.base import MonitorError

CHECKPOINT_SCHEMA = "leanlearn.checkpoint/2"
_OLD_SCHEMA = "leanlearn.checkpoint/1"
MAX_CHECKPOINT_BYTES = 2 << 30  # a checkpoint larger than 2 GiB is not one leanlearn wrote for a sane window
CHECKPOINT_FILE = "monitor-checkpoint.json"
LOCK_FILE = "monitor.lock"


class CheckpointError(MonitorError):
    """A checkpoint folder cannot be read or written."""


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a crash leaves either the old file or the new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class CheckpointStore:
    """A folder holding a monitor checkpoint.

    Parameters
    ----------
    folder : str or Path
        Created if missing.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise CheckpointError(f"{self.folder}: not a folder; --checkpoint names a folder for the monitor's state")
        self.path = self.folder / CHECKPOINT_FILE

    def lock(self) -> None:
        """Claim the folder for this process (released when the process ends, also by ``kill -9``).

        Raises :class:`CheckpointError` when another running monitor holds it: two monitors writing one checkpoint
        would each resume from the other's state.
        """
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory locks here
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fh = open(self.folder / LOCK_FILE, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise CheckpointError(f"{self.folder}: another monitor is running with this checkpoint folder; stop it "
                                  "first, or give this one its own folder") from None
        self._lock = fh

    def unlock(self) -> None:
        fh = getattr(self, "_lock", None)
        if fh is not None:
            fh.close()
            del self._lock

    def exists(self) -> bool:
        return self.path.exists()

    def save(self, monitor: dict[str, Any], *, stream: dict[str, Any], alerts_bytes: int | None,
             alerts_path: str | None = None, quarantine_bytes: int | None = None,
             quarantine_path: str | None = None) -> Path:
        """Write a checkpoint (atomically), with the SHA-256 of its content."""
        self.folder.mkdir(parents=True, exist_ok=True)
        doc: dict[str, Any] = {
            "schema": CHECKPOINT_SCHEMA,
            "saved": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "stream": stream,
            "alerts_path": alerts_path,
            "alerts_bytes": alerts_bytes,
            "quarantine_path": quarantine_path,
            "quarantine_bytes": quarantine_bytes,
            "monitor": monitor,
        }
        doc["sha256"] = _digest(doc)
        write_atomic(self.path, json.dumps(doc, separators=(",", ":"), allow_nan=False))
        for stale in self.folder.glob(f".{CHECKPOINT_FILE}.*.tmp"):  # left by a run killed while writing
            stale.unlink(missing_ok=True)
        return self.path

    def load(self) -> dict[str, Any] | None:
        """The last checkpoint, or ``None`` when the folder holds none."""
        if not self.path.exists():
            return None
        start_over = "remove the folder (or give --checkpoint a new one) to start over"
        try:
            if not self.path.is_file():
                raise CheckpointError(f"{self.path}: not a file; {start_over}")
            size = self.path.stat().st_size
            if size > MAX_CHECKPOINT_BYTES:
                raise CheckpointError(f"{self.path}: {size:,} bytes, more than a monitor checkpoint can be "
                                      f"({MAX_CHECKPOINT_BYTES:,}); {start_over}")
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)[:200]
            raise CheckpointError(f"{self.path}: cannot read the monitor checkpoint ({reason}); {start_over}") from None
        schema = doc.get("schema") if isinstance(doc, dict) else None
        if schema not in (CHECKPOINT_SCHEMA, _OLD_SCHEMA):
            raise CheckpointError(f"{self.path}: not a leanlearn monitor checkpoint (schema {schema!r}); {start_over}")
        assert isinstance(doc, dict)
        if schema == CHECKPOINT_SCHEMA:
            claimed = doc.pop("sha256", None)
            if claimed != _digest(doc):
                raise CheckpointError(f"{self.path}: the checkpoint was edited or damaged (its SHA-256 does not "
                                      f"match); {start_over}")
        for key in ("stream", "monitor", "alerts_bytes"):
            if key not in doc:
                raise CheckpointError(f"{self.path}: the checkpoint lacks {key!r}; {start_over}")
        if not isinstance(doc["stream"], dict) or not isinstance(doc["monitor"], dict):
            raise CheckpointError(f"{self.path}: the checkpoint's stream or monitor is not an object; {start_over}")
        for key in ("alerts_bytes", "quarantine_bytes"):
            value = doc.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise CheckpointError(f"{self.path}: {key}={value!r} is not a size in bytes; {start_over}")
        return doc


def _digest(doc: dict[str, Any]) -> str:
    """SHA-256 of a checkpoint document (keys sorted, no whitespace), ``sha256`` itself left out."""
    body = json.dumps({k: v for k, v in doc.items() if k != "sha256"}, sort_keys=True, separators=(",", ":"),
                      allow_nan=False)
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()
