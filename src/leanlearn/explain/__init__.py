"""Explanations: does an independent model (a LightGBM surrogate, read through SHAP) see what each rule says?

``leanlearn.explain`` is this package, and calling it runs :func:`leanlearn.explain.core.explain`:

>>> import leanlearn as ll
>>> callable(ll.explain), ll.explain.Explanation.__name__
(True, 'Explanation')

LightGBM, SHAP and matplotlib are imported inside the functions that need them, never at import time.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from leanlearn.explain.core import (
    MAX_COVERED_ROWS,
    MAX_SHAP_ROWS,
    ExplainSettingError,
    ExplainSettings,
    Explanation,
    sentence,
)

__all__ = [
    "MAX_COVERED_ROWS", "MAX_SHAP_ROWS", "ExplainSettingError", "ExplainSettings", "Explanation", "explain",
    "report_html", "sentence", "write_report",
]

if TYPE_CHECKING:
    from leanlearn.explain.core import explain as explain
    from leanlearn.explain.report import report_html, write_report
else:

    def __getattr__(name: str) -> Any:
        if name in ("report_html", "write_report"):
            from leanlearn.explain import report

            return getattr(report, name)
        raise AttributeError(f"module 'leanlearn.explain' has no attribute {name!r}")


class _CallableModule(types.ModuleType):
    """The package is also the function: ``leanlearn.explain(pack, frame)`` whichever way it was imported."""

    def __call__(self, *args: Any, **kwargs: Any) -> Explanation:
        from leanlearn.explain.core import explain as run

        return run(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
if not TYPE_CHECKING:
    explain = sys.modules[__name__]  # `from leanlearn.explain import explain` gives the same callable
