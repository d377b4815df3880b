"""The miner at plant scale: leanlearn (CLI end to end, each engine alone) beside a naive numpy search, mlxtend,
pyfim and Spark, on planted data (100k and 1M rows × 60 items) and AI4I — time, peak memory and "same output".

Task: outcome rules with support >= 1 % of all rows (hits = rows where the antecedent and the outcome hold) and up to
3 conditions, on boolean items (True items only for the itemset searches). Every run is its own subprocess with a
timeout (``--timeout``; default 120 s from 1M rows on, 60 s below; ``> T s`` in the table when it is hit), and its
peak memory is measured from outside (``wait4`` maximum RSS of the process and its reaped children, and the sampled
RSS of its process tree, the larger of the two; Spark's JVM included). Peers are memory-capped (``RLIMIT_AS``,
``--memory-cap``, default 6 GB), so one that asks for 40 GB fails with a MemoryError instead of taking the machine
down.

Methods (a method not installed or not registered is skipped with a printed note):

- ``leanlearn mine`` — the CLI in a subprocess on the table written to Parquet first (read, itemize, mine, test,
  select, write the pack): end to end. ``leanlearn mine, nothing to mine`` is the same command on the table's
  first 1,000 rows with the outcome set to False everywhere: the CLI's fixed cost (interpreter, imports, argument
  parsing, reading, pack writing), which no miner removes. ``leanlearn mine (CLI), from CSV`` is the same command
  on the table written as CSV (``True``/``False`` cells), the way most plant systems export it.
- ``RuleMiner[E]`` — the estimator with engine E (bitset, mlxtend, spark when registered) on the same table: the rule
  sets of all engines must be identical (the agreement column compares each to the first engine's, and the CLI's to
  ``RuleMiner[bitset]``).
- ``engine E`` — the engine alone on the task (itemsets on the outcome rows, coverage of each over all rows), fed the
  items the way the miner feeds them (packed bitsets when ``leanlearn.mining.bitsets`` exists).
- ``naive numpy`` — written here: level-wise (Apriori) candidates, each counted by an AND of packed item bitsets
  over all rows and a popcount with and without the outcome. The reference for "same candidates": every itemset
  search's (itemset, hits, rows covered) must equal it.
- ``mlxtend fpgrowth`` / ``apriori`` — all frequent itemsets of items + outcome at the same support, max_len 4; the
  ones containing the outcome give hits, their antecedents the coverage.
- ``pyfim fpgrowth`` (all frequent itemsets, as mlxtend) and ``pyfim arules`` (consequent fixed to the outcome,
  support of body ∪ head, body support reported) — from the separate venv ``.venv-bench`` (benchmarks/README.md).

AI4I (10,000 rows): the CLI and RuleMiner per engine with the demo's settings (4 targets, declared features,
default support), and the itemset searches on 5 quantile bins per numeric column + product type, outcome
``Machine failure``, support >= 1 %.

``--quality`` also runs ``benchmarks/rule_quality.py --no-peers`` (``--quick`` passed on) and adds its held-out F1,
the share of rules that hold on the test rows and the random-label counts to the JSON (its own date and commit
beside them); without it, the quality section of the JSON being replaced is kept.

Usage: python benchmarks/mining.py [--quick] [--rows 100000,1000000] [--no-peers] [--quality] [--json PATH]
``--quick``: 20,000 planted rows, 30 s timeouts (a smoke run while the machine is busy).
Prints a table and writes JSON (default benchmarks/results/mining.json).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from provenance import source_state

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
OUTCOME = "waste"
MIN_SUPPORT = 0.01
MAX_CONDITIONS = 3
ENGINE_NAMES = ("bitset", "mlxtend", "spark")
AI4I_TARGETS = ("HDF", "PWF", "OSF", "TWF")
AI4I_IGNORE = ("Machine failure", "RNF")
AI4I_DERIVE = {
    "temp_diff": "`Process temperature [K]` - `Air temperature [K]`",
    "power": "`Torque [Nm]` * `Rotational speed [rpm]` * 2 * pi / 60",
    "strain": "`Tool wear [min]` * `Torque [Nm]`",
}
AI4I_NUMERIC = ("Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]",
                "Tool wear [min]")
AI4I_BINS = 5
GB = 1024**3


# -- the searches (run inside a worker) -----------------------------------------------------------------------
Found = dict[tuple[int, ...], tuple[int, int]]  # itemset -> (hits, rows covered)


def pack_bits(columns: np.ndarray) -> np.ndarray:
    """Rows × items bool → items × words uint64 bitsets (bit b of word w is row 64 w + b)."""
    n_rows = columns.shape[0]
    padded = (n_rows + 63) // 64 * 64
    out = np.zeros((columns.shape[1], padded // 8), dtype=np.uint8)
    for j in range(columns.shape[1]):
        out[j, : (n_rows + 7) // 8] = np.packbits(columns[:, j], bitorder="little")
    return out.view(np.uint64)


def apriori_candidates(frequent: Sequence[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Level k+1 candidates: join k-itemsets sharing their first k-1 items, keep those whose k-subsets are frequent."""
    known = set(frequent)
    by_prefix: dict[tuple[int, ...], list[int]] = {}
    for s in sorted(frequent):
        by_prefix.setdefault(s[:-1], []).append(s[-1])
    out = []
    for prefix, lasts in by_prefix.items():
        for a in range(len(lasts)):
            for b in range(a + 1, len(lasts)):
                cand = (*prefix, lasts[a], lasts[b])
                if all(cand[:i] + cand[i + 1 :] in known for i in range(len(cand) - 2)):
                    out.append(cand)
    return out


