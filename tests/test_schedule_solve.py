"""`leanlearn schedule solve / repair / validate` and the CP-SAT model: ft06's optimum, feasibility checked without
the solver, setups, release dates, windows and rule-pack constraints honoured."""

import itertools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leanlearn.cli_schedule import app
from leanlearn.schedule.constraints import (
    ForbiddenSequence,
    SetupExtension,
    apply_constraints,
    constraints_from_pack,
    read_constraints,
)
from leanlearn.schedule.cpsat import solve
from leanlearn.schedule.instance import read_instance
from leanlearn.schedule.solution import Schedule
from leanlearn.schedule.validate import validate_schedule

FT06 = Path(__file__).parent / "data" / "jobshop" / "ft06.txt"
runner = CliRunner()


def _independent_check(text: str, doc: dict, down=()) -> None:
    """Feasibility from the raw text file and the JSON alone (no leanlearn code): every op once with its routing's
    machine and duration, job order, no overlap per machine, down windows free."""
    rows = [line.split("#")[0].split() for line in text.splitlines()]
    rows = [r for r in rows if r]
    routing = [[(int(r[i]), int(r[i + 1])) for i in range(0, len(r), 2)] for r in rows[1:]]
    ops = {(o["job"], o["index"]): o for o in doc["operations"]}
    assert len(ops) == len(doc["operations"]) == sum(len(r) for r in routing)
    for j, route in enumerate(routing):
        for k, (m, d) in enumerate(route):
            o = ops[j, k]
            assert o["machine"] == m and o["end"] - o["start"] == d and o["start"] >= 0
            if k:
                assert o["start"] >= ops[j, k - 1]["end"]
    for m in {o["machine"] for o in ops.values()}:
        seq = sorted((o["start"], o["end"]) for o in ops.values() if o["machine"] == m)
        assert all(b[0] >= a[1] for a, b in itertools.pairwise(seq))
        for dm, ds, dd in down:
            if dm == m:
                assert all(e <= ds or s >= ds + dd for s, e in seq)
    assert doc["makespan"] == max(o["end"] for o in ops.values())


