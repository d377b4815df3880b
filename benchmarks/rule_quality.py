"""Rule quality on AI4I 2020: held-out F1 of confident rules, false rules on random labels, and peers side by side.

1. Held-out recovery. For each target (HDF, PWF, OSF; TWF for information) and each seed, a stratified 70/30 split:
   mine on the 70 %, predict a test row positive when any rule of training confidence >= 0.8 fires, and report the
   test F1, the number of such rules, the most conditions in one of them and the wall time of the fit. Twice: with
   the user-declared derived features (temp_diff, power, strain) and on the raw columns only (leanlearn then
   screens products, ratios and differences by itself).
2. Random labels. On all 10,000 rows, N runs with HDF permuted (seeds 0..N-1) and N runs with a balanced random
   target (p = 0.5, independent of the features): in how many runs does leanlearn report any rule? Default
   settings (Holm), and "bh" and "holdout" for information; raw columns (default) and declared features.
3. Peers, on the same splits and feature sets (derived columns added as plain columns), imported lazily and skipped
   with a note when not installed: mlxtend (fpgrowth on 5 quantile bins per numeric column, rules whose consequent
   is the target), imodels RuleFitClassifier and SkopeRulesClassifier, wittgenstein RIPPER; on random labels (raw
   columns) the same, plus pysubgroup (top-10 subgroups by WRAcc).

Usage: python benchmarks/rule_quality.py [--quick] [--no-peers] [--seeds N] [--permutations N] [--json PATH]
``--quick``: 1 seed and 5 runs per random-label kind. Prints a table per section and writes JSON (default
benchmarks/results/rule_quality.json).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from provenance import source_state

from leanlearn.data.datasets import load_ai4i
from leanlearn.mining.expressions import evaluate_derived
from leanlearn.mining.miner import RuleMiner

DERIVE = {
    "temp_diff": "`Process temperature [K]` - `Air temperature [K]`",
    "power": "`Torque [Nm]` * `Rotational speed [rpm]` * 2 * pi / 60",
    "strain": "`Tool wear [min]` * `Torque [Nm]`",
}
TARGETS = ("HDF", "PWF", "OSF", "TWF")
GOAL_TARGETS = ("HDF", "PWF", "OSF")
FEATURE_SETS = ("declared", "raw")
CORRECTIONS = ("holm", "bh", "holdout")
LABELS = ("HDF permuted", "balanced random")
CONFIDENT = 0.8
TEST_SHARE = 0.3
MLXTEND_SUPPORTS = (0.0005, 0.001)
QUANTILE_BINS = 5
PEER_PACKAGES = {"mlxtend": "mlxtend", "imodels": "imodels", "wittgenstein": "wittgenstein",
                 "pysubgroup": "pysubgroup"}
VERSIONED = ("leanlearn", "numpy", "pandas", "scipy", "scikit-learn", "mlxtend", "imodels", "wittgenstein",
             "pysubgroup")


# -- data -----------------------------------------------------------------------------------------------------
def stratified_split(y: np.ndarray, seed: int, test_share: float = TEST_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """Boolean train and test masks: ``test_share`` of each class goes to the test side (seeded)."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for cls in (False, True):
        idx = np.flatnonzero(y == cls)
        test[rng.choice(idx, size=int(round(test_share * idx.size)), replace=False)] = True
    return ~test, test


def features(X: pd.DataFrame, feature_set: str) -> pd.DataFrame:
    """The columns a peer sees: raw, or raw plus the declared derived features as plain columns."""
    return evaluate_derived(X, DERIVE) if feature_set == "declared" else X.copy()


def random_label(kind: str, seed: int, y_hdf: np.ndarray) -> np.ndarray:
    if kind == "HDF permuted":
        return np.random.default_rng(seed).permutation(y_hdf)
    return np.random.default_rng(10_000 + seed).random(len(y_hdf)) < 0.5


