"""Charts of a :class:`~leanlearn.lean.valuestream.ValueStream` for process engineers: the value-stream map, the
changeover matrix and the cycle-time distributions.

Each function returns a matplotlib ``Figure`` drawn on the Agg canvas (no window, no global pyplot state) and, given
``path``, writes it as PNG and SVG beside each other (``path`` with its suffix replaced). matplotlib is imported
only when a chart is drawn.

Examples
--------
>>> import pandas as pd
>>> from leanlearn.lean.valuestream import value_stream
>>> t = lambda m: pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(minutes=m)
>>> ops = pd.DataFrame({"unit_id": ["u1", "u1", "u2", "u2"], "station": ["S1", "S2"] * 2,
...                     "start": [t(0), t(6), t(10), t(16)], "end": [t(4), t(12), t(14), t(22)]})
>>> folder = getfixture("tmp_path")
>>> figure = plot_value_stream(value_stream(ops), folder / "vsm.png")
>>> sorted(p.name for p in folder.iterdir())
['vsm.png', 'vsm.svg']
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from leanlearn.lean.valuestream import ValueStream

INK = "#1f2a36"
MUTED = "#6b7785"
BOX = "#eef3f8"
HEAD = "#d3e0ee"
WAIT = "#f4b860"
VALUE = "#3c8d5a"
ALERT = "#c0392b"


def duration_text(minutes: float | None) -> str:
    """A duration in the unit a person reads best: ``42 s``, ``7.5 min``, ``3.2 h``, ``4.1 d``; ``–`` if unknown.

    >>> [duration_text(m) for m in (0.7, 7.5, 190, 6000, float("nan"))]
    ['42 s', '7.5 min', '3.2 h', '4.2 d', '–']
    """
    if minutes is None or not np.isfinite(minutes):
        return "–"
    if minutes < 2:
        return f"{minutes * 60:.0f} s"
    if minutes < 120:
        return f"{minutes:.3g} min" if minutes < 10 else f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.2g} h" if minutes < 600 else f"{minutes / 60:.0f} h"
    return f"{minutes / 1440:.2g} d" if minutes < 14400 else f"{minutes / 1440:.0f} d"


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, path: str | Path) -> list[Path]:
    """Write ``figure`` as ``<path>.png`` (150 dpi) and ``<path>.svg`` (text kept as text); return both paths."""
    from matplotlib import rc_context

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    stem = target.with_suffix("") if target.suffix.lower() in (".png", ".svg") else target
    paths = [stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")]
    figure.savefig(paths[0], dpi=150, bbox_inches="tight", facecolor="white")
    with rc_context({"svg.fonttype": "none"}):
        figure.savefig(paths[1], bbox_inches="tight", facecolor="white")
    return paths


def _shown(vs: ValueStream, stations: list[str] | None, max_stations: int) -> list[str]:
    if stations is not None:
        return [s for s in vs.stations if s in set(stations)]
    nodes = vs.nodes
    if len(nodes) <= max_stations:
        return nodes["station"].tolist()
    busiest = set(nodes.sort_values(["busy_h", "operations"], ascending=False)["station"].head(max_stations))
    return [s for s in nodes["station"] if s in busiest]


def _percent(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{value:.0%}" if value < 0.995 or value == 1 else f"{value:.1%}"


def plot_value_stream(vs: ValueStream, path: str | Path | None = None, *, stations: list[str] | None = None,
                      max_stations: int = 8, title: str | None = None) -> Figure:
    """The value-stream map: stations left to right with their numbers, waiting between them, the timeline below.

    Each station box shows the cycle time (p50 and p90, per unit when the stream was measured with a quantity),
    its CV, the median setup per changeover with the count, utilization and uptime, and how often it is the
    bottleneck; the station that is the bottleneck most often is drawn in red. The triangles between stations
    carry the median waiting of orders arriving at the next station (and how often the arrival overlapped the
    previous station instead). The ladder at the bottom adds up the medians — waiting up, value-adding cycle time
    down — and the totals at the right set them beside the lead time and flow efficiency measured per order.

    Parameters
    ----------
    vs : ValueStream
    path : str or Path, optional
        Write PNG and SVG here (suffix replaced).
    stations : list of str, optional
        The stations to draw (kept in flow order). Default: all, or the ``max_stations`` busiest.
    max_stations : int, default=8
    title : str, optional
    """
    names = _shown(vs, stations, max_stations)
    nodes = vs.nodes.set_index("station").loc[names]
    row_of = dict(nodes.iterrows())  # station → its row of numbers
    k = len(names)
    pitch, box_w = 3.5, 2.3
    gap = pitch - box_w
    width_units = 1.5 + k * pitch + 3.3
    figure = _figure(max(10.0, 0.6 * width_units), 6.6)
    ax = figure.add_axes((0.01, 0.01, 0.98, 0.85))
    ax.set_xlim(0, width_units)
    ax.set_ylim(0.3, 8.8)
    ax.axis("off")

    neck = vs.bottleneck_station
    lines = list(vs.cycles["line"].dropna().unique()) if "line" in vs.cycles.columns else []
    heading = title or "Value stream" + (f" — line {lines[0]}" if len(lines) == 1 else "")
    figure.text(0.012, 0.975, heading, fontsize=15, weight="bold", color=INK, va="top")
    span = ""
    if len(vs.flow):
        first, last = vs.flow["start"].min(), vs.flow["end"].max()
        same_day = first.normalize() == last.normalize()
        span = f" · {first:%d %b %Y %H:%M}–{last:%H:%M}" if same_day else f" · {first:%d %b %Y} – {last:%d %b %Y}"
    unit = "per unit" if vs.qty else "per operation"
    sub = (f"{len(vs.flow):,} {'orders' if vs.key == 'order_id' else 'units'} · {len(vs.cycles):,} production "
           f"operations{span} · cycle times {unit} · p50 = median, p90 = 90th percentile, all from timestamps")
    if vs.takt_min is not None:
        sub += f" · takt {duration_text(vs.takt_min)}"
    figure.text(0.012, 0.925, sub, fontsize=9, color=MUTED, va="top")
    order = "stations in flow order (their typical position in the routings)"
    if k < len(vs.nodes):
        order += f"; the {k} busiest of {len(vs.nodes)} stations"
    figure.text(0.012, 0.89, order, fontsize=9, color=MUTED, va="top")

    x_of = {name: 1.5 + i * pitch for i, name in enumerate(names)}
    for name in names:
        row = row_of[name]
        x = x_of[name]
        is_neck = name == neck
        edge, lw = (ALERT, 2.2) if is_neck else (INK, 1.0)
        ax.add_patch(_box(x, 7.35, box_w, 1.2, HEAD, edge, lw))
        label = "\n".join(textwrap.wrap(name, 17)[:3])
        ax.text(x + box_w / 2, 7.95, label, ha="center", va="center", fontsize=9, weight="bold", color=INK)
        ax.add_patch(_box(x, 3.95, box_w, 3.4, BOX, edge, lw))
        over_takt = vs.takt_min is not None and np.isfinite(row["cycle_mean_min"]) and \
            row["cycle_mean_min"] > vs.takt_min
        facts = [
            ("cycle p50", duration_text(row["cycle_p50_min"]), ALERT if over_takt else INK),
            ("cycle p90", duration_text(row["cycle_p90_min"]), INK),
            ("cycle CV", "–" if not np.isfinite(row["cycle_cv"]) else f"{row['cycle_cv']:.2f}", INK),
            ("setup p50", duration_text(row["setup_p50_min"]), INK),
            ("setups", f"{int(row['setup_n']):,}", INK),
            ("utilization", _percent(row["utilization"]), INK),
            ("uptime", _percent(row["uptime"]), ALERT if row["uptime"] < 0.95 else INK),
            ("operations", f"{int(row['operations']):,}", INK),
        ]
        for i, (what, value, color) in enumerate(facts):
            y = 7.08 - i * 0.4
            ax.text(x + 0.12, y, what, ha="left", va="center", fontsize=8, color=MUTED)
            ax.text(x + box_w - 0.12, y, value, ha="right", va="center", fontsize=8.5, color=color, weight="bold")
        share = row["bottleneck_share"]
        if np.isfinite(share) and share > 0:
            ax.text(x + box_w / 2, 3.7, f"bottleneck {share:.0%} of the time", ha="center", va="center",
                    fontsize=8, color=ALERT if is_neck else MUTED, weight="bold" if is_neck else "normal")

    # waiting triangles and flow arrows
    for i, name in enumerate(names):
        x = x_of[name]
        row = row_of[name]
        cx = x - gap / 2
        if i > 0:
            ax.annotate("", xy=(x, 7.95), xytext=(x - gap, 7.95),
                        arrowprops={"arrowstyle": "-|>", "color": MUTED, "lw": 1.2})
        if not np.isfinite(row["wait_p50_min"]):
            continue
        ax.add_patch(_triangle(cx, 6.2, 0.55, WAIT))
        ax.text(cx, 6.08, "I", ha="center", va="center", fontsize=8, weight="bold", color=INK)
        ax.text(cx, 5.65, "wait p50", ha="center", va="top", fontsize=7.5, color=MUTED)
        ax.text(cx, 5.3, duration_text(row["wait_p50_min"]), ha="center", va="top", fontsize=9, weight="bold",
                color=INK)
        ax.text(cx, 4.85, "p90 " + duration_text(row["wait_p90_min"]), ha="center", va="top", fontsize=7.5,
                color=MUTED)
        if row["overlaps"] > 0:
            ax.text(cx, 4.45, f"{int(row['overlaps'])} overlaps", ha="center", va="top", fontsize=7, color=MUTED)

    # the timeline ladder: waiting up, value-adding down
    high, low = 2.5, 1.45
    wait_total = value_total = 0.0
    left = 0.3
    for name in names:
        row = row_of[name]
        x = x_of[name]
        wait, value = row["wait_p50_min"], row["cycle_p50_min"]
        known = np.isfinite(wait)
        ax.plot([left, x], [high, high], color=WAIT if known else HEAD, lw=3.5 if known else 1.5,
                solid_capstyle="butt")
        ax.plot([x, x], [high, low], color=MUTED, lw=0.8)
        ax.plot([x, x + box_w], [low, low], color=VALUE, lw=3.5, solid_capstyle="butt")
        ax.plot([x + box_w, x + box_w], [low, high], color=MUTED, lw=0.8)
        if np.isfinite(wait):
            ax.text((left + x) / 2, high + 0.15, duration_text(wait), ha="center", va="bottom", fontsize=9,
                    color=INK, weight="bold")
            wait_total += wait
        if np.isfinite(value):
            ax.text(x + box_w / 2, low - 0.15, duration_text(value), ha="center", va="top", fontsize=9,
                    color=VALUE, weight="bold")
            value_total += value
        left = x + box_w
    ax.text(0.3, 3.2, "timeline of medians:", fontsize=8, color=MUTED, ha="left", va="center")
    ax.text(2.7, 3.2, "waiting (up)", fontsize=8, color="#b7791f", ha="left", va="center", weight="bold")
    ax.text(4.3, 3.2, "value-adding cycle (down)", fontsize=8, color=VALUE, ha="left", va="center", weight="bold")

    # totals
    tx = x_of[names[-1]] + box_w + 0.4 if names else 1.0
    ax.add_patch(_box(tx, 0.55, 2.8, 2.75, "white", INK, 1.0))
    flow = vs.flow
    measured_lead = flow["lead_min"].median() if len(flow) else np.nan
    measured_eff = flow["flow_efficiency"].median() if len(flow) else np.nan
    ladder_eff = value_total / (value_total + wait_total) if value_total + wait_total > 0 else np.nan
    who = "order" if vs.key == "order_id" else "unit"
    summary = [
        ("timeline sums", "", INK),
        ("waiting", duration_text(wait_total), "#b7791f"),
        ("value-adding", duration_text(value_total), VALUE),
        ("value-adding share", _percent(ladder_eff), INK),
        (f"per {who}, measured (p50)", "", INK),
        ("lead time", duration_text(measured_lead), INK),
        ("flow efficiency", _percent(measured_eff), INK),
    ]
    for i, (what, value, color) in enumerate(summary):
        y = 3.05 - i * 0.34 - (0.12 if i >= 4 else 0.0)
        heading_row = value == ""
        ax.text(tx + 0.12, y, what, fontsize=8.5 if heading_row else 8, color=INK if heading_row else MUTED,
                weight="bold" if heading_row else "normal", va="center")
        ax.text(tx + 2.68, y, value, fontsize=9, color=color, weight="bold", va="center", ha="right")
    if path is not None:
        save_figure(figure, path)
    return figure


def _box(x: float, y: float, w: float, h: float, face: str, edge: str, lw: float) -> Any:
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", facecolor=face,
                          edgecolor=edge, linewidth=lw)


def _triangle(cx: float, cy: float, size: float, face: str) -> Any:
    from matplotlib.patches import Polygon

    return Polygon([(cx - size / 2, cy - size * 0.35), (cx + size / 2, cy - size * 0.35), (cx, cy + size * 0.55)],
                   closed=True, facecolor=face, edgecolor=INK, linewidth=0.8)


def plot_changeover_matrix(vs: ValueStream | pd.DataFrame, path: str | Path | None = None, *,
                           station: str | None = None, top: int = 12, min_count: int = 1) -> Figure:
    """Heatmap of the median setup time per material change (rows: from, columns: to), with the counts.

    Parameters
    ----------
    vs : ValueStream or DataFrame
        A value stream, or a long matrix from :func:`~leanlearn.lean.valuestream.changeover_matrix`.
    path : str or Path, optional
        Write PNG and SVG here.
    station : str, optional
        Only the changeovers of this station (default: the whole line).
    top : int, default=12
        Show the materials involved in the most changeovers.
    min_count : int, default=1
        Leave out changes seen fewer times (a single observation is a weak median).
    """
    from leanlearn.lean.valuestream import changeover_matrix

    if isinstance(vs, pd.DataFrame):
        matrix = vs
        if station is not None:
            matrix = matrix[matrix["station"] == station]
    else:
        changes = vs.changeovers if station is None else vs.changeovers[vs.changeovers["station"] == station]
        matrix = changeover_matrix(changes=changes)
    matrix = matrix[matrix["count"] >= min_count]
    if matrix.empty:
        figure = _figure(6.0, 2.0)
        figure.text(0.5, 0.5, "no changeovers with a known previous material", ha="center", va="center",
                    fontsize=11, color=MUTED)
        if path is not None:
            save_figure(figure, path)
        return figure
    involvement = pd.concat([matrix.groupby("from_material")["count"].sum(),
                             matrix.groupby("to_material")["count"].sum()]).groupby(level=0).sum()
    materials = sorted(involvement.sort_values(ascending=False).head(top).index.map(str))
    shown = matrix[matrix["from_material"].astype(str).isin(materials) & matrix["to_material"].astype(str).isin(
        materials)]
    grid = shown.pivot_table(index="from_material", columns="to_material", values="median_min", aggfunc="first")
    counts = shown.pivot_table(index="from_material", columns="to_material", values="count", aggfunc="first")
    grid = grid.reindex(index=materials, columns=materials)
    counts = counts.reindex(index=materials, columns=materials)
    n = max(len(materials), 1)
    figure = _figure(max(6.0, 0.62 * n + 3.2), max(4.5, 0.5 * n + 2.2))
    ax = figure.add_subplot(1, 1, 1)
    minutes, seen = grid.to_numpy(dtype=float), counts.to_numpy(dtype=float)
    values = np.ma.masked_invalid(minutes / 60.0)
    weak = seen < 3
    image = ax.imshow(values, cmap="YlOrRd", aspect="auto", alpha=np.where(weak, 0.45, 1.0))
    colorbar = figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    colorbar.set_label("median setup (hours)", color=INK)
    high = np.nanmax(values.filled(np.nan)) if values.count() else 1.0
    for i in range(len(materials)):
        for j in range(len(materials)):
            if np.ma.is_masked(values[i, j]):
                continue
            ax.text(j, i, f"{duration_text(minutes[i, j])}\n{int(seen[i, j])}×", ha="center", va="center",
                    fontsize=7, color="white" if values[i, j] > 0.6 * high and not weak[i, j] else INK,
                    style="italic" if weak[i, j] else "normal")
    ax.set_xticks(range(len(materials)), [textwrap.shorten(m, 18) for m in materials], rotation=40, ha="right",
                  fontsize=8)
    ax.set_yticks(range(len(materials)), [textwrap.shorten(m, 18) for m in materials], fontsize=8)
    ax.set_xlabel("to material", color=INK)
    ax.set_ylabel("from material", color=INK)
    where = f" at {station}" if station else ""
    ax.set_title(f"Changeover matrix{where}: median setup per change and how often it happened\n"
                 "(pale, italic: seen fewer than 3 times — weak evidence)", fontsize=10.5, color=INK, loc="left")
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_cycle_distribution(vs: ValueStream, path: str | Path | None = None, *, stations: list[str] | None = None,
                            max_stations: int = 12, log: bool | None = None) -> Figure:
    """Cycle-time distribution per station (flow order, top to bottom): box p25–p75 with the median, whiskers
    p10–p90, a dot for the mean. The x axis is logarithmic when the stations differ by more than 20× (``log``)."""
    names = _shown(vs, stations, max_stations)
    data = [vs.cycles.loc[vs.cycles["station"] == name, "cycle_min"].dropna().to_numpy() for name in names]
    keep = [i for i, d in enumerate(data) if len(d)]
    names, data = [names[i] for i in keep], [data[i] for i in keep]
    figure = _figure(10.0, max(3.0, 0.45 * len(names) + 1.6))
    ax = figure.add_subplot(1, 1, 1)
    if data:
        positions = np.arange(len(data))[::-1]
        ax.boxplot(data, positions=positions, orientation="horizontal", whis=(10, 90), showfliers=False,
                   widths=0.6, patch_artist=True, boxprops={"facecolor": BOX, "edgecolor": INK},
                   medianprops={"color": ALERT, "lw": 2}, whiskerprops={"color": INK},
                   capprops={"color": INK})
        ax.scatter([d.mean() for d in data], positions, marker="o", s=14, color=INK, zorder=3, label="mean")
        ax.set_yticks(positions, [f"{textwrap.shorten(n, 32)} (n={len(d):,})" for n, d in zip(names, data)],
                      fontsize=8.5)
        medians = [np.median(d) for d in data if np.median(d) > 0]
        if log is None:
            log = bool(medians) and max(medians) / min(medians) > 20
        if log:
            ax.set_xscale("log")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    unit = "minutes per unit" if vs.qty else "minutes"
    ax.set_xlabel(f"cycle time ({unit})", color=INK)
    ax.set_title("Cycle time per station — box p25–p75, red line p50, whiskers p10–p90", fontsize=11, color=INK,
                 loc="left")
    ax.grid(axis="x", color="#dde3ea", lw=0.6)
    ax.set_axisbelow(True)
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_wip(vs: ValueStream, path: str | Path | None = None) -> Figure:
    """WIP over time (time-weighted mean per period and the peak)."""
    figure = _figure(10.0, 3.2)
    ax = figure.add_subplot(1, 1, 1)
    series = vs.wip
    if len(series):
        ax.fill_between(series["time"], series["wip"], step="post", color=HEAD, label="mean")
        ax.step(series["time"], series["wip_max"], where="post", color=INK, lw=0.8, label="peak")
        ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.set_ylabel(f"{'orders' if vs.key == 'order_id' else 'units'} in process", color=INK)
    ax.set_title("Work in process", fontsize=11, color=INK, loc="left")
    ax.grid(axis="y", color="#dde3ea", lw=0.6)
    figure.autofmt_xdate()
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure
