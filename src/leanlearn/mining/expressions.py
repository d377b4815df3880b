"""Safe arithmetic expressions for derived features — parsed with a whitelist, never ``eval``'d.

An expression is Python-like arithmetic over column names: ``torque * rpm * 2 * pi / 60``. Column names that are
not identifiers go in backticks, as in :meth:`pandas.DataFrame.eval`: ```Process temperature [K]` - `Air
temperature [K]```. Allowed: numbers, column names, ``+ - * / // % **``, unary ``-``/``+``, comparisons
(giving 0/1), ``and``/``or``/``not``, the constants ``pi`` and ``e``, and the functions ``abs sqrt log log10 log2
exp sin cos tan floor ceil round minimum maximum where``. Anything else — attribute access, subscripts, other
calls, lambdas, strings outside comparisons — is refused before any evaluation happens.

What the numbers mean
---------------------
- Every literal is a float64 (``10**20`` is 1e20, ``2**64`` is 18446744073709551616.0, ``2**-1`` is 0.5): there is
  no integer arithmetic that could wrap around. A literal beyond the float range (``1e999``, a 400-digit integer)
  is refused.
- A result that is not a finite number — an overflow past ±1.8e308 (``exp(1000)``, ``x * 1e308``), a division by
  zero, or an undefined value (``0/0``, ``log(-1)``) — is a *missing value* (NaN): no condition holds on it, as for
  an empty cell. Only the final value counts: ``1 / (1 / 0)`` is 0.
- Comparing text with a number (``Type == 3``, ``rpm == 'L'``) is refused: at parse time when the column types are
  known (``Expression.parse(source, dtypes=...)``, which :func:`evaluate_derived` and rule packs do), else when the
  values are seen.

Limits: at most :data:`MAX_LENGTH` characters. A parsed expression is evaluated by a loop over a flat postfix
program (no recursion), so any legal expression up to that length evaluates, however deeply it nests.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"Torque [Nm]": [40.0, 50.0], "rpm": [1500, 1400]})
>>> expr = Expression.parse("`Torque [Nm]` * rpm * 2 * pi / 60")
>>> sorted(expr.columns)
['Torque [Nm]', 'rpm']
>>> expr.evaluate(frame).round(1).tolist()
[6283.2, 7330.4]
>>> Expression.parse("rpm * 10**20 + 2**-1").evaluate(frame).tolist()
[1.5e+23, 1.4e+23]
>>> Expression.parse("__import__('os').system('x')")
Traceback (most recent call last):
...
leanlearn.errors.ExpressionError: expression "__import__('os').system('x')": function calls other than ...
"""

from __future__ import annotations

import ast
import math
import operator
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from leanlearn.errors import ExpressionError

#: Longest expression accepted, in characters.
MAX_LENGTH = 2000
_MAX_LENGTH = MAX_LENGTH  # kept for callers of the old private name

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
_BINOP_SYMBOLS: dict[type, str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
}
#: numpy function of each binary operator symbol.
BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "//": np.floor_divide, "%": np.mod,
    "**": np.power,
}
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {t: BINOPS[s] for t, s in _BINOP_SYMBOLS.items()}
_CMP_SYMBOLS: dict[type, str] = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
}
#: numpy function of each comparison symbol (numbers), and the Python operator (one value, or text).
CMPOPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal, "!=": np.not_equal,
}
PY_CMPOPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {t: CMPOPS[s] for t, s in _CMP_SYMBOLS.items()}
_BACKTICK = re.compile(r"`([^`]*)`")
_NUMERIC_DTYPE = re.compile(r"^(u?int|float|double|halffloat|complex|bool|Int|UInt|Float|boolean|decimal)", re.I)
_TEXT_DTYPE = re.compile(r"^(object|str|string|large_string|O$)", re.I)  # a category may hold numbers


def _allowed_functions() -> str:
    return ", ".join(sorted(_FUNCTIONS))


def dtype_kind(dtype: Any) -> str:
    """``"number"``, ``"text"`` or ``"other"`` for a dtype or dtype name (as stored in a pack's feature schema).

    >>> [dtype_kind(d) for d in ("float64", "Int64", "bool", "object", "string[pyarrow]", "datetime64[ns, UTC]")]
    ['number', 'number', 'number', 'text', 'text', 'other']
    """
    name = str(dtype)
    if _NUMERIC_DTYPE.match(name):
        return "number"
    if _TEXT_DTYPE.match(name):
        return "text"
    return "other"


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


