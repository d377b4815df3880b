"""Rules into the twin: modifier grammar, applying modifiers to a spec, translating rule packs, a rule's worth."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leanlearn.mining.rules import Condition, Review, Rule
from leanlearn.packs.pack import RulePack
from leanlearn.twin.modifiers import (
    Modifier,
    ModifierError,
    apply,
    from_pack,
    load_modifiers,
    parse_modifier,
    parse_modifiers,
)
from leanlearn.twin.spec import LineSpec

MODELS = Path(__file__).parents[1] / "models"


def line(**station_extra):
    return LineSpec.from_dict({
        "line": "mod", "time_unit": "h", "release": {"policy": "conwip", "wip": 3},
        "materials": {"A": {"share": 0.5}, "B": {"share": 0.5}},
        "stations": [
            {"name": "S1", "cycle": {"dist": "exponential", "mean": 1.0}, "scrap": 0.05,
             "setup": {"default": 0.5, "matrix": {"A": {"B": {"dist": "gamma", "mean": 1.0, "cv": 0.5}}}}},
            {"name": "S2", "cycle": {"dist": "empirical", "values": [0.5, 1.0]},
             "breakdowns": {"tbf": {"dist": "exponential", "mean": 50.0}, "repair": 2.0}, **station_extra},
        ],
    })


def station(spec, name):
    return next(s for s in spec.to_dict()["stations"] if s["name"] == name)


# -- grammar ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "setup[S2][A->B] += 0.67", "setup[S2][*->B] *= 1.5", "setup[S2] += 0.2", "scrap[S3] *= 3", "scrap[S3] = 0.18",
    "cycle[S1] *= 1.1", "cycle[S1][A] += 0.05", "tbf[S4] *= 0.5", "repair[S4] *= 2", "capacity[S2] = 2",
    "setup[Machine 5 - Turning & Milling][Cable Head->Pin] -= 0.5",
])
def test_modifier_text_round_trips(text):
    m = parse_modifier(text)
    assert parse_modifier(m.text) == m
    assert m.text.replace(" ", "") == text.replace(" ", "").replace("-=0.5", "-=0.5")


def test_setup_arrow_may_be_the_unicode_arrow_the_packs_use():
    assert parse_modifier("setup[S1][A → B] += 1").to_material == "B"


@pytest.mark.parametrize("text, reason", [
    ("__import__('os').system('true')", "not of the form"),
    ("scrap[S1] *= 2 + 1", "not of the form"),
    ("scrap[S1] *= abs(2)", "not of the form"),
    ("speed[S1] = 3", "unknown target 'speed'"),
    ("scrap[S1][A] *= 2", "takes no \\[selector\\]"),
    ("setup[S1][A] += 1", "changeover FROM->TO"),
    ("scrap[S1] = 1.5", "probability must be in \\[0, 1\\]"),
    ("capacity[S1] *= 2", "capacity takes '= N'"),
    ("cycle[S1] *= -1", "factor must be >= 0"),
    ("scrap[S1] *= 1e999", "finite number"),
])
def test_malformed_modifier_is_refused_with_the_reason(text, reason):
    with pytest.raises(ModifierError, match=reason):
        parse_modifier(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_is_refused_with_a_modifier_error(text):
    try:
        m = parse_modifier(text)
    except ModifierError:
        return
    assert isinstance(m, Modifier) and np.isfinite(m.value)


def test_list_positions_are_named():
    with pytest.raises(ModifierError, match=r"modifiers\[1\]"):
        parse_modifiers(["scrap[S1] = 0.1", "scrap[S1] = nope"])


def test_modifiers_load_from_yaml(tmp_path):
    path = tmp_path / "mods.yaml"
    path.write_text('modifiers:\n  - "setup[S1][A->B] += 0.67"\n  - "scrap[S2] *= 3"\n')
    assert [m.text for m in load_modifiers(path)] == ["setup[S1][A->B] += 0.67", "scrap[S2] *= 3"]
    path.write_text("mods: []\n")
    with pytest.raises(ModifierError, match="unknown key 'mods'"):
        load_modifiers(path)


# -- apply -----------------------------------------------------------------------------------------------------
def test_apply_changes_a_copy_and_leaves_the_spec_alone():
    spec = line()
    before = spec.to_dict()
    changed = apply(spec, ["scrap[S1] *= 3"])
    assert spec.to_dict() == before
    assert station(changed, "S1")["scrap"] == pytest.approx(0.15)


def test_setup_cell_shift_keeps_the_mean_exact_and_the_other_cells():
    changed = apply(line(), ["setup[S1][A->B] += 0.67"])
    setup = changed.station("S1").setup
    assert setup.dist("A", "B").mean() == pytest.approx(1.67)
    assert setup.matrix["A"]["B"].to_dict()["cv"] == 0.5  # gamma: scaled, its shape kept
    assert setup.dist("B", "A").mean() == pytest.approx(0.5)  # the default, unchanged


def test_setup_wildcard_changes_every_changeover_into_a_material_but_not_a_repeat():
    setup = apply(line(), ["setup[S1][*->A] *= 2"]).station("S1").setup
    assert setup.dist("B", "A").mean() == pytest.approx(1.0)
    assert setup.dist("A", "A") is None  # no changeover, no setup
    assert setup.dist("A", "B").mean() == pytest.approx(1.0)  # not into A: unchanged


def test_station_setup_modifier_reaches_the_default_and_every_cell():
    setup = apply(line(), ["setup[S1] += 0.25"]).station("S1").setup
    assert setup.dist("A", "B").mean() == pytest.approx(1.25)
    assert setup.dist("B", "A").mean() == pytest.approx(0.75)


def test_setup_on_a_station_without_setups_creates_the_cell():
    setup = apply(line(), ["setup[S2][A->B] += 0.4"]).station("S2").setup
    assert setup.dist("A", "B").mean() == pytest.approx(0.4)


@pytest.mark.parametrize("dist", [
    {"dist": "exponential", "mean": 2.0}, {"dist": "uniform", "low": 1.0, "high": 3.0},
    {"dist": "normal", "mean": 2.0, "sd": 0.3}, {"dist": "lognormal", "mean": 2.0, "sd": 0.5},
    {"dist": "gamma", "mean": 2.0, "cv": 0.4}, {"dist": "erlang", "mean": 2.0, "k": 3},
    {"dist": "triangular", "low": 1.0, "mode": 2.0, "high": 3.0}, {"dist": "empirical", "values": [1.5, 2.5]},
    {"dist": "deterministic", "value": 2.0}, 2.0,
])
def test_cycle_shift_and_scale_move_the_mean_exactly_for_every_family(dist):
    spec = LineSpec.from_dict({"line": "d", "release": {"policy": "conwip", "wip": 1},
                               "stations": [{"name": "S1", "cycle": dist}]})
    assert apply(spec, ["cycle[S1] += 0.5"]).station("S1").cycle.mean() == pytest.approx(2.5)
    assert apply(spec, ["cycle[S1] *= 1.5"]).station("S1").cycle.mean() == pytest.approx(3.0)
    assert apply(spec, ["cycle[S1] = 0.7"]).station("S1").cycle.mean() == pytest.approx(0.7)


def test_cycle_for_one_material_adds_an_override():
    changed = apply(line(), ["cycle[S1][A] *= 2"]).station("S1")
    assert changed.cycle_for("A").mean() == pytest.approx(2.0)
    assert changed.cycle_for("B").mean() == pytest.approx(1.0)


def test_breakdown_capacity_and_scrap_cap():
    changed = apply(line(), ["tbf[S2] *= 0.5", "repair[*] *= 2", "capacity[S1] = 2", "scrap[S1] *= 100"])
    s2 = changed.station("S2")
    assert s2.breakdowns.tbf.mean() == pytest.approx(25.0) and s2.breakdowns.repair.mean() == pytest.approx(4.0)
    assert changed.station("S1").capacity == 2
    assert changed.station("S1").scrap == 0.99  # a probability is capped below 1


@pytest.mark.parametrize("text, reason", [
    ("scrap[S9] *= 3", "station 'S9' is not in the spec"),
    ("cycle[S1][Z] *= 2", "material 'Z' is not in the spec"),
    ("tbf[S1] *= 2", "has no breakdowns"),
    ("cycle[S1] -= 5", "would be negative"),
])
def test_a_modifier_naming_what_the_spec_lacks_is_refused(text, reason):
    with pytest.raises(ModifierError, match=reason):
        apply(line(), [text])


# -- rule packs ------------------------------------------------------------------------------------------------
def shop():
    return LineSpec.from_dict({
        "line": "4tu", "time_unit": "h", "release": {"policy": "conwip", "wip": 4},
        "materials": {"Cable Head": {"share": 0.5}, "Pin": {"share": 0.5}},
        "stations": [{"name": "Machine 5 - Turning & Milling", "cycle": 1.0, "setup": 2.0},
                     {"name": "Quality Check 1", "cycle": 0.2, "scrap": 0.007}],
    })


def test_the_4tu_setup_pack_maps_its_station_rule_and_explains_every_other():
    t = from_pack(MODELS / "4tu-setups.json", shop())
    table = t.table
    assert len(table) == 4  # every rule has a row
    applicable = table[table["status"] == "applicable"]
    assert applicable["text"].tolist() == ["station == Machine 5 - Turning & Milling → setup_min ↑"]
    mod = t.modifiers[0]
    assert (mod.target, mod.station, mod.op) == ("setup", "Machine 5 - Turning & Milling", "+=")
    assert 0.5 < mod.value < 1.5  # ~60 min longer than outside the station, in hours
    reasons = table[table["status"] == "not applicable"]["reason"].tolist()
    assert all("no counterpart in the line spec" in r for r in reasons)
    assert {"worker", "shift"} <= {r.split("not '")[1].rstrip("')") for r in reasons}


def test_the_4tu_reject_pack_becomes_scrap_at_the_quality_check():
    t = from_pack(MODELS / "4tu-rejects.json", shop())
    mods = {m.source: m for m in t.modifiers}
    assert {m.target for m in mods.values()} == {"scrap"}
    assert {m.station for m in mods.values()} == {"Quality Check 1"}
    assert all(m.value > 2 for m in mods.values())  # the station rejects several times as often as the others
    na = t.not_applicable
    assert len(na) + len(mods) == len(RulePack.load(MODELS / "4tu-rejects.json").rules)
    assert any("'minutes'" in r["reason"] for r in na)
    changed = apply(shop(), t.modifiers[:1])  # the binary rule: 18 % of reports carry rejects there
    assert 0.1 < changed.station("Quality Check 1").scrap < 0.3


def test_ai4i_rules_on_sensor_features_are_not_applicable_with_the_feature_named():
    t = from_pack(MODELS / "ai4i.HDF.json", shop())
    assert t.modifiers == []
    assert "no counterpart in the line spec" in t.not_applicable[0]["reason"]


def test_a_planted_changeover_effect_is_recovered_as_a_setup_cell_modifier():
    """Mine a setup pack on data with a planted +40 min on A → B at S2; the modifier puts back 40 min (0.67 h)."""
    from leanlearn.packs.build import mine_pack

    rng = np.random.default_rng(0)
    rows = []
    for _ in range(1200):
        st_, (a, b) = rng.choice(["S1", "S2"]), rng.choice(["A", "B", "C"], 2, replace=False)
        minutes = rng.gamma(4.0, 30.0 / 4.0) + (40.0 if (st_, a, b) == ("S2", "A", "B") else 0.0)
        rows.append({"station": st_, "previous_material": a, "material": b, "changeover": f"{a} → {b}",
                     "worker": rng.choice(["W1", "W2", "W3"]), "setup_min": minutes})
    pack = mine_pack(pd.DataFrame(rows), ["setup_min"], waste="setup", worse={"setup_min": "higher"},
                     line="syn", name="syn-setups", auto_features=False)
    spec = LineSpec.from_dict({"line": "syn", "time_unit": "h", "release": {"policy": "conwip", "wip": 2},
                               "materials": {m: {"share": 1 / 3} for m in "ABC"},
                               "stations": [{"name": "S1", "cycle": 1.0}, {"name": "S2", "cycle": 1.0}]})
    t = from_pack(pack, spec)
    [mod] = t.modifiers
    assert (mod.station, mod.from_material, mod.to_material) == ("S2", "A", "B")
    assert mod.value == pytest.approx(40 / 60, abs=0.1)


def test_rules_are_translated_only_as_their_review_allows():
    rule = Rule.from_counts([Condition("station", "==", "Quality Check 1")], "defect", hits=30, n=100,
                            positives=80, rows=1000, id="r1")
    rejected = Rule.from_counts([Condition("station", "==", "Quality Check 1")], "defect", hits=30, n=100,
                                positives=80, rows=1000, id="r2", review=Review("rejected", "Eve", None, None))
    t = from_pack([rule, rejected], shop())
    assert t.table["status"].tolist() == ["applicable", "not applicable"]
    assert t.not_applicable[0]["reason"] == "rejected in review"
    assert "not approved" in from_pack([rule], shop(), only_approved=True).not_applicable[0]["reason"]


def test_scrap_modes():
    rule = Rule.from_counts([Condition("station", "==", "Quality Check 1")], "defect", hits=30, n=100,
                            positives=80, rows=1000, id="r1")
    ratio = from_pack([rule], shop()).modifiers[0]
    lift = from_pack([rule], shop(), scrap_mode="lift").modifiers[0]
    conf = from_pack([rule], shop(), scrap_mode="confidence").modifiers[0]
    assert ratio.value == pytest.approx(0.30 / (50 / 900))  # confidence over the rate outside the rule
    assert lift.value == pytest.approx(0.30 / 0.08)
    assert (conf.op, conf.value) == ("=", pytest.approx(0.30))


def test_a_rule_without_a_station_needs_one_given():
    rule = Rule.from_counts([Condition("changeover", "==", "Cable Head → Pin")], Condition("setup_min", ">", 60),
                            hits=40, n=50, positives=300, rows=1000, id="s1", waste="setup")
    assert "names no station" in from_pack([rule], shop()).not_applicable[0]["reason"]
    # binary setup outcome: no size even with the station given
    reason = from_pack([rule], shop(), station="Machine 5 - Turning & Milling").not_applicable[0]["reason"]
    assert "binary" in reason


# -- worth -----------------------------------------------------------------------------------------------------
def two_station_conwip():
    return LineSpec.from_dict({
        "line": "w", "time_unit": "h", "release": {"policy": "conwip", "wip": 4},
        "materials": {"A": {"share": 0.5}, "B": {"share": 0.5}},
        "stations": [{"name": "S1", "cycle": {"dist": "exponential", "mean": 0.6}},
                     {"name": "S2", "cycle": {"dist": "exponential", "mean": 1.0}, "setup": {"default": 0.0}}],
    })


def test_a_longer_changeover_at_the_bottleneck_costs_throughput_with_an_interval_excluding_zero():
    from leanlearn.twin.modifiers import worth

    w = worth(two_station_conwip(), ["setup[S2][A->B] += 0.67", "setup[S2][B->A] += 0.67"], horizon=600.0,
              warmup=50.0, replications=6)
    th, lead = w.kpi("throughput"), w.kpi("lead_time_mean")
    assert th["diff"] < 0 and th["high"] < 0 and th["significant"]
    assert lead["diff"] > 0 and lead["low"] > 0
    # half the jobs change material at S2: about 0.67 h / 2 more work per job on a station that needed 1 h
    assert th["modified"] == pytest.approx(th["base"] / (1 + 0.335), rel=0.08)
    assert w.changes == ("S2.setup[A->B] += 0.67", "S2.setup[B->A] += 0.67")


def test_a_change_off_the_bottleneck_is_worth_little_and_paired_runs_measure_it_tightly():
    from leanlearn.twin.modifiers import worth

    w = worth(two_station_conwip(), ["cycle[S1] *= 0.9"], horizon=600.0, warmup=50.0, replications=6)
    th = w.kpi("throughput")
    assert abs(th["diff"]) < 0.03 * th["base"]
    assert th["high"] - th["low"] < 0.05 * th["base"]  # common random numbers: a narrow paired interval
    doc = json.loads(json.dumps(w.to_json(), allow_nan=False))
    assert doc["modifiers"] == ["cycle[S1] *= 0.9"] and doc["replications"] == 6


def test_the_worth_of_a_mined_rule_end_to_end():
    """4TU reject rule → scrap × ratio at the quality check → fewer good units out of the line."""
    from leanlearn.twin.modifiers import worth

    spec = LineSpec.from_dict({
        "line": "4tu", "time_unit": "h", "release": {"policy": "conwip", "wip": 3},
        "stations": [{"name": "Machine 5 - Turning & Milling", "cycle": {"dist": "exponential", "mean": 1.0}},
                     {"name": "Quality Check 1", "cycle": {"dist": "exponential", "mean": 0.3}, "scrap": 0.007}],
    })
    mods = from_pack(MODELS / "4tu-rejects.json", spec).modifiers[:1]
    w = worth(spec, mods, horizon=500.0, warmup=50.0, replications=5, kpis=("throughput_units",))
    good = w.kpi("throughput_units")
    assert good["significant"] and good["diff"] < 0
    assert good["modified"] == pytest.approx(good["base"] * (1 - 0.177) / (1 - 0.007), rel=0.05)


def test_undo_takes_a_modifier_back_out():
    spec = line()
    for text in ("setup[S1][A->B] += 0.67", "cycle[S1] *= 1.5", "scrap[S1] *= 3", "tbf[S2] *= 0.5"):
        m = parse_modifier(text)
        assert _close(apply(apply(spec, [m]), [m.undo()]).to_dict(), spec.to_dict()), text
    with pytest.raises(ModifierError, match="cannot be undone"):
        parse_modifier("scrap[S1] = 0.1").undo()


def _close(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == pytest.approx(b)
    return a == b
