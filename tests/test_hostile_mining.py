"""Hostile inputs to the miner: each a defect probe or a guard (wide tables, leaks, float extremes, bad settings)."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leanlearn.cli import app
from leanlearn.errors import DataError, LeanlearnError, PackError, PipelineError
from leanlearn.mining.autofeatures import propose_features
from leanlearn.mining.engines import BitsetEngine, MlxtendEngine, TooManyItemsets
from leanlearn.mining.features import nice_cut
from leanlearn.mining.miner import RuleMiner, TargetError
from leanlearn.mining.rules import Condition, Rule
from leanlearn.mining.settings import MiningSettingError, MiningSettings
from leanlearn.mining.shift import ShiftMiner
from leanlearn.packs.build import mine_pack
from leanlearn.packs.pack import RulePack
from leanlearn.pipeline import load_pipeline

MODELS = Path(__file__).parents[1] / "models"


def planted(rows: int = 1500, seed: int = 0) -> pd.DataFrame:
    """``scrap`` is frequent when humidity >= 70; ``flag`` is a copy of ``scrap`` under another name."""
    rng = np.random.default_rng(seed)
    humidity = rng.uniform(30, 90, rows).round(1)
    scrap = (rng.random(rows) < np.where(humidity >= 70, 0.6, 0.04)).astype(int)
    return pd.DataFrame({"humidity": humidity, "speed": rng.normal(100, 10, rows).round(2), "scrap": scrap,
                         "rework": (rng.random(rows) < 0.1).astype(int), "flag": scrap})


def wide(rows: int, columns: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(rows, columns)), columns=[f"c{i}" for i in range(columns)])
    y = pd.Series((X["c3"] > 1.0).to_numpy() | (rng.random(rows) < 0.05), name="y")
    return X, y


# -- duplicate targets ----------------------------------------------------------------------------------------------
def test_a_target_named_twice_is_refused_by_mine_pack():
    with pytest.raises(DataError, match=r"target 'scrap' is named more than once"):
        mine_pack(planted(), ["scrap", "scrap"], ignore=["flag"])


def test_cli_mine_with_a_repeated_target_is_one_error_line(tmp_path):
    path = tmp_path / "runs.csv"
    planted().drop(columns="flag").to_csv(path, index=False)
    result = CliRunner().invoke(app, ["mine", str(path), "-t", "scrap", "-t", "scrap", "--quiet"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert lines[0].endswith("target 'scrap' is named more than once; name each target once")


def test_cli_mine_with_too_many_conditions_is_one_error_line_naming_the_setting(tmp_path):
    path = tmp_path / "runs.csv"
    planted().drop(columns="flag").to_csv(path, index=False)
    result = CliRunner().invoke(app, ["mine", str(path), "-t", "scrap", "--max-conditions", "9", "--quiet"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0] == "error: mining setting 'max_conditions' must be a whole number from 1 to 8, got 9"


# -- derived features that leak the target ------------------------------------------------------------------------
def test_derived_feature_reading_the_target_is_refused_naming_both():
    with pytest.raises(DataError, match=r"derived feature 'leak' .* reads the target 'scrap'"):
        mine_pack(planted(), ["scrap"], ignore=["flag"], derive={"leak": "scrap * 1"})


def test_derived_feature_reading_another_target_is_refused():
    with pytest.raises(DataError, match=r"derived feature 'r2' .* reads the target 'rework'"):
        mine_pack(planted(), ["scrap", "rework"], ignore=["flag"], derive={"r2": "rework + humidity"})


def test_derived_feature_equal_to_the_target_is_refused_without_a_100_percent_rule():
    with pytest.raises(DataError, match=r"derived feature 'copy' .* equals the target 'scrap' on every row"):
        mine_pack(planted().drop(columns="rework"), ["scrap"], ignore=["flag"], derive={"copy": "flag * 1"})


def test_derived_copy_of_a_numeric_target_is_refused():
    frame = planted().assign(minutes=lambda f: f["humidity"] * 2, spare=lambda f: f["humidity"] * 2)
    with pytest.raises(DataError, match=r"'twice' .* equals the target 'minutes'"):
        mine_pack(frame, ["minutes"], worse={"minutes": "higher"}, ignore=["flag", "scrap", "rework"],
                  derive={"twice": "spare + 0"})


def test_miner_refuses_a_declared_feature_that_reads_its_target_column():
    frame = planted()
    with pytest.raises(DataError, match=r"'leak' .* reads the target 'scrap'"):
        RuleMiner(derive={"leak": "scrap + 0"}).fit(frame.drop(columns="flag"), frame["scrap"])


# -- values near the float maximum ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("lo", "hi"), [(-1.7e308, 1.7e308), (1e308, 1.7e308), (-1.7e308, -1e308),
                                        (5.0, math.inf), (-math.inf, -5.0), (1.7e308, sys.float_info.max)])
def test_nice_cut_near_the_float_maximum_is_finite_and_in_the_gap(lo, hi):
    c = nice_cut(lo, hi)
    assert math.isfinite(c)
    assert lo < c <= min(hi, sys.float_info.max)


def test_mining_a_column_at_plus_and_minus_float_maximum_gives_finite_cuts():
    rng = np.random.default_rng(0)
    big = rng.choice([1.7e308, 1.0e308, -1.7e308, -1.0e308, 0.0], 800)  # raised OverflowError in the cut code
    X = pd.DataFrame({"big": big, "noise": rng.normal(size=800)})
    y = pd.Series((big > 0) & (rng.random(800) < 0.7) | (rng.random(800) < 0.03), name="y")
    miner = RuleMiner().fit(X, y)
    assert miner.rules_[0].text == "big >= 1e+308 → y"
    assert all(math.isfinite(c) for cuts in miner.itemizer_.cuts_.values() for c in cuts)


def test_numeric_outcome_near_the_float_maximum_has_finite_shift_evidence():
    rng = np.random.default_rng(1)
    pair = rng.choice(["A", "B"], 400)
    y = pd.Series(np.where(pair == "A", 1.7e308, 1.0e308) * rng.uniform(0.9, 1.0, 400), name="cost")
    rules = ShiftMiner().fit(pd.DataFrame({"pair": pair}), y).rules_
    assert rules and all(math.isfinite(r.shift.mean) and math.isfinite(r.shift.median) for r in rules)


def test_infinite_numeric_outcome_is_refused_with_its_row():
    y = pd.Series([1.0, 2.0, math.inf, 3.0] * 10, name="wait")
    with pytest.raises(TargetError, match=r"'wait' has an infinite value in row 2"):
        ShiftMiner().fit(pd.DataFrame({"x": np.arange(40.0)}), y)


# -- wide tables ----------------------------------------------------------------------------------------------------
def test_wide_table_search_stays_within_its_candidate_guard():
    X, y = wide(200, 400)  # unguarded, this search enumerated 5.4 million itemsets in 2.7 GB
    miner = RuleMiner(max_candidates=20_000, max_refine=20).fit(X, y)
    assert miner.rules_[0].text == "c3 >= 1 → y"
    assert miner.screened_, "the guard should have set columns aside"
    assert 0 < miner.n_candidates_ <= 20_000


def test_bounded_search_keeps_traced_memory_small():
    X, y = wide(120, 300, seed=1)
    tracemalloc.start()
    RuleMiner(max_candidates=5_000, max_refine=10, auto_features=False).fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 2**20, f"peak traced memory {peak / 2**20:.0f} MB"


def test_columns_set_aside_by_the_guard_still_count_as_tests():
    X, y = wide(200, 120)
    guarded = RuleMiner(max_candidates=5_000, auto_features=False, max_refine=10).fit(X, y)
    assert guarded.screened_
    assert guarded.n_tests_ > math.comb(240 - 2 * len(guarded.screened_), 2)


def test_a_single_column_beyond_the_guard_is_one_clear_error():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"batch": rng.choice([f"b{i}" for i in range(2000)], 4000)})
    y = pd.Series(rng.random(4000) < 0.5, name="scrap")
    # with a correction, no level of about 2 rows could ever be significant: the optimistic estimate prunes them
    # all, and there is nothing to report (and nothing to guard)
    assert not RuleMiner(max_candidates=1000, max_levels=3000, min_hits=1, min_support=0).fit(X, y).rules_
    with pytest.raises(DataError, match=r"column 'batch' alone gives more than max_candidates=1,000"):
        RuleMiner(max_candidates=1000, max_levels=3000, min_hits=1, min_support=0, correction="none",
                  alpha=1.0).fit(X, y)  # every level a candidate


def test_bitset_engine_stops_at_the_itemset_limit():
    items = np.ones((50, 300), dtype=bool)  # every itemset is frequent: C(300, 3) ≈ 4.5 million
    with pytest.raises(TooManyItemsets):
        BitsetEngine().mine(items, 1, 3, max_itemsets=10_000)


def test_engines_agree_below_the_itemset_limit():
    items = np.random.default_rng(0).random((60, 12)) < 0.5
    fast = sorted(BitsetEngine().mine(items, 3, 3, max_itemsets=10_000))
    assert fast == sorted(MlxtendEngine().mine(items, 3, 3, max_itemsets=10_000))


def test_automatic_features_pair_only_the_strongest_columns():
    X, y = wide(300, 200)
    proposal = propose_features(X, y.to_numpy(), max_columns=10)
    assert proposal.candidates == math.comb(10, 2) * 4


def test_automatic_features_keep_a_strong_column_beyond_the_first_25():
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(600, 30)), columns=[f"c{i}" for i in range(30)])
    y = (X["c26"] * X["c28"] > 1.0).to_numpy()
    assert "c26 * c28" in propose_features(X, y, max_columns=5).features


@pytest.mark.slow
def test_a_1000_by_2000_table_mines_within_2_gb(tmp_path):
    script = textwrap.dedent("""
        import resource, numpy as np, pandas as pd
        from leanlearn.mining.miner import RuleMiner
        rng = np.random.default_rng(0)
        X = pd.DataFrame(rng.normal(size=(1000, 2000)), columns=[f"c{i}" for i in range(2000)])
        y = pd.Series((X["c3"] > 1.0).to_numpy() | (rng.random(1000) < 0.05), name="y")
        rules = RuleMiner().fit(X, y).rules_
        print(rules[0].text, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert " ".join(out[:-1]) == "c3 >= 1 → y"
    assert int(out[-1]) * 1024 < 2 * 2**30, f"peak RSS {int(out[-1]) / 1024:.0f} MB"


# -- settings -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("values", "fragment"), [
    ({"min_hits": True}, "'min_hits' must be a whole number of at least 1, got True"),
    ({"alpha": float("nan")}, "'alpha' must be a number in (0, 1], got nan"),
    ({"min_support": "0.01"}, "'min_support' must be a number in [0, 1], got '0.01'"),
    ({"max_conditions": 50}, "'max_conditions' must be a whole number from 1 to 8, got 50"),
    ({"max_candidates": 10}, "'max_candidates' must be a whole number of at least 1000, got 10"),
    ({"refine": "yes"}, "'refine' must be true or false, got 'yes'"),
    ({"max_rules": 2.5}, "'max_rules' must be a whole number of at least 1, got 2.5"),
    ({"min_suport": 0.1}, "unknown mining setting 'min_suport'; did you mean 'min_support'?"),
])
def test_bad_setting_is_one_error_naming_it_and_what_is_allowed(values, fragment):
    with pytest.raises(MiningSettingError) as info:
        MiningSettings.from_json(values)
    assert fragment in str(info.value)
    assert isinstance(info.value, LeanlearnError)


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        MiningSettings().alpha = 0.5  # type: ignore[misc]


