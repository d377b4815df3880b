"""Fusion: declarative mapping rules (YAML) turn MES, ERP, WMS and PLC sources into the canonical tables.

A fusion pipeline says, per source, which canonical table(s) each row feeds and how its columns map. Everything
ends on one time axis (UTC), one material code and one set of units; every row read ends either in a canonical
table or in the quarantine table with a reason code, and the reconciliation per source adds up exactly:
``read = used + quarantined``.

The YAML format (``pipelines/production_4tu.yaml`` is a commented real example)::

    name: press-line-2                 # name of the fused data set (default output folder fused/<name>/)
    line: press-2                      # fills the `line` column wherever a feed does not map it
    codes:                             # material-code maps between systems: inline, or a CSV file
      erp_to_mes: {map: {"4711": BRK-200, "4712": BRK-300}}
      wms_to_mes: {path: codes/wms.csv, from: wms_code, to: mes_code}
    sources:
      - name: mes                      # unique; used in quarantine and reconciliation
        path: exports/mes.csv          # relative to this YAML; or `dataset: production_4tu`;
                                       # or `url: postgresql+psycopg2://user@host/db` with `table:` or `query:`
        delimiter: ";"                 # optional (sniffed by default); also `encoding:` and `na_values: [-]`
        time: {format: "%d.%m.%Y %H:%M", zone: Europe/Berlin, nonexistent: shift_forward, ambiguous: infer}
        feeds:
          - table: operations          # operations | downtime | demand | signals | moves
            where: {Type: [P, R]}      # routing: only rows whose `Type` is P or R feed this table
            columns:                   # canonical (or extra) column ← source column, constant or spec
              station: Machine
              order_id: Order
              material: {column: Article, codes: erp_to_mes}       # unknown codes → quarantine unknown_code
              kind: {column: Type, codes: {P: production, R: rework}}
              start: Start
              end: End
              temp_C: {column: temp_F, convert: "(x - 32) * 5 / 9"}  # or unit: {from: degF, to: degC}
              scrap_qty: {column: Scrap, type: number, default: 0}
              shift: {value: early}                                # a constant
            duplicates: [station, start]  # same values again → quarantine `duplicate`, first one kept
      - name: plc
        path: exports/plc.parquet      # tag like L1.S2.RH, one reading per row
        feeds:
          - table: signals
            columns:
              line: {column: tag, split: {sep: ".", part: 0}}    # L1.S2.RH → L1
              station: {column: tag, split: {sep: ".", part: 1}} # → S2
              name: {column: tag, split: {sep: ".", part: -1}, codes: {RH: humidity, TEMP: temperature}}
              ts: ts
              value: value
    aggregate:                         # PLC signals onto each operation's time window [start, end]
      signals: {humidity: [mean, max], temperature: last}        # → columns humidity_mean, humidity_max, ...
      outside: quarantine              # readings in no window: quarantine (out_of_window) or keep
      by: [line, station]              # which operations a reading can belong to
      closed: both                     # window ends a reading counts at: both [start, end], left [start, end), ...

Column specs: a text value is a source column; a number or true/false is a constant; a mapping has exactly one of
``column`` / ``value`` and optionally ``split`` (``{sep: ".", part: 1}``: the source text cut at ``sep``, part
``part`` counted from 0, negative from the end; a value without that part quarantines its row as
``missing_value``), ``codes`` (a named map or an inline one; applied after ``split``), ``keep_unknown``, ``convert`` (an
expression in ``x``, parsed by :class:`~leanlearn.mining.expressions.Expression`, never ``eval``'d) or ``unit``
(``{from: degF, to: degC}``, see :data:`UNITS`), ``type`` (text, number, bool, time), ``time`` (overrides the
source's time spec) and ``default`` (fills empty cells). A feed may also carry ``convert: {temp_F: {to: temp_C,
convert: "(x - 32) * 5 / 9"}}`` — the same as a column spec for ``temp_C``.

Time specs: ``format`` is ``iso`` (default; ISO 8601, an offset such as ``+01:00`` or ``Z`` is honoured), a
``strptime`` format, or ``epoch`` with ``unit`` s / ms / us / ns (always UTC); ``zone`` is the IANA zone of local
times (default UTC); ``nonexistent`` (times skipped by the spring change: ``quarantine`` or ``shift_forward`` /
``shift_backward``) and ``ambiguous`` (times repeated by the autumn change: ``quarantine``, ``infer`` from the row
order, ``earliest`` or ``latest``) default to ``quarantine`` with reasons ``nonexistent_time`` / ``ambiguous_time``;
``years: [1980, 2100]`` bounds plausible dates (an epoch in the wrong unit gives 1970 or year 50000).

What is an error and what is quarantined: a declaration that cannot be right for the data — a missing column, a
time format or epoch unit under which *no* value of a column parses, a numeric column holding *no* number — is a
:class:`~leanlearn.errors.DataError` naming the source, the column and an example value; a malformed pipeline is a
:class:`~leanlearn.errors.MappingError` naming the file and the key. A bad *value* among good ones quarantines its
row with a reason code (see :data:`leanlearn.data.schema.REASONS`). A row that several feeds route is all-or-nothing:
if one feed rejects it, it is quarantined (once, first reason) and feeds no table. Signal readings that fall in no
operation's window are quarantined as ``out_of_window`` (``outside: keep`` keeps them in ``signals``, counted as used).

Examples
--------
>>> folder = getfixture("tmp_path")
>>> _ = (folder / "mes.csv").write_text(
...     "Machine,Start,End,Type\\n"
...     "P1,2024-03-31 01:00,2024-03-31 01:40,P\\n"
...     "P1,2024-03-31 02:30,2024-03-31 03:10,P\\n"       # 02:30 does not exist in Berlin that night
...     "P1,2024-03-31 03:20,2024-03-31 03:50,B\\n", encoding="utf-8")
>>> pipeline = {
...     "name": "demo", "line": "L1",
...     "sources": [{"name": "mes", "path": str(folder / "mes.csv"), "time": {"zone": "Europe/Berlin"},
...                  "feeds": [{"table": "operations", "where": {"Type": "P"},
...                             "columns": {"station": "Machine", "start": "Start", "end": "End"}},
...                            {"table": "downtime", "where": {"Type": "B"},
...                             "columns": {"station": "Machine", "start": "Start", "end": "End",
...                                         "reason": {"value": "breakdown"}, "planned": False}}]}]}
>>> result = fuse(pipeline)
>>> result.tables["operations"][["station", "start", "end"]]
  station                     start                       end
0      P1 2024-03-31 00:00:00+00:00 2024-03-31 00:40:00+00:00
>>> result.reconciliation[["source", "read", "used", "quarantined", "nonexistent_time"]]
  source  read  used  quarantined  nonexistent_time
0    mes     3     2            1                 1
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leanlearn.data.schema import (
    OPERATION_KINDS,
    QUARANTINE_COLUMNS,
    REASONS,
    TABLES,
    Column,
    TableSchema,
    empty_quarantine,
    quarantine_rows,
    validate,
)
from leanlearn.errors import DataError, ExpressionError, MappingError
from leanlearn.yamlfile import read_yaml

__all__ = [
    "UNITS",
    "AggregateSpec",
    "ColumnSpec",
    "FeedSpec",
    "FusionPipeline",
    "FusionResult",
    "SourceSpec",
    "TimeSpec",
    "attach_signals",
    "fuse",
    "inventory",
    "levelling",
    "load_fusion",
    "to_utc",
    "transport",
]

TOP_KEYS = ("name", "line", "description", "sources", "codes", "aggregate")
SOURCE_KEYS = ("name", "path", "dataset", "url", "table", "query", "encoding", "delimiter", "na_values", "time",
               "feeds")
FEED_KEYS = ("table", "where", "columns", "convert", "duplicates", "time")
COLUMN_KEYS = ("column", "value", "split", "codes", "keep_unknown", "convert", "unit", "type", "time", "default")
TIME_KEYS = ("format", "unit", "zone", "nonexistent", "ambiguous", "years")
CODE_FILE_KEYS = ("path", "from", "to", "encoding")
CONVERT_KEYS = ("to", "convert", "unit")
AGGREGATE_KEYS = ("signals", "outside", "by", "closed")
DATASETS = {"production_4tu": "production_4tu.csv.gz", "ai4i2020": "ai4i2020.csv.gz"}
AGGREGATIONS = ("mean", "max", "min", "last", "first", "sum", "count", "median", "std")
CLOSED = ("both", "left", "right", "neither")
NONEXISTENT = ("quarantine", "shift_forward", "shift_backward")
AMBIGUOUS = ("quarantine", "infer", "earliest", "latest")
EPOCH_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
TYPES = ("text", "number", "bool", "time")
TIME_COLUMNS = {"operations": "start", "downtime": "start", "demand": "period_start", "signals": "ts", "moves": "start"}

#: Known units: name → (dimension, scale, offset) with ``SI value = x * scale + offset``.
UNITS: dict[str, tuple[str, float, float]] = {
    "K": ("temperature", 1.0, 0.0),
    "degC": ("temperature", 1.0, 273.15),
    "°C": ("temperature", 1.0, 273.15),
    "degF": ("temperature", 5 / 9, 273.15 - 32 * 5 / 9),
    "°F": ("temperature", 5 / 9, 273.15 - 32 * 5 / 9),
    "mm": ("length", 1e-3, 0.0),
    "cm": ("length", 1e-2, 0.0),
    "m": ("length", 1.0, 0.0),
    "in": ("length", 0.0254, 0.0),
    "ft": ("length", 0.3048, 0.0),
    "g": ("mass", 1e-3, 0.0),
    "kg": ("mass", 1.0, 0.0),
    "t": ("mass", 1000.0, 0.0),
    "lb": ("mass", 0.45359237, 0.0),
    "Pa": ("pressure", 1.0, 0.0),
    "kPa": ("pressure", 1e3, 0.0),
    "MPa": ("pressure", 1e6, 0.0),
    "mbar": ("pressure", 100.0, 0.0),
    "bar": ("pressure", 1e5, 0.0),
    "psi": ("pressure", 6894.757293168, 0.0),
    "ms": ("time", 1e-3, 0.0),
    "s": ("time", 1.0, 0.0),
    "min": ("time", 60.0, 0.0),
    "h": ("time", 3600.0, 0.0),
    "N": ("force", 1.0, 0.0),
    "kN": ("force", 1e3, 0.0),
    "Nm": ("torque", 1.0, 0.0),
    "W": ("power", 1.0, 0.0),
    "kW": ("power", 1e3, 0.0),
    "Hz": ("frequency", 1.0, 0.0),
    "rpm": ("frequency", 1 / 60, 0.0),
    "l": ("volume", 1e-3, 0.0),
    "m3": ("volume", 1.0, 0.0),
    "%": ("ratio", 0.01, 0.0),
    "ratio": ("ratio", 1.0, 0.0),
}

_OFFSET = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)
_FORMAT_GUESSES = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%Y/%m/%d %H:%M:%S.%f",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y%m%d%H%M%S", "%d-%b-%Y %H:%M:%S",
)
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


# -- the pipeline as data -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TimeSpec:
    """How a timestamp column is written and which zone its local times are in (see the module docstring)."""

    format: str = "iso"
    unit: str = "s"
    zone: str = "UTC"
    nonexistent: str = "quarantine"
    ambiguous: str = "quarantine"
    years: tuple[int, int] = (1980, 2100)

    def describe(self) -> str:
        return f"epoch {self.unit}" if self.format == "epoch" else ("ISO 8601" if self.format == "iso" else
                                                                    f"format {self.format!r}")


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """Where one output column comes from: a source column (with codes, conversion, type) or a constant."""

    name: str
    column: str | None = None
    value: Any = None
    split: tuple[str, int] | None = None
    codes: Mapping[str, str] | None = None
    codes_name: str | None = None
    keep_unknown: bool = False
    convert: str | None = None
    unit: tuple[str, str] | None = None
    type: str | None = None
    time: TimeSpec | None = None
    default: Any = None


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One canonical table fed by (the routed rows of) one source."""

    table: str
    columns: tuple[ColumnSpec, ...]
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    duplicates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One input: a file, a shipped dataset, or a SQL table / query, and the tables it feeds."""

    name: str
    feeds: tuple[FeedSpec, ...]
    path: Path | None = None
    dataset: str | None = None
    url: str | None = None
    table: str | None = None
    query: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    na_values: tuple[str, ...] = ()
    time: TimeSpec = field(default_factory=TimeSpec)

    @property
    def label(self) -> str:
        """What error messages call this source: the file, ``dataset:NAME`` or the (redacted) URL and table."""
        if self.path is not None:
            return str(self.path)
        if self.dataset is not None:
            return f"dataset:{self.dataset}"
        from leanlearn.data.sources import redact_url

        what = f"table {self.table}" if self.table is not None else "query"
        return f"{redact_url(str(self.url))} ({what})"

    def read(self) -> pd.DataFrame:
        """The source's rows, as read (a :class:`~leanlearn.errors.DataError` if it cannot be read)."""
        from leanlearn.data.sources import read_sql, read_table

        if self.url is not None:
            return read_sql(self.url, table=self.table, query=self.query)
        if self.dataset is not None:
            from leanlearn.data.datasets import data_file

            return read_table(data_file(DATASETS[self.dataset]))
        assert self.path is not None
        return read_table(self.path, encoding=self.encoding, delimiter=self.delimiter,
                          na_values=list(self.na_values) or None)


