"""The fuse engine: every source read, routed, mapped, checked and reconciled (read = used + quarantined)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from leanlearn.data.fusion.signals import attach_signals
from leanlearn.data.fusion.spec import FeedSpec, FusionPipeline, SourceSpec, load_fusion
from leanlearn.data.fusion.times import to_utc
from leanlearn.data.fusion.values import UNITS, _code_keys, _example, _missing, _nonempty, _split_part, _to_number
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
from leanlearn.data.sources import numeric_cells
from leanlearn.errors import DataError, ExpressionError
from leanlearn.limits import Limits

__all__ = ["FusionResult", "fuse"]

TIME_COLUMNS = {"operations": "start", "downtime": "start", "demand": "period_start", "signals": "ts", "moves": "start"}

#: Known units: name → (dimension, scale, offset) with ``SI value = x * scale + offset``.


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
        rows = [{"reason": reason, "count": int(count), **examples.loc[str(reason)].to_dict(), "reason_": reason}
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


# -- fusing ---------------------------------------------------------------------------------------------------------
def fuse(pipeline: str | Path | FusionPipeline | Mapping[str, Any], *, limits: Limits | None = None) -> FusionResult:
    """Read every source of a fusion pipeline and map it into the canonical tables.

    Parameters
    ----------
    pipeline : str, Path, FusionPipeline or mapping
        A fusion pipeline YAML file, a loaded pipeline, or the YAML document as a mapping (see :func:`load_fusion`).
    limits : Limits, optional
        Bounds on each source's size, rows, columns and cells and on SQL run time (default
        :meth:`~leanlearn.limits.Limits.from_env`; see :mod:`leanlearn.limits`).

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
        frame = source.read(limits).reset_index(drop=True)
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
        for group_order, rows in frame.groupby("_order")["_row"]:
            used_rows.setdefault(names[int(cast(Any, group_order))], set()).update(rows.tolist())
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
        route_column = next((c for feed in source.feeds for c, _ in feed.where), None)
        routes = "; ".join(f"{feed.table}: " + ", ".join(f"{c} in {list(v)}" for c, v in feed.where)
                           for feed in source.feeds)
        values = frame.loc[unrouted, route_column] if route_column else [None] * int(unrouted.sum())
        records.append(quarantine_rows(source.name, None, frame.index[unrouted], "unmapped", route_column,  # type: ignore[arg-type]
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
        elif spec.type is None and spec.codes is None and (found := numeric_cells(values)) is not None:
            # a column of numbers with a few stray texts: numbers, and the rows with the strays quarantined
            numbers, stray = found
            reject(stray, "bad_number", spec.column, raw,
                   "not a number in a column of numbers; clean it, or declare the text under the source's na_values")
            values = numbers
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
        key_columns = list(feed.duplicates)
        key_text = good[key_columns].astype(str).agg("\x1f".join, axis=1)
        repeated = key_text.duplicated(keep="first")
        if repeated.any():
            first = pd.Series(good.index, index=good.index).groupby(key_text.to_numpy()).transform("first")
            shown = good.loc[repeated, key_columns].astype(str).agg(" | ".join, axis=1)
            for original, dupes in shown.groupby(first[repeated], sort=False):
                named = ", ".join(key_columns)
                records.append(quarantine_rows(source.name, feed.table, dupes.index, "duplicate", named,
                                               dupes, f"same {named} as row {original}; the first is kept"))
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
    at_column, at_value = (int(i) for i in records.columns.get_indexer(pd.Index(["column", "value"])))
    for position, (row, column) in enumerate(zip(records["row"], records["column"])):
        source_column = origin.get(column)
        if source_column is None:
            continue
        raw = rows.at[row, source_column]
        records.iat[position, at_column] = source_column
        records.iat[position, at_value] = None if _missing(raw) else str(raw)
    return records



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
        records.append(quarantine_rows(names[int(cast(Any, order))], "signals", group["_row"].to_numpy(),
                                       "out_of_window", "ts", group["ts"],
                                       f"no operation on the same {', '.join(spec.by)} runs at this time"))
    tables["signals"] = signals[~outside].reset_index(drop=True)
    return tables, pd.concat(records, ignore_index=True)


