"""Planted itemset data: shapes, determinism, and the planted confidences reached."""

import numpy as np
import pytest

from leanlearn.data.planted import DEFAULT_PLANTED, Mechanism, PlantedDataError, make_planted


def test_shapes_and_types() -> None:
    X, y, planted = make_planted(5_000, n_items=12, seed=3)
    assert X.shape == (5_000, 12)
    assert list(X.columns) == [f"i{k}" for k in range(12)]
    assert all(dtype == np.dtype(bool) for dtype in X.dtypes)
    assert y.dtype == np.dtype(bool) and y.name == "waste" and len(y) == 5_000
    assert [m.items for m in planted] == [m.items for m in DEFAULT_PLANTED]


def test_deterministic_per_seed() -> None:
    X1, y1, _ = make_planted(3_000, seed=7)
    X2, y2, _ = make_planted(3_000, seed=7)
    X3, _, _ = make_planted(3_000, seed=8)
    assert X1.equals(X2) and y1.equals(y2)
    assert not X1.equals(X3)


def test_planted_confidence_and_coverage_reached() -> None:
    n = 200_000
    X, y, planted = make_planted(n, seed=1)
    outcome = y.to_numpy()
    fires = {m.text: X[list(m.items)].all(axis=1).to_numpy() for m in planted}
    for m in planted:
        covered = fires[m.text]
        # rows where no mechanism of higher confidence also fires: the outcome rate there is the planted one
        alone = covered.copy()
        for other in planted:
            if other.confidence > m.confidence:
                alone &= ~fires[other.text]
        se = np.sqrt(m.confidence * (1 - m.confidence) / alone.sum())
        assert abs(outcome[alone].mean() - m.confidence) < 4 * se, m.text
        assert abs(covered.mean() - m.coverage) < 0.1 * m.coverage, m.text
    nowhere = ~np.logical_or.reduce(list(fires.values()))
    assert abs(outcome[nowhere].mean() - 0.02) < 0.002


def test_sub_rule_shows_lift_only_through_the_planted_rule() -> None:
    X, y, _ = make_planted(200_000, seed=2)
    outcome = y.to_numpy()
    i1 = X["i1"].to_numpy()
    planted = X[["i0", "i1", "i2"]].all(axis=1).to_numpy()
    assert outcome[i1].mean() > 1.3 * outcome.mean()  # the broad part looks like a finding ...
    rest = i1 & ~planted
    others = ~planted & ~X[["i3", "i4"]].all(axis=1).to_numpy() & ~X["i5"].to_numpy() & ~X[["i6", "i7"]].all(
        axis=1
    ).to_numpy()
    assert abs(outcome[rest & others].mean() - 0.02) < 0.005  # ... but outside the planted rule it is base rate


def test_custom_mechanisms_by_index_and_noise() -> None:
    X, y, planted = make_planted(50_000, n_items=5, planted=[((0, 1), 0.9, 0.1), ("i4", 0.5)], base_rate=0.1)
    assert X.shape == (50_000, 5) and abs(y[X["i0"] & X["i1"]].mean() - 0.9) < 0.02
    assert [m.items for m in planted] == [("i0", "i1"), ("i4",)]
    assert planted[0] == Mechanism(("i0", "i1"), 0.9, 0.1)
    _, y_noise, none = make_planted(50_000, planted=[], base_rate=0.1, seed=4)
    assert none == [] and abs(y_noise.mean() - 0.1) < 0.01


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_rows": 0}, "n_rows"),
        ({"n_rows": 10, "base_rate": 1.0}, "base_rate"),
        ({"n_rows": 10, "n_items": 3, "planted": [((0, 5), 0.5)]}, "outside the 3 items"),
        ({"n_rows": 10, "planted": [((0, 0), 0.5)]}, "distinct"),
        ({"n_rows": 10, "planted": [((0,), 1.5)]}, "confidence"),
        ({"n_rows": 10, "planted": [((0, 1), 0.5, 0.04), ((1,), 0.5, 0.04)]}, "different frequencies"),
        ({"n_rows": 10, "planted": ["i0"]}, "must be a Mechanism"),
    ],
)
def test_bad_settings_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(PlantedDataError, match=message):
        make_planted(**kwargs)
