"""Parquet files of fixed-width columns are read in one go (decoded size checked from the metadata first): the same
frame as decoding batch by batch, and the byte limit still holds."""

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leanlearn.data.sources import _fixed_width_bytes, read_table
from leanlearn.errors import DataError
from leanlearn.limits import Limits


def _batch_by_batch(path: Path) -> pd.DataFrame:
    meta = pq.ParquetFile(path)
    return pa.Table.from_batches(list(meta.iter_batches(batch_size=1000)), schema=meta.schema_arrow).to_pandas()


def _frames(n: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    floats = rng.normal(size=n)
    floats[::7] = np.nan
    return {
        "flags": pd.DataFrame({"a": rng.random(n) < 0.3, "b": rng.random(n) < 0.5}),
        "numbers": pd.DataFrame({
            "f": floats, "i": rng.integers(0, 9, n), "u8": rng.integers(0, 9, n).astype(np.uint8),
            "f32": rng.normal(size=n).astype(np.float32),
            "t": pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(n), unit="s"),
            "nb": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
            "ni": pd.array(rng.choice([1, 2, None], n), dtype="Int64"),
        }),
        "indexed": pd.DataFrame({"f": floats}, index=np.arange(n) * 2),
        "text": pd.DataFrame({"s": rng.choice(["x", "y"], n), "f": floats}),
        "categorical": pd.DataFrame({"c": pd.Categorical(rng.choice(["x", "y"], n)), "f": floats}),
    }


@pytest.mark.parametrize("name", ["flags", "numbers", "indexed", "text", "categorical"])
def test_parquet_reads_as_batch_by_batch(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.parquet"
    _frames(5000)[name].to_parquet(path)
    pd.testing.assert_frame_equal(read_table(path), _batch_by_batch(path), check_exact=True)


def test_fixed_width_bytes_only_for_fixed_width_schemas() -> None:
    assert _fixed_width_bytes(pa.schema([("ok", pa.bool_()), ("t", pa.timestamp("us"))]), 100) == 13 + 800
    for kind in (pa.string(), pa.dictionary(pa.int32(), pa.string()), pa.decimal128(10, 2), pa.list_(pa.int8())):
        assert _fixed_width_bytes(pa.schema([("x", kind)]), 100) is None


def test_fixed_width_file_over_the_byte_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "flags.parquet"
    _frames(100_000)["flags"].to_parquet(path)
    with pytest.raises(DataError, match=r"flags\.parquet: has 25,000 bytes once decoded, over the limit of 20,000"):
        read_table(path, limits=Limits(max_bytes=20_000))
    assert len(read_table(path, limits=Limits(max_bytes=25_000))) == 100_000
