"""Packs between registries and lines: export with the review record, the round trip between two stores, listing,
the validation record and the promotion gate (with its override)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from leanlearn.errors import PackError, RegistryError
from leanlearn.mining.rules import Condition, Rule, RuleSet
from leanlearn.packs.exchange import (
    GATED_ALIASES,
    export_pack,
    find_versions,
    list_packs,
    log_validation,
    promote,
    read_validation,
    validation_path,
)
from leanlearn.packs.pack import RulePack, Target
from leanlearn.packs.registry import (
    promote_approved,
    read_review_log,
    register_pack,
    review_rule,
    review_state,
)

EVIDENCE = ("support", "coverage", "confidence", "lift", "leverage", "conviction", "n", "hits", "p_value",
            "p_value_raw", "ci", "base_rate", "holdout_confidence", "holdout_n", "waste")


def _rule(rule_id: str, feature: str, op: str, value: Any, confidence: float, n: int) -> Rule:
    hits = round(confidence * n)
    return Rule((Condition(feature, op, value),), Condition("scrap", "==", 1), support=hits / 1000,
                coverage=n / 1000, confidence=hits / n, lift=(hits / n) / 0.2, leverage=hits / 1000 - n / 1000 * 0.2,
                conviction=0.8 / (1 - hits / n), n=n, hits=hits, p_value=1e-6, p_value_raw=1e-8,
                ci=(hits / n - 0.07, min(hits / n + 0.05, 1.0)), base_rate=0.2, id=rule_id, holdout_confidence=0.81,
                holdout_n=40)


def _pack() -> RulePack:
    rules = RuleSet((
        _rule("R1", "torque", ">=", 60.0, 0.85, 120),
        _rule("R2", "temp_k", ">", 310.5, 0.7, 90),
        _rule("R3", "Type", "in", ["L", "M"], 0.62, 300),
        _rule("R4", "wear", ">=", 200, 0.55, 60),
    ))
    return RulePack(name="press", line="L1", targets=(Target("scrap"),), rules=rules,
                    description="four rules for the exchange tests",
                    data={"rows": 1000, "columns": ["torque", "temp_k", "Type", "wear", "scrap"], "sha256": "1" * 64})


@dataclass(frozen=True)
class Report:
    """What log_validation reads of a TransferReport."""

    content_hash: str
    counts: dict[str, int] = field(default_factory=lambda: {"holds": 3, "weaker": 1, "fails": 0, "not enough data": 0})
    margin: float = 0.10
    data_fingerprint: dict[str, Any] = field(default_factory=lambda: {"sha256": "2" * 64, "rows": 500,
                                                                      "columns": ["torque"]})

    def to_json(self) -> dict[str, Any]:
        return {"content_hash": self.content_hash, "counts": self.counts, "margin": self.margin,
                "data_fingerprint": self.data_fingerprint, "rules": []}


@dataclass(frozen=True)
class Gate:
    passed: bool
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": list(self.reasons)}


@dataclass
class Source:
    uri: str
    pack: RulePack
    version_uri: str
    exported: RulePack


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    """Store A: the pack registered, reviewed (3 approved, 1 rejected with a reason, a comment) and approved."""
    root = tmp_path_factory.mktemp("store-a")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    pack = _pack()
    [registered] = register_pack(pack, tracking_uri=uri)
    v = registered.version_uri
    review_rule(v, "R1", "approved", "ana", tracking_uri=uri)
    review_rule(v, "R1", "comment", "ana", "seen on the night shift too", tracking_uri=uri)
    review_rule(v, "R2", "approved", "ben", "matches the maintenance log", tracking_uri=uri)
    review_rule(v, "R3", "approved", "ana", tracking_uri=uri)
    review_rule(v, "R4", "rejected", "ben", "wear sensor replaced in May — spurious", tracking_uri=uri)
    promote_approved(v, "ana", tracking_uri=uri)
    yield Source(uri, pack, v, export_pack(v, tracking_uri=uri))


# -- export --------------------------------------------------------------------------------------------------------
def test_export_fills_every_review_record_and_keeps_the_evidence(source: Source) -> None:
    exported = source.exported
    assert [r.id for r in exported.rules] == ["R1", "R2", "R3", "R4"]
    for before, after in zip(source.pack.rules, exported.rules, strict=True):
        for name in EVIDENCE:
            assert getattr(after, name) == getattr(before, name), (before.id, name)
        assert after.conditions == before.conditions and after.outcome == before.outcome
    reviews = {r.id: r.review for r in exported.rules}
    assert reviews["R1"].status == "approved" and reviews["R1"].by == "ana"
    assert reviews["R1"].comment == "seen on the night shift too"
    assert reviews["R2"].reason == "matches the maintenance log" and reviews["R2"].by == "ben"
    assert reviews["R4"].status == "rejected" and reviews["R4"].reason == "wear sensor replaced in May — spurious"
    assert all(r.at and r.at.startswith("20") for r in reviews.values())
    origin = exported.lineage["exported_from"]
    assert origin["model"] == "leanlearn.L1.scrap" and origin["version"] == "1"
    assert origin["aliases"] == ["approved", "candidate"] and origin["review"] == "approved"
    assert origin["content_hash"] == source.pack.content_hash and origin["validation"] == "none"
    assert exported.signature is None
    assert exported.content_hash != source.pack.content_hash  # a new document


def test_export_survives_a_save_and_a_verified_load(source: Source, tmp_path: Path) -> None:
    path = source.exported.save(tmp_path / "export.json")
    again = RulePack.load(path)
    assert again == source.exported and again.lineage["exported_from"]["version"] == "1"


def test_export_of_an_unknown_model_version_or_uri_is_one_clear_error(source: Source) -> None:
    with pytest.raises(RegistryError, match="no registered model 'leanlearn.L9.scrap'"):
        export_pack("models:/leanlearn.L9.scrap/1", tracking_uri=source.uri)
    with pytest.raises(RegistryError, match="has no version 7"):
        export_pack("models:/leanlearn.L1.scrap/7", tracking_uri=source.uri)
    with pytest.raises(RegistryError, match="has no alias 'production'"):
        export_pack("models:/leanlearn.L1.scrap@production", tracking_uri=source.uri)
    with pytest.raises(RegistryError, match="not a model URI"):
        export_pack("leanlearn.L1.scrap", tracking_uri=source.uri)


# -- the round trip between two stores ------------------------------------------------------------------------------
def _mapping(tmp_path: Path) -> Any:
    mapping = pytest.importorskip("leanlearn.packs.mapping")
    path = tmp_path / "l1-to-l2.yaml"
    path.write_text(
        "schema: leanlearn.mapping/1\n"
        "source_line: L1\n"
        "target_line: L2\n"
        "features:\n"
        "  torque: torque_nm\n"
        "  temp_k: {column: temp_c, expr: \"temp_c + 273.15\"}\n"
        "  Type: {column: grade, codes: {L: Lo, M: Mid, H: Hi}}\n",
        encoding="utf-8",
    )
    return mapping.Mapping.load(path)


def _round_trip(source: Source, tmp_path: Path, line: str, mapping: Any) -> tuple[RulePack, RulePack, str, str]:
    """Export file → import for ``line`` → register in store B → export from B."""
    from leanlearn.packs.mapping import import_pack

    store_b = f"sqlite:///{tmp_path / 'b' / 'mlflow.db'}"
    (tmp_path / "b").mkdir()
    path = source.exported.save(tmp_path / "export.json")
    origin = RulePack.load(path)
    imported = import_pack(origin, line, mapping, source_model="leanlearn.L1.scrap", source_version="1")
    [registered] = register_pack(imported, tracking_uri=store_b)
    again = export_pack(registered.version_uri, tracking_uri=store_b)
    return imported, again, store_b, registered.version_uri


def _check_survived(source: Source, again: RulePack, store_b: str, version_uri: str, line: str,
                    renamed: dict[str, str]) -> None:
    assert again.line == line
    assert [r.id for r in again.rules] == [r.id for r in source.exported.rules]
    for before, after in zip(source.exported.rules, again.rules, strict=True):
        for name in EVIDENCE:
            assert getattr(after, name) == getattr(before, name), (before.id, name)
        assert [c.feature for c in after.conditions] == [renamed.get(c.feature, c.feature) for c in before.conditions]
        assert after.review == before.review, before.id  # decision, who, when, why, comment
    lineage = again.lineage
    assert lineage["source_line"] == "L1"
    assert lineage["source_model"] == "leanlearn.L1.scrap" and lineage["source_version"] == "1"
    assert lineage["source_content_hash"] == source.exported.content_hash
    assert sorted(lineage["source_aliases"]) == ["approved", "candidate"]
    # the aliases' meaning: recorded as lineage and tags; in store B the version is a candidate, not production
    origin_b = lineage["exported_from"]
    assert origin_b["aliases"] == ["candidate"] and "production" not in origin_b["aliases"]
    from mlflow import MlflowClient

    name, number = version_uri[len("models:/"):].rsplit("/", 1)
    tags = MlflowClient(tracking_uri=store_b, registry_uri=store_b).get_model_version(name, number).tags
    assert tags["leanlearn.lineage.source_line"] == "L1"
    assert tags["leanlearn.lineage.source_model"] == "leanlearn.L1.scrap"
    assert tags["leanlearn.lineage.source_version"] == "1"
    assert tags["leanlearn.lineage.source_content_hash"] == source.exported.content_hash
    assert sorted(tags["leanlearn.source_aliases"].split(",")) == ["approved", "candidate"]
    state = review_state(version_uri, tracking_uri=store_b)
    assert state["R4"].decision == "rejected" and state["R4"].reason == "wear sensor replaced in May — spurious"
    assert state["R1"].comment == "seen on the night shift too" and state.complete
    with pytest.raises(RegistryError, match="no validation"):
        promote(name, number, "production", by="carla", tracking_uri=store_b)


def test_round_trip_same_line_loses_nothing(source: Source, tmp_path: Path) -> None:
    pytest.importorskip("leanlearn.packs.mapping")
    _, again, store_b, version_uri = _round_trip(source, tmp_path, "L1", None)
    _check_survived(source, again, store_b, version_uri, "L1", {})
    assert again.lineage.get("mapping_hash") in (None, "")


def test_round_trip_to_another_line_through_a_mapping_loses_nothing(source: Source, tmp_path: Path) -> None:
    mapping = _mapping(tmp_path)
    _, again, store_b, version_uri = _round_trip(source, tmp_path, "L2", mapping)
    renamed = {"torque": "torque_nm", "temp_k": "temp_c", "Type": "grade"}
    _check_survived(source, again, store_b, version_uri, "L2", renamed)
    conditions = {r.id: r.conditions[0] for r in again.rules}
    assert (conditions["R1"].feature, conditions["R1"].value) == ("torque_nm", 60.0)
    assert conditions["R2"].feature == "temp_c" and conditions["R2"].value == pytest.approx(310.5 - 273.15)
    assert (conditions["R3"].feature, list(conditions["R3"].value)) == ("grade", ["Lo", "Mid"])
    assert str(again.lineage["mapping_hash"]).startswith("sha256:")
    name, number = version_uri[len("models:/"):].rsplit("/", 1)
    from mlflow import MlflowClient

    tags = MlflowClient(tracking_uri=store_b, registry_uri=store_b).get_model_version(name, number).tags
    assert tags["leanlearn.lineage.mapping_hash"] == again.lineage["mapping_hash"]
    assert name == "leanlearn.L2.scrap"


# -- listing and finding -------------------------------------------------------------------------------------------
def test_list_packs_names_versions_aliases_review_and_validation(source: Source) -> None:
    [version] = list_packs(tracking_uri=source.uri)
    assert (version.name, version.version, version.line, version.target) == ("leanlearn.L1.scrap", "1", "L1", "scrap")
    assert version.aliases == ("approved", "candidate") and version.review == "approved"
    assert version.source_line is None and version.n_rules == 4
    assert version.content_hash == source.pack.content_hash and version.created.startswith("20")
    assert list_packs(line="L2", tracking_uri=source.uri) == []
    assert [v.name for v in list_packs(line="L1", tracking_uri=source.uri)] == ["leanlearn.L1.scrap"]
    assert json.loads(json.dumps(version.to_json()))["uri"] == "models:/leanlearn.L1.scrap/1"


def test_find_versions_by_content_hash(source: Source) -> None:
    assert find_versions(source.pack.content_hash, tracking_uri=source.uri) == ["models:/leanlearn.L1.scrap/1"]
    assert find_versions(source.exported.content_hash, tracking_uri=source.uri) == []
    for bad in ("sha256:xyz", "' OR 1=1 --", 42, ""):
        with pytest.raises(RegistryError, match="not a content hash"):
            find_versions(bad, tracking_uri=source.uri)  # type: ignore[arg-type]


def test_list_packs_on_an_empty_store_and_a_bad_line(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'empty.db'}"
    assert list_packs(tracking_uri=uri) == []
    with pytest.raises(RegistryError, match="not a line name"):
        list_packs(line="  ", tracking_uri=uri)


# -- validation record and the gate --------------------------------------------------------------------------------
@pytest.fixture
def target(tmp_path: Path) -> tuple[str, str, str, RulePack]:
    """A fresh store with one version of the pack, aliased candidate."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    pack = _pack()
    [registered] = register_pack(pack, tracking_uri=uri)
    return uri, registered.name, registered.version, pack


