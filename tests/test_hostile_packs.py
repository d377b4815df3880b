"""Hostile rule packs: non-JSON numbers, deep nesting, huge integers, oversize files, inconsistent types, racing
writers, and a pack big enough to matter (100k rules). Every problem must be one PackError naming the file."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from leanlearn.errors import PackError
from leanlearn.mining.rules import Condition, Rule, RuleSet
from leanlearn.packs.pack import (
    MAX_NESTING,
    RulePack,
    Target,
    content_hash,
    validate_document,
)


def _rule(i: int = 0, feature: str = "torque", op: str = ">=", value: object = 60.0) -> Rule:
    return Rule((Condition(feature, op, value),), Condition("scrap", "==", 1), support=0.1, coverage=0.1,
                confidence=0.9, lift=4.5, leverage=0.08, conviction=8.0, n=10, hits=9, p_value=1e-4,
                p_value_raw=1e-5, ci=(0.6, 0.98), base_rate=0.2, id=f"R{i}")


def _pack(**kw) -> RulePack:
    base = {"name": "p", "line": "L1", "targets": (Target("scrap"),), "rules": RuleSet((_rule(),))}
    base.update(kw)
    return RulePack(**base)


def _rehash(doc: dict) -> dict:
    doc["content_hash"] = content_hash(doc)
    return doc


def _write_text(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hostile.json"
    path.write_text(text, encoding="utf-8")
    return path


# -- JSON that is not JSON --------------------------------------------------------------------------------------
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_one_pack_error(tmp_path, literal):
    text = _pack().dumps().replace('"confidence": 0.9', f'"confidence": {literal}')
    with pytest.raises(PackError, match=r"hostile\.json: .*not a JSON number"):
        RulePack.load(_write_text(tmp_path, text))


def test_a_number_beyond_the_float_range_is_one_pack_error(tmp_path):
    text = _pack().dumps().replace('"lift": 4.5', '"lift": 1e999')
    with pytest.raises(PackError, match="beyond the float range"):
        RulePack.load(_write_text(tmp_path, text))


def test_a_5000_digit_integer_is_one_pack_error(tmp_path):
    text = _pack().dumps().replace('"n": 10', '"n": ' + "9" * 5000)
    with pytest.raises(PackError, match="integer of 5000 digits"):
        RulePack.load(_write_text(tmp_path, text))


def test_100k_deep_nesting_is_one_pack_error(tmp_path):
    text = _pack().dumps().replace('"mining": {}', '"mining": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(PackError, match="nested too deeply"):
        RulePack.load(_write_text(tmp_path, text))


def test_nesting_below_the_parsers_limit_but_beyond_the_packs_is_refused():
    doc = _pack().to_json()
    doc["mining"] = {"x": json.loads("[" * (MAX_NESTING + 5) + "]" * (MAX_NESTING + 5))}
    with pytest.raises(PackError, match=f"field mining nests more than {MAX_NESTING}"):
        RulePack.from_json(_rehash(doc))


def test_nan_handed_over_from_python_is_a_pack_error():
    doc = _pack().to_json()
    doc["mining"] = {"alpha": float("nan")}
    with pytest.raises(PackError, match="canonical JSON"):
        RulePack.from_json(doc)


@pytest.mark.parametrize("text", ["\ufeff{}", '{"schema": "leanlearn.rulepack/1"', "[" * 50, '"\\ud800"', "null", "1"])
def test_odd_json_documents_are_pack_errors(tmp_path, text):
    with pytest.raises(PackError, match="hostile.json"):
        RulePack.load(_write_text(tmp_path, text))


# -- limits -----------------------------------------------------------------------------------------------------
def test_a_pack_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    path = _pack().save(tmp_path / "p.json")
    with pytest.raises(PackError, match="larger than the limit of 100 bytes"):
        RulePack.load(path, max_bytes=100)


def test_the_size_limit_can_be_raised_from_the_environment(tmp_path, monkeypatch):
    path = _pack().save(tmp_path / "p.json")
    monkeypatch.setenv("LEANLEARN_MAX_PACK_BYTES", "100")
    with pytest.raises(PackError, match="LEANLEARN_MAX_PACK_BYTES"):
        RulePack.load(path)
    monkeypatch.setenv("LEANLEARN_MAX_PACK_BYTES", "10_000_000")
    assert RulePack.load(path).rules[0].id == "R0"


def test_a_malformed_limit_in_the_environment_is_a_pack_error(tmp_path, monkeypatch):
    path = _pack().save(tmp_path / "p.json")
    monkeypatch.setenv("LEANLEARN_MAX_PACK_RULES", "lots")
    with pytest.raises(PackError, match="LEANLEARN_MAX_PACK_RULES='lots'"):
        RulePack.load(path)


def test_a_pack_with_more_rules_than_the_limit_is_refused():
    doc = _pack(rules=RuleSet(tuple(_rule(i) for i in range(5)))).to_json()
    with pytest.raises(PackError, match="5 rules, more than the limit of 4"):
        RulePack.from_json(doc, max_rules=4)


# -- schema validation is ours and agrees with jsonschema ---------------------------------------------------------
def test_schema_errors_are_counted_and_the_first_is_named():
    doc = _pack(rules=RuleSet(tuple(_rule(i) for i in range(3)))).to_json()
    for rule in doc["rules"]:
        rule["confidence"] = 2.0
    with pytest.raises(PackError, match=r"field rules/0/confidence: 2.0 is greater than the maximum of 1 "
                                         r"\(and 2 more problem"):
        validate_document(doc)


def test_compiled_validator_refuses_what_jsonschema_refuses_on_a_bad_condition():
    import jsonschema

    from leanlearn.packs.pack import _schema

    doc = _pack().to_json()
    doc["rules"][0]["if"][0] = {"feature": "torque", "op": "between", "value": [1, "x"]}
    assert list(jsonschema.Draft202012Validator(_schema()).iter_errors(doc))
    with pytest.raises(PackError, match="field rules/0/if/0/value/1"):
        validate_document(doc)


# -- types and expressions are checked when the pack loads ---------------------------------------------------------
def test_a_derived_expression_comparing_text_with_a_number_is_refused_at_load():
    from leanlearn.packs.pack import Feature

    pack = _pack(features=(Feature("Type", "object"),), derived=(("t", "Type == 3"),))
    with pytest.raises(PackError, match=r"field derived/0/expr .*column 'Type' \(text\)"):
        RulePack.from_json(pack.to_json())


def test_a_numeric_condition_on_a_text_feature_is_refused_at_load():
    from leanlearn.packs.pack import Feature

    pack = _pack(features=(Feature("torque", "str"),))
    with pytest.raises(PackError, match=r"field rules/0/if/0 .*'torque' \(dtype 'str', not numeric\)"):
        RulePack.from_json(pack.to_json())


def test_applying_a_numeric_rule_to_a_text_column_is_one_pack_error():
    pack = _pack(rules=RuleSet((_rule(op="between", value=[1.0, 2.0]),)))
    with pytest.raises(PackError, match="torque"):
        pack.apply(pd.DataFrame({"torque": ["high", "low"]}))


# -- saving ------------------------------------------------------------------------------------------------------
def _save_many(args: tuple[str, int]) -> int:
    path, worker = args
    pack = _pack(name=f"w{worker}")
    for _ in range(30):
        pack.save(path)
    return worker


def test_two_processes_saving_the_same_pack_never_collide(tmp_path):
    path = tmp_path / "shared.json"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        assert sorted(pool.map(_save_many, [(str(path), 1), (str(path), 2)])) == [1, 2]
    assert RulePack.load(path).name in ("w1", "w2")
    assert [p.name for p in tmp_path.iterdir()] == ["shared.json"]


def test_saving_onto_a_folder_is_a_pack_error_and_leaves_no_temp_file(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(PackError, match="is a folder"):
        _pack().save(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert list(folder.iterdir()) == []


def test_cli_mine_with_out_a_folder_gives_one_error_line_and_no_stray_tmp(tmp_path):
    data = tmp_path / "d.csv"
    pd.DataFrame({"x": list(range(40)), "y": [0, 1] * 20}).to_csv(data, index=False)
    (tmp_path / "out").mkdir()
    done = subprocess.run([sys.executable, "-m", "leanlearn.cli", "mine", str(data), "-t", "y", "--out",
                           str(tmp_path / "out"), "-q"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert not list(tmp_path.rglob("*.tmp"))


# -- a big, valid pack -------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_100k_rule_pack_loads_and_shows(tmp_path):
    pack = _pack(rules=RuleSet(tuple(_rule(i) for i in range(100_000))))
    path = pack.save(tmp_path / "big.json")
    assert len(RulePack.load(path).rules) == 100_000
    done = subprocess.run([sys.executable, "-m", "leanlearn.cli", "show", str(path), "--limit", "5"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "99,995 more" in done.stdout


# -- what reaches a terminal ---------------------------------------------------------------------------------------
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31m\r\x08\u202e"


def _hostile_text_pack() -> RulePack:
    from leanlearn.mining.rules import Review
    from leanlearn.packs.pack import Feature

    feature = f"torque{ESCAPES}"
    rule = Rule((Condition(feature, ">=", 60.0),), Condition("scrap", "==", 1), support=0.1, coverage=0.1,
                confidence=0.9, lift=4.5, leverage=0.08, conviction=8.0, n=10, hits=9, p_value=1e-4,
                p_value_raw=1e-5, ci=(0.6, 0.98), base_rate=0.2, id=f"R{ESCAPES}",
                review=Review("approved", f"eve{ESCAPES}", None, f"ok{ESCAPES}"))
    return RulePack(name=f"p{ESCAPES}", line=f"L{ESCAPES}", targets=(Target("scrap"),), rules=RuleSet((rule,)),
                    features=(Feature(feature, "float64"),), description=f"d{ESCAPES}",
                    derived=(("d", f"`{feature}` * 2"),))


def test_show_escapes_control_characters_from_every_pack_field(tmp_path):
    from typer.testing import CliRunner

    from leanlearn.cli import app

    path = _hostile_text_pack().save(tmp_path / "ansi.json")
    result = CliRunner().invoke(app, ["show", str(path)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output and "\u202e" not in result.output
    assert "\\x1b]0;pwned\\x07" in result.output


def test_apply_escapes_rule_text_in_its_tables(tmp_path):
    from typer.testing import CliRunner

    from leanlearn.cli import app

    pack = _hostile_text_pack()
    path = pack.save(tmp_path / "ansi.json")
    data = tmp_path / "d.parquet"
    pd.DataFrame({pack.features[0].name: [70.0, 50.0]}).to_parquet(data)
    result = CliRunner().invoke(app, ["apply", str(path), str(data)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output


def test_an_error_message_carrying_pack_text_is_escaped(tmp_path):
    from typer.testing import CliRunner

    from leanlearn.cli import app

    pack = _hostile_text_pack()
    path = pack.save(tmp_path / "ansi.json")
    data = tmp_path / "d.parquet"
    pd.DataFrame({pack.features[0].name: ["high", "low"]}).to_parquet(data)
    result = CliRunner().invoke(app, ["apply", str(path), str(data)])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "\x1b" not in result.output and "\\x1b" in result.output


def test_show_lists_the_first_rules_per_target_and_counts_the_rest(tmp_path):
    from typer.testing import CliRunner

    from leanlearn.cli import app

    path = _pack(rules=RuleSet(tuple(_rule(i) for i in range(120)))).save(tmp_path / "many.json")
    shown = CliRunner().invoke(app, ["show", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "70 more rule(s) for scrap" in shown.output and "R49:" in shown.output and "R50:" not in shown.output
    everything = CliRunner().invoke(app, ["show", str(path), "--limit", "0"])
    assert "R119:" in everything.output and "more rule(s)" not in everything.output


# -- rules meeting text where they need numbers, on the live path -------------------------------------------------
def _between_pack() -> RulePack:
    return _pack(rules=RuleSet((_rule(op="between", value=[1.0, 2.0]),)))


def test_a_between_rule_on_a_text_event_value_is_one_pack_error():
    from leanlearn.online.evaluate import CompiledPack

    with pytest.raises(PackError, match=r"column 'torque' is not numeric \(example value 'abc'\)"):
        CompiledPack(_between_pack()).evaluate_row({"torque": "abc", "scrap": 1})


def test_a_between_rule_on_a_text_column_in_a_batch_is_one_pack_error():
    from leanlearn.online.evaluate import CompiledPack

    frame = pd.DataFrame({"torque": pd.Series(["abc", 1.5], dtype=object), "scrap": [1, 0]})
    with pytest.raises(PackError, match="column 'torque' is not numeric"):
        CompiledPack(_between_pack()).evaluate_frame(frame)


def test_apply_summarises_a_large_pack_without_listing_every_rule(tmp_path):
    from typer.testing import CliRunner

    from leanlearn.cli import app

    path = _pack(rules=RuleSet(tuple(_rule(i, value=float(i)) for i in range(120)))).save(tmp_path / "many.json")
    data = tmp_path / "d.csv"
    pd.DataFrame({"torque": [10.5, 200.0]}).to_csv(data, index=False)
    result = CliRunner().invoke(app, ["apply", str(path), str(data)])
    assert result.exit_code == 0, result.output
    assert "70 more rule(s)" in result.output
    assert "R49" in result.output and "R50 " not in result.output
