"""The value stream: exact numbers on hand-built lines, the active-period bottleneck on constructed cases, and the
real 4TU log, where setup and breakdown time per machine must equal a direct computation from the timestamps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leanlearn.data.datasets import load_production_4tu
from leanlearn.errors import SchemaError
from leanlearn.lean.plots import plot_changeover_matrix, plot_cycle_distribution, plot_value_stream
from leanlearn.lean.valuestream import (
    ValueStream,
    bottlenecks,
    changeover_matrix,
    changeovers,
    cycle_times,
    events_to_canonical,
    flow_efficiency,
    momentary_bottleneck,
    station_order,
    takt_time,
    utilization,
    value_stream,
    waiting_times,
    wip,
)

T0 = pd.Timestamp("2024-03-04 06:00", tz="UTC")


def at(minutes: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minutes)


def ops_frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (order_id, station, material, kind, start minute, end minute)."""
    frame = pd.DataFrame(rows, columns=["order_id", "station", "material", "kind", "s", "e"])
    frame["start"] = frame.pop("s").map(at)
    frame["end"] = frame.pop("e").map(at)
    return frame.assign(line="L1")


@pytest.fixture
def tiny() -> pd.DataFrame:
    """Two orders through stations A and B; A sets up for each order.

    o1 (X): A setup 0–5, A production 5–15, B production 20–40
    o2 (Y): A setup 15–25, A production 25–30, B production 45–55
    """
    return ops_frame([
        ("o1", "A", "X", "setup", 0, 5), ("o1", "A", "X", "production", 5, 15), ("o1", "B", "X", "production", 20, 40),
        ("o2", "A", "Y", "setup", 15, 25), ("o2", "A", "Y", "production", 25, 30),
        ("o2", "B", "Y", "production", 45, 55),
    ])


# -- hand-built cases with exact numbers -------------------------------------------------------------------------------
def test_cycle_waiting_and_setup_distributions_are_exact(tiny: pd.DataFrame) -> None:
    nodes = value_stream(tiny).nodes.set_index("station")
    assert nodes.loc["A", ["operations", "cycle_p50_min", "cycle_mean_min", "cycle_p90_min"]].tolist() == [
        2, 7.5, 7.5, 9.5]
    assert nodes.loc["B", ["cycle_p50_min", "cycle_p90_min"]].tolist() == [15.0, 19.0]
    assert np.isnan(nodes.loc["A", "wait_p50_min"])  # nothing comes before A
    assert nodes.loc["B", ["wait_p50_min", "wait_p90_min", "overlaps"]].tolist() == [10.0, 14.0, 0]
    assert nodes.loc["A", ["setup_n", "setup_p50_min", "setup_h"]].tolist() == [2, 7.5, 0.25]
    assert nodes.loc["B", "setup_n"] == 0


def test_distributions_table_holds_every_metric_per_station(tiny: pd.DataFrame) -> None:
    dist = value_stream(tiny).distributions.set_index(["station", "metric"])
    assert set(dist.index.get_level_values("metric")) == {"cycle", "waiting", "overlap", "setup", "downtime"}
    assert dist.loc[("A", "cycle"), ["n", "mean", "p10", "p25", "p50", "p75", "p90"]].tolist() == [
        2, 7.5, 5.5, 6.25, 7.5, 8.75, 9.5]
    assert dist.loc[("A", "cycle"), "cv"] == pytest.approx(np.std([10, 5], ddof=1) / 7.5)
    assert dist.loc[("B", "waiting"), "n"] == 2 and dist.loc[("A", "waiting"), "n"] == 0


def test_utilization_is_busy_union_over_the_line_span(tiny: pd.DataFrame) -> None:
    usage = utilization(tiny).set_index("station")
    assert usage.loc["A", "busy_h"] == pytest.approx(30 / 60)  # setup + production, 0–30
    assert usage.loc["B", "busy_h"] == pytest.approx(30 / 60)  # 20–40 and 45–55
    assert usage["span_h"].tolist() == pytest.approx([55 / 60] * 2)
    assert usage["utilization"].tolist() == pytest.approx([30 / 55] * 2)
    own = utilization(tiny, span="station").set_index("station")
    assert own.loc["B", "utilization"] == pytest.approx(30 / 35)


