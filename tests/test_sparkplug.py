"""Sparkplug B decoding: payload round trips, BIRTH/DATA/DEATH state, seq gaps and rebirths, hostile payloads."""

from __future__ import annotations

import json
import math
import socket
import threading
import uuid

import pytest

from leanlearn.errors import MappingError
from leanlearn.online.base import MonitorError
from leanlearn.online.sparkplug import (
    REBIRTH_METRIC,
    DataType,
    Metric,
    SparkplugDecoder,
    SparkplugError,
    SparkplugMapping,
    decode_payload,
    encode_payload,
    parse_topic,
)

G, N = "Plant", "press-1"
NB, ND, NDTH = f"spBv1.0/{G}/NBIRTH/{N}", f"spBv1.0/{G}/NDATA/{N}", f"spBv1.0/{G}/NDEATH/{N}"


def mapping(**extra: object) -> SparkplugMapping:
    doc = {"features": {"torque": "Torque", "speed": {"metric": "Speed", "expr": "value * 60"}},
           "outcome": {"defect": "NOK"}}
    doc.update(extra)
    return SparkplugMapping.from_dict(doc)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def decoder(**params: object) -> SparkplugDecoder:
    return SparkplugDecoder(mapping(), clock=Clock(), **params)  # type: ignore[arg-type]


def nbirth(seq: int = 0, bdseq: int = 0, ts: int = 1_700_000_000_000, torque: float = 40.0) -> bytes:
    return encode_payload([Metric("bdSeq", bdseq, DataType.INT64), Metric("Torque", torque, DataType.DOUBLE, alias=1),
                           Metric("Speed", 25.0, DataType.FLOAT, alias=2), Metric("NOK", False, DataType.BOOLEAN,
                                                                                   alias=3),
                           Metric("Unmapped", "x", DataType.STRING, alias=4)], seq=seq, timestamp=ts)


def ndata(seq: int, *metrics: Metric, ts: int = 1_700_000_001_000) -> bytes:
    return encode_payload(list(metrics), seq=seq, timestamp=ts)


def nok(value: bool = True) -> Metric:
    return Metric(None, value, alias=3)


def born() -> SparkplugDecoder:
    d = decoder()
    assert d.handle(NB, nbirth()).problems == []
    return d


# -- payloads --------------------------------------------------------------------------------------------------------
CASES = [
    (DataType.INT8, -128), (DataType.INT8, 127), (DataType.INT16, -32768), (DataType.INT32, -(2**31)),
    (DataType.INT32, 2**31 - 1), (DataType.INT64, -(2**63)), (DataType.INT64, 2**63 - 1), (DataType.UINT8, 255),
    (DataType.UINT16, 65535), (DataType.UINT32, 2**32 - 1), (DataType.UINT64, 2**64 - 1), (DataType.FLOAT, 1.5),
    (DataType.DOUBLE, -2.25e300), (DataType.BOOLEAN, True), (DataType.BOOLEAN, False), (DataType.STRING, "ok é"),
    (DataType.DATETIME, 1_700_000_000_000), (DataType.TEXT, "long text"), (DataType.UUID, str(uuid.UUID(int=7))),
    (DataType.BYTES, b"\x00\xff"), (DataType.FILE, b"file"),
]


@pytest.mark.parametrize(("dtype", "value"), CASES)
def test_round_trip_every_datatype(dtype: DataType, value: object) -> None:
    data = encode_payload([Metric("m", value, dtype, alias=9, timestamp=12)], seq=255, timestamp=34)
    payload = decode_payload(data)
    assert (payload.seq, payload.timestamp) == (255, 34)
    metric = payload.metrics[0]
    assert (metric.name, metric.alias, metric.timestamp, metric.datatype) == ("m", 9, 12, dtype)
    assert metric.value == value and type(metric.value) is type(value)


def test_signed_integers_read_both_twos_complement_forms() -> None:
    from leanlearn.online.sparkplug import _classes

    payload_cls, _ = _classes()
    message = payload_cls()
    for raw in (0xFF, 0xFFFFFFFF):  # Int8 -1 as its width's complement, and sign-extended to the uint32 field
        m = message.metrics.add(name=f"r{raw}", datatype=int(DataType.INT8))
        m.int_value = raw
    assert [m.value for m in decode_payload(message.SerializeToString()).metrics] == [-1, -1]


