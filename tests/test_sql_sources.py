"""SQL sources through a SQLAlchemy URL: SQLite files and the real PostgreSQL server, every mistake a DataError."""

from __future__ import annotations

import socket
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from conftest import POSTGRES
from leanlearn.data.fusion import fuse
from leanlearn.data.sources import read_sql, redact_url
from leanlearn.errors import DataError

# The real server (trust auth). Point LEANLEARN_TEST_POSTGRES elsewhere to use another; unreachable → skipped.


@pytest.fixture()
def sqlite_db(tmp_path: Path) -> Path:
    db = tmp_path / "mes.db"
    with sqlite3.connect(db) as con:
        con.execute("create table operations (station text, start text, finish text, scrap integer)")
        con.executemany("insert into operations values (?, ?, ?, ?)", [
            ("P1", "2024-03-01 08:00", "2024-03-01 09:00", 0),
            ("P2", "2024-03-01 08:30", "2024-03-01 09:10", 2),
        ])
        con.execute("create view scrapped as select * from operations where scrap > 0")
    return db


# -- SQLite ---------------------------------------------------------------------------------------------------------
def test_sqlite_table_is_read_whole(sqlite_db: Path) -> None:
    frame = read_sql(f"sqlite:///{sqlite_db}", table="operations")
    assert frame.columns.tolist() == ["station", "start", "finish", "scrap"]
    assert frame["scrap"].tolist() == [0, 2]


def test_sqlite_view_and_query_are_read(sqlite_db: Path) -> None:
    assert read_sql(f"sqlite:///{sqlite_db}", table="scrapped")["station"].tolist() == ["P2"]
    frame = read_sql(f"sqlite:///{sqlite_db}", query="select station, scrap * 10 as s10 from operations order by 1")
    assert frame.to_dict("list") == {"station": ["P1", "P2"], "s10": [0, 20]}


def test_unknown_table_names_the_available_ones(sqlite_db: Path) -> None:
    with pytest.raises(DataError) as info:
        read_sql(f"sqlite:///{sqlite_db}", table="operation")
    assert "no table 'operation'; did you mean 'operations'? tables there: operations, scrapped" in str(info.value)


def test_sql_error_gives_the_database_reason_and_the_sql(sqlite_db: Path) -> None:
    with pytest.raises(DataError, match=r"refused the query \(no such column: stn\); SQL: select stn from operations"):
        read_sql(f"sqlite:///{sqlite_db}", query="select stn from operations")


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such SQLite database file"):
        read_sql(f"sqlite:///{tmp_path / 'nope.db'}", table="x")
    assert not (tmp_path / "nope.db").exists()


@pytest.mark.parametrize(("url", "fragment"), [
    ("not a url", "not a database URL"),
    ("oracle+nosuchdriver://u@h/db", "unknown database kind"),
    ("mysql+pymysql://etl:s3cret@h/db", "driver 'pymysql' is not installed"),
    ("nosuchdb://h/db", "unknown database kind 'nosuchdb'"),
])
def test_bad_urls_are_data_errors_without_the_password(url: str, fragment: str) -> None:
    with pytest.raises(DataError) as info:
        read_sql(url, table="x")
    assert fragment in str(info.value)
    assert "s3cret" not in str(info.value)


def test_exactly_one_of_table_and_query(sqlite_db: Path) -> None:
    for kwargs in ({}, {"table": "operations", "query": "select 1"}):
        with pytest.raises(DataError, match="exactly one of a table"):
            read_sql(f"sqlite:///{sqlite_db}", **kwargs)  # type: ignore[arg-type]


def test_query_without_rows_is_a_data_error(sqlite_db: Path) -> None:
    with pytest.raises(DataError, match=r"returned columns \(station\) but no rows"):
        read_sql(f"sqlite:///{sqlite_db}", query="select station from operations where scrap > 99")


def test_refused_connection_is_reported_with_the_password_redacted() -> None:
    with pytest.raises(DataError) as info:
        read_sql("postgresql+psycopg2://postgres:s3cret@127.0.0.1:1/test", table="x", timeout=1)
    message = str(info.value)
    assert "cannot connect" in message and "postgres:***@127.0.0.1:1/test" in message
    assert "s3cret" not in message


def test_silent_server_times_out_instead_of_hanging() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        port = silent.getsockname()[1]
        with pytest.raises(DataError, match="timeout expired"):
            read_sql(f"postgresql+psycopg2://postgres:s3cret@127.0.0.1:{port}/test", table="x", timeout=1)


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url("postgresql://a:b@h:5/d") == "postgresql://a:***@h:5/d"
    assert redact_url("postgresql://a@h/d") == "postgresql://a@h/d"


