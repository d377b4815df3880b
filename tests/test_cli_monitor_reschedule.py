"""`leanlearn monitor --reschedule`: the monitor's stream drives the schedule repair, end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from leanlearn.cli import app
from leanlearn.schedule import Disruption, read_instance, read_schedule, validate_schedule

ROOT = Path(__file__).parents[1]
FT06 = ROOT / "tests" / "data" / "jobshop" / "ft06.txt"
PACK = ROOT / "models" / "ai4i.HDF.json"


def _plan(tmp_path: Path) -> Path:
    result = CliRunner().invoke(app, ["schedule", "solve", str(FT06), "--time-limit", "10", "--json"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "plan.json"
    path.write_text(result.stdout)
    return path


def test_a_breakdown_in_the_stream_repairs_the_plan(tmp_path):
    plan = _plan(tmp_path)
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({"station": "1", "start": 19, "end": 25}) + "\n")  # a downtime row: M1 [19, 25)
    out = tmp_path / "repaired.json"
    result = CliRunner().invoke(app, ["monitor", str(PACK), str(events), "--reschedule", str(FT06), "--plan", str(plan),
                                      "--plan-out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schedule"]["repairs"] == 1 and doc["schedule"]["plan"] == str(out)
    repaired = read_schedule(out)
    assert repaired.makespan == doc["schedule"]["makespan"] >= 55
    assert validate_schedule(read_instance(FT06), repaired, down=[Disruption(1, 19, 6)]) == []
    before = {(op.job, op.index): op for op in read_schedule(plan).operations}
    assert all(op.start == before[op.job, op.index].start for op in repaired.operations if op.end <= 19)


def test_the_plan_is_written_after_every_repair_and_at_the_end(tmp_path, monkeypatch):
    # a kill -9 between repairs leaves the latest plan in --plan-out, ready to be the next run's --plan
    from leanlearn import _util

    plan = _plan(tmp_path)
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({"station": "1", "start": 19, "end": 25}) + "\n"
                      + json.dumps({"station": "3", "start": 30, "end": 34}) + "\n")
    out = tmp_path / "plans" / "current.json"
    written = []
    real = _util.write_text_atomic
    monkeypatch.setattr(_util, "write_text_atomic", lambda path, text, *a: written.append(text) or real(path, text))
    result = CliRunner().invoke(app, ["monitor", str(PACK), str(events), "--reschedule", str(FT06), "--plan", str(plan),
                                      "--plan-out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["schedule"]["repairs"] == 2
    assert len(written) == 3 and written[1] == written[2] == out.read_text()  # each repair, then the end
    assert json.loads(written[0]) != json.loads(written[1])


def test_an_unwritable_plan_out_is_one_clear_error(tmp_path):
    plan = _plan(tmp_path)
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({"station": "1", "start": 19, "end": 25}) + "\n")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(app, ["monitor", str(PACK), str(events), "--reschedule", str(FT06), "--plan", str(plan),
                                      "--plan-out", str(blocker / "plan.json")])
    assert result.exit_code != 0
    assert "--plan-out" in result.output and "Traceback" not in result.output


def test_plan_options_without_reschedule_are_one_clear_error(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text("")
    result = CliRunner().invoke(app, ["monitor", str(PACK), str(events), "--plan", str(tmp_path / "p.json")])
    assert result.exit_code == 2 and "--reschedule" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["monitor", str(PACK), str(events), "--reschedule", str(FT06)])
    assert result.exit_code == 2 and "--plan" in result.output


def test_hostile_plan_and_station_events_end_in_one_error_or_an_ignored_event(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"x":')
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in (
        {"station": "99", "event": "down", "time": 3},          # no such station
        {"station": "1", "event": "down", "time": 1e300},       # a time no plan reaches
        {"station": "1", "event": "down", "time": "soon"},      # not a time
    )) + "\n" + '{"station": "1", "event": "down", "time": 1' + "0" * 400 + "}\n")  # an int beyond any float
    result = CliRunner().invoke(app, ["monitor", str(PACK), str(events), "--reschedule", str(FT06), "--plan", str(bad)])
    assert result.exit_code == 2 and "bad.json: not a JSON schedule" in result.output
    assert str(FT06) not in result.output and "Traceback" not in result.output
    plan = _plan(tmp_path)
    result = CliRunner().invoke(app, ["monitor", str(PACK), str(events), "--reschedule", str(FT06), "--plan", str(plan),
                                      "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)["schedule"]
    assert doc["repairs"] == 0 and doc["ignored"] == 4 and doc["makespan"] == read_schedule(plan).makespan
    assert any("past the horizon limit" in p and len(p) < 200 for p in doc["problems"])
