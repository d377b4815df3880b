"""Explanations: a LightGBM surrogate and SHAP check each rule; the report is one self-contained HTML file."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import leanlearn as ll
from leanlearn.cli import app
from leanlearn.explain import ExplainSettings, Explanation
from leanlearn.explain.report import report_html, write_report
from leanlearn.mining.rules import Condition, Rule, RuleSet
from leanlearn.packs.pack import Feature, RulePack, Target
from leanlearn.pipeline import load_pipeline, run_pipeline, shipped_pipeline

NETWORK_REFERENCE = re.compile(r"""(src|href)\s*=\s*["']?\s*https?:""", re.IGNORECASE)


@pytest.fixture(scope="module")
def demo() -> tuple[RulePack, pd.DataFrame, Explanation]:
    """The demo pack (`leanlearn demo`: the shipped AI4I pipeline), its data and its explanation."""
    pack = run_pipeline(load_pipeline(shipped_pipeline("ai4i")))
    frame = ll.load_ai4i()
    return pack, frame, ll.explain(pack, frame)


def _rule(frame: pd.DataFrame, conditions: list[Condition], target: str, rule_id: str) -> Rule:
    """A rule with its evidence counted on ``frame``."""
    covered = np.ones(len(frame), dtype=bool)
    for c in conditions:
        covered &= c.mask(frame)
    y = frame[target].to_numpy() == 1
    return Rule.from_counts(conditions, target, hits=int((covered & y).sum()), n=int(covered.sum()),
                            positives=int(y.sum()), rows=len(frame), id=rule_id)


def _osf_rule(result: Explanation, *, with_type: bool) -> dict:
    """The demo's OSF rule on Type L (``with_type``) or the one on strain alone, whatever their order in the pack."""
    ids = [str(i) for i in result.rules["rule_id"] if str(i).startswith("OSF-")]
    found = [result.rule(i) for i in ids if ("Type" in result.rule(i)["features"]) == with_type]
    assert found, f"no OSF rule {'with' if with_type else 'without'} Type among {ids}"
    return found[0]


@pytest.fixture(scope="module")
def planted() -> tuple[RulePack, pd.DataFrame]:
    """Synthetic line: scrap when load >= 0.8 (plus 3 % label noise); ``humidity`` is pure noise. One true rule,
    one spurious rule on the noise feature (its counts are real, its feature explains nothing)."""
    rng = np.random.default_rng(7)
    n = 3000
    frame = pd.DataFrame({"load": rng.uniform(0, 1, n), "humidity": rng.uniform(0, 1, n),
                          "speed": rng.normal(100, 10, n)})
    frame["scrap"] = ((frame["load"] >= 0.8) ^ (rng.uniform(0, 1, n) < 0.03)).astype(int)
    true_rule = _rule(frame, [Condition("load", ">=", 0.8)], "scrap", "scrap-001")
    spurious = _rule(frame, [Condition("humidity", ">=", 0.7)], "scrap", "scrap-002")
    pack = RulePack(name="planted <line>", line="L1", description="<script>alert('x')</script> & more",
                    targets=(Target("scrap"),), rules=RuleSet((true_rule, spurious)),
                    features=tuple(Feature(c, "float64") for c in ("load", "humidity", "speed")))
    return pack, frame


@pytest.fixture(scope="module")
def planted_explanation(planted: tuple[RulePack, pd.DataFrame]) -> Explanation:
    pack, frame = planted
    return ll.explain(pack, frame, ExplainSettings(folds=3, n_estimators=40))


# -- the demo pack on AI4I --------------------------------------------------------------------------------------
def test_every_demo_rule_is_corroborated(demo: tuple[RulePack, pd.DataFrame, Explanation]) -> None:
    pack, _, result = demo
    assert sorted(result.rules["rule_id"]) == sorted(r.id for r in pack.rules)
    flagged = result.rules[~result.rules["corroborated"]]
    assert flagged.empty, flagged[["rule_id", "reason"]].to_string()
    assert (result.rules["sign_agreement"] >= result.settings.min_sign_agreement).all()
    assert (result.rules["shap_share"] >= result.settings.min_shap_share).all()


def test_surrogate_is_cross_validated_with_every_fold_recorded(
    demo: tuple[RulePack, pd.DataFrame, Explanation],
) -> None:
    _, _, result = demo
    assert set(result.models["metric"]) == {"auc"}
    assert (result.models["folds"] == 5).all()
    assert result.folds.groupby("target").size().to_dict() == {t: 5 for t in result.models["target"]}
    means = result.folds.groupby("target")["score"].mean()
    assert np.allclose(means[result.models["target"]].to_numpy(), result.models["score"].to_numpy())
    assert (result.models["score"] > 0.9).all()  # the failure modes of AI4I are close to deterministic


