"""Revision: diffs between packs, the recent-rows buffer, and the online rule learners' candidate rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leanlearn.errors import DataError
from leanlearn.mining.rules import Condition, Rule, RuleSet
from leanlearn.online.revision import OnlineRuleLearner, RecentRows, diff_packs, revise_pack
from leanlearn.packs.build import mine_pack
from leanlearn.packs.pack import RulePack, Target


def _rule(rid, conditions, target="scrap", confidence=0.9):
    return Rule(tuple(conditions), Condition(target, "==", 1), support=0.05, coverage=0.1, confidence=confidence,
                lift=3.0, leverage=0.03, conviction=None, n=100, hits=int(100 * confidence), p_value=1e-6,
                p_value_raw=1e-7, ci=(0.8, 0.95), base_rate=0.3, id=rid)


def _pack(*rules):
    return RulePack(name="p", line="L", targets=(Target("scrap"),), rules=RuleSet(rules))


def test_diff_labels_kept_threshold_changed_dropped_and_new():
    old = _pack(_rule("A", [Condition("temp", ">=", 68.0)]),
                _rule("B", [Condition("speed", "<", 90.0), Condition("crew", "==", "night")]),
                _rule("C", [Condition("humidity", ">", 70.0)]))
    new = _pack(_rule("X", [Condition("crew", "==", "night"), Condition("speed", "<", 90.0)]),
                _rule("Y", [Condition("temp", ">=", 65.0)]),
                _rule("Z", [Condition("pressure", "<=", 2.0)]))
    diff = diff_packs(old, new)
    assert diff[["change", "old_id", "new_id"]].values.tolist() == [
        ["threshold changed", "A", "Y"], ["kept", "B", "X"], ["dropped", "C", None], ["new", None, "Z"]]


def test_diff_pairs_each_rule_with_the_closest_look_alike():
    old = _pack(_rule("A", [Condition("temp", ">=", 68.0)]), _rule("B", [Condition("temp", ">=", 80.0)]))
    new = _pack(_rule("X", [Condition("temp", ">=", 79.0)]), _rule("Y", [Condition("temp", ">=", 67.0)]))
    assert diff_packs(old, new)[["old_id", "new_id"]].values.tolist() == [["A", "Y"], ["B", "X"]]


def test_recent_rows_keep_the_last_events_with_their_stream_indices():
    recent = RecentRows(5)
    for start in range(0, 12, 4):
        recent.extend(pd.DataFrame({"i": range(start, start + 4)}), first_event=start)
    assert len(recent) == 5 and recent.first_event == 7
    assert recent.since(9)["i"].tolist() == [9, 10, 11]
    assert recent.since(0)["i"].tolist() == [7, 8, 9, 10, 11]


def test_revise_refuses_rules_and_columns_it_does_not_know():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"temp": rng.normal(60, 5, 3000)})
    frame["scrap"] = (frame.temp > 66).astype(int)
    pack = mine_pack(frame, ["scrap"], line="L1")
    with pytest.raises(DataError, match="not in pack"):
        revise_pack(pack, frame, drifted=["nope"])
    with pytest.raises(DataError, match="none of pack"):
        revise_pack(pack, frame.rename(columns={"temp": "t"}))


def test_hoeffding_tree_paths_become_candidate_rules_with_evidence():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"temp": rng.normal(60, 5, 8000), "speed": rng.normal(100, 10, 8000)})
    frame["scrap"] = ((frame.temp > 64) & (frame.speed < 95)).astype(int)
    learner = OnlineRuleLearner("scrap", model_params={"seed": 0}).learn_many(frame)
    candidates = learner.candidate_rules(frame, min_confidence=0.6)
    assert len(candidates) >= 1
    best = candidates[0]
    features = {c.feature for c in best.conditions}
    assert features == {"temp", "speed"} and best.confidence >= 0.6 and best.lift > 3
    assert best.n == int(best.mask(frame).sum())  # evidence measured on the frame
    assert best.id == "scrap-online-001" and best.p_value == best.p_value_raw


def test_amrules_for_a_numeric_outcome_give_rules_with_a_shift():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"pair": rng.random(6000), "crew": rng.random(6000)})
    frame["setup_min"] = rng.gamma(4, 10, 6000) + np.where(frame.pair < 0.3, 60.0, 0.0)
    learner = OnlineRuleLearner("setup_min", kind="numeric", worse="higher").learn_many(frame)
    candidates = learner.candidate_rules(frame)
    assert candidates, "AMRules learned no rule"
    best = candidates[0]
    assert [c.feature for c in best.conditions] == ["pair"] and best.shift is not None
    assert best.shift.mean > best.shift.mean_overall + 20
