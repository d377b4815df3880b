"""RulePack: one JSON document holding rules, how to recompute their features, and where they came from.

A pack is data only. Loading it checks the JSON Schema shipped beside this module (``rulepack.schema.json``) and
the pack's content hash; it never executes anything from the file (no pickle, and derived-feature expressions go
through the whitelisted parser in :mod:`leanlearn.mining.expressions`).

Examples
--------
>>> from leanlearn.mining.rules import RuleSet
>>> pack = RulePack(name="demo", line="L1", targets=(Target("scrap"),), rules=RuleSet())
>>> doc = pack.to_json()
>>> doc["schema"], doc["content_hash"].startswith("sha256:")
('leanlearn.rulepack/1', True)
>>> RulePack.from_json(doc) == pack
True
>>> doc["line"] = "L2"  # edited by hand: the hash no longer matches
>>> RulePack.from_json(doc)
Traceback (most recent call last):
...
leanlearn.errors.PackError: rule pack 'demo': content hash mismatch — the file was changed after it was written ...
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leanlearn.errors import PackError
from leanlearn.mining.expressions import evaluate_derived
from leanlearn.mining.rules import WASTES, RuleSet

SCHEMA_ID = "leanlearn.rulepack/1"


@dataclass(frozen=True, slots=True)
class Target:
    """An outcome the pack has rules for: ``kind="binary"`` (``positive`` is the waste value) or ``"numeric"``
    (``positive`` is ``"higher"`` or ``"lower"``: the direction that is waste)."""

    name: str
    kind: str = "binary"
    waste: str = "defects"
    positive: Any = 1

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "waste": self.waste, "positive": self.positive}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Target:
        return cls(doc["name"], doc.get("kind", "binary"), doc.get("waste", "defects"), doc.get("positive", 1))


@dataclass(frozen=True, slots=True)
class Feature:
    """A feature a rule may use: a data column or a derived one."""

    name: str
    dtype: str
    unit: str | None = None
    derived: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "unit": self.unit, "derived": self.derived}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Feature:
        return cls(doc["name"], doc["dtype"], doc.get("unit"), bool(doc.get("derived", False)))


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("leanlearn")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def _json_safe(value: Any) -> Any:
    """Numpy scalars to Python, non-finite floats to None (JSON has no inf/nan)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def canonical_bytes(doc: dict[str, Any]) -> bytes:
    """The bytes the content hash is taken over: sorted keys, no spaces, UTF-8, ``content_hash`` left out."""
    body = {k: v for k, v in doc.items() if k != "content_hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def content_hash(doc: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_bytes(doc)).hexdigest()


def fingerprint(frame: pd.DataFrame) -> dict[str, Any]:
    """Rows, columns and a sha256 of the values — enough to tell later whether a pack saw this very table."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return {"rows": len(frame), "columns": [str(c) for c in frame.columns], "sha256": digest.hexdigest()}


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    schema = json.loads(resources.files("leanlearn.packs").joinpath("rulepack.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


def validate_document(doc: Any, where: str = "rule pack") -> None:
    """Check ``doc`` against the rule-pack JSON Schema; raise :class:`PackError` naming the first problem."""
    if not isinstance(doc, dict):
        raise PackError(f"{where}: a rule pack is a JSON object, got {type(doc).__name__}")
    if doc.get("schema") != SCHEMA_ID:
        raise PackError(
            f"{where}: schema is {doc.get('schema')!r}, expected {SCHEMA_ID!r}; "
            "this file is not a leanlearn rule pack, or was written by an incompatible version"
        )
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        path = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise PackError(f"{where}: field {path}: {err.message}{more}")


@dataclass(frozen=True, slots=True)
class RulePack:
    """A versionable, transferable set of rules with everything needed to apply them elsewhere."""

    name: str
    line: str
    targets: tuple[Target, ...]
    rules: RuleSet
    features: tuple[Feature, ...] = ()
    derived: tuple[tuple[str, str], ...] = ()
    discretization: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    mining: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=_now)
    parent: str | None = None
    description: str = ""
    leanlearn_version: str = field(default_factory=_version)

    # -- JSON -----------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The pack as a JSON document, with its ``content_hash``."""
        doc: dict[str, Any] = {
            "schema": SCHEMA_ID,
            "name": self.name,
            "line": self.line,
            "description": self.description,
            "targets": [t.to_json() for t in self.targets],
            "features": [f.to_json() for f in self.features],
            "derived": [{"name": n, "expr": e} for n, e in self.derived],
            "discretization": _json_safe(self.discretization),
            "rules": self.rules.to_json(),
            "mining": _json_safe(self.mining),
            "data": _json_safe(self.data),
            "created": self.created,
            "parent": self.parent,
            "leanlearn_version": self.leanlearn_version,
        }
        doc = _json_safe(doc)
        doc["content_hash"] = content_hash(doc)
        return doc

    @property
    def content_hash(self) -> str:
        return self.to_json()["content_hash"]

    @classmethod
    def from_json(cls, doc: Any, where: str | None = None) -> RulePack:
        """Validate (schema, then content hash) and build; raise :class:`PackError` on any problem."""
        label = where or (f"rule pack {doc.get('name')!r}" if isinstance(doc, dict) else "rule pack")
        validate_document(doc, label)
        stored = doc["content_hash"]
        computed = content_hash(doc)
        if stored != computed:
            raise PackError(
                f"{label}: content hash mismatch — the file was changed after it was written "
                f"(stored {stored[:19]}…, computed {computed[:19]}…); restore the original or re-export the pack"
            )
        return cls(
            name=doc["name"],
            line=doc["line"],
            description=doc.get("description", ""),
            targets=tuple(Target.from_json(t) for t in doc["targets"]),
            rules=RuleSet.from_json(doc["rules"]),
            features=tuple(Feature.from_json(f) for f in doc["features"]),
            derived=tuple((d["name"], d["expr"]) for d in doc["derived"]),
            discretization=doc["discretization"],
            mining=doc["mining"],
            data=doc["data"],
            created=doc["created"],
            parent=doc.get("parent"),
            leanlearn_version=doc.get("leanlearn_version", "0+unknown"),
        )

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write the pack as pretty JSON (atomically: a reader never sees half a file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.dumps(), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> RulePack:
        """Read and verify a pack file; every problem is a :class:`PackError` naming the file."""
        path = Path(path)
        if not path.exists():
            raise PackError(f"{path}: no such rule pack file")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise PackError(f"{path}: not a UTF-8 text file; a rule pack is JSON") from None
        except json.JSONDecodeError as exc:
            raise PackError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
        return cls.from_json(doc, where=str(path))

    # -- use ------------------------------------------------------------------------------------------------
    @property
    def derive(self) -> dict[str, str]:
        return dict(self.derived)

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with the pack's derived features added (parsed with the whitelist, never executed)."""
        return evaluate_derived(frame, {n: e for n, e in self.derived if n not in frame.columns})

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per row: ids of the rules that fire (``rules``), and one 0/1 column per target (any rule fires)."""
        prepared = self.prepare(frame)
        out = pd.DataFrame(index=frame.index)
        out["rules"] = self.rules.fired(prepared).to_numpy()
        for target in self.targets:
            hit = np.zeros(len(frame), dtype=bool)
            for rule in self.rules.for_target(target.name):
                hit |= rule.mask(prepared)
            out[f"{target.name}_predicted"] = hit.astype(int)
        return out

    def with_rules(self, rules: RuleSet) -> RulePack:
        return replace(self, rules=rules)


def check_waste(waste: str) -> str:
    if waste not in WASTES:
        raise PackError(f"waste {waste!r} is not one of {', '.join(WASTES)}")
    return waste
