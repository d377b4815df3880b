"""Mapping a rule pack into another line's vocabulary: parsing and refusals, hashing, translation, compatibility,
import lineage."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leanlearn.mining.expressions import Expression
from leanlearn.mining.rules import Condition, Review, Rule, RuleSet, Shift
from leanlearn.packs.mapping import (
    MAPPING_SCHEMA,
    Mapping,
    MappingError,
    affine_form,
    check_compatibility,
    compatibility,
    import_pack,
    require_compatible,
    translate,
)
from leanlearn.packs.pack import Feature, RulePack, Target

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = ROOT / "pipelines" / "mappings"


def rule(conditions: list[Condition], target: str = "defect", rid: str = "r1", **fields) -> Rule:
    return Rule.from_counts(conditions, target, hits=30, n=100, positives=60, rows=1000, id=rid, **fields)


def hand_pack() -> RulePack:
    """A small pack in L1's vocabulary: temperatures in °C, humidity in %RH, materials A/B/C, a derived feature."""
    rules = (
        rule([Condition("temp_c", ">=", 30.0), Condition("material", "==", "A")], rid="r1",
             review=Review("approved", "ana", "2026-01-01T00:00:00Z", "seen it", "physics")),
        rule([Condition("humidity", "<", 70.0)], rid="r2"),
        rule([Condition("humidity", "between", [40.0, 55.5]), Condition("material", "in", ["B", "C"])], rid="r3"),
        rule([Condition("pressure", ">", 2.0)], rid="r4"),
        rule([Condition("ratio", ">=", 1.5)], rid="r5"),
        rule([Condition("material", "!=", "B"), Condition("temp_c", "<=", 12.5)], rid="r6"),
    )
    return RulePack(
        name="hand", line="L1", targets=(Target("defect"),), rules=RuleSet(rules),
        features=(Feature("temp_c", "float64", "°C"), Feature("humidity", "float64", "%RH"),
                  Feature("material", "object"), Feature("pressure", "float64", "bar"),
                  Feature("ratio", "float64", None, True)),
        derived=(("ratio", "pressure / temp_c"),),
        discretization={"defect": {"temp_c": [12.5, 30.0], "humidity": [40.0, 55.5, 70.0], "pressure": [2.0]}},
    )


def hand_mapping(**overrides) -> dict:
    doc = {
        "schema": MAPPING_SCHEMA,
        "source_line": "L1",
        "target_line": "L2",
        "features": {
            "temp_c": {"column": "temp_k", "expr": "temp_k - 273.15", "unit": "°C"},   # affine, slope +1
            "humidity": {"column": "dry", "expr": "100 - dry", "unit": "%RH"},        # affine, slope -1
            "material": {"column": "mat", "codes": {"A": "A1", "B": "B7", "C": "C3"}},
            "pressure": {"column": "p_kpa", "expr": "sqrt(p_kpa ** 2) / 100", "unit": "bar"},  # not affine by syntax
        },
        "targets": {"defect": {"column": "nok"}},
        "units": {"temp_k": "K", "dry": "%", "p_kpa": "kPa"},
    }
    doc.update(overrides)
    return doc


def origin_frame(target: pd.DataFrame) -> pd.DataFrame:
    """The target rows in the origin's vocabulary (what L1 would have recorded for them)."""
    return pd.DataFrame({
        "temp_c": target["temp_k"] - 273.15,
        "humidity": 100 - target["dry"],
        "material": target["mat"].map({"A1": "A", "B7": "B", "C3": "C", "Z9": "Z"}),
        "pressure": np.sqrt(target["p_kpa"] ** 2) / 100,
        "defect": target["nok"],
    })


def target_frame(rng: np.random.Generator, n: int = 2000) -> pd.DataFrame:
    return pd.DataFrame({
        "temp_k": rng.uniform(273.15, 320.0, n).round(rng.integers(1, 4)),
        "dry": rng.uniform(10, 80, n).round(1),
        "mat": rng.choice(["A1", "B7", "C3", "Z9"], n),
        "p_kpa": rng.uniform(50, 400, n),
        "nok": rng.integers(0, 2, n),
    })


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- parsing and refusals ------------------------------------------------------------------------------------------
def test_shipped_mappings_parse():
    """Every pack mapping shipped beside the pipelines parses; a Sparkplug metric mapping there is told apart."""
    for path in sorted(MAPPINGS.glob("*.yaml")):
        if "leanlearn.sparkplug-mapping/" in path.read_text(encoding="utf-8"):
            with pytest.raises(MappingError, match="maps Sparkplug B metrics"):
                Mapping.load(path)
            continue
        mapping = Mapping.load(path)
        assert mapping.features and mapping.where == str(path)


