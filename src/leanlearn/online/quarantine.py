"""Quarantine: events the monitor could not use, each kept with its reason, not dropped silently.

An event is quarantined — not tracked, counted in ``Monitor.n_quarantined`` and in the run summary, written to the
quarantine file — when one of its values cannot be used, and the run goes on with the next event:

=================  =================================================================================================
code               why
=================  =================================================================================================
``not-a-number``   text (``'n/a'``), or another type, in a column the rules compare with numbers
``not-a-value``    a list or an object where one value belongs
``unusable``       the value makes a condition or a derived feature fail (e.g. text compared with a number)
``no-time``        time windows: the event has no time in the time column
``bad-time``       time windows: the time cannot be read (ISO 8601 text, datetimes, or seconds since the epoch)
``future-time``    time windows: the time lies more than ``horizon`` after the later of the stream's latest accepted
                   time and the wall clock (see :class:`~leanlearn.online.settings.TrackerSettings`)
=================  =================================================================================================

Each record names the event (0-based, in stream order: the same numbering as alerts, so a resume after a
checkpoint skips it like any other event), the column, the raw value (its ``repr``, shortened), the reason and the
stream it came from. :class:`QuarantineLog` appends them as JSON Lines, sized and cut back on resume like the
alert file.

Examples
--------
>>> q = Quarantined(event=812, code="not-a-number", column="torque", value="'n/a'",
...                 reason="column 'torque' holds text 'n/a' where a number belongs", source="today.csv")
>>> print(q.message)
today.csv event 812: column 'torque' holds text 'n/a' where a number belongs
>>> Quarantined.from_json(q.to_json()) == q
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from leanlearn.online.alerts import JsonLinesLog

QUARANTINE_SCHEMA = "leanlearn.quarantine/1"

__all__ = ["QUARANTINE_SCHEMA", "QuarantineLog", "Quarantined"]


@dataclass(frozen=True, slots=True)
class Quarantined:
    """One event set aside: which, why, and the value that made it unusable."""

    event: int
    code: str
    column: str | None
    value: str | None
    reason: str
    source: str | None = None

    @property
    def message(self) -> str:
        where = f"{self.source} " if self.source else ""
        return f"{where}event {self.event:,}: {self.reason}"

    def with_source(self, source: str) -> Quarantined:
        return replace(self, source=source)

    def to_json(self) -> dict[str, Any]:
        return {"schema": QUARANTINE_SCHEMA, **asdict(self)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Quarantined:
        return cls(**{k: v for k, v in doc.items() if k != "schema"})


class QuarantineLog(JsonLinesLog):
    """Append quarantined events to a JSONL file (see :class:`~leanlearn.online.alerts.JsonLinesLog`)."""

    what = "quarantine file"

    def write(self, records: Any) -> None:
        self.write_docs(r.to_json() for r in records)
