"""Which rules fire on live events, and what happened: per event (a dict) and per micro-batch (a DataFrame).

:class:`CompiledPack` prepares a pack's active rules for a stream once: it parses the derived-feature expressions
(with the whitelist of :mod:`leanlearn.mining.expressions`, never ``eval``), collects the distinct conditions of
all rules (a condition shared by several rules is evaluated once) and the distinct outcome conditions. Then

- :meth:`CompiledPack.evaluate_frame` works column-wise with numpy on a micro-batch, and
- :meth:`CompiledPack.evaluate_row` works on one event with plain Python scalars,

and both give the same answer as :meth:`leanlearn.mining.rules.Rule.mask` on ``pack.prepare(frame)`` (tested).
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
>>> batch = compiled.evaluate_frame(pd.DataFrame({"a": [300.0, 300.0], "b": [308.0, 309.0], "HDF": [1, None]}))
>>> batch.fired[0].tolist(), batch.observed[0].tolist(), batch.hit[0].tolist()
([True, False], [True, False], [True, False])
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
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


class CompiledPack:
    """A pack's rules prepared for live evaluation.

    Parameters
    ----------
    pack : RulePack
        The pack (its derived-feature expressions and targets are used).
    rules : list of Rule, optional
        The rules to evaluate; default :func:`active_rules` (every rule not rejected).

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

    def __init__(self, pack: RulePack, rules: Sequence[Rule] | None = None) -> None:
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

    # -- values
    def check_row(self, row: Mapping[str, Any]) -> tuple[Mapping[str, Any], BadValue | None]:
        """``row`` with the values of numeric columns as floats, or the first value that cannot be used.

        Columns are checked in name order, so an event with several bad values reports the same one on both paths.
        """
        out: dict[str, Any] | None = None
        get = row.get
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
        """Evaluate one event (a mapping of column → value)."""
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
