"""The MQTT source: JSON events end to end (same states and alerts as a file replay), arrays, malformed messages
quarantined with their reasons, redelivered duplicates counted once — against the machine's Mosquitto."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from leanlearn.errors import DataError
from leanlearn.online.mqtt import MqttStream, default_client_id, parse_url
from leanlearn.online.run import run_monitor
from leanlearn.online.scenarios import planted_stream
from leanlearn.online.settings import TrackerSettings
from leanlearn.online.streams import FileReplay

HOST, PORT = "127.0.0.1", 1883
WINDOW = 500


def _broker_up(host: str = HOST, port: int = PORT) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


needs_broker = pytest.mark.skipif(not _broker_up(), reason=f"no MQTT broker on {HOST}:{PORT} (start mosquitto)")


def _topic() -> str:
    return f"leanlearn-test/{uuid.uuid4().hex[:12]}/events"


def _events(n: int = 4000, seed: int = 5) -> tuple[object, pd.DataFrame]:
    pack, events = planted_stream(4, n, coverage=0.05, drifts=[(n // 3, 0, 0.02)], reference=50_000, seed=seed)
    events = events.copy()
    events.insert(0, "event_id", [f"e{i}" for i in range(len(events))])
    return pack, events


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", double_precision=15))


def publish(topic: str, payloads: list[bytes], host: str = HOST, port: int = PORT) -> None:
    """Publish at QoS 1 and wait until the broker has every message."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(200)
    client.connect(host, port)
    client.loop_start()
    try:
        infos = [client.publish(topic, p, qos=1) for p in payloads]
        for info in infos:
            info.wait_for_publish(timeout=30)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def _publish_each(messages: list[tuple[str, bytes]]) -> None:
    """Publish (topic, payload) pairs in order on one connection, QoS 1."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(HOST, PORT)
    client.loop_start()
    try:
        for info in [client.publish(t, p, qos=1) for t, p in messages]:
            info.wait_for_publish(timeout=30)
    finally:
        client.disconnect()
        client.loop_stop()


def _reference(pack, frame: pd.DataFrame, folder: Path):
    return run_monitor(pack, FileReplay("ref", frame=frame), alerts=folder / "ref.jsonl",
                       settings=TrackerSettings(WINDOW), handle_signals=False)


def _run_mqtt(pack, topic: str, payloads: list[bytes], n_events: int, folder: Path, **options):
    stream = MqttStream(f"mqtt://{HOST}:{PORT}/{topic.rsplit('/', 1)[0]}/+", client_id=f"t-{uuid.uuid4().hex[:8]}",
                        persistent=False, max_latency=0.05, **options).connect()
    sender = threading.Thread(target=publish, args=(topic, payloads))
    sender.start()
    try:
        summary = run_monitor(pack, stream, alerts=folder / "mqtt.jsonl", checkpoint=folder / "ck",
                              settings=TrackerSettings(WINDOW), max_events=n_events, handle_signals=False)
    finally:
        sender.join()
    return summary, stream


# -- no broker needed -------------------------------------------------------------------------------------------
def test_urls_are_read_and_passwords_never_shown():
    address = parse_url("mqtt://line:s3cret@broker.local:1884/plant/+/events")
    assert (address.host, address.port, address.topic) == ("broker.local", 1884, "plant/+/events")
    assert "s3cret" not in address.label and "s3cret" not in repr(address)
    assert parse_url("mqtt://broker/plant/%23").topic == "plant/#"
    assert parse_url("mqtt://[::1]:1999/a").host == "::1"
    for bad, why in (("mqtt://broker", "no topic filter"), ("mqtt://broker/a/#/b", "'#' must be the last"),
                     ("mqtt://broker/a+/b", "'\\+' must stand alone"), ("mqtt://:1883/a", "no broker host"),
                     ("mqtt://broker:99999/a", "not a port number"), ("mqtts://u:pw@broker/a", "TLS"),
                     ("http://broker/a", "not an MQTT address")):
        with pytest.raises(DataError, match=why) as info:
            parse_url(bad)
        assert "pw@" not in str(info.value)


def test_options_a_user_can_get_wrong_are_refused_clearly():
    with pytest.raises(DataError, match="--qos 2 is not supported"):
        MqttStream("mqtt://broker/a", qos=2)
    with pytest.raises(DataError, match="--format 'xml'"):
        MqttStream("mqtt://broker/a", format="xml")
    with pytest.raises(DataError, match="needs a Sparkplug decoder"):
        MqttStream("mqtt://broker/a", format="sparkplug")
    with pytest.raises(DataError, match="max_batch=0"):
        MqttStream("mqtt://broker/a", max_batch=0)
    assert default_client_id("sha256:x", "/a") != default_client_id("sha256:x", "/b")


def test_an_unreachable_broker_is_one_clear_message_with_the_password_hidden():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stream = MqttStream(f"mqtt://u:hidden@127.0.0.1:{port}/a/b")
    with pytest.raises(DataError, match="cannot connect to the broker") as info:
        stream.connect()
    assert "hidden" not in str(info.value) and "u:***@" in str(info.value)


def test_a_checkpoint_of_another_stream_or_topic_is_refused():
    stream = MqttStream("mqtt://broker/a/#")
    with pytest.raises(DataError, match="not an MQTT stream"):
        stream.seek({"kind": "file", "events": 3})
    with pytest.raises(DataError, match="topic filter 'b/#'"):
        stream.seek({"kind": "mqtt", "topic": "b/#", "events": 3})
    with pytest.raises(DataError, match="event ids are damaged"):
        stream.seek({"kind": "mqtt", "topic": "a/#", "events": 3, "seen": [1, 2]})
    stream.seek({"kind": "mqtt", "topic": "a/#", "events": 3, "seen": ["x", "y"]})
    assert stream.events == 3 and stream.position()["seen"] == ["x", "y"]


# -- against Mosquitto ------------------------------------------------------------------------------------------
@needs_broker
def test_json_events_give_the_same_states_and_alerts_as_a_file_replay(tmp_path):
    pack, events = _events()
    reference = _reference(pack, events, tmp_path)
    assert reference.alerts >= 1  # the planted drift alerts
    payloads = [json.dumps(r).encode() for r in _records(events)]
    summary, stream = _run_mqtt(pack, _topic(), payloads, len(events), tmp_path)
    assert summary.total_events == len(events) and summary.quarantined == 0
    assert summary.monitor is not None and reference.monitor is not None
    assert summary.monitor.to_json() == reference.monitor.to_json()
    assert (tmp_path / "mqtt.jsonl").read_bytes() == (tmp_path / "ref.jsonl").read_bytes()
    assert stream.duplicates == 0 and stream.messages == len(events)


@needs_broker
def test_json_arrays_carry_several_events_per_message(tmp_path):
    pack, events = _events(3000, seed=6)
    reference = _reference(pack, events, tmp_path)
    records = _records(events)
    payloads = [json.dumps(records[i:i + 37]).encode() for i in range(0, len(records), 37)]
    summary, stream = _run_mqtt(pack, _topic(), payloads, len(events), tmp_path, max_batch=100)
    assert summary.monitor is not None and reference.monitor is not None
    assert summary.monitor.to_json() == reference.monitor.to_json()
    assert (tmp_path / "mqtt.jsonl").read_bytes() == (tmp_path / "ref.jsonl").read_bytes()
    assert stream.messages == len(payloads)


@needs_broker
def test_malformed_messages_are_quarantined_with_their_reasons_and_the_run_goes_on(tmp_path):
    pack, events = _events(2000, seed=7)
    records = _records(events)
    columns = sorted(set(events.columns) - {"event_id"})
    text_in_number = dict(records[0], event_id="bad-number", **{columns[0]: "n/a"})
    lacking = {k: v for k, v in records[0].items() if k != columns[-1]} | {"event_id": "lacking"}
    hostile = [b"{not json", b"\xff\xfe\x00binary", b'"a string"', b"[1, 2]", b"[]", b"[" * 3000,
               json.dumps(text_in_number).encode(), json.dumps(lacking).encode(), b"x" * 5000]
    payloads = [json.dumps(r).encode() for r in records[:1000]] + hostile + [
        json.dumps(r).encode() for r in records[1000:]]
    summary, _ = _run_mqtt(pack, _topic(), payloads, len(events) + 1, tmp_path, columns=columns,
                                max_payload=4096)
    assert summary.total_events == len(events) + 1  # the event with text in a number column is consumed, set aside
    lines = [json.loads(line) for line in (tmp_path / "mqtt.quarantine.jsonl").read_text().splitlines()]
    codes = sorted(q["code"] for q in lines)
    assert codes == sorted(["bad-payload", "bad-payload", "not-an-object", "not-an-object", "not-an-object",
                            "bad-payload", "not-a-number", "missing-column", "too-large"])
    assert summary.quarantined == len(hostile)
    by_code = {q["code"]: q for q in lines}
    assert by_code["too-large"]["value"].endswith("(5,000 bytes)")
    assert by_code["missing-column"]["column"] == columns[-1]
    assert any(q["value"].startswith("base64:") for q in lines)  # a binary payload is kept readable
    assert all("topic 'leanlearn-test/" in q["reason"] for q in lines if q["code"] != "not-a-number")
    reference = _reference(pack, pd.concat([events.iloc[:1000], pd.DataFrame([text_in_number]),
                                            events.iloc[1000:]], ignore_index=True), tmp_path)
    assert summary.states == reference.states and summary.alerts == reference.alerts


@needs_broker
def test_an_event_published_twice_is_counted_once(tmp_path):
    pack, events = _events(2500, seed=8)
    reference = _reference(pack, events, tmp_path)
    records = _records(events)
    payloads = []
    for i, record in enumerate(records):
        payloads.append(json.dumps(record).encode())
        if i % 3 == 0:  # a publisher retry, or a gateway replaying its buffer
            payloads.append(json.dumps(record).encode())
    summary, stream = _run_mqtt(pack, _topic(), payloads, len(events), tmp_path)
    assert stream.duplicates == len(range(0, len(records), 3))
    assert summary.monitor is not None and reference.monitor is not None
    assert summary.monitor.to_json() == reference.monitor.to_json()
    assert (tmp_path / "mqtt.jsonl").read_bytes() == (tmp_path / "ref.jsonl").read_bytes()


@needs_broker
def test_unacknowledged_messages_come_back_and_acknowledged_ones_do_not(tmp_path):
    """The broker side of exactly once: a session that stops before its checkpoint gets its messages again."""
    topic = _topic()
    client_id = f"t-{uuid.uuid4().hex[:8]}"
    first = MqttStream(f"mqtt://{HOST}:{PORT}/{topic}", client_id=client_id, max_latency=0.05).connect()
    publish(topic, [json.dumps({"event_id": f"a{i}", "x": i}).encode() for i in range(50)])
    got = 0
    for frame in first.batches(20):  # take 20 events, checkpoint (position + commit), take 20 more, crash
        got += len(frame)
        if got == 20:
            first.position()
            assert first.commit() == 20
            time.sleep(0.5)  # let the network thread send the acknowledgements (a crash before is the dedup's case)
        if got >= 40:
            break
    first._client.loop_stop()  # a crash: no DISCONNECT, no acknowledgement
    first._client.socket().close()
    first._client = None
    second = MqttStream(f"mqtt://{HOST}:{PORT}/{topic}", client_id=client_id, max_latency=0.05).connect()
    ids: list[str] = []
    for frame in second.batches(100):
        ids += frame["event_id"].tolist() if len(frame) else []
        if len(ids) >= 30 or (not len(frame) and ids):
            break
    second.position()
    second.commit()
    second.close()
    assert ids == [f"a{i}" for i in range(20, 50)]  # in order, none lost, the acknowledged 20 not sent again


@needs_broker
def test_sparkplug_messages_are_decoded_gaps_quarantined_and_a_rebirth_requested(tmp_path):
    import paho.mqtt.client as mqtt

    from leanlearn.mining.rules import Condition, Rule, RuleSet
    from leanlearn.online.sparkplug import DataType, EdgeNode, SparkplugDecoder, SparkplugMapping
    from leanlearn.packs.pack import RulePack, Target

    rule = Rule((Condition("torque", ">=", 60.0),), Condition("scrap", "==", 1), support=0.05, coverage=0.1,
                confidence=0.5, lift=5.0, leverage=0.04, conviction=1.8, n=1000, hits=500, p_value=1e-20,
                p_value_raw=1e-22, ci=(0.47, 0.53), base_rate=0.1, id="R1")
    pack = RulePack(name="press", line="L1", targets=(Target("scrap"),), rules=RuleSet((rule,)))
    mapping = SparkplugMapping.from_dict({"features": {"torque": "Spindle/Torque"}, "outcome": {"scrap": "NOK"}})
    group = f"G{uuid.uuid4().hex[:8]}"
    edge = EdgeNode(group, "press-1", {"Spindle/Torque": DataType.DOUBLE, "NOK": DataType.INT32})
    messages = [edge.birth({"Spindle/Torque": 50.0, "NOK": 0}, timestamp=1_700_000_000_000)]
    for i in range(600):
        torque = 65.0 if i % 4 else 50.0
        messages.append(edge.data({"Spindle/Torque": torque, "NOK": int(i % 8 == 1)}, timestamp=1_700_000_000_000 + i))
        if i == 200:
            messages.append((messages[-1][0], b"\x0a\xff garbage"))  # not a Sparkplug payload
        if i == 400:
            edge.seq += 3  # three messages lost upstream: a gap
    expected_decoder = SparkplugDecoder(mapping)
    expected = [e for topic, payload in messages for e in expected_decoder.handle(topic, payload).events]
    reference = _reference(pack, pd.DataFrame.from_records(expected), tmp_path)

    commands: list[str] = []
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    listener.on_message = lambda c, u, m: commands.append(m.topic)
    listener.connect(HOST, PORT)
    listener.subscribe(f"spBv1.0/{group}/NCMD/#", qos=1)
    listener.loop_start()
    try:
        stream = MqttStream(f"mqtt://{HOST}:{PORT}/spBv1.0/{group}/#", format="sparkplug",
                            decoder=SparkplugDecoder(mapping),
                            columns=("torque", "scrap"), max_latency=0.05).connect()
        sender = threading.Thread(target=_publish_each, args=(messages,))
        sender.start()
        summary = run_monitor(pack, stream, alerts=tmp_path / "spb.jsonl", settings=TrackerSettings(WINDOW),
                              max_events=len(expected), handle_signals=False)
        sender.join()
        deadline = time.monotonic() + 5
        while not commands and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        listener.loop_stop()
        listener.disconnect()
    assert summary.total_events == len(expected) == 600  # the message after the gap carries every metric: used
    assert stream.duplicates == 0  # event ids repeat after seq wraps at 256; they are not taken for duplicates
    assert summary.monitor is not None and reference.monitor is not None
    assert summary.monitor.to_json() == reference.monitor.to_json()
    lines = [json.loads(line) for line in (tmp_path / "spb.quarantine.jsonl").read_text().splitlines()]
    assert [q["code"] for q in lines] == ["bad-sparkplug", "bad-sparkplug"]
    assert "seq gap" in lines[1]["reason"] and lines[0]["value"].startswith("base64:")
    assert commands == [f"spBv1.0/{group}/NCMD/press-1"]  # the rebirth request reached the edge node's topic


def test_the_monitor_command_names_a_bad_mqtt_address_in_one_line(tmp_path):
    import subprocess
    import sys

    from leanlearn.online.scenarios import planted_stream

    pack, _ = planted_stream(2, 100, reference=5000, seed=1)
    pack.save(tmp_path / "pack.json")
    for url, why in (("mqtt://u:pw@127.0.0.1:1/a/#/b", "'#' must be the last level"),
                     ("mqtts://u:pw@127.0.0.1/a", "TLS")):
        done = subprocess.run([sys.executable, "-m", "leanlearn.cli", "monitor", str(tmp_path / "pack.json"), url],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode != 0 and why in done.stderr and "Traceback" not in done.stderr
        assert "pw" not in done.stderr.replace("pw@", "")  # a mention as part of the user is fine, not the password
        assert ":pw@" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "leanlearn.cli", "monitor", str(tmp_path / "pack.json"),
                           "mqtt://127.0.0.1:1883/a", "--format", "sparkplug"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0 and "needs --mapping" in done.stderr


@needs_broker
def test_resuming_without_the_broker_session_is_reported():
    topic = _topic()
    stream = MqttStream(f"mqtt://{HOST}:{PORT}/{topic}", client_id=f"t-{uuid.uuid4().hex[:8]}")
    stream.seek({"kind": "mqtt", "topic": topic, "events": 7, "seen": []})  # a checkpoint, but a session never made
    stream.connect()
    stream.close()
    assert stream.sessions_lost == 1 and "holds no session" in stream.problems[0]
