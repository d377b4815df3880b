"""Spark engine: the outcome-constrained itemset search as counting over partitions (``engine="spark"``).

The rows are split into *bitset blocks*, one block of packed ``uint64`` words (items × words, one bit per item and
row) per partition. The search is level-wise: the driver generates the candidates of the next level from the
itemsets kept at this one, broadcasts them, every partition counts them on its block (AND of the items' words,
popcount) and the counts are summed (``mapPartitions`` → ``reduce``). One level is one Spark job (the singles and
all pairs share the first when the pairs are cheap to count), so a search up to three conditions is two jobs, more
when intervals (``x >= a, x < b``: two items, one condition) make longer itemsets, plus one job for
:meth:`SparkEngine.coverage`. This is *not* MLlib's FP-growth: nothing but the candidates the outcome-projected
search keeps is ever enumerated, and the result — itemsets and counts — is the one of
:class:`~leanlearn.mining.engines.BitsetEngine`, so ``RuleMiner(engine="spark")`` gives the same rules.

Which itemsets are searched is the engine contract: every itemset whose items are pairwise compatible
(:class:`~leanlearn.mining.bitsets.ItemConstraints`), with at most ``max_len`` conditions (distinct groups), counted
on the rows given; an itemset of length ``L`` is kept — reported, and extended at the next level — only when its
count reaches ``min_count[L - 1]`` (made non-decreasing: :func:`~leanlearn.mining.engines.length_thresholds`).
The next level joins two kept itemsets that differ in their last item only (the prefix tree of the depth-first
engine with its Eclat tail, walked breadth-first), so the two engines search the same tree.

Data that already lives in Spark is mined where it is: :meth:`SparkEngine.blocks` packs a DataFrame of 0/1 item
columns into cached blocks on the executors (Arrow batches, column by column; no row reaches the driver) and
:meth:`SparkEngine.mine_frame` runs the outcome-constrained search and the coverage count on it.

pyspark (``pip install 'leanlearn[spark]'``; Java 17) is imported only here, and only when a search runs. The
executors need numpy (and pyarrow for :meth:`~SparkEngine.blocks`), not leanlearn: the functions they run are
shipped by value.

Examples
--------
The split of a packed table into blocks (what each partition holds):

>>> import numpy as np
>>> from leanlearn.mining.bitsets import PackedItems
>>> packed = PackedItems.from_bool(np.ones((200, 3), dtype=bool))
>>> [(n, block.shape) for n, block in split_blocks(packed, 2)]
[(128, (3, 2)), (72, (3, 2))]

A search in local mode (starts a ``local[2]`` session unless one is active):

>>> items = np.array([[1, 1, 0], [1, 1, 1], [1, 0, 1]], dtype=bool)
>>> engine = SparkEngine(num_partitions=2)
>>> sorted(engine.mine(items, min_count=2, max_len=2))  # doctest: +SKIP
[((0,), 3), ((0, 1), 2), ((0, 2), 2), ((1,), 2), ((2,), 2)]
>>> engine.coverage(items, [(0, 1), (1, 2)]).tolist()  # doctest: +SKIP
[2, 1]
"""

from __future__ import annotations

import itertools
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from leanlearn.errors import LeanlearnError
from leanlearn.mining.bitsets import ItemConstraints, PackedItems
from leanlearn.mining.engines import ItemsetEngine, Itemsets, TooManyItemsets, length_thresholds

# Bytes of AND-ed words one partition holds at a time while it counts (bounds executor memory per candidate chunk).
CHUNK_BYTES = 32 << 20
# Pairs of all items are counted with the singles (saving a job) when pairs × words stays below this.
EARLY_PAIR_WORDS = 50_000_000
# Candidates generated and counted in one job at most (about: whole runs of one prefix are never split).
LEVEL_CANDIDATES = 2_000_000
LOCAL_MASTER = "local[2]"
# Settings of the session the engine starts itself when none is active: small, quiet, loopback only.
LOCAL_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "1g",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": "2",
    "spark.python.worker.reuse": "true",
}
Block = tuple[int, np.ndarray]  # (rows in the block, packed words: uint64 (n_items, n_words), padding bits 0)
# A batch of candidates of one length: (distinct prefixes (n_p, k), parent index per candidate, last item).
Batch = tuple[np.ndarray, np.ndarray, np.ndarray]