@pytest.mark.parametrize("path", sorted(MODELS.glob("*.json")), ids=lambda p: p.name)
def test_example_pack_mining_record_reads_back_as_settings(path):
    pack = RulePack.load(path)
    settings = MiningSettings.from_json(pack.mining, record=True)
    assert settings.max_levels == pack.mining["max_levels"] and settings.max_candidates == 1_000_000


def test_pack_records_its_settings_and_they_read_back():
    pack = mine_pack(planted(), ["scrap"], ignore=["flag", "rework"], max_conditions=1, min_hits=8)
    settings = MiningSettings.from_json(pack.mining, record=True)
    assert (settings.max_conditions, settings.min_hits, settings.auto_features) == (1, 8, True)


def test_revision_re_mines_with_the_pack_settings():
    from leanlearn.online.revision import revise_pack

    frame = planted()
    pack = mine_pack(frame, ["scrap"], ignore=["flag", "rework", "speed"], max_conditions=1, min_hits=9)
    revision = revise_pack(pack, planted(seed=3))
    assert revision.candidate.mining["max_conditions"] == 1 and revision.candidate.mining["min_hits"] == 9
    assert all(len(r.conditions) == 1 for r in revision.candidate.rules)


def test_revision_refuses_a_pack_whose_mining_record_has_a_bad_setting():
    from dataclasses import replace

    from leanlearn.online.revision import revise_pack

    pack = mine_pack(planted(), ["scrap"], ignore=["flag", "rework", "speed"])
    broken = replace(pack, mining={**pack.mining, "max_conditions": "3"})
    with pytest.raises(PackError, match=r"mining record is invalid: mining setting 'max_conditions'"):
        revise_pack(broken, planted(seed=3))