def test_demo_sentence_reads_the_osf_rule_in_rounded_numbers(demo: tuple[RulePack, pd.DataFrame, Explanation]) -> None:
    _, _, result = demo
    osf = _osf_rule(result, with_type=True)
    assert osf["sentence"].startswith("Parts with Type L and strain at least 11,000 minNm")
    assert "in 100 % of 87 cases, against 1 % overall — p < 1e-" in osf["sentence"]


def test_derived_features_are_judged_with_the_columns_they_are_computed_from(
    demo: tuple[RulePack, pd.DataFrame, Explanation],
) -> None:
    _, _, result = demo
    assert _osf_rule(result, with_type=False)["features"] == ["strain", "Tool wear [min]", "Torque [Nm]"]


def test_counterexamples_are_covered_rows_without_the_outcome(demo: tuple[RulePack, pd.DataFrame, Explanation]) -> None:
    _, frame, result = demo
    cex = result.counterexamples
    wrong = cex[(cex["rule_id"] == "TWF-001") & (cex["kind"] == "covered without outcome")]
    assert len(wrong) == result.settings.counterexamples
    for item in wrong.itertuples():
        row = frame.loc[item.row]
        assert row["Tool wear [min]"] >= 203 and row["TWF"] == 0
        assert item.values["Tool wear [min]"] == row["Tool wear [min]"]


def test_nearest_uncovered_rows_with_the_outcome_come_closest_first(
    demo: tuple[RulePack, pd.DataFrame, Explanation],
) -> None:
    _, frame, result = demo
    cex = result.counterexamples
    near = cex[(cex["rule_id"] == "TWF-002") & (cex["kind"] == "uncovered with outcome")]
    assert len(near) > 0 and near["distance"].is_monotonic_increasing
    assert all(frame.loc[r, "TWF"] == 1 and frame.loc[r, "Tool wear [min]"] < 232 for r in near["row"])


def test_report_is_self_contained_and_covers_every_rule(
    demo: tuple[RulePack, pd.DataFrame, Explanation], tmp_path: Path,
) -> None:
    pack, _, result = demo
    text = write_report(result, pack, tmp_path / "report.html").read_text(encoding="utf-8")
    assert not NETWORK_REFERENCE.search(text)
    assert "<script" not in text.lower()
    for rule in pack.rules:
        section = re.search(rf'<section class="rule[^"]*" id="{re.escape(rule.id)}">(.*?)</section>', text, re.S)
        assert section, rule.id
        body = section.group(1)
        assert html.escape(result.rule(rule.id)["sentence"]) in body
        assert "95 % CI" in body and "sign agreement" in body
        assert body.count('src="data:image/svg+xml;base64,') == len(rule.conditions)


# -- planted truth on synthetic data ----------------------------------------------------------------------------
def test_planted_spurious_rule_on_a_noise_feature_is_flagged_not_hidden(planted_explanation: Explanation) -> None:
    rules = planted_explanation.rules.set_index("rule_id")
    assert bool(rules.loc["scrap-001", "corroborated"])
    assert not bool(rules.loc["scrap-002", "corroborated"])
    assert "push toward scrap on only" in rules.loc["scrap-002", "reason"] or "|SHAP|" in rules.loc["scrap-002",
                                                                                                        "reason"]


def test_what_the_rules_miss_lists_a_strong_feature_no_rule_uses() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"load": rng.uniform(0, 1, 2000), "heat": rng.uniform(0, 1, 2000)})
    frame["scrap"] = ((frame["load"] >= 0.85) | (frame["heat"] >= 0.85)).astype(int)
    pack = RulePack(name="half", line="L1", targets=(Target("scrap"),),
                    rules=RuleSet((_rule(frame, [Condition("load", ">=", 0.85)], "scrap", "scrap-001"),)))
    result = ll.explain(pack, frame, ExplainSettings(folds=3, n_estimators=40))
    assert result.missed["feature"].tolist() == ["heat"]


def test_pack_text_is_html_escaped_in_the_report(planted: tuple[RulePack, pd.DataFrame],
                                                 planted_explanation: Explanation) -> None:
    pack, _ = planted
    text = report_html(planted_explanation, pack)
    assert "<script" not in text and "&lt;script&gt;" in text and "planted &lt;line&gt;" in text