@dataclass(frozen=True, slots=True)
class AggregateSpec:
    """Which signals are aggregated onto operations, how, and what happens to readings outside every window."""

    signals: Mapping[str, tuple[str, ...]]
    outside: str = "quarantine"
    by: tuple[str, ...] = ("line", "station")
    closed: str = "both"


@dataclass(frozen=True, slots=True)
class FusionPipeline:
    """A fusion pipeline. Build with :func:`load_fusion`; run with :func:`fuse`."""

    name: str
    line: str
    sources: tuple[SourceSpec, ...]
    description: str = ""
    aggregate: AggregateSpec | None = None
    origin: Path | None = None


@dataclass(frozen=True, eq=False)
class FusionResult:
    """The fused canonical tables, the quarantine, and the reconciliation per source.

    Attributes
    ----------
    name : str
        The pipeline's name.
    tables : dict of str to DataFrame
        One canonical table per table some source feeds, sorted by time, UTC, index 0..n-1.
    quarantine : DataFrame
        One row per rejected input row: ``source, row, table, reason, column, value, message`` — ``row`` is the
        0-based data row of the source (in a CSV file, line ``row + 2``); ``column`` and ``value`` are the
        source's column and its text as read (for ``duplicate``, the key columns as declared and their values).
    reconciliation : DataFrame
        One row per source: ``source, read, used, quarantined`` and one count column per reason code;
        ``read == used + quarantined`` on every row.
    """

    name: str
    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    reconciliation: pd.DataFrame

    def reconciliation_json(self) -> dict[str, Any]:
        """The reconciliation as a JSON-ready document (reasons listed only where the count is not zero)."""
        sources = []
        for record in self.reconciliation.to_dict("records"):
            reasons = {r: int(record[r]) for r in REASONS if int(record.get(r, 0))}
            sources.append({"source": record["source"], "read": int(record["read"]), "used": int(record["used"]),
                            "quarantined": int(record["quarantined"]), "reasons": reasons})
        return {"pipeline": self.name, "sources": sources,
                "tables": {name: int(len(frame)) for name, frame in self.tables.items()},
                "quarantined": int(len(self.quarantine))}

    def top_reasons(self, n: int = 5) -> pd.DataFrame:
        """The ``n`` most frequent quarantine reasons, each with its count and its first row as an example."""
        if self.quarantine.empty:
            return pd.DataFrame(columns=["reason", "count", *QUARANTINE_COLUMNS])
        counts = self.quarantine["reason"].value_counts(sort=True)
        examples = self.quarantine.drop_duplicates("reason").set_index("reason")
        rows = [{"reason": reason, "count": int(count), **examples.loc[reason].to_dict(), "reason_": reason}
                for reason, count in counts.head(n).items()]
        frame = pd.DataFrame(rows).drop(columns="reason_")
        return frame[["reason", "count", *[c for c in QUARANTINE_COLUMNS if c != "reason"]]]

    def write(self, out_dir: str | Path) -> Path:
        """Write ``<table>.parquet`` per table, ``quarantine.parquet`` and ``reconciliation.json`` into ``out_dir``."""
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise DataError(f"{out}: is a file; name a folder to write the fused tables into")
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in self.tables.items():
            _write_parquet(frame, out / f"{name}.parquet")
        _write_parquet(self.quarantine, out / "quarantine.parquet")
        (out / "reconciliation.json").write_text(json.dumps(self.reconciliation_json(), indent=2) + "\n",
                                                 encoding="utf-8")
        return out


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    try:
        frame.to_parquet(path, index=False)
    except (TypeError, ValueError, ImportError):  # mixed Python objects in a column: store them as text
        flat = frame.copy()
        for column in flat.columns:
            if pd.api.types.is_object_dtype(flat[column].dtype):
                flat[column] = flat[column].map(lambda v: None if _missing(v) else str(v))
        flat.to_parquet(path, index=False)


