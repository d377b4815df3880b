"""Hostile inputs for the online wing: streams, events, timestamps, checkpoints, alert files, settings.

Each test is a probe that once crashed, hung, froze a window or leaked a traceback (or a guard next to one): the
monitor must set a bad event aside and go on, stop cleanly on a signal, and refuse a damaged state with one line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leanlearn.cli import app
from leanlearn.mining.rules import Condition, Rule, RuleSet, Shift
from leanlearn.online.base import MonitorError
from leanlearn.online.checkpoint import CHECKPOINT_FILE, CheckpointError, CheckpointStore
from leanlearn.online.detectors import DriftDetector
from leanlearn.online.monitor import Monitor
from leanlearn.online.quarantine import Quarantined
from leanlearn.online.run import run_monitor
from leanlearn.online.settings import MAX_WINDOW_EVENTS, TrackerSettings, Window
from leanlearn.online.streams import FileReplay, JsonLinesStream
from leanlearn.online.trackers import RuleTracker
from leanlearn.packs.pack import RulePack, Target

T0 = pd.Timestamp("2024-03-01", tz="UTC")


def _rule(rid="R1", feature="torque", threshold=60.0, target="scrap", shift=None):
    return Rule((Condition(feature, ">=", threshold),), Condition(target, "==" if shift is None else ">",
                                                                  1 if shift is None else 40.0),
                support=0.05, coverage=0.1, confidence=0.5, lift=5.0, leverage=0.04, conviction=1.8, n=1000,
                hits=500, p_value=1e-20, p_value_raw=1e-22, ci=(0.47, 0.53), base_rate=0.1, id=rid, shift=shift)


PACK = RulePack(name="press", line="L1", targets=(Target("scrap"),), rules=RuleSet((_rule(),)))


def _events(n=400, seed=0):
    rng = np.random.default_rng(seed)
    torque = rng.normal(58, 6, n).round(2)
    return pd.DataFrame({"torque": torque, "scrap": ((torque >= 60) & (rng.random(n) < 0.5)).astype(int),
                         "ts": (T0 + pd.to_timedelta(np.arange(n), unit="s")).astype(str)})


def _jsonl(frame: pd.DataFrame) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in frame.to_dict("records"))


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _one_error_line(result):
    text = result.output.strip()
    assert result.exit_code == 2, result.output
    assert "Traceback" not in text and text.startswith("error:") and len(text.splitlines()) == 1, text
    return text


@pytest.fixture
def pack_file(tmp_path):
    return PACK.save(tmp_path / "pack.json")


# -- signals on a live stdin feed ------------------------------------------------------------------------------------
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_monitor_on_stdin_stops_cleanly_on_a_signal_while_the_producer_stays_connected(tmp_path, pack_file, signum):
    ckpt = tmp_path / "ckpt"
    cmd = [sys.executable, "-m", "leanlearn.cli", "monitor", str(pack_file), "-", "--checkpoint", str(ckpt), "--json"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdin is not None
        proc.stdin.write(_jsonl(_events(50)))
        proc.stdin.flush()  # the pipe stays open: the producer is still connected
        deadline = time.monotonic() + 60
        while not (ckpt / CHECKPOINT_FILE).exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        time.sleep(1.0)
        proc.send_signal(signum)
        proc.wait(timeout=60)  # stdin stays open (communicate() would close it: the end of the stream)
        assert proc.stdout is not None and proc.stderr is not None
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"Fatal Python error" not in err
    summary = json.loads(out)
    assert summary["stopped"] is True
    assert CheckpointStore(ckpt).load()["monitor"]["n_events"] == summary["total_events"]


def test_the_stdin_reader_thread_ends_when_the_stream_is_closed():
    read, write = os.pipe()
    stream = JsonLinesStream(os.fdopen(read, "rb", buffering=0), linger=0.05)
    os.write(write, b'{"torque": 61}\n')
    batches = stream.batches(10)
    assert len(next(b for b in batches if len(b))) == 1
    stream.close()
    assert stream._thread is not None and not stream._thread.is_alive()
    os.close(write)


def test_an_endless_line_on_stdin_is_counted_and_skipped_not_held_in_memory(monkeypatch):
    import leanlearn.online.streams as streams

    monkeypatch.setattr(streams, "MAX_LINE_BYTES", 1000)
    read, write = os.pipe()
    stream = JsonLinesStream(os.fdopen(read, "rb", buffering=0), linger=0.05)
    os.write(write, b'{"a": "' + b"x" * 5000 + b'"}\n{"torque": 61}\n')
    os.close(write)
    rows = pd.concat([b for b in stream.batches(10) if len(b)])
    assert rows["torque"].tolist() == [61] and stream.bad_lines == 1 and "longer than" in stream.problems[0]


@pytest.mark.parametrize("line", [b"[" * 100_000 + b"]" * 100_000, b'{"torque": 1' + b"0" * 5000 + b"}"],
                         ids=["deep-nesting", "5000-digit-integer"])
def test_a_pathological_json_line_is_a_bad_line_not_a_crash(line):
    import io

    stream = JsonLinesStream(io.BytesIO(line + b'\n{"torque": 61}\n'), linger=0.05)
    rows = pd.concat([b for b in stream.batches(10) if len(b)])
    assert rows["torque"].tolist() == [61] and stream.bad_lines == 1


# -- malformed values: quarantined, counted, and the run goes on ---------------------------------------------------
@pytest.mark.parametrize(("value", "code"), [("n/a", "not-a-number"), ([1, 2], "not-a-value"),
                                              ({"v": 1}, "not-a-value"), ("1e400", "not-a-number"),
                                              (float("inf"), "not-a-number")],
                         ids=["text", "list", "object", "overflow", "infinity"])
def test_one_malformed_value_quarantines_its_event_and_the_monitor_goes_on(value, code):
    monitor = Monitor(PACK, window=100)
    monitor.update_many(_events(50))
    monitor.update({"torque": value, "scrap": 1})
    monitor.update_many(_events(50, seed=1))
    held = monitor.pop_quarantined()
    assert monitor.n_events == 101 and monitor.n_quarantined == 1
    assert [(q.event, q.code, q.column) for q in held] == [(50, code, "torque")]
    assert held[0].value is not None and len(held[0].value) <= 200


def test_text_in_a_binary_outcome_is_quarantined_not_read_as_a_miss():
    monitor = Monitor(PACK, window=100)
    monitor.update_many(pd.DataFrame({"torque": [65.0, 65.0], "scrap": [1, "yes"]}))
    assert [(q.event, q.column) for q in monitor.pop_quarantined()] == [(1, "scrap")]


def test_numbers_written_as_text_and_booleans_are_numbers():
    monitor = Monitor(PACK, window=100)
    monitor.update_many(pd.DataFrame({"torque": [" 65.5 ", True, 70], "scrap": ["1", 1, False]}, dtype=object))
    assert monitor.n_quarantined == 0 and monitor.status().loc[0, "fired"] == 2


def test_a_missing_column_is_a_missing_value_not_an_error():
    monitor = Monitor(PACK, window=100)
    monitor.update({"scrap": 1})
    monitor.update_many(pd.DataFrame({"scrap": [1, 0]}))
    assert monitor.n_events == 3 and monitor.n_quarantined == 0


def test_text_compared_with_a_number_inside_a_derived_feature_quarantines_the_event():
    rule = _rule(feature="hot", threshold=0.5)
    pack = RulePack(name="p", line="L", targets=(Target("scrap"),), rules=RuleSet((rule,)),
                    derived=(("hot", "kind == 'A'"),))
    frame = pd.DataFrame({"kind": ["A", 3.0, "B", "A"], "scrap": [1, 1, 0, 1]}, dtype=object)
    one, many = Monitor(pack, window=10), Monitor(pack, window=10)
    for row in frame.to_dict("records"):
        one.update(row)
    many.update_many(frame)
    assert [q.event for q in many.pop_quarantined()] == [q.event for q in one.pop_quarantined()] == [1]
    assert one.to_json() == many.to_json()


def test_per_event_and_batched_paths_quarantine_the_same_events_and_agree():
    frame = _events(600).astype(object)
    rng = np.random.default_rng(3)
    for i in rng.choice(600, 40, replace=False):
        frame.loc[i, rng.choice(["torque", "scrap"])] = rng.choice(["n/a", "", "12,5", None, "7"])
    one, many = Monitor(PACK, window=150), Monitor(PACK, window=150)
    alerts_one = [a for row in frame.to_dict("records") for a in one.update(row)]
    alerts_many = [a for start in range(0, 600, 97) for a in many.update_many(frame.iloc[start:start + 97])]
    assert alerts_one == alerts_many and one.to_json() == many.to_json()
    assert one.pop_quarantined() == many.pop_quarantined() and one.n_quarantined > 0


def test_one_bad_cell_in_a_csv_replay_quarantines_one_row_and_the_column_stays_numeric(tmp_path, pack_file):
    frame = _events(300)
    frame["torque"] = frame["torque"].astype(object)
    frame.loc[10, "torque"] = "abc"
    frame.to_csv(tmp_path / "events.csv", index=False)
    result = _invoke("monitor", pack_file, tmp_path / "events.csv", "--alerts", tmp_path / "alerts.jsonl", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["quarantined"] == 1 and summary["total_events"] == 300
    lines = Path(summary["quarantine"]).read_text().splitlines()
    record = Quarantined.from_json(json.loads(lines[0]))
    assert (record.event, record.column, record.value, record.source) == (10, "torque", "'abc'",
                                                                           str(tmp_path / "events.csv"))


def test_a_resume_gets_past_a_quarantined_event(tmp_path):
    frame = _events(400).astype(object)
    frame.loc[150, "torque"] = "n/a"
    options = {"checkpoint": tmp_path / "ckpt", "checkpoint_every": 100, "handle_signals": False,
               "quarantine": tmp_path / "q.jsonl"}
    first = run_monitor(PACK, FileReplay("events", frame=frame), max_events=200, **options)
    second = run_monitor(PACK, FileReplay("events", frame=frame), **options)
    assert (first.quarantined, second.quarantined, second.total_events) == (1, 0, 400)
    assert len((tmp_path / "q.jsonl").read_text().splitlines()) == 1


# -- timestamps ----------------------------------------------------------------------------------------------------
def _timed(n=300):
    return pd.DataFrame({"torque": np.where(np.arange(n) % 2, 65.0, 50.0), "scrap": np.arange(n) % 4 == 1,
                         "ts": (T0 + pd.to_timedelta(np.arange(n), unit="s")).astype(str)})


def test_a_far_future_timestamp_is_quarantined_and_the_time_window_keeps_moving():
    frame = _timed()
    frame.loc[100, "ts"] = "2100-01-01T00:00:00Z"
    monitor = Monitor(PACK, window="60s", time_column="ts")
    monitor.update_many(frame)
    assert [(q.event, q.code) for q in monitor.pop_quarantined()] == [(100, "future-time")]
    assert monitor.status().loc[0, "fired"] <= 31  # the window still holds one minute, not 200 events


def test_the_far_future_bound_follows_the_horizon_setting_and_the_clock():
    frame = _timed(10)
    frame.loc[5, "ts"] = str(T0 + pd.Timedelta("3D"))
    now = int(T0.value)
    strict = Monitor(PACK, TrackerSettings("60s", "ts", horizon="1d"), clock=lambda: now)
    lenient = Monitor(PACK, TrackerSettings("60s", "ts", horizon="7d"), clock=lambda: now)
    strict.update_many(frame)
    lenient.update_many(frame)
    assert (strict.n_quarantined, lenient.n_quarantined) == (1, 0)


def test_a_late_event_is_counted_at_the_latest_time_and_the_window_does_not_move_back():
    frame = _timed(6)
    frame.loc[4, "ts"] = str(T0 - pd.Timedelta("1h"))
    one, many = Monitor(PACK, window="60s", time_column="ts"), Monitor(PACK, window="60s", time_column="ts")
    for row in frame.to_dict("records"):
        one.update(row)
    many.update_many(frame)
    assert one.n_quarantined == 0 and one.to_json() == many.to_json()
    assert one.to_json()["last_position"] == int((T0 + pd.Timedelta("5s")).value)


@pytest.mark.parametrize(("value", "code"), [("", "no-time"), ("yesterday", "bad-time"), ([1], "bad-time"),
                                              (1e300, "bad-time"), ("2999-01-01", "bad-time"),
                                              (1.7e12, "bad-time")])
def test_an_event_without_a_readable_time_is_quarantined_in_a_time_window(value, code):
    monitor = Monitor(PACK, window="60s", time_column="ts")
    monitor.update_many(_timed(3))
    monitor.update({"torque": 65.0, "scrap": 1, "ts": value})
    assert [(q.event, q.code) for q in monitor.pop_quarantined()] == [(3, code)]


def test_time_naming_a_column_the_stream_lacks_is_refused_with_one_line(tmp_path, pack_file):
    _events(20).to_csv(tmp_path / "events.csv", index=False)
    text = _one_error_line(_invoke("monitor", pack_file, tmp_path / "events.csv", "--time", "timestamp"))
    assert "'timestamp'" in text and "'ts'" in text


def test_the_first_event_must_carry_the_time_on_the_per_event_path_too():
    with pytest.raises(MonitorError, match="first event has no time"):
        Monitor(PACK, window=100, time_column="ts").update({"torque": 61.0, "scrap": 1})


# -- checkpoints and alert files -----------------------------------------------------------------------------------
def _run_cli(tmp_path, pack_file, *extra):
    _events(300).to_csv(tmp_path / "events.csv", index=False)
    return _invoke("monitor", pack_file, tmp_path / "events.csv", "--checkpoint", tmp_path / "ckpt",
                   "--alerts", tmp_path / "alerts.jsonl", "--every", 100, "--json", *extra)


@pytest.mark.parametrize("edit", [
    lambda doc: doc["monitor"].update(n_events=-5),
    lambda doc: doc["monitor"]["trackers"][0]["adwin"].update(state="AAAA"),
    lambda doc: doc["monitor"].update(trackers="many"),
    lambda doc: doc["stream"].update(events="ten"),
], ids=["negative-count", "adwin-bytes", "wrong-type", "stream-position"])
def test_an_edited_checkpoint_is_refused_with_one_line(tmp_path, pack_file, edit):
    assert _run_cli(tmp_path, pack_file).exit_code == 0
    path = tmp_path / "ckpt" / CHECKPOINT_FILE
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    assert "edited or damaged" in _one_error_line(_run_cli(tmp_path, pack_file))


@pytest.mark.parametrize("damage", [lambda t: t[: len(t) // 2], lambda t: "\x00" * 50, lambda t: "[]",
                                    lambda t: "[" * 100_000], ids=["truncated", "binary", "array", "deep"])
def test_a_corrupted_checkpoint_file_is_refused_with_one_line(tmp_path, pack_file, damage):
    assert _run_cli(tmp_path, pack_file).exit_code == 0
    path = tmp_path / "ckpt" / CHECKPOINT_FILE
    path.write_text(damage(path.read_text()))
    assert "checkpoint" in _one_error_line(_run_cli(tmp_path, pack_file))


def test_a_damaged_state_given_to_the_api_raises_monitor_error_without_reaching_river():
    monitor = Monitor(PACK, window=100)
    monitor.update_many(_events(200))
    doc = json.loads(json.dumps(monitor.to_json()))
    doc["trackers"][0]["adwin"]["state"] = "not base64!"
    with pytest.raises(MonitorError, match="damaged"):
        Monitor.from_json(doc, PACK)
    doc = json.loads(json.dumps(monitor.to_json()))
    doc["trackers"][0]["state"] = "panic"
    with pytest.raises(MonitorError, match="damaged"):
        Monitor.from_json(doc, PACK)


@pytest.mark.parametrize("rotate", [lambda p: p.unlink(), lambda p: p.write_text("")], ids=["removed", "emptied"])
def test_a_rotated_or_truncated_alert_file_is_refused_with_one_line(tmp_path, pack_file, rotate):
    events = _events(300)
    events.loc[150:, "scrap"] = 0  # the rule stops holding: alerts get written
    events.to_csv(tmp_path / "events.csv", index=False)
    args = ["monitor", pack_file, tmp_path / "events.csv", "--checkpoint", tmp_path / "ckpt", "--every", 50,
            "--window", 60, "--json"]
    assert _invoke(*args, "--alerts", tmp_path / "alerts.jsonl").exit_code == 0
    assert (tmp_path / "alerts.jsonl").stat().st_size > 0
    rotate(tmp_path / "alerts.jsonl")
    assert "rotated or truncated" in _one_error_line(_invoke(*args, "--alerts", tmp_path / "alerts.jsonl"))
    resumed = _invoke(*args, "--alerts", tmp_path / "alerts-2.jsonl")
    assert resumed.exit_code == 0 and "writing to" in " ".join(json.loads(resumed.output)["problems"])


def test_a_checkpoint_of_the_previous_format_is_read(tmp_path):
    monitor = Monitor(PACK, window=100)
    monitor.update_many(_events(200))
    new = monitor.to_json()
    old = {k: v for k, v in new.items() if k not in ("settings", "n_quarantined")}
    old.update(schema="leanlearn.monitor/1", params={"window": 100, "time_column": None, "alpha": 0.01,
                                                     "min_fired": 10, "drift_after": 5, "ok_after": 10,
                                                     "alpha_ok": 0.2, "adwin_delta": 0.002, "adwin_clock": 1,
                                                     "ph_threshold": 25.0, "ph_delta": 0.25})
    old["trackers"] = [{k: v for k, v in t.items() if k != "settings"} for t in new["trackers"]]
    (tmp_path / CHECKPOINT_FILE).write_text(json.dumps({"schema": "leanlearn.checkpoint/1", "stream": {},
                                                        "alerts_bytes": None, "monitor": old}))
    doc = CheckpointStore(tmp_path).load()
    assert Monitor.from_json(doc["monitor"], PACK).to_json() == new


def test_a_checkpoint_of_another_kind_of_file_is_refused(tmp_path):
    (tmp_path / CHECKPOINT_FILE).write_text(json.dumps({"schema": "leanlearn.rulepack/1"}))
    with pytest.raises(CheckpointError, match="not a leanlearn monitor checkpoint"):
        CheckpointStore(tmp_path).load()


# -- settings ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("window", ["99999999999999999999999", "10**30", "1e9", "0", "-5", "10000d", "abc", "nan",
                                    "", str(MAX_WINDOW_EVENTS + 1)])
def test_a_huge_or_nonsensical_window_is_one_error_line(tmp_path, pack_file, window):
    _events(20).to_csv(tmp_path / "events.csv", index=False)
    text = _one_error_line(_invoke("monitor", pack_file, tmp_path / "events.csv", "--window", window))
    assert text.startswith("error: --window")


@pytest.mark.parametrize("horizon", ["0s", "100", "100000d", "soon"])
def test_a_nonsensical_horizon_is_one_error_line(tmp_path, pack_file, horizon):
    _events(20).to_csv(tmp_path / "events.csv", index=False)
    _one_error_line(_invoke("monitor", pack_file, tmp_path / "events.csv", "--window", "10min", "--time", "ts",
                            "--horizon", horizon))


@pytest.mark.parametrize("change", [{"alpha": 2}, {"alpha": float("nan")}, {"min_fired": 0}, {"min_fired": 2.5},
                                    {"alpha_ok": 0.001}, {"ph_threshold": float("inf")}, {"drift_after": True},
                                    {"time_column": ""}])
def test_tracker_settings_refuse_values_out_of_range(change):
    with pytest.raises(MonitorError, match=next(iter(change))):
        TrackerSettings(**change)


def test_tracker_settings_round_trip_and_refuse_unknown_keys():
    settings = TrackerSettings("10min", "ts", alpha=0.05, horizon="6h")
    assert TrackerSettings.from_json(json.loads(json.dumps(settings.to_json()))) == settings
    with pytest.raises(MonitorError, match="unknown tracker setting 'windw'"):
        TrackerSettings.from_json({"windw": 100})


def test_window_parse_reads_events_and_durations_in_one_place():
    assert Window.parse("2_000") == Window.parse(2000.0) == Window(2000)
    assert Window.parse("90min") == Window.parse(pd.Timedelta("1.5h")) and str(Window.parse("90min")) == "90min"
    with pytest.raises(MonitorError):
        Window.parse(True)


# -- the River contract ----------------------------------------------------------------------------------------------
def test_online_objects_clone_with_their_parameters_and_nothing_learned():
    monitor = Monitor(PACK, TrackerSettings(200, min_fired=5))
    monitor.update_many(_events(300))
    twin = monitor.clone()
    assert twin.settings == monitor.settings and twin.n_events == 0 and monitor.n_events == 300
    assert repr(twin) == "Monitor(pack='press', settings=TrackerSettings(window=Window('200 events'), min_fired=5))"
    tracker = RuleTracker(_rule(), window=50).update(True, True)
    assert tracker.clone().n_fired == 0 and tracker.clone(settings=TrackerSettings(70)).settings.window.span == 70


def test_the_detector_adapter_is_chosen_by_type_and_refuses_others():
    from river.drift import ADWIN, PageHinkley

    assert DriftDetector.of(ADWIN()).kind == "adwin" and DriftDetector.of(PageHinkley()).kind == "page-hinkley"
    with pytest.raises(TypeError, match="no adapter"):
        DriftDetector.of(object())
    with pytest.raises(MonitorError, match="unknown detector kind"):
        DriftDetector.from_json({"kind": "pickle"})


def test_a_numeric_rule_state_round_trips_with_its_page_hinkley_detector():
    rule = _rule(target="setup", shift=Shift(60.0, 58.0, 40.0, 40.0, 0.6))
    pack = RulePack(name="n", line="L", targets=(Target("setup", "numeric", "setup", "higher"),),
                    rules=RuleSet((rule,)))
    monitor = Monitor(pack, window=100)
    rng = np.random.default_rng(0)
    monitor.update_many(pd.DataFrame({"torque": rng.normal(60, 5, 500), "setup": rng.normal(50, 10, 500)}))
    doc = json.loads(json.dumps(monitor.to_json()))
    assert Monitor.from_json(doc, pack).to_json() == monitor.to_json()


@pytest.mark.parametrize("kind", ["datetime", "epoch-seconds", "mixed-text-and-numbers"])
def test_times_of_any_type_give_the_same_windows_per_event_and_batched(kind):
    frame = _timed(200)
    stamps = pd.to_datetime(frame["ts"], utc=True)
    if kind == "datetime":
        frame["ts"] = stamps
    elif kind == "epoch-seconds":
        frame["ts"] = stamps.astype("int64") // 10**9
    else:
        frame["ts"] = [str(t) if i % 2 else t.timestamp() for i, t in enumerate(stamps)]
    one, many = Monitor(PACK, window="30s", time_column="ts"), Monitor(PACK, window="30s", time_column="ts")
    for row in frame.to_dict("records"):
        one.update(row)
    many.update_many(frame)
    assert one.n_quarantined == many.n_quarantined == 0 and one.to_json() == many.to_json()


def test_the_quarantine_file_cannot_be_the_alert_file(tmp_path, pack_file):
    _events(20).to_csv(tmp_path / "events.csv", index=False)
    _one_error_line(_invoke("monitor", pack_file, tmp_path / "events.csv", "--alerts", tmp_path / "a.jsonl",
                            "--quarantine", tmp_path / "a.jsonl"))


def test_a_slow_file_replay_stops_at_once_on_sigint(tmp_path, pack_file):
    _events(50).to_csv(tmp_path / "events.csv", index=False)
    cmd = [sys.executable, "-m", "leanlearn.cli", "monitor", str(pack_file), str(tmp_path / "events.csv"),
           "--rate", "0.01", "--checkpoint", str(tmp_path / "ckpt"), "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "ckpt" / CHECKPOINT_FILE).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)  # one event per 100 s: without a stop it would run for hours
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert json.loads(out)["stopped"] is True


def test_monitor_false_alarm_setting_reaches_the_checkpoint_and_a_bad_one_is_one_error_line(tmp_path, pack_file):
    _events(300).to_csv(tmp_path / "events.csv", index=False)
    result = _invoke("monitor", pack_file, tmp_path / "events.csv", "--checkpoint", tmp_path / "ckpt",
                     "--false-alarms-per-million", "0.5", "--json")
    assert result.exit_code == 0, result.output
    from leanlearn.online.checkpoint import CheckpointStore

    settings = CheckpointStore(tmp_path / "ckpt").load()["monitor"]["settings"]
    assert settings["false_alarms_per_million"] == 0.5
    text = _one_error_line(_invoke("monitor", pack_file, tmp_path / "events.csv", "--false-alarms-per-million", "-1"))
    assert "false_alarms_per_million" in text
