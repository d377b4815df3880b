"""Readers: a table file in, a DataFrame out — or a :class:`~leanlearn.errors.DataError` a person can act on.

Supported files, chosen by extension:

- CSV (``.csv``, ``.tsv``, ``.txt``, and any of them ``.gz``-compressed): the delimiter is sniffed among
  ``,`` ``;`` tab and ``|``; a UTF-8 byte-order mark is dropped; in files not separated by commas, columns written
  with a decimal comma (``1,5``) are read as numbers.
- Parquet (``.parquet``, ``.pq``).
- JSON Lines (``.jsonl``, ``.ndjson``, optionally ``.gz``): one JSON object per line.
- SQL: a table or a query through a SQLAlchemy URL, with :func:`read_sql` (SQLite, PostgreSQL, ...).

Text is read as UTF-8 unless an ``encoding`` is declared. Every user mistake — a missing file, a directory, an
unknown extension, an empty or header-only file, bytes that are not UTF-8, a line with too many fields — raises
:class:`DataError` naming the file and saying how to fix it.

Examples
--------
>>> folder = getfixture("tmp_path")
>>> _ = (folder / "scrap.csv").write_text("press;humidity;scrap\\nP1;61,5;0\\nP3;72,0;1\\n", encoding="utf-8")
>>> read_table(folder / "scrap.csv")
  press  humidity  scrap
0    P1      61.5      0
1    P3      72.0      1
>>> read_table(folder / "nothing.csv")
Traceback (most recent call last):
...
leanlearn.errors.DataError: .../nothing.csv: no such file; check the path (relative paths start in ...)
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import zlib
from pathlib import Path
from typing import Any

import pandas as pd

from leanlearn.errors import DataError

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 64 * 1024
_SNIFF_LINES = 50
_DECIMAL_COMMA = re.compile(r"^[+-]?(\d+(,\d*)?|,\d+)([eE][+-]?\d+)?$")
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}


def _supported() -> str:
    kinds = [*CSV_SUFFIXES, *(s + ".gz" for s in CSV_SUFFIXES), *PARQUET_SUFFIXES, *JSONL_SUFFIXES]
    return ", ".join(kinds)


def table_format(path: str | Path) -> tuple[str, bool]:
    """``(kind, gzipped)`` of a table file from its extension; kind is ``"csv"``, ``"parquet"`` or ``"jsonl"``.

    >>> table_format("runs/2024-05.csv.gz")
    ('csv', True)
    >>> table_format("runs.json")
    Traceback (most recent call last):
    ...
    leanlearn.errors.DataError: runs.json: unknown table format '.json'; ...
    """
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    gzipped = bool(suffixes) and suffixes[-1] == ".gz"
    last = suffixes[-2] if gzipped and len(suffixes) > 1 else (suffixes[-1] if suffixes and not gzipped else "")
    if last in CSV_SUFFIXES:
        return "csv", gzipped
    if last in JSONL_SUFFIXES:
        return "jsonl", gzipped
    if last in PARQUET_SUFFIXES and not gzipped:
        return "parquet", False
    shown = "".join(path.suffixes[-2:] if gzipped else path.suffixes[-1:]) or "(no extension)"
    hint = " (save the sheet as CSV, or read it with pandas)" if last in (".xls", ".xlsx") else ""
    raise DataError(
        f"{path}: unknown table format {shown!r}{hint}; leanlearn reads {_supported()} — rename or convert the file"
    )


def read_table(
    path: str | Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    na_values: list[str] | tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Read a CSV, Parquet or JSON Lines file into a DataFrame.

    Parameters
    ----------
    path : str or Path
        The file; its extension chooses the reader (see the module docstring).
    encoding : str, optional
        Text encoding of a CSV or JSONL file (e.g. ``"cp1252"``, ``"latin-1"``). Default: UTF-8, with or without a
        byte-order mark.
    delimiter : str, optional
        Field delimiter of a CSV file. Default: sniffed among ``, ; tab |``. A declared delimiter that splits the
        header into one column while another one splits it into several is refused with the likely one named.
    na_values : list of str, optional
        Extra cell texts that mean "no value" in a CSV file (e.g. ``["-", "k.A."]``), besides pandas' defaults
        (empty, ``NA``, ``n/a``, ``null``, ...).

    Returns
    -------
    DataFrame
        At least one row; column names as written in the file.

    Raises
    ------
    DataError
        For any problem with the file, naming it (and the line, column or byte where relevant) and the fix.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path (relative paths start in {Path.cwd()})")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a table file; name one file inside it ({_supported()})")
    kind, gzipped = table_format(path)
    if kind == "parquet":
        frame = _read_parquet(path)
    else:
        text = _decode(path, _read_bytes(path, gzipped), encoding)
        if not text.strip():
            raise DataError(f"{path}: the file is empty; export the table again (with a header row and data rows)")
        frame = _read_csv(path, text, delimiter, na_values) if kind == "csv" else _read_jsonl(path, text)
    return _require_rows(
        frame,
        no_columns=f"{path}: the file holds no columns; export the table again with a header row",
        no_rows=f"{path}: has a header ({{columns}}) but no data rows; export the rows too",
    )


def _require_rows(frame: pd.DataFrame, *, no_columns: str, no_rows: str) -> pd.DataFrame:
    """``frame`` if it has columns and rows; else a :class:`DataError` (``{columns}`` in ``no_rows`` is filled)."""
    if frame.shape[1] == 0:
        raise DataError(no_columns)
    if len(frame) == 0:
        columns = ", ".join(map(str, frame.columns[:8])) + (", …" if frame.shape[1] > 8 else "")
        raise DataError(no_rows.replace("{columns}", columns))
    return frame


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as CSV (optionally ``.gz``), Parquet or JSON Lines, chosen by the extension of ``path``.

    List-valued cells are written as lists in Parquet and JSON Lines and as ``;``-joined text in CSV.
    """
    path = Path(path)
    kind, gzipped = table_format(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory; name a file to write, e.g. {path / 'out.csv'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "parquet":
        frame.to_parquet(path, index=False)
    elif kind == "jsonl":
        frame.to_json(path, orient="records", lines=True, compression="gzip" if gzipped else None)
    else:
        flat = frame.copy()
        for column in flat.columns:
            is_list = flat[column].map(lambda v: isinstance(v, (list, tuple)))
            if pd.api.types.is_object_dtype(flat[column].dtype) and is_list.any():
                flat[column] = flat[column].map(lambda v: ";".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
        sep = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
        flat.to_csv(path, index=False, sep=sep, compression="gzip" if gzipped else None)
    return path


# -- internals ------------------------------------------------------------------------------------------------------
def _read_bytes(path: Path, gzipped: bool) -> bytes:
    if not gzipped:
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataError(
            f"{path}: not a valid gzip file ({exc}); re-compress it, or drop the .gz extension if it is plain text"
        ) from None


def _decode(path: Path, data: bytes, encoding: str | None) -> str:
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise DataError(f"{path}: unknown encoding {encoding!r}; use e.g. 'utf-8', 'cp1252' or 'latin-1'") from None
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise DataError(
                f"{path}: byte 0x{data[exc.start]:02x} at offset {exc.start} (line {line}) is not valid {encoding}; "
                "declare the encoding the file was written in"
            ) from None
        return text.removeprefix("\ufeff")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}: byte 0x{data[exc.start]:02x} at offset {exc.start} (line {line}) is not valid UTF-8; "
            "save the file as UTF-8, or declare its encoding (e.g. 'cp1252' for Excel on Windows: "
            "read_table(path, encoding='cp1252'), `encoding:` under the pipeline's source, or --encoding cp1252)"
        ) from None
    return text.removeprefix("\ufeff")


def sniff_delimiter(sample: str) -> str:
    """The delimiter among ``, ; tab |`` that splits the header into most fields consistently with the rows below.

    >>> sniff_delimiter("a;b;c\\n1,5;2;3\\n")
    ';'
    >>> sniff_delimiter("id,comment\\n1,\\"ok; fine\\"\\n")
    ','
    """
    lines = [line for line in sample.splitlines()[:_SNIFF_LINES] if line.strip()]
    best, best_score = ",", (-1.0, 0)
    for delimiter in DELIMITERS:
        rows = list(csv.reader(lines, delimiter=delimiter))
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(len(r) == width for r in rows) / len(rows)
        score = (consistent, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _read_csv(
    path: Path, text: str, declared: str | None = None, na_values: list[str] | tuple[str, ...] | None = None
) -> pd.DataFrame:
    sample = text[:_SNIFF_BYTES]
    sniffed = sniff_delimiter(sample)
    first_line = sample.lstrip("\r\n").splitlines()[0]
    delimiter = sniffed
    if declared is not None:
        if len(declared) != 1:
            raise DataError(f"{path}: delimiter {declared!r} must be one character, e.g. ';' or a tab")
        delimiter = declared
        fields = next(csv.reader([first_line], delimiter=declared), [])
        others = next(csv.reader([first_line], delimiter=sniffed), [])
        if len(fields) == 1 and len(others) > 1:
            shown = _DELIMITER_NAMES.get(declared, repr(declared))
            raise DataError(
                f"{path}: the declared delimiter {shown} finds one column in the header ({first_line[:60]!r}), "
                f"but the file looks separated by {_DELIMITER_NAMES[sniffed]}; declare delimiter: {sniffed!r}"
            )
    header = next(csv.reader([first_line], delimiter=delimiter), [])
    seen: set[str] = set()
    for name in header:
        if name in seen and name:
            raise DataError(
                f"{path}: column {name!r} appears twice in the header; rename one of them so every column is unique"
            )
        seen.add(name)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, skip_blank_lines=True,
                            na_values=list(na_values) if na_values else None)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; export the table again with a header row and data rows") from None
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{path}: cannot be read as CSV separated by {_DELIMITER_NAMES.get(delimiter, repr(delimiter))} "
            f"({detail}); "
            "fix that line, or quote fields that contain the delimiter"
        ) from None
    if delimiter != ",":
        frame = _decimal_commas(frame)
    return frame


