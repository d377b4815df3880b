"""Fusion by declarative mapping: every row lands in a canonical table or in quarantine, and the counts add up."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from leanlearn.cli import app
from leanlearn.data.datasets import data_file
from leanlearn.data.fusion import (
    FusionResult,
    attach_signals,
    fuse,
    load_fusion,
    to_utc,
)
from leanlearn.data.schema import REASONS
from leanlearn.errors import DataError, MappingError
from leanlearn.lean.flows import inventory, levelling, transport
from leanlearn.pipeline import shipped_pipeline

runner = CliRunner()
UTC = "UTC"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


def assert_reconciled(result: FusionResult) -> None:
    rec = result.reconciliation
    assert (rec["read"] == rec["used"] + rec["quarantined"]).all(), rec
    assert (rec[list(REASONS)].sum(axis=1) == rec["quarantined"]).all(), rec
    assert rec["quarantined"].sum() == len(result.quarantine)


# -- the real 4TU log -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fused_4tu() -> FusionResult:
    return fuse(shipped_pipeline("production_4tu"))


@pytest.fixture(scope="module")
def raw_4tu() -> pd.DataFrame:
    return pd.read_csv(data_file("production_4tu.csv.gz"))


def test_4tu_reconciles_exactly_4543_rows(fused_4tu: FusionResult) -> None:
    assert_reconciled(fused_4tu)
    record = fused_4tu.reconciliation_json()["sources"][0]
    assert record["read"] == 4543
    assert record["read"] == record["used"] + record["quarantined"]
    assert record == {"source": "production_4tu", "read": 4543, "used": 4521, "quarantined": 22,
                      "reasons": {"duplicate": 22}}


def test_4tu_quarantines_exactly_the_rows_the_export_repeats(fused_4tu: FusionResult, raw_4tu: pd.DataFrame) -> None:
    repeated = raw_4tu.index[raw_4tu.duplicated(keep="first")].tolist()
    assert sorted(fused_4tu.quarantine["row"].tolist()) == repeated
    assert set(fused_4tu.quarantine["reason"]) == {"duplicate"}


def test_4tu_report_types_route_to_setup_production_and_downtime(fused_4tu: FusionResult,
                                                                 raw_4tu: pd.DataFrame) -> None:
    ops, down = fused_4tu.tables["operations"], fused_4tu.tables["downtime"]
    kept = raw_4tu.drop_duplicates()
    assert ops["kind"].value_counts().to_dict() == {
        "production": int((kept["Report Type"] == "D").sum()), "setup": int((kept["Report Type"] == "S").sum())}
    assert len(down) == 53 == int((raw_4tu["Report Type"] == "B").sum())
    assert set(down["reason"]) == {"breakdown"} and not down["planned"].any()
    assert set(ops["line"]) == set(down["line"]) == {"4tu"}
    assert int(ops["rework"].sum()) == int((kept["Rework"] == "Y").sum())
    assert ops["scrap_qty"].sum() == kept.loc[kept["Report Type"] != "B", "Qty Rejected"].sum()
    assert {"order_id", "station", "material", "worker", "activity", "good_qty", "mrb_qty"} <= set(ops.columns)


def test_4tu_setup_and_breakdown_minutes_per_machine_come_from_the_timestamps(
    fused_4tu: FusionResult, raw_4tu: pd.DataFrame
) -> None:
    fmt = "%Y/%m/%d %H:%M:%S.%f"
    raw = raw_4tu.drop_duplicates()
    minutes = (pd.to_datetime(raw["Complete Timestamp"], format=fmt) - pd.to_datetime(raw["Start Timestamp"],
                                                                                       format=fmt)).dt.total_seconds()
    expected_setup = (minutes[raw["Report Type"] == "S"] / 60).groupby(raw["Resource"]).sum()
    expected_down = (minutes[raw["Report Type"] == "B"] / 60).groupby(raw["Resource"]).sum()

    ops, down = fused_4tu.tables["operations"], fused_4tu.tables["downtime"]
    setups = ops[ops["kind"] == "setup"]
    setup_min = ((setups["end"] - setups["start"]).dt.total_seconds() / 60).groupby(setups["station"]).sum()
    down_min = ((down["end"] - down["start"]).dt.total_seconds() / 60).groupby(down["station"]).sum()
    pd.testing.assert_series_equal(setup_min.sort_index(), expected_setup.sort_index(), check_names=False)
    pd.testing.assert_series_equal(down_min.sort_index(), expected_down.sort_index(), check_names=False)
    assert down_min["Machine 4 - Turning & Milling"] > 0


def test_4tu_times_are_utc_and_sorted(fused_4tu: FusionResult) -> None:
    for frame in fused_4tu.tables.values():
        assert str(frame["start"].dt.tz) == "UTC"
        assert frame["start"].is_monotonic_increasing
        assert (frame["end"] >= frame["start"]).all()
    assert fused_4tu.tables["operations"]["start"].min() == ts("2012-01-02 00:00")


# -- a multi-source line: MES, ERP, WMS, PLC ------------------------------------------------------------------------
MES = """Auftrag;Maschine;Typ;Artikel;Beginn;Ende;Gutmenge;Ausschuss;TempF
A3;P1;P;4711;05.03.2024 08:00;05.03.2024 09:00;90;2;68
A1;P1;R;4711;04.03.2024 08:00;04.03.2024 08:30;0;0;68
A1;P1;P;4711;04.03.2024 08:30;04.03.2024 10:00;80;1;77
A2;P2;P;4712;04.03.2024 09:00;04.03.2024 11:00;30;0;86
A2;P2;P;4712;04.03.2024 09:00;04.03.2024 11:00;30;0;86
A4;P1;X;4711;04.03.2024 12:00;04.03.2024 13:00;5;0;68
"""
DEMAND = [
    {"Artikel": "4711", "von": "2024-03-04T00:00:00Z", "bis": "2024-03-06T00:00:00Z", "Menge": 200},
    {"Artikel": "4712", "von": "2024-03-04T00:00:00Z", "bis": "2024-03-05T00:00:00Z", "Menge": 50},
]
PLC = """Anlage,Zeit,Signal,Wert
press1,2024-03-04T08:10:00+01:00,humidity,60
press1,2024-03-04T08:20:00+01:00,humidity,62
press1,2024-03-04T08:30:00+01:00,humidity,64
press1,2024-03-04T09:00:00+01:00,humidity,70
press1,2024-03-04T09:00:00+01:00,temp,80
press1,2024-03-04T13:00:00+01:00,humidity,99
"""


@pytest.fixture(scope="module")
def line_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("line")
    (tmp_path / "mes.csv").write_text(MES, encoding="utf-8")
    (tmp_path / "erp.jsonl").write_text("\n".join(json.dumps(r) for r in DEMAND) + "\n", encoding="utf-8")
    (tmp_path / "plc.csv").write_text(PLC, encoding="utf-8")
    (tmp_path / "codes.csv").write_text("erp,mes\n4711,BRK-200\n4712,BRK-300\n", encoding="utf-8")
    t0 = int(ts("2024-03-04 06:00").timestamp() * 1000)
    pd.DataFrame({
        "Material": ["4711", "4711", "4711"], "Menge": [100.0, 40.0, 10.0],
        "Von": ["supplier", "WH", "P1"], "Nach": ["WH", "P1", "WH"],
        "t_ms": [t0, t0 + 3_600_000, t0 + 7_200_000], "t_end_ms": [t0 + 600_000, t0 + 4_500_000, np.nan],
    }).to_parquet(tmp_path / "wms.parquet")
    return tmp_path


def line_pipeline(**aggregate: Any) -> dict[str, Any]:
    return {
        "name": "press-line", "line": "L1",
        "codes": {"erp_to_mes": {"path": "codes.csv", "from": "erp", "to": "mes"}},
        "sources": [
            {"name": "mes", "path": "mes.csv", "time": {"format": "%d.%m.%Y %H:%M", "zone": "Europe/Berlin"},
             "feeds": [{
                 "table": "operations", "where": {"Typ": ["P", "R"]},
                 "columns": {"order_id": "Auftrag", "station": "Maschine",
                             "kind": {"column": "Typ", "codes": {"P": "production", "R": "setup"}},
                             "material": {"column": "Artikel", "codes": "erp_to_mes"},
                             "start": "Beginn", "end": "Ende",
                             "good_qty": {"column": "Gutmenge", "type": "number"},
                             "scrap_qty": {"column": "Ausschuss", "type": "number"}},
                 "convert": {"TempF": {"to": "temp_C", "convert": "(x - 32) * 5 / 9"}},
                 "duplicates": ["order_id", "station", "start"]}]},
            {"name": "erp", "path": "erp.jsonl",
             "feeds": [{"table": "demand", "columns": {"material": {"column": "Artikel", "codes": "erp_to_mes"},
                                                       "period_start": "von", "period_end": "bis", "qty": "Menge"}}]},
            {"name": "wms", "path": "wms.parquet", "time": {"format": "epoch", "unit": "ms"},
             "feeds": [{"table": "moves", "columns": {"material": {"column": "Material", "codes": "erp_to_mes"},
                                                      "qty": "Menge", "from_location": "Von", "to_location": "Nach",
                                                      "start": "t_ms", "end": "t_end_ms"}}]},
            {"name": "plc", "path": "plc.csv",
             "feeds": [{"table": "signals", "columns": {"station": {"column": "Anlage",
                                                                    "codes": {"press1": "P1", "press2": "P2"}},
                                                        "ts": "Zeit", "name": "Signal", "value": "Wert"}}]},
        ],
        "aggregate": {"signals": {"humidity": ["mean", "max"], "temp": "last"}, **aggregate},
    }


@pytest.fixture(scope="module")
def line_result(line_dir: Path) -> FusionResult:
    return fuse(load_fusion(line_pipeline(), base=line_dir))


def test_every_source_reconciles_exactly(line_result: FusionResult) -> None:
    assert_reconciled(line_result)
    rec = line_result.reconciliation.set_index("source")
    assert rec.loc["mes", ["read", "used", "quarantined", "duplicate", "unmapped"]].tolist() == [6, 4, 2, 1, 1]
    assert rec.loc["erp", ["read", "used", "quarantined"]].tolist() == [2, 2, 0]
    assert rec.loc["wms", ["read", "used", "quarantined"]].tolist() == [3, 3, 0]
    assert rec.loc["plc", ["read", "used", "quarantined", "out_of_window"]].tolist() == [6, 5, 1, 1]


def test_local_berlin_times_become_utc_and_events_are_sorted(line_result: FusionResult) -> None:
    ops = line_result.tables["operations"]
    assert ops["start"].is_monotonic_increasing
    assert ops["start"].tolist() == [ts("2024-03-04 07:00"), ts("2024-03-04 07:30"), ts("2024-03-04 08:00"),
                                     ts("2024-03-05 07:00")]
    assert ops["order_id"].tolist() == ["A1", "A1", "A2", "A3"]  # A3 came first in the file


def test_codes_from_a_csv_and_inline_map_materials_kinds_and_stations(line_result: FusionResult) -> None:
    ops = line_result.tables["operations"]
    assert ops["material"].tolist() == ["BRK-200", "BRK-200", "BRK-300", "BRK-200"]
    assert ops["kind"].tolist() == ["setup", "production", "production", "production"]
    assert set(line_result.tables["signals"]["station"]) == {"P1"}
    assert set(line_result.tables["demand"]["material"]) == {"BRK-200", "BRK-300"}


def test_fahrenheit_is_converted_by_the_declared_expression(line_result: FusionResult) -> None:
    assert line_result.tables["operations"]["temp_C"].round(6).tolist() == [20.0, 25.0, 30.0, 20.0]


def test_unit_table_converts_like_the_expression(line_dir: Path) -> None:
    doc = line_pipeline()
    feed = doc["sources"][0]["feeds"][0]
    feed.pop("convert")
    feed["columns"]["temp_C"] = {"column": "TempF", "unit": {"from": "degF", "to": "degC"}}
    result = fuse(load_fusion(doc, base=line_dir))
    assert result.tables["operations"]["temp_C"].round(6).tolist() == [20.0, 25.0, 30.0, 20.0]


def test_duplicate_keeps_the_first_and_quarantines_the_copy(line_result: FusionResult) -> None:
    dup = line_result.quarantine[line_result.quarantine["reason"] == "duplicate"]
    assert dup[["source", "row"]].values.tolist() == [["mes", 4]]
    assert "as row 3" in dup["message"].iloc[0]
    assert (line_result.tables["operations"]["order_id"] == "A2").sum() == 1


def test_rows_no_feed_takes_are_quarantined_as_unmapped(line_result: FusionResult) -> None:
    unmapped = line_result.quarantine[line_result.quarantine["reason"] == "unmapped"]
    assert unmapped[["row", "column", "value"]].values.tolist() == [[5, "Typ", "X"]]


def test_signals_are_aggregated_onto_each_operation_window(line_result: FusionResult) -> None:
    ops = line_result.tables["operations"].set_index("order_id")
    setup, run = ops.loc["A1"].iloc[0], ops.loc["A1"].iloc[1]
    assert setup["humidity_mean"] == pytest.approx(62.0)  # 60, 62 and 64 at 07:30 (the window is closed)
    assert setup["humidity_max"] == 64.0
    assert run["humidity_mean"] == pytest.approx(67.0)  # 64 at 07:30 and 70 at 08:00
    assert run["temp_last"] == 80.0
    assert np.isnan(ops.loc["A2", "humidity_mean"]) and np.isnan(ops.loc["A3", "temp_last"])


def test_reading_in_no_window_is_quarantined_out_of_window(line_result: FusionResult) -> None:
    outside = line_result.quarantine[line_result.quarantine["reason"] == "out_of_window"]
    assert outside[["source", "row", "table"]].values.tolist() == [["plc", 5, "signals"]]
    assert 99.0 not in line_result.tables["signals"]["value"].tolist()


def test_outside_keep_keeps_the_reading_and_counts_it_used(line_dir: Path) -> None:
    result = fuse(load_fusion(line_pipeline(outside="keep"), base=line_dir))
    assert_reconciled(result)
    assert result.reconciliation.set_index("source").loc["plc", ["used", "quarantined"]].tolist() == [6, 0]
    assert 99.0 in result.tables["signals"]["value"].tolist()


def test_epoch_milliseconds_feed_moves_and_inventory_runs_per_location(line_result: FusionResult) -> None:
    moves = line_result.tables["moves"]
    assert moves["start"].tolist() == [ts("2024-03-04 06:00"), ts("2024-03-04 07:00"), ts("2024-03-04 08:00")]
    stock = inventory(moves)
    final = stock.groupby("location")["stock"].last().to_dict()
    assert final == {"supplier": -100.0, "WH": 70.0, "P1": 30.0}
    wh = stock[stock["location"] == "WH"]
    assert wh["stock"].tolist() == [100.0, 60.0, 70.0]
    assert transport(moves)["transport_min"].tolist()[:2] == [10.0, 15.0]


def test_levelling_compares_demand_and_output_per_day(line_result: FusionResult) -> None:
    table = levelling(line_result.tables["operations"], line_result.tables["demand"], "D")
    brk = table[table["material"] == "BRK-200"]
    assert brk[["demand", "output", "deviation"]].values.tolist() == [[100.0, 80.0, -20.0], [100.0, 90.0, -10.0]]
    assert brk["relative_deviation"].tolist() == [-0.2, -0.1]
    assert brk["period_start"].tolist() == [ts("2024-03-04"), ts("2024-03-05")]
    other = table[table["material"] == "BRK-300"].iloc[0]
    assert (other["demand"], other["output"], other["relative_deviation"]) == (50.0, 30.0, -0.4)


def test_levelling_output_without_demand_has_no_relative_deviation() -> None:
    ops = pd.DataFrame({"material": ["M"], "start": [ts("2024-03-04 08:00")], "end": [ts("2024-03-04 09:00")],
                        "good_qty": [5]})
    demand = pd.DataFrame({"material": ["N"], "period_start": [ts("2024-03-04")], "period_end": [ts("2024-03-05")],
                           "qty": [10.0]})
    table = levelling(ops, demand, "D").set_index("material")
    assert table.loc["M", "demand"] == 0.0 and table.loc["M", "output"] == 5.0
    assert np.isnan(table.loc["M", "relative_deviation"])
    assert table.loc["N", "deviation"] == -10.0


def test_attach_signals_counts_overlapping_windows_for_both() -> None:
    t = ts("2024-03-01 08:00")
    ops = pd.DataFrame({"line": "L", "station": "S", "start": [t, t + pd.Timedelta("5min")],
                        "end": [t + pd.Timedelta("10min"), t + pd.Timedelta("20min")]})
    sig = pd.DataFrame({"line": "L", "station": ["S", "S", "T"], "name": "v", "value": [1.0, 3.0, 5.0],
                        "ts": [t + pd.Timedelta("7min"), t + pd.Timedelta("15min"), t + pd.Timedelta("7min")]})
    joined, in_window = attach_signals(ops, sig, {"v": ["mean", "count", "first"]})
    assert joined["v_mean"].tolist() == [1.0, 2.0]
    assert joined["v_count"].tolist() == [1.0, 2.0]
    assert joined["v_first"].tolist() == [1.0, 1.0]
    assert in_window.tolist() == [True, True, False]


def test_write_stores_parquet_tables_quarantine_and_reconciliation(line_result: FusionResult, tmp_path: Path) -> None:
    out = line_result.write(tmp_path / "fused")
    names = sorted(p.name for p in out.iterdir())
    assert names == ["demand.parquet", "moves.parquet", "operations.parquet", "quarantine.parquet",
                     "reconciliation.json", "signals.parquet"]
    ops = pd.read_parquet(out / "operations.parquet")
    pd.testing.assert_frame_equal(ops, line_result.tables["operations"], check_dtype=False)
    doc = json.loads((out / "reconciliation.json").read_text())
    assert doc["pipeline"] == "press-line"
    assert {s["source"]: s["read"] for s in doc["sources"]} == {"mes": 6, "erp": 2, "wms": 3, "plc": 6}
    assert len(pd.read_parquet(out / "quarantine.parquet")) == len(line_result.quarantine)


def test_yaml_file_paths_are_relative_to_the_yaml(line_dir: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = line_dir / "line.yaml"
    path.write_text(yaml.safe_dump(line_pipeline()), encoding="utf-8")
    monkeypatch.chdir(tmp_path.parent)
    result = fuse(path)
    assert result.reconciliation["read"].tolist() == [6, 2, 3, 6]


def test_a_row_rejected_by_one_of_its_feeds_feeds_no_table(tmp_path: Path) -> None:
    (tmp_path / "mes.csv").write_text("m,s,e,q\nP1,2024-03-01T08:00Z,2024-03-01T09:00Z,5\n"
                                      "P1,2024-03-01T10:00Z,2024-03-01T11:00Z,lots\n", encoding="utf-8")
    doc = {"name": "x", "line": "L", "sources": [{"path": "mes.csv", "feeds": [
        {"table": "operations", "columns": {"station": "m", "start": "s", "end": "e"}},
        {"table": "moves", "columns": {"material": {"value": "M"}, "qty": "q", "from_location": "m",
                                       "to_location": {"value": "WH"}, "start": "e"}}]}]}
    result = fuse(load_fusion(doc, base=tmp_path))
    assert_reconciled(result)
    assert len(result.tables["operations"]) == len(result.tables["moves"]) == 1
    assert result.quarantine[["row", "reason", "value"]].values.tolist() == [[1, "bad_number", "lots"]]


def test_sql_source_feeds_a_table(tmp_path: Path) -> None:
    db = tmp_path / "erp.db"
    with sqlite3.connect(db) as con:
        con.execute("create table demand (mat text, ps text, pe text, qty real)")
        con.executemany("insert into demand values (?, ?, ?, ?)",
                        [("M1", "2024-03-04", "2024-03-11", 70.0), ("M2", "2024-03-04", "2024-03-11", -1)])
    doc = {"name": "x", "line": "L", "sources": [{"name": "erp", "url": f"sqlite:///{db}", "table": "demand",
                                                  "feeds": [{"table": "demand", "columns": {
                                                      "material": "mat", "period_start": "ps",
                                                      "period_end": "pe", "qty": "qty"}}]}]}
    result = fuse(doc)
    assert_reconciled(result)
    assert result.tables["demand"]["qty"].tolist() == [70.0, -1.0]
    assert result.tables["demand"]["period_start"].iloc[0] == ts("2024-03-04")


def test_sql_url_can_take_the_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEANLEARN_TEST_PW", "s3cret")
    doc = {"name": "x", "line": "L", "sources": [{"url": "postgresql://etl:${LEANLEARN_TEST_PW}@db/mes",
                                                  "table": "ops", "feeds": [{"table": "signals", "columns": {
                                                      "station": "s", "ts": "t", "name": "n", "value": "v"}}]}]}
    source = load_fusion(doc).sources[0]
    assert source.url == "postgresql://etl:s3cret@db/mes"
    assert "s3cret" not in source.label and "***" in source.label


def test_mixed_offsets_are_each_converted_to_utc() -> None:
    times, problems = to_utc(pd.Series(["2024-03-01T08:00+01:00", "2024-07-01T08:00+02:00", "2024-03-01T07:00Z",
                                        "2024-03-01 08:00"]), zone="Europe/Berlin")
    assert problems.empty
    assert times.tolist() == [ts("2024-03-01 07:00"), ts("2024-07-01 06:00"), ts("2024-03-01 07:00"),
                              ts("2024-03-01 07:00")]


def test_dst_policies_shift_the_gap_and_infer_the_fold_from_row_order() -> None:
    night = pd.Series(["2024-10-27 01:30", "2024-10-27 02:15", "2024-10-27 02:45", "2024-10-27 02:15",
                       "2024-10-27 02:45", "2024-10-27 03:30"])
    times, problems = to_utc(night, zone="Europe/Berlin", ambiguous="infer")
    assert problems.empty
    assert times.diff().dropna().dt.total_seconds().div(60).tolist() == [45, 30, 30, 30, 45]
    spring, problems = to_utc(pd.Series(["2024-03-31 02:30"]), zone="Europe/Berlin", nonexistent="shift_forward")
    assert problems.empty and spring.iloc[0] == ts("2024-03-31 01:00")
    late, _ = to_utc(pd.Series(["2024-10-27 02:30"]), zone="Europe/Berlin", ambiguous="latest")
    assert late.iloc[0] == ts("2024-10-27 01:30")


def test_sql_timestamps_without_zone_are_local_times(tmp_path: Path) -> None:
    times, problems = to_utc(pd.Series(pd.to_datetime(["2024-01-15 08:00", "2024-03-31 02:30"])),
                             zone="Europe/Berlin")
    assert times.iloc[0] == ts("2024-01-15 07:00")
    assert problems["reason"].tolist() == ["nonexistent_time"]


# -- split, window ends, base folder, 0/1 flags ---------------------------------------------------------------------
TAGS = """tag,ts,value
L1.P1.RH,2024-03-01T08:00:00Z,60
L1.P1.TEMP,2024-03-01T08:00:00Z,21.5
L1.P1.RH,2024-03-01T08:10:00Z,70
L1.P2,2024-03-01T08:10:00Z,1
L1.P1.RH,2024-03-01T08:20:00Z,80
"""


def tag_pipeline(**name_spec: Any) -> dict[str, Any]:
    name = {"column": "tag", "split": {"sep": ".", "part": -1}, "codes": {"RH": "humidity", "TEMP": "temperature"},
            **name_spec}
    return {"name": "tags", "line": "plant", "sources": [{"name": "plc", "path": "plc.csv", "feeds": [{
        "table": "signals", "columns": {"line": {"column": "tag", "split": {"sep": ".", "part": 0}},
                                        "station": {"column": "tag", "split": {"sep": ".", "part": 1}},
                                        "name": name, "ts": "ts", "value": "value"}}]}]}


def test_split_takes_line_station_and_signal_from_a_tag(tmp_path: Path) -> None:
    (tmp_path / "plc.csv").write_text(TAGS, encoding="utf-8")
    result = fuse(load_fusion(tag_pipeline(), base=tmp_path))
    assert_reconciled(result)
    signals = result.tables["signals"]
    assert signals[["line", "station", "name", "value"]].values.tolist() == [
        ["L1", "P1", "humidity", 60.0], ["L1", "P1", "temperature", 21.5], ["L1", "P1", "humidity", 70.0],
        ["L1", "P1", "humidity", 80.0]]
    # L1.P2 has no third part: -1 is then its second part, P2, which the codes do not know
    assert result.quarantine[["row", "reason", "column", "value"]].values.tolist() == [
        [3, "unknown_code", "tag", "L1.P2"]]


def test_split_quarantines_a_value_without_the_part_and_refuses_a_split_no_value_fits(tmp_path: Path) -> None:
    (tmp_path / "plc.csv").write_text(TAGS, encoding="utf-8")
    result = fuse(load_fusion(tag_pipeline(split={"sep": ".", "part": 2}), base=tmp_path))
    assert_reconciled(result)
    q = result.quarantine
    assert q[["row", "reason", "column", "value"]].values.tolist() == [[3, "missing_value", "tag", "L1.P2"]]
    assert "no part 2" in q["message"].iloc[0]
    with pytest.raises(DataError, match=r"plc.csv: column 'tag': no value has a part 3 when split at '\.'.*L1.P1.RH"):
        fuse(load_fusion(tag_pipeline(split={"sep": ".", "part": 3}), base=tmp_path))


@pytest.mark.parametrize(("split", "message"), [
    ({"sep": "."}, "split.part': is missing"),
    ({"sep": ".", "part": "last"}, "must be a whole number"),
    ({"sep": "", "part": 1}, "split.sep': must be non-empty text"),
    ({"sep": ".", "parts": 1}, "did you mean 'part'"),
])
def test_a_malformed_split_is_a_mapping_error(split: dict[str, Any], message: str) -> None:
    with pytest.raises(MappingError, match=message):
        load_fusion(tag_pipeline(split=split))


def test_closed_left_counts_a_reading_at_a_handover_for_the_next_operation_only(line_dir: Path) -> None:
    t = ts("2024-03-01 08:00")
    ops = pd.DataFrame({"line": "L", "station": "S", "start": [t, t + pd.Timedelta("10min")],
                        "end": [t + pd.Timedelta("10min"), t + pd.Timedelta("20min")]})
    sig = pd.DataFrame({"line": "L", "station": "S", "name": "v", "value": [1.0, 3.0, 5.0],
                        "ts": [t, t + pd.Timedelta("10min"), t + pd.Timedelta("20min")]})
    means = {closed: attach_signals(ops, sig, {"v": "mean"}, closed=closed)[0]["v_mean"].tolist()
             for closed in ("both", "left", "right", "neither")}
    assert means["both"] == [2.0, 4.0] and means["left"] == [1.0, 3.0] and means["right"] == [3.0, 5.0]
    assert np.isnan(means["neither"]).all()  # (08:00, 08:10) and (08:10, 08:20) hold no reading
    in_window = attach_signals(ops, sig, {"v": "mean"}, closed="left")[1]
    assert in_window.tolist() == [True, True, False]  # 08:20 ends the last window, which excludes its end
    result = fuse(load_fusion(line_pipeline(closed="left"), base=line_dir))
    assert_reconciled(result)
    run = result.tables["operations"].set_index("order_id").loc["A1"].iloc[1]
    assert run["humidity_mean"] == pytest.approx(67.0)  # 64 at 07:30 (its start) and 70 at 08:00 (inside)
    setup = result.tables["operations"].set_index("order_id").loc["A1"].iloc[0]
    assert setup["humidity_mean"] == pytest.approx(61.0)  # 64 at 07:30 is the end of the setup: not counted
    with pytest.raises(MappingError, match="aggregate.closed.*did you mean 'left'"):
        load_fusion(line_pipeline(closed="lft"), base=line_dir)


def test_base_overrides_the_folder_of_a_pipeline_file(line_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "line.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(line_pipeline()), encoding="utf-8")
    with pytest.raises(MappingError, match="codes.csv"):  # the code map is not next to the file ...
        load_fusion(path)
    result = fuse(load_fusion(path, base=line_dir))  # ... but in the folder given as base
    assert result.reconciliation["read"].tolist() == [6, 2, 3, 6]
    assert load_fusion(path, base=line_dir).origin == path


def test_numeric_zero_one_flags_with_empty_cells_are_booleans(tmp_path: Path) -> None:
    (tmp_path / "mes.csv").write_text("m,s,e,defect\nP1,2024-03-01T08:00Z,2024-03-01T09:00Z,1\n"
                                      "P1,2024-03-01T09:00Z,2024-03-01T10:00Z,0\n"
                                      "P1,2024-03-01T10:00Z,2024-03-01T11:00Z,\n"
                                      "P1,2024-03-01T11:00Z,2024-03-01T12:00Z,2\n", encoding="utf-8")
    doc = {"name": "x", "line": "L", "sources": [{"path": "mes.csv", "feeds": [{"table": "operations", "columns": {
        "station": "m", "start": "s", "end": "e", "defect": {"column": "defect", "type": "bool"}}}]}]}
    result = fuse(load_fusion(doc, base=tmp_path))  # the column reads as 1.0, 0.0, NaN, 2.0
    assert_reconciled(result)
    assert result.tables["operations"]["defect"].tolist() == [True, False, False]
    assert result.quarantine[["row", "reason", "column", "value"]].values.tolist() == [[3, "bad_bool", "defect",
                                                                                        "2.0"]]


# -- the CLI --------------------------------------------------------------------------------------------------------
def test_fuse_command_writes_tables_and_prints_the_reconciliation(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["fuse", str(shipped_pipeline("production_4tu")), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "4,543" in result.stdout and "4,521" in result.stdout and "duplicate" in result.stdout
    assert "Case 1" in result.stdout  # an example row of the top reason
    assert (out / "operations.parquet").is_file() and (out / "downtime.parquet").is_file()
    assert json.loads((out / "reconciliation.json").read_text())["sources"][0]["read"] == 4543


def test_fuse_command_json_prints_only_the_reconciliation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["fuse", str(shipped_pipeline("production_4tu")), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["sources"][0]["read"] == doc["sources"][0]["used"] + doc["sources"][0]["quarantined"] == 4543
    assert (tmp_path / "fused" / "production-4tu" / "operations.parquet").is_file()


def test_fuse_help_teaches_with_an_example() -> None:
    result = runner.invoke(app, ["fuse", "--help"])
    assert result.exit_code == 0
    assert "Examples" in result.stdout and "leanlearn fuse pipelines/production_4tu.yaml" in result.stdout
