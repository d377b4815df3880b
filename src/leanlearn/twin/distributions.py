"""Time distributions of the line spec: cycle, setup, arrival, repair and transfer times.

A ``<dist>`` in the spec is a number (deterministic) or a mapping with ``dist:`` and its parameters:

==============  ===========================  =================================================================
``dist``        parameters                   meaning
==============  ===========================  =================================================================
deterministic   ``value``                    always ``value``
exponential     ``mean``                     memoryless, coefficient of variation 1
uniform         ``low``, ``high``            any value in [low, high] equally likely
normal          ``mean``, ``sd``             truncated at 0 (redrawn while negative)
lognormal       ``mean``, ``sd``             of the variable itself (not of its logarithm)
gamma           ``mean``, ``cv``             coefficient of variation ``cv`` (sd / mean)
erlang          ``mean``, ``k``              sum of ``k`` exponentials; cv = 1 / sqrt(k)
triangular      ``low``, ``mode``, ``high``  low <= mode <= high
empirical       ``values`` (``weights``)     resampled with replacement (optionally weighted)
==============  ===========================  =================================================================

Every distribution samples from a :class:`numpy.random.Generator`, knows its ``mean()``, and writes itself back
with ``to_dict()`` (so a spec round-trips). :func:`from_spec` parses one and raises
:class:`~leanlearn.twin.spec.SpecError` naming the key path.

Examples
--------
>>> import numpy as np
>>> d = from_spec({"dist": "gamma", "mean": 2.0, "cv": 0.5}, "stations[0].cycle")
>>> d.mean(), d.to_dict()
(2.0, {'dist': 'gamma', 'mean': 2.0, 'cv': 0.5})
>>> from_spec(1.5, "transfer").sample(np.random.default_rng(0))
1.5
>>> from_spec({"dist": "exponential", "mean": -1}, "stations[1].cycle", source="spec.yaml")
Traceback (most recent call last):
...
leanlearn.twin.spec.SpecError: spec.yaml: stations[1].cycle.mean: must be a positive number, got -1
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from leanlearn.errors import LeanlearnError

__all__ = ["DISTRIBUTIONS", "MAX_EMPIRICAL_VALUES", "Deterministic", "Distribution", "Empirical", "Erlang",
           "Exponential", "Gamma", "LogNormal", "Normal", "Triangular", "Uniform", "from_spec"]

#: Most values an empirical distribution may hold (a calibrated one holds the observed times of one station).
MAX_EMPIRICAL_VALUES = 1_000_000


def _error(source: str | None, path: str, message: str) -> LeanlearnError:
    from leanlearn.twin.spec import SpecError

    return SpecError(f"{source}: {path}: {message}" if source else f"{path}: {message}")


class Distribution:
    """Base of every distribution: ``sample(rng)``, ``sample_many(rng, n)``, ``mean()``, ``to_dict()``."""

    __slots__ = ()
    kind: ClassVar[str] = ""

    def sample(self, rng: np.random.Generator) -> float:
        """One draw."""
        return float(self.sample_many(rng, 1)[0])

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws (what the model uses: it draws in blocks)."""
        raise NotImplementedError

    def mean(self) -> float:
        """The expected value."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any] | float:
        """The spec form (a number for a deterministic time)."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Deterministic(Distribution):
    """Always ``value``."""

    value: float
    kind: ClassVar[str] = "deterministic"

    def sample(self, rng: np.random.Generator) -> float:
        return self.value

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value)

    def mean(self) -> float:
        return self.value

    def to_dict(self) -> float:
        return self.value


@dataclass(frozen=True, slots=True)
class Exponential(Distribution):
    """Exponential with mean ``mean``."""

    mean_: float
    kind: ClassVar[str] = "exponential"

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_, n)

    def mean(self) -> float:
        return self.mean_

    def to_dict(self) -> dict[str, Any]:
        return {"dist": "exponential", "mean": self.mean_}


@dataclass(frozen=True, slots=True)
class Uniform(Distribution):
    """Uniform on [low, high]."""

    low: float
    high: float
    kind: ClassVar[str] = "uniform"

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)

    def mean(self) -> float:
        return (self.low + self.high) / 2

    def to_dict(self) -> dict[str, Any]:
        return {"dist": "uniform", "low": self.low, "high": self.high}


