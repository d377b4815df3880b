"""Declarative mining pipelines: one YAML file says where the data is, what to mine, and where the pack goes.

A pipeline file (see ``pipelines/ai4i.yaml`` for a commented example)::

    name: ai4i-failures          # name of the rule pack
    line: ai4i                   # production line the data comes from
    source: {dataset: ai4i2020}  # or {path: runs.csv} — relative to this file's folder; optional encoding
    targets: [HDF, PWF]          # binary waste outcomes, one set of rules each
    ignore: [Machine failure]    # columns that are neither features nor targets
    derive:                      # derived features, computed in this order
      temp_diff: "`Process temperature [K]` - `Air temperature [K]`"
    waste: downtime              # lean waste tag, for all targets or per target ({HDF: downtime})
    units: {temp_diff: K}        # units of columns, recorded in the pack
    mining: {max_conditions: 2}  # RuleMiner parameters
    out: models/ai4i.json        # where the pack is written, relative to the working directory
    register: true               # register the pack in the MLflow registry

Loading checks every key and type and raises :class:`~leanlearn.errors.PipelineError` naming the file and the key;
it never executes anything from the file (``yaml.safe_load``, and derived features go through the whitelisted
expression parser).

Examples
--------
>>> pipeline = load_pipeline(shipped_pipeline("ai4i"))
>>> pipeline.name, pipeline.targets
('ai4i-failures', ('HDF', 'PWF', 'OSF', 'TWF'))
>>> list(pipeline.derive)
['temp_diff', 'power', 'strain']
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from leanlearn.errors import ExpressionError, PipelineError
from leanlearn.yamlfile import read_yaml

if TYPE_CHECKING:
    import pandas as pd

    from leanlearn.mining.miner import RuleMiner
    from leanlearn.packs.pack import RulePack

DATASETS = ("ai4i2020",)
KEYS = ("name", "line", "description", "source", "targets", "ignore", "derive", "waste", "units", "mining", "out",
        "register")
REQUIRED = ("name", "line", "source", "targets")
SOURCE_KEYS = ("dataset", "path", "encoding")

# RuleMiner parameters a pipeline may set, with the type each must have and an optional check.
_MINING_TYPES: dict[str, tuple[type | tuple[type, ...], Callable[[Any], str | None]]] = {
    "min_support": ((int, float), lambda v: None if 0 <= v <= 1 else "must be between 0 and 1"),
    "min_hits": (int, lambda v: None if v >= 1 else "must be at least 1"),
    "min_confidence": ((int, float), lambda v: None if 0 <= v <= 1 else "must be between 0 and 1"),
    "min_lift": ((int, float), lambda v: None if v >= 0 else "must not be negative"),
    "max_conditions": (int, lambda v: None if v >= 1 else "must be at least 1"),
    "alpha": ((int, float), lambda v: None if 0 < v <= 1 else "must be in (0, 1]"),
    "correction": (str, lambda v: None if v in ("holm", "bh", "none") else "must be one of holm, bh, none"),
    "engine": (str, lambda v: None if v in ("auto", "bitset", "mlxtend") else "must be one of auto, bitset, mlxtend"),
    "max_rules": (int, lambda v: None if v >= 1 else "must be at least 1"),
    "refine": (bool, lambda v: None),
    "max_refine": (int, lambda v: None if v >= 1 else "must be at least 1"),
}


@dataclass(frozen=True, slots=True)
class PipelineSource:
    """Where a pipeline's table comes from: a dataset shipped with leanlearn, or a file.

    Parameters
    ----------
    dataset : str, optional
        Name of a shipped dataset (``"ai4i2020"``).
    path : Path, optional
        A table file (CSV, Parquet, JSONL), already resolved against the pipeline file's folder.
    encoding : str, optional
        Text encoding of a CSV/JSONL file, when it is not UTF-8.
    """

    dataset: str | None = None
    path: Path | None = None
    encoding: str | None = None

    @property
    def label(self) -> str:
        """Short description recorded in the pack: ``dataset:ai4i2020`` or the file path."""
        return f"dataset:{self.dataset}" if self.dataset else str(self.path)

    def read(self) -> pd.DataFrame:
        """Read the table (errors are :class:`~leanlearn.errors.DataError` naming the file)."""
        if self.dataset == "ai4i2020":
            from leanlearn.data.datasets import load_ai4i

            return load_ai4i()  # type: ignore[return-value]
        from leanlearn.data.sources import read_table

        assert self.path is not None
        return read_table(self.path, encoding=self.encoding)


@dataclass(frozen=True, slots=True)
class MiningPipeline:
    """A mining pipeline as loaded from YAML. Build with :func:`load_pipeline`; run with :func:`run_pipeline`."""

    name: str
    line: str
    source: PipelineSource
    targets: tuple[str, ...]
    description: str = ""
    ignore: tuple[str, ...] = ()
    derive: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    waste: str | Mapping[str, str] = "defects"
    units: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    mining: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    out: Path | None = None
    register: bool = False
    origin: Path | None = None


def shipped_pipeline(name: str) -> Path:
    """Path of a pipeline YAML shipped inside leanlearn (``leanlearn/pipelines/<name>.yaml``)."""
    path = Path(str(resources.files("leanlearn").joinpath("pipelines", f"{name}.yaml")))
    if not path.is_file():
        raise FileNotFoundError(f"shipped pipeline {name!r} is missing from the leanlearn installation ({path})")
    return path


def load_pipeline(path: str | Path) -> MiningPipeline:
    """Read and validate a pipeline YAML file.

    Parameters
    ----------
    path : str or Path
        The YAML file. A ``source: {path: ...}`` inside it is relative to the file's folder; ``out`` is relative to
        the working directory.

    Raises
    ------
    PipelineError
        If the file is missing, is not valid YAML, or has an unknown key, a missing key or a value of the wrong type;
        the message names the file and the key.
    """
    path = Path(path)
    doc = read_yaml(path, PipelineError, "pipeline")
    return _parse(doc, path)


def run_pipeline(
    pipeline: MiningPipeline, on_target: Callable[[str, RuleMiner, float], None] | None = None
) -> RulePack:
    """Read the pipeline's source and mine its targets into a :class:`~leanlearn.packs.pack.RulePack`.

    Writing the pack to ``pipeline.out`` and registering it are left to the caller (the CLI does both).

    Parameters
    ----------
    pipeline : MiningPipeline
    on_target : callable, optional
        Called as ``on_target(target, fitted_miner, seconds)`` after each target (progress reporting).
    """
    from leanlearn.packs.build import mine_pack

    frame = pipeline.source.read()
    return mine_pack(
        frame,
        list(pipeline.targets),
        derive=dict(pipeline.derive),
        ignore=list(pipeline.ignore),
        name=pipeline.name,
        line=pipeline.line,
        waste=pipeline.waste if isinstance(pipeline.waste, str) else dict(pipeline.waste),
        units=dict(pipeline.units),
        description=pipeline.description,
        source=pipeline.source.label,
        on_target=on_target,
        **dict(pipeline.mining),
    )


# -- validation -----------------------------------------------------------------------------------------------------
def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number", float: "a number",
            type(None): "empty"}.get(type(value), type(value).__name__)


def _unknown(path: Path, key: str, allowed: tuple[str, ...], where: str) -> PipelineError:
    close = difflib.get_close_matches(str(key), allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return PipelineError(f"{path}: unknown key {where}{key!r}; {hint}allowed keys: {', '.join(allowed)}")


def _text(path: Path, key: str, value: Any, example: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PipelineError(f"{path}: key {key!r} must be non-empty text, got {_type_name(value)}; e.g. {example}")
    return value.strip()


def _text_list(path: Path, key: str, value: Any, example: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise PipelineError(f"{path}: key {key!r} must be a list of column names, got {value!r}; e.g. {example}")
    return tuple(value)


def _text_mapping(path: Path, key: str, value: Any, example: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise PipelineError(f"{path}: key {key!r} must be a mapping, got {_type_name(value)}; e.g. {example}")
    for name, item in value.items():
        if not isinstance(name, str) or not isinstance(item, str) or not item.strip():
            raise PipelineError(
                f"{path}: key '{key}.{name}' must map a name to non-empty text, got {item!r}; e.g. {example}"
            )
    return dict(value)


def _parse(doc: Any, path: Path) -> MiningPipeline:
    if doc is None:
        raise PipelineError(f"{path}: the pipeline file is empty; start from pipelines/ai4i.yaml")
    if not isinstance(doc, dict):
        raise PipelineError(f"{path}: a pipeline is a mapping of keys (name, line, source, ...), got {_type_name(doc)}")
    for key in doc:
        if key not in KEYS:
            raise _unknown(path, key, KEYS, "")
    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        raise PipelineError(f"{path}: missing key(s) {', '.join(missing)}; every pipeline needs {', '.join(REQUIRED)}")

    name = _text(path, "name", doc["name"], "name: press-scrap")
    line = _text(path, "line", doc["line"], "line: press-line-2")
    description = doc.get("description") or ""
    if not isinstance(description, str):
        raise PipelineError(f"{path}: key 'description' must be text, got {_type_name(description)}")
    source = _parse_source(doc["source"], path)
    targets = _text_list(path, "targets", doc["targets"], "targets: [scrap, rework]")
    if not targets:
        raise PipelineError(f"{path}: key 'targets' is empty; name at least one binary waste column")
    ignore = _text_list(path, "ignore", doc.get("ignore") or [], "ignore: [order_id, operator]")
    derive = _text_mapping(path, "derive", doc.get("derive") or {}, 'derive: {power: "torque * rpm"}')
    for feature, expression in derive.items():
        from leanlearn.mining.expressions import Expression

        try:
            Expression.parse(expression)
        except ExpressionError as exc:
            raise PipelineError(f"{path}: key 'derive.{feature}': {exc}") from None
    waste = _parse_waste(doc.get("waste", "defects"), targets, path)
    units = _text_mapping(path, "units", doc.get("units") or {}, "units: {torque: Nm}")
    mining = _parse_mining(doc.get("mining") or {}, path)
    out_value = doc.get("out")
    if out_value is None:
        out = Path("models") / f"{name}.json"
    elif isinstance(out_value, str) and out_value.strip():
        out = Path(out_value.strip())
    else:
        raise PipelineError(f"{path}: key 'out' must be a file path, got {_type_name(out_value)}; e.g. out: a.json")
    register = doc.get("register", False)
    if not isinstance(register, bool):
        raise PipelineError(f"{path}: key 'register' must be true or false, got {register!r}")
    return MiningPipeline(
        name=name,
        line=line,
        description=description.strip(),
        source=source,
        targets=targets,
        ignore=ignore,
        derive=MappingProxyType(derive),
        waste=waste if isinstance(waste, str) else MappingProxyType(waste),
        units=MappingProxyType(units),
        mining=MappingProxyType(mining),
        out=out,
        register=register,
        origin=path,
    )


def _parse_source(value: Any, path: Path) -> PipelineSource:
    example = "source: {dataset: ai4i2020} or source: {path: data/runs.csv}"
    if not isinstance(value, dict):
        raise PipelineError(f"{path}: key 'source' must be a mapping, got {_type_name(value)}; e.g. {example}")
    for key in value:
        if key not in SOURCE_KEYS:
            raise _unknown(path, key, SOURCE_KEYS, "source.")
    if ("dataset" in value) == ("path" in value):
        raise PipelineError(f"{path}: key 'source' needs exactly one of 'dataset' or 'path'; e.g. {example}")
    encoding = value.get("encoding")
    if encoding is not None and (not isinstance(encoding, str) or not encoding.strip()):
        raise PipelineError(f"{path}: key 'source.encoding' must be text, e.g. encoding: cp1252")
    if "dataset" in value:
        dataset = value["dataset"]
        if dataset not in DATASETS:
            raise PipelineError(
                f"{path}: key 'source.dataset' is {dataset!r}; shipped datasets: {', '.join(DATASETS)} "
                "(for your own data write source: {path: file.csv})"
            )
        return PipelineSource(dataset=dataset)
    data_path = _text(path, "source.path", value["path"], "path: data/runs.csv")
    return PipelineSource(path=(path.parent / data_path), encoding=encoding)


def _parse_waste(value: Any, targets: tuple[str, ...], path: Path) -> str | dict[str, str]:
    from leanlearn.mining.rules import WASTES

    def check(key: str, waste: Any) -> str:
        if waste not in WASTES:
            raise PipelineError(f"{path}: key {key!r} is {waste!r}; lean wastes: {', '.join(WASTES)}")
        return str(waste)

    if isinstance(value, str):
        return check("waste", value)
    if isinstance(value, dict):
        out = {}
        for target, waste in value.items():
            if target not in targets:
                raise PipelineError(
                    f"{path}: key 'waste.{target}' names no target; targets are {', '.join(targets)}"
                )
            out[str(target)] = check(f"waste.{target}", waste)
        return out
    raise PipelineError(
        f"{path}: key 'waste' must be one waste (waste: downtime) or one per target (waste: {{scrap: defects}}), "
        f"got {_type_name(value)}"
    )


def _parse_mining(value: Any, path: Path) -> dict[str, Any]:
    from leanlearn.packs.build import MINER_PARAMS

    if not isinstance(value, dict):
        raise PipelineError(f"{path}: key 'mining' must be a mapping, got {_type_name(value)}; e.g. {{alpha: 0.01}}")
    out = {}
    for key, item in value.items():
        if key not in MINER_PARAMS:
            raise _unknown(path, key, tuple(MINER_PARAMS), "mining.")
        kind, check = _MINING_TYPES.get(key, (object, lambda v: None))
        wrong_bool = isinstance(item, bool) and kind is not bool
        if wrong_bool or not isinstance(item, kind):
            expected = {bool: "true or false", str: "text", int: "a whole number"}.get(kind, "a number")  # type: ignore[call-overload]
            raise PipelineError(f"{path}: key 'mining.{key}' must be {expected}, got {item!r}")
        problem = check(item)
        if problem:
            raise PipelineError(f"{path}: key 'mining.{key}' {problem}, got {item!r}")
        out[str(key)] = item
    return out
