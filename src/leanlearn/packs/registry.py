"""Rule packs in the MLflow model registry: one registered model per (line, target), aliased and tagged.

:func:`register_pack` splits a pack by target, logs each sub-pack as an MLflow ``pyfunc`` model *from code* (the
wrapper :mod:`leanlearn.packs.pyfunc_model`; the pack JSON is its only artifact, nothing is pickled), registers it as
``leanlearn.<line>.<target>`` and points the alias ``candidate`` at the new version. :func:`load_pack` returns the
verified :class:`~leanlearn.packs.pack.RulePack` behind a ``models:/`` URI; :func:`load_model` returns the MLflow
model, whose ``predict(df)`` says per row which rules fire.

Where things go
---------------
- Tracking store: ``tracking_uri`` if given, else ``MLFLOW_TRACKING_URI``, else a SQLite file
  ``<home>/mlflow.db`` with ``home`` = ``LEANLEARN_HOME`` or ``~/.leanlearn`` (see :func:`default_tracking_uri`).
- Artifacts of an experiment leanlearn creates: ``LEANLEARN_ARTIFACT_ROOT`` if set; else, for a SQLite store, the
  folder ``mlartifacts`` beside the database file; for another database (PostgreSQL, MySQL, ...) used directly,
  ``<home>/mlartifacts`` (a team sets ``LEANLEARN_ARTIFACT_ROOT`` to shared storage, or runs an MLflow server);
  for an MLflow server, wherever the server keeps them. Never the current directory.

What a logged model carries
---------------------------
- ``artifacts/pack.json``: the sub-pack (one target); ``pyfunc_model.py``: the wrapper;
- ``code/leanlearn``: a copy of leanlearn's Python source (``code_paths``), so the model loads where leanlearn is
  not installed (leanlearn is not a dependency on a package index). An installed leanlearn still wins over the copy;
- ``requirements.txt``: explicit pins of what applying a pack needs (mlflow, numpy, pandas, jsonschema), written
  without MLflow's requirement inference (which imports the model in a subprocess and is slow);
- ``MLmodel`` metadata ``leanlearn``: pack name, line, target, content hash, number of rules.

MLflow is imported lazily (``import leanlearn.packs.registry`` does not import it). Before the first import leanlearn
sets ``MLFLOW_DISABLE_TELEMETRY=true`` unless the variable is already set, so MLflow sends no usage data; while
logging it also turns off MLflow's uv-project detection (which would copy a ``uv.lock`` from the current directory
into the model) and the recording of environment-variable names.

Examples
--------
>>> import pandas as pd
>>> from leanlearn.mining.rules import Condition, Rule, RuleSet
>>> from leanlearn.packs.pack import RulePack, Target
>>> rule = Rule((Condition("torque", ">=", 60.0),), Condition("scrap", "==", 1), support=0.1, coverage=0.1,
...             confidence=0.9, lift=4.5, leverage=0.08, conviction=8.0, n=10, hits=9, p_value=1e-4,
...             p_value_raw=1e-5, ci=(0.6, 0.98), base_rate=0.2, id="R1")
>>> pack = RulePack(name="demo", line="L1", targets=(Target("scrap"),), rules=RuleSet((rule,)))
>>> uri = "sqlite:///" + str(getfixture("tmp_path") / "mlflow.db")
>>> [registered] = register_pack(pack, tracking_uri=uri)
>>> registered.uri, registered.version_uri
('models:/leanlearn.L1.scrap@candidate', 'models:/leanlearn.L1.scrap/1')
>>> load_pack(registered.uri, tracking_uri=uri).rules[0].id
'R1'
>>> load_model(registered.uri, tracking_uri=uri).predict(pd.DataFrame({"torque": [70.0, 50.0]}))["rules"].tolist()
['R1', '']
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanlearn._util import first_line, redact
from leanlearn.errors import PackError, RegistryError
from leanlearn.packs.pack import RulePack

if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType

    from mlflow.pyfunc import PyFuncModel

__all__ = ["RegisteredPack", "ReviewState", "RuleReview", "default_tracking_uri", "list_versions", "load_model",
           "load_pack", "log_explanation", "model_name", "promote_approved", "read_explanation",
           "read_explanation_report", "read_review_log",
           "register_pack", "review_rule", "review_state", "split_pack"]

#: Environment defaults set (``setdefault``) before MLflow is first imported: no usage telemetry.
MLFLOW_PROCESS_ENV: dict[str, str] = {"MLFLOW_DISABLE_TELEMETRY": "true"}
#: Environment set only while leanlearn logs a model (restored afterwards).
MLFLOW_LOGGING_ENV: dict[str, str] = {
    "MLFLOW_UV_AUTO_DETECT": "false",
    "MLFLOW_LOG_UV_FILES": "false",
    "MLFLOW_RECORD_ENV_VARS_IN_MODEL_LOGGING": "false",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",  # no "View run ... at: http://..." lines on stdout
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # no "Downloading artifacts" bars on stderr
}
#: The extra that installs the database driver a tracking URI's SQLAlchemy dialect needs.
DRIVER_EXTRAS: dict[str, str] = {"postgresql": "postgres"}
#: Distributions a loaded pack model imports (pinned to the versions installed when the model is logged).
MODEL_REQUIREMENTS: tuple[str, ...] = ("mlflow", "numpy", "pandas", "jsonschema")
PACK_ARTIFACT = "pack"
MODEL_FILE = Path(__file__).with_name("pyfunc_model.py")
TAG_PREFIX = "leanlearn."
_DB_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433}
_ALIAS = re.compile(r"^[\w\-]+$")
_ADVICE_LOGGERS = ("mlflow.pyfunc", "mlflow.pyfunc.model", "mlflow.models.model", "mlflow.models.signature",
                   "mlflow.models.utils")
_QUIET_WARNINGS = (
    r".*[Ss]ignature.*",
    r".*input_example.*",
    r".*type hint.*",
    r".*pip_requirements.*",
    r".*[Ee]ncountered an unexpected error.*",
)


# -- where ---------------------------------------------------------------------------------------------------------
def leanlearn_home() -> Path:
    """leanlearn's own folder: ``LEANLEARN_HOME`` or ``~/.leanlearn`` (created if missing)."""
    home = Path(os.environ.get("LEANLEARN_HOME") or Path.home() / ".leanlearn").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def default_tracking_uri() -> str:
    """The MLflow tracking URI leanlearn uses when none is given.

    ``MLFLOW_TRACKING_URI`` if set; else a SQLite store ``sqlite:///<home>/mlflow.db`` where ``home`` is
    ``LEANLEARN_HOME`` or ``~/.leanlearn`` (the folder is created). Artifacts of that store go to
    ``<home>/mlartifacts``.

    Examples
    --------
    >>> monkeypatch = getfixture("monkeypatch")
    >>> monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    >>> monkeypatch.setenv("LEANLEARN_HOME", str(getfixture("tmp_path") / "home"))
    >>> default_tracking_uri().startswith("sqlite:///"), default_tracking_uri().endswith("/home/mlflow.db")
    (True, True)
    >>> monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    >>> default_tracking_uri()
    'http://mlflow.example:5000'
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if uri:
        return uri
    return "sqlite:///" + (leanlearn_home() / "mlflow.db").resolve().as_posix()


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    rest = uri[len("sqlite:///"):].split("?", 1)[0]
    if not rest or rest == ":memory:":
        return None
    return Path(rest).expanduser().resolve()


def artifact_location(tracking_uri: str, experiment: str) -> str | None:
    """Where a new experiment's artifacts go (``None``: the tracking server decides). Never the current directory."""
    root = os.environ.get("LEANLEARN_ARTIFACT_ROOT", "").strip()
    if root:
        if "://" in root or root.startswith("file:"):
            return root.rstrip("/") + "/" + _safe(experiment)
        return (Path(root).expanduser().resolve() / _safe(experiment)).as_uri()
    scheme = tracking_uri.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        db = _sqlite_path(tracking_uri)
        base = db.parent if db is not None else leanlearn_home()
    elif scheme in _DB_PORTS:
        base = leanlearn_home()
    else:  # MLflow server, Databricks, file store: they have their own artifact roots
        return None
    return (base / "mlartifacts" / _safe(experiment)).as_uri()


