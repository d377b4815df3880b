"""``leanlearn pack list | export | import | promote``: each command form, ``--json`` purity, errors as one line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leanlearn.cli import app
from leanlearn.mining.rules import Condition, Rule, RuleSet
from leanlearn.packs.exchange import log_validation
from leanlearn.packs.pack import RulePack, Target
from leanlearn.packs.registry import register_pack, review_rule


def _pack() -> RulePack:
    rules = RuleSet(tuple(
        Rule((Condition(feature, ">=", value),), Condition("scrap", "==", 1), support=0.1, coverage=0.12,
             confidence=0.8, lift=4.0, leverage=0.07, conviction=4.0, n=120, hits=96, p_value=1e-6,
             p_value_raw=1e-8, ci=(0.72, 0.86), base_rate=0.2, id=rid)
        for rid, feature, value in (("R1", "torque", 60.0), ("R2", "wear", 200.0))
    ))
    return RulePack(name="press", line="L1", targets=(Target("scrap"),), rules=rules)


PACK = _pack()


@dataclass(frozen=True)
class _Report:
    content_hash: str
    counts: Any = None
    margin: float = 0.1
    data_fingerprint: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"content_hash": self.content_hash}


@dataclass(frozen=True)
class _Gate:
    passed: bool
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": list(self.reasons)}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("LEANLEARN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LEANLEARN_REQUIRE_SIGNATURES", raising=False)
    monkeypatch.delenv("LEANLEARN_TRUSTED_KEYS", raising=False)
    register_pack(PACK, tracking_uri=uri)
    return uri


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["pack", *args], catch_exceptions=False)


def _one_error_line(result: Any, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_list_table_and_json(store: str, tmp_path: Path) -> None:
    table = _run("list", "--tracking-uri", store)
    assert table.exit_code == 0, table.output
    assert "leanlearn.L1.scrap" in table.stdout and "candidate" in table.stdout and "pending" in table.stdout
    result = _run("list", "--json", "--line", "L1")  # default store: MLFLOW_TRACKING_URI
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["name"] == "leanlearn.L1.scrap" and row["aliases"] == ["candidate"] and row["validation"] == "none"
    assert row["n_rules"] == 2 and row["source_line"] is None
    assert json.loads(_run("list", "--json", "--line", "L2").stdout) == []
    empty = _run("list", "--line", "L2")
    assert "no registered rule packs for line 'L2'" in empty.stdout


def test_export_writes_a_verified_pack_and_json_is_pure(store: str, tmp_path: Path) -> None:
    review_rule("models:/leanlearn.L1.scrap/1", "R2", "rejected", "ben", "spurious", tracking_uri=store)
    out = tmp_path / "out" / "L1.json"
    result = _run("export", "models:/leanlearn.L1.scrap@candidate", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["out"] == str(out) and doc["rules"] == 2 and doc["reviews"] == {"pending": 1, "rejected": 1}
    assert doc["version"] == "1" and doc["signed"] is False
    pack = RulePack.load(out)
    assert pack.rules[1].review.reason == "spurious" and pack.content_hash == doc["content_hash"]
    text = _run("export", "models:/leanlearn.L1.scrap/1", "--out", str(out))
    assert text.exit_code == 0 and "exported leanlearn.L1.scrap version 1" in text.stdout
    assert "leanlearn pack sign" in text.stdout


def test_export_errors_are_one_line(store: str, tmp_path: Path) -> None:
    out = str(tmp_path / "x.json")
    _one_error_line(_run("export", "models:/leanlearn.L9.scrap/1", "--out", out, "--json"),
                    "no registered model 'leanlearn.L9.scrap'")
    _one_error_line(_run("export", "models:/leanlearn.L1.scrap/4", "--out", out), "has no version 4")
    _one_error_line(_run("export", "nonsense", "--out", out), "not a model URI")
    assert not Path(out).exists()


def test_import_writes_beside_the_input_registers_and_says_the_next_command(store: str, tmp_path: Path) -> None:
    pytest.importorskip("leanlearn.packs.mapping")
    source = tmp_path / "L1-scrap.json"
    assert _run("export", "models:/leanlearn.L1.scrap/1", "--out", str(source)).exit_code == 0
    result = _run("import", str(source), "--line", "L1b", "--register", "--tracking-uri", store)
    assert result.exit_code == 0, result.output
    written = tmp_path / "L1-scrap.L1b.json"
    assert written.exists() and str(written) in result.stdout
    assert "models:/leanlearn.L1b.scrap/1" in result.stdout
    assert "leanlearn pack validate" in result.stdout and "--model models:/leanlearn.L1b.scrap/1" in result.stdout
    assert "warning" in result.stderr  # unsigned, accepted where the line does not require signatures
    pack = RulePack.load(written)
    assert pack.line == "L1b" and pack.lineage["source_line"] == "L1"
    js = _run("import", str(source), "--line", "L1c", "--out", str(tmp_path / "c.json"), "--json")
    assert js.exit_code == 0, js.output
    doc = json.loads(js.stdout)
    assert doc["out"] == str(tmp_path / "c.json") and doc["registered"] == [] and doc["line"] == "L1c"


def test_import_errors_are_one_line(store: str, tmp_path: Path) -> None:
    _one_error_line(_run("import", str(tmp_path / "missing.json"), "--line", "L2", "--json"), "missing.json")
    cut = tmp_path / "cut.json"
    cut.write_text(PACK.dumps()[:200], encoding="utf-8")
    _one_error_line(_run("import", str(cut), "--line", "L2"), "cut.json", "not valid JSON")
    signed_only = _run("import", str(tmp_path / "cut.json"), "--line", "L2", "--require-signature")
    _one_error_line(signed_only, "cut.json")


def test_promote_through_the_gate_and_by_override(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEANLEARN_REVIEWER", "carla")
    refused = _run("promote", "leanlearn.L1.scrap", "1", "--alias", "production", "--json")
    _one_error_line(refused, "has no validation", "leanlearn pack validate", "--model models:/leanlearn.L1.scrap/1")
    over = _run("promote", "leanlearn.L1.scrap", "1", "--alias", "production", "--override-reason",
                "trial week", "--by", "dana", "--json")
    assert over.exit_code == 0, over.output
    doc = json.loads(over.stdout)
    assert doc["gate"] == "overridden" and doc["by"] == "dana" and doc["override_reason"] == "trial week"
    assert doc["uri"] == "models:/leanlearn.L1.scrap@production"
    log_validation("models:/leanlearn.L1.scrap/1", _Report(PACK.content_hash, data_fingerprint={
        "sha256": "a" * 64, "rows": 10}), _Gate(True), tracking_uri=store)
    ok = _run("promote", "leanlearn.L1.scrap", "1")  # --alias production is the default
    assert ok.exit_code == 0, ok.output
    assert "models:/leanlearn.L1.scrap@production -> version 1 (its validation passed the gate; by carla" in ok.stdout
    free = _run("promote", "leanlearn.L1.scrap", "1", "--alias", "staging", "--json")
    assert json.loads(free.stdout)["gate"] == "free"


def test_promote_errors_are_one_line(store: str) -> None:
    _one_error_line(_run("promote", "leanlearn.L9.scrap", "1", "--by", "x"), "no registered model")
    _one_error_line(_run("promote", "leanlearn.L1.scrap", "abc", "--by", "x", "--json"),
                    "'abc' is not a model version number")
    _one_error_line(_run("promote", "leanlearn.L1.scrap", "3", "--by", "x"), "has no version 3")
    _one_error_line(_run("promote", "leanlearn.L1.scrap", "1", "--alias", "latest", "--by", "x"), "is not usable")
    _one_error_line(_run("promote", "leanlearn.L1.scrap", "1", "--override-reason", " ", "--by", "x"),
                    "needs a reason")


def test_commands_are_registered_under_their_names() -> None:
    result = CliRunner().invoke(app, ["pack", "--help"])
    for name in ("list", "export", "import", "promote"):
        assert f" {name} " in result.stdout


def test_export_import_validate_promote_end_to_end(store: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk-through of the README: L1's pack onto L2 through a mapping, validated there, promoted by the gate."""
    import numpy as np
    import pandas as pd

    monkeypatch.setenv("LEANLEARN_REVIEWER", "carla")
    for rid in ("R1", "R2"):
        review_rule("models:/leanlearn.L1.scrap/1", rid, "approved", "ana", tracking_uri=store)
    assert _run("promote", "leanlearn.L1.scrap", "1", "--alias", "approved").exit_code == 0
    exported = tmp_path / "L1.json"
    assert _run("export", "models:/leanlearn.L1.scrap@approved", "--out", str(exported)).exit_code == 0
    mapping = tmp_path / "l1-to-l2.yaml"
    mapping.write_text("schema: leanlearn.mapping/1\nfeatures:\n  torque: torque_nm\n  wear: {column: wear_h, "
                       "expr: \"wear_h * 60\"}\n", encoding="utf-8")
    imported = _run("import", str(exported), "--line", "L2", "--mapping", str(mapping), "--register", "--json")
    assert imported.exit_code == 0, imported.output
    doc = json.loads(imported.stdout)
    [version] = doc["registered"]
    assert version["version_uri"] == "models:/leanlearn.L2.scrap/1"
    assert doc["lineage"]["source_aliases"] == ["approved", "candidate"]

    rng = np.random.default_rng(3)
    rows = 6000
    frame = pd.DataFrame({"torque_nm": rng.uniform(20, 80, rows), "wear_h": rng.uniform(0, 4, rows)})
    covered = (frame["torque_nm"] >= 60) | (frame["wear_h"] * 60 >= 200)
    frame["scrap"] = (rng.uniform(size=rows) < np.where(covered, 0.8, 0.05)).astype(int)
    data = tmp_path / "l2.csv"
    frame.to_csv(data, index=False)
    refused = _run("promote", "leanlearn.L2.scrap", "1")
    _one_error_line(refused, "has no validation")
    checked = _run("validate", doc["out"], str(data), "--model", version["version_uri"], "--json")
    assert checked.exit_code == 0, checked.output
    listed = {row["name"]: row for row in json.loads(_run("list", "--json").stdout)}
    assert listed["leanlearn.L2.scrap"]["validation"] == "passed"
    assert listed["leanlearn.L2.scrap"]["source_line"] == "L1"
    promoted = _run("promote", "leanlearn.L2.scrap", "1", "--json")
    assert promoted.exit_code == 0, promoted.output
    assert json.loads(promoted.stdout)["gate"] == "passed"
    assert "production" in json.loads(_run("list", "--json", "--line", "L2").stdout)[0]["aliases"]