def test_a_full_mapping_parses_with_its_short_forms(tmp_path):
    path = write(tmp_path, """
schema: leanlearn.mapping/1
source_line: L1
target_line: L2
features:
  humidity_mean: {column: rh_frac, expr: "rh_frac * 100", unit: "%RH"}
  material: {column: mat, codes: {A: A1, B: B7}}
  speed: speed_mpm
  shift_team: {value: day}
  size: {value: 3}
targets:
  defect: nok
units: {rh_frac: "1", speed_mpm: m/min}
""")
    m = Mapping.load(path)
    assert m.features["speed"].column == "speed_mpm" and m.features["speed"].kind == "rename"
    assert m.features["humidity_mean"].kind == "expr" and m.features["humidity_mean"].unit == "%RH"
    assert m.features["material"].codes == {"A": "A1", "B": "B7"}
    assert m.features["shift_team"].kind == "constant" and m.features["shift_team"].value == "day"
    assert m.targets == {"defect": "nok"} and m.units == {"rh_frac": "1", "speed_mpm": "m/min"}
    assert m.source_line == "L1" and m.target_line == "L2"


@pytest.mark.parametrize(("text", "expected"), [
    ("schema: leanlearn.mapping/1\nfeatuers: {}\n", "unknown key 'featuers'; did you mean 'features'?"),
    ("schema: leanlearn.mapping/1\nfeatures: {x: {colum: y}}\n", "key 'features.x.colum': unknown key 'colum'; did "
                                                                  "you mean 'column'?"),
    ("schema: leanlearn.mapping/1\ntargets: {d: {col: y}}\n", "unknown key 'col'; did you mean 'column'?"),
    ("features: {}\n", "key 'schema': is None, expected 'leanlearn.mapping/1'"),
    ("schema: leanlearn.mapping/2\n", "key 'schema': is 'leanlearn.mapping/2'"),
    ("schema: leanlearn.mapping/1\nfeatures: {x: {column: y, expr: 'y +* 2'}}\n", "is not valid arithmetic"),
    ("schema: leanlearn.mapping/1\nfeatures: {x: {column: y, expr: \"__import__('os').system('rm -rf /')\"}}\n",
     "function calls other than"),
    ("schema: leanlearn.mapping/1\nfeatures: {x: {column: y, expr: 'y.real'}}\n", "Attribute is not allowed"),
    ("schema: leanlearn.mapping/1\nfeatures: {x: {column: y, expr: 'y + secret'}}\n",
     "key 'features.x.expr': reads column 'secret', which is neither this entry's column ('y')"),
    ("schema: leanlearn.mapping/1\nfeatures: {x: {column: y, expr: '3'}}\n", "reads no column"),
    ("schema: leanlearn.mapping/1\nfeatures: {x: {column: y, codes: {no: N1}}}\n", "quote the code"),
    ("schema: leanlearn.mapping/1\nfeatures: {x: {column: y, codes: []}}\n", "must be a non-empty mapping"),
    ("schema: leanlearn.mapping/1\nfeatures: {x: {value: 1, column: y}}\n", "a constant (`value`) takes no column"),
    ("schema: leanlearn.mapping/1\nfeatures: {x: {value: null}}\n", "must be a finite number or a text"),
    ("schema: leanlearn.mapping/1\nfeatures: {x: {value: .nan}}\n", "must be a finite number or a text"),
    ("schema: leanlearn.mapping/1\nfeatures: {x: {}}\n", "says nothing"),
    ("schema: leanlearn.mapping/1\nfeatures: {x: [1, 2]}\n", "must be text, got a list"),
    ("schema: leanlearn.mapping/1\nfeatures: {x: {column: y, expr: 'y', codes: {A: B}}}\n", "use one of them"),
    ("schema: leanlearn.mapping/1\nfeatures: {d: y}\ntargets: {d: z}\n", "listed under features too"),
    ("schema: leanlearn.mapping/1\nkeep_unmapped: yes please\n", "must be true or false"),
    ("schema: leanlearn.mapping/1\nfeatures: [a, b]\n", "must be a mapping keyed by the origin's names"),
    ("schema: leanlearn.mapping/1\nfeatures: {x: 'a`b'}\n", "holds a backtick"),
    ("", "is empty"),
    ("- a\n- b\n", "must be a mapping, got a list"),
    ("schema: [unclosed\n", "not valid YAML"),
])
def test_bad_mappings_are_refused_with_file_and_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(MappingError) as info:
        Mapping.load(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert expected in message, message
    assert "Traceback" not in message and "\n" not in message


def test_limits_bound_the_file_entries_and_expressions(tmp_path):
    huge = write(tmp_path, "schema: leanlearn.mapping/1\n# " + "x" * (2 << 20) + "\n", "huge.yaml")
    with pytest.raises(MappingError, match="over the limit"):
        Mapping.load(huge)
    many = {"schema": MAPPING_SCHEMA, "features": {f"f{i}": f"c{i}" for i in range(6000)}}
    with pytest.raises(MappingError, match="more than the limit of 5,000"):
        Mapping.from_dict(many, where="many.yaml")
    long_expr = {"schema": MAPPING_SCHEMA, "features": {"x": {"column": "y", "expr": "y" + " + 1" * 600}}}
    with pytest.raises(MappingError, match="more than the limit of 2,000"):
        Mapping.from_dict(long_expr)
    long_name = {"schema": MAPPING_SCHEMA, "features": {"x": "y" * 300}}
    with pytest.raises(MappingError, match="more than the limit of 256"):
        Mapping.from_dict(long_name)
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"] + [
        f"{b}: &{b} [{', '.join([f'*{a}'] * 10)}]" for a, b in zip("abcd", "bcde")]
    bomb = write(tmp_path, "\n".join(lines) + "\n", "bomb.yaml")
    with pytest.raises(MappingError, match="aliases expanded"):
        Mapping.load(bomb)


