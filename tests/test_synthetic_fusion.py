"""The synthetic plant fused end-to-end through the shipped declarative pipeline ``pipelines/synthetic_line.yaml``.

Six heterogeneous exports (two MES with different material codes and time formats, ERP demand, WMS moves, PLC
signals, the material map) go in; the canonical tables :func:`make_line` knows to be true must come out — row for
row, value for value — with every row read accounted for. The plant runs one day from midnight in Berlin on
31 March 2024, so L1's local timestamps cross the change to summer time; the export never writes a time the change
skips, so nothing is quarantined. The autumn change is the one case where rows *are* quarantined, on purpose: L1's
export writes the repeated hour twice without an offset (last test).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leanlearn.cli import app
from leanlearn.data.fusion import FusionResult, fuse, load_fusion
from leanlearn.data.schema import REASONS
from leanlearn.data.synthetic import SyntheticData, make_line
from leanlearn.mining.miner import RuleMiner
from leanlearn.pipeline import shipped_pipeline

SIGNAL_HZ = 0.2  # a reading every 5 s keeps the test fast; every operation (≥ 13 s) still holds readings
SOURCES = ("mes_l1", "mes_l2", "erp_demand", "wms_moves", "plc_signals")
KEYS = {"operations": ["line", "station", "start"], "downtime": ["line", "station", "start"],
        "demand": ["line", "material", "period_start"], "moves": ["line", "start", "material", "from_location"],
        "signals": ["line", "station", "name", "ts"]}


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticData, Path]:
    folder = tmp_path_factory.mktemp("plant")
    data = make_line(seed=0, signal_hz=SIGNAL_HZ)
    data.write(folder)
    return data, folder


@pytest.fixture(scope="module")
def fused(plant: tuple[SyntheticData, Path]) -> FusionResult:
    return fuse(load_fusion(shipped_pipeline("synthetic_line"), base=plant[1]))


def ordered(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    return frame.sort_values(KEYS[table], kind="mergesort").reset_index(drop=True)


def texts(values: pd.Series) -> list[str | None]:
    return values.astype(object).where(values.notna(), None).astype(object).tolist()


def utc_ns(values: pd.Series) -> np.ndarray:
    return values.dt.tz_convert("UTC").dt.as_unit("ns").to_numpy()


def assert_same(fused: pd.DataFrame, canonical: pd.DataFrame, table: str) -> None:
    """Every canonical column equal in the fused table: text as text, times to the nanosecond, numbers to 1e-9."""
    got, want = ordered(fused, table), ordered(canonical, table)
    assert len(got) == len(want)
    for column in want.columns:
        a, b = got[column], want[column]
        if isinstance(b.dtype, pd.DatetimeTZDtype):
            assert str(a.dt.tz) == "UTC", (table, column)
            np.testing.assert_array_equal(utc_ns(a), utc_ns(b), err_msg=f"{table}.{column}")
        elif pd.api.types.is_bool_dtype(b.dtype):
            assert a.astype(bool).tolist() == b.tolist(), (table, column)
        elif pd.api.types.is_numeric_dtype(b.dtype):
            np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=0, atol=1e-9,
                                       err_msg=f"{table}.{column}")
        else:
            assert texts(a) == texts(b), (table, column)


# -- every row accounted for -----------------------------------------------------------------------------------------
def test_every_row_of_every_source_is_used_and_nothing_is_quarantined(plant: tuple[SyntheticData, Path],
                                                                     fused: FusionResult) -> None:
    data, _ = plant
    rec = fused.reconciliation.set_index("source")
    assert list(rec.index) == list(SOURCES)
    assert (rec["read"] == rec["used"] + rec["quarantined"]).all()
    assert (rec[list(REASONS)].sum(axis=1) == rec["quarantined"]).all()
    for source in SOURCES:
        assert rec.loc[source, "read"] == len(data.raw[source]), source
    # the spring change skips 02:00-03:00 local on 31 March, and the L1 export never writes such a time: no row of
    # the synthetic plant is malformed, so nothing may be quarantined (readings between operations are kept)
    assert rec["quarantined"].sum() == 0 and fused.quarantine.empty, fused.top_reasons()
    assert rec["used"].sum() == sum(len(data.raw[s]) for s in SOURCES)


def test_table_row_counts_equal_the_canonical_ones(plant: tuple[SyntheticData, Path], fused: FusionResult) -> None:
    data, _ = plant
    for table in ("operations", "downtime", "demand", "moves", "signals"):
        assert len(fused.tables[table]) == len(data.canonical[table]), table
    ops = fused.tables["operations"]
    raw = data.raw
    assert len(ops) == raw["mes_l1"]["Vorgang"].isin(["Fertigung", "Ruesten"]).sum() + \
        raw["mes_l2"]["event"].isin(["RUN", "SETUP"]).sum()
    assert len(fused.tables["downtime"]) == raw["mes_l1"]["Vorgang"].isin(["Stoerung", "Wartung"]).sum() + \
        (raw["mes_l2"]["event"] == "DOWN").sum()


# -- the tables equal the truth --------------------------------------------------------------------------------------
def test_operations_equal_the_canonical_ones(plant: tuple[SyntheticData, Path], fused: FusionResult) -> None:
    assert_same(fused.tables["operations"], plant[0].canonical["operations"], "operations")
    assert list(fused.tables["operations"].columns[:8]) == ["line", "station", "unit_id", "order_id", "material",
                                                            "kind", "start", "end"]


@pytest.mark.parametrize("table", ["downtime", "demand", "moves", "signals"])
def test_other_tables_equal_the_canonical_ones(plant: tuple[SyntheticData, Path], fused: FusionResult,
                                               table: str) -> None:
    assert_same(fused.tables[table], plant[0].canonical[table], table)


def test_each_systems_material_codes_become_the_canonical_ones(plant: tuple[SyntheticData, Path],
                                                               fused: FusionResult) -> None:
    data, _ = plant
    materials = set(data.truth["materials"])
    ops = fused.tables["operations"]
    for table in ("operations", "demand", "moves"):
        assert set(fused.tables[table]["material"]) == materials, table
    codes = data.raw["material_map"]
    for line, raw, column, system in (("L1", data.raw["mes_l1"], "Material", "mes_l1"),
                                      ("L2", data.raw["mes_l2"], "item", "mes_l2")):
        used = raw[column].dropna()
        assert not set(used) & materials  # the systems' own codes ...
        expected = used.map(dict(zip(codes[system], codes["material"]))).value_counts().sort_index()
        got = ops.loc[ops["line"] == line, "material"].value_counts().sort_index()  # ... mapped one to one
        assert got.to_dict() == expected.to_dict(), line


def test_berlin_local_times_become_utc_across_the_spring_change(plant: tuple[SyntheticData, Path],
                                                                fused: FusionResult) -> None:
    data, _ = plant
    change = pd.Timestamp(data.truth["dst_changes"][0]["at"])
    assert data.truth["dst_changes"][0]["kind"] == "spring_forward" and change == pd.Timestamp("2024-03-31 01:00Z")
    ops = fused.tables["operations"]
    l1 = ordered(ops[ops["line"] == "L1"], "operations")
    raw = data.raw["mes_l1"]
    raw = raw[raw["Vorgang"].isin(["Fertigung", "Ruesten"])]
    local = pd.to_datetime(raw["Beginn"], format="%d.%m.%Y %H:%M:%S")
    by_key = pd.DataFrame({"station": raw["Arbeitsplatz"].to_numpy(), "local": local.to_numpy()})
    by_key = by_key.sort_values(["station", "local"], kind="mergesort").reset_index(drop=True)
    offset = by_key["local"] - l1["start"].dt.tz_localize(None).dt.as_unit("ns")
    before = l1["start"] < change
    assert before.any() and (~before).any()
    assert set(offset[before]) == {pd.Timedelta(hours=1)} and set(offset[~before]) == {pd.Timedelta(hours=2)}
    # no gap and no overlap on a station across the change: each operation starts at or after the previous end
    for _, group in l1.groupby("station"):
        assert (group["start"].iloc[1:].to_numpy() >= group["end"].iloc[:-1].to_numpy()).all()


def test_plc_tags_split_into_line_station_and_signal_name(plant: tuple[SyntheticData, Path],
                                                          fused: FusionResult) -> None:
    signals = fused.tables["signals"]
    assert set(signals["name"]) == {"humidity", "temperature"}
    assert set(signals["line"]) == {"L1", "L2"} and set(signals["station"]) == set(plant[0].truth["stations"])
    counts = signals.groupby(["line", "station", "name"]).size()
    assert len(counts) == 2 * 4 * 2 and counts.nunique() == 1


def test_humidity_and_temperature_means_equal_the_canonical_ones(plant: tuple[SyntheticData, Path],
                                                                 fused: FusionResult) -> None:
    # the simulation averages the readings in [start, end); the pipeline declares `closed: left` to match, so a
    # reading at the instant one operation hands over to the next counts for the next one only, as in the truth
    got = ordered(fused.tables["operations"], "operations")
    want = ordered(plant[0].canonical["operations"], "operations")
    for column in ("humidity_mean", "temperature_mean"):
        assert got[column].notna().all()
        np.testing.assert_allclose(got[column].to_numpy(), want[column].to_numpy(), rtol=0, atol=1e-9)


def test_rule_miner_on_the_fused_s2_operations_recovers_the_humidity_rule(plant: tuple[SyntheticData, Path],
                                                                          fused: FusionResult) -> None:
    truth = plant[0].truth["defect_rule"]
    ops = fused.tables["operations"]
    s2 = ops[(ops["kind"] == "production") & (ops["station"] == truth["station"])].reset_index(drop=True)
    X = s2[["humidity_mean", "temperature_mean", "speed", "material"]]
    rules = RuleMiner().fit(X, s2["defect"]).rules_
    assert len(rules) > 0
    first = rules[0].conditions
    assert [(c.feature, c.op) for c in first] == [(truth["feature"], truth["op"])]
    assert first[0].value == pytest.approx(truth["value"], abs=2.0)


# -- the command line ------------------------------------------------------------------------------------------------
def test_leanlearn_fuse_runs_the_pipeline_copied_next_to_the_exports(plant: tuple[SyntheticData, Path],
                                                                     tmp_path: Path) -> None:
    data, folder = plant
    yaml_file = Path(shutil.copy(shipped_pipeline("synthetic_line"), folder / "synthetic_line.yaml"))
    out = tmp_path / "fused"
    result = CliRunner().invoke(app, ["fuse", str(yaml_file), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    for table in ("operations", "downtime", "demand", "moves", "signals", "quarantine"):
        assert (out / f"{table}.parquet").is_file(), table
    assert (out / "reconciliation.json").is_file()
    ops = pd.read_parquet(out / "operations.parquet")
    assert len(ops) == len(data.canonical["operations"])
    assert {"humidity_mean", "temperature_mean"} <= set(ops.columns)
    assert len(pd.read_parquet(out / "quarantine.parquet")) == 0


# -- the autumn change: the one place the plant's exports cannot be read unambiguously -------------------------------
def test_autumn_rows_in_the_repeated_hour_are_quarantined_and_the_rest_is_exact(tmp_path: Path) -> None:
    data = make_line(seed=0, days=0.2, signal_hz=SIGNAL_HZ, start="2024-10-26 22:00:00+00:00")
    data.write(tmp_path)
    result = fuse(load_fusion(shipped_pipeline("synthetic_line"), base=tmp_path))
    rec = result.reconciliation.set_index("source")
    assert (rec["read"] == rec["used"] + rec["quarantined"]).all()
    raw = data.raw["mes_l1"]
    repeated = pd.Series(False, index=raw.index)
    for column in ("Beginn", "Ende"):  # 02:00-03:00 local happens twice; L1 writes no offset
        local = pd.to_datetime(raw[column], format="%d.%m.%Y %H:%M:%S")
        repeated |= local.dt.tz_localize("Europe/Berlin", ambiguous="NaT").isna()
    assert repeated.sum() > 0
    q = result.quarantine
    assert set(q["reason"]) == {"ambiguous_time"} and set(q["source"]) == {"mes_l1"}
    assert sorted(q["row"]) == raw.index[repeated].tolist()  # exactly those rows, each once
    assert rec["quarantined"].sum() == repeated.sum()
    # every other row is exact: L1's rows outside the repeated hour, and all of L2 (epoch milliseconds know no fold)
    for table in ("operations", "downtime"):
        canonical = data.canonical[table]
        twice = pd.Series(False, index=canonical.index)
        for column in ("start", "end"):
            local = canonical[column].dt.tz_convert("Europe/Berlin").dt.tz_localize(None)
            twice |= local.dt.tz_localize("Europe/Berlin", ambiguous="NaT").isna()
        expected = canonical[(canonical["line"] == "L2") | ~twice]
        assert len(expected) < len(canonical)
        assert_same(result.tables[table], expected, table)