class SparkEngineError(LeanlearnError):
    """The Spark engine cannot run as asked: pyspark missing, an unusable session, or bad item columns."""


@dataclass(frozen=True)
class SparkBlocks:
    """Packed item blocks held by Spark: RDD elements ``(rows, uint64 words (n_items, n_words)[, bad values])``.

    Built by :meth:`SparkEngine.blocks` (from a DataFrame, cached on the executors) or internally from a
    :class:`PackedItems`. Pass it to :meth:`SparkEngine.mine` or :meth:`SparkEngine.coverage` like a packed table;
    :meth:`unpersist` frees the executors' copy.
    """

    rdd: Any
    n_rows: int
    n_items: int

    def unpersist(self) -> None:
        """Drop the cached blocks from the executors."""
        self.rdd.unpersist()


def split_blocks(packed: PackedItems, n_blocks: int) -> list[Block]:
    """Split packed items into ``n_blocks`` blocks of whole words (fewer when there are fewer words).

    Each block is ``(rows, words)`` with ``words`` a contiguous ``uint64`` array of shape ``(n_items, n_words)``;
    the rows of all blocks add up to ``packed.n_rows``.
    """
    bits = packed.bits
    n_words = bits.shape[1]
    n_blocks = max(1, min(int(n_blocks), n_words))
    bounds = np.linspace(0, n_words, n_blocks + 1).round().astype(np.int64)
    out: list[Block] = []
    for w0, w1 in itertools.pairwise(bounds.tolist()):
        rows = max(0, min(packed.n_rows, 64 * int(w1)) - 64 * int(w0))
        out.append((rows, np.ascontiguousarray(bits[:, w0:w1])))
    return out


