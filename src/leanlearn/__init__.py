"""leanlearn — discover, explain, version and track rules about waste in production.

The public API, re-exported lazily so that ``import leanlearn`` stays fast (heavy libraries load on first use):

>>> import leanlearn as ll
>>> sorted(n for n in ll.__all__ if n[0].isupper())[:4]
['Condition', 'DataError', 'Expression', 'ExpressionError']
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

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
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'leanlearn' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
