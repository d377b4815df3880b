"""Rule packs in the MLflow registry: register, load back, predict, errors — on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leanlearn.errors import PackError, RegistryError
from leanlearn.mining.rules import Condition, Rule, RuleSet
from leanlearn.packs.build import mine_pack
from leanlearn.packs.pack import RulePack, Target
from leanlearn.packs.registry import (
    RegisteredPack,
    default_tracking_uri,
    load_model,
    load_pack,
    register_pack,
    split_pack,
)

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_SCHEMA = "leanlearn_mlflow_test"  # MLflow's tables live in their own schema of database `test`
PG_URI = f"postgresql+psycopg2://postgres@{PG_HOST}:{PG_PORT}/test?options=-csearch_path%3D{PG_SCHEMA}"


def _rule(rule_id: str, conditions: list[Condition], target: str, waste: str = "defects") -> Rule:
    return Rule(
        tuple(conditions), Condition(target, "==", 1), support=0.1, coverage=0.12, confidence=0.85, lift=4.2,
        leverage=0.07, conviction=5.3, n=120, hits=102, p_value=1e-6, p_value_raw=1e-8, ci=(0.77, 0.9),
        base_rate=0.2, id=rule_id, waste=waste,
    )


def _pack(line: str = "L1") -> RulePack:
    """Two targets; one rule on a derived feature (``ratio`` = torque / rpm), one on a category."""
    rules = RuleSet((
        _rule("S1", [Condition("torque", ">=", 60.0)], "scrap"),
        _rule("S2", [Condition("ratio", ">=", 0.05), Condition("Type", "in", ["L", "M"])], "scrap"),
        _rule("W1", [Condition("rpm", "<", 1100.0)], "rework", waste="overprocessing"),
    ))
    return RulePack(
        name="press-line", line=line, description="hand-made rules for the registry tests",
        targets=(Target("scrap"), Target("rework", waste="overprocessing")), rules=rules,
        derived=(("ratio", "torque / rpm"),), mining={"min_support": 0.01, "engine": "test", "nested": {"x": 1}},
        data={"rows": 1000, "columns": ["torque", "rpm", "Type"], "sha256": "0" * 64},
    )


def _raw() -> pd.DataFrame:
    """Raw columns only (no ``ratio``); a non-default index that predict must keep."""
    return pd.DataFrame(
        {
            "torque": [70.0, 55.0, 40.0, 65.0, 10.0],
            "rpm": [1500.0, 1000.0, 1500.0, 1050.0, 1800.0],
            "Type": ["H", "L", "L", "M", "H"],
            "other": ["a", "b", "c", "d", "e"],
        },
        index=[10, 11, 12, 13, 14],
    )


@dataclass
class Store:
    uri: str
    root: Path
    cwd: Path
    pack: RulePack
    registered: list[RegisteredPack]
    seconds: float


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One SQLite store holding the two-target pack, registered from an empty working directory."""
    root = tmp_path_factory.mktemp("registry")
    cwd = tmp_path_factory.mktemp("cwd")
    uri = "sqlite:///" + (root / "mlflow.db").as_posix()
    pack = _pack()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        mp.setenv("LEANLEARN_HOME", str(root / "home"))
        mp.delenv("LEANLEARN_ARTIFACT_ROOT", raising=False)
        started = time.perf_counter()
        registered = register_pack(pack, tracking_uri=uri)
        seconds = time.perf_counter() - started
        yield Store(uri, root, cwd, pack, registered, seconds)


@pytest.fixture
def client(store: Store):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)


# -- register ------------------------------------------------------------------------------------------------------
def test_split_pack_keeps_everything_but_the_other_targets() -> None:
    pack = _pack()
    scrap, rework = split_pack(pack)
    assert [r.id for r in scrap.rules] == ["S1", "S2"] and [r.id for r in rework.rules] == ["W1"]
    assert scrap.targets == (Target("scrap"),) and scrap.name == "press-line.scrap"
    assert scrap.derived == pack.derived and scrap.created == pack.created and scrap.data == pack.data
    assert scrap.content_hash != pack.content_hash != rework.content_hash
    single = RulePack(name="one", line="L1", targets=(Target("scrap"),), rules=pack.rules.for_target("scrap"))
    assert split_pack(single) == [single]