def test_unicode_names_and_codes_are_kept(tmp_path):
    path = write(tmp_path, "schema: leanlearn.mapping/1\nfeatures:\n  Feuchte: {column: Luftfeuchtigkeit_%, "
                           "codes: {Stahl: 钢, Ölbad: 油浴}}\nunits: {Luftfeuchtigkeit_%: '%RH'}\n")
    m = Mapping.load(path)
    assert m.features["Feuchte"].codes == {"Stahl": "钢", "Ölbad": "油浴"}
    assert m.units == {"Luftfeuchtigkeit_%": "%RH"}


# -- hash ------------------------------------------------------------------------------------------------------------
def test_the_same_mapping_hashes_the_same_however_it_is_written(tmp_path):
    block = write(tmp_path, """\
schema: leanlearn.mapping/1
# a comment
features:
  humidity_mean:
    column: rh_frac
    expr: rh_frac*100
    unit: "%RH"
  material:
    codes: {B: B7, A: A1}
    column: mat
    keep_unmapped: false
targets: {defect: nok}
""", "block.yaml")
    flow = write(tmp_path, "schema: leanlearn.mapping/1\ntargets: {defect: {column: nok}}\nfeatures: {material: "
                           "{column: mat, codes: {A: A1, B: B7}}, humidity_mean: {unit: '%RH', column: rh_frac, "
                           "expr: 'rh_frac * 100'}}\n", "flow.yaml")
    a, b = Mapping.load(block), Mapping.load(flow)
    assert a.content_hash == b.content_hash and a.to_dict() == b.to_dict()
    assert a.content_hash.startswith("sha256:") and len(a.content_hash) == 71
    assert Mapping.from_dict(a.to_dict()).content_hash == a.content_hash  # to_dict round-trips
    json.dumps(a.to_dict())  # plain JSON
    other = Mapping.from_dict({**a.to_dict(), "targets": {"defect": {"column": "bad"}}})
    assert other.content_hash != a.content_hash
    for doc in ({"schema": MAPPING_SCHEMA, "features": {"s": {"codes": {1: "ST1", 2: "ST2"}}, "k": {"value": 3}}},
                {"schema": MAPPING_SCHEMA, "features": {"t": {"value": "day", "unit": "-"}}, "keep_unmapped": True}):
        m = Mapping.from_dict(doc)
        assert Mapping.from_dict(m.to_dict()) == m and Mapping.from_dict(m.to_dict()).content_hash == m.content_hash
    changed_code = write(tmp_path, flow.read_text().replace("B: B7", "B: B8"), "code.yaml")
    assert Mapping.load(changed_code).content_hash != a.content_hash


# -- affine detection ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("source", "expected"), [
    ("temp_k - 273.15", ("temp_k", 1.0, -273.15)),
    ("rh_frac * 100", ("rh_frac", 100.0, 0.0)),
    ("100 - dry", ("dry", -1.0, 100.0)),
    ("-(x * 2.5) + 3", ("x", -2.5, 3.0)),
    ("`speed [m/s]` * 60", ("speed [m/s]", 60.0, 0.0)),
    ("x ** 1", ("x", 1.0, 0.0)),
    ("(x + 1) * 2 - x", ("x", 1.0, 2.0)),  # affine, however written
])
def test_affine_conversions_are_detected(source, expected):
    column, a, b = affine_form(source)
    assert column == expected[0]
    assert a == pytest.approx(expected[1], rel=1e-12) and b == pytest.approx(expected[2], abs=1e-9)


@pytest.mark.parametrize("source", [
    "x ** 2", "log(x)", "sqrt(x)", "abs(x)", "where(x > 5e6, 0, x)", "x - x + 1", "x * y", "floor(x)",
    "2 * x / x", "1 / x", "x % 7", "x // 1", "(x > 1) * x", "exp(x / 1e9)",
])
def test_anything_else_is_not_affine(source):
    assert affine_form(source) is None


