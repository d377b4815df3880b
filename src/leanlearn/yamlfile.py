"""Reading a YAML file a person wrote: safe and bounded loading, and checks whose errors say where and how to fix.

:func:`read_yaml` never constructs Python objects (PyYAML's safe loader) and bounds what a small file can make
leanlearn hold: the file size, the number of aliases, the number of values once every alias is expanded, and the
nesting depth (see :mod:`leanlearn.limits`). :class:`Checker` is the one set of key / type checks every pipeline
parser uses, so every message reads ``FILE: key 'a.b': what is wrong; e.g. a fix``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from leanlearn.errors import LeanlearnError
from leanlearn.limits import Limits

__all__ = ["MAX_DEPTH", "Checker", "did_you_mean", "read_yaml", "type_name"]

#: Deepest nesting of mappings and lists a YAML document may have (no pipeline needs more than a few levels).
MAX_DEPTH = 64


class _Refused(Exception):
    """Raised inside the loader when a document breaks a limit; turned into the caller's error."""


def _bounded_load(text: str, limits: Limits) -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        aliases = 0
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                Loader.aliases += 1
                if Loader.aliases > limits.max_yaml_aliases:
                    raise _Refused(limits.message("max_yaml_aliases", Loader.aliases, "the file", "aliases (*name)"))
            Loader.depth += 1
            try:
                if Loader.depth > MAX_DEPTH:
                    raise _Refused(f"values are nested more than {MAX_DEPTH} levels deep; a pipeline needs a few")
                return super().compose_node(parent, index)
            finally:
                Loader.depth -= 1

    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, limits.max_yaml_nodes)
        if size > limits.max_yaml_nodes:
            raise _Refused(limits.message("max_yaml_nodes", f"more than {limits.max_yaml_nodes:,}", "the file",
                                          "values (aliases expanded)"))
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(node: Any, cap: int) -> int:
    """Number of values ``node`` stands for with every alias expanded (shared nodes counted at each use)."""
    import yaml

    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(item: Any) -> int:
        key = id(item)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _Refused("an alias refers to a value that contains it (a recursive document)")
        active.add(key)
        if isinstance(item, yaml.MappingNode):
            children = [part for pair in item.value for part in pair]
        elif isinstance(item, yaml.SequenceNode):
            children = list(item.value)
        else:
            children = []
        total = 1
        for child in children:
            total += size(child)
            if total > cap:
                break
        active.discard(key)
        sizes[key] = total
        return total

    return size(node)


def read_yaml(path: str | Path, error: type[LeanlearnError], kind: str, *, limits: Limits | None = None) -> Any:
    """Parse the YAML file ``path`` safely (never constructs Python objects) and within :mod:`leanlearn.limits`.

    Every problem — missing file, a folder, too large, not UTF-8, invalid YAML, an alias bomb, too deep — raises
    ``error`` naming the file (and line and column for syntax errors); ``kind`` says what the file should be, e.g.
    ``"fusion pipeline"``.

    >>> read_yaml("nowhere.yaml", LeanlearnError, "pipeline")
    Traceback (most recent call last):
    ...
    leanlearn.errors.LeanlearnError: nowhere.yaml: no such pipeline file; check the path (relative paths start in ...)
    >>> bomb = getfixture("tmp_path") / "bomb.yaml"
    >>> _ = bomb.write_text("a: &a [x, x, x, x, x, x, x, x, x]\\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\\n"
    ...                     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\\n")
    >>> read_yaml(bomb, LeanlearnError, "pipeline", limits=Limits(max_yaml_nodes=1000))
    Traceback (most recent call last):
    ...
    leanlearn.errors.LeanlearnError: .../bomb.yaml: has more than 1,000 values (aliases expanded), over the limit ...
    """
    import yaml

    limits = limits or Limits.from_env()
    path = Path(path)
    if not path.exists():
        raise error(f"{path}: no such {kind} file; check the path (relative paths start in {Path.cwd()})")
    if path.is_dir():
        raise error(f"{path}: is a directory; name a {kind} .yaml file inside it")
    if not path.is_file():
        raise error(f"{path}: is not a regular file (a pipe or a device?); save the {kind} as a .yaml file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc})") from None
    limits.check("max_yaml_bytes", size, str(path), "bytes", error)
    try:
        with path.open("rb") as handle:
            data = handle.read(limits.max_yaml_bytes + 1)  # the file may grow after stat (a pipe, a log)
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc})") from None
    limits.check("max_yaml_bytes", len(data), str(path), "bytes", error)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{path}: not a UTF-8 text file; a {kind} is YAML text") from None
    try:
        return _bounded_load(text, limits)
    except _Refused as exc:
        message = str(exc).replace("the file: has", "has", 1)
        raise error(f"{path}: {message}") from None
    except RecursionError:
        raise error(f"{path}: values are nested too deeply; a {kind} needs a few levels") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{path}: not valid YAML{where} ({problem}); check indentation and quoting") from None


