"""``leanlearn twin simulate`` / ``whatif``: tables for people, only JSON with --json, one-line errors (exit 2)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from leanlearn.cli_twin import app
from leanlearn.lean.valuestream import value_stream

CONWIP = """\
line: cw
time_unit: h
release: {policy: conwip, wip: 2}
stations:
  - {name: S1, cycle: {dist: exponential, mean: 1.0}}
  - {name: S2, cycle: {dist: exponential, mean: 1.0}}
"""


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "line.yaml"
    path.write_text(CONWIP)
    return path


def _run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_simulate_prints_kpis_with_intervals(spec_file):
    result = _run("simulate", spec_file, "--horizon", 500, "-r", 3, "--quiet")
    assert result.exit_code == 0, result.output
    assert "throughput" in result.output and "utilization:S2" in result.output
    assert "95 % interval" in result.output and "3 replication(s)" in result.output


def test_simulate_json_is_only_json(spec_file):
    result = _run("simulate", spec_file, "--horizon", 500, "-r", 2, "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["replications"] == 2 and doc["warmup"] == 50.0
    th = doc["kpis"]["throughput"]
    assert th["low"] <= th["mean"] <= th["high"] and th["unit"] == "jobs/h"
    assert doc["kpis"]["wip"]["mean"] == pytest.approx(2.0)


def test_simulate_out_writes_canonical_tables(spec_file, tmp_path):
    out = tmp_path / "sim"
    result = _run("simulate", spec_file, "--horizon", 300, "-r", 1, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    ops = pd.read_csv(out / "operations.csv", parse_dates=["start", "end"])
    assert {"line", "station", "order_id", "unit_id", "kind", "start", "end"} <= set(ops.columns)
    assert list(value_stream(ops).nodes["station"]) == ["S1", "S2"]
    assert (out / "downtime.csv").exists() and (out / "orders.csv").exists()


def test_bad_spec_is_one_error_line_with_the_key_path(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(CONWIP.replace("mean: 1.0}}\n", "mean: -1}}\n", 2).replace("mean: -1}}\n  - ", "mean: 1.0}}\n  - ",
                                                                                 1))
    result = _run("simulate", path)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {path}: stations[1].cycle.mean: must be a positive number, got -1"
    assert "Traceback" not in result.output


def test_missing_spec_file_is_a_user_error(tmp_path):
    result = _run("simulate", tmp_path / "nope.yaml")
    assert result.exit_code == 2 and "no such line spec file" in result.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (("--horizon", -5), "--horizon -5 must be a positive time"),
    (("--horizon", 100, "--warmup", 100), "--warmup 100 must be at least 0 and below --horizon 100"),
    (("-r", 0), "--replications 0 must be at least 1"),
])
def test_bad_run_settings_are_explained(spec_file, args, needle):
    result = _run("simulate", spec_file, *args)
    assert result.exit_code == 2 and needle in result.stderr


def test_whatif_json_recommends_with_interval(spec_file, tmp_path):
    plot = tmp_path / "front.png"
    result = _run("whatif", spec_file, "--vary", "wip=1..4", "--target-throughput", 0.6, "--horizon", 2000,
                  "-r", 2, "--plot", plot, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [p["wip"] for p in doc["points"]] == [1, 2, 3, 4]
    rec = doc["recommendation"]
    assert rec["meets_target"] is True and rec["kpis"]["throughput"]["mean"] >= 0.6
    assert rec["point"]["wip"] == 2  # two exponential stations: TH(w) = w / (w + 1) → 0.5, 0.667, 0.75
    assert doc["plot"] == str(plot) and plot.exists()


def test_whatif_table_marks_front_and_recommendation(spec_file):
    result = _run("whatif", spec_file, "--vary", "wip=1,2,3", "--horizon", 500, "-r", 2, "--quiet")
    assert result.exit_code == 0, result.output
    assert "recommendation: wip=" in result.output and "front" in result.output


@pytest.mark.parametrize(("vary", "needle"), [
    ("wip", "--vary 'wip': write KEY=VALUES"),
    ("kanban=1..3", "kanban sets cards; this spec's release policy is conwip"),
])
def test_whatif_bad_vary_is_a_user_error(spec_file, vary, needle):
    result = _run("whatif", spec_file, "--vary", vary, "--horizon", 100)
    assert result.exit_code == 2 and needle in result.stderr


def test_help_shows_examples():
    result = _run("whatif", "--help")
    assert result.exit_code == 0
    assert "leanlearn twin whatif line.yaml --vary wip=1..12" in result.output
    assert "leanlearn twin simulate line.yaml" in _run("--help").output
