"""Planted itemsets: a wide boolean table whose outcome follows a few known conjunctions of items.

:func:`make_planted` draws ``n_items`` independent boolean item columns ``i0 … i{n-1}`` and a boolean outcome
``waste``. Each planted :class:`Mechanism` is a conjunction of 1–3 items; a row where a mechanism's items all hold
has the outcome with the mechanism's ``confidence`` (the highest one when several fire), any other row with
``base_rate``. This is the benchmark table of the miner at plant scale (``benchmarks/mining.py``) and the truth its
findings are checked against: only the planted mechanisms should come out as findings.

Item frequencies differ as in a real table: the items of a mechanism get the frequency that makes the
mechanism cover about ``coverage`` of the rows (``coverage ** (1 / len(items))`` each); every other item gets a
frequency drawn uniformly between 2 % and 70 % (rare flags beside common states). With the defaults, about 5,000
itemsets of up to 3 items reach 1 % support together with the outcome — the workload of a plant's wide table.

The default plants four mechanisms, one of them ``i0 ∧ i1 ∧ i2``: its parts (``i1`` alone, ``i0 ∧ i1``) show lift
too, but only because they contain the planted rule's rows — the case of a broad sub-rule explained by a sharper one.

Everything is vectorised column by column (no dense rows × items float block), so a million rows take about a
second, and the same seed gives the same table.

Examples
--------
>>> X, y, planted = make_planted(20_000, seed=0)
>>> X.shape, X.dtypes.unique().tolist(), y.name
((20000, 60), [dtype('bool')], 'waste')
>>> [m.text for m in planted]
['i0 & i1 & i2', 'i3 & i4', 'i5', 'i6 & i7']
>>> [m.confidence for m in planted]
[0.6, 0.5, 0.35, 0.7]
>>> bool(X.equals(make_planted(20_000, seed=0)[0]))
True
>>> m = planted[0]
>>> covered = X[list(m.items)].all(axis=1)
>>> round(float(y[covered].mean()), 1)
0.6
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leanlearn.errors import LeanlearnError

OUTCOME = "waste"
FREQUENCY_RANGE = (0.02, 0.7)  # uniform range of the frequencies of items outside every mechanism


class PlantedDataError(LeanlearnError, ValueError):
    """An inconsistent setting of :func:`make_planted` (also a ``ValueError``)."""


@dataclass(frozen=True, slots=True)
class Mechanism:
    """One planted conjunction: ``items`` all hold → outcome with probability ``confidence``.

    Parameters
    ----------
    items : tuple of str
        Item column names (``("i0", "i1", "i2")``); :func:`make_planted` also accepts indices.
    confidence : float
        Probability of the outcome on the rows the mechanism covers (where no mechanism of higher confidence also
        fires), in (0, 1].
    coverage : float, default=0.04
        Share of rows the mechanism covers, in expectation; sets its items' frequencies.
    """

    items: tuple[str, ...]
    confidence: float
    coverage: float = 0.04

    @property
    def text(self) -> str:
        """The conjunction as text: ``"i0 & i1 & i2"``."""
        return " & ".join(self.items)


DEFAULT_PLANTED: tuple[Mechanism, ...] = (
    Mechanism(("i0", "i1", "i2"), 0.6, 0.04),
    Mechanism(("i3", "i4"), 0.5, 0.04),
    Mechanism(("i5",), 0.35, 0.04),
    Mechanism(("i6", "i7"), 0.7, 0.02),
)


def _item_name(item: int | str, n_items: int) -> str:
    if isinstance(item, (bool, np.bool_)):
        raise PlantedDataError(f"planted item {item!r} is not an item; use an index 0..{n_items - 1} or 'i<k>'")
    if isinstance(item, (int, np.integer)):
        index = int(item)
    elif isinstance(item, str) and item.startswith("i") and item[1:].isdigit():
        index = int(item[1:])
    else:
        raise PlantedDataError(f"planted item {item!r} is not an item; use an index 0..{n_items - 1} or 'i<k>'")
    if not 0 <= index < n_items:
        raise PlantedDataError(f"planted item {item!r} is outside the {n_items} items i0..i{n_items - 1}")
    return f"i{index}"


def _mechanisms(planted: Sequence[Mechanism | tuple] | None, n_items: int) -> list[Mechanism]:
    """Validated mechanisms with item names; ``(items, confidence)`` or ``(items, confidence, coverage)`` accepted."""
    out: list[Mechanism] = []
    for spec in DEFAULT_PLANTED if planted is None else planted:
        if isinstance(spec, Mechanism):
            items, confidence, coverage = spec.items, spec.confidence, spec.coverage
        elif isinstance(spec, tuple) and len(spec) in (2, 3):
            items, confidence, coverage = spec[0], spec[1], spec[2] if len(spec) == 3 else 0.04
        else:
            raise PlantedDataError(
                f"planted mechanism {spec!r} must be a Mechanism or (items, confidence[, coverage]), "
                "e.g. ((0, 1, 2), 0.6)"
            )
        if isinstance(items, (int, str, np.integer)):
            items = (items,)
        names = tuple(_item_name(i, n_items) for i in items)
        if not names or len(set(names)) != len(names):
            raise PlantedDataError(f"planted mechanism {spec!r} needs one or more distinct items")
        for label, value in (("confidence", confidence), ("coverage", coverage)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise PlantedDataError(f"planted mechanism {spec!r}: {label} must be in (0, 1], got {value!r}")
        out.append(Mechanism(names, float(confidence), float(coverage)))
    return out


def _frequencies(mechanisms: list[Mechanism], n_items: int, rng: np.random.Generator) -> np.ndarray:
    low, high = FREQUENCY_RANGE
    freq = rng.uniform(low, high, size=n_items)
    set_by: dict[str, Mechanism] = {}
    for m in mechanisms:
        f = m.coverage ** (1 / len(m.items))
        for name in m.items:
            if name in set_by and not math.isclose(freq[int(name[1:])], f):
                raise PlantedDataError(
                    f"item {name} is in planted mechanisms {set_by[name].text!r} and {m.text!r} with different "
                    "frequencies; give them coverages that agree, or use distinct items"
                )
            set_by[name] = m
            freq[int(name[1:])] = f
    return freq


def make_planted(
    n_rows: int,
    n_items: int = 60,
    planted: Sequence[Mechanism | tuple] | None = None,
    base_rate: float = 0.02,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.Series, list[Mechanism]]:
    """A boolean item table with planted outcome mechanisms.

    Parameters
    ----------
    n_rows : int
        Rows (units, operations), at least 1.
    n_items : int, default=60
        Boolean item columns ``i0 … i{n_items-1}``.
    planted : sequence of Mechanism or (items, confidence[, coverage]), optional
        The mechanisms; items as indices or names. Default :data:`DEFAULT_PLANTED` (four mechanisms of 1–3 items,
        ``i0 & i1 & i2`` at confidence 0.6 among them). An empty sequence gives pure noise.
    base_rate : float, default=0.02
        Probability of the outcome where no mechanism fires, in [0, 1).
    seed : int, default=0
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same table.

    Returns
    -------
    X : DataFrame
        ``n_rows`` × ``n_items`` bool columns.
    y : Series
        The bool outcome, named ``"waste"``.
    mechanisms : list of Mechanism
        The planted mechanisms with item names, in the order given.

    Raises
    ------
    PlantedDataError
        A size, rate or mechanism out of range (named in the message).
    """
    for label, value, least in (("n_rows", n_rows, 1), ("n_items", n_items, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise PlantedDataError(f"make_planted: {label} must be a whole number ≥ {least}, got {value!r}")
    if isinstance(base_rate, bool) or not isinstance(base_rate, (int, float)) or not 0 <= base_rate < 1:
        raise PlantedDataError(f"make_planted: base_rate must be in [0, 1), got {base_rate!r}")
    n_rows, n_items = int(n_rows), int(n_items)
    mechanisms = _mechanisms(planted, n_items)
    rng = np.random.default_rng(seed)
    freq = _frequencies(mechanisms, n_items, rng)
    columns = {f"i{k}": rng.random(n_rows, dtype=np.float32) < freq[k] for k in range(n_items)}
    p = np.full(n_rows, base_rate, dtype=np.float32)
    for m in mechanisms:
        fires = np.logical_and.reduce([columns[name] for name in m.items])
        np.maximum(p, np.where(fires, np.float32(m.confidence), np.float32(0)), out=p)
    y = pd.Series(rng.random(n_rows, dtype=np.float32) < p, name=OUTCOME)
    return pd.DataFrame(columns), y, mechanisms
