"""Reading job-shop instances: the standard text format, leanlearn YAML, and hostile files → one clear error."""

from pathlib import Path

import pytest

from leanlearn.schedule.instance import InstanceError, ScheduleLimits, read_instance

FT06 = Path(__file__).parent / "data" / "jobshop" / "ft06.txt"


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_ft06_reads_as_six_jobs_on_six_machines():
    inst = read_instance(FT06)
    assert (len(inst.jobs), inst.n_machines) == (6, 6)
    assert [len(j.operations) for j in inst.jobs] == [6] * 6
    assert inst.jobs[0].operations[0].machine == 2 and inst.jobs[0].operations[0].duration == 1
    assert sum(op.duration for op in inst.operations) == 197


def test_comments_and_blank_lines_are_ignored(tmp_path):
    inst = read_instance(_write(tmp_path, "c.txt", "# header\n\n2 2  # jobs machines\n0 1 1 2\n\n1 3 0 4 # j1\n"))
    assert [op.duration for op in inst.operations] == [1, 2, 3, 4]


@pytest.mark.parametrize(("text", "expected"), [
    ("", "is empty"),
    ("hello world\n0 1\n", "line 1: the first line must be 'n_jobs n_machines'"),
    ("\x00\x01garbage\x7f\n", "the first line must be"),
    ("2 2\n0 3 1 2\n", "announces 2 jobs but 1 job line"),
    ("1 2\n0 3 1 2\n0 1 1 1\n", "line 3: more job lines"),
    ("1 2\n0 3 1\n", "line 2: 3 numbers, not 'machine duration' pairs"),
    ("1 2\n0 -3 1 2\n", "line 2, token 2 ('-3'): a duration must be a whole number >= 0"),
    ("1 2\n0 3 5 2\n", "line 2, token 3 ('5'): machine index out of range; machines are numbered 0..1"),
    ("1 2\n0 3.5 1 2\n", "token 2 ('3.5'): a duration"),
    ("1 2\nx 3 1 2\n", "token 1 ('x'): a machine index"),
    ("1 2\n0 99999999999999999999999999 1 2\n", "duration over the limit"),
    ("0 2\n", "at least one job and one machine"),
    ("99999999999 2\n0 1\n", "over the limit of 10,000; raise it with LEANLEARN_MAX_JOBS"),
])
def test_hostile_text_instances_end_in_one_clear_error(tmp_path, text, expected):
    path = _write(tmp_path, "bad.txt", text)
    with pytest.raises(InstanceError) as err:
        read_instance(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_binary_file_is_refused_as_not_text(tmp_path):
    path = tmp_path / "bin.txt"
    path.write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(InstanceError, match="not a UTF-8 text file"):
        read_instance(path)


def test_missing_file_and_directory_are_named(tmp_path):
    with pytest.raises(InstanceError, match="no such instance file"):
        read_instance(tmp_path / "nope.txt")
    with pytest.raises(InstanceError, match="is a directory"):
        read_instance(tmp_path)


def test_limits_on_operations_and_horizon(tmp_path):
    path = _write(tmp_path, "big.txt", "2 2\n0 5 1 5\n1 5 0 5\n")
    with pytest.raises(InstanceError, match="operations, over the limit of 3"):
        read_instance(path, limits=ScheduleLimits(max_operations=3))
    with pytest.raises(InstanceError, match="horizon"):
        read_instance(path, limits=ScheduleLimits(max_horizon=10))


def test_yaml_instance_with_names_materials_setups_windows(tmp_path):
    path = _write(tmp_path, "line.yaml", """
name: press-line
time_unit: min
machines: [press, lathe]
jobs:
  - {name: o1, material: A, release: 2, due: 40, operations: [[press, 5], {machine: lathe, duration: 4}]}
  - {name: o2, material: B, operations: [[lathe, 3], [press, 6]]}
setups:
  press: {A: {B: 7}}
  "*": {B: {A: 2}, A: {B: 1}}
unavailable:
  - {machine: lathe, start: 10, end: 12}
forbidden:
  - {from: B, to: A, machine: press}
""")
    inst = read_instance(path)
    assert inst.name == "press-line" and inst.machine_names == ("press", "lathe") and inst.time_unit == "min"
    assert inst.jobs[0].release == 2 and inst.jobs[0].due == 40 and inst.jobs[1].material == "B"
    assert inst.jobs[1].operations[1].machine == 0
    assert inst.setup(0, 0, 1) == 7       # press's own A -> B
    assert inst.setup(1, 0, 1) == 1       # lathe: the "*" entry
    assert inst.setup(1, 1, 0) == 2
    assert inst.unavailable == ((1, 10, 12),)
    assert inst.is_forbidden(0, 1, 0) and not inst.is_forbidden(1, 1, 0)


@pytest.mark.parametrize(("body", "expected"), [
    ("machines: [a]\njobs: []\n", "key 'jobs': must be a non-empty list"),
    ("machines: [a]\njobs: [{operations: [[b, 3]]}]\n", "names machine 'b', which is not in machines (a)"),
    ("machines: 2\njobs: [{operations: [[5, 3]]}]\n", "is machine 5, out of range"),
    ("machines: [a]\njobs: [{operations: [[a, -3]]}]\n", "jobs[0].operations[0].duration': is -3"),
    ("machines: [a]\njobs: [{operations: [[a, 1e30]]}]\n", "is '1e30'; times are whole numbers"),
    ("machines: [a]\njobs: [{operations: [[a, 100000000000000]]}]\n", "over the limit of 1,000,000,000"),
    ("machines: [a]\njobs: [{operatons: [[a, 3]]}]\n", "unknown key 'operatons'; did you mean 'operations'?"),
    ("machines: [a, a]\njobs: [{operations: [[a, 3]]}]\n", "names 'a' twice"),
    ("machines: [a]\njobs: [{operations: [[a, 3]]}]\nunavailable: [{machine: a, start: 5, end: 2}]\n",
     "ends (2) before it starts (5)"),
    ("machines: [a]\njobs: [{operations: [[a, 3]]}]\nsetups: {a: {X: 5}}\n", "must map to material -> time"),
    ("machines: [a]\njobs: [{operations: [[a, 3]]}]\nsetups: {z: {X: {Y: 5}}}\n", "names machine 'z'"),
    ("a: [\n", "not valid YAML"),
    ("!!python/object/apply:os.system ['true']\n", "not valid YAML"),
])
def test_hostile_yaml_instances_name_file_and_key(tmp_path, body, expected):
    path = _write(tmp_path, "bad.yaml", body)
    with pytest.raises(InstanceError) as err:
        read_instance(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)