class Step(NamedTuple):
    """One instruction of an expression's postfix program.

    ``kind`` is one of ``num`` (``arg``: a float), ``text`` (a string, only as a comparison operand), ``col``
    (``arg``: ``(column, may_be_constant, raw)``; ``raw``: a comparison operand, text kept as text), ``bin``
    (``arg``: the operator symbol), ``neg``, ``not``, ``and`` / ``or`` (``n`` operands), ``call`` (``arg``: the
    function name, ``n`` arguments) and ``cmp`` (``arg``: ``(symbols, labels)``, ``n`` operands).
    """

    kind: str
    arg: Any = None
    n: int = 0


def compare_values(symbol: str, left: Any, right: Any, labels: tuple[str, str], source: str) -> bool:
    """One comparison of two values, as both evaluators (whole columns, one event) do it.

    Numbers compare as float64 (a NaN is unequal to everything). Text compares with text; a missing value compared
    with text is unequal to it (only ``!=`` holds). Text against a number raises :class:`ExpressionError` naming
    both sides.

    >>> compare_values("==", "L", "L", ("column 'Type'", "text 'L'"), "Type == 'L'")
    True
    >>> compare_values("==", "L", 3.0, ("column 'Type'", "number 3"), "Type == 3")
    Traceback (most recent call last):
    ...
    leanlearn.errors.ExpressionError: expression 'Type == 3': compares text with a number (column 'Type' holding 'L' ...
    """
    left_text, right_text = isinstance(left, str), isinstance(right, str)
    if left_text or right_text:
        if _is_missing(left) or _is_missing(right):
            return symbol == "!="
        if left_text and right_text:
            return bool(PY_CMPOPS[symbol](left, right))
        t, m = (0, 1) if left_text else (1, 0)
        pair = (left, right)
        raise ExpressionError(
            f"expression {_short(source)!r}: compares text with a number ({_seen(labels[t], pair[t])} with "
            f"{_seen(labels[m], pair[m])}); compare text with text (`Type` == 'L') and numbers with numbers"
        )
    return bool(PY_CMPOPS[symbol](_as_float(left, labels[0], source), _as_float(right, labels[1], source)))


def _as_float(value: Any, label: str, source: str) -> np.float64:
    """A comparison operand that is not text, as a float64 (bool → 0/1, missing → NaN)."""
    if isinstance(value, (bool, np.bool_)):
        return np.float64(float(value))
    if _is_missing(value):
        return np.float64(np.nan)
    if isinstance(value, (int, float, np.number)):
        try:
            return np.float64(value)
        except OverflowError:  # an integer beyond the float range
            return np.float64(math.inf if value > 0 else -math.inf)
    raise ExpressionError(
        f"expression {_short(source)!r}: {label} is neither a number nor a text (value {value!r:.60})"
    )


def _seen(label: str, value: Any) -> str:
    """``column 'Type' holding 'L'`` — or the literal's own label."""
    if not label.startswith("column "):
        return label
    shown = value.item() if isinstance(value, np.generic) else value
    return f"{label} holding {shown!r:.60}"


def _short(source: str) -> str:
    return source if len(source) <= 200 else source[:200] + "…"