@dataclass(frozen=True, slots=True)
class Normal(Distribution):
    """Normal truncated at 0 (negative draws are redrawn); ``mean()`` is the truncated mean."""

    mean_: float
    sd: float
    kind: ClassVar[str] = "normal"

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = rng.normal(self.mean_, self.sd, n)
        bad = out < 0
        while bad.any():
            out[bad] = rng.normal(self.mean_, self.sd, int(bad.sum()))
            bad = out < 0
        return out

    def mean(self) -> float:
        if self.sd == 0:
            return self.mean_
        from scipy.stats import truncnorm

        return float(truncnorm.mean((0 - self.mean_) / self.sd, np.inf, loc=self.mean_, scale=self.sd))

    def to_dict(self) -> dict[str, Any]:
        return {"dist": "normal", "mean": self.mean_, "sd": self.sd}


@dataclass(frozen=True, slots=True)
class LogNormal(Distribution):
    """Lognormal with the given mean and standard deviation of the variable itself."""

    mean_: float
    sd: float
    kind: ClassVar[str] = "lognormal"

    def _params(self) -> tuple[float, float]:
        sigma2 = math.log1p((self.sd / self.mean_) ** 2)
        return math.log(self.mean_) - sigma2 / 2, math.sqrt(sigma2)

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        mu, sigma = self._params()
        return rng.lognormal(mu, sigma, n)

    def mean(self) -> float:
        return self.mean_

    def to_dict(self) -> dict[str, Any]:
        return {"dist": "lognormal", "mean": self.mean_, "sd": self.sd}


@dataclass(frozen=True, slots=True)
class Gamma(Distribution):
    """Gamma with mean ``mean`` and coefficient of variation ``cv``."""

    mean_: float
    cv: float
    kind: ClassVar[str] = "gamma"

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.cv < 1e-6:  # no variation to speak of (and 1 / cv² would overflow)
            return np.full(n, self.mean_)
        shape = 1.0 / self.cv ** 2
        return rng.gamma(shape, self.mean_ / shape, n)

    def mean(self) -> float:
        return self.mean_

    def to_dict(self) -> dict[str, Any]:
        return {"dist": "gamma", "mean": self.mean_, "cv": self.cv}


@dataclass(frozen=True, slots=True)
class Erlang(Distribution):
    """Erlang: the sum of ``k`` exponentials, mean ``mean`` in total."""

    mean_: float
    k: int
    kind: ClassVar[str] = "erlang"

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.gamma(float(self.k), self.mean_ / self.k, n)

    def mean(self) -> float:
        return self.mean_

    def to_dict(self) -> dict[str, Any]:
        return {"dist": "erlang", "mean": self.mean_, "k": self.k}


@dataclass(frozen=True, slots=True)
class Triangular(Distribution):
    """Triangular on [low, high] with mode ``mode``."""

    low: float
    mode: float
    high: float
    kind: ClassVar[str] = "triangular"

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.low == self.high:
            return np.full(n, self.low)
        return rng.triangular(self.low, self.mode, self.high, n)

    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    def to_dict(self) -> dict[str, Any]:
        return {"dist": "triangular", "low": self.low, "mode": self.mode, "high": self.high}


@dataclass(frozen=True, slots=True)
class Empirical(Distribution):
    """Resampling with replacement from observed ``values`` (optionally with ``weights``)."""

    values: tuple[float, ...]
    weights: tuple[float, ...] | None = None
    kind: ClassVar[str] = "empirical"

    def _p(self) -> np.ndarray | None:
        if self.weights is None:
            return None
        w = np.asarray(self.weights, dtype=float)
        return w / w.sum()

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values, dtype=float), size=n, replace=True, p=self._p())

    def mean(self) -> float:
        p = self._p()
        values = np.asarray(self.values, dtype=float)
        return float(values.mean() if p is None else (values * p).sum())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dist": "empirical", "values": list(self.values)}
        if self.weights is not None:
            out["weights"] = list(self.weights)
        return out


#: ``dist:`` name → its parameters (in the spec's words).
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "deterministic": ("value",), "exponential": ("mean",), "uniform": ("low", "high"), "normal": ("mean", "sd"),
    "lognormal": ("mean", "sd"), "gamma": ("mean", "cv"), "erlang": ("mean", "k"),
    "triangular": ("low", "mode", "high"), "empirical": ("values", "weights"),
}
_OPTIONAL = {"weights"}
_EXAMPLE = "{dist: exponential, mean: 1.0} or a number"


