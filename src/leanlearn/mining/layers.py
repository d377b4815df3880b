"""Layered critical values: the multiple-testing correction spends α by rule length.

A search over rules of up to ``L_max`` conditions tests few one-condition hypotheses and very many three-condition
ones. One Holm correction over all of them judges a one-condition finding against every 3-condition combination,
so the simple findings a lean engineer looks for first drown. Webb's *layered critical values* (G. I. Webb,
"Layered critical values: a powerful direct-adjustment approach to discovering significant patterns", Machine
Learning 71, 2008) split the budget instead: layer ``L`` (the rules with ``L`` conditions) gets a share ``α_L`` of
``α`` (``Σ α_L = α``), and within the layer the usual correction runs at level ``α_L`` against that layer's number
of hypotheses.

How α is split (:func:`layer_shares`). Webb's paper splits it equally (``α_L = α / L_max``, ``allocation="equal"``).
The miner's default halves it from one layer to the next (``allocation="halving"``: ``α_L ∝ 2^-L``, normalised to
sum to ``α``; for ``L_max = 3`` that is 4/7, 2/7 and 1/7 of ``α``): a prior for simple explanations. Layer ``L``
holds roughly ``items^L`` hypotheses, so halving its share costs a long rule a factor of two against a correction
over thousands of hypotheses, while a one-condition finding gains ``L_max × 4/7`` (1.7 for ``L_max = 3``).
Measured on the 4TU setup log (705 setups, a numeric outcome; 54 one-condition hypotheses: the conditions that
cover at least 20 setups): Machine 5 and worker ID4794 (raw Mann–Whitney p ≈ 3e-4 and 4e-4) are findings with
halving (adjusted p ≈ 0.028 and 0.035), not with the equal split (0.061 and 0.076); one Holm over all ~6,000
hypotheses finds neither.

Validity. Family-wise error (``"holm"``): a false rule of layer ``L`` is reported with probability at most
``α_L`` (Holm controls the family-wise error within the layer's family of ``n_L`` hypotheses), so by the union
bound over the layers the chance of reporting any false rule is at most ``Σ α_L = α``. False discovery rate
(``"bh"``): Benjamini–Hochberg at level ``α_L`` within each layer; with ``V_L`` false and ``R_L`` reported rules
in layer ``L``, ``V / R = Σ V_L / R ≤ Σ V_L / R_L``, so the overall false discovery rate is at most ``Σ α_L = α``
(under the independence or positive dependence BH needs within each layer). The split is fixed before the data is
seen (``L_max`` is the ``max_conditions`` setting), never chosen from the p-values.

A rule's length (its layer) is its number of distinct columns — an interval ``a <= x < b`` is one condition —
where an *automatic* pair feature (``a * b``, ``a / b``, ``a - b`` found by
:mod:`leanlearn.mining.autofeatures`) counts as two: it reads two columns and was chosen among many pairs, so a
rule on it is judged with the two-condition rules, not against the plain one-condition ones (declared derived
features count as one: the user chose them before the data was seen). When the search has automatic features,
``L_max`` is ``max_conditions + 1``; a longer weighted length falls into the top layer (:func:`weighted_length`).

What a layer counts (the miner's ``n_tests_by_length_``):

- every itemset that covers ``min_rows`` rows (the setting: by default 5, the fewest hits, for a binary outcome
  and 20 for a numeric one), in the layer of its weighted length,
  whether the search met it or not: coverage does not depend on the outcome, while the itemsets a search meets
  do (it follows the outcome's hits), and a correction over the latter admits more false rules than ``α``
  (exact while cheap to count, else the upper bound of every combination of the items that cover ``min_rows``
  rows alone; this also covers the candidates the ``max_candidates`` guard sets aside);
- every threshold the refinement evaluated, in the layer of the rule it refined (one-condition rules: each
  column's family of one-sided cuts is counted once, however many candidates and objectives swept it);
- the thresholds the automatic pair-feature screening evaluated: the parents' single cuts in layer 1, the pair
  candidates' cuts in layer 2 (the layer of a one-condition rule on a pair feature).

Layers beyond ``L_max`` do not exist; a count for one would be a bug and raises.

The adjusted p-value of a rule is ``min(1, adjusted_within_layer × α / α_L)``, so ``p_value <= alpha`` stays the
test and packs keep their meaning ("adjusted p-value").

Examples
--------
>>> import numpy as np
>>> p = np.array([1e-4, 1e-4])
>>> layered_adjust(p, [1, 3], {1: 40, 2: 900, 3: 9000}, max_length=3, method="holm").round(4).tolist()
[0.007, 1.0]
>>> layered_adjust(p, [1, 3], {1: 40, 2: 900, 3: 9000}, max_length=3, method="holm", allocation="equal").tolist()
[0.012, 1.0]
>>> float(adjust_flat(p, 9940, "holm")[0]) > 0.05  # one Holm over all 9,940 hypotheses drowns both
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from leanlearn.mining.rules import Condition

METHODS: tuple[str, ...] = ("holm", "bh", "none")
ALLOCATIONS: tuple[str, ...] = ("halving", "equal")


def layer_shares(max_length: int, allocation: str = "halving") -> dict[int, float]:
    """Each layer's share ``α_L / α`` of the significance level; the shares sum to 1.

    >>> {k: round(v, 4) for k, v in layer_shares(3).items()}
    {1: 0.5714, 2: 0.2857, 3: 0.1429}
    >>> layer_shares(2, "equal")
    {1: 0.5, 2: 0.5}
    """
    if allocation not in ALLOCATIONS:
        raise ValueError(f"unknown allocation {allocation!r}; use one of {', '.join(ALLOCATIONS)}")
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    raw = {L: (0.5**L if allocation == "halving" else 1.0) for L in range(1, max_length + 1)}
    total = sum(raw.values())
    return {L: w / total for L, w in raw.items()}


def rule_length(conditions: Sequence[Condition]) -> int:
    """Number of conditions of a rule, an interval on one column counting once (distinct columns).

    >>> rule_length([Condition("t", ">=", 1), Condition("t", "<", 5), Condition("m", "==", "A")])
    2
    """
    return len({c.feature for c in conditions})


def weighted_length(features: Iterable[str], weights: Mapping[str, int], cap: int) -> int:
    """A rule's layer: the weights of its distinct columns summed (1 unless ``weights`` says otherwise), at most
    ``cap``.

    >>> weighted_length(["a * b", "Type", "Type"], {"a * b": 2}, cap=4)
    3
    """
    return max(1, min(int(cap), sum(int(weights.get(f, 1)) for f in set(features))))


def itemsets_by_layer(
    itemsets: Iterable[Sequence[int]], columns: Sequence[str], weights: Mapping[str, int], cap: int
) -> dict[int, int]:
    """How many of ``itemsets`` fall in each layer: :func:`weighted_length` of each itemset's columns, counted in
    arrays (tens of thousands of itemsets: one pass, no per-itemset set).

    ``itemsets`` hold item numbers, ``columns[i]`` is the column item ``i`` states something about (two items of one
    column, an interval, are one condition).

    >>> itemsets_by_layer([(0,), (0, 1), (1, 2), (0, 1, 2)], ["t", "t", "a * b"], {"a * b": 2}, cap=3)
    {1: 2, 3: 2}
    """
    names = {name: k for k, name in enumerate(dict.fromkeys(columns))}
    column_of = np.array([names[c] for c in columns], dtype=np.int64)
    weight_of = np.array([int(weights.get(name, 1)) for name in names], dtype=np.int64)
    by_size: dict[int, list[Sequence[int]]] = {}
    for itemset in itemsets:
        by_size.setdefault(len(itemset), []).append(itemset)
    total = np.zeros(int(cap) + 1, dtype=np.int64)
    for size, group in by_size.items():
        if size == 0:
            total[1] += len(group)
            continue
        cols = np.sort(column_of[np.array(group, dtype=np.int64).reshape(len(group), size)], axis=1)
        first = np.ones(cols.shape, dtype=bool)  # the first item of each column in the itemset counts its weight
        first[:, 1:] = cols[:, 1:] != cols[:, :-1]
        length = np.clip((weight_of[cols] * first).sum(axis=1), 1, int(cap))
        total += np.bincount(length, minlength=int(cap) + 1)
    return {layer: int(n) for layer, n in enumerate(total.tolist()) if n}


def combinations_by_layer(
    items_per_column: Mapping[str, int], weights: Mapping[str, int], max_conditions: int, cap: int
) -> dict[int, int]:
    """Itemsets of one item from each of 1..``max_conditions`` distinct columns, counted by layer
    (:func:`weighted_length`): exact integers, by dynamic programming over the columns.

    >>> combinations_by_layer({"a": 2, "b": 3}, {}, max_conditions=2, cap=2)
    {1: 5, 2: 6}
    >>> combinations_by_layer({"a": 2, "p": 1}, {"p": 2}, max_conditions=2, cap=3)
    {1: 2, 2: 1, 3: 2}
    """
    # ways[k][w]: itemsets from k distinct columns with weighted length w (capped)
    ways = [[0] * (cap + 1) for _ in range(max_conditions + 1)]
    ways[0][0] = 1
    for column, count in items_per_column.items():
        w = int(weights.get(column, 1))
        for k in range(max_conditions, 0, -1):
            for length in range(cap, -1, -1):
                if ways[k - 1][length]:
                    ways[k][min(cap, length + w)] += ways[k - 1][length] * int(count)
    out = {layer: sum(ways[k][layer] for k in range(1, max_conditions + 1)) for layer in range(1, cap + 1)}
    return {layer: n for layer, n in out.items() if n}


def _holm(p: np.ndarray, m: int) -> np.ndarray:
    m = max(int(m), p.size)
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate(np.minimum(p[order] * (m - np.arange(p.size)), 1.0))
    out = np.empty_like(p)
    out[order] = adjusted
    return out


def _bh(p: np.ndarray, m: int) -> np.ndarray:
    m = max(int(m), p.size)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, p.size + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1].clip(max=1.0)
    out = np.empty_like(p)
    out[order] = adjusted
    return out


def adjust_flat(p_values: np.ndarray, n_tests: int, method: str) -> np.ndarray:
    """One correction over ``n_tests`` hypotheses (``"holm"``, ``"bh"`` or ``"none"``): the unlayered form."""
    p = np.asarray(p_values, dtype=float)
    if method not in METHODS:
        raise ValueError(f"unknown correction {method!r}; use one of {', '.join(METHODS)}")
    if p.size == 0 or method == "none":
        return p.copy()
    return _holm(p, n_tests) if method == "holm" else _bh(p, n_tests)


def layered_adjust(
    p_values: np.ndarray,
    lengths: Sequence[int] | np.ndarray,
    tests_by_length: Mapping[int, int],
    *,
    max_length: int,
    method: str,
    allocation: str = "halving",
) -> np.ndarray:
    """Adjusted p-values with α spent by layer: ``(Holm or BH within the rule's layer) / α_L × α``, capped at 1.

    Parameters
    ----------
    p_values : array of float
        Raw p-values of the rules that reached the correction.
    lengths : sequence of int
        Each rule's number of conditions (:func:`rule_length`), 1..``max_length``.
    tests_by_length : mapping of int to int
        Hypotheses the search evaluated per layer; a layer counts at least the rules given for it.
    max_length : int
        ``L_max``: the number of layers α is split over (the ``max_conditions`` setting).
    method : {"holm", "bh", "none"}
        Correction within a layer; ``"none"`` returns the raw p-values.
    allocation : {"halving", "equal"}, default="halving"
        How α is split over the layers (:func:`layer_shares`).

    Raises
    ------
    ValueError
        For a rule length or a layer outside 1..``max_length``, or an unknown method.
    """
    p = np.asarray(p_values, dtype=float)
    lengths = np.asarray(lengths, dtype=np.int64)
    if method not in METHODS:
        raise ValueError(f"unknown correction {method!r}; use one of {', '.join(METHODS)}")
    if p.shape != lengths.shape:
        raise ValueError(f"{p.size} p-values but {lengths.size} rule lengths")
    bad = [int(k) for k in tests_by_length if not 1 <= int(k) <= max_length]
    if bad or (lengths.size and (lengths.min() < 1 or lengths.max() > max_length)):
        raise ValueError(f"rule length outside 1..{max_length}: {bad or sorted(set(lengths.tolist()))}")
    if method == "none" or p.size == 0:
        return p.copy()
    shares = layer_shares(max_length, allocation)
    out = np.ones_like(p)
    for layer in np.unique(lengths):
        members = lengths == layer
        within = adjust_flat(p[members], int(tests_by_length.get(int(layer), 0)), method)
        out[members] = np.minimum(within / shares[int(layer)], 1.0)
    return out


def critical_value(alpha: float, layer: int, layer_tests: int, max_length: int, allocation: str = "halving") -> float:
    """The layered critical value of a layer: the raw p-value its strongest rule needs (Holm's first step,
    ``α_L / n_L``); Webb's ``α / (L_max × n_L)`` with ``allocation="equal"``.

    >>> critical_value(0.05, 1, 40, 3, "equal")
    0.00041666666666666664
    """
    return largest_reportable_p(alpha, layer, layer_tests, max_length, "holm", 1, allocation)


def largest_reportable_p(
    alpha: float, layer: int, layer_tests: int, max_length: int, method: str, most_rules: int,
    allocation: str = "halving",
) -> float:
    """The largest raw p-value a rule of ``layer`` can have and still be reported by :func:`layered_adjust` when at
    most ``most_rules`` rules of the layer reach the correction, whatever their p-values: the bound an optimistic
    estimate of the search prunes against.

    Holm rejects the rule of rank ``i`` (0-based) only if ``p × (n_L - i) <= α_L``, and ``i < most_rules``, so
    ``p <= α_L / (n_L - most_rules + 1)``; Benjamini–Hochberg only if ``p <= α_L × j / n_L`` for some ``j <=
    most_rules``; ``"none"`` at ``α`` itself. ``layer_tests`` may be a lower bound on the layer's final count (more
    hypotheses only make the correction stricter).

    >>> from leanlearn.mining.layers import layered_adjust
    >>> bound = largest_reportable_p(0.05, 1, 40, 3, "holm", 5)
    >>> p = np.array([bound, 0.0, 0.0, 0.0, 0.0])   # the most favourable company: four rules at p = 0
    >>> bool(layered_adjust(p, [1] * 5, {1: 40}, max_length=3, method="holm")[0] <= 0.05)
    True
    >>> bool(layered_adjust(p * [1.001, 1, 1, 1, 1], [1] * 5, {1: 40}, max_length=3, method="holm")[0] <= 0.05)
    False
    """
    if method not in METHODS:
        raise ValueError(f"unknown correction {method!r}; use one of {', '.join(METHODS)}")
    if method == "none":
        return float(alpha)
    share = alpha * layer_shares(max_length, allocation)[layer]
    tests, most = max(int(layer_tests), 1), max(int(most_rules), 1)
    if method == "holm":
        return share / max(tests - most + 1, 1)
    return share * min(1.0, most / tests)


def merge_counts(*counts: Mapping[int, int]) -> dict[int, int]:
    """Sum per-layer counts.

    >>> merge_counts({1: 3}, {1: 2, 2: 5})
    {1: 5, 2: 5}
    """
    out: dict[int, int] = {}
    for c in counts:
        for k, v in c.items():
            out[int(k)] = out.get(int(k), 0) + int(v)
    return dict(sorted(out.items()))
