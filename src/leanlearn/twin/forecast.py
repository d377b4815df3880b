"""Demand forecasters for predictive pull, and seeded demand generators for experiments.

A forecaster follows the twin's hook (see :func:`leanlearn.twin.simulation`): ``learn_one(y)`` with the demand
observed in one period, ``forecast(horizon)`` with the demand expected in each of the next ``horizon`` periods.
Predictive kanban asks it at every period end how much the customer will take over the replenishment lead time and
releases production authorisations ahead of consumption; reactive kanban waits for the card to come back.

Forecasters (small River-style objects, no fitting step, state in attributes ending in ``_``):

- :class:`LastValue` — the naive baseline: next period's demand is this period's;
- :class:`MovingAverage` — the mean of the last ``window`` periods;
- :class:`HoltWinters` — River's ``time_series.HoltWinters`` (level, optional trend and seasonality);
- :class:`Snarimax` — River's ``time_series.SNARIMAX`` (seasonal ARIMA with an online regressor);
- :class:`SafetyStock` — wraps any of them so the forecast over the lead time carries ``z · sqrt(F)`` of safety
  stock (predictive pull that covers more than the expected demand).

River is imported only when one of the last two is created, so ``import leanlearn.twin`` stays light. Every
forecast is clipped at 0 (demand is never negative) and, until a River model has seen enough periods to initialise
(``max(2, seasonality)`` for Holt-Winters), the mean of the periods seen so far stands in.

Demand generators (:class:`Demand`): a rate per time unit that is constant (:func:`poisson_demand`), follows a
sinusoid (:func:`seasonal_demand`) or jumps at ``t0`` (:func:`step_demand`); ``times(horizon, seed)`` draws the
arrival times of a non-homogeneous Poisson process (one unit each), ``counts(horizon, period, seed)`` the demand per
period. The same seed gives the same demand: the comparison of two policies on it uses common random numbers.

Examples
--------
>>> f = MovingAverage(window=3)
>>> for y in [4, 6, 8, 10]:
...     f.learn_one(y)
>>> f.forecast(2)
[8.0, 8.0]
>>> step = step_demand(rate=0.5, rate_after=0.8, t0=100.0)
>>> step.rate_at(50.0), step.rate_at(150.0)
(0.5, 0.8)
>>> len(step.times(200.0, seed=1)) == len(step.times(200.0, seed=1))
True
"""

from __future__ import annotations

import copy
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from leanlearn.errors import LeanlearnError

__all__ = [
    "FORECASTERS",
    "Demand",
    "DemandError",
    "Forecaster",
    "HoltWinters",
    "LastValue",
    "MovingAverage",
    "SafetyStock",
    "Snarimax",
    "backtest",
    "make_forecaster",
    "poisson_demand",
    "seasonal_demand",
    "step_demand",
]

#: Most demand arrivals one call of :meth:`Demand.times` draws (a rate × horizon guard against runaway memory).
MAX_DEMAND_EVENTS = 5_000_000


class DemandError(LeanlearnError):
    """A demand generator or forecaster was given a parameter outside its range."""


@runtime_checkable
class Forecaster(Protocol):
    """What the twin's predictive-pull hook calls."""

    def learn_one(self, y: float) -> None: ...

    def forecast(self, horizon: int) -> list[float]: ...


