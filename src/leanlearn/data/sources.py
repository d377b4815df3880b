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

Memory. A plain CSV file is checked against its encoding 16 MiB at a time and parsed by pandas from the file, so
reading it takes about the DataFrame it becomes (1,000,000 rows × 61 flag columns, 345 MB of text: 256 MB peak for
the whole ``leanlearn mine`` run, where decoding the file whole took 1.1 GB); a ``.gz`` file is inflated into memory
first, up to ``max_bytes``.

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
import itertools
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from leanlearn._util import first_line, redact
from leanlearn.errors import DataError
from leanlearn.limits import Limits

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 64 * 1024
_SNIFF_LINES = 50
_CHUNK_BYTES = 16 << 20  # a CSV file's bytes are checked against its encoding this many at a time
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
    limits: Limits | None = None,
    nested: str = "error",
    coerce: bool = True,
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
    limits : Limits, optional
        Bounds on decompressed bytes, rows, columns and cells (default: :meth:`Limits.from_env`, see
        :mod:`leanlearn.limits`); a file beyond one is refused before it fills memory.
    nested : {"error", "keep"}, default="error"
        Columns holding lists or objects (nested Parquet or JSON): refused with the column named, or kept as they
        are (e.g. to read back the ``rules`` lists ``leanlearn apply`` writes).
    coerce : bool, default=True
        A text column whose values are numbers but for a few cells (at most 1 %, and at least 5 numbers) becomes a
        number column; those cells become empty and are listed in ``frame.attrs["bad_cells"]`` (``row, column,
        value``), so one stray text never turns a measured column into text.

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
    limits = limits or Limits.from_env()
    if nested not in ("error", "keep"):
        raise DataError(f"nested={nested!r}: choose 'error' or 'keep'")
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path (relative paths start in {Path.cwd()})")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a table file; name one file inside it ({_supported()})")
    if not path.is_file():
        raise DataError(f"{path}: is not a regular file (a pipe or a device?); export the table to a file")
    kind, gzipped = table_format(path)
    if kind == "parquet":
        frame = _read_parquet(path, limits, nested)
    elif kind == "csv":
        # Every byte is checked against the encoding a chunk at a time, and pandas parses the file itself (a plain
        # file) or the decompressed bytes (gzip): no text copy of the file, which would cost 1 to 4 bytes per byte.
        data: bytes | None = None
        if gzipped:
            data = _read_bytes(path, gzipped, limits)
            chunks: Iterable[bytes] = (data[at : at + _CHUNK_BYTES] for at in range(0, len(data), _CHUNK_BYTES))
        else:
            limits.check("max_bytes", path.stat().st_size, str(path), "bytes")
            chunks = _file_chunks(path, limits)
        sample, content = _checked_text(path, chunks, encoding)
        if not content:
            raise DataError(f"{path}: the file is empty; export the table again (with a header row and data rows)")
        frame = _read_csv(path, sample, delimiter, na_values, limits, data=data, encoding=encoding,
                          from_file=data is None)
        del data
    else:
        data = _read_bytes(path, gzipped, limits)
        text = _decode(path, data, encoding)  # checks the encoding of every byte
        if not text.strip():
            raise DataError(f"{path}: the file is empty; export the table again (with a header row and data rows)")
        frame = _read_jsonl(path, text, limits)
        del text, data
    if nested == "error":
        _refuse_nested(path, frame)
    frame = _require_rows(
        frame,
        no_columns=f"{path}: the file holds no columns; export the table again with a header row",
        no_rows=f"{path}: has a header ({{columns}}) but no data rows; export the rows too",
    )
    if not coerce:
        return frame
    return coerce_numbers(frame, decimal_comma=frame.attrs.get("delimiter", ",") != ",")


def _check_shape(where: str, rows: int, columns: int, limits: Limits) -> None:
    """Refuse a table beyond the row, column or cell limit (``rows`` may be a lower bound: more than that)."""
    limits.check("max_columns", columns, where, "columns")
    limits.check("max_rows", rows, where, "rows")
    limits.check("max_cells", rows * columns, where, "cells (rows × columns)")


