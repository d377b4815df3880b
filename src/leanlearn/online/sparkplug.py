"""Sparkplug B over MQTT: decode BIRTH / DATA / DEATH messages of edge nodes into the monitor's events.

Sparkplug B (Eclipse Sparkplug 3.0) is the standard for MQTT in industry: protobuf payloads, BIRTH certificates that
name every metric (with an alias and a datatype), DATA messages that carry only what changed (by alias), DEATH
certificates, and a ``seq`` number 0–255 per edge node that must grow by one with every message of that node.

No Sparkplug package is used (``pysparkplug`` and ``mqtt-spb-wrapper`` pin paho-mqtt < 2): the payload schema is
built here, in code, with ``google.protobuf``'s ``descriptor_pb2`` — the field numbers and types of the Sparkplug 3.0
specification (section 6.4, "Payload"), written from the specification, not copied from Eclipse Tahu's ``.proto``.
Only what a monitor needs is declared: ``Payload`` (timestamp 1, metrics 2, seq 3, uuid 4, body 5) and ``Metric``
(name 1, alias 2, timestamp 3, datatype 4, is_historical 5, is_transient 6, is_null 7, and the scalar values
int_value 10, long_value 11, float_value 12, double_value 13, boolean_value 14, string_value 15, bytes_value 16).
Metadata, properties, datasets, templates and extensions are not declared: protobuf keeps them as unknown fields,
so a payload that carries them decodes unharmed (their metrics have no usable value, see below).

Topics
------
``spBv1.0/<group>/<NBIRTH|NDEATH|DBIRTH|DDEATH|NDATA|DDATA|NCMD|DCMD>/<edge node>[/<device>]`` and
``spBv1.0/STATE/<host id>``. Commands and host STATE messages are read and ignored (they hold no line events).

What the decoder does with each message
---------------------------------------
=================  ================================================================================================
NBIRTH             registers the node's metrics (name, alias, datatype), its ``bdSeq`` and its ``seq``; forgets
                   its devices (they are born again after an NBIRTH)
DBIRTH             registers a device's metrics (the node must be born; counts in the node's ``seq``)
NDATA / DDATA      resolves aliases, updates the metrics' current values and — per the mapping's ``emit`` — gives
                   **one event per DATA message**: every mapped column with the current value of its metric (a
                   DATA message carries only what changed: the other values are those of the BIRTH or of a later
                   DATA), ``timestamp`` (the payload's, ISO 8601 UTC) and ``event_id``
NDEATH             marks the node and its devices offline when its ``bdSeq`` is that of the current birth (a stale
                   death of an earlier session is ignored); their values are unknown until the next BIRTH
DDEATH             marks the device offline
=================  ================================================================================================

One event per DATA message (not one per distinct metric timestamp): a DATA message is what an edge node sends for
one change of the machine, and its ``seq`` makes the event id unique. Historical metrics (``is_historical``) are
past values: they do not change the current values and make no event.

Values are never guessed
------------------------
A ``seq`` gap (a message was lost), an alias or metric name the BIRTH did not register, DATA before a BIRTH (or
after a DEATH), a payload that is not a Sparkplug payload (garbage, truncated protobuf, over the size limit), a
value whose field does not match its datatype, an integer out of its datatype's range: the message is **not used**
— it is a *problem* (``Decoded.problems``, a reason to quarantine with the raw payload), counted, and a rebirth is
asked: an NCMD to the edge node with the metric ``Node Control/Rebirth`` = true, as the specification says
(``Decoded.commands``; at most one per node per ``rebirth_interval`` seconds). After a gap, every value of the node
and its devices is *stale*: a DATA message still makes an event when it itself carries every metric the event
needs; otherwise it is a problem (``stale``) until the next BIRTH. A metric with ``is_null`` has no value (``None``
in the event); a NaN float is NaN (a missing value for the rules). MQTT keeps the order of one publisher's messages
on one connection; a broker that reorders an edge node's topics makes a reorder look like a gap (a rebirth mends it).

Duplicates
----------
A message redelivered by the broker (MQTT QoS 1 delivers at least once) is recognised by its content: the digest
of its topic and payload among the last :data:`RECENT_DIGESTS` messages of its node. It is dropped and counted
(``Decoded.duplicate``), never mistaken for a gap. ``event_id`` is
``<group>/<edge node>/<device or ->/<bdSeq>.<birth timestamp>/<n>``, ``n`` the messages since the birth (``seq``
unwrapped: ``seq`` repeats every 256 messages, ``n`` does not); the birth's timestamp separates the births of one MQTT
session (a rebirth keeps ``bdSeq`` and restarts ``seq`` at 0). :meth:`SparkplugDecoder.to_json` carries
births, aliases, current values, last ``seq``, the recent digests and the rebirth throttle, so a checkpoint restores
a decoder that gives the same output on the messages that follow. (The state must be taken between messages, after
the events of every message handled so far are in the monitor's state: a message handled but not yet tracked would
be dropped as a duplicate when redelivered.)

:class:`EdgeNode` simulates an edge node (BIRTH, DATA by alias, DEATH, with ``seq`` and ``bdSeq``) for tests and
demos.

Limits (bounded memory)
-----------------------
``max_payload_bytes`` (1 MiB), ``max_metrics`` per payload and per BIRTH (10,000), ``max_nodes`` (1,000 edge nodes;
when full, the longest-offline node is forgotten, else the new node is a problem), ``max_devices`` per node (1,000),
``max_name`` (1,024 characters of a metric name), ``max_registered`` (1,000,000 metrics registered by the BIRTHs of
all nodes and devices together; a BIRTH that would pass it is a problem), text and bytes values kept up to 64 KiB;
:data:`RECENT_DIGESTS` digests (8 bytes) per node. Only the values of *mapped* metrics are kept.

The mapping file
----------------
A YAML file (read through :mod:`leanlearn.yamlfile`) that says which metric becomes which column of the pack::

    schema: leanlearn.sparkplug-mapping/1
    description: press line 2, edge gateway eg-7      # optional
    features:                                          # pack feature column -> metric
      torque: Spindle/Torque                           # a metric name, on any group / node / device
      air_temp: {metric: Temp/Air, expr: "value - 273.15", unit: degC}   # converted (kelvin -> Celsius)
      speed:                                           # several sources: the first that matches the scope wins
        - {metric: Spindle/Speed, node: "press-*"}
        - {metric: Speed, group: Plant2, node: eg-7, device: "*"}
    outcome:                                           # the pack's outcome column -> metric (one entry)
      defect: {metric: Quality/NOK}
    emit: outcome            # outcome (default with an outcome): an event per DATA message carrying the outcome
                             # metric; data: an event per DATA message carrying any mapped metric
    time_column: timestamp   # optional names of the event's time and id columns
    id_column: event_id

``group``, ``node`` and ``device`` are shell-style patterns (``*``, ``?``, ``[ab]``; default ``*``; ``device: ""``
means the node itself). ``expr`` is a safe arithmetic expression of ``value`` (:mod:`leanlearn.mining.expressions`,
never executed as code). A device's event takes a column from the device's metrics first, then from its node's.
Unknown keys are refused with a suggestion.

Examples
--------
>>> mapping = SparkplugMapping.from_dict({"features": {"torque": "Torque"}, "outcome": {"defect": "NOK"}})
>>> decoder = SparkplugDecoder(mapping, clock=lambda: 1000.0)
>>> birth = encode_payload([Metric("bdSeq", 0, DataType.INT64), Metric("Torque", 40.5, DataType.DOUBLE, alias=1),
...                         Metric("NOK", False, DataType.BOOLEAN, alias=2)], seq=0, timestamp=1_700_000_000_000)
>>> decoder.handle("spBv1.0/Plant/NBIRTH/press-1", birth).events
[]
>>> data = encode_payload([Metric(None, True, alias=2)], seq=1, timestamp=1_700_000_000_500)
>>> for key, value in decoder.handle("spBv1.0/Plant/NDATA/press-1", data).events[0].items():
...     print(key, value)
torque 40.5
defect True
timestamp 2023-11-14T22:13:20.500Z
event_id Plant/press-1/-/0.1700000000000/1
>>> gap = decoder.handle("spBv1.0/Plant/NDATA/press-1", encode_payload([Metric(None, 41.0, alias=1)], seq=5))
>>> print(gap.problems[0])
seq gap: expected 2, got 5 (3 messages lost); values of press-1 are stale until its next NBIRTH; rebirth requested
>>> [topic for topic, _ in gap.commands]
['spBv1.0/Plant/NCMD/press-1']
>>> rebirth = decode_payload(gap.commands[0][1]).metrics[0]
>>> rebirth.name, rebirth.value, rebirth.datatype
('Node Control/Rebirth', True, <DataType.BOOLEAN: 11>)
"""

