"""The synthetic plant: deterministic, schema-valid, heterogeneous raw sources, and planted truths the miners find."""

import json

import numpy as np
import pandas as pd
import pytest

from leanlearn.data.schema import TABLES, validate
from leanlearn.data.sources import read_table
from leanlearn.data.synthetic import SyntheticData, SyntheticLine, make_line
from leanlearn.lean.tables import setup_table
from leanlearn.mining.miner import RuleMiner
from leanlearn.mining.shift import ShiftMiner


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return make_line(seed=0)


def production(data: SyntheticData) -> pd.DataFrame:
    ops = data.canonical["operations"]
    return ops[ops["kind"] == "production"]


def cycle_s(ops: pd.DataFrame) -> pd.Series:
    return (ops["end"] - ops["start"]).dt.total_seconds()


def setups(data: SyntheticData) -> pd.DataFrame:
    """One row per setup with its ``changeover`` pair; stations of the two lines kept apart."""
    ops = data.canonical["operations"]
    events = ops.assign(station=ops["line"] + "/" + ops["station"], worker="-")
    return setup_table(events)


# -- determinism and contracts ---------------------------------------------------------------------------------------
def test_same_seed_gives_identical_frames_and_another_seed_does_not():
    a, b, c = (make_line(seed=s, days=0.25, signal_hz=0.2) for s in (3, 3, 4))
    for name in a.canonical:
        pd.testing.assert_frame_equal(a.canonical[name], b.canonical[name])
    for name in a.raw:
        pd.testing.assert_frame_equal(a.raw[name], b.raw[name])
    assert a.truth == b.truth
    assert not a.canonical["operations"].equals(c.canonical["operations"])
    assert not a.canonical["signals"]["value"].equals(c.canonical["signals"]["value"])


def test_canonical_tables_pass_the_schema_without_quarantine(data):
    assert set(data.canonical) == set(TABLES)
    for name, frame in data.canonical.items():
        good, quarantine = validate(frame, TABLES[name], source=f"synthetic {name}")
        assert len(quarantine) == 0, quarantine.head()
        assert len(good) == len(frame) > 0


def test_every_canonical_time_is_tz_aware_utc(data):
    for name, frame in data.canonical.items():
        times = [c.name for c in TABLES[name].columns if c.kind == "time"]
        for column in times:
            assert isinstance(frame[column].dtype, pd.DatetimeTZDtype), (name, column)
            assert str(frame[column].dt.tz) == "UTC", (name, column)


def test_operations_hold_parameters_outcomes_and_both_kinds(data):
    ops = data.canonical["operations"]
    assert {"speed", "humidity_mean", "temperature_mean", "defect", "scrap_qty"} <= set(ops.columns)
    assert ops["defect"].dtype == bool
    assert set(ops["kind"]) == {"production", "setup"}
    assert ops.loc[ops["kind"] == "setup", "unit_id"].isna().all()
    assert ops.loc[ops["kind"] == "production", "unit_id"].notna().all()
    # a station never runs two operations at once
    for _, group in ops.groupby(["line", "station"]):
        assert (group["start"].iloc[1:].to_numpy() >= group["end"].iloc[:-1].to_numpy()).all()


def test_operation_means_are_the_signal_means_over_the_window(data):
    ops = production(data).sample(25, random_state=0)
    sig = data.canonical["signals"]
    for op in ops.itertuples():
        for name in ("humidity", "temperature"):
            s = sig[(sig["line"] == op.line) & (sig["station"] == op.station) & (sig["name"] == name)]
            window = s[(s["ts"] >= op.start) & (s["ts"] < op.end)]["value"]
            assert getattr(op, f"{name}_mean") == pytest.approx(window.mean(), abs=1e-9)


# -- heterogeneous raw sources ---------------------------------------------------------------------------------------
def test_l1_local_timestamps_cross_a_daylight_saving_change(data):
    mes = data.raw["mes_l1"]
    local = pd.to_datetime(mes["Beginn"], format="%d.%m.%Y %H:%M:%S")
    on_the_day = local[local.dt.strftime("%Y-%m-%d") == "2024-03-31"].dt.hour
    assert (on_the_day == 1).any() and (on_the_day == 3).any() and not (on_the_day == 2).any()  # 02:xx skipped
    utc = local.dt.tz_localize("Europe/Berlin").dt.tz_convert("UTC")
    offsets = set((local - utc.dt.tz_localize(None)).unique())
    assert offsets == {pd.Timedelta(hours=1), pd.Timedelta(hours=2)}
    canonical = pd.concat([data.canonical[t].query("line == 'L1'")["start"] for t in ("operations", "downtime")])
    assert sorted(utc) == sorted(canonical)
    assert [c["kind"] for c in data.truth["dst_changes"]] == ["spring_forward"]


