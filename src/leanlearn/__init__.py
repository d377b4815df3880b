"""leanlearn — discover, explain, version and track rules about waste in production.

The public API, re-exported lazily so that ``import leanlearn`` stays fast (heavy libraries load on first use):

>>> import leanlearn as ll
>>> sorted(n for n in ll.__all__ if n[0].isupper())[:4]
['Condition', 'DataError', 'Expression', 'ExpressionError']
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Condition": "leanlearn.mining.rules",
    "Rule": "leanlearn.mining.rules",
    "RuleSet": "leanlearn.mining.rules",
    "RuleMiner": "leanlearn.mining.miner",
    "Expression": "leanlearn.mining.expressions",
    "RulePack": "leanlearn.packs.pack",
    "mine_pack": "leanlearn.packs.build",
    "register_pack": "leanlearn.packs.registry",
    "load_pack": "leanlearn.packs.registry",
    "review_rule": "leanlearn.packs.registry",
    "load_ai4i": "leanlearn.data.datasets",
    "load_production_4tu": "leanlearn.data.datasets",
    "read_table": "leanlearn.data.sources",
    "read_sql": "leanlearn.data.sources",
    "fuse": "leanlearn.data.fusion",
    "load_fusion": "leanlearn.data.fusion",
    "FusionResult": "leanlearn.data.fusion",
    "levelling": "leanlearn.lean.flows",
    "inventory": "leanlearn.lean.flows",
    "make_line": "leanlearn.data.synthetic",
    "ShiftMiner": "leanlearn.mining.shift",
    "value_stream": "leanlearn.lean.valuestream",
    "detect_shifts": "leanlearn.lean.waste",
    "Monitor": "leanlearn.online.monitor",
    "revise_pack": "leanlearn.online.revision",
    "waste_mutual_information": "leanlearn.lean.waste",
    "write_table": "leanlearn.data.sources",
    "load_pipeline": "leanlearn.pipeline",
    "run_pipeline": "leanlearn.pipeline",
    "MiningPipeline": "leanlearn.pipeline",
    "LeanlearnError": "leanlearn.errors",
    "DataError": "leanlearn.errors",
    "SchemaError": "leanlearn.errors",
    "ExpressionError": "leanlearn.errors",
    "PackError": "leanlearn.errors",
    "RegistryError": "leanlearn.errors",
    "MappingError": "leanlearn.errors",
    "transport": "leanlearn.lean.flows",
    "MiningSettings": "leanlearn.mining.settings",
    "TrackerSettings": "leanlearn.online.settings",
    "Window": "leanlearn.online.settings",
    "Limits": "leanlearn.limits",
    "PipelineError": "leanlearn.errors",
    "explain": "leanlearn.explain",
}

# The public names (kept equal to _EXPORTS' keys; tests/test_public_api.py checks it).
__all__ = [
    "Condition", "DataError", "Expression", "ExpressionError", "FusionResult", "LeanlearnError", "Limits",
    "MappingError", "MiningPipeline", "MiningSettings", "Monitor", "PackError", "PipelineError", "RegistryError",
    "Rule", "RuleMiner", "RulePack", "RuleSet", "SchemaError", "ShiftMiner", "TrackerSettings", "Window",
    "detect_shifts", "explain", "fuse", "inventory", "levelling", "load_ai4i", "load_fusion", "load_pack",
    "load_pipeline", "load_production_4tu", "make_line", "mine_pack", "read_sql", "read_table", "register_pack",
    "review_rule", "revise_pack", "run_pipeline", "transport", "value_stream", "waste_mutual_information",
    "write_table",
]

if TYPE_CHECKING:  # the same names for type checkers; at run time each loads on first use (__getattr__)
    from leanlearn.data.datasets import load_ai4i, load_production_4tu
    from leanlearn.data.fusion import FusionResult, fuse, load_fusion
    from leanlearn.data.sources import read_sql, read_table, write_table
    from leanlearn.data.synthetic import make_line
    from leanlearn.errors import (
        DataError,
        ExpressionError,
        LeanlearnError,
        MappingError,
        PackError,
        PipelineError,
        RegistryError,
        SchemaError,
    )
    from leanlearn.explain import explain
    from leanlearn.lean.flows import inventory, levelling, transport
    from leanlearn.lean.valuestream import value_stream
    from leanlearn.lean.waste import detect_shifts, waste_mutual_information
    from leanlearn.limits import Limits
    from leanlearn.mining.expressions import Expression
    from leanlearn.mining.miner import RuleMiner
    from leanlearn.mining.rules import Condition, Rule, RuleSet
    from leanlearn.mining.settings import MiningSettings
    from leanlearn.mining.shift import ShiftMiner
    from leanlearn.online.monitor import Monitor
    from leanlearn.online.revision import revise_pack
    from leanlearn.online.settings import TrackerSettings, Window
    from leanlearn.packs.build import mine_pack
    from leanlearn.packs.pack import RulePack
    from leanlearn.packs.registry import load_pack, register_pack, review_rule
    from leanlearn.pipeline import MiningPipeline, load_pipeline, run_pipeline


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'leanlearn' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
