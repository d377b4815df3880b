"""Which rules fire on live events, and what happened: per event (a dict) and per micro-batch (a DataFrame).

:class:`CompiledPack` prepares a pack's active rules for a stream once: it parses the derived-feature expressions
(with the whitelist of :mod:`leanlearn.mining.expressions`, never ``eval``), collects the distinct conditions of
all rules (a condition shared by several rules is evaluated once) and the distinct outcome conditions. Then

- :meth:`CompiledPack.evaluate_frame` works column-wise with numpy on a micro-batch, and
- :meth:`CompiledPack.evaluate_row` works on one event with plain Python scalars: the rules are indexed by one
  condition each (an interval on a numeric feature, found by binary search, or a value of a categorical one, found
  in a dict), so a rule whose index condition fails costs nothing; the rest of a candidate rule's conditions are
  checked with early exit by plain operator functions (no generic closure, no per-event allocation but the list of
  the rules that fire),

and both give the same answer as :meth:`leanlearn.mining.rules.Rule.mask` on ``pack.prepare(frame)`` (tested).
The monitor's per-event path first offers an event to the pack's generated function (:mod:`leanlearn.online.compiled`,
written from this index: value check and evaluation in one call); what it hands over — an event with a missing or
odd value, an absent column — comes here (:meth:`CompiledPack.check_row`, then :meth:`CompiledPack.evaluate_checked`;
``CompiledPack._evaluate_general`` is the reference semantics both are tested against and the fall-back of the index
for values it cannot look up).
Semantics kept from the batch side: a missing value never satisfies a condition (also not ``!=``), derived
features are float64 computed exactly as the expression says, and a column the events do not carry is missing
(so its conditions never hold) rather than an error: a stream may omit empty fields.

Examples
--------
>>> import pandas as pd
>>> from leanlearn.mining.rules import Condition, Rule, RuleSet
>>> from leanlearn.packs.pack import RulePack, Target
>>> rule = Rule((Condition("d", "<", 8.6),), Condition("HDF", "==", 1), support=0.01, coverage=0.01,
...             confidence=0.9, lift=80.0, leverage=0.01, conviction=None, n=100, hits=90, p_value=1e-9,
...             p_value_raw=1e-10, ci=(0.83, 0.95), base_rate=0.01, id="R1")
>>> pack = RulePack(name="p", line="L", targets=(Target("HDF"),), rules=RuleSet((rule,)), derived=(("d", "b - a"),))
>>> compiled = CompiledPack(pack)
>>> compiled.evaluate_row({"a": 300.0, "b": 308.0, "HDF": 1}).fired
[True]
>>> compiled.index_summary  # the rule is found by bisection on its interval of d
{'range': 1, 'key': 0, 'linear': 0, 'lookups': 1}
>>> checked, bad = compiled.check_row({"a": 300.0, "b": 308.0, "HDF": 1})
>>> compiled.evaluate_checked(checked)  # the rules that fire; per outcome: known, holds, value
([0], [(True, True, nan)])
>>> batch = compiled.evaluate_frame(pd.DataFrame({"a": [300.0, 300.0], "b": [308.0, 309.0], "HDF": [1, None]}))
>>> batch.fired[0].tolist(), batch.observed[0].tolist(), batch.hit[0].tolist()
([True, False], [True, False], [True, False])
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leanlearn._util import first_line as _first_line  # also used by the monitor
from leanlearn.errors import ExpressionError, LeanlearnError, PackError
from leanlearn.mining import expressions as _expr
from leanlearn.mining.expressions import Expression, Step, compare_values
from leanlearn.mining.rules import Condition, Rule
from leanlearn.packs.pack import RulePack

_NUMERIC_OPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
_PY_CMP = _expr.PY_CMPOPS
# basic arithmetic is correctly rounded everywhere: numpy float64 scalars give the array result bit for bit
_EXACT_BINOPS = frozenset({"+", "-", "*", "/"})


def is_missing(value: Any) -> bool:
    """``None``, NaN, ``pd.NA`` and ``NaT`` are missing.

    >>> [is_missing(v) for v in (None, float("nan"), pd.NA, 0.0, "")]
    [True, True, True, False, False]
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    return False


def active_rules(pack: RulePack) -> list[Rule]:
    """The rules a monitor tracks: every rule of ``pack`` that an engineer has not rejected."""
    return [r for r in pack.rules if r.review.status != "rejected"]


# -- one event ----------------------------------------------------------------------------------------------------
def _scalar_test(cond: Condition) -> Callable[[Any], bool]:
    """``cond`` as a function of one value, with :meth:`Condition.mask_values` semantics."""
    op, v = cond.op, cond.value
    if op in _NUMERIC_OPS:
        compare = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]

        def general(x: Any) -> bool:
            if is_missing(x):
                return False
            if isinstance(v, str) or isinstance(x, str) or not isinstance(x, (int, float, np.number, np.bool_)):
                raise PackError(
                    f"condition {cond.text!r}: column {cond.feature!r} is not numeric (example value {x!r})"
                )
            return bool(compare(x, v))

        if isinstance(v, str):
            return general
        # fast paths for plain floats and ints (a NaN compares False, as a missing value must)
        if op == "<":
            return lambda x: x < v if type(x) is float or type(x) is int else general(x)
        if op == "<=":
            return lambda x: x <= v if type(x) is float or type(x) is int else general(x)
        if op == ">":
            return lambda x: x > v if type(x) is float or type(x) is int else general(x)
        return lambda x: x >= v if type(x) is float or type(x) is int else general(x)
    if op == "in":
        values = tuple(v)
        return lambda x: (not is_missing(x)) and x in values
    if op == "between":
        lo, hi = v

        def between(x: Any) -> bool:
            if is_missing(x):
                return False
            if isinstance(x, str) or not isinstance(x, (int, float, np.number, np.bool_)):
                raise PackError(
                    f"condition {cond.text!r}: column {cond.feature!r} is not numeric (example value {x!r:.60})"
                )
            return bool(lo <= x <= hi)

        return between
    if op == "==":
        return lambda x: (not is_missing(x)) and bool(x == v)
    return lambda x: (not is_missing(x)) and bool(x != v)


