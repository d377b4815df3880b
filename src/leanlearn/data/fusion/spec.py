"""The fusion pipeline as data: the YAML spec, its dataclasses, and the checks that load it (see the package doc)."""

from __future__ import annotations

import difflib
import os
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from leanlearn.data.fusion.signals import AGGREGATIONS, CLOSED
from leanlearn.data.fusion.times import AMBIGUOUS, EPOCH_UNITS, NONEXISTENT
from leanlearn.data.fusion.values import UNITS, _code_key
from leanlearn.data.schema import TABLES, TableSchema
from leanlearn.errors import DataError, ExpressionError, MappingError
from leanlearn.limits import Limits
from leanlearn.yamlfile import Checker, did_you_mean, read_yaml, type_name

__all__ = ["AggregateSpec", "ColumnSpec", "FeedSpec", "FusionPipeline", "SourceSpec", "TimeSpec", "load_fusion"]

TOP_KEYS = ("name", "line", "description", "sources", "codes", "aggregate")
SOURCE_KEYS = ("name", "path", "dataset", "url", "table", "query", "timeout", "encoding", "delimiter", "na_values",
               "time", "feeds")
FEED_KEYS = ("table", "where", "columns", "convert", "duplicates", "time")
COLUMN_KEYS = ("column", "value", "split", "codes", "keep_unknown", "convert", "unit", "type", "time", "default")
TIME_KEYS = ("format", "unit", "zone", "nonexistent", "ambiguous", "years")
CODE_FILE_KEYS = ("path", "from", "to", "encoding")
CONVERT_KEYS = ("to", "convert", "unit")
AGGREGATE_KEYS = ("signals", "outside", "by", "closed")
DATASETS = {"production_4tu": "production_4tu.csv.gz", "ai4i2020": "ai4i2020.csv.gz"}
TYPES = ("text", "number", "bool", "time")
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
    codes: Mapping[str, str | bool] | None = None
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
    url: str | None = field(default=None, repr=False)  # may hold a password: never in a repr
    table: str | None = None
    query: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    na_values: tuple[str, ...] = ()
    time: TimeSpec = field(default_factory=TimeSpec)
    timeout: float | None = None

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

    def read(self, limits: Limits | None = None) -> pd.DataFrame:
        """The source's rows, as read (a :class:`~leanlearn.errors.DataError` if it cannot be read).

        Values are not coerced here: the feeds convert each mapped column cell by cell, quarantining what fails.
        A SQL source is read in a read-only transaction with a statement timeout (``timeout:`` or the limit).
        """
        from leanlearn.data.sources import read_sql, read_table

        if self.url is not None:
            return read_sql(self.url, table=self.table, query=self.query, statement_timeout=self.timeout,
                            limits=limits)
        if self.dataset is not None:
            from leanlearn.data.datasets import data_file

            return read_table(data_file(DATASETS[self.dataset]), limits=limits, coerce=False)
        assert self.path is not None
        return read_table(self.path, encoding=self.encoding, delimiter=self.delimiter,
                          na_values=list(self.na_values) or None, limits=limits, coerce=False)


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



