"""Resource limits on every input leanlearn reads: one place, documented, overridable.

A file a person hands to leanlearn — a table, a pipeline YAML, a database query — cannot make it use unbounded
memory or time: each limit below ends in one :class:`~leanlearn.errors.LeanlearnError` that names the input, the
limit and how to raise it, never in a traceback or an exhausted machine.

- ``max_bytes`` (``LEANLEARN_MAX_BYTES``, default 1 GiB): bytes of one table file after decompression; a
  ``.gz`` is inflated through a stream that stops one byte past the limit.
- ``max_rows`` (``LEANLEARN_MAX_ROWS``, 10,000,000): rows of one table (a file or a SQL result).
- ``max_columns`` (``LEANLEARN_MAX_COLUMNS``, 5,000): columns of one table.
- ``max_cells`` (``LEANLEARN_MAX_CELLS``, 100,000,000): rows × columns of one table.
- ``max_yaml_bytes`` (``LEANLEARN_MAX_YAML_BYTES``, 1 MiB): size of one pipeline YAML file.
- ``max_yaml_aliases`` (``LEANLEARN_MAX_YAML_ALIASES``, 100): aliases (``*name``) in one YAML file.
- ``max_yaml_nodes`` (``LEANLEARN_MAX_YAML_NODES``, 100,000): values in one YAML document, an alias counted
  with everything it stands for (a 400-byte "billion laughs" file stands for 10⁸ values).
- ``sql_timeout`` (``LEANLEARN_SQL_TIMEOUT``, 300 seconds): run time of one SQL statement.

Override a limit for one call with ``limits=Limits(max_rows=50_000_000)`` (``read_table``, ``read_sql``,
``read_yaml``, ``fuse``), or for a whole process with the environment variable (``LEANLEARN_MAX_BYTES=4G``; byte
sizes accept ``K``, ``M``, ``G`` suffixes).

Examples
--------
>>> Limits().max_rows
10000000
>>> Limits.from_env({"LEANLEARN_MAX_BYTES": "2G"}).max_bytes
2147483648
>>> Limits(max_rows=10).check("max_rows", 11, "runs.csv", "rows")
Traceback (most recent call last):
...
leanlearn.errors.DataError: runs.csv: has 11 rows, over the limit of 10 (max_rows); raise it with ...
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from leanlearn.errors import DataError, LeanlearnError

__all__ = ["ENV", "Limits"]

#: Limit name → environment variable overriding it.
ENV = {
    "max_bytes": "LEANLEARN_MAX_BYTES",
    "max_rows": "LEANLEARN_MAX_ROWS",
    "max_columns": "LEANLEARN_MAX_COLUMNS",
    "max_cells": "LEANLEARN_MAX_CELLS",
    "max_yaml_bytes": "LEANLEARN_MAX_YAML_BYTES",
    "max_yaml_aliases": "LEANLEARN_MAX_YAML_ALIASES",
    "max_yaml_nodes": "LEANLEARN_MAX_YAML_NODES",
    "sql_timeout": "LEANLEARN_SQL_TIMEOUT",
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)
_FACTORS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True, slots=True)
class Limits:
    """The resource limits of one read (see the module docstring for each one's meaning and default)."""

    max_bytes: int = 1 << 30
    max_rows: int = 10_000_000
    max_columns: int = 5_000
    max_cells: int = 100_000_000
    max_yaml_bytes: int = 1 << 20
    max_yaml_aliases: int = 100
    max_yaml_nodes: int = 100_000
    sql_timeout: float = 300.0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise LeanlearnError(f"limit {item.name}={value!r} must be a positive number")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: float) -> Limits:
        """The defaults, overridden by ``LEANLEARN_MAX_*`` variables of ``environ`` (default: the process's) and
        then by ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, float] = {}
        for name, variable in ENV.items():
            raw = env.get(variable)
            if raw is None or not raw.strip():
                continue
            match = _SIZE.match(raw)
            if match is None:
                raise LeanlearnError(f"{variable}={raw!r} is not a number; write e.g. {variable}=2000000"
                                     + (" or 2G" if "bytes" in name else ""))
            number = float(match.group(1)) * _FACTORS[match.group(2).upper()]
            values[name] = number if name == "sql_timeout" else int(number)
        return replace(cls(), **{**values, **overrides})  # type: ignore[arg-type]

    def check(self, name: str, value: int, where: str, unit: str, error: type[LeanlearnError] = DataError) -> None:
        """Raise ``error`` naming ``where``, the limit and how to raise it when ``value`` exceeds limit ``name``."""
        limit = getattr(self, name)
        if value > limit:
            raise error(self.message(name, value, where, unit))

    def message(self, name: str, value: float | str, where: str, unit: str) -> str:
        """The one-line message for ``value`` exceeding limit ``name`` in ``where``."""
        limit = getattr(self, name)
        shown = f"{value:,}" if isinstance(value, (int, float)) else value
        return (f"{where}: has {shown} {unit}, over the limit of {limit:,} ({name}); raise it with "
                f"{ENV[name]}=<larger> in the environment or limits=Limits({name}=...) in Python, or split the input")
