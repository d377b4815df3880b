"""Selection reads each item's rows from the packed matrix: those bits are exactly ``Condition.mask`` of the item,
for every kind of column the itemizer cuts (flags, nullable flags, numbers with gaps, categories, text)."""

import numpy as np
import pandas as pd
import pytest

from leanlearn.mining.features import Itemizer
from leanlearn.mining.miner import RuleMinerCore, _ConditionRows


def _table(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    temp = rng.normal(60, 10, rows)
    temp[::11] = np.nan
    X = pd.DataFrame({
        "valve": rng.random(rows) < 0.8,
        "checked": pd.array(rng.choice([True, False, None], rows), dtype="boolean"),
        "temp": temp,
        "count": rng.integers(0, 6, rows),
        "press": pd.Categorical(rng.choice(["P1", "P2", "P3"], rows)),
        "shift": rng.choice(["early", "late", None], rows),
    })
    y = (rng.random(rows) < np.where((temp > 65) & X["valve"], 0.5, 0.1)).astype(bool)
    return X, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_item_bits_are_the_condition_masks(seed):
    X, y = _table(3000, seed)
    itemizer = Itemizer().fit(X, y)
    packed = itemizer.transform_packed(X)
    from_items = _ConditionRows(X, y, itemizer.items_, packed)
    from_frame = _ConditionRows(X, y)
    for item in itemizer.items_:
        assert np.array_equal(from_items.mask(from_items[item]), item.mask(X)), item.text
        assert np.array_equal(from_items[item], from_frame[item]), item.text


def test_rows_counts_match_boolean_masks():
    X, y = _table(2000, 3)
    rows = _ConditionRows(X, y)
    miner = RuleMinerCore(min_support=0.02).fit(X, pd.Series(y, name="scrap"))
    for rule in list(miner.rules_) + list(miner.context_rules_):
        mask = np.logical_and.reduce([c.mask(X) for c in rule.conditions])
        bits = rows.of(rule.conditions)
        assert (rows.count(bits), rows.hits(bits)) == (int(mask.sum()), int((mask & y).sum())) == (rule.n, rule.hits)