# -- loading --------------------------------------------------------------------------------------------------------
class _Doc(Checker):
    """Checks on one fusion pipeline document (every message names the file and the key) and its base folder."""

    def __init__(self, label: str, base: Path) -> None:
        super().__init__(label, MappingError)
        self.base = base


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
    leanlearn.errors.MappingError: <pipeline>: unknown key 'sourcs'; did you mean 'sources'? ...
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
    name = ctx.name(doc["name"], "name", "name: press-line-2")
    line = ctx.text(str(doc["line"]) if isinstance(doc["line"], (int, float)) else doc["line"], "line",
                    "line: press-2")
    description = doc.get("description") or ""
    if not isinstance(description, str):
        raise ctx.fail("description", f"must be text, got {type_name(description)}")
    codes = _parse_codes(doc.get("codes") or {}, ctx)
    raw_sources = doc["sources"]
    if not isinstance(raw_sources, list) or not raw_sources:
        raise ctx.fail("sources", f"must be a non-empty list of sources, got {type_name(raw_sources)}; "
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


def _parse_codes(value: Any, ctx: _Doc) -> dict[str, dict[str, str | bool]]:
    if not isinstance(value, dict):
        raise ctx.fail("codes", f"must be a mapping of named code maps, got {type_name(value)}; "
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


def _inline_codes(value: Any, key: str, ctx: _Doc) -> dict[str, str | bool]:
    if not isinstance(value, dict) or not value:
        raise ctx.fail(key, f"must be a non-empty mapping of code → code, got {type_name(value)}; "
                            "e.g. {S: setup, D: production}")
    out = {}
    for code, target in value.items():
        if target is None or isinstance(target, (dict, list)):
            raise ctx.fail(f"{key}.{code}", f"must map to one code, got {type_name(target)}")
        out[_code_key(code)] = target if isinstance(target, bool) else str(target)
    return out


def _file_codes(spec: dict[str, Any], key: str, ctx: _Doc) -> dict[str, str | bool]:
    from leanlearn.data.sources import read_table

    path = ctx.base / ctx.text(spec["path"], f"{key}.path", "path: codes/erp.csv")
    try:
        frame = read_table(path, encoding=spec.get("encoding"), coerce=False)  # codes are text, never numbers
    except DataError as exc:
        raise ctx.fail(f"{key}.path", str(exc)) from None
    for role in ("from", "to"):
        column = spec[role]
        if column not in frame.columns:
            raise ctx.fail(f"{key}.{role}", f"{path} has no column {column!r}{did_you_mean(column, frame.columns)}; "
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
        else:
            try:
                pd.to_datetime(pd.Series(["2024-03-01 08:00:00"]), format=fmt, errors="coerce")
            except (ValueError, TypeError) as exc:
                raise ctx.fail(f"{key}.format", f"{fmt!r} is not a valid strptime format ({exc}); e.g. "
                                                "'%d.%m.%Y %H:%M'") from None
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
                or years[0] > years[1] or years[0] < 1678 or years[1] > 2261):
            raise ctx.fail(f"{key}.years", f"must be [first, last] plausible years between 1678 and 2261 (what a "
                                           f"timestamp can hold), got {years!r}; e.g. [1990, 2100]")
        changes["years"] = (years[0], years[1])
    return replace(base, **changes)


def _parse_source(value: Any, key: str, ctx: _Doc, codes: dict[str, dict[str, str | bool]], line: str) -> SourceSpec:
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
    if "url" not in spec and ("table" in spec or "query" in spec or "timeout" in spec):
        which = next(k for k in ("table", "query", "timeout") if k in spec)
        raise ctx.fail(f"{key}.{which}", "belongs to a SQL source; add `url:`")
    if "timeout" in spec:
        seconds = spec["timeout"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
            raise ctx.fail(f"{key}.timeout", f"must be a positive number of seconds the query may run, got "
                                             f"{seconds!r}; e.g. timeout: 600")
        fields["timeout"] = float(seconds)
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
        raise ctx.fail(f"{key}.feeds", f"must be a non-empty list of feeds, got {type_name(raw_feeds)}; e.g. "
                                       "feeds: [{table: operations, columns: {station: Machine, start: Start, ...}}]")
    feeds = tuple(_parse_feed(item, f"{key}.feeds[{i}]", ctx, codes, time) for i, item in enumerate(raw_feeds))
    return SourceSpec(name=name, feeds=feeds, time=time, **fields)


def _parse_feed(value: Any, key: str, ctx: _Doc, codes: dict[str, dict[str, str | bool]], time: TimeSpec) -> FeedSpec:
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
                                           f"{type_name(raw_where)}; e.g. where: {{Report Type: S}}")
        for column, wanted in raw_where.items():
            items = wanted if isinstance(wanted, list) else [wanted]
            if not items or any(v is None or isinstance(v, (dict, list)) for v in items):
                raise ctx.fail(f"{key}.where.{column}", f"must be a value or a list of values, got {wanted!r}")
            where.append((str(column), tuple(_code_key(v) for v in items)))
    raw_columns = spec.get("columns")
    if not isinstance(raw_columns, dict) or not raw_columns:
        raise ctx.fail(f"{key}.columns", f"must map output columns to source columns, got {type_name(raw_columns)}; "
                                         "e.g. columns: {station: Machine, start: Start, end: End}")
    columns = [_parse_column(name, item, f"{key}.columns.{name}", ctx, codes, schema, time)
               for name, item in raw_columns.items()]
    if spec.get("convert") is not None:
        raw_convert = spec["convert"]
        if not isinstance(raw_convert, dict):
            raise ctx.fail(f"{key}.convert", f"must be a mapping, got {type_name(raw_convert)}; e.g. convert: "
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
                                                f"{did_you_mean(column, names)}; mapped: {', '.join(names)}")
    return FeedSpec(table=table, columns=tuple(columns), where=tuple(where), duplicates=tuple(duplicates))


def _parse_column(name: Any, value: Any, key: str, ctx: _Doc, codes: dict[str, dict[str, str | bool]],
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
            raise ctx.fail(f"{key}.value", f"must be one text, number or true/false, got {type_name(constant)}")
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
                                               f"{did_you_mean(raw, list(codes))}; declared: "
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
    if "value" in spec and kind in ("time", "number", "bool"):
        constant = spec["value"]
        fits = {"time": isinstance(constant, str), "bool": isinstance(constant, bool),
                "number": isinstance(constant, (int, float)) and not isinstance(constant, bool)}[kind]
        if not fits:
            example = {"time": "'2024-03-01T00:00Z'", "bool": "true", "number": "0"}[kind]
            raise ctx.fail(f"{key}.value", f"{name!r} is a {kind} column; its constant must be "
                                           f"{'a timestamp text' if kind == 'time' else 'a ' + kind}, got "
                                           f"{constant!r}; e.g. value: {example}")
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
        raise ctx.fail(f"{key}.sep", f"must be non-empty text, got {type_name(sep)}; e.g. sep: '.'")
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
            raise ctx.fail(f"{key}.{role}", f"unknown unit {unit!r}{did_you_mean(str(unit), list(UNITS))}; known: "
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
        raise ctx.fail("aggregate.signals", f"must map signal names to aggregations, got {type_name(raw)}; e.g. "
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


