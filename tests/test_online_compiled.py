"""The generated per-pack event function answers exactly as the general path, or hands the event over.

:func:`leanlearn.online.compiled.event_function` writes one Python function per pack (value check, index,
conditions, derived features, outcomes in one pass). Where it answers, the answer must be what
:meth:`CompiledPack.check_row` + :meth:`CompiledPack.evaluate_checked` give (and the general evaluator
``_evaluate_general``), with the event accepted unchanged; for every unusual event (missing values, wrong types,
NaN, infinities, booleans, text for numbers, huge integers, other mapping types, a column named like a derived
feature) it must hand over (``None``). A monitor with the function and one without it must agree on everything.
"""

from __future__ import annotations

import ast
import math
import types
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from leanlearn.mining.rules import Condition, Rule, RuleSet
from leanlearn.online import compiled as compiled_module
from leanlearn.online.compiled import MAX_CHECKS, event_function, generated_source
from leanlearn.online.evaluate import CompiledPack
from leanlearn.online.monitor import Monitor
from leanlearn.online.scenarios import planted_stream
from leanlearn.online.settings import TrackerSettings
from leanlearn.packs.pack import RulePack, Target

NUMERIC = ("a", "b", "c", "d", "e", "f")  # d, e, f are derived
DERIVED = (("d", "a * 2 - b"), ("e", "sqrt(abs(a)) + pi"), ("f", "d / c - -b"))
THRESHOLDS = (0.0, 0.25, 0.5, 0.5, 1, 2, -1, True, False, 0.75, 1e300, -math.inf, math.inf, math.nan, 2**53,
              2**53 + 1, 10**20, -0.0)
HOSTILE = (None, math.nan, math.inf, -math.inf, True, False, "0.5", " 1 ", "abc", "", 10**400, 2**53 + 1,
           -(2**53) - 1, 2**53, np.float64(0.5), np.int64(1), np.bool_(True), [1], {"x": 1}, pd.NA, Decimal("0.5"),
           Fraction(1, 2), 1e308, -0.0, 5e-324, 3)


def _rule(conditions, outcome, k):
    return Rule(tuple(conditions), outcome, support=0.1, coverage=0.2, confidence=0.5, lift=1.5, leverage=0.01,
                conviction=None, n=100, hits=50, p_value=1e-3, p_value_raw=1e-4, ci=(0.4, 0.6), base_rate=0.3,
                id=f"R{k}")


def _condition(rng: np.random.Generator, features: tuple[str, ...], thresholds: tuple[object, ...]) -> Condition:
    if rng.random() < 0.75:
        feature = str(rng.choice(features))
        op = str(rng.choice(["<", "<=", ">", ">=", "==", "!=", "between", "in"]))
        pick = lambda: thresholds[int(rng.integers(len(thresholds)))]  # noqa: E731
        if op == "between":
            lo, hi = sorted([float(pick()), float(pick())]) if rng.random() < 0.8 else (pick(), pick())
            return Condition(feature, op, [lo, hi])
        if op == "in":
            return Condition(feature, op, [pick() for _ in range(int(rng.integers(1, 4)))])
        return Condition(feature, op, pick())
    op = str(rng.choice(["==", "!=", "in"]))
    if op == "in":
        return Condition("k", op, [str(v) for v in rng.choice(["x", "y", "z", "1"], int(rng.integers(1, 3)))])
    return Condition("k", op, str(rng.choice(["x", "y", "z", "1"])) if rng.random() < 0.85 else True)


OUTCOMES = (Condition("y", "==", 1), Condition("y", "!=", 0), Condition("y", "in", [1, 2]), Condition("v", ">", 0.5),
            Condition("v", "between", [0.25, 0.75]))


def _pack(seed: int, n_rules: int, thresholds: tuple[object, ...] = THRESHOLDS) -> RulePack:
    rng = np.random.default_rng(seed)
    derived = DERIVED[:int(rng.integers(0, 4))] if seed % 3 == 0 else DERIVED
    features = NUMERIC[:3 + len(derived)]
    rules = []
    for k in range(n_rules):
        conditions = dict.fromkeys(_condition(rng, features, thresholds)
                                   for _ in range(int(rng.integers(0 if k == 0 else 1, 4))))
        rules.append(_rule(conditions, OUTCOMES[int(rng.integers(len(OUTCOMES)))], k))
    return RulePack(name="random", line="L", targets=(Target("y"), Target("v", kind="numeric")),
                    rules=RuleSet(tuple(rules)), derived=derived)


