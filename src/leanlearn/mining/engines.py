"""Frequent-itemset engines behind one small interface.

An engine takes boolean items (:class:`~leanlearn.mining.bitsets.PackedItems`, or a rows × items boolean matrix)
and returns every itemset of at most ``max_len`` conditions present in at least ``min_count`` rows, with its count.
The miner calls :meth:`ItemsetEngine.mine` on the rows where the outcome holds (``PackedItems.rows(outcome)``), so
an itemset's count there is the rule's number of hits, then :meth:`ItemsetEngine.coverage` on all rows.

- :class:`BitsetEngine` — in-house depth-first (Eclat-style) search over packed 64-bit words with popcount,
  vectorised with numpy over the extensions of each node.
- :class:`MlxtendEngine` — the reference: ``mlxtend.frequent_patterns.fpgrowth``, constraints applied as a filter.
- ``"spark"`` — counting over partitions (:mod:`leanlearn.mining.spark_engine`, imported only when asked for).

Constraints (:class:`~leanlearn.mining.bitsets.ItemConstraints`) say which items combine (two bounds of one column
only as a non-empty interval) and which column each item belongs to: an itemset's length is its number of distinct
columns, so an interval is one condition. ``min_count`` may be one number or one per length (index ``length - 1``;
lengths past the end use the last value): an itemset of length ``L`` is reported, and extended, only when its count
reaches ``max(min_count[:L])`` — the running maximum, since a count can only shrink as conditions are added (this is
how an optimistic-estimate bound of the significance test is passed in).

Both engines take ``max_itemsets``: a search that would return more itemsets stops with :class:`TooManyItemsets`
(the bitset engine as soon as it passes the bound, so its memory stays bounded; the mlxtend reference only after it
finished). The miner then narrows its items and searches again.

Examples
--------
>>> import numpy as np
>>> items = np.array([[1, 1, 0], [1, 1, 1], [1, 0, 1]], dtype=bool)
>>> sorted(BitsetEngine().mine(items, min_count=2, max_len=2))
[((0,), 3), ((0, 1), 2), ((0, 2), 2), ((1,), 2), ((2,), 2)]
>>> sorted(BitsetEngine().mine(items, 2, 2)) == sorted(MlxtendEngine().mine(items, 2, 2))
True
>>> BitsetEngine().coverage(items, [(0, 1), (1, 2), (2,)]).tolist()
[2, 1, 2]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from leanlearn.mining.bitsets import ItemConstraints, PackedItems, as_packed

Itemsets = list[tuple[tuple[int, ...], int]]


class TooManyItemsets(Exception):
    """A search found more than ``max_itemsets`` itemsets (internal: the miner narrows its items and retries)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"more than {limit:,} itemsets")


def length_thresholds(min_count: int | Sequence[int], max_len: int) -> list[int]:
    """Per-length minimum counts for lengths 1..``max_len``: padded with the last value, at least 1, and made
    non-decreasing (running maximum).

    >>> length_thresholds(5, 3), length_thresholds([9, 4, 12], 4)
    ([5, 5, 5], [9, 9, 12, 12])
    """
    values = [int(v) for v in min_count] if isinstance(min_count, Sequence | np.ndarray) else [int(min_count)]
    if not values:
        raise ValueError("min_count must be a number or a non-empty sequence of numbers")
    values = (values + [values[-1]] * max(max_len, 1))[: max(max_len, 1)]
    out, running = [], 1
    for v in values:
        running = max(running, v)
        out.append(running)
    return out


class ItemsetEngine(ABC):
    """Interface of an itemset engine."""

    name: str = "abstract"

    @abstractmethod
    def mine(
        self,
        items: PackedItems | np.ndarray,
        min_count: int | Sequence[int],
        max_len: int,
        max_itemsets: int | None = None,
        *,
        constraints: ItemConstraints | None = None,
    ) -> Itemsets:
        """Every itemset (sorted item indices) of 1..``max_len`` conditions with count ≥ its length's ``min_count``.

        With ``constraints`` the items of an itemset are pairwise compatible and its length is its number of
        distinct groups; without, every item is its own group. Raises :class:`TooManyItemsets` when there are more
        than ``max_itemsets`` of them.
        """

    def coverage(self, items: PackedItems | np.ndarray, itemsets: Sequence[tuple[int, ...]]) -> np.ndarray:
        """Rows covered by each itemset (AND of its items) over all rows of ``items`` (int64).

        Prefix-shared and bounded in memory: the itemsets are visited in sorted order, the AND of each prefix is
        computed once into a preallocated stack (``max_len × n_words`` words), and each itemset costs one AND and
        one popcount of its last item into a reused buffer.
        """
        return prefix_coverage(as_packed(items), itemsets)