from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import hashlib
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, Self

from leanlearn.errors import MappingError
from leanlearn.online.base import MonitorError, OnlineBase

__all__ = [
    "DataType",
    "Decoded",
    "EdgeNode",
    "Metric",
    "Payload",
    "SparkplugDecoder",
    "SparkplugMapping",
    "Topic",
    "decode_payload",
    "encode_payload",
    "parse_topic",
    "rebirth_command",
]

NAMESPACE = "spBv1.0"
MAPPING_SCHEMA = "leanlearn.sparkplug-mapping/1"
DECODER_SCHEMA = "leanlearn.sparkplug-decoder/1"
#: Digests of the last messages of each edge node kept to recognise a redelivered message.
RECENT_DIGESTS = 256
REBIRTH_METRIC = "Node Control/Rebirth"
MESSAGE_TYPES = ("NBIRTH", "NDEATH", "DBIRTH", "DDEATH", "NDATA", "DDATA", "NCMD", "DCMD")
_MAX_VALUE_BYTES = 65_536


class SparkplugError(MonitorError):
    """A Sparkplug payload cannot be built or read (the message, the field and the value are named)."""


class DataType(IntEnum):
    """Sparkplug B metric datatypes (specification 3.0, section 6.4.16); arrays and composites are not decoded."""

    UNKNOWN = 0
    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13
    TEXT = 14
    UUID = 15
    DATASET = 16
    BYTES = 17
    FILE = 18
    TEMPLATE = 19


#: (bits, signed) of each integer datatype; DateTime is milliseconds since the epoch in a uint64.
_INTEGERS: dict[DataType, tuple[int, bool]] = {
    DataType.INT8: (8, True), DataType.INT16: (16, True), DataType.INT32: (32, True), DataType.INT64: (64, True),
    DataType.UINT8: (8, False), DataType.UINT16: (16, False), DataType.UINT32: (32, False),
    DataType.UINT64: (64, False), DataType.DATETIME: (64, False),
}
_TEXTS = (DataType.STRING, DataType.TEXT, DataType.UUID)
_BYTES = (DataType.BYTES, DataType.FILE)


# -- the schema ------------------------------------------------------------------------------------------------------
_CLASSES: dict[str, Any] = {}


def _classes() -> tuple[Any, Any]:
    """The Payload and Metric message classes, built once from a descriptor written from the specification."""
    if not _CLASSES:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

        proto = descriptor_pb2.FileDescriptorProto(name="leanlearn_sparkplug_b.proto", package="leanlearn.spb",
                                                   syntax="proto2")
        F = descriptor_pb2.FieldDescriptorProto
        payload = proto.message_type.add(name="Payload")
        metric = payload.nested_type.add(name="Metric")
        opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
        for name, number, kind in (("name", 1, F.TYPE_STRING), ("alias", 2, F.TYPE_UINT64),
                                   ("timestamp", 3, F.TYPE_UINT64), ("datatype", 4, F.TYPE_UINT32),
                                   ("is_historical", 5, F.TYPE_BOOL), ("is_transient", 6, F.TYPE_BOOL),
                                   ("is_null", 7, F.TYPE_BOOL)):
            metric.field.add(name=name, number=number, type=kind, label=opt)
        metric.oneof_decl.add(name="value")
        for name, number, kind in (("int_value", 10, F.TYPE_UINT32), ("long_value", 11, F.TYPE_UINT64),
                                   ("float_value", 12, F.TYPE_FLOAT), ("double_value", 13, F.TYPE_DOUBLE),
                                   ("boolean_value", 14, F.TYPE_BOOL), ("string_value", 15, F.TYPE_STRING),
                                   ("bytes_value", 16, F.TYPE_BYTES)):
            metric.field.add(name=name, number=number, type=kind, label=opt, oneof_index=0)
        for name, number, kind in (("timestamp", 1, F.TYPE_UINT64), ("seq", 3, F.TYPE_UINT64),
                                   ("uuid", 4, F.TYPE_STRING), ("body", 5, F.TYPE_BYTES)):
            payload.field.add(name=name, number=number, type=kind, label=opt)
        payload.field.add(name="metrics", number=2, type=F.TYPE_MESSAGE, label=rep,
                          type_name=".leanlearn.spb.Payload.Metric")
        payload.extension_range.add(start=6, end=536870912)
        pool = descriptor_pool.DescriptorPool()
        pool.Add(proto)
        payload_cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("leanlearn.spb.Payload"))
        _CLASSES["payload"] = payload_cls
        _CLASSES["metric"] = message_factory.GetMessageClass(
            pool.FindMessageTypeByName("leanlearn.spb.Payload.Metric"))
    return _CLASSES["payload"], _CLASSES["metric"]