def test_l2_times_are_epoch_milliseconds(data):
    mes = data.raw["mes_l2"]
    assert pd.api.types.is_integer_dtype(mes["start_ms"]) and mes["start_ms"].min() > 1.7e12
    utc = pd.to_datetime(mes["end_ms"], unit="ms", utc=True)
    canonical = pd.concat([data.canonical[t].query("line == 'L2'")["end"] for t in ("operations", "downtime")])
    assert sorted(utc) == sorted(canonical)


def test_material_codes_differ_between_systems_and_the_map_relates_them_all(data):
    raw, cmap = data.raw, data.raw["material_map"]
    l1, l2 = set(raw["mes_l1"]["Material"].dropna()), set(raw["mes_l2"]["item"].dropna())
    erp = set(raw["erp_demand"]["material"]) | set(raw["wms_moves"]["sku"])
    assert l1 and l2 and erp
    assert not (l1 & l2) and not (l1 & erp) and not (l2 & erp)
    assert l1 <= set(cmap["mes_l1"]) and l2 <= set(cmap["mes_l2"]) and erp <= set(cmap["erp"])
    assert list(cmap["material"]) == data.truth["materials"]
    ops = production(data)
    for line, frame, column, system in (("L1", raw["mes_l1"], "Material", "mes_l1"),
                                        ("L2", raw["mes_l2"], "item", "mes_l2")):
        kind = frame["Vorgang"] == "Fertigung" if line == "L1" else frame["event"] == "RUN"
        mapped = frame.loc[kind, column].map(dict(zip(cmap[system], cmap["material"])))
        assert mapped.value_counts().to_dict() == ops.loc[ops["line"] == line, "material"].value_counts().to_dict()
    erp_qty = raw["erp_demand"].assign(material=raw["erp_demand"]["material"].map(dict(zip(cmap["erp"],
                                                                                           cmap["material"]))))
    assert erp_qty.groupby("material")["qty"].sum().equals(data.canonical["demand"].groupby("material")["qty"].sum())


def test_signals_are_one_row_per_second_per_station_and_signal(data):
    sig = data.canonical["signals"]
    groups = sig.groupby(["line", "station", "name"])
    assert groups.ngroups == 2 * 4 * 2
    assert set(groups.size()) == {86_400}
    steps = groups["ts"].diff().dropna().unique()
    assert list(steps) == [pd.Timedelta(seconds=1)]
    plc = data.raw["plc_signals"]
    assert len(plc) == len(sig) and set(plc["tag"].astype(str)) >= {"L1.S2.RH", "L2.S4.TEMP"}


def test_signal_rate_is_configurable():
    small = make_line(seed=0, days=0.1, signal_hz=0.2)
    sig = small.canonical["signals"]
    assert set(sig.groupby(["line", "station", "name"])["ts"].diff().dropna().unique()) == {pd.Timedelta(seconds=5)}
    assert len(sig) == 16 * 8640 * 0.2
    assert small.truth["signal_hz"] == 0.2


def test_autumn_start_makes_l1_local_times_ambiguous():
    autumn = make_line(seed=0, days=0.2, signal_hz=0.05, start="2024-10-26 22:00:00+00:00")
    assert [c["kind"] for c in autumn.truth["dst_changes"]] == ["fall_back"]
    local = pd.to_datetime(autumn.raw["mes_l1"]["Beginn"], format="%d.%m.%Y %H:%M:%S")
    assert local.dt.tz_localize("Europe/Berlin", ambiguous="NaT").isna().any()


def test_write_produces_files_a_fusion_pipeline_can_read(tmp_path):
    small = make_line(seed=2, days=0.1, signal_hz=0.5)
    paths = small.write(tmp_path)
    assert paths["mes_l1"].read_text(encoding="utf-8-sig").splitlines()[0].startswith("Linie;Arbeitsplatz;")
    l1 = read_table(paths["mes_l1"])
    assert l1["Geschwindigkeit"].dtype == float  # decimal commas read as numbers
    assert "," in paths["mes_l1"].read_text(encoding="utf-8-sig").splitlines()[1]
    assert len(l1) == len(small.raw["mes_l1"]) and l1["Beginn"].iloc[0] == small.raw["mes_l1"]["Beginn"].iloc[0]
    l2 = read_table(paths["mes_l2"])
    assert l2["start_ms"].tolist() == small.raw["mes_l2"]["start_ms"].tolist()
    erp = read_table(paths["erp_demand"])
    assert erp["qty"].sum() == small.canonical["demand"]["qty"].sum()
    wms = read_table(paths["wms_moves"])
    assert len(wms) == len(small.canonical["moves"]) and wms["picked_at"].iloc[0].endswith(("+01:00", "+02:00"))
    plc = read_table(paths["plc_signals"])
    assert len(plc) == len(small.canonical["signals"]) and str(plc["ts"].dt.tz) == "UTC"
    assert read_table(paths["material_map"])["mes_l1"].tolist() == small.raw["material_map"]["mes_l1"].tolist()
    truth = json.loads(paths["truth"].read_text(encoding="utf-8"))
    assert truth["shift"]["at"] == small.truth["shift"]["at"].isoformat()


