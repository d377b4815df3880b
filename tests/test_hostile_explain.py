"""Hostile input to explain: each ends in one clear LeanlearnError (or a flagged rule), never a traceback."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import leanlearn as ll
from leanlearn.cli import app
from leanlearn.errors import DataError, PackError
from leanlearn.explain import ExplainSettingError, ExplainSettings
from leanlearn.explain.report import report_html
from leanlearn.mining.rules import Condition, Rule, RuleSet
from leanlearn.packs.pack import RulePack, Target

FAST = ExplainSettings(folds=3, n_estimators=20)


def _frame(n: int = 600, feature: str = "load") -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({feature: rng.uniform(0, 1, n), "speed": rng.normal(0, 1, n)})
    frame["scrap"] = (frame[feature] >= 0.8).astype(int)
    return frame


def _pack(feature: str = "load", rules: bool = True) -> RulePack:
    rule = Rule.from_counts([Condition(feature, ">=", 0.8)], "scrap", hits=100, n=110, positives=120, rows=600,
                            id="scrap-001")
    return RulePack(name="p", line="L1", targets=(Target("scrap"),), rules=RuleSet((rule,) if rules else ()))


def test_empty_data_is_one_data_error() -> None:
    with pytest.raises(DataError, match="no rows"):
        ll.explain(_pack(), _frame().iloc[:0], FAST)


def test_data_without_the_target_column_names_the_target() -> None:
    with pytest.raises(DataError, match="no column for target.*'scrap'"):
        ll.explain(_pack(), _frame().drop(columns="scrap"), FAST)


def test_pack_whose_feature_the_data_lacks_names_the_feature() -> None:
    with pytest.raises(DataError, match="lacks feature.*'load'"):
        ll.explain(_pack(), _frame().rename(columns={"load": "weight"}), FAST)


def test_a_list_instead_of_a_frame_is_one_data_error() -> None:
    with pytest.raises(DataError, match="needs a DataFrame"):
        ll.explain(_pack(), [[1, 2]], FAST)  # type: ignore[arg-type]


def test_a_pack_without_rules_is_one_pack_error() -> None:
    with pytest.raises(PackError, match="no rules to explain"):
        ll.explain(_pack(rules=False), _frame(), FAST)


@pytest.mark.parametrize(("name", "value"), [("folds", 1), ("min_shap_share", 1.5), ("max_shap_rows", "all")])
def test_an_out_of_range_setting_names_itself(name: str, value: object) -> None:
    with pytest.raises(ExplainSettingError, match=name):
        ExplainSettings(**{name: value})  # type: ignore[arg-type]


def test_data_where_the_outcome_never_occurs_flags_the_rule_instead_of_crashing() -> None:
    frame = _frame()
    frame["scrap"] = 0
    result = ll.explain(_pack(), frame, FAST)
    assert not result.rules.loc[0, "corroborated"] and "could not be cross-validated" in result.rules.loc[0, "reason"]


def test_markup_in_a_feature_name_stays_text_in_the_report() -> None:
    name = "<img src='https://evil.example/x.png'>"
    frame = _frame(feature=name)
    result = ll.explain(_pack(feature=name), frame, FAST)
    text = report_html(result, _pack(feature=name))
    assert not re.search(r"""(src|href)=["']https?:""", text) and "<img src='https" not in text


def test_cli_with_data_lacking_a_feature_prints_one_error_line(tmp_path: Path) -> None:
    pack_file = _pack().save(tmp_path / "p.json")
    data = tmp_path / "d.csv"
    _frame().rename(columns={"load": "weight"}).to_csv(data, index=False)
    result = CliRunner().invoke(app, ["explain", str(pack_file), str(data), "--quiet"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {data}: ") and "'load'" in lines[0]
