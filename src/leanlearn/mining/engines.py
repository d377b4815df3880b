"""Frequent-itemset engines behind one small interface.

An engine takes a boolean item matrix (rows × items) and returns every itemset, up to ``max_len`` items, present
in at least ``min_count`` rows, with its count. The miner calls engines on the rows where the outcome holds, so an
itemset's count there is the rule's number of hits.

- :class:`MlxtendEngine` — the reference: ``mlxtend.frequent_patterns.fpgrowth``.
- :class:`BitsetEngine` — in-house depth-first search over packed bitsets, vectorised with numpy; returns the
  same itemsets (tested on random tables) and is usually several times faster.

Both take ``max_itemsets``: a search that would return more itemsets stops with :class:`TooManyItemsets` (the
bitset engine as soon as it passes the bound, so its memory stays bounded; the mlxtend reference only after it
finished). The miner then narrows its items and searches again.

Examples
--------
>>> import numpy as np
>>> items = np.array([[1, 1, 0], [1, 1, 1], [1, 0, 1]], dtype=bool)
>>> sorted(BitsetEngine().mine(items, min_count=2, max_len=2))
[((0,), 3), ((0, 1), 2), ((0, 2), 2), ((1,), 2), ((2,), 2)]
>>> sorted(BitsetEngine().mine(items, 2, 2)) == sorted(MlxtendEngine().mine(items, 2, 2))
True
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

Itemsets = list[tuple[tuple[int, ...], int]]


class TooManyItemsets(Exception):
    """A search found more than ``max_itemsets`` itemsets (internal: the miner narrows its items and retries)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"more than {limit:,} itemsets")


class ItemsetEngine(ABC):
    """Interface of an itemset engine."""

    name: str = "abstract"

    @abstractmethod
    def mine(self, items: np.ndarray, min_count: int, max_len: int, max_itemsets: int | None = None) -> Itemsets:
        """All itemsets (sorted item indices) of length 1..``max_len`` with count ≥ ``min_count``.

        Raises :class:`TooManyItemsets` when there are more than ``max_itemsets`` of them.
        """


class MlxtendEngine(ItemsetEngine):
    """Reference engine: mlxtend's FP-growth."""

    name = "mlxtend"

    def mine(self, items: np.ndarray, min_count: int, max_len: int, max_itemsets: int | None = None) -> Itemsets:
        import pandas as pd
        from mlxtend.frequent_patterns import fpgrowth

        items = np.asarray(items, dtype=bool)
        n_rows, n_items = items.shape
        if n_rows == 0 or n_items == 0 or min_count > n_rows:
            return []
        frame = pd.DataFrame(items, columns=list(range(n_items)))
        # fpgrowth compares support >= min_support on floats; step just below the count to stay exact.
        min_support = max((min_count - 0.5) / n_rows, 1e-12)
        found = fpgrowth(frame, min_support=min_support, use_colnames=True, max_len=max_len)
        out: Itemsets = []
        for support, itemset in zip(found["support"].to_numpy(), found["itemsets"]):
            out.append((tuple(sorted(int(i) for i in itemset)), int(round(support * n_rows))))
        if max_itemsets is not None and len(out) > max_itemsets:
            raise TooManyItemsets(max_itemsets)
        return out


def pack_columns(items: np.ndarray) -> np.ndarray:
    """Columns of a boolean matrix as packed uint64 bitsets: shape (n_items, n_words)."""
    n_rows, n_items = items.shape
    n_words = max(1, (n_rows + 63) // 64)
    padded = np.zeros((n_items, n_words * 64), dtype=bool)
    padded[:, :n_rows] = items.T
    return np.packbits(padded, axis=1, bitorder="little").view(np.uint64)


class BitsetEngine(ItemsetEngine):
    """Depth-first (Eclat-style) search over packed bitsets; one numpy call per search node."""

    name = "bitset"

    def mine(self, items: np.ndarray, min_count: int, max_len: int, max_itemsets: int | None = None) -> Itemsets:
        items = np.asarray(items, dtype=bool)
        n_rows, n_items = items.shape
        if n_rows == 0 or n_items == 0 or max_len < 1 or min_count > n_rows:
            return []
        limit = max_itemsets if max_itemsets is not None else -1
        min_count = max(int(min_count), 1)
        bits = pack_columns(items)
        counts = np.bitwise_count(bits).sum(axis=1)
        frequent = np.flatnonzero(counts >= min_count)
        out: Itemsets = [((int(i),), int(counts[i])) for i in frequent]
        if 0 <= limit < len(out):
            raise TooManyItemsets(limit)
        # stack of (prefix items, prefix bitset, candidate extensions with larger index); extensions are views
        # (slices) of one array, so the stack costs O(depth × items), never O(items²)
        stack: list[tuple[tuple[int, ...], np.ndarray, np.ndarray]] = [
            ((int(frequent[p]),), bits[frequent[p]], frequent[p + 1 :]) for p in range(frequent.size - 1, -1, -1)
        ]
        while stack:
            prefix, prefix_bits, extensions = stack.pop()
            if len(prefix) >= max_len or extensions.size == 0:
                continue
            joined = bits[extensions] & prefix_bits
            joined_counts = np.bitwise_count(joined).sum(axis=1)
            keep = joined_counts >= min_count
            kept = extensions[keep]
            kept_bits = joined[keep]
            kept_counts = joined_counts[keep]
            if 0 <= limit < len(out) + kept.size:
                raise TooManyItemsets(limit)
            for j in range(kept.size - 1, -1, -1):
                itemset = (*prefix, int(kept[j]))
                out.append((itemset, int(kept_counts[j])))
                if len(itemset) < max_len:
                    stack.append((itemset, kept_bits[j], kept[j + 1 :]))
        return out


ENGINES: dict[str, type[ItemsetEngine]] = {"mlxtend": MlxtendEngine, "bitset": BitsetEngine}


def get_engine(name: str) -> ItemsetEngine:
    """Engine by name: ``"mlxtend"`` (reference), ``"bitset"`` (fast), or ``"auto"`` (= bitset)."""
    if name == "auto":
        name = "bitset"
    try:
        return ENGINES[name]()
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; use one of auto, {', '.join(ENGINES)}") from None
