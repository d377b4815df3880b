"""The promotion gate: which transfer validations let a pack steer a line (alias ``production``).

A :class:`Gate` holds the line's criteria on a :class:`~leanlearn.packs.transfer.TransferReport` — at most
``max_fails`` rules that fail, at least ``min_holds`` (a share) of the pack's rules that hold, and optionally at most
``max_not_enough`` rules that could not be judged — and :meth:`Gate.check` says, in words, whether a report passes.

Examples
--------
>>> gate = Gate(max_fails=0, min_holds=0.5)
>>> gate.to_json()
{'max_fails': 0, 'min_holds': 0.5, 'max_not_enough': None}
>>> Gate.from_dict({"max_fails": 1, "min_hold": 0.8})
Traceback (most recent call last):
...
leanlearn.packs.gate.GateError: gate: unknown key 'min_hold'; did you mean 'min_holds'? allowed keys: max_fails, ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from leanlearn.errors import LeanlearnError

if TYPE_CHECKING:
    from leanlearn.packs.transfer import TransferReport

__all__ = ["Gate", "GateError", "GateResult"]

_KEYS = ("max_fails", "min_holds", "max_not_enough")


class GateError(LeanlearnError):
    """A gate setting is not a valid criterion."""


def _count(value: Any, key: str, where: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole:
        raise GateError(f"{where}: {key} = {value!r:.40} is not a whole number of rules; e.g. {key}: 0")
    if value < 0 or value > 10**9:
        raise GateError(f"{where}: {key} = {value!r:.40} must be between 0 and 1,000,000,000 rules")
    return int(value)


@dataclass(frozen=True, slots=True)
class Gate:
    """Criteria a transfer validation must meet before the version may be promoted to ``production``.

    Parameters
    ----------
    max_fails : int
        Most rules allowed to fail on the target (default 0).
    min_holds : float
        Least share of the pack's rules that must hold, in [0, 1] (default 0.5).
    max_not_enough : int, optional
        Most rules allowed without a verdict for lack of data (default: no limit).
    """

    max_fails: int = 0
    min_holds: float = 0.5
    max_not_enough: int | None = None

    def __post_init__(self) -> None:
        _count(self.max_fails, "max_fails", "gate")
        _count(self.max_not_enough, "max_not_enough", "gate", optional=True)
        share = self.min_holds
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not math.isfinite(share) \
                or not 0 <= share <= 1:
            raise GateError(f"gate: min_holds = {share!r:.40} is not a share between 0 and 1; e.g. min_holds: 0.5 "
                            "(half of the rules must hold)")
        object.__setattr__(self, "max_fails", int(self.max_fails))
        object.__setattr__(self, "min_holds", float(share))
        if self.max_not_enough is not None:
            object.__setattr__(self, "max_not_enough", int(self.max_not_enough))

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any] | None, where: str = "gate") -> Gate:
        """A gate from a mapping such as a YAML section ``{max_fails: 0, min_holds: 0.8}``; unknown keys refused."""
        from leanlearn.yamlfile import Checker

        if doc is None:
            return cls()
        checker = Checker(where, GateError)
        checker.keys(doc, _KEYS, "", "max_fails: 0")
        try:
            return cls(**{k: doc[k] for k in _KEYS if k in doc})
        except GateError as exc:
            raise GateError(str(exc).replace("gate:", f"{where}:", 1)) from None

    def to_json(self) -> dict[str, Any]:
        return {"max_fails": self.max_fails, "min_holds": self.min_holds, "max_not_enough": self.max_not_enough}

    def describe(self) -> str:
        """The criteria in words."""
        parts = [f"at most {self.max_fails} failing rule{'s' if self.max_fails != 1 else ''}",
                 f"at least {self.min_holds:.0%} of the rules holding"]
        if self.max_not_enough is not None:
            parts.append(f"at most {self.max_not_enough} rule{'s' if self.max_not_enough != 1 else ''} without "
                         "enough data")
        return ", ".join(parts)

    def check(self, report: TransferReport) -> GateResult:
        """Whether ``report`` passes; ``reasons`` say why it fails (every criterion missed), or — when it passes —
        each criterion met, in words."""
        counts = report.counts
        total = len(report.verdicts)
        missed: list[str] = []
        met: list[str] = []

        def ids(verdict: str) -> str:
            found = report.ids(verdict)
            return f" ({', '.join(found[:8])}{', …' if len(found) > 8 else ''})" if found else ""

        if total == 0:
            missed.append("the pack has no rules: nothing was validated")
        fails = counts["fails"]
        text = f"{fails} of {total} rule{'s' if total != 1 else ''} fail{'s' if fails == 1 else ''}{ids('fails')}; " \
               f"the gate allows {self.max_fails}"
        (missed if fails > self.max_fails else met).append(text)
        holds = counts["holds"]
        share = holds / total if total else 0.0
        text = f"{holds} of {total} rule{'s' if total != 1 else ''} hold{'s' if holds == 1 else ''} ({share:.0%}); " \
               f"the gate needs {self.min_holds:.0%}"
        (missed if total and share + 1e-12 < self.min_holds else met if total else missed).append(text)
        if self.max_not_enough is not None:
            lacking = counts["not enough data"]
            verb = "lacks" if lacking == 1 else "lack"
            text = f"{lacking} of {total} rule{'s' if total != 1 else ''} {verb} data for a verdict" \
                   f"{ids('not enough data')}; the gate allows {self.max_not_enough}"
            (missed if lacking > self.max_not_enough else met).append(text)
        passed = not missed
        return GateResult(passed=passed, reasons=tuple(met if passed else missed), gate=self, counts=dict(counts))


@dataclass(frozen=True, slots=True)
class GateResult:
    """The gate's decision on one report: ``passed``, the ``reasons`` in words, the ``gate`` and the ``counts``."""

    passed: bool
    reasons: tuple[str, ...]
    gate: Gate
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: ``gate passed: ...`` or ``gate failed: ...``."""
        return f"gate {'passed' if self.passed else 'failed'}: " + "; ".join(self.reasons)

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": list(self.reasons), "gate": self.gate.to_json(),
                "counts": dict(self.counts)}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> GateResult:
        try:
            return cls(passed=bool(doc["passed"]), reasons=tuple(str(r) for r in doc["reasons"]),
                       gate=Gate.from_dict(doc.get("gate")),
                       counts={str(k): int(v) for k, v in dict(doc.get("counts") or {}).items()})
        except (KeyError, TypeError, ValueError) as exc:
            raise GateError(f"not a gate result ({type(exc).__name__}: {exc})") from None
