"""Layered critical values: α spent by rule length, the per-layer counts, and the power they buy."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from leanlearn.mining.layers import (
    adjust_flat,
    combinations_by_layer,
    critical_value,
    itemsets_by_layer,
    layer_shares,
    layered_adjust,
    weighted_length,
)
from leanlearn.mining.miner import RuleMinerCore
from leanlearn.mining.settings import MiningSettingError, MiningSettings


@pytest.mark.parametrize("allocation", ["halving", "equal"])
@pytest.mark.parametrize("layers", [1, 2, 3, 4, 8])
def test_layer_shares_spend_exactly_alpha_and_favour_short_rules(allocation, layers):
    shares = layer_shares(layers, allocation)
    assert sorted(shares) == list(range(1, layers + 1))
    assert sum(shares.values()) == pytest.approx(1.0)
    values = [shares[k] for k in sorted(shares)]
    assert values == sorted(values, reverse=True)


@pytest.mark.parametrize("method", ["holm", "bh"])
@pytest.mark.parametrize("allocation", ["halving", "equal"])
def test_layered_error_rate_stays_below_alpha_on_null_p_values(method, allocation):
    # three layers of 20, 200 and 2,000 true null hypotheses: the chance of any rejection is at most alpha
    rng = np.random.default_rng(0)
    sizes = {1: 20, 2: 200, 3: 2000}
    lengths = np.concatenate([np.full(n, k) for k, n in sizes.items()])
    runs, rejected = 2000, 0
    for _ in range(runs):
        p = rng.random(lengths.size)
        rejected += bool((layered_adjust(p, lengths, sizes, max_length=3, method=method,
                                         allocation=allocation) <= 0.05).any())
    assert rejected / runs <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / runs)


def test_a_one_condition_finding_is_judged_against_its_own_layer():
    tests = {1: 75, 2: 1730, 3: 2365}
    p = np.array([3e-4])
    assert float(adjust_flat(p, sum(tests.values()), "holm")[0]) > 0.05  # drowned by 4,170 hypotheses
    layered = float(layered_adjust(p, [1], tests, max_length=3, method="holm")[0])
    assert layered == pytest.approx(3e-4 * 75 / layer_shares(3)[1])
    assert layered <= 0.05
    assert critical_value(0.05, 1, 75, 3) == pytest.approx(0.05 * 4 / 7 / 75)


def test_a_layer_counts_at_least_the_rules_given_for_it():
    out = layered_adjust(np.array([0.001, 0.002]), [2, 2], {}, max_length=2, method="holm", allocation="equal")
    assert out.tolist() == pytest.approx([0.004, 0.004])


def test_lengths_outside_the_layers_are_refused():
    with pytest.raises(ValueError, match="rule length outside 1..3"):
        layered_adjust(np.array([0.01]), [4], {1: 3}, max_length=3, method="holm")
    with pytest.raises(ValueError, match="rule length outside"):
        layered_adjust(np.array([0.01]), [1], {5: 3}, max_length=3, method="holm")
    with pytest.raises(ValueError, match="unknown correction"):
        layered_adjust(np.array([0.01]), [1], {1: 3}, max_length=3, method="bonferroni")


def test_weighted_length_counts_columns_once_and_pair_features_twice():
    assert weighted_length(["t", "t", "m"], {}, cap=3) == 2  # an interval on t is one condition
    assert weighted_length(["a * b"], {"a * b": 2}, cap=3) == 2
    assert weighted_length(["a * b", "c / d", "x"], {"a * b": 2, "c / d": 2}, cap=4) == 4  # capped


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_combinations_by_layer_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    columns = {f"c{i}": int(rng.integers(1, 4)) for i in range(5)}
    weights = {"c1": 2, "c3": 2}
    for max_conditions in (1, 2, 3):
        cap = max_conditions + 1
        expected: dict[int, int] = {}
        for k in range(1, max_conditions + 1):
            for chosen in itertools.combinations(columns, k):
                layer = weighted_length(chosen, weights, cap)
                expected[layer] = expected.get(layer, 0) + int(np.prod([columns[c] for c in chosen]))
        assert combinations_by_layer(columns, weights, max_conditions, cap) == expected


def planted(rows: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Six 4-level columns; scrap 7 % at press C, else 4 %."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"c{i}": rng.choice(["A", "B", "C", "D"], rows) for i in range(6)})
    X = X.rename(columns={"c0": "press"})
    return X, pd.Series(rng.random(rows) < np.where(X.press == "C", 0.07, 0.04), name="scrap")


def test_miner_counts_every_hypothesis_in_a_layer():
    X, y = planted()
    X["humidity"] = np.random.default_rng(1).uniform(30, 90, len(X)).round(1)
    miner = RuleMinerCore(auto_features=False).fit(X, y)
    assert sum(miner.n_tests_by_length_.values()) == miner.n_tests_
    assert set(miner.n_tests_by_length_) <= set(range(1, miner.n_layers_ + 1))
    assert miner.n_layers_ == miner.max_conditions == 4


def test_layered_default_finds_a_modest_single_condition_effect_one_correction_misses():
    # raw p of press == C is 3e-4 (seed 10): 24 one-condition hypotheses vs about 360 in all
    X, y = planted(seed=10)
    layered = RuleMinerCore(auto_features=False).fit(X, y)
    flat = RuleMinerCore(auto_features=False, layered=False).fit(X, y)
    assert [r.text for r in layered.rules_] == ["press == C → scrap"]
    rule = layered.rules_[0]
    share = layer_shares(layered.n_layers_)[1]
    assert rule.p_value == pytest.approx(rule.p_value_raw * layered.n_tests_by_length_[1] / share)
    assert rule.p_value <= 0.05
    assert list(flat.rules_) == []
    assert rule.p_value_raw * flat.n_tests_ > 0.05


def test_rules_on_automatic_pair_features_are_judged_with_two_condition_rules():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"torque [Nm]": rng.uniform(10, 70, 3000), "speed [rpm]": rng.uniform(1200, 2800, 3000)})
    y = pd.Series(X["torque [Nm]"] * X["speed [rpm]"] > 120_000, name="overload")
    miner = RuleMinerCore().fit(X, y)
    assert miner.layer_weights_ == {"torque [Nm] * speed [rpm]": 2}
    assert miner.n_layers_ == miner.max_conditions + 1
    assert miner.n_tests_by_length_[2] > miner.n_tests_by_length_.get(1, 0)  # the pair screening sits in layer 2
    assert miner.rules_[0].conditions[0].feature == "torque [Nm] * speed [rpm]"


def test_layered_setting_is_validated_and_round_trips():
    assert MiningSettings().layered is True
    assert MiningSettings.from_json(MiningSettings(layered=False).to_json()).layered is False
    with pytest.raises(MiningSettingError, match="'layered' must be true or false"):
        MiningSettings(layered="yes")  # type: ignore[arg-type]


def test_4tu_setups_report_the_simple_findings_a_flat_correction_drowns():
    # the simple SMED targets: each one condition, raw Mann–Whitney p 7e-6 .. 4e-4 among 75 one-condition
    # hypotheses, drowned by one Holm correction over the ~5,000 hypotheses of all lengths
    from leanlearn.data.datasets import load_production_4tu
    from leanlearn.lean.tables import setup_table
    from leanlearn.mining.shift import ShiftMinerCore

    table = setup_table(load_production_4tu(events=True))
    X, y = table.drop(columns=["setup_min", "order_id"]), table["setup_min"]
    layered = ShiftMinerCore(worse="higher", max_levels=200, auto_features=True).fit(X, y)
    texts = {r.text for r in layered.rules_}
    for finding in ("worker == ID4167", "station == Machine 5 - Turning & Milling", "worker == ID4794"):
        assert f"{finding} → setup_min ↑" in texts
    assert all(len(r.conditions) == 1 for r in layered.rules_)
    flat = ShiftMinerCore(worse="higher", max_levels=200, auto_features=True, layered=False).fit(X, y)
    assert len(flat.rules_) < len(layered.rules_)


def test_binary_hypothesis_count_does_not_depend_on_the_outcome():
    # every condition set on min_rows rows counts, whatever the outcome: the same count for it and its permutations
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.choice(list("pqrs"), 2000), "b": rng.choice(list("xyz"), 2000),
                      "c": rng.choice(list("uv"), 2000)})
    y = ((X["a"] == "p") & (rng.random(2000) < 0.5)) | (rng.random(2000) < 0.05)
    fits = [RuleMinerCore(target="scrap").fit(X, pd.Series(v, name="scrap"))
            for v in (y.to_numpy(), *(np.random.default_rng(s).permutation(y.to_numpy()) for s in range(3)))]
    assert len({tuple(sorted(m.n_tests_by_length_.items())) for m in fits}) == 1
    assert fits[0].rules_[0].text == "a == p → scrap"


def test_itemsets_by_layer_counts_what_weighted_length_says_for_each_itemset():
    rng = np.random.default_rng(5)
    columns = ["a", "a", "a", "b", "c", "c", "a * b", "d / e"]  # intervals on a and c; two automatic features
    weights = {"a * b": 2, "d / e": 2}
    for cap in (1, 2, 3, 4):
        itemsets = [tuple(sorted(rng.choice(len(columns), size=int(rng.integers(0, 5)), replace=False).tolist()))
                    for _ in range(500)]
        expected: dict[int, int] = {}
        for s in itemsets:
            layer = weighted_length([columns[i] for i in s], weights, cap)
            expected[layer] = expected.get(layer, 0) + 1
        assert itemsets_by_layer(itemsets, columns, weights, cap) == dict(sorted(expected.items()))
    assert itemsets_by_layer([], columns, weights, 3) == {}