def _decimal_commas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns that hold only numbers written with a decimal comma become float columns."""
    for column in frame.columns:
        s = frame[column]
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            continue
        values = s.dropna()
        if values.empty or not all(isinstance(v, str) for v in values):
            continue
        texts = values.str.strip()
        if texts.str.contains(",", regex=False).any() and texts.str.match(_DECIMAL_COMMA).all():
            frame[column] = pd.to_numeric(s.str.strip().str.replace(",", ".", regex=False))
    return frame


def _read_jsonl(path: Path, text: str) -> pd.DataFrame:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}: line {number} is not valid JSON ({exc.msg} at column {exc.colno}); "
                "JSON Lines needs one complete object per line"
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"{path}: line {number} holds a {type(record).__name__}, not an object; write one "
                '{"column": value, ...} object per line'
            )
        records.append(record)
    return pd.DataFrame.from_records(records)


def _read_parquet(path: Path) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; export the table again")
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: not a readable Parquet file ({detail}); export it again as Parquet") from None


# -- SQL ------------------------------------------------------------------------------------------------------------
_PASSWORD_IN_URL = re.compile(r"(//[^/:@]+):[^/@]*@")


def redact_url(url: str) -> str:
    """``url`` without its password (``user:secret@host`` → ``user:***@host``), safe to print.

    >>> redact_url("postgresql+psycopg2://etl:s3cret@db.plant:5432/mes")
    'postgresql+psycopg2://etl:***@db.plant:5432/mes'
    """
    return _PASSWORD_IN_URL.sub(r"\1:***@", str(url))


def read_sql(url: str, *, table: str | None = None, query: str | None = None, timeout: float = 5.0) -> pd.DataFrame:
    """Read a database table, or the result of a query, through a SQLAlchemy URL.

    Parameters
    ----------
    url : str
        A SQLAlchemy database URL: ``sqlite:///path/to/file.db``, ``postgresql+psycopg2://user@host:5432/db``, ...
        The password, if any, never appears in an error message.
    table : str, optional
        A table or view to read whole; ``schema.table`` for a table outside the default schema.
    query : str, optional
        A ``SELECT`` to run instead (exactly one of ``table`` and ``query``).
    timeout : float, default=5
        Seconds to wait for a database server to answer the connection (PostgreSQL, MySQL), so an unreachable
        server is reported quickly instead of hanging.

    Returns
    -------
    DataFrame
        At least one row; column names as in the database. ``timestamp with time zone`` columns come back
        tz-aware, ``timestamp`` columns naive.

    Raises
    ------
    DataError
        For a malformed URL, a missing driver, a server that cannot be reached, a missing SQLite file, an unknown
        table (naming the tables there are), a failing query (with the database's reason), or no rows.

    Examples
    --------
    >>> import sqlite3
    >>> db = getfixture("tmp_path") / "mes.db"
    >>> with sqlite3.connect(db) as con:
    ...     _ = con.execute("create table runs (press text, humidity real)")
    ...     _ = con.execute("insert into runs values ('P1', 61.5), ('P3', 72.0)")
    >>> read_sql(f"sqlite:///{db}", table="runs")
      press  humidity
    0    P1      61.5
    1    P3      72.0
    >>> read_sql(f"sqlite:///{db}", query="select press from runs where humidity > 70")
      press
    0    P3
    >>> read_sql(f"sqlite:///{db}", table="run")
    Traceback (most recent call last):
    ...
    leanlearn.errors.DataError: sqlite:///.../mes.db: no table 'run'; did you mean 'runs'? tables there: runs
    """
    shown = redact_url(url)
    if (table is None) == (query is None):
        raise DataError(f"{shown}: name exactly one of a table (table: runs) or a query (query: select ...)")
    if not isinstance(url, str) or not url.strip():
        raise DataError(f"{url!r}: not a database URL; write e.g. postgresql+psycopg2://user@host:5432/db")
    try:
        import sqlalchemy as sa
        from sqlalchemy import exc as sa_exc
    except ImportError:  # pragma: no cover - SQLAlchemy is installed with leanlearn's MLflow dependency
        raise DataError("SQL sources need SQLAlchemy: pip install 'sqlalchemy>=2'") from None

    example = "e.g. postgresql+psycopg2://user@host:5432/db or sqlite:///data/mes.db"
    try:
        parsed = sa.engine.make_url(url.strip())
    except sa_exc.ArgumentError:
        raise DataError(f"{shown}: not a database URL; {example}") from None
    shown = parsed.render_as_string(hide_password=True)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:") and not parsed.database.startswith(
        "file:"
    ):
        db_file = Path(parsed.database)
        if not db_file.is_file():
            raise DataError(f"{shown}: no such SQLite database file {db_file}; check the path in the URL")
    connect_args: dict[str, object] = {}
    if backend in ("postgresql", "mysql", "mariadb"):
        connect_args["connect_timeout"] = max(1, round(timeout))
    try:
        engine = sa.create_engine(parsed, connect_args=connect_args, poolclass=sa.pool.NullPool)
    except sa_exc.NoSuchModuleError:
        raise DataError(f"{shown}: unknown database kind {parsed.drivername!r}; {example}") from None
    except ModuleNotFoundError as exc:
        raise DataError(
            f"{shown}: the database driver {exc.name!r} is not installed; install it (pip install {exc.name}) "
            "or name an installed driver in the URL, e.g. postgresql+psycopg2://"
        ) from None
    except (sa_exc.ArgumentError, TypeError, ValueError) as exc:
        raise DataError(f"{shown}: cannot use this URL ({_first_line(exc)}); {example}") from None
    try:
        try:
            connection = engine.connect()
        except sa_exc.DBAPIError as exc:
            raise DataError(
                f"{shown}: cannot connect to the database ({_first_line(exc.orig or exc)}); check that the server "
                "runs and that host, port, user and database in the URL are right"
            ) from None
        with connection:
            what = f"table {table!r}" if table is not None else "the query"
            try:
                if table is not None:
                    frame = _read_sql_table(sa, connection, shown, table)
                else:
                    frame = pd.read_sql_query(sa.text(query), connection)  # type: ignore[arg-type]
            except (sa_exc.DBAPIError, pd.errors.DatabaseError) as exc:
                cause = exc.__cause__ if isinstance(exc.__cause__, sa_exc.DBAPIError) else exc
                reason = _first_line(cause.orig or cause) if isinstance(cause, sa_exc.DBAPIError) else _first_line(exc)
                shown_query = " ".join(str(query).split())[:120] if query is not None else f"select * from {table}"
                raise DataError(f"{shown}: the database refused {what} ({reason}); SQL: {shown_query}") from None
            except sa_exc.SQLAlchemyError as exc:
                raise DataError(f"{shown}: cannot read {what} ({_first_line(exc)})") from None
    finally:
        engine.dispose()
    return _require_rows(
        frame,
        no_columns=f"{shown}: {what} returned no columns; select the columns to read",
        no_rows=f"{shown}: {what} returned columns ({{columns}}) but no rows; check the table or WHERE clause",
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return redact_url(text.splitlines()[0]) if text else type(exc).__name__


def _read_sql_table(sa: Any, connection: Any, shown: str, table: str) -> pd.DataFrame:
    schema, _, name = table.rpartition(".")
    inspector = sa.inspect(connection)
    names = [*inspector.get_table_names(schema=schema or None), *inspector.get_view_names(schema=schema or None)]
    if name not in names:
        import difflib

        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        listed = ", ".join(sorted(names)[:20]) + (", …" if len(names) > 20 else "")
        where = f" in schema {schema!r}" if schema else ""
        there = f"tables there: {listed}" if names else f"the database has no tables{where}"
        raise DataError(f"{shown}: no table {table!r}{where}; {hint}{there}")
    reflected = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=connection)
    return pd.read_sql_query(sa.select(reflected), connection)
