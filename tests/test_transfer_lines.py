"""The synthetic two-line plant end to end: rules mined on line L1, imported onto line L2 in L2's own vocabulary
through a mapping, and validated there.

Line L2's table names things its own way (the shipped mapping ``pipelines/mappings/synthetic-l1-to-l2.yaml``):
``workstation`` for the station, material codes ``A1``… as L2's raw MES writes them (``item``), speed in m/s, humidity
as a fraction, ``nok`` for the defect flag and ``scrap_kg`` for the scrap. The target plants share the origin's
seed: in one every mechanism is as on the origin (the control: every rule holds); in each of the others ONE
mechanism's threshold differs — the humidity above which station S2 makes defects is 76 %RH instead of 70 %RH, or
the speed above which S1 scraps three times more is 115 m/min instead of 110. All plants have the same operations,
speeds and humidities (the simulation draws the same numbers); only the outcomes of the changed mechanism differ.
So exactly the rules of the changed mechanism must come out weaker or failing, and the others must hold.

Margins: the defaults — ±10 percentage points of confidence, capped at half a rule's origin confidence. The pack
holds the marginal rule ``station == S2 → defect`` (all of S2, humid or not): its confidence at origin is about 11 %,
and the changed threshold takes it to about 3.5 % — a drop of 7.6 pp, which an uncapped ±10 pp margin would call "as
at origin". The cap judges it within ±5.5 pp, so the drop shows as weaker; on the control every rule is still shown
to hold with two days of data.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from leanlearn.data.synthetic import make_line, material_codes
from leanlearn.packs.build import mine_pack
from leanlearn.packs.mapping import Mapping, import_pack, require_compatible
from leanlearn.packs.pack import RulePack
from leanlearn.packs.transfer import validate_transfer

MAPPINGS = Path(__file__).resolve().parents[1] / "pipelines" / "mappings"
DAYS = 2.0  # about 13,500 production operations per line; the whole file runs in about 15 s
SIGNAL_HZ = 0.05  # the humidity means over an operation's window need few samples
COLUMNS = ["station", "material", "speed", "humidity_mean", "defect", "scrap_qty"]


def production(ops: pd.DataFrame, line: str) -> pd.DataFrame:
    ops = ops[(ops["kind"] == "production") & (ops["line"] == line)]
    return ops[COLUMNS].reset_index(drop=True)


def l2_vocabulary(table: pd.DataFrame) -> pd.DataFrame:
    """The same rows as line L2 records them: its own column names, material codes and units."""
    codes = material_codes(tuple(sorted(table["material"].unique())))
    return pd.DataFrame({
        "workstation": table["station"],
        "item": table["material"].map(dict(zip(codes["material"], codes["mes_l2"]))),
        "speed_mps": table["speed"] / 60.0,
        "rh_frac": table["humidity_mean"] / 100.0,
        "nok": table["defect"].astype(int),
        "scrap_kg": table["scrap_qty"],
    })


@pytest.fixture(scope="module")
def plant() -> dict[str, object]:
    base = make_line(seed=0, days=DAYS, signal_hz=SIGNAL_HZ)
    changed = make_line(seed=0, days=DAYS, signal_hz=SIGNAL_HZ, humidity_threshold=76.0)
    origin = production(base.canonical["operations"], "L1")
    pack = mine_pack(origin, ["defect", "scrap_qty"], worse={"scrap_qty": "higher"}, line="L1", name="plant-l1",
                     auto_features=False,
                     units={"humidity_mean": "%RH", "speed": "m/min", "scrap_qty": "kg"})
    return {
        "pack": pack,
        "truth": base.truth,
        "control": production(base.canonical["operations"], "L2"),
        "changed": production(changed.canonical["operations"], "L2"),
    }


def verdict_table(report) -> str:
    lines = [f"{'rule':<15} {'verdict':<16} {'origin n':>8} {'origin conf':>11} {'target n':>8} {'target conf':>11}  "
             "rule"]
    for v in report.verdicts:
        target = "—" if v.confidence is None else f"{v.confidence:.3f}"
        shift = "" if v.delta is None or v.origin_delta is None else \
            f"  (Cliff's δ {v.origin_delta:.2f} → {v.delta:.2f})"
        lines.append(f"{v.rule_id:<15} {v.verdict:<16} {v.origin_n:>8} {v.origin_confidence:>11.3f} {v.n:>8} "
                     f"{target:>11}  {v.text}{shift}")
    return "\n".join(lines)


def imported(plant: dict[str, object], table: pd.DataFrame) -> tuple[RulePack, pd.DataFrame]:
    pack = plant["pack"]
    assert isinstance(pack, RulePack)
    mapping = Mapping.load(MAPPINGS / "synthetic-l1-to-l2.yaml")
    target = l2_vocabulary(table)
    compatible = require_compatible(pack, target, mapping, where="line L2")
    assert compatible.warnings == ()
    return import_pack(pack, "L2", mapping, source_model="leanlearn.L1.defect", source_version=1), target


def test_the_origin_pack_found_both_mechanisms(plant):
    pack, truth = plant["pack"], plant["truth"]
    defect = [r for r in pack.rules if r.target == "defect"]
    scrap = [r for r in pack.rules if r.target == "scrap_qty"]
    rule = truth["defect_rule"]
    assert any({(c.feature, c.op) for c in r.conditions} == {(rule["feature"], rule["op"]), ("station", "==")}
               for r in defect)
    assert any(("speed", ">=") in {(c.feature, c.op) for c in r.conditions} for r in scrap)


def test_the_imported_pack_speaks_l2_and_fires_on_the_same_rows(plant):
    pack = plant["pack"]
    new, target = imported(plant, plant["changed"])
    texts = {r.id: r.text for r in new.rules}
    humid = next(r for r in pack.rules if {c.feature for c in r.conditions} == {"humidity_mean", "station"})
    assert "rh_frac >= 0.7" in texts[humid.id] and "workstation == S2" in texts[humid.id]
    assert all("humidity_mean" not in t and "speed " not in t for t in texts.values())
    assert [t.name for t in new.targets] == ["nok", "scrap_kg"]
    assert new.lineage["source_line"] == "L1" and new.lineage["mapping_hash"].startswith("sha256:")
    assert new.parent == pack.content_hash and new.line == "L2"
    origin_rows = plant["changed"]
    for old, translated in zip(pack.rules, new.rules):
        assert (old.mask(origin_rows) == translated.mask(new.prepare(target))).all(), old.id


def test_control_plant_every_rule_holds(plant):
    new, target = imported(plant, plant["control"])
    report = validate_transfer(new, target)
    print("\ncontrol (same mechanisms):\n" + verdict_table(report))
    assert report.line == "L1" and report.target == "L2"
    assert {v.rule_id: v.verdict for v in report.verdicts} == {r.id: "holds" for r in new.rules}


@pytest.mark.parametrize(("change", "affected_target"), [
    ({"humidity_threshold": 76.0}, "nok"),   # the defect mechanism (L1: 70 %RH)
    ({"scrap_speed": 115.0}, "scrap_kg"),    # the scrap mechanism (L1: 110 m/min)
], ids=["humidity-76", "scrap-speed-115"])
def test_one_changed_threshold_flags_exactly_its_rules(plant, change, affected_target):
    table = plant["changed"] if "humidity_threshold" in change else production(
        make_line(seed=0, days=DAYS, signal_hz=SIGNAL_HZ, **change).canonical["operations"], "L2")
    new, target = imported(plant, table)
    report = validate_transfer(new, target)
    print(f"\n{change} on L2:\n" + verdict_table(report))
    verdicts = {v.rule_id: v.verdict for v in report.verdicts}
    affected = {r.id for r in new.rules if r.target == affected_target}  # every rule of that outcome is its mechanism's
    assert affected and affected != set(verdicts)
    for rule_id, verdict in verdicts.items():
        if rule_id in affected:
            assert verdict in ("weaker", "fails"), (rule_id, verdict)
        else:
            assert verdict == "holds", (rule_id, verdict)
    by_id = {v.rule_id: v for v in report.verdicts}
    for rule_id in affected:
        v = by_id[rule_id]
        assert v.confidence is not None and v.margin is not None
        assert v.confidence < v.origin_confidence - v.margin / 2
        assert v.n > 500  # judged on plenty of rows: the drop is the mechanism, not thin data
    # the report's figures are computed on the L2 table, with the origin's beside them
    assert report.rows == len(target)
    assert all(by_id[r.id].origin_n == r.n and by_id[r.id].origin_confidence == r.confidence
               for r in plant["pack"].rules)
