"""Itemset engines agree with the mlxtend reference; coverage agrees with a dense count."""

from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from leanlearn.mining import engines
from leanlearn.mining.bitsets import ItemConstraints, PackedItems
from leanlearn.mining.engines import (
    BitsetEngine,
    MlxtendEngine,
    TooManyItemsets,
    get_engine,
    length_thresholds,
    prefix_coverage,
)
from leanlearn.mining.rules import Condition


@contextmanager
def numpy_words(small_words: int):
    """Run the engine on numpy words (0) or on Python integers (a large bound)."""
    saved = engines.SMALL_WORDS
    engines.SMALL_WORDS = small_words
    try:
        yield
    finally:
        engines.SMALL_WORDS = saved


BOTH_PATHS = (0, 10**9)


def _dense_count(items: np.ndarray, itemset: tuple[int, ...]) -> int:
    return int(np.logical_and.reduce([items[:, i] for i in itemset], initial=True, axis=0).sum()) if itemset else len(
        items
    )


@st.composite
def constrained_tables(draw):
    """A random table with items on a few columns: numeric bounds (<, >=) and categorical levels."""
    n_rows = draw(st.integers(1, 40))
    conditions = []
    n_columns = draw(st.integers(1, 3))
    for c in range(n_columns):
        if draw(st.booleans()):
            cuts = sorted(draw(st.sets(st.integers(0, 9), min_size=1, max_size=2)))
            for cut in cuts:
                conditions += [Condition(f"x{c}", "<", float(cut)), Condition(f"x{c}", ">=", float(cut))]
        else:
            levels = draw(st.integers(1, 3))
            conditions += [Condition(f"x{c}", "==", f"l{k}") for k in range(levels)]
    items = draw(arrays(bool, (n_rows, len(conditions))))
    return items, ItemConstraints.from_conditions(conditions)


@settings(max_examples=60, deadline=None)
@given(
    items=arrays(bool, st.tuples(st.integers(1, 70), st.integers(1, 9))),
    min_count=st.integers(1, 8),
    max_len=st.integers(1, 4),
)
def test_bitset_engine_returns_the_reference_itemsets(items, min_count, max_len):
    reference = sorted(MlxtendEngine().mine(items, min_count, max_len))
    outputs = []
    for path in BOTH_PATHS:
        with numpy_words(path):
            outputs.append(BitsetEngine().mine(items, min_count, max_len))
    assert sorted(outputs[0]) == reference
    assert outputs[0] == outputs[1]  # same itemsets in the same order on numpy words and on Python integers


@settings(max_examples=60, deadline=None)
@given(
    table=constrained_tables(),
    min_counts=st.lists(st.integers(2, 6), min_size=1, max_size=4),
    max_len=st.integers(1, 3),
)
def test_constrained_search_is_the_filtered_reference(table, min_counts, max_len):
    items, constraints = table
    outputs = []
    for path in BOTH_PATHS:
        with numpy_words(path):
            outputs.append(BitsetEngine().mine(PackedItems.from_bool(items), min_counts, max_len,
                                               constraints=constraints))
    assert outputs[0] == outputs[1]
    fast = sorted(outputs[0])
    # the reference: fpgrowth at the first length's count (in items: an interval is two), filtered
    thresholds = length_thresholds(min_counts, max_len)
    everything = MlxtendEngine().mine(items, thresholds[0], 2 * max_len)
    expected = sorted(
        (s, c) for s, c in everything
        if constraints.allows(s) and constraints.length(s) <= max_len and c >= thresholds[constraints.length(s) - 1]
    )
    assert fast == expected
    assert sorted(MlxtendEngine().mine(items, min_counts, max_len, constraints=constraints)) == expected


