"""A synthetic two-line plant with planted waste mechanisms: canonical tables, raw sources, and the truth.

:func:`make_line` simulates two identical lines ("L1", "L2") of stations in series (S1 → S2 → S3 → S4). Units are
released at the demand-derived takt in orders of one material each; every station works first in, first out, so
queues and waiting emerge from the flow. A station sets up when the material changes (a changeover matrix), breaks
down at random (and stops for a planned cleaning at noon, local time), and runs its cycle times from a lognormal
distribution per station and material. The hall's humidity drifts during the day and crosses 70 %RH part of the
time; each station's temperature drifts on its own.

Four mechanisms are planted, and :attr:`SyntheticData.truth` states them machine-readably:

1. ``defect_rule`` — at S2, an operation whose mean humidity over its window is ≥ 70 %RH is defective with
   probability 25 % instead of 3 % (other stations: 1 %, whatever the humidity);
2. ``costly_changeover`` — the changeover A → B takes 40 minutes more than the matrix says (B → A does not);
3. ``shift`` — from a known time on, cycle times at S3 are 1.3 × longer (both lines);
4. ``scrap_rule`` — at S1, an operation run at a speed ≥ 110 m/min scraps 3 × more material (kg).

The same facts come in two shapes:

- ``canonical`` — the tables as fusion should produce them (:mod:`leanlearn.data.schema`): ``operations``,
  ``downtime``, ``demand``, ``signals``, ``moves``; times UTC, one material code;
- ``raw`` — the same facts as separate systems hold them, deliberately heterogeneous: MES exports of L1 (German
  columns, ``;`` and decimal commas, local Berlin time ``%d.%m.%Y %H:%M:%S`` across a daylight-saving change,
  material codes ``MAT-001``…) and of L2 (English columns, epoch milliseconds, codes ``A1``…), an ERP demand export
  (weekly periods as local dates, ERP article numbers ``P100245``…), a WMS moves log (JSON Lines, ISO 8601 with
  offsets), PLC signals (Parquet, one row per second per station per signal, tags like ``L1.S2.RH``) and the
  material map relating all codes. :meth:`SyntheticData.write` writes them as files for a fusion pipeline.

Operation parameters ``humidity_mean`` and ``temperature_mean`` are the means of the signal samples whose time
lies in the operation's window ``[start, end)`` (the sample at or before ``start`` when the window holds none), so
fusion can recompute them from the signals exactly.

Examples
--------
>>> data = make_line(seed=0, days=0.25)
>>> sorted(data.canonical)
['demand', 'downtime', 'moves', 'operations', 'signals']
>>> data.truth["defect_rule"]
{'station': 'S2', 'feature': 'humidity_mean', 'op': '>=', 'value': 70.0, 'rate_inside': 0.25, 'rate_outside': 0.03, ...}
>>> data.raw["mes_l1"].columns.tolist()
['Linie', 'Arbeitsplatz', 'Seriennummer', 'Auftrag', 'Material', 'Vorgang', 'Beginn', 'Ende', 'Geschwindigkeit', ...]
>>> data.raw["mes_l1"].loc[0, ["Material", "Vorgang", "Beginn"]].tolist()
['MAT-002', 'Fertigung', '31.03.2024 00:00:00']
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leanlearn._util import json_plain
from leanlearn.errors import LeanlearnError

LINES = ("L1", "L2")
SIGNALS = ("humidity", "temperature")
PLC_TAGS = {"humidity": "RH", "temperature": "TEMP"}
L1_TIME_FORMAT = "%d.%m.%Y %H:%M:%S"
BREAKDOWN_REASONS = ("jam", "sensor_fault", "tool_break", "electrical")
BREAKDOWN_SHARES = (0.4, 0.25, 0.2, 0.15)
L1_KINDS = {"production": "Fertigung", "setup": "Ruesten"}
L2_KINDS = {"production": "RUN", "setup": "SETUP"}
ARROW = " → "
MAX_SIGNAL_ROWS = 10_000_000  # signal rows of one simulated plant (a week at the default 1 Hz); about 1.3 GB


class SyntheticLineError(LeanlearnError, ValueError):
    """An inconsistent or oversized simulation setting (also a ``ValueError``, as before)."""


def _positive(value: object) -> bool:
    """A finite number above 0 (not a bool, not text)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < math.inf