def test_sqlite_source_in_a_fusion_pipeline(sqlite_db: Path) -> None:
    doc = {"name": "x", "line": "L", "sources": [{"name": "mes", "url": f"sqlite:///{sqlite_db}",
                                                  "query": "select * from operations",
                                                  "time": {"zone": "Europe/Berlin"},
                                                  "feeds": [{"table": "operations", "columns": {
                                                      "station": "station", "start": "start", "end": "finish",
                                                      "scrap_qty": {"column": "scrap", "type": "number"}}}]}]}
    result = fuse(doc)
    assert result.reconciliation[["read", "used", "quarantined"]].values.tolist() == [[2, 2, 0]]
    assert result.tables["operations"]["start"].iloc[0] == pd.Timestamp("2024-03-01 07:00", tz="UTC")


# -- the real PostgreSQL server -------------------------------------------------------------------------------------
@pytest.fixture()
def pg_table(postgres: object) -> Iterator[str]:
    import sqlalchemy as sa

    name = f"leanlearn_test_{uuid.uuid4().hex[:10]}"
    frame = pd.DataFrame({
        "station": ["P1", "P2", "P1"],
        "started": pd.to_datetime(["2024-03-01 08:00", "2024-03-01 08:30", "2024-03-31 02:30"]),
        "ended": pd.to_datetime(["2024-03-01 09:00", "2024-03-01 09:10", "2024-03-31 03:30"]),
        "at_utc": pd.to_datetime(["2024-03-01 07:00", "2024-03-01 07:30", "2024-03-31 00:30"], utc=True),
        "qty": [10.5, 3.0, 4.0],
    })
    frame.to_sql(name, postgres, index=False)  # type: ignore[arg-type]
    try:
        yield name
    finally:
        with postgres.begin() as connection:  # type: ignore[attr-defined]
            connection.execute(sa.text(f'drop table if exists "{name}"'))


def test_postgres_table_is_read_with_its_types(pg_table: str) -> None:
    frame = read_sql(POSTGRES, table=pg_table)
    assert frame["station"].tolist() == ["P1", "P2", "P1"]
    assert frame["qty"].tolist() == [10.5, 3.0, 4.0]
    assert str(frame["at_utc"].dt.tz) == "UTC"
    assert frame["started"].dt.tz is None


def test_postgres_query_is_read(pg_table: str) -> None:
    frame = read_sql(POSTGRES, query=f'select station, sum(qty) as qty from "{pg_table}" group by station '
                                     "order by station")
    assert frame.to_dict("list") == {"station": ["P1", "P2"], "qty": [14.5, 3.0]}


def test_postgres_unknown_table_names_the_available_ones(pg_table: str) -> None:
    with pytest.raises(DataError) as info:
        read_sql(POSTGRES, table=pg_table[:-1])
    assert f"did you mean {pg_table!r}?" in str(info.value) and pg_table in str(info.value)


def test_postgres_sql_error_is_a_data_error(pg_table: str) -> None:
    with pytest.raises(DataError, match='refused the query .*column "nope" does not exist'):
        read_sql(POSTGRES, query=f'select nope from "{pg_table}"')


def test_postgres_unknown_database_is_a_connection_error(postgres: object) -> None:
    with pytest.raises(DataError, match='cannot connect.*database "leanlearn_no_such_db" does not exist'):
        read_sql(POSTGRES.rsplit("/", 1)[0] + "/leanlearn_no_such_db", table="x")


def test_postgres_source_fuses_local_timestamps_dst_safe(pg_table: str) -> None:
    doc = {"name": "x", "line": "L", "sources": [{"name": "mes", "url": POSTGRES, "table": pg_table,
                                                  "time": {"zone": "Europe/Berlin"},
                                                  "feeds": [{"table": "operations", "columns": {
                                                      "station": "station", "start": "started", "end": "ended",
                                                      "logged": {"column": "at_utc", "type": "time"}}}]}]}
    result = fuse(doc)
    rec = result.reconciliation.iloc[0]
    assert (rec["read"], rec["used"], rec["quarantined"], rec["nonexistent_time"]) == (3, 2, 1, 1)
    ops = result.tables["operations"]
    assert (ops["start"] == ops["logged"]).all()  # naive local Berlin times = the tz-aware UTC column