def _safe(text: str) -> str:
    """A name usable as a folder or MLflow logged-model name."""
    return re.sub(r"[^\w\-]+", "_", text).strip("_") or "pack"


def _redact(uri: str) -> str:
    """``uri`` without a password, in any form (``user:pw@host``, ``?password=pw``, ``user:p@ss@host``)."""
    return redact(uri)


# -- names ---------------------------------------------------------------------------------------------------------
def model_name(line: str, target: str) -> str:
    """The registered-model name of a (line, target): ``leanlearn.<line>.<target>``.

    >>> model_name("ai4i", "HDF")
    'leanlearn.ai4i.HDF'
    """
    name = f"leanlearn.{line}.{target}"
    bad = sorted({c for c in name if c in "/:"})
    if not line.strip() or not target.strip() or bad:
        raise RegistryError(
            f"cannot name a registered model for line {line!r}, target {target!r}: line and target must be "
            f"non-empty and may not contain {' or '.join(repr(c) for c in bad) or '/ or :'}; rename them in the pack"
        )
    return name


def split_pack(pack: RulePack) -> list[RulePack]:
    """One sub-pack per target of ``pack``, holding only that target's rules (named ``<pack name>.<target>``).

    A single-target pack comes back unchanged, so its content hash stays the same.

    >>> from leanlearn.mining.rules import RuleSet
    >>> from leanlearn.packs.pack import Target
    >>> pack = RulePack(name="p", line="L1", targets=(Target("scrap"), Target("rework")), rules=RuleSet())
    >>> [(p.name, [t.name for t in p.targets]) for p in split_pack(pack)]
    [('p.scrap', ['scrap']), ('p.rework', ['rework'])]
    """
    if not pack.targets:
        raise RegistryError(f"rule pack {pack.name!r} has no target; a registered model is one (line, target)")
    if len(pack.targets) == 1:
        return [pack]
    return [
        replace(pack, name=f"{pack.name}.{t.name}", targets=(t,), rules=pack.rules.for_target(t.name))
        for t in pack.targets
    ]


@dataclass(frozen=True)
class RegisteredPack:
    """One registered model version holding a (sub-)pack for one target.

    Attributes
    ----------
    name : str
        Registered model name, ``leanlearn.<line>.<target>``.
    version : str
        Model version number.
    target : str
        The target the version's rules predict.
    uri : str
        ``models:/<name>@<alias>`` — the alias the version got when registered.
    """

    name: str
    version: str
    target: str
    uri: str

    @property
    def version_uri(self) -> str:
        """``models:/<name>/<version>``: this very version, whatever the aliases point to later."""
        return f"models:/{self.name}/{self.version}"


# -- MLflow plumbing -----------------------------------------------------------------------------------------------
def _mlflow() -> ModuleType:
    """Import MLflow, with leanlearn's environment defaults (no telemetry) set first."""
    for key, value in MLFLOW_PROCESS_ENV.items():
        os.environ.setdefault(key, value)
    import mlflow

    return mlflow


class _AdviceFilter(logging.Filter):
    """Drop MLflow's advice records (no signature, no input example, type hints) — a pack model has none by design."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(re.match(pattern, message, re.DOTALL) for pattern in _QUIET_WARNINGS)


@contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's INFO chatter and its advice warnings (signature, input example, ...) off; env for logging set;
    whatever MLflow prints on stdout (e.g. "View run ... at: http://..." for a tracking server) goes to stderr.

    MLflow must be imported before (its import configures the ``mlflow`` logger, which this then adjusts).
    """
    _mlflow()
    logger = logging.getLogger("mlflow")
    level = logger.level
    advice = _AdviceFilter()
    filtered = [logger, *logger.handlers, *(logging.getLogger(n) for n in _ADVICE_LOGGERS)]
    saved = {k: os.environ.get(k) for k in MLFLOW_LOGGING_ENV}
    logger.setLevel(max(level, logging.WARNING))
    for item in filtered:
        item.addFilter(advice)
    os.environ.update(MLFLOW_LOGGING_ENV)
    try:
        with warnings.catch_warnings(), redirect_stdout(sys.stderr):  # stdout stays the caller's (e.g. --json)
            for pattern in _QUIET_WARNINGS:
                warnings.filterwarnings("ignore", message=pattern)
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"mlflow\..*")
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"mlflow\..*")
            yield
    finally:
        logger.setLevel(level)
        for item in filtered:
            item.removeFilter(advice)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _using(uri: str) -> Iterator[Any]:
    """Point MLflow's fluent API (tracking and registry) at ``uri`` for the block; restore the previous state."""
    mlflow = _mlflow()
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    saved_env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    saved_tracking = tracking_utils._tracking_uri
    saved_registry = registry_utils._registry_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield mlflow
    finally:
        mlflow.set_tracking_uri(saved_tracking)  # None: back to "read the environment"
        registry_utils._registry_uri = saved_registry
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _check_driver(uri: str) -> None:
    """Refuse a database tracking URI whose SQLAlchemy driver is not installed, naming what to install.

    ``postgresql://`` means psycopg 3 to SQLAlchemy 2.1 (``pip install 'leanlearn[postgres]'``);
    ``postgresql+psycopg2://`` means psycopg2; ``mysql+pymysql://`` means PyMySQL, and so on.
    """
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme not in _DB_PORTS:
        return
    try:
        from sqlalchemy.engine import make_url

        dialect = make_url(uri).get_dialect()
    except Exception:  # a malformed URL or an unknown dialect: _check_reachable and MLflow say what is wrong
        return
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        driver = getattr(dialect, "driver", None) or getattr(exc, "name", None) or "its driver"
        extra = DRIVER_EXTRAS.get(scheme)
        fix = f"pip install 'leanlearn[{extra}]'" if extra and driver == "psycopg" else f"pip install {driver}"
        raise RegistryError(
            f"tracking URI {_redact(uri)!r} needs the database driver {driver!r}, which is not installed: "
            f"{fix} (or name an installed driver in the URI, e.g. {scheme}+psycopg2://...)"
        ) from None