def test_one_registered_model_per_target(store: Store, client) -> None:
    assert store.registered == [
        RegisteredPack("leanlearn.L1.scrap", "1", "scrap", "models:/leanlearn.L1.scrap@candidate"),
        RegisteredPack("leanlearn.L1.rework", "1", "rework", "models:/leanlearn.L1.rework@candidate"),
    ]
    assert store.registered[0].version_uri == "models:/leanlearn.L1.scrap/1"
    names = sorted(m.name for m in client.search_registered_models())
    assert names == ["leanlearn.L1.rework", "leanlearn.L1.scrap"]
    for reg, sub in zip(store.registered, split_pack(store.pack), strict=True):
        version = client.get_model_version_by_alias(reg.name, "candidate")
        assert str(version.version) == "1"
        assert version.tags == {
            "leanlearn.content_hash": sub.content_hash,
            "leanlearn.n_rules": str(len(sub.rules)),
            "leanlearn.review": "pending",
            "leanlearn.target": reg.target,
            "leanlearn.line": "L1",
            "leanlearn.pack": sub.name,
            "leanlearn.source_pack_hash": store.pack.content_hash,
        }
        assert client.get_registered_model(reg.name).tags == {"leanlearn.line": "L1", "leanlearn.target": reg.target}


def test_run_holds_full_pack_params_and_metrics(store: Store, client, tmp_path: Path) -> None:
    version = client.get_model_version(store.registered[0].name, "1")
    run = client.get_run(version.run_id)
    assert run.data.params["pack.content_hash"] == store.pack.content_hash
    assert run.data.params["pack.targets"] == "scrap,rework"
    assert run.data.params["mining.engine"] == "test" and "mining.nested" not in run.data.params
    assert run.data.metrics["n_rules"] == 3 and run.data.metrics["n_rules.scrap"] == 2
    assert run.data.metrics["n_rules.rework"] == 1 and run.data.metrics["data.rows"] == 1000
    [artifact] = client.list_artifacts(run.info.run_id, "pack")
    local = client.download_artifacts(run.info.run_id, artifact.path, str(tmp_path))
    assert RulePack.load(local) == store.pack


def test_nothing_lands_in_the_working_directory(store: Store) -> None:
    assert list(store.cwd.iterdir()) == []  # no mlruns/, no mlartifacts/, no uv files
    artifacts = store.root / "mlartifacts" / "leanlearn"
    assert artifacts.is_dir()
    model_dirs = sorted(artifacts.glob("models/*/artifacts"))
    assert len(model_dirs) == 2
    for model_dir in model_dirs:
        assert (model_dir / "artifacts" / "pack.json").is_file()
        assert (model_dir / "code" / "leanlearn" / "packs" / "pack.py").is_file()
        assert not list(model_dir.rglob("*.pkl")) and not list(model_dir.rglob("*.csv.gz"))
        requirements = (model_dir / "requirements.txt").read_text().split()
        assert {r.split("==")[0] for r in requirements} == {"mlflow", "numpy", "pandas", "jsonschema"}


def test_global_mlflow_state_is_restored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://elsewhere.invalid:5000")
    uri = "sqlite:///" + (tmp_path / "db" / "mlflow.db").as_posix()
    pack = RulePack(name="tiny", line="L7", targets=(Target("scrap"),), rules=_pack().rules.for_target("scrap"))
    [reg] = register_pack(pack, tracking_uri=uri, alias="approved", experiment="other")
    assert reg.uri == "models:/leanlearn.L7.scrap@approved"
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://elsewhere.invalid:5000"
    assert mlflow.get_tracking_uri() == "http://elsewhere.invalid:5000"
    assert "MLFLOW_REGISTRY_URI" not in os.environ and "MLFLOW_UV_AUTO_DETECT" not in os.environ
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db"]
    assert load_pack(reg.uri, tracking_uri=uri) == pack  # single-target pack: registered as is


def test_default_store_lives_in_leanlearn_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("LEANLEARN_ARTIFACT_ROOT", raising=False)
    monkeypatch.setenv("LEANLEARN_HOME", str(home))
    assert default_tracking_uri() == "sqlite:///" + (home / "mlflow.db").resolve().as_posix()
    assert home.is_dir()
    pack = RulePack(name="tiny", line="L8", targets=(Target("rework"),), rules=_pack().rules.for_target("rework"))
    [reg] = register_pack(pack)
    assert load_pack(reg.uri).content_hash == pack.content_hash
    assert list(cwd.iterdir()) == []
    assert sorted(p.name for p in home.iterdir()) == ["mlartifacts", "mlflow.db"]
    assert len(list((home / "mlartifacts").rglob("pack.json"))) == 1


