"""Fuzz targets for the expression parser/evaluator and the rule-pack loader (hypothesis).

Contract: whatever the input, only :class:`~leanlearn.errors.LeanlearnError` subclasses escape — never a
``RecursionError``, ``TypeError``, ``ValueError``, ``OverflowError`` or a hang — and where an expression evaluates,
whole-column and per-event evaluation agree. The suite runs each target for a bounded number of examples;
``benchmarks/fuzz.py`` runs the same targets (:data:`TARGETS`) for as long as asked.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leanlearn.errors import LeanlearnError
from leanlearn.mining.expressions import MAX_LENGTH, Expression
from leanlearn.mining.rules import Condition, Rule, RuleSet
from leanlearn.online.evaluate import compile_scalar
from leanlearn.packs.pack import RulePack, Target, content_hash, parse_json

FRAME = pd.DataFrame({"a": [1.5, -2.0, 0.0, float("nan")], "b": [3.0, 1e308, -0.0, 7.0],
                      "x y": [1.0, 2.0, 3.0, 4.0], "Type": ["L", "M", None, "L"]})
ROWS = [{str(k): (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in FRAME.to_dict("records")]
SETTINGS = settings(max_examples=200, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# -- expressions ---------------------------------------------------------------------------------------------------
TOKENS = [
    "a", "b", "`x y`", "Type", "pi", "e", "1", "0", "2", "10", "0.5", "1e308", "-1", "99999999999999999999",
    "+", "-", "*", "/", "//", "%", "**", "(", ")", ",", " ", "<", "<=", ">", ">=", "==", "!=", "'L'", "'M'",
    "not ", " and ", " or ", "abs(", "sqrt(", "log(", "exp(", "floor(", "round(", "minimum(", "maximum(",
    "where(", "sin(", ".", "[", "]", "__", "lambda", ":", "`", "'", "\\", "\x00", "1j", "True", "if", "else",
    "__import__('os')", ".__class__", "[0]", "{", "}", "@", "~", "in", "is",
]
expressions = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=40).map("".join),
    st.text(max_size=60),
    st.integers(1, MAX_LENGTH // 2).map(lambda n: "-" * (2 * n - 1) + "a"),  # deep, legal
    st.integers(1, 300).flatmap(lambda n: st.sampled_from(["(" * n + "a" + ")" * n, "abs(" * n + "b" + ")" * n])),
)


def same(u: float, v: float) -> bool:
    return (math.isnan(u) and math.isnan(v)) or u == v


def check_expression(source: str) -> None:
    """Parse, evaluate on a frame and event by event: only LeanlearnError; both evaluators agree."""
    try:
        expression = Expression.parse(source)
    except LeanlearnError:
        return
    try:
        column = expression.evaluate(FRAME).tolist()
    except LeanlearnError:
        column = None
    one = compile_scalar(expression)
    events = []
    for row in ROWS:
        try:
            events.append(one(row))
        except LeanlearnError:
            events.append(None)
    if column is not None and None not in events:
        assert all(same(u, v) for u, v in zip(column, events, strict=True)), (source, column, events)
        assert not any(math.isinf(v) for v in column)


@SETTINGS
@given(expressions)
def test_fuzzed_expressions_raise_only_leanlearn_errors_and_both_evaluators_agree(source):
    check_expression(source)


# -- packs ---------------------------------------------------------------------------------------------------------
def _base_doc() -> dict[str, Any]:
    rules = tuple(
        Rule((Condition("torque", ">=", 60.0 + i), Condition("Type", "in", ("L", "M"))), Condition("scrap", "==", 1),
             support=0.1, coverage=0.1, confidence=0.9, lift=4.5, leverage=0.08, conviction=8.0, n=10, hits=9,
             p_value=1e-4, p_value_raw=1e-5, ci=(0.6, 0.98), base_rate=0.2, id=f"R{i}")
        for i in range(3)
    )
    pack = RulePack(name="fuzz", line="L1", targets=(Target("scrap"),), rules=RuleSet(rules),
                    derived=(("p", "torque * 2"),), mining={"alpha": 0.05, "nested": {"k": [1, 2]}})
    return pack.to_json()


BASE = _base_doc()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out.extend(_paths(value, (*prefix, i)))
    return out


PATHS = _paths(BASE)[1:]


@st.composite
def mutated_docs(draw: st.DrawFn) -> dict[str, Any]:
    """The valid pack with a few nodes replaced or deleted, or a key added; re-hashed half of the time (so the
    schema and type checks, not only the hash, are exercised)."""
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                parent[path[-1]] = draw(json_values)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.text(max_size=6))] = draw(json_values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or retyped the path
    if draw(st.booleans()):
        try:
            doc["content_hash"] = content_hash(doc)
        except (ValueError, TypeError):
            pass
    return doc


def check_pack_doc(doc: Any) -> None:
    try:
        RulePack.from_json(doc)
    except LeanlearnError:
        pass


def check_pack_text(text: str) -> None:
    try:
        RulePack.from_json(parse_json(text, "fuzz.json"))
    except LeanlearnError:
        pass


@st.composite
def mutated_texts(draw: st.DrawFn) -> str:
    """The valid pack's JSON text with characters inserted, deleted or replaced, or a hostile literal spliced in."""
    text = json.dumps(BASE)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        piece = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "9" * 5000, "[" * 3000, "{", "}",
                                      '"', ",", ":", "\\u0000", "\x00", "null", "true", "-0", "1.5e-400"])
                     | st.text(max_size=4))
        cut = draw(st.integers(0, 3))
        text = text[:i] + piece + text[i + cut:]
    return text


@SETTINGS
@given(mutated_docs())
def test_fuzzed_pack_documents_raise_only_leanlearn_errors(doc):
    check_pack_doc(doc)


@SETTINGS
@given(mutated_texts())
def test_fuzzed_pack_texts_raise_only_leanlearn_errors(text):
    check_pack_text(text)


def check_validator_agrees(doc: Any) -> None:
    """The compiled schema validator and jsonschema (the reference) accept and refuse the same documents."""
    import jsonschema

    from leanlearn.packs.pack import _schema, _validator

    ours = _validator()(doc)
    reference = list(jsonschema.Draft202012Validator(_schema()).iter_errors(doc))
    assert (ours is None) == (not reference), (ours, [e.message for e in reference])
    if ours:
        assert {tuple(p) for p, _ in ours} == {tuple(e.absolute_path) for e in reference}


@SETTINGS
@given(mutated_docs())
def test_compiled_schema_validator_agrees_with_jsonschema(doc):
    check_validator_agrees(doc)


#: name → (hypothesis strategy, target); benchmarks/fuzz.py runs these for longer.
TARGETS: dict[str, tuple[st.SearchStrategy[Any], Callable[[Any], None]]] = {
    "expression": (expressions, check_expression),
    "pack-document": (mutated_docs(), check_pack_doc),
    "pack-text": (mutated_texts(), check_pack_text),
    "schema-agreement": (mutated_docs(), check_validator_agrees),
}