def _check_reachable(uri: str, timeout: float = 3.0) -> None:
    """Fail fast, instead of after MLflow's minutes of retries or a traceback, when ``uri`` cannot work: the server
    does not answer (:func:`_check_server`) or the database driver is not installed (:func:`_check_driver`)."""
    _check_server(uri, timeout)
    _check_driver(uri)


def _check_server(uri: str, timeout: float = 3.0) -> None:
    """Fail fast, instead of after MLflow's minutes of retries, when the server behind ``uri`` does not answer.

    Checks that a TCP connection opens to the database (PostgreSQL, MySQL, ...) or MLflow server (``http(s)://``,
    unless an HTTP proxy is configured); nothing is sent.
    """
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme in ("http", "https"):
        if any(os.environ.get(k) for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")):
            return
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(uri)
            host, port = parts.hostname, parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise RegistryError(f"tracking URI {_redact(uri)!r} is not a valid URL ({first_line(exc)})") from None
        what, fix = "MLflow tracking server", "start the server"
    elif scheme in _DB_PORTS:
        try:
            from sqlalchemy.engine import make_url

            url = make_url(uri)
        except Exception as exc:  # any parse failure is the user's URI
            raise RegistryError(
                f"tracking URI {_redact(uri)!r} is not a valid database URL ({first_line(exc)})"
            ) from None
        # a password with an unencoded '@' leaves its tail in the parsed host: never print that part
        host, port = (url.host or "").rsplit("@", 1)[-1] or None, url.port or _DB_PORTS[scheme]
        what, fix = "MLflow tracking database", "start the database server"
    else:
        return
    if not host or host.startswith("/"):
        return  # a local socket: let the driver say what is wrong
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise RegistryError(
            f"cannot reach the {what} {_redact(uri)!r} at {host}:{port} ({exc.strerror or exc}); "
            f"{fix} or pass another tracking URI (tracking_uri=... or MLFLOW_TRACKING_URI)"
        ) from None


@contextmanager
def _registry_errors(action: str, tracking_uri: str) -> Iterator[None]:
    """Turn MLflow and connection failures into a one-line :class:`RegistryError` naming the URIs."""
    from mlflow.exceptions import MlflowException

    where = f"(tracking URI {_redact(tracking_uri)!r})"
    try:
        yield
    except (RegistryError, PackError):
        raise
    except MlflowException as exc:
        code = getattr(exc, "error_code", "")
        msg = first_line(exc)
        if code == "RESOURCE_DOES_NOT_EXIST" or "not found" in msg.lower() or "does not exist" in msg.lower():
            hint = ("no such registered model, version or alias there; registered models are named "
                    "leanlearn.<line>.<target> and URIs look like models:/leanlearn.<line>.<target>@candidate")
        elif code == "INVALID_PARAMETER_VALUE":
            hint = "check the URI, names and alias"
        else:
            hint = "check that the tracking server or database is up and the URI is right"
        raise RegistryError(f"cannot {action} {where}: {msg} — {hint}") from exc
    except (ConnectionError, OSError, TimeoutError) as exc:
        raise RegistryError(
            f"cannot {action} {where}: {first_line(exc)} — check that the tracking server is up and reachable"
        ) from exc
    except ImportError as exc:  # a database driver or MLflow extra missing
        missing = getattr(exc, "name", None) or first_line(exc)
        raise RegistryError(
            f"cannot {action} {where}: the Python module {missing!r} is not installed — for PostgreSQL "
            "pip install 'leanlearn[postgres]', else install the driver the tracking URI names"
        ) from exc
    except Exception as exc:
        module = type(exc).__module__ or ""
        if module.startswith(("sqlalchemy", "requests", "urllib3", "psycopg", "pymysql")):
            raise RegistryError(
                f"cannot {action} {where}: {first_line(exc)} — check the tracking URI and that its database is up"
            ) from exc
        raise


def _requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for dist in MODEL_REQUIREMENTS:
        try:
            out.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            out.append(dist)
    return out


def _bundle_source(dest: Path) -> Path:
    """Copy leanlearn's Python source and JSON files (no data files, no caches) to ``dest/leanlearn``."""
    import shutil

    import leanlearn

    source = Path(leanlearn.__file__).parent

    def ignore(folder: str, names: list[str]) -> list[str]:
        return [
            n for n in names
            if n == "__pycache__" or (not (Path(folder) / n).is_dir() and Path(n).suffix not in (".py", ".json"))
        ]

    return Path(shutil.copytree(source, dest / "leanlearn", ignore=ignore))


def _ensure_experiment(client: Any, name: str, tracking_uri: str) -> str:
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            raise RegistryError(
                f"experiment {name!r} at {_redact(tracking_uri)!r} is deleted; restore it "
                "(mlflow experiments restore) or pass another experiment name"
            )
        return str(found.experiment_id)
    try:
        return str(client.create_experiment(name, artifact_location=artifact_location(tracking_uri, name)))
    except MlflowException as exc:  # created meanwhile by someone else
        found = client.get_experiment_by_name(name)
        if found is None:
            raise exc from None
        return str(found.experiment_id)


def _ensure_registered_model(client: Any, name: str, line: str, target: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
        return
    except MlflowException as exc:
        if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
            raise
    try:
        client.create_registered_model(
            name,
            tags={f"{TAG_PREFIX}line": line, f"{TAG_PREFIX}target": target},
            description=f"leanlearn rule packs for target {target!r} on line {line!r}",
        )
    except MlflowException as exc:  # created meanwhile by someone else
        if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
            raise


def _scalar_params(prefix: str, values: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in values.items():
        if value is None or isinstance(value, (str, int, float, bool)):
            out[f"{prefix}{key}"] = str(value)[:500]
    return out


def _metric_name(text: str) -> str:
    return re.sub(r"[^\w\-. /]+", "_", text)


# -- public API ----------------------------------------------------------------------------------------------------
def register_pack(
    pack: RulePack,
    *,
    tracking_uri: str | None = None,
    alias: str = "candidate",
    experiment: str = "leanlearn",
) -> list[RegisteredPack]:
    """Log ``pack`` to MLflow and register one model version per target.

    One MLflow run (in ``experiment``) holds the whole pack JSON (artifact ``pack/``), its parameters and rule
    counts. For each target the sub-pack holding only that target's rules (see :func:`split_pack`) is logged as a
    ``pyfunc`` model from code and registered as ``leanlearn.<line>.<target>``; ``alias`` is moved to the new
    version, which is tagged ``leanlearn.content_hash``, ``leanlearn.n_rules``, ``leanlearn.review`` (``pending``),
    ``leanlearn.target``, ``leanlearn.line``, ``leanlearn.pack`` and ``leanlearn.source_pack_hash``.

    Parameters
    ----------
    pack : RulePack
        The pack to register.
    tracking_uri : str, optional
        MLflow tracking (and registry) URI; default :func:`default_tracking_uri`.
    alias : str
        Alias set on each new version (letters, digits, ``_`` and ``-``).
    experiment : str
        MLflow experiment of the run; created if missing (artifacts never land in the current directory).

    Returns
    -------
    list of RegisteredPack
        One per target, in the pack's target order.

    Raises
    ------
    RegistryError
        The tracking store cannot be reached, a name or the alias is invalid, or MLflow refuses the model.
    """
    if not _ALIAS.match(alias) or alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        raise RegistryError(
            f"alias {alias!r} is not usable: use letters, digits, '_' and '-', not 'latest' nor a version like 'v2'"
        )
    subpacks = split_pack(pack)
    names = [model_name(pack.line, sub.targets[0].name) for sub in subpacks]
    uri = tracking_uri or default_tracking_uri()
    _check_reachable(uri)
    full_doc = pack.to_json()
    requirements = _requirements()
    registered: list[RegisteredPack] = []
    with _quiet(), _using(uri) as mlflow, _registry_errors(f"register rule pack {pack.name!r}", uri):
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        experiment_id = _ensure_experiment(client, experiment, uri)
        nested = mlflow.active_run() is not None
        with tempfile.TemporaryDirectory(prefix="leanlearn-") as tmp, mlflow.start_run(
            experiment_id=experiment_id, run_name=pack.name, nested=nested
        ) as run:
            tmp_path = Path(tmp)
            mlflow.set_tags({
                f"{TAG_PREFIX}pack": pack.name,
                f"{TAG_PREFIX}line": pack.line,
                f"{TAG_PREFIX}content_hash": full_doc["content_hash"],
            })
            params = {
                "pack.name": pack.name,
                "pack.line": pack.line,
                "pack.targets": ",".join(t.name for t in pack.targets),
                "pack.content_hash": full_doc["content_hash"],
                "pack.parent": str(pack.parent),
                "pack.created": pack.created,
                "pack.leanlearn_version": pack.leanlearn_version,
            }
            params.update(_scalar_params("mining.", pack.mining))
            mlflow.log_params(params)
            metrics: dict[str, float] = {"n_rules": float(len(pack.rules))}
            if isinstance(pack.data.get("rows"), int):
                metrics["data.rows"] = float(pack.data["rows"])
            for sub in subpacks:
                target = sub.targets[0].name
                metrics[_metric_name(f"n_rules.{target}")] = float(len(sub.rules))
                if len(sub.rules):
                    metrics[_metric_name(f"max_confidence.{target}")] = max(r.confidence for r in sub.rules)
                    metrics[_metric_name(f"max_lift.{target}")] = max(r.lift for r in sub.rules)
            mlflow.log_metrics(metrics)
            full_path = pack.save(tmp_path / "full" / f"{_safe(pack.name)}.json")
            mlflow.log_artifact(str(full_path), artifact_path="pack")
            code = _bundle_source(tmp_path / "code")

            for sub, name in zip(subpacks, names, strict=True):
                target = sub.targets[0].name
                doc = sub.to_json()
                pack_path = sub.save(tmp_path / "targets" / _safe(target) / "pack.json")
                tags = {
                    f"{TAG_PREFIX}content_hash": doc["content_hash"],
                    f"{TAG_PREFIX}n_rules": str(len(sub.rules)),
                    f"{TAG_PREFIX}review": "pending",
                    f"{TAG_PREFIX}target": target,
                    f"{TAG_PREFIX}line": pack.line,
                    f"{TAG_PREFIX}pack": sub.name,
                    f"{TAG_PREFIX}source_pack_hash": full_doc["content_hash"],
                }
                info = mlflow.pyfunc.log_model(
                    name=_safe(f"rulepack-{target}"),
                    python_model=str(MODEL_FILE),
                    artifacts={PACK_ARTIFACT: str(pack_path)},
                    code_paths=[str(code)],
                    pip_requirements=requirements,
                    metadata={"leanlearn": {"pack": sub.name, "line": pack.line, "target": target,
                                            "content_hash": doc["content_hash"], "n_rules": len(sub.rules)}},
                    tags=tags,
                )
                _ensure_registered_model(client, name, pack.line, target)
                description = f"{len(sub.rules)} rule(s) for {target} on line {pack.line} from pack {pack.name}"
                if pack.description:
                    description += f": {pack.description}"
                version = client.create_model_version(
                    name, source=info.model_uri, run_id=run.info.run_id, tags=tags, description=description,
                    model_id=info.model_id,
                )
                client.set_registered_model_alias(name, alias, version.version)
                registered.append(RegisteredPack(name, str(version.version), target, f"models:/{name}@{alias}"))
    return registered


def _model_uri(uri: str) -> str:
    if not isinstance(uri, str) or not re.match(r"^[a-z][a-z0-9+.\-]*:", uri.strip()):
        raise RegistryError(
            f"{uri!r} is not a model URI; use models:/leanlearn.<line>.<target>@candidate or models:/<name>/<version>"
        )
    uri = uri.strip().rstrip("/")
    if uri.startswith("models:") and not uri.startswith("models:/"):
        raise RegistryError(f"{uri!r} is not a model URI; write models:/<name>@<alias> or models:/<name>/<version>")
    return uri


def load_pack(uri: str, *, tracking_uri: str | None = None) -> RulePack:
    """The verified rule pack behind a model URI.

    Downloads only the model's ``MLmodel`` file and its pack artifact (no code runs, nothing is unpickled) and
    checks the pack's schema, limits and content hash. The hash proves the artifact is the document its writer
    hashed (integrity), not who wrote it (authenticity): trust follows the registry's access control.

    Parameters
    ----------
    uri : str
        ``models:/<name>@<alias>``, ``models:/<name>/<version>`` (or any MLflow model URI, e.g. ``runs:/...``).
    tracking_uri : str, optional
        Default :func:`default_tracking_uri`.

    Raises
    ------
    RegistryError
        The URI is malformed, names no model, or the store cannot be reached.
    PackError
        The artifact is not a valid rule pack (or was changed after it was written).
    """
    import yaml

    uri = _model_uri(uri)
    store = tracking_uri or default_tracking_uri()
    _check_reachable(store)
    with _quiet(), _using(store) as mlflow, _registry_errors(f"load the rule pack {uri!r}", store), \
            tempfile.TemporaryDirectory(prefix="leanlearn-") as tmp:
        mlmodel = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"{uri}/MLmodel", dst_path=tmp))
        conf = yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}
        artifacts = (conf.get("flavors", {}).get("python_function", {}) or {}).get("artifacts") or {}
        entry = artifacts.get(PACK_ARTIFACT)
        if not isinstance(entry, dict) or not entry.get("path"):
            raise RegistryError(f"model {uri!r} is not a leanlearn rule pack: it has no '{PACK_ARTIFACT}' artifact")
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"{uri}/{entry['path']}", dst_path=tmp))
        return RulePack.load(local, where=uri)  # limits, strict JSON, schema, hash: no code runs