def test_out_of_range_values_are_refused() -> None:
    with pytest.raises(SparkplugError, match="out of range"):
        encode_payload([Metric("m", 128, DataType.INT8)])
    with pytest.raises(SparkplugError, match="out of range"):
        encode_payload([Metric("m", -1, DataType.UINT16)])
    from leanlearn.online.sparkplug import _classes

    message = _classes()[0]()
    message.metrics.add(name="m", datatype=int(DataType.UINT8), int_value=300)
    with pytest.raises(SparkplugError, match="out of range for UINT8"):
        decode_payload(message.SerializeToString())


def test_unknown_fields_are_harmless() -> None:
    # a metric with metadata (field 8) and properties (field 9), and a payload extension field 6: all skipped
    base = encode_payload([Metric("m", 3, DataType.INT32)], seq=1)
    extra_metric = bytes([0x42, 0x02, 0x08, 0x01, 0x4A, 0x00])  # field 8 (len 2), field 9 (len 0)
    inner = encode_payload([Metric("m", 3, DataType.INT32)])[2:] + extra_metric
    data = bytes([0x12, len(inner)]) + inner + b"\x18\x01" + bytes([0x32, 0x01, 0x00])  # + seq 1 + field 6
    assert base != data
    payload = decode_payload(data)
    assert payload.seq == 1 and payload.metrics[0].value == 3


def test_topics() -> None:
    assert parse_topic("spBv1.0/G/DDATA/n/d").device == "d"
    assert parse_topic("spBv1.0/STATE/host").kind == "STATE"
    for bad in ("spBv1.0/G/NDATA/n/d", "spBv1.0/G/DDATA/n", "spBv1.0/G/XDATA/n", "spBv1.0//NDATA/n", "x/y", ""):
        with pytest.raises(SparkplugError, match="topic"):
            parse_topic(bad)


# -- BIRTH, DATA, DEATH ----------------------------------------------------------------------------------------------
def test_birth_then_data_by_alias() -> None:
    d = born()
    out = d.handle(ND, ndata(1, Metric(None, 42.0, alias=1), nok()))
    assert out.problems == [] and out.commands == []
    assert out.events == [{"torque": 42.0, "speed": 1500.0, "defect": True, "timestamp": "2023-11-14T22:13:21.000Z",
                           "event_id": "Plant/press-1/-/0.1700000000000/1"}]
    # a DATA message without the outcome metric updates the state but makes no event (emit: outcome)
    assert d.handle(ND, ndata(2, Metric(None, 50.0, alias=1))).events == []
    assert d.handle(ND, ndata(3, nok(False))).events[0]["torque"] == 50.0
    # by name, too
    assert d.handle(ND, ndata(4, Metric("NOK", True))).events[0]["defect"] is True


def test_emit_data_makes_an_event_per_data_message() -> None:
    d = SparkplugDecoder(mapping(emit="data"), clock=Clock())
    d.handle(NB, nbirth())
    assert len(d.handle(ND, ndata(1, Metric(None, 1.0, alias=1))).events) == 1
    assert d.handle(ND, ndata(2, Metric(None, "y", alias=4))).events == []  # only an unmapped metric


def test_seq_wraps_from_255_to_0() -> None:
    d = decoder()
    d.handle(NB, nbirth(seq=250))
    problems, events = [], []
    for i in range(1, 12):
        out = d.handle(ND, ndata((250 + i) % 256, nok(), ts=1_700_000_000_000 + i))
        problems += out.problems
        events += out.events
    assert problems == [] and len(events) == 11
    # the id counts messages since the birth: seq wraps, the id does not
    assert [e["event_id"].rsplit("/", 1)[1] for e in events] == [str(i) for i in range(1, 12)]
    assert d.n_gaps == 0


def test_event_ids_stay_unique_across_many_seq_wraps_and_a_checkpoint() -> None:
    d = decoder()
    d.handle(NB, nbirth())
    ids = [e["event_id"] for i in range(1, 400)
           for e in d.handle(ND, ndata(i % 256, nok(), ts=1_700_000_000_000 + i)).events]
    restored = SparkplugDecoder.from_json(json.loads(json.dumps(d.to_json())), d.mapping)
    ids += [e["event_id"] for i in range(400, 700)
            for e in restored.handle(ND, ndata(i % 256, nok(), ts=1_700_000_000_000 + i)).events]
    assert len(ids) == 699 and len(set(ids)) == 699