# -- checks ---------------------------------------------------------------------------------------------------------
def type_name(value: Any) -> str:
    """What a YAML value is, in words (``a mapping``, ``a list``, ``text``, ...).

    >>> type_name([1]), type_name(None), type_name(2.5)
    ('a list', 'empty', 'a number')
    """
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number", float: "a number",
            type(None): "empty"}.get(type(value), type(value).__name__)


def did_you_mean(name: Any, options: Any) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``options`` to ``name``, or ``""``.

    >>> did_you_mean("sourcs", ["name", "sources"])
    " (did you mean 'sources'?)"
    """
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Checker:
    """Checks on one YAML document; every failure is ``error`` naming the file (``label``) and the key.

    >>> from leanlearn.errors import PipelineError
    >>> Checker("ai4i.yaml", PipelineError).keys({"nme": "x"}, ("name", "line"), "", "name: x")
    Traceback (most recent call last):
    ...
    leanlearn.errors.PipelineError: ai4i.yaml: unknown key 'nme'; did you mean 'name'? allowed keys: name, line
    """

    def __init__(self, label: str, error: type[LeanlearnError]) -> None:
        self.label = label
        self.error = error

    def fail(self, key: str, message: str) -> LeanlearnError:
        """The error for ``key`` (``""`` for the whole document)."""
        return self.error(f"{self.label}: key {key!r}: {message}" if key else f"{self.label}: {message}")

    def keys(self, value: Any, allowed: Sequence[str], key: str, example: str) -> dict[str, Any]:
        """``value`` if it is a mapping whose keys are all ``allowed`` (an unknown key is named, with a hint)."""
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping, got {type_name(value)}; e.g. {example}")
        for name in value:
            if name not in allowed:
                raise self.unknown(name, allowed, f"{key}." if key else "")
        return value

    def unknown(self, name: Any, allowed: Sequence[str], where: str = "") -> LeanlearnError:
        """The error for a key ``name`` (under ``where``, e.g. ``"mining."``) that is not one of ``allowed``."""
        close = difflib.get_close_matches(str(name), allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        problem = f"unknown key {str(name)!r}; {hint}allowed keys: {', '.join(allowed)}"
        return self.fail(f"{where}{name}", problem) if where else self.error(f"{self.label}: {problem}")

    def text(self, value: Any, key: str, example: str) -> str:
        """``value`` stripped, if it is non-empty text."""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be non-empty text, got {type_name(value)}; e.g. {example}")
        return value.strip()

    def choice(self, value: Any, key: str, options: Sequence[str]) -> str:
        """``value`` if it is one of ``options``."""
        if value not in options:
            close = difflib.get_close_matches(str(value), options, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise self.fail(key, f"is {value!r}; {hint}choose one of {', '.join(options)}")
        return str(value)

    def name(self, value: Any, key: str, example: str) -> str:
        """``value`` if it is a plain name usable as one file or folder name: letters, digits, ``. _ -``, no path.

        What a pipeline's ``name:`` becomes (``fused/<name>/``, ``models/<name>.json``) must stay in its folder.
        """
        text = self.text(value, key, example)
        bad = [c for c in text if not (c.isalnum() or c in "._- ")]
        if bad or text.startswith(".") or text != text.strip() or ".." in text:
            shown = "a path separator" if any(c in "/\\" for c in text) else (
                f"{bad[0]!r}" if bad else "a leading dot or '..'")
            raise self.fail(key, f"is {text!r}, which holds {shown}; a name becomes one file or folder name (in "
                                 f"fused/ or models/): use letters, digits, '.', '_', '-' and spaces; e.g. {example}")
        return text