def test_overlapping_reports_count_once_in_busy_time() -> None:
    ops = ops_frame([("o1", "A", "X", "production", 0, 10), ("o1", "A", "X", "production", 5, 12),
                     ("o2", "A", "X", "production", 20, 30)])
    assert utilization(ops).loc[0, "busy_h"] == pytest.approx(22 / 60)


def test_downtime_sets_uptime_and_planned_downtime_is_not_lost_uptime(tiny: pd.DataFrame) -> None:
    down = pd.DataFrame({"station": ["B", "B"], "start": [at(40), at(0)], "end": [at(45), at(11)],
                         "reason": ["jam", "maintenance"], "planned": [False, True]})
    usage = utilization(tiny, down).set_index("station")
    assert usage.loc["B", "downtime_h"] == pytest.approx(16 / 60)
    assert usage.loc["B", "uptime"] == pytest.approx(1 - 5 / (55 - 11))
    assert usage.loc["A", "uptime"] == 1.0
    nodes = value_stream(tiny, down).nodes.set_index("station")
    assert nodes.loc["B", ["downtime_n", "downtime_h"]].tolist() == [2, pytest.approx(16 / 60)]


def test_waiting_between_nodes_reports_overlap_separately() -> None:
    ops = ops_frame([("o1", "A", "X", "production", 0, 60), ("o1", "B", "X", "production", 45, 80),
                     ("o2", "A", "X", "production", 60, 90), ("o2", "B", "X", "production", 100, 120)])
    waits = waiting_times(ops)
    assert waits["gap_min"].tolist() == [-15.0, 10.0]
    assert waits["overlap_min"].tolist()[0] == 15.0 and np.isnan(waits["overlap_min"].tolist()[1])
    nodes = value_stream(ops).nodes.set_index("station")
    assert nodes.loc["B", ["wait_p50_min", "overlaps"]].tolist() == [10.0, 1]


def test_cycle_time_per_unit_uses_the_quantity_column(tiny: pd.DataFrame) -> None:
    tiny["made"] = [0, 5, 4, 0, 0, 10]  # o2's run at A reports no quantity: no per-unit cycle there
    cycles = cycle_times(tiny, qty="made").set_index(["order_id", "station"])
    assert cycles.loc[("o1", "A"), "cycle_min"] == 2.0
    assert cycles.loc[("o1", "B"), "cycle_min"] == 5.0
    assert np.isnan(cycles.loc[("o2", "A"), "cycle_min"])
    assert cycles.loc[("o2", "A"), "minutes"] == 5.0
    nodes = value_stream(tiny, qty="made").nodes.set_index("station")
    assert nodes.loc["A", "cycle_p50_min"] == 2.0 and nodes.loc["B", "cycle_p50_min"] == 3.0


def test_flow_efficiency_is_value_adding_over_lead_time(tiny: pd.DataFrame) -> None:
    flow = flow_efficiency(tiny).set_index("key")
    assert flow.loc["o1", ["lead_min", "value_added_min", "work_min", "waiting_min"]].tolist() == [40, 30, 35, 5]
    assert flow.loc["o2", ["lead_min", "value_added_min", "work_min", "waiting_min"]].tolist() == [40, 15, 25, 15]
    assert flow["flow_efficiency"].tolist() == [0.75, 0.375]


def test_wip_is_a_time_weighted_step_series(tiny: pd.DataFrame) -> None:
    steps = wip(tiny, freq=None)
    assert steps["wip"].tolist() == [1, 2, 1, 0]
    assert steps["time"].tolist() == [at(0), at(15), at(40), at(55)]
    hourly = wip(tiny, freq="1h")
    assert hourly["wip"].tolist() == pytest.approx([(15 * 1 + 25 * 2 + 15 * 1) / 60])
    assert hourly["wip_max"].tolist() == [2]
    quarter = wip(tiny, freq="15min")
    assert quarter["wip"].tolist() == pytest.approx([1, 2, 5 / 3, 2 / 3])  # the last quarter ends at 07:00


