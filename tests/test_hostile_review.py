"""Hostile probes of the review records and app: bad names and reasons, an empty or unreachable registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from leanlearn.errors import RegistryError
from leanlearn.packs.registry import MAX_REASON_CHARS, review_rule
from leanlearn.review import APP, TRACKING_ENV

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing answers there


def test_a_reason_longer_than_the_limit_is_refused_before_the_registry_is_touched() -> None:
    with pytest.raises(RegistryError, match=f"keep it to {MAX_REASON_CHARS:,}"):
        review_rule("models:/leanlearn.L1.scrap/1", "S1", "rejected", "Ana", "x" * (MAX_REASON_CHARS + 1),
                    tracking_uri=UNREACHABLE)


def test_a_reviewer_name_that_is_not_text_is_refused() -> None:
    with pytest.raises(RegistryError, match="the reviewer's name must be text, not int"):
        review_rule("models:/leanlearn.L1.scrap/1", "S1", "approved", 42, tracking_uri=UNREACHABLE)  # type: ignore[arg-type]


def test_an_unreachable_registry_is_a_one_line_error_naming_it() -> None:
    with pytest.raises(RegistryError, match=r"cannot reach the MLflow tracking server 'http://127.0.0.1:9'"):
        review_rule("models:/leanlearn.L1.scrap/1", "S1", "approved", "Ana", tracking_uri=UNREACHABLE)


def test_app_on_an_unreachable_registry_shows_the_error_instead_of_crashing(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(TRACKING_ENV, UNREACHABLE)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert any("cannot reach the MLflow tracking server" in e.value for e in at.error)


def test_app_on_an_empty_registry_says_how_to_register_a_pack(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(TRACKING_ENV, "sqlite:///" + (tmp_path / "empty.db").as_posix())
    monkeypatch.setenv("LEANLEARN_HOME", str(tmp_path / "home"))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert any("No leanlearn rule packs are registered" in i.value for i in at.info)