def naive_search(matrix: np.ndarray, outcome: np.ndarray, min_count: int, max_len: int) -> Found:
    """Level-wise search: every candidate's AND over all rows, popcount with and without the outcome."""
    bits = pack_bits(matrix)
    ybits = pack_bits(outcome[:, None])[0]
    found: Found = {}
    level: list[tuple[int, ...]] = [(i,) for i in range(matrix.shape[1])]
    batch = max(1, (64 << 20) // max(1, bits.shape[1] * 8))  # about 64 MB of words per block
    for _ in range(max_len):
        frequent = []
        for start in range(0, len(level), batch):
            block = np.array(level[start : start + batch], dtype=np.int64)
            acc = bits[block[:, 0]].copy()
            for j in range(1, block.shape[1]):
                acc &= bits[block[:, j]]
            covered = np.bitwise_count(acc).sum(axis=1)
            acc &= ybits
            hits = np.bitwise_count(acc).sum(axis=1)
            for s, h, c in zip(level[start : start + batch], hits.tolist(), covered.tolist()):
                if h >= min_count:
                    found[s] = (h, c)
                    frequent.append(s)
        level = apriori_candidates(frequent)
        if not level:
            break
    return found


def engine_search(name: str, matrix: np.ndarray, outcome: np.ndarray, min_count: int, max_len: int) -> tuple[
        Found, dict[str, float]]:
    """A leanlearn engine alone: itemsets on the outcome rows, then the coverage of each over all rows."""
    from leanlearn.mining.engines import get_engine

    engine = get_engine(name)
    timing: dict[str, float] = {}
    if hasattr(engine, "session"):  # Spark: the session starts once per application, timed apart
        started = time.perf_counter()
        engine.session()
        timing["startup_s"] = time.perf_counter() - started
    started = time.perf_counter()
    try:
        from leanlearn.mining.bitsets import PackedItems
    except ImportError:  # before the packed engines: bool matrices, the miner's own coverage counter
        import importlib

        pack_columns = vars(importlib.import_module("leanlearn.mining.engines"))["pack_columns"]
        _coverage = vars(importlib.import_module("leanlearn.mining.miner"))["_coverage"]
        positives = matrix[outcome]
        timing["pack_s"] = time.perf_counter() - started
        mined = engine.mine(positives, min_count, max_len)
        timing["mine_s"] = time.perf_counter() - started - timing["pack_s"]
        covered = _coverage(pack_columns(matrix), [s for s, _ in mined])
    else:
        packed = PackedItems.from_columns(matrix[:, j] for j in range(matrix.shape[1]))
        positives_packed = packed.rows(outcome)
        timing["pack_s"] = time.perf_counter() - started
        source: Any = matrix[outcome] if name == "mlxtend" else positives_packed  # mlxtend works on a dense frame
        mined = engine.mine(source, min_count, max_len)
        timing["mine_s"] = time.perf_counter() - started - timing["pack_s"]
        covered = engine.coverage(packed, [s for s, _ in mined])
    timing["coverage_s"] = time.perf_counter() - started - timing["pack_s"] - timing["mine_s"]
    return {tuple(int(i) for i in s): (int(h), int(c)) for (s, h), c in zip(mined, covered)}, timing


def _from_frequent(frequent: dict[frozenset[int], int], outcome_item: int, max_len: int) -> Found:
    """Outcome itemsets (hits) and their antecedents (coverage) out of all frequent itemsets."""
    found: Found = {}
    for itemset, count in frequent.items():
        if outcome_item in itemset and 1 < len(itemset) <= max_len + 1:
            body = itemset - {outcome_item}
            found[tuple(sorted(body))] = (count, frequent[frozenset(body)])
    return found


def mlxtend_search(kind: str, matrix: np.ndarray, outcome: np.ndarray, min_count: int, max_len: int) -> Found:
    from mlxtend.frequent_patterns import apriori, fpgrowth

    n_rows, n_items = matrix.shape
    frame = pd.DataFrame(np.column_stack([matrix, outcome]), columns=list(range(n_items + 1)))
    algorithm = fpgrowth if kind == "fpgrowth" else apriori
    result = algorithm(frame, min_support=(min_count - 0.5) / n_rows, use_colnames=True, max_len=max_len + 1)
    frequent = {frozenset(int(i) for i in s): int(round(p * n_rows))
                for p, s in zip(result["support"].to_numpy(), result["itemsets"])}
    return _from_frequent(frequent, n_items, max_len)


def transactions(matrix: np.ndarray, outcome: np.ndarray) -> list[list[int]]:
    """One list of item numbers per row (the outcome is item n_items)."""
    full = np.column_stack([matrix, outcome])
    rows, cols = np.nonzero(full)
    bounds = np.searchsorted(rows, np.arange(1, full.shape[0]))
    return [part.tolist() for part in np.split(cols, bounds)]


def pyfim_search(kind: str, tracts: list[list[int]], n_items: int, min_count: int, max_len: int) -> Found:
    import fim  # type: ignore[import-not-found]

    if kind == "fpgrowth":
        result = fim.fpgrowth(tracts, target="s", supp=-min_count, zmin=1, zmax=max_len + 1, report="a")
        return _from_frequent({frozenset(s): int(c) for s, c in result}, n_items, max_len)
    # consequent fixed to the outcome; mode "o": the support threshold applies to body ∪ head (the hits)
    rules = fim.arules(tracts, supp=-min_count, conf=0, zmin=2, zmax=max_len + 1, report="ab", mode="o",
                       appear={None: "a", n_items: "c"})
    return {tuple(sorted(body)): (int(a), int(b)) for head, body, a, b in rules if head == n_items}


def rules_of(miner: Any) -> list[list[Any]]:
    return [[r.text, int(r.hits), int(r.n)] for r in miner.rules_]


# -- worker entry ---------------------------------------------------------------------------------------------
def load_items(path: Path) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_parquet(path)
    items = [c for c in frame.columns if c != OUTCOME]
    matrix = np.empty((len(frame), len(items)), dtype=bool)
    for j, c in enumerate(items):
        matrix[:, j] = frame[c].to_numpy(dtype=bool)
    return matrix, frame[OUTCOME].to_numpy(dtype=bool)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(method: str, data: Path, result_path: Path, min_count: int, max_len: int) -> None:
    """Run one method on one table and write its output and its own timing (JSON) to ``result_path``."""
    out: dict[str, Any] = {}
    if method.startswith("miner:"):
        from leanlearn.mining.miner import RuleMiner

        engine = method.split(":", 1)[1]
        if engine == "spark":  # the session starts once per application: timed apart, reused by the miner
            from leanlearn.mining.engines import get_engine

            started = time.perf_counter()
            get_engine(engine).session()  # type: ignore[attr-defined]
            out["startup_s"] = time.perf_counter() - started
        out["import_rss_mb"] = rss_mb()
        if data.name == "ai4i":
            from leanlearn.data.datasets import load_ai4i

            rules: list[list[Any]] = []
            seconds = 0.0
            for target in AI4I_TARGETS:
                X, y = load_ai4i(target=target)
                started = time.perf_counter()
                miner = RuleMiner(derive=AI4I_DERIVE, engine=engine, max_conditions=MAX_CONDITIONS).fit(X, y)
                seconds += time.perf_counter() - started
                rules += rules_of(miner)
        else:
            frame = pd.read_parquet(data)
            X, y = frame.drop(columns=[OUTCOME]), frame[OUTCOME]
            out["data_rss_mb"] = rss_mb()
            started = time.perf_counter()
            miner = RuleMiner(engine=engine, min_support=MIN_SUPPORT, max_conditions=max_len).fit(X, y)
            seconds = time.perf_counter() - started
            rules = rules_of(miner)
            out["n_tests"] = int(getattr(miner, "n_tests_", 0))
        out.update(seconds=seconds, rules=rules)
    else:
        matrix, outcome = load_items(data)
        if method.startswith("pyfim"):
            started = time.perf_counter()
            tracts = transactions(matrix, outcome)
            out["prep_s"] = time.perf_counter() - started
        out["data_rss_mb"] = rss_mb()
        started = time.perf_counter()
        if method == "naive":
            found = naive_search(matrix, outcome, min_count, max_len)
        elif method.startswith("engine:"):
            found, timing = engine_search(method.split(":", 1)[1], matrix, outcome, min_count, max_len)
            out.update(timing)
        elif method.startswith("mlxtend-"):
            found = mlxtend_search(method.split("-", 1)[1], matrix, outcome, min_count, max_len)
        elif method.startswith("pyfim-"):
            found = pyfim_search(method.split("-", 1)[1], tracts, matrix.shape[1], min_count, max_len)
        else:
            raise SystemExit(f"unknown method {method!r}")
        out["seconds"] = time.perf_counter() - started
        out["itemsets"] = [[list(s), h, c] for s, (h, c) in sorted(found.items())]
    result_path.write_text(json.dumps(out))


# -- measuring a subprocess -----------------------------------------------------------------------------------
def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and its descendants now (0 when psutil is missing or the process is gone)."""
    try:
        import psutil  # type: ignore[import-untyped]

        proc = psutil.Process(pid)
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return int(total)
    except Exception:
        return 0


def run_measured(cmd: list[str], timeout: float, memory_cap: int | None, log: Path) -> dict[str, Any]:
    """Run ``cmd`` in its own session; wall seconds, peak RSS (MB), exit status; killed after ``timeout``."""

    def limit() -> None:
        if memory_cap:
            resource.setrlimit(resource.RLIMIT_AS, (memory_cap, memory_cap))

    # /usr/bin/time forks the command from a small process: a child forked from this (large) one would start with
    # its resident pages, and its maximum RSS would never read below ours
    rss_file = log.with_suffix(".rss")
    if Path("/usr/bin/time").exists():
        cmd = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *cmd]
    with log.open("wb") as sink:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=limit if memory_cap else None, cwd=ROOT)
        peak_tree, timed_out, status, usage = 0, False, 0, None
        next_sample = 0.0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter() - started
            if now > timeout:
                timed_out = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                _, status, usage = os.wait4(proc.pid, 0)
                break
            if now >= next_sample:
                peak_tree = max(peak_tree, _tree_rss(proc.pid))
                next_sample = now + 0.1
            time.sleep(0.02)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped by wait4
    try:
        peak = max(int(rss_file.read_text().split()[-1]) * 1024, peak_tree)
    except (OSError, ValueError, IndexError):  # no /usr/bin/time, or killed: wait4's maximum (an upper bound)
        peak = max(usage.ru_maxrss * 1024 if usage else 0, peak_tree)
    return {"wall_s": wall, "peak_mb": peak / 2**20, "timed_out": timed_out, "returncode": proc.returncode}


def tail(log: Path, lines: int = 6) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


# -- the runs -------------------------------------------------------------------------------------------------
class Bench:
    def __init__(self, work: Path, timeout: Callable[[int], float], memory_cap: int) -> None:
        self.work, self.timeout_for, self.memory_cap = work, timeout, memory_cap
        self.runs: list[dict[str, Any]] = []
        self.failed_at: dict[tuple[str, str], str] = {}  # (family, method) -> why it is not run at larger sizes

    def run(self, dataset: str, rows: int, method: str, label: str, cmd: list[str], result: Path | None,
            capped: bool) -> dict[str, Any]:
        record: dict[str, Any] = {"dataset": dataset, "rows": rows, "method": method, "label": label}
        family = (dataset.split()[0], method)  # "planted" sizes share their fate; AI4I stands alone
        if family in self.failed_at:
            record.update(status="skipped", note=self.failed_at[family])
            self.runs.append(record)
            print(f"  {label:28} skipped: {record['note']}", flush=True)
            return record
        log = self.work / f"{dataset}-{method.replace(':', '_')}.log"
        if result is not None and result.exists():
            result.unlink()
        timeout = self.timeout_for(rows)
        measured = run_measured(cmd, timeout, self.memory_cap if capped else None, log)
        record.update(measured)
        output = tail(log)
        if measured["timed_out"]:
            record.update(status="timeout", note=f"> {timeout:.0f} s")
            self.failed_at[family] = f"> {timeout:.0f} s at {rows:,} rows"
        elif measured["returncode"] != 0 or (result is not None and not result.exists()):
            memory = "MemoryError" in output or "Cannot allocate" in output or "bad_alloc" in output
            record.update(status="memory" if memory else "error", note=output.splitlines()[-1] if output else "")
            if memory:
                record["note"] = f"MemoryError under a {self.memory_cap / GB:.0f} GB cap"
                self.failed_at[family] = f"out of memory at {rows:,} rows"
        else:
            record["status"] = "ok"
            if result is not None:
                record.update(json.loads(result.read_text()))
        self.runs.append(record)
        shown = record.get("seconds", record.get("wall_s"))
        print(f"  {label:28} {record['status']:8} {shown:8.2f} s  {record['peak_mb']:8.0f} MB  "
              f"{record.get('note', '')}", flush=True)
        return record


def worker_cmd(python: Path | str, method: str, data: Path, result: Path, min_count: int) -> list[str]:
    return [str(python), str(Path(__file__).resolve()), "--worker", method, "--data", str(data),
            "--result", str(result), "--min-count", str(min_count)]


def cli_cmd(data: Path, pack: Path, targets: Sequence[str], extra: Sequence[str]) -> list[str]:
    exe = Path(sys.executable).parent / "leanlearn"
    args = [str(exe), "mine", str(data)]
    for t in targets:
        args += ["-t", t]
    return [*args, *extra, "--out", str(pack), "--quiet"]


def registered_engines() -> tuple[list[str], dict[str, str]]:
    """Engines by name that this checkout provides; the others with the reason they are skipped."""
    from leanlearn.mining.engines import get_engine

    ok, skipped = [], {}
    for name in ENGINE_NAMES:
        try:
            get_engine(name)
        except Exception as exc:  # unknown engine, or its library missing
            skipped[name] = f"{type(exc).__name__}: {exc}"
            continue
        if name == "spark" and not installed("pyspark", sys.executable):
            skipped[name] = "pyspark is not importable"
            continue
        ok.append(name)
    return ok, skipped


def installed(module: str, python: Path | str) -> bool:
    if not Path(python).exists():
        return False
    probe = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, check=False)
    return probe.returncode == 0


def itemset_methods(peers: bool, engines: list[str]) -> list[tuple[str, str, Path | str, bool]]:
    """(method, label, python, memory-capped) of the itemset searches."""
    out: list[tuple[str, str, Path | str, bool]] = [("naive", "naive numpy", sys.executable, False)]
    out += [(f"engine:{e}", f"engine {e}", sys.executable, e == "mlxtend") for e in engines]
    if peers:
        out += [("mlxtend-fpgrowth", "mlxtend fpgrowth", sys.executable, True),
                ("mlxtend-apriori", "mlxtend apriori", sys.executable, True)]
        if installed("fim", BENCH_PYTHON):
            out += [("pyfim-fpgrowth", "pyfim fpgrowth", BENCH_PYTHON, True),
                    ("pyfim-arules", "pyfim arules (→ outcome)", BENCH_PYTHON, True)]
        else:
            print(f"note: pyfim is not importable in {BENCH_PYTHON} (see benchmarks/README.md): its runs are skipped")
    return out


def agreement_itemsets(records: list[dict[str, Any]]) -> None:
    """Each itemset search against the naive one: identical (itemset, hits, covered), or what differs."""
    reference = next((r for r in records if r["method"] == "naive" and r["status"] == "ok"), None)
    if reference is None:
        return
    ref = {tuple(s): (h, c) for s, h, c in reference["itemsets"]}
    for r in records:
        if "itemsets" not in r:
            continue
        got = {tuple(s): (h, c) for s, h, c in r["itemsets"]}
        r["n_output"] = len(got)
        if r is reference:
            r["agreement"] = "reference"
            continue
        missing = len(ref.keys() - got.keys())
        extra = len(got.keys() - ref.keys())
        differ = sum(1 for s in ref.keys() & got.keys() if ref[s] != got[s])
        r["agreement"] = "= naive" if not (missing or extra or differ) else (
            f"≠ naive: {missing} missing, {extra} extra, {differ} counts differ")


def agreement_rules(records: list[dict[str, Any]], reference_method: str) -> None:
    reference = next((r for r in records if r["method"] == reference_method and r["status"] == "ok"), None)
    for r in records:
        if "rules" not in r:
            continue
        r["n_output"] = len(r["rules"])
        if reference is None or r is reference:
            r["agreement"] = "reference" if r is reference else "—"
            continue
        same = sorted(map(tuple, r["rules"])) == sorted(map(tuple, reference["rules"]))
        r["agreement"] = f"= {reference['label']}" if same else f"≠ {reference['label']}"


def planted_check(records: list[dict[str, Any]], planted: Sequence[Sequence[str]]) -> None:
    """Which reported rules are exactly a planted mechanism (``i0 == True and i1 == True ...``), which are not."""
    wanted = {frozenset(f"{item} == True" for item in m) for m in planted}
    for r in records:
        if "rules" not in r:
            continue
        stated = [frozenset(text.split(" → ")[0].split(" and ")) for text, _, _ in r["rules"]]
        found = len(wanted & set(stated))
        other = sum(1 for s in stated if s not in wanted)
        r["planted_found"], r["other_rules"] = found, other
        r["agreement"] = f"{r.get('agreement', '—')}; {found}/{len(wanted)} planted, {other} other"


def cli_rules(pack: Path) -> tuple[list[list[Any]], Any]:
    """The pack's rules as (text, hits, rows covered), and the hypotheses it counted."""
    doc = json.loads(pack.read_text())
    mining = doc.get("mining") if isinstance(doc.get("mining"), dict) else {}
    return [[r["text"], int(r["hits"]), int(r["n"])] for r in doc.get("rules", [])], mining.get("n_tests")


def bench_table(bench: Bench, dataset: str, rows: int, data: Path, min_count: int, peers: bool, engines: list[str],
                cli_targets: Sequence[str], cli_extra: Sequence[str], miner_data: Path,
                items_data: Path | None, planted: Sequence[Sequence[str]] | None = None) -> None:
    """CLI, RuleMiner per engine, and the itemset searches on one dataset."""
    print(f"\n{dataset}: {rows:,} rows (min count {min_count:,})", flush=True)
    pack = bench.work / f"{dataset}.pack.json"
    rule_runs = []
    for engine in engines:
        result = bench.work / f"{dataset}-miner-{engine}.json"
        rule_runs.append(bench.run(dataset, rows, f"miner:{engine}", f"RuleMiner[{engine}]",
                                   worker_cmd(sys.executable, f"miner:{engine}", miner_data, result, min_count),
                                   result, engine == "mlxtend"))
    agreement_rules(rule_runs, f"miner:{engines[0]}" if engines else "")
    cli = bench.run(dataset, rows, "cli", "leanlearn mine (CLI)", cli_cmd(data, pack, cli_targets, cli_extra), None,
                    False)
    if cli["status"] == "ok" and pack.exists():
        cli["seconds"] = cli["wall_s"]
        cli["rules"], cli["n_tests"] = cli_rules(pack)
        agreement_rules([*rule_runs, cli], "miner:bitset")
    if planted is not None:
        planted_check([*rule_runs, cli], planted)
        # the same command on the first 1,000 rows with no waste at all: nothing to mine, so this is what the CLI
        # costs around any mining (interpreter, imports, argument parsing, reading, pack writing) — the part of the
        # end-to-end time that no miner removes
        small = bench.work / f"{dataset}-nothing-to-mine.parquet"
        head = pq.ParquetFile(data).read().slice(0, 1000)
        for target in cli_targets:
            column = head.schema.get_field_index(target)
            head = head.set_column(column, target, pa.array(np.zeros(head.num_rows, dtype=bool)))
        pq.write_table(head, small)
        fixed = bench.run(dataset, rows, "cli:fixed", "leanlearn mine, nothing to mine",
                          cli_cmd(small, bench.work / "fixed.pack.json", cli_targets, cli_extra), None, False)
        if fixed["status"] == "ok":
            fixed["seconds"] = fixed["wall_s"]
        # the same command on the table as CSV, how most plant systems export it (True/False cells)
        text = bench.work / f"{dataset}.csv"
        pd.read_parquet(data).to_csv(text, index=False)
        csv_pack = bench.work / f"{dataset}.csv.pack.json"
        from_csv = bench.run(dataset, rows, "cli:csv", "leanlearn mine (CLI), from CSV",
                             cli_cmd(text, csv_pack, cli_targets, cli_extra), None, False)
        if from_csv["status"] == "ok" and csv_pack.exists():
            from_csv["seconds"] = from_csv["wall_s"]
            from_csv["rules"], from_csv["n_tests"] = cli_rules(csv_pack)
            from_csv["csv_mb"] = text.stat().st_size / 1e6
            agreement_rules([*rule_runs, from_csv], "miner:bitset")
        text.unlink()
    if items_data is None:
        return
    item_runs = []
    for method, label, python, capped in itemset_methods(peers, engines):
        result = bench.work / f"{dataset}-{method.replace(':', '_')}.json"
        item_runs.append(bench.run(dataset, rows, method, label, worker_cmd(python, method, items_data, result,
                                                                            min_count), result, capped))
    agreement_itemsets(item_runs)


def ai4i_items(path: Path) -> int:
    """AI4I as items: 5 quantile bins per numeric column and the product type; outcome Machine failure."""
    from leanlearn.data.datasets import load_ai4i

    frame = load_ai4i()
    items: dict[str, np.ndarray] = {}
    for col in AI4I_NUMERIC:
        values = frame[col].to_numpy(dtype=float)
        edges = np.unique(np.quantile(values, np.linspace(0, 1, AI4I_BINS + 1)[1:-1]))
        bins = np.searchsorted(edges, values, side="right")
        for b in range(len(edges) + 1):
            items[f"{col} bin {b}"] = bins == b
    for level in sorted(frame["Type"].unique()):
        items[f"Type == {level}"] = (frame["Type"] == level).to_numpy()
    table = pd.DataFrame(items)
    table[OUTCOME] = frame["Machine failure"].to_numpy() == 1
    table.to_parquet(path)
    return len(table)


# -- rule quality (benchmarks/rule_quality.py --no-peers) -----------------------------------------------------
def quality(quick: bool, work: Path) -> dict[str, Any]:
    from scipy.stats import binomtest

    from leanlearn.data.datasets import load_ai4i

    path = work / "rule_quality.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "rule_quality.py"), "--no-peers", "--json", str(path)]
    if quick:
        cmd.append("--quick")
    print("\nrule quality: " + " ".join(cmd[1:]), flush=True)
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not path.exists():
        print(done.stdout[-2000:], done.stderr[-2000:])
        return {"error": done.stderr[-2000:]}
    doc = json.loads(path.read_text())
    frame = load_ai4i()
    test_rate = {t: float(frame[t].mean()) for t in AI4I_TARGETS}
    held, total, failing = 0, 0, []
    for run in doc["heldout_runs"]:
        for rule in run["rule_list"]:
            total += 1
            n, k = int(rule.get("test_n") or 0), int(rule.get("test_hits") or 0)
            if n and binomtest(k, n, test_rate[run["target"]], alternative="greater").pvalue < 0.05:
                held += 1
            else:
                failing.append({"target": run["target"], "seed": run["seed"], "feature_set": run["feature_set"],
                                "text": rule["text"], "confidence": rule["confidence"], "n": rule["n"],
                                "test_n": n, "test_hits": k})
    random = [r for r in doc["random_labels"] if r["correction"] == "holm"]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "source": source_state(),
        "command": " ".join(cmd[1:]), "seconds": time.perf_counter() - started,
        "heldout": [{k: r[k] for k in ("target", "feature_set", "runs", "f1_mean", "f1_min", "f1_max",
                                       "rules_confident_max")} for r in doc["heldout"]],
        "rules_total": total, "rules_holding_on_test": held,
        "rules_holding_share": held / total if total else None, "rules_not_holding": failing,
        "holding_test": "one-sided binomial test of the rule's test hits against the target's base rate, p < 0.05",
        "random_labels_holm": [{k: r[k] for k in ("label", "feature_set", "runs", "runs_with_rules", "rules_total")}
                               for r in random],
        "goals": doc.get("goals", []),
    }