def test_explanation_json_round_trips_through_strict_json(planted_explanation: Explanation) -> None:
    doc = json.loads(json.dumps(planted_explanation.to_json(), allow_nan=False))
    assert [r["rule_id"] for r in doc["rules"]] == ["scrap-001", "scrap-002"]
    assert {"sign_agreement", "shap_share", "corroborated", "reason", "counterexamples"} <= set(doc["rules"][0])


def test_same_seed_gives_the_same_figures(planted: tuple[RulePack, pd.DataFrame],
                                          planted_explanation: Explanation) -> None:
    pack, frame = planted
    again = ll.explain(pack, frame, ExplainSettings(folds=3, n_estimators=40))
    pd.testing.assert_frame_equal(again.rules, planted_explanation.rules)


# -- command line -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def planted_files(planted: tuple[RulePack, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path,
                                                                                                             Path]:
    pack, frame = planted
    folder = tmp_path_factory.mktemp("planted")
    return pack.save(folder / "pack.json"), _csv(frame, folder / "data.csv")


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_cli_json_prints_only_json_with_the_figures_per_rule(planted_files: tuple[Path, Path]) -> None:
    pack_file, data = planted_files
    result = CliRunner().invoke(app, ["explain", str(pack_file), str(data), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {r["rule_id"]: r["corroborated"] for r in doc["rules"]} == {"scrap-001": True, "scrap-002": False}


def test_cli_writes_the_report_and_flags_the_spurious_rule(planted_files: tuple[Path, Path], tmp_path: Path) -> None:
    pack_file, data = planted_files
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["explain", str(pack_file), str(data), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "scrap-002: NOT corroborated" in result.stdout and f"wrote the report to {out}" in result.stdout
    text = out.read_text(encoding="utf-8")
    assert 'id="scrap-001"' in text and 'id="scrap-002"' in text and not NETWORK_REFERENCE.search(text)


# -- staying light ----------------------------------------------------------------------------------------------
def test_import_leanlearn_and_reaching_explain_load_no_lightgbm_shap_or_matplotlib() -> None:
    code = "import sys, leanlearn\nassert callable(leanlearn.explain)\nprint(' '.join(sys.modules))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    assert not loaded & {"lightgbm", "shap", "matplotlib"}


def test_explain_is_the_same_callable_however_it_is_imported() -> None:
    import leanlearn.explain as package
    from leanlearn.explain import explain

    assert ll.explain is package is explain and callable(ll.explain)


def test_what_the_rules_miss_lists_an_interaction_no_single_rule_uses() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"load": rng.uniform(0, 1, 2000), "heat": rng.uniform(0, 1, 2000),
                          "speed": rng.uniform(0, 1, 2000)})
    frame["scrap"] = ((frame["load"] >= 0.5) & (frame["heat"] >= 0.5)).astype(int)
    rules = RuleSet((_rule(frame, [Condition("load", ">=", 0.5)], "scrap", "scrap-001"),
                     _rule(frame, [Condition("heat", ">=", 0.5)], "scrap", "scrap-002")))
    pack = RulePack(name="apart", line="L1", targets=(Target("scrap"),), rules=rules)
    result = ll.explain(pack, frame, ExplainSettings(folds=3, n_estimators=40))
    assert result.missed.empty
    pairs = {frozenset((r.feature, r.other)) for r in result.missed_interactions.itertuples()}
    assert pairs == {frozenset(("load", "heat"))}
    assert "load × heat" in report_html(result, pack) or "heat × load" in report_html(result, pack)


def test_numeric_target_is_judged_by_cross_validated_r2_and_the_worse_direction() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"load": rng.uniform(0, 1, 2000), "speed": rng.uniform(0, 1, 2000)})
    frame["setup_min"] = 10 + 5 * (frame["load"] > 0.7) + rng.normal(0, 1, 2000)
    pack = ll.mine_pack(frame, ["setup_min"], worse={"setup_min": "higher"}, line="L1")
    result = ll.explain(pack, frame, ExplainSettings(folds=3, n_estimators=40))
    assert result.models.loc[0, "metric"] == "r2" and result.models.loc[0, "score"] > 0.5
    assert result.rules["corroborated"].all()
    assert "have a higher setup_min: median 15 against" in result.rules.loc[0, "sentence"]


def test_rules_beyond_the_plot_limit_keep_their_section_without_plots(
    planted: tuple[RulePack, pd.DataFrame], planted_explanation: Explanation,
) -> None:
    pack, _ = planted
    text = report_html(planted_explanation, pack, max_plotted_rules=1)
    assert text.count('src="data:image/svg+xml') == 1
    assert 'id="scrap-002"' in text and "only the first 1 rules are plotted" in text
