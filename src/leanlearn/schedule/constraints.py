"""Rule-pack constraints on a schedule: a changeover that costs more, a material sequence that is forbidden.

Plain data, never code: :class:`SetupExtension` (a changeover ``A -> B`` takes ``delta`` longer, on one machine or
all) and :class:`ForbiddenSequence` (``A`` never directly before ``B``). :func:`apply_constraints` returns the
instance with its setup matrix lengthened and its forbidden pairs added; the CP-SAT model sequences such machines
with a circuit and the validator checks both.

From a rule pack (``leanlearn.rulepack/1`` JSON), :func:`constraints_from_pack` reads each rule whose conditions name
the changeover — ``from_material == "A"`` and ``to_material == "B"`` (also ``prev_material`` / ``previous_material``
/ ``material_from`` and ``next_material`` / ``material`` / ``material_to``), or ``changeover == "A->B"`` — and
optionally the machine (``machine`` or ``station == "press"``):

- a **setup** rule (waste ``setup``, or an outcome column naming setup / changeover) lengthens that setup by the
  rule's ``delta`` if it has one, else by its evidence: the mean outcome under the rule minus the mean overall
  (``shift.mean - shift.mean_overall``), times ``time_scale`` (pack units -> instance units), rounded;
- a **defect** rule (waste ``defects``), or one whose outcome is ``forbidden == true``, forbids the sequence.

Rejected rules are skipped; so is every rule that says nothing about a changeover (each skip has a reason).

Examples
--------
>>> from leanlearn.schedule.instance import Instance, Job, Operation
>>> inst = Instance("x", 1, (Job(0, (Operation(0, 0, 0, 3),), material="A"),
...                          Job(1, (Operation(1, 0, 0, 2),), material="B")), setups={(None, "A", "B"): 5})
>>> ruled = apply_constraints(inst, [SetupExtension("A", "B", 120), ForbiddenSequence("B", "A")])
>>> ruled.setup(0, 0, 1), ruled.is_forbidden(0, 1, 0)
(125, True)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from leanlearn._util import read_json_file
from leanlearn.errors import PackError
from leanlearn.schedule.instance import Instance, SetupKey

__all__ = ["ForbiddenSequence", "SetupExtension", "apply_constraints", "constraints_from_pack", "read_constraints"]

FROM = ("from_material", "prev_material", "previous_material", "material_from")
TO = ("to_material", "next_material", "material_to", "material")
MACHINE = ("machine", "station")
_ARROW = re.compile(r"^\s*(.+?)\s*(?:->|→|>)\s*(.+?)\s*$")


@dataclass(frozen=True, slots=True)
class SetupExtension:
    """Changeover ``from_material -> to_material`` takes ``delta`` time units longer (on ``machine``: index or name;
    ``None``: every machine)."""

    from_material: str
    to_material: str
    delta: int
    machine: int | str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class ForbiddenSequence:
    """``from_material`` never directly before ``to_material`` (on ``machine``; ``None``: every machine)."""

    from_material: str
    to_material: str
    machine: int | str | None = None
    source: str | None = None


Constraint = SetupExtension | ForbiddenSequence


def _effective(setups: Mapping[SetupKey, int], machine: int, a: str, b: str) -> int:
    own = setups.get((machine, a, b))
    return own if own is not None else setups.get((None, a, b), 0)


def apply_constraints(instance: Instance, constraints: Iterable[Constraint]) -> Instance:
    """``instance`` with each setup extension added to its setup matrix and each forbidden sequence added."""
    setups: dict[SetupKey, int] = dict(instance.setups or {})
    forbidden = list(instance.forbidden)
    for c in constraints:
        if not isinstance(c, (SetupExtension, ForbiddenSequence)):
            raise PackError(f"a schedule constraint must be a SetupExtension or ForbiddenSequence, got {c!r}")
        machine = None if c.machine in (None, "*") else instance.machine_index(c.machine)
        if isinstance(c, ForbiddenSequence):
            forbidden.append((machine, str(c.from_material), str(c.to_material)))
            continue
        if isinstance(c.delta, bool) or not isinstance(c.delta, int):
            raise PackError(f"setup extension {c.from_material} -> {c.to_material}: delta {c.delta!r} must be a whole "
                            "number of time units")
        targets = range(instance.n_machines) if machine is None else [machine]
        base = dict(setups)
        for m in targets:
            value = _effective(base, m, str(c.from_material), str(c.to_material)) + c.delta
            setups[(m, str(c.from_material), str(c.to_material))] = max(0, value)
    return replace(instance, setups=setups or None, forbidden=tuple(forbidden))


def _equals(conditions: list[Any], names: tuple[str, ...]) -> Any:
    for cond in conditions:
        if isinstance(cond, dict) and cond.get("feature") in names and cond.get("op") == "==":
            return cond.get("value")
    return None


def constraints_from_pack(doc: Mapping[str, Any], *, time_scale: float = 1.0,
                          label: str = "pack") -> tuple[list[Constraint], list[str]]:
    """The schedule constraints a rule pack's rules state, and a reason for every rule skipped.

    >>> rule = {"id": "r1", "waste": "setup", "if": [{"feature": "changeover", "op": "==", "value": "A->B"}],
    ...         "then": {"feature": "setup_min", "op": ">", "value": 60},
    ...         "shift": {"mean": 180.0, "mean_overall": 60.0}, "review": {"status": "approved"}}
    >>> constraints_from_pack({"schema": "leanlearn.rulepack/1", "rules": [rule]})[0]
    [SetupExtension(from_material='A', to_material='B', delta=120, machine=None, source='r1')]
    """
    if not isinstance(doc, Mapping):
        raise PackError(f"{label}: a rule pack is a JSON object with 'rules'")
    schema = doc.get("schema")
    if schema is not None and not str(schema).startswith("leanlearn.rulepack/"):
        raise PackError(f"{label}: schema {schema!r} is not a leanlearn rule pack (leanlearn.rulepack/1)")
    rules = doc.get("rules")
    if not isinstance(rules, list):
        raise PackError(f"{label}: key 'rules' must be a list of rules")
    if isinstance(time_scale, bool) or not isinstance(time_scale, (int, float)) or not time_scale > 0:
        raise PackError(f"time scale {time_scale!r} must be a positive number")
    out: list[Constraint] = []
    skipped: list[str] = []
    for n, rule in enumerate(rules):
        if not isinstance(rule, dict):
            raise PackError(f"{label}: rules[{n}] must be an object")
        rid = str(rule.get("id", f"rules[{n}]"))
        status = (rule.get("review") or {}).get("status") if isinstance(rule.get("review"), dict) else None
        if status == "rejected":
            skipped.append(f"{rid}: rejected in review")
            continue
        raw_if = rule.get("if")
        conditions: list[Any] = raw_if if isinstance(raw_if, list) else []
        a, b = _equals(conditions, FROM), _equals(conditions, TO)
        pair = _equals(conditions, ("changeover",))
        if (a is None or b is None) and isinstance(pair, str) and _ARROW.match(pair):
            match = _ARROW.match(pair)
            assert match is not None
            a, b = match.group(1), match.group(2)
        if a is None or b is None:
            skipped.append(f"{rid}: names no changeover (from_material and to_material, or changeover == 'A->B')")
            continue
        machine = _equals(conditions, MACHINE)
        raw_then = rule.get("then")
        then: dict[str, Any] = raw_then if isinstance(raw_then, dict) else {}
        feature = str(then.get("feature", "")).lower()
        waste = rule.get("waste")
        if waste == "defects" or (feature in ("forbidden", "forbid") and then.get("value") in (True, 1, "true")):
            out.append(ForbiddenSequence(str(a), str(b), machine, rid))
            continue
        if waste == "setup" or "setup" in feature or "changeover" in feature:
            delta = rule.get("delta")
            raw_shift = rule.get("shift")
            shift: dict[str, Any] = raw_shift if isinstance(raw_shift, dict) else {}
            if delta is None and shift.get("mean") is not None and shift.get("mean_overall") is not None:
                delta = float(shift["mean"]) - float(shift["mean_overall"])
            if isinstance(delta, bool) or not isinstance(delta, (int, float)) or delta != delta:
                skipped.append(f"{rid}: a setup rule without a delta or shift evidence (mean vs mean_overall)")
                continue
            steps = round(float(delta) * time_scale)
            if steps <= 0:
                skipped.append(f"{rid}: the setup gets no longer under the rule (delta {delta:g})")
                continue
            out.append(SetupExtension(str(a), str(b), int(steps), machine, rid))
            continue
        skipped.append(f"{rid}: outcome {feature!r} is neither a setup time nor a defect")
    return out, skipped


def read_constraints(path: str | Path, *, time_scale: float = 1.0,
                     max_bytes: int = 64 << 20) -> tuple[list[Constraint], list[str]]:
    """:func:`constraints_from_pack` of the rule pack JSON file ``path`` (read as data; nothing in it is run)."""
    doc = read_json_file(path, max_bytes, PackError, "rule pack", "; export one with 'leanlearn pack export'")
    return constraints_from_pack(doc, time_scale=time_scale, label=str(path))
