"""A rule pack in another line's vocabulary: feature renames, code maps, unit conversions and per-line constants.

A line that imports another line's rules rarely names things the same way: its MES calls ``humidity_mean``
``rh_frac`` and records it as a fraction, its material ``A`` is ``A1``, its defect flag is ``nok``. A *mapping*
says how the origin's vocabulary reads on the target line; :func:`translate` rewrites the pack's rules into the
target's columns (and units, and codes), :func:`check_compatibility` says — before anything runs — everything that
does not fit, and :func:`import_pack` makes the new pack for the target line with its lineage.

The mapping file (YAML, read through :func:`leanlearn.yamlfile.read_yaml`: safe, bounded)
-------------------------------------------------------------------------------------------
.. code-block:: yaml

    schema: leanlearn.mapping/1   # required
    source_line: L1               # optional: if given, must be the pack's line
    target_line: L2               # optional: if given, must be the line imported to
    description: L1 → L2          # optional
    keep_unmapped: false          # optional: a code without an entry in `codes` stays as it is (default: refused)
    features:                     # keyed by the ORIGIN feature name, as the pack's rules use it
      humidity_mean: {column: rh_frac, expr: "rh_frac * 100", unit: "%RH"}   # a unit conversion
      material: {column: mat, codes: {A: A1, B: B7}}                          # rename + code map
      speed: speed_mpm                                                        # plain rename (short form)
      shift_team: {value: day}                                                # a per-line constant
    targets:                      # keyed by the origin target name
      defect: {column: nok}       # rename (or short form `defect: nok`); the waste value stays the pack's
    units: {rh_frac: "1", speed_mpm: m/min}   # optional: units of the TARGET line's columns

A feature entry is text (a rename) or a mapping with these keys:

- ``column`` — the target line's column holding the feature (default: the origin name);
- ``codes`` — origin code → target code, for the values of ``==``, ``!=`` and ``in`` conditions (quote codes YAML
  would read as something else: ``"no"``, ``"01"``; codes that are not text may also be written as a list of
  ``[origin, target]`` pairs). ``keep_unmapped`` (true/false) overrides the top-level one. A code a rule uses and the
  map does not list is refused (naming the rule and the code) unless kept; codes merged into one target code are
  refused where a rule tells them apart;
- ``expr`` — the ORIGIN feature's value computed from the target line's columns (a safe expression,
  :mod:`leanlearn.mining.expressions`, never ``eval``); it may read ``column`` and the columns declared in
  ``units`` or as another entry's ``column``. ``unit`` is the unit it yields: where the pack declares a unit for the
  feature, the mapping must say it and it must be that unit. An expression that is affine in one column
  (``a * x + b``, found from its syntax — ``+ - * / **``, numbers, one column — and checked numerically on probes
  over ±10⁹) rewrites the thresholds and discretisation cuts into the target's unit (``<`` becomes ``>`` where the
  slope is negative, ``between`` stays ordered; a threshold within a few ulps of a short decimal is written as that
  decimal: 303.15, not 303.15000000000003). Any other expression — and any conversion the pack's own derived
  features read — becomes a derived feature named after the origin feature, computed on the target data;
- ``unit`` on a rename — the unit of the target column (as ``units:`` says it); a unit other than the pack's with no
  ``expr`` converting it is refused;
- ``value`` — a constant of the target line (a number or a text). A number becomes a derived feature of that value;
  a text becomes a derived feature ``1`` and each condition on it ``== 1`` where the constant satisfies it, else
  ``== 0`` (a condition that never holds on this line).

An entry may name one of the pack's derived features: the target line has it (as a column, a conversion or a
constant) and the pack's formula for it is dropped. Renames reach the pack's derived expressions (rewritten through
their syntax tree, never by text substitution). Two origin names that would become one target column are refused.

Limits (each ends in one :class:`MappingError` naming the file and the key): :data:`MAX_ENTRIES` feature and
target entries, :data:`MAX_CODES` codes over all entries, :data:`MAX_UNITS` declared units, :data:`MAX_NAME` characters
per name or code, :data:`MAX_EXPR` characters per expression; the file itself is bounded by
:mod:`leanlearn.limits` (1 MiB, 100 aliases, 100,000 values).

What a translated pack keeps: rule ids, every evidence field (support, confidence, n, hits, p-values, ci,
base_rate, shift — the ORIGIN's figures, the claims transfer validation checks) and the review records. What it
drops: the signature (it is a new document).

Examples
--------
>>> from leanlearn.mining.rules import Condition, Rule, RuleSet
>>> from leanlearn.packs.pack import Feature, RulePack, Target
>>> rule = Rule.from_counts([Condition("humidity_mean", ">=", 70.0), Condition("material", "==", "A")], "defect",
...                         hits=30, n=100, positives=60, rows=1000, id="r1")
>>> pack = RulePack(name="p", line="L1", targets=(Target("defect"),), rules=RuleSet((rule,)),
...                 features=(Feature("humidity_mean", "float64", "%RH"), Feature("material", "object")))
>>> mapping = Mapping.from_dict({"schema": "leanlearn.mapping/1", "features": {
...     "humidity_mean": {"column": "rh_frac", "expr": "rh_frac * 100", "unit": "%RH"},
...     "material": {"column": "mat", "codes": {"A": "A1"}}}, "targets": {"defect": "nok"}})
>>> translate(pack, mapping).rules[0].text
'rh_frac >= 0.7 and mat == A1 → nok'
>>> mapping.content_hash.startswith("sha256:")
True
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leanlearn.errors import ExpressionError, LeanlearnError, PackError
from leanlearn.mining.expressions import MAX_LENGTH, Expression
from leanlearn.mining.rules import Condition, RuleSet
from leanlearn.packs.pack import Feature, RulePack
from leanlearn.yamlfile import Checker, did_you_mean, type_name

__all__ = [
    "MAPPING_SCHEMA", "MAX_CODES", "MAX_ENTRIES", "MAX_EXPR", "MAX_NAME", "MAX_UNITS", "Compatibility",
    "FeatureMap", "Mapping", "MappingError", "affine_form", "check_compatibility", "compatibility", "import_pack",
    "require_compatible", "translate",
]

MAPPING_SCHEMA = "leanlearn.mapping/1"
#: Most feature + target entries in one mapping.
MAX_ENTRIES = 5_000
#: Most codes over all ``codes`` maps of one mapping.
MAX_CODES = 50_000
#: Most entries under ``units``.
MAX_UNITS = 5_000
#: Longest name, code or unit, in characters.
MAX_NAME = 256
#: Longest ``expr``, in characters (the expression parser's own limit).
MAX_EXPR = MAX_LENGTH

_TOP_KEYS = ("schema", "source_line", "target_line", "description", "keep_unmapped", "features", "targets", "units")
_FEATURE_KEYS = ("column", "codes", "keep_unmapped", "expr", "unit", "value")
_TARGET_KEYS = ("column",)
_NUMERIC_OPS = ("<", "<=", ">", ">=", "between")
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_AFFINE_STEPS = frozenset({"num", "col", "neg", "pos", "bin"})
_AFFINE_BINOPS = frozenset({"+", "-", "*", "/", "**"})
_SHOWN_IDS = 5


class MappingError(PackError):
    """A mapping file is malformed, or a pack cannot be put into a target line's vocabulary with it."""