def test_changeovers_sum_split_setup_reports_and_know_the_previous_material() -> None:
    ops = ops_frame([
        ("o1", "M1", "X", "setup", 0, 30), ("o1", "M1", "X", "production", 30, 60),
        ("o2", "M1", "Y", "setup", 60, 80), ("o2", "M1", "Y", "setup", 85, 100),
        ("o2", "M1", "Y", "production", 100, 120),
        ("o3", "M1", "X", "setup", 120, 170), ("o3", "M1", "X", "production", 170, 200),
        ("o4", "M2", "Y", "setup", 0, 10), ("o4", "M2", "Y", "production", 10, 20),
        ("o5", "M2", "X", "setup", 20, 60), ("o5", "M2", "X", "production", 60, 70),
    ])
    changes = changeovers(ops)
    shown = changes[["station", "from_material", "to_material", "setup_min", "reports"]].fillna({"from_material": "-"})
    assert shown.values.tolist() == [
        ["M1", "-", "X", 30.0, 1], ["M1", "X", "Y", 35.0, 2], ["M1", "Y", "X", 50.0, 1],
        ["M2", "-", "Y", 10.0, 1], ["M2", "Y", "X", 40.0, 1]]
    overall = changeover_matrix(ops).set_index(["from_material", "to_material"])
    assert overall.loc[("Y", "X"), ["count", "median_min", "mean_min", "total_h"]].tolist() == [2, 45.0, 45.0, 1.5]
    assert overall.loc[("X", "Y"), "median_min"] == 35.0
    assert overall.index[0] == ("Y", "X")  # costliest first
    by_station = changeover_matrix(ops, by_station=True).set_index(["station", "from_material", "to_material"])
    assert by_station.loc[("M2", "Y", "X"), "median_min"] == 40.0
    assert len(by_station) == 3


def test_takt_from_demand_and_cycle_to_takt_ratio(tiny: pd.DataFrame) -> None:
    demand = pd.DataFrame({"line": ["L1", "L1"], "material": ["X", "Y"], "qty": [30, 80],
                           "period_start": [at(0), at(0)], "period_end": [at(55), at(55)]})
    assert takt_time(demand) == pytest.approx(0.5)
    assert takt_time(demand, available=44) == pytest.approx(0.4)
    vs = value_stream(tiny, demand=demand)
    assert vs.takt_min == pytest.approx(0.5)
    assert vs.nodes["cycle_takt_ratio"].tolist() == pytest.approx([15.0, 30.0])
    assert value_stream(tiny).takt_min is None and "cycle_takt_ratio" not in value_stream(tiny).nodes


def test_stations_are_in_flow_order_whatever_the_row_order(tiny: pd.DataFrame) -> None:
    names = ["Wash", "Press", "Paint", "Pack"]
    rows = [(f"u{i}", name, "X", "production", 10 * i + 3 * j, 10 * i + 3 * j + 2)
            for i in range(5) for j, name in enumerate(names)]
    shuffled = ops_frame(rows).sample(frac=1.0, random_state=1)
    assert station_order(shuffled) == names
    assert value_stream(shuffled).stations == names


def test_without_order_or_unit_the_station_metrics_still_come(tiny: pd.DataFrame) -> None:
    vs = value_stream(tiny.drop(columns="order_id"))
    assert vs.key is None and vs.waiting.empty and vs.flow.empty
    assert vs.nodes.set_index("station").loc["A", ["cycle_p50_min", "setup_n"]].tolist() == [7.5, 2]


# -- the bottleneck by the active-period method ------------------------------------------------------------------------
def test_active_period_bottleneck_on_a_constructed_case() -> None:
    """A active 0–10, B 5–20, C 25–30 (nothing active 20–25): A sole 0–5; A and B shifting 5–10 (B's longer period
    takes over while A's still runs); B sole 10–20; C sole 25–30. Window 0–30."""
    ops = ops_frame([("o1", "A", "X", "production", 0, 10), ("o2", "B", "X", "production", 5, 20),
                     ("o3", "C", "X", "production", 25, 30)])
    neck = bottlenecks(ops).set_index("station")
    assert neck["sole_share"].tolist() == pytest.approx([5 / 30, 10 / 30, 5 / 30])
    assert neck["shifting_share"].tolist() == pytest.approx([5 / 30, 5 / 30, 0])
    assert neck["bottleneck_share"].tolist() == pytest.approx([10 / 30, 15 / 30, 5 / 30])
    assert neck["active_mean_min"].tolist() == [10.0, 15.0, 5.0]
    periods = momentary_bottleneck(ops)
    assert periods[["station", "shifting"]].values.tolist() == [["A", False], ["B", True], ["B", False],
                                                               ["C", False]]
    assert periods["start"].tolist() == [at(0), at(5), at(10), at(25)]
    assert value_stream(ops).bottleneck_station == "B"


