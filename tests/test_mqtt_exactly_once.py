"""Exactly-once effect over MQTT, against real Mosquitto (slow): the monitor is killed with SIGKILL at random points,
and separately the broker is restarted mid-stream; the final state and the alert file equal those of one
uninterrupted run over the same events — no event counted twice, none lost.

(a) uses the machine's Mosquitto (127.0.0.1:1883); events go as JSON arrays of 25 so the whole stream stays under
mosquitto's default queue limit for an absent client (``max_queued_messages 1000``, beyond which a broker drops
QoS 1 messages: the broker's loss, which no client can undo). (b) starts a private ``mosquitto`` on a free port with
``persistence true`` in its own folder and restarts it twice while events flow.
"""

from __future__ import annotations

import getpass
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from leanlearn.online.checkpoint import CHECKPOINT_FILE
from leanlearn.online.mqtt import MqttStream, default_client_id
from leanlearn.online.run import run_monitor
from leanlearn.online.scenarios import planted_stream
from leanlearn.online.settings import TrackerSettings
from leanlearn.online.streams import FileReplay

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "leanlearn.cli", "monitor"]
WINDOW = 1000
EVERY = 500
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
FIGURES: dict[str, dict] = {}


def _up(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _scenario(tmp_path: Path, n_events: int):
    pack, events = planted_stream(5, n_events, drifts=[(n_events * 2 // 5, 0, 0.05), (n_events * 3 // 5, 1, 0.95)],
                                  reference=50_000, seed=3)
    events = events.copy()
    events.insert(0, "event_id", [f"ev-{i}" for i in range(n_events)])
    pack.save(tmp_path / "pack.json")
    summary = run_monitor(pack, FileReplay("events", frame=events), alerts=tmp_path / "ref.jsonl",
                          settings=TrackerSettings(WINDOW), handle_signals=False)
    assert summary.alerts >= 4  # the stream has changes to alert about
    assert summary.monitor is not None
    return pack, events, summary.monitor.to_json(), (tmp_path / "ref.jsonl").read_bytes()


def _messages(events: pd.DataFrame, per_message: int, seed: int) -> list[bytes]:
    records = json.loads(events.to_json(orient="records", double_precision=15))
    chunks = [records[i:i + per_message] for i in range(0, len(records), per_message)]
    rng = random.Random(seed)
    out = []
    for chunk in chunks:
        out.append(json.dumps(chunk).encode())
        if rng.random() < 0.05:  # a publisher retry: the same events again
            out.append(json.dumps(chunk).encode())
    return out


class Publisher(threading.Thread):
    """Publish at QoS 1 at about ``rate`` messages per second; rides out broker restarts (paho resends)."""

    def __init__(self, port: int, topic: str, payloads: list[bytes], rate: float) -> None:
        super().__init__(daemon=True)
        self.port, self.topic, self.payloads, self.rate = port, topic, payloads, rate
        self.error: BaseException | None = None
        self.resent = 0

    def run(self) -> None:
        import paho.mqtt.client as mqtt

        try:
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}",
                                 protocol=mqtt.MQTTv5)
            client.reconnect_delay_set(0.2, 1)
            client.connect("127.0.0.1", self.port, clean_start=False)
            client.loop_start()
            started = time.monotonic()
            for k, payload in enumerate(self.payloads):
                while (wait := started + k / self.rate - time.monotonic()) > 0:
                    time.sleep(wait)
                self._send(client, payload)
            client.disconnect()
            client.loop_stop()
        except BaseException as exc:  # reported by the test
            self.error = exc


    def _send(self, client, payload: bytes) -> None:
        """One message, acknowledged by the broker before the next (order kept); sent again while the broker is
        away (a duplicate the monitor drops by event id)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            while not client.is_connected() and time.monotonic() < deadline:
                time.sleep(0.01)
            info = client.publish(self.topic, payload, qos=1)
            waited = time.monotonic() + 3
            while time.monotonic() < waited:
                try:
                    if info.is_published():
                        return
                except RuntimeError:  # the connection dropped under it: send again once reconnected
                    break
                time.sleep(0.0005)
            self.resent += 1
        raise AssertionError("a message was never acknowledged by the broker")


def _checkpointed(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _monitor(tmp_path: Path, url: str) -> subprocess.Popen:
    args = [str(tmp_path / "pack.json"), url, "--window", str(WINDOW), "--checkpoint", str(tmp_path / "ck"),
            "--alerts", str(tmp_path / "alerts.jsonl"), "--every", str(EVERY), "--max-latency", "0.05", "--quiet"]
    return subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _subscribe_first(pack, tmp_path: Path, url: str) -> None:
    """Create the monitor's persistent session before anything is published (as a deployed monitor would have)."""
    client_id = default_client_id(pack.content_hash, str((tmp_path / "ck").resolve()))
    MqttStream(url, client_id=client_id).connect().close()


def _finish(tmp_path: Path, url: str, n_events: int, publisher: Publisher) -> dict:
    """A last run until every event is checkpointed, then a clean stop (SIGTERM)."""
    checkpoint = tmp_path / "ck" / CHECKPOINT_FILE
    proc = _monitor(tmp_path, url)
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            doc = _checkpointed(checkpoint)
            if not publisher.is_alive() and doc is not None and doc["monitor"]["n_events"] >= n_events:
                time.sleep(1.5)  # let any straggler (there should be none) arrive
                break
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.stderr.read().decode() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    doc = _checkpointed(checkpoint)
    assert doc is not None
    return doc


def _compare(tmp_path: Path, doc: dict, n_events: int, state: dict, alerts: bytes) -> dict:
    assert doc["monitor"]["n_events"] == n_events  # none lost, none counted twice
    assert doc["monitor"] == state
    assert (tmp_path / "alerts.jsonl").read_bytes() == alerts
    return {"events": n_events, "duplicates_dropped": doc["stream"]["duplicates"],
            "messages": doc["stream"]["messages"], "alerts": alerts.count(b"\n")}


@pytest.mark.skipif(not _up(1883), reason="no MQTT broker on 127.0.0.1:1883 (start mosquitto)")
def test_kill_9_at_random_points_gives_the_state_and_alerts_of_one_uninterrupted_run(tmp_path):
    n_events = 20_000
    pack, events, state, alerts = _scenario(tmp_path, n_events)
    topic = f"leanlearn-test/{uuid.uuid4().hex[:12]}/line"
    url = f"mqtt://127.0.0.1:1883/{topic}"
    _subscribe_first(pack, tmp_path, url)
    payloads = _messages(events, 25, seed=1)
    publisher = Publisher(1883, topic, payloads, rate=80.0)  # 2,000 events/s: about 10 s of stream
    publisher.start()
    rng = random.Random(11)
    kills = 0
    checkpoint = tmp_path / "ck" / CHECKPOINT_FILE
    while publisher.is_alive() and kills < 8:
        proc = _monitor(tmp_path, url)
        time.sleep(rng.uniform(0.8, 2.0))  # start-up takes about 0.7 s: strike while it consumes
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
    assert kills >= 4 and checkpoint.exists()
    doc = _finish(tmp_path, url, n_events, publisher)
    publisher.join(5)
    assert publisher.error is None, publisher.error
    FIGURES["kill-9"] = {"kills": kills, **_compare(tmp_path, doc, n_events, state, alerts)}
    print(json.dumps(FIGURES["kill-9"]))


@pytest.fixture
def private_broker(tmp_path):
    if not Path(MOSQUITTO).exists():
        pytest.skip(f"{MOSQUITTO} not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tmp_path / "broker"
    folder.mkdir()
    conf = folder / "mosquitto.conf"
    user = getpass.getuser()  # as root, mosquitto would switch to user 'mosquitto', which cannot write tmp_path
    conf.write_text(f"user {user}\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                    f"persistence_location {folder}/\nautosave_interval 1\nmax_queued_messages 0\n"
                    f"log_dest file {folder}/mosquitto.log\n")
    procs: list[subprocess.Popen] = []

    def start() -> None:
        procs.append(subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while not _up(port):
            assert time.monotonic() < deadline, (folder / "mosquitto.log").read_text()
            time.sleep(0.05)

    def stop() -> None:
        proc = procs[-1]
        proc.send_signal(signal.SIGTERM)  # a restart: mosquitto writes its persistence file on the way down
        proc.wait(timeout=10)

    start()
    yield port, start, stop
    assert (folder / "mosquitto.db").exists(), "the private broker wrote no persistence file"
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def test_a_broker_restart_mid_stream_gives_the_state_and_alerts_of_one_uninterrupted_run(tmp_path, private_broker):
    port, start, stop = private_broker
    n_events = 12_000
    pack, events, state, alerts = _scenario(tmp_path, n_events)
    topic = "plant/line-2/events"
    url = f"mqtt://127.0.0.1:{port}/plant/+/events"
    _subscribe_first(pack, tmp_path, url)
    payloads = _messages(events, 4, seed=2)  # 4 events a message
    publisher = Publisher(port, topic, payloads, rate=500.0)  # 2,000 events/s: about 6 s of stream
    proc = _monitor(tmp_path, url)
    publisher.start()
    restarts = 0
    checkpoint = tmp_path / "ck" / CHECKPOINT_FILE
    try:
        while (doc := _checkpointed(checkpoint)) is None or doc["monitor"]["n_events"] == 0:  # it is consuming
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.05)
        for pause in (0.5, 1.5):
            time.sleep(pause)
            stop()
            time.sleep(0.5)  # the broker is away; publisher and monitor retry
            start()
            restarts += 1
        publisher.join(120)
        assert not publisher.is_alive() and publisher.error is None, publisher.error
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            doc = _checkpointed(checkpoint)
            if doc is not None and doc["monitor"]["n_events"] >= n_events:
                break
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.1)
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.stderr.read().decode() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    doc = _checkpointed(tmp_path / "ck" / CHECKPOINT_FILE)
    assert doc is not None
    FIGURES["broker-restart"] = {"restarts": restarts, "resent_by_publisher": publisher.resent,
                                 **_compare(tmp_path, doc, n_events, state, alerts)}
    print(json.dumps(FIGURES["broker-restart"]))