def _positive_int(value: Any, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DemandError(f"{owner}: {name} must be a whole number >= 1, got {value!r}")
    return int(value)


def _unit_interval(value: Any, name: str, owner: str, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
        raise DemandError(f"{owner}: {name} must be a number in (0, 1], got {value!r}")
    return float(value)


def _check_y(y: Any, owner: str) -> float:
    try:
        value = float(y)
    except (TypeError, ValueError):
        raise DemandError(f"{owner}.learn_one: demand must be a number, got {y!r}") from None
    if not math.isfinite(value) or value < 0:
        raise DemandError(f"{owner}.learn_one: demand must be a finite number >= 0, got {y!r}")
    return value


class LastValue:
    """Naive forecast: every future period sees the demand of the last observed one (0 before any).

    Examples
    --------
    >>> f = LastValue()
    >>> f.forecast(2)
    [0.0, 0.0]
    >>> f.learn_one(3)
    >>> f.forecast(3)
    [3.0, 3.0, 3.0]
    """

    def __init__(self) -> None:
        self.last_: float = 0.0
        self.n_: int = 0

    def learn_one(self, y: float) -> None:
        self.last_ = _check_y(y, "LastValue")
        self.n_ += 1

    def forecast(self, horizon: int) -> list[float]:
        return [self.last_] * _positive_int(horizon, "horizon", "LastValue.forecast")

    def __repr__(self) -> str:
        return "LastValue()"


class MovingAverage:
    """Mean demand of the last ``window`` periods, flat over the horizon.

    Parameters
    ----------
    window : int, default=8
        Periods averaged.

    Examples
    --------
    >>> f = MovingAverage(window=2)
    >>> for y in [1, 3, 5]:
    ...     f.learn_one(y)
    >>> f.forecast(1)
    [4.0]
    """

    def __init__(self, window: int = 8) -> None:
        self.window = window
        self.values_: deque[float] = deque(maxlen=_positive_int(window, "window", "MovingAverage"))
        self.sum_: float = 0.0

    def learn_one(self, y: float) -> None:
        value = _check_y(y, "MovingAverage")
        if len(self.values_) == self.values_.maxlen:
            self.sum_ -= self.values_[0]
        self.values_.append(value)
        self.sum_ += value

    def forecast(self, horizon: int) -> list[float]:
        horizon = _positive_int(horizon, "horizon", "MovingAverage.forecast")
        mean = max(0.0, self.sum_ / len(self.values_)) if self.values_ else 0.0
        return [mean] * horizon

    def __repr__(self) -> str:
        return f"MovingAverage(window={self.window})"


class _RiverForecaster:
    """Shared part of the River wrappers: a running mean until the model can forecast, clipping at 0."""

    _min_seen: int = 1

    def __init__(self) -> None:
        self.n_: int = 0
        self.total_: float = 0.0
        self.model_: Any = None

    def learn_one(self, y: float) -> None:
        value = _check_y(y, type(self).__name__)
        self.model_.learn_one(value)
        self.n_ += 1
        self.total_ += value

    def forecast(self, horizon: int) -> list[float]:
        horizon = _positive_int(horizon, "horizon", f"{type(self).__name__}.forecast")
        if self.n_ < self._min_seen:
            mean = self.total_ / self.n_ if self.n_ else 0.0
            return [mean] * horizon
        return [max(0.0, float(v)) if math.isfinite(v) else 0.0 for v in self.model_.forecast(horizon)]


class HoltWinters(_RiverForecaster):
    """Exponential smoothing of demand — River's ``time_series.HoltWinters`` behind the twin's hook.

    Parameters
    ----------
    alpha : float, default=0.3
        Smoothing of the level (higher: follows a step change sooner, and the noise too).
    beta : float or None, default=None
        Smoothing of the trend; ``None``: no trend (simple exponential smoothing when also no season).
    gamma : float or None, default=None
        Smoothing of the seasonal component; needs ``seasonality`` and ``beta`` (a small one, e.g. 0.01, for a
        flat trend).
    seasonality : int, default=0
        Periods in one season (24 for hourly periods with a daily pattern); 0: none.
    multiplicative : bool, default=False
        Multiplicative season (River's option; needs demand > 0 in every period).

    Examples
    --------
    >>> f = HoltWinters(alpha=0.5)
    >>> for y in [2, 2, 4, 4]:
    ...     f.learn_one(y)
    >>> [round(v, 2) for v in f.forecast(2)]
    [3.5, 3.5]
    """

    def __init__(self, alpha: float = 0.3, beta: float | None = None, gamma: float | None = None,
                 seasonality: int = 0, multiplicative: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.beta = beta
        self.gamma = gamma
        self.seasonality = seasonality
        self.multiplicative = multiplicative
        owner = "HoltWinters"
        _unit_interval(alpha, "alpha", owner)
        _unit_interval(beta, "beta", owner, allow_none=True)
        _unit_interval(gamma, "gamma", owner, allow_none=True)
        if isinstance(seasonality, bool) or not isinstance(seasonality, int) or seasonality < 0:
            raise DemandError(f"{owner}: seasonality must be a whole number >= 0, got {seasonality!r}")
        if (gamma is None) != (seasonality == 0):
            raise DemandError(f"{owner}: give gamma and seasonality together (gamma={gamma!r}, "
                              f"seasonality={seasonality!r}); leave both out for no season")
        if gamma is not None and beta is None:
            raise DemandError(f"{owner}: a season (gamma) needs a trend smoothing beta too (River's model has "
                              "both); e.g. beta=0.01")
        from river import time_series  # lazily: River lives in its wing only when used

        self.model_ = time_series.HoltWinters(alpha=alpha, beta=beta, gamma=gamma, seasonality=seasonality,
                                              multiplicative=multiplicative)
        self._min_seen = max(2, seasonality)

    def __repr__(self) -> str:
        return (f"HoltWinters(alpha={self.alpha}, beta={self.beta}, gamma={self.gamma}, "
                f"seasonality={self.seasonality})")


class Snarimax(_RiverForecaster):
    """Seasonal ARIMA learnt online — River's ``time_series.SNARIMAX`` behind the twin's hook.

    The regressor is River's default (a linear regression on standardised lags); demand is centred on the running
    mean before it is learnt, which keeps the online regression stable on counts.

    Parameters
    ----------
    p, d, q : int, default=(2, 0, 0)
        Autoregressive order, differencing order, moving-average order.
    m : int, default=1
        Season length (periods).
    sp, sd, sq : int, default=0
        Seasonal orders.

    Examples
    --------
    >>> f = Snarimax(p=1)
    >>> for y in [5, 5, 5, 5, 5, 5]:
    ...     f.learn_one(y)
    >>> [round(v, 1) for v in f.forecast(2)]
    [5.0, 5.0]
    """

    def __init__(self, p: int = 2, d: int = 0, q: int = 0, m: int = 1, sp: int = 0, sd: int = 0,
                 sq: int = 0) -> None:
        super().__init__()
        self.p, self.d, self.q, self.m, self.sp, self.sd, self.sq = p, d, q, m, sp, sd, sq
        for name in ("p", "d", "q", "sp", "sd", "sq"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DemandError(f"Snarimax: {name} must be a whole number >= 0, got {value!r}")
        _positive_int(m, "m", "Snarimax")
        from river import time_series

        self.model_ = time_series.SNARIMAX(p=p, d=d, q=q, m=m, sp=sp, sd=sd, sq=sq)
        self._min_seen = max(2, p + d, m * (sp + sd))
        self.offset_: float | None = None

    def learn_one(self, y: float) -> None:
        value = _check_y(y, "Snarimax")
        if self.offset_ is None:
            self.offset_ = value
        self.model_.learn_one(value - self.offset_)
        self.n_ += 1
        self.total_ += value

    def forecast(self, horizon: int) -> list[float]:
        horizon = _positive_int(horizon, "horizon", "Snarimax.forecast")
        if self.n_ < self._min_seen or self.offset_ is None:
            mean = self.total_ / self.n_ if self.n_ else 0.0
            return [mean] * horizon
        out = []
        for v in self.model_.forecast(horizon):
            value = float(v) + self.offset_
            out.append(max(0.0, value) if math.isfinite(value) else self.total_ / self.n_)
        return out

    def __repr__(self) -> str:
        return f"Snarimax(p={self.p}, d={self.d}, q={self.q}, m={self.m}, sp={self.sp}, sd={self.sd}, sq={self.sq})"


class SafetyStock:
    """A forecaster whose forecast carries safety stock: the total over the horizon is ``F + z · sqrt(F)``.

    Predictive kanban releases work so that stock and work in progress cover the forecast demand over the
    replenishment lead time; with the plain forecast that covers the *expected* demand only (about half the
    periods see more). For Poisson-like demand the standard deviation of the demand over the lead time is about
    ``sqrt(F)``, so ``z`` is a service factor (z = 1.65: about 95 % of lead times covered). The extra is spread
    evenly over the horizon's periods, so the hook's ``sum(forecast(lead_periods))`` sees the full amount.

    Parameters
    ----------
    forecaster : Forecaster
        The demand forecaster wrapped (learns the same observations).
    z : float, default=1.65
        Safety factor, >= 0.

    Examples
    --------
    >>> f = SafetyStock(LastValue(), z=2.0)
    >>> f.learn_one(4)
    >>> f.forecast(1), sum(f.forecast(4))   # 4 + 2·√4, and 16 + 2·√16
    ([8.0], 24.0)
    """

    def __init__(self, forecaster: Forecaster, z: float = 1.65) -> None:
        if isinstance(z, bool) or not isinstance(z, (int, float)) or not 0 <= z < math.inf:
            raise DemandError(f"SafetyStock: z must be a number >= 0, got {z!r}")
        if not isinstance(forecaster, Forecaster):
            raise DemandError(f"SafetyStock: forecaster needs learn_one(y) and forecast(horizon), got "
                              f"{forecaster!r:.60}")
        self.forecaster = forecaster
        self.z = float(z)

    def learn_one(self, y: float) -> None:
        self.forecaster.learn_one(y)

    def forecast(self, horizon: int) -> list[float]:
        base = self.forecaster.forecast(horizon)
        total = sum(base)
        extra = self.z * math.sqrt(total) / len(base) if total > 0 else 0.0
        return [v + extra for v in base]

    def __repr__(self) -> str:
        return f"SafetyStock({self.forecaster!r}, z={self.z:g})"


#: Name → forecaster class, for :func:`make_forecaster` (and the CLI / YAML).
FORECASTERS: dict[str, type] = {
    "last": LastValue,
    "moving_average": MovingAverage,
    "holt_winters": HoltWinters,
    "snarimax": Snarimax,
}


def make_forecaster(name: str, **params: Any) -> Forecaster:
    """A fresh forecaster by name: ``last``, ``moving_average``, ``holt_winters`` or ``snarimax``.

    Examples
    --------
    >>> make_forecaster("moving_average", window=4)
    MovingAverage(window=4)
    >>> make_forecaster("arima")
    Traceback (most recent call last):
    ...
    leanlearn.twin.forecast.DemandError: unknown forecaster 'arima'; use one of last, moving_average, holt_winters, ...
    """
    cls = FORECASTERS.get(name)
    if cls is None:
        raise DemandError(f"unknown forecaster {name!r:.60}; use one of {', '.join(FORECASTERS)}")
    try:
        made: Forecaster = cls(**params)
    except TypeError as exc:
        raise DemandError(f"forecaster {name!r}: {exc}") from None
    return made


def backtest(forecaster: Forecaster, series: Sequence[float], horizon: int = 1) -> float:
    """Mean absolute error of the ``horizon``-step-ahead forecast, learning the series one period at a time.

    The forecaster is copied first: the one passed in is left untouched.

    Examples
    --------
    >>> backtest(LastValue(), [1, 2, 3, 4, 5])
    1.0
    """
    horizon = _positive_int(horizon, "horizon", "backtest")
    model = copy.deepcopy(forecaster)
    values = [float(v) for v in series]
    errors = []
    pending: deque[tuple[int, float]] = deque()
    for t, y in enumerate(values):
        while pending and pending[0][0] == t:
            errors.append(abs(pending.popleft()[1] - y))
        model.learn_one(y)
        pending.append((t + horizon, model.forecast(horizon)[-1]))
    if not errors:
        raise DemandError(f"backtest: the series has {len(values)} values, fewer than horizon + 1 = {horizon + 1}")
    return float(np.mean(errors))


# -- demand generators ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Demand:
    """Customer demand: a Poisson process whose rate (units per time unit) may change over time.

    Use the constructors :func:`poisson_demand`, :func:`seasonal_demand`, :func:`step_demand`.

    Parameters
    ----------
    kind : {"poisson", "seasonal", "step"}
    rate : float
        The rate (poisson), the mean rate (seasonal), the rate before ``t0`` (step).
    amplitude : float
        Seasonal: relative amplitude of the sinusoid, 0 <= a <= 1: rate · (1 + a · sin(2π t / season)).
    season : float
        Seasonal: length of one season in time units.
    rate_after : float
        Step: the rate from ``t0`` on.
    t0 : float
        Step: when the rate jumps.
    """

    kind: Literal["poisson", "seasonal", "step"]
    rate: float
    amplitude: float = 0.0
    season: float = 0.0
    rate_after: float = 0.0
    t0: float = 0.0

    def __post_init__(self) -> None:
        def number(name: str, low: float, high: float = math.inf, *, strict_low: bool = False) -> None:
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            ok = ok and (value > low if strict_low else value >= low) and value <= high
            if not ok:
                bound = f"> {low}" if strict_low else f">= {low}"
                raise DemandError(f"{self.kind} demand: {name} must be a number {bound}"
                                  f"{'' if high == math.inf else f' and <= {high}'}, got {value!r}")
            object.__setattr__(self, name, float(value))

        if self.kind not in ("poisson", "seasonal", "step"):
            raise DemandError(f"demand kind {self.kind!r:.40} is not one of poisson, seasonal, step")
        number("rate", 0.0, strict_low=True)
        if self.kind == "seasonal":
            number("amplitude", 0.0, 1.0)
            number("season", 0.0, strict_low=True)
        if self.kind == "step":
            number("rate_after", 0.0)
            number("t0", 0.0)

    @property
    def peak(self) -> float:
        """The highest rate the process ever has."""
        if self.kind == "seasonal":
            return self.rate * (1.0 + self.amplitude)
        if self.kind == "step":
            return max(self.rate, self.rate_after)
        return self.rate

    def rate_at(self, t: float | np.ndarray) -> Any:
        """The rate at time ``t`` (scalar or array)."""
        tt = np.asarray(t, dtype=float)
        if self.kind == "seasonal":
            out = self.rate * (1.0 + self.amplitude * np.sin(2.0 * np.pi * tt / self.season))
        elif self.kind == "step":
            out = np.where(tt < self.t0, self.rate, self.rate_after)
        else:
            out = np.full_like(tt, self.rate)
        return float(out) if out.ndim == 0 else out

    def mean_rate(self, start: float, end: float) -> float:
        """The average rate over ``[start, end)`` (exact for step and poisson, by quadrature for seasonal)."""
        if end <= start:
            raise DemandError(f"demand.mean_rate: end ({end}) must be after start ({start})")
        if self.kind == "step":
            before = max(0.0, min(end, self.t0) - start)
            return (before * self.rate + (end - start - before) * self.rate_after) / (end - start)
        if self.kind == "seasonal":
            grid = np.linspace(start, end, 4097)
            return float(np.trapezoid(self.rate_at(grid), grid) / (end - start))
        return self.rate

    def times(self, horizon: float, seed: int | np.random.SeedSequence | None = 0) -> np.ndarray:
        """Arrival times in ``[0, horizon)`` (sorted), drawn by thinning a Poisson process at the peak rate.

        Examples
        --------
        >>> times = poisson_demand(2.0).times(1000.0, seed=0)
        >>> 1900 < len(times) < 2100, bool((times[1:] >= times[:-1]).all())
        (True, True)
        """
        if not isinstance(horizon, (int, float)) or not 0 < horizon < math.inf:
            raise DemandError(f"demand.times: horizon must be a positive number, got {horizon!r}")
        peak = self.peak
        expected = peak * horizon
        if expected > MAX_DEMAND_EVENTS:
            raise DemandError(f"demand.times: {expected:,.0f} expected arrivals (peak rate {peak:g} × horizon "
                              f"{horizon:g}) is over the limit of {MAX_DEMAND_EVENTS:,}; shorten the horizon")
        rng = np.random.default_rng(seed)
        n = int(rng.poisson(expected))
        candidates = np.sort(rng.uniform(0.0, horizon, n))
        if self.kind == "poisson":
            return candidates
        keep = rng.uniform(0.0, peak, n) < self.rate_at(candidates)
        return candidates[keep]

    def counts(self, horizon: float, period: float = 1.0, seed: int | np.random.SeedSequence | None = 0
               ) -> np.ndarray:
        """Demand per period of length ``period`` over ``[0, horizon)`` (from the same draw as :meth:`times`).

        Examples
        --------
        >>> step_demand(1.0, 3.0, t0=50.0).counts(100.0, period=50.0, seed=2).tolist()  # expected 50 and 150
        [52, 135]
        """
        if not isinstance(period, (int, float)) or not 0 < period < math.inf:
            raise DemandError(f"demand.counts: period must be a positive number, got {period!r}")
        edges = np.arange(0.0, horizon + period * 0.5, period)
        if edges[-1] < horizon:
            edges = np.append(edges, horizon)
        counts, _ = np.histogram(self.times(horizon, seed), bins=edges)
        return counts

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"kind": self.kind, "rate": self.rate}
        if self.kind == "seasonal":
            doc.update(amplitude=self.amplitude, season=self.season)
        if self.kind == "step":
            doc.update(rate_after=self.rate_after, t0=self.t0)
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> Demand:
        """Build from ``{"kind": ..., "rate": ..., ...}`` (e.g. from YAML); unknown keys are an error."""
        if not isinstance(doc, dict) or "kind" not in doc or "rate" not in doc:
            raise DemandError(f"demand: expected a mapping with kind and rate, got {doc!r:.120}")
        allowed = {"kind", "rate", "amplitude", "season", "rate_after", "t0"}
        extra = sorted(set(doc) - allowed)
        if extra:
            raise DemandError(f"demand: unknown key {extra[0]!r:.40}; allowed: {', '.join(sorted(allowed))}")
        return cls(**doc)

    def describe(self) -> str:
        """The demand in words."""
        if self.kind == "seasonal":
            return f"seasonal Poisson demand, mean rate {self.rate:g} ± {self.amplitude:.0%} over a season of " \
                   f"{self.season:g}"
        if self.kind == "step":
            return f"Poisson demand at rate {self.rate:g}, stepping to {self.rate_after:g} at t = {self.t0:g}"
        return f"stationary Poisson demand at rate {self.rate:g}"


def poisson_demand(rate: float) -> Demand:
    """Stationary Poisson demand at ``rate`` units per time unit."""
    return Demand("poisson", rate)


def seasonal_demand(rate: float, amplitude: float = 0.5, season: float = 24.0) -> Demand:
    """Poisson demand whose rate follows ``rate · (1 + amplitude · sin(2π t / season))``."""
    return Demand("seasonal", rate, amplitude=amplitude, season=season)


def step_demand(rate: float, rate_after: float, t0: float) -> Demand:
    """Poisson demand at ``rate`` that jumps to ``rate_after`` at time ``t0``."""
    return Demand("step", rate, rate_after=rate_after, t0=t0)
