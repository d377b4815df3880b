"""Checkpoints: the monitor's state, the stream position and the alert-file size, saved atomically together.

A checkpoint folder holds one file, ``monitor-checkpoint.json``, replaced atomically (written to a temporary file
in the same folder, flushed to disk, then :func:`os.replace`\\ d over the old one, and the folder synced): a reader
— or a run restarted after ``kill -9`` or a power cut — sees either the previous checkpoint or the new one, never a
mix. It records, at one instant between two micro-batches:

- the monitor's whole state (:meth:`~leanlearn.online.monitor.Monitor.state_dict`: windows, counters, states,
  detector states) — JSON only, nothing pickled (see :mod:`leanlearn.online.detectors` for ADWIN's bytes);
- the stream position (events consumed, and where the reader stands in its source);
- the size of the alert file, flushed to disk before the checkpoint is written.

Resuming loads the state, moves the stream to the recorded position and cuts the alert file back to the recorded
size: the events after the checkpoint are read again and raise their alerts again, so no event is lost or counted
twice and every alert is in the file exactly once. Checkpoints are local state of one monitor; they name the pack by
its content hash and the River version, and a mismatch is refused.

Examples
--------
>>> folder = getfixture("tmp_path") / "ckpt"
>>> store = CheckpointStore(folder)
>>> store.load() is None
True
>>> path = store.save({"schema": "leanlearn.monitor/1", "n_events": 3}, stream={"events": 3}, alerts_bytes=0)
>>> doc = store.load()
>>> doc["stream"], doc["monitor"]["n_events"], doc["alerts_bytes"]
({'events': 3}, 3, 0)
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leanlearn.errors import LeanlearnError

CHECKPOINT_SCHEMA = "leanlearn.checkpoint/1"
CHECKPOINT_FILE = "monitor-checkpoint.json"
LOCK_FILE = "monitor.lock"


class CheckpointError(LeanlearnError):
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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
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
            self._lock = None

    def exists(self) -> bool:
        return self.path.exists()

    def save(self, monitor: dict[str, Any], *, stream: dict[str, Any], alerts_bytes: int | None,
             alerts_path: str | None = None) -> Path:
        """Write a checkpoint (atomically)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        doc = {
            "schema": CHECKPOINT_SCHEMA,
            "saved": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "stream": stream,
            "alerts_path": alerts_path,
            "alerts_bytes": alerts_bytes,
            "monitor": monitor,
        }
        write_atomic(self.path, json.dumps(doc, separators=(",", ":"), allow_nan=False))
        for stale in self.folder.glob(f".{CHECKPOINT_FILE}.*.tmp"):  # left by a run killed while writing
            stale.unlink(missing_ok=True)
        return self.path

    def load(self) -> dict[str, Any] | None:
        """The last checkpoint, or ``None`` when the folder holds none."""
        if not self.path.exists():
            return None
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{self.path}: cannot read the monitor checkpoint ({exc}); remove the folder to "
                                  "start over") from None
        if not isinstance(doc, dict) or doc.get("schema") != CHECKPOINT_SCHEMA:
            raise CheckpointError(f"{self.path}: not a leanlearn monitor checkpoint")
        for key in ("stream", "monitor", "alerts_bytes"):
            if key not in doc:
                raise CheckpointError(f"{self.path}: the checkpoint lacks {key!r}; remove the folder to start over")
        return doc