def previous_quality(path: Path) -> dict[str, Any] | None:
    """Without --quality, the quality section of the JSON being replaced stays (it carries its own date and commit)."""
    try:
        doc = json.loads(path.read_text()).get("quality")
    except (OSError, ValueError, AttributeError):
        return None
    if doc:
        print(f"note: the rule-quality section of {path} (measured {doc.get('date')}) is kept; --quality re-runs it")
    return doc or None


# -- report ---------------------------------------------------------------------------------------------------
def version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def bench_version(name: str) -> str | None:
    if not BENCH_PYTHON.exists():
        return None
    code = f"from importlib import metadata; print(metadata.version({name!r}))"
    probe = subprocess.run([str(BENCH_PYTHON), "-c", code], capture_output=True, text=True, check=False)
    return probe.stdout.strip() or None


def fmt_seconds(r: dict[str, Any]) -> str:
    if r["status"] == "ok":
        text = f"{r['seconds']:.3g}" if r["seconds"] < 1 else f"{r['seconds']:.2f}"
        return text + (f" (+{r['startup_s']:.0f} s start)" if "startup_s" in r else "")
    if r["status"] in ("timeout", "memory", "skipped"):
        return r.get("note", r["status"])
    return "error"


def print_table(runs: list[dict[str, Any]]) -> None:
    header = ["dataset", "rows", "method", "seconds", "peak MB", "output", "agreement"]
    rows = [[r["dataset"], f"{r['rows']:,}", r["label"], fmt_seconds(r),
             f"{r['peak_mb']:.0f}" if "peak_mb" in r else "—",
             str(r.get("n_output", "—")), r.get("agreement", r.get("note", "") if r["status"] == "error" else "")]
            for r in runs]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    print()  # a Markdown table, as benchmarks/README.md shows it
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(row, widths)) + " |")


