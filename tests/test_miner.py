"""RuleMiner on synthetic data with planted rules and on the real AI4I 2020 data."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leanlearn.data.datasets import load_ai4i
from leanlearn.errors import SchemaError
from leanlearn.mining.expressions import evaluate_derived
from leanlearn.mining.features import Itemizer, mdlp_cuts, nice_cut
from leanlearn.mining.miner import RuleMiner

AI4I_DERIVED = {
    "temp_diff": "`Process temperature [K]` - `Air temperature [K]`",
    "power": "`Torque [Nm]` * `Rotational speed [rpm]` * 2 * pi / 60",
    "strain": "`Tool wear [min]` * `Torque [Nm]`",
}


def planted_line(seed: int = 0, rows: int = 5000) -> tuple[pd.DataFrame, pd.Series]:
    """Humidity ≥ 70 on press P3 raises scrap from 3 % to 60 %; speed is noise."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "humidity": rng.uniform(30, 90, rows).round(1),
            "speed": rng.normal(100, 10, rows).round(2),
            "press": rng.choice(["P1", "P2", "P3"], rows),
        }
    )
    risk = np.where((X["humidity"] >= 70) & (X["press"] == "P3"), 0.6, 0.03)
    return X, pd.Series(rng.random(rows) < risk, name="scrap")


def union_f1(miner: RuleMiner, X: pd.DataFrame, y: pd.Series, min_confidence: float = 0.8) -> float:
    frame = evaluate_derived(X, miner.derived_)
    predicted = np.zeros(len(X), dtype=bool)
    for rule in miner.rules_:
        if rule.confidence >= min_confidence:
            predicted |= rule.mask(frame)
    truth = y.to_numpy() == 1
    return 2 * (predicted & truth).sum() / (predicted.sum() + truth.sum())


def test_planted_rule_is_found_first_with_its_real_threshold():
    X, y = planted_line()
    rule = RuleMiner().fit(X, y).rules_[0]
    assert rule.text == "humidity >= 70 and press == P3 → scrap"
    assert 0.5 < rule.confidence < 0.7
    assert rule.ci[0] < rule.confidence < rule.ci[1]
    assert rule.p_value < 1e-20


def test_every_rule_carries_consistent_evidence():
    X, y = planted_line(1)
    miner = RuleMiner().fit(X, y)
    assert len(miner.rules_) >= 1
    for rule in miner.rules_:
        mask = rule.mask(X)
        assert rule.n == mask.sum()
        assert rule.hits == (mask & y.to_numpy()).sum()
        assert rule.confidence == pytest.approx(rule.hits / rule.n)
        assert rule.support == pytest.approx(rule.hits / len(X))
        assert rule.lift == pytest.approx(rule.confidence / y.mean())
        assert rule.p_value_raw <= rule.p_value <= 0.05


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_rule_on_pure_noise(seed):
    rng = np.random.default_rng(seed + 1000)  # independent of the features' generator
    X, _ = planted_line(seed)
    y = pd.Series(rng.random(len(X)) < 0.5, name="noise")
    assert len(RuleMiner().fit(X, y).rules_) == 0


@pytest.mark.parametrize("seed", [0, 1])
def test_no_rule_on_ai4i_with_permuted_hdf(seed):
    X, y = load_ai4i(target="HDF")
    permuted = pd.Series(np.random.default_rng(seed).permutation(y.to_numpy()), name="HDF")
    assert len(RuleMiner(derive=AI4I_DERIVED).fit(X, permuted).rules_) == 0


@pytest.mark.parametrize("target", ["HDF", "PWF", "OSF"])
def test_ai4i_failure_mechanisms_are_recovered_from_user_declared_features(target):
    X, y = load_ai4i(target=target)
    miner = RuleMiner(derive=AI4I_DERIVED).fit(X, y)
    assert union_f1(miner, X, y) >= 0.95


def test_ai4i_hdf_thresholds_sit_at_the_data_resolution():
    X, y = load_ai4i(target="HDF")
    best = RuleMiner(derive=AI4I_DERIVED).fit(X, y).rules_[0]
    # every threshold is a "round" number lying between two neighbouring observed values
    frame = evaluate_derived(X, AI4I_DERIVED)
    for cond in best.conditions:
        values = np.unique(frame[cond.feature])
        below, above = values[values < cond.value], values[values >= cond.value]
        assert below.size and above.size
        assert cond.value == nice_cut(below.max(), above.min())


