"""RulePack: one JSON document holding rules, how to recompute their features, and where they came from.

A pack is data only. Loading it checks the JSON Schema shipped beside this module (``rulepack.schema.json``) and
the pack's content hash; it never executes anything from the file (no pickle, and derived-feature expressions go
through the whitelisted parser in :mod:`leanlearn.mining.expressions`, checked against the pack's feature types
when the pack loads).

What the content hash proves: that the document is the one its writer hashed — *integrity* against edits and
truncation. It does not prove who wrote it (*authenticity*): anyone can recompute the hash of an edited file.

Limits (each ends in one :class:`PackError`; override per call, or for a process with the environment variable):

- :data:`MAX_PACK_BYTES` — 128 MiB per pack file (``max_bytes=``, ``LEANLEARN_MAX_PACK_BYTES``);
- :data:`MAX_PACK_RULES` — 150,000 rules per pack (``max_rules=``, ``LEANLEARN_MAX_PACK_RULES``);
- :data:`MAX_NESTING` — 64 levels of nested objects/arrays in the free-form parts (``mining``, ``data``);
- integers of more than :data:`MAX_INT_DIGITS` digits, ``NaN`` and ``Infinity`` are refused (not JSON numbers).

The schema is checked by a validator compiled from ``rulepack.schema.json`` (:func:`compile_schema`; the subset of
JSON Schema the file uses, and tested to agree with ``jsonschema``): a 100,000-rule pack validates in a few
seconds instead of minutes.

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
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leanlearn._util import json_plain as _json_safe  # numpy scalars to Python, NaN / infinity to None
from leanlearn._util import write_text_atomic
from leanlearn.errors import ExpressionError, PackError
from leanlearn.mining.expressions import Expression, dtype_kind, evaluate_derived
from leanlearn.mining.rules import WASTES, RuleSet

SCHEMA_ID = "leanlearn.rulepack/1"
#: Largest pack file :meth:`RulePack.load` reads, in bytes (``LEANLEARN_MAX_PACK_BYTES`` overrides).
MAX_PACK_BYTES = 128 * 2**20
#: Most rules one pack may hold (``LEANLEARN_MAX_PACK_RULES`` overrides).
MAX_PACK_RULES = 150_000
#: Deepest nesting of objects and arrays in a pack's free-form parts (``mining``, ``data``).
MAX_NESTING = 64
#: Longest integer literal in a pack, in digits.
MAX_INT_DIGITS = 100


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


#: Top-level fields outside the canonical content: the hash itself and the signature over that content.
UNHASHED_FIELDS = frozenset({"content_hash", "signature"})


def canonical_bytes(doc: dict[str, Any]) -> bytes:
    """The bytes the content hash (and a signature) is taken over: sorted keys, no spaces, UTF-8, ``content_hash``
    and ``signature`` left out — signing a pack does not change its content hash."""
    body = {k: v for k, v in doc.items() if k not in UNHASHED_FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def content_hash(doc: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_bytes(doc)).hexdigest()


#: Rows hashed at a time by :func:`fingerprint`: a block's uint64 hashes (512 KiB) stay in cache.
FINGERPRINT_ROWS = 1 << 16


def fingerprint(frame: pd.DataFrame, *, block_rows: int = FINGERPRINT_ROWS) -> dict[str, Any]:
    """Rows, columns and a sha256 of the values — enough to tell later whether a pack saw this very table.

    The digest (unchanged since the first packs): sha256 of the JSON list of the column names, then of pandas' row
    hashes ``pd.util.hash_pandas_object(frame, index=False)`` as uint64 bytes, in row order. A row's hash depends
    only on its own values, so the hashes are computed ``block_rows`` at a time and fed to the sha256 in order —
    the same digest without a table-sized array of hashes. A plain ``bool`` column's hashes are pandas' hashes of
    ``False`` and ``True`` put in place (one pass, not pandas' six per column); every other column is hashed
    by pandas itself, and the columns are combined with pandas' own combination (tests/test_fingerprint.py
    compares with ``hash_pandas_object`` of the whole table).

    >>> import pandas as pd
    >>> doc = fingerprint(pd.DataFrame({"ok": [True, False], "t": [1.5, None]}))
    >>> doc["rows"], doc["columns"], len(doc["sha256"])
    (2, ['ok', 't'], 64)
    """
    from pandas.core.util.hashing import combine_hash_arrays  # type: ignore[attr-defined]  # not in the stubs

    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    columns = [frame.iloc[:, j] for j in range(frame.shape[1])]
    false_hash, true_hash = (np.uint64(h) for h in pd.util.hash_array(np.array([False, True])))
    step = max(1, int(block_rows))
    scratch = np.empty(min(step, len(frame)), dtype=np.uint64)
    for start in range(0, len(frame), step):
        stop = min(start + step, len(frame))

        def hashes(start: int = start, stop: int = stop) -> Iterator[np.ndarray]:
            # pandas' combination folds each column's hashes in before asking for the next: one scratch array
            # serves every flag column of the block
            flag_hashes = scratch[: stop - start]
            for column in columns:
                values = column._values[start:stop]
                if isinstance(values, np.ndarray) and values.dtype == np.bool_:
                    np.multiply(values, false_hash ^ true_hash, out=flag_hashes, dtype=np.uint64)  # 0 or f ^ t
                    if false_hash:
                        flag_hashes ^= false_hash  # f or t
                    yield flag_hashes
                else:
                    yield pd.util.hash_array(values)

        block = combine_hash_arrays(hashes(), len(columns), stop - start)
        digest.update(block.astype(np.uint64, copy=False).tobytes())
    return {"rows": len(frame), "columns": [str(c) for c in frame.columns], "sha256": digest.hexdigest()}


# -- limits -----------------------------------------------------------------------------------------------------
def _limit(value: int | None, env: str, default: int) -> int:
    """``value`` if given, else the environment variable ``env`` (a positive integer), else ``default``."""
    if value is not None:
        return int(value)
    text = os.environ.get(env, "").strip().replace("_", "")
    if not text:
        return default
    if not text.isdigit() or int(text) <= 0:
        raise PackError(f"{env}={os.environ[env]!r} is not a positive whole number; unset it or write e.g. {default}")
    return int(text)


def _too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects/arrays more than ``limit`` levels deep (iterative: no recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                pending.append((child, depth + 1))
    return False


def _refuse_constant(name: str) -> Any:
    raise PackError(f"{name} is not a JSON number (JSON has no NaN or Infinity); write null or a finite number")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise PackError(f"the number {text[:40]} is beyond the float range (about ±1.8e308)")
    return value


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise PackError(f"an integer of {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS}) is not a count "
                        "leanlearn writes")
    return int(text)


def parse_json(text: str | bytes, where: str = "rule pack") -> Any:
    """Parse pack JSON strictly: no ``NaN``/``Infinity``, no huge integers, no pathological nesting.

    Every problem is one :class:`PackError` naming ``where``.

    >>> parse_json('{"a": NaN}', "p.json")
    Traceback (most recent call last):
    ...
    leanlearn.errors.PackError: p.json: NaN is not a JSON number (JSON has no NaN or Infinity); write null ...
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_parse_float, parse_int=_parse_int)
    except PackError as exc:
        raise PackError(f"{where}: {exc}") from None
    except UnicodeDecodeError:
        raise PackError(f"{where}: not a UTF-8 text file; a rule pack is JSON") from None
    except json.JSONDecodeError as exc:
        raise PackError(f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except (RecursionError, MemoryError):
        raise PackError(f"{where}: nested too deeply to read (a rule pack nests a few levels, at most "
                        f"{MAX_NESTING})") from None
    except ValueError as exc:  # e.g. Python's limit on digits of an integer
        raise PackError(f"{where}: not valid JSON ({str(exc).splitlines()[0][:200]})") from None


# -- schema ------------------------------------------------------------------------------------------------------
_Check = Callable[[Any], "list[tuple[list[Any], str]] | None"]
_IGNORED = frozenset({"$schema", "$id", "title", "description", "format", "$comment", "examples", "default"})
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
}


