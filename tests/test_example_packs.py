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


@pytest.mark.parametrize("path", PACKS, ids=[p.name for p in PACKS])
def test_example_pack_imports_for_another_line(path, tmp_path, monkeypatch):
    """What a line manager does first: `leanlearn pack import models/<pack>.json --line <theirs>`."""
    import json

    from typer.testing import CliRunner

    from leanlearn.cli import app

    monkeypatch.delenv("LEANLEARN_REQUIRE_SIGNATURES", raising=False)
    out = tmp_path / "imported.json"
    result = CliRunner().invoke(app, ["pack", "import", str(path), "--line", "L9", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    source, imported = RulePack.load(path), RulePack.load(out)
    assert summary["content_hash"] == imported.source_hash
    assert imported.line == "L9" and imported.parent == source.source_hash
    assert imported.lineage["source_line"] == source.line
    assert imported.lineage["source_content_hash"] == source.source_hash
    assert imported.lineage["source_signature"]["status"] == "unsigned"
    assert [r.to_json() for r in imported.rules] == [r.to_json() for r in source.rules]  # evidence and review kept
    exported = source.lineage.get("exported_from")
    if exported:  # an export names the registered version it came from
        assert imported.lineage["source_model"] == exported["model"]
        assert imported.lineage["source_version"] == exported["version"]


def test_exported_demo_packs_hold_on_the_data_they_were_mined_from():
    """The AI4I exports, validated on AI4I itself: no rule is weaker or fails (a pack reproduces its own evidence)."""
    from leanlearn.data.datasets import load_ai4i
    from leanlearn.packs.transfer import validate_transfer

    frame = load_ai4i()
    exports = [p for p in PACKS if p.name.startswith("ai4i.")]
    assert len(exports) == 4
    for path in exports:
        report = validate_transfer(RulePack.load(path), frame)
        assert report.counts["weaker"] == report.counts["fails"] == 0, report.summary()
        for v in report.verdicts:
            assert (v.n, v.hits) == (v.origin_n, v.origin_hits)
