"""The River contract of the online wing: one base class, one vocabulary, one persistence pair.

Every online object (:class:`~leanlearn.online.trackers.RuleTracker`, :class:`~leanlearn.online.monitor.Monitor`,
:class:`~leanlearn.online.revision.OnlineRuleLearner`) follows the same contract, after River:

==========================  =======================================================================================
parameters                  given to ``__init__`` and kept, under the same names, as attributes; :meth:`params`
                            returns them and :meth:`clone` builds a fresh object from them (nothing learned)
``learn_one`` / ``learn_many``  what *learns* a model (the online rule learner)
``update`` / ``update_many``    what updates *statistics* (a tracker's window, a monitor's trackers); ``*_many``
                            gives the very result of calling the one-event method on each event in turn
``to_json`` / ``from_json`` the one persistence pair: a JSON-ready document (no pickle) and the class method that
                            rebuilds the object from it (it raises :class:`MonitorError` naming what is damaged)
``__repr__``                the class name and the parameters
==========================  =======================================================================================

Objects never read another class's private members: what a caller needs is a public method or property.

Examples
--------
>>> class Counter(OnlineBase):
...     def __init__(self, step: int = 1) -> None:
...         self.step = step
...         self.n = 0
...     def update(self, x: float) -> "Counter":
...         self.n += self.step
...         return self
>>> c = Counter(step=2).update(1.0).update(2.0)
>>> c, c.n, c.clone().n, c.clone(step=3)
(Counter(step=2), 4, 0, Counter(step=3))
"""

from __future__ import annotations

import inspect
from typing import Any, Self

from leanlearn.errors import LeanlearnError

__all__ = ["MonitorError", "OnlineBase"]


class MonitorError(LeanlearnError):
    """A monitor (or one of its settings, checkpoints or logs) cannot be built or restored as asked."""


class OnlineBase:
    """Parameters, :meth:`clone` and ``__repr__`` for the online objects (River's ``Base``, reduced)."""

    def params(self) -> dict[str, Any]:
        """The parameters the object was built with, by name (the ``__init__`` arguments, read back)."""
        signature = inspect.signature(type(self).__init__)
        return {
            name: getattr(self, name)
            for name, p in signature.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }

    def clone(self, **changes: Any) -> Self:
        """A new object with the same parameters (``changes`` replace some), and nothing learned."""
        unknown = sorted(set(changes) - set(self.params()))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no parameter {', '.join(unknown)}")
        return type(self)(**{**self.params(), **changes})

    def _repr_value(self, name: str, value: Any) -> str:
        """How a parameter shows in ``repr`` (subclasses shorten big values, e.g. a pack to its name)."""
        return repr(value)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={self._repr_value(k, v)}" for k, v in self.params().items() if v is not None)
        return f"{type(self).__name__}({shown})"
