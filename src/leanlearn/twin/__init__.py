"""The digital twin: a SimPy discrete-event model of a line, specified in YAML, simulated with replications.

- :class:`LineSpec` / :func:`load_spec` (:mod:`leanlearn.twin.spec`): the validated line spec.
- :func:`simulate` (:mod:`leanlearn.twin.simulation`): replications, KPIs with 95 % intervals, canonical
  ``operations`` / ``downtime`` tables per replication.
- :func:`whatif` (:mod:`leanlearn.twin.what_if`): a grid (or a bisection) over kanban cards, CONWIP level, batch
  size, capacity, ...; the Pareto front and a recommendation.

SimPy is imported only when a model runs: ``import leanlearn.twin`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leanlearn.twin.simulation import SimulationResult, simulate
    from leanlearn.twin.spec import LineSpec, SpecError, load_spec
    from leanlearn.twin.what_if import WhatIfResult, whatif

__all__ = ["LineSpec", "SimulationResult", "SpecError", "WhatIfResult", "load_spec", "simulate", "whatif"]

_HOME = {"LineSpec": "spec", "SpecError": "spec", "load_spec": "spec", "simulate": "simulation",
         "SimulationResult": "simulation", "whatif": "what_if", "WhatIfResult": "what_if"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(f"leanlearn.twin.{_HOME[name]}"), name)
    raise AttributeError(f"module 'leanlearn.twin' has no attribute {name!r}")