@pytest.mark.parametrize(("mining", "fragment"), [
    ("{alpha: '0.05'}", "key 'mining.alpha': must be a number in (0, 1], got '0.05'"),
    ("{max_conditions: 2.0}", "key 'mining.max_conditions': must be a whole number from 1 to 8, got 2.0"),
    ("{refine: 1}", "key 'mining.refine': must be true or false, got 1"),
    ("{max_candidates: 5}", "key 'mining.max_candidates': must be a whole number of at least 1000, got 5"),
])
def test_pipeline_mining_value_of_the_wrong_type_is_one_error_naming_the_key(tmp_path, mining, fragment):
    path = tmp_path / "p.yaml"
    path.write_text(f"name: p\nline: l\nsource: {{dataset: ai4i2020}}\ntargets: [HDF]\nmining: {mining}\n",
                    encoding="utf-8")
    with pytest.raises(PipelineError) as info:
        load_pipeline(path)
    assert fragment in str(info.value)


# -- Rule.from_counts and targets ----------------------------------------------------------------------------------
def test_rule_from_impossible_counts_is_refused():
    with pytest.raises(PackError, match="hits <= n"):
        Rule.from_counts([Condition("x", "<", 1.0)], "y", hits=12, n=10, positives=20, rows=100)


def test_rule_from_counts_matches_the_miners_evidence():
    frame = planted()
    miner = RuleMiner(max_rules=1).fit(frame[["humidity", "speed"]], frame["scrap"])
    mined = miner.rules_[0]
    rebuilt = Rule.from_counts(mined.conditions, "scrap", hits=mined.hits, n=mined.n,
                               positives=int(frame["scrap"].sum()), rows=len(frame), p_value=mined.p_value,
                               id=mined.id)
    assert rebuilt == mined