# -- value objects ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """One Sparkplug metric: a name (or only an alias, in DATA), a value and its datatype.

    ``datatype`` may be left out when encoding: a bool is Boolean, an int Int64, a float Double, text String,
    bytes Bytes. ``value=None`` is a null metric (``is_null``).

    >>> Metric("Torque", 40.5).datatype
    <DataType.DOUBLE: 10>
    """

    name: str | None
    value: Any = None
    datatype: DataType | None = None
    alias: int | None = None
    timestamp: int | None = None
    is_historical: bool = False
    is_transient: bool = False
    is_null: bool = False

    def __post_init__(self) -> None:
        if self.datatype is None and self.value is not None:
            object.__setattr__(self, "datatype", _infer(self.value))
        elif self.datatype is not None and not isinstance(self.datatype, DataType):
            object.__setattr__(self, "datatype", DataType(self.datatype))
        if self.value is None and self.datatype is not None and not self.is_null and self.name != "bdSeq":
            object.__setattr__(self, "is_null", True)


def _infer(value: Any) -> DataType:
    if isinstance(value, bool):
        return DataType.BOOLEAN
    if isinstance(value, int):
        return DataType.INT64
    if isinstance(value, float):
        return DataType.DOUBLE
    if isinstance(value, str):
        return DataType.STRING
    if isinstance(value, bytes | bytearray):
        return DataType.BYTES
    raise SparkplugError(f"metric value {value!r} ({type(value).__name__}): give its datatype (DataType.…) or a "
                         "bool, int, float, str or bytes")


@dataclass(frozen=True)
class Payload:
    """A decoded Sparkplug B payload (only the fields a monitor reads)."""

    timestamp: int | None
    seq: int | None
    metrics: tuple[Metric, ...]
    uuid: str | None = None
    body: bytes | None = None


@dataclass(frozen=True)
class Topic:
    """A Sparkplug B topic: ``spBv1.0/<group>/<kind>/<node>[/<device>]`` (or ``spBv1.0/STATE/<host>``).

    >>> parse_topic("spBv1.0/Plant/DDATA/press-1/spindle")
    Topic(group='Plant', kind='DDATA', node='press-1', device='spindle')
    """

    group: str
    kind: str
    node: str
    device: str = ""


@dataclass(frozen=True)
class Decoded:
    """What one message gave: events for the monitor, problems to quarantine, commands to publish.

    ``events``: the events to track (zero or one). ``problems``: at most one reason (without the topic, which the
    caller records beside it) to quarantine the message with; it comes *with* an event only for a seq gap revealed
    by a message that is itself complete (the gap is the lost messages', this one is used). ``commands``: (topic,
    payload) to publish, QoS 0 (a rebirth NCMD). ``kind`` is the message type (``NDATA``, …; ``""`` when the topic is
    not Sparkplug); ``duplicate`` says the
    message was a redelivery of one already handled (no events, no problems).
    """

    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    commands: list[tuple[str, bytes]] = field(default_factory=list)
    kind: str = ""
    duplicate: bool = False


# -- encoding and decoding -------------------------------------------------------------------------------------------
def _to_unsigned(value: int, bits: int, signed: bool, name: str) -> int:
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= value <= high:
        raise SparkplugError(f"metric {name!r}: {value} is out of range for its datatype ({low} to {high})")
    return value + (1 << bits) if value < 0 else value


def _set_value(proto: Any, metric: Metric) -> None:
    dtype, value, label = metric.datatype, metric.value, metric.name or f"alias {metric.alias}"
    if value is None or dtype is None:
        return
    try:
        if dtype in _INTEGERS:
            bits, signed = _INTEGERS[dtype]
            if isinstance(value, bool) or not isinstance(value, int):
                raise SparkplugError(f"metric {label!r}: {dtype.name} needs an integer, got {value!r}")
            raw = _to_unsigned(value, bits, signed, label)
            if bits <= 32:
                proto.int_value = raw
            else:
                proto.long_value = raw
        elif dtype == DataType.FLOAT:
            proto.float_value = float(value)
        elif dtype == DataType.DOUBLE:
            proto.double_value = float(value)
        elif dtype == DataType.BOOLEAN:
            proto.boolean_value = bool(value)
        elif dtype in _TEXTS:
            proto.string_value = str(value)
        elif dtype in _BYTES:
            proto.bytes_value = bytes(value)
        else:
            raise SparkplugError(f"metric {label!r}: datatype {dtype.name} is not supported (scalars only)")
    except (TypeError, ValueError) as exc:
        raise SparkplugError(f"metric {label!r}: {value!r} cannot be a {dtype.name} ({exc})") from None


def encode_payload(metrics: Iterable[Metric], seq: int | None = None, timestamp: int | None = None, *,
                   uuid: str | None = None, body: bytes | None = None) -> bytes:
    """The Sparkplug B payload bytes for ``metrics`` (for tests, demos and the rebirth command).

    ``timestamp`` is milliseconds since the epoch; ``seq`` 0–255. Signed integers are stored as the two's complement
    of their width (Int8 -1 is int_value 255), 64-bit ones in long_value, the rest in int_value.

    >>> payload = decode_payload(encode_payload([Metric("t", -3, DataType.INT8)], seq=7, timestamp=5))
    >>> payload.seq, payload.timestamp, payload.metrics[0].value
    (7, 5, -3)
    """
    payload_cls, _ = _classes()
    message = payload_cls()
    if timestamp is not None:
        message.timestamp = int(timestamp)
    if seq is not None:
        if not 0 <= int(seq) <= 255:
            raise SparkplugError(f"seq {seq}: a Sparkplug seq is 0 to 255")
        message.seq = int(seq)
    if uuid is not None:
        message.uuid = uuid
    if body is not None:
        message.body = body
    for metric in metrics:
        proto = message.metrics.add()
        if metric.name is not None:
            proto.name = metric.name
        if metric.alias is not None:
            proto.alias = metric.alias
        if metric.timestamp is not None:
            proto.timestamp = metric.timestamp
        if metric.datatype is not None:
            proto.datatype = int(metric.datatype)
        if metric.is_historical:
            proto.is_historical = True
        if metric.is_transient:
            proto.is_transient = True
        if metric.is_null or metric.value is None:
            if metric.is_null:
                proto.is_null = True
        else:
            _set_value(proto, metric)
    return bytes(message.SerializeToString())


def _from_signed(raw: int, bits: int, container: int) -> int | None:
    """``raw`` (an unsigned protobuf field) as a signed ``bits``-bit integer, or None when out of range.

    Both the width's two's complement (Int8 -1 as 255) and its sign extension to the field (as 2**32 - 1) are read.
    """
    half = 1 << (bits - 1)
    if raw < half:
        return raw
    if raw < (1 << bits):
        return raw - (1 << bits)
    if container > bits and raw >= (1 << container) - half:
        return raw - (1 << container)
    return None


def _metric_value(proto: Any, dtype: DataType, label: str) -> Any:
    """The value of a decoded metric per its datatype; :class:`SparkplugError` when the field does not fit it."""
    if proto.HasField("is_null") and proto.is_null:
        return None
    which = proto.WhichOneof("value")
    if dtype in _INTEGERS:
        bits, signed = _INTEGERS[dtype]
        if which not in ("int_value", "long_value"):
            raise SparkplugError(f"metric {label!r}: datatype {dtype.name} but the value is in {which or 'no field'}")
        raw = int(getattr(proto, which))
        container = 32 if which == "int_value" else 64
        if signed:
            value = _from_signed(raw, bits, container)
            if value is None:
                raise SparkplugError(f"metric {label!r}: {raw} is out of range for {dtype.name}")
            return value
        if raw >= (1 << bits):
            raise SparkplugError(f"metric {label!r}: {raw} is out of range for {dtype.name}")
        return raw
    expected = {DataType.FLOAT: "float_value", DataType.DOUBLE: "double_value", DataType.BOOLEAN: "boolean_value"}
    if dtype in expected:
        if which != expected[dtype] and not (dtype == DataType.DOUBLE and which == "float_value"):
            raise SparkplugError(f"metric {label!r}: datatype {dtype.name} but the value is in {which or 'no field'}")
        value = getattr(proto, which)
        return bool(value) if dtype == DataType.BOOLEAN else float(value)
    if dtype in _TEXTS:
        if which != "string_value":
            raise SparkplugError(f"metric {label!r}: datatype {dtype.name} but the value is in {which or 'no field'}")
        return str(proto.string_value)[:_MAX_VALUE_BYTES]
    if dtype in _BYTES:
        if which != "bytes_value":
            raise SparkplugError(f"metric {label!r}: datatype {dtype.name} but the value is in {which or 'no field'}")
        return bytes(proto.bytes_value)[:_MAX_VALUE_BYTES]
    raise SparkplugError(f"metric {label!r}: datatype {dtype.name} is not decoded (scalars only)")


def _raw_payload(data: bytes, max_bytes: int, max_metrics: int) -> Any:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SparkplugError(f"payload is {type(data).__name__}, not bytes")
    if len(data) > max_bytes:
        raise SparkplugError(f"payload of {len(data):,} bytes is over the limit of {max_bytes:,} (max_payload_bytes)")
    payload_cls, _ = _classes()
    message = payload_cls()
    try:
        message.ParseFromString(bytes(data))
    except Exception as exc:  # google.protobuf.message.DecodeError and friends
        raise SparkplugError(f"not a Sparkplug B payload ({type(exc).__name__}: {str(exc)[:80] or 'cannot parse'})"
                             ) from None
    if len(message.metrics) > max_metrics:
        raise SparkplugError(f"payload has {len(message.metrics):,} metrics, over the limit of {max_metrics:,} "
                             "(max_metrics)")
    return message


def decode_payload(data: bytes, *, max_bytes: int = 1 << 20, max_metrics: int = 10_000) -> Payload:
    """Decode a payload on its own (every metric must carry its datatype); :class:`SparkplugError` if it cannot.

    >>> decode_payload(b"\\xff\\xff\\xff")
    Traceback (most recent call last):
    ...
    leanlearn.online.sparkplug.SparkplugError: not a Sparkplug B payload (DecodeError: ...)
    """
    message = _raw_payload(data, max_bytes, max_metrics)
    metrics = []
    for i, proto in enumerate(message.metrics):
        label = proto.name if proto.HasField("name") else f"metric {i}"
        dtype = _datatype(proto, label)
        metrics.append(_metric(proto, dtype, _metric_value(proto, dtype, label)))
    return Payload(timestamp=message.timestamp if message.HasField("timestamp") else None,
                   seq=message.seq if message.HasField("seq") else None, metrics=tuple(metrics),
                   uuid=message.uuid if message.HasField("uuid") else None,
                   body=bytes(message.body) if message.HasField("body") else None)


def _datatype(proto: Any, label: str) -> DataType:
    if not proto.HasField("datatype"):
        raise SparkplugError(f"metric {label!r} has no datatype")
    try:
        return DataType(proto.datatype)
    except ValueError:
        raise SparkplugError(f"metric {label!r}: datatype {proto.datatype} is not a scalar Sparkplug datatype"
                             ) from None


def _metric(proto: Any, dtype: DataType, value: Any) -> Metric:
    return Metric(name=proto.name if proto.HasField("name") else None, value=value, datatype=dtype,
                  alias=proto.alias if proto.HasField("alias") else None,
                  timestamp=proto.timestamp if proto.HasField("timestamp") else None,
                  is_historical=bool(proto.is_historical), is_transient=bool(proto.is_transient),
                  is_null=bool(proto.is_null))


def parse_topic(topic: str) -> Topic:
    """The parts of a Sparkplug B topic; :class:`SparkplugError` naming the topic when it is not one.

    >>> parse_topic("spBv1.0/Plant/NBIRTH/press-1")
    Topic(group='Plant', kind='NBIRTH', node='press-1', device='')
    >>> parse_topic("factory/press-1/temp")
    Traceback (most recent call last):
    ...
    leanlearn.online.sparkplug.SparkplugError: topic 'factory/press-1/temp': not a Sparkplug B topic ...
    """
    parts = topic.split("/")
    if len(parts) == 3 and parts[0] == NAMESPACE and parts[1] == "STATE":
        return Topic(group="", kind="STATE", node=parts[2])
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE or parts[2] not in MESSAGE_TYPES or not all(parts[1:]):
        raise SparkplugError(f"topic {topic[:200]!r}: not a Sparkplug B topic (expected spBv1.0/<group>/"
                             f"<{'|'.join(MESSAGE_TYPES)}>/<edge node>[/<device>])")
    kind = parts[2]
    device = parts[4] if len(parts) == 5 else ""
    if kind.startswith("D") != bool(device):
        raise SparkplugError(f"topic {topic[:200]!r}: {kind} " + ("needs a device after the edge node" if device == ""
                                                                  else "has no device part"))
    return Topic(group=parts[1], kind=kind, node=parts[3], device=device)


def rebirth_command(group: str, node: str, timestamp: int | None = None) -> tuple[str, bytes]:
    """The NCMD that asks edge node ``node`` of ``group`` for a rebirth: ``Node Control/Rebirth`` = true.

    >>> topic, payload = rebirth_command("Plant", "press-1", timestamp=0)
    >>> topic, decode_payload(payload).metrics[0].value
    ('spBv1.0/Plant/NCMD/press-1', True)
    """
    stamp = int(time.time() * 1000) if timestamp is None else timestamp
    return (f"{NAMESPACE}/{group}/NCMD/{node}",
            encode_payload([Metric(REBIRTH_METRIC, True, DataType.BOOLEAN)], timestamp=stamp))


class EdgeNode:
    """A simulated Sparkplug edge node for tests and demos: it keeps ``seq``, ``bdSeq`` and the aliases.

    Each method gives the ``(topic, payload)`` to publish. DATA messages carry metrics by alias, as the
    specification asks once a BIRTH has given aliases.

    >>> edge = EdgeNode("Plant", "press-1", {"Torque": DataType.DOUBLE, "NOK": DataType.BOOLEAN})
    >>> topic, payload = edge.birth({"Torque": 40.0, "NOK": False}, timestamp=1)
    >>> topic, decode_payload(payload).seq, [m.alias for m in decode_payload(payload).metrics]
    ('spBv1.0/Plant/NBIRTH/press-1', 0, [None, 1, 2])
    >>> topic, payload = edge.data({"NOK": True}, timestamp=2)
    >>> decode_payload(payload).seq, decode_payload(payload).metrics[0].alias
    (1, 2)
    """

    def __init__(self, group: str, node: str, metrics: Mapping[str, DataType], bdseq: int = 0) -> None:
        self.group, self.node = group, node
        self.datatypes = dict(metrics)
        self.aliases = {name: i for i, name in enumerate(self.datatypes, start=1)}
        self.bdseq = bdseq
        self.seq = 0

    def _topic(self, kind: str) -> str:
        return f"{NAMESPACE}/{self.group}/{kind}/{self.node}"

    def birth(self, values: Mapping[str, Any], timestamp: int | None = None) -> tuple[str, bytes]:
        """The NBIRTH: ``bdSeq`` and every metric with its alias, datatype and current value (``seq`` restarts)."""
        self.seq = 0
        metrics = [Metric("bdSeq", self.bdseq, DataType.UINT64)]
        metrics += [Metric(name, values.get(name), dtype, alias=self.aliases[name], is_null=values.get(name) is None)
                    for name, dtype in self.datatypes.items()]
        return self._topic("NBIRTH"), encode_payload(metrics, seq=0, timestamp=timestamp)

    def data(self, values: Mapping[str, Any], timestamp: int | None = None) -> tuple[str, bytes]:
        """An NDATA with ``values`` (by alias); the next ``seq``."""
        self.seq = (self.seq + 1) % 256
        metrics = [Metric(None, value, self.datatypes[name], alias=self.aliases[name], is_null=value is None)
                   for name, value in values.items()]
        return self._topic("NDATA"), encode_payload(metrics, seq=self.seq, timestamp=timestamp)

    def death(self) -> tuple[str, bytes]:
        """The NDEATH (the edge node's MQTT will), with its ``bdSeq``; the next session's ``bdSeq`` is one more."""
        out = self._topic("NDEATH"), encode_payload([Metric("bdSeq", self.bdseq, DataType.UINT64)])
        self.bdseq = (self.bdseq + 1) % 256
        return out


# -- the mapping -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """Where a column comes from: a metric name on the scopes matching the patterns, optionally converted."""

    metric: str
    group: str = "*"
    node: str = "*"
    device: str = "*"
    expr: str | None = None
    unit: str | None = None

    def matches(self, group: str, node: str, device: str) -> bool:
        """Whether this source applies to the scope (group, edge node, device — ``""`` for the node itself)."""
        return (fnmatch.fnmatchcase(group, self.group) and fnmatch.fnmatchcase(node, self.node)
                and (fnmatch.fnmatchcase(device, self.device) if self.device != "" else device == ""))


_MAPPING_KEYS = ("schema", "description", "features", "outcome", "emit", "time_column", "id_column")
_SOURCE_KEYS = ("metric", "group", "node", "device", "expr", "unit")
_MAX_SOURCES = 10_000


@dataclass(frozen=True)
class SparkplugMapping:
    """Which Sparkplug metric becomes which column of the pack (see the module docstring for the YAML format).

    >>> m = SparkplugMapping.from_dict({"features": {"t": {"metric": "Temp", "expr": "value - 273.15"}},
    ...                                 "outcome": {"nok": "Quality/NOK"}})
    >>> m.outcome, m.emit, m.convert("t", 300.0)
    ('nok', 'outcome', 26.850000000000023)
    >>> SparkplugMapping.from_dict({"feature": {}})
    Traceback (most recent call last):
    ...
    leanlearn.errors.MappingError: sparkplug mapping: unknown key 'feature'; did you mean 'features'? ...
    """

    columns: Mapping[str, tuple[Source, ...]]
    outcome: str | None = None
    emit: str = "outcome"
    time_column: str = "timestamp"
    id_column: str = "event_id"
    description: str = ""
    label: str = "sparkplug mapping"

    @classmethod
    def from_yaml(cls, path: str | Path) -> SparkplugMapping:
        """Read a mapping file (safe, bounded YAML); :class:`MappingError` names the file and the key."""
        from leanlearn.yamlfile import read_yaml

        return cls.from_dict(read_yaml(path, MappingError, "sparkplug mapping"), label=str(path))

    @classmethod
    def from_dict(cls, doc: Any, label: str = "sparkplug mapping") -> SparkplugMapping:
        """Build from a parsed document (what :meth:`from_yaml` reads)."""
        from leanlearn.yamlfile import Checker

        check = Checker(label, MappingError)
        doc = check.keys(doc, _MAPPING_KEYS, "", "features: {torque: Spindle/Torque}")
        if "schema" in doc and doc["schema"] != MAPPING_SCHEMA:
            raise check.fail("schema", f"is {doc['schema']!r}; this reader knows {MAPPING_SCHEMA!r}")
        features = doc.get("features") or {}
        outcome = doc.get("outcome") or {}
        check.keys(features, list(map(str, features)) if isinstance(features, dict) else (), "features",
                   "features: {torque: Spindle/Torque}")
        check.keys(outcome, list(map(str, outcome)) if isinstance(outcome, dict) else (), "outcome",
                   "outcome: {defect: Quality/NOK}")
        if len(outcome) > 1:
            raise check.fail("outcome", f"names {len(outcome)} columns ({', '.join(map(str, outcome))}); a pack has "
                                        "one outcome: keep one entry")
        if not features and not outcome:
            raise check.fail("", "maps no metric; add features: {COLUMN: METRIC NAME} (and outcome: {COLUMN: "
                                 "METRIC NAME})")
        columns: dict[str, tuple[Source, ...]] = {}
        count = 0
        for section, entries in (("features", features), ("outcome", outcome)):
            for column, spec in entries.items():
                key = f"{section}.{column}"
                if str(column) in columns:
                    raise check.fail(key, "is mapped twice (in features and outcome); map a column once")
                sources = tuple(cls._source(check, item, f"{key}[{i}]" if isinstance(spec, list) else key)
                                for i, item in enumerate(spec if isinstance(spec, list) else [spec]))
                if not sources:
                    raise check.fail(key, "is an empty list; give a metric name, e.g. Spindle/Torque")
                count += len(sources)
                if count > _MAX_SOURCES:
                    raise check.fail(key, f"more than {_MAX_SOURCES:,} metric sources; a line maps a few hundred")
                columns[str(column)] = sources
        emit = check.choice(doc.get("emit", "outcome" if outcome else "data"), "emit", ("outcome", "data"))
        if emit == "outcome" and not outcome:
            raise check.fail("emit", "is 'outcome' but no outcome is mapped; map one (outcome: {defect: "
                                     "Quality/NOK}) or set emit: data")
        time_column = check.text(doc.get("time_column", "timestamp"), "time_column", "time_column: timestamp")
        id_column = check.text(doc.get("id_column", "event_id"), "id_column", "id_column: event_id")
        for name, key in ((time_column, "time_column"), (id_column, "id_column")):
            if name in columns:
                raise check.fail(key, f"is {name!r}, which is also a mapped column; choose another name")
        description = doc.get("description", "")
        if not isinstance(description, str):
            raise check.fail("description", "must be text")
        return cls(columns=columns, outcome=str(next(iter(outcome))) if outcome else None, emit=emit,
                   time_column=time_column, id_column=id_column, description=description, label=label)

    @staticmethod
    def _source(check: Any, spec: Any, key: str) -> Source:
        from leanlearn.mining.expressions import Expression

        if isinstance(spec, str):
            spec = {"metric": spec}
        spec = check.keys(spec, _SOURCE_KEYS, key, "{metric: Spindle/Torque, node: 'press-*'}")
        if "metric" not in spec:
            raise check.fail(key, "has no metric; e.g. {metric: Spindle/Torque}")
        metric = check.text(spec["metric"], f"{key}.metric", "Spindle/Torque")
        patterns = {}
        for part in ("group", "node", "device"):
            value = spec.get(part, "*")
            if not isinstance(value, str):
                raise check.fail(f"{key}.{part}", f"must be text (a pattern such as 'press-*'), got {value!r}")
            patterns[part] = value
        expr = spec.get("expr")
        if expr is not None:
            expr = check.text(expr, f"{key}.expr", '"value - 273.15"')
            try:
                parsed = Expression.parse(expr)
            except Exception as exc:
                raise check.fail(f"{key}.expr", str(exc)) from None
            extra = sorted(set(parsed.columns) - {"value"})
            if extra:
                raise check.fail(f"{key}.expr", f"uses {extra[0]!r}; a conversion reads only `value` (the metric's "
                                                f"value), e.g. \"value * 60\"")
        unit = spec.get("unit")
        if unit is not None and not isinstance(unit, str):
            raise check.fail(f"{key}.unit", "must be text, e.g. degC")
        return Source(metric=metric, expr=expr, unit=unit, **patterns)

    def resolve(self, group: str, node: str, device: str, names: Iterable[str]) -> dict[str, tuple[str, str | None]]:
        """For a scope whose BIRTH registered ``names``: column -> (metric name, conversion) of the first source
        that matches the scope and was born there."""
        born = set(names)
        out: dict[str, tuple[str, str | None]] = {}
        for column, sources in self.columns.items():
            for source in sources:
                if source.metric in born and source.matches(group, node, device):
                    out[column] = (source.metric, source.expr)
                    break
        return out

    def convert(self, column: str, value: Any, expr: str | None = None) -> Any:
        """``value`` converted by the column's expression (``expr``, or the first source's), NaN when not finite."""
        if expr is None:
            expr = self.columns[column][0].expr
        if expr is None or value is None:
            return value
        return _evaluate(expr, value)


_EXPRESSIONS: dict[str, Any] = {}


def _evaluate(expr: str, value: Any) -> float:
    """``expr`` of ``value``: the monitor's one-event evaluator (the same bits as on a column), compiled once."""
    function = _EXPRESSIONS.get(expr)
    if function is None:
        from leanlearn.mining.expressions import Expression
        from leanlearn.online.evaluate import compile_scalar

        if len(_EXPRESSIONS) > _MAX_SOURCES:
            _EXPRESSIONS.clear()
        function = _EXPRESSIONS[expr] = compile_scalar(Expression.parse(expr))
    if isinstance(value, str | bytes):
        raise SparkplugError(f"{value!r} is text; the conversion {expr!r} needs a number")
    return float(function({"value": float(value)}))


