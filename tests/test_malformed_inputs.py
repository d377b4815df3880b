"""Malformed inputs: each one is a clear error naming file, column and an example value — or a quarantine reason.

Never a traceback. Every case below is a distinct way real exports and pipelines go wrong.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from leanlearn.cli import app
from leanlearn.data.fusion import FusionResult, fuse, load_fusion
from leanlearn.data.schema import REASONS
from leanlearn.errors import DataError, LeanlearnError, MappingError

runner = CliRunner()
OPS = {"station": "m", "start": "s", "end": "e"}
GOOD = "m,s,e\nP1,2024-03-01 08:00,2024-03-01 09:00\n"


def pipeline(path: str = "data.csv", columns: dict[str, Any] | None = None, *, table: str = "operations",
             time: dict[str, Any] | None = None, feed: dict[str, Any] | None = None,
             source: dict[str, Any] | None = None, top: dict[str, Any] | None = None) -> dict[str, Any]:
    src: dict[str, Any] = {"name": "mes", "path": path,
                           "feeds": [{"table": table, "columns": columns or OPS, **(feed or {})}], **(source or {})}
    if time is not None:
        src["time"] = time
    return {"name": "t", "line": "L1", "sources": [src], **(top or {})}


def run(tmp_path: Path, data: str | bytes, name: str = "data.csv", **kwargs: Any) -> FusionResult:
    target = tmp_path / name
    if isinstance(data, bytes):
        target.write_bytes(data)
    else:
        target.write_text(data, encoding="utf-8")
    result = fuse(load_fusion(pipeline(name, **kwargs), base=tmp_path))
    rec = result.reconciliation
    assert (rec["read"] == rec["used"] + rec["quarantined"]).all()
    assert (rec[list(REASONS)].sum(axis=1) == rec["quarantined"]).all()
    return result


def quarantined(result: FusionResult) -> list[tuple[int, str, str | None, str | None]]:
    q = result.quarantine
    return list(zip(q["row"], q["reason"], q["column"], q["value"]))


def error(tmp_path: Path, data: str | bytes, *fragments: str, kind: type[LeanlearnError] = DataError,
          **kwargs: Any) -> str:
    with pytest.raises(kind) as info:
        run(tmp_path, data, **kwargs)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


# -- timestamps -----------------------------------------------------------------------------------------------------
def test_01_date_format_that_fits_no_value_is_an_error_naming_file_column_example_and_fix(tmp_path: Path) -> None:
    message = error(tmp_path, "m,s,e\nP1,01.03.2024 08:00,01.03.2024 09:00\n",
                    "data.csv", "column 's'", "'01.03.2024 08:00'", "%d.%m.%Y %H:%M")
    assert "ISO 8601" in message


def test_02_mixed_date_formats_in_one_column_quarantine_the_odd_ones(tmp_path: Path) -> None:
    result = run(tmp_path, "m,s,e\nP1,2024-03-01 08:00,2024-03-01 09:00\nP1,03/01/2024 10:00,2024-03-01 11:00\n")
    assert quarantined(result) == [(1, "bad_timestamp", "s", "03/01/2024 10:00")]
    assert "'%d/%m/%Y %H:%M' or format: '%m/%d/%Y %H:%M'" in result.quarantine["message"].iloc[0]


def test_03_offset_where_the_declared_format_has_none_is_quarantined(tmp_path: Path) -> None:
    result = run(tmp_path, "m,s,e\nP1,2024-03-01 08:00,2024-03-01 09:00\nP1,2024-03-01 08:00+01:00,2024-03-01 09:00\n",
                 time={"format": "%Y-%m-%d %H:%M"})
    assert quarantined(result) == [(1, "bad_timestamp", "s", "2024-03-01 08:00+01:00")]


def test_04_mixed_offsets_are_converted_each_to_utc_not_lost(tmp_path: Path) -> None:
    result = run(tmp_path, "m,s,e\nP1,2024-03-01T08:00+01:00,2024-03-01T09:00+01:00\n"
                           "P1,2024-07-01T08:00+02:00,2024-07-01T07:00Z\n", time={"zone": "Europe/Berlin"})
    assert result.quarantine.empty
    assert result.tables["operations"]["start"].dt.hour.tolist() == [7, 6]


def test_05_local_time_in_the_spring_gap_is_quarantined_nonexistent(tmp_path: Path) -> None:
    result = run(tmp_path, "m,s,e\nP1,2024-03-31 02:30,2024-03-31 03:30\nP1,2024-03-31 04:00,2024-03-31 05:00\n",
                 time={"zone": "Europe/Berlin"})
    assert quarantined(result) == [(0, "nonexistent_time", "s", "2024-03-31 02:30")]
    assert "shift_forward" in result.quarantine["message"].iloc[0]


def test_06_local_time_in_the_autumn_fold_is_quarantined_ambiguous(tmp_path: Path) -> None:
    result = run(tmp_path, "m,s,e\nP1,2024-10-27 01:00,2024-10-27 02:30\nP1,2024-10-27 04:00,2024-10-27 05:00\n",
                 time={"zone": "Europe/Berlin"})
    assert quarantined(result) == [(0, "ambiguous_time", "e", "2024-10-27 02:30")]
    assert "ambiguous: infer" in result.quarantine["message"].iloc[0]


def test_07_fold_that_cannot_be_inferred_from_row_order_is_quarantined(tmp_path: Path) -> None:
    result = run(tmp_path, "m,s,e\nP1,2024-10-27 02:30,2024-10-27 03:30\nP1,2024-10-27 04:00,2024-10-27 05:00\n",
                 time={"zone": "Europe/Berlin", "ambiguous": "infer"})
    assert quarantined(result) == [(0, "ambiguous_time", "s", "2024-10-27 02:30")]
    assert "cannot be inferred" in result.quarantine["message"].iloc[0]


def test_08_epoch_in_ms_declared_as_seconds_is_an_error_suggesting_ms(tmp_path: Path) -> None:
    error(tmp_path, "m,s,e\nP1,1709280000000,1709283600000\n", "data.csv", "column 's'", "1709280000000",
          "unit: ms", time={"format": "epoch", "unit": "s"})


def test_09_epoch_in_seconds_declared_as_ms_is_an_error_suggesting_seconds(tmp_path: Path) -> None:
    error(tmp_path, "m,s,e\nP1,1709280000,1709283600\n", "column 's'", "year 1970", "unit: s",
          time={"format": "epoch", "unit": "ms"})


def test_10_a_zero_epoch_among_good_ones_is_quarantined_as_implausible(tmp_path: Path) -> None:
    result = run(tmp_path, "m,s,e\nP1,1709280000,1709283600\nP1,0,1709283600\n", time={"format": "epoch"})
    assert quarantined(result) == [(1, "bad_timestamp", "s", "0")]
    assert "1980–2100" in result.quarantine["message"].iloc[0]


def test_11_format_without_a_year_is_an_error_about_implausible_dates(tmp_path: Path) -> None:
    error(tmp_path, "m,s,e\nP1,01.03 08:00,01.03 09:00\n", "column 's'", "'01.03 08:00'", "1900-03-01",
          time={"format": "%d.%m %H:%M"})


def test_12_text_in_an_epoch_column_among_numbers_is_quarantined(tmp_path: Path) -> None:
    result = run(tmp_path, "m,s,e\nP1,1709280000,1709283600\nP1,yesterday,1709283600\n", time={"format": "epoch"})
    assert quarantined(result) == [(1, "bad_timestamp", "s", "yesterday")]


def test_13_end_before_start_is_quarantined(tmp_path: Path) -> None:
    result = run(tmp_path, GOOD + "P1,2024-03-01 10:00,2024-03-01 09:30\n")
    assert quarantined(result) == [(1, "end_before_start", "e", "2024-03-01 09:30")]


def test_14_out_of_order_events_come_out_sorted_by_time(tmp_path: Path) -> None:
    result = run(tmp_path, "m,s,e\nP1,2024-03-02 08:00,2024-03-02 09:00\nP1,2024-03-01 08:00,2024-03-01 09:00\n")
    assert result.quarantine.empty
    assert result.tables["operations"]["start"].is_monotonic_increasing


def test_15_empty_timestamp_in_a_required_column_is_quarantined_missing_value(tmp_path: Path) -> None:
    result = run(tmp_path, GOOD + "P1,,2024-03-01 09:30\n")
    assert [r[:3] for r in quarantined(result)] == [(1, "missing_value", "s")]


# -- columns and files ----------------------------------------------------------------------------------------------
def test_16_mapped_column_missing_from_the_file_is_an_error_listing_the_columns(tmp_path: Path) -> None:
    error(tmp_path, "machine,s,e\nP1,2024-03-01 08:00,2024-03-01 09:00\n", "data.csv", "no column 'm'",
          "columns: machine, s, e", columns={"station": "m", "start": "s", "end": "e"})


def test_17_renamed_column_suggests_the_close_name_and_shows_an_example(tmp_path: Path) -> None:
    error(tmp_path, "Ressource,s,e\nMachine 4,2024-03-01 08:00,2024-03-01 09:00\n", "data.csv",
          "no column 'Resource'", "did you mean 'Ressource'", "'Machine 4'",
          columns={"station": "Resource", "start": "s", "end": "e"})


def test_18_required_canonical_column_left_unmapped_is_a_mapping_error(tmp_path: Path) -> None:
    error(tmp_path, GOOD, "sources[0].feeds[0].columns", "needs 'station'", kind=MappingError,
          columns={"start": "s", "end": "e"})


def test_19_duplicates_keep_the_first_row(tmp_path: Path) -> None:
    result = run(tmp_path, GOOD + GOOD.splitlines()[1] + "\n", feed={"duplicates": ["station", "start"]})
    assert [r[:3] for r in quarantined(result)] == [(1, "duplicate", "station, start")]
    assert len(result.tables["operations"]) == 1


def test_20_wrong_declared_delimiter_is_an_error_naming_the_right_one(tmp_path: Path) -> None:
    error(tmp_path, GOOD.replace(",", ";"), "data.csv", "declared delimiter ','", "'m;s;e'", "delimiter: ';'",
          source={"delimiter": ","})


def test_21_non_utf8_bytes_are_an_error_naming_offset_and_encoding(tmp_path: Path) -> None:
    error(tmp_path, "m,s,e\nPr\xfcfstand,2024-03-01 08:00,2024-03-01 09:00\n".encode("cp1252"), "data.csv",
          "byte 0xfc", "line 2", "cp1252")


def test_22_declared_encoding_reads_the_same_bytes(tmp_path: Path) -> None:
    result = run(tmp_path, "m,s,e\nPr\xfcfstand,2024-03-01 08:00,2024-03-01 09:00\n".encode("cp1252"),
                 source={"encoding": "cp1252"})
    assert result.tables["operations"]["station"].tolist() == ["Prüfstand"]


def test_23_empty_file_is_an_error(tmp_path: Path) -> None:
    error(tmp_path, "", "data.csv", "empty")


def test_24_header_only_file_is_an_error_showing_the_header(tmp_path: Path) -> None:
    error(tmp_path, "m,s,e\n", "data.csv", "header (m, s, e)", "no data rows")


def test_25_source_path_that_does_not_exist_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nowhere.csv: no such file"):
        fuse(load_fusion(pipeline("nowhere.csv"), base=tmp_path))


def test_26_broken_gzip_is_an_error(tmp_path: Path) -> None:
    error(tmp_path, b"not gzip at all", "data.csv.gz", "not a valid gzip file", name="data.csv.gz")


def test_27_jsonl_line_that_is_not_json_is_an_error_naming_the_line(tmp_path: Path) -> None:
    good = json.dumps({"m": "P1", "s": "2024-03-01T08:00Z", "e": "2024-03-01T09:00Z"})
    error(tmp_path, good + "\n{m: P2,\n", "data.jsonl", "line 2 is not valid JSON", name="data.jsonl")


# -- numbers, codes, units, booleans --------------------------------------------------------------------------------
QTY = {"material": "mat", "qty": "q", "from_location": {"value": "WH"}, "to_location": {"value": "L1"}, "start": "t"}


def test_28_text_with_a_unit_in_a_numeric_column_is_quarantined_with_its_value(tmp_path: Path) -> None:
    result = run(tmp_path, "mat,q,t\nM1,12.5,2024-03-01 08:00\nM1,\"12,5 kg\",2024-03-01 09:00\n", columns=QTY,
                 table="moves")
    assert quarantined(result) == [(1, "bad_number", "q", "12,5 kg")]
    assert "na_values" in result.quarantine["message"].iloc[0]


def test_29_na_text_in_json_is_quarantined_and_declared_na_values_make_it_empty(tmp_path: Path) -> None:
    lines = [{"mat": "M1", "q": 3, "t": "2024-03-01T08:00Z"}, {"mat": "M1", "q": "n/a", "t": "2024-03-01T09:00Z"}]
    result = run(tmp_path, "\n".join(json.dumps(r) for r in lines), name="m.jsonl", columns=QTY, table="moves")
    assert quarantined(result) == [(1, "bad_number", "q", "n/a")]
    csv_result = run(tmp_path, "mat,q,t\nM1,3,2024-03-01 08:00\nM1,k.A.,2024-03-01 09:00\n", columns=QTY,
                     table="moves", source={"na_values": ["k.A."]})
    assert quarantined(csv_result) == [(1, "missing_value", "q", None)]


def test_30_numeric_column_holding_no_number_is_an_error_naming_column_and_example(tmp_path: Path) -> None:
    error(tmp_path, "mat,q,t\nM1,many,2024-03-01 08:00\nM1,few,2024-03-01 09:00\n", "data.csv", "column 'q'",
          "'many'", "holds no number", columns=QTY, table="moves")


def test_31_unknown_material_code_is_quarantined_unless_kept(tmp_path: Path) -> None:
    columns = {**OPS, "material": {"column": "mat", "codes": "erp"}}
    data = "m,s,e,mat\nP1,2024-03-01 08:00,2024-03-01 09:00,4711\nP1,2024-03-01 10:00,2024-03-01 11:00,9999\n"
    top = {"codes": {"erp": {"map": {4711: "BRK-200"}}}}
    result = run(tmp_path, data, columns=columns, top=top)
    assert quarantined(result) == [(1, "unknown_code", "mat", "9999")]
    kept = run(tmp_path, data, columns={**OPS, "material": {"column": "mat", "codes": "erp", "keep_unknown": True}},
               top=top)
    assert kept.tables["operations"]["material"].tolist() == ["BRK-200", "9999"]


def test_32_unit_conversion_of_text_is_quarantined(tmp_path: Path) -> None:
    result = run(tmp_path, "m,s,e,tf\nP1,2024-03-01 08:00,2024-03-01 09:00,68\nP1,2024-03-01 10:00,2024-03-01 11:00,"
                           "hot\n", columns={**OPS, "temp_C": {"column": "tf", "convert": "(x - 32) * 5 / 9"}})
    assert quarantined(result) == [(1, "bad_number", "tf", "hot")]
    assert result.tables["operations"]["temp_C"].tolist() == [20.0]


def test_33_conversion_giving_no_number_is_quarantined(tmp_path: Path) -> None:
    result = run(tmp_path, "m,s,e,v\nP1,2024-03-01 08:00,2024-03-01 09:00,4\nP1,2024-03-01 10:00,2024-03-01 11:00,"
                           "-1\n", columns={**OPS, "root": {"column": "v", "convert": "sqrt(x)"}})
    assert [r[:3] for r in quarantined(result)] == [(1, "bad_number", "v")]


def test_34_yes_no_column_with_other_text_is_quarantined_bad_bool(tmp_path: Path) -> None:
    result = run(tmp_path, "m,s,e,rw\nP1,2024-03-01 08:00,2024-03-01 09:00,Y\nP1,2024-03-01 10:00,2024-03-01 11:00,"
                           "maybe\n", columns={**OPS, "rework": {"column": "rw", "type": "bool"}})
    assert quarantined(result) == [(1, "bad_bool", "rw", "maybe")]


def test_35_routing_value_no_feed_takes_is_quarantined_unmapped(tmp_path: Path) -> None:
    result = run(tmp_path, "m,s,e,t\nP1,2024-03-01 08:00,2024-03-01 09:00,D\nP1,2024-03-01 10:00,2024-03-01 11:00,Q\n",
                 feed={"where": {"t": ["D", "S"]}})
    assert quarantined(result) == [(1, "unmapped", "t", "Q")]


def test_36_operation_kind_outside_the_schema_is_quarantined_unknown_code(tmp_path: Path) -> None:
    result = run(tmp_path, "m,s,e,k\nP1,2024-03-01 08:00,2024-03-01 09:00,setup\n"
                           "P1,2024-03-01 10:00,2024-03-01 11:00,lunch\n", columns={**OPS, "kind": "k"})
    assert quarantined(result) == [(1, "unknown_code", "k", "lunch")]


def test_37_empty_required_text_is_quarantined_missing_value(tmp_path: Path) -> None:
    result = run(tmp_path, GOOD + ",2024-03-01 10:00,2024-03-01 11:00\n")
    assert [r[:3] for r in quarantined(result)] == [(1, "missing_value", "m")]


# -- the pipeline itself --------------------------------------------------------------------------------------------
def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fusion.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_38_invalid_yaml_is_a_mapping_error_naming_file_and_line(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "name: x\nsources: [\n  - {path: a.csv\n")
    with pytest.raises(MappingError, match=r"fusion.yaml: not valid YAML at line \d+"):
        load_fusion(path)


def test_39_unknown_key_is_a_mapping_error_with_did_you_mean(tmp_path: Path) -> None:
    doc = pipeline()
    doc["sources"][0]["feeds"][0]["duplicate"] = ["station"]
    with pytest.raises(MappingError) as info:
        load_fusion(doc)
    assert "sources[0].feeds[0].duplicate" in str(info.value) and "did you mean 'duplicates'" in str(info.value)


def test_40_unknown_time_zone_suggests_the_close_one() -> None:
    with pytest.raises(MappingError, match="'Europe/Berln' is not an IANA time zone; did you mean 'Europe/Berlin'"):
        load_fusion(pipeline(time={"zone": "Europe/Berln"}))


def test_41_unknown_unit_and_incompatible_units_are_mapping_errors() -> None:
    with pytest.raises(MappingError, match="unknown unit 'degFF'.*did you mean 'degF'"):
        load_fusion(pipeline(columns={**OPS, "t": {"column": "x", "unit": {"from": "degFF", "to": "degC"}}}))
    with pytest.raises(MappingError, match="cannot convert degF .temperature. to kg .mass."):
        load_fusion(pipeline(columns={**OPS, "t": {"column": "x", "unit": {"from": "degF", "to": "kg"}}}))


def test_42_conversion_that_is_not_plain_arithmetic_in_x_is_refused() -> None:
    with pytest.raises(MappingError, match="columns.t.convert"):
        load_fusion(pipeline(columns={**OPS, "t": {"column": "x", "convert": "__import__('os').system('ls')"}}))
    with pytest.raises(MappingError, match="may only use x"):
        load_fusion(pipeline(columns={**OPS, "t": {"column": "x", "convert": "x * y"}}))


def test_43_unknown_table_name_suggests_the_canonical_one() -> None:
    with pytest.raises(MappingError, match="is 'operation'; did you mean 'operations'"):
        load_fusion(pipeline(table="operation"))


def test_44_code_map_csv_mapping_one_code_to_two_is_refused(tmp_path: Path) -> None:
    (tmp_path / "codes.csv").write_text("erp,mes\n4711,BRK-200\n4711,BRK-201\n", encoding="utf-8")
    doc = pipeline(top={"codes": {"erp": {"path": "codes.csv", "from": "erp", "to": "mes"}}})
    with pytest.raises(MappingError, match="code '4711' maps to several codes"):
        load_fusion(doc, base=tmp_path)


def test_45_undeclared_code_map_name_is_refused_with_the_declared_ones() -> None:
    doc = pipeline(columns={**OPS, "material": {"column": "mat", "codes": "erp_to_mse"}},
                   top={"codes": {"erp_to_mes": {"map": {"1": "A"}}}})
    with pytest.raises(MappingError, match="did you mean 'erp_to_mes'"):
        load_fusion(doc)


def test_46_a_mining_pipeline_given_to_fuse_is_recognised() -> None:
    from leanlearn.pipeline import shipped_pipeline

    with pytest.raises(MappingError, match="this is a mining pipeline"):
        load_fusion(shipped_pipeline("ai4i"))


def test_47_empty_pipeline_file_and_missing_pipeline_file_are_mapping_errors(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="the pipeline is empty"):
        load_fusion(write_yaml(tmp_path, "# nothing yet\n"))
    with pytest.raises(MappingError, match="missing.yaml: no such pipeline file"):
        load_fusion(tmp_path / "missing.yaml")


def test_48_two_sources_with_the_same_name_are_refused() -> None:
    doc = pipeline()
    doc["sources"].append(dict(doc["sources"][0]))
    with pytest.raises(MappingError, match="'mes' appear twice"):
        load_fusion(doc)


def test_49_sql_url_with_an_unset_environment_variable_is_refused() -> None:
    doc = pipeline()
    doc["sources"][0] = {"url": "postgresql://etl:${LEANLEARN_NO_SUCH_VAR}@db/mes", "table": "ops",
                         "feeds": doc["sources"][0]["feeds"]}
    with pytest.raises(MappingError, match=r"\$\{LEANLEARN_NO_SUCH_VAR\}, which is not set"):
        load_fusion(doc)


def test_50_sql_unknown_table_names_the_tables_there(tmp_path: Path) -> None:
    db = tmp_path / "mes.db"
    with sqlite3.connect(db) as con:
        con.execute("create table operations_2024 (m text, s text, e text)")
    doc = pipeline()
    doc["sources"][0] = {"url": f"sqlite:///{db}", "table": "operations", "feeds": doc["sources"][0]["feeds"]}
    with pytest.raises(DataError, match="no table 'operations'; did you mean 'operations_2024'"):
        fuse(doc)


def test_51_aggregation_without_a_signals_feed_is_refused() -> None:
    with pytest.raises(MappingError, match="needs a source feeding `operations` and one feeding `signals`"):
        load_fusion(pipeline(top={"aggregate": {"signals": {"humidity": "mean"}}}))


def test_52_time_spec_on_a_text_column_is_refused() -> None:
    with pytest.raises(MappingError, match="'station' is not a time column"):
        load_fusion(pipeline(columns={**OPS, "station": {"column": "m", "time": {"format": "epoch"}}}))


def test_53_source_with_both_a_path_and_a_url_is_refused() -> None:
    with pytest.raises(MappingError, match="exactly one of `path:`"):
        load_fusion(pipeline(source={"url": "sqlite:///x.db"}))


# -- through the command line: one error line, never a traceback ----------------------------------------------------
def cli_error(args: list[str], *fragments: str) -> str:
    result = runner.invoke(app, ["fuse", *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_54_cli_bad_date_format_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("m,s,e\nP1,01.03.2024 08:00,01.03.2024 09:00\n", encoding="utf-8")
    path = write_yaml(tmp_path, json.dumps(pipeline()))
    cli_error([str(path), "--out", str(tmp_path / "out")], "data.csv", "column 's'", "'01.03.2024 08:00'")


def test_55_cli_unknown_key_is_one_error_line(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "name: x\nline: L\nsoures: []\n")
    cli_error([str(path)], "fusion.yaml", "'soures'", "did you mean 'sources'")


def test_56_cli_missing_source_file_is_one_error_line(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, json.dumps(pipeline("gone.csv")))
    cli_error([str(path), "--out", str(tmp_path / "out")], "gone.csv: no such file")


def test_57_cli_invalid_yaml_and_missing_pipeline_are_one_error_line(tmp_path: Path) -> None:
    cli_error([str(write_yaml(tmp_path, "name: [x\n"))], "fusion.yaml: not valid YAML")
    cli_error([str(tmp_path / "nope.yaml")], "nope.yaml: no such pipeline file")


def test_58_cli_output_folder_that_is_a_file_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text(GOOD, encoding="utf-8")
    (tmp_path / "taken").write_text("", encoding="utf-8")
    path = write_yaml(tmp_path, json.dumps(pipeline()))
    cli_error([str(path), "--out", str(tmp_path / "taken")], "taken: is a file")


def test_59_gzip_compressed_source_is_read(tmp_path: Path) -> None:
    result = run(tmp_path, gzip.compress(GOOD.encode()), name="data.csv.gz")
    assert len(result.tables["operations"]) == 1


def test_60_quarantine_keeps_the_original_text_and_row_of_each_bad_value(tmp_path: Path) -> None:
    data = GOOD + "P1,2024-13-01 08:00,2024-03-01 09:00\nP1,2024-03-01 10:00,2024-03-01 09:00\n"
    result = run(tmp_path, data)
    frame = result.quarantine
    assert frame[["row", "reason", "value"]].values.tolist()[0] == [1, "bad_timestamp", "2024-13-01 08:00"]
    assert frame["reason"].tolist() == ["bad_timestamp", "end_before_start"]
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == [
        "source", "row", "table", "reason", "column", "value", "message"]
