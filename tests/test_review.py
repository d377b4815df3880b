"""Rule review: decisions as MLflow model-version tags and a review log, promotion to ``approved``, the Streamlit
app through its own harness (``AppTest``) — all on an embedded SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from leanlearn.errors import RegistryError
from leanlearn.mining.rules import Condition, Rule, RuleSet
from leanlearn.packs.pack import RulePack, Target
from leanlearn.packs.registry import (
    RegisteredPack,
    read_review_log,
    register_pack,
    review_log_path,
    review_rule,
    review_state,
)
from leanlearn.review import APP, TRACKING_ENV


def _rule(rule_id: str, feature: str, threshold: float, target: str) -> Rule:
    return Rule(
        (Condition(feature, ">=", threshold),), Condition(target, "==", 1), support=0.1, coverage=0.12,
        confidence=0.85, lift=4.2, leverage=0.07, conviction=5.3, n=120, hits=102, p_value=1e-6, p_value_raw=1e-8,
        ci=(0.77, 0.9), base_rate=0.2, id=rule_id,
    )


def _pack(line: str) -> RulePack:
    """Two targets: ``scrap`` with rules S1, S2 and ``rework`` with W1 (one registered model each)."""
    rules = RuleSet((_rule("S1", "torque", 60.0, "scrap"), _rule("S2", "wear", 200.0, "scrap"),
                     _rule("W1", "rpm", 1100.0, "rework")))
    return RulePack(name="press-line", line=line, targets=(Target("scrap"), Target("rework")), rules=rules)


@dataclass
class Store:
    uri: str
    api: dict[str, RegisteredPack]  # for the Python API tests, by target
    app: dict[str, RegisteredPack]  # for the app tests (another line: the two never touch each other's versions)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("review")
    uri = "sqlite:///" + (root / "mlflow.db").as_posix()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("LEANLEARN_HOME", str(root / "home"))
        mp.delenv("LEANLEARN_ARTIFACT_ROOT", raising=False)
        api = {r.target: r for r in register_pack(_pack("L1"), tracking_uri=uri)}
        app = {r.target: r for r in register_pack(_pack("APP"), tracking_uri=uri)}
        yield Store(uri, api, app)


@pytest.fixture
def client(store: Store):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)


def _tags(client, registered: RegisteredPack) -> dict[str, str]:
    return dict(client.get_model_version(registered.name, registered.version).tags)


# -- the Python API --------------------------------------------------------------------------------------------------
def test_approval_is_stored_as_version_tags_naming_who_and_when(store: Store, client) -> None:
    scrap = store.api["scrap"]
    review_rule(scrap.uri, "S1", "approved", "Ana Lopez", tracking_uri=store.uri)
    tags = _tags(client, scrap)
    assert tags["leanlearn.review.S1"] == "approved"
    assert tags["leanlearn.review_by.S1"] == "Ana Lopez"
    assert tags["leanlearn.review_at.S1"].endswith("+00:00")


def test_rejection_keeps_its_reason_in_the_tags_and_the_review_log(store: Store, client) -> None:
    scrap = store.api["scrap"]
    review_rule(scrap.version_uri, "S2", "rejected", "Bo", "wear sensor was miscalibrated", tracking_uri=store.uri)
    assert _tags(client, scrap)["leanlearn.review_reason.S2"] == "wear sensor was miscalibrated"
    run_id = client.get_model_version(scrap.name, scrap.version).run_id
    local = client.download_artifacts(run_id, review_log_path(scrap.name, scrap.version), str(Path.cwd()))
    lines = [json.loads(line) for line in Path(local).read_text(encoding="utf-8").splitlines()]
    last = lines[-1]
    assert (last["rule_id"], last["decision"], last["reviewer"], last["reason"]) == (
        "S2", "rejected", "Bo", "wear sensor was miscalibrated")
    assert last["content_hash"] == review_state(scrap.uri, tracking_uri=store.uri).content_hash
    assert last["at"]


def test_review_log_appends_one_line_per_decision(store: Store) -> None:
    rework = store.api["rework"]
    before = len(read_review_log(rework.uri, tracking_uri=store.uri))
    review_rule(rework.uri, "W1", "comment", "Cy", "check against the spindle log", tracking_uri=store.uri)
    review_rule(rework.uri, "W1", "pending", "Cy", tracking_uri=store.uri)
    log = read_review_log(rework.uri, tracking_uri=store.uri)
    assert len(log) == before + 2 and [e["decision"] for e in log[-2:]] == ["comment", "pending"]


def test_review_state_reads_the_tags_as_the_source_of_truth(store: Store, client) -> None:
    rework = store.api["rework"]
    client.set_model_version_tag(rework.name, rework.version, "leanlearn.review.W1", "rejected")
    client.set_model_version_tag(rework.name, rework.version, "leanlearn.review_by.W1", "set by hand")
    record = review_state(rework.version_uri, tracking_uri=store.uri)["W1"]
    assert (record.decision, record.reviewer) == ("rejected", "set by hand")
    review_rule(rework.uri, "W1", "pending", "Cy", tracking_uri=store.uri)


def test_a_comment_leaves_the_decision_as_it_was(store: Store) -> None:
    scrap = store.api["scrap"]
    review_rule(scrap.uri, "S1", "approved", "Ana", tracking_uri=store.uri)
    state = review_rule(scrap.uri, "S1", "comment", "Bo", "holds on line 2 as well", tracking_uri=store.uri)
    assert (state["S1"].decision, state["S1"].comment) == ("approved", "holds on line 2 as well")


def test_promotion_is_refused_while_a_rule_is_pending_naming_it(store: Store, client) -> None:
    rework = store.api["rework"]
    review_rule(rework.uri, "W1", "pending", "Cy", tracking_uri=store.uri)
    from leanlearn.packs.registry import promote_approved

    with pytest.raises(RegistryError, match=r"1 of 1 rule\(s\) not decided yet \(W1\)"):
        promote_approved(rework.uri, "Cy", tracking_uri=store.uri)
    assert "approved" not in client.get_registered_model(rework.name).aliases


def test_promotion_sets_the_approved_alias_once_every_rule_is_decided(store: Store, client) -> None:
    from leanlearn.packs.registry import promote_approved

    scrap = store.api["scrap"]
    review_rule(scrap.uri, "S1", "approved", "Ana", tracking_uri=store.uri)
    review_rule(scrap.uri, "S2", "rejected", "Ana", "spurious", tracking_uri=store.uri)
    state = promote_approved(scrap.uri, "Ana", tracking_uri=store.uri)
    assert str(client.get_registered_model(scrap.name).aliases["approved"]) == scrap.version
    assert state.summary == "approved" and _tags(client, scrap)["leanlearn.review"] == "approved"
    assert _tags(client, scrap)["leanlearn.approved_by"] == "Ana"


@pytest.mark.parametrize(
    ("rule_id", "decision", "reviewer", "reason", "message"),
    [
        ("S9", "approved", "Ana", None, r"has no rule 'S9'; its rules are S1, S2"),
        ("S1", "maybe", "Ana", None, r"decision 'maybe' is not one of approved, rejected, pending"),
        ("S1", "rejected", "Ana", "  ", r"rejecting rule 'S1' needs a reason"),
        ("S1", "approved", " ", None, r"needs the reviewer's name"),
        ("S1", "approved", "A" * 201, None, r"keep it to 200"),
    ],
    ids=["unknown-rule", "bad-decision", "rejection-without-reason", "no-reviewer", "reviewer-too-long"],
)
def test_bad_decisions_are_refused_with_a_clear_message(store: Store, rule_id, decision, reviewer, reason,
                                                        message) -> None:
    with pytest.raises(RegistryError, match=message):
        review_rule(store.api["scrap"].uri, rule_id, decision, reviewer, reason, tracking_uri=store.uri)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("models:/leanlearn.L1.nope/1", r"no registered model 'leanlearn.L1.nope'"),
        ("models:/leanlearn.L1.scrap/99", r"has no version 99"),
        ("models:/leanlearn.L1.scrap@gold", r"has no alias 'gold'"),
        ("runs:/abc/model", r"not a registered-model URI"),
    ],
    ids=["unknown-model", "unknown-version", "unknown-alias", "not-a-registry-uri"],
)
def test_unknown_model_version_or_alias_is_refused_naming_it(store: Store, uri: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        review_rule(uri, "S1", "approved", "Ana", tracking_uri=store.uri)


# -- the app, through Streamlit's AppTest harness ---------------------------------------------------------------------
def _app(store: Store, monkeypatch: pytest.MonkeyPatch, version: str | None = None):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(TRACKING_ENV, store.uri)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    if version is not None:
        box = at.selectbox(key="version")
        box.select(next(o for o in box.options if o.startswith(version))).run()
    return at


def _shown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_app_lists_every_registered_version(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(store, monkeypatch)
    options = at.selectbox(key="version").options
    assert any(o.startswith("leanlearn.APP.scrap v1") for o in options)
    assert any(o.startswith("leanlearn.L1.rework v1") for o in options)


def test_app_decisions_reach_the_registry_and_survive_a_restart(store: Store, client,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    scrap = store.app["scrap"]
    at = _app(store, monkeypatch, f"{scrap.name} v{scrap.version}")
    assert at.button(key="approved-S1").disabled  # no reviewer name yet
    at.sidebar.text_input(key="reviewer").input("Dana").run()
    at.button(key="approved-S1").click().run()
    at.text_input(key="reason-S2").input("threshold sits on a sensor artefact").run()
    at.button(key="rejected-S2").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    tags = _tags(client, scrap)
    assert (tags["leanlearn.review.S1"], tags["leanlearn.review_by.S1"]) == ("approved", "Dana")
    assert (tags["leanlearn.review.S2"], tags["leanlearn.review_reason.S2"]) == (
        "rejected", "threshold sits on a sensor artefact")
    fresh = _app(store, monkeypatch, f"{scrap.name} v{scrap.version}")  # a new session: nothing kept in memory
    shown = _shown(fresh)
    assert "✅ approved by Dana" in shown
    assert "❌ rejected by Dana" in shown and "reason: threshold sits on a sensor artefact" in shown


def test_app_rejection_without_a_reason_shows_the_error_and_records_nothing(
        store: Store, client, monkeypatch: pytest.MonkeyPatch) -> None:
    rework = store.app["rework"]
    at = _app(store, monkeypatch, f"{rework.name} v{rework.version}")
    at.sidebar.text_input(key="reviewer").input("Dana").run()
    at.button(key="rejected-W1").click().run()
    assert any("needs a reason" in e.value for e in at.error)
    assert "leanlearn.review.W1" not in _tags(client, rework)


def test_app_promote_button_is_enabled_only_when_every_rule_is_decided(
        store: Store, client, monkeypatch: pytest.MonkeyPatch) -> None:
    rework = store.app["rework"]
    at = _app(store, monkeypatch, f"{rework.name} v{rework.version}")
    at.sidebar.text_input(key="reviewer").input("Dana").run()
    assert at.button(key="promote").disabled
    at.button(key="approved-W1").click().run()
    assert not at.button(key="promote").disabled
    at.button(key="promote").click().run()
    assert str(client.get_registered_model(rework.name).aliases["approved"]) == rework.version


# -- the CLI -----------------------------------------------------------------------------------------------------------
def _cli(args: list[str], monkeypatch: pytest.MonkeyPatch, store: Store):
    from typer.testing import CliRunner

    from leanlearn.cli import app

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner().invoke(app, args)


def test_show_prints_the_registry_review_state_of_a_registered_version(store: Store,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    scrap = store.api["scrap"]
    review_rule(scrap.uri, "S2", "rejected", "Show Tester", "wear readings are stale", tracking_uri=store.uri)
    result = _cli(["show", scrap.version_uri], monkeypatch, store)
    assert result.exit_code == 0, result.output
    line = next(row for row in result.output.splitlines() if row.strip().startswith("S2") and "Show Tester" in row)
    assert "rejected" in line and "wear readings are stale" in line


def test_show_prints_the_review_state_stored_in_a_pack_file(tmp_path: Path, store: Store,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from leanlearn.mining.rules import Review

    pack = _pack("FILE")
    first = pack.rules[0].with_review(Review("approved", "Eve", "2026-01-02T03:04:05+00:00", None))
    path = RulePack(name=pack.name, line=pack.line, targets=pack.targets,
                    rules=RuleSet((first, *list(pack.rules)[1:]))).save(tmp_path / "pack.json")
    result = _cli(["show", str(path)], monkeypatch, store)
    assert result.exit_code == 0, result.output
    rows = {row.split()[0]: row for row in result.output.splitlines() if row.strip()[:2] in ("S1", "S2", "W1")
            and ("pending" in row or "approved" in row)}
    assert "approved" in rows["S1"] and "Eve" in rows["S1"] and "pending" in rows["W1"]


def test_review_command_serves_the_app_on_localhost_with_the_tracking_uri(store: Store,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    seen: dict[str, object] = {}

    def fake_call(command: list[str], env: dict[str, str]) -> int:
        seen.update(command=command, env=env)
        return 0

    monkeypatch.setattr(subprocess, "call", fake_call)
    result = _cli(["review", "--port", "8765"], monkeypatch, store)
    assert result.exit_code == 0, result.output
    command = seen["command"]
    assert isinstance(command, list) and str(APP) in command
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[command.index("--server.port") + 1] == "8765"
    assert seen["env"][TRACKING_ENV] == store.uri  # type: ignore[index]


def test_review_command_refuses_a_port_out_of_range(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _cli(["review", "--port", "70000"], monkeypatch, store)
    assert result.exit_code == 2 and "--port" in result.output


def test_app_opens_the_version_named_in_the_query_string(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    rework = store.api["rework"]
    monkeypatch.setenv(TRACKING_ENV, store.uri)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["version"] = f"{rework.name}/{rework.version}"
    at.run()
    assert at.selectbox(key="version").value.startswith(f"{rework.name} v{rework.version}")


def test_app_shows_logged_corroboration_and_flags_a_rule_the_model_does_not_see(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from leanlearn.packs.registry import log_explanation, read_explanation

    scrap = store.app["scrap"]
    state = review_state(scrap.version_uri, tracking_uri=store.uri)
    figures = {"pack": "press-line.scrap", "content_hash": state.content_hash, "rules": [
        {"rule_id": "S1", "sign_agreement": 0.97, "shap_share": 0.62, "covered_rows": 120, "corroborated": True,
         "reason": "", "counterexamples": [{"kind": "covered without outcome", "rank": 1, "row": 7,
                                            "values": {"torque": 61.0, "scrap": 0}}]},
        {"rule_id": "S2", "sign_agreement": 0.41, "shap_share": 0.03, "covered_rows": 120, "corroborated": False,
         "reason": "the surrogate gives wear almost no weight on the covered rows", "counterexamples": []},
    ]}
    log_explanation(scrap.version_uri, figures, "<html></html>", tracking_uri=store.uri)
    assert read_explanation(scrap.uri, tracking_uri=store.uri)["rules"][1]["corroborated"] is False
    at = _app(store, monkeypatch, f"{scrap.name} v{scrap.version}")
    shown = _shown(at)
    assert "corroborated — sign agreement 97%, share of |SHAP| 62%" in shown
    assert "**not corroborated** — sign agreement 41%" in shown and "almost no weight" in shown


def test_explanation_of_another_pack_is_refused(store: Store) -> None:
    from leanlearn.packs.registry import log_explanation

    with pytest.raises(RegistryError, match="the explanation is of pack sha256:0+, not of leanlearn.L1.rework"):
        log_explanation(store.api["rework"].uri, {"content_hash": "sha256:" + "0" * 64, "rules": []},
                        tracking_uri=store.uri)


def test_app_embeds_the_logged_report(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from leanlearn.packs.registry import log_explanation

    scrap = store.app["rework"]
    state = review_state(scrap.version_uri, tracking_uri=store.uri)
    log_explanation(scrap.version_uri, {"content_hash": state.content_hash, "rules": []},
                    "<html><body><h1>report of W1</h1></body></html>", tracking_uri=store.uri)
    at = _app(store, monkeypatch, f"{scrap.name} v{scrap.version}")
    assert not at.exception
    import base64

    [frame] = at.get("iframe")
    src = str(frame.proto.src)
    assert src.startswith("data:text/html")  # an opaque origin: the report cannot script the review page
    assert "report of W1" in base64.b64decode(src.split(",", 1)[1]).decode("utf-8")


def test_taking_a_decision_back_removes_the_approved_alias(store: Store, client) -> None:
    from leanlearn.packs.registry import promote_approved

    rework = store.api["rework"]
    review_rule(rework.uri, "W1", "approved", "Cy", tracking_uri=store.uri)
    promote_approved(rework.uri, "Cy", tracking_uri=store.uri)
    state = review_rule(rework.version_uri, "W1", "pending", "Cy", "needs another look", tracking_uri=store.uri)
    assert "approved" not in client.get_registered_model(rework.name).aliases
    assert state.summary == "pending" and _tags(client, rework)["leanlearn.review"] == "pending"