def load_model(uri: str, tracking_uri: str | None = None) -> PyFuncModel:
    """The MLflow ``pyfunc`` model behind ``uri``; ``predict(df)`` says per row which rules fire.

    ``predict`` takes raw data columns (derived features are computed from the pack) and returns a DataFrame with
    the input's index and columns ``rules`` (ids of the rules that fire, joined by ``","``; ``""`` when none does),
    ``n_rules`` (how many fire) and ``<target>_predicted`` (0/1). The pack is verified (schema, content hash) when
    the model loads.

    Loading a model *runs code stored with the model*: MLflow imports the model's ``pyfunc_model.py`` and, where
    leanlearn is not installed, the bundled copy of leanlearn's source. Load models only from a registry whose
    writers you trust; to read the rules of an untrusted model, use :func:`load_pack`, which executes nothing.

    Raises
    ------
    RegistryError
        The URI is malformed, names no model, or the store cannot be reached.
    """
    uri = _model_uri(uri)
    store = tracking_uri or default_tracking_uri()
    _check_reachable(store)
    with _quiet(), _using(store) as mlflow, _registry_errors(f"load the model {uri!r}", store):
        return mlflow.pyfunc.load_model(uri)


# -- monitor alerts as MLflow metrics -------------------------------------------------------------------------------
STATE_CODES = {"ok": 0, "warning": 1, "drift": 2}