def _number(value: Any, source: str | None, path: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _error(source, path, f"must be a {'positive ' if positive else ''}number, got {value!r}")
    if positive and not value > 0:
        raise _error(source, path, f"must be a positive number, got {value!r}")
    if not positive and value < 0:
        raise _error(source, path, f"must be a number >= 0, got {value!r}")
    return float(value)


def _numbers(value: Any, source: str | None, path: str) -> tuple[float, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        raise _error(source, path, f"must be a non-empty list of numbers >= 0, got {value!r}"[:300])
    if len(value) > MAX_EMPIRICAL_VALUES:
        raise _error(source, path, f"has {len(value):,} values, over the limit of {MAX_EMPIRICAL_VALUES:,}; "
                                   "thin the sample (a few thousand values describe a distribution well)")
    return tuple(_number(v, source, f"{path}[{i}]") for i, v in enumerate(value))


def from_spec(value: Any, path: str, *, source: str | None = None, allow_zero: bool = True) -> Distribution:
    """Parse one ``<dist>`` of the spec at key ``path`` (``source`` names the file in errors).

    A number is a deterministic time (``>= 0``; ``> 0`` when ``allow_zero`` is false). A ``Distribution`` is
    returned as it is.
    """
    if isinstance(value, Distribution):
        return value
    if isinstance(value, bool):
        raise _error(source, path, f"must be a number or a distribution like {_EXAMPLE}, got {value!r}")
    if isinstance(value, (int, float)):
        return Deterministic(_number(value, source, path, positive=not allow_zero))
    if not isinstance(value, dict):
        raise _error(source, path, f"must be a number or a distribution like {_EXAMPLE}, got {value!r}"[:300])
    kind = value.get("dist")
    if kind not in DISTRIBUTIONS:
        import difflib

        close = difflib.get_close_matches(str(kind), DISTRIBUTIONS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise _error(source, f"{path}.dist", f"is {kind!r}; {hint}choose one of {', '.join(DISTRIBUTIONS)}")
    params = DISTRIBUTIONS[kind]
    for key in value:
        if key != "dist" and key not in params:
            raise _error(source, f"{path}.{key}", f"unknown key for dist {kind}; allowed keys: dist, "
                                                  f"{', '.join(params)}")
    for key in params:
        if key not in value and key not in _OPTIONAL:
            raise _error(source, f"{path}.{key}", f"missing; dist {kind} needs {', '.join(params)}")

    def num(key: str, positive: bool = False) -> float:
        return _number(value[key], source, f"{path}.{key}", positive=positive)

    if kind == "deterministic":
        return Deterministic(num("value", positive=not allow_zero))
    if kind == "exponential":
        return Exponential(num("mean", positive=True))
    if kind == "uniform":
        low, high = num("low"), num("high")
        if high < low:
            raise _error(source, f"{path}.high", f"must be >= low ({low}), got {high}")
        return Uniform(low, high)
    if kind in ("normal", "lognormal"):
        mean, sd = num("mean", positive=True), num("sd")
        return Normal(mean, sd) if kind == "normal" else LogNormal(mean, sd)
    if kind == "gamma":
        return Gamma(num("mean", positive=True), num("cv"))
    if kind == "erlang":
        k = value["k"]
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise _error(source, f"{path}.k", f"must be a whole number >= 1, got {k!r}")
        return Erlang(num("mean", positive=True), k)
    if kind == "triangular":
        low, mode, high = num("low"), num("mode"), num("high")
        if not low <= mode <= high:
            raise _error(source, f"{path}.mode", f"needs low <= mode <= high, got {low}, {mode}, {high}")
        return Triangular(low, mode, high)
    values = _numbers(value["values"], source, f"{path}.values")
    weights = None
    if value.get("weights") is not None:
        weights = _numbers(value["weights"], source, f"{path}.weights")
        if len(weights) != len(values):
            raise _error(source, f"{path}.weights", f"has {len(weights)} weights for {len(values)} values; "
                                                    "give one weight per value")
        if not sum(weights) > 0:
            raise _error(source, f"{path}.weights", "must not all be 0")
    return Empirical(values, weights)
