"""PackedItems (packing, projection, padding), ItemConstraints, and the Itemizer's packed, one-item-per-flag items."""

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from leanlearn.mining.bitsets import ItemConstraints, PackedItems
from leanlearn.mining.features import Itemizer
from leanlearn.mining.rules import Condition


@settings(max_examples=80, deadline=None)
@given(matrix=arrays(bool, st.tuples(st.integers(0, 300), st.integers(0, 7))))
def test_round_trip_and_counts(matrix):
    packed = PackedItems.from_bool(matrix)
    assert packed.bits.dtype == np.uint64
    assert packed.bits.shape == (matrix.shape[1], max(1, -(-matrix.shape[0] // 64)))
    assert (packed.to_bool() == matrix).all() and packed.to_bool().shape == matrix.shape
    assert packed.counts().tolist() == matrix.sum(axis=0).tolist()
    by_column = PackedItems.from_columns((matrix[:, j] for j in range(matrix.shape[1])), n_rows=matrix.shape[0])
    assert (by_column.bits == packed.bits).all()
    for j in range(matrix.shape[1]):
        assert (packed.column(j) == matrix[:, j]).all()


@settings(max_examples=80, deadline=None)
@given(data=st.data(), matrix=arrays(bool, st.tuples(st.integers(0, 300), st.integers(1, 6))))
def test_rows_projection_and_zero_padding(data, matrix):
    mask = data.draw(arrays(bool, matrix.shape[0]))
    projected = PackedItems.from_bool(matrix).rows(mask)
    assert projected.n_rows == int(mask.sum())
    assert (projected.to_bool() == matrix[mask]).all()
    assert (projected.bits == PackedItems.from_bool(matrix[mask]).bits).all()  # padding bits are 0
    assert projected.counts().tolist() == matrix[mask].sum(axis=0).tolist()


def test_bit_layout_is_little_endian_by_row():
    matrix = np.zeros((130, 1), dtype=bool)
    matrix[[0, 63, 64, 129], 0] = True
    bits = PackedItems.from_bool(matrix).bits
    assert bits.shape == (1, 3)
    assert bits[0].tolist() == [1 | (1 << 63), 1, 2]


def test_projection_of_a_large_table_in_blocks():
    rng = np.random.default_rng(3)
    matrix = rng.random((70_000, 40)) < 0.3
    mask = rng.random(70_000) < 0.6
    projected = PackedItems.from_bool(matrix).rows(mask)
    assert (projected.to_bool() == matrix[mask]).all()


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="need 1 words"):
        PackedItems(np.zeros((2, 3), dtype=np.uint64), 10)
    with pytest.raises(ValueError, match="one value per row"):
        PackedItems.from_bool(np.ones((4, 2), bool)).rows(np.ones(3, bool))
    with pytest.raises(ValueError, match="item 1 has 3 rows"):
        PackedItems.from_columns([np.ones(4, bool), np.ones(3, bool)])


def test_constraints_from_conditions():
    conditions = [Condition("t", ">=", 2.0), Condition("t", "<", 5.0), Condition("t", "<", 1.0),
                  Condition("p", "==", "A"), Condition("p", "==", "B")]
    c = ItemConstraints.from_conditions(conditions)
    assert c.groups.tolist() == [0, 0, 0, 1, 1]
    assert (c.compatible == c.compatible.T).all()
    assert c.allows((0, 1, 3)) and not c.allows((0, 2)) and not c.allows((3, 4)) and not c.allows((1, 2))
    assert c.length((0, 1, 3)) == 2
    # t: 3 items + 1 interval; p: 2 levels -> 6 of length 1, 4 * 2 of length 2
    assert c.space(2) == [6, 8]
    assert c.subset([3, 4]).space(2) == [2, 0]
    assert ItemConstraints.free(3).space(3) == [3, 3, 1]


def test_flags_give_their_set_state_and_a_minority_not_set_state():
    X = pd.DataFrame({
        "rare": [True, False, False, False, False],
        "common": [True, True, True, True, False],
        "binary": [0, 1, 1, 1, 1],
        "text": ["a", "b", "b", "b", "b"],
        "gappy": pd.array([True, False, None, False, False], dtype="boolean"),
    })
    itemizer = Itemizer().fit(X, np.array([1, 0, 0, 1, 0], dtype=bool))
    assert [c.text for c in itemizer.items_] == [
        "rare == True", "common == True", "common == False", "binary == 0", "binary == 1", "text == a", "text == b",
        "gappy == False", "gappy == True",
    ]
    both = Itemizer(one_item_per_flag=False).fit(X, np.zeros(5, dtype=bool))
    assert len(both.items_) == 10


def test_a_mechanism_on_flags_set_on_most_rows_is_found():
    # each flag of the planted a ∧ b ∧ c is set on 60 % of the rows: its set state must stay an item
    from leanlearn.mining.miner import RuleMinerCore

    rng = np.random.default_rng(3)
    X = pd.DataFrame({f"f{j}": rng.random(20_000) < 0.6 for j in range(6)})
    mechanism = X.f0 & X.f1 & X.f2
    y = pd.Series(rng.random(20_000) < np.where(mechanism, 0.5, 0.03), name="waste")
    texts = [r.text for r in RuleMinerCore(min_support=0.01).fit(X, y).rules_]
    assert texts[0] == "f0 == True and f1 == True and f2 == True → waste"


def test_the_flag_item_does_not_depend_on_the_outcome():
    X = pd.DataFrame({"valve": [True, True, False, False, False, False]})
    for y in ([1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 1, 1]):
        assert [c.text for c in Itemizer().fit(X, np.array(y, dtype=bool)).items_] == ["valve == True"]


def test_transform_packed_equals_transform():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=500).round(2), "m": rng.choice(["A", "B", "C"], 500),
                      "f": rng.random(500) < 0.2})
    y = (X["x"] > 0.5) & X["f"]
    itemizer = Itemizer().fit(X, y.to_numpy())
    packed = itemizer.transform_packed(X)
    assert packed.n_items == len(itemizer.items_)
    assert (packed.to_bool() == itemizer.transform(X)).all()


@settings(max_examples=60, deadline=None)
@given(data=st.data(), matrix=arrays(bool, st.tuples(st.integers(0, 400), st.integers(1, 4))))
def test_blocks_of_rows_concatenate_to_the_whole(data, matrix):
    cuts = sorted(data.draw(st.lists(st.integers(0, matrix.shape[0]), max_size=5)))
    edges = [0, *cuts, matrix.shape[0]]
    blocks = [PackedItems.from_bool(matrix[a:b]) for a, b in itertools.pairwise(edges)]
    joined = PackedItems.concat_rows(blocks)
    assert joined.n_rows == matrix.shape[0]
    assert (joined.bits == PackedItems.from_bool(matrix).bits).all()


def test_chunks_of_a_frame_give_the_packed_items_of_the_whole():
    rng = np.random.default_rng(5)
    X = pd.DataFrame({"x": rng.normal(size=1000).round(2), "f": rng.random(1000) < 0.3})
    itemizer = Itemizer().fit(X, (X["x"] > 1).to_numpy())
    chunks = [X.iloc[a : a + 150] for a in range(0, 1000, 150)]
    assert (itemizer.transform_packed_chunks(chunks).bits == itemizer.transform_packed(X).bits).all()
    with pytest.raises(ValueError, match="same items"):
        PackedItems.concat_rows([PackedItems.from_bool(np.ones((3, 2), bool)),
                                 PackedItems.from_bool(np.ones((3, 1), bool))])