def prefix_coverage(packed: PackedItems, itemsets: Sequence[tuple[int, ...]]) -> np.ndarray:
    """Count of rows covered by each itemset; see :meth:`ItemsetEngine.coverage`.

    >>> import numpy as np
    >>> p = PackedItems.from_bool(np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=bool))
    >>> prefix_coverage(p, [(1,), (0, 1), (1, 2), (0, 1, 2), ()]).tolist()
    [3, 2, 2, 1, 3]
    """
    out = np.zeros(len(itemsets), dtype=np.int64)
    if not len(itemsets):
        return out
    keyed = [tuple(sorted(int(i) for i in s)) for s in itemsets]
    order = sorted(range(len(keyed)), key=keyed.__getitem__)
    if packed.n_words <= SMALL_WORDS:
        return _coverage_ints(packed, keyed, order, out)
    bits = packed.bits
    singles = packed.counts()
    depth = max(len(s) for s in keyed)
    stack = np.empty((max(depth - 1, 1), packed.n_words), dtype=np.uint64)
    scratch = np.empty(packed.n_words, dtype=np.uint64)
    popcounts = np.empty(packed.n_words, dtype=np.uint8)
    current: tuple[int, ...] = ()  # the prefix whose running ANDs are in stack[: len(current)]
    for i in order:
        itemset = keyed[i]
        if not itemset:
            out[i] = packed.n_rows
            continue
        if len(itemset) == 1:
            out[i] = singles[itemset[0]]
            continue
        prefix = itemset[:-1]
        if prefix != current:
            common = 0
            limit = min(len(prefix), len(current))
            while common < limit and prefix[common] == current[common]:
                common += 1
            for d in range(common, len(prefix)):
                if d == 0:
                    stack[0] = bits[prefix[0]]
                else:
                    np.bitwise_and(stack[d - 1], bits[prefix[d]], out=stack[d])
            current = prefix
        np.bitwise_and(stack[len(prefix) - 1], bits[itemset[-1]], out=scratch)
        np.bitwise_count(scratch, out=popcounts)
        out[i] = int(popcounts.sum(dtype=np.int64))
    return out


def _coverage_ints(
    packed: PackedItems, keyed: list[tuple[int, ...]], order: list[int], out: np.ndarray
) -> np.ndarray:
    """:func:`prefix_coverage` on Python integers (few words per item): the running ANDs of the prefix in a list."""
    raw = packed.bits.astype("<u8", copy=False)
    ints = [int.from_bytes(raw[i].tobytes(), "little") for i in range(packed.n_items)]
    everything = (1 << packed.n_rows) - 1
    current: list[int] = []  # items of the prefix whose running ANDs are in running
    running: list[int] = []
    for i in order:
        itemset = keyed[i]
        common = 0
        limit = min(len(itemset), len(current))
        while common < limit and itemset[common] == current[common]:
            common += 1
        del current[common:], running[common:]
        acc = running[-1] if running else everything
        for item in itemset[common:]:
            acc &= ints[item]
            current.append(item)
            running.append(acc)
        out[i] = acc.bit_count()
    return out


class MlxtendEngine(ItemsetEngine):
    """Reference engine: mlxtend's FP-growth, with the constraints and per-length counts applied as a filter."""

    name = "mlxtend"

    def mine(
        self,
        items: PackedItems | np.ndarray,
        min_count: int | Sequence[int],
        max_len: int,
        max_itemsets: int | None = None,
        *,
        constraints: ItemConstraints | None = None,
    ) -> Itemsets:
        import pandas as pd
        from mlxtend.frequent_patterns import fpgrowth

        matrix = items.to_bool() if isinstance(items, PackedItems) else np.asarray(items, dtype=bool)
        n_rows, n_items = matrix.shape
        thresholds = length_thresholds(min_count, max_len)
        if n_rows == 0 or n_items == 0 or max_len < 1 or thresholds[0] > n_rows:
            return []
        item_len = max_len
        if constraints is not None:  # an interval is one condition but two items
            item_len = constraints.max_items(max_len)
        frame = pd.DataFrame(matrix, columns=list(range(n_items)))
        # fpgrowth compares support >= min_support on floats; step just below the count to stay exact.
        min_support = max((thresholds[0] - 0.5) / n_rows, 1e-12)
        found = fpgrowth(frame, min_support=min_support, use_colnames=True, max_len=max(item_len, 1))
        out: Itemsets = []
        for support, itemset in zip(found["support"].to_numpy(), found["itemsets"]):
            key = tuple(sorted(int(i) for i in itemset))
            count = int(round(support * n_rows))
            length = len(key) if constraints is None else constraints.length(key)
            if length > max_len or count < thresholds[length - 1]:
                continue
            if constraints is not None and not constraints.allows(key):
                continue
            out.append((key, count))
        if max_itemsets is not None and len(out) > max_itemsets:
            raise TooManyItemsets(max_itemsets)
        return out


