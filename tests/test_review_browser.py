"""End to end in a real headless browser: Debian's chromium driven by Playwright's Python client opens
``leanlearn review`` on a registered pack, approves one rule and rejects another with a reason, restarts the app,
finds both decisions still shown, and reads them back through ``MlflowClient``.

No browser is downloaded: the test uses ``/usr/bin/chromium`` (``LEANLEARN_CHROMIUM`` overrides the path) and skips,
saying so, where it is missing. Set ``LEANLEARN_SCREENSHOTS`` to a folder to keep the screenshots it takes.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from leanlearn.packs.pack import RulePack
from leanlearn.packs.registry import register_pack

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("LEANLEARN_CHROMIUM", "/usr/bin/chromium")
PACK = ROOT / "models" / "4tu-rejects.json"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"no chromium at {CHROMIUM}: apt-get install chromium (or set LEANLEARN_CHROMIUM)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class App:
    """``leanlearn review`` as a subprocess on a free port."""

    def __init__(self, uri: str, log: Path) -> None:
        self.uri, self.log = uri, log
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> App:
        self.port = _free_port()  # a fresh port: a dying predecessor must not answer the health check
        env = {**os.environ, "MLFLOW_TRACKING_URI": self.uri}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "leanlearn.cli", "review", "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"leanlearn review exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"leanlearn review did not answer in 60 s: {self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)  # the session started for it: leanlearn and its streamlit child
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=10)
        self.process = None
        deadline = time.monotonic() + 20  # the streamlit child may outlive its parent for a moment
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.2)


@pytest.fixture
def registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, str]]:
    monkeypatch.setenv("LEANLEARN_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    uri = "sqlite:///" + (tmp_path / "mlflow.db").as_posix()
    first = register_pack(RulePack.load(PACK), tracking_uri=uri)[0]
    yield uri, first.name, first.version


def _shot(page, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("LEANLEARN_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=True)


def _open(browser, app: App, name: str, version: str, reviewer: str | None = None, rule: str = ""):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{app.url}/?version={name}/{version}")
    page.get_by_text(f"{name} version {version}").first.wait_for(timeout=60_000)
    if reviewer is not None:
        box = page.get_by_label("Your name (recorded with every decision)")
        box.fill(reviewer)
        box.press("Enter")
        button = f".st-key-approved-{rule} button"
        page.locator(button).first.wait_for(state="visible")
        page.wait_for_function(f"() => !document.querySelector('{button}').disabled", timeout=30_000)
    return page


def _reject_with_reason(page, rule: str, reason: str) -> None:
    """Type the reason, then reject; Streamlit sends a typed value on its own schedule, so a click that beat it
    (the app then asks for a reason and records nothing) is repeated, at most three times."""
    recorded = page.get_by_text(f"rule {rule}: rejected recorded by Dana Ortiz")
    for _ in range(3):
        box = page.locator(f".st-key-reason-{rule} input").first
        box.fill(reason)
        box.press("Enter")
        page.wait_for_timeout(800)
        page.locator(f".st-key-rejected-{rule} button").first.click()
        try:
            recorded.wait_for(timeout=10_000)
            return
        except Exception:  # Playwright's TimeoutError: try again
            continue
    recorded.wait_for(timeout=10_000)


def test_browser_decisions_reach_mlflow_and_survive_a_restart(registered, tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python client is not installed")
    from mlflow import MlflowClient

    uri, name, version = registered
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    rules = [r.id for r in RulePack.load(PACK).rules.for_target("rejected")]
    approve, reject = rules[0], rules[1]
    app = App(uri, tmp_path / "review.log").start()
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-dev-shm-usage"])
            page = _open(browser, app, name, version, reviewer="Dana Ortiz", rule=approve)
            page.locator(f".st-key-approved-{approve} button").first.click()
            page.get_by_text(f"rule {approve}: approved recorded by Dana Ortiz").wait_for(timeout=30_000)
            _reject_with_reason(page, reject, "reject count is booked per shift, not per order")
            _shot(page, tmp_path, "review-app.png")

            app.stop()
            app.start()  # a new process: nothing but the registry remembers
            page = _open(browser, app, name, version)
            page.get_by_text("reason: reject count is booked per shift, not per order").wait_for(timeout=30_000)
            body = page.inner_text("body")
            assert "✅ approved by Dana Ortiz" in body and "❌ rejected by Dana Ortiz" in body
            _shot(page, tmp_path, "review-app-after-restart.png")
            browser.close()
    finally:
        app.stop()
    tags = client.get_model_version(name, version).tags
    assert (tags[f"leanlearn.review.{approve}"], tags[f"leanlearn.review_by.{approve}"]) == ("approved", "Dana Ortiz")
    assert tags[f"leanlearn.review.{reject}"] == "rejected"
    assert tags[f"leanlearn.review_reason.{reject}"] == "reject count is booked per shift, not per order"


def test_browser_test_finds_its_tools() -> None:
    """Guards the skip: where chromium exists, the Playwright client must be importable too."""
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists()
    import playwright.sync_api  # noqa: F401