def finite_or_nan(values: Any) -> np.ndarray:
    """``values`` as float64 with every non-finite entry (±inf, NaN) as NaN: an overflow is a missing value.

    >>> finite_or_nan([1.0, float("inf"), -float("inf")]).tolist()
    [1.0, nan, nan]
    """
    out = np.asarray(values, dtype=float)
    return np.where(np.isfinite(out), out, np.nan)


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed, validated expression. Build with :meth:`parse`; evaluate with :meth:`evaluate`.

    Attributes
    ----------
    source : str
        The text as written.
    tree : ast.Expression
        The validated syntax tree (kept for inspection; evaluation runs :attr:`program`).
    names : tuple of (str, str)
        Placeholder identifier → real column name, for names written in backticks.
    program : tuple of Step
        The expression as a flat postfix program (see :class:`Step`).
    """

    source: str
    tree: ast.Expression
    names: tuple[tuple[str, str], ...]  # placeholder identifier -> real column name
    program: tuple[Step, ...] = ()

    @property
    def columns(self) -> frozenset[str]:
        """Column names the expression reads."""
        return frozenset(
            s.arg[0] for s in self.program if s.kind == "col" and not (s.arg[1] and s.arg[0] in _CONSTANTS)
        )

    @classmethod
    def parse(cls, source: str, dtypes: Mapping[str, Any] | None = None) -> Expression:
        """Parse ``source``; raise :class:`ExpressionError` if it is malformed or uses anything not whitelisted.

        Parameters
        ----------
        source : str
            The expression.
        dtypes : mapping of str to dtype or dtype name, optional
            The columns' types (a frame's ``dtypes``, or a pack's feature schema). When given, arithmetic on a text
            column and comparisons of text with numbers are refused here, with the column named.
        """
        if not isinstance(source, str) or not source.strip():
            raise ExpressionError(f"expression {source!r} is empty; write e.g. 'torque * rpm'")
        if len(source) > MAX_LENGTH:
            raise ExpressionError(
                f"expression of {len(source)} characters is too long (at most {MAX_LENGTH}); "
                "split it into several derived features"
            )
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
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SyntaxWarning)  # e.g. "invalid decimal literal": refused below
                tree = ast.parse(text.strip(), mode="eval")
        except (SyntaxError, ValueError) as exc:
            reason = exc.msg if isinstance(exc, SyntaxError) else str(exc)
            raise ExpressionError(
                f"expression {source!r} is not valid arithmetic ({reason}); "
                "put column names with spaces or brackets in backticks, e.g. `Torque [Nm]` * rpm"
            ) from None
        except (RecursionError, MemoryError):
            raise ExpressionError(
                f"expression {source[:60]!r}… nests too deeply to parse; split it into several derived features"
            ) from None
        expr = cls(source, tree, tuple(names.items()))
        program = expr._compile(tree.body)
        expr = cls(source, tree, expr.names, tuple(program))
        expr._check_types(dtypes)
        return expr

    # -- validation and compilation -----------------------------------------------------------------------------
    def _fail(self, what: str) -> ExpressionError:
        return ExpressionError(f"expression {_short(self.source)!r}: {what}")

    def _compile(self, root: ast.AST) -> list[Step]:
        """Validate every node (whitelist) and emit the postfix program — iteratively, with no recursion."""
        program: list[Step] = []
        pending: list[tuple[ast.AST, bool, bool]] = [(root, False, False)]  # (node, children done?, operand?)
        while pending:
            node, done, operand = pending.pop()
            if done:
                program.append(self._emit(node, operand))
                continue
            children = self._check_node(node, operand)
            pending.append((node, True, operand))
            pending.extend((child, False, child_operand) for child, child_operand in reversed(children))
        return program

    def _check_node(self, node: ast.AST, operand: bool) -> list[tuple[ast.AST, bool]]:
        """Refuse ``node`` unless whitelisted; return its children in evaluation order (and whether each is a
        comparison operand, where text is allowed)."""
        if isinstance(node, ast.Constant):
            value = node.value
            if operand and isinstance(value, str):
                return []
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self._fail(f"only numbers may appear as literals (found {value!r:.60})")
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if not math.isfinite(number):
                literal = str(value) if isinstance(value, float) else f"an integer of {len(str(abs(value)))} digits"
                raise self._fail(f"the number {literal} is beyond the float range (about ±1.8e308)")
            return []
        if isinstance(node, ast.Name):
            if node.id.startswith("__") and node.id not in dict(self.names):
                raise self._fail(f"name {node.id!r} is not allowed")
            return []
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOP_SYMBOLS:
                raise self._fail(f"operator {type(node.op).__name__} is not allowed")
            return [(node.left, False), (node.right, False)]
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
                raise self._fail(f"operator {type(node.op).__name__} is not allowed")
            return [(node.operand, False)]
        if isinstance(node, ast.BoolOp):
            return [(value, False) for value in node.values]
        if isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _CMP_SYMBOLS:
                    raise self._fail(f"comparison {type(op).__name__} is not allowed")
            return [(node.left, True), *((c, True) for c in node.comparators)]
        if isinstance(node, ast.Call):
            func = node.func
            if not isinstance(func, ast.Name) or func.id not in _FUNCTIONS:
                if isinstance(func, ast.Name):
                    called = func.id
                elif isinstance(func, ast.Attribute):
                    called = f"….{func.attr}"
                else:
                    called = type(func).__name__
                raise self._fail(
                    f"function calls other than {_allowed_functions()} are not allowed (found a call to {called!r})"
                )
            if node.keywords:
                raise self._fail(f"{func.id}() takes no keyword arguments")
            arity = _FUNCTIONS[func.id][1]
            if len(node.args) != arity:
                raise self._fail(f"{func.id}() takes {arity} argument(s), got {len(node.args)}")
            return [(arg, False) for arg in node.args]
        raise self._fail(f"{type(node).__name__} is not allowed; use arithmetic on column names and numbers")

    def _emit(self, node: ast.AST, operand: bool) -> Step:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return Step("text", node.value)
            assert isinstance(node.value, (int, float))  # _check_node refused every other literal
            return Step("num", float(node.value))
        if isinstance(node, ast.Name):
            mapping = dict(self.names)
            if node.id in mapping:
                return Step("col", (mapping[node.id], False, operand))
            return Step("col", (node.id, True, operand))
        if isinstance(node, ast.BinOp):
            return Step("bin", _BINOP_SYMBOLS[type(node.op)])
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return Step("neg")
            if isinstance(node.op, ast.Not):
                return Step("not")
            return Step("pos")
        if isinstance(node, ast.BoolOp):
            return Step("and" if isinstance(node.op, ast.And) else "or", None, len(node.values))
        if isinstance(node, ast.Compare):
            symbols = tuple(_CMP_SYMBOLS[type(op)] for op in node.ops)
            labels = tuple(self._label(n) for n in (node.left, *node.comparators))
            return Step("cmp", (symbols, labels), len(symbols) + 1)
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)  # the rest was refused by _check_node
        return Step("call", node.func.id, len(node.args))

    def _label(self, node: ast.AST) -> str:
        """How an error names a comparison operand."""
        if isinstance(node, ast.Name):
            return f"column {dict(self.names).get(node.id, node.id)!r}"
        if isinstance(node, ast.Constant):
            return f"text {node.value!r:.60}" if isinstance(node.value, str) else f"number {node.value!r:.60}"
        return "a computed number"

    def _check_types(self, dtypes: Mapping[str, Any] | None) -> None:
        """Refuse arithmetic on text and comparisons of text with numbers, from the operands' types alone."""
        kinds: dict[str, str] = {} if dtypes is None else {str(k): dtype_kind(v) for k, v in dtypes.items()}
        stack: list[tuple[str, str]] = []  # (kind, label) per value on the evaluation stack
        for step in self.program:
            kind = step.kind
            if kind == "num":
                stack.append(("number", ""))
            elif kind == "text":
                stack.append(("text", ""))
            elif kind == "col":
                column, may_be_constant, raw = step.arg
                found = kinds.get(column, "number" if may_be_constant and column in _CONSTANTS else "unknown")
                if not raw and found in ("text", "other"):
                    raise self._fail(
                        f"column {column!r} is not numeric (it holds {'text' if found == 'text' else 'no numbers'}); "
                        f"compare it to a string instead, e.g. `{column}` == 'A'"
                    )
                stack.append((found if raw else "number", column))
            elif kind in ("neg", "not", "pos"):
                stack[-1] = ("number", "")
            else:
                n = 2 if kind == "bin" else step.n
                operands = stack[len(stack) - n:]
                del stack[len(stack) - n:]
                if kind == "cmp":
                    _, labels = step.arg
                    for (a, _), (b, _), la, lb in zip(operands[:-1], operands[1:], labels[:-1], labels[1:]):
                        if {a, b} == {"text", "number"}:
                            text_label, number_label = (la, lb) if a == "text" else (lb, la)
                            raise self._fail(
                                f"compares {text_label} (text) with {number_label} (a number); compare text with "
                                "text (`Type` == 'L') and numbers with numbers"
                            )
                stack.append(("number", ""))

    # -- evaluation ---------------------------------------------------------------------------------------------
    def evaluate(self, frame: pd.DataFrame) -> pd.Series:
        """Evaluate on ``frame`` (float64; non-finite results are NaN).

        Missing columns, arithmetic on non-numeric columns and text compared with numbers raise
        :class:`ExpressionError`.
        """
        missing = sorted(c for c in self.columns if c not in frame.columns)
        if missing:
            raise self._fail(
                f"column {missing[0]!r} is not in the data; available: {', '.join(map(str, frame.columns[:15]))}"
                + (" (use backticks around names with spaces)" if any(" " in str(c) for c in frame.columns) else "")
            )
        with np.errstate(all="ignore"):
            value = self._run(frame)
        if np.ndim(value) == 0:
            value = np.full(len(frame), value, dtype=float)
        return pd.Series(finite_or_nan(np.asarray(value, dtype=float)), index=frame.index)

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

    def _run(self, frame: pd.DataFrame) -> Any:
        """Run the postfix program on whole columns. Constants stay Python numbers until they meet a column."""
        values: list[Any] = []
        constant: list[bool] = []
        cache: dict[tuple[str, bool], Any] = {}
        n = len(frame)
        for step in self.program:
            kind = step.kind
            if kind == "num" or kind == "text":
                values.append(step.arg)
                constant.append(True)
            elif kind == "col":
                column, _, raw = step.arg
                if column not in frame.columns:  # only a constant's name can get here (evaluate checked the rest)
                    values.append(_CONSTANTS[column])
                    constant.append(True)
                    continue
                key = (column, raw)
                if key not in cache:
                    if raw and not pd.api.types.is_numeric_dtype(frame[column].dtype) and \
                            not pd.api.types.is_bool_dtype(frame[column].dtype):
                        cache[key] = frame[column].to_numpy(dtype=object)
                    else:
                        cache[key] = self._column(column, frame)
                values.append(cache[key])
                constant.append(False)
            elif kind == "bin":
                right, left = values.pop(), values.pop()
                rc, lc = constant.pop(), constant.pop()
                values.append(BINOPS[step.arg](left, right))
                constant.append(lc and rc)
            elif kind == "neg":
                values[-1] = np.negative(values[-1])
            elif kind == "not":
                values[-1] = np.logical_not(values[-1]).astype(float)
            elif kind == "pos":
                pass
            elif kind in ("and", "or"):
                parts = values[len(values) - step.n:]
                flags = constant[len(constant) - step.n:]
                del values[len(values) - step.n:], constant[len(constant) - step.n:]
                combine = np.logical_and if kind == "and" else np.logical_or
                out = np.asarray(parts[0], dtype=bool)
                for part in parts[1:]:
                    out = combine(out, np.asarray(part, dtype=bool))
                values.append(out.astype(float))
                constant.append(all(flags))
            elif kind == "call":
                args = values[len(values) - step.n:]
                flags = constant[len(constant) - step.n:]
                del values[len(values) - step.n:], constant[len(constant) - step.n:]
                values.append(_FUNCTIONS[step.arg][0](*args))
                constant.append(all(flags))
            else:  # cmp
                symbols, labels = step.arg
                operands = values[len(values) - step.n:]
                flags = constant[len(constant) - step.n:]
                del values[len(values) - step.n:], constant[len(constant) - step.n:]
                result: Any = True
                for i, symbol in enumerate(symbols):
                    a, b = operands[i], operands[i + 1]
                    pair = (labels[i], labels[i + 1])
                    if _is_text(a) or _is_text(b):
                        hit = self._compare_elementwise(symbol, a, b, pair, n)
                    else:
                        hit = CMPOPS[symbol](a, b)
                    result = np.logical_and(result, hit)
                values.append(np.asarray(result, dtype=float))
                constant.append(all(flags))
        return values[-1]

    def _compare_elementwise(self, symbol: str, a: Any, b: Any, labels: tuple[str, str], n: int) -> Any:
        """A comparison where one side is text: value by value, exactly as :func:`compare_values` does it."""
        if not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray):
            return compare_values(symbol, a, b, labels, self.source)
        left = a if isinstance(a, np.ndarray) else [a] * n
        right = b if isinstance(b, np.ndarray) else [b] * n
        return np.fromiter((compare_values(symbol, x, y, labels, self.source) for x, y in zip(left, right)),
                           dtype=bool, count=n)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, np.ndarray) and value.dtype == object)