def test_gate_refuses_production_without_a_validation(target: tuple[str, str, str, RulePack]) -> None:
    uri, name, number, _ = target
    assert GATED_ALIASES == ("production",)
    with pytest.raises(RegistryError) as info:
        promote(name, number, "production", by="carla", tracking_uri=uri)
    message = str(info.value)
    assert "has no validation" in message and f"--model models:/{name}/{number}" in message
    assert "leanlearn pack validate" in message and "--override-reason" in message
    assert "production" not in list_packs(tracking_uri=uri)[0].aliases


def test_gate_refuses_a_failed_validation_and_passes_a_passing_one(target: tuple[str, str, str, RulePack]) -> None:
    uri, name, number, pack = target
    version_uri = f"models:/{name}/{number}"
    path = log_validation(version_uri, Report(pack.content_hash, counts={"holds": 1, "fails": 2}),
                          Gate(False, ("2 rule(s) fail: R2, R4",)), report_html="<html>report</html>",
                          tracking_uri=uri, by="carla")
    assert path == validation_path(name, number) == "validation/leanlearn_L1_scrap.v1.json"
    assert list_packs(tracking_uri=uri)[0].validation == "failed"
    with pytest.raises(RegistryError, match=r"did not pass the gate \(2 rule\(s\) fail: R2, R4\)"):
        promote(name, number, "production", by="carla", tracking_uri=uri)

    log_validation(version_uri, Report(pack.content_hash), Gate(True), report_html="<html>ok</html>",
                   tracking_uri=uri, by="carla")
    done = promote(name, number, "production", by="carla", tracking_uri=uri)
    assert (done.alias, done.gate, done.validation, done.by) == ("production", "passed", "passed", "carla")
    assert done.uri == f"models:/{name}@production" and done.override_reason is None
    assert list_packs(tracking_uri=uri)[0].aliases == ("candidate", "production")
    from mlflow import MlflowClient

    tags = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version(name, number).tags
    assert tags["leanlearn.validation"] == "passed"
    assert json.loads(tags["leanlearn.validation.counts"]) == {"fails": 0, "holds": 3, "not enough data": 0,
                                                               "weaker": 1}
    assert json.loads(tags["leanlearn.validation.gate"]) == {"passed": True, "reasons": []}
    assert tags["leanlearn.validation.content_hash"] == pack.content_hash
    assert tags["leanlearn.lineage.target_data_fingerprint"] == "sha256:" + "2" * 64
    assert tags["leanlearn.validation.rows"] == "500" and tags["leanlearn.validation.margin"] == "0.1"
    assert tags["leanlearn.promoted.production.gate"] == "passed"
    assert not any(k.startswith("leanlearn.override.") for k in tags)
    stored = read_validation(version_uri, tracking_uri=uri)
    assert stored is not None and stored["status"] == "passed" and stored["report"]["counts"]["holds"] == 3
    assert stored["by"] == "carla" and stored["gate"] == {"passed": True, "reasons": []}
    events = [(e.get("event"), e.get("decision")) for e in read_review_log(version_uri, tracking_uri=uri)]
    assert events == [("validation", "failed"), ("validation", "passed"), ("promotion", "passed")]


