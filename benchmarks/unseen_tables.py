"""Rule quality on real tables the miner was never tuned on: scikit-learn's bundled data sets, mined with defaults.

leanlearn's settings were developed on AI4I 2020 and the 4TU machine-shop log. These tables come with scikit-learn
(no download) and differ from both: few rows, many correlated numeric columns without units, a common outcome.
They are not factories — they are stand-ins for the data sets a user brings that nobody here has seen.

- ``breast_cancer`` — 569 rows × 30 numeric measurements; outcome: malignant (37 %).
- ``wine`` — 178 rows × 13 numeric measurements; outcome: cultivar 3 (27 %).
- ``diabetes`` — 442 rows × 10 columns (age, sex, BMI, blood pressure, six serum values); outcome: disease
  progression in the top quarter (25 %).

For each table, ``--splits`` stratified halves (seeds 0..N-1): ``RuleMinerCore()`` with its defaults learns on one
half; on the other half each rule is checked (it *holds* when its confidence there is above the half's base rate
with a one-sided Fisher p < 0.05) and the union of the rules is scored as a classifier of the outcome (precision,
recall, F1). Then ``--runs`` runs on the whole table with the outcome shuffled (seeds 100..): any rule is a false
rule; at ``alpha = 0.05`` a run may report one with probability at most 5 %.

Usage: python benchmarks/unseen_tables.py [--splits 3] [--runs 20] [--tables breast_cancer,wine,diabetes]
Prints a table and writes JSON (default benchmarks/results/unseen_tables.json).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from provenance import run_meta, source_state, write_results

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def _breast_cancer() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    return data.data, pd.Series(data.target.to_numpy() == 0, name="malignant")


def _wine() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    return data.data, pd.Series(data.target.to_numpy() == 2, name="cultivar_3")


def _diabetes() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True, scaled=False)
    progression = data.target.to_numpy()
    return data.data, pd.Series(progression > np.quantile(progression, 0.75), name="fast_progression")


TABLES: dict[str, Callable[[], tuple[pd.DataFrame, pd.Series]]] = {
    "breast_cancer": _breast_cancer, "wine": _wine, "diabetes": _diabetes,
}


def halves(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified split into two halves (train, test) by ``seed``."""
    rng = np.random.default_rng(seed)
    test = np.zeros(y.size, dtype=bool)
    for cls in (False, True):
        idx = np.flatnonzero(y == cls)
        test[rng.choice(idx, size=idx.size // 2, replace=False)] = True
    return np.flatnonzero(~test), np.flatnonzero(test)


def held_out(X: pd.DataFrame, y: pd.Series, seed: int) -> dict[str, Any]:
    from leanlearn.mining.expressions import evaluate_derived
    from leanlearn.mining.miner import RuleMinerCore
    from leanlearn.mining.stats import fisher_greater

    train, test = halves(y.to_numpy(), seed)
    started = time.perf_counter()
    miner = RuleMinerCore().fit(X.iloc[train].reset_index(drop=True), y.iloc[train].reset_index(drop=True))
    seconds = time.perf_counter() - started
    frame = evaluate_derived(X.iloc[test].reset_index(drop=True), miner.derived_)
    truth = y.iloc[test].to_numpy()
    union = np.zeros(truth.size, dtype=bool)
    rules = []
    for rule in miner.rules_:
        mask = rule.mask(frame)
        union |= mask
        n, hits = int(mask.sum()), int((mask & truth).sum())
        p = float(fisher_greater(np.array([hits]), np.array([n]), int(truth.sum()), truth.size)[0]) if n else 1.0
        rules.append({"text": rule.text, "n_train": int(rule.n), "confidence_train": float(rule.confidence),
                      "p_value": float(rule.p_value), "n_test": n, "hits_test": hits, "p_test": p,
                      "holds": bool(n and p < 0.05)})
    tp = int((union & truth).sum())
    precision = tp / int(union.sum()) if union.any() else 0.0
    recall = tp / int(truth.sum()) if truth.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"seed": seed, "seconds": seconds, "rules": rules, "precision": precision, "recall": recall, "f1": f1,
            "n_tests": int(miner.n_tests_), "n_candidates": int(miner.n_candidates_)}


def shuffled(X: pd.DataFrame, y: pd.Series, runs: int) -> dict[str, Any]:
    from leanlearn.mining.miner import RuleMinerCore

    false_runs, seconds = [], []
    for k in range(runs):
        seed = 100 + k
        label = pd.Series(np.random.default_rng(seed).permutation(y.to_numpy()), name=y.name)
        started = time.perf_counter()
        miner = RuleMinerCore().fit(X, label)
        seconds.append(time.perf_counter() - started)
        if len(miner.rules_):
            false_runs.append({"seed": seed, "rules": [{"text": r.text, "n": int(r.n), "p_value": float(r.p_value)}
                                                       for r in miner.rules_]})
    return {"runs": runs, "runs_with_a_rule": len(false_runs), "false_runs": false_runs,
            "median_seconds": float(np.median(seconds)) if seconds else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", type=int, default=3, help="held-out halves per table (default 3)")
    parser.add_argument("--runs", type=int, default=20, help="shuffled-outcome runs per table (default 20)")
    parser.add_argument("--tables", default=",".join(TABLES), help=f"comma-separated, of {', '.join(TABLES)}")
    parser.add_argument("--json", type=Path, default=RESULTS / "unseen_tables.json")
    args = parser.parse_args()
    if args.splits < 1 or args.runs < 0:
        raise SystemExit(f"--splits must be at least 1 (got {args.splits}) and --runs at least 0 (got {args.runs})")
    names = [t.strip() for t in args.tables.split(",") if t.strip()]
    unknown = sorted(set(names) - set(TABLES))
    if unknown:
        raise SystemExit(f"--tables: unknown {', '.join(unknown)}; known: {', '.join(TABLES)}")
    started, source = time.perf_counter(), source_state()
    results: dict[str, Any] = {}
    for name in names:
        X, y = TABLES[name]()
        splits = [held_out(X, y, seed) for seed in range(args.splits)]
        for s in splits:
            print(f"{name} split {s['seed']}: {len(s['rules'])} rule(s), F1 {s['f1']:.2f}, {s['seconds']:.2f} s",
                  flush=True)
        noise = shuffled(X, y, args.runs)
        print(f"{name}: {noise['runs_with_a_rule']} of {noise['runs']} shuffled runs with a rule", flush=True)
        results[name] = {"rows": len(X), "columns": X.shape[1], "positive_rate": float(y.mean()),
                         "splits": splits, "shuffled": noise}
    doc = {"meta": run_meta(started, source), "results": results}
    print("\n| table | rows × columns | positive | rules per split | rules holding on the test half | "
          "F1 of the union (test half) | fit seconds (median) | shuffled runs with a rule |")
    print("|---|---|---:|---|---:|---|---:|---:|")
    for name, r in results.items():
        rules = [rule for s in r["splits"] for rule in s["rules"]]
        holding = sum(rule["holds"] for rule in rules)
        f1 = ", ".join(f"{s['f1']:.2f}" for s in r["splits"])
        per = ", ".join(str(len(s["rules"])) for s in r["splits"])
        fit = float(np.median([s["seconds"] for s in r["splits"]]))
        print(f"| {name} | {r['rows']} × {r['columns']} | {r['positive_rate']:.0%} | {per} | {holding} of "
              f"{len(rules)} | {f1} | {fit:.2f} | {r['shuffled']['runs_with_a_rule']} of {r['shuffled']['runs']} |")
    for name, r in results.items():
        for s in r["splits"]:
            for rule in s["rules"]:
                print(f"  {name} split {s['seed']}: {rule['text']}  (train n={rule['n_train']}, "
                      f"test {rule['hits_test']}/{rule['n_test']}, holds: {rule['holds']})")
        for false in r["shuffled"]["false_runs"]:
            print(f"  {name} shuffled seed {false['seed']}: " + "; ".join(x["text"] for x in false["rules"]))
    write_results(args.json, doc)


if __name__ == "__main__":
    main()
