"""Reading a YAML file a person wrote: safe loading only, and errors that say where and how to fix it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leanlearn.errors import LeanlearnError


def read_yaml(path: str | Path, error: type[LeanlearnError], kind: str) -> Any:
    """Parse the YAML file ``path`` with ``yaml.safe_load`` (never constructs Python objects).

    Every problem — missing file, a folder, not UTF-8, invalid YAML — raises ``error`` naming the file (and line
    and column for syntax errors); ``kind`` says what the file should be, e.g. ``"fusion pipeline"``.

    >>> read_yaml("nowhere.yaml", LeanlearnError, "pipeline")
    Traceback (most recent call last):
    ...
    leanlearn.errors.LeanlearnError: nowhere.yaml: no such pipeline file; check the path (relative paths start in ...)
    """
    import yaml

    path = Path(path)
    if not path.exists():
        raise error(f"{path}: no such {kind} file; check the path (relative paths start in {Path.cwd()})")
    if path.is_dir():
        raise error(f"{path}: is a directory; name a {kind} .yaml file inside it")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error(f"{path}: not a UTF-8 text file; a {kind} is YAML text") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{path}: not valid YAML{where} ({problem}); check indentation and quoting") from None