def _number(value: Any, name: str, source: str) -> Any:
    """A column value as a float64 for arithmetic (bool → 0/1, missing → NaN)."""
    if isinstance(value, (bool, np.bool_)):
        return np.float64(float(value))
    if is_missing(value):
        return np.float64(np.nan)
    if isinstance(value, (int, float, np.number)):
        try:
            return np.float64(value)
        except OverflowError:  # an integer beyond the float range: the overflow becomes a missing result
            return np.float64(math.inf if value > 0 else -math.inf)
    raise ExpressionError(
        f"expression {source!r}: column {name!r} is not numeric (example value {value!r:.60}); compare it to a string "
        f"instead, e.g. `{name}` == 'A'"
    )


_Stack = list[tuple[Any, bool]]  # (value, constant?) per entry of the evaluation stack


def compile_scalar(expression: Expression) -> Callable[[Mapping[str, Any]], float]:
    """``expression`` as a function of one event (a mapping of column → value) giving a float.

    Runs the expression's postfix program (:attr:`Expression.program`) step for step as
    :meth:`Expression.evaluate` does on whole columns — a loop, no recursion, so every legal expression up to the
    length limit evaluates — and gives an event the very bits its row would get in a column: constants stay Python
    numbers (numpy special-cases some scalar operands, e.g. ``x ** 0.5``), values that depend on columns are
    one-element float64 arrays for every library function (vectorised kernels then run the same code path as on a
    column), and plain float64 scalars only for ``+ - * /`` (correctly rounded everywhere). A non-finite result is
    NaN (missing), text compared with a number raises :class:`ExpressionError`, as on columns.

    >>> f = compile_scalar(Expression.parse("`Process temperature [K]` - `Air temperature [K]`"))
    >>> f({"Process temperature [K]": 308.6, "Air temperature [K]": 298.1})
    10.5
    >>> compile_scalar(Expression.parse("x * 10**308"))({"x": 10.0})
    nan
    """
    source = expression.source
    steps = [_scalar_step(step, source) for step in expression.program]

    def evaluate(env: Mapping[str, Any]) -> float:
        stack: _Stack = []
        with np.errstate(all="ignore"):
            for step in steps:
                step(stack, env)
            value = float(_first(stack[-1][0]))
        return value if math.isfinite(value) else math.nan

    return _plain_arithmetic(expression, evaluate) or evaluate


_PY_BINOPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def _plain_arithmetic(expression: Expression, general: Callable[[Mapping[str, Any]], float]
                      ) -> Callable[[Mapping[str, Any]], float] | None:
    """For an expression of columns, numbers, ``+ - * /`` and signs only: the same function on Python floats.

    IEEE arithmetic is correctly rounded in Python as in numpy, so the bits are those of ``general``; what Python
    does differently — a division by zero raises, an integer beyond the float range raises — and any value other
    than a float, an int, a bool or nothing sends the event to ``general``. ``None`` for any other expression.
    """
    plan: list[tuple[int, Any]] = []
    for kind, arg, _n in expression.program:
        if kind == "num" and isinstance(arg, (int, float)) and not isinstance(arg, bool):
            plan.append((0, float(arg)))
        elif kind == "col" and not arg[2]:
            column, may_be_constant, _raw = arg
            plan.append((1, (column, _expr._CONSTANTS.get(column) if may_be_constant else None)))
        elif kind == "bin" and arg in _PY_BINOPS:
            plan.append((2, _PY_BINOPS[arg]))
        elif kind == "neg":
            plan.append((3, None))
        elif kind != "pos":
            return None
    nan = math.nan

    def evaluate(env: Mapping[str, Any]) -> float:
        stack: list[float] = []
        push = stack.append
        try:
            for code, arg in plan:
                if code == 1:
                    column, constant = arg
                    if constant is not None and column not in env:
                        push(constant)  # a column named like a constant wins, as on columns
                        continue
                    value: Any = env.get(column)
                    kind = type(value)
                    if kind is float:
                        push(value)
                    elif value is None:
                        push(nan)
                    elif kind is int or kind is bool:
                        push(float(value))
                    else:  # NaN-like objects, numpy scalars, text: the general way
                        return general(env)
                elif code == 2:
                    right = stack.pop()
                    stack[-1] = arg(stack[-1], right)
                elif code == 0:
                    push(arg)
                else:
                    stack[-1] = -stack[-1]
        except (ZeroDivisionError, OverflowError):
            return general(env)
        result = stack[-1]
        return result if math.isfinite(result) else nan

    return evaluate


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, np.ndarray) and value.ndim else value


def _as_arg(value: Any, constant: bool) -> Any:
    return value if constant else np.asarray([value], dtype=float)


def _pop(stack: _Stack, n: int) -> _Stack:
    taken = stack[len(stack) - n:]
    del stack[len(stack) - n:]
    return taken


