"""Registration is idempotent by content hash and survives a flaky registry: SQLite store, failures injected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow.protos.databricks_pb2 import (
    BAD_REQUEST,
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    TEMPORARILY_UNAVAILABLE,
)

from leanlearn.errors import RegistryError
from leanlearn.mining.rules import Condition, Review, Rule, RuleSet
from leanlearn.packs import registry
from leanlearn.packs.pack import RulePack, Target
from leanlearn.packs.registry import (
    load_pack,
    pack_version_tags,
    register_pack,
    review_state,
    split_pack,
    versions_with_hash,
)


def _rule(rule_id: str, target: str = "scrap", threshold: float = 60.0, review: Review | None = None) -> Rule:
    return Rule(
        (Condition("torque", ">=", threshold),), Condition(target, "==", 1), support=0.1, coverage=0.12,
        confidence=0.85, lift=4.2, leverage=0.07, conviction=5.3, n=120, hits=102, p_value=1e-6, p_value_raw=1e-8,
        ci=(0.77, 0.9), base_rate=0.2, id=rule_id, review=review or Review(),
    )


CREATED = "2026-01-01T00:00:00+00:00"  # a fixed time: two calls of _pack() make the same pack (same hash)


def _pack(name: str = "p", line: str = "L1", threshold: float = 60.0, **extra: Any) -> RulePack:
    rules = RuleSet((_rule("R1", threshold=threshold),))
    return RulePack(name=name, line=line, targets=(Target("scrap"),), rules=rules, created=CREATED, **extra)


@pytest.fixture
def uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEANLEARN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LEANLEARN_ARTIFACT_ROOT", raising=False)
    monkeypatch.setattr(registry, "_backoff", lambda attempt: 0.0)  # no waiting in tests
    return "sqlite:///" + (tmp_path / "mlflow.db").as_posix()


@pytest.fixture
def client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _versions(client: Any, name: str) -> list[str]:
    return sorted((str(v.version) for v in client.search_model_versions(f"name = '{name}'")), key=int)


def _runs(client: Any) -> int:
    experiment = client.get_experiment_by_name("leanlearn")
    return 0 if experiment is None else len(client.search_runs([experiment.experiment_id]))


@pytest.fixture
def create_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every call of ``MlflowClient.create_model_version`` (by registered-model name)."""
    from mlflow import MlflowClient

    calls: list[str] = []
    real = MlflowClient.create_model_version

    def counting(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "create_model_version", counting)
    yield calls


# -- the same pack twice -------------------------------------------------------------------------------------------
def test_registering_the_same_pack_twice_gives_the_same_version(uri: str, client: Any, create_calls: list[str]) -> None:
    pack = _pack()
    [first] = register_pack(pack, tracking_uri=uri)
    [again] = register_pack(pack, tracking_uri=uri)
    assert (first.version, again.version) == ("1", "1")
    assert (first.reused, again.reused, first.retries, again.retries) == (False, True, 0, 0)
    assert _versions(client, first.name) == ["1"]
    assert create_calls == [first.name]  # the second call created nothing
    assert _runs(client) == 1  # and logged no empty run
    # a reloaded copy of the same pack (same hash) is the same pack too
    copy = RulePack.from_json(pack.to_json())
    assert register_pack(copy, tracking_uri=uri)[0].version == "1"
    # different content is a new version
    [other] = register_pack(_pack(threshold=61.0), tracking_uri=uri)
    assert (other.version, other.reused) == ("2", False)
    assert _versions(client, first.name) == ["1", "2"]


def test_reuse_moves_the_alias_back(uri: str, client: Any) -> None:
    [v1] = register_pack(_pack(), tracking_uri=uri)
    [v2] = register_pack(_pack(threshold=62.0), tracking_uri=uri)
    assert str(client.get_model_version_by_alias(v1.name, "candidate").version) == "2"
    [back] = register_pack(_pack(), tracking_uri=uri)
    assert (back.version, back.reused) == ("1", True)
    assert str(client.get_model_version_by_alias(v1.name, "candidate").version) == "1"
    [staged] = register_pack(_pack(), tracking_uri=uri, alias="staging")
    assert staged.uri == f"models:/{v1.name}@staging" and staged.version == "1"
    assert v2.version == "2"


