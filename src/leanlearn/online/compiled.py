"""One generated Python function per rule pack: an event's value check and its rule evaluation in one pass.

The per-event path of the monitor asks three things of each event: may its values be used (numbers where numbers
belong, see :meth:`CompiledPack.check_row`), which rules fire (:meth:`CompiledPack.evaluate_checked`), and what the
outcomes are. :func:`event_function` writes, for one :class:`~leanlearn.online.evaluate.CompiledPack`, a Python
function that answers all three for the usual event — a plain ``dict`` that carries every column the pack reads,
finite floats (or integers up to 2**53) where numbers belong, text elsewhere — with the pack's conditions as
straight-line comparisons: the index of the pack (the interval on one feature each rule is found by, see
:mod:`leanlearn.online.evaluate`) becomes a binary search written out as nested ``if``\\ s over the interval bounds,
a rule's other conditions become ``and``-chained comparisons, derived features of plain arithmetic become inline
arithmetic on Python floats. For any other event (a column absent, a missing value, text for a number, a bool, a
NaN, an infinity, another mapping type, a division by zero…) the function returns ``None`` and the caller takes
the general path (check, then evaluate), which decides and explains; so the function is an accelerator, never a
judge: where it answers, it answers exactly what the general path would (property-tested:
``tests/test_online_compiled.py``).

What the generated code can contain, and why it is safe
--------------------------------------------------------
The source is never built from user text. Its parts are: fixed templates of this module; local names it makes
itself (``v0``, ``d1``, …); column names as dict keys, written with :func:`repr` of a ``str`` (a Python string
literal that reads back as exactly that text, whatever characters it holds, checked with
:func:`ast.literal_eval`); and numbers, written with :func:`repr` only when they are finite floats, booleans or
integers below 2**63 (which read back bit for bit). Every other constant — text values of conditions, lists of
``in`` conditions, infinities, NaN, huge integers, the derived-feature functions — is bound to a generated global
name (``_c3``) and never written into the source. The conditions themselves come parsed and validated (:class:`
~leanlearn.mining.rules.Condition`; derived features through the whitelist parser of
:mod:`leanlearn.mining.expressions`), never as text. Before :func:`compile`, the source is parsed again and every
node checked against a whitelist (one function; comparisons, ``and``/``or``/``not``, ``+ - * /``, ``if``,
``try``/``except``, ``return``, tuples and lists, assignment to its own local names, subscripts of the event,
``type(…)``, ``.append``/``.sort``/``.get`` and calls of the bound derived-feature functions; no other attribute,
no import, no loop, no other call, no name but its locals and the bound globals); it then runs with empty builtins.
A pack whose rules need anything else gets no generated function (``None``): its events take the general path.

Examples
--------
>>> from leanlearn.online.scenarios import planted_stream
>>> from leanlearn.online.evaluate import CompiledPack
>>> pack, events = planted_stream(3, 10, seed=1, reference=2000)
>>> compiled = CompiledPack(pack)
>>> event = event_function(compiled)
>>> row = events.to_dict("records")[0]
>>> fired, outcomes = event(row)
>>> (fired, list(outcomes)) == compiled.evaluate_checked(row)
True
>>> event({**row, "u": "n/a"}) is None  # not the usual event: the general path decides (here: quarantine)
True
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from leanlearn.mining import expressions as _expr
from leanlearn.mining.expressions import Expression
from leanlearn.mining.rules import Condition
from leanlearn.online.evaluate import (
    _EVALUATION_ERRORS,
    _NAN,
    CompiledPack,
    _numeric_use,
    _plain_arithmetic,
)

__all__ = ["MAX_CHECKS", "EventFunction", "event_function", "generated_source"]

Outcome = tuple[bool, bool, float]
EventFunction = Callable[[Mapping[str, Any]], "tuple[list[int], Sequence[Outcome]] | None"]

#: candidate checks (rule × piece of the index) the generated code may hold; a pack needing more keeps the index
MAX_CHECKS = 4096
_EXACT_INT = 2**53  # integers up to this compare and add as the floats they stand for
_PLAIN_CONSTANTS = (str, int, float, bool)
_SYMBOLS = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}
_NEGATED = {"<": ">=", "<=": ">"}


class _Unsupported(Exception):
    """The pack needs something the generated code does not do: no function, the general path for every event."""


def event_function(compiled: CompiledPack) -> EventFunction | None:
    """The generated check-and-evaluate function of ``compiled``, or ``None`` when its rules need the general path.

    The function takes one event (a mapping) and returns ``None`` (take the general path) or what
    ``compiled.evaluate_checked(row)`` returns for it — the indices of the rules that fire (ascending) and, per
    outcome group, ``(known, holds, value)`` — as ``(fired, outcomes)`` with ``outcomes`` a tuple; returning it means
    :meth:`CompiledPack.check_row` accepts the event unchanged.
    """
    try:
        builder = _Builder(compiled)
        source = builder.source()
    except _Unsupported:
        return None
    return _compile(source, builder.names, compiled.pack.name)


def generated_source(compiled: CompiledPack) -> str | None:
    """The source :func:`event_function` compiles for ``compiled`` (for reading and tests), or ``None``."""
    try:
        return _Builder(compiled).source()
    except _Unsupported:
        return None


class _Builder:
    """Writes the source of one pack's event function (see the module docstring for what it may contain)."""

    def __init__(self, compiled: CompiledPack) -> None:
        self.compiled = compiled
        self.names: dict[str, Any] = {"nan": _NAN, "type": type, "float": float, "int": int, "str": str,
                                      "dict": dict, "KeyError": KeyError, "ZeroDivisionError": ZeroDivisionError,
                                      "_E": _EVALUATION_ERRORS}
        self.var: dict[str, str] = {}  # feature → local variable
        self.maybe_nan: set[str] = set()  # variables that may hold NaN (derived features)
        self.checks = 0
        self.constants: set[str] = set()
        self.keys_seen: dict[str, str] = {}

    # -- pieces of code
    def const(self, value: Any) -> str:
        """A constant as code: finite floats, booleans and integers below 2**63 as literals, others by name."""
        kind = type(value)
        if kind is bool:
            return "True" if value else "False"
        if kind is int and -2**63 < value < 2**63:
            text = repr(value)
            if int(text) != value:  # pragma: no cover - repr of an int reads back
                raise _Unsupported(text)
            return text
        if kind is float and math.isfinite(value):
            text = repr(value)  # the shortest text that reads back bit for bit (sign of zero included)
            if float(text) != value or math.copysign(1.0, float(text)) != math.copysign(1.0, value):
                raise _Unsupported(text)  # pragma: no cover - repr of a finite float reads back
            return text
        return self.bind("_c", value)

    def bind(self, prefix: str, value: Any) -> str:
        name = f"{prefix}{len(self.names)}"
        self.names[name] = value
        return name

    def key(self, column: str) -> str:
        """A column name as a string literal (checked to read back as exactly that text)."""
        text = self.keys_seen.get(column)
        if text is None:
            if type(column) is not str:
                raise _Unsupported(f"column {column!r}")
            text = repr(column)
            if ast.literal_eval(text) != column:  # pragma: no cover - repr of a str reads back
                raise _Unsupported(text)
            self.keys_seen[column] = text
        return text

    def variable(self, feature: str) -> str:
        x = self.var.get(feature)
        if x is None:
            raise _Unsupported(f"feature {feature!r}")
        return x

    def test(self, cond: Condition) -> str:
        """``cond`` on its feature's variable, as the checked-event tests of the index read it."""
        x = self.variable(cond.feature)
        nan_guard = x in self.maybe_nan
        op, v = cond.op, cond.value
        if _numeric_use(cond):
            if op in _SYMBOLS:
                return f"{x} {_SYMBOLS[op]} {self.const(v)}"
            if op == "==":
                return f"{x} == {self.const(v)}"
            if op == "between":
                return f"{self.const(v[0])} <= {x} <= {self.const(v[1])}"
            if op == "!=":
                return f"({x} == {x} and {x} != {self.const(v)})" if nan_guard else f"{x} != {self.const(v)}"
            if op == "in":
                values = self.bind("_c", tuple(v))
                return f"({x} == {x} and {x} in {values})" if nan_guard else f"{x} in {values}"
            raise _Unsupported(op)  # pragma: no cover - every numeric op is above
        # a value condition (text or booleans): on a checked event, a present value compared with ==
        if op in ("==", "!="):
            if type(v) not in _PLAIN_CONSTANTS:
                raise _Unsupported(repr(v))
            symbol = "==" if op == "==" else "!="
            return f"({x} == {x} and {x} {symbol} {self.const(v)})" if nan_guard else f"{x} {symbol} {self.const(v)}"
        if op == "in":
            if not all(type(item) in _PLAIN_CONSTANTS for item in v):
                raise _Unsupported(repr(v))
            values = self.bind("_c", tuple(v))
            return f"({x} == {x} and {x} in {values})" if nan_guard else f"{x} in {values}"
        raise _Unsupported(cond.text)  # an order comparison with text: it raises on a present value

    def rule_lines(self, k: int, indent: str) -> list[str]:
        """Fire rule ``k`` if the conditions the index did not check hold."""
        self.checks += 1
        if self.checks > MAX_CHECKS:
            raise _Unsupported("too many candidate checks")
        rest = self.compiled._rest[k]
        if not rest:
            return [f"{indent}fired.append({k})"]
        return [f"{indent}if {' and '.join(self.test(c) for c in rest)}:", f"{indent}    fired.append({k})"]

    def search(self, x: str, segments: Sequence[tuple[int, ...]], bounds: Sequence[tuple[str, str]],
               lo: int, hi: int, indent: str) -> list[str]:
        """Binary search over ``segments`` (candidate rules per stretch of the line) split by ``bounds``."""
        if not any(segments[i] for i in range(lo, hi + 1)):
            return []
        if lo == hi:
            return [line for k in segments[lo] for line in self.rule_lines(k, indent)]
        mid = (lo + hi) // 2
        value, symbol = bounds[mid]
        left = self.search(x, segments, bounds, lo, mid, indent + "    ")
        right = self.search(x, segments, bounds, mid + 1, hi, indent + "    ")
        if not right:
            return [f"{indent}if {x} {symbol} {value}:", *left]
        if not left:  # x is never NaN here (checked, or guarded), so the negation is the other side
            return [f"{indent}if {x} {_NEGATED[symbol]} {value}:", *right]
        return [f"{indent}if {x} {symbol} {value}:", *left, f"{indent}else:", *right]

    def ranges(self, feature: str, breaks: Sequence[Any], pieces: Sequence[Sequence[tuple[int, Any]]]) -> list[str]:
        """One interval index: piece ``2i`` is the gap below ``breaks[i]``, piece ``2i + 1`` the point itself."""
        x = self.variable(feature)
        segments: list[tuple[int, ...]] = []
        bounds: list[tuple[str, str]] = []
        for p, piece in enumerate(pieces):
            ks = tuple(k for k, _ in piece)
            if segments and segments[-1] == ks:
                continue
            if segments:  # the bound between piece p - 1 and piece p
                q = p - 1
                bounds.append((self.const(breaks[q // 2]), "<" if q % 2 == 0 else "<="))
            segments.append(ks)
        body = self.search(x, segments, bounds, 0, len(segments) - 1, "        " if x in self.maybe_nan else "    ")
        if not body:
            return []
        return [f"    if {x} == {x}:", *body] if x in self.maybe_nan else body

    def keys(self, feature: str, table: Mapping[Any, Sequence[tuple[int, Any]]]) -> list[str]:
        """One value index: the event's value looked up in a dict, then the rules listed under it."""
        x = self.variable(feature)
        leaves = list(table.values())
        lookup = self.bind("_K", {value: i for i, value in enumerate(table)})
        segments = [tuple(k for k, _ in entries) for entries in leaves]
        bounds = [(repr(i), "<=") for i in range(len(segments) - 1)]
        body = self.search("j", segments, bounds, 0, len(segments) - 1, "        ")
        if not body:
            return []
        guard = f"{x} == {x} and " if x in self.maybe_nan else ""
        return [f"    j = {lookup}.get({x})", f"    if {guard}j is not None:", *body]

    def derived(self, name: str, expression: Expression, func: Callable[..., float], computed: set[str],
                all_derived: set[str]) -> str:
        """The code computing one derived feature: inline for plain arithmetic, else a call of its function."""
        if _plain_arithmetic(expression, func) is None:
            if expression.columns & all_derived:
                raise _Unsupported(f"{name}: a function of other derived features")
            return f"{self.bind('_f', func)}(row)"
        stack: list[str] = []
        for kind, arg, _n in expression.program:
            if kind == "num":
                stack.append(self.const(float(arg)))
            elif kind == "col":
                column = arg[0]
                if column in computed:
                    stack.append(self.var[column])
                elif column in all_derived:
                    stack.append("nan")  # a derived feature computed later: absent from the event here
                elif column in self.constants:
                    stack.append(self.const(float(_expr._CONSTANTS[column])))  # absent from the event (checked)
                else:
                    stack.append(f"({self.variable(column)} * 1.0)")  # an integer as the float it stands for
            elif kind == "bin":
                right = stack.pop()
                stack.append(f"({stack.pop()} {arg} {right})")
            elif kind == "neg":
                stack.append(f"(-{stack.pop()})")
        return stack[-1]

    # -- the whole function
    def source(self) -> str:
        compiled = self.compiled
        if not compiled._all_fast:
            raise _Unsupported("an outcome that is not numeric")
        derived_names = {n for n, _ in compiled.derived}
        constants: set[str] = set()
        for _, expression in compiled.derived:
            constants |= {arg[0] for kind, arg, _n in expression.program if kind == "col" and arg[1]
                          and _expr._CONSTANTS.get(arg[0]) is not None and arg[0] not in derived_names}
        self.constants = constants
        features = {c.feature for c in (*compiled.conditions, *compiled.groups)}
        if constants & features or constants & derived_names:
            raise _Unsupported("a column named like a constant")
        quoted = compiled._quoted
        reads, numbers, checks = [], [], []
        for column, numeric in compiled._checks:
            if column in derived_names or column in constants:
                continue
            v = f"v{len(self.var)}"
            self.var[column] = v
            reads.append(f"        {v} = row[{self.key(column)}]")
            if not numeric:
                checks.append(f"    if type({v}) is not str:\n        return None")
            elif column in quoted:
                checks.append(f"    if type({v}) is not float:\n        return None")
                numbers.append(v)
            else:
                checks.append(f"    if type({v}) is not float and (type({v}) is not int or not {-_EXACT_INT} <= {v} "
                              f"<= {_EXACT_INT}):\n        return None")
                numbers.append(v)
        absent = sorted(derived_names | constants)
        lines = ["def _event(row):", "    if type(row) is not dict:", "        return None"]
        if reads:
            lines += ["    try:", *reads, "    except KeyError:", "        return None"]
        lines += checks
        if absent:
            lines += [f"    if {' or '.join(f'{self.key(c)} in row' for c in absent)}:", "        return None"]
        if numbers:
            lines += [f"    s = {' + '.join(numbers)}", "    if s - s != 0.0:", "        return None"]
        computed: set[str] = set()
        if compiled.derived:
            body, finite = [], []
            for (name, expression), (_, func) in zip(compiled.derived, compiled._scalar_derived, strict=True):
                code = self.derived(name, expression, func, computed, derived_names)
                d = f"d{len(computed)}"
                body.append(f"        {d} = {code}")
                if not code.startswith("_f"):
                    finite.append(f"    if {d} - {d} != 0.0:\n        {d} = nan")
                self.var[name] = d
                self.maybe_nan.add(d)
                computed.add(name)
            lines += ["    try:", *body, "    except ZeroDivisionError:", "        return None",
                      "    except _E:", "        return None", *finite]
        lines.append("    fired = []")
        for feature, breaks, pieces in compiled._ranges:
            lines += self.ranges(feature, breaks, pieces)
        for feature, table in compiled._keys:
            lines += self.keys(feature, table)
        for k, _tests in compiled._linear:
            lines += self.rule_lines(k, "    ")
        if compiled._sort:
            lines.append("    fired.sort()")
        outcomes = []
        for group, numeric in zip(compiled.groups, compiled.numeric, strict=True):
            if group.feature not in self.var or group.feature in derived_names:
                raise _Unsupported(f"outcome {group.feature!r}")
            test = self.test(group)
            if numeric:
                outcomes.append(f"(True, {test}, {self.var[group.feature]} * 1.0)")
            else:
                hit, miss = self.bind("_H", (True, True, _NAN)), self.bind("_M", (True, False, _NAN))
                outcomes.append(f"({hit} if {test} else {miss})")
        lines.append(f"    return fired, ({', '.join(outcomes)}{',' if len(outcomes) == 1 else ''})")
        return "\n".join(lines) + "\n"


# -- compiling, behind a whitelist of what the code may contain ----------------------------------------------------
_NODES = (ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.Return, ast.Assign, ast.If, ast.Try,
          ast.ExceptHandler, ast.Expr, ast.Pass, ast.Name, ast.Load, ast.Store, ast.Constant, ast.Compare,
          ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.UnaryOp, ast.USub, ast.Not, ast.Add, ast.Sub, ast.Mult,
          ast.Div, ast.Subscript, ast.Call, ast.Attribute, ast.Tuple, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq,
          ast.NotEq, ast.Is, ast.IsNot, ast.In, ast.NotIn, ast.IfExp, ast.List)
_LOCAL = re.compile(r"^(row|fired|s|j|v\d+|d\d+)$")
_ATTRIBUTES = frozenset({"append", "sort", "get"})


def _check(tree: ast.Module, names: Mapping[str, Any]) -> None:
    """Refuse any node outside the whitelist (see the module docstring)."""
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            raise _Unsupported(f"generated code holds a {type(node).__name__}")  # pragma: no cover - never written
        if isinstance(node, ast.Constant) and type(node.value) not in (*_PLAIN_CONSTANTS, type(None)):
            raise _Unsupported(f"constant {node.value!r}")  # pragma: no cover
        if isinstance(node, ast.Name) and not (_LOCAL.match(node.id) or node.id in names):
            raise _Unsupported(f"name {node.id!r}")  # pragma: no cover
        if isinstance(node, ast.Attribute) and node.attr not in _ATTRIBUTES:
            raise _Unsupported(f"attribute {node.attr!r}")  # pragma: no cover
        if isinstance(node, ast.Call):
            func = node.func
            if not ((isinstance(func, ast.Name) and (func.id == "type" or func.id.startswith("_f")))
                    or isinstance(func, ast.Attribute)):
                raise _Unsupported("a call")  # pragma: no cover
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if len(tree.body) != 1 or len(functions) != 1:  # pragma: no cover
        raise _Unsupported("generated code is one function")


def _compile(source: str, names: Mapping[str, Any], pack: str) -> EventFunction | None:
    try:
        tree = ast.parse(source)
        _check(tree, names)
        code = compile(tree, f"<leanlearn pack {pack[:60]!r}>", "exec")
    except (_Unsupported, SyntaxError, RecursionError, MemoryError):  # e.g. a derived feature nested too deep
        return None
    namespace: dict[str, Any] = {"__builtins__": {}, **names}
    exec(code, namespace)  # the whitelisted tree above: it defines one function and runs nothing else
    function: EventFunction = namespace["_event"]
    return function