def frame_dtypes(frame: pd.DataFrame) -> dict[str, Any]:
    """Column name → dtype of ``frame``, the mapping :meth:`Expression.parse` takes as ``dtypes``."""
    return {str(c): dtype for c, dtype in frame.dtypes.items()}


def evaluate_derived(frame: pd.DataFrame, derive: dict[str, str] | None) -> pd.DataFrame:
    """Return ``frame`` with one new column per ``name: expression`` in ``derive`` (in order).

    Later expressions may use earlier derived names. Values are float64, computed exactly as the expression
    says (no rounding), so a rule applied elsewhere sees the very numbers it was mined on; a non-finite result
    (overflow, division by zero) is a missing value. Each expression is checked against the frame's column types
    before it is evaluated: arithmetic on text and text compared with numbers are refused with the column named.

    >>> import pandas as pd
    >>> evaluate_derived(pd.DataFrame({"a": [300.0], "b": [308.5]}), {"d": "b - a"})["d"].tolist()
    [8.5]
    """
    if not derive:
        return frame
    out = frame.copy()
    dtypes = frame_dtypes(frame)
    for name, source in derive.items():
        if not isinstance(name, str) or not name.strip():
            raise ExpressionError(f"derived feature name {name!r} must be a non-empty string")
        if name in frame.columns:
            raise ExpressionError(f"derived feature {name!r} would overwrite a data column of the same name; rename it")
        values = Expression.parse(source, dtypes).evaluate(out)
        out[name] = values
        dtypes[name] = values.dtype
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
