"""Hostile data inputs: files, pipelines and SQL sources that try to flood memory, escape their folder, write to a
database or leak a password. Each ends in one clear LeanlearnError (or is read correctly), never in a traceback,
an exhausted machine or a side effect."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import POSTGRES
from leanlearn._util import redact
from leanlearn.cli import app
from leanlearn.data.fusion import fuse, load_fusion
from leanlearn.data.sources import check_read_only_sql, read_sql, read_table
from leanlearn.errors import DataError, LeanlearnError, MappingError, PipelineError
from leanlearn.limits import Limits
from leanlearn.pipeline import check_out, load_pipeline
from leanlearn.yamlfile import read_yaml

runner = CliRunner()
SECRET = "s3cretPw"


def _bomb(path: Path, inflated: int) -> Path:
    """A small .csv.gz that inflates to ``inflated`` bytes of valid CSV."""
    line = b"1,2,3,4,5,6,7,8\n"
    with gzip.open(path, "wb", compresslevel=9) as handle:
        handle.write(b"a,b,c,d,e,f,g,h\n")
        chunk = line * 4096
        for _ in range(inflated // len(chunk)):
            handle.write(chunk)
    return path


def _ops_pipeline(path: Path, **top: object) -> dict[str, object]:
    return {"name": "x", "line": "L1", **top,
            "sources": [{"name": "mes", "path": str(path), "feeds": [{"table": "operations", "columns": {
                "station": "station", "start": "start", "end": "end", "temp": "temp"}}]}]}


def _ops_csv(path: Path, temps: list[str]) -> Path:
    rows = [f"P1,2024-03-01T08:{i:02d}Z,2024-03-01T08:{i:02d}:30Z,{t}" for i, t in enumerate(temps)]
    path.write_text("station,start,end,temp\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


# -- decompressed size, rows, columns, cells --------------------------------------------------------------------------
def test_gzip_bomb_is_refused_at_the_byte_limit_naming_file_and_override(tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "bomb.csv.gz", 8_000_000)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(DataError) as info:
        read_table(bomb, limits=Limits(max_bytes=1_000_000))
    message = str(info.value)
    assert str(bomb) in message and "once decompressed" in message
    assert "max_bytes" in message and "LEANLEARN_MAX_BYTES" in message


def test_gzip_bomb_is_inflated_no_further_than_the_limit(tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "bomb.csv.gz", 40_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(DataError):
            read_table(bomb, limits=Limits(max_bytes=2_000_000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 12_000_000  # the 40 MB of text never exist at once


def test_byte_limit_is_raised_through_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = _bomb(tmp_path / "bomb.csv.gz", 300_000)
    monkeypatch.setenv("LEANLEARN_MAX_BYTES", "100K")
    with pytest.raises(DataError, match="max_bytes"):
        read_table(bomb)
    monkeypatch.setenv("LEANLEARN_MAX_BYTES", "1M")
    assert len(read_table(bomb)) > 10_000


def test_plain_file_over_the_byte_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("a,b\n" + "1,2\n" * 10_000, encoding="utf-8")
    with pytest.raises(DataError, match=r"big\.csv: has 40,004 bytes, over the limit of 1,000 \(max_bytes\)"):
        read_table(path, limits=Limits(max_bytes=1_000))


def test_malformed_limit_variable_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEANLEARN_MAX_ROWS", "lots")
    with pytest.raises(LeanlearnError, match="LEANLEARN_MAX_ROWS='lots' is not a number"):
        read_table(_ops_csv(tmp_path / "ops.csv", ["1"]))


def test_csv_rows_beyond_the_limit_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("a,b\n" + "1,2\n" * 101, encoding="utf-8")
    with pytest.raises(DataError, match=r"rows\.csv: has more than 100 rows, over the limit of 100 \(max_rows\)"):
        read_table(path, limits=Limits(max_rows=100))
    assert len(read_table(path, limits=Limits(max_rows=101))) == 101


def test_csv_columns_beyond_the_limit_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(50)) + "\n" + ",".join("1" * 50) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"wide\.csv: has 50 columns, over the limit of 20 \(max_columns\)"):
        read_table(path, limits=Limits(max_columns=20))


def test_csv_cells_beyond_the_limit_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "cells.csv"
    path.write_text("a,b,c,d\n" + "1,2,3,4\n" * 30, encoding="utf-8")
    with pytest.raises(DataError, match=r"cells\.csv: has more than 100 cells .*\(max_cells\)"):
        read_table(path, limits=Limits(max_cells=100))


def test_jsonl_rows_beyond_the_limit_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"a": 1}\n' * 11, encoding="utf-8")
    with pytest.raises(DataError, match=r"events\.jsonl: has more than 10 rows.*max_rows"):
        read_table(path, limits=Limits(max_rows=10))


def test_jsonl_that_keeps_adding_keys_is_refused_at_the_column_limit(tmp_path: Path) -> None:
    path = tmp_path / "keys.jsonl"
    path.write_text("".join(json.dumps({f"k{i}": i}) + "\n" for i in range(30)), encoding="utf-8")
    with pytest.raises(DataError, match="max_columns"):
        read_table(path, limits=Limits(max_columns=25))


def test_parquet_rows_are_checked_from_its_metadata(tmp_path: Path) -> None:
    path = tmp_path / "runs.parquet"
    pd.DataFrame({"a": range(500), "b": 1.0}).to_parquet(path)
    with pytest.raises(DataError, match=r"runs\.parquet: has 500 rows, over the limit of 100 \(max_rows\)"):
        read_table(path, limits=Limits(max_rows=100))


def test_parquet_uncompressed_size_counts_against_the_byte_limit(tmp_path: Path) -> None:
    path = tmp_path / "zeros.parquet"
    pd.DataFrame({"a": [0.0] * 200_000}).to_parquet(path)
    with pytest.raises(DataError, match="max_bytes"):
        read_table(path, limits=Limits(max_bytes=100_000))


def test_fuse_applies_the_limits_to_every_source(tmp_path: Path) -> None:
    path = _ops_csv(tmp_path / "ops.csv", [str(20 + i) for i in range(30)])
    with pytest.raises(DataError, match=r"ops\.csv: has more than 10 rows"):
        fuse(_ops_pipeline(path), limits=Limits(max_rows=10))


# -- nested columns -------------------------------------------------------------------------------------------------
def test_jsonl_list_column_is_one_error_naming_the_column(tmp_path: Path) -> None:
    path = tmp_path / "nested.jsonl"
    path.write_text('{"a": [1, 2], "y": 1}\n{"a": [3], "y": 0}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"nested\.jsonl: column 'a' holds lists or objects \(row 0: \[1, 2\]\)"):
        read_table(path)


def test_jsonl_object_column_is_one_error_naming_the_column(tmp_path: Path) -> None:
    path = tmp_path / "nested.jsonl"
    path.write_text('{"y": 1, "m": {"x": 1}}\n', encoding="utf-8")
    with pytest.raises(DataError, match="column 'm' holds lists or objects"):
        read_table(path)


def test_parquet_list_column_is_one_error_naming_the_column(tmp_path: Path) -> None:
    path = tmp_path / "nested.parquet"
    pd.DataFrame({"y": [1, 0], "tags": [["a", "b"], []]}).to_parquet(path)
    with pytest.raises(DataError, match=r"column 'tags' is nested \(list<"):
        read_table(path)


def test_parquet_struct_column_is_one_error_naming_the_column(tmp_path: Path) -> None:
    path = tmp_path / "nested.parquet"
    pd.DataFrame({"y": [1, 0], "pos": [{"x": 1, "z": 2}, {"x": 3, "z": 4}]}).to_parquet(path)
    with pytest.raises(DataError, match=r"column 'pos' is nested \(struct<"):
        read_table(path)


def test_nested_columns_are_read_when_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "nested.parquet"
    pd.DataFrame({"y": [1, 0], "tags": [["a", "b"], []]}).to_parquet(path)
    assert [list(v) for v in read_table(path, nested="keep")["tags"]] == [["a", "b"], []]


def test_mine_on_nested_jsonl_is_one_error_line_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "nested.jsonl"
    path.write_text('{"a": [1, 2], "y": 1}\n{"a": [3], "y": 0}\n', encoding="utf-8")
    result = runner.invoke(app, ["mine", str(path), "--target", "y"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "column 'a' holds lists" in result.output


def test_fusion_source_with_a_nested_column_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "ops.jsonl"
    path.write_text('{"station": "P1", "start": "2024-03-01T08:00Z", "end": "2024-03-01T09:00Z", '
                    '"temp": [1, 2]}\n', encoding="utf-8")
    with pytest.raises(DataError, match="column 'temp' holds lists"):
        fuse(_ops_pipeline(path))


# -- one bad cell ---------------------------------------------------------------------------------------------------
def test_one_bad_cell_keeps_a_number_column_numeric_and_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    values = [str(40 + i / 10) for i in range(50)]
    values[17] = "n/a!"
    path.write_text("torque\n" + "\n".join(values) + "\n", encoding="utf-8")
    frame = read_table(path)
    assert pd.api.types.is_float_dtype(frame["torque"].dtype)
    assert pd.isna(frame["torque"].iloc[17]) and frame["torque"].iloc[18] == pytest.approx(41.8)
    assert frame.attrs["bad_cells"].to_dict("records") == [{"row": 17, "column": "torque", "value": "n/a!"}]


def test_decimal_comma_column_with_one_bad_cell_stays_numeric(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    values = [f"{40 + i},5" for i in range(20)]
    values[3] = "kaputt"
    path.write_text("press;torque\n" + "\n".join(f"P1;{v}" for v in values) + "\n", encoding="utf-8")
    frame = read_table(path)
    assert frame["torque"].iloc[0] == 40.5 and pd.isna(frame["torque"].iloc[3])


def test_a_column_of_codes_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("code\n" + "\n".join(["4711", "4712", "A-13", "4714", "B-2", "4716", "4717"]) + "\n",
                    encoding="utf-8")
    assert read_table(path)["code"].tolist()[2] == "A-13"


def test_fusion_quarantines_only_the_row_with_the_stray_text(tmp_path: Path) -> None:
    temps = [str(20 + i) for i in range(30)]
    temps[4] = "warm"
    result = fuse(_ops_pipeline(_ops_csv(tmp_path / "ops.csv", temps)))
    ops = result.tables["operations"]
    assert pd.api.types.is_float_dtype(ops["temp"].dtype) and len(ops) == 29
    record = result.quarantine.iloc[0]
    assert (record["row"], record["reason"], record["column"], record["value"]) == (4, "bad_number", "temp", "warm")


# -- YAML -----------------------------------------------------------------------------------------------------------
def _laughs(levels: int = 8) -> str:
    names = "abcdefghij"
    items = ['&a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    items += [f"&{names[k]} [" + ",".join([f"*{names[k - 1]}"] * 9) + "]" for k in range(1, levels)]
    return "[" + ", ".join(items) + "]"


def test_alias_bomb_in_a_mining_pipeline_is_refused_before_it_expands(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text("name: bomb\nline: L1\nsource: {dataset: ai4i2020}\ntargets: [HDF]\n"
                    f"mining:\n  random_state: {_laughs()}\n", encoding="utf-8")
    assert path.stat().st_size < 450
    with pytest.raises(PipelineError, match=r"bomb\.yaml: has more than 100,000 values \(aliases expanded\)"):
        load_pipeline(path)


def test_alias_bomb_in_a_fusion_pipeline_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fusion.yaml"
    path.write_text(f"name: x\nline: L1\ndescription: {_laughs()}\nsources: []\n", encoding="utf-8")
    with pytest.raises(MappingError, match="max_yaml_nodes"):
        load_fusion(path)


def test_many_aliases_are_refused_at_the_alias_limit(tmp_path: Path) -> None:
    path = tmp_path / "aliases.yaml"
    path.write_text("a: &a 1\nb: [" + ", ".join(["*a"] * 101) + "]\n", encoding="utf-8")
    with pytest.raises(PipelineError, match=r"has 101 aliases \(\*name\), over the limit of 100 \(max_yaml_aliases\)"):
        read_yaml(path, PipelineError, "pipeline")


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("a: &a [1, *a]\n", encoding="utf-8")
    with pytest.raises(PipelineError, match="recursive"):
        read_yaml(path, PipelineError, "pipeline")


def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(PipelineError, match="nested more than 64 levels"):
        read_yaml(path, PipelineError, "pipeline")


def test_oversize_yaml_is_refused_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("a: " + "x" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(PipelineError, match=r"huge\.yaml: has 5,004 bytes, over the limit of 1,000"):
        read_yaml(path, PipelineError, "pipeline", limits=Limits(max_yaml_bytes=1000))


def test_ordinary_anchors_still_load(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("base: &t {zone: Europe/Berlin}\nmes: {time: *t}\nerp: {time: *t}\n", encoding="utf-8")
    assert read_yaml(path, PipelineError, "pipeline")["erp"] == {"time": {"zone": "Europe/Berlin"}}


# -- names and output paths -----------------------------------------------------------------------------------------
BAD_NAMES = ["../escape", "/etc/cron.d/x", "a/b", "..", ".hidden", "a\\b", "x\x00y"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_mining_pipeline_name_must_be_a_plain_file_name(tmp_path: Path, name: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(f"name: {json.dumps(name)}\nline: L1\nsource: {{dataset: ai4i2020}}\ntargets: [HDF]\n",
                    encoding="utf-8")
    with pytest.raises(PipelineError, match=r"key 'name': is .*a name becomes one file or folder name"):
        load_pipeline(path)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_fusion_pipeline_name_must_be_a_plain_file_name(tmp_path: Path, name: str) -> None:
    doc = _ops_pipeline(tmp_path / "ops.csv")
    doc["name"] = name
    with pytest.raises(MappingError, match="key 'name'"):
        load_fusion(doc)


def test_fuse_with_an_escaping_name_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    _ops_csv(work / "ops.csv", ["20", "21"])
    (work / "f.yaml").write_text(
        "name: ../../escaped\nline: L1\nsources:\n  - {name: mes, path: ops.csv, feeds: [{table: operations, "
        "columns: {station: station, start: start, end: end}}]}\n", encoding="utf-8")
    result = runner.invoke(app, ["fuse", "f.yaml", "--quiet"])
    assert result.exit_code == 2 and "key 'name'" in result.output
    assert not (tmp_path / "escaped").exists() and not (work / "fused").exists()


def test_pipeline_out_must_be_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nline: L1\nsource: {dataset: ai4i2020}\ntargets: [HDF]\nout: ../../.bashrc\n",
                    encoding="utf-8")
    with pytest.raises(PipelineError, match="key 'out'.*only to a .json file"):
        load_pipeline(path)


def test_pipeline_out_never_overwrites_a_file_that_is_not_a_pack(tmp_path: Path) -> None:
    victim = tmp_path / "settings.json"
    victim.write_text('{"theme": "dark"}', encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(f"name: p\nline: L1\nsource: {{dataset: ai4i2020}}\ntargets: [HDF]\nout: {victim}\n",
                    encoding="utf-8")
    with pytest.raises(PipelineError, match="exists and is not a rule pack"):
        check_out(load_pipeline(path))
    result = runner.invoke(app, ["run", str(path), "--quiet", "--no-register"])
    assert result.exit_code == 2 and victim.read_text(encoding="utf-8") == '{"theme": "dark"}'


# -- SQL: read only -------------------------------------------------------------------------------------------------
@pytest.fixture()
def sqlite_db(tmp_path: Path) -> Path:
    db = tmp_path / "mes.db"
    with sqlite3.connect(db) as con:
        con.execute("create table runs (press text, humidity real)")
        con.executemany("insert into runs values (?, ?)", [("P1", 61.5), ("P3", 72.0)])
    return db


def _rows(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute("select count(*) from runs").fetchone()[0])


@pytest.mark.parametrize("query", ["delete from runs", "drop table runs", "attach database 'x.db' as x",
                                   "pragma writable_schema = on", "insert into runs values ('P9', 1)"])
def test_sqlite_query_that_writes_is_refused_before_it_runs(sqlite_db: Path, query: str) -> None:
    with pytest.raises(DataError, match="a SQL source only reads"):
        read_sql(f"sqlite:///{sqlite_db}", query=query)
    assert _rows(sqlite_db) == 2


def test_sqlite_write_hidden_behind_with_fails_on_the_read_only_connection(sqlite_db: Path) -> None:
    with pytest.raises(DataError, match="readonly|read-only|read only"):
        read_sql(f"sqlite:///{sqlite_db}", query="with x as (select 1) delete from runs")
    assert _rows(sqlite_db) == 2


def test_sqlite_second_statement_is_refused(sqlite_db: Path) -> None:
    with pytest.raises(DataError, match="more than one statement"):
        read_sql(f"sqlite:///{sqlite_db}", query="select * from runs; delete from runs")
    assert _rows(sqlite_db) == 2


def test_sqlite_runaway_query_stops_at_the_statement_timeout(sqlite_db: Path) -> None:
    endless = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"
    with pytest.raises(DataError, match="statement timeout of 0.3 s"):
        read_sql(f"sqlite:///{sqlite_db}", query=endless, statement_timeout=0.3)


def test_sql_result_beyond_the_row_limit_is_refused(sqlite_db: Path) -> None:
    query = "with recursive c(x) as (select 1 union all select x + 1 from c where x < 500) select x from c"
    with pytest.raises(DataError, match=r"the query: has more than 100 rows.*max_rows"):
        read_sql(f"sqlite:///{sqlite_db}", query=query, limits=Limits(max_rows=100))


@pytest.mark.parametrize("query", [
    "select * from runs where press = 'a;b' -- trailing; comment",
    "  /* note; */ (select 1)",
    "select $$;$$ as x;",
    'select "odd;name" from t;  ',
])
def test_semicolons_inside_quotes_and_comments_are_not_statements(query: str) -> None:
    assert check_read_only_sql(query) == query


@pytest.fixture()
def pg_table(postgres: object) -> Iterator[str]:
    import sqlalchemy as sa

    name = f"leanlearn_hostile_{uuid.uuid4().hex[:10]}"
    pd.DataFrame({"station": ["P1", "P2"], "qty": [1.0, 2.0]}).to_sql(name, postgres, index=False)  # type: ignore[arg-type]
    try:
        yield name
    finally:
        with postgres.begin() as connection:  # type: ignore[attr-defined]
            connection.execute(sa.text(f'drop table if exists "{name}"'))


def _pg_count(postgres: object, table: str) -> int:
    import sqlalchemy as sa

    with postgres.connect() as connection:  # type: ignore[attr-defined]
        return int(connection.execute(sa.text(f'select count(*) from "{table}"')).scalar_one())


def test_postgres_copy_to_program_is_refused_and_runs_nothing(pg_table: str, tmp_path: Path) -> None:
    marker = Path("/tmp") / f"leanlearn_pwned_{uuid.uuid4().hex[:8]}"
    for query in (f"copy (select 1) to program 'touch {marker}'",
                  f"select 1; copy (select 1) to program 'touch {marker}'"):
        with pytest.raises(DataError):
            read_sql(POSTGRES, query=query)
    assert not marker.exists()


def test_postgres_write_inside_a_select_fails_in_the_read_only_transaction(postgres: object, pg_table: str) -> None:
    query = f'with gone as (delete from "{pg_table}" returning *) select * from gone'
    with pytest.raises(DataError, match="read-only transaction|must not contain data-modifying"):
        read_sql(POSTGRES, query=query)
    assert _pg_count(postgres, pg_table) == 2


def test_postgres_function_that_writes_fails_in_the_read_only_transaction(postgres: object, pg_table: str) -> None:
    import sqlalchemy as sa

    sequence = f"{pg_table}_seq"
    with postgres.begin() as connection:  # type: ignore[attr-defined]
        connection.execute(sa.text(f'create sequence "{sequence}"'))
    try:
        with pytest.raises(DataError, match=r"cannot execute nextval\(\) in a read-only transaction"):
            read_sql(POSTGRES, query=f"select nextval('\"{sequence}\"')")
    finally:
        with postgres.begin() as connection:  # type: ignore[attr-defined]
            connection.execute(sa.text(f'drop sequence if exists "{sequence}"'))


def test_postgres_runaway_query_stops_at_the_statement_timeout(pg_table: str) -> None:
    with pytest.raises(DataError, match="statement timeout of 0.2 s"):
        read_sql(POSTGRES, query="select pg_sleep(5)", statement_timeout=0.2)


def test_postgres_reading_still_works_read_only(pg_table: str) -> None:
    assert read_sql(POSTGRES, query=f'select sum(qty) as q from "{pg_table}"')["q"].tolist() == [3.0]


def test_fusion_sql_source_timeout_key_is_checked(tmp_path: Path) -> None:
    doc = _ops_pipeline(tmp_path / "ops.csv")
    doc["sources"][0]["timeout"] = 10  # type: ignore[index]
    with pytest.raises(MappingError, match="timeout': belongs to a SQL source"):
        load_fusion(doc)
    doc["sources"] = [{"name": "db", "url": "sqlite:///x.db", "table": "t", "timeout": -1,
                       "feeds": [{"table": "operations", "columns": {"station": "a", "start": "b", "end": "c"}}]}]
    with pytest.raises(MappingError, match="timeout': must be a positive number of seconds"):
        load_fusion(doc)


# -- passwords ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    f"postgresql://etl:{SECRET}@db:5432/mes",
    f"postgresql://etl:p@{SECRET}@db/mes",
    f"postgresql://etl:{SECRET}/x@db/mes",
    f"postgresql://db/mes?user=etl&password={SECRET}",
    f"postgresql://db/mes?PASSWORD={SECRET}&sslmode=require",
    f"mysql://u@h/d?pwd={SECRET}",
    f"connection failed: host=db user=etl password={SECRET} dbname=mes",
    f"mlflow tracking at 'https://user:{SECRET}@mlflow.plant/' is down",
])
def test_every_password_form_is_redacted(text: str) -> None:
    assert SECRET not in redact(text) and "***" in redact(text)


def test_unencoded_at_in_the_password_is_refused_without_leaking_it() -> None:
    with pytest.raises(DataError) as info:
        read_sql(f"postgresql+psycopg2://etl:p@{SECRET}@127.0.0.1:1/mes", table="runs")
    assert SECRET not in str(info.value) and "%40" in str(info.value)


def test_query_string_password_never_reaches_an_error_message() -> None:
    with pytest.raises(DataError) as info:
        read_sql(f"postgresql+psycopg2://etl@127.0.0.1:1/mes?password={SECRET}", table="runs", timeout=1)
    assert SECRET not in str(info.value) and "cannot connect" in str(info.value)


def test_fusion_source_label_redacts_a_query_string_password(tmp_path: Path) -> None:
    doc = {"name": "x", "line": "L1", "sources": [{
        "name": "db", "url": f"postgresql://etl@db/mes?password={SECRET}", "table": "t",
        "feeds": [{"table": "operations", "columns": {"station": "a", "start": "b", "end": "c"}}]}]}
    assert SECRET not in load_fusion(doc).sources[0].label


def test_cli_and_registry_redact_the_same_forms() -> None:
    from leanlearn.cli import _redact as cli_redact
    from leanlearn.packs.registry import _redact as registry_redact

    for uri in (f"postgresql://u:p@{SECRET}@h/d", f"https://h/?password={SECRET}"):
        assert SECRET not in cli_redact(uri) and SECRET not in registry_redact(uri)


def test_tracking_uri_with_an_unencoded_at_does_not_print_the_password_tail() -> None:
    from leanlearn.errors import RegistryError
    from leanlearn.packs.registry import _check_reachable

    with pytest.raises(RegistryError) as info:
        _check_reachable(f"postgresql://etl:pw@{SECRET}@127.0.0.1:1/mlflow", timeout=0.5)
    assert SECRET not in str(info.value)


def test_code_map_file_keeps_a_rare_alphanumeric_code(tmp_path: Path) -> None:
    codes = [str(4700 + i) for i in range(120)] + ["A-13"]
    (tmp_path / "codes.csv").write_text("erp,mes\n" + "".join(f"{c},M{c}\n" for c in codes), encoding="utf-8")
    (tmp_path / "ops.csv").write_text("station,start,end,article\nP1,2024-03-01T08:00Z,2024-03-01T09:00Z,A-13\n",
                                      encoding="utf-8")
    doc = {"name": "x", "line": "L1", "codes": {"erp": {"path": "codes.csv", "from": "erp", "to": "mes"}},
           "sources": [{"name": "mes", "path": "ops.csv", "feeds": [{"table": "operations", "columns": {
               "station": "station", "start": "start", "end": "end",
               "material": {"column": "article", "codes": "erp"}}}]}]}
    result = fuse(load_fusion(doc, base=tmp_path))
    assert result.tables["operations"]["material"].tolist() == ["MA-13"]


def test_jsonl_line_nested_100k_deep_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1 nests lists or objects too deeply"):
        read_table(path)


def test_jsonl_integer_of_5000_digits_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text('{"a": 1' + "0" * 5000 + "}\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1 holds a value leanlearn cannot read"):
        read_table(path)


def test_truncated_parquet_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.parquet"
    pd.DataFrame({"a": range(1000)}).to_parquet(path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"cut\.parquet: not a readable Parquet file"):
        read_table(path)


def test_sql_source_repr_never_shows_the_password() -> None:
    doc = {"name": "x", "line": "L1", "sources": [{
        "name": "db", "url": f"postgresql://etl:{SECRET}@db/mes", "table": "t",
        "feeds": [{"table": "operations", "columns": {"station": "a", "start": "b", "end": "c"}}]}]}
    pipeline = load_fusion(doc)
    assert SECRET not in repr(pipeline) and SECRET not in pipeline.sources[0].label


@pytest.mark.parametrize("encoding", ["rot13", "zlib", "base64"])
def test_a_codec_that_is_no_text_encoding_is_refused(tmp_path: Path, encoding: str) -> None:
    path = _ops_csv(tmp_path / "ops.csv", ["20"])
    with pytest.raises(DataError, match=f"unknown encoding '{encoding}'"):
        read_table(path, encoding=encoding)


def test_time_years_beyond_what_a_timestamp_holds_are_refused(tmp_path: Path) -> None:
    doc = _ops_pipeline(tmp_path / "ops.csv")
    doc["sources"][0]["time"] = {"years": [1, 99999]}  # type: ignore[index]
    with pytest.raises(MappingError, match="years': must be .*between 1678 and 2261"):
        load_fusion(doc)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_refused_instead_of_waiting_forever(tmp_path: Path) -> None:
    fifo = tmp_path / "feed.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        read_table(fifo)
    yaml_fifo = tmp_path / "pipe.yaml"
    os.mkfifo(yaml_fifo)
    with pytest.raises(PipelineError, match="not a regular file"):
        load_pipeline(yaml_fifo)


def test_a_broken_strptime_format_is_a_mapping_error(tmp_path: Path) -> None:
    doc = _ops_pipeline(tmp_path / "ops.csv")
    doc["sources"][0]["time"] = {"format": "%"}  # type: ignore[index]
    with pytest.raises(MappingError, match=r"time.format': '%' is not a valid strptime format"):
        load_fusion(doc)


def test_a_time_column_given_a_true_false_constant_is_a_mapping_error(tmp_path: Path) -> None:
    doc = _ops_pipeline(tmp_path / "ops.csv")
    doc["sources"][0]["feeds"][0]["columns"]["start"] = True  # type: ignore[index]
    with pytest.raises(MappingError, match="'start' is a time column; its constant must be a timestamp text"):
        load_fusion(doc)