def test_only_missing_sub_packs_are_logged(uri: str, client: Any, create_calls: list[str]) -> None:
    rules = RuleSet((_rule("S1"), _rule("W1", target="rework")))
    both = RulePack(name="two", line="L3", targets=(Target("scrap"), Target("rework")), rules=rules)
    scrap, rework = split_pack(both)
    [alone] = register_pack(RulePack.from_json({**scrap.to_json()}), tracking_uri=uri)  # the scrap part first
    assert alone.version == "1"
    registered = register_pack(both, tracking_uri=uri)
    assert [(r.name, r.version, r.reused) for r in registered] == [
        ("leanlearn.L3.scrap", "1", True), ("leanlearn.L3.rework", "1", False)]
    assert create_calls == ["leanlearn.L3.scrap", "leanlearn.L3.rework"]
    assert _runs(client) == 2
    assert register_pack(both, tracking_uri=uri)[1].reused and _runs(client) == 2
    assert load_pack("models:/leanlearn.L3.rework@candidate", tracking_uri=uri) == rework


def test_versions_with_hash_quotes_and_filters(uri: str, client: Any) -> None:
    [reg] = register_pack(_pack(), tracking_uri=uri)
    pack_hash = _pack().content_hash
    assert [str(v.version) for v in versions_with_hash(client, reg.name, pack_hash)] == ["1"]
    assert versions_with_hash(client, reg.name, "sha256:" + "0" * 64) == []
    assert versions_with_hash(client, reg.name, "it's \\ 'quoted'") == []  # no filter injection, no error
    assert versions_with_hash(client, "leanlearn.nope'x", pack_hash) == []


# -- failures on the way -------------------------------------------------------------------------------------------
def _flaky_create(monkeypatch: pytest.MonkeyPatch, failures: list[Exception], *, commit_first: bool) -> list[str]:
    """``create_model_version`` that fails with the next of ``failures`` — after creating the version (the server
    committed, then the answer was lost) when ``commit_first``, else before."""
    from mlflow import MlflowClient

    real = MlflowClient.create_model_version
    calls: list[str] = []

    def flaky(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        if failures:
            exc = failures.pop(0)
            if commit_first:
                real(self, name, *args, **kwargs)
            raise exc
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "create_model_version", flaky)
    return calls