@dataclass(frozen=True, slots=True)
class SyntheticLine:
    """Parameters of the synthetic plant (both lines share them; their randomness is independent).

    Parameters
    ----------
    start : str, default="2024-03-30 23:00:00+00:00"
        Start of the period (UTC): midnight in Berlin on 31 March 2024, so the first day holds the change to
        summer time (01:00 UTC). A start in late October gives the autumn change, whose repeated local hour makes
        L1's local timestamps ambiguous.
    days : float, default=1.0
        Length of the period. Signals grow by ``2 lines × stations × 2 signals × 86,400 × signal_hz`` rows a day.
    stations : tuple of str
        Stations in series, in flow order.
    cycle_s : tuple of float
        Median cycle time (seconds) per station, for a material with factor 1.
    cycle_sigma : float, default=0.12
        Sigma of the log of cycle times.
    materials, material_factor, material_mix : tuples
        Canonical material codes, their cycle-time factors and their shares of orders and demand.
    takt_s : float, default=50.0
        Design takt (seconds); the ERP demand is set from it, and units are released at the takt derived back from
        that demand (``truth["takt_s"]``).
    order_qty : (int, int), default=(40, 100)
        Order sizes (units), uniform, inclusive.
    setup_min : float, default=8.0
        Median setup time; the pair ``i → j`` takes ``setup_min × (1 + 0.1 |i - j|)`` (material index distance).
    setup_sigma : float, default=0.25
        Sigma of the log of setup times.
    costly_changeover : (str, str), default=("A", "B")
        The planted costly pair; its setups take ``costly_extra_min`` minutes more.
    costly_extra_min : float, default=40.0
    humidity_base, humidity_amplitude, humidity_peak_utc : float
        Daily humidity cycle of the hall: ``base + amplitude × cos(2π (hour_utc - peak) / 24)``, plus a slow random
        drift (``humidity_drift`` %RH, one-hour memory), a station offset and sensor noise.
    humidity_drift : float, default=1.5
    defect_station : str, default="S2"
    humidity_threshold : float, default=70.0
    defect_rate_inside, defect_rate_outside : float, default=0.25, 0.03
        Defect probability at ``defect_station`` with the window's mean humidity at or above the threshold, and
        below it.
    base_defect_rate : float, default=0.01
        Defect probability at every other station.
    shift_station : str, default="S3"
    shift_at : float or str, default=0.5
        When cycle times at ``shift_station`` start to run ``shift_factor`` × longer: a share of the period, or a
        timestamp (UTC unless it says otherwise). Operations *starting* at or after it are affected.
    shift_factor : float, default=1.3
    shift_lines : tuple of str, default=("L1", "L2")
    speed_mpm : (float, float), default=(90.0, 120.0)
        Range of the speed (m/min) an operation runs at: uniform, independent of everything else.
    scrap_station : str, default="S1"
    scrap_speed : float, default=110.0
    scrap_factor : float, default=3.0
        Scrap (kg) at ``scrap_station`` is ``scrap_factor`` × higher at a speed at or above ``scrap_speed``.
    scrap_kg : float, default=0.05
        Mean scrap per operation otherwise (gamma distributed).
    mtbf_h : float, default=4.0
        Mean calendar time between breakdowns of a station (hours).
    repair_min : float, default=8.0
        Median repair time (lognormal, sigma 0.6).
    cleaning_local : float or None, default=12.0
        Local hour of a daily planned cleaning stop of every station (``None``: no planned stops).
    cleaning_min : float, default=20.0
    signal_hz : float, default=1.0
        PLC sampling rate of humidity and temperature.
    timezone : str, default="Europe/Berlin"
        Plant time zone (L1's MES, ERP dates, WMS offsets, the cleaning hour).
    """

    start: str = "2024-03-30 23:00:00+00:00"
    days: float = 1.0
    stations: tuple[str, ...] = ("S1", "S2", "S3", "S4")
    cycle_s: tuple[float, ...] = (22.0, 25.0, 23.0, 20.0)
    cycle_sigma: float = 0.12
    materials: tuple[str, ...] = ("A", "B", "C", "D")
    material_factor: tuple[float, ...] = (1.0, 1.1, 0.9, 1.05)
    material_mix: tuple[float, ...] = (0.35, 0.35, 0.15, 0.15)
    takt_s: float = 50.0
    order_qty: tuple[int, int] = (40, 100)
    setup_min: float = 8.0
    setup_sigma: float = 0.25
    costly_changeover: tuple[str, str] = ("A", "B")
    costly_extra_min: float = 40.0
    humidity_base: float = 65.0
    humidity_amplitude: float = 8.0
    humidity_peak_utc: float = 4.0
    humidity_drift: float = 1.5
    defect_station: str = "S2"
    humidity_threshold: float = 70.0
    defect_rate_inside: float = 0.25
    defect_rate_outside: float = 0.03
    base_defect_rate: float = 0.01
    shift_station: str = "S3"
    shift_at: float | str = 0.5
    shift_factor: float = 1.3
    shift_lines: tuple[str, ...] = LINES
    speed_mpm: tuple[float, float] = (90.0, 120.0)
    scrap_station: str = "S1"
    scrap_speed: float = 110.0
    scrap_factor: float = 3.0
    scrap_kg: float = 0.05
    mtbf_h: float = 4.0
    repair_min: float = 8.0
    cleaning_local: float | None = 12.0
    cleaning_min: float = 20.0
    signal_hz: float = 1.0
    timezone: str = "Europe/Berlin"

    def check(self) -> SyntheticLine:
        """Raise ``ValueError`` naming the first inconsistent parameter; return ``self``."""
        problems = []
        if not _positive(self.days):
            problems.append(f"days must be a positive number, got {self.days!r}")
        if len(self.cycle_s) != len(self.stations):
            problems.append(f"cycle_s needs one value per station ({len(self.stations)}), got {len(self.cycle_s)}")
        if not len(self.materials) == len(self.material_factor) == len(self.material_mix):
            problems.append("materials, material_factor and material_mix must have the same length")
        if abs(sum(self.material_mix) - 1.0) > 1e-9:
            problems.append(f"material_mix must sum to 1, got {sum(self.material_mix)}")
        for name in ("defect_station", "shift_station", "scrap_station"):
            if getattr(self, name) not in self.stations:
                problems.append(f"{name} {getattr(self, name)!r} is not one of the stations {self.stations}")
        if not set(self.costly_changeover) <= set(self.materials) or len(set(self.costly_changeover)) != 2:
            problems.append(f"costly_changeover {self.costly_changeover!r} must be two of {self.materials}")
        if not set(self.shift_lines) <= set(LINES):
            problems.append(f"shift_lines must be among {LINES}, got {self.shift_lines!r}")
        if not all(_positive(value) for value in (self.signal_hz, self.takt_s, self.mtbf_h)):
            problems.append("signal_hz, takt_s and mtbf_h must be positive numbers")
        elif _positive(self.days):
            rows = self.days * 86400 * self.signal_hz * len(LINES) * len(self.stations) * len(SIGNALS)
            if rows > MAX_SIGNAL_ROWS:
                problems.append(f"days={self.days:g} at signal_hz={self.signal_hz:g} would make {rows:,.0f} signal "
                                f"rows, more than {MAX_SIGNAL_ROWS:,} (about 120 bytes each in memory); lower "
                                "signal_hz or days")
        if not 1 <= self.order_qty[0] <= self.order_qty[1]:
            problems.append(f"order_qty must be (low, high) with 1 <= low <= high, got {self.order_qty!r}")
        if problems:
            raise SyntheticLineError("SyntheticLine: " + "; ".join(problems))
        return self


