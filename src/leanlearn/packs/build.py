"""From a table to a rule pack: one miner per target, merged into one pack.

The miners are the scikit-learn-free cores (:class:`~leanlearn.mining.miner.RuleMinerCore`,
:class:`~leanlearn.mining.shift.ShiftMinerCore`): building a pack never imports scikit-learn or SciPy.

Examples
--------
>>> from leanlearn.data.datasets import load_ai4i
>>> frame = load_ai4i()
>>> pack = mine_pack(frame, ["HDF"], derive={"temp_diff": "`Process temperature [K]` - `Air temperature [K]`"},
...                  ignore=["Machine failure", "TWF", "PWF", "OSF", "RNF"], line="ai4i")
>>> pack.rules[0].text
'Rotational speed [rpm] < 1380 and temp_diff < 8.6 → HDF'
>>> sorted(pack.mining["ignored"])
['Machine failure', 'OSF', 'PWF', 'Product ID', 'RNF', 'TWF', 'UDI']
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from leanlearn.errors import DataError
from leanlearn.mining.expressions import evaluate_derived
from leanlearn.mining.miner import RuleMinerCore, binary_outcome, leaking_features
from leanlearn.mining.rules import Rule, RuleSet
from leanlearn.mining.settings import MiningSettings
from leanlearn.mining.shift import ShiftMinerCore
from leanlearn.packs.pack import FINGERPRINT_ROWS, Feature, RulePack, Target, check_waste
from leanlearn.packs.pack import fingerprint as pack_fingerprint

_FINGERPRINT_ROWS = FINGERPRINT_ROWS  # rows hashed at a time (tests make it small: many blocks)
_DISTINCT_PREFIX = 1024  # rows looked at first when asking whether every value of a column is distinct

# Names of the mining settings (kept for callers that list them; the settings themselves are MiningSettings).
MINER_PARAMS: tuple[str, ...] = MiningSettings.names()


def identifier_columns(frame: pd.DataFrame) -> list[str]:
    """Columns that identify rows rather than describe them: every value distinct, and text or whole numbers.

    Cheap tests first: a measurement or flag column (float, bool) is never an identifier, and a repeated value among
    the first rows settles it without counting a million distinct values.
    """
    out = []
    for column in frame.columns:
        s = frame[column]
        if len(s) < 20 or not (pd.api.types.is_integer_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype)):
            continue
        head = s.iloc[:_DISTINCT_PREFIX]
        if head.nunique(dropna=False) < len(head) or s.isna().any() or s.nunique() != len(s):
            continue
        out.append(str(column))
    return out


def fingerprint(frame: pd.DataFrame) -> dict[str, Any]:
    """:func:`leanlearn.packs.pack.fingerprint` of ``frame`` (the one implementation), ``_FINGERPRINT_ROWS`` rows
    hashed at a time: the same rows, columns and sha256 whatever the block size."""
    return pack_fingerprint(frame, block_rows=_FINGERPRINT_ROWS)


def _check_columns(frame: pd.DataFrame, names: Sequence[str], what: str) -> None:
    for name in names:
        if name not in frame.columns:
            close = [str(c) for c in frame.columns if str(c).lower().startswith(str(name).lower()[:3])]
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DataError(
                f"{what} {name!r} is not a column of the data{hint} (columns: {', '.join(map(str, frame.columns))})"
            )


def mine_pack(
    frame: pd.DataFrame,
    targets: Sequence[str],
    *,
    derive: Mapping[str, str] | None = None,
    ignore: Sequence[str] = (),
    name: str | None = None,
    line: str = "line",
    waste: str | Mapping[str, str] = "defects",
    units: Mapping[str, str] | None = None,
    description: str = "",
    source: str | None = None,
    on_target: Callable[[str, RuleMinerCore, float], None] | None = None,
    auto_features: bool | None = None,
    worse: Mapping[str, str] | None = None,
    settings: MiningSettings | None = None,
    **miner_params: Any,
) -> RulePack:
    """Mine every target in ``targets`` and return one :class:`RulePack`.

    Parameters
    ----------
    frame : DataFrame
        One row per unit or operation: process parameters, context and the binary waste outcomes.
    targets : list of str
        Outcome columns, each named once. Targets are never features of each other, and no derived feature may
        read a target or equal one.
    derive : dict, optional
        Derived features ``{name: expression}``; stored in the pack so anyone can recompute them.
    ignore : list of str
        Columns that are neither features nor targets (e.g. other outcome flags that would leak).
        Identifier columns (all values distinct, text or whole numbers) are ignored automatically.
    waste : str or dict
        Lean waste tag for all targets, or per target.
    units : dict, optional
        Units of columns, recorded in the pack's feature schema.
    on_target : callable, optional
        Called as ``on_target(target, fitted_miner, seconds)`` after each target (progress reporting).
    worse : dict, optional
        Numeric waste outcomes, ``{target: "higher" | "lower"}`` (which direction is waste). Those targets are
        mined with :class:`~leanlearn.mining.shift.ShiftMinerCore`; every other target must be binary.
    auto_features : bool, optional
        Screen products, ratios and differences of numeric column pairs (see
        :mod:`leanlearn.mining.autofeatures`); default: on when ``derive`` is empty. Those that rules use are
        stored in the pack with their expressions.
    settings : MiningSettings, optional
        The search's hyper-parameters (default: ``MiningSettings()``); recorded in ``pack.mining``.
    **miner_params
        Single settings overriding ``settings`` (``min_support=0.01``, ``max_conditions=2``, ...); validated
        through :class:`~leanlearn.mining.settings.MiningSettings`.
    """
    if not targets:
        raise DataError("no target given; name the waste outcome column(s), e.g. --target scrap")
    repeated = sorted({str(t) for t in targets if list(targets).count(t) > 1})
    if repeated:
        raise DataError(f"target {repeated[0]!r} is named more than once; name each target once")
    settings = (settings or MiningSettings()).replace(**miner_params)
    if auto_features is not None:
        settings = settings.replace(auto_features=auto_features)
    _check_columns(frame, targets, "target")
    _check_columns(frame, ignore, "ignored column")
    derive = dict(derive or {})
    leaking_features(frame, derive, {str(t): None for t in targets})  # no expression may read a target
    prepared = evaluate_derived(frame, derive)  # validates expressions against the data once
    ids = [c for c in identifier_columns(frame) if c not in targets and c not in ignore]
    ignored = {str(c): "ignored by the user" for c in ignore}
    ignored.update({c: "identifier (every value distinct)" for c in ids})
    feature_columns = [c for c in prepared.columns if c not in targets and str(c) not in ignored]
    if not feature_columns:
        raise DataError("no feature column is left after removing targets and ignored columns")

    auto = (not derive) if settings.auto_features is None else settings.auto_features
    settings = settings.replace(auto_features=auto)
    found_derived: dict[str, str] = {}
    numeric = dict(worse or {})
    for target, direction in numeric.items():
        if target not in targets:
            raise DataError(f"--worse names {target!r}, which is not a --target")
        if direction not in ("higher", "lower"):
            raise DataError(f"--worse {target}={direction}: write higher or lower (which direction is waste)")
    units = dict(units or {})
    wastes = {t: check_waste(waste if isinstance(waste, str) else waste.get(t, "defects")) for t in targets}
    rules: list[Rule] = []
    discretization: dict[str, dict[str, list[float]]] = {}
    n_tests: dict[str, int] = {}
    seconds: dict[str, float] = {}
    screened: dict[str, int] = {}
    X = prepared[feature_columns]
    # The table's fingerprint is hashed on a second thread while the miners run (numpy releases the GIL in
    # its loops): at a million rows it no longer adds to the wall time.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="leanlearn-fingerprint") as pool:
        data = pool.submit(fingerprint, frame)
        for target in targets:
            started = time.perf_counter()
            if target in numeric:
                outcome = pd.to_numeric(prepared[target], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            else:
                outcome = binary_outcome(prepared[target], target).astype(float)
            leaking_features(prepared, derive, {target: outcome})  # no derived feature may equal a target
            common = {"waste": wastes[target], "target": target, "units": units}
            if target in numeric:
                miner: RuleMinerCore = ShiftMinerCore.from_settings(settings, worse=numeric[target], **common)
            else:
                miner = RuleMinerCore.from_settings(settings, **common)
            miner.fit(X, prepared[target])
            elapsed = time.perf_counter() - started
            rules.extend(miner.rules_)
            used = {c.feature for r in miner.rules_ for c in r.conditions}
            found_derived.update({k: v for k, v in miner.derived_.items() if k in used and k not in derive})
            discretization[target] = {k: list(v) for k, v in miner.itemizer_.cuts_.items()}
            n_tests[target] = miner.n_tests_
            seconds[target] = round(elapsed, 3)
            if miner.screened_:
                screened[target] = len(miner.screened_)
            if on_target is not None:
                on_target(target, miner, elapsed)
        data_fingerprint = data.result()

    features = tuple(
        Feature(str(c), str(prepared[c].dtype), units.get(str(c)), str(c) in derive) for c in feature_columns
    ) + tuple(Feature(name, "float64", None, True) for name in found_derived)
    mining: dict[str, Any] = settings.to_json()
    mining.update({"n_tests": n_tests, "seconds": seconds, "ignored": ignored, "source": source})
    if screened:
        mining["screened"] = screened  # columns the max_candidates guard left out of the search, per target
    return RulePack(
        name=name or f"{line}-{'-'.join(targets)}",
        line=line,
        description=description,
        targets=tuple(
            Target(t, "numeric", wastes[t], numeric[t]) if t in numeric else Target(t, "binary", wastes[t], 1)
            for t in targets
        ),
        rules=RuleSet(tuple(rules)),
        features=features,
        derived=tuple(derive.items()) + tuple(found_derived.items()),
        discretization=discretization,
        mining=mining,
        data=data_fingerprint,
    )
