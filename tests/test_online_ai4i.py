"""Real data: AI4I 2020 replayed as a stream whose heat-dissipation mechanism changes halfway."""

from __future__ import annotations

import pandas as pd
import pytest

from leanlearn.online.monitor import Monitor
from leanlearn.online.revision import Reviser, revise_pack
from leanlearn.online.run import run_monitor
from leanlearn.online.scenarios import AI4I_CHANGE_AT, ai4i_drift_stream
from leanlearn.online.settings import TrackerSettings
from leanlearn.online.streams import FileReplay

WINDOW = 3000
HDF_OLD = "Rotational speed [rpm] < 1380 and temp_diff < 8.6 → HDF"
HDF_NEW = "Rotational speed [rpm] < 1320 and temp_diff < 8.6 → HDF"


@pytest.fixture(scope="module")
def pack():
    """The demo pack: the shipped AI4I pipeline (HDF, PWF, OSF, TWF with the documented derived features)."""
    from leanlearn.pipeline import load_pipeline, run_pipeline, shipped_pipeline

    return run_pipeline(load_pipeline(shipped_pipeline("ai4i")))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_changed_mechanism_drifts_within_one_window_and_the_other_rules_stay_ok(pack, seed):
    hdf = next(r for r in pack.rules if r.text == HDF_OLD)
    stream = ai4i_drift_stream(seed=seed)
    monitor = Monitor(pack, window=WINDOW)
    alerts = [a for start in range(0, len(stream), 1000) for a in monitor.update_many(stream.iloc[start:start + 1000])]
    assert {a.rule for a in alerts} == {hdf.id}  # no other rule ever left ok
    drift = [a for a in alerts if a.state == "drift"]
    assert len(drift) == 1 and AI4I_CHANGE_AT <= drift[0].event < AI4I_CHANGE_AT + WINDOW
    assert drift[0].detected_at is not None  # the window is outside, or the sequential test saw it first
    assert drift[0].confidence < drift[0].expected[0] or drift[0].change_confidence < drift[0].evidence
    states = monitor.states
    assert states.pop(hdf.id) == "drift" and set(states.values()) == {"ok"}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_revised_candidate_states_the_new_mechanism(pack, seed):
    hdf = next(r for r in pack.rules if r.text == HDF_OLD)
    stream = ai4i_drift_stream(seed=seed)
    alerts = Monitor(pack, window=WINDOW).update_many(stream)
    since = next(a.event for a in alerts if a.rule == hdf.id and a.state in ("warning", "drift"))
    revision = revise_pack(pack, stream.iloc[since:], drifted=[hdf.id], events=(since, len(stream) - 1))
    assert revision.candidate.parent == pack.content_hash and revision.targets == ("HDF",)
    new_hdf = [r.text for r in revision.candidate.rules.for_target("HDF")]
    assert new_hdf == [HDF_NEW]
    changed = revision.diff[revision.diff["change"] == "threshold changed"]
    assert changed[["old_rule", "new_rule"]].values.tolist() == [[HDF_OLD, HDF_NEW]]
    kept = revision.diff[revision.diff["target"] != "HDF"]
    assert set(kept["change"]) == {"kept"} and len(kept) == len(pack.rules) - 1
    assert "threshold changed" in revision.describe() and HDF_NEW in revision.describe()


def test_the_monitor_loop_proposes_the_revision_by_itself(pack, tmp_path):
    stream = ai4i_drift_stream(seed=0)
    reviser = Reviser(pack, tmp_path / "candidates", after=WINDOW, min_rows=2000)
    found = []
    summary = run_monitor(pack, FileReplay("ai4i", frame=stream), settings=TrackerSettings(WINDOW),
                          reviser=reviser, on_revision=found.append, handle_signals=False)
    assert summary.states["drift"] == 1 and len(found) == 1
    assert [r.text for r in found[0].candidate.rules.for_target("HDF")] == [HDF_NEW]
    names = sorted(p.name for p in (tmp_path / "candidates").iterdir())
    assert len(names) == 2 and names[0].endswith(".diff.csv") and names[1].endswith(".json")
    diff = pd.read_csv(tmp_path / "candidates" / names[0])
    assert diff.loc[diff["change"] == "threshold changed", "new_rule"].tolist() == [HDF_NEW]


def test_alerts_are_logged_as_mlflow_metrics(pack, tmp_path, monkeypatch):
    import mlflow
    from typer.testing import CliRunner

    from leanlearn.cli import app

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("LEANLEARN_HOME", str(tmp_path / "home"))
    pack_path = pack.save(tmp_path / "pack.json")
    stream_path = tmp_path / "stream.csv"
    ai4i_drift_stream(seed=0).to_csv(stream_path, index=False)
    result = CliRunner().invoke(app, ["monitor", str(pack_path), str(stream_path), "--window", str(WINDOW),
                                      "--mlflow", "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("leanlearn-monitor")
    (run,) = client.search_runs([experiment.experiment_id])
    hdf = next(r for r in pack.rules if r.text == HDF_OLD)
    history = client.get_metric_history(run.info.run_id, f"state.{hdf.id}")
    assert max(m.value for m in history) == 2.0  # reached drift
    assert all(AI4I_CHANGE_AT <= m.step for m in history)
    assert run.info.status == "FINISHED"
