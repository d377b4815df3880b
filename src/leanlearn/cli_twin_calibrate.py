"""``leanlearn twin calibrate`` and ``leanlearn twin check``: a twin built from a real log, and how well it fits.

Thin: fuse the pipeline, call :func:`leanlearn.twin.calibrate.calibrate` / :func:`leanlearn.twin.check.check_twin`,
print. :func:`register` adds both commands to the ``twin`` Typer group. ``check`` exits 0 when every criterion
passed, 1 when one failed, 2 on a user error (one ``error:`` line).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from leanlearn._util import help_text

if TYPE_CHECKING:
    from rich.console import Console

    from leanlearn.twin.check import TwinCheck

__all__ = ["register"]


def _minutes(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _error(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value * 100:.1f} %"


def _print_check(console: Console, result: TwinCheck) -> None:
    from rich.table import Table
    from rich.text import Text

    from leanlearn.cli import _printable, _say

    table = Table(title="per station: observed / simulated (minutes; median p50, p90; error of the median)",
                  title_justify="left", show_edge=False, header_style="bold")
    for name, justify in (("station", "left"), ("visits", "right"), ("cycle p50", "right"), ("sim 95 %", "right"),
                          ("p90", "right"), ("err", "right"), ("setup p50", "right"), ("sim 95 %", "right"),
                          ("err", "right"), ("wait p50", "right"), ("util.", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in result.stations.sort_values("visits", ascending=False).to_dict("records"):
        style = "" if row["busy"] else "bright_black"
        table.add_row(
            Text(_printable(row["station"]), style=style), f"{row['visits']:,}",
            f"{_minutes(row['obs_cycle_p50_min'])} / {_minutes(row['sim_cycle_p50_min'])}",
            f"{_minutes(row['sim_cycle_p50_low_min'])}–{_minutes(row['sim_cycle_p50_high_min'])}",
            f"{_minutes(row['obs_cycle_p90_min'])} / {_minutes(row['sim_cycle_p90_min'])}",
            _error(row["cycle_p50_error"]),
            f"{_minutes(row['obs_setup_p50_min'])} / {_minutes(row['sim_setup_p50_min'])}",
            f"{_minutes(row['sim_setup_p50_low_min'])}–{_minutes(row['sim_setup_p50_high_min'])}",
            _error(row["setup_p50_error"]),
            f"{_minutes(row['obs_wait_p50_min'])} / {_minutes(row['sim_wait_p50_min'])}",
            f"{row['obs_utilization']:.2f} / {row['sim_utilization']:.2f}", style=style)
    console.print(table)
    quantiles = Table(title="order lead time (hours)", title_justify="left", show_edge=False, header_style="bold")
    for name in ("", *[f"p{round(q * 100)}" for q in result.quantiles["quantile"]]):
        quantiles.add_column(name, justify="right")
    quantiles.add_row("observed", *[f"{v:,.1f}" for v in result.quantiles["observed_h"]])
    quantiles.add_row("simulated", *[f"{v:,.1f}" for v in result.quantiles["simulated_h"]])
    console.print(quantiles)
    lead = result.lead
    _say(console, f"lead time: KS {lead['ks']:.3f} (p = {lead['ks_pvalue']:.2g}), EMD {lead['emd_h']:,.1f} h, "
                  f"{lead['n_observed']:,} observed orders, {lead['n_simulated']:,.0f} simulated per replication")
    failed = result.criteria[~result.criteria["passed"]]
    for row in failed.to_dict("records"):
        where = f" at {row['station']}" if row["station"] else ""
        _say(console, _printable(f"failed: {row['criterion']}{where}: {_error(row['error'])} > "
                                 f"{_error(row['threshold'])}" if row["criterion"] != "lead-time KS" else
                                 f"failed: lead-time KS {row['error']:.3f} > {row['threshold']:.3f}"), "red")
    passed = int(result.criteria["passed"].sum())
    _say(console, f"{'passed' if result.passed else 'failed'}: {passed} of {len(result.criteria)} criteria "
                  f"(median cycle and setup within {_error(result.settings['tolerance'])} at busy stations, "
                  f"lead-time KS ≤ {result.settings['ks_max']:g})", "green" if result.passed else "red")


def calibrate(
    pipeline_file: Annotated[Path, typer.Argument(metavar="PIPELINE.yaml", help="A fusion pipeline of the log.")],
    out: Annotated[Path, typer.Option("--out", metavar="SPEC.yaml", help="Where to write the calibrated spec.")],
    line: Annotated[str | None, typer.Option("--line", metavar="L", help="Line name in the spec.")] = None,
    time_unit: Annotated[str, typer.Option("--time-unit", metavar="U", help="s, min, h or d.")] = "h",
    release: Annotated[str, typer.Option("--release", metavar="P",
                                         help="trace (replay the observed orders) or push.")] = "trace",
    no_tune: Annotated[bool, typer.Option("--no-tune", help="Keep the observed gaps between visits as the "
                                                            "transfer time (no tuning simulations).")] = False,
    seed: Annotated[int, typer.Option("--seed", metavar="S", help="Seed of the tuning simulations.")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print only a JSON summary.")] = False,
) -> None:
    """Build a twin's line spec from a real log (a fusion pipeline).

    Fuses PIPELINE.yaml and writes SPEC.yaml: every station with its observed cycle times per visit (empirical,
    per material where there is enough data), setups, breakdowns and capacity; the observed orders replayed with
    their routings (release trace); shifts when the log shows a daily break; and the transfer time between visits,
    tuned so the twin's order lead times match the log's. Then run [bold]leanlearn twin check[/bold].

    \b
    [bold]Examples[/bold]
      leanlearn twin calibrate pipelines/production_4tu.yaml --out 4tu-twin.yaml
      leanlearn twin check 4tu-twin.yaml pipelines/production_4tu.yaml
    """
    from leanlearn.cli import _console, _say, _user_errors

    with _user_errors():
        from leanlearn.twin.calibrate import calibrate_dict, tune, write_spec

        if not pipeline_file.exists():
            raise FileNotFoundError(2, "No such file or directory", str(pipeline_file))
        calibration = calibrate_dict(pipeline_file, line=line, time_unit=time_unit, release=release)
        if not no_tune and "transfer" in calibration.spec:
            if json_out:
                calibration = tune(calibration, seed=seed)
            else:
                with _console(stderr=True).status("tuning the transfer time (a few simulations)"):
                    calibration = tune(calibration, seed=seed)
        spec = calibration.line_spec()
        write_spec(spec, out, calibration)
        seen = calibration.observed
        doc = {"spec": str(out), "line": spec.line, "stations": len(spec.stations), "orders": len(seen.orders),
               "visits": len(seen.visits), "release": spec.release.policy,
               "transfer_scale": calibration.transfer_scale, "notes": calibration.notes}
        if json_out:
            typer.echo(json.dumps(doc, indent=2))
            return
        console = _console()
        _say(console, f"wrote {out}: line {spec.line}, {len(spec.stations)} stations, {len(seen.orders):,} orders "
                      f"replayed ({spec.release.policy}), from {len(seen.visits):,} observed visits", "bold")
        for note in calibration.notes:
            _say(console, f"  {note}")
        _say(console, f"next: leanlearn twin check {out} {pipeline_file}")


def check(
    spec_file: Annotated[Path, typer.Argument(metavar="SPEC.yaml", help="The twin's line spec.")],
    pipeline_file: Annotated[Path, typer.Argument(metavar="PIPELINE.yaml", help="A fusion pipeline of the log.")],
    replications: Annotated[int, typer.Option("--replications", metavar="R",
                                              help="Simulation runs pooled (60 settle the medians).")] = 30,
    seed: Annotated[int, typer.Option("--seed", metavar="S")] = 0,
    busy: Annotated[int, typer.Option("--busy", metavar="N", help="Observed visits that make a station busy "
                                                                  "(judged).")] = 30,
    tolerance: Annotated[float, typer.Option("--tolerance", metavar="F",
                                             help="Largest relative error of a median that passes.")] = 0.10,
    ks_max: Annotated[float, typer.Option("--ks-max", metavar="F", help="Largest lead-time KS that passes.")] = 0.15,
    json_out: Annotated[bool, typer.Option("--json", help="Print only the check as JSON.")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", metavar="P.png",
                                              help="Save lead-time ECDFs and median bars here.")] = None,
) -> None:
    """Compare a twin with the log it should reproduce: per station and per order.

    Simulates SPEC.yaml over the log's span and measures its output as the log is measured: per station the median
    and p90 of cycle, setup and waiting and the utilization; per order the lead-time distribution (KS distance,
    EMD, quantiles). Passes when every busy station's median cycle and setup are within --tolerance and the
    lead-time KS is at most --ks-max. Exit code 0: passed; 1: a criterion failed.

    \b
    [bold]Examples[/bold]
      leanlearn twin check 4tu-twin.yaml pipelines/production_4tu.yaml --plot twin-check.png
      leanlearn twin check 4tu-twin.yaml pipelines/production_4tu.yaml --json > check.json
    """
    from leanlearn.cli import _console, _say, _user_errors

    with _user_errors():
        from leanlearn.twin.check import check_twin
        from leanlearn.twin.spec import load_spec

        for path in (spec_file, pipeline_file):
            if not path.exists():
                raise FileNotFoundError(2, "No such file or directory", str(path))
        spec = load_spec(spec_file)
        result = check_twin(spec, pipeline_file, replications=replications, seed=seed, busy_min_visits=busy,
                            tolerance=tolerance, ks_max=ks_max)
        if plot is not None:
            result.plot(plot)
        if json_out:
            typer.echo(json.dumps(result.to_json(), indent=2))
        else:
            console = _console()
            _print_check(console, result)
            if plot is not None:
                _say(console, f"plot: {plot}")
    if not result.passed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``calibrate`` and ``check`` to the ``twin`` group ``app``."""

    for func in (calibrate, check):
        text = help_text(func.__doc__)
        app.command(name=func.__name__, help=text)(func)