def test_gap_gives_a_problem_and_one_throttled_rebirth() -> None:
    clock = Clock()
    d = SparkplugDecoder(mapping(), clock=clock, rebirth_interval=5.0)
    d.handle(NB, nbirth())
    out = d.handle(ND, ndata(3, nok()))  # 1 and 2 lost; torque and speed are stale, the message lacks them
    assert d.n_gaps == 1 and out.events == []
    assert len(out.problems) == 1 and d.n_problems == 1  # one reason per message: the gap, and the stale values
    assert "seq gap: expected 1, got 3 (2 messages lost)" in out.problems[0] and "stale" in out.problems[0]
    assert [t for t, _ in out.commands] == [f"spBv1.0/{G}/NCMD/{N}"]
    command = decode_payload(out.commands[0][1])
    assert [(m.name, m.value, m.datatype) for m in command.metrics] == [(REBIRTH_METRIC, True, DataType.BOOLEAN)]
    # still stale: problems, but no new rebirth within the interval
    out = d.handle(ND, ndata(4, nok()))
    assert out.events == [] and "stale" in out.problems[0] and out.commands == []
    clock.now += 6
    assert len(d.handle(ND, ndata(5, nok())).commands) == 1
    # a message carrying every value it needs is usable despite the stale state
    full = d.handle(ND, ndata(6, Metric(None, 1.0, alias=1), Metric(None, 2.0, DataType.FLOAT, alias=2), nok()))
    assert full.problems == [] and full.events[0]["speed"] == 120.0
    # the rebirth clears the stale state
    d.handle(NB, nbirth(ts=1_700_000_009_000, torque=7.0))
    event = d.handle(ND, ndata(1, nok())).events[0]
    assert event["torque"] == 7.0 and event["event_id"] == "Plant/press-1/-/0.1700000009000/1"


def test_unknown_alias_and_name() -> None:
    d = born()
    out = d.handle(ND, ndata(1, Metric(None, 1.0, alias=99), nok()))
    assert out.events == [] and "alias 99 was not in the BIRTH" in out.problems[0] and len(out.commands) == 1
    out = d.handle(ND, ndata(2, Metric("Nope", 1.0), nok()))
    assert out.events == [] and "'Nope' was not in the BIRTH" in out.problems[0]
    # the seq still advanced: no gap for the next message; values are stale until a rebirth
    out = d.handle(ND, ndata(3, nok()))
    assert d.n_gaps == 0 and "stale" in out.problems[0]


def test_data_before_birth_and_after_death() -> None:
    d = decoder()
    out = d.handle(ND, ndata(0, nok()))
    assert out.events == [] and "before its NBIRTH" in out.problems[0] and len(out.commands) == 1
    d.handle(NB, nbirth(bdseq=4))
    assert d.handle(ND, ndata(1, nok())).events
    d.handle(NDTH, encode_payload([Metric("bdSeq", 3, DataType.INT64)]))  # a stale death of an earlier session
    assert d.nodes == {f"{G}/{N}": True}
    d.handle(NDTH, encode_payload([Metric("bdSeq", 4, DataType.INT64)]))
    assert d.nodes == {f"{G}/{N}": False}
    out = d.handle(ND, ndata(2, nok()))
    assert out.events == [] and "before its NBIRTH" in out.problems[0]


def test_devices() -> None:
    m = SparkplugMapping.from_dict({"features": {"torque": "Torque", "line_speed": {"metric": "Line", "device": ""}},
                                    "outcome": {"defect": "NOK"}})
    d = SparkplugDecoder(m, clock=Clock())
    d.handle(NB, encode_payload([Metric("bdSeq", 1, DataType.INT64), Metric("Line", 3.0, alias=1)], seq=0,
                                timestamp=5))
    dev = f"spBv1.0/{G}/DBIRTH/{N}/spindle"
    ddata = f"spBv1.0/{G}/DDATA/{N}/spindle"
    out = d.handle(ddata, ndata(1, Metric(None, True, alias=2)))
    assert "before its DBIRTH" in out.problems[0]
    d.handle(dev, encode_payload([Metric("Torque", 9.0, alias=1), Metric("NOK", False, alias=2)], seq=2))
    out = d.handle(ddata, ndata(3, Metric(None, True, alias=2)))
    assert out.events[0] | {"timestamp": None} == {"torque": 9.0, "line_speed": 3.0, "defect": True,
                                                   "timestamp": None, "event_id": "Plant/press-1/spindle/1.5/3"}
    d.handle(f"spBv1.0/{G}/DDEATH/{N}/spindle", encode_payload([], seq=4))
    assert "before its DBIRTH" in d.handle(ddata, ndata(5, Metric(None, True, alias=2))).problems[0]