def _scalar_step(step: Step, source: str) -> Callable[[_Stack, Mapping[str, Any]], None]:
    """One postfix instruction as a function of (stack, event)."""
    kind, arg, n = step
    if kind in ("num", "text"):
        entry = (arg, True)
        return lambda stack, env: stack.append(entry)
    if kind == "col":
        column, may_be_constant, raw = arg
        constant_value = _expr._CONSTANTS.get(column) if may_be_constant else None

        def col(stack: _Stack, env: Mapping[str, Any]) -> None:
            if constant_value is not None and column not in env:
                stack.append((constant_value, True))  # a column named like a constant wins, as on columns
                return
            value = env.get(column)
            if raw and isinstance(value, str):
                stack.append((value, False))
            else:
                stack.append((_number(value, column, source), False))

        return col
    if kind == "bin":
        func = _expr.BINOPS[arg]
        exact = arg in _EXACT_BINOPS

        def binop(stack: _Stack, env: Mapping[str, Any]) -> None:
            right, rc = stack.pop()
            left, lc = stack.pop()
            if lc and rc:
                stack.append((func(left, right), True))
            elif exact:
                stack.append((func(np.float64(left), np.float64(right)), False))
            else:
                stack.append((_first(func(_as_arg(left, lc), _as_arg(right, rc))), False))

        return binop
    if kind == "neg":
        def neg(stack: _Stack, env: Mapping[str, Any]) -> None:
            value, c = stack[-1]
            stack[-1] = (np.negative(value), c)

        return neg
    if kind == "not":
        def not_(stack: _Stack, env: Mapping[str, Any]) -> None:
            value, c = stack[-1]
            stack[-1] = (np.float64(not bool(value)), c)

        return not_
    if kind == "pos":
        return lambda stack, env: None
    if kind in ("and", "or"):
        combine = all if kind == "and" else any

        def boolop(stack: _Stack, env: Mapping[str, Any]) -> None:
            parts = _pop(stack, n)
            stack.append((np.float64(combine([bool(v) for v, _ in parts])), all(c for _, c in parts)))

        return boolop
    if kind == "call":
        func = _expr._FUNCTIONS[arg][0]

        def call(stack: _Stack, env: Mapping[str, Any]) -> None:
            args = _pop(stack, n)
            if all(c for _, c in args):
                stack.append((func(*(v for v, _ in args)), True))
            else:
                stack.append((_first(func(*(_as_arg(v, c) for v, c in args))), False))

        return call
    if kind == "cmp":
        symbols, labels = arg
        pairs = [(s, _PY_CMP[s], (labels[i], labels[i + 1])) for i, s in enumerate(symbols)]

        def compare(stack: _Stack, env: Mapping[str, Any]) -> None:
            operands = _pop(stack, n)
            result = True
            for i, (symbol, op, pair) in enumerate(pairs):
                a, b = operands[i][0], operands[i + 1][0]
                if isinstance(a, str) or isinstance(b, str):
                    hit = compare_values(symbol, a, b, pair, source)
                else:
                    hit = bool(op(np.float64(a), np.float64(b)))
                result = result and hit
            stack.append((np.float64(result), all(c for _, c in operands)))

        return compare
    raise ExpressionError(f"expression {source!r}: {kind} is not allowed")  # refused by Expression.parse


# -- many events --------------------------------------------------------------------------------------------------
def _vector_mask(cond: Condition, column: pd.Series, numbers: np.ndarray | None = None) -> np.ndarray:
    """``cond.mask_values(column)``, with a numpy fast path for numeric columns and numeric thresholds.

    ``numbers``: the column as float64 (NaN for missing), when the caller already has it.
    """
    op, v = cond.op, cond.value
    dtype = column.dtype
    numeric = pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    if numeric and op in _NUMERIC_OPS and not isinstance(v, (str, bool)):
        x = column.to_numpy(dtype=float, na_value=np.nan) if numbers is None else numbers
        with np.errstate(invalid="ignore"):
            return _NUMERIC_OPS[op](x, v)  # NaN compares False
    if numeric and op == "between" and not any(isinstance(b, (str, bool)) for b in v):
        x = column.to_numpy(dtype=float, na_value=np.nan) if numbers is None else numbers
        with np.errstate(invalid="ignore"):
            return (x >= v[0]) & (x <= v[1])
    if op == "between" and not numeric:  # text in the column: the per-event test names the value
        test = _scalar_test(cond)
        return np.fromiter((test(x) for x in column.tolist()), dtype=bool, count=len(column))
    return cond.mask_values(column)


def _float_column(column: pd.Series) -> np.ndarray | None:
    dtype = column.dtype
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return column.to_numpy(dtype=float, na_value=np.nan)
    return None


# -- values that cannot be used ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BadValue:
    """Why one event cannot be evaluated: the column, the raw value and the reason (a code and a sentence).

    Codes: ``not-a-number`` (text or another type where a number belongs), ``not-a-value`` (a list or an object
    where one value belongs), ``unusable`` (the value makes a condition or a derived feature fail).
    """

    column: str | None
    value: Any
    code: str
    reason: str


_NUMBER_TYPES = (int, float, np.integer, np.floating, np.bool_, bool)
_ABSENT = object()


def coerce_number(value: Any, column: str) -> tuple[Any, BadValue | None]:
    """A value of a column that must hold numbers, as a float (missing → NaN), or why it cannot be one.

    Numbers and booleans are taken as they are; text is read as a number if it is one (``" 61.5 "``, ``"1e3"``;
    an empty text, like NaN, is a missing value); an infinite number and anything else is a :class:`BadValue`
    (an infinity would make window means and alerts meaningless).

    >>> coerce_number("61.5", "torque"), coerce_number(True, "torque")
    ((61.5, None), (1.0, None))
    >>> coerce_number("n/a", "torque")[1].reason
    "column 'torque' holds text 'n/a' where a number belongs"
    """
    if value is None:
        return math.nan, None
    if isinstance(value, _NUMBER_TYPES):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return math.nan, None
        try:
            number = float(text)
        except ValueError:
            return math.nan, BadValue(column, value, "not-a-number",
                                      f"column {column!r} holds text {_short(value)} where a number belongs")
    else:
        number = None
    if number is not None:
        if math.isinf(number):
            return math.nan, BadValue(column, value, "not-a-number",
                                      f"column {column!r} holds {_short(value)}, beyond the range of a float")
        return number, None
    if is_missing(value):
        return math.nan, None
    if isinstance(value, (list, tuple, dict, set)):
        return math.nan, BadValue(column, value, "not-a-value",
                                  f"column {column!r} holds a {type(value).__name__} ({_short(value)}) where one "
                                  "number belongs")
    return math.nan, BadValue(column, value, "not-a-number",
                              f"column {column!r} holds a {type(value).__name__} ({_short(value)}) where a number "
                              "belongs")