def test_failure_after_the_commit_is_found_by_hash_not_repeated(uri: str, client: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.exceptions import MlflowException

    lost = MlflowException("API request failed: 504 Gateway Timeout", error_code=TEMPORARILY_UNAVAILABLE)
    calls = _flaky_create(monkeypatch, [lost], commit_first=True)
    [reg] = register_pack(_pack(), tracking_uri=uri)
    assert (reg.version, reg.retries, reg.reused) == ("1", 1, False)
    assert calls == [reg.name]  # the retry looked first, found version 1 and did not create again
    assert _versions(client, reg.name) == ["1"]
    assert str(client.get_model_version_by_alias(reg.name, "candidate").version) == "1"
    assert client.get_model_version(reg.name, "1").tags["leanlearn.content_hash"] == _pack().content_hash


def test_transient_failure_before_the_commit_is_retried(uri: str, client: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.exceptions import MlflowException

    failures: list[Exception] = [
        MlflowException("(psycopg2.errors.UniqueViolation) duplicate key value violates unique constraint "
                        "\"model_version_pk\"", error_code=BAD_REQUEST),
        ConnectionResetError("Connection reset by peer"),
        MlflowException("Model Version creation error (name=x). Giving up after 3 attempts."),
    ]
    calls = _flaky_create(monkeypatch, failures, commit_first=False)
    [reg] = register_pack(_pack(), tracking_uri=uri)
    assert (reg.version, reg.retries) == ("1", 3)
    assert len(calls) == 4 and _versions(client, reg.name) == ["1"]


def test_permanent_error_is_one_registry_error_without_retry(uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.exceptions import MlflowException

    refused = MlflowException("Invalid value 'x' for parameter 'source'", error_code=INVALID_PARAMETER_VALUE)
    calls = _flaky_create(monkeypatch, [refused], commit_first=False)
    with pytest.raises(RegistryError, match=r"cannot register rule pack 'p' .*Invalid value 'x'") as info:
        register_pack(_pack(), tracking_uri=uri)
    assert "\n" not in str(info.value) and len(calls) == 1


def test_transient_errors_give_up_after_bounded_attempts(uri: str, client: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.exceptions import MlflowException

    monkeypatch.setattr(registry, "RETRY_ATTEMPTS", 4)
    down = [MlflowException("503 Service Unavailable", error_code=TEMPORARILY_UNAVAILABLE) for _ in range(10)]
    calls = _flaky_create(monkeypatch, down, commit_first=False)
    with pytest.raises(RegistryError, match=r"kept failing \(503 Service Unavailable\) after 4 attempt") as info:
        register_pack(_pack(), tracking_uri=uri)
    assert "\n" not in str(info.value) and "same pack gives the same version" in str(info.value)
    assert len(calls) == 4 and _versions(client, "leanlearn.L1.scrap") == []
    monkeypatch.setattr(registry, "RETRY_ATTEMPTS", 8)
    [reg] = register_pack(_pack(), tracking_uri=uri)  # the registry is back: registering again works, once
    assert reg.version == "1" and _versions(client, reg.name) == ["1"]


def test_total_time_bounds_the_retries(uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.exceptions import MlflowException

    monkeypatch.setattr(registry, "RETRY_TOTAL_SECONDS", 0.0)
    calls = _flaky_create(monkeypatch, [MlflowException("x", error_code=TEMPORARILY_UNAVAILABLE)] * 5,
                          commit_first=False)
    with pytest.raises(RegistryError, match="kept failing"):
        register_pack(_pack(), tracking_uri=uri)
    assert len(calls) == 1


def _other_client(client: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments another client's create would have: the same model, its own run."""
    run = client.create_run(client.get_experiment_by_name("leanlearn").experiment_id)
    return {**kwargs, "run_id": run.info.run_id}


def test_two_clients_at_the_same_instant_end_with_the_lowest_version(uri: str, client: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Another client registers the same pack between our search and our create: ours is deleted, theirs kept."""
    from mlflow import MlflowClient

    real = MlflowClient.create_model_version
    other: list[str] = []

    def racing(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        if not other:  # the other client's create lands first
            other.append(str(real(self, name, *args, **_other_client(client, kwargs)).version))
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "create_model_version", racing)
    [reg] = register_pack(_pack(), tracking_uri=uri)
    assert other == ["1"] and reg.version == "1"
    assert _versions(client, reg.name) == ["1"]  # version 2 (ours) deleted
    assert str(client.get_model_version_by_alias(reg.name, "candidate").version) == "1"
    monkeypatch.setattr(MlflowClient, "create_model_version", real)
    [next_one] = register_pack(_pack(threshold=70.0), tracking_uri=uri)
    assert next_one.version == "3"  # version numbers are never reused


def test_the_lowest_version_is_kept_by_its_creator(uri: str, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ours is the lowest: a later duplicate of another client (which deletes its own) is left to that client."""
    from mlflow import MlflowClient

    real = MlflowClient.create_model_version

    def then_other(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        mine = real(self, name, *args, **kwargs)
        real(self, name, *args, **_other_client(client, kwargs))  # the other client's duplicate, right after ours
        return mine

    monkeypatch.setattr(MlflowClient, "create_model_version", then_other)
    [reg] = register_pack(_pack(), tracking_uri=uri)
    assert reg.version == "1" and _versions(client, reg.name) == ["1", "2"]  # "2" is the other client's to delete
    assert [str(v.version) for v in versions_with_hash(client, reg.name, _pack().content_hash)] == ["1", "2"]
    monkeypatch.setattr(MlflowClient, "create_model_version", real)
    assert register_pack(_pack(), tracking_uri=uri)[0].version == "1"  # a later registration picks the lowest too


def test_our_lost_duplicate_is_deleted_when_the_retry_finds_another_clients_version(
        uri: str, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another client's version 1 lands, ours (2) lands too but its answer is lost: the retry finds 1 by hash, and
    our 2 is deleted — seen on a real server through a proxy that loses answers."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    real = MlflowClient.create_model_version
    calls: list[str] = []

    def lost(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        real(self, name, *args, **_other_client(client, kwargs))
        real(self, name, *args, **kwargs)
        raise MlflowException("API request failed with error code 502 != 200. Response body: 'bad gateway'")

    monkeypatch.setattr(MlflowClient, "create_model_version", lost)
    [reg] = register_pack(_pack(), tracking_uri=uri)
    assert (reg.version, reg.retries, len(calls)) == ("1", 1, 1)
    assert _versions(client, reg.name) == ["1"]


def test_a_version_the_client_sent_twice_is_settled_to_one(uri: str, client: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's HTTP client re-sent a create whose answer was lost: two versions of our run, the higher deleted."""
    from mlflow import MlflowClient

    real = MlflowClient.create_model_version

    def twice(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        real(self, name, *args, **kwargs)
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "create_model_version", twice)
    [reg] = register_pack(_pack(), tracking_uri=uri)
    assert reg.version == "1" and _versions(client, reg.name) == ["1"]


def test_alias_and_model_creation_races_are_tolerated(uri: str, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    real_alias = MlflowClient.set_registered_model_alias
    real_create = MlflowClient.create_registered_model
    alias_calls: list[str] = []

    def alias_lost(self: Any, name: str, alias: str, version: str) -> None:
        alias_calls.append(version)
        real_alias(self, name, alias, version)
        if len(alias_calls) == 1:
            raise MlflowException("(sqlite3.IntegrityError) UNIQUE constraint failed: registered_model_aliases.name",
                                  error_code=BAD_REQUEST)

    def created_meanwhile(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        real_create(self, name, *args, **kwargs)  # another client was faster
        raise MlflowException(f"Registered Model (name={name}) already exists.", error_code=RESOURCE_ALREADY_EXISTS)

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", alias_lost)
    monkeypatch.setattr(MlflowClient, "create_registered_model", created_meanwhile)
    [reg] = register_pack(_pack(), tracking_uri=uri)
    assert alias_calls == ["1"]  # the retry saw the alias in place and did not set it again
    assert reg.retries == 1 and str(client.get_model_version_by_alias(reg.name, "candidate").version) == "1"
    assert client.get_registered_model(reg.name).tags == {"leanlearn.line": "L1", "leanlearn.target": "scrap"}


def test_transient_classification() -> None:
    from mlflow.exceptions import MlflowException, RestException

    transient = [
        MlflowException("(psycopg2.errors.UniqueViolation) duplicate key value violates unique constraint"),
        MlflowException("Model Version creation error (name=m). Giving up after 3 attempts."),
        MlflowException("API request to http://h/api failed with exception HTTPConnectionPool(host='h', port=5000): "
                        "Max retries exceeded with url: /x (Caused by ResponseError('too many 500 error responses'))"),
        MlflowException("database is locked", error_code=TEMPORARILY_UNAVAILABLE),
        RestException({"error_code": "INTERNAL_ERROR", "message": "boom"}),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError("read timed out"),
    ]
    permanent = [
        MlflowException("Invalid value", error_code=INVALID_PARAMETER_VALUE),
        MlflowException("Registered Model with name=x not found", error_code=RESOURCE_DOES_NOT_EXIST),
        MlflowException("some local bug"),  # INTERNAL_ERROR raised in this process: not a server's transient 500
        RestException({"error_code": "PERMISSION_DENIED", "message": "no"}),
        RegistryError("connection reset"),  # leanlearn's own errors are final
        ValueError("unicode ✗ 500"),
    ]
    assert [registry._transient(e) for e in transient] == [True] * len(transient)
    assert [registry._transient(e) for e in permanent] == [False] * len(permanent)


def test_backoff_is_bounded_and_jittered() -> None:
    waits = [registry._backoff(k) for k in (1, 2, 3, 20, 20, 20)]
    assert all(0.0 <= w <= registry.RETRY_MAX_WAIT for w in waits)
    assert waits[0] <= registry.RETRY_BASE_WAIT and len({round(w, 9) for w in waits[3:]}) > 1


# -- lineage and review tags ---------------------------------------------------------------------------------------
def test_lineage_and_review_tags_are_set_at_creation(uri: str, client: Any, create_calls: list[str]) -> None:
    rules = RuleSet((
        _rule("R1", review=Review("approved", by="Ana Núñez", at="2026-01-02T03:04:05+00:00", reason="seen it")),
        _rule("R2", threshold=70.0, review=Review("rejected", by="Bo", at="2026-01-03T00:00:00+00:00",
                                                   reason="drifted 🙃", comment="ask maintenance")),
        _rule("R3", threshold=80.0, review=Review("pending", comment="look again")),
    ))
    lineage = {"source_line": "L1", "source_model": "leanlearn.L1.scrap", "source_version": "4",
               "source_content_hash": "sha256:" + "a" * 64, "mapping_hash": None,
               "source_aliases": ["production", "approved", "production"], "history": [{"x": 1}]}
    pack = RulePack(name="imported", line="L2", targets=(Target("scrap"),), rules=rules, lineage=lineage)
    [reg] = register_pack(pack, tracking_uri=uri)
    tags = client.get_model_version(reg.name, reg.version).tags
    assert {k: v for k, v in tags.items() if "lineage" in k or "source_aliases" in k} == {
        "leanlearn.lineage.source_line": "L1", "leanlearn.lineage.source_model": "leanlearn.L1.scrap",
        "leanlearn.lineage.source_version": "4", "leanlearn.lineage.source_content_hash": "sha256:" + "a" * 64,
        "leanlearn.source_aliases": "approved,production",
    }  # mapping_hash None: skipped; history: not a tag
    assert tags["leanlearn.review.R1"] == "approved" and tags["leanlearn.review_by.R1"] == "Ana Núñez"
    assert tags["leanlearn.review_reason.R1"] == "seen it" and tags["leanlearn.review_at.R1"].startswith("2026-01-02")
    assert tags["leanlearn.review.R2"] == "rejected" and tags["leanlearn.review_reason.R2"] == "drifted 🙃"
    assert tags["leanlearn.review_comment.R2"] == "ask maintenance"
    assert "leanlearn.review.R3" not in tags and tags["leanlearn.review_comment.R3"] == "look again"
    assert tags["leanlearn.review"] == "pending"  # R3 undecided
    state = review_state(reg.version_uri, tracking_uri=uri)  # what review_rule reads back
    assert [(r.rule_id, r.decision, r.reviewer) for r in state.rules] == [
        ("R1", "approved", "Ana Núñez"), ("R2", "rejected", "Bo"), ("R3", "pending", None)]
    assert state.rules[2].comment == "look again"
    assert create_calls == [reg.name]  # tags came with the creation: no version without them


def test_review_summary_is_decided_only_when_every_rule_is() -> None:
    decided = RuleSet((_rule("A", review=Review("approved", by="x")), _rule("B", threshold=1.0,
                                                                          review=Review("rejected", by="y"))))
    pack = RulePack(name="d", line="L", targets=(Target("scrap"),), rules=decided)
    assert pack_version_tags(pack, pack.content_hash, "L")["leanlearn.review"] == "decided"
    empty = RulePack(name="e", line="L", targets=(Target("scrap"),), rules=RuleSet())
    assert pack_version_tags(empty, empty.content_hash, "L")["leanlearn.review"] == "pending"
    plain = _pack()
    assert pack_version_tags(plain, plain.content_hash, "L1") == {
        "leanlearn.content_hash": plain.content_hash, "leanlearn.n_rules": "1", "leanlearn.review": "pending",
        "leanlearn.target": "scrap", "leanlearn.line": "L1", "leanlearn.pack": "p",
        "leanlearn.source_pack_hash": plain.content_hash,
    }


def test_hostile_lineage_values_are_skipped_or_kept_as_text() -> None:
    lineage: dict[str, Any] = {"source_line": "  ", "source_model": ["a"], "source_version": 7,
                               "source_content_hash": "sha256:" + "b" * 64, "mapping_hash": "", "source_aliases": []}
    pack = _pack(lineage=lineage)
    tags = pack_version_tags(pack, pack.content_hash, "L1")
    assert {k: v for k, v in tags.items() if "lineage" in k or "alias" in k} == {
        "leanlearn.lineage.source_version": "7", "leanlearn.lineage.source_content_hash": "sha256:" + "b" * 64}


def test_a_decided_rule_whose_id_cannot_name_a_tag_is_refused_before_the_store(tmp_path: Path) -> None:
    rules = RuleSet((_rule("R:1", review=Review("approved", by="x")),))
    pack = RulePack(name="p", line="L1", targets=(Target("scrap"),), rules=rules)
    uri = "sqlite:///" + (tmp_path / "mlflow.db").as_posix()
    with pytest.raises(RegistryError, match=r"rule 'R:1' of pack 'p' has a review record.*rename the rule"):
        register_pack(pack, tracking_uri=uri)
    assert not (tmp_path / "mlflow.db").exists()


def test_a_signed_multi_target_pack_does_not_carry_its_signature_into_sub_packs() -> None:
    rules = RuleSet((_rule("S1"), _rule("W1", target="rework")))
    signature = {"algorithm": "ed25519", "signer": "ana", "key_id": "ed25519:" + "0" * 16, "value": "AAAA"}
    both = RulePack(name="two", line="L3", targets=(Target("scrap"), Target("rework")), rules=rules,
                    signature=signature)
    assert all(sub.signature is None for sub in split_pack(both))  # a sub-pack is other content
    single = _pack(signature=signature)
    assert split_pack(single)[0].signature == signature  # the very pack: its signature still holds
