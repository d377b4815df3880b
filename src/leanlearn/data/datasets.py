"""Real data shipped inside leanlearn, as loaders. Attribution and licences: ``files/NOTICE.md``.

Examples
--------
>>> frame = load_ai4i()
>>> frame.shape
(10000, 14)
>>> X, y = load_ai4i(target="HDF")
>>> list(X.columns)[:3], int(y.sum())
(['Type', 'Air temperature [K]', 'Process temperature [K]'], 115)
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import overload

import pandas as pd

from leanlearn.errors import DataError

AI4I_FLAGS = ("Machine failure", "TWF", "HDF", "PWF", "OSF", "RNF")
AI4I_IDS = ("UDI", "Product ID")


def data_file(name: str) -> Path:
    """Path of a file shipped in ``leanlearn/data/files``."""
    path = Path(str(resources.files("leanlearn.data").joinpath("files", name)))
    if not path.exists():
        raise FileNotFoundError(f"shipped data file {name!r} is missing from the leanlearn installation")
    return path


class DatasetError(DataError, ValueError):
    """A shipped dataset was asked for something it does not have (also a ``ValueError``, as before)."""


@overload
def load_ai4i(target: None = None) -> pd.DataFrame: ...
@overload
def load_ai4i(target: str) -> tuple[pd.DataFrame, pd.Series]: ...
def load_ai4i(target: str | None = None) -> pd.DataFrame | tuple[pd.DataFrame, pd.Series]:
    """AI4I 2020 predictive-maintenance data (10,000 milling operations, 5 documented failure modes).

    Parameters
    ----------
    target : {"Machine failure", "TWF", "HDF", "PWF", "OSF", "RNF"}, optional
        Without it, the whole table. With it, ``(X, y)``: the process parameters and product type (identifiers
        and every failure flag removed, so no outcome leaks into the features) and the chosen flag.
    """
    frame = pd.read_csv(data_file("ai4i2020.csv.gz"), encoding="utf-8-sig")
    if target is None:
        return frame
    if target not in AI4I_FLAGS:
        raise DatasetError(f"the AI4I target must be one of {', '.join(AI4I_FLAGS)}, got {target!r}")
    X = frame.drop(columns=[*AI4I_IDS, *AI4I_FLAGS])
    return X, frame[target].rename(target)


def load_production_4tu(events: bool = False) -> pd.DataFrame:
    """The real 4TU machine-shop event log (2012): setups, production, breakdowns and rejects.

    With ``events=False`` the table as shipped (4,543 rows). With ``events=True``, the canonical events table
    of :mod:`leanlearn.lean.tables`: Case ID → ``order_id``, Resource → ``station``, Part Desc. → ``material``,
    Worker ID → ``worker``, Report Type S / D / B → ``kind`` setup / production / breakdown, timestamps parsed
    (local plant time, no zone given), quantities renamed; rows whose timestamps do not parse are dropped
    (none in the shipped file).

    >>> load_production_4tu(events=True)["kind"].value_counts().to_dict()
    {'production': 3785, 'setup': 705, 'breakdown': 53}
    """
    raw = pd.read_csv(data_file("production_4tu.csv.gz"))
    if not events:
        return raw
    fmt = "%Y/%m/%d %H:%M:%S.%f"
    out = pd.DataFrame({
        "order_id": raw["Case ID"],
        "station": raw["Resource"],
        "activity": raw["Activity"],
        "material": raw["Part Desc."],
        "worker": raw["Worker ID"],
        "kind": raw["Report Type"].map({"S": "setup", "D": "production", "B": "breakdown"}),
        "start": pd.to_datetime(raw["Start Timestamp"], format=fmt, errors="coerce"),
        "end": pd.to_datetime(raw["Complete Timestamp"], format=fmt, errors="coerce"),
        "order_qty": raw["Work Order  Qty"],
        "qty_completed": raw["Qty Completed"],
        "qty_rejected": raw["Qty Rejected"],
        "qty_mrb": raw["Qty for MRB"],
        "rework": raw["Rework"].eq("Y"),
    })
    return out.dropna(subset=["start", "end", "kind"]).reset_index(drop=True)
