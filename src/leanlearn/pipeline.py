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
it never executes anything from the file (safe YAML with bounded aliases, see :mod:`leanlearn.limits`, and derived
features go through the whitelisted expression parser). A pipeline reads the one table it names; ``leanlearn run``
writes the pack to ``out`` (a ``.json`` file; an existing file there is replaced only if it is a rule pack) or to
``models/<name>.json`` — ``name`` is a plain file name, never a path.

Examples
--------
>>> pipeline = load_pipeline(shipped_pipeline("ai4i"))
>>> pipeline.name, pipeline.targets
('ai4i-failures', ('HDF', 'PWF', 'OSF', 'TWF'))
>>> list(pipeline.derive)
['temp_diff', 'power', 'strain']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from leanlearn.errors import ExpressionError, LeanlearnError, PipelineError
from leanlearn.yamlfile import Checker, read_yaml
from leanlearn.yamlfile import type_name as _type_name

if TYPE_CHECKING:
    import pandas as pd

    from leanlearn.mining.miner import RuleMinerCore
    from leanlearn.packs.pack import RulePack

DATASETS = ("ai4i2020",)
KEYS = ("name", "line", "description", "source", "targets", "ignore", "derive", "waste", "units", "mining", "out",
        "register")
REQUIRED = ("name", "line", "source", "targets")
SOURCE_KEYS = ("dataset", "path", "encoding")

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

            return load_ai4i()
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


def check_out(pipeline: MiningPipeline) -> Path | None:
    """The pipeline's ``out`` path if writing a pack there replaces nothing but a rule pack; else a PipelineError.

    A pipeline file names where its pack goes; it may not make leanlearn overwrite a file that is not a rule pack
    (a hostile ``out: ~/.config/app.json``). The command line's ``--out`` is the user's own choice and unchecked.
    """
    out = pipeline.out
    if out is None or not out.exists():
        return out
    where = pipeline.origin or "<pipeline>"
    if out.is_dir():
        raise PipelineError(f"{where}: key 'out': {out} is a folder; name a .json file for the pack")
    try:
        import json

        doc = json.loads(out.read_text(encoding="utf-8")) if out.stat().st_size < 512 << 20 else None
    except (OSError, ValueError):
        doc = None
    if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith("leanlearn.rulepack/"):
        raise PipelineError(f"{where}: key 'out': {out} exists and is not a rule pack; a pipeline only replaces "
                            "a pack it wrote: remove the file, name another out:, or give --out")
    return out


def run_pipeline(
    pipeline: MiningPipeline, on_target: Callable[[str, RuleMinerCore, float], None] | None = None
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
def _check(path: Path) -> Checker:
    return Checker(str(path), PipelineError)


def _unknown(path: Path, key: str, allowed: tuple[str, ...], where: str) -> LeanlearnError:
    return _check(path).unknown(key, allowed, where)


def _text(path: Path, key: str, value: Any, example: str) -> str:
    return _check(path).text(value, key, example)


def _text_list(path: Path, key: str, value: Any, example: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _check(path).fail(key, f"must be a list of column names, got {value!r}; e.g. {example}")
    return tuple(value)


def _text_mapping(path: Path, key: str, value: Any, example: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _check(path).fail(key, f"must be a mapping, got {_type_name(value)}; e.g. {example}")
    for name, item in value.items():
        if not isinstance(name, str) or not isinstance(item, str) or not item.strip():
            raise _check(path).fail(f"{key}.{name}", f"must map a name to non-empty text, got {item!r}; e.g. {example}")
    return dict(value)


def _out_path(path: Path, value: Any) -> Path:
    """The pack's ``out:`` path: a ``.json`` file (the CLI refuses to overwrite a file that is not a rule pack)."""
    check = _check(path)
    text = check.text(value, "out", "out: models/press-line.json")
    out = Path(text)
    if out.suffix.lower() != ".json" or out.name.startswith("."):
        raise check.fail("out", f"is {text!r}; a pipeline writes its pack only to a .json file (e.g. out: "
                                "models/press-line.json), or choose any path on the command line with --out")
    return out


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

    name = _check(path).name(doc["name"], "name", "name: press-scrap")
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
    out = Path("models") / f"{name}.json" if out_value is None else _out_path(path, out_value)
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
    """The ``mining:`` mapping, type-checked through :class:`~leanlearn.mining.settings.MiningSettings`."""
    from leanlearn.mining.settings import MiningSettingError, MiningSettings

    if not isinstance(value, dict):
        raise _check(path).fail("mining", f"must be a mapping, got {_type_name(value)}; e.g. {{alpha: 0.01}}")
    try:
        settings = MiningSettings.from_json(value)
    except MiningSettingError as exc:
        if exc.unknown:
            raise _unknown(path, exc.setting, MiningSettings.names(), "mining.") from None
        raise _check(path).fail(f"mining.{exc.setting}", f"must be {exc.allowed}, got {exc.value!r}") from None
    return {str(key): getattr(settings, str(key)) for key in value}