class AlertMetrics:
    """Log a live monitor's alerts as MLflow metrics: one run per monitor session.

    For every alert, at step = the event index: ``state.<rule>`` (0 ok, 1 warning, 2 drift) and
    ``confidence.<rule>`` (the windowed confidence that raised it). Call it with each batch of alerts (it is a
    ``run_monitor(on_alerts=...)`` callback); :meth:`close` ends the run.

    Parameters
    ----------
    pack : RulePack
        The pack being monitored (its name, line and content hash become run tags).
    tracking_uri : str, optional
        Defaults to :func:`default_tracking_uri`.
    experiment : str, default="leanlearn-monitor"
    """

    def __init__(self, pack: RulePack, *, tracking_uri: str | None = None,
                 experiment: str = "leanlearn-monitor") -> None:
        self.tracking_uri = tracking_uri or default_tracking_uri()
        self.logged = 0
        _check_reachable(self.tracking_uri)
        mlflow = _mlflow()
        with _quiet(), _registry_errors("start a monitor run", self.tracking_uri):
            self._client = mlflow.MlflowClient(tracking_uri=self.tracking_uri)
            experiment_id = _ensure_experiment(self._client, experiment, self.tracking_uri)
            run = self._client.create_run(experiment_id, run_name=f"monitor {pack.name}", tags={
                f"{TAG_PREFIX}pack": pack.name, f"{TAG_PREFIX}line": pack.line,
                f"{TAG_PREFIX}content_hash": pack.content_hash,
            })
        self.run_id: str = run.info.run_id

    def __call__(self, alerts: list[Any]) -> None:
        from mlflow.entities import Metric

        if not alerts:
            return
        now = int(time.time() * 1000)
        metrics = []
        for alert in alerts:
            rule = _metric_name(str(alert.rule))
            metrics.append(Metric(f"state.{rule}", float(STATE_CODES.get(alert.state, -1)), now, int(alert.event)))
            metrics.append(Metric(f"confidence.{rule}", float(alert.confidence), now, int(alert.event)))
        with _quiet(), _registry_errors("log monitor metrics", self.tracking_uri):
            for start in range(0, len(metrics), 900):  # MLflow accepts up to 1000 metrics per batch
                self._client.log_batch(self.run_id, metrics=metrics[start : start + 900])
        self.logged += len(alerts)

    def close(self, status: str = "FINISHED") -> None:
        with _quiet(), _registry_errors("end the monitor run", self.tracking_uri):
            self._client.set_terminated(self.run_id, status=status)


