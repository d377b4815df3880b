"""mine_pack's table checks at plant scale give the answers of the plain versions: identifiers and fingerprints."""

import numpy as np
import pandas as pd
import pytest

from leanlearn.packs import build
from leanlearn.packs.pack import fingerprint as whole_table_fingerprint


def _table(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    floats = rng.normal(size=rows)
    floats[::7] = np.nan
    return pd.DataFrame({
        "flag": rng.random(rows) < 0.3,
        "count": rng.integers(0, 50, rows),
        "order_id": np.arange(rows) * 3 + 11,
        "serial": [f"S{i:07d}" for i in range(rows)],
        "humidity": floats,
        "press": pd.Categorical(rng.choice(["P1", "P2", "P3"], rows)),
        "scrap": pd.array(np.where(rng.random(rows) < 0.05, 1, 0), dtype="Int64"),
        "when": pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(rows), unit="min"),
        "label": rng.choice(["a", "b", None], rows),
        "checked": pd.array(rng.choice([True, False, None], rows), dtype="boolean"),
        "passed": rng.random(rows) < 0.9,
    })


@pytest.mark.parametrize("rows", [0, 1, 5, 1000, 2500])
def test_block_fingerprint_is_the_whole_table_fingerprint(monkeypatch, rows):
    monkeypatch.setattr(build, "_FINGERPRINT_ROWS", 256)  # many blocks, and a partial last one
    frame = _table(rows)
    assert build.fingerprint(frame) == whole_table_fingerprint(frame)


def _identifiers_by_counting(frame: pd.DataFrame) -> list[str]:
    out = []
    for column in frame.columns:
        s = frame[column]
        if len(s) < 20 or s.isna().any() or s.nunique() != len(s):
            continue
        if pd.api.types.is_integer_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
            out.append(str(column))
    return out


@pytest.mark.parametrize("rows", [10, 25, 3000])
def test_identifier_columns_are_those_of_counting_every_value(monkeypatch, rows):
    monkeypatch.setattr(build, "_DISTINCT_PREFIX", 16)
    frame = _table(rows)
    frame["late_repeat"] = np.arange(rows)
    frame.loc[rows - 1, "late_repeat"] = 0  # distinct in the first rows, repeated at the end
    frame["with_gap"] = pd.array(np.arange(rows), dtype="Int64")
    frame.loc[rows // 2, "with_gap"] = pd.NA
    assert build.identifier_columns(frame) == _identifiers_by_counting(frame)
    if rows >= 20:
        assert build.identifier_columns(frame) == ["order_id", "serial", "when"]