def test_gate_refuses_a_validation_of_another_content(target: tuple[str, str, str, RulePack]) -> None:
    uri, name, number, _ = target
    version_uri = f"models:/{name}/{number}"
    other = "sha256:" + "3" * 64
    with pytest.raises(RegistryError, match="the validation report is of pack sha256:333"):
        log_validation(version_uri, Report(other), Gate(True), tracking_uri=uri)
    assert read_validation(version_uri, tracking_uri=uri) is None
    # a validation recorded earlier for content the version no longer matches (tags written by hand, an old tool)
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.set_model_version_tag(name, number, "leanlearn.validation", "passed")
    client.set_model_version_tag(name, number, "leanlearn.validation.content_hash", other)
    with pytest.raises(RegistryError, match="judged another pack"):
        promote(name, number, "production", by="carla", tracking_uri=uri)


def test_override_promotes_and_records_reason_tags_and_a_log_line(target: tuple[str, str, str, RulePack]) -> None:
    uri, name, number, _ = target
    reason = "trial week on L1 night shift; watched daily by the line lead"
    done = promote(name, number, "production", by="dana", override_reason=reason, tracking_uri=uri)
    assert (done.gate, done.validation, done.override_reason) == ("overridden", "none", reason)
    from mlflow import MlflowClient

    tags = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version(name, number).tags
    assert tags["leanlearn.override.production.reason"] == reason
    assert tags["leanlearn.override.production.by"] == "dana"
    assert tags["leanlearn.override.production.at"] == done.at
    assert tags["leanlearn.promoted.production.gate"] == "overridden"
    [line] = read_review_log(f"models:/{name}/{number}", tracking_uri=uri)
    assert line["event"] == "promotion" and line["decision"] == "overridden" and line["reason"] == reason
    assert line["reviewer"] == "dana" and line["alias"] == "production"
    assert "production" in list_packs(tracking_uri=uri)[0].aliases