@settings(max_examples=60, deadline=None)
@given(
    items=arrays(bool, st.tuples(st.integers(1, 200), st.integers(1, 8))),
    picks=st.lists(st.lists(st.integers(0, 7), min_size=0, max_size=4), min_size=0, max_size=30),
)
def test_coverage_equals_a_dense_count(items, picks):
    n_items = items.shape[1]
    itemsets = [tuple(sorted({i % n_items for i in p})) for p in picks]
    expected = [_dense_count(items, s) for s in itemsets]
    for path in BOTH_PATHS:
        with numpy_words(path):
            got = BitsetEngine().coverage(PackedItems.from_bool(items), itemsets)
            assert got.dtype == np.int64
            assert got.tolist() == expected
            assert prefix_coverage(PackedItems.from_bool(items), itemsets).tolist() == expected


@pytest.mark.parametrize("path", BOTH_PATHS)
def test_coverage_of_the_mined_itemsets_over_all_rows(path):
    rng = np.random.default_rng(1)
    items = rng.random((3000, 12)) < 0.4
    outcome = rng.random(3000) < 0.3
    packed = PackedItems.from_bool(items)
    with numpy_words(path):
        found = BitsetEngine().mine(packed.rows(outcome), 20, 3)
        covered = BitsetEngine().coverage(packed, [s for s, _ in found])
    assert found
    assert covered.tolist() == [_dense_count(items, s) for s, _ in found]
    assert [c for _, c in found] == [_dense_count(items[outcome], s) for s, _ in found]


def test_per_length_counts_prune_longer_itemsets():
    items = np.ones((10, 3), dtype=bool)
    items[:4, 2] = False
    found = dict(BitsetEngine().mine(items, [1, 8, 1], 3))  # lengths past 2 keep the running maximum, 8
    assert found == {(0,): 10, (1,): 10, (2,): 6, (0, 1): 10}


def test_an_interval_is_one_condition():
    conditions = [Condition("t", ">=", 2.0), Condition("t", "<", 5.0), Condition("p", "==", "P1")]
    constraints = ItemConstraints.from_conditions(conditions)
    items = np.ones((6, 3), dtype=bool)
    found = dict(BitsetEngine().mine(items, 1, 1, constraints=constraints))
    assert found == {(0,): 6, (1,): 6, (2,): 6, (0, 1): 6}
    assert constraints.space(1) == [4]


def test_incompatible_bounds_never_combine():
    conditions = [Condition("t", "<", 2.0), Condition("t", ">=", 5.0), Condition("t", ">=", 1.0)]
    constraints = ItemConstraints.from_conditions(conditions)
    found = dict(BitsetEngine().mine(np.ones((4, 3), dtype=bool), 1, 3, constraints=constraints))
    assert found == {(0,): 4, (1,): 4, (2,): 4, (0, 2): 4}


def test_counts_are_exact_on_a_hand_checked_table():
    items = np.array([[1, 1, 0], [1, 1, 1], [1, 0, 1], [0, 1, 1]], dtype=bool)
    found = dict(BitsetEngine().mine(items, min_count=2, max_len=3))
    assert found == {(0,): 3, (1,): 3, (2,): 3, (0, 1): 2, (0, 2): 2, (1, 2): 2}


@pytest.mark.parametrize("path", BOTH_PATHS)
def test_too_many_itemsets_stops_the_search(path):
    items = np.ones((5, 10), dtype=bool)
    with numpy_words(path), pytest.raises(TooManyItemsets, match="more than 20 itemsets"):
        BitsetEngine().mine(items, 1, 3, max_itemsets=20)
    with pytest.raises(TooManyItemsets):
        MlxtendEngine().mine(items, 1, 3, max_itemsets=20)
    assert len(BitsetEngine().mine(items, 1, 3, max_itemsets=175)) == 10 + 45 + 120


def test_empty_inputs_give_no_itemsets():
    assert BitsetEngine().mine(np.zeros((0, 3), bool), 1, 2) == []
    assert MlxtendEngine().mine(np.zeros((5, 0), bool), 1, 2) == []
    assert BitsetEngine().coverage(np.zeros((5, 2), bool), []).tolist() == []


def test_unknown_engine_is_named():
    with pytest.raises(ValueError, match="unknown engine 'nope'"):
        get_engine("nope")
    assert get_engine("auto").name == "bitset"