def _short(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except ValueError:  # an integer of more than 4,300 digits
        text = f"<an integer of {int(value).bit_length():,} bits>"
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _numeric_use(cond: Condition) -> bool:
    """Whether a condition compares its feature with numbers (so the feature's values must be numbers)."""
    v = cond.value
    if cond.op in _NUMERIC_OPS:
        return not isinstance(v, str)
    if cond.op == "between":
        return not any(isinstance(b, str) for b in v)
    if cond.op in ("==", "!="):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if cond.op == "in":
        return bool(v) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
    return False


@dataclass(frozen=True, slots=True)
class RowResult:
    """What one event says: per rule whether it fires; per outcome group whether the outcome is known, holds, and
    its numeric value (NaN for binary outcomes)."""

    fired: list[bool]
    observed: list[bool]
    hit: list[bool]
    value: list[float]


@dataclass(frozen=True, slots=True)
class FrameResult:
    """The same for a micro-batch: one boolean (or float) array per rule / outcome group."""

    fired: list[np.ndarray]
    observed: list[np.ndarray]
    hit: list[np.ndarray]
    value: list[np.ndarray]


_EVALUATION_ERRORS = (LeanlearnError, TypeError, ValueError, OverflowError, ArithmeticError)


def _stack(results: Sequence[RowResult], n_rules: int, n_groups: int) -> FrameResult:
    """Per-event results as one :class:`FrameResult`."""
    def column(get: Callable[[RowResult], list[Any]], k: int, dtype: Any) -> np.ndarray:
        return np.array([get(r)[k] for r in results], dtype=dtype) if results else np.zeros(0, dtype)

    return FrameResult([column(lambda r: r.fired, k, bool) for k in range(n_rules)],
                       [column(lambda r: r.observed, k, bool) for k in range(n_groups)],
                       [column(lambda r: r.hit, k, bool) for k in range(n_groups)],
                       [column(lambda r: r.value, k, float) for k in range(n_groups)])


# -- the per-event index ---------------------------------------------------------------------------------------------
# A *checked* event (see CompiledPack.check_row) holds, in every column a numeric condition reads, an int, a float or
# a bool (NaN for missing) or nothing at all; derived features are floats. On such events a numeric condition is a
# plain comparison (NaN compares False, as a missing value must) and cannot raise, so the rules can be indexed by
# one such condition each and the rest checked with early exit — exactly the answer of the conditions in rule order.
_NAN = float("nan")  # the value of an absent column on a checked event (a private object: never in a condition)
_MAX_INDEX_ENTRIES = 200_000  # bound on (piece, rule) pairs of the interval indexes of one pack; beyond: linear
_PLAIN_KEYS = frozenset({str, float, int, bool})  # types whose hash and == agree as dict keys (others: slow path)
_CLEAN_NUMBERS = frozenset({float, int, bool})
_FLOATS = frozenset({float})
_UNKNOWN = (False, False, _NAN)  # an outcome not observed on an event
_PLAIN_VALUES = frozenset({str, float, int, bool, type(None)})
_RANGE_OPS = frozenset({"<", "<=", ">", ">=", "between"})


class _SlowPath(Exception):
    """An event value the index cannot look up (an unusual type): evaluate the event the general way."""


def _between(x: Any, bounds: tuple[Any, Any]) -> bool:
    return bool(bounds[0] <= x <= bounds[1])


def _not_equal(x: Any, v: Any) -> bool:
    return x == x and x != v  # NaN (missing) never satisfies !=


def _member(x: Any, values: tuple[Any, ...]) -> bool:
    return x == x and x in values  # a present value: identity implies equality, so `in` is ==; NaN never


def _apply(x: Any, test: Callable[[Any], bool]) -> bool:
    return test(x)


_FLOAT_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": _not_equal,
    "between": _between, "in": _member,
}

_Test = tuple[str, Callable[[Any, Any], Any], Any]  # (feature, function of (value, operand), operand)
_Entry = tuple[int, tuple[_Test, ...]]  # (rule index, the rule's remaining tests)


