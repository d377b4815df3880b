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

import ast
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leanlearn.errors import ExpressionError, PackError
from leanlearn.mining import expressions as _expr
from leanlearn.mining.expressions import Expression
from leanlearn.mining.rules import Condition, Rule
from leanlearn.packs.pack import RulePack

_NUMERIC_OPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
_PY_CMP = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Eq: operator.eq,
           ast.NotEq: operator.ne}
# basic arithmetic is correctly rounded everywhere: numpy float64 scalars give the array result bit for bit
_EXACT_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div)


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
        return lambda x: (not is_missing(x)) and bool(lo <= x <= hi)
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
        return np.float64(value)
    raise ExpressionError(
        f"expression {source!r}: column {name!r} is not numeric (example value {value!r}); compare it to a string "
        f"instead, e.g. `{name}` == 'A'"
    )


def compile_scalar(expression: Expression) -> Callable[[Mapping[str, Any]], float]:
    """``expression`` as a function of one event (a mapping of column → value) giving a float.

    Mirrors :meth:`Expression.evaluate` call for call, so an event gets the very bits its row would get in a whole
    column: constants stay Python numbers (numpy special-cases some scalar operands, e.g. ``x ** 0.5``), values that
    depend on columns are one-element float64 arrays for every library function (vectorised kernels then run the
    same code path as on a column), and plain float64 scalars only for ``+ - * /`` (correctly rounded everywhere).

    >>> f = compile_scalar(Expression.parse("`Process temperature [K]` - `Air temperature [K]`"))
    >>> f({"Process temperature [K]": 308.6, "Air temperature [K]": 298.1})
    10.5
    """
    names = dict(expression.names)
    source = expression.source
    Node = tuple[Callable[[Mapping[str, Any]], Any], bool]  # (function, constant?)

    def as_arg(value: Any, constant: bool) -> Any:
        return value if constant else np.asarray([value], dtype=float)

    def first(value: Any) -> Any:
        return value[0] if isinstance(value, np.ndarray) and value.ndim else value

    def build(node: ast.AST) -> Node:
        if isinstance(node, ast.Constant):
            constant = node.value
            return (lambda env: constant), True
        if isinstance(node, ast.Name):
            column = names.get(node.id, node.id)
            in_names = node.id in names
            constant_value = _expr._CONSTANTS.get(node.id)
            if constant_value is not None and not in_names:
                def name_or_constant(env: Mapping[str, Any]) -> Any:
                    return _number(env[column], column, source) if column in env else constant_value

                return name_or_constant, False  # a column named like a constant wins, as in evaluate()
            return (lambda env: _number(env.get(column), column, source)), False
        if isinstance(node, ast.BinOp):
            (left, lc), (right, rc) = build(node.left), build(node.right)
            func = _expr._BINOPS[type(node.op)]
            if lc and rc:
                return (lambda env: func(left(env), right(env))), True
            if isinstance(node.op, _EXACT_BINOPS):
                return (lambda env: func(np.float64(left(env)), np.float64(right(env)))), False
            return (lambda env: first(func(as_arg(left(env), lc), as_arg(right(env), rc)))), False
        if isinstance(node, ast.UnaryOp):
            operand, oc = build(node.operand)
            if isinstance(node.op, ast.USub):
                return (lambda env: np.negative(operand(env))), oc
            if isinstance(node.op, ast.Not):
                return (lambda env: np.float64(not bool(operand(env)))), oc
            return operand, oc
        if isinstance(node, ast.BoolOp):
            parts = [build(v)[0] for v in node.values]
            if isinstance(node.op, ast.And):
                return (lambda env: np.float64(all([bool(p(env)) for p in parts]))), False
            return (lambda env: np.float64(any([bool(p(env)) for p in parts]))), False
        if isinstance(node, ast.Compare):
            operands = [operand_of(node.left), *(operand_of(c) for c in node.comparators)]
            ops = [_PY_CMP[type(op)] for op in node.ops]

            def compare(env: Mapping[str, Any]) -> Any:
                values = [o(env) for o in operands]
                result = True
                for op, a, b in zip(ops, values[:-1], values[1:]):
                    if isinstance(a, str) or isinstance(b, str):
                        result = result and bool(op(a, b))
                    else:
                        result = result and bool(op(np.float64(a), np.float64(b)))
                return np.float64(result)

            return compare, False
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            func = _expr._FUNCTIONS[node.func.id][0]
            args = [build(a) for a in node.args]
            if all(c for _, c in args):
                return (lambda env: func(*(a(env) for a, _ in args))), True
            return (lambda env: first(func(*(as_arg(a(env), c) for a, c in args)))), False
        raise ExpressionError(f"expression {source!r}: {type(node).__name__} is not allowed")  # checked by parse

    def operand_of(node: ast.AST) -> Callable[[Mapping[str, Any]], Any]:
        """A comparison operand: a text value stays text (``Type == 'L'``), anything else is arithmetic."""
        numeric = build(node)[0]
        if isinstance(node, ast.Name):
            column = names.get(node.id, node.id)

            def raw(env: Mapping[str, Any]) -> Any:
                value = env.get(column)
                return value if isinstance(value, str) else numeric(env)

            return raw
        return numeric

    body = build(expression.tree.body)[0]

    def evaluate(env: Mapping[str, Any]) -> float:
        with np.errstate(all="ignore"):
            return float(first(body(env)))

    return evaluate


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
    return cond.mask_values(column)


def _float_column(column: pd.Series) -> np.ndarray | None:
    dtype = column.dtype
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return column.to_numpy(dtype=float, na_value=np.nan)
    return None


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
            value.append(float(y) if known and numeric else math.nan)
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