def _clean(rng: np.random.Generator) -> object:
    r = rng.random()
    if r < 0.5:
        return float(rng.choice([0.0, 0.25, 0.5, 0.75, 1.0, 2.0, -1.0]))
    if r < 0.75:
        return float(rng.normal())
    return int(rng.integers(-1, 3))


def _events(seed: int, n: int) -> list[object]:
    rng = np.random.default_rng(seed + 1)
    rows: list[object] = []
    for _ in range(n):
        row: dict[str, object] = {c: _clean(rng) for c in ("a", "b", "c", "y", "v")}
        row["k"] = str(rng.choice(["x", "y", "z", "1"]))
        r = rng.random()
        if r < 0.35:  # one or two hostile values
            for _ in range(int(rng.integers(1, 3))):
                column = str(rng.choice(["a", "b", "c", "y", "v", "k"]))
                row[column] = HOSTILE[int(rng.integers(len(HOSTILE)))]
        elif r < 0.4:
            del row[str(rng.choice(["a", "b", "c", "y", "v", "k"]))]  # a stream may omit a column
        elif r < 0.43:
            row[str(rng.choice(["d", "e", "f", "pi"]))] = 0.5  # a column named like a derived feature or a constant
        elif r < 0.45:
            rows.append(types.MappingProxyType(row))  # a mapping that is not a dict
            continue
        rows.append(row)
    return rows


def _same(x: object, y: object) -> bool:
    return (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)) or (
        x == y and type(x) is type(y))


def _general(compiled: CompiledPack, row):
    result = compiled._evaluate_general(row)
    return ([k for k, f in enumerate(result.fired) if f],
            list(zip(result.observed, result.hit, result.value, strict=True)))


@pytest.mark.parametrize("seed", range(60))
def test_the_generated_function_answers_as_the_general_path_or_hands_the_event_over(seed):
    compiled = CompiledPack(_pack(seed, int(np.random.default_rng(seed).integers(1, 30))))
    event = event_function(compiled)
    assert event is not None, generated_source(compiled)
    answered = 0
    for row in _events(seed, 400):
        got = event(row)
        checked, bad = compiled.check_row(row)
        if got is None:
            continue
        answered += 1
        assert type(row) is dict
        assert bad is None, (row, bad)
        for column, value in row.items():  # accepted unchanged (or an integer as its float)
            assert checked[column] is value or (type(value) is int and checked[column] == value), (row, column)
        fired, outcomes = got
        assert fired == sorted(fired)
        for reference in (compiled.evaluate_checked(checked), _general(compiled, checked)):
            assert fired == reference[0], (row, generated_source(compiled))
            assert len(outcomes) == len(reference[1])
            for mine, theirs in zip(outcomes, reference[1], strict=True):
                assert all(_same(a, b) for a, b in zip(mine, theirs, strict=True)), (row, mine, theirs)
    assert answered > 100  # the usual event is answered here


@pytest.mark.parametrize("value", HOSTILE)
def test_every_unusual_value_is_handed_over(value):
    compiled = CompiledPack(_pack(3, 12))
    event = event_function(compiled)
    row = {"a": 0.5, "b": 0.25, "c": 1.0, "y": 1, "v": 0.3, "k": "x"}
    assert event(row) is not None
    for column in ("a", "b", "c", "y", "v"):
        changed = {**row, column: value}
        usual = (type(value) is float and math.isfinite(value)) or (type(value) is int and abs(value) <= 2**53)
        if usual and column == "c" and value == 0 and any(name == "f" for name, _ in compiled.derived):
            usual = False  # f = d / c: a division by zero takes the general path (numpy's answer: missing)
        assert (event(changed) is not None) == usual, (column, value)
    if type(value) is not str:
        assert event({**row, "k": value}) is None


