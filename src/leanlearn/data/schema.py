"""Column contracts of the canonical tables, their validation, and the quarantine table.

Every source is fused into these tables on one time axis (UTC, tz-aware) and one material code:

- ``operations`` — one execution of one operation on one unit (or batch) at one station: ``line, station,
  unit_id, order_id, material, kind, start, end`` + process parameters + outcome columns (``defect``,
  ``scrap_qty``, ``rework``, …). ``kind`` is ``production`` (default), ``setup``, ``rework`` or ``inspection``.
  Waiting, changeover and cycle times are derived from these, never typed in.
- ``downtime`` — ``line, station, start, end, reason, planned``.
- ``demand`` — ``line, material, period_start, period_end, qty`` (ERP forecast or orders).
- ``signals`` — ``line, station, ts, name, value``: PLC / sensor readings, joined onto operations by time window.
- ``moves`` — ``line, material, qty, from_location, to_location, start, end``: warehouse moves (transport,
  inventory).

Nothing disappears: :func:`validate` returns the rows that hold the contract and a **quarantine** frame with one
row per rejected input row — ``source, row, table, reason, column, value, message`` — so that
rows read = rows used + rows quarantined, always.

Examples
--------
>>> import pandas as pd
>>> raw = pd.DataFrame({"line": ["L1", "L1"], "station": ["S1", "S1"],
...                     "start": ["2024-03-01T08:00Z", "soon"], "end": ["2024-03-01T08:05Z", "2024-03-01T09:00Z"]})
>>> good, quarantine = validate(raw, OPERATIONS, source="mes.csv")
>>> len(good), quarantine[["row", "reason", "column", "value"]].to_dict("records")
(1, [{'row': 1, 'reason': 'bad_timestamp', 'column': 'start', 'value': 'soon'}])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from leanlearn._util import as_utc
from leanlearn.errors import SchemaError

KINDS = ("text", "time", "number", "bool")
REASONS = {
    "missing_value": "a required value is empty",
    "bad_timestamp": "the timestamp does not parse with the declared format",
    "nonexistent_time": "the local time does not exist (skipped by a daylight-saving change)",
    "ambiguous_time": "the local time happens twice (daylight-saving change) and no rule says which",
    "bad_number": "the value is not a number",
    "bad_bool": "the value is not a yes/no value",
    "end_before_start": "the end is before the start",
    "duplicate": "the same event was already read",
    "unknown_code": "the code has no entry in the declared map",
    "out_of_window": "no operation's time window contains this reading",
    "unmapped": "the row has a value that no mapping rule sends to a canonical table",
}
QUARANTINE_COLUMNS = ("source", "row", "table", "reason", "column", "value", "message")
OPERATION_KINDS = ("production", "setup", "rework", "inspection")


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a canonical table."""

    name: str
    kind: str
    required: bool = True
    description: str = ""


@dataclass(frozen=True, slots=True)
class TableSchema:
    """The column contract of one canonical table. Extra columns (parameters, outcomes) are allowed."""

    name: str
    columns: tuple[Column, ...]
    time_order: tuple[str, str] | None = None  # (start, end) that must be ordered

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


OPERATIONS = TableSchema(
    "operations",
    (
        Column("line", "text", True, "production line"),
        Column("station", "text", True, "acquisition node: machine, work centre, inspection point"),
        Column("unit_id", "text", False, "unit or batch id"),
        Column("order_id", "text", False, "work order"),
        Column("material", "text", False, "canonical material code"),
        Column("kind", "text", False, "production | setup | rework | inspection"),
        Column("start", "time", True, "start, UTC"),
        Column("end", "time", True, "end, UTC"),
    ),
    time_order=("start", "end"),
)
DOWNTIME = TableSchema(
    "downtime",
    (
        Column("line", "text"),
        Column("station", "text"),
        Column("start", "time"),
        Column("end", "time"),
        Column("reason", "text", False),
        Column("planned", "bool", False),
    ),
    time_order=("start", "end"),
)
DEMAND = TableSchema(
    "demand",
    (
        Column("line", "text"),
        Column("material", "text"),
        Column("period_start", "time"),
        Column("period_end", "time"),
        Column("qty", "number"),
    ),
    time_order=("period_start", "period_end"),
)
SIGNALS = TableSchema(
    "signals",
    (
        Column("line", "text"),
        Column("station", "text"),
        Column("ts", "time"),
        Column("name", "text"),
        Column("value", "number"),
    ),
)
MOVES = TableSchema(
    "moves",
    (
        Column("line", "text", False),
        Column("material", "text"),
        Column("qty", "number"),
        Column("from_location", "text"),
        Column("to_location", "text"),
        Column("start", "time"),
        Column("end", "time", False),
    ),
    time_order=("start", "end"),
)
TABLES = {t.name: t for t in (OPERATIONS, DOWNTIME, DEMAND, SIGNALS, MOVES)}