def _partition_counter(chunk_bytes: int) -> Callable[[Iterator[tuple[Any, ...]], list[Batch]], Iterator[np.ndarray]]:
    """The function each partition runs: counts of every candidate of every batch on its blocks.

    Built here as a closure so that Spark ships it by value (executors need numpy, not leanlearn).
    """

    def count(blocks: Iterator[tuple[Any, ...]], batches: list[Batch]) -> Iterator[np.ndarray]:
        total = np.zeros(sum(len(item) for _, _, item in batches), dtype=np.int64)
        for block in blocks:
            words = block[1]
            n_words = words.shape[1]
            if n_words == 0:
                continue
            step = max(1, chunk_bytes // (8 * n_words))
            offset = 0
            for prefixes, parent, item in batches:
                n = len(item)
                out = total[offset : offset + n]
                offset += n
                if n == 0:
                    continue
                k = prefixes.shape[1]
                # candidates are sorted by parent: take parents a chunk at a time, AND their prefix once, then
                # each child's last item (so a level costs about one AND per candidate, not one per item)
                starts = np.searchsorted(parent, np.arange(len(prefixes) + 1))
                for p0 in range(0, len(prefixes), step):
                    p1 = min(p0 + step, len(prefixes))
                    prefix_words = None
                    if k:
                        prefix_words = words[prefixes[p0:p1, 0]]
                        for j in range(1, k):
                            prefix_words &= words[prefixes[p0:p1, j]]
                    for c0 in range(int(starts[p0]), int(starts[p1]), step):
                        c1 = min(c0 + step, int(starts[p1]))
                        joined = words[item[c0:c1]]
                        if prefix_words is not None:
                            joined &= prefix_words[parent[c0:c1] - p0]
                        out[c0:c1] += np.bitwise_count(joined).sum(axis=1, dtype=np.int64)
        yield total

    return count


def _batch(itemsets: np.ndarray) -> tuple[Batch, np.ndarray]:
    """Itemsets of one length (rows of ``itemsets``) as a :data:`Batch`, and the order the batch counts them in."""
    k = itemsets.shape[1] - 1
    if k == 0:
        order = np.arange(len(itemsets))
        return (np.zeros((1, 0), dtype=np.int64), np.zeros(len(itemsets), dtype=np.int64), itemsets[:, 0]), order
    prefixes, parent = np.unique(itemsets[:, :k], axis=0, return_inverse=True)
    parent = parent.reshape(-1)
    order = np.argsort(parent, kind="stable")
    return (prefixes, parent[order], itemsets[order, k]), order


class SparkEngine(ItemsetEngine):
    """The outcome-constrained itemset search as counting over Spark partitions.

    Parameters
    ----------
    spark : SparkSession, optional
        The session to run on. Default: the active session, else a ``local[2]`` session with small memory settings,
        no UI and quiet logging, started on first use.
    num_partitions : int, optional
        Blocks a packed table is split into (one per partition). Default: the session's default parallelism.
        A DataFrame given to :meth:`blocks` keeps its own partitioning unless this is set.

    Examples
    --------
    >>> SparkEngine(num_partitions=4).name
    'spark'
    """

    name = "spark"

    def __init__(self, spark: Any = None, num_partitions: int | None = None) -> None:
        if num_partitions is not None and (isinstance(num_partitions, bool) or int(num_partitions) < 1):
            raise ValueError(f"num_partitions must be a whole number ≥ 1, got {num_partitions!r}")
        self.spark = spark
        self.num_partitions = None if num_partitions is None else int(num_partitions)

    # ----------------------------------------------------------------------------------------------- session
    def session(self) -> Any:
        """The SparkSession in use: the one given, else the active one, else a new ``local[2]`` session."""
        if self.spark is None:
            self.spark = _session()
        try:
            context = self.spark.sparkContext
        except Exception:  # Spark Connect sessions raise instead of returning a context
            context = None
        if context is None:
            raise SparkEngineError("the spark engine needs a classic SparkSession (it counts with RDDs); "
                                   "a Spark Connect session has none — pass a session built with SparkSession.builder")
        return self.spark

    # ------------------------------------------------------------------------------------------------ blocks
    def _blocks(self, items: PackedItems | np.ndarray | SparkBlocks) -> SparkBlocks | PackedItems:
        if isinstance(items, SparkBlocks):
            return items
        if isinstance(items, PackedItems):
            return items
        matrix = np.asarray(items)
        if matrix.ndim != 2:
            raise ValueError(f"items must be a boolean matrix (rows × items), got shape {matrix.shape}")
        return PackedItems.from_bool(matrix.astype(bool, copy=False))

    def _distribute(self, packed: PackedItems) -> SparkBlocks:
        sc = self.session().sparkContext
        n_blocks = self.num_partitions or sc.defaultParallelism
        blocks = split_blocks(packed, n_blocks)
        return SparkBlocks(sc.parallelize(blocks, len(blocks)), packed.n_rows, packed.n_items)

    def _count(self, blocks: SparkBlocks, batches: list[Batch]) -> np.ndarray:
        """One Spark job: the count of every candidate of ``batches`` (in batch order), summed over all blocks."""
        sc = self.session().sparkContext
        shared = sc.broadcast(batches)
        counter = _partition_counter(CHUNK_BYTES)
        try:
            zero = np.zeros(sum(len(item) for _, _, item in batches), dtype=np.int64)
            counts = blocks.rdd.mapPartitions(lambda part: counter(part, shared.value)).fold(zero, np.add)
        finally:
            shared.unpersist()
        return np.asarray(counts, dtype=np.int64)

    def blocks(self, df: Any, item_columns: Sequence[str], where: str | None = None) -> SparkBlocks:
        """Pack a Spark DataFrame of 0/1 item columns into cached bitset blocks on the executors.

        Parameters
        ----------
        df : pyspark.sql.DataFrame
            The table; the item columns are boolean, or numbers that are all 0 or 1 (no nulls).
        item_columns : sequence of str
            The columns that are items, in item order (item ``i`` is ``item_columns[i]``).
        where : str, optional
            A 0/1 column: only the rows where it is 1 (true) are packed — the outcome rows of an outcome search.

        Returns
        -------
        SparkBlocks
            One block per partition, cached (``unpersist()`` frees it); no row is collected to the driver.

        Raises
        ------
        SparkEngineError
            A column is missing, not boolean or numeric, or holds a value other than 0/1 (nulls included): the
            message names the column and the number of such values.
        """
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        columns = _check_columns(df, item_columns, where)
        checked = [*columns, *([where] if where is not None else [])]
        n_checked = len(checked)
        # one pass: each Arrow batch is checked (0/1, no nulls), cut to the outcome rows and packed column by column
        quoted = ["`" + c.replace("`", "``") + "`" for c in checked]  # names with dots or spaces are plain names
        frame = df.select(*[F.col(q).cast("double").alias(f"_c{k}") for k, q in enumerate(quoted)])
        if self.num_partitions is not None:
            frame = frame.repartition(self.num_partitions)
        with warnings.catch_warnings():  # pyspark's check of the pandas version (Arrow is used, not pandas)
            warnings.simplefilter("ignore", FutureWarning)
            packed = frame.mapInArrow(_arrow_packer(len(columns), where is not None),
                                      "n_rows long, n_words long, bits binary, bad binary")
        rdd = packed.rdd.mapPartitions(_block_joiner(len(columns), n_checked))
        rdd = rdd.persist(StorageLevel.MEMORY_AND_DISK)
        n_rows, bad = rdd.map(lambda block: (block[0], block[2])).fold(
            (0, np.zeros(n_checked, dtype=np.int64)), lambda x, y: (x[0] + y[0], x[1] + y[1]))
        if bad.any():
            rdd.unpersist()
            shown = ", ".join(f"{c!r} ({int(n):,} values)" for c, n in zip(checked, bad) if n)
            raise SparkEngineError(f"item and outcome columns must hold only 0/1 or true/false, without nulls; "
                                   f"{shown}: fill or recode them before mining")
        return SparkBlocks(rdd, int(n_rows), len(columns))

    # ------------------------------------------------------------------------------------------------ search
    def mine(
        self,
        items: PackedItems | np.ndarray | SparkBlocks,
        min_count: int | Sequence[int],
        max_len: int,
        max_itemsets: int | None = None,
        *,
        constraints: ItemConstraints | None = None,
    ) -> Itemsets:
        """Every itemset with count ≥ ``min_count`` and at most ``max_len`` conditions, as the bitset engine.

        ``items`` are the rows to count on (the outcome rows, for an outcome search): a boolean matrix, packed
        items, or :class:`SparkBlocks`. The itemsets come in the depth-first engine's order (lexicographic).
        Raises :class:`~leanlearn.mining.engines.TooManyItemsets` when there are more than ``max_itemsets``.
        """
        source = self._blocks(items)
        n_rows, n_items = source.n_rows, source.n_items
        max_len = int(max_len)
        if max_len < 1 or n_items == 0 or n_rows == 0:
            return []
        thresholds = np.asarray(length_thresholds(min_count, max_len), dtype=np.int64)
        if thresholds[0] > n_rows:
            return []
        groups, compatible = _constraint_arrays(constraints, n_items)
        limit = -1 if max_itemsets is None else int(max_itemsets)
        blocks = self._distribute(source) if isinstance(source, PackedItems) else source

        singles = np.arange(n_items, dtype=np.int64)[:, None]
        batches = [_batch(singles)[0]]
        # the pairs of all items are counted in the job of the singles when that is cheap (one Spark job less);
        # the ones whose items are not both kept are dropped after, so the search is the same
        pairs = _next_level(singles, np.ones(n_items, dtype=np.int64), groups, compatible, max_len)
        early = 0 < len(pairs[1]) and len(pairs[1]) * ((n_rows + 63) // 64) <= EARLY_PAIR_WORDS
        if early:
            pair_sets = np.column_stack([pairs[0], pairs[1]])
            pair_batch, pair_order = _batch(pair_sets)
            batches.append(pair_batch)
        counts = self._count(blocks, batches)
        single_counts, counts = counts[:n_items], counts[n_items:]
        kept_single = single_counts >= thresholds[0]
        level, level_counts = singles[kept_single], single_counts[kept_single]
        level_groups = np.ones(len(level), dtype=np.int64)
        found: list[tuple[np.ndarray, np.ndarray]] = [(level, level_counts)]
        total = len(level)
        if 0 <= limit < total:
            raise TooManyItemsets(limit)
        while len(level) > 1:
            if early:  # the pairs, counted already: kept when both items are and the pair's count reaches its bound
                early = False
                pair_counts = np.empty(len(pair_sets), dtype=np.int64)
                pair_counts[pair_order] = counts
                keep = kept_single[pairs[0]] & kept_single[pairs[1]] & (pair_counts >= thresholds[pairs[2] - 1])
                level, level_counts, level_groups = pair_sets[keep], pair_counts[keep], pairs[2][keep]
                total += len(level)
                if 0 <= limit < total:
                    raise TooManyItemsets(limit)
                found.append((level, level_counts))
                continue
            # a large level is generated and counted a slice of whole runs (shared prefix) at a time: driver memory
            # and broadcast stay bounded, and the itemset bound stops the search as soon as it is passed
            parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
            for a, b in _run_slices(level, LEVEL_CANDIDATES):
                parent, item, n_groups = _next_level(level[a:b], level_groups[a:b], groups, compatible, max_len)
                if len(item) == 0:
                    continue
                candidates = np.column_stack([level[a + parent], item])
                batch, order = _batch(candidates)
                counts = np.empty(len(candidates), dtype=np.int64)
                counts[order] = self._count(blocks, [batch])
                keep = counts >= thresholds[n_groups - 1]
                parts.append((candidates[keep], counts[keep], n_groups[keep]))
                total += int(keep.sum())
                if 0 <= limit < total:
                    raise TooManyItemsets(limit)
            if not parts:
                break
            level = np.concatenate([p[0] for p in parts])
            level_counts = np.concatenate([p[1] for p in parts])
            level_groups = np.concatenate([p[2] for p in parts])
            found.append((level, level_counts))
        out: Itemsets = [
            (tuple(int(i) for i in row), int(c)) for sets, cs in found for row, c in zip(sets.tolist(), cs.tolist())
        ]
        out.sort(key=lambda pair: pair[0])
        return out

    def coverage(
        self, items: PackedItems | np.ndarray | SparkBlocks, itemsets: Sequence[tuple[int, ...]]
    ) -> np.ndarray:
        """Rows covered by each itemset (AND of its items) over all rows of ``items``: one Spark job."""
        source = self._blocks(items)
        out = np.zeros(len(itemsets), dtype=np.int64)
        by_length: dict[int, list[int]] = {}
        for position, itemset in enumerate(itemsets):
            by_length.setdefault(len(itemset), []).append(position)
        for position in by_length.pop(0, []):
            out[position] = source.n_rows
        if not by_length or source.n_rows == 0:
            return out
        batches, placements = [], []
        for length, positions in sorted(by_length.items()):
            sets = np.asarray([itemsets[p] for p in positions], dtype=np.int64).reshape(len(positions), length)
            if sets.min() < 0 or sets.max() >= source.n_items:
                raise ValueError(f"coverage: an itemset names an item outside 0..{source.n_items - 1}")
            batch, order = _batch(sets)
            batches.append(batch)
            placements.append(np.asarray(positions)[order])
        blocks = self._distribute(source) if isinstance(source, PackedItems) else source
        out[np.concatenate(placements)] = self._count(blocks, batches)
        return out

    def mine_frame(
        self,
        df: Any,
        item_columns: Sequence[str],
        outcome_column: str,
        min_count: int | Sequence[int],
        max_len: int,
        max_itemsets: int | None = None,
        *,
        constraints: ItemConstraints | None = None,
    ) -> list[tuple[tuple[int, ...], int, int]]:
        """The outcome-constrained search on a Spark DataFrame: ``(item indices, hits, rows covered)`` per itemset.

        The itemsets are those :meth:`mine` finds on the rows where ``outcome_column`` is 1 (hits = their count
        there); rows covered is their count over all rows. Item ``i`` is ``item_columns[i]``. The rows stay on the
        executors: two cached block sets (outcome rows, all rows) are built and freed again.

        Examples
        --------
        >>> from pyspark.sql import SparkSession  # doctest: +SKIP
        >>> spark = SparkSession.builder.master("local[2]").getOrCreate()  # doctest: +SKIP
        >>> rows = [(1, 1, 1), (1, 0, 1), (1, 1, 0), (0, 1, 0)]
        >>> df = spark.createDataFrame(rows, ["a", "b", "waste"])  # doctest: +SKIP
        >>> SparkEngine(spark).mine_frame(df, ["a", "b"], "waste", min_count=1, max_len=2)  # doctest: +SKIP
        [((0,), 2, 3), ((0, 1), 1, 2), ((1,), 1, 3)]
        """
        positives = self.blocks(df, item_columns, where=outcome_column)
        try:
            found = self.mine(positives, min_count, max_len, max_itemsets, constraints=constraints)
        finally:
            positives.unpersist()
        if not found:
            return []
        everything = self.blocks(df, item_columns)
        try:
            covered = self.coverage(everything, [s for s, _ in found])
        finally:
            everything.unpersist()
        return [(s, c, int(n)) for (s, c), n in zip(found, covered)]


def _constraint_arrays(constraints: ItemConstraints | None, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Group of each item and the compatibility matrix; without constraints every item is its own condition."""
    if constraints is None:
        return np.arange(n_items, dtype=np.int64), np.ones((n_items, n_items), dtype=bool)
    groups = np.asarray(constraints.groups, dtype=np.int64)
    compatible = np.asarray(constraints.compatible, dtype=bool)
    if groups.shape != (n_items,) or compatible.shape != (n_items, n_items):
        raise ValueError(f"constraints are for {groups.shape[0]} items, the table has {n_items}")
    return groups, compatible


def _run_slices(level: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Consecutive slices of whole runs (itemsets sharing all but their last item) with at most about ``limit``
    candidate pairs each (a run with more is a slice of its own)."""
    n, k = level.shape
    if k > 1 and n > 1:
        change = np.flatnonzero(np.any(level[1:, : k - 1] != level[:-1, : k - 1], axis=1)) + 1
        bounds = np.concatenate([[0], change, [n]])
    else:
        bounds = np.array([0, n])
    sizes = np.diff(bounds)
    pairs = sizes * (sizes - 1) // 2
    slices, start, running = [], 0, 0
    for r in range(len(sizes)):
        if running and running + pairs[r] > limit:
            slices.append((int(bounds[start]), int(bounds[r])))
            start, running = r, 0
        running += int(pairs[r])
    slices.append((int(bounds[start]), int(bounds[-1])))
    return slices


def _next_level(
    level: np.ndarray, level_groups: np.ndarray, groups: np.ndarray, compatible: np.ndarray, max_len: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates of the next level: two kept itemsets that differ in their last item only, joined.

    ``level`` holds the kept itemsets of one length, lexicographically sorted; returns, for each candidate, the
    index of its parent in ``level``, the item added and its number of conditions — in lexicographic order.
    """
    n, k = level.shape
    if k > 1:
        change = np.flatnonzero(np.any(level[1:, : k - 1] != level[:-1, : k - 1], axis=1)) + 1
        bounds = np.concatenate([[0], change, [n]])
    else:
        bounds = np.array([0, n])
    parents, items, counts = [], [], []
    item_groups = groups[level]  # (n, k)
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        if b - a < 2:
            continue
        left, right = np.triu_indices(b - a, 1)
        last = level[a:b, k - 1]
        ok = compatible[last[left], last[right]]
        left, right = left[ok], right[ok]
        # the added item starts a new condition unless the parent already states something about its column
        known = np.any(item_groups[a + left] == groups[last[right]][:, None], axis=1)
        n_groups = level_groups[a + left] + ~known
        ok = n_groups <= max_len
        parents.append(a + left[ok])
        items.append(last[right[ok]])
        counts.append(n_groups[ok])
    if not parents:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(parents), np.concatenate(items), np.concatenate(counts).astype(np.int64)


def _check_columns(df: Any, item_columns: Sequence[str], where: str | None) -> list[str]:
    """The item columns, checked on the driver: given once each, present, boolean or numeric (values: when packed)."""
    if isinstance(item_columns, str) or not item_columns:
        raise SparkEngineError("item_columns: give a non-empty list of column names")
    columns = [str(c) for c in item_columns]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise SparkEngineError(f"item_columns names {', '.join(map(repr, duplicated))} more than once")
    checked = [*columns, *([where] if where is not None else [])]
    types = dict(df.dtypes)
    missing = [c for c in checked if c not in types]
    if missing:
        raise SparkEngineError(f"the DataFrame has no column {', '.join(map(repr, missing))}; "
                               f"it has {', '.join(map(repr, list(types)[:20]))}")
    numeric = ("boolean", "tinyint", "smallint", "int", "bigint", "float", "double")
    wrong = [c for c in checked if not (types[c] in numeric or types[c].startswith("decimal"))]
    if wrong:
        shown = ", ".join(f"{c!r} ({types[c]})" for c in wrong)
        raise SparkEngineError(f"item and outcome columns must be boolean or 0/1 numbers; {shown} is not: "
                               "encode it as 0/1 items first")
    return columns


def _arrow_packer(n_items: int, has_where: bool) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """mapInArrow function: each Arrow batch (item columns, then the outcome column if any, as doubles) → one record.

    The record holds the batch's rows kept (those where the outcome is 1), their packed words and, per column, the
    number of values that are not 0 or 1 (nulls arrive as NaN) — checked on every row, kept or not.
    """

    def pack(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        schema = pa.schema([("n_rows", pa.int64()), ("n_words", pa.int64()), ("bits", pa.binary()),
                            ("bad", pa.binary())])
        for batch in batches:
            values = [batch.column(i).to_numpy(zero_copy_only=False) for i in range(batch.num_columns)]
            bad = np.array([np.count_nonzero((v != 0) & (v != 1)) for v in values], dtype=np.int64)
            keep = values[n_items] == 1 if has_where else None
            n_rows = int(batch.num_rows if keep is None else np.count_nonzero(keep))
            n_words = (n_rows + 63) // 64
            words = np.zeros((n_items, n_words), dtype="<u8")
            row_bytes = words.view(np.uint8).reshape(n_items, n_words * 8)
            for i in range(n_items):
                column = values[i] == 1
                packed = np.packbits(column if keep is None else column[keep], bitorder="little")
                row_bytes[i, : packed.size] = packed
            yield pa.RecordBatch.from_pydict(
                {"n_rows": [n_rows], "n_words": [n_words], "bits": [words.tobytes()], "bad": [bad.tobytes()]},
                schema=schema,
            )

    return pack


Checked = tuple[int, np.ndarray, np.ndarray]  # a block from a DataFrame: rows, words, bad values per checked column


def _block_joiner(n_items: int, n_checked: int) -> Callable[[Iterator[Any]], Iterator[Checked]]:
    """The packed records of one partition as one block ``(rows, words, bad values per column)``.

    Each record's padding bits are 0, so the words of successive records concatenate into one valid block.
    """

    def join(records: Iterator[Any]) -> Iterator[Checked]:
        rows, parts, bad = 0, [], np.zeros(n_checked, dtype=np.int64)
        for record in records:
            rows += int(record["n_rows"])
            bad += np.frombuffer(record["bad"], dtype=np.int64)
            parts.append(np.frombuffer(record["bits"], dtype="<u8").reshape(n_items, int(record["n_words"])))
        words = np.concatenate(parts, axis=1) if parts else np.zeros((n_items, 0), dtype=np.uint64)
        yield rows, np.ascontiguousarray(words, dtype=np.uint64), bad

    return join


def _session() -> Any:
    """The active SparkSession, else a quiet ``local[2]`` one on loopback, with this interpreter as the workers'."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            from pyspark.sql import SparkSession
    except ImportError:
        raise SparkEngineError("engine 'spark' needs pyspark (and Java 17): pip install 'leanlearn[spark]'") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # local mode: no lookup of the host's outside address
    builder = SparkSession.builder.master(LOCAL_MASTER).appName("leanlearn")
    for key, value in LOCAL_CONF.items():
        builder = builder.config(key, value)
    # the workers run this interpreter (its numpy, pyarrow), unless PYSPARK_PYTHON says otherwise; pyspark reads the
    # variable itself when it starts workers (the conf alone is not enough for a session started from Python)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = builder.config("spark.pyspark.python", os.environ["PYSPARK_PYTHON"])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            spark = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: no Java, or a broken installation
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SparkEngineError(f"could not start a local Spark session ({reason}); the spark engine needs Java 17 "
                               "on PATH or JAVA_HOME") from exc
    spark.sparkContext.setLogLevel("ERROR")
    return spark


__all__ = ["SparkBlocks", "SparkEngine", "SparkEngineError", "split_blocks"]