# -- the decoder -----------------------------------------------------------------------------------------------------
def _iso(ms: int) -> str:
    stamp = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class _Scope:
    """What a BIRTH registered for an edge node (device ``""``) or one of its devices, and the current values."""

    __slots__ = ("aliases", "datatypes", "resolved", "stale", "values")

    def __init__(self) -> None:
        self.datatypes: dict[str, DataType] = {}
        self.aliases: dict[int, str] = {}
        self.resolved: dict[str, tuple[str, str | None]] = {}
        self.values: dict[str, Any] = {}
        self.stale: set[str] = set()

    def to_json(self) -> dict[str, Any]:
        return {"datatypes": {k: int(v) for k, v in self.datatypes.items()},
                "aliases": [[a, n] for a, n in self.aliases.items()],
                "resolved": {k: list(v) for k, v in self.resolved.items()},
                "values": {k: _plain(v) for k, v in self.values.items()}, "stale": sorted(self.stale)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> _Scope:
        scope = cls()
        scope.datatypes = {str(k): DataType(int(v)) for k, v in doc["datatypes"].items()}
        scope.aliases = {int(a): str(n) for a, n in doc["aliases"]}
        scope.resolved = {str(k): (str(v[0]), None if v[1] is None else str(v[1])) for k, v in doc["resolved"].items()}
        scope.values = {str(k): _unplain(v) for k, v in doc["values"].items()}
        scope.stale = {str(s) for s in doc["stale"]}
        return scope


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode("ascii")}
    return value


