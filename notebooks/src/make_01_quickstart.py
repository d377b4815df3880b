import nbformat as nbf
nb = nbf.v4.new_notebook()
md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
nb.cells = [
md("""# leanlearn quickstart: from process data to a registered rule pack

This notebook mines rules about machine failures from the **AI4I 2020** milling data shipped with leanlearn
(10,000 operations, CC BY 4.0, S. Matzka), explains them in numbers, saves them as a rule pack, and registers
the pack in MLflow so a process engineer can review it and another line can import it.

Everything here runs on a laptop: the default MLflow store is a SQLite file under `~/.leanlearn`
(set `LEANLEARN_HOME` or `MLFLOW_TRACKING_URI` to put it elsewhere)."""),
code("""import leanlearn as ll

frame = ll.load_ai4i()
frame.head()"""),
md("""## One outcome, one estimator

`RuleMiner` follows the scikit-learn contract: parameters in the constructor, `fit(X, y)`, learned state in
attributes ending in `_`. Physics tells us which combinations of columns matter, so we declare three derived
features as plain arithmetic (parsed with a whitelist, never `eval`'d). Thresholds are *found by the miner*."""),
code("""derive = {
    "temp_diff": "`Process temperature [K]` - `Air temperature [K]`",
    "power": "`Torque [Nm]` * `Rotational speed [rpm]` * 2 * pi / 60",
    "strain": "`Tool wear [min]` * `Torque [Nm]`",
}
X, y = ll.load_ai4i(target="HDF")
miner = ll.RuleMiner(derive=derive).fit(X, y)
print(f"{miner.n_tests_:,} hypotheses evaluated; {len(miner.rules_)} rule(s) survive the Holm correction")
miner.rules_.to_frame()[["id", "rule", "n", "confidence", "ci_low", "ci_high", "lift", "p_value"]]"""),
code("""for rule in miner.rules_:
    print(rule.describe())"""),
md("""Every rule carries its evidence: how many rows it covers (`n`), how often the failure follows (`confidence`,
with a 95 % Wilson interval), how much more often than usual (`lift`), and a one-sided Fisher exact p-value
adjusted for *every* candidate and threshold the search looked at — so a printed rule is a claim the data supports.

What the miner does not find matters as much: shuffle the labels and nothing comes out."""),
code("""import numpy as np
import pandas as pd

shuffled = pd.Series(np.random.default_rng(0).permutation(y.to_numpy()), name="HDF")
len(ll.RuleMiner(derive=derive).fit(X, shuffled).rules_)"""),
md("""## All failure modes at once: a rule pack

`mine_pack` mines each target and gathers the rules, the derived-feature expressions, the cut points, the mining
parameters and a fingerprint of the data into one JSON document with a content hash."""),
code("""pack = ll.mine_pack(
    frame,
    targets=["HDF", "PWF", "OSF", "TWF"],
    derive=derive,
    ignore=["Machine failure", "RNF"],
    line="ai4i",
    waste="downtime",
)
pack.rules.to_frame()[["id", "rule", "n", "confidence", "lift", "p_value"]]"""),
code("""import tempfile
from pathlib import Path

workdir = Path(tempfile.mkdtemp())
path = pack.save(workdir / "ai4i-failures.json")
again = ll.RulePack.load(path)          # checks the JSON Schema and the content hash
assert again.content_hash == pack.content_hash
again.apply(frame.head(8))"""),
md("""## Register in MLflow

Each target becomes a registered model `leanlearn.<line>.<target>` with the alias `candidate`; the pack JSON is
its only artifact (no pickles). Loading it back with `models:/…@candidate` gives a `pyfunc` whose `predict`
lists the rules that fire on each row."""),
code("""registered = ll.register_pack(pack)
for entry in registered:
    print(entry.name, "version", entry.version, "→", entry.uri)"""),
code("""from leanlearn.packs.registry import load_model

model = load_model(registered[0].uri)
model.predict(frame.head(5))"""),
md("""Open the MLflow UI on the same store to browse runs, versions and aliases:

```
mlflow ui --backend-store-uri sqlite:///$HOME/.leanlearn/mlflow.db
```"""),
]
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nbf.write(nb, "notebooks/01_quickstart.ipynb")
