"""Hostile derived-feature expressions: wrong numbers, overflow, deep nesting, text against numbers, escapes.

Each test is a defect probe from issue 8 (it failed before the fix) or a guard on the whitelist. Whole-column
evaluation (:meth:`Expression.evaluate`) and one-event evaluation (:func:`compile_scalar`, used by the monitor) are
checked together: they must agree.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
import pytest

from leanlearn.errors import ExpressionError
from leanlearn.mining.expressions import MAX_LENGTH, Expression, evaluate_derived
from leanlearn.online.evaluate import compile_scalar

FRAME = pd.DataFrame({"a": [1.0, -2.0, 0.0], "b": [3.0, 4.0, 0.0], "Type": ["L", "M", None]})
ROWS = [{"a": 1.0, "b": 3.0, "Type": "L"}, {"a": -2.0, "b": 4.0, "Type": "M"}, {"a": 0.0, "b": 0.0, "Type": None}]


def both(source: str) -> tuple[list[float], list[float]]:
    """The expression on the whole frame and event by event."""
    expression = Expression.parse(source)
    one = compile_scalar(expression)
    return expression.evaluate(FRAME).tolist(), [one(row) for row in ROWS]


def same(values: list[float], expected: list[float]) -> bool:
    return all((math.isnan(v) and math.isnan(e)) or v == e for v, e in zip(values, expected, strict=True))


# -- numbers: every literal is a float64 ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("10**20", 1e20),
        ("2**64", 18446744073709551616.0),
        ("2**-1", 0.5),
        ("10**-3", 0.001),
        ("-2**63 - 1", -9223372036854775809.0),
        ("7 // 2", 3.0),
        ("2**0.5", 2**0.5),
    ],
)
def test_integer_literals_compute_as_floats_without_wrapping(source, value):
    column, events = both(source)
    assert column == [value] * 3 and events == [value] * 3


def test_a_large_factor_keeps_the_sign_of_the_result():
    column, events = both("a * 10**19")
    assert column == events == [1e19, -2e19, 0.0]


def test_a_literal_beyond_the_float_range_is_refused():
    with pytest.raises(ExpressionError, match="beyond the float range"):
        Expression.parse("a * 1e999")


def test_an_integer_literal_of_hundreds_of_digits_is_refused_with_its_size():
    with pytest.raises(ExpressionError, match="integer of 400 digits"):
        Expression.parse("a + " + "9" * 400)


# -- overflow and undefined results are missing values --------------------------------------------------------
@pytest.mark.parametrize(
    "source",
    ["a * 1e308 * 10", "exp(b * 1000)", "b / 0 + 1", "log(a - 5)", "sqrt(a - 5)", "(b - b) / (a - a)", "9.0 ** 9 ** 9"],
)
def test_a_non_finite_result_is_missing_in_both_evaluators(source):
    column, events = both(source)
    assert same(column, events)
    assert not any(math.isinf(v) for v in column + events)


def test_overflow_in_the_middle_that_comes_back_finite_is_kept():
    column, events = both("1 / (1 / (b * 0))")  # 1/(1/0) = 1/inf = 0 ... except where b*0 is 0 → 1/inf = 0
    assert same(column, events)


def test_an_overflowing_derived_feature_never_satisfies_a_condition():
    from leanlearn.mining.rules import Condition

    out = evaluate_derived(FRAME, {"huge": "b * 1e308 * 10"})
    assert Condition("huge", ">", 0.0).mask(out).tolist() == [False, False, False]


# -- depth: legal expressions up to the length limit evaluate, no RecursionError ------------------------------
@pytest.mark.parametrize(
    "source",
    [
        "-" * (MAX_LENGTH - 1) + "a",
        "+".join(["a"] * (MAX_LENGTH // 2)),
        "**".join(["1"] * (MAX_LENGTH // 3)),
        "not " * ((MAX_LENGTH - 1) // 4) + "a",
        " < ".join(["a"] * (MAX_LENGTH // 4)),
        "abs(" * 190 + "a" + ")" * 190,
    ],
    ids=["unary", "sum", "power-tower", "not-chain", "compare-chain", "nested-calls"],
)
def test_long_legal_expression_evaluates_in_both_evaluators(source):
    assert len(source) <= MAX_LENGTH
    column, events = both(source)
    assert same(column, events)


def test_nesting_the_parser_cannot_take_is_one_expression_error():
    with pytest.raises(ExpressionError, match="expression"):
        Expression.parse("(" * 400 + "a" + ")" * 400)


def test_an_expression_over_the_length_limit_is_refused_before_parsing():
    with pytest.raises(ExpressionError, match=f"at most {MAX_LENGTH}"):
        Expression.parse("-" * 100_000 + "a")


# -- text against numbers -------------------------------------------------------------------------------------
def test_text_column_compared_with_a_number_is_refused_at_parse_time_with_the_column_named():
    with pytest.raises(ExpressionError, match=r"column 'Type' \(text\) with number 3"):
        Expression.parse("Type == 3", dtypes=FRAME.dtypes)


def test_numeric_column_compared_with_text_is_refused_at_parse_time():
    with pytest.raises(ExpressionError, match=r"text 'L' \(text\) with column 'a'"):
        Expression.parse("a < 'L'", dtypes=FRAME.dtypes)


def test_arithmetic_on_a_text_column_is_refused_at_parse_time():
    with pytest.raises(ExpressionError, match="column 'Type' is not numeric"):
        Expression.parse("Type * 2", dtypes=FRAME.dtypes)


def test_a_text_literal_compared_with_arithmetic_is_refused_without_types():
    with pytest.raises(ExpressionError, match="compares text 'L'"):
        Expression.parse("'L' == a + 1")


def test_evaluate_derived_checks_types_before_evaluating():
    with pytest.raises(ExpressionError, match="column 'Type'"):
        evaluate_derived(FRAME, {"x": "Type > 1"})


@pytest.mark.parametrize("source", ["Type < 3", "a == 'L'", "Type >= a"])
def test_text_against_number_at_evaluation_is_a_clear_error_in_both_evaluators(source):
    expression = Expression.parse(source)  # no types given: seen only when values arrive
    with pytest.raises(ExpressionError, match="compares text with a number"):
        expression.evaluate(FRAME)
    with pytest.raises(ExpressionError, match="compares text with a number"):
        compile_scalar(expression)(ROWS[0])


def test_text_comparison_with_a_missing_value_does_not_hold_in_both_evaluators():
    column, events = both("Type == 'L'")
    assert column == events == [1.0, 0.0, 0.0]
    column, events = both("Type != 'L'")
    assert column == events == [0.0, 1.0, 1.0]


def test_a_text_value_in_a_numeric_event_field_is_named():
    with pytest.raises(ExpressionError, match=r"column 'a' is not numeric \(example value 'n/a'\)"):
        compile_scalar(Expression.parse("a + 1"))({"a": "n/a"})


def test_an_event_integer_beyond_the_float_range_is_missing_not_an_overflow_error():
    assert math.isnan(compile_scalar(Expression.parse("a + 1"))({"a": 10**400}))


# -- the whitelist holds ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "source",
    [
        "().__class__.__bases__[0].__subclasses__()",
        "(lambda: 0)()",
        "a.real",
        "b'x' == b'x'",
        "abs(*[a])",
        "sqrt(x=a)",
        "1j * a",
        "True + a",
        "a if b else 0",
        "f'{a}'",
        "a @ b",
        "~a",
        "a in b",
        "a is b",
        "__col0__ + 1",
        "(" * 300 + "a.__class__" + ")" * 300,
        "abs(a).__class__",
        "exec('1')",
        "a\x00 + 1",
    ],
)
def test_hostile_expression_is_refused_with_an_expression_error(source):
    with pytest.raises(ExpressionError):
        Expression.parse(source)


def test_refusal_of_a_call_on_a_deep_receiver_does_not_recurse():
    source = "(" + "+".join(["a"] * 900) + ")()"
    with pytest.raises(ExpressionError, match="function calls other than"):
        Expression.parse(source)


def test_nothing_is_executed_by_parsing_or_evaluating(monkeypatch, tmp_path):
    marker = tmp_path / "pwned"
    monkeypatch.setattr(os, "system", lambda *a: marker.write_text("x"))
    for source in ("__import__('os').system('x')", "eval('1')", "open('/etc/passwd')"):
        with pytest.raises(ExpressionError):
            evaluate_derived(FRAME, {"x": source})
    assert not marker.exists()


def test_an_error_message_quotes_at_most_a_bounded_prefix_of_a_long_expression():
    source = "+".join(["a"] * 600) + " + Type"
    with pytest.raises(ExpressionError) as info:
        Expression.parse(source, dtypes=FRAME.dtypes)
    assert len(str(info.value)) < 500


def test_vector_and_scalar_agree_on_a_mixed_expression():
    column, events = both("where(Type == 'L', a ** 2, -b) // 3 + (a < b < 5) - 2 ** -2")
    assert same(column, events)
    assert np.isfinite(column).all()