# -- translate ---------------------------------------------------------------------------------------------------
def test_translate_rewrites_thresholds_codes_targets_and_derived():
    pack = hand_pack()
    m = Mapping.from_dict(hand_mapping(), where="m.yaml")
    new = translate(pack, m, line="L2")
    by_id = {r.id: r for r in new.rules}
    assert by_id["r1"].text == "temp_k >= 303.15 and mat == A1 → nok"                 # K from °C, exactly
    assert by_id["r2"].conditions[0].text == "dry > 30"                               # slope -1: < becomes >
    assert by_id["r3"].conditions[0].text == "44.5 <= dry <= 60"                      # between stays ordered
    assert by_id["r3"].conditions[1].value == ("B7", "C3")
    assert by_id["r4"].conditions[0].text == "pressure > 2"                           # non-affine: derived feature
    assert by_id["r6"].conditions[0].text == "mat != B7"
    assert by_id["r6"].conditions[1].text == "temp_k <= 285.65"
    assert [t.name for t in new.targets] == ["nok"] and all(r.target == "nok" for r in new.rules)
    # conversions the pack's derived feature reads come first, named after the origin feature
    assert new.derived == (("temp_c", "temp_k - 273.15"), ("pressure", "sqrt(p_kpa ** 2) / 100"),
                           ("ratio", "pressure / temp_c"))
    assert new.discretization == {"nok": {"temp_k": [285.65, 303.15], "dry": [30.0, 44.5, 60.0],
                                          "pressure": [2.0]}}
    names = {f.name: f for f in new.features}
    assert names["temp_k"].unit == "K" and not names["temp_k"].derived
    assert names["temp_c"].derived and names["temp_c"].unit == "°C"
    assert names["mat"].dtype == "object" and names["pressure"].derived
    # ids, evidence, reviews kept; no signature; line set
    for old, translated in zip(pack.rules, new.rules):
        assert translated.id == old.id
        for key in ("support", "confidence", "n", "hits", "p_value", "p_value_raw", "ci", "base_rate", "lift",
                    "shift", "review"):
            assert getattr(translated, key) == getattr(old, key), key
    assert by_id["r1"].review.status == "approved" and by_id["r1"].review.reason == "physics"
    assert new.line == "L2" and new.signature is None
    # the translated pack is a valid pack document
    assert RulePack.from_json(new.to_json()) == new


def test_a_fahrenheit_conversion_gives_round_thresholds():
    pack = RulePack(name="p", line="L1", targets=(Target("scrap"),), features=(Feature("T", "float64", "°C"),),
                    rules=RuleSet((rule([Condition("T", "<", 30.0)], "scrap"),
                                   rule([Condition("T", "between", [-40.0, 100.0])], "scrap", "r2"))))
    m = Mapping.from_dict({"schema": MAPPING_SCHEMA, "features": {"T": {"column": "T_F", "expr": "(T_F - 32) * 5 / 9",
                                                                         "unit": "°C"}}})
    new = translate(pack, m)
    assert new.rules[0].conditions[0].text == "T_F < 86"
    assert new.rules[1].conditions[0].value == (-40.0, 212.0)


def test_masks_of_the_translated_pack_equal_the_origins_on_random_data():
    pack = hand_pack()
    new = translate(pack, Mapping.from_dict(hand_mapping()))
    for seed in range(12):
        target = target_frame(np.random.default_rng(seed))
        origin = origin_frame(target)
        here, there = pack.prepare(origin), new.prepare(target)
        for old, translated in zip(pack.rules, new.rules):
            expected, got = old.mask(here), translated.mask(there)
            # a row whose converted value lies within rounding of a threshold may fall either way: leave those out
            near = np.zeros(len(target), dtype=bool)
            for cond in old.conditions:
                if cond.feature in here and pd.api.types.is_numeric_dtype(here[cond.feature]):
                    values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
                    for v in values:
                        near |= np.isclose(here[cond.feature].to_numpy(), v, rtol=1e-12, atol=1e-9)
            assert (expected[~near] == got[~near]).all(), (seed, old.id)
            assert expected[~near].any() or old.id in ("r5",), (seed, old.id)
    # rows at the exact boundary, written as round numbers in the target's unit, stay on their side
    target = pd.DataFrame({"temp_k": [303.15, 303.14, 285.65], "dry": [30.0, 30.1, 29.9], "mat": ["A1", "A1", "C3"],
                           "p_kpa": [100.0, 100.0, 100.0], "nok": [1, 0, 1]})
    assert new.rules[0].mask(new.prepare(target)).tolist() == [True, False, False]
    assert new.rules[1].mask(new.prepare(target)).tolist() == [False, True, False]


def test_an_unmapped_code_is_refused_naming_it_unless_kept():
    doc = hand_mapping()
    doc["features"]["material"]["codes"] = {"A": "A1", "B": "B7"}  # no C
    with pytest.raises(MappingError) as info:
        translate(hand_pack(), Mapping.from_dict(doc, where="m.yaml"))
    message = str(info.value)
    assert "rule 'r3'" in message and "code 'C' of 'material'" in message and "features.material.codes" in message
    assert "keep_unmapped: true" in message
    doc["features"]["material"]["keep_unmapped"] = True
    new = translate(hand_pack(), Mapping.from_dict(doc))
    assert new.rules[2].conditions[1].value == ("B7", "C")
    doc["features"]["material"].pop("keep_unmapped")
    kept = translate(hand_pack(), Mapping.from_dict({**doc, "keep_unmapped": True}))
    assert kept.rules[2].conditions[1].value == ("B7", "C")


def test_codes_merged_on_the_target_line_are_refused_where_they_change_a_rule():
    doc = hand_mapping()
    doc["features"]["material"]["codes"] = {"A": "A1", "B": "X", "C": "X"}
    with pytest.raises(MappingError, match=r"rule 'r6'.*code\(s\) C of 'material' map to the same target code as B"):
        translate(hand_pack(), Mapping.from_dict(doc))
    # r3 (material in [B, C]) alone would be fine: both merged codes are in the rule
    pack = replace(hand_pack(), rules=RuleSet((hand_pack().rules[2],)), derived=(), features=())
    assert translate(pack, Mapping.from_dict(doc)).rules[0].conditions[1].value == ("X",)