def test_override_needs_a_real_bounded_reason_on_a_gated_alias(target: tuple[str, str, str, RulePack]) -> None:
    uri, name, number, _ = target
    for bad, message in (("   ", "needs a reason"), ("x" * 2001, "keep it to 2,000"), (42, "must be text")):
        with pytest.raises(RegistryError, match=message):
            promote(name, number, "production", by="dana", override_reason=bad, tracking_uri=uri)  # type: ignore
    with pytest.raises(RegistryError, match="no gate to override"):
        promote(name, number, "staging", by="dana", override_reason="because", tracking_uri=uri)
    assert list_packs(tracking_uri=uri)[0].aliases == ("candidate",)


def test_other_aliases_are_free_and_approved_needs_every_rule_decided(target: tuple[str, str, str, RulePack]) -> None:
    uri, name, number, _ = target
    done = promote(name, number, "staging", by="dana", tracking_uri=uri)
    assert (done.gate, done.alias) == ("free", "staging")
    with pytest.raises(RegistryError, match="4 of 4 rule\\(s\\) not decided"):
        promote(name, number, "approved", by="dana", tracking_uri=uri)
    for rid in ("R1", "R2", "R3", "R4"):
        review_rule(f"models:/{name}/{number}", rid, "approved", "dana", tracking_uri=uri)
    assert promote(name, number, "approved", by="dana", tracking_uri=uri).gate == "reviewed"
    assert list_packs(tracking_uri=uri)[0].aliases == ("approved", "candidate", "staging")


