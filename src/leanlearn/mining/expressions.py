"""Safe arithmetic expressions for derived features — parsed with a whitelist, never ``eval``'d.

An expression is Python-like arithmetic over column names: ``torque * rpm * 2 * pi / 60``. Column names that are
not identifiers go in backticks, as in :meth:`pandas.DataFrame.eval`: ```Process temperature [K]` - `Air
temperature [K]```. Allowed: numbers, column names, ``+ - * / // % **``, unary ``-``/``+``, comparisons
(giving 0/1), ``and``/``or``/``not``, the constants ``pi`` and ``e``, and the functions ``abs sqrt log log10 log2
exp sin cos tan floor ceil round minimum maximum where``. Anything else — attribute access, subscripts, other
calls, lambdas, strings outside comparisons — is refused before any evaluation happens.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"Torque [Nm]": [40.0, 50.0], "rpm": [1500, 1400]})
>>> expr = Expression.parse("`Torque [Nm]` * rpm * 2 * pi / 60")
>>> sorted(expr.columns)
['Torque [Nm]', 'rpm']
>>> expr.evaluate(frame).round(1).tolist()
[6283.2, 7330.4]
>>> Expression.parse("__import__('os').system('x')")
Traceback (most recent call last):
...
leanlearn.errors.ExpressionError: expression "__import__('os').system('x')": function calls other than ...
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leanlearn.errors import ExpressionError

_FUNCTIONS: dict[str, tuple[Callable[..., Any], int]] = {
    "abs": (np.abs, 1),
    "sqrt": (np.sqrt, 1),
    "log": (np.log, 1),
    "log10": (np.log10, 1),
    "log2": (np.log2, 1),
    "exp": (np.exp, 1),
    "sin": (np.sin, 1),
    "cos": (np.cos, 1),
    "tan": (np.tan, 1),
    "floor": (np.floor, 1),
    "ceil": (np.ceil, 1),
    "round": (np.round, 1),
    "minimum": (np.minimum, 2),
    "maximum": (np.maximum, 2),
    "where": (np.where, 3),
}
_CONSTANTS = {"pi": math.pi, "e": math.e}
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.Pow: np.power,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}
_BACKTICK = re.compile(r"`([^`]*)`")
_MAX_LENGTH = 2000


def _allowed_functions() -> str:
    return ", ".join(sorted(_FUNCTIONS))


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed, validated expression. Build with :meth:`parse`; evaluate with :meth:`evaluate`."""

    source: str
    tree: ast.Expression
    names: tuple[tuple[str, str], ...]  # placeholder identifier -> real column name

    @property
    def columns(self) -> frozenset[str]:
        """Column names the expression reads."""
        seen = {node.id for node in ast.walk(self.tree) if isinstance(node, ast.Name)}
        mapping = dict(self.names)
        return frozenset(mapping.get(n, n) for n in seen if n not in _CONSTANTS and n not in _FUNCTIONS)

    @classmethod
    def parse(cls, source: str) -> Expression:
        """Parse ``source``; raise :class:`ExpressionError` if it is malformed or uses anything not whitelisted."""
        if not isinstance(source, str) or not source.strip():
            raise ExpressionError(f"expression {source!r} is empty; write e.g. 'torque * rpm'")
        if len(source) > _MAX_LENGTH:
            raise ExpressionError(f"expression of {len(source)} characters is too long (at most {_MAX_LENGTH})")
        names: dict[str, str] = {}

        def _placeholder(match: re.Match[str]) -> str:
            column = match.group(1)
            if not column:
                raise ExpressionError(f"expression {source!r}: empty backtick name ``")
            key = f"__col{len(names)}__"
            names[key] = column
            return key

        text = _BACKTICK.sub(_placeholder, source)
        if "`" in text:
            raise ExpressionError(f"expression {source!r}: unmatched backtick; write column names as `name`")
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(
                f"expression {source!r} is not valid arithmetic ({exc.msg}); "
                "put column names with spaces or brackets in backticks, e.g. `Torque [Nm]` * rpm"
            ) from None
        expr = cls(source, tree, tuple(names.items()))
        expr._check(tree.body)
        return expr

    # -- validation ---------------------------------------------------------------------------------------------
    def _fail(self, what: str) -> ExpressionError:
        return ExpressionError(f"expression {self.source!r}: {what}")

    def _check(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise self._fail(f"only numbers may appear as literals (found {node.value!r})")
        elif isinstance(node, ast.Name):
            if node.id.startswith("__") and node.id not in dict(self.names):
                raise self._fail(f"name {node.id!r} is not allowed")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise self._fail(f"operator {type(node.op).__name__} is not allowed")
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
                raise self._fail(f"operator {type(node.op).__name__} is not allowed")
            self._check(node.operand)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self._check(value)
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _CMPOPS:
                    raise self._fail(f"comparison {type(op).__name__} is not allowed")
            for operand in (node.left, *node.comparators):
                if isinstance(operand, ast.Constant) and isinstance(operand.value, str):
                    continue  # Type == 'L' is fine inside a comparison
                self._check(operand)
        elif isinstance(node, ast.Call):
            func = node.func
            if not isinstance(func, ast.Name) or func.id not in _FUNCTIONS:
                called = func.id if isinstance(func, ast.Name) else ast.unparse(func)
                raise self._fail(
                    f"function calls other than {_allowed_functions()} are not allowed (found a call to {called!r})"
                )
            if node.keywords:
                raise self._fail(f"{func.id}() takes no keyword arguments")
            arity = _FUNCTIONS[func.id][1]
            if len(node.args) != arity:
                raise self._fail(f"{func.id}() takes {arity} argument(s), got {len(node.args)}")
            for arg in node.args:
                self._check(arg)
        else:
            raise self._fail(f"{type(node).__name__} is not allowed; use arithmetic on column names and numbers")

    # -- evaluation ---------------------------------------------------------------------------------------------
    def evaluate(self, frame: pd.DataFrame) -> pd.Series:
        """Evaluate on ``frame``; missing columns and non-numeric columns raise :class:`ExpressionError`."""
        missing = sorted(c for c in self.columns if c not in frame.columns)
        if missing:
            raise self._fail(
                f"column {missing[0]!r} is not in the data; available: {', '.join(map(str, frame.columns[:15]))}"
                + (" (use backticks around names with spaces)" if any(" " in str(c) for c in frame.columns) else "")
            )
        with np.errstate(all="ignore"):
            value = self._eval(self.tree.body, frame)
        if np.ndim(value) == 0:
            value = np.full(len(frame), value, dtype=float)
        return pd.Series(np.asarray(value, dtype=float), index=frame.index)

    def _column(self, name: str, frame: pd.DataFrame) -> np.ndarray:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col.dtype):
            return col.astype(float).to_numpy()
        if not pd.api.types.is_numeric_dtype(col.dtype):
            example = col.dropna().iloc[0] if col.notna().any() else None
            raise self._fail(
                f"column {name!r} is not numeric (example value {example!r}); compare it to a string instead, "
                f"e.g. `{name}` == 'A'"
            )
        return col.to_numpy(dtype=float, na_value=np.nan)

    def _eval(self, node: ast.AST, frame: pd.DataFrame) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            mapping = dict(self.names)
            if node.id in mapping:
                return self._column(mapping[node.id], frame)
            if node.id in frame.columns:
                return self._column(node.id, frame)
            if node.id in _CONSTANTS:
                return _CONSTANTS[node.id]
            raise self._fail(f"column {node.id!r} is not in the data")
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](self._eval(node.left, frame), self._eval(node.right, frame))
        if isinstance(node, ast.UnaryOp):
            operand = self._eval(node.operand, frame)
            if isinstance(node.op, ast.USub):
                return np.negative(operand)
            if isinstance(node.op, ast.Not):
                return np.logical_not(operand).astype(float)
            return operand
        if isinstance(node, ast.BoolOp):
            values = [np.asarray(self._eval(v, frame), dtype=bool) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            out = values[0]
            for v in values[1:]:
                out = combine(out, v)
            return out.astype(float)
        if isinstance(node, ast.Compare):
            left = self._operand(node.left, frame)
            result: Any = True
            for op, right_node in zip(node.ops, node.comparators):
                right = self._operand(right_node, frame)
                result = np.logical_and(result, _CMPOPS[type(op)](left, right))
                left = right
            return np.asarray(result, dtype=float)
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            func = _FUNCTIONS[node.func.id][0]
            return func(*(self._eval(a, frame) for a in node.args))
        raise self._fail(f"{type(node).__name__} is not allowed")  # unreachable after _check

    def _operand(self, node: ast.AST, frame: pd.DataFrame) -> Any:
        """A comparison operand: raw column values (strings allowed) or an arithmetic value."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            name = dict(self.names).get(node.id, node.id)
            if name in frame.columns and not pd.api.types.is_numeric_dtype(frame[name].dtype):
                return frame[name].to_numpy(dtype=object)
        return self._eval(node, frame)


def evaluate_derived(frame: pd.DataFrame, derive: dict[str, str] | None) -> pd.DataFrame:
    """Return ``frame`` with one new column per ``name: expression`` in ``derive`` (in order).

    Later expressions may use earlier derived names. Values are float64, computed exactly as the expression
    says (no rounding), so a rule applied elsewhere sees the very numbers it was mined on.

    >>> import pandas as pd
    >>> evaluate_derived(pd.DataFrame({"a": [300.0], "b": [308.5]}), {"d": "b - a"})["d"].tolist()
    [8.5]
    """
    if not derive:
        return frame
    out = frame.copy()
    for name, source in derive.items():
        if not isinstance(name, str) or not name.strip():
            raise ExpressionError(f"derived feature name {name!r} must be a non-empty string")
        if name in frame.columns:
            raise ExpressionError(f"derived feature {name!r} would overwrite a data column of the same name; rename it")
        values = Expression.parse(source).evaluate(out)
        out[name] = values
    return out


def parse_derive_options(options: list[str] | None) -> dict[str, str]:
    """Parse CLI ``NAME=EXPR`` strings into an ordered dict.

    >>> parse_derive_options(["d = b - a", "p=`x y` * 2"])
    {'d': 'b - a', 'p': '`x y` * 2'}
    """
    out: dict[str, str] = {}
    for option in options or []:
        name, sep, expr = option.partition("=")
        if not sep or not name.strip() or not expr.strip():
            raise ExpressionError(f"--derive {option!r}: write NAME=EXPR, e.g. --derive 'power=torque * rpm'")
        if expr.lstrip().startswith("="):
            raise ExpressionError(f"--derive {option!r}: write NAME=EXPR with a single '=' after the name")
        name = name.strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ExpressionError(f"--derive {option!r}: the name {name!r} must be an identifier (letters, digits, _)")
        Expression.parse(expr.strip())
        out[name] = expr.strip()
    return out