def test_duplicates_are_dropped_not_gaps() -> None:
    d = born()
    first = ndata(1, nok())
    assert len(d.handle(ND, first).events) == 1
    again = d.handle(ND, first)
    assert again.duplicate and again.events == [] and again.problems == [] and d.n_gaps == 0
    assert d.handle(NB, nbirth()).duplicate  # a redelivered NBIRTH does not reset anything
    assert len(d.handle(ND, ndata(2, nok())).events) == 1 and d.n_duplicates == 2


# -- hostile payloads ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("payload", [b"\xff" * 10, b"not protobuf at all", nbirth()[:-3], b"\x12\xff\xff\xff\xff\x0f"])
def test_garbage_and_truncated_payloads(payload: bytes) -> None:
    d = born()
    out = d.handle(ND, payload)
    assert out.events == [] and len(out.problems) == 1 and d.n_problems == 1


def test_huge_payload_and_too_many_metrics() -> None:
    d = SparkplugDecoder(mapping(), clock=Clock(), max_payload_bytes=1000, max_metrics=5)
    out = d.handle(NB, b"\x00" * 1001)
    assert "over the limit of 1,000 (max_payload_bytes)" in out.problems[0]
    many = encode_payload([Metric(f"m{i}", i) for i in range(6)], seq=0)
    assert "max_metrics" in d.handle(NB, many).problems[0]
    assert d.nodes == {}


def test_nan_and_null_metrics() -> None:
    d = born()
    out = d.handle(ND, ndata(1, Metric(None, math.nan, DataType.DOUBLE, alias=1), Metric(None, None, DataType.FLOAT,
                                                                                        alias=2, is_null=True), nok()))
    event = out.events[0]
    assert math.isnan(event["torque"]) and event["speed"] is None and out.problems == []
    out = d.handle(ND, ndata(2, Metric(None, math.inf, DataType.FLOAT, alias=2), nok()))
    assert math.isnan(out.events[0]["speed"])  # inf * 60 is not finite: a missing value, as any expression


def test_value_in_the_wrong_field() -> None:
    d = born()
    out = d.handle(ND, ndata(1, Metric(None, "text", DataType.STRING, alias=1), nok()))  # Torque is a Double
    assert out.events == [] and "datatype DOUBLE but the value is in string_value" in out.problems[0]


def test_topic_not_sparkplug_and_commands_ignored() -> None:
    d = decoder()
    assert "not a Sparkplug B topic" in d.handle("factory/x", b"{}").problems[0]
    assert d.handle(f"spBv1.0/{G}/NCMD/{N}", b"\xff").problems == []
    assert d.handle("spBv1.0/STATE/host", b'{"online": true}').problems == []


def test_limits_on_nodes_and_names() -> None:
    d = SparkplugDecoder(mapping(), clock=Clock(), max_nodes=2, max_name=10)
    for name in ("a", "b"):
        d.handle(f"spBv1.0/{G}/NBIRTH/{name}", nbirth())
    assert "max_nodes" in d.handle(f"spBv1.0/{G}/NBIRTH/c", nbirth()).problems[0]
    d.handle(f"spBv1.0/{G}/NDEATH/a", encode_payload([Metric("bdSeq", 0, DataType.INT64)]))
    assert d.handle(f"spBv1.0/{G}/NBIRTH/c", nbirth()).problems == []  # the offline node made room
    assert set(d.nodes) == {f"{G}/b", f"{G}/c"}
    long_name = encode_payload([Metric("x" * 11, 1.0)], seq=0)
    assert "max_name" in d.handle(f"spBv1.0/{G}/NBIRTH/b", long_name).problems[0]


def test_limit_on_registered_metrics() -> None:
    d = SparkplugDecoder(mapping(), clock=Clock(), max_registered=8)
    assert d.handle(f"spBv1.0/{G}/NBIRTH/a", nbirth()).problems == []  # 5 metrics
    assert d.handle(f"spBv1.0/{G}/NBIRTH/a", nbirth(ts=2)).problems == []  # a rebirth replaces them
    assert "max_registered" in d.handle(f"spBv1.0/{G}/NBIRTH/b", nbirth()).problems[0]