def _row_cap(columns: int, limits: Limits) -> int:
    """Most rows a table with ``columns`` columns may have under the row and cell limits."""
    return max(1, min(limits.max_rows, limits.max_cells // max(1, columns)))


def _refuse_nested(path: Path | str, frame: pd.DataFrame) -> None:
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_object_dtype(values.dtype):
            continue
        nested = values.map(lambda v: isinstance(v, (list, tuple, dict, set)) or hasattr(v, "__array__"))
        if nested.any():
            row = int(nested.to_numpy().argmax())
            shown = repr(values.iloc[row])
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise DataError(
                f"{path}: column {str(column)!r} holds lists or objects (row {row}: {shown}), not single values; "
                "leanlearn reads flat tables: flatten it into one column per field (e.g. pandas.json_normalize) "
                "before reading, or read it with read_table(..., nested='keep')"
            )


#: Largest share of cells that may fail to parse for a text column to still be read as numbers.
BAD_CELL_SHARE = 0.01
_MIN_NUMBERS = 5


def numeric_cells(values: pd.Series, *, decimal_comma: bool = False) -> tuple[pd.Series, pd.Series] | None:
    """``(numbers, bad)`` if ``values`` is a text column of numbers but for a few stray cells, else None.

    It qualifies when at least 5 non-empty cells are numbers and at most 1 % of them (at least one) are not;
    ``numbers`` is the column as floats (NaN at the stray cells), ``bad`` marks the stray cells.

    >>> numeric_cells(pd.Series(["1", "2", "3", "4", "5", "x"]))[1].tolist()
    [False, False, False, False, False, True]
    """
    if not pd.api.types.is_object_dtype(values.dtype) and not pd.api.types.is_string_dtype(values.dtype):
        return None
    given = values.notna()
    if int(given.sum()) < _MIN_NUMBERS:
        return None
    texts = values[given]
    if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in texts):
        return None
    stripped = texts.astype(str).str.strip()
    if decimal_comma:
        stripped = stripped.str.replace(",", ".", regex=False)
    parsed = pd.to_numeric(stripped, errors="coerce")
    stray = parsed.isna() & stripped.ne("")
    n_bad, n_good = int(stray.sum()), int((~stray).sum())
    if n_bad == 0 or n_good < _MIN_NUMBERS or n_bad > max(1, int(BAD_CELL_SHARE * len(texts))):
        return None
    numbers = pd.Series(float("nan"), index=values.index, dtype=float)
    numbers[parsed.index] = parsed.astype(float)
    bad = pd.Series(False, index=values.index)
    bad[stray.index] = stray
    return numbers, bad


def coerce_numbers(frame: pd.DataFrame, *, decimal_comma: bool = False) -> pd.DataFrame:
    """``frame`` with text columns that hold numbers but for a few stray cells made number columns, cell by cell.

    A column qualifies when at least 5 of its non-empty cells are numbers and at most 1 % (at least one cell) are
    not. The stray cells become empty; each is recorded in ``frame.attrs["bad_cells"]`` (a DataFrame ``row,
    column, value`` with the row position and the text as read), so nothing disappears unseen.

    >>> raw = pd.DataFrame({"torque": ["41.5", "40.1", "n/a!", "39.9", "42.0", "40.7"], "press": list("ABCDEF")})
    >>> frame = coerce_numbers(raw)
    >>> frame["torque"].tolist()[:3], frame.attrs["bad_cells"].to_dict("records")
    ([41.5, 40.1, nan], [{'row': 2, 'column': 'torque', 'value': 'n/a!'}])
    """
    records: list[dict[str, Any]] = []
    out = frame
    for column in frame.columns:
        found = numeric_cells(frame[column], decimal_comma=decimal_comma)
        if found is None:
            continue
        numbers, bad = found
        if out is frame:
            out = frame.copy()
        out[column] = numbers
        positions = frame.index.get_indexer(bad[bad].index)
        records.extend({"row": int(p), "column": str(column), "value": str(v)}
                       for p, v in zip(positions, frame[column][bad]))
    if records:
        previous = frame.attrs.get("bad_cells")
        cells = pd.DataFrame(records, columns=["row", "column", "value"])
        out.attrs["bad_cells"] = cells if previous is None else pd.concat([previous, cells], ignore_index=True)
    return out


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
def _read_bytes(path: Path, gzipped: bool, limits: Limits) -> bytes:
    """The file's bytes, decompressed, through a stream that stops one byte past ``limits.max_bytes``."""
    try:
        if not gzipped:
            limits.check("max_bytes", path.stat().st_size, str(path), "bytes")
            with path.open("rb") as handle:
                data = handle.read(limits.max_bytes + 1)
        else:
            with gzip.open(path, "rb") as handle:
                data = handle.read(limits.max_bytes + 1)  # gzip inflates in chunks: memory stays at the cap
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataError(
            f"{path}: not a valid gzip file ({exc}); re-compress it, or drop the .gz extension if it is plain text"
        ) from None
    if len(data) > limits.max_bytes:
        what = "bytes once decompressed" if gzipped else "bytes"
        raise DataError(limits.message("max_bytes", f"more than {limits.max_bytes:,}", str(path), what))
    return data


def _file_chunks(path: Path, limits: Limits) -> Iterator[bytes]:
    """The bytes of ``path`` in chunks of :data:`_CHUNK_BYTES`, stopping with the limit's error past
    ``limits.max_bytes`` (a file that grew after its size was checked)."""
    read = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            read += len(chunk)
            if read > limits.max_bytes:
                raise DataError(limits.message("max_bytes", f"more than {limits.max_bytes:,}", str(path), "bytes"))
            yield chunk


def _check_codec(path: Path, encoding: str) -> None:
    try:
        if not codecs.lookup(encoding)._is_text_encoding:
            raise LookupError(encoding)
    except LookupError:
        raise DataError(f"{path}: unknown encoding {encoding!r}; use e.g. 'utf-8', 'cp1252' or 'latin-1'") from None


def _not_valid(path: Path, byte: int, offset: int, line: int, encoding: str | None) -> DataError:
    """The error for a byte the encoding cannot decode (``encoding`` None: the UTF-8 default, with its fixes)."""
    if encoding is not None:
        return DataError(f"{path}: byte 0x{byte:02x} at offset {offset} (line {line}) is not valid {encoding}; "
                         "declare the encoding the file was written in")
    return DataError(
        f"{path}: byte 0x{byte:02x} at offset {offset} (line {line}) is not valid UTF-8; "
        "save the file as UTF-8, or declare its encoding (e.g. 'cp1252' for Excel on Windows: "
        "read_table(path, encoding='cp1252'), `encoding:` under the pipeline's source, or --encoding cp1252)"
    )


def _checked_text(path: Path, chunks: Iterable[bytes], encoding: str | None) -> tuple[str, bool]:
    """Check every byte of ``chunks`` against ``encoding`` (default UTF-8) without decoding the whole file at once:
    the beginning decoded (``4 × _SNIFF_BYTES`` characters at most, a byte-order mark removed) and whether the
    file holds anything but white space.

    A UTF-8 chunk of ASCII bytes (most of a machine export) is valid as it stands and is not decoded. UTF-16 and
    UTF-32 files are decoded whole (their incremental decoders refuse a file without a byte-order mark).

    >>> _checked_text(Path("t.csv"), [b"\\xef\\xbb\\xbfa,b\\n1,", b"2\\n"], None)
    ('a,b\\n1,2\\n', True)
    >>> _checked_text(Path("t.csv"), [b" \\n", b"\\t"], None)
    (' \\n\\t', False)
    """
    if encoding is not None:
        _check_codec(path, encoding)
    name = encoding or "utf-8"
    codec = codecs.lookup(name).name
    if codec in ("utf-16", "utf-32"):  # their incremental decoders refuse a stream without a byte-order mark
        text = _decode(path, b"".join(chunks), encoding)
        return text[: 4 * _SNIFF_BYTES], bool(text.strip())
    utf8 = codec in ("utf-8", "utf-8-sig")
    decoder = codecs.getincrementaldecoder(_plain_utf8(name))()
    want = 4 * _SNIFF_BYTES
    head: list[str] = []
    kept = 0
    content = started = False
    offset = lines = 0  # bytes and newlines of the chunks before this one

    def text_of(chunk: bytes, final: bool) -> str:
        pending = len(decoder.getstate()[0])
        try:
            return decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            at = offset - pending + exc.start  # the pending bytes of the chunk before are no newlines (>= 0x80)
            line = lines + chunk[: max(0, exc.start - pending)].count(b"\n") + 1
            raise _not_valid(path, exc.object[exc.start], at, line, encoding) from None
        except UnicodeError as exc:
            raise DataError(f"{path}: cannot be decoded as {name} ({first_line(exc)}); declare the encoding the "
                            "file was written in") from None

    for chunk in itertools.chain(chunks, [b""]):  # the empty chunk ends the decoding
        final = not chunk
        if utf8 and not final and chunk.isascii() and not decoder.getstate()[0]:
            piece = chunk[: max(0, want - kept)].decode("ascii")
            started = True
            if not content:
                content = bool(chunk[:4096].decode("ascii").strip()) or bool(chunk.decode("ascii").strip())
        else:
            piece = text_of(chunk, final)
            if not started and piece:  # the file's first character: a byte-order mark there is no text
                piece = piece.removeprefix("\ufeff")
                started = True
            if not content:
                content = bool(piece.strip())
            piece = piece[: max(0, want - kept)]
        if piece:
            head.append(piece)
            kept += len(piece)
        offset += len(chunk)
        lines += chunk.count(b"\n")
    return "".join(head), content


def _plain_utf8(encoding: str) -> str:
    """``"utf-8"`` for UTF-8 with a signature: the byte-order mark is removed after decoding, so an error's offset
    counts from the file's first byte (the ``utf-8-sig`` codec counts from after the mark)."""
    return "utf-8" if codecs.lookup(encoding).name == "utf-8-sig" else encoding


def _decode(path: Path, data: bytes, encoding: str | None) -> str:
    """All of ``data`` decoded (default UTF-8), a byte-order mark removed; a byte that does not decode is named."""
    if encoding is not None:
        _check_codec(path, encoding)
    try:
        text = data.decode(_plain_utf8(encoding or "utf-8"))
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _not_valid(path, data[exc.start], exc.start, line, encoding) from None
    except UnicodeError as exc:
        raise DataError(f"{path}: cannot be decoded as {encoding} ({first_line(exc)}); declare the encoding the "
                        "file was written in") from None
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
    path: Path,
    text: str,
    declared: str | None = None,
    na_values: list[str] | tuple[str, ...] | None = None,
    limits: Limits | None = None,
    *,
    data: bytes | None = None,
    encoding: str | None = None,
    from_file: bool = False,
) -> pd.DataFrame:
    """Parse CSV ``text`` — or, given ``data``, those bytes in ``encoding``, or with ``from_file`` the file at
    ``path`` itself — with ``text`` their beginning."""
    limits = limits or Limits.from_env()
    sample = text[:_SNIFF_BYTES]
    sniffed = sniff_delimiter(sample)
    header_line = sample.lstrip("\r\n").splitlines()[0]
    delimiter = sniffed
    if declared is not None:
        if len(declared) != 1:
            raise DataError(f"{path}: delimiter {declared!r} must be one character, e.g. ';' or a tab")
        delimiter = declared
        fields = next(csv.reader([header_line], delimiter=declared), [])
        others = next(csv.reader([header_line], delimiter=sniffed), [])
        if len(fields) == 1 and len(others) > 1:
            shown = _DELIMITER_NAMES.get(declared, repr(declared))
            raise DataError(
                f"{path}: the declared delimiter {shown} finds one column in the header ({header_line[:60]!r}), "
                f"but the file looks separated by {_DELIMITER_NAMES[sniffed]}; declare delimiter: {sniffed!r}"
            )
    header = next(csv.reader([header_line], delimiter=delimiter), [])
    seen: set[str] = set()
    for name in header:
        if name in seen and name:
            raise DataError(
                f"{path}: column {name!r} appears twice in the header; rename one of them so every column is unique"
            )
        seen.add(name)
    limits.check("max_columns", len(header), str(path), "columns")
    cap = _row_cap(len(header), limits)
    try:
        source: Path | io.BytesIO | io.StringIO = (path if from_file else io.BytesIO(data) if data is not None
                                                   else io.StringIO(text))
        frame = pd.read_csv(source, sep=delimiter, skip_blank_lines=True,
                            encoding=(encoding or "utf-8-sig") if data is not None or from_file else None,
                            na_values=list(na_values) if na_values else None, nrows=cap + 1)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; export the table again with a header row and data rows") from None
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{path}: cannot be read as CSV separated by {_DELIMITER_NAMES.get(delimiter, repr(delimiter))} "
            f"({detail}); "
            "fix that line, or quote fields that contain the delimiter"
        ) from None
    if len(frame) > cap:
        name = "max_rows" if cap == limits.max_rows else "max_cells"
        unit = "rows" if name == "max_rows" else "cells (rows × columns)"
        shown = f"more than {cap:,}" if name == "max_rows" else f"more than {cap * len(header):,}"
        raise DataError(limits.message(name, shown, str(path), unit))
    if delimiter != ",":
        frame = _decimal_commas(frame)
    frame.attrs["delimiter"] = delimiter
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


