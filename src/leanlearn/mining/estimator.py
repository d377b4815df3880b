"""The scikit-learn estimators :class:`RuleMiner` and :class:`ShiftMiner`, over the miners' scikit-learn-free cores.

Why two layers: importing ``sklearn.base`` costs 1.4–1.9 s (it loads SciPy) — more than mining a million rows — so
the search lives in :class:`~leanlearn.mining.miner.RuleMinerCore` and
:class:`~leanlearn.mining.shift.ShiftMinerCore`, which import neither library; the command line, pipelines and
:func:`~leanlearn.packs.build.mine_pack` fit those. This module adds only what the scikit-learn contract needs:

- ``get_params`` / ``set_params`` / ``clone`` / the estimator ``repr`` (``BaseEstimator``) and ``score``
  (``ClassifierMixin``); the core sits between the two in the bases so its ``_validate_params`` (leanlearn's
  settings check) wins over ``BaseEstimator``'s;
- tags (missing values, text and categorical columns allowed; binary targets only);
- scikit-learn's own input checks and messages: ``check_array`` for arrays, ``validate_data`` for the column count
  and names, ``check_is_fitted`` (``NotFittedError``), ``clone`` for the holdout explorer.

Fits, rules and evidence are the core's, byte for byte. ``from leanlearn.mining.miner import RuleMiner``,
``from leanlearn.mining.shift import ShiftMiner`` and ``leanlearn.RuleMiner`` resolve here on first access
(module ``__getattr__`` in :mod:`leanlearn.mining.miner` and :mod:`leanlearn.mining.shift`).

Examples
--------
>>> from sklearn.base import clone
>>> from leanlearn.mining.miner import RuleMiner
>>> clone(RuleMiner(min_support=0.01)).get_params()["min_support"]
0.01
>>> from leanlearn.mining.shift import ShiftMiner
>>> isinstance(ShiftMiner(), RuleMiner)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from leanlearn.mining.miner import RuleMinerCore
from leanlearn.mining.shift import ShiftMinerCore

if TYPE_CHECKING:
    from typing import Self

    from sklearn.utils import Tags

__all__ = ["RuleMiner", "ShiftMiner"]


class RuleMiner(ClassifierMixin, RuleMinerCore, BaseEstimator):
    """Mine rules ``conditions → outcome`` for a binary waste outcome: the scikit-learn estimator.

    Parameters, attributes and fit steps are those of :class:`~leanlearn.mining.miner.RuleMinerCore` (the same
    search, without scikit-learn). Every parameter is a keyword of ``__init__`` stored as given and validated in
    :meth:`fit`; ``get_params`` / ``set_params`` / ``sklearn.base.clone`` work; :meth:`predict` before :meth:`fit`
    raises ``NotFittedError``; a 2-d array ``X`` is checked with scikit-learn's ``check_array``.

    Examples
    --------
    >>> from leanlearn.data.datasets import load_ai4i
    >>> X, y = load_ai4i(target="TWF")
    >>> RuleMiner(max_conditions=1).fit(X, y).rules_[0].text
    'Tool wear [min] >= 203 → TWF'
    """

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.target_tags.required = True
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_class = False
        return tags

    def _as_array(self, X: Any) -> np.ndarray:
        return np.asarray(check_array(X, dtype=None, ensure_all_finite=False, ensure_min_samples=1))

    def _check_features(self, X: pd.DataFrame | np.ndarray, *, reset: bool) -> None:
        validate_data(self, X=X, reset=reset, skip_check_array=True)

    def _check_fitted(self) -> None:
        check_is_fitted(self, "rules_")

    def _copy(self, **changes: Any) -> Self:
        return clone(self).set_params(**changes)


class ShiftMiner(ShiftMinerCore, RuleMiner):
    """Mine rules under which a numeric waste outcome is significantly worse: the scikit-learn estimator.

    Parameters and attributes are those of :class:`~leanlearn.mining.shift.ShiftMinerCore`; the scikit-learn
    behaviour is :class:`RuleMiner`'s, but it is not a classifier (its target is numeric).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> X = pd.DataFrame({"pair": rng.choice(["A→B", "B→A", "A→C"], 600), "crew": rng.choice(["x", "y"], 600)})
    >>> setup = pd.Series(rng.gamma(4, 10, 600) + np.where(X.pair == "A→B", 60, 0), name="setup_min")
    >>> ShiftMiner(worse="higher").fit(X, setup).rules_[0].text
    'pair == A→B → setup_min ↑'
    """

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.estimator_type = None
        tags.classifier_tags = None
        return tags
