"""Itemset engines agree with the mlxtend reference."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from leanlearn.mining.engines import BitsetEngine, MlxtendEngine, get_engine


@settings(max_examples=60, deadline=None)
@given(
    items=arrays(bool, st.tuples(st.integers(1, 70), st.integers(1, 9))),
    min_count=st.integers(1, 8),
    max_len=st.integers(1, 4),
)
def test_bitset_engine_returns_the_reference_itemsets(items, min_count, max_len):
    fast = sorted(BitsetEngine().mine(items, min_count, max_len))
    reference = sorted(MlxtendEngine().mine(items, min_count, max_len))
    assert fast == reference


def test_counts_are_exact_on_a_hand_checked_table():
    items = np.array([[1, 1, 0], [1, 1, 1], [1, 0, 1], [0, 1, 1]], dtype=bool)
    found = dict(BitsetEngine().mine(items, min_count=2, max_len=3))
    assert found == {(0,): 3, (1,): 3, (2,): 3, (0, 1): 2, (0, 2): 2, (1, 2): 2}


def test_empty_inputs_give_no_itemsets():
    assert BitsetEngine().mine(np.zeros((0, 3), bool), 1, 2) == []
    assert MlxtendEngine().mine(np.zeros((5, 0), bool), 1, 2) == []


def test_unknown_engine_is_named():
    import pytest

    with pytest.raises(ValueError, match="unknown engine 'spark'"):
        get_engine("spark")
