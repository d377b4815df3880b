"""The AI4I rules do not move when the miner gets faster: same rule texts, counts and hypotheses, every target.

The expected values below were written by this file itself (``python tests/test_ai4i_rules_stable.py``, which
prints the block to paste) before the threshold refinement and the pair screening were made faster
(:class:`~leanlearn.mining.features.SortedValues`, head-first Fisher scoring, memoised ``nice_cut``). A change
that is *meant* to change the rules (other items, another correction or selection) regenerates them the same way
and says so in its commit; a speed-up never does.
"""

from __future__ import annotations

import numpy as np
import pytest

from leanlearn.data.datasets import load_ai4i
from leanlearn.mining import features
from leanlearn.mining.miner import RuleMinerCore
from leanlearn.mining.stats import fisher_greater_log

# benchmarks/rule_quality.py's declared features
DERIVE = {
    "temp_diff": "`Process temperature [K]` - `Air temperature [K]`",
    "power": "`Torque [Nm]` * `Rotational speed [rpm]` * 2 * pi / 60",
    "strain": "`Tool wear [min]` * `Torque [Nm]`",
}
TARGETS = ("HDF", "PWF", "OSF", "TWF")

# (features, target) -> (hypotheses counted, [(rule text, rows covered, hits), ...])
EXPECTED: dict[tuple[str, str], tuple[int, list[tuple[str, int, int]]]] = {
    # -- generated: begin --
    ('default', 'HDF'): (688901, [
        ('Process temperature [K] - Air temperature [K] < 8.6 and Rotational speed [rpm] < 1380 → HDF', 115, 115),
    ]),
    ('default', 'PWF'): (537862, [
        ('Rotational speed [rpm] * Torque [Nm] >= 85980 → PWF', 64, 64),
        ('Rotational speed [rpm] * Torque [Nm] < 33500 → PWF', 31, 31),
    ]),
    ('default', 'OSF'): (1049331, [
        ('Torque [Nm] * Tool wear [min] >= 12000 → OSF', 41, 41),
        ('Torque [Nm] * Tool wear [min] >= 11000 and Type == L → OSF', 87, 87),
    ]),
    ('default', 'TWF'): (4470, [
        ('Tool wear [min] >= 203 → TWF', 672, 44),
        ('Tool wear [min] >= 232 → TWF', 35, 7),
    ]),
    ('derive', 'HDF'): (500799, [
        ('Rotational speed [rpm] < 1380 and temp_diff < 8.6 → HDF', 115, 115),
    ]),
    ('derive', 'PWF'): (170589, [
        ('power >= 9000 → PWF', 64, 64),
        ('power < 3500 → PWF', 31, 31),
    ]),
    ('derive', 'OSF'): (612768, [
        ('strain >= 12000 → OSF', 41, 41),
        ('Type == L and strain >= 11000 → OSF', 87, 87),
    ]),
    ('derive', 'TWF'): (238647, [
        ('Tool wear [min] >= 203 → TWF', 672, 44),
        ('Tool wear [min] >= 232 → TWF', 35, 7),
    ]),
    # -- generated: end --
}


def _mined(features: str, target: str) -> tuple[int, list[tuple[str, int, int]]]:
    X, y = load_ai4i(target=target)
    miner = RuleMinerCore(derive=DERIVE if features == "derive" else None).fit(X, y)
    return int(miner.n_tests_), [(r.text, int(r.n), int(r.hits)) for r in miner.rules_]


@pytest.mark.parametrize("features", ["default", "derive"])
@pytest.mark.parametrize("target", TARGETS)
def test_ai4i_rules_are_unchanged(features, target):
    assert _mined(features, target) == EXPECTED[(features, target)]


def _every_cut_scored(hit, cov, valid, positives, n_rows, op, tolerance):
    return np.where(valid, fisher_greater_log(hit, cov, positives, n_rows), np.inf)


def test_head_first_fisher_scoring_finds_the_cut_of_scoring_every_cut(monkeypatch):
    """Scoring only the run heads (and the runs that can hold a near-best cut) picks the same threshold, score and
    count as scoring every cut, on random columns, subsets, directions, objectives and tolerances."""
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(5, 2000))
        x = rng.integers(0, int(rng.integers(2, 300)), n) * float(rng.choice([0.1, 1.0, 7.3, 1000.0]))
        x[rng.random(n) < float(rng.choice([0.0, 0.1]))] = np.nan
        rate = float(rng.choice([0.01, 0.05, 0.3]))
        y = rng.random(n) < np.where(x > np.nanmedian(x), 3 * rate, rate)
        within = None if rng.random() < 0.5 else rng.random(n) < 0.5
        args = (x, y, within, str(rng.choice(["<", ">="])), str(rng.choice(["fisher", "precision"])), int(y.sum()),
                int(rng.integers(1, 8)))
        tolerance = float(rng.choice([0.0, 0.01, 0.1]))
        fast = features.best_threshold(*args, round_tolerance=tolerance)
        with monkeypatch.context() as patch:
            patch.setattr(features, "_fisher_scores", _every_cut_scored)
            every = features.best_threshold(*args, round_tolerance=tolerance)
        # the same cut; the score to the last bits only (stats.fisher_greater_log sums short arrays one by one)
        assert (fast.value, fast.evaluated) == (every.value, every.evaluated)
        assert fast.score == pytest.approx(every.score, rel=1e-12, abs=1e-300)


if __name__ == "__main__":
    for features in ("default", "derive"):
        for target in TARGETS:
            n_tests, rules = _mined(features, target)
            print(f"    ({features!r}, {target!r}): ({n_tests}, [")
            for rule in rules:
                print(f"        {rule!r},")
            print("    ]),")