def test_two_features_becoming_one_column_are_refused():
    doc = hand_mapping()
    doc["features"]["material"] = {"column": "temp_k"}
    with pytest.raises(MappingError, match="both become 'temp_k'"):
        translate(hand_pack(), Mapping.from_dict(doc))


def test_source_and_target_line_must_match():
    with pytest.raises(MappingError, match="source_line is 'L9', but the pack 'hand' comes from line 'L1'"):
        translate(hand_pack(), Mapping.from_dict(hand_mapping(source_line="L9"), where="m.yaml"))
    with pytest.raises(MappingError, match="target_line is 'L2', but the pack is imported to line 'L3'"):
        import_pack(hand_pack(), "L3", Mapping.from_dict(hand_mapping()))



def test_a_target_the_pack_lacks_is_a_warning_and_a_typo_is_caught_by_the_missing_column():
    """A line's mapping serves each of its packs (a registered pack holds one target): an unused target entry is a
    warning; a misspelt one leaves the real target unrenamed, so the target's column is missing — a problem."""
    mapping = Mapping.from_dict(hand_mapping(targets={"defect": "nok", "scrap": "scrap_kg"}))
    translate(hand_pack(), mapping)  # no error
    typo = Mapping.from_dict(hand_mapping(targets={"defekt": "nok"}))
    translated = translate(hand_pack(), typo)
    assert [t.name for t in translated.targets] == ["defect"]
    frame = pd.DataFrame({c: [1.0] for c in ("nok",)})
    result = compatibility(hand_pack(), frame, typo)
    assert any("the pack has no target 'defekt' (did you mean 'defect'?)" in w for w in result.warnings)
    assert not result.ok


def test_constants_become_derived_features():
    pack = RulePack(name="p", line="L1", targets=(Target("bad"),), rules=RuleSet((
        rule([Condition("team", "==", "day"), Condition("size", ">=", 3)], "bad", "r1"),
        rule([Condition("team", "in", ["night", "late"])], "bad", "r2"),
        rule([Condition("team", "!=", "night")], "bad", "r3"),
    )), features=(Feature("team", "object"), Feature("size", "int64")))
    m = Mapping.from_dict({"schema": MAPPING_SCHEMA, "features": {"team": {"value": "day"}, "size": {"value": 4}}})
    new = translate(pack, m)
    assert dict(new.derived) == {"team": "1", "size": "4.0"}
    assert [c.text for c in new.rules[0].conditions] == ["team == 1", "size >= 3"]
    assert new.rules[1].conditions[0].text == "team == 0"  # never holds on this line
    assert new.rules[2].conditions[0].text == "team == 1"
    frame = new.prepare(pd.DataFrame({"bad": [0, 1, 1]}))
    assert [r.mask(frame).tolist() for r in new.rules] == [[True] * 3, [False] * 3, [True] * 3]


def test_a_numeric_conversion_of_a_coded_feature_is_refused():
    doc = hand_mapping()
    doc["features"]["material"] = {"column": "mat_no", "expr": "mat_no * 1"}
    with pytest.raises(MappingError, match="compare 'material' with text; map its codes with `codes:`"):
        translate(hand_pack(), Mapping.from_dict(doc))


def test_a_derived_conversion_may_not_hide_behind_a_data_column():
    doc = hand_mapping()
    doc["features"]["pressure"] = {"column": "pressure", "expr": "log(pressure)"}
    with pytest.raises(MappingError, match="reads a column named like the feature it computes"):
        translate(hand_pack(), Mapping.from_dict(doc))


def test_translate_without_mapping_keeps_everything():
    pack = hand_pack()
    same = translate(pack)
    assert same.rules == pack.rules and same.derived == pack.derived and same.features == pack.features


def test_ai4i_pack_on_a_celsius_line_flags_the_same_rows():
    from leanlearn.data.datasets import load_ai4i
    from leanlearn.packs.build import mine_pack

    frame = load_ai4i()
    pack = mine_pack(frame, ["HDF", "OSF"], derive={"temp_diff": "`Process temperature [K]` - `Air temperature [K]`"},
                     ignore=["Machine failure", "TWF", "PWF", "RNF"], line="ai4i", auto_features=False)
    m = Mapping.load(MAPPINGS / "ai4i-kelvin-to-celsius.yaml")
    new = translate(pack, m, line="mill-2")
    celsius = pd.DataFrame({
        "air_c": frame["Air temperature [K]"] - 273.15, "process_c": frame["Process temperature [K]"] - 273.15,
        "rpm": frame["Rotational speed [rpm]"], "torque": frame["Torque [Nm]"], "tool_wear": frame["Tool wear [min]"],
        "quality": frame["Type"].map({"L": "low", "M": "medium", "H": "high"}), "HDF": frame["HDF"],
        "OSF": frame["OSF"],
    })
    assert check_compatibility(new, celsius) == []
    assert require_compatible(pack, celsius, m).warnings == ()
    here, there = pack.prepare(frame), new.prepare(celsius)
    differ = {r.id: int((r.mask(here) != t.mask(there)).sum()) for r, t in zip(pack.rules, new.rules)}
    # temp_diff is recomputed from K values rebuilt from °C: a row a rounding away from a cut may move
    assert sum(differ.values()) <= 2, differ
    assert any("quality" in {c.feature for c in r.conditions} or "rpm" in {c.feature for c in r.conditions}
               for r in new.rules)


