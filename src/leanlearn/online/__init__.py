"""Live rule tracking with River: sliding windows, drift alerts, revised packs, exact resume.

The wing's modules, one job each:

==================  ==================================================================================================
``base``            the River contract: parameters, ``clone``, ``repr``; ``learn_*`` / ``update_*``; ``to_json``
``settings``        :class:`TrackerSettings` and :class:`Window` (``Window.parse(1000 | "10min")``): validated once
``evaluate``        which rules fire on an event / a micro-batch (derived features, conditions, outcomes); checks
``compiled``        one generated check-and-evaluate function per pack for the usual event (whitelisted AST)
``buffers``         the sliding windows' storage (numpy columns, JSON without pickle)
``detectors``       River's ADWIN and Page-Hinkley behind one adapter: built lazily, fed in bulk, saved as data
``trackers``        one rule: windowed confidence vs its expected interval, detectors, ok / warning / drift
``monitor``         all active rules of a pack: ``update`` / ``update_many`` → alerts; the whole state as JSON
``quarantine``      events the monitor could not use: the record (event, column, value, reason) and its JSONL file
``alerts``          the :class:`Alert` record and the JSONL alert log
``streams``         file replay (optionally rate-limited), JSON Lines on stdin, a tailed folder of files
``checkpoint``      atomic checkpoints: monitor state + stream position + alert / quarantine file sizes, hashed
``run``             the long-running loop behind ``leanlearn monitor`` (checkpoints, progress, clean stop)
``revision``        re-mining after drift into a candidate pack with a diff; an online rule learner beside it
``scenarios``       streams with a known truth (AI4I with a changed mechanism; planted synthetic rules)
==================  ==================================================================================================

River is imported only when a monitor (or a learner) is built, so ``import leanlearn.online`` stays light.

>>> import leanlearn.online as online
>>> sorted(online.__all__)[:3]
['Alert', 'AlertLog', 'CheckpointStore']
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Alert": "leanlearn.online.alerts",
    "AlertLog": "leanlearn.online.alerts",
    "read_alerts": "leanlearn.online.alerts",
    "CompiledPack": "leanlearn.online.evaluate",
    "DriftDetector": "leanlearn.online.detectors",
    "OnlineBase": "leanlearn.online.base",
    "Quarantined": "leanlearn.online.quarantine",
    "QuarantineLog": "leanlearn.online.quarantine",
    "TrackerSettings": "leanlearn.online.settings",
    "Window": "leanlearn.online.settings",
    "RuleTracker": "leanlearn.online.trackers",
    "Monitor": "leanlearn.online.monitor",
    "MonitorError": "leanlearn.online.base",
    "FileReplay": "leanlearn.online.streams",
    "JsonLinesStream": "leanlearn.online.streams",
    "DirectoryStream": "leanlearn.online.streams",
    "open_stream": "leanlearn.online.streams",
    "CheckpointStore": "leanlearn.online.checkpoint",
    "run_monitor": "leanlearn.online.run",
    "RunSummary": "leanlearn.online.run",
    "revise_pack": "leanlearn.online.revision",
    "diff_packs": "leanlearn.online.revision",
    "Revision": "leanlearn.online.revision",
    "Reviser": "leanlearn.online.revision",
    "RecentRows": "leanlearn.online.revision",
    "OnlineRuleLearner": "leanlearn.online.revision",
    "ai4i_drift_stream": "leanlearn.online.scenarios",
    "planted_stream": "leanlearn.online.scenarios",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'leanlearn.online' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
