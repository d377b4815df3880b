"""The twin check: a twin calibrated on the real 4TU log reproduces it; a wrong twin fails; the CLI is scriptable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from leanlearn.cli_twin_calibrate import register
from leanlearn.errors import SchemaError
from leanlearn.twin.calibrate import calibrate
from leanlearn.twin.check import check_twin
from leanlearn.twin.simulation import simulate
from leanlearn.twin.spec import LineSpec

ROOT = Path(__file__).resolve().parents[1]
PIPELINE_4TU = ROOT / "pipelines" / "production_4tu.yaml"

SMALL = {
    "line": "small", "time_unit": "h", "start": "2024-01-01T00:00:00Z",
    "release": {"policy": "push", "arrivals": {"dist": "exponential", "mean": 1.0}},
    "stations": [
        {"name": "A", "cycle": {"dist": "gamma", "mean": 0.6, "cv": 0.5}, "per_unit": False},
        {"name": "B", "capacity": 2, "cycle": {"dist": "exponential", "mean": 1.2}, "per_unit": False},
    ]}


@pytest.fixture(scope="module")
def fused_4tu():
    from leanlearn.data.fusion import fuse

    return fuse(PIPELINE_4TU)


@pytest.fixture(scope="module")
def twin_4tu(fused_4tu):
    return calibrate(fused_4tu, seed=0)


@pytest.fixture(scope="module")
def check_4tu(fused_4tu, twin_4tu):
    return twin_4tu, check_twin(twin_4tu, fused_4tu, replications=10, seed=0)


@pytest.fixture(scope="module")
def small_log():
    run = simulate(LineSpec.from_dict(SMALL), horizon=300.0, seed=5).replications[0]
    return run.operations, run.downtime


@pytest.fixture(scope="module")
def small_twin(small_log):
    return calibrate(small_log, refine=0)


def _judged(result):
    cycle = result.criteria[result.criteria["criterion"] == "median cycle"]
    setup = result.criteria[result.criteria["criterion"] == "median setup"]
    return cycle, setup


def test_4tu_twin_reproduces_order_lead_times_and_busy_station_medians(check_4tu):
    _, result = check_4tu
    busy = result.stations[result.stations["busy"]]
    assert len(busy) >= 10  # the machine shop's busy stations are judged, not a handful
    cycle, setup = _judged(result)
    assert set(cycle["station"]) == set(busy["station"])
    assert len(setup) >= 8
    assert result.lead["ks"] <= 0.15
    medians = pd.concat([cycle, setup])
    # 10 replications: a station's simulated median still moves by chance (see the slow test and the intervals)
    assert (medians["error"] <= 0.10).mean() >= 0.85, medians[medians["error"] > 0.10].to_string()
    assert (medians["error"] <= 0.30).all(), medians.to_string()


def test_4tu_simulated_median_intervals_cover_the_observed_medians(check_4tu):
    _, result = check_4tu
    busy = result.stations[result.stations["busy"]]
    for metric in ("cycle", "setup"):
        rows = busy.dropna(subset=[f"obs_{metric}_p50_min"])
        rows = rows[rows[f"obs_{metric}_n"] >= 10]
        inside = ((rows[f"sim_{metric}_p50_low_min"] <= rows[f"obs_{metric}_p50_min"])
                  & (rows[f"obs_{metric}_p50_min"] <= rows[f"sim_{metric}_p50_high_min"]))
        assert inside.mean() >= 0.8, rows.to_string()


@pytest.mark.slow
def test_4tu_done_when_with_many_replications(fused_4tu, twin_4tu):
    result = check_twin(twin_4tu, fused_4tu, replications=60, seed=0)
    cycle, setup = _judged(result)
    assert (cycle["error"] <= 0.10).all(), cycle.to_string()
    assert (setup["error"] <= 0.10).all(), setup.to_string()
    assert result.lead["ks"] <= 0.15
    assert result.passed


def test_4tu_twin_replays_every_order_of_the_log(check_4tu):
    spec, result = check_4tu
    assert spec.release.policy == "trace"
    assert len(spec.release.orders) == result.lead["n_observed"] == 225
    assert result.lead["n_simulated"] >= 0.95 * 225


def test_check_reports_quantiles_json_and_a_plot(check_4tu, tmp_path):
    _, result = check_4tu
    doc = json.loads(json.dumps(result.to_json()))
    assert doc["passed"] is result.passed
    assert {"ks", "emd_h", "obs_p50_h", "sim_p50_h"} <= set(doc["lead_time"])
    assert [round(q["quantile"], 2) for q in doc["lead_time_quantiles"]] == [0.1, 0.25, 0.5, 0.75, 0.9]
    assert len(doc["stations"]) == len(result.stations)
    png = result.plot(tmp_path / "check.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_twin_of_the_same_line_passes(small_log, small_twin):
    result = check_twin(small_twin, small_log, replications=4)
    assert result.passed, result.criteria.to_string()
    assert (result.stations["cycle_ks"] < 0.1).all()


def test_a_twin_with_slower_cycles_fails_the_cycle_criteria(small_log, small_twin):
    doc = small_twin.to_dict()
    for station in doc["stations"]:
        station["cycle"]["values"] = [v * 1.3 for v in station["cycle"]["values"]]
    result = check_twin(LineSpec.from_dict(doc), small_log, replications=3)
    cycle = result.criteria[result.criteria["criterion"] == "median cycle"]
    assert not result.passed
    assert not cycle["passed"].any()
    assert np.allclose(cycle["error"], 0.3, atol=0.08)


def test_check_refuses_bad_settings(small_log, small_twin):
    with pytest.raises(SchemaError, match="replications"):
        check_twin(small_twin, small_log, replications=0)
    with pytest.raises(SchemaError, match="tolerance"):
        check_twin(small_twin, small_log, tolerance=2.0)


# -- the CLI --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture(scope="module")
def small_pipeline(small_log, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("small")
    ops = small_log[0]
    iso = {c: (lambda s: s.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")) for c in ("start", "end")}
    ops.assign(**{c: f(ops[c]) for c, f in iso.items()}).to_csv(folder / "ops.csv", index=False)
    pipeline = folder / "small.yaml"
    pipeline.write_text(
        "name: small\nline: small\nsources:\n"
        "  - name: mes\n    path: ops.csv\n    feeds:\n      - table: operations\n        columns:\n"
        "          {station: station, order_id: order_id, material: material, kind: kind, start: start, end: end}\n",
        encoding="utf-8")
    return pipeline


def test_cli_calibrate_then_check_as_json(cli, small_pipeline, tmp_path):
    runner = CliRunner()
    spec_file = tmp_path / "twin.yaml"
    made = runner.invoke(cli, ["calibrate", str(small_pipeline), "--out", str(spec_file), "--json", "--no-tune"])
    assert made.exit_code == 0, made.output
    summary = json.loads(made.stdout)
    assert summary["orders"] > 100 and summary["release"] == "trace"
    assert LineSpec.from_yaml(spec_file).station("B").capacity == 2
    checked = runner.invoke(cli, ["check", str(spec_file), str(small_pipeline), "--json", "--replications", "3",
                                  "--plot", str(tmp_path / "p.png")])
    assert checked.exit_code == 0, checked.output
    doc = json.loads(checked.stdout)
    assert doc["passed"] is True
    assert (tmp_path / "p.png").exists()


def test_cli_check_prints_a_table_and_exits_1_when_a_criterion_fails(cli, small_pipeline, small_twin, tmp_path):
    doc = small_twin.to_dict()
    doc["stations"][0]["cycle"]["values"] = [v * 2 for v in doc["stations"][0]["cycle"]["values"]]
    LineSpec.from_dict(doc).to_yaml(tmp_path / "slow.yaml")
    result = CliRunner().invoke(cli, ["check", str(tmp_path / "slow.yaml"), str(small_pipeline),
                                      "--replications", "2"])
    assert result.exit_code == 1
    assert "per station" in result.stdout and "failed: median cycle at A" in result.stdout


def test_cli_names_a_missing_file_in_one_error_line(cli, tmp_path):
    result = CliRunner().invoke(cli, ["calibrate", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "x.yaml")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error:") and "nope.yaml" in result.stderr
    assert "Traceback" not in result.output


def test_cli_refuses_a_bad_spec_in_one_error_line(cli, small_pipeline, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("line: x\nrelease: {policy: trace, orders: []}\nstations: []\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(bad), str(small_pipeline)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error:") and "bad.yaml" in result.stderr


def test_cli_observed_log_of_a_pipeline_is_the_fused_one(small_pipeline, small_log):
    from leanlearn.twin.observed import load_tables

    ops, _ = load_tables(small_pipeline)
    assert len(ops) == len(small_log[0])
    assert pd.api.types.is_datetime64_any_dtype(ops["start"])
