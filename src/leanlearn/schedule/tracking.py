"""Log repaired schedules to MLflow, beside the monitor's rule metrics: KPIs as metrics, the schedule as an artifact.

The monitor logs each rule's state and confidence to one MLflow run per session
(:class:`leanlearn.packs.registry.AlertMetrics`, experiment ``leanlearn-monitor``, step = the event index). A
:class:`ScheduleMetrics` given that object writes into **the same run**, at the step of the event that triggered the
repair, so a rule's drift and the schedule's flow figures sit on one time axis:

- ``schedule.makespan``, ``schedule.total_tardiness``, ``schedule.bottleneck_idle``, ``schedule.operations_moved``,
  ``schedule.n_late`` (the repaired schedule's KPIs, see :func:`leanlearn.schedule.solution.kpis`) and
  ``schedule.solve_time_s``;
- ``schedule.right_shift.<kpi>`` — the right-shift repair's figures beside them, and ``schedule.repairs`` (how many
  repairs so far);
- the repaired schedule's JSON (``leanlearn schedule repair --json``'s document, plus the trigger's reason and
  event) as the artifact ``schedule/repair-<n>.json``.

Without an ``AlertMetrics`` it opens its own run (tagged ``leanlearn.schedule.instance``) in the same experiment.
MLflow is reached through :mod:`leanlearn.packs.registry` (its store defaults, quiet logging and one-line
:class:`~leanlearn.errors.RegistryError` for an unreachable store), imported only when a logger is made.

Examples
--------
The metrics a repair becomes (no MLflow needed to see them):

>>> from types import SimpleNamespace
>>> result = SimpleNamespace(kpis={"makespan": 60, "total_tardiness": 12, "bottleneck_idle": 3,
...                                "operations_moved": 4, "n_late": 2},
...                          right_shift_kpis={"makespan": 64, "total_tardiness": 30, "bottleneck_idle": 7,
...                                            "operations_moved": 9},
...                          solve_time_s=0.31)
>>> schedule_metrics(result)["schedule.makespan"], schedule_metrics(result)["schedule.right_shift.makespan"]
(60.0, 64.0)
>>> sorted(schedule_metrics(result))[:3]
['schedule.bottleneck_idle', 'schedule.makespan', 'schedule.n_late']
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["KPI_NAMES", "ScheduleMetrics", "schedule_metrics"]

#: The KPIs logged, in this order (each as ``schedule.<name>`` and ``schedule.right_shift.<name>``).
KPI_NAMES = ("makespan", "total_tardiness", "bottleneck_idle", "operations_moved", "n_late")
METRIC_PREFIX = "schedule."
ARTIFACT_DIR = "schedule"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def schedule_metrics(result: Any) -> dict[str, float]:
    """The MLflow metrics of one repair: ``schedule.<kpi>``, ``schedule.right_shift.<kpi>``, ``schedule.solve_time_s``.

    ``result`` is a :class:`leanlearn.schedule.repair.RepairResult` (anything with ``kpis``, and optionally
    ``right_shift_kpis`` and ``solve_time_s``). KPIs that are missing or not finite numbers are left out.
    """
    metrics: dict[str, float] = {}
    own: Mapping[str, Any] = getattr(result, "kpis", None) or {}
    shifted: Mapping[str, Any] = getattr(result, "right_shift_kpis", None) or {}
    for name in KPI_NAMES:
        for prefix, source in ((METRIC_PREFIX, own), (METRIC_PREFIX + "right_shift.", shifted)):
            value = _number(source.get(name))
            if value is not None:
                metrics[prefix + name] = value
    seconds = _number(getattr(result, "solve_time_s", None))
    if seconds is not None:
        metrics[METRIC_PREFIX + "solve_time_s"] = seconds
    return metrics


class ScheduleMetrics:
    """Log each repair's KPIs and schedule to MLflow (a ``RescheduleTrigger(on_repair=...)`` callback).

    Parameters
    ----------
    alerts : AlertMetrics, optional
        The monitor's rule-metrics logger: the schedule goes into its run (its tracking URI too).
    run_id : str, optional
        An existing run to log into (instead of ``alerts``).
    tracking_uri : str, optional
        Defaults to :func:`leanlearn.packs.registry.default_tracking_uri` (ignored with ``alerts``).
    experiment : str, default="leanlearn-monitor"
        Experiment of the run opened when neither ``alerts`` nor ``run_id`` is given.
    instance : str, optional
        Tag of the run opened here (``leanlearn.schedule.instance``).

    Attributes
    ----------
    run_id : str
    logged : int
        Repairs logged so far.
    """

    def __init__(self, *, alerts: Any | None = None, run_id: str | None = None, tracking_uri: str | None = None,
                 experiment: str = "leanlearn-monitor", instance: str | None = None) -> None:
        from leanlearn.packs.registry import (
            TAG_PREFIX,
            _check_reachable,
            _ensure_experiment,
            _mlflow,
            _quiet,
            _registry_errors,
            default_tracking_uri,
        )

        self._quiet, self._errors = _quiet, _registry_errors
        self.logged = 0
        self._own_run = False
        if alerts is not None:
            tracking_uri, run_id = alerts.tracking_uri, alerts.run_id
        self.tracking_uri: str = tracking_uri or default_tracking_uri()
        _check_reachable(self.tracking_uri)
        mlflow = _mlflow()
        with _quiet(), _registry_errors("start a schedule run", self.tracking_uri):
            self._client = mlflow.MlflowClient(tracking_uri=self.tracking_uri)
            if run_id is not None:
                self.run_id: str = str(self._client.get_run(run_id).info.run_id)
                return
            experiment_id = _ensure_experiment(self._client, experiment, self.tracking_uri)
            tags = {f"{TAG_PREFIX}schedule.instance": instance} if instance else {}
            run = self._client.create_run(experiment_id, run_name=f"schedule {instance or ''}".strip(), tags=tags)
        self.run_id = run.info.run_id
        self._own_run = True

    def __call__(self, result: Any, *, step: int | None = None, reason: str | None = None,
                 event: Mapping[str, Any] | None = None) -> None:
        """Log one repair: its metrics at ``step`` and its schedule JSON.

        ``step``, ``reason`` and ``event`` default to the result's own attributes of those names (a
        :class:`~leanlearn.schedule.trigger.Reschedule` has them: the index of the triggering event, why, the event);
        ``step`` else to the count of repairs logged.
        """
        self.logged += 1
        step = getattr(result, "step", None) if step is None else step
        reason = getattr(result, "reason", None) if reason is None else reason
        event = getattr(result, "event", None) if event is None else event
        at = self.logged if step is None else int(step)
        now = int(time.time() * 1000)
        metrics = schedule_metrics(result)
        metrics[METRIC_PREFIX + "repairs"] = float(self.logged)
        doc: dict[str, Any] = dict(result.to_json()) if hasattr(result, "to_json") else {}
        doc["trigger"] = {"reason": reason, "step": at, "event": dict(event) if event is not None else None}
        text = json.dumps(doc, ensure_ascii=False, allow_nan=False, default=str)
        with self._quiet(), self._errors("log the repaired schedule", self.tracking_uri):
            for key, value in metrics.items():
                self._client.log_metric(self.run_id, key, value, timestamp=now, step=at)
            self._client.log_text(self.run_id, text, f"{ARTIFACT_DIR}/repair-{self.logged:04d}.json")

    def close(self, status: str = "FINISHED") -> None:
        """End the run if this logger opened it (a run shared with ``alerts`` is the monitor's to end)."""
        if self._own_run:
            with self._quiet(), self._errors("end the schedule run", self.tracking_uri):
                self._client.set_terminated(self.run_id, status=status)
            self._own_run = False