def pack_columns(items: np.ndarray) -> np.ndarray:
    """Columns of a boolean matrix as packed uint64 bitsets: shape (n_items, n_words)."""
    return PackedItems.from_bool(items).bits


class BitsetEngine(ItemsetEngine):
    """Depth-first (Eclat-style) search over packed bitsets; one vectorised AND + popcount per search node.

    A node is an itemset with its bitset; its children join it with each later extension that was frequent
    together with the node's parent (the Eclat tail), compatible with the node's items and within the length
    bound. Memory: the stack holds one bitset per pending child, O(depth × items × n_words) words.
    """

    name = "bitset"

    def mine(
        self,
        items: PackedItems | np.ndarray,
        min_count: int | Sequence[int],
        max_len: int,
        max_itemsets: int | None = None,
        *,
        constraints: ItemConstraints | None = None,
    ) -> Itemsets:
        packed = as_packed(items)
        n_rows, n_items = packed.n_rows, packed.n_items
        if n_rows == 0 or n_items == 0 or max_len < 1:
            return []
        thresholds = length_thresholds(min_count, max_len)
        if thresholds[0] > n_rows:
            return []
        if constraints is not None and constraints.n_items != n_items:
            raise ValueError(f"constraints are for {constraints.n_items} items, the data has {n_items}")
        limit = max_itemsets if max_itemsets is not None else -1
        bits = packed.bits
        counts = packed.counts()
        frequent = np.flatnonzero(counts >= thresholds[0])
        out: Itemsets = [((int(i),), int(counts[i])) for i in frequent]
        if 0 <= limit < len(out):
            raise TooManyItemsets(limit)
        groups = constraints.groups if constraints is not None else None
        extend: Extend = _extensions_free
        partnered = np.zeros(n_items, dtype=bool)  # items with a compatible item of their own group (intervals)
        if constraints is not None:
            compatible = constraints.compatible
            extend = _extensions_constrained(constraints.groups, compatible, max_len)
            partnered = (compatible & (constraints.groups[:, None] == constraints.groups[None, :])).any(axis=1)
        if packed.n_words <= SMALL_WORDS:
            compatible_sets = None if constraints is None else [
                set(np.flatnonzero(row).tolist()) for row in constraints.compatible
            ]
            return _search_ints(packed, frequent.tolist(), out, thresholds, max_len,
                                groups.tolist() if groups is not None else list(range(n_items)),
                                compatible_sets, partnered.tolist(), limit)
        # stack entries: (itemset, its groups, its bitset, extensions: later items frequent with the parent)
        stack: list[tuple[tuple[int, ...], frozenset[int], np.ndarray, np.ndarray]] = []
        for p in range(frequent.size - 1, -1, -1):
            item = int(frequent[p])
            if max_len < 2 and not partnered[item]:
                continue
            root_groups = frozenset((int(groups[item]),) if groups is not None else (item,))
            stack.append(((item,), root_groups, bits[item], frequent[p + 1 :]))
        while stack:
            itemset, seen, itemset_bits, tail = stack.pop()
            candidates, lengths = extend(itemset, seen, tail)
            if candidates.size == 0:
                continue
            joined = bits[candidates]
            np.bitwise_and(joined, itemset_bits, out=joined)
            joined_counts = np.bitwise_count(joined).sum(axis=1, dtype=np.int64)
            keep = joined_counts >= np.asarray(thresholds, dtype=np.int64)[lengths - 1]
            kept = candidates[keep]
            if kept.size == 0:
                continue
            if 0 <= limit < len(out) + kept.size:
                raise TooManyItemsets(limit)
            kept_bits = joined[keep]
            kept_counts = joined_counts[keep]
            kept_lengths = lengths[keep]
            for j in range(kept.size - 1, -1, -1):
                item = int(kept[j])
                child = (*itemset, item)
                out.append((child, int(kept_counts[j])))
                rest = kept[j + 1 :]
                if not rest.size:
                    continue
                # at the length bound only a second bound of one of its columns can still join
                if kept_lengths[j] >= max_len and not any(partnered[i] for i in child):
                    continue
                group = int(groups[item]) if groups is not None else item
                stack.append((child, seen | {group}, kept_bits[j], rest))
        return out


