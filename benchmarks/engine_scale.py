"""The itemset engine at plant scale: planted data, 60 boolean items, outcome rules at support >= 1 %, <= 3 conditions.

For each size (default 100,000 and 1,000,000 rows) three runs, each in its own process (peak memory is the
process's ``ru_maxrss``; ``base`` is the process after the data is generated, before the measured step):

- ``naive`` — a naive numpy bitset search written here: level-wise over all ``== True`` items, every candidate
  joined on all rows (AND of packed words, popcount) for its hits and its coverage.
- ``engine`` — the bitset engine alone on the same items: ``PackedItems.rows(outcome)``, ``mine`` (depth-first on
  the outcome rows) and ``coverage`` (prefix-shared, over all rows); its itemsets and counts are checked against
  the naive search (digest).
- ``fit`` — ``RuleMinerCore(min_support=0.01, max_conditions=3).fit`` end to end (itemizing, search, threshold
  refinement, significance, selection), with the Itemizer's one item per boolean column.

Usage: python benchmarks/engine_scale.py [--rows 100000 1000000] [--repeat 3] [--json PATH]
Prints a table and writes JSON (default benchmarks/results/engine_scale.json).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

SUPPORT = 0.01
MAX_LEN = 3
Found = dict[tuple[int, ...], tuple[int, int]]


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _pack(column: np.ndarray) -> np.ndarray:
    words = max(1, -(-column.size // 64))
    raw = np.zeros(words * 8, dtype=np.uint8)
    packed = np.packbits(column, bitorder="little")
    raw[: packed.size] = packed
    return raw.view(np.uint64)


def naive_search(matrix_columns: list[np.ndarray], outcome: np.ndarray, min_count: int, max_len: int) -> Found:
    """Level-wise search on all rows: each candidate's bitset is an AND of packed words, counted by popcount."""
    bits = np.stack([_pack(c) for c in matrix_columns])
    out_bits = _pack(outcome)
    hits = np.bitwise_count(bits & out_bits).sum(axis=1)
    covered = np.bitwise_count(bits).sum(axis=1)
    frequent = np.flatnonzero(hits >= min_count)
    found: Found = {(int(i),): (int(hits[i]), int(covered[i])) for i in frequent}
    level: list[tuple[tuple[int, ...], np.ndarray]] = [((int(i),), bits[i]) for i in frequent]
    for _ in range(2, max_len + 1):
        following = []
        for itemset, acc in level:
            extensions = frequent[frequent > itemset[-1]]
            if not extensions.size:
                continue
            joined = bits[extensions] & acc
            h = np.bitwise_count(joined & out_bits).sum(axis=1)
            c = np.bitwise_count(joined).sum(axis=1)
            for k in np.flatnonzero(h >= min_count):
                child = (*itemset, int(extensions[k]))
                found[child] = (int(h[k]), int(c[k]))
                following.append((child, joined[k]))
        level = following
    return found


def digest(found: Found) -> str:
    text = ";".join(f"{s}:{h}:{c}" for s, (h, c) in sorted(found.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def worker(method: str, rows: int, repeat: int) -> dict[str, Any]:
    """One measurement in this process (called with ``--worker``)."""
    from leanlearn.data.planted import make_planted

    X, y, _ = make_planted(rows, seed=0)
    outcome = y.to_numpy(dtype=bool)
    min_count = math.ceil(SUPPORT * rows)
    base = _maxrss_mb()
    result: dict[str, Any] = {"method": method, "rows": rows, "items": X.shape[1], "min_count": min_count,
                              "positives": int(outcome.sum())}
    if method == "naive":
        columns = [X[c].to_numpy(dtype=bool) for c in X.columns]
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            found = naive_search(columns, outcome, min_count, MAX_LEN)
            times.append(time.perf_counter() - started)
        result.update(seconds=min(times), itemsets=len(found), digest=digest(found))
    elif method == "engine":
        from leanlearn.mining.bitsets import PackedItems
        from leanlearn.mining.engines import BitsetEngine

        engine = BitsetEngine()
        best: dict[str, float] = {}
        for _ in range(repeat):
            t0 = time.perf_counter()
            packed = PackedItems.from_columns((X[c].to_numpy(dtype=bool) for c in X.columns), n_rows=rows)
            t1 = time.perf_counter()
            positive_rows = packed.rows(outcome)
            t2 = time.perf_counter()
            mined = engine.mine(positive_rows, min_count, MAX_LEN)
            t3 = time.perf_counter()
            covered = engine.coverage(packed, [s for s, _ in mined])
            t4 = time.perf_counter()
            run = {"pack_s": t1 - t0, "rows_s": t2 - t1, "mine_s": t3 - t2, "coverage_s": t4 - t3,
                   "seconds": t4 - t1}
            if not best or run["seconds"] < best["seconds"]:
                best = run
        found = {s: (h, int(c)) for (s, h), c in zip(mined, covered)}
        result.update(best, itemsets=len(found), digest=digest(found), packed_mb=packed.nbytes / 2**20)
    elif method == "fit":
        from leanlearn.mining.miner import RuleMinerCore

        started = time.perf_counter()
        miner = RuleMinerCore(min_support=SUPPORT, max_conditions=MAX_LEN).fit(X, y)
        result.update(seconds=time.perf_counter() - started, itemsets=miner.n_candidates_, tests=miner.n_tests_,
                      rules=[r.text for r in miner.rules_])
    else:
        raise SystemExit(f"unknown method {method!r}")
    result.update(base_mb=base, peak_mb=_maxrss_mb())
    return result


def run(method: str, rows: int, repeat: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", method, str(rows), "--repeat", str(repeat)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs of naive and engine; the fastest counts")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "engine_scale.json")
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.repeat)))
        return
    results = []
    print(f"{'rows':>9} {'method':<7} {'seconds':>8} {'mine':>6} {'cover':>6} {'itemsets':>8} {'base MB':>8} "
          f"{'peak MB':>8}  same as naive")
    for rows in args.rows:
        naive = run("naive", rows, args.repeat)
        for r in (naive, run("engine", rows, args.repeat), run("fit", rows, 1)):
            r["same_as_naive"] = r["digest"] == naive["digest"] if "digest" in r else None
            results.append(r)
            mine = f"{r['mine_s']:.3f}" if "mine_s" in r else ""
            cover = f"{r['coverage_s']:.3f}" if "coverage_s" in r else ""
            same = {True: "yes", False: "NO", None: ""}[r["same_as_naive"]]
            print(f"{rows:>9,} {r['method']:<7} {r['seconds']:>8.3f} {mine:>6} {cover:>6} {r['itemsets']:>8,} "
                  f"{r['base_mb']:>8.0f} {r['peak_mb']:>8.0f}  {same}")
    payload = {
        "benchmark": "engine_scale",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "numpy": np.__version__, "cpus": __import__("os").cpu_count()},
        "support": SUPPORT, "max_len": MAX_LEN, "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"written {args.json}")


if __name__ == "__main__":
    main()