def test_reregistering_adds_a_version_and_moves_the_alias(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    uri = "sqlite:///" + (tmp_path / "mlflow.db").as_posix()
    first = RulePack(name="p", line="L2", targets=(Target("scrap"),), rules=_pack().rules.for_target("scrap"))
    second = first.with_rules(first.rules[:1])
    [v1] = register_pack(first, tracking_uri=uri)
    [v2] = register_pack(second, tracking_uri=uri)
    assert (v1.version, v2.version, v1.uri == v2.uri) == ("1", "2", True)
    assert [r.id for r in load_pack(v2.uri, tracking_uri=uri).rules] == ["S1"]
    assert [r.id for r in load_pack(v1.version_uri, tracking_uri=uri).rules] == ["S1", "S2"]


# -- load ----------------------------------------------------------------------------------------------------------
def test_load_pack_round_trips_the_sub_pack(store: Store) -> None:
    for reg, sub in zip(store.registered, split_pack(store.pack), strict=True):
        loaded = load_pack(f"models:/leanlearn.L1.{reg.target}@candidate", tracking_uri=store.uri)
        assert loaded.content_hash == sub.content_hash
        assert loaded == sub
        assert load_pack(reg.version_uri, tracking_uri=store.uri) == sub


def test_predict_names_the_rules_that_fire(store: Store) -> None:
    raw = _raw()
    scrap = load_model(store.registered[0].uri, tracking_uri=store.uri)
    out = scrap.predict(raw)
    assert isinstance(out, pd.DataFrame)
    assert list(out.index) == list(raw.index)
    # ratio = torque / rpm: 0.047, 0.055, 0.027, 0.062, 0.006
    assert out["rules"].tolist() == ["S1", "S2", "", "S1,S2", ""]
    assert out["n_rules"].tolist() == [1, 1, 0, 2, 0]
    assert out["scrap_predicted"].tolist() == [1, 1, 0, 1, 0]
    rework = load_model(store.registered[1].uri, tracking_uri=store.uri).predict(raw)
    assert rework["rules"].tolist() == ["", "W1", "", "W1", ""]
    assert list(rework.columns) == ["rules", "n_rules", "rework_predicted"]
    # what the pack itself says, list form
    expected = split_pack(store.pack)[0].apply(raw)["rules"].tolist()
    assert [r.split(",") if r else [] for r in out["rules"]] == expected


def test_predict_on_a_mined_pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A planted rule (temperature gap < 9 and speed < 1400 → failure) survives mining, registry and predict."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(7)
    n = 3000
    frame = pd.DataFrame({
        "air": rng.normal(300, 2, n),
        "gap": rng.uniform(7, 12, n),
        "speed": rng.uniform(1200, 2000, n),
    })
    frame["process"] = frame["air"] + frame["gap"]
    planted = (frame["gap"] < 9) & (frame["speed"] < 1400)
    frame["failure"] = (planted & (rng.random(n) < 0.9) | (rng.random(n) < 0.01)).astype(int)
    pack = mine_pack(frame.drop(columns="gap"), ["failure"], derive={"temp_diff": "process - air"}, line="mined")
    assert len(pack.rules) >= 1
    uri = "sqlite:///" + (tmp_path / "mlflow.db").as_posix()
    [reg] = register_pack(pack, tracking_uri=uri)
    assert reg.name == "leanlearn.mined.failure"
    raw = frame[["air", "process", "speed"]].head(200)
    out = load_model(reg.uri, tracking_uri=uri).predict(raw)
    expected = pack.apply(raw)
    assert out["rules"].tolist() == [",".join(ids) for ids in expected["rules"]]
    assert (out["failure_predicted"] == expected["failure_predicted"]).all()
    hit = out["failure_predicted"].astype(bool)
    assert hit.any() and ((raw["process"] - raw["air"] < 9.5) & (raw["speed"] < 1450))[hit].mean() > 0.9


# -- errors --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("not a uri", "not a model URI"),
        ("models:leanlearn.L1.scrap", "not a model URI"),
        ("models:/leanlearn.L1.nope@candidate", "leanlearn.L1.nope"),
        ("models:/leanlearn.L1.scrap@production", "leanlearn.L1.scrap@production"),
        ("models:/leanlearn.L1.scrap/99", "leanlearn.L1.scrap/99"),
    ],
)
def test_bad_uri_raises_registry_error(store: Store, uri: str, words: str) -> None:
    with pytest.raises(RegistryError, match=words) as info:
        load_pack(uri, tracking_uri=store.uri)
    assert "\n" not in str(info.value)
    with pytest.raises(RegistryError, match=words):
        load_model(uri, tracking_uri=store.uri)