# -- compatibility ---------------------------------------------------------------------------------------------
def test_compatibility_passes_on_matching_data_and_warns_about_absent_codes():
    pack, m = hand_pack(), Mapping.from_dict(hand_mapping(), where="m.yaml")
    target = target_frame(np.random.default_rng(0))
    assert check_compatibility(pack, target, m) == []
    result = require_compatible(pack, target.assign(mat=target["mat"].replace("C3", "A1")), m)
    assert result.ok and result.warnings == (
        "rule 'r3': code 'C3' of column 'mat' (the pack's 'material') never occurs in the target data (2,000 rows); "
        "the rule cannot fire there",)


def test_compatibility_lists_every_problem_naming_feature_column_and_rules():
    pack, m = hand_pack(), Mapping.from_dict(hand_mapping(), where="m.yaml")
    target = target_frame(np.random.default_rng(0))
    bad = target.drop(columns=["temp_k"]).assign(dry=target["dry"].astype(str), nok=target["nok"] * 3 + 1)
    problems = check_compatibility(pack, bad, m)
    text = " | ".join(problems)
    assert "column 'temp_k' (the pack's 'temp_c'), which rules 'r1', 'r6' need, is not in the target data" in text
    assert "derived feature 'temp_c' ('temp_k - 273.15') reads column 'temp_k'" in text
    assert "column 'dry' (the pack's 'humidity') holds text" in text and "rules 'r2', 'r3' compare it with numbers" \
        in text
    assert "target 'nok' (the pack's 'defect'): target 'nok' is not a binary waste outcome" in text
    with pytest.raises(MappingError) as info:
        require_compatible(pack, bad, m, where="line2.csv")
    message = str(info.value)
    assert message.startswith("line2.csv: pack 'hand' does not fit: 4 problems — (1) ")
    assert "\n" not in message


def test_a_unit_mismatch_without_conversion_is_refused():
    doc = hand_mapping()
    doc["features"]["temp_c"] = {"column": "temp_k"}  # renamed only, but the target column is in K
    problems = check_compatibility(hand_pack(), target_frame(np.random.default_rng(1)),
                                   Mapping.from_dict(doc, where="m.yaml"))
    assert any("feature 'temp_c' (rules 'r1', 'r6') is in '°C' in the pack, but the target's column 'temp_k' is in "
               "'K' and the mapping gives no conversion; add features.temp_c.expr" in p for p in problems), problems
    doc["features"]["temp_c"] = {"column": "temp_k", "expr": "temp_k - 273", "unit": "K"}
    problems = check_compatibility(hand_pack(), target_frame(np.random.default_rng(1)), Mapping.from_dict(doc))
    assert any("the mapping's expression yields 'K', but the pack's rules are in '°C'" in p for p in problems)
    doc["features"]["temp_c"] = {"column": "temp_k", "expr": "temp_k - 273.15"}
    problems = check_compatibility(hand_pack(), target_frame(np.random.default_rng(1)), Mapping.from_dict(doc))
    assert problems == ["feature 'temp_c': the pack's rules are in '°C', but the mapping does not say which unit its "
                        "expression yields; add unit: '°C' to features.temp_c once the expression converts to it"]


def test_compatibility_refuses_codes_on_a_numeric_column_and_a_shadowing_column():
    pack, m = hand_pack(), Mapping.from_dict(hand_mapping())
    target = target_frame(np.random.default_rng(2))
    problems = check_compatibility(pack, target.assign(mat=1.0, pressure=2.0), m)
    assert any("column 'mat' (the pack's 'material') holds numbers (dtype float64), but rules 'r1', 'r3', 'r6' "
               "compare it with text codes" in p for p in problems), problems
    assert any("derived feature 'pressure' is named like a column of the target data" in p for p in problems)


def test_compatibility_of_a_numeric_target_and_hostile_inputs():
    shift = Shift(1.0, 1.0, 0.5, 0.5, 0.4)
    pack = RulePack(name="p", line="L1", targets=(Target("scrap", "numeric", "defects", "higher"),),
                    rules=RuleSet((rule([Condition("x", ">=", 1)], "scrap", shift=shift),)))
    assert check_compatibility(pack, pd.DataFrame({"x": [1.0], "scrap": [0.3]})) == []
    assert "target 'scrap' is numeric in the pack, but the column holds " in check_compatibility(
        pack, pd.DataFrame({"x": [1.0], "scrap": ["a lot"]}))[0]
    assert check_compatibility(pack, pd.DataFrame({"x": [], "scrap": []})) == []  # empty: nothing contradicts
    assert check_compatibility("pack.json", pd.DataFrame()) == ["expected a RulePack, got str; load the pack with "
                                                                 "RulePack.load"]
    assert check_compatibility(pack, [1, 2]) == ["expected the target data as a table (DataFrame), got list"]
    nan = pd.DataFrame({"x": [np.nan, np.inf, 1e308], "scrap": [np.nan, 1.0, 2.0]})
    assert check_compatibility(pack, nan) == []


