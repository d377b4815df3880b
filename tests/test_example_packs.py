"""The example rule packs in models/ are what a line manager imports: each must load and verify."""

from pathlib import Path

import pytest

from leanlearn.packs.pack import RulePack

PACKS = sorted((Path(__file__).parents[1] / "models").glob("*.json"))


@pytest.mark.parametrize("path", PACKS, ids=[p.name for p in PACKS])
def test_example_pack_loads_with_valid_schema_and_hash(path):
    pack = RulePack.load(path)
    assert pack.rules, "an example pack should hold at least one rule"
    assert all(rule.p_value <= 0.05 for rule in pack.rules)
