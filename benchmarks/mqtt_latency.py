"""End-to-end latency of the MQTT source: publish → event tracked and its alerts written, at 5,000 and 50,000 events/s.

Method
------
A publisher *process* sends the events of a planted stream (20 rules, two of which change their confidence, so
alerts fire) to a local broker at a fixed rate, QoS 1, as JSON arrays (an edge gateway batching): by default 10
events a message at 5,000 events/s and 100 at 50,000 events/s (500 messages/s each), and one event a message at
5,000 events/s (5,000 messages/s: the per-message cost of paho + JSON in Python). Payloads are encoded beforehand;
each message's send time (``sent``, wall clock) is written into it just before ``publish``. The monitor runs in
this process: ``run_monitor`` over :class:`~leanlearn.online.mqtt.MqttStream` with a checkpoint folder (so the
acknowledge-after-checkpoint path is on, a checkpoint every 10,000 events), micro-batches closed at 5,000 events or
after the latency bound (``--max-latency``: 0.2 s, and 0.02 s in two runs). After every micro-batch — once its
alerts are written to the alert file — the wall clock is read again: latency of an event = that time − its
``sent``. Reported: p50 / p99 / max over all events, p50 / p99 for the events that raised an alert (the planted
changes), events/s consumed, and the events consumed (each exactly once).

Usage::

    python benchmarks/mqtt_latency.py [--seconds 8] [--runs 5000:10 50000:100:0.02 ...] [--host H --port P]

Prints a table and writes ``benchmarks/results/mqtt_latency.json`` (machine and date included). The figures depend
on the machine and on what else runs on it; no test asserts them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

N_RULES = 20


def _stream(n_events: int, seed: int = 4) -> tuple[Any, Any]:
    from leanlearn.online.scenarios import planted_stream

    return planted_stream(N_RULES, n_events, drifts=[(n_events // 3, 0, 0.02), (n_events // 2, 1, 0.02)],
                          reference=100_000, seed=seed)


def publish(host: str, port: int, topic: str, rate: float, per_message: int, n_events: int) -> None:
    """The publisher process: send the stream at ``rate`` events/s, ``per_message`` events a message."""
    import paho.mqtt.client as mqtt

    _, events = _stream(n_events)
    events.insert(0, "event_id", np.arange(len(events)))
    records = json.loads(events.to_json(orient="records", double_precision=15))
    for record in records:
        record["sent"] = "@SENT@"
    # encoded beforehand (JSON encoding in Python would cap the publisher below 50,000 events/s); the send time is
    # written into the bytes just before publish
    payloads = [json.dumps(records[k] if per_message == 1 else records[k:k + per_message]).encode()
                for k in range(0, len(records), per_message)]
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.connect(host, port)
    client.loop_start()
    started = time.monotonic()
    infos = []
    for m, payload in enumerate(payloads):
        while (wait := started + m * per_message / rate - time.monotonic()) > 0:
            time.sleep(min(wait, 0.002))
        stamped = payload.replace(b'"@SENT@"', repr(time.time()).encode())
        infos.append(client.publish(topic, stamped, qos=1))
    for info in infos:
        info.wait_for_publish(timeout=60)
    client.disconnect()
    client.loop_stop()


def measure(host: str, port: int, rate: float, per_message: int, seconds: float, max_latency: float = 0.2,
            checkpoint: bool = True) -> dict[str, Any]:
    from leanlearn.online.mqtt import MqttStream
    from leanlearn.online.run import run_monitor
    from leanlearn.online.settings import TrackerSettings

    n_events = int(rate * seconds)
    pack, _ = _stream(n_events)
    topic = f"leanlearn-bench/{uuid.uuid4().hex[:10]}"
    latencies: list[np.ndarray] = []
    alert_latencies: list[float] = []

    class Timed(MqttStream):
        last: Any = None

        def batches(self, size: int) -> Any:
            for frame in super().batches(size):
                self.last = frame if len(frame) else None
                yield frame

    stream = Timed(f"mqtt://{host}:{port}/{topic}", client_id=f"bench-{uuid.uuid4().hex[:8]}", persistent=True,
                   session_expiry=60, max_batch=5000, max_latency=max_latency).connect()

    def after_batch(_: Any) -> None:
        now = time.time()
        if stream.last is not None:
            latencies.append(now - stream.last["sent"].to_numpy(dtype=float))
            stream.last = None

    def on_alerts(found: Any) -> None:
        now = time.time()
        frame = stream.last
        if frame is None:
            return
        by_id = dict(zip(frame["event_id"].to_numpy(), frame["sent"].to_numpy(dtype=float), strict=True))
        for alert in found:
            if alert.event in by_id:  # event ids are the stream positions here
                alert_latencies.append(now - by_id[alert.event])

    with tempfile.TemporaryDirectory() as folder:
        publisher = subprocess.Popen([sys.executable, __file__, "--publish", topic, "--host", host, "--port",
                                      str(port), "--rate", str(rate), "--per-message", str(per_message),
                                      "--events", str(n_events)])
        try:
            started = time.perf_counter()
            store = Path(folder) / "ck" if checkpoint else None
            summary = run_monitor(pack, stream, alerts=Path(folder) / "alerts.jsonl", checkpoint=store,
                                  checkpoint_every=10_000, settings=TrackerSettings(2000), on_alerts=on_alerts,
                                  on_progress=after_batch, progress_every=0.0, max_events=n_events,
                                  handle_signals=False)
            elapsed = time.perf_counter() - started
        finally:
            publisher.wait(timeout=120)
    every = np.concatenate(latencies) if latencies else np.zeros(0)
    ms = every * 1000

    def q(values: np.ndarray, p: float) -> float | None:
        return round(float(np.percentile(values, p)), 1) if len(values) else None

    alerts_ms = np.asarray(alert_latencies) * 1000
    return {"rate": rate, "max_latency_s": max_latency, "checkpoint": checkpoint, "events": n_events,
            "events_per_message": per_message, "consumed": summary.total_events,
            "duplicates": stream.duplicates, "rules": N_RULES, "alerts": summary.alerts,
            "events_per_s": round(summary.total_events / elapsed) if elapsed > 0 else None,
            "p50_ms": q(ms, 50), "p99_ms": q(ms, 99), "max_ms": q(ms, 100),
            "alert_p50_ms": q(alerts_ms, 50), "alert_p99_ms": q(alerts_ms, 99), "alert_n": int(len(alerts_ms))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--runs", nargs="+",
                        default=["5000:10", "50000:100", "5000:1", "5000:10:0.02", "50000:100:0.02"],
                        metavar="RATE:PER_MESSAGE[:MAX_LATENCY]",
                        help="events/s, events per message and micro-batch latency bound (s, default 0.2) of each run")
    parser.add_argument("--no-checkpoint", action="store_true", help="no checkpoint folder (acknowledge at once)")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "mqtt_latency.json")
    parser.add_argument("--publish", metavar="TOPIC", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--per-message", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        publish(args.host, args.port, args.publish, args.rate, args.per_message, args.events)
        return
    runs = [[float(x) for x in r.split(":")] for r in args.runs]
    rows = [measure(args.host, args.port, r[0], int(r[1]), args.seconds, r[2] if len(r) > 2 else 0.2,
                    not args.no_checkpoint) for r in runs]
    print(f"{'events/s':>9} {'ev/msg':>6} {'bound s':>7} {'events':>9} {'consumed':>9} {'alerts':>6} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'alert p50':>9} {'alert p99':>9}")
    for r in rows:
        print(f"{r['rate']:>9,.0f} {r['events_per_message']:>6} {r['max_latency_s']:>7} {r['events']:>9,} "
              f"{r['consumed']:>9,} {r['alerts']:>6} {r['p50_ms']:>7} {r['p99_ms']:>7} {r['max_ms']:>7} "
              f"{r['alert_p50_ms']!s:>9} {r['alert_p99_ms']!s:>9}")
    import paho.mqtt
    import pandas as pd
    import river

    meta = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
            "machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(),
            "numpy": np.__version__, "pandas": pd.__version__, "river": river.__version__,
            "paho_mqtt": paho.mqtt.__version__, "broker": f"{args.host}:{args.port}", "seconds": args.seconds,
            "method": "publisher process stamps each message's send time; latency = wall clock after the event's "
                      "micro-batch is tracked and its alerts written - send time; QoS 1, checkpoint every 10,000 "
                      "events, micro-batches of <= 5,000 events or 0.2 s"}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "latency": rows}, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