def test_gaps_within_the_tolerance_do_not_break_an_active_period() -> None:
    ops = ops_frame([("o1", "A", "X", "production", 0, 4), ("o1", "A", "X", "production", 4.5, 10),
                     ("o2", "B", "X", "production", 5, 20)])
    strict = bottlenecks(ops).set_index("station")
    assert strict.loc["A", ["sole_h", "shifting_h"]].tolist() == pytest.approx([4.5 / 60, 5 / 60])
    tolerant = bottlenecks(ops, tolerance=1.0).set_index("station")
    assert tolerant.loc["A", ["sole_h", "shifting_h"]].tolist() == pytest.approx([5 / 60, 5 / 60])
    assert tolerant.loc["A", "active_mean_min"] == 10.0


def test_unplanned_downtime_is_active_and_planned_downtime_is_not() -> None:
    ops = ops_frame([("o1", "A", "X", "production", 0, 6), ("o2", "B", "X", "production", 5, 12)])
    repair = pd.DataFrame({"station": ["A"], "start": [at(6)], "end": [at(10)], "planned": [False]})
    neck = bottlenecks(ops, repair).set_index("station")
    assert neck.loc["A", "active_mean_min"] == 10.0  # producing 0–6 and being repaired 6–10: one active period
    assert neck.loc["A", "bottleneck_share"] == pytest.approx(10 / 12)
    planned = bottlenecks(ops, repair.assign(planned=True)).set_index("station")
    assert planned.loc["A", "active_mean_min"] == 6.0
    assert planned.loc["B", "bottleneck_share"] == pytest.approx(7 / 12)


# -- contract errors ---------------------------------------------------------------------------------------------------
def test_missing_column_is_a_schema_error_naming_it(tiny: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match="'end'"):
        value_stream(tiny.drop(columns="end"))


def test_operation_ending_before_it_starts_is_refused(tiny: pd.DataFrame) -> None:
    tiny.loc[2, "end"] = at(1)
    with pytest.raises(SchemaError, match="end before they start"):
        value_stream(tiny)


def test_two_lines_at_once_are_refused(tiny: pd.DataFrame) -> None:
    tiny.loc[0, "line"] = "L2"
    with pytest.raises(SchemaError, match="one line at a time"):
        value_stream(tiny)


def test_text_timestamps_from_a_file_are_read_as_utc(tiny: pd.DataFrame, tmp_path: Path) -> None:
    from leanlearn.data.sources import read_table

    tiny.to_csv(tmp_path / "ops.csv", index=False)
    again = value_stream(read_table(tmp_path / "ops.csv"))
    assert again.nodes.equals(value_stream(tiny).nodes)
    bad = read_table(tmp_path / "ops.csv").assign(start="soon")
    with pytest.raises(SchemaError, match="'soon'"):
        value_stream(bad)


# -- the real 4TU machine-shop log -------------------------------------------------------------------------------------
def _events() -> pd.DataFrame:
    return load_production_4tu(events=True).drop_duplicates()


