"""The leanlearn command line: rules printed for people, JSON for scripts, one clear line for every user mistake."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leanlearn.cli import app
from leanlearn.packs.pack import SCHEMA_ID, RulePack

runner = CliRunner()
HEAVY = ("mlflow", "shap", "lightgbm", "river")
LEANLEARN = Path(sys.executable).with_name("leanlearn")


@pytest.fixture(scope="module")
def runs_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 pressings; scrap is planted at 60 % when humidity >= 70 on press P3, 3 % otherwise."""
    rng = np.random.default_rng(7)
    n = 3000
    frame = pd.DataFrame(
        {
            "order_id": np.arange(n),
            "humidity": rng.uniform(30, 90, n).round(1),
            "press": rng.choice(["P1", "P2", "P3"], n),
            "temp [C]": rng.normal(200, 5, n).round(2),
        }
    )
    risk = np.where((frame["humidity"] >= 70) & (frame["press"] == "P3"), 0.6, 0.03)
    frame["scrap"] = (rng.random(n) < risk).astype(int)
    frame["noise"] = (rng.random(n) < 0.05).astype(int)  # unrelated to everything: no honest rule exists
    path = tmp_path_factory.mktemp("data") / "press.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def pack_file(runs_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("packs") / "scrap.json"
    result = runner.invoke(app, ["mine", str(runs_csv), "--target", "scrap", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out


def assert_user_error(result, *fragments: str) -> str:  # type: ignore[no-untyped-def]
    """Exit code 2, exactly one ``error:`` line on stderr, nothing on stdout, no traceback."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# -- mine -----------------------------------------------------------------------------------------------------------
def test_mine_prints_the_planted_rule_in_plain_words(runs_csv: Path) -> None:
    result = runner.invoke(app, ["mine", str(runs_csv), "--target", "scrap"])
    assert result.exit_code == 0, result.output
    words = [line for line in result.stdout.splitlines() if "scrap-001: When" in line]
    assert len(words) == 1
    assert re.search(r"humidity >= 7\d", words[0]) and "press == P3" in words[0]
    assert "scrap-001" in result.stdout and "confidence" in result.stdout and "lift" in result.stdout
    assert re.search(r"mined \d+ rule\(s\) for 1 target\(s\) in \d+\.\d s", result.stdout)


def test_mine_leaves_identifier_columns_out(runs_csv: Path) -> None:
    result = runner.invoke(app, ["mine", str(runs_csv), "--target", "scrap", "--json"])
    doc = json.loads(result.stdout)
    assert doc["mining"]["ignored"] == {"order_id": "identifier (every value distinct)"}


def test_mine_json_prints_only_a_verified_pack(runs_csv: Path) -> None:
    result = runner.invoke(
        app, ["mine", str(runs_csv), "-t", "scrap", "--derive", "hot=`temp [C]` - 200", "--line", "press-2", "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # nothing but the JSON on stdout
    assert doc["schema"] == SCHEMA_ID == "leanlearn.rulepack/1"
    pack = RulePack.from_json(doc)
    assert pack.line == "press-2"
    assert pack.derive == {"hot": "`temp [C]` - 200"}
    assert pack.rules and all(r.target == "scrap" for r in pack.rules)


def test_mine_passes_miner_options(runs_csv: Path) -> None:
    result = runner.invoke(
        app,
        ["mine", str(runs_csv), "-t", "scrap", "--max-conditions", "1", "--min-confidence", "0.15",
         "--waste", "defects", "--ignore", "temp [C]", "--json"],
    )
    assert result.exit_code == 0, result.output
    pack = RulePack.from_json(json.loads(result.stdout))
    assert pack.mining["max_conditions"] == 1 and pack.mining["min_confidence"] == 0.15
    assert all(len(r.conditions) == 1 and r.confidence >= 0.15 for r in pack.rules)
    assert "temp [C]" in pack.mining["ignored"]


def test_mine_says_why_a_target_has_no_rule(runs_csv: Path) -> None:
    result = runner.invoke(app, ["mine", str(runs_csv), "-t", "scrap", "-t", "noise"])
    assert result.exit_code == 0, result.output
    assert "No rule for noise" in result.stdout
    assert "honest answer" in result.stdout


def test_mine_reads_semicolon_csv_with_decimal_commas(runs_csv: Path, tmp_path: Path) -> None:
    semicolon = tmp_path / "press-eu.csv"
    pd.read_csv(runs_csv).to_csv(semicolon, sep=";", decimal=",", index=False)
    result = runner.invoke(app, ["mine", str(semicolon), "-t", "scrap", "--json"])
    assert result.exit_code == 0, result.output
    texts = [r["text"] for r in json.loads(result.stdout)["rules"]]
    assert any("press == P3" in t and "humidity >=" in t for t in texts)


# -- show / apply ---------------------------------------------------------------------------------------------------
def test_show_prints_summary_and_rules(pack_file: Path) -> None:
    result = runner.invoke(app, ["show", str(pack_file)])
    assert result.exit_code == 0, result.output
    pack = RulePack.load(pack_file)
    for fragment in (pack.name, pack.content_hash, "3,000 rows", "scrap (defects)", "scrap-001: When"):
        assert fragment in result.stdout


def test_show_json_prints_the_verified_pack(pack_file: Path) -> None:
    result = runner.invoke(app, ["show", str(pack_file), "--json"])
    assert result.exit_code == 0, result.output
    assert RulePack.from_json(json.loads(result.stdout)) == RulePack.load(pack_file)


def test_apply_prints_how_often_each_rule_fires(pack_file: Path, runs_csv: Path) -> None:
    result = runner.invoke(app, ["apply", str(pack_file), str(runs_csv)])
    assert result.exit_code == 0, result.output
    assert "rows each rule fires on" in result.stdout and "first rows" in result.stdout
    assert "scrap-001" in result.stdout and "scrap_predicted" in result.stdout


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_apply_writes_fired_rules_per_row(pack_file: Path, runs_csv: Path, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"fired{suffix}"
    result = runner.invoke(app, ["apply", str(pack_file), str(runs_csv), "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(written.columns) == ["row", "rules", "scrap_predicted"]
    assert len(written) == 3000
    expected = RulePack.load(pack_file).apply(pd.read_csv(runs_csv))
    assert written["scrap_predicted"].tolist() == expected["scrap_predicted"].tolist()


# -- user mistakes: one line, exit 2, no traceback ------------------------------------------------------------------
def test_missing_data_file_is_one_error_line(tmp_path: Path) -> None:
    assert_user_error(runner.invoke(app, ["mine", str(tmp_path / "nope.csv"), "-t", "scrap"]), "nope.csv", "no such")


def test_unknown_target_column_is_one_error_line(runs_csv: Path) -> None:
    assert_user_error(runner.invoke(app, ["mine", str(runs_csv), "-t", "scarp"]), "'scarp'", "not a column")


def test_non_binary_target_is_one_error_line(runs_csv: Path) -> None:
    assert_user_error(runner.invoke(app, ["mine", str(runs_csv), "-t", "humidity"]), "'humidity'", "binary")


@pytest.mark.parametrize(
    "derive", ["evil=__import__('os').system('x')", "evil=humidity.__class__", "no-equals-sign", "x=nothere * 2"]
)
def test_bad_derive_expression_is_one_error_line(runs_csv: Path, derive: str) -> None:
    assert_user_error(runner.invoke(app, ["mine", str(runs_csv), "-t", "scrap", "--derive", derive]))


def test_unknown_waste_is_one_error_line(runs_csv: Path) -> None:
    assert_user_error(runner.invoke(app, ["mine", str(runs_csv), "-t", "scrap", "--waste", "muda"]), "'muda'")


def test_hand_edited_pack_is_refused_with_hash_reason(pack_file: Path, runs_csv: Path, tmp_path: Path) -> None:
    doc = json.loads(pack_file.read_text(encoding="utf-8"))
    doc["rules"][0]["confidence"] = 0.99
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc), encoding="utf-8")
    assert_user_error(runner.invoke(app, ["show", str(edited)]), "content hash mismatch")
    assert_user_error(runner.invoke(app, ["apply", str(edited), str(runs_csv)]), "content hash mismatch")


def test_missing_pack_file_is_one_error_line(tmp_path: Path, runs_csv: Path) -> None:
    assert_user_error(runner.invoke(app, ["apply", str(tmp_path / "nope.json"), str(runs_csv)]), "nope.json")


def test_data_without_the_pack_columns_is_one_error_line(pack_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    assert_user_error(runner.invoke(app, ["apply", str(pack_file), str(other)]), "other.csv")


def test_unknown_output_format_is_refused_before_work(pack_file: Path, runs_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "fired.xlsx"
    assert_user_error(runner.invoke(app, ["apply", str(pack_file), str(runs_csv), "--out", str(out)]), ".xlsx")
    assert not out.exists()


def test_user_error_in_a_real_process_is_one_stderr_line_with_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(LEANLEARN), "mine", str(tmp_path / "nope.csv"), "--target", "scrap"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [f"error: {tmp_path / 'nope.csv'}: no such file; check the path "
                                                f"(relative paths start in {Path.cwd()})"]


# -- pipelines ------------------------------------------------------------------------------------------------------
def _pipeline(folder: Path, runs_csv: Path, **extra: str) -> Path:
    data = folder / "data"
    data.mkdir(exist_ok=True)
    (data / "press.csv").write_bytes(runs_csv.read_bytes())
    lines = [
        "name: press-scrap",
        "line: press-2",
        "source: {path: data/press.csv}",
        "targets: [scrap]",
        "derive: {hot: '`temp [C]` - 200'}",
        "units: {humidity: '%'}",
        "mining: {max_conditions: 2}",
        *(f"{k}: {v}" for k, v in extra.items()),
    ]
    path = folder / "press.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_run_reads_source_beside_the_yaml_and_writes_out_in_cwd(
    runs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "pipes"
    folder.mkdir()
    pipeline = _pipeline(folder, runs_csv, out="models/press.json")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = runner.invoke(app, ["run", str(pipeline), "--quiet"])
    assert result.exit_code == 0, result.output
    pack = RulePack.load(work / "models" / "press.json")
    assert pack.name == "press-scrap" and pack.line == "press-2"
    assert {f.name: f.unit for f in pack.features}["humidity"] == "%"
    assert pack.mining["max_conditions"] == 2
    assert "scrap-001: When" in result.stdout


def test_run_json_prints_only_the_pack(runs_csv: Path, tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, runs_csv, out=str(tmp_path / "p.json"))
    result = runner.invoke(app, ["run", str(pipeline), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "press-scrap"
    assert (tmp_path / "p.json").exists()


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        ({"taregts": "[scrap]"}, ("'taregts'", "did you mean 'targets'")),
        ({"mining": "{min_suport: 0.01}"}, ("mining.", "'min_suport'")),
        ({"mining": "{max_conditions: many}"}, ("mining.max_conditions",)),
        ({"waste": "muda"}, ("'waste'", "'muda'")),
        ({"register": "maybe"}, ("'register'",)),
    ],
)
def test_malformed_pipeline_is_one_error_line_naming_file_and_key(
    runs_csv: Path, tmp_path: Path, extra: dict[str, str], fragments: tuple[str, ...]
) -> None:
    pipeline = _pipeline(tmp_path, runs_csv)
    pipeline.write_text(pipeline.read_text(encoding="utf-8").replace("mining: {max_conditions: 2}\n", ""))
    with pipeline.open("a", encoding="utf-8") as handle:
        handle.writelines(f"{k}: {v}\n" for k, v in extra.items())
    assert_user_error(runner.invoke(app, ["run", str(pipeline)]), str(pipeline), *fragments)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    pipeline = tmp_path / "broken.yaml"
    pipeline.write_text("name: x\ntargets: [a, b\n", encoding="utf-8")
    assert_user_error(runner.invoke(app, ["run", str(pipeline)]), "broken.yaml", "not valid YAML", "line")


def test_bad_derive_in_pipeline_names_the_key(runs_csv: Path, tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, runs_csv)
    text = pipeline.read_text(encoding="utf-8").replace("'`temp [C]` - 200'", "\"__import__('os')\"")
    pipeline.write_text(text, encoding="utf-8")
    assert_user_error(runner.invoke(app, ["run", str(pipeline)]), "derive.hot")


# -- demo -----------------------------------------------------------------------------------------------------------
def test_demo_writes_a_pack_with_rules_for_hdf_pwf_osf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "p.json"
    result = runner.invoke(app, ["demo", "--no-register", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    pack = RulePack.load(out)
    assert pack.name == "ai4i-failures" and pack.line == "ai4i"
    assert [t.name for t in pack.targets] == ["HDF", "PWF", "OSF", "TWF"]
    assert all(t.waste == "downtime" for t in pack.targets)
    for target in ("HDF", "PWF", "OSF"):
        assert len(pack.rules.for_target(target)) >= 1, target
    assert pack.derive.keys() == {"temp_diff", "power", "strain"}
    assert "HDF-001: When" in result.stdout and "not registered" in result.stdout
    assert not (tmp_path / "models").exists()  # --out wins over the pipeline's out


@pytest.mark.skipif(importlib.util.find_spec("leanlearn.packs.registry") is None, reason="registry not written yet")
def test_mine_register_stores_the_pack_in_mlflow(
    runs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("LEANLEARN_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["mine", str(runs_csv), "-t", "scrap", "--line", "press-2", "--register"])
    assert result.exit_code == 0, result.output
    assert "models:/leanlearn.press-2.scrap@candidate" in result.stdout
    assert f"mlflow ui --backend-store-uri {uri}" in result.stdout

    from leanlearn.packs.registry import load_pack

    registered = load_pack("models:/leanlearn.press-2.scrap@candidate", tracking_uri=uri)
    assert registered.rules[0].text.endswith("→ scrap")


def test_mine_register_logs_the_explanation_beside_the_version(
    runs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("LEANLEARN_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["mine", str(runs_csv), "-t", "scrap", "--line", "press-2", "--register", "-q"])
    assert result.exit_code == 0, result.output
    assert "logged beside each registered version" in result.stdout

    from leanlearn.packs.registry import load_pack, read_explanation, read_explanation_report

    model = "models:/leanlearn.press-2.scrap@candidate"
    figures = read_explanation(model, tracking_uri=uri)
    assert figures is not None
    assert {rule.id for rule in load_pack(model, tracking_uri=uri).rules} <= {r["rule_id"] for r in figures["rules"]}
    report = read_explanation_report(model, tracking_uri=uri)
    assert report is not None and "<html" in report.lower()


# -- help, version, import cost -------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["mine", "show", "apply", "run", "demo", "fuse"])
def test_each_command_help_teaches_with_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Examples" in result.stdout
    assert f"leanlearn {command} " in result.stdout or result.stdout.rstrip().endswith(f"leanlearn {command}")


def test_version_is_printed() -> None:
    from leanlearn import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"leanlearn {__version__}"


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from leanlearn.cli import app\n"
        "for args in (['--help'], ['mine', '--help'], ['demo', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY) | {'pandas'}!r}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_console_script_help_runs() -> None:
    proc = subprocess.run([str(LEANLEARN), "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "leanlearn demo" in proc.stdout


def test_mine_engine_option_gives_the_same_rules_and_refuses_an_unknown_engine(runs_csv: Path) -> None:
    def rules(*extra: str) -> list[tuple[str, int, int]]:
        result = runner.invoke(app, ["mine", str(runs_csv), "--target", "scrap", "--json", *extra])
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert doc["mining"]["engine"] == (extra[1] if extra else "auto")
        return [(r["text"], r["n"], r["hits"]) for r in doc["rules"]]

    assert rules("--engine", "mlxtend") == rules("--engine", "bitset") == rules()
    bad = runner.invoke(app, ["mine", str(runs_csv), "--target", "scrap", "--engine", "fpgrowth"])
    assert bad.exit_code != 0 and "must be one of auto, bitset, mlxtend, spark" in bad.output