def ratios(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per dataset: the CLI and each engine against the naive search and the peers (time ratios)."""
    out = []
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        ok = {r["method"]: r for r in runs if r["dataset"] == dataset and r["status"] == "ok"}
        naive = ok.get("naive")
        line: dict[str, Any] = {"dataset": dataset}
        same_task = (("cli", "cli:fixed", "cli:csv", "engine:bitset", "engine:spark") if dataset.startswith("planted")
                     else ("engine:bitset", "engine:spark"))  # on AI4I the CLI mines the raw table, the searches bins
        for method in same_task:
            if method in ok and naive:
                line[f"{method} / naive"] = ok[method]["seconds"] / naive["seconds"]
        for peer in ("mlxtend-fpgrowth", "mlxtend-apriori", "pyfim-fpgrowth", "pyfim-arules"):
            if "engine:bitset" in ok:
                r = next(r for r in runs if r["dataset"] == dataset and r["method"] == peer) if any(
                    r["dataset"] == dataset and r["method"] == peer for r in runs) else None
                if r is None:
                    continue
                if r["status"] == "ok":
                    line[f"{peer} / engine:bitset"] = r["seconds"] / ok["engine:bitset"]["seconds"]
                elif r["status"] in ("timeout", "skipped", "memory"):
                    line[f"{peer} / engine:bitset"] = f"{r.get('note')} (engine {ok['engine:bitset']['seconds']:.2f} s)"
        out.append(line)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 planted rows and 30 s timeouts")
    parser.add_argument("--rows", default=None,
                        help="planted sizes, comma-separated (default 100000,1000000), or 'none'")
    parser.add_argument("--no-peers", action="store_true", help="leanlearn and the naive search only")
    parser.add_argument("--no-ai4i", action="store_true", help="planted data only")
    parser.add_argument("--quality", action="store_true", help="also run rule_quality.py --no-peers")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds per run (default 120 from 1M rows on, 60 below; 30 with --quick)")
    parser.add_argument("--memory-cap", type=float, default=6.0, help="GB of address space per peer run (default 6)")
    parser.add_argument("--json", type=Path, default=RESULTS / "mining.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--min-count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data, args.result, args.min_count, MAX_CONDITIONS)
        return
    rows_arg = args.rows or ("20000" if args.quick else "100000,1000000")
    sizes = [] if rows_arg == "none" else [int(s) for s in rows_arg.split(",")]

    def timeout(rows: int) -> float:
        if args.timeout is not None:
            return float(args.timeout)
        return 30.0 if args.quick else (120.0 if rows >= 1_000_000 else 60.0)

    started_all = time.perf_counter()
    source = source_state()
    load_start = os.getloadavg()
    engines, skipped = registered_engines()
    for name, why in skipped.items():
        print(f"note: engine {name!r} is skipped: {why}")
    from leanlearn.data.planted import make_planted

    with tempfile.TemporaryDirectory(prefix="leanlearn-mining-") as tmp:
        work = Path(tmp)
        bench = Bench(work, timeout, int(args.memory_cap * GB))
        datasets = []
        for n in sizes:
            X, y, planted = make_planted(n, seed=0)
            path = work / f"planted_{n}.parquet"
            X.assign(**{OUTCOME: y}).to_parquet(path)
            del X
            min_count = math.ceil(MIN_SUPPORT * n)
            datasets.append({"dataset": f"planted {n:,}", "rows": n, "items": 60, "outcome_rate": float(y.mean()),
                             "min_count": min_count, "planted": [[m.text, m.confidence, m.coverage] for m in planted]})
            bench_table(bench, f"planted {n:,}", n, path, min_count, not args.no_peers, engines, [OUTCOME],
                        ["--min-support", str(MIN_SUPPORT), "--max-conditions", str(MAX_CONDITIONS)], path, path,
                        [m.items for m in planted])
        if not args.no_ai4i:
            from leanlearn.data.datasets import load_ai4i

            raw = work / "ai4i.parquet"
            load_ai4i().to_parquet(raw)
            items_path = work / "ai4i_items.parquet"
            n = ai4i_items(items_path)
            min_count = math.ceil(MIN_SUPPORT * n)
            datasets.append({"dataset": "ai4i", "rows": n, "cli_and_miner": "targets HDF PWF OSF TWF, declared "
                             "features, default settings (max_conditions 3)",
                             "itemsets": f"{AI4I_BINS} quantile bins per numeric column + Type, outcome Machine "
                             "failure, support >= 1 %", "min_count": min_count})
            cli_extra = [a for c in AI4I_IGNORE for a in ("--ignore", c)]
            cli_extra += [a for k, v in AI4I_DERIVE.items() for a in ("--derive", f"{k}={v}")]
            cli_extra += ["--max-conditions", str(MAX_CONDITIONS)]
            bench_table(bench, "ai4i", n, raw, min_count, not args.no_peers, engines, AI4I_TARGETS, cli_extra,
                        work / "ai4i", items_path)
        quality_doc = quality(args.quick, work) if args.quality else previous_quality(args.json)
    runs = bench.runs
    print_table(runs)
    summary = ratios(runs)
    for line in summary:
        print(f"{line['dataset']}: " + "; ".join(f"{k} = {v:.3g}" if isinstance(v, float) else f"{k}: {v}"
                                                  for k, v in line.items() if k != "dataset"))
    if quality_doc and "heldout" in quality_doc:
        print(f"rule quality: {quality_doc['rules_holding_on_test']}/{quality_doc['rules_total']} rules hold on the "
              "test rows; held-out F1 " + ", ".join(f"{h['target']} {h['feature_set']} {h['f1_mean']:.3f}"
                                                   for h in quality_doc["heldout"]))
        print("random labels (holm): " + ", ".join(f"{r['label']} {r['feature_set']} {r['runs_with_rules']}/"
                                                   f"{r['runs']}" for r in quality_doc["random_labels_holm"]))
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
        "machine": platform.machine(), "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GB, 1),
        "load_average_start": load_start, "load_average_end": os.getloadavg(),
        "seconds_total": time.perf_counter() - started_all, "quick": args.quick,
        "timeout_s": {f"{n:,} rows": timeout(n) for n in sorted({r["rows"] for r in runs})},
        "memory_cap_gb": args.memory_cap, "min_support": MIN_SUPPORT, "max_conditions": MAX_CONDITIONS,
        "engines": engines, "engines_skipped": skipped, "source": source,
        "versions": {n: version(n) for n in ("leanlearn", "numpy", "pandas", "pyarrow", "mlxtend", "pyspark",
                                             "numba", "scipy")} | {"pyfim (.venv-bench)": bench_version("pyfim")},
    }
    for r in runs:  # keep the JSON small: outputs are compared above, counts stay
        r.pop("itemsets", None)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "datasets": datasets, "runs": runs, "ratios": summary,
                                     "quality": quality_doc}, indent=2, default=str) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