def test_fuzz_never_raises() -> None:
    import random

    rng = random.Random(7)
    d = born()
    good = ndata(1, Metric(None, 1.0, alias=1), nok())
    for _ in range(2000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        out = d.handle(ND if rng.random() < 0.9 else NB, bytes(data[: rng.randint(0, len(data))]))
        assert isinstance(out.problems, list)
    assert d.n_messages == 2001


# -- persistence -----------------------------------------------------------------------------------------------------
def stream() -> list[tuple[str, bytes]]:
    dev_birth = encode_payload([Metric("Torque", 2.0, alias=1), Metric("NOK", False, alias=2),
                                Metric("Speed", math.nan, DataType.DOUBLE, alias=3)], seq=1)
    messages = [(NB, nbirth()), (f"spBv1.0/{G}/DBIRTH/{N}/d1", dev_birth)]
    seq = 1
    for i in range(40):
        seq = (seq + 1) % 256
        if i == 20:
            seq += 2  # a gap
        if i % 3:
            messages.append((ND, ndata(seq, Metric(None, float(i), alias=1), nok(i % 2 == 0), ts=10 * i)))
        else:
            messages.append((f"spBv1.0/{G}/DDATA/{N}/d1", ndata(seq, Metric(None, True, alias=2), ts=10 * i)))
        if i == 30:
            messages.append(messages[-1])  # a redelivery
    return messages


def run(d: SparkplugDecoder, messages: list[tuple[str, bytes]]) -> list[object]:
    return [(o.events, o.problems, o.commands, o.duplicate) for o in (d.handle(t, p) for t, p in messages)]


@pytest.mark.parametrize("cut", [1, 2, 10, 22, 25, 33])
def test_to_json_from_json_mid_stream(cut: int) -> None:
    messages = stream()
    whole = run(decoder(), messages)
    first = decoder()
    head = run(first, messages[:cut])
    doc = json.loads(json.dumps(first.to_json(), allow_nan=False))
    second = SparkplugDecoder.from_json(doc, mapping(), clock=Clock())
    tail = run(second, messages[cut:])
    assert repr(head + tail) == repr(whole)  # repr: NaN compares equal to itself there
    assert second.n_gaps == 1 and second.n_duplicates == 1


def test_from_json_keeps_the_limits() -> None:
    d = SparkplugDecoder(mapping(), rebirth_interval=60.0, max_nodes=3)
    back = SparkplugDecoder.from_json(d.to_json(), mapping())
    assert (back.rebirth_interval, back.max_nodes) == (60.0, 3)
    assert SparkplugDecoder.from_json(d.to_json(), mapping(), max_nodes=9).max_nodes == 9


def test_from_json_damaged() -> None:
    d = born()
    doc = d.to_json()
    doc["nodes"][0]["seq"] = "x"
    with pytest.raises(MonitorError, match="damaged"):
        SparkplugDecoder.from_json(doc, mapping())
    with pytest.raises(MonitorError, match="schema"):
        SparkplugDecoder.from_json([], mapping())


# -- the mapping -----------------------------------------------------------------------------------------------------
def test_mapping_errors() -> None:
    with pytest.raises(MappingError, match="did you mean 'outcome'"):
        SparkplugMapping.from_dict({"features": {"t": "T"}, "outcom": {"d": "D"}})
    with pytest.raises(MappingError, match="did you mean 'metric'"):
        SparkplugMapping.from_dict({"features": {"t": {"metrc": "T"}}})
    with pytest.raises(MappingError, match="reads only `value`"):
        SparkplugMapping.from_dict({"features": {"t": {"metric": "T", "expr": "other * 2"}}})
    with pytest.raises(MappingError, match="function calls"):
        SparkplugMapping.from_dict({"features": {"t": {"metric": "T", "expr": "__import__('os').system('x')"}}})
    with pytest.raises(MappingError, match="one outcome"):
        SparkplugMapping.from_dict({"features": {"t": "T"}, "outcome": {"a": "A", "b": "B"}})
    with pytest.raises(MappingError, match="emit"):
        SparkplugMapping.from_dict({"features": {"t": "T"}, "emit": "outcome"})
    with pytest.raises(MappingError, match="maps no metric"):
        SparkplugMapping.from_dict({})


def test_mapping_patterns_and_example_file() -> None:
    from pathlib import Path

    m = SparkplugMapping.from_dict({"features": {"s": [{"metric": "A", "node": "press-*"}, {"metric": "B"}]}})
    assert m.resolve("G", "press-2", "", ["A", "B"]) == {"s": ("A", None)}
    assert m.resolve("G", "oven-1", "", ["A", "B"]) == {"s": ("B", None)}
    assert m.resolve("G", "press-2", "", ["B"]) == {"s": ("B", None)}
    example = Path(__file__).parents[1] / "pipelines" / "mappings" / "sparkplug-example.yaml"
    loaded = SparkplugMapping.from_yaml(example)
    assert loaded.outcome == "Machine failure" and "Torque [Nm]" in loaded.columns
    with pytest.raises(MappingError, match="no such sparkplug mapping file"):
        SparkplugMapping.from_yaml("nowhere.yaml")


# -- live, through the machine's Mosquitto -----------------------------------------------------------------------------
def _broker_up(host: str = "127.0.0.1", port: int = 1883) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _broker_up(), reason="no MQTT broker on 127.0.0.1:1883 (start mosquitto to run this test)")
def test_live_birth_and_data_through_mosquitto() -> None:
    import paho.mqtt.client as mqtt

    group = f"test-{uuid.uuid4().hex[:8]}"
    received: list[tuple[str, bytes]] = []
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(client: object, userdata: object, message: mqtt.MQTTMessage) -> None:
        received.append((message.topic, bytes(message.payload)))
        if len(received) == 3:
            done.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{group}-sub")
    sub.on_message = on_message
    sub.on_subscribe = lambda *args: subscribed.set()
    sub.connect("127.0.0.1", 1883)
    sub.subscribe(f"spBv1.0/{group}/#", qos=1)
    sub.loop_start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{group}-pub")
    try:
        assert subscribed.wait(5)
        pub.connect("127.0.0.1", 1883)
        pub.loop_start()
        for topic, payload in ((f"spBv1.0/{group}/NBIRTH/{N}", nbirth()),
                               (f"spBv1.0/{group}/NDATA/{N}", ndata(1, nok())),
                               (f"spBv1.0/{group}/NDATA/{N}", ndata(3, nok()))):
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
        assert done.wait(10), f"received {len(received)} of 3 messages"
    finally:
        pub.loop_stop()
        pub.disconnect()
        sub.loop_stop()
        sub.disconnect()
    d = decoder()
    outs = [d.handle(t, p) for t, p in received]
    assert outs[1].events[0]["event_id"] == f"{group}/{N}/-/0.1700000000000/1"
    assert outs[2].events == [] and outs[2].commands[0][0] == f"spBv1.0/{group}/NCMD/{N}"