_EXACT_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,), "null": (type(None),),
    "number": (int, float), "integer": (int,),
}


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def compile_schema(schema: Any, root: Any = None) -> _Check:
    """Compile the subset of JSON Schema (2020-12) that ``rulepack.schema.json`` uses into one Python function.

    The function returns ``None`` for a valid document, else a list of ``(path, message)`` (path as a list of keys
    and indices), with messages worded as ``jsonschema`` words them. Keywords: ``type const enum required
    properties additionalProperties items minItems maxItems minLength minimum maximum pattern $ref (local) allOf
    if/then``; ``format`` is an annotation (as in ``jsonschema`` without a format checker). A keyword outside this
    subset raises ``ValueError`` here, so a schema change cannot slip past the validator unnoticed.

    >>> check = compile_schema({"type": "object", "required": ["n"], "properties": {"n": {"minimum": 0}}})
    >>> check({"n": 3}) is None, check({"n": -1}), check({})
    (True, [(['n'], '-1 is less than the minimum of 0')], [([], "'n' is a required property")])
    """
    root = schema if root is None else root
    compiled: dict[str, _Check] = {}

    def ref(pointer: str) -> _Check:
        if not pointer.startswith("#/"):
            raise ValueError(f"only local $ref are supported, got {pointer!r}")
        if pointer not in compiled:
            target = root
            for part in pointer[2:].split("/"):
                target = target[part]
            holder: list[_Check] = []
            compiled[pointer] = lambda v: holder[0](v)  # placeholder while compiling (recursive schemas)
            holder.append(build(target))
            compiled[pointer] = holder[0]
        return compiled[pointer]

    def build(node: Any) -> _Check:
        if node is True or node == {}:
            return lambda v: None
        if node is False:
            return lambda v: [([], "False schema does not allow " + repr(v))]
        unknown = set(node) - _IGNORED - {
            "type", "const", "enum", "required", "properties", "additionalProperties", "items", "minItems",
            "maxItems", "minLength", "maxLength", "minimum", "maximum", "pattern", "$ref", "allOf", "if", "then",
            "$defs",
        }
        if unknown:
            raise ValueError(f"JSON Schema keyword(s) {sorted(unknown)} not supported by compile_schema")
        checks: list[_Check] = []
        if "$ref" in node:
            target = ref(node["$ref"])
            checks.append(lambda v: target(v))
        if "type" in node:
            names = [node["type"]] if isinstance(node["type"], str) else list(node["type"])
            tests = [_TYPES[n] for n in names]
            exact = frozenset(t for n in names for t in _EXACT_TYPES[n])  # fast path: the types json.loads makes
            shown = repr(names[0]) if len(names) == 1 else repr(names)

            def check_type(v: Any) -> list[tuple[list[Any], str]] | None:
                if type(v) in exact:
                    return None
                for test in tests:
                    if test(v):
                        return None
                return [([], f"{v!r:.200} is not of type {shown}")]

            checks.append(check_type)
        if "const" in node:
            const = node["const"]
            checks.append(lambda v: None if _json_equal(v, const) else [([], f"{const!r} was expected")])
        if "enum" in node:
            enum = list(node["enum"])
            texts = frozenset(e for e in enum if isinstance(e, str))

            def check_enum(v: Any) -> list[tuple[list[Any], str]] | None:
                if type(v) is str and v in texts:
                    return None
                if any(_json_equal(v, e) for e in enum):
                    return None
                return [([], f"{v!r:.200} is not one of {enum!r}")]

            checks.append(check_enum)
        if "minLength" in node:
            n_min = node["minLength"]
            checks.append(lambda v: None if not isinstance(v, str) or len(v) >= n_min
                          else [([], f"{v!r} should be non-empty" if n_min == 1 else f"{v!r} is too short")])
        if "maxLength" in node:
            n_max = node["maxLength"]
            checks.append(lambda v: None if not isinstance(v, str) or len(v) <= n_max
                          else [([], f"{v!r:.200} is too long")])
        if "pattern" in node:
            pattern = re.compile(node["pattern"])
            checks.append(lambda v: None if not isinstance(v, str) or pattern.search(v)
                          else [([], f"{v!r:.200} does not match {pattern.pattern!r}")])
        if "minimum" in node or "maximum" in node:
            low, high = node.get("minimum"), node.get("maximum")

            def check_bound(v: Any) -> list[tuple[list[Any], str]] | None:
                if not _TYPES["number"](v):
                    return None
                if low is not None and v < low:
                    return [([], f"{v!r} is less than the minimum of {low!r}")]
                if high is not None and v > high:
                    return [([], f"{v!r} is greater than the maximum of {high!r}")]
                return None

            checks.append(check_bound)
        if "minItems" in node or "maxItems" in node:
            lo, hi = node.get("minItems", 0), node.get("maxItems")

            def check_len(v: Any) -> list[tuple[list[Any], str]] | None:
                if not isinstance(v, list):
                    return None
                if len(v) < lo:
                    return [([], f"{v!r:.200} should be non-empty" if lo == 1 else f"{v!r:.200} is too short")]
                if hi is not None and len(v) > hi:
                    return [([], f"{v!r:.200} is too long")]
                return None

            checks.append(check_len)
        if "required" in node:
            required = list(node["required"])

            def check_required(v: Any) -> list[tuple[list[Any], str]] | None:
                if not isinstance(v, dict):
                    return None
                missing: list[tuple[list[Any], str]] = [
                    ([], f"{k!r} is a required property") for k in required if k not in v
                ]
                return missing or None

            checks.append(check_required)
        if "properties" in node or "additionalProperties" in node:
            props = {k: build(sub) for k, sub in (node.get("properties") or {}).items()}
            extra = node.get("additionalProperties", True)
            extra_check = None if extra is True or extra is False else build(extra)

            def check_props(v: Any) -> list[tuple[list[Any], str]] | None:
                check: _Check | None
                if not isinstance(v, dict):
                    return None
                errors: list[tuple[list[Any], str]] = []
                if extra is True:  # only the listed properties are checked
                    for key, listed in props.items():
                        if key in v:
                            found = listed(v[key])
                            if found:
                                errors.extend(([key, *path], message) for path, message in found)
                    return errors or None
                unexpected: list[str] = []
                for key, value in v.items():
                    check = props.get(key)
                    if check is None:
                        if extra is False:
                            unexpected.append(key)
                            continue
                        check = extra_check
                        if check is None:
                            continue
                    found = check(value)
                    if found:
                        errors.extend(([key, *path], message) for path, message in found)
                if unexpected:
                    names = ", ".join(repr(k)[:80] for k in unexpected[:5])
                    verb = "was" if len(unexpected) == 1 else "were"
                    errors.append(([], f"Additional properties are not allowed ({names} {verb} unexpected)"))
                return errors or None

            checks.append(check_props)
        if "items" in node:
            item = build(node["items"])

            def check_items(v: Any) -> list[tuple[list[Any], str]] | None:
                if not isinstance(v, list):
                    return None
                errors: list[tuple[list[Any], str]] = []
                for i, value in enumerate(v):
                    found = item(value)
                    if found:
                        errors.extend(([i, *path], message) for path, message in found)
                return errors or None

            checks.append(check_items)
        for sub in node.get("allOf", ()):
            checks.append(build(sub))
        if "if" in node:
            condition = build(node["if"])
            then = build(node.get("then", True))
            checks.append(lambda v: then(v) if condition(v) is None else None)

        if len(checks) == 1:
            return checks[0]

        def check_all(v: Any) -> list[tuple[list[Any], str]] | None:
            errors = None
            for check in checks:
                found = check(v)
                if found:
                    errors = found if errors is None else errors + found
            return errors

        return check_all

    return build(schema)


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    text = resources.files("leanlearn.packs").joinpath("rulepack.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@lru_cache(maxsize=1)
def _validator() -> _Check:
    return compile_schema(_schema())


def validate_document(doc: Any, where: str = "rule pack", *, max_rules: int | None = None) -> None:
    """Check ``doc`` against the rule-pack JSON Schema and the limits; raise :class:`PackError` naming the first
    problem (its field path) and how many more there are."""
    if not isinstance(doc, dict):
        raise PackError(f"{where}: a rule pack is a JSON object, got {type(doc).__name__}")
    if doc.get("schema") != SCHEMA_ID:
        raise PackError(
            f"{where}: schema is {doc.get('schema')!r:.80}, expected {SCHEMA_ID!r}; "
            "this file is not a leanlearn rule pack, or was written by an incompatible version"
        )
    limit = _limit(max_rules, "LEANLEARN_MAX_PACK_RULES", MAX_PACK_RULES)
    rules = doc.get("rules")
    if isinstance(rules, list) and len(rules) > limit:
        raise PackError(
            f"{where}: {len(rules):,} rules, more than the limit of {limit:,}; split the pack, or raise the limit "
            "with LEANLEARN_MAX_PACK_RULES (or max_rules=...)"
        )
    errors = _validator()(doc)
    if errors:
        path_parts, message = errors[0]
        path = "/".join(str(p) for p in path_parts) or "(top level)"
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise PackError(f"{where}: field {path}: {message}{more}")
    for key in ("mining", "data", "lineage"):
        if key in doc and _too_deep(doc[key], MAX_NESTING):
            raise PackError(f"{where}: field {key} nests more than {MAX_NESTING} levels deep")


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
    lineage: dict[str, Any] = field(default_factory=dict)
    signature: dict[str, Any] | None = field(default=None, compare=False)
    _source_hash: str | None = field(default=None, init=False, repr=False, compare=False)

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
        if self.lineage:  # written only when there is a history: packs without one keep their bytes and hash
            doc["lineage"] = self.lineage
        doc = _json_safe(doc)
        doc["content_hash"] = content_hash(doc)
        if self.signature is not None:
            doc["signature"] = dict(self.signature)
        return doc

    @property
    def content_hash(self) -> str:
        """The sha256 of the pack's canonical JSON (computed now, from the pack as it is)."""
        return self.to_json()["content_hash"]

    @property
    def source_hash(self) -> str | None:
        """The content hash stored in the document this pack was read from (verified when read), else ``None``.

        Cheap: a display of a loaded pack needs no re-serialisation of its rules. A pack made with
        :func:`dataclasses.replace` or :meth:`with_rules` is a new pack: its ``source_hash`` is ``None``.
        """
        return self._source_hash

    @classmethod
    def from_json(cls, doc: Any, where: str | None = None, *, max_rules: int | None = None) -> RulePack:
        """Validate (schema and limits, content hash, expressions and condition types) and build.

        Raises :class:`PackError` on any problem, naming the field. Nothing in the document is executed.
        """
        label = where or (f"rule pack {doc.get('name')!r:.80}" if isinstance(doc, dict) else "rule pack")
        validate_document(doc, label, max_rules=max_rules)
        stored = doc["content_hash"]
        try:
            computed = content_hash(doc)
        except (ValueError, RecursionError) as exc:  # NaN/inf floats or deep nesting handed over from Python
            raise PackError(f"{label}: cannot be written as canonical JSON ({str(exc)[:120]})") from None
        if stored != computed:
            raise PackError(
                f"{label}: content hash mismatch — the file was changed after it was written "
                f"(stored {stored[:19]}…, computed {computed[:19]}…); restore the original or re-export the pack"
            )
        pack = cls(
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
            lineage=doc.get("lineage") or {},
            signature=doc.get("signature"),
        )
        pack.check_types(label)
        object.__setattr__(pack, "_source_hash", stored)
        return pack

    def check_types(self, where: str | None = None) -> None:
        """Check derived-feature expressions and rule conditions against the pack's feature schema.

        An expression must parse (whitelist) and may not do arithmetic on a text feature or compare text with a
        number; a condition ``<``, ``<=``, ``>``, ``>=`` or ``between`` needs a numeric feature. A feature the
        schema does not list is not checked. Raises :class:`PackError` naming the field.
        """
        label = where or f"rule pack {self.name!r:.80}"
        dtypes: dict[str, Any] = {f.name: f.dtype for f in self.features}
        for i, (name, expr) in enumerate(self.derived):
            try:
                Expression.parse(expr, dtypes)
            except ExpressionError as exc:
                raise PackError(f"{label}: field derived/{i}/expr (derived feature {name!r:.80}): {exc}") from None
            dtypes[name] = "float64"
        kinds = {name: dtype_kind(dtype) for name, dtype in dtypes.items()}
        for i, rule in enumerate(self.rules):
            for j, cond in enumerate(rule.conditions):
                if cond.op in ("<", "<=", ">", ">=", "between") and kinds.get(cond.feature) in ("text", "other"):
                    raise PackError(
                        f"{label}: field rules/{i}/if/{j} (rule {rule.id!r:.40}): condition {cond.text!r:.120} "
                        f"compares feature {cond.feature!r:.80} (dtype {dtypes[cond.feature]!r:.40}, not numeric) "
                        "with a number; the pack is inconsistent — re-export it"
                    )

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write the pack as pretty JSON, atomically: a reader never sees half a file, and concurrent writers
        (threads, processes) each write their own uniquely named temporary file beside ``path``, then replace it."""
        path = Path(path)
        if path.is_dir():
            raise PackError(f"{path} is a folder; give the pack a file name, e.g. {path / (self.name + '.json')}")
        return write_text_atomic(path, self.dumps())

    @classmethod
    def load(cls, path: str | Path, *, max_bytes: int | None = None, max_rules: int | None = None,
             where: str | None = None) -> RulePack:
        """Read and verify a pack file; every problem is a :class:`PackError` naming the file.

        Parameters
        ----------
        path : str or Path
        max_bytes : int, optional
            Largest file accepted; default :data:`MAX_PACK_BYTES` or ``LEANLEARN_MAX_PACK_BYTES``.
        max_rules : int, optional
            Most rules accepted; default :data:`MAX_PACK_RULES` or ``LEANLEARN_MAX_PACK_RULES``.
        where : str, optional
            How messages name the pack (default: the path), e.g. the model URI it was downloaded from.
        """
        label = where or str(path)
        doc = read_document(path, max_bytes=max_bytes, where=label)
        return cls.from_json(doc, where=label, max_rules=max_rules)

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
        self._check_columns(prepared)
        out = pd.DataFrame(index=frame.index)
        out["rules"] = self.rules.fired(prepared).to_numpy()
        for target in self.targets:
            hit = np.zeros(len(frame), dtype=bool)
            for rule in self.rules.for_target(target.name):
                hit |= rule.mask(prepared)
            out[f"{target.name}_predicted"] = hit.astype(int)
        return out

    def _check_columns(self, prepared: pd.DataFrame) -> None:
        """A numeric condition (``< <= > >= between``) on a column that holds text is one clear error."""
        checked: set[str] = set()
        for rule in self.rules:
            for cond in rule.conditions:
                if cond.feature in checked or cond.feature not in prepared.columns:
                    continue
                if cond.op not in ("<", "<=", ">", ">=", "between"):
                    continue
                checked.add(cond.feature)
                column = prepared[cond.feature]
                if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
                    continue
                present = column.dropna()
                if present.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool)).all():
                    continue  # an object column of numbers (or only missing values) compares as numbers
                example = present[present.map(lambda v: not isinstance(v, (int, float, np.number)))].iloc[0]
                raise PackError(
                    f"rule {rule.id!r:.40}: condition {cond.text!r:.120} needs numbers, but column "
                    f"{cond.feature!r:.80} holds text (e.g. {example!r:.60}); convert the column to numbers"
                )

    def with_rules(self, rules: RuleSet) -> RulePack:
        """The pack with other rules: a new document, so any signature of this one is dropped."""
        return replace(self, rules=rules, signature=None)


def read_document(path: str | Path, *, max_bytes: int | None = None, where: str | None = None) -> Any:
    """The parsed JSON of a pack file — size limit, UTF-8 and strict JSON checked, not yet the schema nor the hash
    (:meth:`RulePack.from_json` does those). Every problem is a :class:`PackError` naming the file."""
    path = Path(path)
    label = where or str(path)
    if not path.exists():
        raise PackError(f"{label}: no such rule pack file")
    if path.is_dir():
        raise PackError(f"{label}: is a folder, not a rule pack file")
    limit = _limit(max_bytes, "LEANLEARN_MAX_PACK_BYTES", MAX_PACK_BYTES)
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise PackError(
            f"{label}: larger than the limit of {limit:,} bytes for a rule pack; raise it with "
            "LEANLEARN_MAX_PACK_BYTES (or max_bytes=...) if the file is trusted"
        )
    if not data or data.isspace():
        raise PackError(f"{label}: is empty; a rule pack is a JSON object")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PackError(f"{label}: not a UTF-8 text file; a rule pack is JSON") from None
    return parse_json(text, label)


def check_waste(waste: str) -> str:
    if waste not in WASTES:
        raise PackError(f"waste {waste!r} is not one of {', '.join(WASTES)}")
    return waste