# -- review records ------------------------------------------------------------------------------------------------
#: What an engineer can decide on a rule (``pending`` takes a decision back); ``comment`` only adds a note.
REVIEW_DECISIONS: tuple[str, ...] = ("approved", "rejected", "pending")
#: Version tag summing up the review: ``pending`` (a rule is undecided), ``decided`` (every rule is), ``approved``.
REVIEW_TAG = f"{TAG_PREFIX}review"
#: Per-rule version tags, each followed by ``.<rule id>``: the decision, who took it, when (UTC ISO 8601), why.
REVIEW_RULE_TAG = f"{TAG_PREFIX}review."
REVIEW_BY_TAG = f"{TAG_PREFIX}review_by."
REVIEW_AT_TAG = f"{TAG_PREFIX}review_at."
REVIEW_REASON_TAG = f"{TAG_PREFIX}review_reason."
REVIEW_COMMENT_TAG = f"{TAG_PREFIX}review_comment."
#: Folder of the run's review logs (one JSON-lines file per model version: ``<name>.v<version>.jsonl``).
REVIEW_LOG_DIR = "review"
#: The alias a fully reviewed version can be promoted to.
APPROVED_ALIAS = "approved"
MAX_REVIEWER_CHARS = 200
MAX_REASON_CHARS = 2000
_TAG_SAFE_ID = re.compile(r"^[\w\-. /]{1,180}$")


@dataclass(frozen=True)
class RuleReview:
    """The review record of one rule of a registered version (read from the version's tags).

    Attributes
    ----------
    rule_id : str
    decision : str
        ``pending``, ``approved`` or ``rejected``.
    reviewer, at, reason, comment : str or None
        Who took the decision, when (UTC, ISO 8601), why; the latest comment.
    """

    rule_id: str
    decision: str = "pending"
    reviewer: str | None = None
    at: str | None = None
    reason: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class ReviewState:
    """The review state of one registered model version: a record per rule, in the pack's rule order.

    Attributes
    ----------
    name, version : str
        The registered model and version.
    content_hash : str
        Content hash of the version's pack.
    rules : tuple of RuleReview
    aliases : tuple of str
        Aliases pointing at the version (``approved`` once promoted).
    """

    name: str
    version: str
    content_hash: str
    rules: tuple[RuleReview, ...]
    aliases: tuple[str, ...] = ()

    @property
    def version_uri(self) -> str:
        """``models:/<name>/<version>``."""
        return f"models:/{self.name}/{self.version}"

    @property
    def undecided(self) -> list[str]:
        """Ids of the rules still ``pending``."""
        return [r.rule_id for r in self.rules if r.decision == "pending"]

    @property
    def complete(self) -> bool:
        """Every rule is approved or rejected."""
        return not self.undecided

    @property
    def summary(self) -> str:
        """``approved`` (promoted), ``decided`` (every rule decided) or ``pending``."""
        if APPROVED_ALIAS in self.aliases:
            return "approved"
        return "decided" if self.complete else "pending"

    def __getitem__(self, rule_id: str) -> RuleReview:
        for record in self.rules:
            if record.rule_id == rule_id:
                return record
        raise KeyError(rule_id)


