"""Time `mine` on AI4I 2020 (10,000 rows): per target, engine and feature set.

Two feature sets: the demo's declared features (temp_diff, power, strain — benchmarks/rule_quality.py's DERIVE) and
the raw columns (``leanlearn mine`` without ``--derive``: the miner screens pair features itself). The miner is
:class:`~leanlearn.mining.miner.RuleMinerCore`, what the command line and ``mine_pack`` fit (the scikit-learn
estimator ``RuleMiner`` is the same search plus scikit-learn's input checks). Wall and CPU seconds are both reported,
median of ``--repeat`` fits after one warm-up fit (imports and caches): on a shared machine the CPU time is the
steadier figure.

Usage: python benchmarks/mine_ai4i.py [--repeat N] [--engines bitset,mlxtend] [--json PATH]
Prints a table and writes JSON (default benchmarks/results/mine_ai4i.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from leanlearn.data.datasets import load_ai4i
from leanlearn.mining.expressions import evaluate_derived
from leanlearn.mining.miner import RuleMinerCore

DERIVE = {
    "temp_diff": "`Process temperature [K]` - `Air temperature [K]`",
    "power": "`Torque [Nm]` * `Rotational speed [rpm]` * 2 * pi / 60",
    "strain": "`Tool wear [min]` * `Torque [Nm]`",
}
TARGETS = ("HDF", "PWF", "OSF", "TWF")
FEATURE_SETS = ("declared", "raw")


def f1_of_confident_rules(miner: RuleMinerCore, X, y) -> float:
    frame = evaluate_derived(X, miner.derived_)
    predicted = np.zeros(len(X), dtype=bool)
    for rule in miner.rules_:
        if rule.confidence >= 0.8:
            predicted |= rule.mask(frame)
    truth = y.to_numpy() == 1
    return float(2 * (predicted & truth).sum() / (predicted.sum() + truth.sum()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", default="bitset,mlxtend")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "mine_ai4i.json")
    args = parser.parse_args()
    RuleMinerCore().fit(*load_ai4i(target="TWF"))  # warm-up: imports, caches
    rows = []
    for engine in args.engines.split(","):
        for features in FEATURE_SETS:
            for target in TARGETS:
                X, y = load_ai4i(target=target)
                wall, cpu = [], []
                for _ in range(args.repeat):
                    started, started_cpu = time.perf_counter(), time.process_time()
                    miner = RuleMinerCore(derive=DERIVE if features == "declared" else None, engine=engine).fit(X, y)
                    wall.append(time.perf_counter() - started)
                    cpu.append(time.process_time() - started_cpu)
                rows.append({
                    "engine": engine, "features": features, "target": target,
                    "seconds_median": statistics.median(wall), "cpu_seconds_median": statistics.median(cpu),
                    "rules": len(miner.rules_), "hypotheses": miner.n_tests_,
                    "f1_conf_ge_0.8": f1_of_confident_rules(miner, X, y),
                })
    print(f"{'engine':8} {'features':9} {'target':6} {'wall s':>7} {'cpu s':>7} {'rules':>5} {'hypotheses':>11} "
          f"{'F1(conf>=0.8)':>14}")
    for r in rows:
        print(f"{r['engine']:8} {r['features']:9} {r['target']:6} {r['seconds_median']:7.3f} "
              f"{r['cpu_seconds_median']:7.3f} {r['rules']:5d} {r['hypotheses']:11,d} {r['f1_conf_ge_0.8']:14.3f}")
    meta = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
            "machine": platform.machine(), "cpus": os.cpu_count(), "repeat": args.repeat,
            "load_average": os.getloadavg()[0]}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