Extend = Callable[[tuple[int, ...], frozenset[int], np.ndarray], tuple[np.ndarray, np.ndarray]]
# Up to this many 64-bit words per item (10,240 rows) the search and the coverage count run on Python integers: an
# AND and a popcount (int.bit_count) of a few words cost less than one numpy call, and a search node with few
# extensions is dominated by per-call costs (AI4I: 95 failure rows, 7,000 itemsets: 0.28 -> 0.02 s). Measured
# crossover on planted data: about 180 words.
SMALL_WORDS = 160


def _search_ints(
    packed: PackedItems, frequent: list[int], out: Itemsets, thresholds: list[int], max_len: int,
    group_of: list[int], compatible: list[set[int]] | None, partnered: list[bool], limit: int,
) -> Itemsets:
    """The same depth-first search as :meth:`BitsetEngine.mine`, each bitset one Python integer (same order)."""
    raw = packed.bits.astype("<u8", copy=False)
    ints = [int.from_bytes(raw[i].tobytes(), "little") for i in range(packed.n_items)]
    stack: list[tuple[tuple[int, ...], frozenset[int], int, list[int]]] = []
    for p in range(len(frequent) - 1, -1, -1):
        item = frequent[p]
        if max_len < 2 and not partnered[item]:
            continue
        stack.append(((item,), frozenset((group_of[item],)), ints[item], frequent[p + 1 :]))
    while stack:
        itemset, seen, itemset_bits, tail = stack.pop()
        allowed = compatible[itemset[-1]] if compatible is not None else None
        n_seen = len(seen)
        kept: list[tuple[int, int, int, int]] = []
        for j in tail:
            if allowed is not None and j not in allowed:
                continue
            length = n_seen if group_of[j] in seen else n_seen + 1
            if length > max_len:
                continue
            joined = itemset_bits & ints[j]
            count = joined.bit_count()
            if count >= thresholds[length - 1]:
                kept.append((j, joined, count, length))
        if not kept:
            continue
        if 0 <= limit < len(out) + len(kept):
            raise TooManyItemsets(limit)
        kept_items = [k[0] for k in kept]
        for position in range(len(kept) - 1, -1, -1):
            j, joined, count, length = kept[position]
            child = (*itemset, j)
            out.append((child, count))
            rest = kept_items[position + 1 :]
            if not rest or (length >= max_len and not any(partnered[i] for i in child)):
                continue
            stack.append((child, seen | {group_of[j]}, joined, rest))
    return out


def _extensions_free(itemset: tuple[int, ...], seen: frozenset[int], tail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Without constraints every later item extends the itemset by one condition."""
    return tail, np.full(tail.size, len(itemset) + 1, dtype=np.int64)


def _extensions_constrained(groups: np.ndarray, compatible: np.ndarray, max_len: int) -> Extend:
    def extend(itemset: tuple[int, ...], seen: frozenset[int], tail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # the tail is compatible with the earlier items already (it survived their nodes); check the last one
        candidates = tail[compatible[itemset[-1], tail]]
        candidate_groups = groups[candidates]
        known = np.zeros(candidates.size, dtype=bool)
        for g in seen:  # at most max_len groups: cheaper than np.isin
            known |= candidate_groups == g
        if len(seen) >= max_len:  # only a second bound of a column already in the itemset
            candidates = candidates[known]
            return candidates, np.full(candidates.size, len(seen), dtype=np.int64)
        return candidates, len(seen) + (~known).astype(np.int64)

    return extend


ENGINES: dict[str, type[ItemsetEngine]] = {"mlxtend": MlxtendEngine, "bitset": BitsetEngine}


def get_engine(name: str) -> ItemsetEngine:
    """Engine by name: ``"bitset"`` (fast), ``"mlxtend"`` (reference), ``"spark"`` (pyspark, imported lazily), or
    ``"auto"`` (= bitset)."""
    if name == "auto":
        name = "bitset"
    if name == "spark":  # pyspark is imported by the engine itself, only when it runs
        try:
            from leanlearn.mining.spark_engine import SparkEngine
        except ModuleNotFoundError as exc:
            if exc.name != "leanlearn.mining.spark_engine":
                raise
        else:
            return SparkEngine()
    try:
        return ENGINES[name]()
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; use one of auto, {', '.join(ENGINES)}") from None