def test_integer_and_mixed_column_names_are_mined_as_text():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({0: rng.normal(size=400), "a": rng.normal(size=400)})  # raised TypeError / KeyError
    miner = RuleMiner().fit(X, pd.Series(X[0] > 1, name="y"))
    assert miner.rules_[0].text == "0 >= 1 → y"
    assert miner.predict(X).sum() == miner.rules_[0].n


def test_duplicate_column_names_are_refused_naming_the_column():
    X = pd.DataFrame(np.zeros((20, 2)), columns=["x", "x"])
    with pytest.raises(DataError, match="two columns named 'x'"):
        RuleMiner().fit(X, pd.Series(np.arange(20) % 2))


def test_nullable_integer_column_with_missing_values_is_mined():
    rng = np.random.default_rng(4)
    level = rng.choice([1, 2, 3, 4], 1200).astype(object)
    level[rng.random(1200) < 0.1] = None  # pd.NA in an Int64 column: raised "boolean value of NA is ambiguous"
    X = pd.DataFrame({"level": pd.array(level, dtype="Int64")})
    y = pd.Series((X["level"].fillna(0).to_numpy() >= 3) & (rng.random(1200) < 0.6), name="y")
    assert RuleMiner().fit(X, y).rules_[0].text == "level >= 3 → y"


def test_condition_on_a_nullable_column_never_fires_on_missing():
    values = pd.Series(pd.array([1, None, 5], dtype="Int64"))
    assert Condition("x", ">=", 2).mask_values(values).tolist() == [False, False, True]
    assert Condition("x", "!=", 1).mask_values(values).tolist() == [False, False, True]


@pytest.mark.parametrize(("column", "reason"), [
    (pd.to_timedelta(np.arange(300) % 7, unit="h"), "durations"),
    (pd.Series(np.arange(300) % 7 + 1j), "complex numbers"),
])
def test_columns_without_a_threshold_are_skipped_with_the_reason(column, reason):
    X = pd.DataFrame({"odd": column, "x": np.arange(300.0)})
    miner = RuleMiner().fit(X, pd.Series(np.arange(300) >= 250, name="y"))
    assert reason in miner.itemizer_.skipped_["odd"]
    assert miner.rules_[0].text == "x >= 250 → y"


def test_two_column_target_array_is_refused():
    with pytest.raises(TargetError, match="one column"):
        RuleMiner().fit(np.zeros((10, 2)), np.zeros((10, 2)))


def test_text_labels_are_refused_naming_the_fix():
    X = pd.DataFrame({"x": np.arange(40.0)})
    with pytest.raises(TargetError, match="must be 0/1 or true/false"):
        RuleMiner().fit(X, pd.Series(["ok", "scrap"] * 20, name="state"))


def test_empty_array_input_is_refused_as_value_error():
    with pytest.raises(ValueError, match="0 sample"):
        RuleMiner().fit(np.zeros((0, 3)), np.zeros(0))