def scores(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    predicted, truth = np.asarray(predicted, dtype=bool), np.asarray(truth, dtype=bool)
    tp = int((predicted & truth).sum())
    denominator = int(predicted.sum() + truth.sum())
    return {"f1": 2 * tp / denominator if denominator else 0.0,
            "precision": tp / int(predicted.sum()) if predicted.any() else 0.0,
            "recall": tp / int(truth.sum()) if truth.any() else 0.0}


def conditions_in(rule_text: str) -> int:
    return str(rule_text).count(" and ") + 1


# -- leanlearn ------------------------------------------------------------------------------------------------
def leanlearn_heldout(X: pd.DataFrame, y: pd.Series, train: np.ndarray, test: np.ndarray, feature_set: str) -> dict:
    started = time.perf_counter()
    miner = RuleMiner(derive=DERIVE if feature_set == "declared" else None).fit(X[train], y[train])
    seconds = time.perf_counter() - started
    frame = evaluate_derived(X[test].reset_index(drop=True), miner.derived_)
    truth = y[test].to_numpy() == 1
    confident = [rule for rule in miner.rules_ if rule.confidence >= CONFIDENT]
    predicted = np.zeros(len(frame), dtype=bool)
    for rule in confident:
        predicted |= rule.mask(frame)
    return {
        **scores(predicted, truth), "seconds": seconds, "rules": len(miner.rules_), "rules_confident": len(confident),
        "max_conditions": max((len(r.conditions) for r in confident), default=0),
        "total_conditions": sum(len(r.conditions) for r in confident),
        "derived": dict(miner.derived_),
        "rule_list": [{"text": r.text, "confidence": r.confidence, "n": r.n, "hits": r.hits,
                       "conditions": len(r.conditions), "p_value": r.p_value,
                       "test_n": int(r.mask(frame).sum()), "test_hits": int((r.mask(frame) & truth).sum())}
                      for r in miner.rules_],
    }


def leanlearn_random(X: pd.DataFrame, label: np.ndarray, correction: str, feature_set: str) -> dict:
    started = time.perf_counter()
    miner = RuleMiner(correction=correction, derive=DERIVE if feature_set == "declared" else None).fit(
        X, pd.Series(label.astype(int), name="HDF"))
    return {"rules": len(miner.rules_), "seconds": time.perf_counter() - started,
            "texts": [r.text for r in miner.rules_]}


# -- peers ----------------------------------------------------------------------------------------------------
def quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def one_hot(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.get_dummies(frame, columns=["Type"], dtype=float)


class QuantileItems:
    """Items for mlxtend: ``QUANTILE_BINS`` quantile bins per numeric column (edges from the training rows),
    one-hot, and one item per level of a text column."""

    def fit(self, frame: pd.DataFrame) -> QuantileItems:
        self.edges_: dict[str, np.ndarray] = {}
        self.levels_: dict[str, list[str]] = {}
        for column in frame.columns:
            if pd.api.types.is_numeric_dtype(frame[column]):
                quantiles = np.linspace(0, 1, QUANTILE_BINS + 1)
                self.edges_[column] = np.unique(np.quantile(frame[column].to_numpy(dtype=float), quantiles))[1:-1]
            else:
                self.levels_[column] = sorted(map(str, frame[column].unique()))
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        items: dict[str, np.ndarray] = {}
        for column, inner in self.edges_.items():
            values = frame[column].to_numpy(dtype=float)
            which = np.searchsorted(inner, values, side="right")
            bounds = [-np.inf, *inner.tolist(), np.inf]
            for k in range(len(inner) + 1):
                items[f"{column} in [{bounds[k]:g}, {bounds[k + 1]:g})"] = which == k
        for column, levels in self.levels_.items():
            for level in levels:
                items[f"{column} == {level}"] = (frame[column].astype(str) == level).to_numpy()
        return pd.DataFrame(items)


def mlxtend_target_rules(items: pd.DataFrame, label: np.ndarray, min_support: float) -> pd.DataFrame:
    """Rules ``antecedent → target`` from fpgrowth + association_rules (all antecedent lengths, mlxtend's default).

    association_rules is given only the frequent itemsets that contain the target and their antecedents (the
    itemsets without the target): every support a rule of those itemsets needs is among them, so the target rules
    and their metrics are exactly those of association_rules on all itemsets, without enumerating millions of
    rules about the features alone.
    """
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    target = "__target__"
    frame = items.copy()
    frame[target] = np.asarray(label, dtype=bool)
    frequent = fpgrowth(frame, min_support=min_support, use_colnames=True)
    with_target = frequent[frequent.itemsets.map(lambda s: target in s)]
    if len(with_target) <= 1:
        return pd.DataFrame(columns=["antecedents", "confidence", "lift", "support"])
    antecedents = set(with_target.itemsets.map(lambda s: s - {target}))
    keep = frequent[frequent.itemsets.map(lambda s: target in s or s in antecedents)]
    rules = association_rules(keep, num_itemsets=len(frame), metric="confidence", min_threshold=0.0)
    return rules[rules.consequents == frozenset({target})].reset_index(drop=True)


def mlxtend_heldout(train_frame: pd.DataFrame, y_train: np.ndarray, test_frame: pd.DataFrame, seed: int,
                    min_support: float) -> dict:
    binner = QuantileItems().fit(train_frame)
    rules = mlxtend_target_rules(binner.transform(train_frame), y_train, min_support)
    confident = rules[rules.confidence >= CONFIDENT]
    test_items = binner.transform(test_frame)
    predicted = np.zeros(len(test_frame), dtype=bool)
    for antecedent in confident.antecedents:
        predicted |= test_items[sorted(antecedent)].all(axis=1).to_numpy()
    return {"predicted": predicted, "rules": len(confident),
            "max_conditions": int(confident.antecedents.map(len).max()) if len(confident) else 0,
            "rules_lift_1.5": int((rules.lift >= 1.5).sum())}


def mlxtend_random(frame: pd.DataFrame, label: np.ndarray, seed: int, min_support: float) -> dict:
    rules = mlxtend_target_rules(QuantileItems().fit(frame).transform(frame), label, min_support)
    return {"rules": int((rules.confidence >= CONFIDENT).sum()), "rules_lift_1.5": int((rules.lift >= 1.5).sum())}


def rulefit_fit(train_frame: pd.DataFrame, y_train: np.ndarray, seed: int) -> Any:
    from imodels import RuleFitClassifier

    # cv=False: the least regularisation that keeps at most max_rules=30 rules (cv=True runs a 5-fold CV at every
    # point of the path: ~40 s per fit here, too slow for a bounded benchmark).
    return quiet(RuleFitClassifier(cv=False, random_state=seed).fit, one_hot(train_frame), y_train.astype(int))


def rulefit_heldout(train_frame: pd.DataFrame, y_train: np.ndarray, test_frame: pd.DataFrame, seed: int) -> dict:
    model = rulefit_fit(train_frame, y_train, seed)
    test = one_hot(test_frame).reindex(columns=one_hot(train_frame).columns, fill_value=0.0)
    terms = model._get_rules()
    return {"predicted": np.asarray(quiet(model.predict, test)) == 1, "rules": len(model.rules_),
            "max_conditions": max((conditions_in(r) for r in model.rules_), default=0),
            "linear_terms": int(((terms.type == "linear") & (terms.coef != 0)).sum())}


def rulefit_random(frame: pd.DataFrame, label: np.ndarray, seed: int) -> dict:
    return {"rules": len(rulefit_fit(frame, label, seed).rules_)}


def skope_fit(train_frame: pd.DataFrame, y_train: np.ndarray, seed: int) -> Any:
    from imodels import SkopeRulesClassifier

    return quiet(SkopeRulesClassifier(random_state=seed).fit, one_hot(train_frame), y_train.astype(int))


def skope_heldout(train_frame: pd.DataFrame, y_train: np.ndarray, test_frame: pd.DataFrame, seed: int) -> dict:
    """A row is positive when any of its rules fires (skope-rules' own semantics, and the union scored for the
    others); imodels' ``predict`` (weighted vote of the rules > 1/2) is kept as ``predicted_vote``."""
    model = skope_fit(train_frame, y_train, seed)
    test = one_hot(test_frame).reindex(columns=one_hot(train_frame).columns, fill_value=0.0)
    union = quiet(model._predict_top_rules, test, len(model.rules_)) if model.rules_ else np.zeros(len(test))
    return {"predicted": np.asarray(union) == 1, "predicted_vote": np.asarray(quiet(model.predict, test)) == 1,
            "rules": len(model.rules_), "max_conditions": max((conditions_in(r) for r in model.rules_), default=0)}


def skope_random(frame: pd.DataFrame, label: np.ndarray, seed: int) -> dict:
    return {"rules": len(skope_fit(frame, label, seed).rules_)}


def ripper_fit(train_frame: pd.DataFrame, y_train: np.ndarray, seed: int) -> Any:
    import wittgenstein

    model = wittgenstein.RIPPER(random_state=seed)
    quiet(model.fit, train_frame.reset_index(drop=True), y_train.astype(int), pos_class=1)
    return model


def ripper_heldout(train_frame: pd.DataFrame, y_train: np.ndarray, test_frame: pd.DataFrame, seed: int) -> dict:
    model = ripper_fit(train_frame, y_train, seed)
    rules = model.ruleset_.rules
    return {"predicted": np.asarray(quiet(model.predict, test_frame.reset_index(drop=True)), dtype=bool),
            "rules": len(rules), "max_conditions": max((len(r.conds) for r in rules), default=0)}


def ripper_random(frame: pd.DataFrame, label: np.ndarray, seed: int) -> dict:
    return {"rules": len(ripper_fit(frame, label, seed).ruleset_.rules)}


def pysubgroup_random(frame: pd.DataFrame, label: np.ndarray, seed: int) -> dict:
    """Top-10 subgroups (beam search, depth 3, WRAcc, 5 bins): how many look positive (lift > 1.5, WRAcc > 0)."""
    import pysubgroup as ps

    data = frame.reset_index(drop=True).copy()
    data["__target__"] = np.asarray(label, dtype=bool)
    task = ps.SubgroupDiscoveryTask(data, ps.BinaryTarget("__target__", True),
                                    ps.create_selectors(data, nbins=QUANTILE_BINS, ignore=["__target__"]),
                                    result_set_size=10, depth=3, qf=ps.WRAccQF())
    table = quiet(lambda: ps.BeamSearch().execute(task).to_dataframe())
    return {"rules": int((table.lift > 1.5).sum()), "wracc_positive": int((table.quality > 0).sum()),
            "max_lift": float(table.lift.max()) if len(table) else 0.0,
            "top": [str(s) for s in table.subgroup.head(3)]}


HELDOUT_PEERS: dict[str, tuple[str, Callable[..., dict]]] = {
    **{f"mlxtend fpgrowth ms={ms}": ("mlxtend", lambda a, b, c, s, ms=ms: mlxtend_heldout(a, b, c, s, ms))
       for ms in MLXTEND_SUPPORTS},
    "imodels RuleFit": ("imodels", rulefit_heldout),
    "imodels SkopeRules": ("imodels", skope_heldout),
    "wittgenstein RIPPER": ("wittgenstein", ripper_heldout),
}
RANDOM_PEERS: dict[str, tuple[str, Callable[..., dict]]] = {
    **{f"mlxtend fpgrowth ms={ms}": ("mlxtend", lambda a, b, s, ms=ms: mlxtend_random(a, b, s, ms))
       for ms in MLXTEND_SUPPORTS},
    "imodels RuleFit": ("imodels", rulefit_random),
    "imodels SkopeRules": ("imodels", skope_random),
    "wittgenstein RIPPER": ("wittgenstein", ripper_random),
    "pysubgroup WRAcc top-10": ("pysubgroup", pysubgroup_random),
}


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def run_peer(name: str, fn: Callable[..., dict], errors: dict[str, str], *args: Any) -> dict | None:
    """Run one peer call; a peer that raises is recorded once (first error) and then skipped."""
    if name in errors:
        return None
    started = time.perf_counter()
    try:
        out = fn(*args)
    except Exception as exc:  # a broken peer is a result to report, not a reason to stop the benchmark
        errors[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        print(f"  note: {name} failed and is skipped from here on: {errors[name]}")
        return None
    out["seconds"] = time.perf_counter() - started
    return out


# -- summaries ------------------------------------------------------------------------------------------------
def summarise(runs: list[dict], keys: tuple[str, ...]) -> dict:
    out: dict[str, Any] = {"runs": len(runs)}
    for key in keys:
        values = [r[key] for r in runs if key in r]
        if values:
            out[f"{key}_mean"] = float(np.mean(values))
            out[f"{key}_min"] = float(np.min(values))
            out[f"{key}_max"] = float(np.max(values))
    return out


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))


def f1_cell(summary: dict) -> str:
    if "f1_mean" not in summary:
        return "-"
    return f"{summary['f1_mean']:.3f} ({summary['f1_min']:.3f}-{summary['f1_max']:.3f})"


def also(summary: dict) -> str:
    """A peer's extra figure for the held-out table."""
    if "f1_vote_mean" in summary:
        return f"F1 of predict() (vote) {summary['f1_vote_mean']:.3f}"
    if "linear_terms_mean" in summary:
        return f"+ {summary['linear_terms_mean']:.1f} linear terms"
    if "rules_lift_1.5_mean" in summary:
        return f"{summary['rules_lift_1.5_mean']:.0f} target rules with lift >= 1.5"
    return ""


def version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


# -- main -----------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 seed and 5 runs per random-label kind")
    parser.add_argument("--no-peers", action="store_true", help="leanlearn only")
    parser.add_argument("--seeds", type=int, default=None, help="split seeds 0..N-1 (default 3; 1 with --quick)")
    parser.add_argument("--permutations", type=int, default=None,
                        help="runs per random-label kind (default 20; 5 with --quick)")
    parser.add_argument("--rulefit-permutations", type=int, default=5,
                        help="random-label runs given to RuleFit, the slowest peer (~5 s a fit; default 5)")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "rule_quality.json")
    args = parser.parse_args()
    n_seeds = args.seeds if args.seeds is not None else (1 if args.quick else 3)
    n_perm = args.permutations if args.permutations is not None else (5 if args.quick else 20)
    started_all = time.perf_counter()
    source = source_state()  # the code under test is the one imported now
    load_at_start = os.getloadavg()

    peers_available: dict[str, bool] = {}
    if not args.no_peers:
        for package, module in PEER_PACKAGES.items():
            peers_available[package] = installed(module)
            if not peers_available[package]:
                print(f"note: {package} is not installed: its peer runs are skipped")
    errors: dict[str, str] = {}

    # 1. held-out recovery --------------------------------------------------------------------------------------
    heldout: list[dict] = []
    peer_heldout: list[dict] = []
    for target in TARGETS:
        X, y = load_ai4i(target=target)
        truth_all = y.to_numpy() == 1
        for seed in range(n_seeds):
            train, test = stratified_split(truth_all, seed)
            for feature_set in FEATURE_SETS:
                result = leanlearn_heldout(X, y, train, test, feature_set)
                heldout.append({"target": target, "seed": seed, "feature_set": feature_set, **result})
                if args.no_peers:
                    continue
                frame = features(X, feature_set)
                for name, (package, fn) in HELDOUT_PEERS.items():
                    if not peers_available.get(package):
                        continue
                    out = run_peer(name, fn, errors, frame[train], truth_all[train], frame[test], seed)
                    if out is None:
                        continue
                    predicted = out.pop("predicted")
                    if "predicted_vote" in out:
                        out["f1_vote"] = scores(out.pop("predicted_vote"), truth_all[test])["f1"]
                    peer_heldout.append({"peer": name, "target": target, "seed": seed, "feature_set": feature_set,
                                         **scores(predicted, truth_all[test]), **out})
        print(f"held-out {target}: done ({time.perf_counter() - started_all:.0f} s)", flush=True)

    keys = ("f1", "precision", "recall", "seconds", "rules", "rules_confident", "max_conditions", "total_conditions")
    heldout_summary = []
    for target in TARGETS:
        for feature_set in FEATURE_SETS:
            runs = [r for r in heldout if r["target"] == target and r["feature_set"] == feature_set]
            heldout_summary.append({"target": target, "feature_set": feature_set, **summarise(runs, keys)})
    print_table(
        f"1. leanlearn held-out ({n_seeds} seed(s), stratified 70/30; union of rules with training confidence >= "
        f"{CONFIDENT}; min-max over seeds)",
        ["target", "features", "test F1 mean (min-max)", "precision", "recall", "rules>=0.8 (max)",
         "max cond/rule", "cond total (max)", "all rules (max)", "fit s (mean)"],
        [[s["target"], s["feature_set"], f1_cell(s), f"{s['precision_mean']:.3f}", f"{s['recall_mean']:.3f}",
          f"{s['rules_confident_max']:.0f}", f"{s['max_conditions_max']:.0f}", f"{s['total_conditions_max']:.0f}",
          f"{s['rules_max']:.0f}", f"{s['seconds_mean']:.2f}"] for s in heldout_summary],
    )
    print("\nrules of seed 0:")
    for r in heldout:
        if r["seed"] == 0:
            for rule in r["rule_list"]:
                print(f"  {r['target']:4} {r['feature_set']:8} conf {rule['confidence']:.2f} n {rule['n']:4d} "
                      f"test {rule['test_hits']}/{rule['test_n']}  {rule['text']}")

    # 2. random labels ------------------------------------------------------------------------------------------
    X, y_hdf = load_ai4i(target="HDF")
    y_hdf = y_hdf.to_numpy() == 1
    random_runs: list[dict] = []
    peer_random: list[dict] = []
    for kind in LABELS:
        for seed in range(n_perm):
            label = random_label(kind, seed, y_hdf)
            for correction in CORRECTIONS:
                for feature_set in ("raw", "declared"):
                    out = leanlearn_random(X, label, correction, feature_set)
                    random_runs.append({"label": kind, "seed": seed, "correction": correction,
                                        "feature_set": feature_set, **out})
            if args.no_peers:
                continue
            for name, (package, fn) in RANDOM_PEERS.items():
                if not peers_available.get(package):
                    continue
                if name == "imodels RuleFit" and seed >= args.rulefit_permutations:
                    continue
                out = run_peer(name, fn, errors, X, label, seed)
                if out is not None:
                    peer_random.append({"peer": name, "label": kind, "seed": seed, "feature_set": "raw", **out})
        print(f"random labels {kind}: done ({time.perf_counter() - started_all:.0f} s)", flush=True)

    random_summary = []
    for kind in LABELS:
        for correction in CORRECTIONS:
            for feature_set in ("raw", "declared"):
                runs = [r for r in random_runs if r["label"] == kind and r["correction"] == correction
                        and r["feature_set"] == feature_set]
                random_summary.append({
                    "label": kind, "correction": correction, "feature_set": feature_set, "runs": len(runs),
                    "runs_with_rules": sum(r["rules"] > 0 for r in runs), "rules_total": sum(r["rules"] for r in runs),
                    "rules_max": max(r["rules"] for r in runs),
                    "seconds_mean": float(np.mean([r["seconds"] for r in runs])),
                    "examples": [t for r in runs for t in r["texts"]][:5],
                })
    print_table(
        f"2. leanlearn on random labels ({n_perm} runs each, all 10,000 rows): runs reporting any rule",
        ["label", "correction", "features", "runs with a rule", "rules in all runs", "fit s (mean)"],
        [[s["label"], s["correction"], "raw (default)" if s["feature_set"] == "raw" else "declared",
          f"{s['runs_with_rules']}/{s['runs']}", s["rules_total"], f"{s['seconds_mean']:.2f}"]
         for s in random_summary],
    )

    # 3. peers --------------------------------------------------------------------------------------------------
    peer_heldout_summary, peer_random_summary = [], []
    if not args.no_peers:
        peer_keys = ("f1", "precision", "recall", "seconds", "rules", "max_conditions", "linear_terms",
                     "rules_lift_1.5", "f1_vote")
        for name in HELDOUT_PEERS:
            for target in TARGETS:
                for feature_set in FEATURE_SETS:
                    runs = [r for r in peer_heldout if r["peer"] == name and r["target"] == target
                            and r["feature_set"] == feature_set]
                    if runs:
                        peer_heldout_summary.append({"peer": name, "target": target, "feature_set": feature_set,
                                                     **summarise(runs, peer_keys)})
        ours = [{"peer": "leanlearn (conf >= 0.8)", "target": s["target"], "feature_set": s["feature_set"],
                 **{k: v for k, v in s.items() if k not in ("target", "feature_set")},
                 "rules_max": s["rules_confident_max"]} for s in heldout_summary]
        print_table(
            f"3a. held-out, peers beside leanlearn ({n_seeds} seed(s); same splits; rules = rules behind the "
            "prediction, max over seeds)",
            ["method", "target", "features", "test F1 mean (min-max)", "rules (max)", "max cond/rule",
             "fit s (mean)", "also"],
            [[s["peer"], s["target"], s["feature_set"], f1_cell(s), f"{s['rules_max']:.0f}",
              f"{s['max_conditions_max']:.0f}", f"{s['seconds_mean']:.2f}", also(s)]
             for s in sorted(ours + peer_heldout_summary, key=lambda s: (TARGETS.index(s["target"]),
                                                                          s["feature_set"]))],
        )
        for name in RANDOM_PEERS:
            for kind in LABELS:
                runs = [r for r in peer_random if r["peer"] == name and r["label"] == kind]
                if not runs:
                    continue
                summary = {"peer": name, "label": kind, "feature_set": "raw", "runs": len(runs),
                           "runs_with_rules": sum(r["rules"] > 0 for r in runs),
                           "rules_mean": float(np.mean([r["rules"] for r in runs])),
                           "rules_max": int(max(r["rules"] for r in runs)),
                           "seconds_mean": float(np.mean([r["seconds"] for r in runs]))}
                for extra in ("rules_lift_1.5", "wracc_positive", "max_lift"):
                    if extra in runs[0]:
                        summary[f"{extra}_mean"] = float(np.mean([r[extra] for r in runs]))
                peer_random_summary.append(summary)
        holm = [s for s in random_summary if s["correction"] == "holm" and s["feature_set"] == "raw"]
        print_table(
            "3b. random labels, peers beside leanlearn (raw columns, all 10,000 rows): runs reporting any rule "
            "(mlxtend: rules with confidence >= 0.8; pysubgroup: top-10 subgroups with lift > 1.5)",
            ["method", "label", "runs with a rule", "rules per run (mean)", "rules per run (max)", "fit s (mean)"],
            [[s.get("peer", "leanlearn (holm, default)"), s["label"], f"{s['runs_with_rules']}/{s['runs']}",
              f"{s['rules_mean'] if 'rules_mean' in s else s['rules_total'] / max(s['runs'], 1):.1f}",
              s.get("rules_max", "-"), f"{s['seconds_mean']:.2f}"] for s in holm + peer_random_summary],
        )
        extras = [s for s in peer_random_summary if "rules_lift_1.5_mean" in s or "wracc_positive_mean" in s]
        if extras:
            print("\n  also on random labels (means per run):")
            for s in extras:
                if "rules_lift_1.5_mean" in s:
                    print(f"  {s['peer']:28} {s['label']:16} target rules with lift >= 1.5 (any confidence): "
                          f"{s['rules_lift_1.5_mean']:.1f}")
                else:
                    print(f"  {s['peer']:28} {s['label']:16} top-10 with WRAcc > 0: {s['wracc_positive_mean']:.1f}, "
                          f"largest lift {s['max_lift_mean']:.2f}")
        if errors:
            print("\npeers that failed:")
            for name, message in errors.items():
                print(f"  {name}: {message}")

    # 4. targets ------------------------------------------------------------------------------------------------
    def row(target: str, feature_set: str) -> dict:
        return next(s for s in heldout_summary if s["target"] == target and s["feature_set"] == feature_set)

    goals = []
    for target in GOAL_TARGETS:
        s = row(target, "declared")
        goals.append({"goal": f"{target} declared: test F1 >= 0.98", "value": round(s["f1_mean"], 4),
                      "met": s["f1_mean"] >= 0.98})
        goals.append({"goal": f"{target} declared: <= 3 rules with conf >= 0.8 (every seed)",
                      "value": s["rules_confident_max"], "met": s["rules_confident_max"] <= 3})
        goals.append({"goal": f"{target} declared: <= 4 conditions per rule (every seed)",
                      "value": s["max_conditions_max"], "met": s["max_conditions_max"] <= 4})
        goals.append({"goal": f"{target} declared: <= 4 conditions over its conf >= 0.8 rules (every seed)",
                      "value": s["total_conditions_max"], "met": s["total_conditions_max"] <= 4})
    for target in ("HDF", "PWF"):
        s = row(target, "raw")
        goals.append({"goal": f"{target} raw: test F1 >= 0.95", "value": round(s["f1_mean"], 4),
                      "met": s["f1_mean"] >= 0.95})
    for kind in LABELS:
        s = next(s for s in random_summary if s["label"] == kind and s["correction"] == "holm"
                 and s["feature_set"] == "raw")
        clean = s["runs"] - s["runs_with_rules"]
        goals.append({"goal": f"{kind}, holm, default: no rule in >= 95 % of runs",
                      "value": f"{clean}/{s['runs']} clean", "met": clean >= 0.95 * s["runs"]})
    print_table("4. done-when targets", ["goal", "measured", "met"],
                [[g["goal"], g["value"], "yes" if g["met"] else "NO"] for g in goals])

    total = time.perf_counter() - started_all
    meta = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
            "machine": platform.machine(), "cpus": os.cpu_count(), "seconds_total": total, "seeds": n_seeds,
            "permutations": n_perm, "rulefit_permutations": args.rulefit_permutations, "quick": args.quick,
            "peers": not args.no_peers, "confidence_threshold": CONFIDENT, "test_share": TEST_SHARE,
            "derive": DERIVE, "versions": {name: version(name) for name in VERSIONED},
            "source": source, "load_average_1_5_15_min": {"start": load_at_start, "end": os.getloadavg()},
            "peer_errors": errors}
    document = {"meta": meta, "heldout": heldout_summary, "heldout_runs": heldout, "random_labels": random_summary,
                "random_label_runs": random_runs, "peers_heldout": peer_heldout_summary,
                "peers_heldout_runs": peer_heldout, "peers_random_labels": peer_random_summary,
                "peers_random_label_runs": peer_random, "goals": goals}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2, default=float) + "\n")
    print(f"\ntotal {total:.0f} s; wrote {args.json}")


if __name__ == "__main__":
    main()
