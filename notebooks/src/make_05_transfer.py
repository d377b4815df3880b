"""Writes notebooks/05_transfer.ipynb (run: .venv/bin/python notebooks/src/make_05_transfer.py)."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell("""# Rules across production lines: export, import, validate, promote

Line L1 has rules about its defects and its scrap. Line L2 wants them. Before any of them steers L2, its line
manager must know which hold there, which are weaker, which fail, and which cannot be judged yet — on L2's own data,
in L2's own vocabulary. This notebook walks the whole way on the synthetic two-line plant
(`leanlearn.data.synthetic`), whose mechanisms are planted, so we know the right answer:

- on L1, station S2 makes defects above **70 %RH**; on L2 the hall is the same but S2's seals are better: its
  defects start only above **76 %RH** (a second simulation with `humidity_threshold=76`, same seed);
- the scrap mechanism (S1 above 110 m/min scraps 3 × more) is the same on both lines;
- L2 names everything its own way: `workstation`, material codes `A1`…, speed in m/s, humidity as a fraction.

Everything runs against a private MLflow store (`LEANLEARN_HOME`); on a team, the same calls go to a shared
`mlflow server` (README, "A team server")."""),
    new_code_cell("""from pathlib import Path

import pandas as pd

from leanlearn.data.synthetic import make_line, material_codes
from leanlearn.packs import exchange, registry, signing
from leanlearn.packs.build import mine_pack
from leanlearn.packs.gate import Gate
from leanlearn.packs.mapping import Mapping, import_pack, require_compatible
from leanlearn.packs.transfer import validate_transfer
from leanlearn.packs.transfer_report import forest_plot, report_html
from leanlearn.pipeline import shipped_pipeline

pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)
COLUMNS = ["station", "material", "speed", "humidity_mean", "defect", "scrap_qty"]


def production(plant, line):
    ops = plant.canonical["operations"]
    ops = ops[(ops["kind"] == "production") & (ops["line"] == line)]
    return ops[COLUMNS].reset_index(drop=True)


l1 = production(make_line(seed=0, days=2, signal_hz=0.05), "L1")
print(f"line L1: {len(l1):,} production operations")"""),
    new_markdown_cell("""## 1. On L1: mine, register, review, export, sign

`mine_pack` finds the rules with their evidence; `register_pack` puts one model version per outcome in the
registry. L1's engineer reviews the defect rules (the same call the review app makes), then exports the version —
rules, evidence, review record and lineage in one JSON file — and signs it, so L2 can check who it came from."""),
    new_code_cell("""pack = mine_pack(l1, ["defect", "scrap_qty"], worse={"scrap_qty": "higher"}, line="L1", name="plant-l1",
                 auto_features=False, units={"humidity_mean": "%RH", "speed": "m/min", "scrap_qty": "kg"})
for rule in pack.rules:
    print(f"{rule.id:<14} {rule.text:<50} n={rule.n:<5} confidence={rule.confidence:.3f} p={rule.p_value:.1e}")
registered = {item.target: item for item in registry.register_pack(pack)}"""),
    new_code_cell("""defect = registered["defect"]
for rule in registry.review_state(defect.version_uri).rules:
    registry.review_rule(defect.version_uri, rule.rule_id, "approved", reviewer="Alice (L1)")
registry.promote_approved(defect.version_uri, reviewer="Alice (L1)")

keys = Path("keys")
keys.mkdir(exist_ok=True)
key, public = signing.generate_keypair(keys / "alice.key", signer="Alice (L1)")
files = {}
for target, item in registered.items():
    path = exchange.export_pack(item.version_uri).save(f"L1.{target}.json")
    files[target] = signing.sign_pack_file(path, key)
    print(f"{files[target]}: exported from {item.version_uri}, signed by Alice")"""),
    new_markdown_cell("""## 2. On L2: verify, map, import

L2 trusts Alice's public key. `read_pack` checks size, strict JSON, schema, content hash and then the signature;
with `require_signature=True` an unsigned or wrongly signed pack is refused. The mapping (shipped as
`pipelines/mappings/synthetic-l1-to-l2.yaml`) says how L1's names, codes and units read on L2; the compatibility
check runs before anything else and names every missing column, code or unit at once."""),
    new_code_cell("""mapping_file = shipped_pipeline("ai4i").parent / "mappings" / "synthetic-l1-to-l2.yaml"
print(mapping_file.read_text().split("schema:")[1])"""),
    new_code_cell("""def l2_vocabulary(table):
    codes = material_codes(tuple(sorted(table["material"].unique())))
    return pd.DataFrame({
        "workstation": table["station"],
        "item": table["material"].map(dict(zip(codes["material"], codes["mes_l2"]))),
        "speed_mps": table["speed"] / 60.0,
        "rh_frac": table["humidity_mean"] / 100.0,
        "nok": table["defect"].astype(int),
        "scrap_kg": table["scrap_qty"],
    })


