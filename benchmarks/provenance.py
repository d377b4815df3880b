"""What a benchmark's JSON records about the run: the leanlearn source measured and the machine.

Imported by the scripts beside it (each is run as ``python benchmarks/<script>.py``, so this folder is on the path).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def source_state() -> dict[str, Any]:
    """Commit of the leanlearn checkout and whether ``src/`` differs from it (read-only git calls). Read it before
    the first measurement: that is the source the run imports."""

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False).stdout

    try:
        commit = git("rev-parse", "--short", "HEAD").strip() or None
        changed = git("diff", "--name-only", "HEAD", "--", "src").split()
        untracked = git("ls-files", "--others", "--exclude-standard", "--", "src").split()
    except OSError:
        return {"commit": None}
    return {"commit": commit, "src_modified": changed, "src_untracked": untracked}


def run_meta(started: float, source: dict[str, Any]) -> dict[str, Any]:
    """The ``meta`` block: when (UTC, at the end), where, how long since ``started`` (``time.perf_counter``)."""
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "seconds": time.perf_counter() - started, **source}


def write_results(path: Path, doc: dict[str, Any]) -> None:
    """Write a benchmark's JSON document (indented, one trailing newline) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {path}")
