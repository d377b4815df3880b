"""Derived-feature expressions: whitelisted, never eval'd."""

import numpy as np
import pandas as pd
import pytest

from leanlearn.errors import ExpressionError
from leanlearn.mining.expressions import Expression, evaluate_derived, parse_derive_options

FRAME = pd.DataFrame(
    {"Torque [Nm]": [40.0, 50.0], "rpm": [1500, 1400], "Type": ["L", "M"], "ok": [True, False]}
)


def test_power_expression_matches_numpy():
    got = Expression.parse("`Torque [Nm]` * rpm * 2 * pi / 60").evaluate(FRAME)
    expected = FRAME["Torque [Nm]"] * FRAME["rpm"] * 2 * np.pi / 60
    np.testing.assert_allclose(got, expected)


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os').system('x')",
        "open('/etc/passwd').read()",
        "rpm.__class__",
        "[x for x in rpm]",
        "lambda: 1",
        "rpm[0]",
        "eval('1')",
        "getattr(rpm, 'x')",
        "'text'",
        "__builtins__",
        "(rpm := 3)",
        "{'a': 1}",
    ],
)
def test_unsafe_or_non_arithmetic_expression_is_refused(source):
    with pytest.raises(ExpressionError, match="expression"):
        Expression.parse(source)


def test_refusal_happens_before_any_evaluation(monkeypatch):
    called = []
    monkeypatch.setattr("os.system", lambda *a: called.append(a))
    with pytest.raises(ExpressionError):
        evaluate_derived(FRAME, {"x": "__import__('os').system('touch /tmp/pwned')"})
    assert called == []


def test_unknown_column_is_named_in_the_error():
    with pytest.raises(ExpressionError, match="'torque'"):
        Expression.parse("torque * rpm").evaluate(FRAME)


def test_text_column_in_arithmetic_names_column_and_example():
    with pytest.raises(ExpressionError, match=r"'Type' is not numeric \(example value 'L'\)"):
        Expression.parse("Type * 2").evaluate(FRAME)


def test_comparison_with_text_gives_zero_one():
    assert Expression.parse("Type == 'M'").evaluate(FRAME).tolist() == [0.0, 1.0]


def test_functions_and_boolean_logic():
    got = Expression.parse("where(rpm > 1450 and ok, sqrt(abs(-16)), maximum(rpm, 1))").evaluate(FRAME)
    assert got.tolist() == [4.0, 1400.0]


def test_later_derived_features_may_use_earlier_ones():
    out = evaluate_derived(FRAME, {"p": "`Torque [Nm]` * rpm", "q": "p / 1000"})
    assert out["q"].tolist() == [60.0, 70.0]


def test_derived_name_clashing_with_a_column_is_refused():
    with pytest.raises(ExpressionError, match="overwrite"):
        evaluate_derived(FRAME, {"rpm": "rpm * 2"})


@pytest.mark.parametrize("option", ["power", "=rpm", "power=", "2x=rpm", "a==rpm", "p=rpm +"])
def test_bad_derive_option_is_refused(option):
    with pytest.raises(ExpressionError):
        parse_derive_options([option])


def test_wrong_arity_is_refused():
    with pytest.raises(ExpressionError, match="takes 1 argument"):
        Expression.parse("sqrt(rpm, 2)")
