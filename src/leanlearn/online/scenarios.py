"""Streams with a known truth, for tests, benchmarks and the live-tracking notebook.

- :func:`ai4i_drift_stream` — the real AI4I 2020 data replayed as a stream of 20,000 events (two passes over the
  10,000 operations, each in a random order) in which one documented failure mechanism changes halfway: in the
  second pass, heat dissipation fails below 1,320 rpm instead of 1,380 rpm (temperature gap still below 8.6 K).
- :func:`planted_stream` — a synthetic line with rules planted on disjoint regions of the feature space, the pack
  that describes them (evidence measured on a separate reference sample, as mining would), and confidence changes
  at chosen events.

Examples
--------
>>> stream = ai4i_drift_stream()
>>> len(stream), AI4I_CHANGE_AT
(20000, 10000)
>>> temp_diff = stream["Process temperature [K]"] - stream["Air temperature [K]"]
>>> old = (temp_diff < 8.6) & (stream["Rotational speed [rpm]"] < 1380)
>>> float(stream["HDF"][:10_000][old[:10_000]].mean()), round(float(stream["HDF"][10_000:][old[10_000:]].mean()), 2)
(1.0, 0.25)
>>> pack, events = planted_stream(n_rules=3, n_events=1000, drifts=[(500, 0, 0.1)], reference=5000)
>>> [r.id for r in pack.rules], len(events)
(['P000', 'P001', 'P002'], 1000)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from leanlearn.mining.rules import Condition, Rule, RuleSet
from leanlearn.mining.stats import wilson_interval
from leanlearn.packs.pack import Feature, RulePack, Target

AI4I_CHANGE_AT = 10_000
AI4I_RPM_LIMIT = 1380.0


def ai4i_drift_stream(*, rpm_limit: float = 1320.0, seed: int = 0) -> pd.DataFrame:
    """AI4I 2020 as a 20,000-event stream whose heat-dissipation failure mechanism changes at event 10,000.

    The documented mechanism (Matzka 2020): a heat dissipation failure (HDF) happens when the process-minus-air
    temperature gap is below 8.6 K *and* the rotational speed is below 1,380 rpm. Events 0–9,999 are the 10,000
    operations in a random order, as recorded; events 10,000–19,999 are the operations again in another random
    order with HDF recomputed for a speed limit of ``rpm_limit`` (``Machine failure`` recomputed accordingly). Every
    other column and failure mode is as recorded.
    """
    from leanlearn.data.datasets import load_ai4i

    frame = load_ai4i()
    assert isinstance(frame, pd.DataFrame)
    rng = np.random.default_rng(seed)
    first = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    second = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    gap = second["Process temperature [K]"] - second["Air temperature [K]"]
    second["HDF"] = ((gap < 8.6) & (second["Rotational speed [rpm]"] < rpm_limit)).astype(frame["HDF"].dtype)
    second["Machine failure"] = second[["TWF", "HDF", "PWF", "OSF", "RNF"]].max(axis=1)
    return pd.concat([first, second], ignore_index=True)


def _planted_features(rng: np.random.Generator, n: int, n_features: int) -> pd.DataFrame:
    data = {"u": rng.random(n)}
    data.update({f"x{j}": rng.random(n) for j in range(n_features)})
    return pd.DataFrame(data)


def planted_stream(
    n_rules: int = 20,
    n_events: int = 1_000_000,
    *,
    coverage: float | None = None,
    base_rate: float = 0.05,
    drifts: Sequence[tuple[int, int, float]] = (),
    reference: int = 200_000,
    n_features: int = 8,
    seed: int = 0,
) -> tuple[RulePack, pd.DataFrame]:
    """A synthetic stream with ``n_rules`` planted rules and the pack that states them.

    Rule ``k`` fires when ``u`` lies in its own slab ``[k/R, k/R + w)`` (slabs never overlap) and
    ``x_(k mod F) > 1 - q``; then the outcome ``y`` holds with the rule's confidence (drawn in 0.3–0.8), elsewhere
    with ``base_rate``. ``coverage`` (default ``min(0.02, 0.5 / n_rules)``) is each rule's share of events.

    Parameters
    ----------
    drifts : list of (event, rule index, new confidence)
        From ``event`` on, that rule's confidence is the new one.
    reference : int
        Events of the undrifted process the pack's evidence (n, hits, confidence, Wilson interval) is measured on.

    Returns
    -------
    (RulePack, DataFrame)
        The pack (rule ids ``P000``, ...) and the stream (columns ``u``, ``x0``…, ``y``).
    """
    rng = np.random.default_rng(seed)
    R = int(n_rules)
    cov = min(0.02, 0.5 / R) if coverage is None else float(coverage)
    slab = 1.0 / R
    width = min(slab, max(cov / 0.5, cov))
    q = min(1.0, cov / width)
    confidence = rng.uniform(0.3, 0.8, R)
    conditions = []
    for k in range(R):
        lo = round(k * slab, 9)
        conditions.append((Condition("u", ">=", float(lo)), Condition("u", "<", round(lo + width, 9)),
                           Condition(f"x{k % n_features}", ">", float(1 - q))))

    def outcome(frame: pd.DataFrame, changes: Sequence[tuple[int, int, float]]) -> np.ndarray:
        u = frame["u"].to_numpy()
        k = np.minimum((u / slab).astype(np.int64), R - 1)
        inside = (u - k * slab) < width
        x = frame[[f"x{j}" for j in range(n_features)]].to_numpy()
        inside &= x[np.arange(len(frame)), k % n_features] > 1 - q
        p_rule = confidence[k]
        for at, rule, new in changes:
            p_rule[int(at):][k[int(at):] == int(rule)] = new
        p = np.where(inside, p_rule, base_rate)
        return (rng.random(len(frame)) < p).astype(np.int8)

    ref = _planted_features(rng, reference, n_features)
    ref["y"] = outcome(ref, ())
    positives = int(ref["y"].sum())
    rules = []
    for k, conds in enumerate(conditions):
        mask = np.ones(reference, dtype=bool)
        for c in conds:
            mask &= c.mask(ref)
        n, hits = int(mask.sum()), int(ref["y"].to_numpy()[mask].sum())
        lo_ci, hi_ci = wilson_interval(np.array([hits]), np.array([n]))
        base = positives / reference
        conf = hits / n if n else 0.0
        rules.append(Rule(conds, Condition("y", "==", 1), support=hits / reference, coverage=n / reference,
                          confidence=conf, lift=conf / base if base else 0.0, leverage=hits / reference - n /
                          reference * base, conviction=None if conf >= 1 else (1 - base) / (1 - conf), n=n, hits=hits,
                          p_value=0.0, p_value_raw=0.0, ci=(float(lo_ci[0]), float(hi_ci[0])), base_rate=base,
                          id=f"P{k:03d}"))
    events = _planted_features(rng, n_events, n_features)
    events["y"] = outcome(events, drifts)
    features = tuple(Feature(c, "float64") for c in events.columns if c != "y")
    pack = RulePack(name=f"planted-{R}", line="synthetic", targets=(Target("y"),), rules=RuleSet(tuple(rules)),
                    features=features, description=f"{R} planted rules (seed {seed})")
    return pack, events
