"""Time `mine` on AI4I 2020 (10,000 rows): per target and engine, with the derived features of the demo.

Usage: python benchmarks/mine_ai4i.py [--repeat N] [--json PATH]
Prints a table and writes JSON (default benchmarks/results/mine_ai4i.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from leanlearn.data.datasets import load_ai4i
from leanlearn.mining.expressions import evaluate_derived
from leanlearn.mining.miner import RuleMiner

DERIVE = {
    "temp_diff": "`Process temperature [K]` - `Air temperature [K]`",
    "power": "`Torque [Nm]` * `Rotational speed [rpm]` * 2 * pi / 60",
    "strain": "`Tool wear [min]` * `Torque [Nm]`",
}
TARGETS = ("HDF", "PWF", "OSF", "TWF")


def f1_of_confident_rules(miner: RuleMiner, X, y) -> float:
    frame = evaluate_derived(X, DERIVE)
    predicted = np.zeros(len(X), dtype=bool)
    for rule in miner.rules_:
        if rule.confidence >= 0.8:
            predicted |= rule.mask(frame)
    truth = y.to_numpy() == 1
    return float(2 * (predicted & truth).sum() / (predicted.sum() + truth.sum()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "mine_ai4i.json")
    args = parser.parse_args()
    rows = []
    for engine in ("bitset", "mlxtend"):
        for target in TARGETS:
            X, y = load_ai4i(target=target)
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                miner = RuleMiner(derive=DERIVE, engine=engine).fit(X, y)
                times.append(time.perf_counter() - started)
            rows.append({
                "engine": engine, "target": target, "seconds_median": statistics.median(times),
                "rules": len(miner.rules_), "hypotheses": miner.n_tests_,
                "f1_conf_ge_0.8": f1_of_confident_rules(miner, X, y),
            })
    print(f"{'engine':8} {'target':6} {'median s':>9} {'rules':>5} {'hypotheses':>11} {'F1(conf>=0.8)':>14}")
    for r in rows:
        print(f"{r['engine']:8} {r['target']:6} {r['seconds_median']:9.2f} {r['rules']:5d} {r['hypotheses']:11,d} "
              f"{r['f1_conf_ge_0.8']:14.3f}")
    meta = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
            "machine": platform.machine(), "cpus": __import__("os").cpu_count(), "repeat": args.repeat}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