@pytest.mark.parametrize(
    "tracking_uri", ["postgresql://postgres:secret@127.0.0.1:1/x", "http://127.0.0.1:1", "mysql://root@127.0.0.1:1/x"]
)
def test_unreachable_tracking_server_fails_fast(tracking_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    started = time.perf_counter()
    with pytest.raises(RegistryError, match=r"cannot reach .*127\.0\.0\.1:1") as info:
        load_pack("models:/leanlearn.L1.scrap@candidate", tracking_uri=tracking_uri)
    assert "secret" not in str(info.value)
    with pytest.raises(RegistryError, match="cannot reach"):
        register_pack(_pack(), tracking_uri=tracking_uri)
    assert time.perf_counter() - started < 10


def test_unregisterable_names_and_aliases(tmp_path: Path) -> None:
    uri = "sqlite:///" + (tmp_path / "mlflow.db").as_posix()
    bad_line = RulePack(name="p", line="L/1", targets=(Target("scrap"),), rules=RuleSet())
    with pytest.raises(RegistryError, match="may not contain '/'"):
        register_pack(bad_line, tracking_uri=uri)
    with pytest.raises(RegistryError, match="alias 'latest'"):
        register_pack(_pack(), tracking_uri=uri, alias="latest")
    with pytest.raises(RegistryError, match="no target"):
        register_pack(RulePack(name="p", line="L1", targets=(), rules=RuleSet()), tracking_uri=uri)
    assert not (tmp_path / "mlflow.db").exists()  # refused before touching the store


def test_tampered_artifact_is_refused(store: Store, tmp_path: Path) -> None:
    pack = RulePack(name="t", line="L9", targets=(Target("scrap"),), rules=_pack().rules.for_target("scrap"))
    [reg] = register_pack(pack, tracking_uri=store.uri)
    from mlflow import MlflowClient

    source = MlflowClient(store.uri).get_model_version(reg.name, reg.version).source  # models:/<logged model id>
    model_id = source.removeprefix("models:/")
    [path] = (store.root / "mlartifacts").rglob(f"{model_id}/artifacts/artifacts/pack.json")
    doc = json.loads(path.read_text())
    doc["rules"][0]["if"][0]["value"] = 10.0  # loosen a threshold by hand
    path.write_text(json.dumps(doc))
    with pytest.raises(PackError, match="content hash mismatch"):
        load_pack(reg.uri, tracking_uri=store.uri)


# -- import cost ---------------------------------------------------------------------------------------------------
def test_importing_the_registry_does_not_import_mlflow() -> None:
    code = "import leanlearn.packs.registry, sys; assert 'mlflow' not in sys.modules, 'mlflow imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# -- PostgreSQL ----------------------------------------------------------------------------------------------------
def _postgres_skip_reason() -> str | None:
    try:
        import psycopg2
    except ImportError:
        return "psycopg2 is not installed (pip install psycopg2-binary) — needed for MLflow on PostgreSQL"
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=2):
            pass
        conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="test", connect_timeout=3)
    except Exception as exc:  # server down, no such database, auth
        return f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}/test ({exc})"
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}")
    except Exception as exc:
        return f"cannot create schema {PG_SCHEMA} in PostgreSQL database test ({exc})"
    finally:
        conn.close()
    return None


