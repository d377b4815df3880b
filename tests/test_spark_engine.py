"""The Spark engine returns what the bitset engine returns: itemsets, counts, coverage and, through the miner, rules.

Runs in local mode (``local[2]``) on one session shared by the module; skips, saying why, without pyspark or Java.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'leanlearn[spark]')")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Java is not installed (the spark engine needs Java 17)", allow_module_level=True)

from leanlearn.data.datasets import load_ai4i
from leanlearn.data.planted import make_planted
from leanlearn.mining.bitsets import ItemConstraints, PackedItems
from leanlearn.mining.engines import BitsetEngine, TooManyItemsets, get_engine
from leanlearn.mining.miner import RuleMiner
from leanlearn.mining.spark_engine import SparkEngine, SparkEngineError, split_blocks


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    from leanlearn.mining import spark_engine

    try:
        session = spark_engine._session()
    except SparkEngineError as exc:
        pytest.skip(f"no local Spark session: {exc}")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def engine(spark: object) -> SparkEngine:
    return SparkEngine(spark, num_partitions=3)


def _constraints(rng: np.random.Generator, n_items: int) -> ItemConstraints:
    """Random groups (columns); inside a group a random symmetric set of compatible pairs (intervals)."""
    groups = rng.integers(0, max(1, n_items // 2), size=n_items).astype(np.int64)
    compatible = groups[:, None] != groups[None, :]
    inside = np.triu(rng.random((n_items, n_items)) < 0.5, 1)
    inside = (inside | inside.T) & ~compatible
    np.fill_diagonal(inside, False)
    return ItemConstraints(groups, compatible | inside)


def _table(rng: np.random.Generator, n_rows: int, n_items: int) -> np.ndarray:
    return rng.random((n_rows, n_items)) < rng.uniform(0.15, 0.7, size=n_items)


def test_split_blocks_covers_every_row_once() -> None:
    packed = PackedItems.from_bool(np.ones((130, 2), dtype=bool))
    blocks = split_blocks(packed, 5)
    assert len(blocks) == 3  # 130 rows are 3 words: never an empty block
    assert sum(rows for rows, _ in blocks) == 130
    assert sum(int(np.bitwise_count(words).sum()) for _, words in blocks) == 260


def test_identical_itemsets_and_counts_on_random_tables(engine: SparkEngine, monkeypatch) -> None:
    rng = np.random.default_rng(12)
    bitset = BitsetEngine()
    cases = [(1, 3), (65, 6), (200, 9), (517, 12)]  # rows not a multiple of 64, one row, more blocks than words
    for trial, (n_rows, n_items) in enumerate(cases):
        X = _table(rng, n_rows, n_items)
        max_len = int(rng.integers(2, 4))
        constraints = _constraints(rng, n_items) if trial % 2 else None
        per_length = [int(v) for v in rng.integers(1, max(2, n_rows // 8), size=max_len)]  # unsorted on purpose
        for min_count in (max(1, n_rows // 20), per_length):
            expected = sorted(bitset.mine(X, min_count, max_len, constraints=constraints))
            got = engine.mine(X, min_count, max_len, constraints=constraints)
            assert got == expected, (n_rows, n_items, max_len, min_count, trial)
    # packed input; the pairs counted in a job of their own (not with the singles); levels counted in slices
    X = _table(rng, 300, 10)
    constraints = _constraints(rng, 10)
    packed = PackedItems.from_bool(X)
    expected = sorted(bitset.mine(packed, [3, 5], 3, constraints=constraints))
    assert engine.mine(packed, [3, 5], 3, constraints=constraints) == expected
    monkeypatch.setattr("leanlearn.mining.spark_engine.EARLY_PAIR_WORDS", 0)
    assert engine.mine(packed, [3, 5], 3, constraints=constraints) == expected
    monkeypatch.setattr("leanlearn.mining.spark_engine.LEVEL_CANDIDATES", 30)
    assert engine.mine(packed, [3, 5], 3, constraints=constraints) == expected
    with pytest.raises(TooManyItemsets):
        engine.mine(packed, [3, 5], 3, max_itemsets=len(expected) - 1, constraints=constraints)


def test_empty_results_and_the_itemset_bound(engine: SparkEngine) -> None:
    X = _table(np.random.default_rng(3), 100, 6)
    assert engine.mine(X, 101, 3) == []
    assert engine.mine(X, 1, 0) == []
    assert engine.mine(np.zeros((0, 4), dtype=bool), 1, 2) == []
    assert engine.mine(np.zeros((50, 4), dtype=bool), 1, 2) == []
    assert engine.mine(np.zeros((10, 0), dtype=bool), 1, 2) == []
    everything = sorted(BitsetEngine().mine(X, 1, 3))
    assert engine.mine(X, 1, 3, max_itemsets=len(everything)) == everything
    with pytest.raises(TooManyItemsets):
        engine.mine(X, 1, 3, max_itemsets=len(everything) - 1)


def test_coverage_counts_every_row(engine: SparkEngine) -> None:
    rng = np.random.default_rng(5)
    X = _table(rng, 333, 7)
    itemsets = [(), (0,), (1, 2), (0, 3, 6), (2, 4, 5, 6), (6,), (1, 2)]
    expected = [int(X[:, list(s)].all(axis=1).sum()) if s else 333 for s in itemsets]
    assert engine.coverage(X, itemsets).tolist() == expected
    assert engine.coverage(X, []).tolist() == []


def test_the_miner_gives_identical_rules_with_engine_spark(spark: object) -> None:
    X, y, _ = make_planted(4000, n_items=12, seed=2)
    reference = RuleMiner(engine="bitset", min_support=0.01).fit(X, y)
    on_spark = RuleMiner(engine="spark", min_support=0.01).fit(X, y)
    assert reference.rules_, "the planted table should give rules"
    assert on_spark.rules_ == reference.rules_
    assert on_spark.n_tests_ == reference.n_tests_
    assert get_engine("spark").name == "spark"
    # numeric columns: intervals (two items, one condition) and a derived feature, through the item constraints
    X, y = load_ai4i(target="HDF")
    derive = {"temp_diff": "`Process temperature [K]` - `Air temperature [K]`"}
    reference = RuleMiner(engine="bitset", derive=derive).fit(X, y)
    on_spark = RuleMiner(engine="spark", derive=derive).fit(X, y)
    assert reference.rules_
    assert on_spark.rules_ == reference.rules_
    assert on_spark.n_tests_ == reference.n_tests_


def test_a_spark_dataframe_is_mined_on_the_executors(spark) -> None:
    rng = np.random.default_rng(8)
    X = _table(rng, 700, 5)
    outcome = rng.random(700) < 0.3
    rows = [[int(v) for v in row] + [bool(o)] for row, o in zip(X, outcome)]
    names = ["a", "b.x", "c d", "d`", "e"]  # names Spark would otherwise read as fields or expressions
    df = spark.createDataFrame(rows, [*names, "waste"])
    constraints = _constraints(rng, 5)
    got = SparkEngine(spark).mine_frame(df, names, "waste", [4, 6], 3, constraints=constraints)
    found = sorted(BitsetEngine().mine(X[outcome], [4, 6], 3, constraints=constraints))
    covered = [int(X[:, list(s)].all(axis=1).sum()) for s, _ in found]
    assert got == [(s, c, n) for (s, c), n in zip(found, covered)]
    assert got


def test_bad_item_columns_are_named(spark, engine: SparkEngine) -> None:
    df = spark.createDataFrame([(1, 0, "x", 2, None), (0, 1, "y", 1, 1)], "a int, b int, s string, two int, n int")
    with pytest.raises(SparkEngineError, match="no column 'zz'"):
        engine.mine_frame(df, ["a", "zz"], "b", 1, 2)
    with pytest.raises(SparkEngineError, match=r"'s' \(string\)"):
        engine.mine_frame(df, ["a", "s"], "b", 1, 2)
    with pytest.raises(SparkEngineError, match=r"'two' \(1 values\).*'n' \(1 values\)"):
        engine.mine_frame(df, ["a", "two"], "n", 1, 2)
    with pytest.raises(SparkEngineError, match="more than once"):
        engine.mine_frame(df, ["a", "a"], "b", 1, 2)
    assert engine.mine_frame(df.filter("a > 5"), ["a", "b"], "n", 1, 2) == []
    assert engine.mine_frame(spark.createDataFrame([], "a int, b int"), ["a"], "b", 1, 2) == []


def test_the_executors_need_numpy_not_leanlearn(tmp_path) -> None:
    """What a partition runs is shipped by value: it works where leanlearn cannot be imported."""
    from pyspark import cloudpickle

    from leanlearn.mining import spark_engine

    counter = spark_engine._partition_counter(1 << 20)
    blocks = split_blocks(PackedItems.from_bool(np.ones((100, 3), dtype=bool)), 2)
    batch, _ = spark_engine._batch(np.array([[0, 1], [0, 2], [1, 2]]))
    (tmp_path / "task.pkl").write_bytes(cloudpickle.dumps((lambda part: counter(part, [batch]), blocks)))
    code = (
        "import pickle, sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'leanlearn': raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"task, blocks = pickle.loads(open({str(tmp_path / 'task.pkl')!r}, 'rb').read())\n"
        "print(sum(task(iter(blocks))).tolist())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[100, 100, 100]"


@pytest.mark.slow
def test_identical_rule_set_on_the_100k_benchmark(spark: object) -> None:
    """The benchmark table (100k rows × 60 items, support ≥ 1 %, ≤ 3 conditions): the bitset engine's rules."""
    X, y, _ = make_planted(100_000, n_items=60, seed=0)
    reference = RuleMiner(engine="bitset", min_support=0.01, max_conditions=3).fit(X, y)
    on_spark = RuleMiner(engine="spark", min_support=0.01, max_conditions=3).fit(X, y)
    assert reference.rules_
    assert on_spark.rules_ == reference.rules_
    assert on_spark.n_tests_ == reference.n_tests_
