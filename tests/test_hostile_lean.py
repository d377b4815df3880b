"""Hostile inputs to the lean analytics (value stream, shift detection): each ends in one SchemaError that names
the mistake, never a raw pandas / numpy exception or an allocation the size of the machine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leanlearn.data.synthetic import SyntheticLineError, make_line
from leanlearn.errors import LeanlearnError, SchemaError
from leanlearn.lean.plots import plot_value_stream
from leanlearn.lean.tables import production_table, setup_table
from leanlearn.lean.valuestream import (
    bottlenecks,
    describe,
    momentary_bottleneck,
    takt_time,
    utilization,
    value_stream,
    wip,
)
from leanlearn.lean.waste import detect_shifts

T0 = pd.Timestamp("2024-03-01 08:00", tz="UTC")


def at(minutes: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minutes)


@pytest.fixture
def ops() -> pd.DataFrame:
    """Two stations, three units: S1 takes 4 minutes, S2 6 minutes, 2 minutes of waiting in between."""
    rows = []
    for i in range(3):
        rows.append({"station": "S1", "unit_id": f"u{i}", "start": at(10 * i), "end": at(10 * i + 4)})
        rows.append({"station": "S2", "unit_id": f"u{i}", "start": at(10 * i + 6), "end": at(10 * i + 12)})
    return pd.DataFrame(rows)


# -- stations= ------------------------------------------------------------------------------------------------------
def test_station_listed_twice_in_value_stream_is_refused_with_its_name(ops):
    with pytest.raises(SchemaError, match="stations= lists 'S1' more than once"):
        value_stream(ops, stations=["S1", "S1", "S2"])


def test_station_listed_twice_in_utilization_is_refused(ops):
    with pytest.raises(SchemaError, match="'S2' more than once"):
        utilization(ops, stations=["S1", "S2", "S2"])


def test_stations_given_as_one_text_is_refused_not_split_into_letters(ops):
    with pytest.raises(SchemaError, match="list of station names"):
        bottlenecks(ops, stations="S1")


def test_station_listed_twice_in_detect_shifts_is_refused(ops):
    with pytest.raises(SchemaError, match="more than once"):
        detect_shifts(ops, stations=["S1", "S1"])


# -- tables ---------------------------------------------------------------------------------------------------------
def test_empty_operations_give_an_empty_value_stream(ops):
    vs = value_stream(ops.iloc[:0])
    assert (len(vs.nodes), vs.bottleneck_station) == (0, None)


def test_empty_value_stream_still_draws_its_map(ops):
    figure = plot_value_stream(value_stream(ops.iloc[:0]))
    assert figure.axes


def test_column_given_twice_is_refused_with_its_name(ops):
    doubled = pd.concat([ops, ops[["station"]]], axis=1)
    with pytest.raises(SchemaError, match="column\\(s\\) 'station' more than once"):
        value_stream(doubled)


def test_describe_names_the_column_the_table_lacks(ops):
    with pytest.raises(SchemaError, match="'minutes'"):
        describe(ops, "minutes")


# -- WIP frequency --------------------------------------------------------------------------------------------------
def test_unknown_wip_frequency_is_refused_with_an_example(ops):
    with pytest.raises(SchemaError, match="'banana' is not a fixed time frequency; write one like '15min'"):
        wip(ops, freq="banana")


def test_calendar_month_wip_frequency_is_refused_as_not_fixed(ops):
    with pytest.raises(SchemaError, match="not a fixed time frequency"):
        wip(ops, freq="MS")


def test_wip_frequency_checked_even_when_no_unit_is_followed(ops):
    with pytest.raises(SchemaError, match="not a fixed time frequency"):
        wip(ops.iloc[:0], freq="banana")


def test_nanosecond_wip_frequency_is_refused_before_allocating_the_series(ops):
    # 32 minutes at 1 ns are 1.9e12 periods: 14 TiB before the guard
    with pytest.raises(SchemaError, match="more than 5,000,000"):
        wip(ops, freq="1ns")


def test_one_end_a_thousand_years_ahead_is_refused_for_hourly_wip(ops):
    wild = ops.copy()
    wild.loc[5, "end"] = pd.Timestamp("3024-03-01", tz="UTC")
    with pytest.raises(SchemaError, match="check the operations for a start or end far from the others"):
        value_stream(wild)


def test_exact_wip_step_series_needs_no_frequency_guard(ops):
    assert wip(ops, freq=None)["wip"].max() == 2


# -- numeric settings -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tolerance", [-10.0, float("nan"), float("inf"), "5"])
def test_bottleneck_tolerance_outside_zero_or_more_minutes_is_refused(ops, tolerance):
    with pytest.raises(SchemaError, match="tolerance must be a number of minutes, 0 or more"):
        bottlenecks(ops, tolerance=tolerance)


def test_momentary_bottleneck_checks_its_tolerance_too(ops):
    with pytest.raises(SchemaError, match="tolerance"):
        momentary_bottleneck(ops, tolerance=-1)


@pytest.mark.parametrize("available", [-5.0, 0, float("nan"), "480"])
def test_takt_with_available_time_not_positive_is_refused(available):
    demand = pd.DataFrame({"qty": [5], "period_start": [T0], "period_end": [at(60)]})
    with pytest.raises(SchemaError, match="available time must be a positive number of minutes"):
        takt_time(demand, available=available)


def test_takt_accepts_numpy_minutes():
    demand = pd.DataFrame({"qty": [60], "period_start": [T0], "period_end": [at(60)]})
    assert takt_time(demand, available=np.float64(30.0)) == 0.5


@pytest.mark.parametrize("window", ["10", 10.5, True])
def test_shift_window_that_is_not_a_whole_number_is_refused(ops, window):
    with pytest.raises(SchemaError, match="window must be a whole number of observations"):
        detect_shifts(ops, window=window)


@pytest.mark.parametrize(("setting", "value"), [("threshold", 0.0), ("threshold", float("nan")),
                                                ("allowance", -1.0), ("allowance", "1")])
def test_cusum_settings_out_of_range_are_refused_with_their_name(ops, setting, value):
    with pytest.raises(SchemaError, match=f"^{setting} must be a number"):
        detect_shifts(ops, **{setting: value})


@pytest.mark.parametrize("takt", ["5min", -2.0, pd.Timedelta(0)])
def test_shift_takt_that_is_not_a_positive_duration_is_refused(ops, takt):
    with pytest.raises(SchemaError, match="takt must be a positive number of minutes or a pandas Timedelta"):
        detect_shifts(ops, takt=takt)


def test_shift_takt_as_timedelta_is_accepted(ops):
    assert detect_shifts(ops, window=3, takt=pd.Timedelta(minutes=10)).empty


# -- analysis tables from an events table -----------------------------------------------------------------------------
@pytest.fixture
def events() -> pd.DataFrame:
    return pd.DataFrame({
        "order_id": ["o1", "o1", "o2", "o2"], "station": ["M1"] * 4, "material": ["A", "A", "B", "B"],
        "worker": ["w1"] * 4, "kind": ["setup", "production", "setup", "production"],
        "start": pd.to_datetime(["2012-01-02 06:00", "2012-01-02 07:00", "2012-01-02 09:00", "2012-01-02 11:30"]),
        "end": pd.to_datetime(["2012-01-02 07:00", "2012-01-02 09:00", "2012-01-02 11:30", "2012-01-02 12:00"]),
        "qty_completed": [0, 10, 0, 5], "qty_rejected": [0, 1, 0, 0]})


def test_event_times_written_as_iso_text_are_read_as_times(events):
    as_text = events.assign(start=events["start"].astype(str), end=events["end"].astype(str))
    assert setup_table(as_text)["setup_min"].tolist() == setup_table(events)["setup_min"].tolist()


def test_event_time_that_is_not_a_time_is_refused_with_row_and_value(events):
    ends = events["end"].astype(str).tolist()
    ends[2] = "soon"
    with pytest.raises(SchemaError, match="column 'end' has text that is not a time in row 2 .*'soon'"):
        production_table(events.assign(end=ends))


def test_events_with_zone_on_start_only_are_refused(events):
    with pytest.raises(SchemaError, match="'start' times carry a time zone and the others do not"):
        setup_table(events.assign(start=events["start"].dt.tz_localize("UTC")))


def test_rejected_quantity_with_text_is_refused_with_column_row_and_value(events):
    with pytest.raises(SchemaError, match="column 'qty_rejected' has text in row 2 .*'n/a'"):
        production_table(events.assign(qty_rejected=[0, 1, "n/a", 0]))


def test_events_column_given_twice_is_refused(events):
    with pytest.raises(SchemaError, match="'worker' more than once"):
        production_table(pd.concat([events, events[["worker"]]], axis=1))


# -- the synthetic plant --------------------------------------------------------------------------------------------
def test_synthetic_month_at_one_hertz_is_refused_before_simulating():
    with pytest.raises(SyntheticLineError, match="41,472,000 signal rows, more than 10,000,000 .*lower signal_hz"):
        make_line(days=30)


@pytest.mark.parametrize("setting", [{"days": "1"}, {"days": float("nan")}, {"signal_hz": float("inf")},
                                     {"takt_s": True}])
def test_synthetic_setting_that_is_not_a_positive_number_is_refused(setting):
    with pytest.raises(SyntheticLineError, match="must be (a )?positive number"):
        make_line(**setting)


def test_synthetic_setting_errors_are_leanlearn_errors_and_still_value_errors():
    with pytest.raises(LeanlearnError) as caught:
        make_line(humidty=80)
    assert isinstance(caught.value, ValueError)