def test_register_and_load_on_postgresql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reason = _postgres_skip_reason()
    if reason:
        pytest.skip(reason)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEANLEARN_HOME", str(tmp_path / "home"))  # where a direct-DB store keeps artifacts
    monkeypatch.delenv("LEANLEARN_ARTIFACT_ROOT", raising=False)
    run_id = uuid.uuid4().hex[:10]
    pack = _pack(line=f"pg{run_id}")
    experiment = f"leanlearn-test-{run_id}"
    registered = register_pack(pack, tracking_uri=PG_URI, experiment=experiment)
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=PG_URI, registry_uri=PG_URI)
    try:
        assert [r.name for r in registered] == [f"leanlearn.pg{run_id}.scrap", f"leanlearn.pg{run_id}.rework"]
        for reg, sub in zip(registered, split_pack(pack), strict=True):
            assert load_pack(reg.uri, tracking_uri=PG_URI).content_hash == sub.content_hash
            version = client.get_model_version_by_alias(reg.name, "candidate")
            assert version.tags["leanlearn.content_hash"] == sub.content_hash
        out = load_model(registered[0].uri, tracking_uri=PG_URI).predict(_raw())
        assert out["rules"].tolist() == ["S1", "S2", "", "S1,S2", ""]
        assert list(tmp_path.iterdir()) == [tmp_path / "home"]
    finally:
        for reg in registered:
            client.delete_registered_model(reg.name)
        client.delete_experiment(client.get_experiment_by_name(experiment).experiment_id)


# -- drivers, stdout -----------------------------------------------------------------------------------------------
@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP port that accepts connections (stands in for a database server the reachability check looks for)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def test_missing_postgres_driver_names_the_extra_to_install(listener: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails, as where it is not installed
    uri = f"postgresql://postgres:secret@127.0.0.1:{listener}/test"
    with pytest.raises(RegistryError, match=r"driver 'psycopg'.*pip install 'leanlearn\[postgres\]'") as info:
        register_pack(_pack(), tracking_uri=uri)
    assert "secret" not in str(info.value)


def test_cli_with_a_missing_postgres_driver_prints_one_error_line(listener: int, tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    pd.DataFrame({"x": x, "y": (x > 1).astype(int)}).to_csv(data, index=False)
    code = ("import sys; sys.modules['psycopg'] = None; from leanlearn.cli import main; "
            f"sys.argv = ['leanlearn', 'mine', {str(data)!r}, '-t', 'y', '--register', '-q']; main()")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"postgresql://postgres@127.0.0.1:{listener}/test",
           "LEANLEARN_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert "leanlearn[postgres]" in done.stderr


def test_register_and_load_with_a_plain_postgresql_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLAlchemy 2.1 reads postgresql:// as psycopg 3, which the postgres extra installs."""
    reason = _postgres_skip_reason()
    if reason:
        pytest.skip(reason)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEANLEARN_HOME", str(tmp_path / "home"))
    uri = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test?options=-csearch_path%3D{PG_SCHEMA}"
    run_id = uuid.uuid4().hex[:10]
    pack = _pack(line=f"pg3{run_id}")
    experiment = f"leanlearn-test-{run_id}"
    registered = register_pack(pack, tracking_uri=uri, experiment=experiment)
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        assert load_pack(registered[0].uri, tracking_uri=uri).content_hash == split_pack(pack)[0].content_hash
    finally:
        for reg in registered:
            client.delete_registered_model(reg.name)
        client.delete_experiment(client.get_experiment_by_name(experiment).experiment_id)


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``mlflow server`` (SQLite backend) on a free port; its URL."""
    import urllib.request

    root = tmp_path_factory.mktemp("mlflow-server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    command = [str(mlflow_cli), "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
               "--default-artifact-root", str(root / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1"]
    log = (root / "server.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(480):  # a cold start (database migrations) takes 10-60 s on a busy machine
            if server.poll() is not None:
                pytest.skip(f"mlflow server exited: {(root / 'server.log').read_text()[-500:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.25)
        else:
            pytest.skip("mlflow server did not answer within 120 s")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.mark.slow
def test_json_output_stays_pure_json_when_tracking_to_an_mlflow_server(mlflow_server: str, tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    pd.DataFrame({"x": x, "y": (x > 1).astype(int)}).to_csv(data, index=False)
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server, "LEANLEARN_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "leanlearn.cli", "mine", str(data), "-t", "y", "--register",
                           "--json", "-q"], capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["schema"] == "leanlearn.rulepack/1"  # nothing but the pack on stdout
    assert "View run" not in done.stdout