def _canonical_4tu() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A private adapter: production/setup rows → operations (line 4tu), breakdowns → unplanned downtime."""
    events = _events()
    events = events.assign(start=events["start"].dt.tz_localize("UTC"), end=events["end"].dt.tz_localize("UTC"),
                           line="4tu")
    operations = events[events["kind"].isin(["production", "setup"])].rename(columns={"qty_completed": "good_qty"})
    downtime = events[events["kind"] == "breakdown"].assign(reason="breakdown", planned=False)
    return operations.reset_index(drop=True), downtime[["line", "station", "start", "end", "reason", "planned",
                                                        "order_id"]].reset_index(drop=True)


@pytest.fixture(scope="module")
def real() -> ValueStream:
    operations, downtime = _canonical_4tu()
    return value_stream(operations, downtime, qty="good_qty")


def _direct_hours(kind: str) -> pd.Series:
    events = _events()
    rows = events[events["kind"] == kind]
    return ((rows["end"] - rows["start"]).dt.total_seconds() / 3600).groupby(rows["station"]).sum()


def test_4tu_setup_hours_per_machine_equal_a_direct_computation(real: ValueStream) -> None:
    direct = _direct_hours("setup")
    nodes = real.nodes.set_index("station")
    assert nodes["setup_h"].reindex(direct.index).to_numpy() == pytest.approx(direct.to_numpy())
    assert nodes["setup_h"].drop(direct.index).eq(0).all()
    assert nodes["setup_h"].sum() == pytest.approx(direct.sum())
    assert real.changeovers["reports"].sum() == (_events()["kind"] == "setup").sum()


def test_4tu_breakdown_hours_per_machine_equal_a_direct_computation(real: ValueStream) -> None:
    direct = _direct_hours("breakdown")
    per_event = real.downtime.groupby("station")["minutes"].sum() / 60
    assert per_event.reindex(direct.index).to_numpy() == pytest.approx(direct.to_numpy())
    nodes = real.nodes.set_index("station")  # union of intervals: equal, as no two breakdowns of a machine overlap
    assert nodes["downtime_h"].reindex(direct.index).to_numpy() == pytest.approx(direct.to_numpy())
    counts = _events().query("kind == 'breakdown'").groupby("station").size()
    assert nodes["downtime_n"].reindex(counts.index).tolist() == counts.tolist()


def test_4tu_cycle_medians_equal_a_direct_computation(real: ValueStream) -> None:
    events = _events()
    rows = events[(events["kind"] == "production") & (events["qty_completed"] > 0)]
    per_unit = (rows["end"] - rows["start"]).dt.total_seconds() / 60 / rows["qty_completed"]
    direct = per_unit.groupby(rows["station"]).median()
    nodes = real.nodes.set_index("station")
    assert nodes["cycle_p50_min"].reindex(direct.index).to_numpy() == pytest.approx(direct.to_numpy())
    produced = events[events["kind"] == "production"].groupby("station").size()
    assert nodes["operations"].reindex(produced.index).tolist() == produced.tolist()


def test_4tu_busy_time_is_a_union_and_shares_are_proportions(real: ValueStream) -> None:
    events = _events()
    machine = "Machine 4 - Turning & Milling"
    rows = events[(events["station"] == machine) & events["kind"].isin(["production", "setup"])].sort_values("start")
    busy, reach = pd.Timedelta(0), None
    for start, end in zip(rows["start"], rows["end"]):  # the union, the slow obvious way
        if reach is None or start > reach:
            busy += end - start
            reach = end
        elif end > reach:
            busy += end - reach
            reach = end
    nodes = real.nodes.set_index("station")
    assert nodes.loc[machine, "busy_h"] == pytest.approx(busy.total_seconds() / 3600)
    assert nodes["utilization"].between(0, 1).all() and nodes["uptime"].between(0, 1).all()
    assert real.bottleneck["sole_share"].sum() <= 1 + 1e-9
    assert real.flow["flow_efficiency"].between(0, 1).all()


def test_4tu_highlights(real: ValueStream) -> None:
    assert real.bottleneck_station == "Machine 4 - Turning & Milling"
    top = real.changeover_matrix.iloc[0]
    assert (top["from_material"], top["to_material"]) == ("Cable Head", "Cable Head")
    assert len(real.nodes) == 31 and real.key == "order_id"


def test_shipped_adapter_matches_the_private_one() -> None:
    operations, downtime = _canonical_4tu()
    shipped_ops, shipped_down = events_to_canonical(load_production_4tu(events=True), line="4tu")
    columns = ["station", "order_id", "kind", "start", "end", "good_qty"]
    assert shipped_ops[columns].reset_index(drop=True).equals(operations[columns].reset_index(drop=True))
    assert shipped_down[["station", "start", "end"]].equals(downtime[["station", "start", "end"]])


def test_fused_4tu_tables_give_the_same_value_stream() -> None:
    fusion = pytest.importorskip("leanlearn.data.fusion")
    from leanlearn.pipeline import shipped_pipeline

    tables = fusion.fuse(shipped_pipeline("production_4tu")).tables
    fused = value_stream(tables["operations"], tables["downtime"], qty="good_qty").nodes.set_index("station")
    mine = value_stream(*events_to_canonical(load_production_4tu(events=True), "4tu"), qty="good_qty")
    ours = mine.nodes.set_index("station").loc[fused.index]
    for column in ("operations", "setup_h", "downtime_h", "busy_h", "cycle_p50_min"):
        assert fused[column].to_numpy() == pytest.approx(ours[column].to_numpy(), nan_ok=True), column


# -- charts and tables -------------------------------------------------------------------------------------------------
def test_charts_are_written_as_png_and_svg(real: ValueStream, tmp_path: Path) -> None:
    plot_value_stream(real, tmp_path / "vsm.png")
    plot_changeover_matrix(real, tmp_path / "changeovers")
    plot_cycle_distribution(real, tmp_path / "cycles.svg")
    for stem in ("vsm", "changeovers", "cycles"):
        assert (tmp_path / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / f"{stem}.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    svg = (tmp_path / "vsm.svg").read_text(encoding="utf-8")
    assert "Machine 4 -" in svg and "bottleneck 28% of the time" in svg


def test_tables_are_saved_as_csv(tiny: pd.DataFrame, tmp_path: Path) -> None:
    paths = value_stream(tiny).save_tables(tmp_path / "out")
    assert {p.name for p in paths} >= {"nodes.csv", "changeover_matrix.csv", "flow.csv", "wip.csv"}
    assert pd.read_csv(tmp_path / "out" / "nodes.csv")["station"].tolist() == ["A", "B"]


# -- the command line --------------------------------------------------------------------------------------------------
runner = CliRunner()


def _app():  # imported late: the command may be added to the CLI after this module was written
    from leanlearn.cli import app

    return app


def test_vsm_demo_prints_the_table_and_writes_charts_and_tables(tmp_path: Path) -> None:
    result = runner.invoke(_app(), ["vsm", "--demo", "--out", str(tmp_path / "vsm")])
    assert result.exit_code == 0, result.output
    assert "Machine 4 - Turning & Milling" in result.stdout
    assert "bottleneck: Machine 4 - Turning & Milling" in result.stdout
    assert "costliest changeover: Cable Head → Cable Head" in result.stdout
    written = {p.name for p in (tmp_path / "vsm").iterdir()}
    for stem in ("value_stream", "changeovers", "cycle_times", "wip"):
        assert {f"{stem}.png", f"{stem}.svg"} <= written
    assert {"nodes.csv", "changeover_matrix.csv", "bottleneck.csv"} <= written


def test_vsm_json_prints_only_the_per_station_table(tiny: pd.DataFrame, tmp_path: Path) -> None:
    tiny.to_csv(tmp_path / "ops.csv", index=False)
    result = runner.invoke(_app(), ["vsm", str(tmp_path / "ops.csv"), "--json", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [row["station"] for row in doc] == ["A", "B"]
    assert doc[1]["wait_p50_min"] == 10.0 and doc[0]["setup_n"] == 2
    assert (tmp_path / "o" / "value_stream.png").exists()


def test_vsm_reads_a_folder_written_by_fuse(tiny: pd.DataFrame, tmp_path: Path) -> None:
    folder = tmp_path / "fused"
    folder.mkdir()
    tiny.to_parquet(folder / "operations.parquet")
    result = runner.invoke(_app(), ["vsm", str(folder), "--json", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 2


@pytest.mark.parametrize("case", ["missing file", "missing column", "demo and file", "empty folder"])
def test_vsm_user_mistakes_are_one_error_line(case: str, tiny: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "ops.csv"
    if case == "missing column":
        tiny.drop(columns="start").to_csv(path, index=False)
    elif case == "demo and file":
        tiny.to_csv(path, index=False)
    elif case == "empty folder":
        path = tmp_path / "empty"
        path.mkdir()
    args = ["vsm", str(path), "--out", str(tmp_path / "o")] + (["--demo"] if case == "demo and file" else [])
    result = runner.invoke(_app(), args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    expected = {"missing file": "no such file", "missing column": "'start'", "demo and file": "not both",
                "empty folder": "operations.parquet"}[case]
    assert expected in lines[0]


def test_vsm_help_teaches_with_an_example() -> None:
    result = runner.invoke(_app(), ["vsm", "--help"])
    assert result.exit_code == 0
    assert "Examples" in result.stdout and "leanlearn vsm --demo" in result.stdout
