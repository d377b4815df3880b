"""``leanlearn pack validate``: the command forms, pure ``--json``, exit codes (0 passed, 1 failed, 2 user error),
``--out`` HTML, ``--mapping``, ``--model`` logging beside a registered version, and bad input as one error line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import Result
from typer.testing import CliRunner

from leanlearn.cli import app
from leanlearn.mining.rules import Condition, Rule, RuleSet
from leanlearn.packs.pack import RulePack, Target

runner = CliRunner()


def _rule(rule_id: str, feature: str) -> Rule:
    return Rule.from_counts([Condition(feature, "==", 1)], "bad", hits=90, n=100, positives=400, rows=4000,
                            id=rule_id)


def _frame(rows: int = 6000) -> pd.DataFrame:
    """x0 at 90 % bad (holds), x1 at 60 % (weaker), x2 at 5 % (fails), x3 on 5 rows (not enough data)."""
    cols = {f"x{i}": np.zeros(rows, dtype=int) for i in range(4)}
    bad = np.zeros(rows, dtype=int)
    for i, (start, covered, hits) in enumerate(((0, 300, 270), (300, 300, 180), (600, 300, 15), (900, 5, 4))):
        cols[f"x{i}"][start:start + covered] = 1
        bad[start:start + hits] = 1
    bad[1000:1300] = 1
    return pd.DataFrame({**cols, "bad": bad})


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("validate")
    good = RulePack(name="good", line="L1", targets=(Target("bad"),), rules=RuleSet((_rule("R0", "x0"),)))
    mixed = RulePack(name="mixed", line="L1", targets=(Target("bad"),),
                     rules=RuleSet(tuple(_rule(f"R{i}", f"x{i}") for i in range(4))))
    out = {"good": good.save(root / "good.json"), "mixed": mixed.save(root / "mixed.json")}
    frame = _frame()
    frame.to_csv(root / "l2.csv", index=False)
    out["data"] = root / "l2.csv"
    frame.rename(columns={"x0": "flag_a", "bad": "nok"}).to_parquet(root / "l2-own.parquet")
    out["own"] = root / "l2-own.parquet"
    (root / "l1-to-l2.yaml").write_text(
        "schema: leanlearn.mapping/1\nsource_line: L1\ntarget_line: L2\nfeatures:\n  x0: flag_a\n"
        "targets:\n  bad: nok\n", encoding="utf-8")
    out["mapping"] = root / "l1-to-l2.yaml"
    frame.assign(bad=frame["bad"] * 2).to_csv(root / "twos.csv", index=False)
    out["twos"] = root / "twos.csv"
    frame.drop(columns=["x0"]).to_csv(root / "no-x0.csv", index=False)
    out["no_x0"] = root / "no-x0.csv"
    out["root"] = root
    return out


def _run(*args: object) -> Result:
    return runner.invoke(app, ["pack", "validate", *map(str, args)])


def _one_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_passing_gate_exits_0_and_prints_the_verdicts(files: dict[str, Path]) -> None:
    result = _run(files["good"], files["data"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "R0" in out and "holds" in out
    assert "gate passed: 0 of 1 rule fail; the gate allows 0; 1 of 1 rule holds (100%)" in out
    assert "not signed" in result.stderr  # an unsigned pack is accepted, with a warning


def test_failing_gate_exits_1_with_the_reasons_in_words(files: dict[str, Path]) -> None:
    result = _run(files["mixed"], files["data"])
    assert result.exit_code == 1, result.output
    out = " ".join(result.stdout.split())
    for word in ("holds", "weaker", "fails", "not enough data"):
        assert word in out
    assert ("gate failed: 1 of 4 rules fails (R2); the gate allows 0; 1 of 4 rules holds (25%); the gate needs 50%"
            in out)
    assert "rows needed:" in out
    lenient = _run(files["mixed"], files["data"], "--max-fails", 1, "--min-holds", 0.25)
    assert lenient.exit_code == 0, lenient.output
    strict = _run(files["mixed"], files["data"], "--max-fails", 1, "--min-holds", 0.25, "--max-not-enough", 0)
    assert strict.exit_code == 1 and "lacks data for a verdict (R3)" in strict.stdout


def test_json_is_only_json_and_keeps_the_exit_code(files: dict[str, Path]) -> None:
    result = _run(files["mixed"], files["data"], "--json", "--margin", 0.2, "--alpha", 0.01)
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert set(doc) == {"report", "gate"}
    report, gate = doc["report"], doc["gate"]
    assert report["margin"] == 0.2 and report["alpha"] == 0.01 and report["rows"] == 6000
    assert [v["verdict"] for v in report["verdicts"]] == ["holds", "weaker", "fails", "not enough data"]
    assert gate["passed"] is False and gate["gate"] == {"max_fails": 0, "min_holds": 0.5, "max_not_enough": None}
    assert report["content_hash"] == RulePack.load(files["mixed"]).content_hash


def test_out_writes_the_html_report(files: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "sub" / "report.html"
    result = _run(files["mixed"], files["data"], "--out", target, "--line", "L2")
    assert result.exit_code == 1, result.output
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "from line L1 to line L2" in page and "data:image/svg+xml" in page
    assert "gate failed" not in page and "failed" in page and f"wrote the report to {target}" in result.stdout
    as_json = _run(files["good"], files["data"], "--json", "--out", tmp_path / "r.html")
    assert json.loads(as_json.stdout)["out"] == str(tmp_path / "r.html")
    assert (tmp_path / "r.html").exists()


def test_mapping_translates_the_pack_first(files: dict[str, Path]) -> None:
    result = _run(files["good"], files["own"], "--mapping", files["mapping"], "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["report"]
    assert (report["line"], report["target"]) == ("L1", "L2")
    [v] = report["verdicts"]
    assert (v["rule_id"], v["n"], v["hits"], v["verdict"]) == ("R0", 300, 270, "holds")
    assert v["text"] == "flag_a == 1 → nok"
    unmapped = _run(files["good"], files["own"])  # without the mapping the columns are not there
    assert "x0" in _one_error(unmapped)


@pytest.mark.parametrize(("args", "expected"), [
    (["--margin", "0"], "--margin 0 is not between 0 and 1"),
    (["--margin", "1.5"], "--margin 1.5 is not between 0 and 1"),
    (["--margin", "nan"], "--margin nan is not between"),
    (["--alpha", "0.7"], "--alpha 0.7 is not between 0 and 0.5"),
    (["--power", "1"], "--power 1 is not between"),
    (["--min-holds", "2"], "--min-holds 2 is not a share"),
    (["--max-fails", "-1"], "--max-fails and --max-not-enough count rules"),
    (["--out", "report.pdf"], "the report is an HTML page"),
])
def test_bad_settings_are_one_error_line(files: dict[str, Path], args: list[str], expected: str) -> None:
    assert expected in _one_error(_run(files["good"], files["data"], *args))


def test_bad_files_are_one_error_line(files: dict[str, Path], tmp_path: Path) -> None:
    assert "no such rule pack file" in _one_error(_run(tmp_path / "missing.json", files["data"]))
    assert "missing.csv" in _one_error(_run(files["good"], tmp_path / "missing.csv"))
    message = _one_error(_run(files["good"], files["no_x0"]))
    assert "no-x0.csv" in message and "x0" in message
    message = _one_error(_run(files["good"], files["twos"]))
    assert "'bad'" in message and "2" in message
    broken = tmp_path / "broken.json"
    broken.write_text(files["good"].read_text(encoding="utf-8").replace('"L1"', '"L9"', 1), encoding="utf-8")
    assert "content hash mismatch" in _one_error(_run(broken, files["data"]))
    bad_map = tmp_path / "bad.yaml"
    bad_map.write_text("schema: leanlearn.mapping/1\nfeaturs: {}\n", encoding="utf-8")
    assert "did you mean 'features'" in _one_error(_run(files["good"], files["own"], "--mapping", bad_map))
    assert "no such mapping file" in _one_error(_run(files["good"], files["own"], "--mapping", tmp_path / "n.yaml"))


def test_help_teaches_exit_codes_and_examples() -> None:
    result = runner.invoke(app, ["pack", "validate", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "Exit code: 0 the gate passed, 1 the gate failed, 2 a user error" in text
    assert "leanlearn pack validate L1-defect.json l2-runs.csv --mapping l1-to-l2.yaml --out report.html" in text


def test_model_logs_the_validation_beside_the_version(files: dict[str, Path], tmp_path: Path) -> None:
    from leanlearn.packs.exchange import read_validation
    from leanlearn.packs.registry import register_pack

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    pack = RulePack.load(files["good"])
    [registered] = register_pack(pack, tracking_uri=uri)
    result = _run(files["good"], files["data"], "--model", registered.version_uri, "--tracking-uri", uri, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["logged"]["model"] == registered.version_uri
    stored = read_validation(registered.version_uri, tracking_uri=uri)
    assert stored is not None and stored["status"] == "passed"
    assert stored["report"]["content_hash"] == pack.content_hash
    assert stored["report"]["counts"] == {"holds": 1, "weaker": 0, "fails": 0, "not enough data": 0}
    # a report of another pack is refused beside this version, in one line
    message = _one_error(_run(files["mixed"], files["data"], "--model", registered.version_uri, "--tracking-uri", uri))
    assert "validation report is of pack" in message