def test_reference_engine_gives_the_same_rules():
    X, y = load_ai4i(target="PWF")
    fast = RuleMiner(derive=AI4I_DERIVED, engine="bitset").fit(X, y).rules_
    reference = RuleMiner(derive=AI4I_DERIVED, engine="mlxtend").fit(X, y).rules_
    assert [r.text for r in fast] == [r.text for r in reference]


def test_non_binary_target_is_refused_with_an_example_value():
    X, _ = planted_line()
    with pytest.raises(SchemaError, match=r"'speed' is not a binary waste outcome.*distinct values"):
        RuleMiner().fit(X.drop(columns="speed"), X["speed"].rename("speed"))


def test_missing_target_value_is_refused_with_its_row():
    X, y = planted_line()
    y = y.astype(float)
    y.iloc[7] = np.nan
    with pytest.raises(SchemaError, match="row 7"):
        RuleMiner().fit(X, y)


def test_estimator_contract_params_stored_unchanged_and_learned_state_after_fit():
    miner = RuleMiner(min_support=0.02, derive={"h2": "humidity * 2"})
    assert miner.min_support == 0.02 and miner.derive == {"h2": "humidity * 2"}
    assert not hasattr(miner, "rules_")
    X, y = planted_line()
    assert miner.fit(X, y) is miner
    assert miner.target_ == "scrap" and miner.n_rows_ == len(X) and "h2" in miner.features_
    assert miner.n_tests_ > len(miner.rules_)


def test_predict_flags_rows_where_a_rule_fires():
    X, y = planted_line()
    miner = RuleMiner(max_rules=1).fit(X, y)
    assert miner.predict(X).tolist() == miner.rules_[0].mask(X).astype(int).tolist()


@settings(max_examples=300, deadline=None)
@given(st.floats(-1e9, 1e9), st.floats(1e-6, 1e6))
def test_nice_cut_lies_in_the_gap(lo, gap):
    hi = lo + gap
    if not hi > lo:
        return
    c = nice_cut(lo, hi)
    assert lo < c <= hi


def test_mdlp_finds_a_step_and_nothing_in_noise():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 100, 4000).round(1)
    assert mdlp_cuts(x, x < 37.5) == [37.5]
    assert mdlp_cuts(x, rng.random(4000) < 0.3) == []


def test_itemizer_skips_identifier_like_text_columns():
    X = pd.DataFrame({"id": [f"u{i}" for i in range(100)], "x": np.arange(100.0)})
    itemizer = Itemizer(max_levels=30).fit(X, np.arange(100) > 50)
    assert "id" in itemizer.skipped_ and "x" in itemizer.cuts_


@pytest.mark.parametrize("target", ["HDF", "PWF"])
def test_raw_columns_alone_recover_the_mechanism_through_automatic_features(target):
    X, y = load_ai4i(target=target)
    miner = RuleMiner().fit(X, y)
    assert any(" * " in name or " - " in name for name in miner.derived_)
    assert union_f1(miner, X, y) >= 0.95


def test_automatic_features_stay_off_when_the_user_declares_features():
    X, y = load_ai4i(target="HDF")
    miner = RuleMiner(derive=AI4I_DERIVED).fit(X, y)
    assert miner.derived_ == AI4I_DERIVED


def test_holdout_mode_tests_each_rule_on_rows_it_never_saw():
    X, y = planted_line(3, rows=8000)
    miner = RuleMiner(correction="holdout", holdout_share=0.4).fit(X, y)
    rule = miner.rules_[0]
    assert rule.text == "humidity >= 70 and press == P3 → scrap"
    assert rule.holdout_n is not None and 0.3 * 8000 * 0.1 < rule.holdout_n < 0.4 * 8000 * 0.3
    assert rule.holdout_confidence == pytest.approx(0.6, abs=0.1)
    assert miner.n_tests_ >= len(miner.rules_)


def test_holdout_mode_keeps_the_family_wise_error_on_noise():
    X, _ = planted_line(4, rows=3000)
    runs_with_a_rule = 0
    for seed in range(20):
        y = pd.Series(np.random.default_rng(100 + seed).random(len(X)) < 0.2, name="noise")
        runs_with_a_rule += len(RuleMiner(correction="holdout", random_state=seed).fit(X, y).rules_) > 0
    assert runs_with_a_rule <= 2  # alpha = 0.05: about one run in 20 may report a false rule
