"""The MLflow ``pyfunc`` wrapper of a rule pack, logged as a model *from code*.

MLflow copies this file into every logged model and runs it on load; the file hands MLflow the model object
with :func:`mlflow.models.set_model`. Nothing is pickled: the model's only state is the pack JSON, logged as the
artifact ``pack``, which :meth:`RulePackModel.load_context` reads with :meth:`RulePack.load` (JSON Schema and
content hash are checked, derived-feature expressions go through the whitelisted parser).

``predict(df)`` takes raw data columns (derived features are computed from the pack) and returns one row per input
row:

- ``rules``: ids of the rules that fire, joined by ``","`` (``""`` when none fires). A plain string rather than a
  list, so the output survives every MLflow serving path (REST, ``spark_udf``, CSV) unchanged;
  ``row.split(",") if row else []`` gives the list back;
- ``n_rules``: how many rules fire;
- ``<target>_predicted``: 1 when any rule of that target fires, else 0.

Where leanlearn comes from on load: a model logged by :func:`leanlearn.packs.registry.register_pack` carries a copy
of the leanlearn source (``code_paths``) so it loads where leanlearn is not installed. MLflow puts that copy *first*
on ``sys.path``; this module moves it to the end before importing leanlearn, so an installed leanlearn (or one
already imported) wins and the copy is only the fallback.

This module is meant to be run by MLflow; importing it imports MLflow.
"""

import os
import sys

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


def _bundled_code_last() -> None:
    """Move the model's bundled ``code`` folder to the end of ``sys.path`` (an installed leanlearn wins)."""
    here = os.path.dirname(os.path.abspath(__file__))
    bundled = os.path.join(here, "code")
    if os.path.isdir(bundled):
        hits = [p for p in sys.path if p and os.path.abspath(p) == bundled]
        if hits:
            sys.path[:] = [p for p in sys.path if p not in hits] + hits[:1]


_bundled_code_last()

from leanlearn.packs.pack import RulePack  # noqa: E402  (after the sys.path fix above)


class RulePackModel(PythonModel):
    """Apply a rule pack to a table: per row, which rules fire.

    The pack is read from the model artifact ``pack`` in :meth:`load_context`; an instance without a loaded pack
    cannot predict.
    """

    pack: RulePack | None = None

    def load_context(self, context) -> None:
        """Read and verify the pack JSON artifact (schema and content hash)."""
        self.pack = RulePack.load(context.artifacts["pack"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """Per input row: the ids of the rules that fire (``rules``, comma-joined), ``n_rules``, ``<target>_predicted``.

        Parameters
        ----------
        context : PythonModelContext
            Unused; MLflow passes it.
        model_input : DataFrame
            Raw data columns the pack's rules and derived features need; other columns are ignored.
        params : dict, optional
            Unused.
        """
        if self.pack is None:
            raise RuntimeError("the rule pack is not loaded; load this model with mlflow.pyfunc.load_model")
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        applied = self.pack.apply(frame.reset_index(drop=True))
        out = pd.DataFrame(index=applied.index)
        out["rules"] = [",".join(ids) for ids in applied["rules"]]
        out["n_rules"] = applied["rules"].map(len).astype("int64")
        for column in applied.columns:
            if column != "rules":
                out[column] = applied[column].astype("int64")
        out.index = frame.index
        return out


mlflow.models.set_model(RulePackModel())
