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
                                       # or `url: postgresql+psycopg://user@host/db` with `table:` or `query:`
                                       # (one SELECT, run read-only; `timeout: 600` seconds, default 300)
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

What a pipeline may touch: it reads the files, shipped datasets and databases it names (relative paths start in the
YAML's folder, or ``base``); a SQL source runs one ``SELECT`` (anything else, a second statement or ``COPY`` is
refused before it is sent) in a read-only transaction with a statement timeout; ``${VARIABLE}`` in a URL reads that
environment variable. It writes nothing itself: ``leanlearn fuse`` writes the tables into ``fused/<name>/`` (``name``
is a plain file name, never a path) or the ``--out`` folder. Nothing in the file is executed (safe YAML; ``convert:``
goes through the whitelisted expression parser), and every input is bounded by :mod:`leanlearn.limits`.

The package: :mod:`~leanlearn.data.fusion.spec` (the YAML spec and its checks), :mod:`~leanlearn.data.fusion.values`
(codes, parts, numbers, units), :mod:`~leanlearn.data.fusion.times` (zones → UTC), :mod:`~leanlearn.data.fusion.engine`
(:func:`fuse`) and :mod:`~leanlearn.data.fusion.signals` (:func:`attach_signals`); lean views on the fused tables
(``levelling``, ``transport``, ``inventory``) are in :mod:`leanlearn.lean.flows`.

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

from leanlearn.data.fusion.engine import FusionResult, fuse
from leanlearn.data.fusion.signals import attach_signals
from leanlearn.data.fusion.spec import (
    AggregateSpec,
    ColumnSpec,
    FeedSpec,
    FusionPipeline,
    SourceSpec,
    TimeSpec,
    load_fusion,
)
from leanlearn.data.fusion.times import to_utc
from leanlearn.data.fusion.values import UNITS

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
    "load_fusion",
    "to_utc",
]