def test_schedule_solve_finds_ft06_optimum_55_and_the_schedule_is_feasible():
    result = runner.invoke(app, ["solve", str(FT06), "--time-limit", "20", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)                       # only JSON on stdout
    assert doc["makespan"] == 55 and doc["status"] == "OPTIMAL"
    _independent_check(FT06.read_text(), doc)
    assert validate_schedule(read_instance(FT06), Schedule.from_json(doc)) == []


def test_schedule_repair_cli_prints_a_feasible_repair_with_right_shift_beside_it(tmp_path):
    plan = tmp_path / "plan.json"
    assert runner.invoke(app, ["solve", str(FT06), "--json", "--out", str(plan)]).exit_code == 0
    result = runner.invoke(app, ["repair", str(FT06), "--schedule", str(plan), "--down", "1:19:6", "--json",
                                 "--time-limit", "5"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    _independent_check(FT06.read_text(), doc, down=[(1, 19, 6)])
    original = {(o["job"], o["index"]): o for o in json.loads(plan.read_text())["operations"]}
    for o in doc["operations"]:
        before = original[o["job"], o["index"]]
        if before["start"] < 19 and not (before["machine"] == 1 and before["end"] > 19):
            assert (o["start"], o["end"]) == (before["start"], before["end"])
    assert set(doc["right_shift"]) == {"makespan", "total_tardiness", "bottleneck_idle", "operations_moved"}
    assert doc["makespan"] <= doc["right_shift"]["makespan"]
    human = runner.invoke(app, ["repair", str(FT06), "--schedule", str(plan), "--down", "M1:19:6"])
    assert human.exit_code == 0 and "right-shift" in human.stdout and "####" in human.stdout


def test_schedule_validate_cli_exit_codes(tmp_path):
    plan = tmp_path / "plan.json"
    runner.invoke(app, ["solve", str(FT06), "--json", "--out", str(plan)])
    assert runner.invoke(app, ["validate", str(FT06), str(plan)]).exit_code == 0
    busy = next(o for o in json.loads(plan.read_text())["operations"] if o["machine"] == 0)
    bad = runner.invoke(app, ["validate", str(FT06), str(plan), "--down", f"0:{busy['start']}:1", "--json"])
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["feasible"] is False


@pytest.mark.parametrize(("args", "expected"), [
    (["solve", "{garbage}"], "the first line must be"),
    (["solve", "{missing}"], "no such instance file"),
    (["repair", "{ft06}", "--schedule", "{ft06}", "--down", "1:2:3"], "not a JSON schedule"),
    (["repair", "{ft06}", "--schedule", "{plan}", "--down", "9:2:3"], "machine 9 is out of range"),
    (["repair", "{ft06}", "--schedule", "{plan}", "--down", "1-2-3"], "write MACHINE:START:DURATION"),
    (["repair", "{ft06}", "--schedule", "{plan}"], "give the breakdown with --down"),
    (["solve", "{ft06}", "--objective", "speed"], "unknown objective 'speed'"),
    (["repair", "{ft06}", "--schedule", "{good}", "--down", "1:99999999999999999999:3"], "past the horizon limit"),
    (["repair", "{ft06}", "--schedule", "{good}", "--down", "press:1:3"], "no machine named 'press'"),
    (["validate", "{ft06}", "{deep}"], "not a JSON schedule"),
])
def test_cli_user_errors_are_one_line_and_exit_2(tmp_path, args, expected):
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(b"<html>not an instance</html>\n")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"operations": [], "makespan": 0}))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(solve(read_instance(FT06), time_limit=5).to_json()))
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    paths = {"garbage": garbage, "missing": tmp_path / "none.txt", "ft06": FT06, "plan": plan, "good": good,
             "deep": deep}
    result = runner.invoke(app, [a.format(**paths) for a in args])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and expected in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


def _line(tmp_path, extra=""):
    path = tmp_path / "line.yaml"
    path.write_text("""
machines: [press, oven]
jobs:
  - {material: A, operations: [[press, 4], [oven, 3]]}
  - {material: B, operations: [[press, 2], [oven, 5]]}
  - {material: A, release: 6, operations: [[press, 3], [oven, 2]]}
setups:
  press: {A: {B: 5}, B: {A: 5}}
unavailable:
  - {machine: oven, start: 4, end: 9}
""" + extra)
    return read_instance(path)


def test_setups_releases_and_windows_are_honoured_and_optimal(tmp_path):
    inst = _line(tmp_path)
    s = solve(inst, time_limit=10)
    assert s.status == "OPTIMAL"
    assert validate_schedule(inst, s) == []
    assert s.by_key()[2, 0].start >= 6
    # no setups at all on the same data cannot be worse; the setups cost time here
    free = solve(type(inst)(inst.name, inst.n_machines, inst.jobs, None, inst.machine_names, inst.unavailable), 10)
    assert free.makespan <= s.makespan


def test_rule_pack_constraints_lengthen_setups_and_forbid_sequences(tmp_path):
    inst = _line(tmp_path)
    ruled = apply_constraints(inst, [SetupExtension("A", "B", 20, "press"), ForbiddenSequence("B", "A", "press")])
    assert ruled.setup(0, 0, 1) == 25 and ruled.setup(1, 0, 1) == 0
    s = solve(ruled, time_limit=10)
    assert validate_schedule(ruled, s) == []
    press = [o.job for o in s.machine_sequence(0)]
    assert all(not (inst.material(a) == "B" and inst.material(b) == "A") for a, b in itertools.pairwise(press))