def test_packs_the_function_does_not_cover_get_none_and_take_the_general_path():
    ordered_text = _rule([Condition("k", "<", "m")], Condition("y", "==", 1), 0)  # raises on any present value
    pack = RulePack(name="p", line="L", targets=(Target("y"),), rules=RuleSet((ordered_text,)))
    assert event_function(CompiledPack(pack)) is None
    text_outcome = _rule([Condition("a", ">", 0.5)], Condition("k", "==", "x"), 0)
    pack = RulePack(name="p", line="L", targets=(Target("k"),), rules=RuleSet((text_outcome,)))
    assert event_function(CompiledPack(pack)) is None
    nested = [_rule([Condition("a", ">=", -float(k)), Condition("a", "<=", float(k))], Condition("y", "==", 1), k)
              for k in range(1, 120)]  # pieces × rules beyond the bound
    pack = RulePack(name="p", line="L", targets=(Target("y"),), rules=RuleSet(tuple(nested)))
    compiled = CompiledPack(pack)
    assert sum(len(p) for _, _, pieces in compiled._ranges for p in pieces) > MAX_CHECKS
    assert event_function(compiled) is None
    monitor = Monitor(pack, window=50)
    assert monitor._event is None
    monitor.update({"a": 0.5, "y": 1})
    assert monitor.n_events == 1
    deep = " + ".join(f"a{i}" for i in range(300))  # beyond the parser's nesting: no function, the general path
    pack = RulePack(name="p", line="L", targets=(Target("y"),), derived=(("d", deep),),
                    rules=RuleSet((_rule([Condition("d", ">", 1.0)], Condition("y", "==", 1), 0),)))
    assert event_function(CompiledPack(pack)) is None
    assert Monitor(pack, window=50).update({**{f"a{i}": 0.01 for i in range(300)}, "y": 1}) == []


def test_the_generated_source_holds_only_whitelisted_code():
    pack, _ = planted_stream(20, 10, seed=1, reference=2000)
    compiled = CompiledPack(pack)
    source = generated_source(compiled)
    assert source is not None and "import" not in source and "__" not in source
    builder = compiled_module._Builder(compiled)
    builder.source()
    compiled_module._check(ast.parse(source), builder.names)
    for hostile in ("def _event(row):\n    return __import__('os')\n",
                    "def _event(row):\n    return row.keys()\n",
                    "def _event(row):\n    for x in row:\n        pass\n",
                    "def _event(row):\n    return print(row)\n",
                    "def _event(row):\n    return b'x'\n",
                    "import os\n"):
        with pytest.raises(compiled_module._Unsupported):
            compiled_module._check(ast.parse(hostile), builder.names)


def test_a_column_name_or_text_value_cannot_become_code():
    name = "x'] or __import__('os') or row['"
    rule = _rule([Condition(name, ">", 0.5), Condition("k", "==", "'); import os; ('")], Condition("y", "==", 1), 0)
    pack = RulePack(name="p", line="L", targets=(Target("y"),), rules=RuleSet((rule,)))
    compiled = CompiledPack(pack)
    event = event_function(compiled)
    assert event is not None
    source = generated_source(compiled)
    assert "import os; (" not in source  # text values are bound by name, never written into the source
    tree = ast.parse(source)
    keys = [n.slice.value for n in ast.walk(tree) if isinstance(n, ast.Subscript)]
    assert name in keys  # the column name is one string literal
    assert event({name: 0.75, "k": "'); import os; ('", "y": 1}) == ([0], ((True, True, compiled_module._NAN),))