def _parse_model_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``models:/<name>/<version>`` or ``models:/<name>@<alias>`` → (name, version, alias)."""
    uri = _model_uri(uri)
    if not uri.startswith("models:/"):
        raise RegistryError(f"{uri!r} is not a registered-model URI; write models:/<name>/<version> or "
                            "models:/<name>@<alias>")
    rest = uri[len("models:/"):]
    if "@" in rest:
        name, _, alias = rest.rpartition("@")
        if name and alias:
            return name, None, alias
    else:
        name, _, version = rest.rpartition("/")
        if name and version.isdigit():
            return name, version, None
    raise RegistryError(f"{uri!r} is not a registered-model URI; write models:/<name>/<version> (a number) or "
                        "models:/<name>@<alias>")


def _find_version(client: Any, uri: str) -> Any:
    """The MLflow ``ModelVersion`` behind a ``models:/`` URI, or a RegistryError naming what is missing."""
    from mlflow.exceptions import MlflowException

    name, version, alias = _parse_model_uri(uri)
    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise RegistryError(f"no registered model {name!r} in this registry; list them with leanlearn review, or "
                            "register the pack first (leanlearn mine ... --register)") from None
    try:
        if alias is not None:
            return client.get_model_version_by_alias(name, alias)
        return client.get_model_version(name, version)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise
        what = f"alias {alias!r}" if alias is not None else f"version {version}"
        raise RegistryError(f"registered model {name!r} has no {what}; use one of its versions "
                            f"(models:/{name}/<version>) or aliases") from None


def _version_pack(version: Any, store: str) -> RulePack:
    return load_pack(f"models:/{version.name}/{version.version}", tracking_uri=store)


def _state_from(version: Any, pack: RulePack) -> ReviewState:
    tags = dict(version.tags or {})
    records = []
    for rule in pack.rules:
        rid = str(rule.id)
        decision = tags.get(REVIEW_RULE_TAG + rid, "pending")
        records.append(RuleReview(
            rid, decision if decision in REVIEW_DECISIONS else "pending", tags.get(REVIEW_BY_TAG + rid) or None,
            tags.get(REVIEW_AT_TAG + rid) or None, tags.get(REVIEW_REASON_TAG + rid) or None,
            tags.get(REVIEW_COMMENT_TAG + rid) or None,
        ))
    return ReviewState(str(version.name), str(version.version), pack.content_hash, tuple(records),
                       tuple(sorted(getattr(version, "aliases", None) or ())))


def review_state(model_uri: str, *, tracking_uri: str | None = None) -> ReviewState:
    """Every rule's review decision of the version behind ``model_uri``, read from its tags (the source of truth).

    Parameters
    ----------
    model_uri : str
        ``models:/<name>/<version>`` or ``models:/<name>@<alias>``.
    tracking_uri : str, optional
        Default :func:`default_tracking_uri`.

    Raises
    ------
    RegistryError
        No such model, version or alias, or the store cannot be reached.
    """
    store = tracking_uri or default_tracking_uri()
    _check_reachable(store)
    with _quiet(), _registry_errors(f"read the review of {model_uri!r}", store):
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=store, registry_uri=store)
        version = _find_version(client, model_uri)
        pack = _version_pack(version, store)
        return _state_from(client.get_model_version(version.name, version.version), pack)


def _clean_text(value: Any, what: str, limit: int, *, one_line: bool) -> str:
    if not isinstance(value, str):
        raise RegistryError(f"{what} must be text, not {type(value).__name__}")
    text = " ".join(value.split()) if one_line else value.strip()
    if len(text) > limit:
        raise RegistryError(f"{what} is {len(text):,} characters long; keep it to {limit:,}")
    return text


def review_rule(
    model_uri: str,
    rule_id: str,
    decision: str,
    reviewer: str,
    reason: str | None = None,
    *,
    tracking_uri: str | None = None,
) -> ReviewState:
    """Record an engineer's decision on one rule of a registered pack version.

    The decision becomes tags of the model version — ``leanlearn.review.<rule id>`` (the decision),
    ``leanlearn.review_by.<rule id>``, ``leanlearn.review_at.<rule id>`` (UTC, ISO 8601) and
    ``leanlearn.review_reason.<rule id>`` — and a JSON line (``at``, ``reviewer``, ``model``, ``version``,
    ``rule_id``, ``decision``, ``reason``, ``content_hash``) appended to the artifact
    ``review/<name>.v<version>.jsonl`` of the version's run. The tags are the source of truth; the log is the
    history. The version's ``leanlearn.review`` tag becomes ``decided`` once every rule is decided; taking a
    decision back (``pending``) on a version aliased ``approved`` removes that alias. The review app calls this very
    function.

    Parameters
    ----------
    model_uri : str
        ``models:/<name>/<version>`` or ``models:/<name>@<alias>`` (the version the alias points to now).
    rule_id : str
        Id of a rule of that version's pack.
    decision : {"approved", "rejected", "pending", "comment"}
        ``pending`` takes a decision back; ``comment`` adds a note (tag ``leanlearn.review_comment.<rule id>``)
        and leaves the decision as it is.
    reviewer : str
        Who decides (required).
    reason : str, optional
        Why; required to reject or comment.
    tracking_uri : str, optional
        Default :func:`default_tracking_uri`.

    Returns
    -------
    ReviewState
        The version's review state after the decision.

    Raises
    ------
    RegistryError
        Unknown decision, missing reviewer or reason, unknown model, version, alias or rule id.
    """
    import json
    from datetime import UTC, datetime

    if decision not in (*REVIEW_DECISIONS, "comment"):
        raise RegistryError(f"decision {decision!r} is not one of {', '.join(REVIEW_DECISIONS)} (or comment)")
    who = _clean_text(reviewer, "the reviewer's name", MAX_REVIEWER_CHARS, one_line=True)
    if not who:
        raise RegistryError("a decision needs the reviewer's name: pass reviewer='<name>'")
    why = _clean_text(reason if reason is not None else "", "the reason", MAX_REASON_CHARS, one_line=False)
    if decision in ("rejected", "comment") and not why:
        raise RegistryError(f"{'rejecting' if decision == 'rejected' else 'commenting on'} rule {rule_id!r} needs "
                            "a reason: say what is wrong with it (reason='...')")
    store = tracking_uri or default_tracking_uri()
    _check_reachable(store)
    with _quiet(), _registry_errors(f"record the review of rule {rule_id!r} of {model_uri!r}", store):
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=store, registry_uri=store)
        version = _find_version(client, model_uri)
        pack = _version_pack(version, store)
        ids = [str(r.id) for r in pack.rules]
        if rule_id not in ids:
            shown = ", ".join(ids[:20]) + (", ..." if len(ids) > 20 else "")
            raise RegistryError(f"{version.name} version {version.version} has no rule {rule_id!r}; its rules are "
                                f"{shown or 'none'}")
        if not _TAG_SAFE_ID.match(rule_id):
            raise RegistryError(f"rule id {rule_id!r} cannot name an MLflow tag (letters, digits, _ - . / and "
                                "spaces only, at most 180); rename the rule in the pack and register it again")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        name, number = str(version.name), str(version.version)
        if decision == "comment":
            tags = {REVIEW_COMMENT_TAG + rule_id: why}
        else:
            tags = {REVIEW_RULE_TAG + rule_id: decision, REVIEW_BY_TAG + rule_id: who,
                    REVIEW_AT_TAG + rule_id: now, REVIEW_REASON_TAG + rule_id: why}
        line = {"at": now, "reviewer": who, "model": name, "version": number, "rule_id": rule_id,
                "decision": decision, "reason": why, "content_hash": pack.content_hash}
        if version.run_id:
            _append_review_log(client, str(version.run_id), name, number, json.dumps(line, ensure_ascii=False))
        for key, value in tags.items():
            if value:
                client.set_model_version_tag(name, number, key, value)
            elif key in (version.tags or {}):  # an approval without a reason clears an earlier rejection's reason
                client.delete_model_version_tag(name, number, key)
        state = _state_from(client.get_model_version(name, number), pack)
        if not state.complete and APPROVED_ALIAS in state.aliases:  # a decision taken back: no longer approved
            client.delete_registered_model_alias(name, APPROVED_ALIAS)
            state = replace(state, aliases=tuple(a for a in state.aliases if a != APPROVED_ALIAS))
        client.set_model_version_tag(name, number, REVIEW_TAG, state.summary)
        return state


def review_log_path(name: str, version: str) -> str:
    """Artifact path (in the version's run) of a version's review log."""
    return f"{REVIEW_LOG_DIR}/{_safe(name)}.v{version}.jsonl"


def _append_review_log(client: Any, run_id: str, name: str, version: str, line: str) -> None:
    """Append ``line`` to the version's review log (artifacts cannot be appended to: read, extend, write back)."""
    path = review_log_path(name, version)
    with tempfile.TemporaryDirectory(prefix="leanlearn-") as tmp:
        previous = ""
        try:
            local = client.download_artifacts(run_id, path, tmp)
            previous = Path(local).read_text(encoding="utf-8")
        except Exception:  # no log yet (MLflow raises different errors per artifact store)
            previous = ""
        if previous and not previous.endswith("\n"):
            previous += "\n"
        client.log_text(run_id, previous + line + "\n", path)


def read_review_log(model_uri: str, *, tracking_uri: str | None = None) -> list[dict[str, Any]]:
    """The review log of the version behind ``model_uri``: one dict per decision, oldest first ([] if none yet)."""
    import json

    store = tracking_uri or default_tracking_uri()
    _check_reachable(store)
    with _quiet(), _registry_errors(f"read the review log of {model_uri!r}", store):
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=store, registry_uri=store)
        version = _find_version(client, model_uri)
        if not version.run_id:
            return []
        with tempfile.TemporaryDirectory(prefix="leanlearn-") as tmp:
            try:
                local = client.download_artifacts(version.run_id, review_log_path(version.name, version.version),
                                                  tmp)
            except Exception:  # no log yet
                return []
            text = Path(local).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def promote_approved(model_uri: str, reviewer: str, *, tracking_uri: str | None = None) -> ReviewState:
    """Point the alias ``approved`` at the version behind ``model_uri`` — only when every rule of it is decided.

    Rejected rules stay in the pack with their review record. Tags ``leanlearn.approved_by`` and
    ``leanlearn.approved_at`` record who promoted it and when; ``leanlearn.review`` becomes ``approved``.

    Raises
    ------
    RegistryError
        A rule is still pending (they are named), no reviewer, or no such model/version.
    """
    from datetime import UTC, datetime

    who = _clean_text(reviewer, "the reviewer's name", MAX_REVIEWER_CHARS, one_line=True)
    if not who:
        raise RegistryError("promoting a version needs the reviewer's name: pass reviewer='<name>'")
    store = tracking_uri or default_tracking_uri()
    _check_reachable(store)
    with _quiet(), _registry_errors(f"promote {model_uri!r} to {APPROVED_ALIAS!r}", store):
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=store, registry_uri=store)
        version = _find_version(client, model_uri)
        pack = _version_pack(version, store)
        state = _state_from(version, pack)
        if not state.complete:
            pending = state.undecided
            shown = ", ".join(pending[:20]) + (", ..." if len(pending) > 20 else "")
            raise RegistryError(
                f"cannot promote {version.name} version {version.version} to {APPROVED_ALIAS!r}: "
                f"{len(pending)} of {len(state.rules)} rule(s) not decided yet ({shown}); approve or reject each first"
            )
        name, number = str(version.name), str(version.version)
        client.set_registered_model_alias(name, APPROVED_ALIAS, number)
        client.set_model_version_tag(name, number, f"{TAG_PREFIX}approved_by", who)
        client.set_model_version_tag(name, number, f"{TAG_PREFIX}approved_at",
                                     datetime.now(UTC).isoformat(timespec="seconds"))
        client.set_model_version_tag(name, number, REVIEW_TAG, "approved")
        return _state_from(client.get_model_version(name, number), pack)