def test_constraints_from_a_pack_json_are_read_as_data(tmp_path):
    rules = [
        {"id": "s1", "waste": "setup", "if": [{"feature": "from_material", "op": "==", "value": "A"},
                                              {"feature": "to_material", "op": "==", "value": "B"},
                                              {"feature": "station", "op": "==", "value": "press"}],
         "then": {"feature": "setup_min", "op": ">", "value": 30}, "shift": {"mean": 50.0, "mean_overall": 20.0},
         "review": {"status": "approved"}},
        {"id": "d1", "waste": "defects", "if": [{"feature": "changeover", "op": "==", "value": "B->A"}],
         "then": {"feature": "defect", "op": "==", "value": 1}, "review": {"status": "pending"}},
        {"id": "x1", "waste": "setup", "if": [{"feature": "changeover", "op": "==", "value": "A->B"}],
         "then": {"feature": "setup_min", "op": ">", "value": 30}, "review": {"status": "rejected"}},
        {"id": "t1", "waste": "defects", "if": [{"feature": "torque", "op": ">", "value": 60}],
         "then": {"feature": "defect", "op": "==", "value": 1}},
        {"id": "e1", "waste": "setup", "if": [{"feature": "changeover", "op": "==", "value": "__import__('os')->B"}],
         "then": {"feature": "setup_min", "op": ">", "value": 1}, "delta": 3},
    ]
    path = tmp_path / "pack.json"
    path.write_text(json.dumps({"schema": "leanlearn.rulepack/1", "rules": rules}))
    found, skipped = read_constraints(path, time_scale=0.5)
    assert found[0] == SetupExtension("A", "B", 15, "press", "s1")
    assert found[1] == ForbiddenSequence("B", "A", None, "d1")
    assert found[2].from_material == "__import__('os')" and found[2].delta == 2   # a name, never run
    assert [s.split(":")[0] for s in skipped] == ["x1", "t1"]
    with pytest.raises(Exception, match="not a leanlearn rule pack"):
        constraints_from_pack({"schema": "other/1", "rules": []})


def test_example_setup_pack_yields_no_changeover_constraints():
    """The shipped 4TU setup pack's rules are about workers and stations, not material pairs: all skipped."""
    pack = Path(__file__).parents[1] / "models" / "4tu-setups.json"
    found, skipped = read_constraints(pack)
    assert found == [] and len(skipped) == len(json.loads(pack.read_text())["rules"])


def test_importing_the_schedule_wing_and_its_cli_does_not_load_ortools():
    import subprocess
    import sys

    code = ("import leanlearn.schedule, leanlearn.cli_schedule, leanlearn.schedule.constraints, sys; "
            "print('ortools' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_cli_solve_and_repair_a_yaml_line_with_a_rule_pack(tmp_path):
    _line(tmp_path)
    line = tmp_path / "line.yaml"
    pack = tmp_path / "pack.json"
    pack.write_text(json.dumps({"schema": "leanlearn.rulepack/1", "rules": [
        {"id": "s1", "waste": "setup", "if": [{"feature": "changeover", "op": "==", "value": "A->B"}],
         "then": {"feature": "setup_min", "op": ">", "value": 30}, "delta": 40}]}))
    plan = tmp_path / "plan.json"
    solved = runner.invoke(app, ["solve", str(line), "--rules", str(pack), "--json", "--out", str(plan)])
    assert solved.exit_code == 0, solved.output
    ruled = apply_constraints(read_instance(line), read_constraints(pack)[0])
    assert ruled.setup(0, 0, 1) == 45
    assert validate_schedule(ruled, Schedule.from_json(json.loads(solved.stdout))) == []
    fixed = runner.invoke(app, ["repair", str(line), "--schedule", str(plan), "--rules", str(pack),
                                "--down", "press:3:4", "--json"])
    assert fixed.exit_code == 0, fixed.output
    doc = json.loads(fixed.stdout)
    assert validate_schedule(ruled, Schedule.from_json(doc), down=[(0, 3, 4)]) == []
    assert doc["disruptions"] == [{"machine": 0, "start": 3, "duration": 4}]
