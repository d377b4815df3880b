"""Value transforms of fusion: codes compared as text, empty cells, parts of tags, numbers and units."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from leanlearn.errors import DataError

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