@pytest.mark.parametrize("seed", range(8))
def test_a_monitor_with_the_function_and_one_without_agree_on_states_alerts_quarantine_and_checkpoints(seed):
    # (no integer threshold beyond 2**53: a vectorised comparison rounds it to a float, a per-event one does not —
    # the batched path may then differ on integers near the threshold; the per-event paths may not)
    pack = _pack(seed + 500, 20, tuple(t for t in THRESHOLDS if not (type(t) is int and abs(t) > 2**53)))
    rows = [r for r in _events(seed, 1500) if isinstance(r, dict) and not {"d", "e", "f", "pi"} & set(r)]
    settings = TrackerSettings(60, min_fired=3, alpha=0.2)
    fast, general, batched = Monitor(pack, settings), Monitor(pack, settings), Monitor(pack, settings)
    assert fast._fast is not None
    general._fast = general._event = None
    alerts_fast = [a for row in rows for a in fast.update(row)]
    alerts_general = [a for row in rows for a in general.update(row)]
    alerts_batched = [a for start in range(0, len(rows), 211) for a in batched.update_many(rows[start:start + 211])]
    assert alerts_fast == alerts_general == alerts_batched
    quarantined = [(q.event, q.code, q.column, q.reason) for q in fast.pop_quarantined()]
    assert quarantined == [(q.event, q.code, q.column, q.reason) for q in general.pop_quarantined()]
    assert fast.n_quarantined == general.n_quarantined > 0
    assert fast.to_json() == general.to_json() == batched.to_json()
    assert fast.states == general.states


@pytest.mark.parametrize("seed", range(3))
def test_time_windows_use_the_function_too_and_agree(seed):
    pack = _pack(seed + 700, 15, tuple(t for t in THRESHOLDS if not (type(t) is int and abs(t) > 2**53)))
    rows = [r for r in _events(seed, 800) if isinstance(r, dict) and not {"d", "e", "f", "pi"} & set(r)]
    rng = np.random.default_rng(seed)
    start = 1_700_000_000.0
    for i, row in enumerate(rows):  # seconds since the epoch, a few late or unreadable
        row["t"] = start + i * 7.0 - (30.0 if rng.random() < 0.05 else 0.0)
        if rng.random() < 0.01:
            row["t"] = "soon"
    settings = TrackerSettings("10min", time_column="t", min_fired=3, alpha=0.2)
    fast, general, batched = Monitor(pack, settings), Monitor(pack, settings), Monitor(pack, settings)
    assert fast._fast is None and fast._event is not None  # a time window: the function inside the general path
    general._event = None
    alerts = [[a for row in rows for a in m.update(row)] for m in (fast, general)]
    alerts.append([a for s in range(0, len(rows), 97) for a in batched.update_many(rows[s:s + 97])])
    assert alerts[0] == alerts[1] == alerts[2]
    assert fast.n_quarantined > 0 and sum(t.n_fired for t in fast.trackers) > 100
    assert fast.to_json() == general.to_json() == batched.to_json()
    assert [(q.event, q.code) for q in fast.pop_quarantined()] == [(q.event, q.code) for q in general.pop_quarantined()]


def test_the_planted_and_ai4i_like_packs_are_covered():
    pack, events = planted_stream(100, 2000, seed=1, reference=2000)
    compiled = CompiledPack(pack)
    event = event_function(compiled)
    assert event is not None
    for row in events.to_dict("records"):
        fired, outcomes = event(row)
        assert (fired, list(outcomes)) == compiled.evaluate_checked(row)
    rule = _rule([Condition("speed", "<", 1380.0), Condition("gap", "<", 8.6)], Condition("HDF", "==", 1), 0)
    power = _rule([Condition("power", ">=", 9000.0)], Condition("HDF", "==", 1), 1)
    kind = _rule([Condition("Type", "==", "L"), Condition("power", "<", 3500.0)], Condition("HDF", "==", 1), 2)
    pack = RulePack(name="p", line="L", targets=(Target("HDF"),), rules=RuleSet((rule, power, kind)),
                    derived=(("gap", "`process` - air"), ("power", "torque * speed * 2 * pi / 60")))
    compiled = CompiledPack(pack)
    event = event_function(compiled)
    rng = np.random.default_rng(0)
    for _ in range(500):
        row = {"process": float(rng.normal(310, 1)), "air": float(rng.normal(300, 2)),
               "speed": int(rng.integers(1200, 2500)), "torque": float(rng.normal(40, 10)),
               "Type": str(rng.choice(["L", "M", "H"])), "HDF": int(rng.random() < 0.1)}
        fired, outcomes = event(row)
        assert (fired, list(outcomes)) == compiled.evaluate_checked(compiled.check_row(row)[0])
    assert event({**row, "pi": 3.0}) is None  # a column named like a constant wins: the general path