def list_versions(*, tracking_uri: str | None = None) -> list[tuple[str, str, tuple[str, ...]]]:
    """Every leanlearn pack version in the registry: (model name, version, aliases), newest version first."""
    store = tracking_uri or default_tracking_uri()
    _check_reachable(store)
    with _quiet(), _registry_errors("list the registered rule packs", store):
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=store, registry_uri=store)
        out = []
        token = None
        while True:
            page = client.search_registered_models(filter_string="name LIKE 'leanlearn.%'", page_token=token)
            for model in page:
                quoted = str(model.name).replace("'", "\\'")
                aliases: dict[str, list[str]] = {}
                for alias, number in (client.get_registered_model(model.name).aliases or {}).items():
                    aliases.setdefault(str(number), []).append(str(alias))
                for version in client.search_model_versions(f"name = '{quoted}'"):
                    number = str(version.version)
                    out.append((str(version.name), number, tuple(sorted(aliases.get(number, ())))))
            token = getattr(page, "token", None)
            if not token:
                break
        return sorted(out, key=lambda item: (item[0], -int(item[1])))


# -- explanations beside a version ---------------------------------------------------------------------------------
#: Folder of the run's explanation artifacts: ``<name>.v<version>.json`` (figures) and ``.html`` (the report).
EXPLAIN_DIR = "explain"


def _explain_path(name: str, version: str, suffix: str) -> str:
    return f"{EXPLAIN_DIR}/{_safe(name)}.v{version}.{suffix}"


def log_explanation(model_uri: str, figures: dict[str, Any], report_html: str | None = None, *,
                    tracking_uri: str | None = None) -> str:
    """Store a version's explanation figures (``Explanation.to_json()``) and report beside it in its run.

    The figures go to ``explain/<name>.v<version>.json`` and the report to ``.html``; the version is tagged
    ``leanlearn.explained`` (the explanation's content hash). The review app shows the figures on the rule cards.

    Returns
    -------
    str
        The artifact path of the figures.

    Raises
    ------
    RegistryError
        No such model or version, or the figures explain another pack (their content hash differs).
    """
    import json

    store = tracking_uri or default_tracking_uri()
    _check_reachable(store)
    with _quiet(), _registry_errors(f"log the explanation of {model_uri!r}", store):
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=store, registry_uri=store)
        version = _find_version(client, model_uri)
        if not version.run_id:
            raise RegistryError(f"{version.name} version {version.version} has no run to log its explanation to")
        tags = dict(version.tags or {})
        known = {tags.get(f"{TAG_PREFIX}content_hash"), tags.get(f"{TAG_PREFIX}source_pack_hash")}
        explained = figures.get("content_hash")
        if explained and explained not in known:
            raise RegistryError(f"the explanation is of pack {explained}, not of {version.name} version "
                                f"{version.version} (pack {tags.get(f'{TAG_PREFIX}content_hash')}); explain that pack")
        name, number = str(version.name), str(version.version)
        path = _explain_path(name, number, "json")
        client.log_text(str(version.run_id), json.dumps(figures, ensure_ascii=False, allow_nan=False), path)
        if report_html is not None:
            client.log_text(str(version.run_id), report_html, _explain_path(name, number, "html"))
        client.set_model_version_tag(name, number, f"{TAG_PREFIX}explained", str(explained or "yes"))
        return path


def read_explanation(model_uri: str, *, tracking_uri: str | None = None) -> dict[str, Any] | None:
    """The explanation figures logged beside the version behind ``model_uri`` (``None`` if none was logged)."""
    import json

    text = _explained_artifact(model_uri, "json", "explanation", tracking_uri)
    doc = None if text is None else json.loads(text)
    return doc if isinstance(doc, dict) else None


def read_explanation_report(model_uri: str, *, tracking_uri: str | None = None) -> str | None:
    """The HTML report logged beside the version behind ``model_uri`` (``None`` if none was logged)."""
    return _explained_artifact(model_uri, "html", "explanation report", tracking_uri)


def _explained_artifact(model_uri: str, ext: str, what: str, tracking_uri: str | None) -> str | None:
    """The text of the ``ext`` explanation artifact of the version behind ``model_uri``, or ``None``."""
    store = tracking_uri or default_tracking_uri()
    _check_reachable(store)
    with _quiet(), _registry_errors(f"read the {what} of {model_uri!r}", store):
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=store, registry_uri=store)
        version = _find_version(client, model_uri)
        if not version.run_id or f"{TAG_PREFIX}explained" not in (version.tags or {}):
            return None
        with tempfile.TemporaryDirectory(prefix="leanlearn-") as tmp:
            try:
                local = client.download_artifacts(str(version.run_id),
                                                  _explain_path(version.name, version.version, ext), tmp)
            except Exception:  # the figures were logged without a report
                if ext == "json":
                    raise
                return None
            return Path(local).read_text(encoding="utf-8")
