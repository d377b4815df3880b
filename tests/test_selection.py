"""Selection after significance: near-duplicates merged, and a covering step that keeps only rules adding
significant, precise rows (the rest is context)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from leanlearn.data.planted import make_planted
from leanlearn.mining.miner import RuleMinerCore
from leanlearn.mining.rules import Condition, Rule, Shift
from leanlearn.mining.selection import (
    Candidate,
    canonical_conditions,
    cover,
    cover_shift,
    jaccard,
    merge_near_duplicates,
)
from leanlearn.mining.settings import MiningSettingError, MiningSettings


def candidate(name: str, mask: np.ndarray, y: np.ndarray, p: float = 1e-9) -> Candidate:
    rule = Rule.from_counts([Condition(name, "==", 1)], "waste", hits=int((mask & y).sum()), n=int(mask.sum()),
                            positives=int(y.sum()), rows=len(y))
    return Candidate(rule, float(np.log(p)), mask, p)


def rows(n: int, *ranges: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for lo, hi in ranges:
        mask[lo:hi] = True
    return mask


def test_a_broad_rule_that_contains_a_sharp_one_is_context():
    y = rows(1000, (0, 60), (100, 112))
    sharp, broad = rows(1000, (0, 64)), rows(1000, (0, 64), (100, 300))
    kept, context = cover([candidate("broad", broad, y), candidate("sharp", sharp, y)], y, min_count=5, alpha=0.05,
                          precision_share=0.5)
    assert [c.rule.text for c in kept] == ["sharp == 1 → waste"]
    assert [c.rule.text for c, _ in context] == ["broad == 1 → waste"]
    assert "needs a confidence of at least" in context[0][1]


def test_a_second_mechanism_on_other_rows_is_a_finding():
    y = rows(2000, (0, 60), (500, 540))
    first, second = rows(2000, (0, 64)), rows(2000, (500, 560))
    kept, context = cover([candidate("a", first, y), candidate("b", second, y)], y, min_count=5, alpha=0.05,
                          precision_share=0.5)
    assert sorted(c.rule.text for c in kept) == ["a == 1 → waste", "b == 1 → waste"]
    assert context == []


def test_new_rows_at_the_base_rate_are_not_significant():
    rng = np.random.default_rng(0)
    y = rng.random(5000) < 0.05
    y[:100] = True
    sharp = rows(5000, (0, 100))
    broad = rows(5000, (0, 100), (1000, 1600))  # 600 more rows at the base rate
    kept, context = cover([candidate("sharp", sharp, y), candidate("broad", broad, y)], y, min_count=5,
                          alpha=0.05, precision_share=0.0)
    assert [c.rule.text for c in kept] == ["sharp == 1 → waste"]
    assert "not significantly more than the other rows" in context[0][1]


def test_too_few_new_hits_make_a_rule_context():
    y = rows(1000, (0, 50))
    a, b = rows(1000, (0, 50)), rows(1000, (3, 53))
    kept, context = cover([candidate("a", a, y), candidate("b", b, y)], y, min_count=5, alpha=0.05,
                          precision_share=0.5)
    assert len(kept) == 1 and "needs at least 5 hits" in context[0][1]


def test_near_duplicates_keep_the_more_significant_rule():
    y = rows(1000, (0, 50))
    a, b = rows(1000, (0, 60)), rows(1000, (0, 58))
    c = rows(1000, (0, 30))
    kept, dropped = merge_near_duplicates(
        [candidate("b", b, y, p=1e-8), candidate("a", a, y, p=1e-9), candidate("c", c, y, p=1e-7)], 0.9
    )
    assert [k.rule.text for k in kept] == ["a == 1 → waste", "c == 1 → waste"]
    assert [(d.rule.text, t.rule.text) for d, t in dropped] == [("b == 1 → waste", "a == 1 → waste")]
    assert jaccard(a, b) == pytest.approx(58 / 60)


def test_complementary_levels_of_a_two_level_column_are_one_statement():
    levels = {"shift": frozenset({"early", "late"}), "press": frozenset({"P1", "P2", "P3"})}
    assert canonical_conditions([Condition("shift", "!=", "late")], levels) == \
        canonical_conditions([Condition("shift", "==", "early")], levels)
    assert canonical_conditions([Condition("press", "!=", "P1")], levels) != \
        canonical_conditions([Condition("press", "==", "P2")], levels)
    y = rows(100, (0, 10))
    as_eq = Candidate(Rule.from_counts([Condition("shift", "==", "early")], "waste", hits=10, n=20, positives=10,
                                       rows=100), -20.0, rows(100, (0, 20)), 1e-6)
    as_ne = Candidate(Rule.from_counts([Condition("shift", "!=", "late")], "waste", hits=10, n=20, positives=10,
                                       rows=100), -20.0, rows(100, (0, 20)), 1e-6)
    kept, dropped = merge_near_duplicates([as_ne, as_eq], 1.0, levels)
    assert [k.rule.text for k in kept] == ["shift == early → waste"]  # stated with ==
    assert len(dropped) == 1 and y.sum() == 10


def test_miner_merges_a_near_copy_of_a_column():
    rng = np.random.default_rng(3)
    n = 6000
    press = rng.choice(["P1", "P2", "P3"], n)
    tool = np.where(press == "P3", "T9", rng.choice(["T1", "T2"], n))
    flip = rng.random(n) < 0.02
    tool[flip] = "T1"
    X = pd.DataFrame({"press": press, "tool": tool, "crew": rng.choice(["a", "b"], n)})
    y = pd.Series(rng.random(n) < np.where(press == "P3", 0.3, 0.03), name="scrap")
    miner = RuleMinerCore(auto_features=False).fit(X, y)
    texts = [r.text for r in miner.rules_]
    assert len(texts) == 1 and texts[0] in ("press == P3 → scrap", "tool == T9 → scrap")


def test_planted_mechanisms_are_the_only_findings_and_their_parts_are_context():
    X, y, planted = make_planted(40_000, seed=0)
    miner = RuleMinerCore(min_support=0.01).fit(X, y)
    found = {frozenset(c.feature for c in r.conditions) for r in miner.rules_}
    assert found == {frozenset(m.items) for m in planted}
    context = {frozenset(c.feature for c in r.conditions) for r in miner.context_rules_}
    assert frozenset({"i0", "i1"}) in context or frozenset({"i1"}) in context
    assert set(miner.context_reasons_) == {r.id for r in miner.context_rules_}
    assert all(r.id.startswith("waste-c") for r in miner.context_rules_)


def test_cover_precision_zero_keeps_more_rules_than_the_default():
    X, y, _ = make_planted(40_000, seed=0)
    strict = RuleMinerCore(min_support=0.01).fit(X, y)
    loose = RuleMinerCore(min_support=0.01, cover_precision=0.0, max_rules=30).fit(X, y)
    assert len(loose.rules_) >= len(strict.rules_)


def test_numeric_covering_keeps_separate_shifts_and_drops_an_explained_one():
    rng = np.random.default_rng(0)
    n = 3000
    values = rng.gamma(4, 10, n)
    a, b = rows(n, (0, 150)), rows(n, (1000, 1150))
    values[a] += 60
    values[b] += 40
    broad = rows(n, (0, 150), (2000, 2600))  # a's rows plus 600 ordinary ones

    def shifted(name: str, mask: np.ndarray, p: float) -> Candidate:
        rule = Rule.from_counts([Condition(name, "==", 1)], "setup", hits=int(mask.sum()), n=int(mask.sum()),
                                positives=n // 2, rows=n)
        delta = 2 * float((values[mask][:, None] > values[~mask][None, :]).mean()) - 1
        rule = replace(rule, shift=Shift(0.0, 0.0, 0.0, 0.0, delta))
        return Candidate(rule, float(np.log(p)), mask, p)

    def greater_p(x: np.ndarray, z: np.ndarray) -> tuple[float, float]:
        from scipy import stats

        res = stats.mannwhitneyu(x, z, alternative="greater")
        return float(res.pvalue), 2 * float(res.statistic) / (x.size * z.size) - 1

    kept, context = cover_shift([shifted("a", a, 1e-30), shifted("b", b, 1e-20), shifted("broad", broad, 1e-25)],
                                values, min_count=5, alpha=0.05, precision_share=0.5, greater_p=greater_p)
    assert [c.rule.conditions[0].feature for c in kept] == ["a", "b"]
    assert [c.rule.conditions[0].feature for c, _ in context] == ["broad"]
    assert "Cliff's delta" in context[0][1]


def test_selection_settings_are_validated():
    assert (MiningSettings().duplicate_overlap, MiningSettings().cover_precision) == (0.9, 0.5)
    with pytest.raises(MiningSettingError, match="duplicate_overlap"):
        MiningSettings(duplicate_overlap=0)
    with pytest.raises(MiningSettingError, match="cover_precision"):
        MiningSettings(cover_precision=1.5)


def test_a_pair_of_unknown_units_must_earn_its_place_by_a_wider_margin():
    from leanlearn.mining.autofeatures import pair_penalty, propose_features

    assert pair_penalty("mm", "s") == (0.0, 0.0)
    assert pair_penalty(None, "s")[0] < 0 < pair_penalty("mm", None)[1]
    rng = np.random.default_rng(0)
    x, z = rng.uniform(0, 100, 5000), rng.uniform(0.95, 1.05, 5000)
    y = rng.random(5000) < np.where(x * z > 80, 0.6, 0.02)  # z adds a little over x alone
    known = propose_features(pd.DataFrame({"x [mm]": x, "z [s]": z}), y)
    unknown = propose_features(pd.DataFrame({"x": x, "z": z}), y)
    assert list(known.features) == ["x [mm] * z [s]"]
    assert unknown.features == {}
    assert (known.candidates, unknown.candidates) == (3, 4)  # no mm - s; a difference of unknown units is screened


def test_a_finding_kept_early_is_dropped_when_findings_kept_later_explain_all_its_rows():
    from leanlearn.mining.rules import Condition, Rule
    from leanlearn.mining.selection import Candidate, cover

    idx = np.arange(1000)
    y = np.where(idx < 200, idx % 2 == 0, np.where(idx < 600, idx % 13 < 3, idx % 33 == 0))
    sharp = idx < 200                      # 50 %
    middle = (idx >= 150) & (idx < 350)    # ~30 %, every row inside sharp or broad
    broad = (idx >= 200) & (idx < 600)     # ~23 %

    def scored(name: str, mask: np.ndarray) -> Candidate:
        rule = Rule.from_counts([Condition(name, "==", 1)], "waste", hits=int((mask & y).sum()), n=int(mask.sum()),
                                positives=int(y.sum()), rows=1000)
        return Candidate(rule, -50.0, mask, 1e-9)

    kept, context = cover([scored("middle", middle), scored("broad", broad), scored("sharp", sharp)], y,
                          min_count=5, alpha=0.05, precision_share=0.5)
    assert [c.rule.text for c in kept] == ["sharp == 1 → waste", "broad == 1 → waste"]
    assert [(c.rule.text, why.split(";")[0]) for c, why in context] == [
        ("middle == 1 → waste", "adds 0 hits in 0 rows beyond the other findings")
    ]