_TRUE = {"1", "true", "yes", "y", "t", "ja", "on"}
_FALSE = {"0", "false", "no", "n", "f", "nein", "off", ""}


def empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else "object") for c in QUARANTINE_COLUMNS})


def quarantine_rows(
    source: str, table: str, rows: pd.Index | np.ndarray, reason: str, column: str | None, values: pd.Series | list,
    message: str | None = None,
) -> pd.DataFrame:
    """Quarantine records for ``rows`` (original row numbers of the source) with one reason code."""
    if reason not in REASONS:
        raise ValueError(f"unknown quarantine reason {reason!r}")
    rows = np.asarray(rows)
    vals = list(values) if not isinstance(values, pd.Series) else values.tolist()
    return pd.DataFrame({
        "source": source, "row": rows.astype("int64"), "table": table, "reason": reason, "column": column,
        "value": [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in vals],
        "message": message or REASONS[reason],
    }, columns=list(QUARANTINE_COLUMNS))


def validate(frame: pd.DataFrame, schema: TableSchema, source: str = "<data>") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check ``frame`` against ``schema``; return (rows that hold the contract, quarantine records).

    A missing required *column* is a :class:`SchemaError` (the whole source is wrong: fix the mapping). A bad
    *value* quarantines its row with a reason code. Times must already be tz-aware or ISO 8601 with an offset
    (fusion converts local times first); naive times are taken as UTC. The row numbers in the quarantine are
    ``frame``'s index labels, so keep the source's row numbers as the index.
    """
    missing = [c for c in schema.required if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{source}: the {schema.name} table needs column(s) {', '.join(repr(c) for c in missing)}, "
            f"which the data does not have (columns: {', '.join(map(str, frame.columns))}); map them in the pipeline"
        )
    out = frame.copy()
    bad = pd.Series(False, index=out.index)
    records = []
    for col in schema.columns:
        if col.name not in out.columns:
            continue
        raw = out[col.name]
        if col.kind == "time":
            converted = as_utc(raw)
            problem = converted.isna() & raw.notna() & ~bad
            if problem.any():
                records.append(quarantine_rows(source, schema.name, out.index[problem], "bad_timestamp", col.name,
                                               raw[problem]))
            out[col.name] = converted
            bad |= problem
        elif col.kind == "number":
            converted = pd.to_numeric(raw, errors="coerce")
            problem = converted.isna() & raw.notna() & ~bad
            if problem.any():
                records.append(quarantine_rows(source, schema.name, out.index[problem], "bad_number", col.name,
                                               raw[problem]))
            out[col.name] = converted
            bad |= problem
        elif col.kind == "bool" and not pd.api.types.is_bool_dtype(raw.dtype):
            text = raw.astype("string").str.strip().str.lower()
            truth = text.isin(_TRUE)
            problem = ~(truth | text.isin(_FALSE) | raw.isna()) & ~bad
            if problem.any():
                records.append(quarantine_rows(source, schema.name, out.index[problem], "bad_bool", col.name,
                                               raw[problem]))
            out[col.name] = truth
            bad |= problem
        elif col.kind == "text":
            out[col.name] = raw.where(raw.isna(), raw.astype(str).str.strip())
        if col.required:
            empty = out[col.name].isna()
            if col.kind == "text":
                empty |= out[col.name].astype("string") == ""
            empty &= ~bad
            if empty.any():
                records.append(quarantine_rows(source, schema.name, out.index[empty], "missing_value", col.name,
                                               raw[empty]))
            bad |= empty
    if schema.time_order and all(c in out.columns for c in schema.time_order):
        start, end = schema.time_order
        backwards = (out[end] < out[start]) & ~bad
        if backwards.any():
            records.append(quarantine_rows(source, schema.name, out.index[backwards], "end_before_start", end,
                                           frame.loc[backwards, end]))
        bad |= backwards
    if schema is OPERATIONS and "kind" in out.columns:
        out["kind"] = out["kind"].fillna("production")
    quarantine = pd.concat(records, ignore_index=True) if records else empty_quarantine()
    return out[~bad], quarantine