l2 = l2_vocabulary(production(make_line(seed=0, days=2, signal_hz=0.05, humidity_threshold=76.0), "L2"))
mapping = Mapping.load(mapping_file)
imported = {}
for target, path in files.items():
    source, check = signing.read_pack(path, trusted_keys=public, require_signature=True)
    print(f"{path}: signature {check.status} ({check.signer})")
    require_compatible(source, l2, mapping, where="line L2")
    imported[target] = import_pack(source, "L2", mapping)
for rule in imported["defect"].rules:
    print(f"{rule.id:<14} {rule.text}")
imported["defect"].lineage"""),
    new_markdown_cell("""The thresholds are now in L2's units (`rh_frac >= 0.7`, not `humidity_mean >= 70`), the codes are
L2's, and the lineage says where the pack came from: source line, model, version, content hash, the mapping's
hash, the aliases it had on L1 and who signed it. The evidence is still L1's: that is the claim L2 checks.

## 3. On L2: validate on L2's data

Per rule: rows covered, confidence with a Wilson interval, lift — beside L1's figures — and three Holm-adjusted
one-sided tests: *weaker than at origin* (two proportions), *the same within a margin* (TOST, ±10 percentage points
capped at half the rule's origin confidence), *still pointing at waste* (Fisher). Numeric outcomes (the scrap) are
judged by their shift: Mann–Whitney and Cliff's delta."""),
    new_code_cell("""reports = {target: validate_transfer(pack_l2, l2) for target, pack_l2 in imported.items()}
for report in reports.values():
    print(report.summary())
table = pd.concat([r.to_frame() for r in reports.values()])
table[["rule_id", "verdict", "origin_n", "origin_confidence", "n", "confidence", "p_weaker_adj", "p_holds_adj",
       "needed_rows"]]"""),
    new_code_cell("""figure = forest_plot(reports["defect"])
figure"""),
    new_markdown_cell("""The defect rules — the mechanism that differs — come out weaker or failing; the scrap rules hold. That is the
planted truth.

## 4. Register on L2, log the validation, promote through the gate

The imported packs are registered on L2 under L2's names (`leanlearn.L2.nok`, `leanlearn.L2.scrap_kg`) as
`candidate` (L1's `approved` is lineage, not an alias on L2). The
validation report and the gate's decision are logged beside each version; `production` is set only on a version
whose validation passed the gate (here: no rule fails, at least half hold)."""),
    new_code_cell("""gate = Gate(max_fails=0, min_holds=0.5)
versions = {}
for target, pack_l2 in imported.items():
    [item] = registry.register_pack(pack_l2)
    result = gate.check(reports[target])
    exchange.log_validation(item.version_uri, reports[target], result,
                            report_html=report_html(reports[target], result))
    versions[target] = item
    print(f"{item.version_uri}: gate {'passed' if result.passed else 'failed'} — {'; '.join(result.reasons)}")"""),
    new_code_cell("""from leanlearn.errors import LeanlearnError

scrap = versions["scrap_qty"]
print(exchange.promote(scrap.name, scrap.version, "production", by="Bob (L2)"))
defect_l2 = versions["defect"]
try:
    exchange.promote(defect_l2.name, defect_l2.version, "production", by="Bob (L2)")
except LeanlearnError as refused:
    print(f"refused: {refused}")"""),
    new_markdown_cell("""An override exists for the line manager who knows better — it needs a reason, and the reason, who and
when become version tags and a line of the review log, never silent:

```python
exchange.promote(defect_l2.name, defect_l2.version, "production", by="Bob (L2)",
                 override_reason="seals replaced on S2 last week; re-validate after 2 weeks of data")
```

What the registry now holds, as `leanlearn pack list` shows it:"""),
    new_code_cell("""pd.DataFrame([v.to_json() for v in exchange.list_packs()])[
    ["name", "version", "line", "aliases", "review", "source_line", "validation", "n_rules"]]"""),
    new_markdown_cell("""The same from the command line:

```bash
leanlearn pack export models:/leanlearn.L1.defect@approved --out L1.defect.json
leanlearn pack sign L1.defect.json --key keys/alice.key
leanlearn pack import L1.defect.json --line L2 --mapping pipelines/mappings/synthetic-l1-to-l2.yaml --register
leanlearn pack validate L1.defect.L2.json l2.csv --model models:/leanlearn.L2.nok/1 --out report.html
leanlearn pack promote leanlearn.L2.nok 1 --alias production
```"""),
]

notebook = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
out = Path(__file__).resolve().parents[1] / "05_transfer.ipynb"
nbformat.write(notebook, out)
print(f"wrote {out}")
