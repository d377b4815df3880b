"""A team server: a real multi-worker ``mlflow server`` on the machine's PostgreSQL (a fresh database per run), and 8
processes registering rule packs into it at the same time.

Afterwards every version exists exactly once with its tags, no process saw an unhandled error, and a pack several
processes register at the same instant ends as one version. The figures (wall time, versions/s, retries) are
printed (``pytest -s``) and written to ``team_server.json`` in the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import POSTGRES

PROCESSES = 8
PER_PROCESS = 10  # versions of the same registered model per process
SECOND_MODEL = 2  # versions of a second registered model per process
LINE = "team"
SERVER_WORKERS = 4

#: What one client process does: wait at the barrier, register its packs, wait again, register the shared pack and
#: re-register an already registered one; write what happened (every registration, or the traceback) as JSON.
CLIENT = r'''
import hashlib, json, sys, time, traceback
from pathlib import Path

url, index, per, second, folder = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])
line = sys.argv[6]
out = {"index": index, "registered": [], "error": None, "retry_reasons": []}
try:
    import logging

    class Reasons(logging.Handler):
        def emit(self, record):
            out["retry_reasons"].append(record.getMessage()[:300])

    logging.getLogger("leanlearn.registry").addHandler(Reasons())
    logging.getLogger("leanlearn.registry").setLevel(logging.DEBUG)
    from leanlearn.mining.rules import Condition, Rule, RuleSet
    from leanlearn.packs.pack import RulePack, Target
    from leanlearn.packs.registry import register_pack

    def pack(name, target, threshold, lineage=None):
        rule = Rule((Condition("torque", ">=", float(threshold)),), Condition(target, "==", 1), support=0.1,
                    coverage=0.12, confidence=0.85, lift=4.2, leverage=0.07, conviction=5.3, n=120, hits=102,
                    p_value=1e-6, p_value_raw=1e-8, ci=(0.77, 0.9), base_rate=0.2, id="R1")
        return RulePack(name=name, line=line, targets=(Target(target),), rules=RuleSet((rule,)),
                        created="2026-01-01T00:00:00+00:00", lineage=lineage or {})

    def register(p, phase):
        started = time.perf_counter()
        [reg] = register_pack(p, tracking_uri=url)
        out["registered"].append({"phase": phase, "pack": p.name, "hash": p.content_hash, "name": reg.name,
                                  "version": reg.version, "reused": reg.reused, "retries": reg.retries,
                                  "seconds": time.perf_counter() - started, "lineage": p.lineage})

    def wait_for(flag):
        (folder / f"ready{flag}.{index}").touch()
        deadline = time.time() + 900
        while not (folder / f"go{flag}").exists():
            if time.time() > deadline:
                raise TimeoutError(f"no go{flag} within 900 s")
            time.sleep(0.02)

    def lineage(p, i):
        source = hashlib.sha256(f"origin-{p}-{i}".encode()).hexdigest()
        return {"source_line": "origin", "source_model": "leanlearn.origin.scrap", "source_version": str(i + 1),
                "source_content_hash": "sha256:" + source, "mapping_hash": "sha256:" + source[::-1],
                "source_aliases": ["candidate"]}

    wait_for(1)
    for i in range(per):
        register(pack(f"p{index}-{i}", "scrap", 1000 * index + i, lineage(index, i)), "many")
        if i < second:
            register(pack(f"q{index}-{i}", "rework", 1000 * index + i), "second")
    wait_for(2)
    register(pack("shared", "shared", 42.0), "shared")  # nobody registered it yet: 8 at once
    register(pack("p0-0", "scrap", 0, lineage(0, 0)), "again")  # process 0's first pack, registered long ago
except BaseException:
    out["error"] = traceback.format_exc()[-4000:]
(folder / f"client.{index}.json").write_text(json.dumps(out))
sys.exit(1 if out["error"] else 0)
'''


@dataclass
class Server:
    url: str
    database: str
    root: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Stop a process started in its own session, and its children (the server's workers): SIGTERM, then SIGKILL."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=timeout)


@pytest.fixture(scope="module")
def team_server(postgres: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``mlflow server`` with SERVER_WORKERS workers on a fresh PostgreSQL database, artifacts in a temp folder."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    root = tmp_path_factory.mktemp("team-server")
    database = f"leanlearn_team_{uuid.uuid4().hex[:10]}"
    with postgres.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
    backend = make_url(POSTGRES).set(database=database).render_as_string(hide_password=False)
    port = _free_port()
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    command = [str(mlflow_cli)] if mlflow_cli.exists() else [sys.executable, "-m", "mlflow"]
    command += ["server", "--backend-store-uri", backend, "--artifacts-destination", str(root / "artifacts"),
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(SERVER_WORKERS)]
    log_path = root / "server.log"
    log = log_path.open("wb")
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env,
                              start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # the first start migrates the fresh database: 20-90 s on a busy machine
        while True:
            if server.poll() is not None:
                pytest.fail(f"mlflow server exited ({server.returncode}): {log_path.read_text()[-1500:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not answer /health within 240 s: {log_path.read_text()[-1500:]}")
            time.sleep(0.5)
        yield Server(url, database, root)
    finally:
        _stop(server)
        log.close()
        with postgres.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def _barrier(folder: Path, flag: int, clients: list[subprocess.Popen[bytes]], timeout: float) -> float:
    """Wait until every client is at barrier ``flag``, then release them together; the release time."""
    deadline = time.monotonic() + timeout
    while len(list(folder.glob(f"ready{flag}.*"))) < len(clients):
        if any(c.poll() is not None for c in clients):
            break  # a client failed before the barrier: its JSON says why
        if time.monotonic() > deadline:
            pytest.fail(f"the clients did not reach barrier {flag} within {timeout:.0f} s")
        time.sleep(0.05)
    (folder / f"go{flag}").touch()
    return time.perf_counter()


@dataclass
class Run:
    results: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    phase1_seconds: float
    total_seconds: float

    def phase(self, *names: str) -> list[dict[str, Any]]:
        return [row for row in self.rows if row["phase"] in names]


def _run_clients(url: str, folder: Path, line: str, processes: int, per: int, second: int,
                 env_extra: dict[str, str] | None = None) -> Run:
    """Start ``processes`` client processes against ``url``, release them together; what each one registered."""
    folder.mkdir()
    script = folder / "client.py"
    script.write_text(CLIENT)
    env = {**os.environ, "MLFLOW_TRACKING_URI": url, "LEANLEARN_HOME": str(folder / "home"),
           "PYTHONPATH": os.pathsep.join(p for p in (str(Path(__file__).parents[1] / "src"),
                                                      os.environ.get("PYTHONPATH", "")) if p), **(env_extra or {})}
    logs = [(folder / f"client.{i}.log").open("wb") for i in range(processes)]
    clients = [
        subprocess.Popen([sys.executable, str(script), url, str(i), str(per), str(second), str(folder), line],
                         stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=env, start_new_session=True)
        for i, log in enumerate(logs)
    ]
    try:
        started = _barrier(folder, 1, clients, timeout=300)
        phase1_end = _barrier(folder, 2, clients, timeout=1500)
        for client in clients:
            client.wait(timeout=900)
        ended = time.perf_counter()
    finally:
        for client in clients:
            _stop(client)
        for log in logs:
            log.close()
    results = []
    for i in range(processes):
        path = folder / f"client.{i}.json"
        assert path.exists(), (folder / f"client.{i}.log").read_text()[-3000:]
        results.append(json.loads(path.read_text()))
    errors = {r["index"]: r["error"] for r in results if r["error"]}
    assert not errors, errors  # no process saw an unhandled error
    assert [c.returncode for c in clients] == [0] * processes
    rows = [row for r in results for row in r["registered"]]
    return Run(results, rows, phase1_end - started, ended - started)


def _check_registry(url: str, line: str, run: Run, processes: int, per: int, second: int) -> None:
    """Every pack of ``run`` is exactly one version, with its tags; the shared and re-registered packs one each."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url, registry_uri=url)

    def live(name: str) -> list[Any]:
        return list(client.search_model_versions(f"name = '{name}'"))

    many = run.phase("many")
    assert len(many) == processes * per and not any(row["reused"] for row in many)
    versions = live(f"leanlearn.{line}.scrap")
    by_hash: dict[str, list[str]] = {}
    for version in versions:
        by_hash.setdefault(version.tags["leanlearn.content_hash"], []).append(str(version.version))
    assert len(versions) == processes * per
    assert sorted(by_hash) == sorted(row["hash"] for row in many)  # one version per pack, none twice
    assert all(len(numbers) == 1 for numbers in by_hash.values())
    assert {row["hash"]: row["version"] for row in many} == {h: n[0] for h, n in by_hash.items()}
    for version in versions:
        row = next(r for r in many if r["hash"] == version.tags["leanlearn.content_hash"])
        lineage = row["lineage"]
        assert version.tags["leanlearn.pack"] == row["pack"] and version.tags["leanlearn.review"] == "pending"
        assert version.tags["leanlearn.lineage.source_line"] == "origin"
        assert version.tags["leanlearn.lineage.source_version"] == lineage["source_version"]
        assert version.tags["leanlearn.lineage.source_content_hash"] == lineage["source_content_hash"]
        assert version.tags["leanlearn.lineage.mapping_hash"] == lineage["mapping_hash"]
        assert version.tags["leanlearn.source_aliases"] == "candidate"
    rework = live(f"leanlearn.{line}.rework")
    assert len(rework) == len(run.phase("second")) == processes * second
    assert sorted(v.tags["leanlearn.content_hash"] for v in rework) == sorted(r["hash"] for r in run.phase("second"))
    # the shared pack, registered by every process at the same instant: one version, the same for everyone
    shared = run.phase("shared")
    [only] = live(f"leanlearn.{line}.shared")
    assert len(shared) == processes and {row["version"] for row in shared} == {str(only.version)}
    # process 0's first pack registered again by every process at once: reused, no duplicate
    again = run.phase("again")
    first = next(row for row in many if row["pack"] == "p0-0")
    assert {row["hash"] for row in again} == {first["hash"]} and all(row["reused"] for row in again)
    assert {row["version"] for row in again} == {first["version"]}
    assert len(live(f"leanlearn.{line}.scrap")) == processes * per