@dataclass(frozen=True, slots=True)
class FeatureMap:
    """How one origin feature reads on the target line (see the module docstring for the keys)."""

    column: str | None = None
    codes: dict[Any, Any] | None = None
    keep_unmapped: bool | None = None
    expr: str | None = None
    unit: str | None = None
    value: Any = None
    constant: bool = False  # whether ``value`` was given (a constant may not be empty, but say so explicitly)

    @property
    def kind(self) -> str:
        """``"constant"``, ``"expr"`` or ``"rename"``."""
        return "constant" if self.constant else "expr" if self.expr is not None else "rename"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.constant:
            out["value"] = self.value
        if self.column is not None:
            out["column"] = self.column
        if self.codes is not None:
            out["codes"] = [[k, v] for k, v in sorted(self.codes.items(), key=lambda kv: (str(type(kv[0])), kv[0]))]
        if self.keep_unmapped is not None:
            out["keep_unmapped"] = self.keep_unmapped
        if self.expr is not None:
            out["expr"] = _normal_expr(self.expr)
        if self.unit is not None:
            out["unit"] = self.unit
        return out


@dataclass(frozen=True, slots=True)
class Mapping:
    """A parsed, checked mapping from an origin line's vocabulary to a target line's.

    Build with :meth:`load` (a YAML file) or :meth:`from_dict`; ``where`` names it in messages.
    """

    features: dict[str, FeatureMap] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    source_line: str | None = None
    target_line: str | None = None
    keep_unmapped: bool = False
    description: str = ""
    where: str = field(default="mapping", compare=False)

    # -- reading ------------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Mapping:
        """Read and check a mapping YAML file; every problem is one :class:`MappingError` naming the file and key.

        >>> Mapping.load("nowhere.yaml")
        Traceback (most recent call last):
        ...
        leanlearn.packs.mapping.MappingError: nowhere.yaml: no such mapping file; check the path ...
        """
        from leanlearn.yamlfile import read_yaml

        doc = read_yaml(path, MappingError, "mapping")
        return cls.from_dict(doc, where=str(path))

    @classmethod
    def from_dict(cls, doc: Any, where: str = "mapping") -> Mapping:
        """Check a parsed mapping document and build the :class:`Mapping`.

        >>> Mapping.from_dict({"schema": "leanlearn.mapping/1", "featurs": {}}, where="m.yaml")
        Traceback (most recent call last):
        ...
        leanlearn.packs.mapping.MappingError: m.yaml: unknown key 'featurs'; did you mean 'features'? allowed keys: ...
        """
        check = Checker(where, MappingError)
        example = f"schema: {MAPPING_SCHEMA}"
        if doc is None:
            raise check.fail("", f"is empty; a mapping starts with `{example}` and lists features and targets")
        if isinstance(doc, dict) and str(doc.get("schema", "")).startswith("leanlearn.sparkplug-mapping/"):
            raise check.fail("schema", f"is {doc['schema']!r:.80}: this file maps Sparkplug B metrics for "
                                       "`leanlearn monitor --format sparkplug --mapping`, not a pack onto another "
                                       f"line; a pack mapping starts with `{example}`")
        doc = check.keys(doc, _TOP_KEYS, "", example)
        if doc.get("schema") != MAPPING_SCHEMA:
            raise check.fail("schema", f"is {doc.get('schema')!r:.80}, expected {MAPPING_SCHEMA!r}; write `{example}` "
                                       "as the first line (a newer format needs a newer leanlearn)")
        source_line = _optional_name(check, doc.get("source_line"), "source_line")
        target_line = _optional_name(check, doc.get("target_line"), "target_line")
        description = doc.get("description") or ""
        if not isinstance(description, str):
            raise check.fail("description", f"must be text, got {type_name(description)}")
        keep = _optional_bool(check, doc.get("keep_unmapped"), "keep_unmapped")
        units_doc = doc.get("units") or {}
        units_doc = check.keys(units_doc, list(units_doc) if isinstance(units_doc, dict) else (), "units",
                               "units: {rh_frac: '1'}")
        if len(units_doc) > MAX_UNITS:
            raise check.fail("units", f"has {len(units_doc):,} entries, more than the limit of {MAX_UNITS:,}")
        units = {_name(check, k, "units", "a column name"): _name(check, v, f"units.{k}", "a unit, e.g. '%RH'")
                 for k, v in units_doc.items()}
        features_doc = doc.get("features") or {}
        targets_doc = doc.get("targets") or {}
        for key, value in (("features", features_doc), ("targets", targets_doc)):
            if not isinstance(value, dict):
                raise check.fail(key, f"must be a mapping keyed by the origin's names, got {type_name(value)}; "
                                      f"e.g. {key}: {{humidity_mean: rh}}")
        if len(features_doc) + len(targets_doc) > MAX_ENTRIES:
            raise check.fail("features", f"{len(features_doc) + len(targets_doc):,} feature and target entries, more "
                                         f"than the limit of {MAX_ENTRIES:,}")
        features: dict[str, FeatureMap] = {}
        n_codes = 0
        for origin, entry in features_doc.items():
            name = _name(check, origin, "features", "an origin feature name")
            features[name] = _feature(check, name, entry)
            n_codes += len(features[name].codes or {})
            if n_codes > MAX_CODES:
                raise check.fail(f"features.{name}.codes", f"more than {MAX_CODES:,} codes over all entries (the "
                                                           "limit); a code map that large belongs in the data")
        targets: dict[str, str] = {}
        for origin, entry in targets_doc.items():
            name = _name(check, origin, "targets", "an origin target name")
            key = f"targets.{name}"
            if isinstance(entry, dict):
                entry = check.keys(entry, _TARGET_KEYS, key, f"{name}: {{column: nok}}").get("column")
            targets[name] = _name(check, entry, key if not isinstance(targets_doc[origin], dict) else f"{key}.column",
                                  f"{name}: nok (the target line's column)")
            if name in features:
                raise check.fail(key, f"{name!r} is listed under features too; a name is a feature or a target")
        features = {k: v if v.keep_unmapped != bool(keep) else replace(v, keep_unmapped=None)
                    for k, v in features.items()}  # an entry repeating the default says nothing more
        mapping = cls(features, targets, units, source_line, target_line, bool(keep), description.strip(), where)
        mapping._check_expressions(check)
        return mapping

    def _check_expressions(self, check: Checker) -> None:
        declared = set(self.units) | {f.column for f in self.features.values() if f.column is not None}
        for origin, entry in self.features.items():
            if entry.expr is None:
                continue
            key = f"features.{origin}.expr"
            try:
                expr = Expression.parse(entry.expr)
            except ExpressionError as exc:
                raise check.fail(key, f"{exc}") from None
            allowed = declared | ({entry.column} if entry.column else set())
            unknown = sorted(c for c in expr.columns if c not in allowed)
            if unknown:
                raise check.fail(key, f"reads column {unknown[0]!r}, which is neither this entry's column "
                                      f"({entry.column!r}) nor declared under `units` or as another entry's column; "
                                      f"set `column: {unknown[0]}` or declare it, e.g. units: {{{unknown[0]}: ...}}")
            if not expr.columns:
                raise check.fail(key, f"{entry.expr!r:.80} reads no column; for a constant of the line write "
                                      f"`{origin}: {{value: ...}}`")

    # -- writing ------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The mapping as a plain document (defaults left out, expressions normalised) — what its hash covers.

        >>> Mapping.from_dict({"schema": "leanlearn.mapping/1", "targets": {"defect": "nok"}}).to_dict()
        {'schema': 'leanlearn.mapping/1', 'features': {}, 'targets': {'defect': {'column': 'nok'}}}
        """
        out: dict[str, Any] = {"schema": MAPPING_SCHEMA}
        if self.source_line is not None:
            out["source_line"] = self.source_line
        if self.target_line is not None:
            out["target_line"] = self.target_line
        if self.description:
            out["description"] = self.description
        if self.keep_unmapped:
            out["keep_unmapped"] = True
        out["features"] = {k: v.to_dict() for k, v in self.features.items()}
        out["targets"] = {k: {"column": v} for k, v in self.targets.items()}
        if self.units:
            out["units"] = dict(self.units)
        return out

    @property
    def content_hash(self) -> str:
        """``"sha256:" + hex`` of the canonical JSON of :meth:`to_dict`: the same mapping, however formatted,
        hashes the same."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def column_of(self, origin: str) -> str:
        """The target column an origin feature or target is read from (its own name when not mapped)."""
        if origin in self.targets:
            return self.targets[origin]
        entry = self.features.get(origin)
        return entry.column if entry is not None and entry.column is not None else origin


