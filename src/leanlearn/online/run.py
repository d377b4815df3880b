"""The long-running monitor loop: stream → monitor → alerts, with checkpoints, progress and a clean stop.

:func:`run_monitor` is what ``leanlearn monitor`` runs. It

1. builds the :class:`~leanlearn.online.monitor.Monitor`, or — when the checkpoint folder holds a checkpoint —
   restores it, moves the stream to the recorded position and cuts the alert file back to the recorded size;
2. writes a first checkpoint at once (so even a run killed before its first regular checkpoint resumes cleanly);
3. reads micro-batches, feeds them to the monitor, appends the alerts to the JSONL file, hands them to
   ``on_alerts``, and every ``checkpoint_every`` events flushes the alert file to disk and saves a checkpoint
   (see :mod:`leanlearn.online.checkpoint` for why no event is then lost or counted twice after ``kill -9``);
4. writes the events the monitor quarantined (see :mod:`leanlearn.online.quarantine`) to the quarantine file — by
   default beside the alert file (``alerts.jsonl`` → ``alerts.quarantine.jsonl``), else in the checkpoint folder
   (``quarantine.jsonl``) — sized and cut back on resume like the alert file, and counts them in the summary;
5. stops at the end of the stream, after about ``max_events``, or when asked: SIGINT (Ctrl-C) or SIGTERM set a flag that
   the loop checks between batches — the batch in hand is finished, alerts are flushed, a checkpoint is written and
   a :class:`RunSummary` returned, whatever the stream (a reader blocked on stdin does not hold the stop up). A
   second Ctrl-C stops at once, without the checkpoint. The handlers are in place before the checkpoint is loaded
   or first written, so a stop asked for as soon as the checkpoint file appears is a clean stop too.

Resuming with an alert (or quarantine) file that is shorter than the checkpoint recorded — rotated or truncated —
is refused (:class:`~leanlearn.online.base.MonitorError`); naming another file resumes into that file afresh.

Examples
--------
>>> import pandas as pd
>>> from leanlearn.mining.rules import Condition, Rule, RuleSet
>>> from leanlearn.packs.pack import RulePack, Target
>>> from leanlearn.online.streams import FileReplay
>>> rule = Rule((Condition("torque", ">=", 60.0),), Condition("scrap", "==", 1), support=0.05, coverage=0.1,
...             confidence=0.5, lift=5.0, leverage=0.04, conviction=1.8, n=1000, hits=500, p_value=1e-20,
...             p_value_raw=1e-22, ci=(0.47, 0.53), base_rate=0.1, id="R1")
>>> pack = RulePack(name="press", line="L1", targets=(Target("scrap"),), rules=RuleSet((rule,)))
>>> frame = pd.DataFrame({"torque": [50.0, 65.0, 65.0, 50.0] * 250, "scrap": [0, 1, 0, 0] * 250})
>>> folder = getfixture("tmp_path")
>>> summary = run_monitor(pack, FileReplay("events", frame=frame), alerts=folder / "alerts.jsonl",
...                       checkpoint=folder / "ckpt", checkpoint_every=300, handle_signals=False)
>>> summary.events, summary.total_events, summary.states
(1000, 1000, {'ok': 1, 'warning': 0, 'drift': 0})
>>> again = run_monitor(pack, FileReplay("events", frame=frame), checkpoint=folder / "ckpt",
...                     handle_signals=False)  # resumes at event 1,000: nothing left to read
>>> again.resumed_from, again.events
(1000, 0)
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanlearn.online.alerts import Alert, AlertLog, JsonLinesLog
from leanlearn.online.checkpoint import CheckpointStore
from leanlearn.online.monitor import Monitor, MonitorError
from leanlearn.online.quarantine import Quarantined, QuarantineLog
from leanlearn.online.settings import TrackerSettings
from leanlearn.online.streams import Stream
from leanlearn.packs.pack import RulePack

if TYPE_CHECKING:
    from leanlearn.online.revision import Reviser, Revision


@dataclass(frozen=True, slots=True)
class Progress:
    """What a status line shows: events consumed (all, and in this run), rate, states, alerts."""

    total_events: int
    events: int
    seconds: float
    rate: float
    states: dict[str, int]
    alerts: int
    bad_lines: int
    quarantined: int = 0


@dataclass
class RunSummary:
    """How a run ended.

    Attributes
    ----------
    events : int
        Events consumed by this run; ``total_events`` with the ones before the checkpoint it resumed from
        (``resumed_from``, ``None`` for a fresh start).
    stopped : bool
        True when stopped by a signal (Ctrl-C / SIGTERM) rather than the end of the stream.
    quarantined : int
        Events set aside in this run (``quarantine`` the file they were written to, ``problems`` the first few).
    """

    events: int
    total_events: int
    seconds: float
    alerts: int
    states: dict[str, int]
    resumed_from: int | None
    stopped: bool
    bad_lines: int
    problems: list[str] = field(default_factory=list)
    checkpoint: Path | None = None
    monitor: Monitor | None = None
    quarantined: int = 0
    quarantine: Path | None = None

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


_MAX_PROBLEMS = 10


def _resume_log(file: JsonLinesLog | None, size: Any, recorded: Any, checkpoint: Path) -> str | None:
    """Cut ``file`` back to the size the checkpoint recorded for it (same file), or start a new file afresh."""
    if file is None:
        return None
    if size is None:
        if file.what == "alert file":
            raise MonitorError(f"{checkpoint}: the checkpoint was written without an alert file; resume without "
                               "--alerts, or use a new checkpoint folder")
        return None
    same = recorded is None or Path(str(recorded)).resolve() == file.path.resolve()
    if same:
        file.truncate(int(size))
        return None
    return (f"the checkpoint's {file.what} was {recorded}; writing to {file.path} from the checkpoint on (what "
            f"{recorded} holds after the checkpoint may appear again here)")


class _Stop:
    """SIGINT / SIGTERM → a flag (the second SIGINT interrupts at once)."""

    def __init__(self, install: bool) -> None:
        self.event = threading.Event()
        self._saved: dict[int, Any] = {}
        self.install = install and threading.current_thread() is threading.main_thread()

    def _handler(self, signum: int, frame: Any) -> None:
        if self.event.is_set() and signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        self.event.set()

    def __enter__(self) -> _Stop:
        if self.install:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._saved[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)


def run_monitor(
    pack: RulePack,
    stream: Stream,
    *,
    alerts: str | Path | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 10_000,
    batch: int = 10_000,
    settings: TrackerSettings | None = None,
    quarantine: str | Path | None = None,
    on_alerts: Callable[[list[Alert]], None] | None = None,
    on_quarantine: Callable[[list[Quarantined]], None] | None = None,
    reviser: Reviser | None = None,
    on_revision: Callable[[Revision], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    progress_every: float = 0.25,
    max_events: int | None = None,
    stop: threading.Event | None = None,
    handle_signals: bool = True,
) -> RunSummary:
    """Monitor ``pack`` on ``stream`` until the stream ends or a stop is requested.

    Parameters
    ----------
    pack : RulePack
        The pack to track.
    stream : Stream
        Where events come from (see :mod:`leanlearn.online.streams`).
    alerts : path, optional
        JSONL file the alerts are appended to.
    checkpoint : path, optional
        Checkpoint folder: resumed from if it holds a checkpoint, written every ``checkpoint_every`` events and at
        the end.
    batch : int
        Largest micro-batch (also capped by ``checkpoint_every``).
    settings : TrackerSettings, optional
        How the monitor tracks the rules (default: :class:`TrackerSettings` defaults for a fresh start, the
        checkpoint's when resuming). When resuming, given settings must equal the checkpoint's.
    quarantine : path, optional
        JSONL file for quarantined events (default: beside ``alerts``, else in the checkpoint folder, else none:
        they are only counted).
    on_alerts, on_quarantine, on_progress : callable, optional
        Called with each batch's alerts, with its quarantined events, and with a :class:`Progress` at most every
        ``progress_every`` seconds.
    reviser : Reviser, optional
        Gets every batch and its alerts; proposes revised packs after drift (handed to ``on_revision``). Its
        buffer of recent events is not part of the checkpoint: after a restart it fills again.
    max_events : int, optional
        Stop at the first batch boundary at or after this many events in this run.
    stop : threading.Event, optional
        Set it (from another thread) to stop cleanly.
    handle_signals : bool
        Turn SIGINT / SIGTERM into a clean stop while running (main thread only).
    """
    store = CheckpointStore(checkpoint) if checkpoint is not None else None
    if quarantine is None and alerts is not None:
        quarantine = Path(alerts).with_name(Path(alerts).stem + ".quarantine.jsonl")
    elif quarantine is None and store is not None:
        quarantine = store.folder / "quarantine.jsonl"
    if quarantine is not None and alerts is not None and Path(quarantine).resolve() == Path(alerts).resolve():
        raise MonitorError(f"{quarantine}: the quarantine file and the alert file must be two files")
    if store is not None:
        store.lock()
    log: AlertLog | None = None
    qlog: QuarantineLog | None = None
    resumed_from: int | None = None
    problems: list[str] = []
    # the handlers go in before anything is written: a stop asked for once the first checkpoint exists is a clean stop
    signals = _Stop(handle_signals).__enter__()
    try:
        saved = store.load() if store is not None else None
        log = AlertLog(alerts) if alerts is not None else None
        qlog = QuarantineLog(quarantine) if quarantine is not None else None
        if saved is not None:
            assert store is not None
            monitor = Monitor.from_json(saved["monitor"], pack, settings)
            stream.seek(saved["stream"])
            resumed_from = monitor.n_events
            for file, size_key, path_key in ((log, "alerts_bytes", "alerts_path"),
                                             (qlog, "quarantine_bytes", "quarantine_path")):
                note = _resume_log(file, saved.get(size_key), saved.get(path_key), store.path)
                if note:
                    problems.append(note)
        else:
            monitor = Monitor(pack, settings)

        # a stream that acknowledges its source (MQTT) does so only once the checkpoint holding the events is durable
        commit: Callable[[], Any] | None = getattr(stream, "commit", None)
        due: Callable[[], bool] | None = getattr(stream, "checkpoint_due", None)
        held_by_stream: Callable[[], list[Quarantined]] | None = getattr(stream, "pop_quarantined", None)

        def save() -> None:
            if store is None:
                if commit is not None:
                    stream.position()
                    commit()
                return
            size = log.sync() if log is not None else None
            qsize = qlog.sync() if qlog is not None else None
            store.save(monitor.to_json(), stream=stream.position(), alerts_bytes=size,
                       alerts_path=None if log is None else str(log.path), quarantine_bytes=qsize,
                       quarantine_path=None if qlog is None else str(qlog.path))
            if commit is not None:
                commit()

        save()
        every = max(int(checkpoint_every), 1)
        size = max(1, min(int(batch), every))
        if max_events is not None:
            size = max(1, min(size, int(max_events)))
        start_events = monitor.n_events
        last_saved = monitor.n_events
        raised = 0
        set_aside = 0
        started = time.perf_counter()
        last_progress = 0.0
        stopped = False

        def progress(now: float) -> None:
            if on_progress is None:
                return
            seconds = now - started
            done = monitor.n_events - start_events
            on_progress(Progress(monitor.n_events, done, seconds, done / seconds if seconds > 0 else 0.0,
                                 monitor.counts(), raised, getattr(stream, "bad_lines", 0), set_aside))

        def keep_aside(held: list[Quarantined]) -> int:
            """Quarantined events to the quarantine file, the first few to the problems, to the callback."""
            if qlog is not None:
                qlog.write(held)
            for q in held[:max(0, _MAX_PROBLEMS - len(problems))]:
                problems.append(f"quarantined {q.message}")
            if on_quarantine is not None:
                on_quarantine(held)
            return len(held)

        flags = [signals.event] + ([stop] if stop is not None else [])
        for frame in stream.batches(size):
            if len(frame):
                first = monitor.n_events
                found = monitor.update_many(frame)
                held = monitor.pop_quarantined()
                if held:
                    set_aside += keep_aside([q.with_source(stream.label) for q in held])
                if reviser is not None:
                    reviser.observe(frame, first, found)
                    for revision in reviser.due(monitor.n_events):
                        if on_revision is not None:
                            on_revision(revision)
                if found:
                    raised += len(found)
                    if log is not None:
                        log.write(found)
                    if on_alerts is not None:
                        on_alerts(found)
                if monitor.n_events - last_saved >= every:
                    save()
                    last_saved = monitor.n_events
            if held_by_stream is not None and (held := held_by_stream()):  # messages the stream set aside
                set_aside += keep_aside(held)
            if due is not None and due():
                save()
                last_saved = monitor.n_events
            now = time.perf_counter()
            if now - last_progress >= progress_every:
                progress(now)
                last_progress = now
            if any(f.is_set() for f in flags):
                stopped = True
                break
            if max_events is not None and monitor.n_events - start_events >= max_events:
                break
        seconds = time.perf_counter() - started
        save()
        if reviser is not None and not stopped:
            for revision in reviser.due(monitor.n_events, final=True):
                if on_revision is not None:
                    on_revision(revision)
        progress(time.perf_counter())
        return RunSummary(
            events=monitor.n_events - start_events, total_events=monitor.n_events, seconds=seconds, alerts=raised,
            states=monitor.counts(), resumed_from=resumed_from, stopped=stopped,
            bad_lines=getattr(stream, "bad_lines", 0), problems=[*getattr(stream, "problems", []), *problems],
            checkpoint=None if store is None else store.path, monitor=monitor, quarantined=set_aside,
            quarantine=None if qlog is None else qlog.path,
        )
    finally:
        signals.__exit__(None, None, None)
        if log is not None:
            log.close()
        if qlog is not None:
            qlog.close()
        if store is not None:
            store.unlock()
        stream.close()
