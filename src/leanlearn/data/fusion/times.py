"""Time zones: timestamps in any declared format and local zone → UTC, safe across daylight-saving changes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
import pandas as pd

from leanlearn.data.fusion.values import _example, _nonempty
from leanlearn.errors import DataError

__all__ = ["AMBIGUOUS", "EPOCH_UNITS", "NONEXISTENT", "to_utc"]

NONEXISTENT = ("quarantine", "shift_forward", "shift_backward")
AMBIGUOUS = ("quarantine", "infer", "earliest", "latest")
EPOCH_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_OFFSET = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)
_FORMAT_GUESSES = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%Y/%m/%d %H:%M:%S.%f",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y%m%d%H%M%S", "%d-%b-%Y %H:%M:%S",
)


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


