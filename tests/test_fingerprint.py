"""The pack's data fingerprint is its documented definition: sha256 of the column names' JSON, then of pandas' row
hashes of the whole table (``hash_pandas_object(frame, index=False)``), whatever the block size and column types."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from leanlearn.packs import build
from leanlearn.packs.pack import fingerprint


def _definition(frame: pd.DataFrame) -> dict:
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return {"rows": len(frame), "columns": [str(c) for c in frame.columns], "sha256": digest.hexdigest()}


def _table(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    floats = rng.normal(size=rows)
    floats[::7] = np.nan
    floats[1::9] = -0.0
    return pd.DataFrame({
        "flag": rng.random(rows) < 0.3,
        "count": rng.integers(0, 50, rows),
        "small": rng.integers(0, 5, rows).astype(np.uint8),
        "serial": [f"S{i:07d}" for i in range(rows)],
        "humidity": floats,
        "press": pd.Categorical(rng.choice(["P1", "P2", "P3"], rows)),
        "scrap": pd.array(np.where(rng.random(rows) < 0.05, 1, 0), dtype="Int64"),
        "when": pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(rows), unit="min"),
        "label": rng.choice(["a", "b", None], rows),
        "mixed": [i if i % 3 else str(i) for i in range(rows)],
        "checked": pd.array(rng.choice([True, False, None], rows), dtype="boolean"),
        "passed": rng.random(rows) < 0.9,
    })


@pytest.mark.parametrize("rows", [0, 1, 5, 1000, 2500])
@pytest.mark.parametrize("block_rows", [1, 256, 1 << 16])
def test_fingerprint_is_the_whole_table_definition(rows, block_rows):
    frame = _table(rows)
    assert fingerprint(frame, block_rows=block_rows) == _definition(frame)


def test_fingerprint_of_flags_only_and_of_no_columns():
    rng = np.random.default_rng(1)
    flags = pd.DataFrame({f"i{j}": rng.random(3000) < 0.5 for j in range(7)})
    assert fingerprint(flags, block_rows=500) == _definition(flags)
    empty = pd.DataFrame(index=range(4))
    assert fingerprint(empty) == _definition(empty)


def test_build_uses_the_pack_fingerprint(monkeypatch):
    monkeypatch.setattr(build, "_FINGERPRINT_ROWS", 300)
    frame = _table(1000, seed=2)
    assert build.fingerprint(frame) == fingerprint(frame) == _definition(frame)