def _read_jsonl(path: Path, text: str, limits: Limits | None = None) -> pd.DataFrame:
    limits = limits or Limits.from_env()
    records: list[dict[str, Any]] = []
    names: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(records) >= limits.max_rows:
            raise DataError(limits.message("max_rows", f"more than {limits.max_rows:,}", str(path), "rows"))
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}: line {number} is not valid JSON ({exc.msg} at column {exc.colno}); "
                "JSON Lines needs one complete object per line"
            ) from None
        except RecursionError:
            raise DataError(f"{path}: line {number} nests lists or objects too deeply to be a table row; write "
                            "one flat object per line") from None
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            raise DataError(f"{path}: line {number} holds a value leanlearn cannot read ({first_line(exc)}); "
                            "write plain numbers and text") from None
        if not isinstance(record, dict):
            raise DataError(
                f"{path}: line {number} holds a {type(record).__name__}, not an object; write one "
                '{"column": value, ...} object per line'
            )
        names.update(record)
        limits.check("max_columns", len(names), str(path), "columns")
        limits.check("max_cells", (len(records) + 1) * len(names), str(path), "cells (rows × columns)")
        records.append(record)
    return pd.DataFrame.from_records(records)


def _read_parquet(path: Path, limits: Limits | None = None, nested: str = "error") -> pd.DataFrame:
    """A Parquet file, its shape checked from the metadata and its data decoded up to the byte limit.

    When every column is fixed width (flags, numbers, times) the decoded size follows from the metadata, so it is
    checked first and the file is read in one go (columns in parallel); otherwise it is decoded batch by batch and
    the reading stops as soon as the limit is passed.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pyarrow.types as pat

    limits = limits or Limits.from_env()
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; export the table again")
    unreadable = (OSError, ValueError, pa.ArrowException)
    try:
        meta = pq.ParquetFile(path)
        schema = meta.schema_arrow
        rows = meta.metadata.num_rows
    except unreadable as exc:
        raise DataError(f"{path}: not a readable Parquet file ({first_line(exc)}); export it again") from None
    _check_shape(str(path), rows, len(schema.names), limits)
    if nested == "error":
        for item in schema:
            if pat.is_nested(item.type):
                raise DataError(
                    f"{path}: column {item.name!r} is nested ({item.type}), not single values; leanlearn reads "
                    "flat tables: flatten it into one column per field before exporting, or read it with "
                    "read_table(..., nested='keep')"
                )
    fixed = _fixed_width_bytes(schema, rows)
    if fixed is not None:  # every column fixed width: the decoded size is known before decoding anything
        if fixed > limits.max_bytes:
            raise DataError(limits.message("max_bytes", fixed, str(path), "bytes once decoded"))
        try:  # one read, columns decoded in parallel, one chunk per column (no concatenation in to_pandas)
            return meta.read(use_threads=True).to_pandas()
        except unreadable as exc:
            raise DataError(f"{path}: not a readable Parquet file ({first_line(exc)}); export it again") from None
    batches, unpacked = [], 0
    try:
        for batch in meta.iter_batches(batch_size=65_536):  # decoded batch by batch: stop at the byte limit
            unpacked += batch.nbytes
            if unpacked > limits.max_bytes:
                raise DataError(limits.message("max_bytes", f"more than {limits.max_bytes:,}", str(path),
                                               "bytes once decoded"))
            batches.append(batch)
        return pa.Table.from_batches(batches, schema=schema).to_pandas()
    except unreadable as exc:
        raise DataError(f"{path}: not a readable Parquet file ({first_line(exc)}); export it again") from None


def _fixed_width_bytes(schema: Any, rows: int) -> int | None:
    """Bytes the values of ``rows`` rows take once decoded when every column of the Arrow ``schema`` is fixed width
    (booleans, integers, floats and times: a bit, or their width; validity bitmaps not counted), else ``None``
    (text, categorical, decimal or nested columns: their decoded size is only known by decoding).

    >>> import pyarrow as pa
    >>> _fixed_width_bytes(pa.schema([("ok", pa.bool_()), ("t", pa.float64())]), 1000)
    8125
    >>> _fixed_width_bytes(pa.schema([("name", pa.string())]), 1000) is None
    True
    """
    import pyarrow.types as pat

    total = 0
    for field in schema:
        kind = field.type
        if not (pat.is_boolean(kind) or pat.is_integer(kind) or pat.is_floating(kind) or pat.is_temporal(kind)):
            return None  # text, dictionary (categorical), decimal (Python objects), nested, null ...
        total += -(-rows * int(kind.bit_width) // 8)
    return total


# -- SQL ------------------------------------------------------------------------------------------------------------
#: First words a query may start with: it must only read (``select``, ``with``, ``values``, ``table``).
READ_STATEMENTS = ("select", "with", "values", "table")
_SQL_CHUNK = 50_000


def redact_url(url: str) -> str:
    """``url`` without its password, safe to print (see :func:`leanlearn._util.redact` for every form handled).

    >>> redact_url("postgresql+psycopg2://etl:s3cret@db.plant:5432/mes")
    'postgresql+psycopg2://etl:***@db.plant:5432/mes'
    >>> redact_url("postgresql://etl:p@ss@db.plant/mes?password=s3cret")
    'postgresql://etl:***@db.plant/mes?password=***'
    """
    return redact(url)


def check_read_only_sql(query: str) -> str:
    """``query`` if it is one statement that starts by reading (``select``, ``with``, ``values``, ``table``);
    a :class:`DataError` otherwise. Quotes, dollar quotes and comments are skipped, so a ``;`` inside them is fine.

    >>> check_read_only_sql("select * from runs where note = 'a;b' -- the end;")
    "select * from runs where note = 'a;b' -- the end;"
    >>> check_read_only_sql("select 1; copy (select 1) to program 'id'")
    Traceback (most recent call last):
    ...
    leanlearn.errors.DataError: the query holds more than one statement (a ';' before "copy (select 1) to ...
    """
    words: list[str] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if query.startswith("--", i):
            j = query.find("\n", i)
            i = n if j < 0 else j + 1
        elif query.startswith("/*", i):
            j = query.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c in "'\"":
            j = i + 1
            while j < n:
                if query[j] == c and query.startswith(c * 2, j):
                    j += 2
                    continue
                if query[j] == c:
                    break
                j += 1
            i = j + 1
        elif c == "$" and (m := re.match(r"\$[A-Za-z_]*\$", query[i:])):
            j = query.find(m.group(0), i + len(m.group(0)))
            i = n if j < 0 else j + len(m.group(0))
        elif c == ";":
            rest = query[i + 1:]
            if _strip_sql_comments(rest).strip(" \t\r\n;"):
                shown = " ".join(rest.split())[:40]
                raise DataError(f"the query holds more than one statement (a ';' before {shown!r}); a SQL source "
                                "reads with one SELECT: remove everything after the first ';'")
            break
        elif c.isalpha() or c == "_":
            m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", query[i:])
            assert m is not None
            words.append(m.group(0).lower())
            i += len(m.group(0))
        else:
            i += 1
    first = words[0] if words else ""
    if first not in READ_STATEMENTS:
        raise DataError(f"the query starts with {first or 'nothing'!r}; a SQL source only reads: write one SELECT "
                        "(or WITH ... SELECT) — leanlearn never changes a database")
    return query


def _strip_sql_comments(text: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/", "", text, flags=re.DOTALL)


def _url_problem(url: str) -> str | None:
    """Why ``url`` cannot be parsed safely (an unencoded ``@`` or ``/`` in the password), or None."""
    if "://" not in url:
        return None
    head = re.split(r"[?#]", url.split("://", 1)[1], maxsplit=1)[0]
    if head.startswith("/"):
        return None  # sqlite:////abs/path: no user or password
    at = head.rfind("@")
    if at < 0:
        return None
    userinfo = head[:at]
    if "@" in userinfo or "/" in userinfo:
        char = "@" if "@" in userinfo else "/"
        code = "%40" if char == "@" else "%2F"
        return (f"the user or password holds an unencoded {char!r}, so the URL cannot be read unambiguously; "
                f"write it as {code} (e.g. user:p{code}ss@host), or put the password in ${{VARIABLE}} or ~/.pgpass")
    return None


def read_sql(
    url: str,
    *,
    table: str | None = None,
    query: str | None = None,
    timeout: float = 5.0,
    statement_timeout: float | None = None,
    read_only: bool = True,
    limits: Limits | None = None,
) -> pd.DataFrame:
    """Read a database table, or the result of a query, through a SQLAlchemy URL — reading only.

    Parameters
    ----------
    url : str
        A SQLAlchemy database URL: ``sqlite:///path/to/file.db``, ``postgresql+psycopg://user@host:5432/db``, ...
        The password, if any, never appears in an error message (whether written ``user:pw@host`` or
        ``?password=pw``); a password with an unencoded ``@`` or ``/`` is refused (write ``%40`` / ``%2F``).
    table : str, optional
        A table or view to read whole; ``schema.table`` for a table outside the default schema.
    query : str, optional
        One ``SELECT`` (or ``WITH ... SELECT``, ``VALUES``, ``TABLE``) to run instead (exactly one of ``table`` and
        ``query``); anything else — a second statement, ``COPY``, an ``UPDATE`` — is refused before it is sent.
    timeout : float, default=5
        Seconds to wait for a database server to answer the connection (PostgreSQL, MySQL), so an unreachable
        server is reported quickly instead of hanging.
    statement_timeout : float, optional
        Seconds the statement may run (PostgreSQL ``statement_timeout``, MySQL ``max_execution_time``, SQLite by
        interrupting it). Default: ``limits.sql_timeout`` (300 s, ``LEANLEARN_SQL_TIMEOUT``).
    read_only : bool, default=True
        Read in a read-only transaction (PostgreSQL, MySQL / MariaDB) or through a read-only connection (SQLite),
        so even a statement that passed the check cannot write. ``False`` only for a database where that is not
        possible; the SELECT check applies either way.
    limits : Limits, optional
        Row, column and cell limits of the result (see :mod:`leanlearn.limits`); rows are fetched in chunks, so
        a result beyond them stops early.

    Returns
    -------
    DataFrame
        At least one row; column names as in the database. ``timestamp with time zone`` columns come back
        tz-aware, ``timestamp`` columns naive.

    Raises
    ------
    DataError
        For a malformed URL, a missing driver, a server that cannot be reached, a missing SQLite file, an unknown
        table (naming the tables there are), a query that is not one read, a failing or too slow query (with the
        database's reason), too many rows or columns, or no rows.

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
    >>> read_sql(f"sqlite:///{db}", query="delete from runs")
    Traceback (most recent call last):
    ...
    leanlearn.errors.DataError: sqlite:///.../mes.db: the query starts with 'delete'; a SQL source only reads: ...
    """
    limits = limits or Limits.from_env()
    seconds = limits.sql_timeout if statement_timeout is None else statement_timeout
    if not isinstance(url, str) or not url.strip():
        raise DataError(f"{url!r}: not a database URL; write e.g. postgresql+psycopg://user@host:5432/db")
    shown = redact(url)
    if (table is None) == (query is None):
        raise DataError(f"{shown}: name exactly one of a table (table: runs) or a query (query: select ...)")
    if not seconds > 0:
        raise DataError(f"{shown}: statement_timeout={seconds!r} must be a positive number of seconds")
    problem = _url_problem(url.strip())
    if problem:
        raise DataError(f"{shown}: {problem}")
    if query is not None:
        try:
            check_read_only_sql(query)
        except DataError as exc:
            raise DataError(f"{shown}: {exc}") from None
    try:
        import sqlalchemy as sa
        from sqlalchemy import exc as sa_exc
    except ImportError:  # pragma: no cover - SQLAlchemy is installed with leanlearn's MLflow dependency
        raise DataError("SQL sources need SQLAlchemy: pip install 'sqlalchemy>=2'") from None

    example = "e.g. postgresql+psycopg://user@host:5432/db or sqlite:///data/mes.db"
    try:
        parsed = sa.engine.make_url(url.strip())
    except sa_exc.ArgumentError:
        raise DataError(f"{shown}: not a database URL; {example}") from None
    secrets = [parsed.password] if isinstance(parsed.password, str) else []
    shown = redact(parsed.render_as_string(hide_password=True), secrets)
    backend = parsed.get_backend_name()
    connect_args: dict[str, object] = {}
    engine_args: dict[str, Any] = {}
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:") and not parsed.database.startswith(
        "file:"
    ):
        db_file = Path(parsed.database)
        if not db_file.is_file():
            raise DataError(f"{shown}: no such SQLite database file {db_file}; check the path in the URL")
        if read_only:
            import sqlite3

            uri = f"{db_file.resolve().as_uri()}?mode=ro"
            engine_args["creator"] = lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)
    if backend in ("postgresql", "mysql", "mariadb"):
        connect_args["connect_timeout"] = max(1, round(timeout))
    try:
        engine = sa.create_engine(parsed, connect_args=connect_args, poolclass=sa.pool.NullPool, **engine_args)
    except sa_exc.NoSuchModuleError:
        raise DataError(f"{shown}: unknown database kind {parsed.drivername!r}; {example}") from None
    except ModuleNotFoundError as exc:
        raise DataError(
            f"{shown}: the database driver {exc.name!r} is not installed; install it (pip install {exc.name}) "
            "or name an installed driver in the URL, e.g. postgresql+psycopg://"
        ) from None
    except (sa_exc.ArgumentError, TypeError, ValueError) as exc:
        raise DataError(f"{shown}: cannot use this URL ({first_line(exc, secrets)}); {example}") from None
    what = f"table {table!r}" if table is not None else "the query"
    try:
        try:
            connection = engine.connect()
        except sa_exc.DBAPIError as exc:
            raise DataError(
                f"{shown}: cannot connect to the database ({first_line(exc.orig or exc, secrets)}); check that the "
                "server runs and that host, port, user and database in the URL are right"
            ) from None
        with connection:
            try:
                if backend == "postgresql" and read_only:
                    connection = connection.execution_options(postgresql_readonly=True)
                with connection.begin():
                    _guard_session(connection, sa, backend, read_only, seconds)
                    if table is not None:
                        statement = _table_select(sa, connection, shown, table)
                    else:
                        statement = sa.text(str(query))
                    frame = _fetch(connection.execution_options(stream_results=True), statement, shown, what,
                                   limits)
            except DataError:
                raise
            except (sa_exc.DBAPIError, pd.errors.DatabaseError) as exc:
                cause = exc.__cause__ if isinstance(exc.__cause__, sa_exc.DBAPIError) else exc
                raw = cause.orig or cause if isinstance(cause, sa_exc.DBAPIError) else exc
                reason = first_line(raw, secrets)
                if _timed_out(raw):
                    raise DataError(f"{shown}: {what} ran longer than the statement timeout of {seconds:g} s "
                                    f"({reason}); narrow it, or raise statement_timeout / LEANLEARN_SQL_TIMEOUT"
                                    ) from None
                shown_query = " ".join(str(query).split())[:120] if query is not None else f"select * from {table}"
                raise DataError(f"{shown}: the database refused {what} ({reason}); SQL: {shown_query}") from None
            except sa_exc.SQLAlchemyError as exc:
                raise DataError(f"{shown}: cannot read {what} ({first_line(exc, secrets)})") from None
    finally:
        engine.dispose()
    return _require_rows(
        frame,
        no_columns=f"{shown}: {what} returned no columns; select the columns to read",
        no_rows=f"{shown}: {what} returned columns ({{columns}}) but no rows; check the table or WHERE clause",
    )


def _guard_session(connection: Any, sa: Any, backend: str, read_only: bool, seconds: float) -> None:
    """Make the open transaction read-only and bounded in time, as the database allows."""
    millis = max(1, int(seconds * 1000))
    if backend == "postgresql":
        if read_only:
            connection.execute(sa.text("SET TRANSACTION READ ONLY"))
        connection.execute(sa.text(f"SET LOCAL statement_timeout = {millis}"))
    elif backend in ("mysql", "mariadb"):
        if read_only:
            connection.execute(sa.text("SET SESSION TRANSACTION READ ONLY"))
        variable = "max_statement_time" if backend == "mariadb" else "max_execution_time"
        value = f"{seconds:g}" if backend == "mariadb" else str(millis)
        connection.execute(sa.text(f"SET SESSION {variable} = {value}"))
    elif backend == "sqlite":
        import time

        raw = connection.connection.dbapi_connection
        deadline = time.monotonic() + seconds
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        if read_only:
            connection.execute(sa.text("PRAGMA query_only = ON"))


def _timed_out(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("statement timeout", "canceling statement", "interrupted",
                                         "max_execution_time", "max_statement_time"))


def _fetch(connection: Any, statement: Any, shown: str, what: str, limits: Limits) -> pd.DataFrame:
    """The statement's rows, fetched in chunks; refused as soon as they pass the row, column or cell limit."""
    chunks: list[pd.DataFrame] = []
    rows = 0
    for chunk in pd.read_sql_query(statement, connection, chunksize=_SQL_CHUNK):
        columns = chunk.shape[1]
        limits.check("max_columns", columns, f"{shown}: {what}", "columns")
        rows += len(chunk)
        cap = _row_cap(columns, limits)
        if rows > cap:
            name = "max_rows" if cap == limits.max_rows else "max_cells"
            unit = "rows" if name == "max_rows" else "cells (rows × columns)"
            value = cap if name == "max_rows" else cap * columns
            raise DataError(limits.message(name, f"more than {value:,}", f"{shown}: {what}", unit))
        chunks.append(chunk)
    if not chunks:  # no rows: read the columns once more, without chunks
        return pd.read_sql_query(statement, connection)
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)


def _table_select(sa: Any, connection: Any, shown: str, table: str) -> Any:
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
    return sa.select(reflected)