def _unplain(value: Any) -> Any:
    if isinstance(value, dict):
        if "float" in value:
            return float(value["float"])
        return base64.b64decode(value["bytes"])
    return value


class _Node:
    __slots__ = ("bdseq", "birth_ts", "count", "devices", "offline_since", "online", "recent", "recent_set", "scope",
                 "seq")

    def __init__(self) -> None:
        self.online = False
        self.bdseq: int | None = None
        self.birth_ts = 0
        self.seq: int | None = None
        self.count = 0  # messages since the birth: seq unwrapped (0–255 repeats every 256 messages)
        self.scope: _Scope | None = None
        self.devices: dict[str, _Scope | None] = {}  # None: known but offline (died)
        self.recent: deque[str] = deque(maxlen=RECENT_DIGESTS)
        self.recent_set: set[str] = set()
        self.offline_since = 0

    def remember(self, digest: str) -> None:
        if len(self.recent) == self.recent.maxlen:
            self.recent_set.discard(self.recent[0])
        self.recent.append(digest)
        self.recent_set.add(digest)


class _Problem(Exception):
    """One reason a message is not used (``rebirth``: whether to ask the node for a rebirth)."""

    def __init__(self, reason: str, rebirth: bool = True) -> None:
        super().__init__(reason)
        self.rebirth = rebirth


