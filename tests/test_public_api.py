"""The public API of ``import leanlearn``: every exported name resolves, type checkers see the same names with their
real types, and importing the package loads none of them until first use."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import leanlearn

INIT = Path(leanlearn.__file__)


def _type_checking_imports() -> dict[str, str]:
    """Name → module of the imports under ``if TYPE_CHECKING:`` in leanlearn/__init__.py."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If) and getattr(node.test, "id", "") ==
                 "TYPE_CHECKING")
    return {alias.asname or alias.name: node.module or "" for node in block.body if isinstance(node, ast.ImportFrom)
            for alias in node.names}


def test_all_lists_exactly_the_lazy_exports():
    assert leanlearn.__all__ == sorted(leanlearn._EXPORTS)


def test_type_checkers_see_every_export_from_the_module_it_loads_from():
    assert _type_checking_imports() == leanlearn._EXPORTS


@pytest.mark.parametrize("name", sorted(leanlearn._EXPORTS))
def test_every_export_resolves_to_the_object_in_its_module(name):
    module = importlib.import_module(leanlearn._EXPORTS[name])
    assert getattr(leanlearn, name) is getattr(module, name)


def test_unknown_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="no attribute 'RuleMinr'"):
        leanlearn.RuleMinr  # noqa: B018


def test_import_leanlearn_loads_none_of_its_exports():
    out = subprocess.run([sys.executable, "-c", "import sys, leanlearn; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout.split()
    loaded = {m for m in set(leanlearn._EXPORTS.values()) if m in out}
    assert loaded == set()


def test_unknown_ai4i_target_is_a_leanlearn_error_that_is_still_a_value_error():
    with pytest.raises(leanlearn.DataError, match="AI4I target must be one of Machine failure, TWF") as caught:
        leanlearn.load_ai4i(target="HDFX")
    assert isinstance(caught.value, ValueError)
