"""Checkpoints: atomic, resumable in-process, and exact after `kill -9` at random points or a Ctrl-C."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leanlearn.online.checkpoint import CHECKPOINT_FILE, CheckpointError, CheckpointStore
from leanlearn.online.run import run_monitor
from leanlearn.online.scenarios import planted_stream
from leanlearn.online.settings import TrackerSettings
from leanlearn.online.streams import FileReplay

CLI = [sys.executable, "-m", "leanlearn.cli", "monitor"]
WINDOW = 1000
EVERY = 250


def _scenario(tmp_path: Path, n_events: int = 20_000):
    pack, events = planted_stream(5, n_events, drifts=[(n_events * 2 // 5, 0, 0.05), (n_events * 3 // 5, 1, 0.95)],
                                  reference=50_000, seed=3)
    pack.save(tmp_path / "pack.json")
    events.to_csv(tmp_path / "events.csv", index=False)
    return pack, events


def _reference(tmp_path: Path, pack, n_events: int) -> tuple[dict, bytes]:
    """The uninterrupted run, in-process, on the same file the CLI reads."""
    from leanlearn.data.sources import read_table

    frame = read_table(tmp_path / "events.csv")
    summary = run_monitor(pack, FileReplay("events", frame=frame), alerts=tmp_path / "ref.jsonl",
                          checkpoint=tmp_path / "ref", checkpoint_every=EVERY, settings=TrackerSettings(WINDOW),
                          handle_signals=False)
    assert summary.total_events == n_events and summary.alerts >= 4  # the stream has changes to alert about
    state = json.loads((tmp_path / "ref" / CHECKPOINT_FILE).read_text())["monitor"]
    return state, (tmp_path / "ref.jsonl").read_bytes()


def _args(tmp_path: Path) -> list[str]:
    return [str(tmp_path / "pack.json"), str(tmp_path / "events.csv"), "--window", str(WINDOW),
            "--checkpoint", str(tmp_path / "ck"), "--alerts", str(tmp_path / "alerts.jsonl"), "--every", str(EVERY),
            "--quiet"]


def _checkpointed_events(path: Path) -> int | None:
    try:
        return json.loads(path.read_text())["monitor"]["n_events"]
    except (OSError, ValueError, KeyError):
        return None


def test_checkpoint_is_written_atomically_and_stale_temporaries_are_cleaned(tmp_path):
    store = CheckpointStore(tmp_path)
    (tmp_path / f".{CHECKPOINT_FILE}.999.tmp").write_text("half a checkpoint")  # a run killed while writing
    store.save({"n_events": 1}, stream={"events": 1}, alerts_bytes=None)
    assert store.load()["monitor"] == {"n_events": 1}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_damaged_checkpoint_is_named_not_guessed(tmp_path):
    (tmp_path / CHECKPOINT_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="cannot read the monitor checkpoint"):
        CheckpointStore(tmp_path).load()


def test_two_monitors_cannot_share_a_checkpoint_folder(tmp_path):
    first = CheckpointStore(tmp_path)
    first.lock()
    try:
        with pytest.raises(CheckpointError, match="another monitor is running"):
            CheckpointStore(tmp_path).lock()
    finally:
        first.unlock()
    CheckpointStore(tmp_path).lock()  # free again


def test_resuming_in_process_loses_and_repeats_no_event(tmp_path):
    pack, events = planted_stream(5, 12_000, drifts=[(5000, 0, 0.05)], reference=50_000, seed=8)
    params = TrackerSettings(800)
    whole = run_monitor(pack, FileReplay("e", frame=events), alerts=tmp_path / "whole.jsonl",
                        checkpoint=tmp_path / "whole", checkpoint_every=300, settings=params,
                        handle_signals=False)
    done = 0
    while done < len(events):  # stop and restart every ~2,000 events
        part = run_monitor(pack, FileReplay("e", frame=events), alerts=tmp_path / "parts.jsonl",
                           checkpoint=tmp_path / "parts", checkpoint_every=300, settings=params,
                           max_events=2000, handle_signals=False)
        done = part.total_events
    assert whole.monitor is not None and part.monitor is not None
    assert part.monitor.to_json() == whole.monitor.to_json()
    assert (tmp_path / "parts.jsonl").read_bytes() == (tmp_path / "whole.jsonl").read_bytes()


def test_alerts_written_after_the_last_checkpoint_are_cut_on_resume(tmp_path):
    pack, events = planted_stream(3, 8000, drifts=[(3000, 0, 0.02)], reference=50_000, seed=9)
    options = {"checkpoint_every": 1000, "settings": TrackerSettings(500), "handle_signals": False}
    whole = run_monitor(pack, FileReplay("e", frame=events), alerts=tmp_path / "whole.jsonl", **options)
    assert whole.alerts > 0
    first = run_monitor(pack, FileReplay("e", frame=events), alerts=tmp_path / "a.jsonl", checkpoint=tmp_path / "c",
                        max_events=2500, **options)
    assert first.total_events >= 2500
    with open(tmp_path / "a.jsonl", "ab") as fh:  # a killed run wrote alerts after its last checkpoint
        fh.write(b'{"written": "after the checkpoint"}\n')
    resumed = run_monitor(pack, FileReplay("e", frame=events), alerts=tmp_path / "a.jsonl", checkpoint=tmp_path / "c",
                          **options)
    assert resumed.resumed_from == first.total_events
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "whole.jsonl").read_bytes()


def test_kill_9_at_20_random_points_resumes_with_the_same_state_and_alerts(tmp_path):
    n_events = 20_000
    pack, _ = _scenario(tmp_path, n_events)
    expected_state, expected_alerts = _reference(tmp_path, pack, n_events)
    checkpoint = tmp_path / "ck" / CHECKPOINT_FILE
    rng = random.Random(20)
    targets = sorted(rng.randrange(0, n_events - 2000) for _ in range(20))  # where in the stream to strike
    resumed_at = []
    for target in targets:
        before = checkpoint.stat().st_mtime_ns if checkpoint.exists() else None
        proc = subprocess.Popen([*CLI, *_args(tmp_path), "--rate", "5000"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        started = time.monotonic()
        while proc.poll() is None and time.monotonic() - started < 30:  # until this run checkpointed past target
            if checkpoint.exists() and checkpoint.stat().st_mtime_ns != before:
                done = _checkpointed_events(checkpoint)
                if done is not None and done >= target:
                    break
            time.sleep(0.003)
        time.sleep(rng.uniform(0.0, 0.06))  # land between checkpoints too (250 events = 50 ms at 5,000/s)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        resumed_at.append(_checkpointed_events(checkpoint))
    finished = subprocess.run([*CLI, *_args(tmp_path), "--json"], capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    summary = json.loads(finished.stdout)
    assert summary["total_events"] == n_events and summary["resumed_from"] is not None
    assert len(set(resumed_at)) >= 10  # the kills fell all over the stream
    assert json.loads(checkpoint.read_text())["monitor"] == expected_state
    assert (tmp_path / "alerts.jsonl").read_bytes() == expected_alerts


def test_ctrl_c_stops_cleanly_with_a_checkpoint_and_the_run_resumes_exactly(tmp_path):
    n_events = 20_000
    pack, _ = _scenario(tmp_path, n_events)
    expected_state, expected_alerts = _reference(tmp_path, pack, n_events)
    checkpoint = tmp_path / "ck" / CHECKPOINT_FILE
    proc = subprocess.Popen([*CLI, *_args(tmp_path), "--rate", "4000", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    while (_checkpointed_events(checkpoint) or 0) < 2000 and time.monotonic() - started < 30:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["stopped"] is True and 2000 <= summary["total_events"] < n_events
    assert _checkpointed_events(checkpoint) == summary["total_events"]
    finished = subprocess.run([*CLI, *_args(tmp_path), "--json"], capture_output=True, text=True, timeout=60)
    assert json.loads(finished.stdout)["resumed_from"] == summary["total_events"]
    assert json.loads(checkpoint.read_text())["monitor"] == expected_state
    assert (tmp_path / "alerts.jsonl").read_bytes() == expected_alerts


class _InterruptedAtFirstCheckpoint(FileReplay):
    """A replay that gets Ctrl-C while the run writes its first checkpoint (the earliest a caller can see it)."""

    asked = False

    def position(self):
        if not self.asked:
            self.asked = True
            signal.raise_signal(signal.SIGINT)
        return super().position()


def test_ctrl_c_as_the_first_checkpoint_is_written_is_a_clean_stop(tmp_path):
    # CI once sent SIGINT the moment the first checkpoint appeared, before the handlers were in: exit 130, no summary
    pack, events = planted_stream(3, 2_000, drifts=[], reference=10_000, seed=4)
    summary = run_monitor(pack, _InterruptedAtFirstCheckpoint("e", frame=events), checkpoint=tmp_path / "c",
                          checkpoint_every=500, batch=500)
    assert summary.stopped is True
    assert 0 < summary.total_events < len(events)  # the first batch, then the stop
    assert _checkpointed_events(tmp_path / "c" / CHECKPOINT_FILE) == summary.total_events
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the caller's handler is back


@pytest.mark.slow
def test_kill_9_at_60_random_points_on_a_longer_stream(tmp_path):
    n_events = 100_000
    pack, _ = _scenario(tmp_path, n_events)
    expected_state, expected_alerts = _reference(tmp_path, pack, n_events)
    checkpoint = tmp_path / "ck" / CHECKPOINT_FILE
    rng = random.Random(60)
    for target in sorted(rng.randrange(0, n_events - 5000) for _ in range(60)):
        proc = subprocess.Popen([*CLI, *_args(tmp_path), "--rate", "20000"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        while proc.poll() is None and (_checkpointed_events(checkpoint) or -1) < target:
            time.sleep(0.003)
        time.sleep(rng.uniform(0.0, 0.02))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = subprocess.run([*CLI, *_args(tmp_path), "--json"], capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert json.loads(checkpoint.read_text())["monitor"] == expected_state
    assert (tmp_path / "alerts.jsonl").read_bytes() == expected_alerts
