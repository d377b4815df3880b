"""`leanlearn twin rules` and `leanlearn twin worth`: rule packs and modifiers in the twin, through the real CLI."""

import json
from pathlib import Path

from typer.testing import CliRunner

from leanlearn.cli import app as cli_app

MODELS = Path(__file__).parents[1] / "models"
LINE = """line: demo
time_unit: h
release: {policy: conwip, wip: 3}
materials: {A: {share: 0.5}, B: {share: 0.5}}
stations:
  - {name: S1, cycle: {dist: exponential, mean: 0.6}}
  - {name: S2, cycle: {dist: exponential, mean: 1.0}, setup: {default: 0}}
"""


def group():
    return cli_app


def test_worth_of_a_modifier_prints_only_json(tmp_path):
    spec = tmp_path / "line.yaml"
    spec.write_text(LINE)
    r = CliRunner().invoke(group(), ["twin", "worth", str(spec), "-m", "setup[S2][A->B] += 0.67", "--horizon", "400",
                                     "--replications", "4", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    th = next(k for k in doc["kpis"] if k["kpi"] == "throughput")
    assert th["diff"] < 0 and th["significant"]


def test_malformed_modifier_is_one_line_exit_2(tmp_path):
    spec = tmp_path / "line.yaml"
    spec.write_text(LINE)
    r = CliRunner().invoke(group(), ["twin", "worth", str(spec), "-m", "__import__('os')"])
    assert r.exit_code == 2 and "not of the form" in r.output and "Traceback" not in r.output


def test_rules_lists_every_rule_of_a_pack(tmp_path):
    spec = tmp_path / "line.yaml"
    spec.write_text(LINE.replace("S2", "Machine 5 - Turning & Milling"))
    r = CliRunner().invoke(group(), ["twin", "rules", str(spec), str(MODELS / "4tu-setups.json"), "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rules"]
    assert len(rows) == 4 and [x["status"] for x in rows].count("applicable") == 1