# -- parsing helpers --------------------------------------------------------------------------------------------
def _name(check: Checker, value: Any, key: str, example: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or (isinstance(value, float)
                                                                                and not math.isfinite(value)):
        raise check.fail(key, f"must be text, got {type_name(value)}; e.g. {example}")
    text = str(value).strip()
    if not text:
        raise check.fail(key, f"is empty; e.g. {example}")
    if len(text) > MAX_NAME:
        raise check.fail(key, f"is {len(text):,} characters long, more than the limit of {MAX_NAME}")
    if "`" in text:
        raise check.fail(key, f"{text!r:.80} holds a backtick, which no expression can name; rename the column")
    return text


def _optional_name(check: Checker, value: Any, key: str) -> str | None:
    return None if value is None else _name(check, value, key, f"{key}: L2")


def _optional_bool(check: Checker, value: Any, key: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise check.fail(key, f"must be true or false, got {type_name(value)} {value!r:.40}")


def _code(check: Checker, value: Any, key: str) -> Any:
    if isinstance(value, bool):
        raise check.fail(key, f"is {value!r}: YAML reads yes/no/on/off/true/false as true/false; quote the code, "
                              "e.g. \"no\": \"NO1\"")
    if isinstance(value, float) and not math.isfinite(value):
        raise check.fail(key, "is not a finite number; quote the code")
    if isinstance(value, (int, float)):
        return value
    return _name(check, value, key, "a code, e.g. A1")


def _feature(check: Checker, origin: str, entry: Any) -> FeatureMap:
    key = f"features.{origin}"
    if not isinstance(entry, dict):
        return FeatureMap(column=_name(check, entry, key, f"{origin}: new_column_name"))
    check.keys(entry, _FEATURE_KEYS, key, f"{origin}: {{column: new_name}}")
    if "value" in entry:
        others = sorted(set(entry) - {"value", "unit"})
        if others:
            raise check.fail(f"{key}.{others[0]}", "a constant (`value`) takes no column, codes or expression; "
                                                   "drop one of them")
        value = entry["value"]
        if isinstance(value, bool) or value is None or not isinstance(value, (str, int, float)) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise check.fail(f"{key}.value", f"must be a finite number or a text, got {type_name(value)} "
                                             f"{value!r:.40}; quote a text YAML would read otherwise")
        if isinstance(value, str) and (not value.strip() or len(value) > MAX_NAME):
            raise check.fail(f"{key}.value", f"must be a non-empty text of at most {MAX_NAME} characters")
        unit = None if entry.get("unit") is None else _name(check, entry["unit"], f"{key}.unit", "'%RH'")
        return FeatureMap(value=value, unit=unit, constant=True)
    column = None if entry.get("column") is None else _name(check, entry["column"], f"{key}.column", "rh_frac")
    codes = None
    if "codes" in entry:
        raw = entry["codes"]
        if isinstance(raw, list) and raw and all(isinstance(p, list) and len(p) == 2 for p in raw):
            raw = dict((k, v) for k, v in raw)  # the [[from, to], ...] form to_dict writes (codes need not be text)
        if not isinstance(raw, dict) or not raw:
            raise check.fail(f"{key}.codes", f"must be a non-empty mapping origin code → target code, got "
                                             f"{type_name(raw)}; e.g. codes: {{A: A1, B: B7}}")
        if len(raw) > MAX_CODES:
            raise check.fail(f"{key}.codes", f"has {len(raw):,} codes, more than the limit of {MAX_CODES:,}")
        codes = {_code(check, k, f"{key}.codes"): _code(check, v, f"{key}.codes.{k}") for k, v in raw.items()}
    keep = _optional_bool(check, entry.get("keep_unmapped"), f"{key}.keep_unmapped")
    expr = entry.get("expr")
    if expr is not None:
        if not isinstance(expr, str) or not expr.strip():
            raise check.fail(f"{key}.expr", f"must be an expression (text), got {type_name(expr)}; e.g. "
                                            "\"rh_frac * 100\"")
        if len(expr) > MAX_EXPR:
            raise check.fail(f"{key}.expr", f"is {len(expr):,} characters long, more than the limit of {MAX_EXPR:,}")
        if codes is not None:
            raise check.fail(f"{key}.codes", "an expression gives a number; codes map text codes — use one of them")
        expr = expr.strip()
    unit = None if entry.get("unit") is None else _name(check, entry["unit"], f"{key}.unit", "'%RH'")
    if column is None and expr is None and codes is None and unit is None:
        raise check.fail(key, f"says nothing; give a column, codes, an expr or a value, e.g. {origin}: "
                              "{column: new_name}")
    return FeatureMap(column=column, codes=codes, keep_unmapped=keep, expr=expr, unit=unit)


# -- expressions ------------------------------------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"__col(\d+)__")


def _rewrite_expr(source: str, rename: dict[str, str]) -> str:
    """``source`` with the columns in ``rename`` renamed (written in backticks), through the syntax tree."""
    expr = Expression.parse(source)
    names = dict(expr.names)
    tree = ast.parse(_backtick_free(source, names), mode="eval")
    real: list[str] = []

    class Renamer(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            column = names.get(node.id, node.id)
            new = rename.get(column, column)
            if node.id in names or new != column:
                real.append(new)
                return ast.copy_location(ast.Name(id=f"__col{len(real) - 1}__", ctx=ast.Load()), node)
            return node

    text = ast.unparse(Renamer().visit(tree))
    return _PLACEHOLDER.sub(lambda m: f"`{real[int(m.group(1))]}`", text)


def _backtick_free(source: str, names: dict[str, str]) -> str:
    """``source`` with each backtick name replaced by its placeholder (as :meth:`Expression.parse` does it)."""
    counter = iter(range(len(names)))
    return re.sub(r"`([^`]*)`", lambda m: f"__col{next(counter)}__", source).strip()


def _normal_expr(source: str) -> str:
    try:
        return _rewrite_expr(source, {})
    except (ExpressionError, SyntaxError, ValueError, RecursionError):
        return source.strip()


def _probes() -> np.ndarray:
    fixed = [-1e9, -1e6, -12345.6, -1000.0, -303.15, -100.0, -42.5, -7.3, -1.0, -0.25, 0.0, 0.001, 0.3, 1.0, 2.5,
             7.0, 42.42, 100.0, 273.15, 1000.0, 12345.6, 1e6, 1e9]
    rng = np.random.default_rng(20240331)
    spread = rng.choice([-1.0, 1.0], 48) * 10 ** rng.uniform(-3, 9, 48)
    return np.concatenate([fixed, spread])


_PROBES = _probes()


def _tidy(value: float, ulps: int = 4) -> float:
    """The shortest decimal of at most 12 significant digits within ``ulps`` units in the last place of ``value``
    (``86.00000000000001`` → 86, ``303.15000000000003`` → 303.15): the number a person wrote, before rounding
    noise. Any other value stays as it is (``110 / 60`` keeps all its digits, so data computed the same way lands
    on the same side of it)."""
    if not math.isfinite(value) or value == 0.0 or len(repr(value)) <= 13:
        return value  # already as short as a person writes it
    for digits in range(1, 13):
        candidate = float(f"{value:.{digits}g}")
        if abs(candidate - value) <= ulps * math.ulp(value):
            return candidate
    return value


def affine_form(source: str) -> tuple[str, float, float] | None:
    """``(column, a, b)`` when the expression is ``a * column + b`` with ``a != 0``, else ``None``.

    Affine candidates are found from the syntax (numbers, one column, ``+ - * / **``, unary minus: no function, no
    comparison, no branch), then checked numerically: the expression must equal ``a x + b`` to 1e-9 (relative) on 71
    probes spread over ±10⁹. Anything else is ``None`` — the caller then computes the feature instead.

    >>> affine_form("`T [K]` - 273.15")
    ('T [K]', 1.0, -273.15)
    >>> affine_form("(f - 32) * 5 / 9")[0], affine_form("log(x)"), affine_form("x ** 2")
    ('f', None, None)
    """
    expr = Expression.parse(source)
    if len(expr.columns) != 1:
        return None
    if any(step.kind not in _AFFINE_STEPS or (step.kind == "bin" and step.arg not in _AFFINE_BINOPS)
           or (step.kind == "col" and step.arg[2]) for step in expr.program):
        return None
    (column,) = tuple(expr.columns)
    x = _PROBES
    y = expr.evaluate(pd.DataFrame({column: x})).to_numpy(dtype=float)
    if not np.isfinite(y).all():
        return None
    b = _tidy(float(y[x == 0.0][0]))
    spans = np.array([1.0, 10.0, 1000.0, 1e6])
    at = expr.evaluate(pd.DataFrame({column: spans})).to_numpy(dtype=float)
    raw = [float((g - y[x == 0.0][0]) / s) for g, s in zip(at, spans)]
    tidy = [t for t, r in zip(map(_tidy, raw), raw) if t != r]
    a = tidy[-1] if tidy else raw[-1]  # the slope as a person wrote it, else the widest span's (least cancellation)
    if a == 0.0 or not math.isfinite(a):
        return None
    predicted = a * x + b
    if not np.all(np.abs(y - predicted) <= 1e-9 * (np.abs(a * x) + abs(b) + 1e-300) + 1e-12):
        return None
    return column, a, b


def _invert(value: Any, a: float, b: float) -> float:
    """The target-unit threshold ``x`` with ``a x + b == value`` (tidied: see :func:`_tidy`)."""
    return _tidy((float(value) - b) / a)


# -- translation ------------------------------------------------------------------------------------------------
def _ids(rule_ids: list[str]) -> str:
    unique = list(dict.fromkeys(rule_ids))
    shown = ", ".join(repr(r) for r in unique[:_SHOWN_IDS])
    more = f" and {len(unique) - _SHOWN_IDS} more" if len(unique) > _SHOWN_IDS else ""
    return f"rule{'s' if len(unique) > 1 else ''} {shown}{more}"


@dataclass
class _Plan:
    """What happens to each origin feature (built once, then applied to rules, features, derived, cuts)."""

    rename: dict[str, str] = field(default_factory=dict)  # origin -> target column (conditions and expressions)
    affine: dict[str, tuple[str, float, float]] = field(default_factory=dict)
    derived: list[tuple[str, str]] = field(default_factory=list)  # conversion / constant features, first
    text_constants: dict[str, str] = field(default_factory=dict)
    codes: dict[str, tuple[dict[Any, Any], bool]] = field(default_factory=dict)
    inverse: dict[str, dict[Any, set[Any]]] = field(default_factory=dict)  # target code -> origin codes
    problems: list[str] = field(default_factory=list)


def _uses(pack: RulePack) -> dict[str, list[str]]:
    """Origin feature name → ids of the rules whose conditions use it."""
    out: dict[str, list[str]] = {}
    for rule in pack.rules:
        for cond in rule.conditions:
            out.setdefault(cond.feature, []).append(rule.id)
    return out


def _plan(pack: RulePack, mapping: Mapping) -> _Plan:
    plan = _Plan()
    text_users: dict[str, list[str]] = {}
    for rule in pack.rules:
        for cond in rule.conditions:
            if any(isinstance(v, str) for v in (cond.value if isinstance(cond.value, tuple) else (cond.value,))):
                text_users.setdefault(cond.feature, []).append(rule.id)
    read_by_derived: dict[str, list[str]] = {}
    for name, source in pack.derived:
        try:
            for column in Expression.parse(source).columns:
                read_by_derived.setdefault(column, []).append(name)
        except ExpressionError as exc:
            plan.problems.append(f"derived feature {name!r} of the pack: {exc}")
    for origin, entry in mapping.features.items():
        where = f"feature {origin!r} ({mapping.where}: features.{origin})"
        if entry.kind == "constant":
            if isinstance(entry.value, str):
                plan.text_constants[origin] = entry.value
                plan.derived.append((origin, "1"))
                if origin in read_by_derived:
                    plan.problems.append(f"{where}: the text constant {entry.value!r} is read by the pack's derived "
                                         f"feature(s) {', '.join(map(repr, read_by_derived[origin]))}; an expression "
                                         "computes with numbers only — map the feature to a column instead")
            else:
                plan.derived.append((origin, repr(float(entry.value))))
            continue
        column = entry.column or origin
        if entry.kind == "expr":
            assert entry.expr is not None
            form = affine_form(entry.expr)
            text_values = text_users.get(origin, [])
            if text_values:
                plan.problems.append(f"{where}: the expression gives a number, but {_ids(text_values)} compare "
                                     f"{origin!r} with text; map its codes with `codes:` instead of `expr:`")
            if form is not None:
                plan.affine[origin] = form
            if form is None or origin in read_by_derived:
                if origin in Expression.parse(entry.expr).columns:
                    plan.problems.append(f"{where}: the expression {entry.expr!r:.80} reads a column named like the "
                                         f"feature it computes, which a derived feature cannot replace; it is "
                                         f"needed as a derived feature because "
                                         + ("it is not affine in one column" if form is None else
                                            f"the pack's derived feature(s) {', '.join(read_by_derived[origin])} "
                                            "read it")
                                         + "; rename the target column before importing")
                plan.derived.append((origin, entry.expr))
            continue
        if entry.codes is not None:
            keep = mapping.keep_unmapped if entry.keep_unmapped is None else entry.keep_unmapped
            plan.codes[origin] = (entry.codes, keep)
            inverse: dict[Any, set[Any]] = {}
            for code, target in entry.codes.items():
                inverse.setdefault(target, set()).add(code)
            plan.inverse[origin] = inverse
        if column != origin:
            plan.rename[origin] = column
    return plan


def _rewrite_condition(cond: Condition, plan: _Plan, rule_id: str) -> Condition:
    feature = cond.feature
    if feature in plan.text_constants:
        holds = bool(cond.mask_values(pd.Series([plan.text_constants[feature]], dtype=object))[0]) \
            if cond.op not in _NUMERIC_OPS else None
        if holds is None:
            plan.problems.append(f"rule {rule_id!r}: condition {cond.text!r} compares {feature!r} with a number, but "
                                 f"the mapping sets it to the text {plan.text_constants[feature]!r}")
            return cond
        return Condition(feature, "==", 1 if holds else 0)
    if feature in plan.affine:
        column, a, b = plan.affine[feature]
        if any(isinstance(v, str) for v in (cond.value if isinstance(cond.value, tuple) else (cond.value,))):
            return cond  # refused in _plan (text compared with a converted number)
        values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
        converted = [_invert(v, a, b) for v in values]
        if not all(math.isfinite(v) for v in converted):
            plan.problems.append(f"rule {rule_id!r}: condition {cond.text!r:.120} has no finite threshold in the "
                                 f"target unit of {column!r} (the conversion takes it beyond ±1.8e308); check the "
                                 f"mapping's features.{feature}.expr")
            return cond
        if cond.op == "between":
            lo, hi = sorted(converted)
            return Condition(column, "between", (lo, hi))
        if cond.op == "in":
            return Condition(column, "in", tuple(converted))
        op = cond.op if a > 0 else _FLIP[cond.op]
        return Condition(column, op, converted[0])  # type: ignore[arg-type]
    value = cond.value
    if feature in plan.codes and cond.op in ("==", "!=", "in"):
        codes, keep = plan.codes[feature]
        values = value if cond.op == "in" else (value,)
        missing = [v for v in values if v not in codes]
        if missing and not keep:
            plan.problems.append(
                f"rule {rule_id!r}: condition {cond.text!r:.120} uses code {missing[0]!r} of {feature!r}, which the "
                f"mapping's codes do not map; add `{missing[0]}: <target code>` under features.{feature}.codes, or "
                "set keep_unmapped: true if the code is the same on both lines")
            return cond
        translated = tuple(dict.fromkeys(codes.get(v, v) for v in values))
        inverse = plan.inverse[feature]
        back: set[Any] = set()
        for code in translated:  # every mapped origin code the target codes stand for
            back |= inverse.get(code, set())
        if back - set(values):
            merged = sorted(map(str, back - set(values)))
            plan.problems.append(
                f"rule {rule_id!r}: condition {cond.text!r:.120} would change its meaning: code(s) {', '.join(merged)} "
                f"of {feature!r} map to the same target code as {', '.join(map(str, values))}; the target line cannot "
                "tell them apart — map them to distinct codes or leave the rule out")
        value = translated if cond.op == "in" else translated[0]
    return Condition(plan.rename.get(feature, feature), cond.op, value)


def _translate(pack: RulePack, mapping: Mapping | None, line: str | None) -> tuple[RulePack, list[str]]:
    """The translated pack and the problems found on the way (the pack is only meaningful without problems)."""
    m = mapping or Mapping()
    problems: list[str] = []
    if m.source_line is not None and m.source_line != pack.line:
        problems.append(f"{m.where}: source_line is {m.source_line!r}, but the pack {pack.name!r} comes from line "
                        f"{pack.line!r}; use the mapping written for line {pack.line!r}, or correct source_line")
    if line is not None and m.target_line is not None and m.target_line != line:
        problems.append(f"{m.where}: target_line is {m.target_line!r}, but the pack is imported to line {line!r}; "
                        f"use the mapping written for line {line!r}, or correct target_line")
    # a target the pack does not have is not used (a line's mapping serves each of its packs; registered packs hold
    # one target each): compatibility() warns about it
    plan = _plan(pack, m)
    problems.extend(plan.problems)
    plan.problems = problems
    mapped_names = set(m.features)
    rename_expr = {**plan.rename, **m.targets}
    derived: list[tuple[str, str]] = list(plan.derived)
    for name, source in pack.derived:
        if name in mapped_names:
            continue  # the mapping says how the target line has this feature
        try:
            derived.append((name, _rewrite_expr(source, rename_expr)))
        except (ExpressionError, SyntaxError, ValueError):
            continue  # already reported by _plan
        coded = [c for c in Expression.parse(source).columns if c in plan.codes]
        if coded:
            problems.append(f"derived feature {name!r} of the pack reads {coded[0]!r}, whose codes the mapping "
                            "changes; codes inside expressions are not rewritten — map the derived feature itself "
                            f"(features.{name}: {{column: ...}})")
    rules = []
    for rule in pack.rules:
        conditions = tuple(_rewrite_condition(c, plan, rule.id) for c in rule.conditions)
        outcome = rule.outcome
        if outcome.feature in m.targets:
            outcome = Condition(m.targets[outcome.feature], outcome.op, outcome.value)
        rules.append(replace(rule, conditions=conditions, outcome=outcome))
    owned: list[tuple[str, Feature]] = []  # (origin name, feature in the target's vocabulary)
    derived_names = {n for n, _ in derived}
    for feat in pack.features:
        if feat.name in plan.affine:
            column = plan.affine[feat.name][0]
            owned.append((feat.name, Feature(column, "float64", m.units.get(column), False)))
            if feat.name in derived_names:
                owned.append((feat.name, Feature(feat.name, "float64", feat.unit, True)))
        elif feat.name in derived_names and (feat.name in mapped_names):
            owned.append((feat.name, Feature(feat.name, "float64", feat.unit, True)))
        else:
            new = plan.rename.get(feat.name, feat.name)
            owned.append((feat.name, replace(feat, name=new, derived=feat.derived and feat.name not in mapped_names,
                                             unit=feat.unit if new == feat.name else m.units.get(new, feat.unit))))
    features = [f for _, f in owned]
    discretization: dict[str, dict[str, list[float]]] = {}
    for target, cuts in pack.discretization.items():
        out: dict[str, list[float]] = {}
        for feature, values in cuts.items():
            if feature in plan.affine:  # the cuts follow the conditions into the target's unit
                column, a, b = plan.affine[feature]
                out[column] = sorted(_invert(v, a, b) for v in values)
            else:
                out[plan.rename.get(feature, feature)] = list(values)
        discretization[m.targets.get(target, target)] = out
    # two origin names must not become one target name
    final: dict[str, str] = {}
    listed = {origin for origin, _ in owned}
    used = [o for o in dict.fromkeys(c.feature for r in pack.rules for c in r.conditions) if o not in listed]
    names = [(o, Feature(plan.affine[o][0] if o in plan.affine else plan.rename.get(o, o), "")) for o in used]
    for origin, feat in [*owned, *names]:
        if feat.name in final and final[feat.name] != origin:
            problems.append(f"features {final[feat.name]!r} and {origin!r} both become {feat.name!r} on the target "
                            f"line; map them to distinct columns in {m.where}")
        final.setdefault(feat.name, origin)
    for origin, column in m.targets.items():
        if column in final:
            problems.append(f"target {origin!r} becomes column {column!r}, which feature {final[column]!r} also "
                            f"becomes; map them to distinct columns in {m.where}")
    targets = tuple(replace(t, name=m.targets.get(t.name, t.name)) for t in pack.targets)
    translated = replace(pack, line=line or pack.line, targets=targets, rules=RuleSet(tuple(rules)),
                         features=tuple(features), derived=tuple(derived), discretization=discretization,
                         signature=None)
    return translated, problems


def translate(pack: RulePack, mapping: Mapping | None = None, *, line: str | None = None) -> RulePack:
    """The same rules in the target line's vocabulary (ids, evidence and reviews kept; no signature).

    Raises one :class:`MappingError` listing every rule the mapping cannot translate (an unmapped code, two names
    becoming one, a text compared with a converted number, a mismatched source or target line).

    >>> from leanlearn.mining.rules import Condition, Rule, RuleSet
    >>> from leanlearn.packs.pack import Target
    >>> rule = Rule.from_counts([Condition("T", "<", 30.0)], "scrap", hits=5, n=10, positives=20, rows=100, id="r1")
    >>> pack = RulePack(name="p", line="L1", targets=(Target("scrap"),), rules=RuleSet((rule,)))
    >>> mapping = Mapping.from_dict({"schema": "leanlearn.mapping/1", "features": {"T": {"column": "T_F",
    ...                              "expr": "(T_F - 32) * 5 / 9"}}})
    >>> translate(pack, mapping, line="L2").rules[0].conditions[0].text
    'T_F < 86'
    """
    _check_inputs(pack, mapping)
    translated, problems = _translate(pack, mapping, line)
    if problems:
        raise MappingError(_joined(f"pack {pack.name!r} cannot be translated with "
                                   f"{(mapping or Mapping()).where}", problems))
    return translated


def _check_inputs(pack: Any, mapping: Any) -> None:
    if not isinstance(pack, RulePack):
        raise MappingError(f"expected a RulePack, got {type(pack).__name__}; load the pack with RulePack.load")
    if mapping is not None and not isinstance(mapping, Mapping):
        raise MappingError(f"expected a Mapping, got {type(mapping).__name__}; read the file with Mapping.load")


def _joined(head: str, problems: list[str]) -> str:
    if len(problems) == 1:
        return f"{head}: {problems[0]}"
    return f"{head}: {len(problems)} problems — " + "; ".join(f"({i}) {p}" for i, p in enumerate(problems, 1))


# -- compatibility ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Compatibility:
    """What stops a pack from running on a table (``problems``) and what merely deserves a look (``warnings``)."""

    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def _is_text_column(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype))


def compatibility(pack: RulePack, frame: pd.DataFrame, mapping: Mapping | None = None) -> Compatibility:
    """Check, before anything runs, that ``pack`` (through ``mapping``) can be applied to ``frame``.

    Problems: the pack's schema version; a mapping that cannot translate the pack; a column a rule, a derived
    feature or a target needs missing from ``frame``; a numeric condition on a text column, a text code compared
    with a numeric column; a target that is not binary (or not numeric, for a numeric target); a unit that differs
    from the pack's without a conversion; a derived feature named like a data column. Warnings: codes of a rule
    that never occur in the target data, mapping entries the pack does not use.

    >>> from leanlearn.mining.rules import Condition, Rule, RuleSet
    >>> from leanlearn.packs.pack import Target
    >>> rule = Rule.from_counts([Condition("m", "==", "A")], "bad", hits=5, n=10, positives=20, rows=100, id="r1")
    >>> pack = RulePack(name="p", line="L1", targets=(Target("bad"),), rules=RuleSet((rule,)))
    >>> compatibility(pack, pd.DataFrame({"m": ["B"], "bad": [0]})).warnings
    ("rule 'r1': code 'A' of column 'm' never occurs in the target data (1 rows); the rule cannot fire there",)
    """
    from leanlearn.packs.pack import SCHEMA_ID

    problems: list[str] = []
    warnings: list[str] = []
    if not isinstance(pack, RulePack):
        return Compatibility((f"expected a RulePack, got {type(pack).__name__}; load the pack with RulePack.load",))
    if not isinstance(frame, pd.DataFrame):
        return Compatibility((f"expected the target data as a table (DataFrame), got {type(frame).__name__}",))
    # a RulePack in memory is of this leanlearn's schema (a file of another was refused when it was read)
    written_by = str(pack.leanlearn_version).split(".")[0]
    if written_by.isdigit() and _version_major() is not None and int(written_by) > (_version_major() or 0):
        problems.append(f"pack {pack.name!r} ({SCHEMA_ID}) was written by leanlearn {pack.leanlearn_version}, newer "
                        "than this one; upgrade leanlearn before applying it")
    if mapping is not None and not isinstance(mapping, Mapping):
        return Compatibility((f"expected a Mapping, got {type(mapping).__name__}; read the file with Mapping.load",))
    m = mapping or Mapping()
    translated, found = _translate(pack, m, None)
    problems.extend(found)
    columns = {str(c) for c in frame.columns}
    derived = dict(translated.derived)
    origin_of = {v: k for k, v in {**{k: m.column_of(k) for k in m.features}, **m.targets}.items()}
    hint_cols = ", ".join(sorted(columns)[:15]) + (" …" if len(columns) > 15 else "")

    def origin_text(column: str) -> str:
        origin = origin_of.get(column)
        return f" (the pack's {origin!r})" if origin is not None and origin != column else ""

    # derived features: named like a data column, or reading a missing column
    for name, source in translated.derived:
        if name in columns:
            problems.append(f"derived feature {name!r} is named like a column of the target data, which would be "
                            f"used instead of the computed one; rename the column {name!r} in the data, or map "
                            f"features.{name} to it")
        try:
            expr = Expression.parse(source)
        except ExpressionError as exc:
            problems.append(f"derived feature {name!r}: {exc}")
            continue
        for column in sorted(expr.columns):
            if column not in columns and column not in derived:
                problems.append(f"derived feature {name!r} ({source!r:.80}) reads column {column!r}"
                                f"{origin_text(column)}, which the target data does not have; map it in the mapping's "
                                f"features, or add the column (columns: {hint_cols})")
            elif column in columns and _is_text_column(frame[column]) and column not in derived:
                try:
                    Expression.parse(source, {column: frame[column].dtype})
                except ExpressionError as exc:
                    problems.append(f"derived feature {name!r}: {exc}")
    # conditions
    missing: dict[str, list[str]] = {}
    wrong: dict[tuple[str, str], list[str]] = {}
    absent_codes: dict[tuple[str, str], list[str]] = {}
    seen_values: dict[str, set[Any]] = {}
    series_of: dict[str, pd.Series] = {}
    text_of: dict[str, bool] = {}
    numbers_only: dict[str, bool] = {}
    for rule in translated.rules:
        for cond in rule.conditions:
            column = cond.feature
            if column in derived:
                continue
            if column not in columns:
                missing.setdefault(column, []).append(rule.id)
                continue
            if column not in series_of:
                series_of[column] = frame[column]
                text_of[column] = _is_text_column(series_of[column])
            series = series_of[column]
            values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
            text_values = [v for v in values if isinstance(v, str)]
            if cond.op in _NUMERIC_OPS and text_of[column]:
                if column not in numbers_only:  # an object column of numbers compares as numbers
                    numbers_only[column] = bool(series.dropna().map(
                        lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool)).all())
                if not numbers_only[column]:
                    wrong.setdefault((column, "numbers"), []).append(rule.id)
                    continue
            if text_values and not text_of[column]:
                wrong.setdefault((column, "codes"), []).append(rule.id)
                continue
            if cond.op in ("==", "in"):
                if column not in seen_values:
                    seen_values[column] = set(series.dropna().unique().tolist()) if len(series) else set()
                for v in values:
                    if v not in seen_values[column]:
                        absent_codes.setdefault((column, repr(v)), []).append(rule.id)
    for column, ids in missing.items():
        origin = origin_of.get(column, column)
        need = "needs" if len(set(ids)) == 1 else "need"
        problems.append(f"column {column!r}{origin_text(column)}, which {_ids(ids)} {need}, is not in the target data"
                        f"{did_you_mean(column, columns)}; map it to the target's column in the mapping "
                        f"(features: {{{origin}: <column>}}) — the target's columns: {hint_cols}")
    for (column, need), ids in wrong.items():
        dtype = frame[column].dtype
        if need == "numbers":
            problems.append(f"column {column!r}{origin_text(column)} holds text (dtype {dtype}), but {_ids(ids)} "
                            "compare it with numbers; convert the column to numbers, or map the feature to a numeric "
                            "column")
        else:
            problems.append(f"column {column!r}{origin_text(column)} holds numbers (dtype {dtype}), but {_ids(ids)} "
                            "compare it with text codes; map the codes (features.<origin>.codes) or the column")
    for (column, code), ids in absent_codes.items():
        warnings.append(f"{_ids(ids)}: code {code} of column {column!r}{origin_text(column)} never occurs in the "
                        f"target data ({len(frame):,} rows); the rule cannot fire there")
    # targets
    from leanlearn.mining.miner import binary_outcome

    for target in translated.targets:
        if target.name not in columns:
            origin = origin_of.get(target.name, target.name)
            problems.append(f"target column {target.name!r}{origin_text(target.name)} is not in the target data"
                            f"{did_you_mean(target.name, columns)}; map it in the mapping (targets: {{{origin}: "
                            f"<column>}}) — the target's columns: {hint_cols}")
            continue
        series = frame[target.name]
        if target.kind == "numeric":
            if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
                problems.append(f"target {target.name!r}{origin_text(target.name)} is numeric in the pack, but the "
                                f"column holds {series.dtype}; map the target to a numeric column")
        else:
            try:
                binary_outcome(series.dropna(), target.name)
            except LeanlearnError as exc:
                problems.append(f"target {target.name!r}{origin_text(target.name)}: {exc}")
    # units
    uses = _uses(pack)
    for feat in pack.features:
        if feat.unit is None:
            continue
        entry = m.features.get(feat.name)
        if entry is not None and entry.kind == "expr":
            if entry.unit is None:
                problems.append(f"feature {feat.name!r}: the pack's rules are in {feat.unit!r}, but the mapping does "
                                f"not say which unit its expression yields; add unit: {feat.unit!r} to "
                                f"features.{feat.name} once the expression converts to it")
            elif entry.unit.strip() != feat.unit.strip():
                problems.append(f"feature {feat.name!r}: the mapping's expression yields {entry.unit!r}, but the "
                                f"pack's rules are in {feat.unit!r}; convert to {feat.unit!r} (features."
                                f"{feat.name}.expr) and set unit: {feat.unit!r}")
            continue
        if entry is not None and entry.kind == "constant":
            if entry.unit is not None and entry.unit.strip() != feat.unit.strip():
                problems.append(f"feature {feat.name!r}: the constant is in {entry.unit!r}, the pack's rules in "
                                f"{feat.unit!r}; give the value in {feat.unit!r}")
            continue
        column = m.column_of(feat.name)
        unit = m.units.get(column) or (entry.unit if entry is not None else None)
        if unit is not None and unit.strip() != feat.unit.strip():
            ids = uses.get(feat.name, [])
            used = f" ({_ids(ids)})" if ids else ""
            problems.append(f"feature {feat.name!r}{used} is in {feat.unit!r} in the pack, but the target's column "
                            f"{column!r} is in {unit!r} and the mapping gives no conversion; add "
                            f"features.{feat.name}.expr converting {column} to {feat.unit} (with unit: "
                            f"{feat.unit!r})")
    # mapping entries the pack does not know
    target_names = {t.name for t in pack.targets}
    for name in m.targets:
        if name not in target_names:
            warnings.append(f"{m.where}: targets.{name}: the pack has no target {name!r}"
                            f"{did_you_mean(name, target_names)}; the entry is not used")
    known = {f.name for f in pack.features} | set(uses) | {n for n, _ in pack.derived}
    for origin in m.features:
        if origin not in known:
            warnings.append(f"{m.where}: features.{origin}: the pack has no feature {origin!r}"
                            f"{did_you_mean(origin, known)}; the entry is not used")
    return Compatibility(tuple(dict.fromkeys(problems)), tuple(dict.fromkeys(warnings)))


def _version_major() -> int | None:
    from leanlearn.packs.pack import _version

    major = _version().split(".")[0]
    return int(major) if major.isdigit() else None


def check_compatibility(pack: RulePack, frame: pd.DataFrame, mapping: Mapping | None = None) -> list[str]:
    """The problems of :func:`compatibility` (empty: the pack can run on ``frame``)."""
    return list(compatibility(pack, frame, mapping).problems)


def require_compatible(pack: RulePack, frame: pd.DataFrame, mapping: Mapping | None = None, *,
                       where: str = "target data") -> Compatibility:
    """:func:`compatibility`, raising one :class:`MappingError` that lists every problem; returns it (with its
    warnings) when there is none."""
    result = compatibility(pack, frame, mapping)
    if result.problems:
        name = pack.name if isinstance(pack, RulePack) else "?"
        raise MappingError(_joined(f"{where}: pack {name!r} does not fit", list(result.problems)))
    return result


# -- import -------------------------------------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def import_pack(pack: RulePack, line: str, mapping: Mapping | None = None, *, source_model: str | None = None,
                source_version: str | int | None = None, source_aliases: tuple[str, ...] | list[str] = ()
                ) -> RulePack:
    """A new pack for ``line``: ``pack`` translated through ``mapping``, with its lineage.

    ``lineage`` holds ``source_line``, ``source_model``, ``source_version``, ``source_content_hash`` (the pack as
    read), ``mapping_hash`` (``None`` without a mapping), ``source_aliases``, ``imported`` (UTC) and ``history``
    (the source pack's lineage, without its own history, followed by that history). Without ``source_model`` /
    ``source_version`` / ``source_aliases``, those of ``pack.lineage["exported_from"]`` are used when present.
    ``parent`` is the source content hash; rule ids, evidence and review records are kept.

    >>> from leanlearn.mining.rules import RuleSet
    >>> from leanlearn.packs.pack import Target
    >>> pack = RulePack(name="p", line="L1", targets=(Target("scrap"),), rules=RuleSet())
    >>> new = import_pack(pack, "L2")
    >>> new.line, new.parent == pack.content_hash, new.lineage["source_line"], new.lineage["mapping_hash"]
    ('L2', True, 'L1', None)
    """
    _check_inputs(pack, mapping)
    if not isinstance(line, str) or not line.strip():
        raise MappingError(f"the target line must be a non-empty name, got {line!r}; e.g. --line L2")
    line = line.strip()
    source_hash = pack.source_hash or pack.content_hash
    translated = translate(pack, mapping, line=line)
    found = pack.lineage.get("exported_from")
    exported: dict[str, Any] = found if isinstance(found, dict) else {}
    model = source_model if source_model is not None else exported.get("model")
    version = source_version if source_version is not None else exported.get("version")
    aliases = list(source_aliases) if source_aliases else list(exported.get("aliases") or [])
    previous = {k: v for k, v in pack.lineage.items() if k != "history"}
    history = ([previous] if previous else []) + list(pack.lineage.get("history") or [])
    lineage: dict[str, Any] = {
        "source_line": pack.line,
        "source_model": None if model is None else str(model),
        "source_version": None if version is None else str(version),
        "source_content_hash": source_hash,
        "mapping_hash": None if mapping is None else mapping.content_hash,
        "source_aliases": [str(a) for a in aliases],
        "imported": _now(),
        "history": history,
    }
    if pack.signature:  # who signed what was imported (verified by the caller: leanlearn.packs.signing.read_pack)
        lineage["source_signature"] = {k: pack.signature.get(k) for k in ("signer", "key_id", "signed")}
    return replace(translated, line=line, parent=source_hash, lineage=lineage, signature=None,
                   created=_now())