def test_mapping_entries_the_pack_does_not_use_are_warnings():
    doc = hand_mapping()
    doc["features"]["humidty"] = "hum"
    result = compatibility(hand_pack(), target_frame(np.random.default_rng(0)), Mapping.from_dict(doc, where="m"))
    assert result.ok
    assert result.warnings == ("m: features.humidty: the pack has no feature 'humidty' (did you mean 'humidity'?); "
                               "the entry is not used",)


# -- import --------------------------------------------------------------------------------------------------------
def test_import_records_lineage_and_keeps_reviews(tmp_path):
    pack = hand_pack()
    path = pack.save(tmp_path / "hand.json")
    loaded = RulePack.load(path)
    m = Mapping.from_dict(hand_mapping())
    new = import_pack(loaded, "L2", m, source_model="leanlearn.L1.defect", source_version=3,
                      source_aliases=("production", "approved"))
    lineage = new.lineage
    assert lineage["source_line"] == "L1" and lineage["source_model"] == "leanlearn.L1.defect"
    assert lineage["source_version"] == "3" and lineage["source_aliases"] == ["production", "approved"]
    assert lineage["source_content_hash"] == loaded.source_hash == pack.content_hash
    assert lineage["mapping_hash"] == m.content_hash and lineage["history"] == []
    assert lineage["imported"].endswith("Z")
    assert new.parent == pack.content_hash and new.line == "L2" and new.name == "hand"
    assert new.rules[0].review == pack.rules[0].review
    again = RulePack.load(new.save(tmp_path / "l2.json"))
    assert again == new
    # a second hop keeps the first in its history; exported_from fills in the source when not given
    exported = replace(again, lineage={**again.lineage, "exported_from": {"model": "leanlearn.L2.nok", "version": "7",
                                                                          "aliases": ["production"]}}, signature=None)
    hop = import_pack(exported, "L3")
    assert hop.lineage["source_model"] == "leanlearn.L2.nok" and hop.lineage["source_version"] == "7"
    assert hop.lineage["source_aliases"] == ["production"] and hop.lineage["mapping_hash"] is None
    assert hop.lineage["history"][0]["source_line"] == "L1" and "history" not in hop.lineage["history"][0]
    assert hop.lineage["history"][0]["exported_from"]["model"] == "leanlearn.L2.nok"
    assert RulePack.from_json(hop.to_json()).lineage == hop.lineage


def test_import_refuses_a_bad_line_and_drops_a_signature():
    pack = replace(hand_pack(), signature={"algorithm": "ed25519", "signer": "x", "key_id": "ed25519:" + "0" * 16,
                                           "value": "AAAA"})
    with pytest.raises(MappingError, match="target line must be a non-empty name"):
        import_pack(pack, "  ")
    assert import_pack(pack, "L2").signature is None


def test_renames_reach_derived_expressions_and_conditions_outside_the_feature_list():
    pack = RulePack(name="p", line="L1", targets=(Target("bad"),), rules=RuleSet((
        rule([Condition("power", ">=", 9000.0), Condition("rpm", "<", 1380)], "bad", "r1"),
        rule([Condition("Type", "==", "L")], "bad", "r2"),
    )), derived=(("power", "`Torque [Nm]` * rpm * 2 * pi / 60"),))
    m = Mapping.from_dict({"schema": MAPPING_SCHEMA, "features": {"Torque [Nm]": "tq", "rpm": "speed [1/min]",
                                                                   "Type": {"column": "kind", "codes": {"L": 1}}}})
    new = translate(pack, m)
    assert new.derived == (("power", "`tq` * `speed [1/min]` * 2 * pi / 60"),)
    assert [c.text for c in new.rules[0].conditions] == ["power >= 9000", "speed [1/min] < 1380"]
    assert new.rules[1].conditions[0].value == 1
    frame = pd.DataFrame({"tq": [40.0, 60.0], "speed [1/min]": [1300, 1500], "kind": [1, 2], "bad": [1, 0]})
    assert new.rules[0].mask(new.prepare(frame)).tolist() == [False, False]
    assert new.rules[1].mask(frame).tolist() == [True, False]
    clash = Mapping.from_dict({"schema": MAPPING_SCHEMA, "features": {"rpm": "Type"}})
    with pytest.raises(MappingError, match="features 'rpm' and 'Type' both become 'Type'"):
        translate(pack, clash)
    # a mapping that names a derived feature: the target line has it, the pack's formula is dropped
    direct = translate(pack, Mapping.from_dict({"schema": MAPPING_SCHEMA, "features": {"power": "P_W"}}))
    assert direct.derived == () and direct.rules[0].conditions[0].text == "P_W >= 9000"


