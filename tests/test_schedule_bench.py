"""The scheduling benchmark: its instances and optima, and a tiny run of its functions."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from leanlearn.schedule.instance import read_instance

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("schedule_bench", BENCH / "schedule.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["schedule_bench"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("schedule_bench", None)


def test_every_instance_has_its_published_shape_and_a_proven_optimum(bench):
    optima = bench.load_optima()
    assert sorted(optima) == sorted(bench.ALL) and len(optima) == 43
    assert (optima["ft06"]["optimum"], optima["ft10"]["optimum"], optima["ft20"]["optimum"]) == (55, 930, 1165)
    assert optima["la01"]["optimum"] == 666
    for name, meta in optima.items():
        instance = read_instance(BENCH / "instances" / "jobshop" / f"{name}.txt")
        assert (len(instance.jobs), instance.n_machines) == (meta["jobs"], meta["machines"]), name
        for job in instance.jobs:  # each job visits each machine once
            assert sorted(op.machine for op in job.operations) == list(range(instance.n_machines)), name
        assert meta["lower_bound"] == meta["optimum"] == meta["upper_bound"]
        # no optimum below the simple bound: the longest job or the busiest machine
        longest = max(sum(op.duration for op in job.operations) for job in instance.jobs)
        busiest = max(sum(op.duration for op in instance.operations if op.machine == m)
                      for m in range(instance.n_machines))
        assert meta["optimum"] >= max(longest, busiest), name


def test_instance_selection_reads_names_ranges_and_sizes(bench):
    assert bench.select("la01-la03,ft06") == ["la01", "la02", "la03", "ft06"]
    assert bench.select(None, "6x6") == ["ft06"]
    assert len(bench.select("all")) == 43
    assert bench.select("la30-la40", "15x15") == ["la36", "la37", "la38", "la39", "la40"]
    with pytest.raises(SystemExit, match="unknown instance"):
        bench.select("la41")


def test_breakdowns_are_seeded_per_instance_and_hit_busy_machines(bench):
    from leanlearn.schedule.cpsat import solve

    instance = bench.load("ft06")
    plan = solve(instance, time_limit=5)
    first = bench.draw_disruptions("ft06", instance, plan, 4, seed=3)
    assert first == bench.draw_disruptions("ft06", instance, plan, 4, seed=3)
    assert first != bench.draw_disruptions("ft06", instance, plan, 4, seed=4)
    for d in first:
        assert plan.makespan // 10 <= d.start <= (6 * plan.makespan) // 10
        assert d.duration >= 1
        assert any(o.machine == d.machine and o.end > d.start for o in plan.operations)


def test_a_tiny_run_compares_repair_with_right_shift_and_the_reference(bench, tmp_path, capsys):
    out = tmp_path / "schedule.json"
    doc = bench.main(["--instances", "ft06", "--disruptions", "2", "--solve-limit", "5", "--repair-limit", "2",
                      "--reference-limit", "2", "--json", str(out), "--quiet"])
    assert json.loads(out.read_text()) == doc
    [row] = doc["instances"]
    assert row["solve"]["makespan"] == 55 and row["solve"]["gap_pct"] == 0 and row["solve"]["feasible"]
    assert len(row["cases"]) == 2
    for case in row["cases"]:
        for label in ("repair", "right_shift", "reference"):
            assert case[label]["problems"] == []
        assert case["not_worse_than_right_shift"] == (case["repair"]["makespan"] <= case["right_shift"]["makespan"])
    summary = doc["summary"]
    assert summary["cases"] == 2 and summary["infeasible_schedules"] == 0
    assert summary["share_not_worse_than_right_shift"] == 1.0  # the repair is bounded by right-shift
    assert doc["meta"]["commit"] and doc["settings"]["reference_limit"] == 2
    printed = capsys.readouterr().out
    assert "ft06" in printed and "repair makespan ≤ right-shift: 100 %" in printed
