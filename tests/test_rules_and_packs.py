"""Conditions, rules and rule packs: data in, data out, tamper-evident."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leanlearn.errors import PackError
from leanlearn.mining.rules import OPS, WASTES, Condition, Review, Rule, RuleSet
from leanlearn.packs.pack import Feature, RulePack, Target

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)
probability = st.floats(0, 1)


@st.composite
def conditions(draw):
    op = draw(st.sampled_from(OPS))
    feature = draw(names)
    if op == "in":
        value = draw(st.lists(st.one_of(finite, names, st.integers(-1000, 1000)), min_size=1, max_size=4))
    elif op == "between":
        lo, hi = sorted(draw(st.tuples(finite, finite)))
        value = [lo, hi]
    elif op in ("==", "!="):
        value = draw(st.one_of(finite, names, st.booleans(), st.integers(-(10**9), 10**9)))
    else:
        value = draw(st.one_of(finite, st.integers(-(10**9), 10**9)))
    return Condition(feature, op, value)


@st.composite
def rules(draw):
    n = draw(st.integers(1, 10**6))
    hits = draw(st.integers(0, n))
    lo, hi = sorted(draw(st.tuples(probability, probability)))
    return Rule(
        conditions=tuple(draw(st.lists(conditions(), min_size=1, max_size=4))),
        outcome=Condition(draw(names), "==", 1),
        support=draw(probability),
        coverage=draw(probability),
        confidence=hits / n,
        lift=draw(st.floats(0, 1e6)),
        leverage=draw(st.floats(-1, 1)),
        conviction=draw(st.one_of(st.none(), st.floats(0, 1e6))),
        n=n,
        hits=hits,
        p_value=draw(probability),
        p_value_raw=draw(probability),
        ci=(lo, hi),
        base_rate=draw(probability),
        id=draw(names),
        waste=draw(st.sampled_from(WASTES)),
        review=Review(draw(st.sampled_from(["pending", "approved", "rejected"])), draw(st.one_of(st.none(), names))),
    )


@settings(max_examples=150, deadline=None)
@given(conditions())
def test_condition_round_trips_through_json(condition):
    doc = json.loads(json.dumps(condition.to_json()))
    assert Condition.from_json(doc) == condition


@settings(max_examples=100, deadline=None)
@given(st.lists(rules(), max_size=5), names, names)
def test_pack_round_trips_through_json_text(rule_list, name, line):
    pack = RulePack(
        name=name, line=line, targets=(Target("scrap", waste="defects"),), rules=RuleSet(tuple(rule_list)),
        features=(Feature("x", "float64", "mm"),), derived=(("x2", "x * 2"),),
        discretization={"scrap": {"x": [1.5, 2.0]}}, mining={"min_support": 0.01},
    )
    again = RulePack.from_json(json.loads(pack.dumps()))
    assert again == pack
    assert again.content_hash == pack.content_hash


def _pack() -> RulePack:
    rule = Rule(
        conditions=(Condition("humidity", ">=", 70.0), Condition("press", "==", "P3")),
        outcome=Condition("scrap", "==", 1),
        support=0.05, coverage=0.1, confidence=0.5, lift=5.0, leverage=0.04, conviction=1.8, n=100, hits=50,
        p_value=1e-9, p_value_raw=1e-12, ci=(0.4, 0.6), base_rate=0.1, id="scrap-001",
    )
    return RulePack(name="press-scrap", line="L1", targets=(Target("scrap"),), rules=RuleSet((rule,)))


def test_hand_edited_pack_is_refused_with_hash_reason(tmp_path):
    path = _pack().save(tmp_path / "p.json")
    doc = json.loads(path.read_text())
    doc["rules"][0]["if"][0]["value"] = 60.0
    path.write_text(json.dumps(doc))
    with pytest.raises(PackError, match="content hash mismatch"):
        RulePack.load(path)


def test_pack_with_wrong_schema_name_is_refused(tmp_path):
    doc = _pack().to_json()
    doc["schema"] = "leanlearn.rulepack/99"
    with pytest.raises(PackError, match="expected 'leanlearn.rulepack/1'"):
        RulePack.from_json(doc)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("rules", 0, "if", 0, "op"), "~=", "rules/0/if/0/op"),
        (("rules", 0, "confidence"), 1.5, "rules/0/confidence"),
        (("rules", 0, "waste"), "laziness", "rules/0/waste"),
        (("targets",), "scrap", "targets"),
    ],
)
def test_pack_violating_the_json_schema_names_the_field(path, value, field):
    doc = _pack().to_json()
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(PackError, match=f"field {field}"):
        RulePack.from_json(doc)


def test_pack_with_unexpected_top_level_field_is_refused():
    doc = _pack().to_json()
    doc["__reduce__"] = "os.system"
    with pytest.raises(PackError, match="Additional properties"):
        RulePack.from_json(doc)


def test_loading_a_pack_never_executes_its_expressions(tmp_path, monkeypatch):
    pack = RulePack(
        name="evil", line="L1", targets=(Target("scrap"),), rules=RuleSet(),
        derived=(("x", "__import__('os').system('touch /tmp/pwned')"),),
    )
    path = pack.save(tmp_path / "evil.json")
    calls = []
    monkeypatch.setattr("os.system", lambda *a: calls.append(a))
    with pytest.raises(PackError, match=r"field derived/0/expr .*not allowed"):
        RulePack.load(path)  # refused while loading, by the whitelist: nothing is executed
    assert calls == []


@pytest.mark.parametrize("content", ["", "{", "[]", "\xff\xfe"])
def test_garbage_file_is_a_pack_error_naming_the_file(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(PackError, match="bad.json"):
        RulePack.load(path)


def test_apply_reports_fired_rules_per_row():
    frame = pd.DataFrame({"humidity": [75.0, 75.0, 60.0, np.nan], "press": ["P3", "P1", "P3", "P3"]})
    out = _pack().apply(frame)
    assert out["rules"].tolist() == [["scrap-001"], [], [], []]
    assert out["scrap_predicted"].tolist() == [1, 0, 0, 0]


def test_conviction_of_a_certain_rule_is_stored_as_null():
    rule = _pack().rules[0]
    certain = Rule.from_json({**rule.to_json(), "confidence": 1.0, "conviction": None})
    assert certain.conviction is None
    assert not any(isinstance(v, float) and math.isinf(v) for v in certain.to_json().values())


def test_condition_masks_treat_missing_values_as_not_holding():
    values = pd.Series([1.0, np.nan, 3.0])
    assert Condition("x", "!=", 1.0).mask_values(values).tolist() == [False, False, True]
    assert Condition("x", "between", [1, 3]).mask_values(values).tolist() == [True, False, True]
    assert Condition("x", "in", [3.0]).mask_values(values).tolist() == [False, False, True]


def test_condition_rejects_unknown_op_with_the_feature_named():
    with pytest.raises(PackError, match="'torque'.*unknown op '=>'"):
        Condition.from_json({"feature": "torque", "op": "=>", "value": 1})


def test_a_loaded_pack_remembers_its_verified_hash_and_a_changed_copy_does_not(tmp_path):
    from dataclasses import replace

    path = _pack().save(tmp_path / "p.json")
    loaded = RulePack.load(path)
    assert loaded.source_hash == json.loads(path.read_text())["content_hash"] == loaded.content_hash
    assert replace(loaded, line="L2").source_hash is None