def test_wrong_argument_types_are_one_clear_error():
    with pytest.raises(MappingError, match="expected a RulePack, got dict"):
        translate({"rules": []})
    with pytest.raises(MappingError, match="expected a Mapping, got dict"):
        import_pack(hand_pack(), "L2", {"features": {}})
    assert compatibility(hand_pack(), pd.DataFrame(), "m.yaml").problems == (
        "expected a Mapping, got str; read the file with Mapping.load",)


def test_a_large_pack_translates_and_checks_in_linear_time():
    import time

    rng = np.random.default_rng(0)
    template = rule([Condition("humidity", ">=", 1.0)])
    rules = tuple(replace(template, id=f"r{i}", conditions=(
        Condition("humidity", ">=", float(rng.uniform(0, 100))),
        Condition("material", "in", list(rng.choice(["A", "B", "C"], 2, replace=False))))) for i in range(10_000))
    pack = replace(hand_pack(), rules=RuleSet(rules))
    mapping = Mapping.from_dict(hand_mapping())
    started = time.perf_counter()
    new = translate(pack, mapping)
    result = compatibility(pack, target_frame(rng).assign(dry="wet"), mapping)
    assert len(new.rules) == 10_000 and time.perf_counter() - started < 30
    assert len(result.problems) == 1 and "and 9995 more compare it with numbers" in result.problems[0]


def test_a_threshold_beyond_the_float_range_in_the_target_unit_is_refused():
    pack = RulePack(name="p", line="L1", targets=(Target("bad"),), features=(Feature("x", "float64"),),
                    rules=RuleSet((rule([Condition("x", ">=", 1e306)], "bad"),)))
    m = Mapping.from_dict({"schema": MAPPING_SCHEMA,
                           "features": {"x": {"column": "x_milli", "expr": "x_milli / 1000"}}})
    with pytest.raises(MappingError, match=r"rule 'r1': condition 'x >= 1e\+306' has no finite threshold in the target "
                                           "unit of 'x_milli'"):
        translate(pack, m)
    small = replace(pack, rules=RuleSet((rule([Condition("x", "between", [-1e300, 5e-324])], "bad"),)))
    lo, hi = translate(small, m).rules[0].conditions[0].value
    assert lo == -1e303 and 0 < hi < 1e-320  # subnormal, but finite and on the right side


def test_without_a_mapping_a_foreign_table_is_refused_saying_what_to_map():
    target = target_frame(np.random.default_rng(3)).rename(columns={"mat": "materal"})
    with pytest.raises(MappingError) as info:
        require_compatible(hand_pack(), target, where="l2.csv")
    message = str(info.value)
    assert "column 'material', which rules 'r1', 'r3', 'r6' need, is not in the target data (did you mean " \
           "'materal'?); map it to the target's column in the mapping (features: {material: <column>})" in message
    assert "column 'pressure', which rule 'r4' needs, is not in the target data" in message
    assert "target column 'defect' is not in the target data; map it in the mapping (targets: {defect: <column>})" \
        in message
    assert "the target's columns: dry, materal, nok, p_kpa, temp_k" in message


@pytest.mark.parametrize("seed", range(8))
def test_random_affine_conversions_keep_every_mask(seed):
    rng = np.random.default_rng(100 + seed)
    a = float(rng.choice([-1, 1]) * 10 ** rng.uniform(-3, 3))
    b = float(rng.uniform(-500, 500))
    a_text, b_text = repr(a), repr(b)
    ops = ["<", "<=", ">", ">=", "between", "in", "==", "!="]
    x = rng.uniform(-1000, 1000, 3000).round(int(rng.integers(0, 3)))
    origin_values = a * x + b
    conditions = []
    for op in ops:
        picks = [float(v) for v in rng.choice(origin_values, 2)]
        value = sorted(picks) if op == "between" else picks if op == "in" else picks[0]
        conditions.append(Condition("f", op, value))
    pack = RulePack(name="p", line="L1", targets=(Target("bad"),), features=(Feature("f", "float64", "u"),),
                    rules=RuleSet(tuple(rule([c], "bad", f"r{i}") for i, c in enumerate(conditions))))
    m = Mapping.from_dict({"schema": MAPPING_SCHEMA, "features": {"f": {"column": "x", "expr": f"x * {a_text} + "
                                                                         f"({b_text})", "unit": "u"}}})
    new = translate(pack, m)
    origin = Expression.parse(f"x * {a_text} + ({b_text})").evaluate(pd.DataFrame({"x": x})).to_numpy()
    for old, translated in zip(pack.rules, new.rules):
        assert translated.conditions[0].feature == "x"
        expected = old.mask(pd.DataFrame({"f": origin}))
        got = translated.mask(pd.DataFrame({"x": x}))
        values = old.conditions[0].value if isinstance(old.conditions[0].value, tuple) else (old.conditions[0].value,)
        near = np.zeros(len(x), dtype=bool)
        for v in values:
            near |= np.isclose(origin, v, rtol=1e-9, atol=1e-9)
        if old.conditions[0].op in ("==", "in"):
            continue  # equality on converted floats is exact only where the arithmetic is (see the near rows)
        assert (expected[~near] == got[~near]).all(), (seed, a, b, old.conditions[0].text,
                                                       translated.conditions[0].text)