@dataclass(frozen=True)
class SyntheticData:
    """What :func:`make_line` returns: canonical tables, raw sources, and the planted truth.

    Attributes
    ----------
    canonical : dict of str to DataFrame
        ``operations, downtime, demand, signals, moves`` as fusion should produce them (UTC, canonical materials).
    raw : dict of str to DataFrame
        ``mes_l1, mes_l2, erp_demand, wms_moves, plc_signals, material_map`` as the source systems hold them:
        timestamps as the systems write them (text or epoch milliseconds); numbers as numbers (their decimal
        separator is chosen on :meth:`write`).
    truth : dict
        The planted mechanisms and the facts needed to check them (see :func:`make_line`).
    config : SyntheticLine
    seed : int
    """

    canonical: dict[str, pd.DataFrame]
    raw: dict[str, pd.DataFrame]
    truth: dict[str, Any]
    config: SyntheticLine = field(default_factory=SyntheticLine)
    seed: int = 0

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Write the raw sources (and ``truth.json``) into ``folder``; return ``{name: path}``.

        ====================  ========================================================================================
        ``mes_l1.csv``        ``;``-separated, decimal commas, UTF-8 with byte-order mark, local time
                              ``%d.%m.%Y %H:%M:%S`` (Europe/Berlin)
        ``mes_l2.csv``        ``,``-separated, epoch milliseconds (UTC)
        ``erp_demand.csv``    ``,``-separated, weekly periods as local dates ``%Y-%m-%d`` (end exclusive)
        ``wms_moves.jsonl``   one JSON object per move, ISO 8601 times with offset
        ``plc_signals.parquet``  ``tag, ts (timestamp[ms, UTC]), value, quality``
        ``material_map.csv``  canonical code and the code of every system
        ``truth.json``        the planted truth (times as ISO 8601)
        ====================  ========================================================================================

        Examples
        --------
        >>> paths = make_line(days=0.05).write(getfixture("tmp_path"))
        >>> sorted(p.name for p in paths.values())
        ['erp_demand.csv', 'material_map.csv', 'mes_l1.csv', 'mes_l2.csv', 'plc_signals.parquet', 'truth.json', ...]
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {
            "mes_l1": folder / "mes_l1.csv",
            "mes_l2": folder / "mes_l2.csv",
            "erp_demand": folder / "erp_demand.csv",
            "wms_moves": folder / "wms_moves.jsonl",
            "plc_signals": folder / "plc_signals.parquet",
            "material_map": folder / "material_map.csv",
            "truth": folder / "truth.json",
        }
        self.raw["mes_l1"].to_csv(paths["mes_l1"], sep=";", decimal=",", index=False, encoding="utf-8-sig")
        self.raw["mes_l2"].to_csv(paths["mes_l2"], index=False)
        self.raw["erp_demand"].to_csv(paths["erp_demand"], index=False)
        self.raw["wms_moves"].to_json(paths["wms_moves"], orient="records", lines=True, force_ascii=False)
        self.raw["plc_signals"].to_parquet(paths["plc_signals"], index=False)
        self.raw["material_map"].to_csv(paths["material_map"], index=False)
        paths["truth"].write_text(json.dumps(_jsonable(self.truth), indent=2, ensure_ascii=False) + "\n",
                                  encoding="utf-8")
        return paths


def material_codes(materials: tuple[str, ...]) -> pd.DataFrame:
    """The material map: canonical code, description, and the codes of L1's MES, L2's MES and the ERP / WMS.

    >>> material_codes(("A", "B")).to_dict("records")[1]
    {'material': 'B', 'description': 'Part B', 'mes_l1': 'MAT-002', 'mes_l2': 'B1', 'erp': 'P100246'}
    """
    return pd.DataFrame({
        "material": list(materials),
        "description": [f"Part {m}" for m in materials],
        "mes_l1": [f"MAT-{i + 1:03d}" for i in range(len(materials))],
        "mes_l2": [f"{m}1" for m in materials],
        "erp": [f"P{100245 + i}" for i in range(len(materials))],
    })


def make_line(
    seed: int = 0, days: float | None = None, config: SyntheticLine | None = None, **overrides: Any
) -> SyntheticData:
    """Simulate the two-line plant and return its canonical tables, raw sources and planted truth.

    Parameters
    ----------
    seed : int, default=0
        Same seed and parameters, same frames (bit for bit).
    days : float, optional
        Length of the period (default: ``config.days``, 1 day: about 1.4 million signal rows, 2 × 1,700 units).
    config : SyntheticLine, optional
        All parameters; defaults to ``SyntheticLine()``.
    **overrides
        Fields of :class:`SyntheticLine` to change, e.g. ``signal_hz=0.2`` or ``shift_at="2024-03-31 06:00Z"``.

    Returns
    -------
    SyntheticData
        ``truth`` holds ``defect_rule``, ``costly_changeover``, ``changeover_min`` (median setup minutes per
        pair), ``shift`` (``station``, ``lines``, ``at`` as a UTC Timestamp, ``factor``), ``scrap_rule``,
        ``takt_s`` (demand-derived), ``cycle_s`` (median per station and material, before the shift), ``period``,
        ``dst_changes``, ``material_map`` and ``signal_hz``.

    Examples
    --------
    >>> data = make_line(seed=1, days=0.5, signal_hz=0.1)
    >>> ops = data.canonical["operations"]
    >>> ops.columns.tolist()
    ['line', 'station', 'unit_id', 'order_id', 'material', 'kind', 'start', 'end', 'speed', 'humidity_mean', ...]
    >>> str(ops["start"].dtype), data.truth["takt_s"]
    ('datetime64[us, UTC]', 50.0...)
    >>> data.truth["shift"]["station"], data.truth["shift"]["factor"], str(data.truth["shift"]["at"])
    ('S3', 1.3, '2024-03-31 05:00:00+00:00')
    """
    cfg = config or SyntheticLine()
    if days is not None:
        overrides["days"] = days
    unknown = sorted(set(overrides) - {f.name for f in fields(SyntheticLine)})
    if unknown:
        raise SyntheticLineError(f"make_line: unknown parameter(s) {', '.join(unknown)}; see SyntheticLine for the "
                                 "fields")
    cfg = replace(cfg, **overrides).check()
    return _Plant(cfg, int(seed)).build()