def test_unusable_aliases_are_refused(target: tuple[str, str, str, RulePack]) -> None:
    uri, name, number, _ = target
    for alias in ("latest", "v2", "prod uction", "", "a/b", "é\u202e", None):
        with pytest.raises(RegistryError, match="is not usable"):
            promote(name, number, alias, by="dana", tracking_uri=uri)  # type: ignore[arg-type]
    assert list_packs(tracking_uri=uri)[0].aliases == ("candidate",)


def test_bad_versions_names_and_promoters_are_refused(target: tuple[str, str, str, RulePack],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    uri, name, number, _ = target
    for bad in ("x", "-1", "1.5", "9" * 30):
        with pytest.raises(RegistryError, match="not a model version number"):
            promote(name, bad, "staging", by="dana", tracking_uri=uri)
    with pytest.raises(RegistryError, match="has no version 5"):
        promote(name, 5, "staging", by="dana", tracking_uri=uri)
    with pytest.raises(RegistryError, match="no registered model 'leanlearn.L9.scrap'"):
        promote("leanlearn.L9.scrap", 1, "staging", by="dana", tracking_uri=uri)
    with pytest.raises(RegistryError, match="not a registered model name"):
        promote("models:/leanlearn.L1.scrap/1", 1, "staging", by="dana", tracking_uri=uri)
    monkeypatch.setenv("LEANLEARN_REVIEWER", "erik")
    assert promote(name, number, "staging", tracking_uri=uri).by == "erik"
    with pytest.raises(RegistryError, match="keep it to 200"):
        promote(name, number, "staging", by="z" * 201, tracking_uri=uri)


def test_log_validation_refuses_hostile_reports(target: tuple[str, str, str, RulePack]) -> None:
    uri, name, number, pack = target
    version_uri = f"models:/{name}/{number}"
    with pytest.raises(RegistryError, match="no fingerprint of the data"):
        log_validation(version_uri, Report(pack.content_hash, data_fingerprint={"rows": 3}), Gate(True),
                       tracking_uri=uri)
    with pytest.raises(RegistryError, match="names no pack content hash"):
        log_validation(version_uri, Report("nope"), Gate(True), tracking_uri=uri)
    with pytest.raises(RegistryError, match="is not a leanlearn report"):
        log_validation(version_uri, object(), Gate(True), tracking_uri=uri)
    with pytest.raises(RegistryError, match="neither passed nor failed"):
        log_validation(version_uri, Report(pack.content_hash), Gate("yes"), tracking_uri=uri)  # type: ignore
    with pytest.raises(RegistryError, match="no registered model"):
        log_validation("models:/leanlearn.L7.scrap/1", Report(pack.content_hash), Gate(True), tracking_uri=uri)
    # huge gate reasons and unicode: the tag stays bounded, the artifact keeps everything
    reasons = tuple(f"règle R{i} échoue — {'x' * 500}" for i in range(40))
    log_validation(version_uri, Report(pack.content_hash), Gate(False, reasons), tracking_uri=uri)
    from mlflow import MlflowClient

    tags = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version(name, number).tags
    assert len(tags["leanlearn.validation.gate"]) <= 4000
    assert json.loads(tags["leanlearn.validation.gate"])["more"] == 30
    stored = read_validation(version_uri, tracking_uri=uri)
    assert stored is not None and len(stored["gate"]["reasons"]) == 40


def test_tampered_registered_artifact_is_refused_on_export(tmp_path: Path) -> None:
    """The registered artifact is re-verified on export: an edited pack never travels."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    [registered] = register_pack(_pack(), tracking_uri=uri)
    edited = 0
    for path in (tmp_path / "mlartifacts").rglob("pack.json"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["rules"][0]["if"][0]["value"] = 10.0
        path.write_text(json.dumps(doc), encoding="utf-8")
        edited += 1
    assert edited >= 1
    with pytest.raises(PackError, match="content hash mismatch"):
        export_pack(registered.version_uri, tracking_uri=uri)


def test_a_real_transfer_report_and_gate_are_recorded_and_steer_the_gate(
        target: tuple[str, str, str, RulePack]) -> None:
    """TransferReport and GateResult as leanlearn makes them (not stand-ins): tags, artifact, verdict of the gate."""
    import numpy as np
    import pandas as pd

    from leanlearn.packs.gate import Gate as RealGate
    from leanlearn.packs.transfer import validate_transfer

    uri, name, number, pack = target
    rng = np.random.default_rng(7)
    rows = 4000
    frame = pd.DataFrame({"torque": rng.uniform(20, 80, rows), "temp_k": rng.uniform(300, 315, rows),
                          "Type": rng.choice(["L", "M", "H"], rows), "wear": rng.integers(0, 250, rows)})
    risk = np.where(frame["torque"] >= 60, 0.85, 0.05)
    frame["scrap"] = (rng.uniform(size=rows) < risk).astype(int)
    report = validate_transfer(pack, frame)
    strict, lax = RealGate(max_fails=0, min_holds=1.0), RealGate(max_fails=4, min_holds=0.0)
    version_uri = f"models:/{name}/{number}"
    log_validation(version_uri, report, strict.check(report), report_html="<p>r</p>", tracking_uri=uri, by="carla")
    from mlflow import MlflowClient

    tags = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version(name, number).tags
    assert json.loads(tags["leanlearn.validation.counts"]) == report.counts
    assert report.counts["holds"] < 4 and tags["leanlearn.validation"] == "failed"
    assert tags["leanlearn.lineage.target_data_fingerprint"] == "sha256:" + report.data_fingerprint["sha256"]
    assert tags["leanlearn.validation.rows"] == str(rows)
    with pytest.raises(RegistryError, match="did not pass the gate"):
        promote(name, number, by="carla", tracking_uri=uri)
    log_validation(version_uri, report, lax.check(report), tracking_uri=uri, by="carla")
    assert promote(name, number, by="carla", tracking_uri=uri).gate == "passed"
    stored = read_validation(version_uri, tracking_uri=uri)
    assert stored is not None and stored["report"]["verdicts"][0]["rule_id"] == "R1"
    from dataclasses import replace as _replace

    with pytest.raises(RegistryError, match="judged the pack on line 'L7'"):
        log_validation(version_uri, _replace(report, target="L7"), lax.check(report), tracking_uri=uri)


def test_a_validation_of_the_whole_multi_target_pack_counts_for_each_target_version(tmp_path: Path) -> None:
    """A pack with two targets is registered as two versions; validating the whole pack file is accepted by both
    (its hash is their ``source_pack_hash``), a later validation replaces the earlier figures."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    base = _pack()
    rework = Rule((Condition("rpm", "<", 1100.0),), Condition("rework", "==", 1), support=0.05, coverage=0.1,
                  confidence=0.5, lift=2.5, leverage=0.03, conviction=1.6, n=100, hits=50, p_value=1e-3,
                  p_value_raw=1e-4, ci=(0.4, 0.6), base_rate=0.2, id="W1", waste="overprocessing")
    pack = RulePack(name="two", line="L1", targets=(Target("scrap"), Target("rework", waste="overprocessing")),
                    rules=RuleSet((*base.rules, rework)))
    scrap, rework_version = register_pack(pack, tracking_uri=uri)
    for registered in (scrap, rework_version):
        log_validation(registered.version_uri, Report(pack.content_hash), Gate(True), tracking_uri=uri)
        assert promote(registered.name, registered.version, by="dana", tracking_uri=uri).gate == "passed"
    log_validation(scrap.version_uri, Report(pack.content_hash, data_fingerprint={"sha256": "4" * 64}),
                   Gate(False, ("1 rule fails",)), tracking_uri=uri)
    from mlflow import MlflowClient

    tags = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version(scrap.name, scrap.version).tags
    assert tags["leanlearn.validation"] == "failed" and "leanlearn.validation.rows" not in tags
    assert tags["leanlearn.lineage.target_data_fingerprint"] == "sha256:" + "4" * 64
    with pytest.raises(RegistryError, match=r"did not pass the gate \(1 rule fails\)"):
        promote(scrap.name, scrap.version, by="dana", tracking_uri=uri)
