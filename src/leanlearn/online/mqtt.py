"""Live events over MQTT: a :class:`~leanlearn.online.streams.Stream` with an exactly-once effect on the monitor.

:class:`MqttStream` subscribes to ``mqtt://HOST:PORT/TOPIC_FILTER`` (``+`` and ``#`` wildcards allowed; a user and
password in the URL are used to connect and shown as ``***`` in every message) with paho-mqtt 2 on a background
thread, MQTT v5, QoS 1, a persistent session (``clean_start=False``, session expiry ``session_expiry`` seconds) under
a stable client id, and **manual acknowledgement**. Each message is a JSON object (one event) or a JSON array of
objects (several events) carrying the pack's columns, optionally a time column and an event id (``id_column``,
default ``event_id``); with ``format="sparkplug"`` the payload is handed to a Sparkplug B decoder instead
(:mod:`leanlearn.online.sparkplug`). Micro-batches are formed from what arrived: a batch is closed when it holds
``max_batch`` events or ``max_latency`` seconds after its first event, so the monitor works at the speed of
``Monitor.update_many``.

Exactly-once effect
-------------------
A message is acknowledged (PUBACK) only after the checkpoint that includes its events is durable on disk
(:func:`~leanlearn.online.run.run_monitor` calls :meth:`MqttStream.commit` after each checkpoint; the stream also asks
for a checkpoint, :meth:`MqttStream.checkpoint_due`, when ``ack_after`` messages or ``ack_seconds`` seconds wait for
their acknowledgement). So:

- a monitor killed (even ``kill -9``) after a checkpoint resumes from it; the messages it had received since were not
  acknowledged, the broker delivers them again, and they are counted once (the alert and quarantine files are cut
  back to the checkpoint, so their alerts and quarantined records appear once too);
- a monitor killed between a durable checkpoint and the acknowledgements sees those messages again: their events are
  dropped as duplicates by event id — the ids of the last ``dedup`` events are kept in the stream position, hence in
  the checkpoint (bounded memory: ``dedup`` ids, default 50,000);
- a broker that restarts with its persistence (mosquitto ``persistence true``) keeps the session and the unacknowledged
  messages, and delivers them again: the ones already counted are dropped by event id;
- with ``format="sparkplug"`` the same holds by message content instead of event id: the decoder keeps the digests
  of each edge node's recent messages (in the checkpoint), and at most ``SPARKPLUG_ACK_AFTER`` (200) messages wait
  for an acknowledgement, so a redelivered message is always among them;
- a publisher that sends an event twice (a QoS 1 retry, a gateway replaying its buffer) is counted once if the second
  copy comes within the last ``dedup`` event ids.

What it does **not** cover: a broker that loses the session (no persistence, session expired, or its queue limit —
mosquitto's ``max_queued_messages`` — overflowed while the monitor was away): those messages are gone, the stream
counts a lost session in ``problems`` when the broker says it has none. Events **without an event id** are counted
again if they are redelivered after having been counted — only in the window between a durable checkpoint and its
acknowledgements, after a broker restart for messages received but not yet acknowledged, or when the publisher sends
them twice. A duplicate arriving more than ``dedup`` events after the original is counted again. QoS 2 is refused
(paho completes its handshake before the application has the message, so a crash would lose it); QoS 0 is accepted
and is at most once.

Malformed messages never stop the stream: a payload that is not JSON, not an object or an array of objects, larger
than ``max_payload`` bytes (default 16 MiB), an event lacking one of ``columns`` or, for Sparkplug, what the decoder
rejects, is set aside as a :class:`~leanlearn.online.quarantine.Quarantined` record (raw payload, shortened, base64
when binary; topic; reason) that the monitor loop writes to its quarantine file and counts.

Examples
--------
>>> parse_url("mqtt://line:secret@127.0.0.1:1884/plant/+/events")
MqttAddress(host='127.0.0.1', port=1884, topic='plant/+/events', username='line', password='***', tls=False)
>>> parse_url("mqtt://line:secret@127.0.0.1:1884/plant/+/events").label
'mqtt://line:***@127.0.0.1:1884/plant/+/events'
>>> parse_url("mqtt://broker/plant/#").port
1883
>>> parse_url("mqtt://broker/a/#/b")
Traceback (most recent call last):
...
leanlearn.errors.DataError: mqtt://broker/a/#/b: topic filter 'a/#/b': '#' must be the last level, alone (e.g. plant/#)
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pandas as pd

from leanlearn.errors import DataError
from leanlearn.online.quarantine import Quarantined

__all__ = ["MAX_PAYLOAD_BYTES", "MqttAddress", "MqttStream", "default_client_id", "parse_url"]

MAX_PAYLOAD_BYTES = 16 << 20
#: Sparkplug: at most this many messages wait for their acknowledgement (below the decoder's 256 recent digests per
#: edge node, so a message redelivered after a crash between checkpoint and acknowledgement is recognised).
SPARKPLUG_ACK_AFTER = 200
_RAW_KEEP = 1024  # bytes of a bad payload kept in the quarantine record
_MAX_PROBLEMS = 5
_IDLE = 0.2


@dataclass(frozen=True, slots=True)
class MqttAddress:
    """Where to subscribe: broker host and port, topic filter, optional credentials."""

    host: str
    port: int
    topic: str
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @property
    def label(self) -> str:
        """The address for messages: the password (if any) shown as ``***``."""
        user = ""
        if self.username is not None:
            user = self.username + (":***" if self.password is not None else "") + "@"
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}/{self.topic}"

    def __repr__(self) -> str:  # never print the password
        secret = None if self.password is None else "***"
        return (f"MqttAddress(host={self.host!r}, port={self.port}, topic={self.topic!r}, "
                f"username={self.username!r}, password={secret!r}, tls={self.tls})")


def _redact(url: str) -> str:
    head, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        cred, _, hostport = netloc.rpartition("@")
        user = cred.split(":", 1)[0]
        netloc = f"{user}:***@{hostport}" if ":" in cred else f"{user}@{hostport}"
    return f"{head}://{netloc}{slash}{path}"


def check_filter(topic: str, where: str) -> str:
    """Refuse a topic filter the broker would refuse (empty, ``#`` not last, a wildcard inside a level)."""
    if not topic:
        raise DataError(f"{where}: no topic filter; write mqtt://HOST:PORT/TOPIC (e.g. mqtt://broker:1883/plant/#)")
    if "\x00" in topic or len(topic.encode()) > 65535:
        raise DataError(f"{where}: topic filter {topic!r} is not a valid MQTT topic filter")
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise DataError(f"{where}: topic filter {topic!r}: '#' must be the last level, alone (e.g. plant/#)")
        if "+" in level and level != "+":
            raise DataError(f"{where}: topic filter {topic!r}: '+' must stand alone in a level (e.g. plant/+/events)")
    return topic


def parse_url(url: str) -> MqttAddress:
    """Read ``mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC_FILTER`` (``#`` may be written as is or as ``%23``)."""
    shown = _redact(url)
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("mqtt", "mqtts"):
        raise DataError(f"{shown}: not an MQTT address; write mqtt://HOST:PORT/TOPIC_FILTER")
    if scheme.lower() == "mqtts":
        raise DataError(f"{shown}: MQTT over TLS (mqtts://) is not supported yet; connect to a local broker or bridge "
                        "with mqtt://HOST:PORT/TOPIC")
    netloc, _, topic = rest.partition("/")
    username = password = None
    if "@" in netloc:
        cred, _, netloc = netloc.rpartition("@")
        user, colon, secret = cred.partition(":")
        username, password = unquote(user), (unquote(secret) if colon else None)
    host, port_text = netloc, ""
    if netloc.startswith("["):
        end = netloc.find("]")
        host, port_text = netloc[1:end], netloc[end + 2:] if end >= 0 else ""
    elif ":" in netloc:
        host, _, port_text = netloc.rpartition(":")
    if not host:
        raise DataError(f"{shown}: no broker host; write mqtt://HOST:PORT/TOPIC_FILTER")
    port = 1883
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise DataError(f"{shown}: port {port_text!r} is not a port number (1-65535)")
        port = int(port_text)
    topic = check_filter(unquote(topic), shown)
    return MqttAddress(host, port, topic, username, password)


def default_client_id(pack_hash: str, checkpoint: str | None) -> str:
    """A stable client id for a pack and a checkpoint folder (the broker keeps the session under it).

    >>> default_client_id("sha256:ab", "/state") == default_client_id("sha256:ab", "/state")
    True
    >>> len(default_client_id("sha256:ab", None))
    26
    """
    digest = hashlib.sha256(f"{pack_hash}\n{checkpoint}".encode()).hexdigest()[:16]
    return f"leanlearn-{digest}"


def _raw(payload: bytes) -> str:
    """A bad payload as kept in quarantine: text (shortened) or ``base64:`` of its first bytes."""
    head = payload[:_RAW_KEEP]
    more = f" … ({len(payload):,} bytes)" if len(payload) > _RAW_KEEP else ""
    try:
        return head.decode("utf-8") + more
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(head).decode("ascii") + more


@dataclass(slots=True)
class _Message:
    generation: int
    mid: int
    qos: int
    topic: str
    payload: bytes


class MqttStream:
    """Events from an MQTT topic filter, acknowledged only once a checkpoint holds them.

    Parameters
    ----------
    url : str
        ``mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC_FILTER``.
    format : {"json", "sparkplug"}
        Payload format; ``sparkplug`` needs ``decoder``.
    qos : {0, 1}
        Subscription QoS (1: at least once from the broker, made exactly once by acknowledgement and dedup).
    client_id : str, optional
        Stable id of the persistent session (default: random, and a clean session).
    persistent : bool
        Keep the session on the broker between runs (``clean_start=False``); default True when ``client_id`` is
        given.
    columns : iterable of str
        Columns every event must carry (else it is quarantined as ``missing-column``).
    id_column : str
        Column holding the event id used to drop duplicates.
    max_batch, max_latency : int, float
        A micro-batch closes at ``max_batch`` events or ``max_latency`` seconds after its first event.
    dedup : int
        How many recent event ids are kept to drop duplicates (in the checkpoint).
    ack_after, ack_seconds : int, float
        Ask for a checkpoint (and so acknowledge) when that many messages, or messages that old, wait for it.
    receive_maximum : int
        Messages the broker may send without acknowledgement (MQTT v5 Receive Maximum); ``ack_after`` stays below.
    max_payload : int
        Largest payload taken (bytes); larger ones are quarantined.
    decoder : object, optional
        Sparkplug decoder: ``handle(topic, payload) -> Decoded(events, problems, commands)``, ``to_json()``,
        ``from_json()``.
    connect_timeout : float
        Seconds to wait for the broker's answer to the first connection.
    """

    def __init__(self, url: str, *, format: str = "json", qos: int = 1, client_id: str | None = None,
                 persistent: bool | None = None, columns: Iterable[str] = (), id_column: str | None = "event_id",
                 max_batch: int = 5000, max_latency: float = 0.2, dedup: int = 50_000, ack_after: int = 5000,
                 ack_seconds: float = 1.0, receive_maximum: int = 10_000, max_payload: int = MAX_PAYLOAD_BYTES,
                 session_expiry: int = 7 * 86400, decoder: Any = None, connect_timeout: float = 10.0) -> None:
        self.address = parse_url(url)
        self.label = self.address.label
        if format not in ("json", "sparkplug"):
            raise DataError(f"--format {format!r}: give json or sparkplug")
        if format == "sparkplug" and decoder is None:
            raise DataError(f"{self.label}: --format sparkplug needs a Sparkplug decoder (and --mapping)")
        if qos == 2:
            raise DataError(f"{self.label}: --qos 2 is not supported (the client completes the QoS 2 handshake "
                            "before the monitor holds the event, so a crash would lose it); use --qos 1, which "
                            "leanlearn makes exactly once by acknowledging after the checkpoint")
        if qos not in (0, 1):
            raise DataError(f"{self.label}: --qos {qos!r}: give 0 or 1")
        for name, value in (("max_batch", max_batch), ("dedup", dedup), ("ack_after", ack_after),
                            ("receive_maximum", receive_maximum), ("max_payload", max_payload)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DataError(f"{self.label}: {name}={value!r}: give a positive whole number")
        if not 0 < max_latency < 3600:
            raise DataError(f"{self.label}: max_latency={max_latency!r}: give seconds between 0 and 3600")
        if decoder is not None:
            # Sparkplug: the decoder drops redelivered messages by content (its recent digests per edge node, in the
            # checkpoint), so its event ids are not deduplicated a second time here; acknowledgements are kept
            # within the decoder's memory of recent messages
            id_column = None
            ack_after = min(ack_after, SPARKPLUG_ACK_AFTER)
        self.format = format
        self.qos = qos
        self.persistent = (client_id is not None) if persistent is None else persistent
        self.client_id = client_id or f"leanlearn-{uuid.uuid4().hex[:16]}"
        self.columns = tuple(columns)
        self.id_column = id_column
        self.max_batch = max_batch
        self.max_latency = float(max_latency)
        self.dedup = dedup
        self.receive_maximum = min(int(receive_maximum), 65535)
        self.ack_after = max(1, min(ack_after, self.receive_maximum // 2 or 1))
        self.ack_seconds = float(ack_seconds)
        self.max_payload = max_payload
        self.session_expiry = int(session_expiry)
        self.decoder = decoder
        self.connect_timeout = connect_timeout
        # counters (in the position, so they survive a restart)
        self.events = 0
        self._taken = 0  # events taken into batches (= events once the batch is yielded)
        self.duplicates = 0
        self.bad_messages = 0
        self.messages = 0
        self.problems: list[str] = []
        self._seen: deque[str] = deque()
        self._seen_set: set[str] = set()
        # delivery state (this process only)
        self._queue: queue.Queue[_Message] = queue.Queue(maxsize=max(2 * self.receive_maximum, 10_000))
        self._pending: deque[tuple[dict[str, Any], str | None]] = deque()  # events of the message in hand
        self._pending_msg: _Message | None = None
        self._delivered: list[tuple[int, int, int]] = []  # (generation, mid, qos) of messages fully yielded
        self._delivered_since: float | None = None
        self._ackable: list[tuple[int, int, int]] = []
        self._held: list[Quarantined] = []
        self._generation = 0
        self._connected = threading.Event()
        self._connect_error: str | None = None
        self._closing = threading.Event()
        self._client: Any = None
        self.sessions_lost = 0
        self._resumed = False

    # -- broker connection -------------------------------------------------------------------------------------
    @property
    def bad_lines(self) -> int:
        """Always 0: a bad message is quarantined (and counted there), not skipped as a bad line."""
        return 0

    def _problem(self, text: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(text)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if getattr(reason_code, "is_failure", False):
            self._connect_error = str(reason_code)
            self._connected.set()
            return
        self._generation += 1  # acknowledgements owed on an earlier connection are void: the broker resends
        if self.persistent and (self._generation > 1 or self._resumed) and not getattr(flags, "session_present",
                                                                                           True):
            self.sessions_lost += 1
            self._problem(f"{self.label}: the broker holds no session for client id {self.client_id!r} (lost, "
                          "expired, or another id); messages sent while this monitor was away may be lost")
        client.subscribe(self.address.topic, qos=self.qos)

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reason_codes: Any, properties: Any) -> None:
        failed = [str(rc) for rc in reason_codes if getattr(rc, "is_failure", False)]
        if failed and not self._connected.is_set():
            self._connect_error = f"subscription to {self.address.topic!r} refused: {', '.join(failed)}"
        self._connected.set()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        item = _Message(self._generation, message.mid, message.qos, message.topic, bytes(message.payload))
        while not self._closing.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _connect(self) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5,
                             manual_ack=True)
        if self.address.username is not None:
            client.username_pw_set(self.address.username, self.address.password)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry if self.persistent else 0
        props.ReceiveMaximum = self.receive_maximum
        try:
            client.connect(self.address.host, self.address.port, keepalive=30, clean_start=not self.persistent,
                           properties=props)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise DataError(f"{self.label}: cannot connect to the broker ({reason}); is it running, and is "
                            "HOST:PORT right?") from None
        client.loop_start()
        self._client = client
        if not self._connected.wait(self.connect_timeout):
            self.close()
            raise DataError(f"{self.label}: the broker did not answer within {self.connect_timeout:g} s")
        if self._connect_error is not None:
            self.close()
            raise DataError(f"{self.label}: the broker refused ({self._connect_error}); check the user and password "
                            "in the URL, the topic filter, or the broker's access rules")

    # -- payloads ----------------------------------------------------------------------------------------------
    def _set_aside(self, msg: _Message, code: str, reason: str, raw: bytes | None = None,
                   column: str | None = None) -> None:
        self.bad_messages += 1
        record = Quarantined(event=self._taken, code=code, column=column,
                             value=_raw(msg.payload if raw is None else raw),
                             reason=f"topic {msg.topic!r}: {reason}", source=self.label)
        self._held.append(record)

    def _decode(self, msg: _Message) -> list[dict[str, Any]]:
        """The events of one message (bad ones set aside)."""
        if len(msg.payload) > self.max_payload:
            self._set_aside(msg, "too-large", f"payload of {len(msg.payload):,} bytes, more than {self.max_payload:,}")
            return []
        if self.decoder is not None:
            return self._decode_sparkplug(msg)
        try:
            doc = json.loads(msg.payload)
        except RecursionError:
            self._set_aside(msg, "bad-payload", "nested too deeply to read")
            return []
        except (ValueError, UnicodeDecodeError) as exc:
            self._set_aside(msg, "bad-payload", f"not valid JSON ({str(exc)[:200]})")
            return []
        docs = doc if isinstance(doc, list) else [doc]
        if not docs or not all(isinstance(d, dict) for d in docs):
            kind = "an empty array" if not docs else f"a {type(doc).__name__}"
            if isinstance(doc, list) and docs:
                kind = "an array holding something other than objects"
            self._set_aside(msg, "not-an-object", f"{kind}, not a JSON object or an array of objects")
            return []
        return docs

    def _decode_sparkplug(self, msg: _Message) -> list[dict[str, Any]]:
        try:
            decoded = self.decoder.handle(msg.topic, msg.payload)
        except Exception as exc:  # a decoder bug on one message must not stop the line
            self._set_aside(msg, "bad-sparkplug", f"could not be decoded ({type(exc).__name__}: {str(exc)[:200]})")
            return []
        for problem in getattr(decoded, "problems", ()) or ():
            self._set_aside(msg, "bad-sparkplug", str(problem))
        for topic, payload in getattr(decoded, "commands", ()) or ():
            if self._client is not None:
                self._client.publish(topic, payload, qos=0)
        return [dict(e) for e in getattr(decoded, "events", ()) or ()]

    def _key(self, record: dict[str, Any]) -> str | None:
        if self.id_column is None:
            return None
        value = record.get(self.id_column)
        if value is None or isinstance(value, bool):
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, int | float):
            return str(value)
        return json.dumps(value, sort_keys=True, default=str)

    def _remember(self, key: str) -> None:
        self._seen.append(key)
        self._seen_set.add(key)
        while len(self._seen) > self.dedup:
            self._seen_set.discard(self._seen.popleft())

    def _open(self, msg: _Message) -> None:
        self.messages += 1
        self._pending_msg = msg
        for record in self._decode(msg):
            missing = [c for c in self.columns if c not in record]
            if missing:
                shown = ", ".join(repr(c) for c in missing[:5])
                self._set_aside(msg, "missing-column", f"the event lacks column {shown}",
                                raw=json.dumps(record, default=str).encode()[:_RAW_KEEP], column=missing[0])
                continue
            self._pending.append((record, self._key(record)))

    def _finish(self) -> None:
        msg = self._pending_msg
        if msg is not None and not self._pending:
            if msg.qos > 0:
                self._delivered.append((msg.generation, msg.mid, msg.qos))
                if self._delivered_since is None:
                    self._delivered_since = time.monotonic()
            self._pending_msg = None

    # -- the Stream protocol -----------------------------------------------------------------------------------
    def connect(self) -> MqttStream:
        """Connect and subscribe now (else the first :meth:`batches` does); :class:`DataError` if the broker is
        unreachable or refuses."""
        if self._client is None:
            self._connect()
        return self

    def batches(self, size: int) -> Iterator[pd.DataFrame]:
        self.connect()
        size = max(1, min(int(size), self.max_batch))
        while not self._closing.is_set():
            records: list[dict[str, Any]] = []
            deadline: float | None = None
            while len(records) < size:
                if not self._pending:
                    self._finish()
                    wait = _IDLE if deadline is None else deadline - time.monotonic()
                    if wait <= 0:
                        break
                    try:
                        msg = self._queue.get(timeout=wait)
                    except queue.Empty:
                        break
                    self._open(msg)
                    if deadline is None:
                        deadline = time.monotonic() + self.max_latency
                    continue
                record, key = self._pending.popleft()
                if key is not None:
                    if key in self._seen_set:
                        self.duplicates += 1
                        continue
                    self._remember(key)
                records.append(record)
                self._taken += 1
            self._finish()
            self.events += len(records)
            yield pd.DataFrame.from_records(records) if records else pd.DataFrame()

    def pop_quarantined(self) -> list[Quarantined]:
        """Messages and events set aside since the last call (the monitor loop writes them to its quarantine)."""
        held, self._held = self._held, []
        return held

    def position(self) -> dict[str, Any]:
        """Counters and the recent event ids; also marks the messages delivered so far as ready to acknowledge."""
        self._ackable = list(self._delivered)
        doc: dict[str, Any] = {"kind": "mqtt", "topic": self.address.topic, "events": self.events,
                               "messages": self.messages, "duplicates": self.duplicates,
                               "bad_messages": self.bad_messages, "seen": list(self._seen)}
        if self.decoder is not None and hasattr(self.decoder, "to_json"):
            doc["decoder"] = self.decoder.to_json()
        return doc

    def seek(self, position: dict[str, Any]) -> None:
        if not isinstance(position, dict) or position.get("kind") != "mqtt":
            kind = position.get("kind") if isinstance(position, dict) else None
            raise DataError(f"{self.label}: the checkpoint was taken on a {kind} stream, not an MQTT stream; resume "
                            "with the same kind of STREAM, or use a new checkpoint folder")
        if position.get("topic") != self.address.topic:
            raise DataError(f"{self.label}: the checkpoint was taken on topic filter {position.get('topic')!r}, not "
                            f"{self.address.topic!r}; resume with the same filter, or use a new checkpoint folder")
        for key in ("events", "messages", "duplicates", "bad_messages"):
            value = position.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DataError(f"{self.label}: the checkpoint's stream position has {key}={value!r}, not a count; "
                                "remove the checkpoint folder to start over")
        seen = position.get("seen", [])
        if not isinstance(seen, list) or not all(isinstance(s, str) for s in seen):
            raise DataError(f"{self.label}: the checkpoint's event ids are damaged; remove the checkpoint folder to "
                            "start over")
        self._resumed = True
        self.events, self.messages = position.get("events", 0), position.get("messages", 0)
        self._taken = self.events
        self.duplicates, self.bad_messages = position.get("duplicates", 0), position.get("bad_messages", 0)
        self._seen, self._seen_set = deque(), set()
        for key in seen[-self.dedup:]:
            self._remember(key)
        if self.decoder is not None and "decoder" in position and hasattr(self.decoder, "from_json"):
            mapping = getattr(self.decoder, "mapping", None)
            cls = type(self.decoder)
            self.decoder = (cls.from_json(position["decoder"], mapping) if mapping is not None
                            else cls.from_json(position["decoder"]))

    def checkpoint_due(self) -> bool:
        """Whether enough messages (or old enough ones) wait for a checkpoint to be acknowledged."""
        if not self._delivered:
            return False
        if len(self._delivered) >= self.ack_after:
            return True
        return self._delivered_since is not None and time.monotonic() - self._delivered_since >= self.ack_seconds

    def commit(self) -> int:
        """Acknowledge the messages delivered before the last :meth:`position` (its checkpoint is durable).

        Returns how many were acknowledged; those owed on an earlier connection are skipped (the broker sends
        them again, and their events are dropped by id).
        """
        ready, self._ackable = self._ackable, []
        if not ready:
            return 0
        done = len(ready)
        self._delivered = self._delivered[done:]
        self._delivered_since = time.monotonic() if self._delivered else None
        client, acked = self._client, 0
        if client is None:
            return 0
        for generation, mid, qos in ready:
            if generation == self._generation:
                client.ack(mid, qos)
                acked += 1
        return acked

    def close(self) -> None:
        """Disconnect (unacknowledged messages stay with the broker's session) and stop the network thread."""
        self._closing.set()
        client, self._client = self._client, None
        if client is not None:
            try:
                client.disconnect()
            finally:
                client.loop_stop()