# -- the simulation --------------------------------------------------------------------------------------------------
_US = 1_000_000


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


def _utc_offset_s(moment: pd.Timestamp) -> float:
    """Seconds by which the local time of a zone-aware ``moment`` is ahead of UTC."""
    offset = moment.utcoffset()
    if offset is None:  # only a naive timestamp has none, and every moment here carries its zone
        raise ValueError(f"{moment} has no time zone")
    return offset.total_seconds()


def _ou(rng: np.random.Generator, n: int, series: int, sigma: float, tau: float) -> np.ndarray:
    """``series`` Ornstein–Uhlenbeck paths of ``n`` steps (stationary sigma ``sigma``, memory ``tau`` steps)."""
    phi = math.exp(-1.0 / tau)
    eps = rng.standard_normal((n, series)) * sigma * math.sqrt(1 - phi * phi)
    out = np.empty((n, series))
    out[0] = rng.standard_normal(series) * sigma
    for i in range(1, n):
        out[i] = phi * out[i - 1] + eps[i]
    return out


class _Plant:
    def __init__(self, cfg: SyntheticLine, seed: int) -> None:
        self.cfg = cfg
        self.seed = seed
        self.tz = cfg.timezone
        t0 = pd.Timestamp(cfg.start)
        self.t0 = (t0.tz_localize("UTC") if t0.tz is None else t0.tz_convert("UTC")).as_unit("us").floor("s")
        self.period_s = int(round(cfg.days * 86400))
        self.t_end = self.t0 + pd.Timedelta(seconds=self.period_s)
        if isinstance(cfg.shift_at, str):
            at = pd.Timestamp(cfg.shift_at)
            at = at.tz_localize("UTC") if at.tz is None else at.tz_convert("UTC")
            self.shift_s = int((at - self.t0).total_seconds())
        else:
            self.shift_s = int(round(float(cfg.shift_at) * self.period_s))
        self.n_samples = int(math.floor(self.period_s * cfg.signal_hz - 1e-9)) + 1
        self.codes = material_codes(cfg.materials)

    def ts(self, seconds: np.ndarray) -> pd.DatetimeIndex:
        us = np.round(np.asarray(seconds, dtype=float) * _US).astype(np.int64) + self.t0.value // 1000
        return pd.DatetimeIndex(us.astype("datetime64[us]")).tz_localize("UTC")

    # -- demand and takt ------------------------------------------------------------------------------------------
    def demand(self) -> tuple[pd.DataFrame, float]:
        cfg = self.cfg
        local0 = self.t0.tz_convert(self.tz)
        monday = (local0 - pd.Timedelta(days=local0.weekday())).normalize()
        rows = []
        rng = _rng(self.seed, 9)
        week = monday
        while week.tz_convert("UTC") < self.t_end:
            nxt = (week.tz_localize(None) + pd.Timedelta(days=7)).tz_localize(self.tz)
            seconds = (nxt - week).total_seconds()
            total = int(round(seconds / cfg.takt_s))
            for line in LINES:
                split = rng.multinomial(total, cfg.material_mix)
                for m, q in zip(cfg.materials, split):
                    rows.append((line, m, week, nxt, int(q), seconds))
            week = nxt
        frame = pd.DataFrame(rows, columns=["line", "material", "period_start", "period_end", "qty", "seconds"])
        one = frame[frame["line"] == LINES[0]]
        takt = float(one.groupby("period_start")["seconds"].first().sum() / one["qty"].sum())
        for col in ("period_start", "period_end"):
            frame[col] = pd.DatetimeIndex(frame[col]).tz_convert("UTC").as_unit("us")
        return frame.drop(columns="seconds"), takt

    # -- signals --------------------------------------------------------------------------------------------------
    def signals(self, li: int) -> dict[str, np.ndarray]:
        """Per signal, an int array (tenths) of shape (stations, samples)."""
        cfg = self.cfg
        rng = _rng(self.seed, li, 1)
        n_st = len(cfg.stations)
        t = np.arange(self.n_samples) / cfg.signal_hz
        hour_utc = (self.t0.hour + self.t0.minute / 60 + t / 3600.0) % 24
        minutes = np.arange(int(self.period_s // 60) + 2)
        hall = _ou(rng, minutes.size, 1, cfg.humidity_drift, 60.0)[:, 0]
        humidity = (cfg.humidity_base + cfg.humidity_amplitude * np.cos(2 * np.pi * (hour_utc - cfg.humidity_peak_utc)
                                                                        / 24) + np.interp(t / 60, minutes, hall))
        station_rh = rng.normal(0.0, 0.7, n_st)
        temp_base = 22.0 + 1.5 * (np.arange(n_st) % 3)
        temp_drift = _ou(rng, minutes.size, n_st, 0.3, 60.0)
        daily_t = 0.8 * np.cos(2 * np.pi * (hour_utc - 10.0) / 24)
        knots = np.arange(int(self.period_s // 30) + 2) * 30.0
        rh = np.empty((n_st, self.n_samples), dtype=np.int64)
        temp = np.empty((n_st, self.n_samples), dtype=np.int64)
        for k in range(n_st):
            values = humidity + station_rh[k] + rng.normal(0.0, 0.3, self.n_samples)
            rh[k] = np.rint(np.clip(values, 5.0, 100.0) * 10)
            heat = np.interp(t, knots, rng.normal(0.0, 0.8, knots.size))  # the machine's own load, ~30 s scale
            values = temp_base[k] + daily_t + np.interp(t / 60, minutes, temp_drift[:, k]) + heat
            temp[k] = np.rint((values + rng.normal(0.0, 0.1, self.n_samples)) * 10)
        return {"humidity": rh, "temperature": temp}

    def window_means(self, tenths: np.ndarray, start_s: np.ndarray, end_s: np.ndarray) -> np.ndarray:
        """Mean of the samples with time in ``[start, end)``; the sample at or before ``start`` if none."""
        hz = self.cfg.signal_hz
        cs = np.concatenate([[0], np.cumsum(tenths)])
        lo = np.ceil(start_s * hz - 1e-9).astype(np.int64)
        hi = np.ceil(end_s * hz - 1e-9).astype(np.int64)
        hi = np.minimum(hi, tenths.size)
        empty = hi <= lo
        at = np.minimum(np.floor(start_s * hz + 1e-9).astype(np.int64), tenths.size - 1)
        total = np.where(empty, tenths[at], cs[hi] - cs[np.minimum(lo, hi)])
        count = np.where(empty, 1, hi - lo)
        return total / (count * 10.0)

    # -- failures --------------------------------------------------------------------------------------------------
    def failures(self, rng: np.random.Generator) -> list[tuple[int, int, str, bool]]:
        """Failure instants of one station: (second, duration s, reason, planned), sorted."""
        cfg = self.cfg
        out: list[tuple[int, int, str, bool]] = []
        t = 0.0
        while True:
            t += rng.exponential(cfg.mtbf_h * 3600)
            if t >= self.period_s:
                break
            dur = max(60, int(round(cfg.repair_min * 60 * math.exp(0.6 * rng.standard_normal()))))
            reason = str(rng.choice(BREAKDOWN_REASONS, p=BREAKDOWN_SHARES))
            out.append((int(t), dur, reason, False))
        if cfg.cleaning_local is not None:
            day = self.t0.tz_convert(self.tz).normalize().tz_localize(None)
            while True:
                at = (day + pd.Timedelta(hours=cfg.cleaning_local)).tz_localize(self.tz, nonexistent="shift_forward",
                                                                                ambiguous=False)
                s = int((at.tz_convert("UTC") - self.t0).total_seconds())
                if s >= self.period_s:
                    break
                if s >= 0:
                    out.append((s, int(round(cfg.cleaning_min * 60)), "cleaning", True))
                day += pd.Timedelta(days=1)
        return sorted(out)

    # -- one line's flow -------------------------------------------------------------------------------------------
    def flow(self, li: int, takt: float) -> dict[str, Any]:
        cfg = self.cfg
        line = LINES[li]
        rng = _rng(self.seed, li, 2)
        n_st, n_mat = len(cfg.stations), len(cfg.materials)
        release = np.round(np.arange(int(math.ceil(self.period_s / takt)) + 1) * takt).astype(np.int64)
        release = release[release < self.period_s]
        n_units = release.size
        order_mat: list[int] = []
        order_qty: list[int] = []
        while sum(order_qty) < n_units:
            order_mat.append(int(rng.choice(n_mat, p=cfg.material_mix)))
            order_qty.append(int(rng.integers(cfg.order_qty[0], cfg.order_qty[1] + 1)))
        unit_order = np.repeat(np.arange(len(order_qty)), order_qty)[:n_units]
        first_unit = np.r_[True, unit_order[1:] != unit_order[:-1]]
        mat_factor = np.asarray(cfg.material_factor)
        costly = (cfg.materials.index(cfg.costly_changeover[0]), cfg.materials.index(cfg.costly_changeover[1]))
        shift_k = cfg.stations.index(cfg.shift_station) if line in cfg.shift_lines else -1

        ops: list[tuple[int, int, int, int, int, int]] = []  # station, unit (-1: setup), order, kind, start, end
        down: list[tuple[int, int, int, str, bool]] = []  # station, start, end, reason, planned
        arrival = release.copy()
        unit_start = np.zeros((n_st, n_units), dtype=np.int64)
        for k in range(n_st):
            fails = self.failures(_rng(self.seed, li, 3, k))
            z_cycle = rng.standard_normal(n_units)
            z_setup = rng.standard_normal(len(order_qty))
            ends = np.empty(n_units, dtype=np.int64)
            free, fi, state = 0, 0, order_mat[0]
            median = cfg.cycle_s[k] * mat_factor

            def clear(s: int, free: int, fi: int, k: int = k, fails: list = fails) -> tuple[int, int, int]:
                while fi < len(fails) and fails[fi][0] <= s:
                    at, dur, reason, planned = fails[fi]
                    ds = max(at, free)
                    down.append((k, ds, ds + dur, reason, planned))
                    free = ds + dur
                    s = max(s, free)
                    fi += 1
                return s, free, fi

            for u in range(n_units):
                o = int(unit_order[u])
                m = order_mat[o]
                if first_unit[u] and m != state:
                    s, free, fi = clear(max(free, int(arrival[u])), free, fi)
                    minutes = cfg.setup_min * (1 + 0.1 * abs(state - m)) * math.exp(cfg.setup_sigma * z_setup[o])
                    if (state, m) == costly:
                        minutes += cfg.costly_extra_min
                    d = max(1, int(round(minutes * 60)))
                    ops.append((k, -1, o, 1, s, s + d))
                    free, state = s + d, m
                s, free, fi = clear(max(free, int(arrival[u])), free, fi)
                c = median[m] * math.exp(cfg.cycle_sigma * z_cycle[u])
                if k == shift_k and s >= self.shift_s:
                    c *= cfg.shift_factor
                c = max(1, int(round(c)))
                ops.append((k, u, o, 0, s, s + c))
                unit_start[k, u] = s
                ends[u] = s + c
                free = s + c
            clear(self.period_s - 1, free, fi)
            arrival = ends
        return {
            "line": line, "ops": np.array(ops, dtype=np.int64).reshape(-1, 6), "down": down,
            "release": release, "unit_order": unit_order, "order_mat": np.array(order_mat),
            "order_qty": np.array(order_qty), "rng": rng,
        }

    # -- assembling ------------------------------------------------------------------------------------------------
    def build(self) -> SyntheticData:
        cfg = self.cfg
        demand, takt = self.demand()
        order_prefix = {"L1": "FA24", "L2": "WO-"}
        op_frames, down_frames, move_rows, sig = [], [], [], {}
        for li, line in enumerate(LINES):
            flow = self.flow(li, takt)
            sig[line] = self.signals(li)
            rng = flow["rng"]
            ops = flow["ops"]
            ops = ops[ops[:, 5] <= self.period_s]
            ops = ops[np.lexsort((ops[:, 4], ops[:, 0]))]
            st, unit, order, kind, s, e = ops.T
            setup = kind == 1
            mats = flow["order_mat"][order]
            hum = np.empty(len(ops))
            tmp = np.empty(len(ops))
            for k in range(len(cfg.stations)):
                sel = st == k
                hum[sel] = self.window_means(sig[line]["humidity"][k], s[sel].astype(float), e[sel].astype(float))
                tmp[sel] = self.window_means(sig[line]["temperature"][k], s[sel].astype(float), e[sel].astype(float))
            speed = np.round(rng.uniform(cfg.speed_mpm[0], cfg.speed_mpm[1], len(ops)), 1)
            speed[setup] = np.nan
            k_def = cfg.stations.index(cfg.defect_station)
            p = np.where(st == k_def, np.where(hum >= cfg.humidity_threshold, cfg.defect_rate_inside,
                                               cfg.defect_rate_outside), cfg.base_defect_rate)
            defect = (rng.random(len(ops)) < p) & ~setup
            scrap = rng.gamma(2.0, cfg.scrap_kg / 2.0, len(ops))
            boost = (st == cfg.stations.index(cfg.scrap_station)) & (speed >= cfg.scrap_speed)
            scrap = np.round(np.where(boost, scrap * cfg.scrap_factor, scrap), 3)
            scrap[setup] = 0.0
            if line == "L1":
                order_ids = np.array([f"{order_prefix[line]}{o + 1:04d}" for o in range(len(flow["order_qty"]))])
                unit_ids = np.array([f"{order_ids[flow['unit_order'][u]]}-{u + 1:05d}"
                                     for u in range(len(flow["release"]))])
            else:
                order_ids = np.array([f"{order_prefix[line]}{o + 1:04d}" for o in range(len(flow["order_qty"]))])
                unit_ids = np.array([f"SN2{u + 1:06d}" for u in range(len(flow["release"]))])
            unit_of_row = unit_ids[np.maximum(unit, 0)].astype(object)
            unit_of_row[setup] = None  # setup reports belong to no unit
            frame = pd.DataFrame({
                "line": line,
                "station": np.asarray(cfg.stations)[st],
                "unit_id": pd.array(unit_of_row, dtype="str"),
                "order_id": order_ids[order],
                "material": np.asarray(cfg.materials)[mats],
                "kind": np.where(setup, "setup", "production"),
                "start": self.ts(s),
                "end": self.ts(e),
                "speed": speed,
                "humidity_mean": hum,
                "temperature_mean": tmp,
                "defect": defect,
                "scrap_qty": scrap,
            })
            op_frames.append(frame)
            down = pd.DataFrame(flow["down"], columns=["k", "s", "e", "reason", "planned"]).astype(
                {"k": "int64", "s": "int64", "e": "int64", "reason": "str", "planned": "bool"})
            down = down[down["e"] <= self.period_s].sort_values(["k", "s"], kind="stable")
            down_frames.append(pd.DataFrame({
                "line": line, "station": np.asarray(cfg.stations)[down["k"].to_numpy()],
                "start": self.ts(down["s"].to_numpy()), "end": self.ts(down["e"].to_numpy()),
                "reason": down["reason"].to_numpy(), "planned": down["planned"].to_numpy(dtype=bool),
            }))
            move_rows.extend(self.moves(line, flow, ops, rng))
        operations = pd.concat(op_frames, ignore_index=True)
        downtime = pd.concat(down_frames, ignore_index=True)
        for col in ("line", "station", "order_id", "material", "kind", "reason"):
            for frame in (operations, downtime):
                if col in frame:
                    frame[col] = frame[col].astype("str")
        moves = pd.DataFrame(move_rows, columns=["line", "material", "qty", "from_location", "to_location", "s", "e"])
        moves = moves.sort_values(["s", "line"], kind="stable").reset_index(drop=True)
        moves = moves.assign(start=self.ts(moves["s"].to_numpy()), end=self.ts(moves["e"].to_numpy()))
        moves = moves.drop(columns=["s", "e"]).astype({"qty": "int64"})
        signals, plc = self.signal_frames(sig)
        canonical = {
            "operations": operations, "downtime": downtime, "demand": demand, "signals": signals, "moves": moves,
        }
        raw = self.raw_frames(canonical, plc)
        return SyntheticData(canonical=canonical, raw=raw, truth=self.truth(canonical, takt), config=cfg,
                             seed=self.seed)

    def moves(self, line: str, flow: dict[str, Any], ops: np.ndarray, rng: np.random.Generator) -> list[tuple]:
        """Supply of each order's material to S1 before its first unit; finished goods from the last station."""
        cfg = self.cfg
        rows = []
        release, unit_order = flow["release"], flow["unit_order"]
        last_k = len(cfg.stations) - 1
        done = ops[(ops[:, 0] == last_k) & (ops[:, 3] == 0)]
        for o, (m, qty) in enumerate(zip(flow["order_mat"], flow["order_qty"])):
            units = np.flatnonzero(unit_order == o)
            material = cfg.materials[int(m)]
            lead, took = rng.uniform(15, 45) * 60, rng.uniform(4, 12) * 60
            start = int(release[units[0]] - lead)
            if start >= 0:
                rows.append((line, material, int(qty), "WH-RM", f"{line}-{cfg.stations[0]}-IN", start,
                             int(start + took)))
            finished = done[done[:, 2] == o]
            wait, took = rng.uniform(2, 10) * 60, rng.uniform(3, 8) * 60
            if len(units) == qty and len(finished) == qty:
                start = int(finished[:, 5].max() + wait)
                end = int(start + took)
                if end <= self.period_s:
                    rows.append((line, material, int(qty), f"{line}-{cfg.stations[-1]}-OUT", "WH-FG", start, end))
        return rows

    def signal_frames(self, sig: dict[str, dict[str, np.ndarray]]) -> tuple[pd.DataFrame, pd.DataFrame]:
        cfg = self.cfg
        n = self.n_samples
        blocks = [(line, station, name) for line in LINES for station in cfg.stations for name in SIGNALS]
        values = np.concatenate([sig[line][name][cfg.stations.index(station)] for line, station, name in blocks])
        values = values / 10.0
        block = np.repeat(np.arange(len(blocks)), n)
        grid = self.ts(np.arange(n) / cfg.signal_hz)
        ts = pd.DatetimeIndex(np.tile(grid.asi8, len(blocks)).astype("datetime64[us]")).tz_localize("UTC")

        def column(labels: list[str]) -> pd.Series:
            return pd.Series(np.asarray(labels, dtype=object)[block], dtype="str")

        signals = pd.DataFrame({
            "line": column([b[0] for b in blocks]),
            "station": column([b[1] for b in blocks]),
            "ts": ts,
            "name": column([b[2] for b in blocks]),
            "value": values,
        })
        tags = [f"{line}.{station}.{PLC_TAGS[name]}" for line, station, name in blocks]
        plc = pd.DataFrame({
            "tag": pd.Categorical.from_codes(block, categories=pd.Index(tags)),
            "ts": ts.as_unit("ms"),
            "value": values,
            "quality": np.full(values.size, 192, dtype=np.int16),
        })
        return signals, plc

    def raw_frames(self, canonical: dict[str, pd.DataFrame], plc: pd.DataFrame) -> dict[str, pd.DataFrame]:
        codes = self.codes.set_index("material")
        ops, down = canonical["operations"], canonical["downtime"]
        raw: dict[str, pd.DataFrame] = {}
        # MES L1: German export, local time as text, one file for production, setups and stops
        o1, d1 = ops[ops["line"] == "L1"], down[down["line"] == "L1"]
        local = self.tz

        def l1_time(values: pd.Series) -> pd.Series:
            return values.dt.tz_convert(local).dt.strftime(L1_TIME_FORMAT)

        mes1 = pd.concat([
            pd.DataFrame({
                "Linie": o1["line"], "Arbeitsplatz": o1["station"], "Seriennummer": o1["unit_id"],
                "Auftrag": o1["order_id"], "Material": o1["material"].map(codes["mes_l1"]),
                "Vorgang": o1["kind"].map(L1_KINDS), "_t": o1["start"], "Beginn": l1_time(o1["start"]),
                "Ende": l1_time(o1["end"]), "Geschwindigkeit": o1["speed"],
                "Fehler": np.where(o1["defect"], "ja", "nein"), "Ausschuss": o1["scrap_qty"], "Grund": None,
            }),
            pd.DataFrame({
                "Linie": d1["line"], "Arbeitsplatz": d1["station"], "Seriennummer": None, "Auftrag": None,
                "Material": None, "Vorgang": np.where(d1["planned"], "Wartung", "Stoerung"), "_t": d1["start"],
                "Beginn": l1_time(d1["start"]), "Ende": l1_time(d1["end"]), "Geschwindigkeit": np.nan,
                "Fehler": None, "Ausschuss": np.nan, "Grund": d1["reason"],
            }),
        ])
        raw["mes_l1"] = self._export_order(mes1, "Arbeitsplatz")
        # MES L2: English export, epoch milliseconds
        o2, d2 = ops[ops["line"] == "L2"], down[down["line"] == "L2"]

        def ms(values: pd.Series) -> np.ndarray:
            return values.dt.as_unit("ms").array.asi8

        mes2 = pd.concat([
            pd.DataFrame({
                "line": o2["line"], "station": o2["station"], "serial": o2["unit_id"], "work_order": o2["order_id"],
                "item": o2["material"].map(codes["mes_l2"]), "event": o2["kind"].map(L2_KINDS), "_t": o2["start"],
                "start_ms": ms(o2["start"]), "end_ms": ms(o2["end"]), "speed_mpm": o2["speed"],
                "defect": pd.array(o2["defect"].to_numpy(dtype=int), dtype="Int8"), "scrap_kg": o2["scrap_qty"],
                "reason_code": None, "planned": pd.array([pd.NA] * len(o2), dtype="Int8"),
            }),
            pd.DataFrame({
                "line": d2["line"], "station": d2["station"], "serial": None, "work_order": None, "item": None,
                "event": "DOWN", "_t": d2["start"], "start_ms": ms(d2["start"]), "end_ms": ms(d2["end"]),
                "speed_mpm": np.nan, "defect": pd.array([pd.NA] * len(d2), dtype="Int8"), "scrap_kg": np.nan,
                "reason_code": d2["reason"], "planned": pd.array(d2["planned"].to_numpy(dtype=int), dtype="Int8"),
            }),
        ])
        raw["mes_l2"] = self._export_order(mes2, "station")
        # ERP: weekly demand, local dates, its own article numbers
        dem = canonical["demand"]
        start_local = dem["period_start"].dt.tz_convert(local)
        raw["erp_demand"] = pd.DataFrame({
            "plant": "DE01", "line": dem["line"], "material": dem["material"].map(codes["erp"]),
            "week": start_local.dt.strftime("%G-W%V"), "period_start": start_local.dt.strftime("%Y-%m-%d"),
            "period_end": dem["period_end"].dt.tz_convert(local).dt.strftime("%Y-%m-%d"), "qty": dem["qty"],
            "unit": "PC",
        })
        # WMS: one record per move, ISO 8601 with the local offset, ERP article numbers
        mv = canonical["moves"]

        def iso(values: pd.Series) -> list[str]:
            return [t.isoformat() for t in values.dt.tz_convert(local).dt.as_unit("s")]

        raw["wms_moves"] = pd.DataFrame({
            "id": [f"MV{i + 1:06d}" for i in range(len(mv))], "sku": mv["material"].map(codes["erp"]),
            "qty": mv["qty"], "src": mv["from_location"], "dst": mv["to_location"], "line": mv["line"],
            "picked_at": iso(mv["start"]), "delivered_at": iso(mv["end"]),
        })
        raw["plc_signals"] = plc
        raw["material_map"] = self.codes.copy()
        for name in ("mes_l1", "mes_l2", "erp_demand", "wms_moves"):
            frame = raw[name]
            for col in frame.columns:
                if frame[col].dtype == object:
                    frame[col] = frame[col].astype("str")
        return raw

    @staticmethod
    def _export_order(frame: pd.DataFrame, station: str) -> pd.DataFrame:
        return frame.sort_values(["_t", station], kind="stable").drop(columns="_t").reset_index(drop=True)

    # -- truth ------------------------------------------------------------------------------------------------------
    def truth(self, canonical: dict[str, pd.DataFrame], takt: float) -> dict[str, Any]:
        cfg = self.cfg
        pairs = {}
        for i, a in enumerate(cfg.materials):
            for j, b in enumerate(cfg.materials):
                if i != j:
                    extra = cfg.costly_extra_min if (a, b) == cfg.costly_changeover else 0.0
                    pairs[f"{a}{ARROW}{b}"] = round(cfg.setup_min * (1 + 0.1 * abs(i - j)) + extra, 3)
        hours = pd.date_range(self.t0, self.t_end, freq="h")
        offsets = np.array([_utc_offset_s(h.tz_convert(self.tz)) for h in hours])
        changes = [
            {"at": hours[i + 1], "kind": "spring_forward" if offsets[i + 1] > offsets[i] else "fall_back",
             "offset_before_h": float(offsets[i] / 3600), "offset_after_h": float(offsets[i + 1] / 3600)}
            for i in map(int, np.flatnonzero(np.diff(offsets) != 0))
        ]
        costly_from, costly_to = cfg.costly_changeover
        return {
            "period": {"start": self.t0, "end": self.t_end, "timezone": self.tz},
            "lines": list(LINES),
            "stations": list(cfg.stations),
            "materials": list(cfg.materials),
            "takt_s": takt,
            "defect_rule": {
                "station": cfg.defect_station, "feature": "humidity_mean", "op": ">=",
                "value": float(cfg.humidity_threshold), "rate_inside": cfg.defect_rate_inside,
                "rate_outside": cfg.defect_rate_outside, "outcome": "defect",
                "rate_other_stations": cfg.base_defect_rate,
            },
            "costly_changeover": {
                "from": costly_from, "to": costly_to, "extra_setup_min": cfg.costly_extra_min,
                "changeover": f"{costly_from}{ARROW}{costly_to}", "reverse_extra_setup_min": 0.0,
            },
            "changeover_min": pairs,
            "shift": {
                "station": cfg.shift_station, "lines": list(cfg.shift_lines),
                "at": self.t0 + pd.Timedelta(seconds=self.shift_s), "factor": cfg.shift_factor,
                "feature": "cycle_s", "applies_to": "production operations starting at or after 'at'",
            },
            "scrap_rule": {
                "station": cfg.scrap_station, "feature": "speed", "op": ">=", "value": float(cfg.scrap_speed),
                "factor": cfg.scrap_factor, "mean_outside": cfg.scrap_kg, "outcome": "scrap_qty", "unit": "kg",
            },
            "cycle_s": {
                station: {m: round(cfg.cycle_s[k] * cfg.material_factor[i], 3) for i, m in enumerate(cfg.materials)}
                for k, station in enumerate(cfg.stations)
            },
            "window": "humidity_mean / temperature_mean: mean of the signal samples with ts in [start, end)",
            "dst_changes": changes,
            "material_map": {
                row["material"]: {"L1": row["mes_l1"], "L2": row["mes_l2"], "erp": row["erp"]}
                for row in self.codes.to_dict("records")
            },
            "signal_hz": cfg.signal_hz,
            "rows": {name: len(frame) for name, frame in canonical.items()},
        }


def _jsonable(value: Any) -> Any:
    return json_plain(value, keep_nonfinite=True)


__all__ = ["SyntheticData", "SyntheticLine", "make_line", "material_codes"]
