"""False rules on the real 4TU machine-shop log: the packs' targets with their labels shuffled, and what the real
labels give beside them.

The 4TU log (225 orders, 2012; ``leanlearn.data.datasets.load_production_4tu``) gives two tables the example packs
are mined from (``models/export_4tu.py``): one row per setup (``lean.tables.setup_table``, 705 rows) and one row
per production report (``lean.tables.production_table``). For each target below, ``--runs`` runs (seeds
0..N-1) shuffle the target's values over the rows (``numpy.random.default_rng(seed).permutation``), which keeps
its distribution and breaks every link to the features, and mine with the packs' settings (``mine_pack``, miner
defaults except ``max_levels=200``). A rule on a shuffled target is a false rule: the table counts the runs with
any. At ``alpha = 0.05`` family-wise, a run may report a false rule with probability at most 5 %: so 20 runs
of a procedure at exactly that rate would all be clean only 36 % of the time. With more runs (``--runs 200``) the
table also gives the measured rate with its exact (Clopper–Pearson) 95 % interval, and how many of the disjoint
windows of 20 consecutive seeds (0–19, 20–39, ...) had no false rule.

Targets:

- ``setup_min`` (numeric, higher is worse) — the setups pack;
- ``long_setup`` (binary: setup above the 75th percentile of setup minutes) — the same question as a flag;
- ``rejected`` (binary) and ``qty_rejected`` (numeric) — the rejects pack (``qty_completed`` and ``reject_rate``
  ignored, as in the pack: they are outcomes of the report).

Usage: python benchmarks/random_labels_4tu.py [--runs N] [--targets setup_min,rejected,...] [--json PATH]
Prints a table and writes JSON (default benchmarks/results/random_labels_4tu.json).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from provenance import run_meta, source_state, write_results

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
TARGETS = ("setup_min", "long_setup", "rejected", "qty_rejected")


def tables() -> dict[str, tuple[pd.DataFrame, dict[str, Any]]]:
    """Each target's table and the ``mine_pack`` keywords of its pack."""
    from leanlearn.data.datasets import load_production_4tu
    from leanlearn.lean.tables import production_table, setup_table

    events = load_production_4tu(events=True)
    setups = setup_table(events)
    setups_flag = setups.assign(long_setup=setups["setup_min"] > setups["setup_min"].quantile(0.75))
    production = production_table(events)
    setup_kw = {"ignore": ["order_id"], "waste": "setup"}
    reject_ignore = ["order_id", "qty_completed", "reject_rate"]
    return {
        "setup_min": (setups, {**setup_kw, "worse": {"setup_min": "higher"}}),
        "long_setup": (setups_flag.drop(columns=["setup_min"]), setup_kw),
        "rejected": (production.drop(columns=["qty_rejected"]), {"ignore": reject_ignore, "waste": "defects"}),
        "qty_rejected": (production.drop(columns=["rejected"]),
                         {"ignore": reject_ignore, "waste": "defects", "worse": {"qty_rejected": "higher"}}),
    }


def mine(frame: pd.DataFrame, target: str, keywords: dict[str, Any]) -> list[dict[str, Any]]:
    """The rules ``mine_pack`` reports for ``target`` (text, rows covered, adjusted p)."""
    from leanlearn.mining.settings import MiningSettings
    from leanlearn.packs.build import mine_pack

    pack = mine_pack(frame, [target], name="bench", line="4tu", settings=MiningSettings(max_levels=200), **keywords)
    return [{"text": r.text, "n": int(r.n), "p_value": float(r.p_value)} for r in pack.rules]


def run(targets: list[str], runs: int, quiet: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for target, (frame, keywords) in tables().items():
        if target not in targets:
            continue
        started = time.perf_counter()
        real = mine(frame, target, keywords)
        false_runs = []
        for seed in range(runs):
            values = np.random.default_rng(seed).permutation(frame[target].to_numpy())
            rules = mine(frame.assign(**{target: values}), target, keywords)
            if rules:
                false_runs.append({"seed": seed, "rules": rules})
            if not quiet:
                print(f"  {target} seed {seed}: {len(rules)} rule(s)", flush=True)
        out[target] = {"rows": len(frame), "real_rules": real, "runs": runs, "runs_with_a_rule": len(false_runs),
                       "false_runs": false_runs, "seconds": time.perf_counter() - started,
                       **rate(len(false_runs), runs, [f["seed"] for f in false_runs])}
    return out


def rate(k: int, runs: int, seeds: list[int], window: int = 20) -> dict[str, Any]:
    """The share of runs with a false rule, its exact 95 % interval, and the clean windows of ``window`` seeds."""
    from scipy.stats import beta

    low = float(beta.ppf(0.025, k, runs - k + 1)) if k else 0.0
    high = float(beta.ppf(0.975, k + 1, runs - k)) if k < runs else 1.0
    windows = runs // window
    dirty = {s // window for s in seeds if s < windows * window}
    return {"false_run_rate": k / runs if runs else None, "false_run_rate_ci95": [low, high],
            f"windows_of_{window}": windows, f"clean_windows_of_{window}": windows - len(dirty)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="shuffled runs per target (default 20)")
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"comma-separated, of {', '.join(TARGETS)}")
    parser.add_argument("--json", type=Path, default=RESULTS / "random_labels_4tu.json")
    parser.add_argument("--quiet", action="store_true", help="no line per run")
    args = parser.parse_args()
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown:
        raise SystemExit(f"--targets: unknown {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    started, source = time.perf_counter(), source_state()  # the source that runs: read before the first mine
    results = run(targets, args.runs, args.quiet)
    doc = {"meta": run_meta(started, source), "results": results}
    print(f"\n{'target':<14}{'rows':>7}{'real rules':>12}{'runs with a rule':>20}{'rate (95 % CI)':>24}"
          f"{'clean 20-run windows':>22}")
    for target, r in results.items():
        low, high = r["false_run_rate_ci95"]
        print(f"{target:<14}{r['rows']:>7,}{len(r['real_rules']):>12}{r['runs_with_a_rule']:>14} / {r['runs']:<5}"
              f"{r['false_run_rate']:>8.1%} ({low:.1%}–{high:.1%})"
              f"{r['clean_windows_of_20']:>12} / {r['windows_of_20']}")
        for rule in r["real_rules"]:
            print(f"    {rule['text']}  (n={rule['n']}, p={rule['p_value']:.2g})")
        for false in r["false_runs"]:
            print(f"    seed {false['seed']}: " + "; ".join(x["text"] for x in false["rules"]))
    write_results(args.json, doc)


if __name__ == "__main__":
    main()
