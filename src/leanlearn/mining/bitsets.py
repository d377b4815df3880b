"""Packed boolean items (one bit per item and row) and the constraints on which items may combine.

:class:`PackedItems` holds an items × rows boolean matrix as ``uint64`` words: bit ``b`` of word ``w`` of item ``i``
is row ``64 * w + b``. A million rows take 122 KiB per item instead of 1 MB as ``bool``, an AND of two items is one
pass over their words, and a count is a popcount (:func:`numpy.bitwise_count`). It is built column by column
(:meth:`PackedItems.from_columns`), so no dense rows × items copy of the table is ever made; padding bits past
``n_rows`` are always 0, so counts need no masking.

:class:`ItemConstraints` says which items may appear together in one itemset and which column (*group*) each item
states something about. A rule's length is its number of distinct groups: the interval ``x >= a and x < b`` is one
condition. Engines only ever produce itemsets whose items are pairwise compatible, so invalid combinations are
neither counted nor tested.

Examples
--------
>>> import numpy as np
>>> m = np.array([[1, 0], [1, 1], [0, 1], [1, 1]], dtype=bool)
>>> packed = PackedItems.from_bool(m)
>>> packed.n_items, packed.n_rows, packed.counts().tolist()
(2, 4, [3, 3])
>>> bool((packed.to_bool() == m).all())
True
>>> packed.rows(np.array([True, True, False, False])).to_bool().astype(int).tolist()
[[1, 0], [1, 1]]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Words of scratch space a projection or a count may use at once (8 MiB of uint64).
_SCRATCH_WORDS = 1 << 20


def n_words(n_rows: int) -> int:
    """Words of 64 bits needed for ``n_rows`` rows (at least 1)."""
    return max(1, (int(n_rows) + 63) // 64)


def _pack_vector(column: np.ndarray, words: int) -> np.ndarray:
    """One boolean vector as ``words`` little-endian uint64 words, padding bits 0."""
    packed = np.packbits(np.asarray(column, dtype=bool), bitorder="little")
    out = np.zeros(words * 8, dtype=np.uint8)
    out[: packed.size] = packed
    return out.view("<u8").astype(np.uint64, copy=False)


@dataclass(frozen=True, slots=True)
class PackedItems:
    """Boolean items × rows, one bit per (item, row): ``bits[i, w]`` bit ``b`` is row ``64*w + b`` (little-endian).

    Parameters
    ----------
    bits : ndarray of uint64, shape (n_items, n_words)
        The packed items; bits past ``n_rows`` are 0.
    n_rows : int
        Number of rows.
    """

    bits: np.ndarray
    n_rows: int

    def __post_init__(self) -> None:
        if self.bits.ndim != 2 or self.bits.dtype != np.uint64:
            raise ValueError(f"bits must be a 2-d uint64 array, got {self.bits.dtype} of shape {self.bits.shape}")
        if self.bits.shape[1] != n_words(self.n_rows):
            raise ValueError(f"{self.n_rows:,} rows need {n_words(self.n_rows)} words, got {self.bits.shape[1]}")

    @property
    def n_items(self) -> int:
        """Number of items."""
        return int(self.bits.shape[0])

    @property
    def n_words(self) -> int:
        """Number of 64-bit words per item."""
        return int(self.bits.shape[1])

    @classmethod
    def from_bool(cls, matrix: np.ndarray) -> PackedItems:
        """Pack a boolean matrix (rows × items)."""
        matrix = np.asarray(matrix, dtype=bool)
        if matrix.ndim != 2:
            raise ValueError(f"expected a 2-d boolean matrix (rows × items), got shape {matrix.shape}")
        n_rows, n_items = matrix.shape
        words = n_words(n_rows)
        out = np.zeros((n_items, words), dtype=np.uint64)
        step = max(1, _SCRATCH_WORDS * 8 // max(n_rows, 1))  # items per block: bounded temporary
        for start in range(0, n_items, step):
            block = np.packbits(matrix[:, start : start + step], axis=0, bitorder="little").T
            raw = np.zeros((block.shape[0], words * 8), dtype=np.uint8)
            raw[:, : block.shape[1]] = block
            out[start : start + step] = raw.view("<u8").astype(np.uint64, copy=False)
        return cls(out, n_rows)

    @classmethod
    def from_columns(cls, columns: Iterable[np.ndarray], n_rows: int | None = None) -> PackedItems:
        """Pack boolean vectors one at a time (no rows × items copy); ``n_rows`` is needed when there are none."""
        packed: list[np.ndarray] = []
        for column in columns:
            column = np.asarray(column, dtype=bool).ravel()
            if n_rows is None:
                n_rows = column.size
            elif column.size != n_rows:
                raise ValueError(f"item {len(packed)} has {column.size:,} rows, expected {n_rows:,}")
            packed.append(_pack_vector(column, n_words(n_rows)))
        if n_rows is None:
            raise ValueError("from_columns needs n_rows when no column is given")
        words = n_words(n_rows)
        bits = np.stack(packed) if packed else np.zeros((0, words), dtype=np.uint64)
        return cls(bits, int(n_rows))

    @classmethod
    def concat_rows(cls, blocks: Iterable[PackedItems]) -> PackedItems:
        """Blocks of rows (the same items) one after the other, e.g. a file read in chunks, each chunk itemized
        and packed on its own: only the packed bits of the whole table are ever in memory.

        A block that starts inside a word is shifted into place; blocks of a multiple of 64 rows are copied.

        >>> import numpy as np
        >>> m = np.array([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0]], dtype=bool)
        >>> joined = PackedItems.concat_rows([PackedItems.from_bool(m[:3]), PackedItems.from_bool(m[3:])])
        >>> bool((joined.to_bool() == m).all())
        True
        """
        parts = list(blocks)
        if not parts:
            raise ValueError("concat_rows needs at least one block")
        n_items = parts[0].n_items
        if any(b.n_items != n_items for b in parts):
            raise ValueError(f"every block must have the same items; got {sorted({b.n_items for b in parts})}")
        total = sum(b.n_rows for b in parts)
        out = np.zeros((n_items, n_words(total) + 1), dtype=np.uint64)  # one spare word for the last carry
        start = 0
        for block in parts:
            if block.n_rows == 0:
                continue
            word, offset = divmod(start, 64)
            used = n_words(block.n_rows)
            if offset == 0:
                out[:, word : word + used] |= block.bits[:, :used]
            else:
                out[:, word : word + used] |= block.bits[:, :used] << np.uint64(offset)
                out[:, word + 1 : word + used + 1] |= block.bits[:, :used] >> np.uint64(64 - offset)
            start += block.n_rows
        return cls(np.ascontiguousarray(out[:, : n_words(total)]), total)

    def to_bool(self) -> np.ndarray:
        """The boolean matrix (rows × items)."""
        raw = np.ascontiguousarray(self.bits).astype("<u8", copy=False).view(np.uint8)
        unpacked = np.unpackbits(raw, axis=1, count=self.n_rows, bitorder="little")
        return unpacked.T.astype(bool)

    def column(self, item: int) -> np.ndarray:
        """One item as a boolean vector over the rows."""
        raw = self.bits[item].astype("<u8", copy=False).view(np.uint8)
        return np.unpackbits(raw, count=self.n_rows, bitorder="little").astype(bool)

    def rows(self, mask: np.ndarray) -> PackedItems:
        """The items restricted to the rows where ``mask`` holds (e.g. the rows where the outcome holds).

        Gathers the selected bits, a block of items at a time: the scratch space is bounded and the cost is
        proportional to the number of rows kept.
        """
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.n_rows,):
            raise ValueError(f"mask must have one value per row ({self.n_rows:,}), got shape {mask.shape}")
        index = np.flatnonzero(mask)
        kept = index.size
        words = n_words(kept)
        if kept == 0 or self.n_items == 0:
            return PackedItems(np.zeros((self.n_items, words), dtype=np.uint64), kept)
        # byte-wise: the gather moves one byte per kept row and item, not a 64-bit word (half the time at 1M rows)
        raw = np.ascontiguousarray(self.bits).astype("<u8", copy=False).view(np.uint8)
        out = np.zeros((self.n_items, words * 8), dtype=np.uint8)
        byte_of = index >> 3
        shift = (index & 7).astype(np.uint8)
        step = max(1, 8 * _SCRATCH_WORDS // kept)
        for start in range(0, self.n_items, step):
            block = raw[start : start + step]
            selected = (block[:, byte_of] >> shift) & np.uint8(1)
            packed = np.packbits(selected, axis=1, bitorder="little")
            out[start : start + block.shape[0], : packed.shape[1]] = packed
        out = out.view("<u8").astype(np.uint64, copy=False)
        return PackedItems(out, kept)

    def items(self, index: Sequence[int] | np.ndarray) -> PackedItems:
        """A subset of the items (in the order given)."""
        return PackedItems(self.bits[np.asarray(index, dtype=np.int64)], self.n_rows)

    def counts(self) -> np.ndarray:
        """Rows covered by each item (int64, popcount per item)."""
        if self.n_items == 0:
            return np.zeros(0, dtype=np.int64)
        return np.bitwise_count(self.bits).sum(axis=1, dtype=np.int64)

    @property
    def nbytes(self) -> int:
        """Memory of the packed bits."""
        return int(self.bits.nbytes)


def as_packed(items: PackedItems | np.ndarray) -> PackedItems:
    """``items`` as :class:`PackedItems` (a boolean rows × items matrix is packed)."""
    return items if isinstance(items, PackedItems) else PackedItems.from_bool(items)


@dataclass(frozen=True, slots=True)
class ItemConstraints:
    """Which items may appear together, and the group (column) of each item.

    Parameters
    ----------
    groups : ndarray of int64, shape (n_items,)
        The column each item states something about; an itemset's length is its number of distinct groups.
    compatible : ndarray of bool, shape (n_items, n_items)
        Symmetric: items ``i`` and ``j`` may appear in one itemset. Two items of one column are compatible only
        when they form a non-empty interval ``x >= a and x < b``.

    Examples
    --------
    >>> from leanlearn.mining.rules import Condition
    >>> c = ItemConstraints.from_conditions([Condition("t", "<", 5), Condition("t", ">=", 2),
    ...                                      Condition("t", ">=", 7), Condition("p", "==", "P1")])
    >>> c.groups.tolist(), c.compatible.astype(int).tolist()
    ([0, 0, 0, 1], [[0, 1, 0, 1], [1, 0, 0, 1], [0, 0, 0, 1], [1, 1, 1, 0]])
    >>> c.length((0, 1, 3)), c.allows((0, 2))
    (2, False)
    """

    groups: np.ndarray
    compatible: np.ndarray

    def __post_init__(self) -> None:
        n = self.groups.shape[0]
        if self.groups.ndim != 1 or self.compatible.shape != (n, n):
            raise ValueError(f"groups must be (n_items,) and compatible (n_items, n_items); got "
                             f"{self.groups.shape} and {self.compatible.shape}")

    @property
    def n_items(self) -> int:
        """Number of items."""
        return int(self.groups.shape[0])

    @classmethod
    def free(cls, n_items: int) -> ItemConstraints:
        """No constraint: every item its own group, all items compatible."""
        compatible = ~np.eye(n_items, dtype=bool)
        return cls(np.arange(n_items, dtype=np.int64), compatible)

    @classmethod
    def from_conditions(cls, conditions: Sequence[Any]) -> ItemConstraints:
        """Constraints of conditions (objects with ``feature``, ``op`` and ``value``, like ``Condition``).

        Conditions on different columns always combine; on one column only a lower bound ``>= a`` with an upper
        bound ``< b`` where ``a < b`` (a non-empty interval).
        """
        names: dict[str, int] = {}
        groups = np.array([names.setdefault(str(c.feature), len(names)) for c in conditions], dtype=np.int64)
        n = len(conditions)
        compatible = groups[:, None] != groups[None, :]
        for g in range(len(names)):
            members = np.flatnonzero(groups == g)
            for i in members:
                for j in members:
                    lower, upper = conditions[int(i)], conditions[int(j)]
                    if lower.op == ">=" and upper.op == "<" and _less(lower.value, upper.value):
                        compatible[i, j] = compatible[j, i] = True
        if n:
            np.fill_diagonal(compatible, False)
        return cls(groups, compatible)

    def length(self, itemset: Sequence[int]) -> int:
        """Number of conditions of an itemset: its distinct groups."""
        return len({int(self.groups[i]) for i in itemset})

    def allows(self, itemset: Sequence[int]) -> bool:
        """Whether the items of ``itemset`` are pairwise compatible."""
        idx = np.asarray(itemset, dtype=np.int64)
        if idx.size < 2:
            return True
        sub = self.compatible[np.ix_(idx, idx)]
        return bool(sub[~np.eye(idx.size, dtype=bool)].all())

    def max_items(self, max_len: int) -> int:
        """Most items in a valid itemset of up to ``max_len`` conditions (an interval is two items, one condition).

        >>> ItemConstraints.free(5).max_items(3)
        3
        """
        return _max_items(self, max_len)

    def subset(self, index: Sequence[int] | np.ndarray) -> ItemConstraints:
        """The constraints of a subset of the items (in the order given)."""
        idx = np.asarray(index, dtype=np.int64)
        return ItemConstraints(self.groups[idx], self.compatible[np.ix_(idx, idx)])

    def space(self, max_len: int) -> list[int]:
        """Exact number of valid itemsets of each length 1..``max_len`` (pairwise compatible, by distinct groups).

        Counts the compatible subsets (cliques) inside each group and combines groups by elementary symmetric
        sums; items of different groups are taken to be compatible (as :meth:`from_conditions` makes them).

        >>> from leanlearn.mining.rules import Condition
        >>> ItemConstraints.from_conditions([Condition("t", "<", 5), Condition("t", ">=", 2),
        ...                                  Condition("p", "==", 1)]).space(2)
        [4, 3]
        """
        e = [1] + [0] * max_len
        for g in np.unique(self.groups):
            members = np.flatnonzero(self.groups == g)
            options = _cliques(self.compatible[np.ix_(members, members)])
            for level in range(max_len, 0, -1):
                e[level] += e[level - 1] * options
        return e[1:]


def _max_items(constraints: ItemConstraints, max_len: int) -> int:
    """Most items a valid itemset of up to ``max_len`` conditions can hold (largest cliques of ``max_len`` groups)."""
    sizes = []
    for g in np.unique(constraints.groups):
        members = np.flatnonzero(constraints.groups == g)
        sizes.append(_largest_clique(constraints.compatible[np.ix_(members, members)]))
    return int(sum(sorted(sizes, reverse=True)[:max_len]))


def _largest_clique(compatible: np.ndarray) -> int:
    n = compatible.shape[0]
    best = 1 if n else 0
    stack: list[tuple[int, np.ndarray]] = [(1, np.arange(i + 1, n)[compatible[i, i + 1 :]]) for i in range(n)]
    while stack:
        size, candidates = stack.pop()
        best = max(best, size)
        for k, j in enumerate(candidates):
            rest = candidates[k + 1 :]
            stack.append((size + 1, rest[compatible[j, rest]]))
    return best


def _less(a: Any, b: Any) -> bool:
    try:
        return bool(a < b)
    except TypeError:
        return False


def _cliques(compatible: np.ndarray) -> int:
    """Number of non-empty pairwise-compatible subsets of a small group of items."""
    n = compatible.shape[0]
    total = 0
    stack: list[tuple[int, np.ndarray]] = [(1, np.arange(i + 1, n)[compatible[i, i + 1 :]]) for i in range(n)]
    while stack:
        _size, candidates = stack.pop()
        total += 1
        for k, j in enumerate(candidates):
            rest = candidates[k + 1 :]
            stack.append((_size + 1, rest[compatible[j, rest]]))
    return total