_PARAMS = ("rebirth_interval", "max_payload_bytes", "max_metrics", "max_nodes", "max_devices", "max_name",
           "max_registered")


class SparkplugDecoder(OnlineBase):
    """Decode Sparkplug B messages into the pack's events, with the state of every edge node and device.

    Parameters
    ----------
    mapping : SparkplugMapping
        Which metrics become which columns.
    rebirth_interval : float
        Seconds between two rebirth requests to one edge node.
    max_payload_bytes, max_metrics, max_nodes, max_devices, max_name, max_registered : int
        Limits (see the module docstring).
    clock : callable
        Seconds since the epoch (``time.time``); the rebirth throttle and the rebirth command's timestamp.

    Examples
    --------
    >>> decoder = SparkplugDecoder(SparkplugMapping.from_dict({"features": {"t": "T"}}))
    >>> out = decoder.handle("spBv1.0/G/NDATA/n1", encode_payload([Metric("T", 1.0)], seq=3))
    >>> out.problems, decoder.n_problems
    (['NDATA from edge node n1 before its NBIRTH; rebirth requested'], 1)
    """

    def __init__(self, mapping: SparkplugMapping, rebirth_interval: float = 5.0, max_payload_bytes: int = 1 << 20,
                 max_metrics: int = 10_000, max_nodes: int = 1_000, max_devices: int = 1_000, max_name: int = 1_024,
                 max_registered: int = 1_000_000, clock: Callable[[], float] = time.time) -> None:
        self.mapping = mapping
        self.rebirth_interval = rebirth_interval
        self.max_payload_bytes = max_payload_bytes
        self.max_metrics = max_metrics
        self.max_nodes = max_nodes
        self.max_devices = max_devices
        self.max_name = max_name
        self.max_registered = max_registered
        self.clock = clock
        self._nodes: dict[tuple[str, str], _Node] = {}
        self._rebirths: dict[tuple[str, str], float] = {}
        self.n_messages = 0
        self.n_events = 0
        self.n_problems = 0
        self.n_gaps = 0
        self.n_duplicates = 0
        self.n_rebirths = 0
        self._ticks = 0

    def __repr__(self) -> str:
        return f"SparkplugDecoder(mapping={self.mapping.label!r}, nodes={len(self._nodes)})"

    # -- public ------------------------------------------------------------------------------------------------
    @property
    def nodes(self) -> dict[str, bool]:
        """``group/node`` -> whether it is online."""
        return {f"{g}/{n}": node.online for (g, n), node in self._nodes.items()}

    def handle(self, topic: str, payload: bytes) -> Decoded:
        """Decode one MQTT message (see the module docstring for what each message type does)."""
        self.n_messages += 1
        try:
            parsed = parse_topic(topic)
        except SparkplugError as exc:
            return self._problem(Decoded(), str(exc))
        if parsed.kind in ("STATE", "NCMD", "DCMD"):
            return Decoded(kind=parsed.kind)
        key = (parsed.group, parsed.node)
        node = self._nodes.get(key)
        digest = hashlib.blake2b(topic.encode("utf-8", "surrogatepass") + b"\0" + bytes(payload),
                                 digest_size=8).hexdigest()
        if node is not None and digest in node.recent_set:
            self.n_duplicates += 1
            return Decoded(kind=parsed.kind, duplicate=True)
        out = Decoded(kind=parsed.kind)
        try:
            message = _raw_payload(payload, self.max_payload_bytes, self.max_metrics)
            self._dispatch(parsed, key, node, message, out)
        except _Problem as exc:
            self._problem(out, str(exc), key if exc.rebirth else None)
        except SparkplugError as exc:
            self._problem(out, str(exc), key if parsed.kind != "NDEATH" else None)
        node = self._nodes.get(key)
        if node is not None:
            node.remember(digest)
        self.n_events += len(out.events)
        return out

    # -- dispatch ----------------------------------------------------------------------------------------------
    def _dispatch(self, topic: Topic, key: tuple[str, str], node: _Node | None, message: Any, out: Decoded) -> None:
        kind = topic.kind
        if kind == "NBIRTH":
            self._nbirth(topic, key, node, message, out)
            return
        if kind == "NDEATH":
            if node is not None and node.online:
                bdseq = self._bdseq(message)
                if bdseq is None or node.bdseq is None or bdseq == node.bdseq:
                    self._offline(node)
            return
        if node is None or not node.online:
            raise _Problem(f"{kind} from edge node {topic.node} before its NBIRTH")
        seq = self._check_seq(topic, node, message, out)
        if kind == "DBIRTH":
            self._dbirth(topic, node, message)
        elif kind == "DDEATH":
            if topic.device in node.devices:
                node.devices[topic.device] = None
        else:
            if kind == "NDATA":
                scope = node.scope
            else:
                scope = node.devices.get(topic.device)
                if scope is None:
                    raise _Problem(f"DDATA from device {topic.device} of {topic.node} before its DBIRTH")
            assert scope is not None
            self._data(topic, node, scope, message, seq, out)

    def _bdseq(self, message: Any) -> int | None:
        for proto in message.metrics:
            if proto.HasField("name") and proto.name == "bdSeq":
                which = proto.WhichOneof("value")
                if which in ("int_value", "long_value"):
                    return int(getattr(proto, which))
                return None
        return None

    def _check_seq(self, topic: Topic, node: _Node, message: Any, out: Decoded) -> int:
        if not message.HasField("seq"):
            raise _Problem(f"{topic.kind} has no seq; a Sparkplug message of an edge node carries one")
        seq = int(message.seq)
        if seq > 255:
            raise _Problem(f"seq {seq} is over 255")
        expected = 0 if node.seq is None else (node.seq + 1) % 256
        node.count += (seq - node.seq) % 256 if node.seq is not None else 0
        node.seq = seq
        if seq != expected:
            self.n_gaps += 1
            for scope in [node.scope, *node.devices.values()]:
                if scope is not None:
                    scope.stale.update(metric for metric, _ in scope.resolved.values())
            lost = (seq - expected) % 256
            reason = (f"seq gap: expected {expected}, got {seq} ({lost} message{'s' if lost != 1 else ''} "
                      f"lost); values of {topic.node} are stale until its next NBIRTH")
            self._problem(out, reason, (topic.group, topic.node))
        return seq

    def _register(self, topic: Topic, message: Any, device: str) -> _Scope:
        scope = _Scope()
        for i, proto in enumerate(message.metrics):
            if not proto.HasField("name") or not proto.name:
                raise _Problem(f"BIRTH metric {i} has no name", rebirth=False)
            name = proto.name
            if len(name) > self.max_name:
                raise _Problem(f"BIRTH metric {i}: a name of {len(name):,} characters is over the limit of "
                               f"{self.max_name:,} (max_name)", rebirth=False)
            dtype = _datatype(proto, name)
            scope.datatypes[name] = dtype
            if proto.HasField("alias"):
                alias = int(proto.alias)
                if alias in scope.aliases and scope.aliases[alias] != name:
                    raise _Problem(f"BIRTH gives alias {alias} to both {scope.aliases[alias]!r} and {name!r}",
                                   rebirth=False)
                scope.aliases[alias] = name
        key = (topic.group, topic.node)
        node = self._nodes.get(key)
        replaced = 0
        if node is not None:
            replaced = sum(len(s.datatypes) for s in ([node.scope] if device == "" else [node.devices.get(device)])
                           if s is not None)
            if device == "":
                replaced += sum(len(s.datatypes) for s in node.devices.values() if s is not None)
        total = sum(len(s.datatypes) for n in self._nodes.values() for s in [n.scope, *n.devices.values()]
                    if s is not None) - replaced + len(scope.datatypes)
        if total > self.max_registered:
            raise _Problem(f"this BIRTH would make {total:,} metrics registered, over the limit of "
                           f"{self.max_registered:,} (max_registered); raise max_registered", rebirth=False)
        scope.resolved = self.mapping.resolve(topic.group, topic.node, device, scope.datatypes)
        wanted = {metric for metric, _ in scope.resolved.values()}
        for proto in message.metrics:
            name = proto.name
            if name in wanted and not proto.is_historical:
                scope.values[name] = _metric_value(proto, scope.datatypes[name], name)
        for metric in wanted - set(scope.values):
            scope.values[metric] = None
        return scope

    def _nbirth(self, topic: Topic, key: tuple[str, str], node: _Node | None, message: Any, out: Decoded) -> None:
        if not message.HasField("seq"):
            raise _Problem("NBIRTH has no seq; a Sparkplug NBIRTH carries seq 0", rebirth=True)
        scope = self._register(topic, message, "")
        if node is None:
            if len(self._nodes) >= self.max_nodes:
                offline = [(n.offline_since, k) for k, n in self._nodes.items() if not n.online]
                if not offline:
                    raise _Problem(f"edge node {topic.node}: {self.max_nodes:,} edge nodes are online, the limit "
                                   "(max_nodes); raise max_nodes", rebirth=False)
                del self._nodes[min(offline)[1]]
            node = self._nodes[key] = _Node()
        node.online = True
        node.bdseq = self._bdseq(message)
        node.birth_ts = int(message.timestamp) if message.HasField("timestamp") else 0
        node.seq = int(message.seq) % 256
        node.count = 0
        node.scope = scope
        node.devices = {}

    def _dbirth(self, topic: Topic, node: _Node, message: Any) -> None:
        if topic.device not in node.devices and len(node.devices) >= self.max_devices:
            raise _Problem(f"device {topic.device}: edge node {topic.node} has {self.max_devices:,} devices, the limit "
                           "(max_devices)", rebirth=False)
        node.devices[topic.device] = self._register(topic, message, topic.device)

    def _offline(self, node: _Node) -> None:
        node.online = False
        node.scope = None
        node.devices = {}
        node.seq = None
        self._ticks += 1
        node.offline_since = self._ticks

    def _data(self, topic: Topic, node: _Node, scope: _Scope, message: Any, seq: int, out: Decoded) -> None:
        updates: dict[str, Any] = {}
        for i, proto in enumerate(message.metrics):
            if proto.HasField("alias"):
                name = scope.aliases.get(int(proto.alias))
                if name is None:
                    raise self._unknown(scope, node, f"alias {proto.alias} was not in the BIRTH")
            elif proto.HasField("name"):
                name = proto.name
                if name not in scope.datatypes:
                    raise self._unknown(scope, node, f"metric {name[:200]!r} was not in the BIRTH")
            else:
                raise self._unknown(scope, node, f"metric {i} has neither a name nor an alias")
            if proto.is_historical or name not in scope.values:
                continue
            updates[name] = _metric_value(proto, scope.datatypes[name], name)
        scope.values.update(updates)
        scope.stale.difference_update(updates)
        node_scope = node.scope if scope is not node.scope else None
        columns: dict[str, tuple[_Scope, str, str | None]] = {}
        for column in self.mapping.columns:
            if column in scope.resolved:
                columns[column] = (scope, *scope.resolved[column])
            elif node_scope is not None and column in node_scope.resolved:
                columns[column] = (node_scope, *node_scope.resolved[column])
        if not columns:
            return
        if self.mapping.emit == "outcome":
            target = columns.get(self.mapping.outcome or "")
            if target is None or target[0] is not scope or target[1] not in updates:
                return
        elif not updates:
            return
        stale = sorted(metric for owner, metric, _ in columns.values() if metric in owner.stale)
        if stale:
            raise _Problem(f"values of {', '.join(map(repr, stale[:5]))} are stale after a seq gap (this message "
                           "does not carry them); waiting for the next NBIRTH")
        event: dict[str, Any] = {}
        for column, (owner, metric, expr) in columns.items():
            value = owner.values.get(metric)
            if expr is not None and value is not None:
                try:
                    value = _evaluate(expr, value)
                except Exception as exc:
                    raise _Problem(f"column {column!r}: metric {metric!r} value {value!r} cannot be converted by "
                                   f"{expr!r} ({str(exc)[:120]})", rebirth=False) from None
            event[column] = value
        if message.HasField("timestamp"):
            event[self.mapping.time_column] = _iso(int(message.timestamp))
        device = topic.device or "-"
        event[self.mapping.id_column] = (f"{topic.group}/{topic.node}/{device}/"
                                         f"{'-' if node.bdseq is None else node.bdseq}.{node.birth_ts}/{node.count}")
        out.events.append(event)

    def _unknown(self, scope: _Scope, node: _Node, what: str) -> _Problem:
        for owner in [node.scope, *node.devices.values()]:
            if owner is not None:
                owner.stale.update(metric for metric, _ in owner.resolved.values())
        return _Problem(f"{what}; values of this scope are unknown until its next BIRTH")

    # -- problems and rebirths ---------------------------------------------------------------------------------
    def _problem(self, out: Decoded, reason: str, node: tuple[str, str] | None = None) -> Decoded:
        self.n_problems += 1
        if node is not None and self._rebirth(node, out):
            reason += "; rebirth requested"
        if out.problems:  # one reason per message: a second one (after a gap) is added to the first
            self.n_problems -= 1
            out.problems[0] += f"; and {reason}"
        else:
            out.problems.append(reason)
        return out

    def _rebirth(self, node: tuple[str, str], out: Decoded) -> bool:
        now = float(self.clock())
        last = self._rebirths.get(node)
        if last is not None and now - last < self.rebirth_interval:
            return False
        if len(self._rebirths) >= self.max_nodes and node not in self._rebirths:
            self._rebirths.pop(min(self._rebirths, key=self._rebirths.__getitem__))
        self._rebirths[node] = now
        self.n_rebirths += 1
        out.commands.append(rebirth_command(node[0], node[1], timestamp=int(now * 1000)))
        return True

    # -- persistence -------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The decoder's state, JSON-ready (births, aliases, current values, seq, recent digests, throttle)."""
        nodes = []
        for (group, name), node in self._nodes.items():
            nodes.append({
                "group": group, "node": name, "online": node.online, "bdseq": node.bdseq, "birth_ts": node.birth_ts,
                "seq": node.seq, "count": node.count, "offline_since": node.offline_since, "recent": list(node.recent),
                "scope": None if node.scope is None else node.scope.to_json(),
                "devices": {d: (None if s is None else s.to_json()) for d, s in node.devices.items()},
            })
        params = {k: v for k, v in self.params().items() if k not in ("mapping", "clock")}
        return {"schema": DECODER_SCHEMA, "params": params, "nodes": nodes,
                "rebirths": [[g, n, t] for (g, n), t in self._rebirths.items()],
                "counts": {"messages": self.n_messages, "events": self.n_events, "problems": self.n_problems,
                           "gaps": self.n_gaps, "duplicates": self.n_duplicates, "rebirths": self.n_rebirths,
                           "ticks": self._ticks}}

    @classmethod
    def from_json(cls, doc: Any, mapping: SparkplugMapping, **params: Any) -> Self:
        """Rebuild a decoder from :meth:`to_json` with its saved limits (``params``, as for ``__init__``, override
        them); :class:`MonitorError` if the document is damaged.

        >>> mapping = SparkplugMapping.from_dict({"features": {"t": "T"}})
        >>> SparkplugDecoder.from_json({"schema": "x"}, mapping)
        Traceback (most recent call last):
        ...
        leanlearn.online.base.MonitorError: sparkplug decoder state: schema is 'x', expected ...
        """
        if not isinstance(doc, dict) or doc.get("schema") != DECODER_SCHEMA:
            got = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
            raise MonitorError(f"sparkplug decoder state: schema is {got!r}, expected {DECODER_SCHEMA!r}; the "
                               "checkpoint is damaged or from another version: start without it")
        try:
            saved = {k: v for k, v in doc.get("params", {}).items() if k in _PARAMS}
            decoder = cls(mapping, **(saved | params))
            for item in doc["nodes"]:
                node = _Node()
                node.online = bool(item["online"])
                node.bdseq = None if item["bdseq"] is None else int(item["bdseq"])
                node.birth_ts = int(item["birth_ts"])
                node.seq = None if item["seq"] is None else int(item["seq"])
                node.count = int(item.get("count", node.seq or 0))
                node.offline_since = int(item["offline_since"])
                for digest in item["recent"][-RECENT_DIGESTS:]:
                    node.remember(str(digest))
                node.scope = None if item["scope"] is None else _Scope.from_json(item["scope"])
                node.devices = {str(d): (None if s is None else _Scope.from_json(s))
                                for d, s in item["devices"].items()}
                decoder._nodes[(str(item["group"]), str(item["node"]))] = node
            decoder._rebirths = {(str(g), str(n)): float(t) for g, n, t in doc["rebirths"]}
            counts = doc["counts"]
            decoder.n_messages, decoder.n_events = int(counts["messages"]), int(counts["events"])
            decoder.n_problems, decoder.n_gaps = int(counts["problems"]), int(counts["gaps"])
            decoder.n_duplicates, decoder.n_rebirths = int(counts["duplicates"]), int(counts["rebirths"])
            decoder._ticks = int(counts["ticks"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MonitorError(f"sparkplug decoder state: damaged ({type(exc).__name__}: {str(exc)[:80]}); start "
                               "without the checkpoint") from None
        return decoder