def test_unknown_or_inconsistent_parameters_are_refused():
    with pytest.raises(ValueError, match="unknown parameter.*humidty"):
        make_line(humidty=80)
    with pytest.raises(ValueError, match="defect_station 'S9'"):
        make_line(days=0.1, defect_station="S9")
    with pytest.raises(ValueError, match="cycle_s needs one value per station"):
        make_line(config=SyntheticLine(stations=("S1", "S2", "S3")), days=0.1)


# -- the planted truths are in the data ------------------------------------------------------------------------------
def test_defect_rate_at_s2_rises_with_humidity_at_or_above_70(data):
    rule = data.truth["defect_rule"]
    ops = production(data)
    s2 = ops[ops["station"] == rule["station"]]
    inside = s2["humidity_mean"] >= rule["value"]
    assert 0.1 < inside.mean() < 0.6  # humidity crosses 70 %RH part of the time
    assert s2.loc[inside, "defect"].mean() == pytest.approx(rule["rate_inside"], abs=0.05)
    assert s2.loc[~inside, "defect"].mean() == pytest.approx(rule["rate_outside"], abs=0.015)
    others = ops[ops["station"] != rule["station"]]
    humid = others["humidity_mean"] >= rule["value"]
    assert others.loc[humid, "defect"].mean() < 0.03 and others.loc[~humid, "defect"].mean() < 0.03


def test_changeover_a_to_b_takes_much_longer_than_b_to_a(data):
    truth = data.truth["costly_changeover"]
    table = setups(data)
    median = table.groupby("changeover")["setup_min"].median()
    extra = median[truth["changeover"]] - median[f"{truth['to']} → {truth['from']}"]
    assert extra == pytest.approx(truth["extra_setup_min"], abs=8)
    assert median.drop(truth["changeover"]).max() < 20


def test_cycle_times_at_s3_grow_by_the_planted_factor_after_the_shift(data):
    shift = data.truth["shift"]
    ops = production(data)
    expected = [data.truth["cycle_s"][s][m] for s, m in zip(ops["station"], ops["material"])]
    relative = cycle_s(ops) / expected  # takes out the material mix
    after = ops["start"] >= shift["at"]
    for station, factor in ((shift["station"], shift["factor"]), ("S2", 1.0)):
        at = ops["station"] == station
        ratio = relative[at & after].median() / relative[at & ~after].median()
        assert ratio == pytest.approx(factor, abs=0.06), station


def test_scrap_at_s1_is_higher_at_speed_110_or_more(data):
    rule = data.truth["scrap_rule"]
    s1 = production(data).query(f"station == '{rule['station']}'")
    fast = s1["speed"] >= rule["value"]
    ratio = s1.loc[fast, "scrap_qty"].mean() / s1.loc[~fast, "scrap_qty"].mean()
    assert ratio == pytest.approx(rule["factor"], rel=0.15)


def test_takt_is_the_demand_divided_into_its_periods(data):
    demand = data.canonical["demand"]
    for _, line in demand.groupby("line"):
        periods = line.drop_duplicates("period_start")
        seconds = (periods["period_end"] - periods["period_start"]).dt.total_seconds().sum()
        assert seconds / line["qty"].sum() == pytest.approx(data.truth["takt_s"])
    assert data.truth["takt_s"] == pytest.approx(SyntheticLine().takt_s, rel=0.01)
    released = production(data).query("station == 'S1'").groupby("line")["start"].min()
    assert (released == data.truth["period"]["start"]).all()


# -- the miners recover what was planted -----------------------------------------------------------------------------
def test_rule_miner_recovers_the_humidity_rule_at_s2(data):
    truth = data.truth["defect_rule"]
    s2 = production(data).query(f"station == '{truth['station']}'").reset_index(drop=True)
    X = s2[["humidity_mean", "temperature_mean", "speed", "material"]]
    rules = RuleMiner().fit(X, s2["defect"]).rules_
    assert len(rules) > 0
    first = rules[0].conditions
    assert [(c.feature, c.op) for c in first] == [(truth["feature"], truth["op"])]
    assert first[0].value == pytest.approx(truth["value"], abs=2.0)
    humid = [r for r in rules if {c.feature for c in r.conditions} == {"humidity_mean"}]
    assert len(humid) >= len(rules) - 1  # at most one rule confounded by time (a material run in the humid hours)


def test_shift_miner_finds_the_costly_changeover_first(data):
    truth = data.truth["costly_changeover"]
    table = setups(data)
    X = table[["station", "changeover", "material", "previous_material", "shift"]]
    rules = ShiftMiner(worse="higher").fit(X, table["setup_min"]).rules_
    first = rules[0]
    covered = np.logical_and.reduce([c.mask(X) for c in first.conditions])
    assert (covered == (table["changeover"] == truth["changeover"]).to_numpy()).all()
    assert first.shift.median - first.shift.median_overall > 0.5 * truth["extra_setup_min"]