def _getter(columns: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """``row → tuple of row[c] for c in columns`` (KeyError when one is absent), at C speed."""
    if len(columns) > 1:
        return operator.itemgetter(*columns)
    if columns:
        column = columns[0]
        return lambda row: (row[column],)
    return _none


def _none(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return ()


def _may_raise(cond: Condition) -> bool:
    """Whether a condition can raise on an event value (an order comparison with text): its rule keeps its order."""
    return cond.op in _RANGE_OPS and not _numeric_use(cond)


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and v != v


def _fast_test(cond: Condition) -> _Test:
    """``cond`` as (feature, function, operand) for checked events (numeric conditions), or a general test."""
    if _numeric_use(cond):
        return cond.feature, _FLOAT_OPS[cond.op], cond.value
    return cond.feature, _apply, _scalar_test(cond)


def _interval(conds: Sequence[Condition]) -> tuple[Any, bool, Any, bool] | None:
    """The interval (lo, lo closed, hi, hi closed; ``None`` = unbounded) the numeric conditions on one feature allow."""
    lo: Any = None
    hi: Any = None
    lo_closed = hi_closed = True
    for c in conds:
        bounds = c.value if c.op == "between" else (c.value,)
        if any(_is_nan(b) for b in bounds):
            return None
        if c.op in (">", ">=", "between", "=="):
            v, closed = bounds[0], c.op != ">"
            if lo is None or v > lo or (v == lo and not closed):
                lo, lo_closed = v, closed
        if c.op in ("<", "<=", "between", "=="):
            v, closed = bounds[-1], c.op != "<"
            if hi is None or v < hi or (v == hi and not closed):
                hi, hi_closed = v, closed
    return lo, lo_closed, hi, hi_closed


@dataclass(frozen=True, slots=True)
class _Option:
    """One way to index a rule: its numeric conditions on ``feature`` (an interval) or one value condition."""

    feature: str
    kind: str  # "range" or "key"
    used: tuple[int, ...]  # positions of the rule's conditions the index checks
    interval: tuple[Any, bool, Any, bool] | None = None
    keys: tuple[Any, ...] = ()


def _options(rule: Rule) -> list[_Option]:
    """The ways ``rule`` can be indexed: only by conditions before any condition that may raise (see above)."""
    conds = rule.conditions
    stop = next((i for i, c in enumerate(conds) if _may_raise(c)), len(conds))
    out: list[_Option] = []
    ranges: dict[str, list[int]] = {}
    for i, c in enumerate(conds[:stop]):
        if c.op in _RANGE_OPS and _numeric_use(c):
            ranges.setdefault(c.feature, []).append(i)
        elif c.op in ("==", "in") and not any(f.feature == c.feature and f.kind == "key" for f in out):
            values = c.value if c.op == "in" else (c.value,)
            if all(type(v) in _PLAIN_KEYS for v in values):
                keys = tuple(dict.fromkeys(v for v in values if not _is_nan(v)))  # each value once: 1 == 1.0 == True
                out.append(_Option(c.feature, "key", (i,), keys=keys))
    for feature, used in ranges.items():
        interval = _interval([conds[i] for i in used])
        if interval is not None:
            out.append(_Option(feature, "range", tuple(used), interval=interval))
    return out


def _pieces(intervals: Sequence[tuple[int, tuple[Any, bool, Any, bool]]]) -> tuple[list[Any], list[list[int]]]:
    """Breakpoints ``B`` and, per piece of the line (``bisect_left(B, x) + bisect_right(B, x)``), the rules there.

    Piece ``2i`` is the open gap below ``B[i]`` (above ``B[i-1]``), piece ``2i + 1`` the point ``B[i]``.
    """
    breaks = sorted({v for _, (lo, _lc, hi, _hc) in intervals for v in (lo, hi) if v is not None})
    position = {v: i for i, v in enumerate(breaks)}
    pieces: list[list[int]] = [[] for _ in range(2 * len(breaks) + 1)]
    for k, (lo, lo_closed, hi, hi_closed) in intervals:
        first = -1 if lo is None else 2 * position[lo] + 1
        last = 2 * len(breaks) + 1 if hi is None else 2 * position[hi] + 1
        if lo is not None and hi is not None and (lo > hi or (lo == hi and not (lo_closed and hi_closed))):
            continue  # an empty interval: the rule never fires
        for p in range(first + (0 if lo_closed and lo is not None else 1), last + (1 if hi_closed and hi is not None
                                                                                   else 0)):
            pieces[p].append(k)
    return breaks, pieces


def _choose(options: Sequence[Sequence[_Option]], budget: int) -> list[_Option | None]:
    """Per rule the option to index it by: greedily the feature (and kind) that indexes the most rules (fewest
    lookups per event), a value lookup before an interval, a closed interval before a one-sided one."""
    chosen: list[_Option | None] = [None] * len(options)
    left = set(range(len(options)))
    refused: set[tuple[str, str]] = set()
    spent = 0
    while left:
        count: dict[tuple[str, str], list[int]] = {}
        bounded: dict[tuple[str, str], int] = {}
        for k in left:
            for o in options[k]:
                key = (o.feature, o.kind)
                if key in refused:
                    continue
                count.setdefault(key, []).append(k)
                if o.interval is not None and o.interval[0] is not None and o.interval[2] is not None:
                    bounded[key] = bounded.get(key, 0) + 1
        if not count:
            break
        best = max(count, key=lambda key: (len(count[key]), key[1] == "key", bounded.get(key, 0), key))
        rules = count[best]
        picked = {k: next(o for o in options[k] if (o.feature, o.kind) == best) for k in rules}
        if best[1] == "range":
            intervals = [(k, o.interval) for k, o in picked.items() if o.interval is not None]
            size = sum(len(p) for p in _pieces(intervals)[1])
            if spent + size > budget:
                refused.add(best)
                continue
            spent += size
        for k, o in picked.items():
            chosen[k] = o
        left -= set(rules)
    return chosen


class CompiledPack:
    """A pack's rules prepared for live evaluation.

    Parameters
    ----------
    pack : RulePack
        The pack (its derived-feature expressions and targets are used).
    rules : list of Rule, optional
        The rules to evaluate; default :func:`active_rules` (every rule not rejected).
    float_columns : collection of str, optional
        Columns whose numbers :meth:`check_row` must turn into floats even when they are ints (e.g. a monitor's
        time column: its value is quoted in a quarantine reason). Columns an order comparison with text reads are
        always among them (their value is quoted in that comparison's error).

    Attributes
    ----------
    rules : tuple of Rule
    groups : tuple of Condition
        The distinct outcome conditions; ``group_of[i]`` is the group of ``rules[i]``.
    numeric : tuple of bool
        Per group: whether the target is numeric (its value is kept, e.g. for the window mean).
    columns : frozenset of str
        Raw columns the rules and derived features read (outcomes included).
    numeric_columns : frozenset of str
        Columns whose values must be numbers (see :meth:`check_row`).
    """

    def __init__(self, pack: RulePack, rules: Sequence[Rule] | None = None, *,
                 float_columns: Collection[str] = ()) -> None:
        self.pack = pack
        self.rules = tuple(active_rules(pack) if rules is None else rules)
        numeric_targets = {t.name for t in pack.targets if t.kind == "numeric"}
        conditions: dict[Condition, int] = {}
        self.rule_conditions: list[tuple[int, ...]] = []
        groups: dict[Condition, int] = {}
        self.group_of: list[int] = []
        for rule in self.rules:
            self.rule_conditions.append(tuple(conditions.setdefault(c, len(conditions)) for c in rule.conditions))
            self.group_of.append(groups.setdefault(rule.outcome, len(groups)))
        self.conditions = tuple(conditions)
        self.groups = tuple(groups)
        self.numeric = tuple(
            g.feature in numeric_targets or any(r.shift is not None for r in self.rules if r.outcome == g)
            for g in self.groups
        )
        # derived features the rules need (and the ones those need), in the pack's order
        derived = dict(pack.derived)
        parsed = {name: Expression.parse(expr) for name, expr in derived.items()}
        needed = {c.feature for c in self.conditions}
        for name in reversed(list(derived)):
            if name in needed:
                needed |= parsed[name].columns
        self.derived = tuple((n, parsed[n]) for n in derived if n in needed)
        self._scalar_derived = tuple((n, compile_scalar(e)) for n, e in self.derived)
        tests = [_scalar_test(c) for c in self.conditions]
        self._rule_tests = tuple(tuple((tests[i], self.conditions[i].feature) for i in idx)
                                 for idx in self.rule_conditions)
        self._outcome_tests = tuple(_scalar_test(g) for g in self.groups)
        derived_names = {n for n, _ in self.derived}
        outcomes = frozenset(g.feature for g in self.groups)
        self.columns = frozenset(c for c in needed if c not in derived_names) | outcomes
        # the columns whose values must be numbers: numeric conditions and outcomes, numeric targets, and the inputs
        # of derived features outside text comparisons; checked per value (one bad value quarantines one event)
        numeric = {c.feature for c in (*self.conditions, *self.groups) if _numeric_use(c)}
        numeric |= {g.feature for g, num in zip(self.groups, self.numeric) if num}
        for _, expression in self.derived:
            steps = getattr(expression, "program", None)
            if steps:
                numeric |= {step.arg[0] for step in steps if step.kind == "col" and not step.arg[2]}
            else:  # pragma: no cover - an expression without a postfix program
                numeric |= set(expression.columns)
        self.numeric_columns = frozenset(numeric)
        self._checks = tuple(sorted((c, c in numeric) for c in {*self.columns, *numeric, *needed}))
        # ints and bools may stay as they are on a checked event (they compare as the floats they stand for), except
        # where the value is quoted: a column an order comparison with text reads, and the float_columns
        quoted = {c.feature for c in (*self.conditions, *self.groups) if _may_raise(c)} | set(float_columns)
        self._quoted = frozenset(quoted)
        # derived features an event may carry (a column of that name wins): absent as a rule, checked when there
        self._derived_names = frozenset(c for c, _ in self._checks if c in derived_names and c not in self.columns)
        raw = [(c, num) for c, num in self._checks if c not in self._derived_names]
        self._get_numbers = _getter(tuple(c for c, num in raw if num and c not in quoted))
        self._get_floats = _getter(tuple(c for c, num in raw if num and c in quoted))
        self._get_others = _getter(tuple(c for c, num in raw if not num))
        self._build_index()

    def _build_index(self) -> None:
        """Index every rule by one condition (see :func:`_choose`); the rules without one are checked in turn."""
        options = [_options(rule) for rule in self.rules]
        chosen = _choose(options, _MAX_INDEX_ENTRIES)
        ranges: dict[str, list[tuple[int, tuple[Any, bool, Any, bool]]]] = {}
        keys: dict[str, dict[Any, list[int]]] = {}
        entries: dict[int, _Entry] = {}
        linear: list[int] = []
        rest: list[tuple[Condition, ...]] = []
        for k, (rule, option) in enumerate(zip(self.rules, chosen)):
            used = () if option is None else option.used
            rest.append(tuple(c for i, c in enumerate(rule.conditions) if i not in used))
            entries[k] = (k, tuple(_fast_test(c) for c in rest[-1]))
            if option is None:
                linear.append(k)
            elif option.kind == "range":
                assert option.interval is not None
                ranges.setdefault(option.feature, []).append((k, option.interval))
            else:
                table = keys.setdefault(option.feature, {})
                for v in option.keys:
                    table.setdefault(v, []).append(k)
        self._ranges = tuple((f, tuple(b), tuple(tuple(entries[k] for k in p) for p in pieces))
                             for f, (b, pieces) in ((f, _pieces(iv)) for f, iv in ranges.items()))
        self._keys = tuple((f, {v: tuple(entries[k] for k in ks) for v, ks in table.items()})
                           for f, table in keys.items())
        self._linear = tuple(entries[k] for k in linear)
        self._rest = tuple(rest)  # per rule: the conditions the index does not check
        self._sort = len(self._ranges) + len(self._keys) + (1 if linear else 0) > 1
        # the columns a numeric condition reads: on an event given to evaluate_row they must hold numbers (or be
        # absent) for the index to answer; anything else (None, text, numpy scalars) takes the general path
        self._clean_columns = tuple(sorted({c.feature for c in (*self.conditions, *self.groups) if _numeric_use(c)}))
        self._fast_outcomes = tuple(
            (g.feature, *_fast_test(g)[1:], num) if _numeric_use(g) else None for g, num in zip(self.groups,
                                                                                                 self.numeric))
        self._all_fast = all(f is not None for f in self._fast_outcomes)

    @property
    def index_summary(self) -> dict[str, int]:
        """How the rules are indexed: ``{"range": rules found by an interval, "key": by a value, "linear": checked
        each event}`` and the number of index ``lookups`` per event."""
        ranged = sum(len({k for piece in pieces for k, _ in piece}) for _, _, pieces in self._ranges)
        keyed = sum(len({k for entries in table.values() for k, _ in entries}) for _, table in self._keys)
        return {"range": ranged, "key": keyed, "linear": len(self._linear),
                "lookups": len(self._ranges) + len(self._keys)}

    # -- values
    def check_row(self, row: Mapping[str, Any]) -> tuple[Mapping[str, Any], BadValue | None]:
        """``row`` with the values of numeric columns as floats, or the first value that cannot be used.

        Columns are checked in name order, so an event with several bad values reports the same one on both paths.
        """
        get = row.get
        try:  # the usual case, at C speed: every column there, numbers where numbers belong, plain values elsewhere
            if self._derived_names and not row.keys().isdisjoint(self._derived_names):
                raise KeyError("a column named like a derived feature")  # judged value by value below
            numbers = self._get_numbers(row)
            if (_CLEAN_NUMBERS.issuperset(map(type, numbers)) and math.isfinite(sum(numbers))
                    and (self._get_floats is _none or (_FLOATS.issuperset(map(type, floats := self._get_floats(row)))
                                                       and math.isfinite(sum(floats))))
                    and (self._get_others is _none or _PLAIN_VALUES.issuperset(map(type, self._get_others(row))))):
                return row, None
        except (KeyError, OverflowError, TypeError):  # a column absent, an integer beyond the float range, …
            pass
        out: dict[str, Any] | None = None
        for column, numeric in self._checks:
            value = get(column, _ABSENT)
            if numeric:
                if type(value) is float and -math.inf < value < math.inf:
                    continue  # the usual case: a finite float
                if value is _ABSENT:
                    continue
                number, bad = coerce_number(value, column)
                if bad is not None:
                    return row, bad
                if out is None:
                    out = dict(row)
                out[column] = number
            elif value is not _ABSENT and isinstance(value, (list, tuple, dict, set)):
                return row, BadValue(column, value, "not-a-value",
                                     f"column {column!r} holds a {type(value).__name__} ({_short(value)}) where one "
                                     "value belongs")
        return (row if out is None else out), None

    def check_frame(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, BadValue]]:
        """``frame`` with numeric columns as float64, and the rows (positions) whose values cannot be used.

        The same judgement as :meth:`check_row`, value by value: one bad cell never turns a column into text.
        """
        bad: dict[int, BadValue] = {}
        changed: dict[str, np.ndarray] = {}
        for column, numeric in self._checks:
            if column not in frame.columns:
                continue
            series = frame[column]
            dtype = series.dtype
            if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
                if numeric:
                    numbers = series.to_numpy(dtype=float, na_value=np.nan)
                    if not pd.api.types.is_float_dtype(dtype):
                        changed[column] = numbers
                    for i in np.flatnonzero(np.isinf(numbers)).tolist():
                        if i not in bad:
                            bad[i] = coerce_number(series.iloc[i], column)[1]  # type: ignore[assignment]
                continue
            values = series.tolist()
            if numeric:
                numbers = np.empty(len(values), dtype=float)
                for i, value in enumerate(values):
                    if type(value) is float and not math.isinf(value):
                        numbers[i] = value
                        continue
                    numbers[i], problem = coerce_number(value, column)
                    if problem is not None and i not in bad:
                        bad[i] = problem
                changed[column] = numbers
            else:
                for i, value in enumerate(values):
                    if isinstance(value, (list, tuple, dict, set)) and i not in bad:
                        bad[i] = BadValue(column, value, "not-a-value",
                                          f"column {column!r} holds a {type(value).__name__} ({_short(value)}) "
                                          "where one value belongs")
        if changed:
            frame = frame.assign(**changed)
        return frame, bad

    def evaluate_rows(self, rows: Sequence[Mapping[str, Any]]) -> tuple[FrameResult, dict[int, BadValue]]:
        """Evaluate events one by one (already checked), setting aside those whose evaluation fails.

        The slow path behind :meth:`evaluate_frame` when a micro-batch holds a value no check foresaw (e.g. text
        compared with a number in a derived feature): the same result per event as :meth:`evaluate_row`.
        """
        results: list[RowResult] = []
        bad: dict[int, BadValue] = {}
        for i, row in enumerate(rows):
            try:
                results.append(self.evaluate_row(row))
            except _EVALUATION_ERRORS as exc:
                bad[i] = BadValue(None, None, "unusable", _first_line(exc))
        return _stack(results, len(self.rules), len(self.groups)), bad

    # -- one event
    def evaluate_row(self, row: Mapping[str, Any]) -> RowResult:
        """Evaluate one event (a mapping of column → value).

        Through the index (:meth:`evaluate_checked`) when the columns numeric conditions read hold numbers (or are
        absent), else the general way; the same answer either way (tested).
        """
        get = row.get
        if not _CLEAN_NUMBERS.issuperset([type(get(c, 0.0)) for c in self._clean_columns]):
            return self._evaluate_general(row)
        fired, outcomes = self.evaluate_checked(row)
        flags = [False] * len(self.rules)
        for k in fired:
            flags[k] = True
        return RowResult(flags, [o[0] for o in outcomes], [o[1] for o in outcomes], [o[2] for o in outcomes])

    def evaluate_checked(self, row: Mapping[str, Any]) -> tuple[list[int], list[tuple[bool, bool, float]]]:
        """Evaluate one event that :meth:`check_row` accepted: the rules that fire (indices, ascending) and per
        outcome group (known, holds, numeric value or NaN).

        The per-event path of the monitor: the index finds the candidate rules (see :func:`_choose`), their other
        conditions are checked with early exit. An event value of an unusual type, or a condition that fails on a
        value, sends the event down the general path, which gives the same answer (or raises the same error).
        """
        env: Mapping[str, Any] = row
        if self._scalar_derived:
            env = dict(row)
            for name, func in self._scalar_derived:
                if name not in row:  # as RulePack.prepare: a column of that name in the data wins
                    env[name] = func(env)
        try:
            fired = self._fired(env)
        except (_SlowPath, *_EVALUATION_ERRORS):
            result = self._evaluate_general(row)
            return ([k for k, f in enumerate(result.fired) if f],
                    list(zip(result.observed, result.hit, result.value, strict=True)))
        get = row.get
        outcomes = []
        if self._all_fast:  # the usual case: numeric outcome conditions on a checked event
            for feature, op, v, num in self._fast_outcomes:  # type: ignore[misc]
                y = get(feature, _NAN)
                outcomes.append(((True, op(y, v), float(y) if num else _NAN)) if y == y else _UNKNOWN)
            return fired, outcomes
        for fast, g, test, numeric in zip(self._fast_outcomes, self.groups, self._outcome_tests, self.numeric):
            if fast is not None:
                feature, op, v, num = fast
                y = get(feature, _NAN)
                if y == y:
                    outcomes.append((True, bool(op(y, v)), float(y) if num else _NAN))
                else:
                    outcomes.append((False, False, _NAN))
                continue
            y = get(g.feature)
            known = not is_missing(y)
            outcomes.append((known, known and test(y), float(y) if known and numeric and y is not None else math.nan))
        return fired, outcomes

    def _fired(self, env: Mapping[str, Any]) -> list[int]:
        """The rules that fire on a checked event (with its derived features), through the index."""
        get = env.get
        out: list[int] = []
        for feature, breaks, pieces in self._ranges:
            x = get(feature, _NAN)
            if x != x:  # missing: no numeric condition holds
                continue
            for k, tests in pieces[bisect_left(breaks, x) + bisect_right(breaks, x)]:
                for f, op, v in tests:
                    if not op(get(f, _NAN), v):
                        break
                else:
                    out.append(k)
        for feature, table in self._keys:
            x = get(feature)
            if x is None:
                continue
            if type(x) not in _PLAIN_KEYS:
                raise _SlowPath(feature)
            if x != x:
                continue
            entries = table.get(x)
            if entries:
                for k, tests in entries:
                    for f, op, v in tests:
                        if not op(get(f, _NAN), v):
                            break
                    else:
                        out.append(k)
        for k, tests in self._linear:
            for f, op, v in tests:
                if not op(get(f, _NAN), v):
                    break
            else:
                out.append(k)
        if self._sort:
            out.sort()
        return out

    def _evaluate_general(self, row: Mapping[str, Any]) -> RowResult:
        """Every rule in turn, each condition through its general test (any event; the reference semantics)."""
        env: Mapping[str, Any] = row
        if self._scalar_derived:
            env = dict(row)
            for name, func in self._scalar_derived:
                if name not in row:  # as RulePack.prepare: a column of that name in the data wins
                    env[name] = func(env)
        get = env.get
        fired = []
        for tests in self._rule_tests:  # short-circuit: most events fail a rule's first condition
            holds = True
            for test, feature in tests:
                if not test(get(feature)):
                    holds = False
                    break
            fired.append(holds)
        observed, hit, value = [], [], []
        for g, test, numeric in zip(self.groups, self._outcome_tests, self.numeric):
            y = row.get(g.feature)
            known = not is_missing(y)
            observed.append(known)
            hit.append(known and test(y))
            value.append(float(y) if known and numeric and y is not None else math.nan)
        return RowResult(fired, observed, hit, value)

    # -- many events
    def prepare_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with the derived features the rules need (absent raw columns become missing values)."""
        absent = [c for c in self.columns if c not in frame.columns]
        blank = [c for c in self.columns if c in frame.columns and frame[c].dtype == object and frame[c].isna().all()]
        if absent or blank:
            frame = frame.assign(**{c: np.full(len(frame), np.nan) for c in (*absent, *blank)})
        if not self.derived:
            return frame
        out = frame.copy(deep=False)
        for name, expression in self.derived:
            if name not in frame.columns:
                out[name] = expression.evaluate(out).to_numpy()
        return out

    def evaluate_frame(self, frame: pd.DataFrame) -> FrameResult:
        """Evaluate a micro-batch: vectorised masks, each distinct condition once."""
        prepared = self.prepare_frame(frame)
        series = {name: prepared[name] for name in {c.feature for c in self.conditions}}
        numbers = {name: _float_column(column) for name, column in series.items()}
        masks = [_vector_mask(c, series[c.feature], numbers[c.feature]) for c in self.conditions]
        n = len(prepared)
        fired = []
        for idx in self.rule_conditions:
            if not idx:
                fired.append(np.ones(n, dtype=bool))
                continue
            out = masks[idx[0]].copy() if len(idx) > 1 else masks[idx[0]]
            for i in idx[1:]:
                out &= masks[i]
            fired.append(out)
        observed, hit, value = [], [], []
        for g, numeric in zip(self.groups, self.numeric):
            column = prepared[g.feature]
            known = column.notna().to_numpy()
            observed.append(known)
            hit.append(_vector_mask(g, column) & known)
            value.append(column.to_numpy(dtype=float, na_value=np.nan) if numeric else np.full(n, np.nan))
        return FrameResult(fired, observed, hit, value)
