"""The indexed per-event evaluator gives the answer of the general one, on random packs and hostile events.

:meth:`CompiledPack.evaluate_row` / :meth:`CompiledPack.evaluate_checked` find candidate rules through an index (an
interval per numeric feature, a dict per categorical one) and check the rest with early exit; the reference is
``CompiledPack._evaluate_general`` (every rule in turn, each condition through its general test, as before the
index), :meth:`Rule.mask` on the prepared frame, and the batched path of the monitor.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from leanlearn.errors import LeanlearnError
from leanlearn.mining.rules import Condition, Rule, RuleSet
from leanlearn.online.evaluate import _MAX_INDEX_ENTRIES, CompiledPack, _choose, _options
from leanlearn.online.monitor import Monitor
from leanlearn.online.scenarios import planted_stream
from leanlearn.online.settings import TrackerSettings
from leanlearn.packs.pack import RulePack, Target

NUMERIC = ("a", "b", "c", "d")  # d is derived
THRESHOLDS = (0.0, 0.25, 0.5, 0.5, 1, 2, -1, True, False, 0.75, 1e300, -math.inf, math.inf)


def _condition(rng: np.random.Generator, hostile: bool) -> Condition:
    kind = rng.random()
    if kind < 0.65:
        feature = str(rng.choice(NUMERIC))
        op = str(rng.choice(["<", "<=", ">", ">=", "==", "!=", "between", "in"]))
        pick = lambda: THRESHOLDS[int(rng.integers(len(THRESHOLDS)))]  # noqa: E731
        if op == "between":
            lo, hi = sorted([float(pick()), float(pick())]) if rng.random() < 0.8 else (float(pick()), float(pick()))
            return Condition(feature, op, [lo, hi])
        if op == "in":
            return Condition(feature, op, [float(rng.choice([0, 1, 2, 0.5])) for _ in range(int(rng.integers(1, 4)))])
        return Condition(feature, op, pick())
    if kind < 0.95 or not hostile:
        op = str(rng.choice(["==", "!=", "in"]))
        if op == "in":
            return Condition("k", op, [str(v) for v in rng.choice(["x", "y", "z", "1"], int(rng.integers(1, 3)))])
        return Condition("k", op, str(rng.choice(["x", "y", "z", "1"])) if rng.random() < 0.85 else True)
    # an order comparison with text: raises on any present value (the event is quarantined)
    return Condition(str(rng.choice(["k", "a"])), str(rng.choice(["<", ">="])), "m")


def _pack(seed: int, n_rules: int, hostile: bool = True) -> RulePack:
    rng = np.random.default_rng(seed)
    rules = []
    for k in range(n_rules):
        conditions = tuple(dict.fromkeys(_condition(rng, hostile) for _ in range(int(rng.integers(1, 4)))))
        outcome = Condition("y", "==", 1) if rng.random() < 0.7 else Condition("v", ">", 0.5)
        rules.append(Rule(conditions, outcome, support=0.1, coverage=0.2, confidence=0.5, lift=1.5, leverage=0.01,
                          conviction=None, n=100, hits=50, p_value=1e-3, p_value_raw=1e-4, ci=(0.4, 0.6),
                          base_rate=0.3, id=f"R{k}"))
    return RulePack(name="random", line="L", targets=(Target("y"), Target("v")), rules=RuleSet(tuple(rules)),
                    derived=(("d", "a * 2 - b"),))


def _value(rng: np.random.Generator, hostile: bool) -> object:
    r = rng.random()
    if r < 0.45:
        return float(rng.choice([0.0, 0.25, 0.5, 0.75, 1.0, 2.0, -1.0])) if rng.random() < 0.5 else float(rng.random())
    if r < 0.6:
        return int(rng.integers(-1, 3))
    if r < 0.68:
        return bool(rng.random() < 0.5)
    if r < 0.76:
        return None
    if r < 0.82:
        return math.nan
    if not hostile:
        return float(rng.random())
    return [" 0.5 ", "abc", "", math.inf, 10**400, np.float64(0.5), np.int64(1), [1], pd.NA, "1e3"][
        int(rng.integers(10))]


def _events(seed: int, n: int, hostile: bool = True, derived_column: bool = True) -> list[dict]:
    rng = np.random.default_rng(seed + 1)
    rows = []
    for _ in range(n):
        row = {}
        for column in ("a", "b", "c", "y", "v"):
            if rng.random() > 0.04:  # a stream may omit a column
                row[column] = _value(rng, hostile)
        if rng.random() > 0.04:
            row["k"] = (str(rng.choice(["x", "y", "z", "1"])) if rng.random() < 0.8 else
                        _value(rng, hostile))
        if derived_column and rng.random() < 0.02:
            row["d"] = _value(rng, hostile)  # a column named like the derived feature wins
        rows.append(row)
    return rows


def _outcome(call):
    try:
        result = call()
    except LeanlearnError as exc:
        return ("error", type(exc).__name__, str(exc))
    except (TypeError, ValueError, OverflowError, ArithmeticError) as exc:
        return ("error", type(exc).__name__, str(exc))
    return ("ok", result.fired, result.observed, result.hit,
            [None if isinstance(v, float) and math.isnan(v) else v for v in result.value])


@pytest.mark.parametrize("seed", range(40))
def test_the_index_gives_the_general_answer_on_random_packs_and_hostile_events(seed):
    compiled = CompiledPack(_pack(seed, int(np.random.default_rng(seed).integers(1, 40))))
    for row in _events(seed, 300):
        indexed = _outcome(lambda r=row: compiled.evaluate_row(r))
        assert indexed == _outcome(lambda r=row: compiled._evaluate_general(r)), row


def _slow_check(compiled: CompiledPack, row: dict):
    fast = compiled._get_numbers
    compiled._get_numbers = lambda r: (_ for _ in ()).throw(KeyError("forced"))  # value by value
    try:
        return compiled.check_row(row)
    finally:
        compiled._get_numbers = fast


@pytest.mark.parametrize("seed", range(40))
def test_checked_events_give_the_general_answer_and_the_fast_check_judges_as_the_slow_one(seed):
    compiled = CompiledPack(_pack(seed + 100, int(np.random.default_rng(seed).integers(1, 40))))
    for row in _events(seed, 300):
        checked, bad = compiled.check_row(row)
        reference, bad_reference = _slow_check(compiled, row)
        assert bad == bad_reference, row
        if bad is not None:
            continue
        for column in compiled.numeric_columns & set(row):
            x, y = checked[column], reference[column]
            assert (math.isnan(x) and math.isnan(y)) or x == y, (column, row)

        def indexed(c=checked):
            fired, outcomes = compiled.evaluate_checked(c)
            flags = [k in fired for k in range(len(compiled.rules))]
            assert fired == sorted(fired)
            return type("R", (), {"fired": flags, "observed": [o[0] for o in outcomes],
                                  "hit": [o[1] for o in outcomes], "value": [o[2] for o in outcomes]})()

        assert _outcome(indexed) == _outcome(lambda r=reference: compiled._evaluate_general(r)), row


@pytest.mark.parametrize("seed", range(15))
def test_rows_frames_and_rule_masks_agree_on_clean_numeric_events(seed):
    pack = _pack(seed + 200, 30, hostile=False)
    compiled = CompiledPack(pack)
    rows = _events(seed, 400, hostile=False)
    frame = pd.DataFrame({c: pd.Series([r.get(c) for r in rows], dtype=object if c == "k" else float)
                          for c in ("a", "b", "c", "k", "y", "v")})
    batch = compiled.evaluate_frame(frame)
    prepared = pack.prepare(frame)
    records = frame.to_dict("records")
    per_row = [compiled.evaluate_row(r) for r in records]
    for i, rule in enumerate(compiled.rules):
        assert np.array_equal(batch.fired[i], rule.mask(prepared)), rule.text
        assert [r.fired[i] for r in per_row] == batch.fired[i].tolist(), rule.text
    for g in range(len(compiled.groups)):
        assert [r.observed[g] for r in per_row] == batch.observed[g].tolist()
        assert [r.hit[g] for r in per_row] == batch.hit[g].tolist()


@pytest.mark.parametrize("seed", range(6))
def test_per_event_and_batched_monitors_agree_on_random_packs_with_hostile_events(seed):
    pack = _pack(seed + 300, 25)
    # (no event carries a column named like the derived feature: a micro-batch cannot tell "absent" from "None")
    rows = _events(seed, 1500, derived_column=False)
    settings = TrackerSettings(60, min_fired=3, alpha=0.2)
    one, many = Monitor(pack, settings), Monitor(pack, settings)
    alerts_one = [a for row in rows for a in one.update(row)]
    alerts_many = [a for start in range(0, len(rows), 211) for a in many.update_many(rows[start:start + 211])]
    assert alerts_one == alerts_many
    # the same events set aside for the same reasons (a failed comparison quotes the value as the path holds it:
    # np.int64(1) in a dict, 1 in a DataFrame record — the text alone may differ, as before the index)
    quarantined = [(q.event, q.code, q.column, q.reason if q.code != "unusable" else None)
                   for q in one.pop_quarantined()]
    assert quarantined == [(q.event, q.code, q.column, q.reason if q.code != "unusable" else None)
                           for q in many.pop_quarantined()]
    assert one.n_quarantined == many.n_quarantined > 0
    assert one.to_json() == many.to_json()


def test_a_planted_pack_is_one_interval_index_and_rules_that_cannot_be_indexed_are_checked_in_turn():
    pack, _ = planted_stream(100, 10, seed=1, reference=2000)
    assert CompiledPack(pack).index_summary == {"range": 100, "key": 0, "linear": 0, "lookups": 1}
    mixed = _pack(7, 40)
    summary = CompiledPack(mixed).index_summary
    assert summary["range"] + summary["key"] + summary["linear"] == 40
    # a rule whose first condition may raise (text compared by order) is never indexed: it keeps its order
    raising = Rule((Condition("k", "<", "m"), Condition("a", ">", 0.5)), Condition("y", "==", 1), support=0.1,
                   coverage=0.2, confidence=0.5, lift=1.5, leverage=0.01, conviction=None, n=100, hits=50,
                   p_value=1e-3, p_value_raw=1e-4, ci=(0.4, 0.6), base_rate=0.3, id="X")
    assert _options(raising) == []


def test_the_interval_index_is_bounded_nested_intervals_fall_back_to_the_linear_check():
    conditions = [(Condition("a", ">=", -float(k)), Condition("a", "<=", float(k))) for k in range(1, 200)]
    options = [_options(Rule(c, Condition("y", "==", 1), support=0.1, coverage=0.2, confidence=0.5, lift=1.5,
                             leverage=0.01, conviction=None, n=100, hits=50, p_value=1e-3, p_value_raw=1e-4,
                             ci=(0.4, 0.6), base_rate=0.3, id=f"N{k}")) for k, c in enumerate(conditions)]
    assert all(o is None for o in _choose(options, budget=1000))
    assert all(o is not None for o in _choose(options, budget=_MAX_INDEX_ENTRIES))


def test_a_value_listed_twice_fires_its_rule_once():
    rule = Rule((Condition("k", "in", ["y", "y"]),), Condition("y", "==", 1), support=0.1, coverage=0.2,
                confidence=0.5, lift=1.5, leverage=0.01, conviction=None, n=100, hits=50, p_value=1e-3,
                p_value_raw=1e-4, ci=(0.4, 0.6), base_rate=0.3, id="D")
    compiled = CompiledPack(RulePack(name="p", line="L", targets=(Target("y"),), rules=RuleSet((rule,))))
    assert compiled.evaluate_checked({"k": "y", "y": 1.0})[0] == [0]


@pytest.mark.parametrize("source", ["a - b", "a * b * 2 * pi / 60", "-a + b / 3", "a / b", "pi * 2 - a * 1e308 * b",
                                    "+a - -b"])
def test_plain_arithmetic_on_python_floats_gives_the_bits_of_the_vectorised_expression(source):
    from leanlearn.mining.expressions import Expression
    from leanlearn.online.evaluate import _plain_arithmetic, compile_scalar

    expression = Expression.parse(source)
    assert _plain_arithmetic(expression, lambda env: math.nan) is not None  # the fast form is the one used
    one = compile_scalar(expression)
    rng = np.random.default_rng(len(source))
    values = [0.0, -0.0, 1.0, -1.5, 1e308, -1e308, 5e-324, None, True, False, 3, 10**400, math.nan,
              *rng.normal(0, 100, 30).tolist()]
    rows = [(a, b) for a in values for b in values]
    frame = pd.DataFrame({"a": [float(a) if a is not None and a != 10**400 else None for a, _ in rows],
                          "b": [float(b) if b is not None and b != 10**400 else None for _, b in rows]}, dtype=float)
    column = expression.evaluate(frame).to_numpy()
    for (a, b), vector in zip(rows, column, strict=True):
        if 10**400 in (a, b):  # beyond the float range: the general path (the value is ±inf, the result NaN or so)
            assert isinstance(one({"a": a, "b": b}), float)
            continue
        scalar = one({"a": a, "b": b})
        assert (math.isnan(vector) and math.isnan(scalar)) or vector == scalar, (source, a, b)
        assert math.copysign(1, scalar) == math.copysign(1, vector) or math.isnan(vector), (source, a, b)
    with pytest.raises(LeanlearnError, match="not numeric"):
        one({"a": "abc", "b": 1.0})
