"""Repaired schedules logged to MLflow beside the monitor's rule metrics: a SQLite store under a temp dir, and the
machine's PostgreSQL (MLflow's tables in their own schema of database ``test``; skipped, saying why, without it)."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from leanlearn.schedule.cpsat import solve
from leanlearn.schedule.instance import read_instance
from leanlearn.schedule.repair import Disruption, repair
from leanlearn.schedule.tracking import ScheduleMetrics, schedule_metrics
from leanlearn.schedule.trigger import RescheduleTrigger

FT06 = Path(__file__).resolve().parents[1] / "benchmarks" / "instances" / "jobshop" / "ft06.txt"


PG_SCHEMA = "leanlearn_mlflow_test"  # the schema tests/test_registry.py uses: MLflow's tables migrate once


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("mlflow")
    if request.param == "sqlite":
        uri = "sqlite:///" + (root / "mlflow.db").as_posix()
    else:
        engine = request.getfixturevalue("postgres")  # conftest: skips with the reason when there is no server
        import sqlalchemy as sa

        with engine.begin() as connection:
            connection.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}"))
        url = engine.url
        uri = (f"postgresql+psycopg2://{url.username}@{url.host}:{url.port}/{url.database}"
               f"?options=-csearch_path%3D{PG_SCHEMA}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEANLEARN_HOME", str(root / "home"))
        mp.setenv("LEANLEARN_ARTIFACT_ROOT", str(root / "artifacts"))
        yield uri


@pytest.fixture
def experiment() -> str:
    """A fresh experiment per test: a PostgreSQL store outlives the run, and with it each experiment's artifact root."""
    return f"leanlearn-schedule-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def plan():
    instance = read_instance(FT06)
    return instance, solve(instance, time_limit=10)


def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def test_the_metrics_of_a_repair_are_its_kpis_and_right_shifts(plan):
    instance, schedule = plan
    result = repair(instance, schedule, Disruption(2, 10, 6), time_limit=5)
    metrics = schedule_metrics(result)
    assert metrics["schedule.makespan"] == result.kpis["makespan"] == result.schedule.makespan
    assert metrics["schedule.right_shift.total_tardiness"] == result.right_shift_kpis["total_tardiness"]
    assert metrics["schedule.operations_moved"] == result.kpis["operations_moved"]
    assert metrics["schedule.solve_time_s"] == pytest.approx(result.solve_time_s)


def test_trigger_repairs_are_logged_into_the_monitors_run(store, plan, experiment):
    from leanlearn.mining.rules import Condition, Rule, RuleSet
    from leanlearn.packs.pack import RulePack, Target
    from leanlearn.packs.registry import AlertMetrics

    rule = Rule((Condition("torque", ">=", 60.0),), Condition("scrap", "==", 1), support=0.05, coverage=0.1,
                confidence=0.5, lift=5.0, leverage=0.04, conviction=1.8, n=1000, hits=500, p_value=1e-20,
                p_value_raw=1e-22, ci=(0.47, 0.53), base_rate=0.1, id="R1")
    pack = RulePack(name="press", line="L1", targets=(Target("scrap"),), rules=RuleSet((rule,)))
    alerts = AlertMetrics(pack, tracking_uri=store, experiment=experiment)
    metrics = ScheduleMetrics(alerts=alerts)
    assert metrics.run_id == alerts.run_id
    instance, schedule = plan
    names = tuple(f"st{m}" for m in range(instance.n_machines))
    trigger = RescheduleTrigger(replace(instance, machine_names=names), schedule, time_limit=5, expected_downtime=7,
                                on_repair=metrics)
    trigger.update({"torque": 50.0, "scrap": 0})
    trigger.update({"event": "down", "station": "st3", "time": 12})
    trigger.update({"event": "up", "station": "st3", "time": 15})
    assert metrics.logged == 2
    client = _client(store)
    history = client.get_metric_history(alerts.run_id, "schedule.makespan")
    assert [(m.step, m.value) for m in history] == [(r.step, float(r.schedule.makespan)) for r in trigger.repairs]
    assert [m.step for m in history] == [1, 2]
    shift = client.get_metric_history(alerts.run_id, "schedule.right_shift.makespan")
    assert [m.value for m in shift] == [float(r.result.right_shift.makespan) for r in trigger.repairs]
    run = client.get_run(alerts.run_id)
    assert run.data.tags["leanlearn.pack"] == "press"  # the monitor's run, its tags
    assert {"schedule.bottleneck_idle", "schedule.total_tardiness", "schedule.operations_moved",
            "schedule.solve_time_s", "schedule.repairs"} <= set(run.data.metrics)
    files = [f.path for f in client.list_artifacts(alerts.run_id, "schedule")]
    assert files == ["schedule/repair-0001.json", "schedule/repair-0002.json"]
    local = client.download_artifacts(alerts.run_id, "schedule/repair-0001.json")
    doc = json.loads(Path(local).read_text())
    assert doc["makespan"] == trigger.repairs[0].schedule.makespan and len(doc["operations"]) == 36
    assert doc["trigger"]["reason"] == "down" and doc["trigger"]["event"]["station"] == "st3"
    metrics.close()
    assert client.get_run(alerts.run_id).info.status == "RUNNING"  # the monitor's run is the monitor's to end
    alerts.close()


def test_without_the_monitor_a_schedule_run_of_its_own(store, plan, experiment):
    instance, schedule = plan
    result = repair(instance, schedule, Disruption(0, 5, 4), time_limit=5)
    metrics = ScheduleMetrics(tracking_uri=store, instance="ft06", experiment=experiment)
    metrics(result, step=7, reason="manual")
    metrics.close()
    client = _client(store)
    run = client.get_run(metrics.run_id)
    assert run.info.status == "FINISHED" and run.data.tags["leanlearn.schedule.instance"] == "ft06"
    assert run.data.metrics["schedule.makespan"] == result.schedule.makespan
    assert [m.step for m in client.get_metric_history(metrics.run_id, "schedule.makespan")] == [7]


def test_an_unreachable_store_is_one_clear_error():
    from leanlearn.errors import RegistryError

    with pytest.raises(RegistryError):
        ScheduleMetrics(tracking_uri="http://127.0.0.1:9")