def _deleted_duplicates(postgres: Any, database: str, name: str) -> int:
    """How many versions of ``name`` a client deleted as the duplicate of a lower one (read in the database)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES).set(database=database)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text(
                "select count(*) from model_versions where name = :n and current_stage = 'Deleted_Internal'"),
                {"n": name}).scalar() or 0)
    finally:
        engine.dispose()


def _status_counts(log: Path) -> dict[str, int]:
    """HTTP answers of the server by status code (from its access log)."""
    import re

    counts: dict[str, int] = {}
    for code in re.findall(r'HTTP/1\.1" (\d{3})', log.read_text(errors="replace")):
        counts[code] = counts.get(code, 0) + 1
    return dict(sorted(counts.items()))


def _figures(run: Run, **extra: Any) -> dict[str, Any]:
    phase1 = run.phase("many", "second")
    reasons = [reason for r in run.results for reason in r["retry_reasons"]]
    kinds = {"create": "(create a version", "alias": "(set alias", "duplicate deleted": "duplicates version",
             "model or experiment": "registered model", "check": "(checking the previous attempt)"}
    return {
        "registry_log": {kind: sum(text in reason for reason in reasons) for kind, text in kinds.items()},
        "registry_log_sample": sorted({reason[:200] for reason in reasons})[:4],
        "versions_phase1": len(phase1), "wall_seconds_phase1": round(run.phase1_seconds, 1),
        "versions_per_second": round(len(phase1) / run.phase1_seconds, 2),
        "median_register_seconds": round(sorted(r["seconds"] for r in phase1)[len(phase1) // 2], 2),
        "retries_phase1": sum(r["retries"] for r in phase1),
        "retries_shared_and_again": sum(r["retries"] for r in run.phase("shared", "again")),
        "shared_reused": sum(r["reused"] for r in run.phase("shared")),
        "wall_seconds_total": round(run.total_seconds, 1), **extra,
    }


def _report(server: Server, key: str, figures: dict[str, Any]) -> None:
    path = server.root / "team_server.json"
    doc = json.loads(path.read_text()) if path.exists() else {}
    doc[key] = figures
    path.write_text(json.dumps(doc, indent=1))
    print(f"\nteam server figures ({key}):", json.dumps(figures))


@pytest.mark.slow
def test_eight_processes_register_concurrently_and_every_version_exists_once(team_server: Server,
                                                                           postgres: Any) -> None:
    run = _run_clients(team_server.url, team_server.root / "clients", LINE, PROCESSES, PER_PROCESS, SECOND_MODEL)
    _check_registry(team_server.url, LINE, run, PROCESSES, PER_PROCESS, SECOND_MODEL)
    settled = _deleted_duplicates(postgres, team_server.database, f"leanlearn.{LINE}.shared")
    assert settled == PROCESSES - 1 - sum(r["reused"] for r in run.phase("shared"))
    _report(team_server, "direct", _figures(run, processes=PROCESSES, server_workers=SERVER_WORKERS,
                                           shared_duplicates_settled=settled,
                                           server_status=_status_counts(team_server.root / "server.log")))


# -- a flaky path to the server: failures injected by a proxy, MLflow's own HTTP retries off -----------------------
class FaultyProxy:
    """A loopback HTTP proxy to the MLflow server that fails some registry writes the way a busy server does.

    Of the ``model-versions/create`` requests, every third is answered 503 without reaching the server and every
    third (offset by one) reaches it — the version is committed — but its answer is replaced by a 502 (the answer
    is lost). Every second alias write is committed and answered 504. Everything else passes unchanged.
    """

    def __init__(self, upstream: str) -> None:
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        parts = urlsplit(upstream)
        self.counts = {"create": 0, "refused": 0, "lost": 0, "alias": 0, "alias_lost": 0}
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if not size:
                            while self.rfile.readline().strip():  # trailers
                                pass
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _forward(self) -> None:
                body = self._body()
                fault = None
                with lock:
                    if self.path.startswith("/api/2.0/mlflow/model-versions/create"):
                        proxy.counts["create"] += 1
                        fault = {1: "refuse", 2: "lose"}.get(proxy.counts["create"] % 3)
                    elif self.path.startswith("/api/2.0/mlflow/registered-models/alias") and self.command == "POST":
                        proxy.counts["alias"] += 1
                        fault = "lose" if proxy.counts["alias"] % 2 else None
                if fault == "refuse":
                    with lock:
                        proxy.counts["refused"] += 1
                    self._answer(503, b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "injected"}')
                    return
                upstream_conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
                hop = ("host", "connection", "transfer-encoding", "content-length", "expect", "keep-alive")
                headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
                upstream_conn.request(self.command, self.path, body=body, headers=headers)
                answer = upstream_conn.getresponse()
                data = answer.read()
                upstream_conn.close()
                if fault == "lose" and answer.status == 200:
                    with lock:
                        proxy.counts["lost" if "model-versions" in self.path else "alias_lost"] += 1
                    self._answer(502, b"bad gateway (injected after the server committed)")
                    return
                self._answer(answer.status, data, answer.getheader("Content-Type"))

            def _answer(self, status: int, data: bytes, content_type: str | None = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type or "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.mark.slow
def test_injected_failures_are_retried_and_never_duplicate_a_version(team_server: Server) -> None:
    processes, per, second, line = 4, 4, 1, "flaky"
    proxy = FaultyProxy(team_server.url)
    try:
        run = _run_clients(proxy.url, team_server.root / "flaky-clients", line, processes, per, second,
                           env_extra={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    finally:
        proxy.close()
    _check_registry(team_server.url, line, run, processes, per, second)
    retries = sum(r["retries"] for r in run.rows)
    assert proxy.counts["refused"] >= 3 and proxy.counts["lost"] >= 3 and proxy.counts["alias_lost"] >= 3
    # every injected failure of a write was met by a retry, and no lost answer became a second version
    assert retries >= proxy.counts["refused"] + proxy.counts["lost"] + proxy.counts["alias_lost"]
    _report(team_server, "injected", _figures(run, processes=processes, injected=proxy.counts,
                                              retries_total=retries))