# -- into the monitor ------------------------------------------------------------------------------------------------
def test_decoded_events_feed_the_monitor_like_a_table() -> None:
    import numpy as np
    import pandas as pd

    from leanlearn.mining.rules import Condition, Review, Rule, RuleSet
    from leanlearn.online.monitor import Monitor
    from leanlearn.online.sparkplug import EdgeNode
    from leanlearn.packs.pack import RulePack, Target

    rule = Rule((Condition("torque", ">", 50.0),), Condition("defect", "==", 1), support=0.05, coverage=0.1,
                confidence=0.9, lift=2.0, leverage=0.01, conviction=None, n=200, hits=180, p_value=1e-5,
                p_value_raw=1e-6, ci=(0.85, 0.95), base_rate=0.2, id="R1", review=Review())
    pack = RulePack(name="p", line="L", targets=(Target("defect"),), rules=RuleSet((rule,)))
    m = SparkplugMapping.from_dict({"features": {"torque": {"metric": "Torque", "expr": "value * 10"}},
                                    "outcome": {"defect": "NOK"}})
    edge = EdgeNode(G, N, {"Torque": DataType.FLOAT, "NOK": DataType.BOOLEAN})
    d = SparkplugDecoder(m, clock=Clock())
    rng = np.random.default_rng(3)
    rows, events = [], []
    d.handle(*edge.birth({"Torque": 1.0, "NOK": False}, timestamp=1_700_000_000_000))
    for i in range(400):
        torque = float(np.float32(rng.uniform(0, 10)))
        defect = bool(rng.random() < (0.9 if i < 200 else 0.2) if torque > 5 else rng.random() < 0.1)
        out = d.handle(*edge.data({"Torque": torque, "NOK": defect}, timestamp=1_700_000_000_000 + i))
        assert out.problems == []
        events += out.events
        rows.append({"torque": torque * 10, "defect": defect})
    table = Monitor(pack, window=50)
    table.update_many(pd.DataFrame(rows))
    live = Monitor(pack, window=50)
    live.update_many(events)
    assert live.n_events == 400 and live.n_quarantined == 0
    assert json.dumps(live.to_json()["trackers"], default=str) == json.dumps(table.to_json()["trackers"], default=str)
    timed = Monitor(pack, window="10s", time_column="timestamp")
    timed.update_many(events)
    assert timed.n_events == 400 and timed.n_quarantined == 0  # the ISO 8601 UTC times are read
