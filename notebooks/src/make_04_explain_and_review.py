"""Writes notebooks/04_explain_and_review.ipynb (run: .venv/bin/python notebooks/src/make_04_explain_and_review.py)."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell("""# Explained rules and the engineers' review

A mined rule is a claim about a factory. Before an engineer changes a line because of it, two questions:

1. **Does an independent model see the same thing?** leanlearn fits a LightGBM surrogate per outcome on the
   pack's features (cross-validated) and asks SHAP, on the rows each rule covers, whether the rule's features push
   toward the outcome and how much of the model's attribution they hold there — *corroboration*. Rules the
   model does not see are flagged, never hidden.
2. **Who decided, when, and why?** Each decision is recorded in the MLflow registry as model-version tags and a
   review-log artifact; the alias `approved` is set only when every rule of a version is decided.

This notebook does both on the shipped AI4I 2020 data, with a private MLflow store (`LEANLEARN_HOME`)."""),
    new_code_cell("""import pandas as pd

import leanlearn as ll
from leanlearn.packs import registry
from leanlearn.pipeline import shipped_pipeline

pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)

pipeline = ll.load_pipeline(shipped_pipeline("ai4i"))   # the demo's pipeline
pack = ll.run_pipeline(pipeline)
frame = pipeline.source.read()
print(f"{len(pack.rules)} rules for {', '.join(t.name for t in pack.targets)} mined from {len(frame):,} rows")"""),
    new_markdown_cell("""## 1. Explain every rule

`ll.explain(pack, frame)` returns the figures as DataFrames: the surrogate models and their folds, one row per
rule with its plain-words sentence and corroboration, counterexamples, and what the rules miss."""),
    new_code_cell("""explanation = ll.explain(pack, frame)
explanation.models"""),
    new_code_cell("""explanation.rules[["rule_id", "sign_agreement", "shap_share", "corroborated", "sentence"]]"""),
    new_markdown_cell("""Counterexamples are where an engineer looks first: rows the rule covers without the outcome,
and the nearest rows it does not cover that have the outcome (distance in standard deviations)."""),
    new_code_cell("""explanation.counterexamples.head(8)"""),
    new_code_cell("""explanation.missed.head(8)   # strong SHAP effects that no rule uses: a hint, not a finding"""),
    new_markdown_cell("""The same as a self-contained HTML report (plots embedded, no network reference) — what
`leanlearn explain PACK.json DATA --out report.html` writes:"""),
    new_code_cell("""from leanlearn.explain.report import write_report

path = write_report(explanation, pack, "ai4i-report.html")
print(f"{path}: {path.stat().st_size / 1e6:.2f} MB")"""),
    new_markdown_cell("""## 2. Review: decisions that live in the registry

Register the pack (one model version per target), log the explanation beside each version, then record
decisions with `ll.review_rule` — the same code path the review app (`leanlearn review`) uses."""),
    new_code_cell("""registered = ll.register_pack(pack)
html = open(path, encoding="utf-8").read()
for item in registered:
    registry.log_explanation(item.version_uri, explanation.to_json(), html)
osf = next(item for item in registered if item.target == "OSF")
state = registry.review_state(osf.version_uri)
[(r.rule_id, r.decision) for r in state.rules]"""),
    new_code_cell("""first, second = [r.rule_id for r in state.rules][:2]
ll.review_rule(osf.version_uri, first, "approved", reviewer="Dana Ortiz")
try:
    registry.promote_approved(osf.version_uri, reviewer="Dana Ortiz")
except ll.LeanlearnError as error:
    print("refused:", error)"""),
    new_code_cell("""ll.review_rule(osf.version_uri, second, "rejected", reviewer="Dana Ortiz",
               reason="explained by the first rule; the strain limit is the one to act on")
state = registry.promote_approved(osf.version_uri, reviewer="Dana Ortiz")
print(state.summary, state.aliases)
[(r.rule_id, r.decision, r.reviewer, r.reason) for r in state.rules]"""),
    new_markdown_cell("""The registry is the single source of truth: the decisions are plain model-version tags that any
MLflow client reads, and the review log (one JSON line per decision, with the pack's content hash) is an artifact of the
version's run."""),
    new_code_cell("""from mlflow import MlflowClient

client = MlflowClient(tracking_uri=registry.default_tracking_uri())
version = client.get_model_version(osf.name, osf.version)
{k: v for k, v in version.tags.items() if k.startswith("leanlearn.review")}"""),
]

notebook = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                             "language": "python"}})
out = Path(__file__).resolve().parents[1] / "04_explain_and_review.ipynb"
nbformat.write(notebook, out)
print(f"wrote {out}")