# -- loading --------------------------------------------------------------------------------------------------------
class _Doc:
    """Error helpers for one pipeline document: every message names the file and the key."""

    def __init__(self, label: str, base: Path) -> None:
        self.label = label
        self.base = base

    def fail(self, key: str, message: str) -> MappingError:
        return MappingError(f"{self.label}: key {key!r}: {message}" if key else f"{self.label}: {message}")

    def keys(self, value: Any, allowed: Sequence[str], key: str, example: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping, got {_type_name(value)}; e.g. {example}")
        for name in value:
            if name not in allowed:
                close = difflib.get_close_matches(str(name), allowed, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                where = f"{key}.{name}" if key else str(name)
                raise self.fail(where, f"unknown key; {hint}allowed keys: {', '.join(allowed)}")
        return value

    def text(self, value: Any, key: str, example: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be non-empty text, got {_type_name(value)}; e.g. {example}")
        return value.strip()

    def choice(self, value: Any, key: str, options: Sequence[str]) -> str:
        if value not in options:
            close = difflib.get_close_matches(str(value), options, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise self.fail(key, f"is {value!r}; {hint}choose one of {', '.join(options)}")
        return str(value)


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number", float: "a number",
            type(None): "empty"}.get(type(value), type(value).__name__)


def load_fusion(pipeline: str | Path | Mapping[str, Any], *, base: str | Path | None = None) -> FusionPipeline:
    """Read and check a fusion pipeline: a YAML file, or the same document as a mapping.

    Parameters
    ----------
    pipeline : str, Path or mapping
        The YAML file, or its parsed content.
    base : str or Path, optional
        Folder relative source and code-map paths start in. Default: the YAML file's own folder; for a mapping, the
        working folder. Giving it runs one pipeline file on exports kept elsewhere (e.g. a shipped pipeline on a
        folder of generated files).

    Raises
    ------
    MappingError
        If the file is missing or not YAML, or a key is unknown (with "did you mean"), missing or of the wrong type;
        the message names the file and the key. Nothing in the file is ever executed.

    Examples
    --------
    >>> from leanlearn.pipeline import shipped_pipeline
    >>> pipeline = load_fusion(shipped_pipeline("production_4tu"))
    >>> pipeline.name, [feed.table for feed in pipeline.sources[0].feeds]
    ('production-4tu', ['operations', 'operations', 'downtime'])
    >>> load_fusion({"name": "x", "line": "L1", "sourcs": []})
    Traceback (most recent call last):
    ...
    leanlearn.errors.MappingError: <pipeline>: key 'sourcs': unknown key; did you mean 'sources'? ...
    """
    if isinstance(pipeline, Mapping):
        return _parse(dict(pipeline), _Doc("<pipeline>", Path(base) if base is not None else Path.cwd()), None)
    path = Path(pipeline)
    doc = read_yaml(path, MappingError, "pipeline")
    return _parse(doc, _Doc(str(path), Path(base) if base is not None else path.parent), path)


def _parse(doc: Any, ctx: _Doc, origin: Path | None) -> FusionPipeline:
    if doc is None:
        raise ctx.fail("", "the pipeline is empty; start from pipelines/production_4tu.yaml")
    if isinstance(doc, dict) and "sources" not in doc and "targets" in doc:
        raise ctx.fail("", "this is a mining pipeline (run it with `leanlearn run`); a fusion pipeline has "
                           "`sources:` with `feeds:`")
    ctx.keys(doc, TOP_KEYS, "", "name: press-line, line: press-2, sources: [...]")
    for key in ("name", "line", "sources"):
        if key not in doc:
            raise ctx.fail(key, "is missing; every fusion pipeline needs name, line and sources")
    name = ctx.text(doc["name"], "name", "name: press-line-2")
    line = ctx.text(str(doc["line"]) if isinstance(doc["line"], (int, float)) else doc["line"], "line",
                    "line: press-2")
    description = doc.get("description") or ""
    if not isinstance(description, str):
        raise ctx.fail("description", f"must be text, got {_type_name(description)}")
    codes = _parse_codes(doc.get("codes") or {}, ctx)
    raw_sources = doc["sources"]
    if not isinstance(raw_sources, list) or not raw_sources:
        raise ctx.fail("sources", f"must be a non-empty list of sources, got {_type_name(raw_sources)}; "
                                  "e.g. sources: [{name: mes, path: mes.csv, feeds: [...]}]")
    sources = tuple(_parse_source(item, f"sources[{i}]", ctx, codes, line) for i, item in enumerate(raw_sources))
    names = [s.name for s in sources]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ctx.fail("sources", f"source name(s) {', '.join(map(repr, twice))} appear twice; give each a unique "
                                  "`name:`")
    aggregate = _parse_aggregate(doc["aggregate"], ctx) if doc.get("aggregate") is not None else None
    if aggregate is not None:
        tables = {feed.table for source in sources for feed in source.feeds}
        if not {"operations", "signals"} <= tables:
            raise ctx.fail("aggregate", "needs a source feeding `operations` and one feeding `signals`")
    return FusionPipeline(name=name, line=line, sources=sources, description=description.strip(),
                          aggregate=aggregate, origin=origin)


def _parse_codes(value: Any, ctx: _Doc) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict):
        raise ctx.fail("codes", f"must be a mapping of named code maps, got {_type_name(value)}; "
                                "e.g. codes: {erp_to_mes: {map: {'4711': BRK-200}}}")
    out = {}
    for name, spec in value.items():
        key = f"codes.{name}"
        ctx.keys(spec, ("map", *CODE_FILE_KEYS), key, "{map: {'4711': BRK-200}} or {path: codes.csv, from: a, to: b}")
        if ("map" in spec) == ("path" in spec):
            raise ctx.fail(key, "needs exactly one of `map:` (inline) or `path:` (a CSV file with from/to columns)")
        if "map" in spec:
            out[str(name)] = _inline_codes(spec["map"], f"{key}.map", ctx)
            continue
        for needed in ("from", "to"):
            if needed not in spec:
                raise ctx.fail(f"{key}.{needed}", "is missing; name the file's column with the codes to map "
                                                  "(from) and the one with the canonical codes (to)")
        out[str(name)] = _file_codes(spec, key, ctx)
    return out


def _inline_codes(value: Any, key: str, ctx: _Doc) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise ctx.fail(key, f"must be a non-empty mapping of code → code, got {_type_name(value)}; "
                            "e.g. {S: setup, D: production}")
    out = {}
    for code, target in value.items():
        if target is None or isinstance(target, (dict, list)):
            raise ctx.fail(f"{key}.{code}", f"must map to one code, got {_type_name(target)}")
        out[_code_key(code)] = target if isinstance(target, bool) else str(target)
    return out


def _file_codes(spec: dict[str, Any], key: str, ctx: _Doc) -> dict[str, str]:
    from leanlearn.data.sources import read_table

    path = ctx.base / ctx.text(spec["path"], f"{key}.path", "path: codes/erp.csv")
    try:
        frame = read_table(path, encoding=spec.get("encoding"))
    except DataError as exc:
        raise ctx.fail(f"{key}.path", str(exc)) from None
    for role in ("from", "to"):
        column = spec[role]
        if column not in frame.columns:
            raise ctx.fail(f"{key}.{role}", f"{path} has no column {column!r}{_did_you_mean(column, frame.columns)}; "
                                            f"columns: {', '.join(map(str, frame.columns))}")
    pairs = frame[[spec["from"], spec["to"]]].dropna()
    keys = pairs[spec["from"]].map(_code_key)
    values = pairs[spec["to"]].map(_code_key)
    clash = pd.DataFrame({"k": keys, "v": values}).drop_duplicates().groupby("k")["v"].nunique()
    if (clash > 1).any():
        code = clash[clash > 1].index[0]
        targets = sorted(values[keys == code].unique())
        raise ctx.fail(f"{key}.path", f"{path}: code {code!r} maps to several codes ({', '.join(targets)}); "
                                      "keep one row per code")
    return dict(zip(keys, values))


def _parse_time(value: Any, key: str, ctx: _Doc, base: TimeSpec) -> TimeSpec:
    spec = ctx.keys(value, TIME_KEYS, key, "{format: '%d.%m.%Y %H:%M', zone: Europe/Berlin}")
    changes: dict[str, Any] = {}
    if "format" in spec:
        fmt = ctx.text(spec["format"], f"{key}.format", "format: '%Y-%m-%d %H:%M:%S' (or iso, or epoch)")
        if fmt.lower() in ("iso", "iso8601", "epoch"):
            fmt = "epoch" if fmt.lower() == "epoch" else "iso"
        elif "%" not in fmt:
            raise ctx.fail(f"{key}.format", f"is {fmt!r}; write a strptime format such as '%d.%m.%Y %H:%M', or "
                                            "iso, or epoch (with unit: s, ms, us or ns)")
        changes["format"] = fmt
    if "unit" in spec:
        changes["unit"] = ctx.choice(spec["unit"], f"{key}.unit", tuple(EPOCH_UNITS))
    if "zone" in spec:
        zone = ctx.text(spec["zone"], f"{key}.zone", "zone: Europe/Berlin")
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(zone, sorted(zoneinfo.available_timezones()), n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ctx.fail(f"{key}.zone", f"{zone!r} is not an IANA time zone; {hint}e.g. Europe/Berlin, "
                                          "America/Chicago or UTC") from None
        changes["zone"] = zone
    if "nonexistent" in spec:
        changes["nonexistent"] = ctx.choice(spec["nonexistent"], f"{key}.nonexistent", NONEXISTENT)
    if "ambiguous" in spec:
        changes["ambiguous"] = ctx.choice(spec["ambiguous"], f"{key}.ambiguous", AMBIGUOUS)
    if "years" in spec:
        years = spec["years"]
        if (not isinstance(years, list) or len(years) != 2 or not all(isinstance(y, int) for y in years)
                or years[0] > years[1]):
            raise ctx.fail(f"{key}.years", f"must be [first, last] plausible years, got {years!r}; e.g. [1990, 2100]")
        changes["years"] = (years[0], years[1])
    return replace(base, **changes)


def _parse_source(value: Any, key: str, ctx: _Doc, codes: dict[str, dict[str, str]], line: str) -> SourceSpec:
    spec = ctx.keys(value, SOURCE_KEYS, key, "{name: mes, path: mes.csv, feeds: [...]}")
    kinds = [k for k in ("path", "dataset", "url") if k in spec]
    if len(kinds) != 1:
        raise ctx.fail(key, "needs exactly one of `path:` (a file), `dataset:` (shipped data) or `url:` (SQL, with "
                            f"`table:` or `query:`); found {', '.join(kinds) or 'none'}")
    fields: dict[str, Any] = {}
    if "path" in spec:
        fields["path"] = ctx.base / ctx.text(spec["path"], f"{key}.path", "path: exports/mes.csv")
        default_name = Path(spec["path"]).name.split(".")[0]
    elif "dataset" in spec:
        fields["dataset"] = ctx.choice(spec["dataset"], f"{key}.dataset", tuple(DATASETS))
        default_name = fields["dataset"]
    else:
        url = ctx.text(spec["url"], f"{key}.url", "url: postgresql+psycopg2://user@host:5432/db")

        def env(match: re.Match[str]) -> str:
            if match.group(1) not in os.environ:
                raise ctx.fail(f"{key}.url", f"names the environment variable ${{{match.group(1)}}}, which is not set")
            return os.environ[match.group(1)]

        fields["url"] = _ENV.sub(env, url)
        if ("table" in spec) == ("query" in spec):
            raise ctx.fail(key, "a SQL source needs exactly one of `table:` or `query:`")
        if "table" in spec:
            fields["table"] = ctx.text(spec["table"], f"{key}.table", "table: mes_operations")
            default_name = fields["table"]
        else:
            fields["query"] = ctx.text(spec["query"], f"{key}.query", "query: select * from runs")
            default_name = f"query{key[8:-1]}"
    if "url" not in spec and ("table" in spec or "query" in spec):
        raise ctx.fail(f"{key}.{'table' if 'table' in spec else 'query'}", "belongs to a SQL source; add `url:`")
    name = ctx.text(spec.get("name", default_name), f"{key}.name", "name: mes")
    for option in ("encoding", "delimiter"):
        if option in spec:
            fields[option] = ctx.text(spec[option], f"{key}.{option}", f"{option}: ';'") if option == "encoding" \
                else spec[option]
            if option == "delimiter" and (not isinstance(spec[option], str) or len(spec[option]) != 1):
                raise ctx.fail(f"{key}.delimiter", f"must be one character, got {spec[option]!r}; e.g. ';' or '\\t'")
    if "na_values" in spec:
        na = spec["na_values"]
        if not isinstance(na, list) or not all(isinstance(v, (str, int, float)) for v in na):
            raise ctx.fail(f"{key}.na_values", f"must be a list of texts meaning 'no value', got {na!r}; "
                                               "e.g. [-, k.A.]")
        fields["na_values"] = tuple(str(v) for v in na)
    time = _parse_time(spec["time"], f"{key}.time", ctx, TimeSpec()) if "time" in spec else TimeSpec()
    raw_feeds = spec.get("feeds")
    if not isinstance(raw_feeds, list) or not raw_feeds:
        raise ctx.fail(f"{key}.feeds", f"must be a non-empty list of feeds, got {_type_name(raw_feeds)}; e.g. "
                                       "feeds: [{table: operations, columns: {station: Machine, start: Start, ...}}]")
    feeds = tuple(_parse_feed(item, f"{key}.feeds[{i}]", ctx, codes, time) for i, item in enumerate(raw_feeds))
    return SourceSpec(name=name, feeds=feeds, time=time, **fields)


def _parse_feed(value: Any, key: str, ctx: _Doc, codes: dict[str, dict[str, str]], time: TimeSpec) -> FeedSpec:
    spec = ctx.keys(value, FEED_KEYS, key, "{table: operations, columns: {...}}")
    if "table" not in spec:
        raise ctx.fail(f"{key}.table", f"is missing; name the canonical table: {', '.join(TABLES)}")
    table = ctx.choice(spec["table"], f"{key}.table", tuple(TABLES))
    schema = TABLES[table]
    if "time" in spec:
        time = _parse_time(spec["time"], f"{key}.time", ctx, time)
    where: list[tuple[str, tuple[str, ...]]] = []
    if spec.get("where") is not None:
        raw_where = spec["where"]
        if not isinstance(raw_where, dict) or not raw_where:
            raise ctx.fail(f"{key}.where", f"must map a source column to a value or list of values, got "
                                           f"{_type_name(raw_where)}; e.g. where: {{Report Type: S}}")
        for column, wanted in raw_where.items():
            items = wanted if isinstance(wanted, list) else [wanted]
            if not items or any(v is None or isinstance(v, (dict, list)) for v in items):
                raise ctx.fail(f"{key}.where.{column}", f"must be a value or a list of values, got {wanted!r}")
            where.append((str(column), tuple(_code_key(v) for v in items)))
    raw_columns = spec.get("columns")
    if not isinstance(raw_columns, dict) or not raw_columns:
        raise ctx.fail(f"{key}.columns", f"must map output columns to source columns, got {_type_name(raw_columns)}; "
                                         "e.g. columns: {station: Machine, start: Start, end: End}")
    columns = [_parse_column(name, item, f"{key}.columns.{name}", ctx, codes, schema, time)
               for name, item in raw_columns.items()]
    if spec.get("convert") is not None:
        raw_convert = spec["convert"]
        if not isinstance(raw_convert, dict):
            raise ctx.fail(f"{key}.convert", f"must be a mapping, got {_type_name(raw_convert)}; e.g. convert: "
                                             "{temp_F: {to: temp_C, convert: '(x - 32) * 5 / 9'}}")
        for source_column, item in raw_convert.items():
            where_key = f"{key}.convert.{source_column}"
            item = ctx.keys(item, CONVERT_KEYS, where_key, "{to: temp_C, convert: '(x - 32) * 5 / 9'}")
            target = ctx.text(item.get("to", source_column), f"{where_key}.to", "to: temp_C")
            body = {"column": str(source_column), **{k: v for k, v in item.items() if k != "to"}}
            columns.append(_parse_column(target, body, where_key, ctx, codes, schema, time))
    names = [c.name for c in columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ctx.fail(f"{key}.columns", f"column(s) {', '.join(map(repr, twice))} are mapped twice")
    missing = [c for c in schema.required if c not in names and c != "line"]
    if missing:
        raise ctx.fail(f"{key}.columns", f"the {table} table needs {', '.join(map(repr, missing))}; map each to a "
                                         f"source column ({missing[0]}: Column) or a constant ({missing[0]}: "
                                         "{value: X})")
    duplicates = spec.get("duplicates") or []
    if not isinstance(duplicates, list) or not all(isinstance(d, str) for d in duplicates):
        raise ctx.fail(f"{key}.duplicates", f"must be a list of output columns, got {duplicates!r}; e.g. "
                                            "[station, start]")
    for column in duplicates:
        if column not in names and column != "line":
            raise ctx.fail(f"{key}.duplicates", f"names {column!r}, which this feed does not map"
                                                f"{_did_you_mean(column, names)}; mapped: {', '.join(names)}")
    return FeedSpec(table=table, columns=tuple(columns), where=tuple(where), duplicates=tuple(duplicates))


def _parse_column(name: Any, value: Any, key: str, ctx: _Doc, codes: dict[str, dict[str, str]],
                  schema: TableSchema, time: TimeSpec) -> ColumnSpec:
    name = str(name)
    canonical = schema.column(name)
    if isinstance(value, str):
        value = {"column": value}
    elif isinstance(value, (bool, int, float)):
        value = {"value": value}
    spec = ctx.keys(value, COLUMN_KEYS, key, "Machine, or {column: Machine, codes: stations}, or {value: P1}")
    if ("column" in spec) == ("value" in spec):
        raise ctx.fail(key, "needs exactly one of `column:` (a source column) or `value:` (a constant)")
    if "value" in spec:
        constant = spec["value"]
        if constant is None or isinstance(constant, (dict, list)):
            raise ctx.fail(f"{key}.value", f"must be one text, number or true/false, got {_type_name(constant)}")
        extra = [k for k in spec if k not in ("value", "type")]
        if extra:
            raise ctx.fail(f"{key}.{extra[0]}", "applies to source columns, not to a constant `value:`")
    fields: dict[str, Any] = {"name": name}
    if "column" in spec:
        fields["column"] = ctx.text(str(spec["column"]) if isinstance(spec["column"], int) else spec["column"],
                                    f"{key}.column", "column: Machine")
    else:
        fields["value"] = spec["value"]
    if "split" in spec:
        fields["split"] = _parse_split(spec["split"], f"{key}.split", ctx)
    declared = ctx.choice(spec["type"], f"{key}.type", TYPES) if "type" in spec else None
    kind = canonical.kind if canonical is not None else declared
    if canonical is not None and declared is not None and declared != canonical.kind:
        raise ctx.fail(f"{key}.type", f"{name!r} is a {canonical.kind} column of the {schema.name} table; "
                                      "leave `type` out")
    if "codes" in spec:
        raw = spec["codes"]
        if isinstance(raw, str):
            if raw not in codes:
                raise ctx.fail(f"{key}.codes", f"names the code map {raw!r}, which `codes:` does not declare"
                                               f"{_did_you_mean(raw, list(codes))}; declared: "
                                               f"{', '.join(codes) or 'none'}")
            fields["codes"], fields["codes_name"] = codes[raw], raw
        else:
            fields["codes"], fields["codes_name"] = _inline_codes(raw, f"{key}.codes", ctx), None
    if "keep_unknown" in spec:
        if not isinstance(spec["keep_unknown"], bool):
            raise ctx.fail(f"{key}.keep_unknown", f"must be true or false, got {spec['keep_unknown']!r}")
        if "codes" not in spec:
            raise ctx.fail(f"{key}.keep_unknown", "only applies together with `codes:`")
        fields["keep_unknown"] = spec["keep_unknown"]
    if "convert" in spec and "unit" in spec:
        raise ctx.fail(key, "use either `convert:` (an expression in x) or `unit:` (from/to units), not both")
    if ("convert" in spec or "unit" in spec) and "codes" in spec:
        raise ctx.fail(key, "a column is either translated by `codes:` or converted as a number, not both")
    if "convert" in spec:
        from leanlearn.mining.expressions import Expression

        text = ctx.text(spec["convert"], f"{key}.convert", "convert: '(x - 32) * 5 / 9'")
        try:
            expression = Expression.parse(text)
        except ExpressionError as exc:
            raise ctx.fail(f"{key}.convert", str(exc)) from None
        if expression.columns - {"x"}:
            others = ", ".join(sorted(expression.columns - {"x"}))
            raise ctx.fail(f"{key}.convert", f"may only use x (the source value), found {others}; "
                                             "e.g. '(x - 32) * 5 / 9'")
        fields["convert"] = text
    if "unit" in spec:
        fields["unit"] = _parse_unit(spec["unit"], f"{key}.unit", ctx)
    if ("convert" in spec or "unit" in spec) and kind not in (None, "number"):
        raise ctx.fail(key, f"converts numbers, but {name!r} is a {kind} column")
    if "convert" in spec or "unit" in spec:
        kind = "number"
    fields["type"] = kind
    if "time" in spec:
        if kind != "time":
            raise ctx.fail(f"{key}.time", f"{name!r} is not a time column; add `type: time` to parse it as one")
        fields["time"] = _parse_time(spec["time"], f"{key}.time", ctx, time)
    elif kind == "time":
        fields["time"] = time
    if "default" in spec:
        if spec["default"] is None or isinstance(spec["default"], (dict, list)) or "value" in spec:
            raise ctx.fail(f"{key}.default", "must be one text, number or true/false filling empty cells of a "
                                             "source column")
        fields["default"] = spec["default"]
    return ColumnSpec(**fields)


def _parse_split(value: Any, key: str, ctx: _Doc) -> tuple[str, int]:
    spec = ctx.keys(value, ("sep", "part"), key, "{sep: '.', part: 1}")
    for needed in ("sep", "part"):
        if needed not in spec:
            raise ctx.fail(f"{key}.{needed}", "is missing; e.g. split: {sep: '.', part: 1} takes S2 from L1.S2.RH")
    sep = spec["sep"]
    if not isinstance(sep, str) or not sep:
        raise ctx.fail(f"{key}.sep", f"must be non-empty text, got {_type_name(sep)}; e.g. sep: '.'")
    part = spec["part"]
    if not isinstance(part, int) or isinstance(part, bool):
        raise ctx.fail(f"{key}.part", f"must be a whole number (0 the first part, -1 the last), got {part!r}")
    return sep, part


def _parse_unit(value: Any, key: str, ctx: _Doc) -> tuple[str, str]:
    spec = ctx.keys(value, ("from", "to"), key, "{from: degF, to: degC}")
    units = []
    for role in ("from", "to"):
        unit = spec.get(role)
        if unit not in UNITS:
            raise ctx.fail(f"{key}.{role}", f"unknown unit {unit!r}{_did_you_mean(str(unit), list(UNITS))}; known: "
                                            f"{', '.join(UNITS)} (or write convert: with an expression in x)")
        units.append(str(unit))
    if UNITS[units[0]][0] != UNITS[units[1]][0]:
        raise ctx.fail(key, f"cannot convert {units[0]} ({UNITS[units[0]][0]}) to {units[1]} "
                            f"({UNITS[units[1]][0]}): the units measure different things")
    return units[0], units[1]


def _parse_aggregate(value: Any, ctx: _Doc) -> AggregateSpec:
    spec = ctx.keys(value, AGGREGATE_KEYS, "aggregate", "{signals: {humidity: [mean, max]}, outside: quarantine}")
    raw = spec.get("signals")
    if not isinstance(raw, dict) or not raw:
        raise ctx.fail("aggregate.signals", f"must map signal names to aggregations, got {_type_name(raw)}; e.g. "
                                            "signals: {humidity: [mean, max], temperature: last}")
    signals = {}
    for name, aggs in raw.items():
        items = aggs if isinstance(aggs, list) else [aggs]
        if not items:
            raise ctx.fail(f"aggregate.signals.{name}", f"lists no aggregation; choose from {', '.join(AGGREGATIONS)}")
        signals[str(name)] = tuple(ctx.choice(a, f"aggregate.signals.{name}", AGGREGATIONS) for a in items)
    outside = ctx.choice(spec.get("outside", "quarantine"), "aggregate.outside", ("quarantine", "keep"))
    by = spec.get("by", ["line", "station"])
    if not isinstance(by, list) or not by or not all(isinstance(b, str) for b in by):
        raise ctx.fail("aggregate.by", f"must be a list of columns both tables have, got {by!r}; e.g. [line, station]")
    closed = ctx.choice(spec.get("closed", "both"), "aggregate.closed", CLOSED)
    return AggregateSpec(signals=signals, outside=outside, by=tuple(by), closed=closed)


def _did_you_mean(name: str, options: Any) -> str:
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- values ---------------------------------------------------------------------------------------------------------
def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and np.isnan(value)


def _code_key(value: Any) -> Any:
    """Codes compare as text: ``4711``, ``4711.0`` and ``" 4711 "`` are the same code."""
    if _missing(value):
        return np.nan
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _code_keys(values: pd.Series) -> pd.Series:
    """:func:`_code_key` of every value, computed once per distinct value (a column of readings has few)."""
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists from JSON): one by one
        return values.map(_code_key).astype(object)
    table = np.array([*(_code_key(u) for u in uniques), np.nan], dtype=object)  # code -1 (empty) → NaN
    return pd.Series(table[codes], index=values.index, dtype=object)


def _nonempty(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.notna()  # no text to be blank (and formatting millions of timestamps as text is slow)
    text = values.astype("string").str.strip()
    return values.notna() & text.ne("").fillna(False)


def _example(values: pd.Series) -> str:
    first = values.iloc[0] if len(values) else ""
    return repr(first.item() if hasattr(first, "item") else first)


def _split_part(values: pd.Series, sep: str, part: int) -> tuple[pd.Series, pd.Series]:
    """``(parts, lacking)``: part ``part`` of each text cut at ``sep``; lacking where a value has no such part.

    Each distinct value is cut once, so a tag column of millions of readings of a few tags is cheap.

    >>> _split_part(pd.Series(["L1.S2.RH", "L2.S4.TEMP", "L1", None]), ".", 1)[0].tolist()
    ['S2', 'S4', None, None]
    """
    codes, uniques = pd.factorize(_code_keys(values), use_na_sentinel=True)
    parts = []
    for unique in uniques:
        pieces = str(unique).split(sep)
        parts.append(pieces[part] if -len(pieces) <= part < len(pieces) else None)
    table = np.array([*parts, None], dtype=object)  # code -1 (an empty cell) → the trailing None
    out = pd.Series(table[codes], index=values.index, dtype=object)
    lacking = pd.Series((codes >= 0) & pd.isna(table[codes]), index=values.index)
    return out, lacking


def _to_number(values: pd.Series, where: str, column: str) -> tuple[pd.Series, pd.Series]:
    """``(numbers, bad)``: text that is not a number is bad; a column where no value is a number is a DataError."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(float), pd.Series(False, index=values.index)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype(float), pd.Series(False, index=values.index)
    numbers = pd.to_numeric(values.astype("string").str.strip(), errors="coerce").astype(float)
    given = _nonempty(values)
    bad = given & numbers.isna()
    if bad.any() and not (given & ~bad).any():
        raise DataError(
            f"{where}: column {column!r} holds no number (e.g. {_example(values[bad])}); map a numeric column, write "
            "plain numbers (no units, a decimal point), or declare texts that mean 'no value' under na_values"
        )
    return numbers, bad


def _guess_format(example: str) -> str | None:
    text = example.strip()
    if re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
        value = float(text)
        for unit, scale in EPOCH_UNITS.items():
            if 1980 <= 1970 + value * scale / 31556952 <= 2100:
                return f"format: epoch, unit: {unit}"
        return None
    fits = []
    for fmt in _FORMAT_GUESSES:
        try:
            dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        fits.append(f"format: '{fmt}'")
    if fits:
        return " or ".join(fits[:2])  # 03/01/2024 fits day-first and month-first: name both
    try:
        pd.Timestamp(text)
    except (ValueError, TypeError):
        return None
    return "format: iso"


def to_utc(
    values: pd.Series,
    format: str = "iso",
    zone: str = "UTC",
    *,
    unit: str = "s",
    nonexistent: str = "quarantine",
    ambiguous: str = "quarantine",
    years: tuple[int, int] = (1980, 2100),
    where: str = "<data>",
    column: str | None = None,
) -> tuple[pd.Series, pd.DataFrame]:
    """Parse timestamps and convert them to UTC, DST-safe; return ``(times, problems)``.

    Parameters
    ----------
    values : Series
        Text, numbers (epoch), or datetimes (naive ones are local times in ``zone``).
    format : str, default="iso"
        ``"iso"`` (ISO 8601; a written offset such as ``+01:00`` or ``Z`` wins over ``zone``), a ``strptime``
        format, or ``"epoch"`` (seconds or ``unit`` since 1970-01-01 UTC).
    zone : str, default="UTC"
        IANA time zone of naive local times, e.g. ``"Europe/Berlin"``.
    unit : {"s", "ms", "us", "ns"}, default="s"
        Unit of an epoch.
    nonexistent : {"quarantine", "shift_forward", "shift_backward"}
        Local times that a spring daylight-saving change skips.
    ambiguous : {"quarantine", "infer", "earliest", "latest"}
        Local times that an autumn change repeats; ``infer`` reads the repetition from the row order.
    years : (int, int), default=(1980, 2100)
        Plausible years; a date outside them is a problem (an epoch in the wrong unit, a two-digit year).
    where, column : str
        The source and column, for messages.

    Returns
    -------
    times : Series
        ``datetime64[ns, UTC]``; NaT for empty values and for problems.
    problems : DataFrame
        Indexed like ``values``, one row per problem value: ``reason`` (``bad_timestamp``, ``nonexistent_time``,
        ``ambiguous_time``) and ``message``.

    Raises
    ------
    DataError
        When no value parses (or none is plausible): the declared format or unit is wrong. The message names the
        source, column and an example value, and suggests a format that reads it.

    Examples
    --------
    >>> local = pd.Series(["2024-03-31 02:30", "2024-10-27 02:30", "2024-06-01 12:00"])
    >>> times, problems = to_utc(local, zone="Europe/Berlin")
    >>> times[2], problems["reason"].tolist()
    (Timestamp('2024-06-01 10:00:00+0000', tz='UTC'), ['nonexistent_time', 'ambiguous_time'])
    >>> to_utc(local, zone="Europe/Berlin", nonexistent="shift_forward", ambiguous="earliest")[0].tolist()[:2]
    [Timestamp('2024-03-31 01:00:00+0000', tz='UTC'), Timestamp('2024-10-27 00:30:00+0000', tz='UTC')]
    >>> to_utc(pd.Series([1711846800000]), format="epoch", unit="s", where="plc.csv", column="ts")
    Traceback (most recent call last):
    ...
    leanlearn.errors.DataError: plc.csv: column 'ts': epoch in s gives no date between 1980 and 2100 (e.g. ...
    """
    label = f"column {column!r}" if column is not None else "the values"
    index = values.index
    out = pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
    reasons = pd.Series(None, index=index, dtype="object")
    messages = pd.Series(None, index=index, dtype="object")
    lo_year, hi_year = years
    given = _nonempty(values) if len(values) else pd.Series(False, index=index)
    if not given.any():
        return out, pd.DataFrame({"reason": reasons, "message": messages}).iloc[0:0]

    def flag(mask: pd.Series, reason: str, message: str | pd.Series) -> None:
        mask = mask & reasons.isna()
        reasons[mask] = reason
        messages[mask] = message if isinstance(message, str) else message[mask]

    naive: pd.Series | None = None
    if format == "epoch":
        numbers = pd.to_numeric(values, errors="coerce") if not pd.api.types.is_numeric_dtype(values.dtype) \
            else values.astype(float)
        unparsed = given & numbers.isna()
        if unparsed.all():
            raise DataError(f"{where}: {label}: no value is an epoch number (e.g. {_example(values[unparsed])}); "
                            + (f"declare {_guess_format(str(values[unparsed].iloc[0]))}"
                               if _guess_format(str(values[unparsed].iloc[0])) else "check the format"))
        flag(unparsed, "bad_timestamp", f"not an epoch number ({unit})")
        seconds = numbers * EPOCH_UNITS[unit]
        lo = dt.datetime(lo_year, 1, 1, tzinfo=dt.UTC).timestamp()
        hi = dt.datetime(hi_year + 1, 1, 1, tzinfo=dt.UTC).timestamp()
        plausible = (seconds >= lo) & (seconds < hi)
        parsed_ok = given & numbers.notna()
        if parsed_ok.any() and not (parsed_ok & plausible).any():
            example = numbers[parsed_ok].iloc[0]
            year = int(1970 + example * EPOCH_UNITS[unit] / 31556952)
            better = [u for u, s in EPOCH_UNITS.items() if lo <= example * s < hi]
            hint = f"is it unit: {better[0]}?" if better else "check the unit and the column"
            shown = int(example) if float(example).is_integer() else example
            raise DataError(f"{where}: {label}: epoch in {unit} gives no date between {lo_year} and {hi_year} "
                            f"(e.g. {shown} → year {year}); {hint}")
        implausible = parsed_ok & ~plausible
        flag(implausible, "bad_timestamp", f"epoch in {unit} gives a date outside {lo_year}–{hi_year}; check the unit")
        ok = parsed_ok & plausible
        if ok.any():
            out[ok] = pd.to_datetime((seconds[ok] * 1e9).round().astype("int64"), unit="ns", utc=True)
        problems = pd.DataFrame({"reason": reasons, "message": messages})
        return out, problems[reasons.notna()]

    if isinstance(values.dtype, pd.DatetimeTZDtype):
        out[:] = values.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        naive = values
    else:
        text = values.astype("string").str.strip()
        if format == "iso":
            aware = text.str.contains(_OFFSET, na=False)
            if aware.any():
                out[aware] = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
            naive = pd.to_datetime(text.where(~aware), format="ISO8601", errors="coerce")
        elif "%z" in format or "%Z" in format:
            out[:] = pd.to_datetime(text, format=format, utc=True, errors="coerce")
        else:
            naive = pd.to_datetime(text, format=format, errors="coerce")
        parsed = out.notna() | (naive.notna() if naive is not None else False)
        unparsed = given & ~parsed
        what = "ISO 8601" if format == "iso" else f"format {format!r}"
        if unparsed.all():
            example = str(values[unparsed].iloc[0])
            guess = _guess_format(example)
            hint = (f"declare it under the source's time: {guess}" if guess
                    else "declare its format under the source's time: format")
            raise DataError(f"{where}: {label}: no value parses as {what} (e.g. {example!r}); {hint}")
        if unparsed.any():
            shown = values[unparsed].astype(str)
            hints = shown.map(lambda v: f"it looks like {g}" if (g := _guess_format(v)) else "unknown format")
            flag(unparsed, "bad_timestamp", "does not parse as " + what + " (" + hints + ")")
    if naive is not None:
        localized, naive_problems = _localize(naive, zone, nonexistent, ambiguous)
        known = localized.notna()
        out[known] = localized[known]
        for reason in ("nonexistent_time", "ambiguous_time"):
            mask = (naive_problems["reason"] == reason).reindex(index, fill_value=False)
            if mask.any():
                flag(mask, reason, naive_problems["message"].reindex(index))
    years_of = out.dt.year
    implausible = out.notna() & ((years_of < lo_year) | (years_of > hi_year))
    if implausible.any():
        if not (out.notna() & ~implausible).any() and reasons.isna().all():
            example = values[implausible].iloc[0]
            raise DataError(f"{where}: {label}: no value gives a date between {lo_year} and {hi_year} (e.g. "
                            f"{str(example)!r} → {out[implausible].iloc[0]:%Y-%m-%d}); check the format (a two-digit "
                            "year? a missing year?), or widen time: years")
        flag(implausible, "bad_timestamp", f"date outside the plausible years {lo_year}–{hi_year}")
        out[implausible] = pd.NaT
    out[reasons.notna()] = pd.NaT
    problems = pd.DataFrame({"reason": reasons, "message": messages})
    return out, problems[reasons.notna()]


def _localize(naive: pd.Series, zone: str, nonexistent: str, ambiguous: str) -> tuple[pd.Series, pd.DataFrame]:
    """Naive local times in ``zone`` → UTC, with the DST policies; problems as in :func:`to_utc`."""
    index = naive.index
    naive = pd.Series(naive.to_numpy(dtype="datetime64[ns]"), index=index)
    problems = pd.DataFrame({"reason": pd.Series(None, index=index, dtype="object"),
                             "message": pd.Series(None, index=index, dtype="object")})
    if zone == "UTC":
        return naive.dt.tz_localize("UTC"), problems.iloc[0:0]
    strict = naive.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    shifted = naive.dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
    gap = strict.isna() & naive.notna() & shifted.notna()
    fold = shifted.isna() & naive.notna()
    ne_arg = "NaT" if nonexistent == "quarantine" else nonexistent
    if ambiguous == "infer":
        try:
            result = naive.dt.tz_localize(zone, ambiguous="infer", nonexistent=ne_arg)
            fold_message = None
        except ValueError as exc:
            result = naive.dt.tz_localize(zone, ambiguous="NaT", nonexistent=ne_arg)
            fold_message = f"the daylight-saving fold cannot be inferred from the row order ({exc})"
    else:
        amb_arg: Any = "NaT" if ambiguous == "quarantine" else np.full(len(naive), ambiguous == "earliest")
        result = naive.dt.tz_localize(zone, ambiguous=amb_arg, nonexistent=ne_arg)
        fold_message = None
    result = result.dt.tz_convert("UTC")
    lost = result.isna() & naive.notna()
    problems.loc[lost & gap, "reason"] = "nonexistent_time"
    problems.loc[lost & gap, "message"] = (f"this local time does not exist in {zone} (clocks jump forward); declare "
                                           "nonexistent: shift_forward to move it past the gap")
    problems.loc[lost & fold, "reason"] = "ambiguous_time"
    problems.loc[lost & fold, "message"] = fold_message or (
        f"this local time happens twice in {zone} (clocks go back); declare ambiguous: infer, earliest or latest")
    return result, problems[problems["reason"].notna()]


# -- fusing ---------------------------------------------------------------------------------------------------------
def fuse(pipeline: str | Path | FusionPipeline | Mapping[str, Any]) -> FusionResult:
    """Read every source of a fusion pipeline and map it into the canonical tables.

    Parameters
    ----------
    pipeline : str, Path, FusionPipeline or mapping
        A fusion pipeline YAML file, a loaded pipeline, or the YAML document as a mapping (see :func:`load_fusion`).

    Returns
    -------
    FusionResult
        The tables (UTC, sorted by time), the quarantine, and per source ``read = used + quarantined``.

    Raises
    ------
    MappingError
        For a malformed pipeline (naming the file and key).
    DataError
        For a source that cannot be read, lacks a mapped column, or where a declared format fits no value (naming
        the source, column and an example value).

    Examples
    --------
    >>> from leanlearn.pipeline import shipped_pipeline
    >>> result = fuse(shipped_pipeline("production_4tu"))
    >>> result.reconciliation_json()["sources"]
    [{'source': 'production_4tu', 'read': 4543, 'used': 4521, 'quarantined': 22, 'reasons': {'duplicate': 22}}]
    """
    pipe = pipeline if isinstance(pipeline, FusionPipeline) else load_fusion(pipeline)
    parts: dict[str, list[pd.DataFrame]] = {}
    quarantines: list[pd.DataFrame] = []
    read: dict[str, int] = {}
    for order, source in enumerate(pipe.sources):
        frame = source.read().reset_index(drop=True)
        read[source.name] = len(frame)
        fed, quarantine = _fuse_source(pipe, source, frame)
        quarantines.append(quarantine)
        for table, good in fed:
            good = good.copy()
            good["_order"] = order
            good["_row"] = good.index.to_numpy()
            parts.setdefault(table, []).append(good)
    tables = {table: _sort(pd.concat(frames, ignore_index=True), table) for table, frames in parts.items()}
    if pipe.aggregate is not None:
        tables, outside = _aggregate(pipe, tables)
        quarantines.append(outside)
    quarantine = pd.concat([q for q in quarantines if not q.empty], ignore_index=True) if any(
        not q.empty for q in quarantines) else empty_quarantine()
    names = [s.name for s in pipe.sources]
    rank = quarantine["source"].map({n: i for i, n in enumerate(names)})
    quarantine = quarantine.assign(_rank=rank).sort_values(["_rank", "row"], kind="mergesort")
    quarantine = quarantine.drop(columns="_rank").reset_index(drop=True)
    used_rows: dict[str, set[int]] = {}
    for frame in tables.values():
        for order, rows in frame.groupby("_order")["_row"]:
            used_rows.setdefault(names[int(order)], set()).update(rows.tolist())
    tables = {table: frame.drop(columns=["_order", "_row"]) for table, frame in tables.items()}
    reconciliation = _reconcile(read, used_rows, quarantine)
    return FusionResult(name=pipe.name, tables=tables, quarantine=quarantine, reconciliation=reconciliation)


def _reconcile(read: dict[str, int], used: dict[str, set[int]], quarantine: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for source, n in read.items():
        mine = quarantine[quarantine["source"] == source]
        counts = mine["reason"].value_counts()
        record: dict[str, Any] = {"source": source, "read": n, "used": len(used.get(source, ())),
                                  "quarantined": len(mine)}
        record.update({reason: int(counts.get(reason, 0)) for reason in REASONS})
        overlap = used.get(source, set()) & set(mine["row"].tolist())
        if record["read"] != record["used"] + record["quarantined"] or overlap or mine["row"].duplicated().any():
            raise AssertionError(f"leanlearn bug: reconciliation of source {source!r} does not add up: {record}")
        rows.append(record)
    return pd.DataFrame(rows, columns=["source", "read", "used", "quarantined", *REASONS])


def _sort(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    key = TIME_COLUMNS[table]
    return frame.sort_values([key, "_order", "_row"], kind="mergesort", na_position="last").reset_index(drop=True)


def _check_columns(source: SourceSpec, frame: pd.DataFrame) -> None:
    columns = [str(c) for c in frame.columns]
    for feed in source.feeds:
        needed = [(c, f"where: {c}") for c, _ in feed.where]
        needed += [(spec.column, f"{feed.table}.{spec.name}") for spec in feed.columns if spec.column is not None]
        for column, role in needed:
            if column not in frame.columns:
                example = ""
                close = difflib.get_close_matches(column, columns, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}" if close else ""
                if close:
                    example = f" (e.g. {_example(frame[close[0]].dropna())})" if frame[close[0]].notna().any() else ""
                raise DataError(f"{source.label}: no column {column!r} (mapped to {role}){hint}{example}? columns: "
                                f"{', '.join(columns)}; fix the column name in the pipeline or the export")


def _fuse_source(pipe: FusionPipeline, source: SourceSpec, frame: pd.DataFrame
                 ) -> tuple[list[tuple[str, pd.DataFrame]], pd.DataFrame]:
    _check_columns(source, frame)
    routed = pd.Series(False, index=frame.index)
    fed: list[tuple[str, pd.DataFrame]] = []
    records: list[pd.DataFrame] = []
    for feed in source.feeds:
        mask = pd.Series(True, index=frame.index)
        for column, wanted in feed.where:
            mask &= _code_keys(frame[column]).isin(wanted)
        routed |= mask
        good, quarantine = _apply_feed(pipe, source, feed, frame[mask])
        fed.append((feed.table, good))
        records.append(quarantine)
    unrouted = ~routed
    if unrouted.any():
        column = next((c for feed in source.feeds for c, _ in feed.where), None)
        routes = "; ".join(f"{feed.table}: " + ", ".join(f"{c} in {list(v)}" for c, v in feed.where)
                           for feed in source.feeds)
        values = frame.loc[unrouted, column] if column else [None] * int(unrouted.sum())
        records.append(quarantine_rows(source.name, None, frame.index[unrouted], "unmapped", column,  # type: ignore[arg-type]
                                       values, f"no feed takes this row (routes: {routes})"))
    quarantine = pd.concat([r for r in records if not r.empty], ignore_index=True) if any(
        not r.empty for r in records) else empty_quarantine()
    quarantine = quarantine.drop_duplicates("row", keep="first")
    rejected = set(quarantine["row"].tolist())
    fed = [(table, good[~good.index.isin(rejected)]) for table, good in fed]
    return fed, quarantine


def _apply_feed(pipe: FusionPipeline, source: SourceSpec, feed: FeedSpec, rows: pd.DataFrame
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    schema = TABLES[feed.table]
    out = pd.DataFrame(index=rows.index)
    bad = pd.Series(False, index=rows.index)
    records: list[pd.DataFrame] = []
    extras: list[Column] = []

    def reject(mask: pd.Series, reason: str, column: str, values: pd.Series, message: str | pd.Series | None = None
               ) -> None:
        nonlocal bad
        mask = mask & ~bad
        if not mask.any():
            return
        if isinstance(message, pd.Series):
            for text, group in message[mask].groupby(message[mask], sort=False):
                records.append(quarantine_rows(source.name, feed.table, group.index, reason, column,
                                               values[group.index], str(text)))
        else:
            records.append(quarantine_rows(source.name, feed.table, rows.index[mask], reason, column, values[mask],
                                           message))
        bad |= mask

    for spec in feed.columns:
        if schema.column(spec.name) is None and spec.type is not None:
            extras.append(Column(spec.name, spec.type, False))
        if spec.column is None:
            out[spec.name] = pd.Series([spec.value] * len(rows), index=rows.index, dtype=object).infer_objects() \
                if len(rows) else pd.Series(dtype=object)
            continue
        raw = rows[spec.column]
        values = raw
        if spec.default is not None:
            values = values.where(_nonempty(values), spec.default).infer_objects()
        if spec.split is not None:
            sep, part = spec.split
            values, lacking = _split_part(values, sep, part)
            if lacking.any() and not (_nonempty(raw) & ~lacking).any():
                raise DataError(f"{source.label}: column {spec.column!r}: no value has a part {part} when split at "
                                f"{sep!r} (e.g. {_example(raw[lacking])}); check split: sep and part")
            reject(lacking, "missing_value", spec.column, raw, f"split at {sep!r}, this value has no part {part}")
        if spec.codes is not None:
            keys = _code_keys(values)
            mapped = keys.map(dict(spec.codes))
            unknown = keys.notna() & mapped.isna()
            if spec.keep_unknown:
                mapped = mapped.where(~unknown, keys)
            else:
                named = f"code map {spec.codes_name!r}" if spec.codes_name else "the inline codes"
                reject(unknown, "unknown_code", spec.column, raw,
                       f"no entry in {named} for this code; add it, or declare keep_unknown: true")
            values = mapped
        if spec.type == "number":
            numbers, not_number = _to_number(values, source.label, spec.column)
            reject(not_number, "bad_number", spec.column, raw,
                   "not a number; clean it, or declare the text under the source's na_values")
            if spec.unit is not None:
                (_, s_from, o_from), (_, s_to, o_to) = UNITS[spec.unit[0]], UNITS[spec.unit[1]]
                numbers = ((numbers * s_from + o_from) - o_to) / s_to
            elif spec.convert is not None:
                from leanlearn.mining.expressions import Expression

                try:
                    converted = Expression.parse(spec.convert).evaluate(pd.DataFrame({"x": numbers}))
                except ExpressionError as exc:
                    raise DataError(f"{source.label}: column {spec.column!r}: {exc}") from None
                numbers = pd.Series(np.asarray(converted, dtype=float), index=rows.index)
                broken = numbers.isna() & ~bad & _nonempty(values) | ~np.isfinite(numbers.fillna(0))
                reject(broken, "bad_number", spec.column, raw, f"the conversion {spec.convert!r} gives no number")
            values = numbers
        elif spec.type == "time":
            time = spec.time or source.time
            times, problems = to_utc(values, time.format, time.zone, unit=time.unit, nonexistent=time.nonexistent,
                                     ambiguous=time.ambiguous, years=time.years, where=source.label,
                                     column=spec.column)
            for reason, group in problems.groupby("reason", sort=False):
                mask = pd.Series(rows.index.isin(group.index), index=rows.index)
                reject(mask, str(reason), spec.column, raw, group["message"].reindex(rows.index))
            values = times
        elif spec.type == "bool" and pd.api.types.is_numeric_dtype(values.dtype) \
                and not pd.api.types.is_bool_dtype(values.dtype):
            # 0/1 flags: a CSV column with empty cells reads as floats 0.0 / 1.0, which are no yes/no text
            numbers = values.astype(float)
            reject(numbers.notna() & ~numbers.isin((0.0, 1.0)), "bad_bool", spec.column, raw,
                   "not a yes/no value: a number here must be 0 or 1")
            values = numbers.map({0.0: False, 1.0: True}).astype(object)
        out[spec.name] = values
    if schema.column("line") is not None and "line" not in out.columns:
        out.insert(0, "line", pipe.line)
    order = [c.name for c in schema.columns if c.name in out.columns]
    out = out[order + [c for c in out.columns if c not in order]]
    dynamic = TableSchema(feed.table, (*schema.columns, *extras), schema.time_order)
    good, invalid = validate(out[~bad], dynamic, source=source.name)
    records.append(_in_source_terms(invalid, feed, rows))
    if feed.table == "operations" and "kind" in good.columns:
        wrong = ~good["kind"].isin(OPERATION_KINDS)
        if wrong.any():
            records.append(_in_source_terms(quarantine_rows(
                source.name, feed.table, good.index[wrong], "unknown_code", "kind", good.loc[wrong, "kind"],
                f"kind must be one of {', '.join(OPERATION_KINDS)}; map it with codes:"), feed, rows))
            good = good[~wrong]
    if feed.duplicates and len(good):
        keys = list(feed.duplicates)
        key_text = good[keys].astype(str).agg("\x1f".join, axis=1)
        repeated = key_text.duplicated(keep="first")
        if repeated.any():
            first = pd.Series(good.index, index=good.index).groupby(key_text.to_numpy()).transform("first")
            shown = good.loc[repeated, keys].astype(str).agg(" | ".join, axis=1)
            for original, group in shown.groupby(first[repeated], sort=False):
                records.append(quarantine_rows(source.name, feed.table, group.index, "duplicate", ", ".join(keys),
                                               group, f"same {', '.join(keys)} as row {original}; the first is kept"))
            good = good[~repeated]
    quarantine = pd.concat([r for r in records if not r.empty], ignore_index=True) if any(
        not r.empty for r in records) else empty_quarantine()
    return good, quarantine


def _in_source_terms(records: pd.DataFrame, feed: FeedSpec, rows: pd.DataFrame) -> pd.DataFrame:
    """Quarantine records of canonical columns → the source column they came from, with its original text."""
    if records.empty:
        return records
    origin = {spec.name: spec.column for spec in feed.columns if spec.column is not None}
    records = records.copy()
    for position, (row, column) in enumerate(zip(records["row"], records["column"])):
        source_column = origin.get(column)
        if source_column is None:
            continue
        raw = rows.at[row, source_column]
        records.iat[position, records.columns.get_loc("column")] = source_column
        records.iat[position, records.columns.get_loc("value")] = None if _missing(raw) else str(raw)
    return records


# -- signals onto operations ----------------------------------------------------------------------------------------
def _ns(values: pd.Series) -> np.ndarray:
    return values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype("int64")


def attach_signals(
    operations: pd.DataFrame,
    signals: pd.DataFrame,
    aggregations: Mapping[str, str | Sequence[str]],
    *,
    by: Sequence[str] = ("line", "station"),
    closed: str = "both",
) -> tuple[pd.DataFrame, pd.Series]:
    """Aggregate signal readings onto each operation's time window ``[start, end]``.

    Parameters
    ----------
    operations : DataFrame
        The operations table (``start``, ``end`` tz-aware, and the ``by`` columns).
    signals : DataFrame
        The signals table: ``ts``, ``name``, ``value`` and the ``by`` columns.
    aggregations : mapping
        Signal name → aggregation(s) among ``mean max min last first sum count median std``.
    by : sequence of str, default=("line", "station")
        A reading belongs to operations with the same values in these columns.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which window ends a reading counts at: ``both`` ``[start, end]``, ``left`` ``[start, end)`` (a reading at
        the instant one operation hands over to the next belongs to the next one only), ``right`` ``(start, end]``,
        ``neither`` ``(start, end)``.

    Returns
    -------
    operations : DataFrame
        A copy with one column ``<signal>_<aggregation>`` per declared pair; NaN where no reading falls in the
        window (a count is 0 there).
    in_window : Series of bool
        Per signal row (same index as ``signals``), whether some operation's window contains it.

    Examples
    --------
    >>> t = pd.Timestamp("2024-03-01 08:00", tz="UTC")
    >>> ops = pd.DataFrame({"line": "L1", "station": "P1", "start": [t, t + pd.Timedelta("1h")],
    ...                     "end": [t + pd.Timedelta("10min"), t + pd.Timedelta("70min")]})
    >>> sig = pd.DataFrame({"line": "L1", "station": "P1", "name": "humidity", "value": [60.0, 64.0, 99.0],
    ...                     "ts": [t + pd.Timedelta("2min"), t + pd.Timedelta("8min"), t + pd.Timedelta("30min")]})
    >>> joined, in_window = attach_signals(ops, sig, {"humidity": ["mean", "last"]})
    >>> joined[["humidity_mean", "humidity_last"]].to_dict("list"), in_window.tolist()
    ({'humidity_mean': [62.0, nan], 'humidity_last': [64.0, nan]}, [True, True, False])

    Back-to-back operations share an instant: ``closed="left"`` gives a reading at it to the later one only.

    >>> back = pd.DataFrame({"line": "L1", "station": "P1", "start": [t, t + pd.Timedelta("10min")],
    ...                      "end": [t + pd.Timedelta("10min"), t + pd.Timedelta("20min")]})
    >>> at = pd.DataFrame({"line": "L1", "station": "P1", "name": "humidity", "value": [60.0, 70.0],
    ...                    "ts": [t + pd.Timedelta("5min"), t + pd.Timedelta("10min")]})
    >>> [attach_signals(back, at, {"humidity": "mean"}, closed=c)[0]["humidity_mean"].tolist()
    ...  for c in ("both", "left")]
    [[65.0, 70.0], [60.0, 70.0]]
    """
    if closed not in CLOSED:
        raise DataError(f"closed={closed!r}: choose one of {', '.join(CLOSED)}")
    wanted = {name: (aggs,) if isinstance(aggs, str) else tuple(aggs) for name, aggs in aggregations.items()}
    for name, aggs in wanted.items():
        for agg in aggs:
            if agg not in AGGREGATIONS:
                raise DataError(f"signal {name!r}: unknown aggregation {agg!r}; choose from {', '.join(AGGREGATIONS)}")
    for table, frame, needed in (("operations", operations, ("start", "end")), ("signals", signals,
                                                                                 ("ts", "name", "value"))):
        missing = [c for c in (*by, *needed) if c not in frame.columns]
        if missing:
            raise DataError(f"the {table} table has no column(s) {', '.join(map(repr, missing))} to join signals by")
    result = operations.copy()
    columns = {f"{name}_{agg}": np.full(len(operations), 0.0 if agg == "count" else np.nan)
               for name, aggs in wanted.items() for agg in aggs}
    for column in columns:
        if column in operations.columns:
            raise DataError(f"the operations table already has a column {column!r}; rename it before aggregating "
                            "signals onto it")
    in_window = np.zeros(len(signals), dtype=bool)
    op_groups = operations.groupby(list(by), sort=False, dropna=False).indices if len(operations) else {}
    sig_groups = signals.groupby(list(by), sort=False, dropna=False).indices if len(signals) else {}
    starts, ends = (_ns(operations[c]) for c in ("start", "end")) if len(operations) else (np.array([]),) * 2
    stamps = _ns(signals["ts"]) if len(signals) else np.array([], dtype="int64")
    pair_ops: list[np.ndarray] = []
    pair_sigs: list[np.ndarray] = []
    for key, o_pos in op_groups.items():
        s_pos = sig_groups.get(key)
        if s_pos is None or len(s_pos) == 0:
            continue
        s_pos = s_pos[np.argsort(stamps[s_pos], kind="stable")]
        ts = stamps[s_pos]
        lo = np.searchsorted(ts, starts[o_pos], side="left" if closed in ("both", "left") else "right")
        hi = np.searchsorted(ts, ends[o_pos], side="right" if closed in ("both", "right") else "left")
        counts = np.clip(hi - lo, 0, None)
        cover = np.zeros(len(ts) + 1, dtype="int64")
        has = counts > 0
        np.add.at(cover, lo[has], 1)
        np.add.at(cover, hi[has], -1)
        in_window[s_pos[np.cumsum(cover)[:-1] > 0]] = True
        total = int(counts.sum())
        if total:
            offsets = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts) + np.arange(total)
            pair_ops.append(np.repeat(o_pos, counts))
            pair_sigs.append(s_pos[offsets])
    if pair_ops:
        op_index = np.concatenate(pair_ops)
        sig_index = np.concatenate(pair_sigs)
        pairs = pd.DataFrame({"op": op_index, "name": signals["name"].to_numpy()[sig_index],
                              "value": pd.to_numeric(signals["value"], errors="coerce").to_numpy()[sig_index],
                              "ts": stamps[sig_index]})
        pairs = pairs.sort_values(["op", "ts"], kind="mergesort")
        for name, aggs in wanted.items():
            grouped = pairs[pairs["name"] == name].groupby("op")["value"]
            for agg in aggs:
                values = grouped.agg(agg)
                columns[f"{name}_{agg}"][values.index.to_numpy()] = values.to_numpy(dtype=float)
    for column, values in columns.items():
        result[column] = values
    return result, pd.Series(in_window, index=signals.index, name="in_window")


def _aggregate(pipe: FusionPipeline, tables: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    spec = pipe.aggregate
    assert spec is not None
    operations, in_window = attach_signals(tables["operations"], tables["signals"], spec.signals, by=spec.by,
                                           closed=spec.closed)
    tables = {**tables, "operations": operations}
    outside = ~in_window
    if spec.outside == "keep" or not outside.any():
        return tables, empty_quarantine()
    signals = tables["signals"]
    names = [s.name for s in pipe.sources]
    records = []
    for order, group in signals[outside].groupby("_order", sort=True):
        records.append(quarantine_rows(names[int(order)], "signals", group["_row"].to_numpy(), "out_of_window", "ts",
                                       group["ts"], f"no operation on the same {', '.join(spec.by)} runs at this time"))
    tables["signals"] = signals[~outside].reset_index(drop=True)
    return tables, pd.concat(records, ignore_index=True)


# -- lean views on the fused tables ---------------------------------------------------------------------------------
def _periods(times: pd.Series, freq: str) -> pd.Series:
    try:
        return times.dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period(freq)
    except (ValueError, TypeError) as exc:
        raise DataError(f"freq {freq!r} is not a period length ({exc}); use e.g. 'h', 'D', 'W' or 'M'") from None


def levelling(operations: pd.DataFrame, demand: pd.DataFrame, freq: str = "D", *, qty: str = "good_qty",
              station: str | None = None) -> pd.DataFrame:
    """Demand per period against output per period, per material: a production-levelling signal.

    Parameters
    ----------
    operations : DataFrame
        The operations table. Output is counted at the operation's ``end``, for ``kind == "production"`` rows (all
        rows when there is no ``kind``), as the sum of column ``qty`` (one per operation when it is absent).
    demand : DataFrame
        The demand table; a demand period spanning several output periods is spread over them in proportion to
        time.
    freq : str, default="D"
        Period length: ``"h"``, ``"D"``, ``"W"`` (weeks ending Sunday), ``"M"``, ... (pandas period aliases).
    qty : str, default="good_qty"
        The operations column holding the good quantity of each operation.
    station : str, optional
        Count output only here (the line's last station, so each unit counts once). Default: every operation.

    Returns
    -------
    DataFrame
        ``material, period_start, period_end, demand, output, deviation`` (output − demand) and
        ``relative_deviation`` (deviation / demand; NaN where there was no demand), sorted by material and period.

    Examples
    --------
    >>> day = pd.Timestamp("2024-03-04", tz="UTC")
    >>> ops = pd.DataFrame({"material": "BRK-200", "start": [day, day + pd.Timedelta("1D")],
    ...                     "end": [day + pd.Timedelta("2h"), day + pd.Timedelta("26h")], "good_qty": [80, 130]})
    >>> dem = pd.DataFrame({"material": ["BRK-200"], "period_start": [day], "period_end": [day + pd.Timedelta("2D")],
    ...                     "qty": [200.0]})
    >>> levelling(ops, dem, "D")[["demand", "output", "deviation", "relative_deviation"]]
       demand  output  deviation  relative_deviation
    0   100.0    80.0      -20.0                -0.2
    1   100.0   130.0       30.0                 0.3
    """
    ops = operations
    if "kind" in ops.columns:
        ops = ops[ops["kind"].fillna("production") == "production"]
    if station is not None:
        ops = ops[ops["station"] == station]
    output = pd.DataFrame({"material": ops["material"].to_numpy(), "period": _periods(ops["end"], freq).to_numpy(),
                           "output": pd.to_numeric(ops[qty], errors="coerce").fillna(0).to_numpy(dtype=float)
                           if qty in ops.columns else np.ones(len(ops))})
    output = output.groupby(["material", "period"], as_index=False)["output"].sum()
    spread = []
    for material, start, end, amount in demand[["material", "period_start", "period_end", "qty"]].itertuples(
            index=False):
        start, end = pd.Timestamp(start).tz_convert("UTC").tz_localize(None), pd.Timestamp(end).tz_convert(
            "UTC").tz_localize(None)
        first, last = start.to_period(freq), max(start, end - pd.Timedelta(1, "ns")).to_period(freq)
        span = (end - start).total_seconds()
        for period in pd.period_range(first, last, freq=freq):
            period_end = (period + 1).start_time
            overlap = (min(end, period_end) - max(start, period.start_time)).total_seconds()
            share = overlap / span if span > 0 else 1.0
            spread.append((material, period, float(amount) * share))
    demanded = pd.DataFrame(spread, columns=["material", "period", "demand"])
    demanded = demanded.groupby(["material", "period"], as_index=False)["demand"].sum()
    merged = demanded.merge(output, on=["material", "period"], how="outer").fillna({"demand": 0.0, "output": 0.0})
    merged = merged.sort_values(["material", "period"], kind="mergesort").reset_index(drop=True)
    periods = pd.PeriodIndex(merged["period"], freq=freq) if len(merged) else pd.PeriodIndex([], freq=freq)
    result = pd.DataFrame({
        "material": merged["material"],
        "period_start": periods.start_time.tz_localize("UTC"),
        "period_end": (periods + 1).start_time.tz_localize("UTC"),
        "demand": merged["demand"].astype(float),
        "output": merged["output"].astype(float),
    })
    result["deviation"] = result["output"] - result["demand"]
    result["relative_deviation"] = (result["deviation"] / result["demand"].where(result["demand"] > 0)).round(12)
    return result


def transport(moves: pd.DataFrame) -> pd.DataFrame:
    """The transport moves: those between two different locations, with their duration in minutes.

    >>> t = pd.Timestamp("2024-03-01 08:00", tz="UTC")
    >>> moves = pd.DataFrame({"material": "BRK", "qty": [10.0, 4.0], "from_location": ["WH", "L1"],
    ...                       "to_location": ["L1", "L1"], "start": [t, t], "end": [t + pd.Timedelta("12min"), t]})
    >>> transport(moves)[["from_location", "to_location", "transport_min"]]
      from_location to_location  transport_min
    0            WH          L1           12.0
    """
    moved = moves[moves["from_location"].astype(str) != moves["to_location"].astype(str)].copy()
    if "end" in moved.columns:
        moved["transport_min"] = (moved["end"] - moved["start"]).dt.total_seconds() / 60
    return moved.reset_index(drop=True)


def inventory(moves: pd.DataFrame, *, by_material: bool = True) -> pd.DataFrame:
    """Running stock per location from the moves: a quantity leaves at ``start`` and arrives at ``end``.

    Locations that only send (receiving from suppliers, ``external``) run negative: they count what came in from
    outside. Filter them out of the result if you do not need them.

    Returns
    -------
    DataFrame
        ``ts, location, material, change, stock`` sorted by time (``material`` only when ``by_material``).

    Examples
    --------
    >>> t = pd.Timestamp("2024-03-01 08:00", tz="UTC")
    >>> moves = pd.DataFrame({"material": "BRK", "qty": [10.0, 4.0], "from_location": ["WH", "L1"],
    ...                       "to_location": ["L1", "scrap"], "start": [t, t + pd.Timedelta("1h")],
    ...                       "end": [t + pd.Timedelta("12min"), None]})
    >>> stock = inventory(moves)
    >>> stock[stock["location"] == "L1"][["ts", "change", "stock"]]
                             ts  change  stock
    1 2024-03-01 08:12:00+00:00    10.0   10.0
    2 2024-03-01 09:00:00+00:00    -4.0    6.0
    """
    qty = pd.to_numeric(moves["qty"], errors="coerce").astype(float)
    arrive = moves["end"].where(moves["end"].notna(), moves["start"]) if "end" in moves.columns else moves["start"]
    material = moves["material"] if by_material and "material" in moves.columns else None
    out = pd.concat([
        pd.DataFrame({"ts": moves["start"], "location": moves["from_location"], "change": -qty, "_order": 0}),
        pd.DataFrame({"ts": arrive, "location": moves["to_location"], "change": qty, "_order": 1}),
    ], ignore_index=False)
    keys = ["location"]
    if material is not None:
        out["material"] = pd.concat([material, material]).to_numpy()
        keys.append("material")
    out = out.reset_index(names="_move").sort_values(["ts", "_move", "_order"], kind="mergesort")
    out = out.reset_index(drop=True)
    out["stock"] = out.groupby(keys, sort=False)["change"].cumsum()
    return out[["ts", *keys, "change", "stock"]]
