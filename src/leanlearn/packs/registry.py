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

Registering is idempotent, and safe on a team server
----------------------------------------------------
Registering the same pack twice gives the same version: a version is found by its tag ``leanlearn.content_hash``
(the sub-pack's content hash) before anything is logged, and reused. Against a shared ``mlflow server`` (several
workers, PostgreSQL) with many clients at once, :func:`register_pack` guards against these races:

- *Version numbers.* MLflow's SQL store gives a new version ``MAX(version) + 1`` of the model inside the insert's
  transaction; two workers may compute the same number, and the loser's insert fails with an IntegrityError. The
  store rolls back and retries 3 times, then gives up ("Model Version creation error ... Giving up after 3
  attempts": a 500 from a server). Older releases retried without rolling back, so every retry failed. On
  PostgreSQL the update of the model's ``last_updated_time`` in the same transaction usually serialises creators
  (a row lock), but not always (the same millisecond, other databases).
- *Lost answers.* MLflow's HTTP client re-sends any request, POSTs included, after a 408/429/500/502/503/504 or a
  dropped connection; a create whose answer was lost *after* the server committed (a proxy's timeout, a worker
  that died) is sent again and makes a second version of the same content. leanlearn's own retries search by
  content hash before every new attempt, so a write that landed is never repeated.
- *The same pack at the same instant.* Two clients search, find nothing and both create: two versions with one
  content hash. Each client then searches again; the lowest version is kept, and each client deletes the versions
  its own run created above it (also one MLflow's HTTP client made by re-sending) and returns the lowest. Version
  numbers are never reused.
- *Creating the registered model or the experiment* at once: "already exists" (a 400), an IntegrityError or a 500
  from the other insert — tolerated by reading it again.
- *Aliases.* Setting an alias is a read-then-insert (a merge) in the SQL store: two clients at once can collide on
  the key. Retried, each retry first checking whether the alias already points at the version. The alias is last
  writer wins: after concurrent registrations ``candidate`` points at the one that finished last.

Transient failures (duplicate-key errors, HTTP 500/502/503/504, connection resets, a locked database) of these
writes are retried with exponential backoff and full jitter: at most :data:`RETRY_ATTEMPTS` attempts, waits up to
:data:`RETRY_MAX_WAIT` s, none started after :data:`RETRY_TOTAL_SECONDS` s; then one :class:`RegistryError`. A
permanent error (an invalid value, a permission) is raised at once. :attr:`RegisteredPack.retries` counts the
retries, and each is logged at DEBUG on the logger ``leanlearn.registry``. Not guarded by leanlearn: uploading the
model's artifacts (MLflow's own HTTP retries apply); a registration cut short may leave a run and a logged model
without a version (registering again is safe), and a deleted duplicate leaves its run behind.

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
>>> [again] = register_pack(pack, tracking_uri=uri)  # the same pack again: the same version
>>> again.version, again.reused
('1', True)
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
from dataclasses import dataclass, field, replace
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
        replace(pack, name=f"{pack.name}.{t.name}", targets=(t,), rules=pack.rules.for_target(t.name), signature=None)
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
    reused : bool
        ``True`` when a version holding this very sub-pack (same content hash) existed already and was reused.
    retries : int
        Transient registry failures retried while registering this sub-pack (0 on a quiet server).
    """

    name: str
    version: str
    target: str
    uri: str
    reused: bool = field(default=False, compare=False)
    retries: int = field(default=0, compare=False)

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


# -- review tags (written at registration and by review_rule) -------------------------------------------------------
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


# -- races and retries ---------------------------------------------------------------------------------------------
#: Attempts of one registry write (creating a version, moving an alias, creating a model or experiment), first included.
RETRY_ATTEMPTS = 8
#: Backoff before retry ``k`` (1, 2, ...): a random wait in ``[0, min(RETRY_MAX_WAIT, RETRY_BASE_WAIT * 2**(k-1))]``
#: seconds ("full jitter": clients that collided once do not collide again in lockstep).
RETRY_BASE_WAIT = 0.25
RETRY_MAX_WAIT = 8.0
#: No retry starts later than this many seconds after the first attempt of a write.
RETRY_TOTAL_SECONDS = 120.0
#: MLflow error codes of a failure that may pass: the database briefly unavailable or locked, a rate limit. An
#: ``INTERNAL_ERROR`` counts too when a tracking server answered it (a 500: e.g. its own "Model Version creation
#: error ... Giving up after 3 attempts"), not when raised in this process (MLflow's default code for anything).
_TRANSIENT_CODES = frozenset({"TEMPORARILY_UNAVAILABLE", "RESOURCE_EXHAUSTED", "REQUEST_LIMIT_EXCEEDED", "ABORTED",
                              "DEADLINE_EXCEEDED"})
#: Message fragments of a transient failure, whatever the code says (an IntegrityError the SQL store reports as
#: BAD_REQUEST, a 5xx answered by a proxy or a dying worker, a connection reset).
_TRANSIENT_TEXT = re.compile(
    r"integrityerror|unique constraint|duplicate key|duplicate entry|model version creation error|giving up after|"
    r"database is locked|deadlock|could not serialize|serialization failure|"
    r"too many 50[0234] error|\b50[0234]\b.*(error|gateway|unavailable|timeout)|internal server error|bad gateway|"
    r"service unavailable|gateway time-?out|connection (reset|aborted|refused)|remotedisconnected|broken pipe|"
    r"max retries exceeded|timed out|temporarily unavailable|server closed the connection",
    re.IGNORECASE,
)
_log = logging.getLogger("leanlearn.registry")


class _Retries:
    """Counts the transient failures retried for one sub-pack (reported as :attr:`RegisteredPack.retries`)."""

    def __init__(self) -> None:
        self.count = 0
        self.reasons: list[str] = []

    def seen(self, what: str, exc: BaseException) -> None:
        self.count += 1
        reason = f"{what}: {first_line(exc)}"[:300]
        self.reasons.append(reason)
        _log.debug("leanlearn registry retry %d (%s)", self.count, reason)


def _transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a registry failure that may pass when tried again (see :data:`_TRANSIENT_TEXT`)."""
    if isinstance(exc, (RegistryError, PackError)):
        return False
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    code = str(getattr(exc, "error_code", "") or "")
    if code in _TRANSIENT_CODES:
        return True
    if code == "INTERNAL_ERROR" and type(exc).__name__ == "RestException":
        return True
    module = type(exc).__module__ or ""
    if module.startswith(("requests", "urllib3", "http.client")) and not isinstance(exc, ValueError):
        return True
    return bool(_TRANSIENT_TEXT.search(str(exc)[:2000]))


def _backoff(attempt: int) -> float:
    """The random wait (seconds) before retry number ``attempt`` (1-based), exponential with full jitter."""
    import random

    return random.uniform(0.0, min(RETRY_MAX_WAIT, RETRY_BASE_WAIT * 2 ** (attempt - 1)))


def _with_retries(what: str, attempt_once: Any, retries: _Retries, landed: Any = None) -> Any:
    """Run ``attempt_once()`` until it succeeds, retrying transient failures (bounded attempts and time).

    Before every retry ``landed()`` (if given) asks the registry whether the failed attempt took effect after all
    (the server committed, then the answer was lost); a non-``None`` answer is returned instead of trying again, so
    a retried write never happens twice. A failure of that check is itself retried; nothing is written unless the
    check answered ``None``. A permanent failure is raised at once; transient ones, once attempts or time run out,
    as one :class:`RegistryError`.
    """
    started = time.monotonic()
    last: BaseException | None = None
    attempts = 0
    for attempt in range(RETRY_ATTEMPTS):
        attempts = attempt + 1
        if attempt:
            wait = _backoff(attempt)
            if time.monotonic() - started + wait > RETRY_TOTAL_SECONDS:
                attempts = attempt
                break
            time.sleep(wait)
            if landed is not None:
                try:
                    found = landed()
                except Exception as exc:
                    if not _transient(exc):
                        raise
                    retries.seen(f"{what} (checking the previous attempt)", exc)
                    last = exc
                    continue
                if found is not None:
                    return found
        try:
            return attempt_once()
        except Exception as exc:
            if not _transient(exc):
                raise
            retries.seen(what, exc)
            last = exc
    assert last is not None
    raise RegistryError(
        f"cannot {what}: the registry kept failing ({first_line(last)}) after {attempts} attempt(s) "
        f"in {time.monotonic() - started:.0f} s — check the tracking server's log, then register again (safe: the "
        "same pack gives the same version)"
    ) from last


def _ensure_experiment(client: Any, name: str, tracking_uri: str, retries: _Retries | None = None) -> str:
    """The id of experiment ``name``, created if missing; a concurrent creator (already exists, a duplicate-key
    IntegrityError or a 500 from another worker's insert) is tolerated by reading it again."""
    counter = retries or _Retries()

    def read() -> str | None:
        found = client.get_experiment_by_name(name)
        if found is None:
            return None
        if found.lifecycle_stage == "deleted":
            raise RegistryError(
                f"experiment {name!r} at {_redact(tracking_uri)!r} is deleted; restore it "
                "(mlflow experiments restore) or pass another experiment name"
            )
        return str(found.experiment_id)

    def create() -> str:
        try:
            return str(client.create_experiment(name, artifact_location=artifact_location(tracking_uri, name)))
        except Exception as exc:  # created meanwhile by someone else, or a transient failure
            if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS" and not _transient(exc):
                raise
            found = read()
            if found is None:
                raise
            return found

    existing = _with_retries(f"read experiment {name!r}", read, counter)
    return str(existing) if existing is not None else str(
        _with_retries(f"create experiment {name!r}", create, counter, landed=read))


def _ensure_registered_model(client: Any, name: str, line: str, target: str,
                             retries: _Retries | None = None) -> None:
    """Create registered model ``name`` if missing; a concurrent creator is tolerated (re-read)."""
    from mlflow.exceptions import MlflowException

    counter = retries or _Retries()

    def exists() -> bool | None:
        try:
            client.get_registered_model(name)
            return True
        except MlflowException as exc:
            if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
                raise
            return None

    def create() -> bool:
        try:
            client.create_registered_model(
                name,
                tags={f"{TAG_PREFIX}line": line, f"{TAG_PREFIX}target": target},
                description=f"leanlearn rule packs for target {target!r} on line {line!r}",
            )
        except Exception as exc:  # created meanwhile by someone else (already exists, IntegrityError, 500)
            if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS" and not _transient(exc):
                raise
            if not exists():
                raise
        return True

    if not _with_retries(f"read registered model {name!r}", exists, counter):
        _with_retries(f"create registered model {name!r}", create, counter, landed=exists)


def _scalar_params(prefix: str, values: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in values.items():
        if value is None or isinstance(value, (str, int, float, bool)):
            out[f"{prefix}{key}"] = str(value)[:500]
    return out


def _metric_name(text: str) -> str:
    return re.sub(r"[^\w\-. /]+", "_", text)


# -- what a version carries from its pack --------------------------------------------------------------------------
#: Version tag holding the sub-pack's content hash: the key registration is idempotent by.
CONTENT_HASH_TAG = f"{TAG_PREFIX}content_hash"
#: Lineage fields of an imported pack written as version tags ``leanlearn.lineage.<field>`` (missing ones skipped).
LINEAGE_TAG_FIELDS: tuple[str, ...] = ("source_line", "source_model", "source_version", "source_content_hash",
                                       "mapping_hash", "target_data_fingerprint", "imported")
LINEAGE_TAG = f"{TAG_PREFIX}lineage."
#: Version tag listing the aliases the source version had (comma-joined, sorted): what they meant at the origin.
SOURCE_ALIASES_TAG = f"{TAG_PREFIX}source_aliases"


def pack_version_tags(sub: RulePack, source_hash: str, line: str) -> dict[str, str]:
    """The tags a new version of the one-target pack ``sub`` is created with (so it never exists without them).

    The basics (``leanlearn.content_hash``, ``.n_rules``, ``.target``, ``.line``, ``.pack``, ``.source_pack_hash``);
    for a pack with ``lineage`` the tags ``leanlearn.lineage.<field>`` of :data:`LINEAGE_TAG_FIELDS` (missing or
    empty ones skipped) and ``leanlearn.source_aliases``; for every rule whose review is not ``pending``, the review
    tags :func:`review_rule` writes (decision, by, at, reason, comment); and ``leanlearn.review``: ``decided`` when
    the pack has rules and every one is decided, else ``pending``.

    Raises
    ------
    RegistryError
        A decided rule's id cannot name an MLflow tag.

    Examples
    --------
    >>> from leanlearn.mining.rules import Condition, Review, Rule, RuleSet
    >>> from leanlearn.packs.pack import Target
    >>> rule = Rule((Condition("torque", ">=", 60.0),), Condition("scrap", "==", 1), support=0.1, coverage=0.1,
    ...             confidence=0.9, lift=4.5, leverage=0.08, conviction=8.0, n=10, hits=9, p_value=1e-4,
    ...             p_value_raw=1e-5, ci=(0.6, 0.98), base_rate=0.2, id="R1",
    ...             review=Review("approved", by="ana", at="2026-01-02T03:04:05+00:00"))
    >>> pack = RulePack(name="p", line="L2", targets=(Target("scrap"),), rules=RuleSet((rule,)),
    ...                 lineage={"source_line": "L1", "source_version": "3", "source_aliases": ["production"]})
    >>> tags = pack_version_tags(pack, pack.content_hash, "L2")
    >>> tags["leanlearn.lineage.source_line"], tags["leanlearn.source_aliases"], tags["leanlearn.review"]
    ('L1', 'production', 'decided')
    >>> tags["leanlearn.review.R1"], tags["leanlearn.review_by.R1"]
    ('approved', 'ana')
    """
    tags = {
        CONTENT_HASH_TAG: sub.content_hash,
        f"{TAG_PREFIX}n_rules": str(len(sub.rules)),
        REVIEW_TAG: "pending",
        f"{TAG_PREFIX}target": sub.targets[0].name,
        f"{TAG_PREFIX}line": line,
        f"{TAG_PREFIX}pack": sub.name,
        f"{TAG_PREFIX}source_pack_hash": source_hash,
    }
    lineage = sub.lineage if isinstance(sub.lineage, dict) else {}
    for key in LINEAGE_TAG_FIELDS:
        value = lineage.get(key)
        if value is not None and not isinstance(value, (dict, list)) and str(value).strip():
            tags[LINEAGE_TAG + key] = str(value)
    aliases = lineage.get("source_aliases")
    if isinstance(aliases, list) and any(str(a).strip() for a in aliases):
        tags[SOURCE_ALIASES_TAG] = ",".join(sorted({str(a).strip() for a in aliases if str(a).strip()}))
    for rule in sub.rules:
        review = rule.review
        if review.status == "pending" and not review.comment:
            continue
        rid = str(rule.id)
        if not _TAG_SAFE_ID.match(rid):
            raise RegistryError(f"rule {rid!r} of pack {sub.name!r} has a review record but its id cannot name an "
                                "MLflow tag (letters, digits, _ - . / and spaces only, at most 180); rename the rule")
        values = {REVIEW_BY_TAG: review.by, REVIEW_AT_TAG: review.at, REVIEW_REASON_TAG: review.reason}
        if review.status != "pending":
            tags[REVIEW_RULE_TAG + rid] = review.status
            tags.update({prefix + rid: str(value) for prefix, value in values.items() if value})
        if review.comment:
            tags[REVIEW_COMMENT_TAG + rid] = str(review.comment)
    if len(sub.rules) and all(r.review.status != "pending" for r in sub.rules):
        tags[REVIEW_TAG] = "decided"
    return tags


# -- idempotent, race-safe version creation ------------------------------------------------------------------------
def _quote(text: str) -> str:
    """``text`` as a single-quoted MLflow search-filter string."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def versions_with_hash(client: Any, name: str, content_hash: str) -> list[Any]:
    """The live versions of registered model ``name`` tagged ``leanlearn.content_hash`` = ``content_hash``,
    lowest version first (several only when two clients registered the same pack at the same instant)."""
    found = client.search_model_versions(
        f"name = {_quote(name)} AND tags.`{CONTENT_HASH_TAG}` = {_quote(content_hash)}")
    live = [v for v in found if str(getattr(v, "status", "READY") or "READY") != "FAILED_REGISTRATION"
            and str(getattr(v, "current_stage", "") or "") != "Deleted_Internal"]
    return sorted(live, key=lambda v: int(v.version))


def _create_version(client: Any, name: str, content_hash: str, retries: _Retries, **create: Any) -> Any:
    """Create a version of ``name`` — at most one per content hash, whatever fails on the way.

    Transient failures are retried (:func:`_with_retries`); before each retry the registry is searched by content
    hash, and a version that landed (the server committed, then the answer was lost) is returned instead of
    creating another. When another client registered the same pack at the same instant, the lowest version wins
    and every other version this run created is deleted (:func:`_settle_duplicates`).
    """
    def landed() -> Any:
        same = versions_with_hash(client, name, content_hash)
        return same[0] if same else None

    version = _with_retries(f"create a version of {name!r}", lambda: client.create_model_version(name, **create),
                            retries, landed=landed)
    return _settle_duplicates(client, name, content_hash, version, str(create.get("run_id") or ""), retries)


def _settle_duplicates(client: Any, name: str, content_hash: str, mine: Any, run_id: str, retries: _Retries) -> Any:
    """Keep the lowest of the versions holding ``content_hash``; delete the others that run ``run_id`` created.

    Versions of other runs are their creators' to delete (each client settles its own), so two clients that
    registered the same pack at once end with one version, and a client never deletes what another still returns.
    A version of ours the registry made twice (MLflow's HTTP client re-sent a create whose answer was lost) goes too.
    """
    from mlflow.exceptions import MlflowException

    same = _with_retries(f"check {name!r} for duplicates", lambda: versions_with_hash(client, name, content_hash),
                         retries)
    if not same:
        return mine
    keep, extra = same[0], [v for v in same[1:] if run_id and str(getattr(v, "run_id", "") or "") == run_id]
    for duplicate in extra:
        number = str(duplicate.version)
        _log.debug("leanlearn registry: %s version %s duplicates version %s (same content hash); deleting ours",
                   name, number, keep.version)

        def delete(number: str = number) -> bool:
            try:
                client.delete_model_version(name, number)
            except MlflowException as exc:
                if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
                    raise
            return True

        _with_retries(f"delete duplicate version {number} of {name!r}", delete, retries)
    return keep


def _set_alias(client: Any, name: str, alias: str, version: str, retries: _Retries) -> None:
    """Point ``alias`` of ``name`` at ``version``; transient failures retried, each retry first checking whether
    the alias already points there."""
    from mlflow.exceptions import MlflowException

    def landed() -> bool | None:
        try:
            current = client.get_model_version_by_alias(name, alias)
        except MlflowException as exc:
            if getattr(exc, "error_code", "") not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise
            return None
        return True if str(current.version) == str(version) else None

    _with_retries(f"set alias {alias!r} of {name!r} to version {version}",
                  lambda: client.set_registered_model_alias(name, alias, version) or True, retries, landed=landed)


# -- public API ----------------------------------------------------------------------------------------------------
def register_pack(
    pack: RulePack,
    *,
    tracking_uri: str | None = None,
    alias: str = "candidate",
    experiment: str = "leanlearn",
) -> list[RegisteredPack]:
    """Log ``pack`` to MLflow and register one model version per target — once: registering the same pack twice
    gives the same version.

    For each target the sub-pack holding only that target's rules (see :func:`split_pack`) becomes a version of
    ``leanlearn.<line>.<target>``. A version already holding that sub-pack (tag ``leanlearn.content_hash``, the
    sub-pack's content hash) is reused: ``alias`` moves to it and nothing is logged. Only missing sub-packs are
    logged, in one MLflow run (in ``experiment``) holding the whole pack JSON (artifact ``pack/``), its parameters
    and rule counts, each as a ``pyfunc`` model from code; when every sub-pack exists already no run is made.

    A new version is created with its tags (:func:`pack_version_tags`: content hash, rule count, target, line, pack,
    source pack hash, the lineage of an imported pack, the review records the pack carries, ``leanlearn.review``),
    so it never exists without them. Transient failures of a busy server (duplicate version numbers, HTTP 5xx,
    connection resets) are retried with backoff, every retry first checking by content hash whether the previous
    attempt landed; two clients registering the same pack at once end with one version (the lowest).

    Parameters
    ----------
    pack : RulePack
        The pack to register.
    tracking_uri : str, optional
        MLflow tracking (and registry) URI; default :func:`default_tracking_uri`.
    alias : str
        Alias set on each version (letters, digits, ``_`` and ``-``).
    experiment : str
        MLflow experiment of the run; created if missing (artifacts never land in the current directory).

    Returns
    -------
    list of RegisteredPack
        One per target, in the pack's target order (``reused`` says whether the version existed already,
        ``retries`` how many transient failures were retried).

    Raises
    ------
    RegistryError
        The tracking store cannot be reached, a name or the alias is invalid, MLflow refuses the model, or the
        registry kept failing for :data:`RETRY_ATTEMPTS` attempts or :data:`RETRY_TOTAL_SECONDS` seconds.
    """
    if not _ALIAS.match(alias) or alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        raise RegistryError(
            f"alias {alias!r} is not usable: use letters, digits, '_' and '-', not 'latest' nor a version like 'v2'"
        )
    subpacks = split_pack(pack)
    names = [model_name(pack.line, sub.targets[0].name) for sub in subpacks]
    uri = tracking_uri or default_tracking_uri()
    full_hash = pack.content_hash
    all_tags = [pack_version_tags(sub, full_hash, pack.line) for sub in subpacks]  # refuses before the store
    _check_reachable(uri)
    counters = [_Retries() for _ in subpacks]
    found: list[Any] = []
    with _quiet(), _using(uri) as mlflow, _registry_errors(f"register rule pack {pack.name!r}", uri):
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        for sub, name, tags, counter in zip(subpacks, names, all_tags, counters, strict=True):
            _ensure_registered_model(client, name, pack.line, sub.targets[0].name, counter)
            same = _with_retries(f"search {name!r} by content hash",
                                 lambda n=name, h=tags[CONTENT_HASH_TAG]: versions_with_hash(client, n, h), counter)
            found.append(same[0] if same else None)
        versions = list(found)
        missing = [i for i, version in enumerate(found) if version is None]
        if missing:
            made = _log_and_create(mlflow, client, pack, [subpacks[i] for i in missing], [names[i] for i in missing],
                                   [all_tags[i] for i in missing], [counters[i] for i in missing], uri, experiment)
            for i, version in zip(missing, made, strict=True):
                versions[i] = version
        registered = []
        for sub, name, version, existed, counter in zip(subpacks, names, versions, found, counters, strict=True):
            number = str(version.version)
            _set_alias(client, name, alias, number, counter)
            registered.append(RegisteredPack(name, number, sub.targets[0].name, f"models:/{name}@{alias}",
                                             reused=existed is not None, retries=counter.count))
    return registered


def _log_and_create(mlflow: Any, client: Any, pack: RulePack, subpacks: list[RulePack], names: list[str],
                    all_tags: list[dict[str, str]], counters: list[_Retries], uri: str, experiment: str) -> list[Any]:
    """One run holding ``pack``; each of ``subpacks`` logged as a model and made a version (see
    :func:`_create_version`). Returns the versions, in order."""
    full_doc = pack.to_json()
    requirements = _requirements()
    experiment_id = _ensure_experiment(client, experiment, uri, counters[0])
    nested = mlflow.active_run() is not None
    versions = []
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
        for sub in split_pack(pack):
            target = sub.targets[0].name
            metrics[_metric_name(f"n_rules.{target}")] = float(len(sub.rules))
            if len(sub.rules):
                metrics[_metric_name(f"max_confidence.{target}")] = max(r.confidence for r in sub.rules)
                metrics[_metric_name(f"max_lift.{target}")] = max(r.lift for r in sub.rules)
        mlflow.log_metrics(metrics)
        full_path = pack.save(tmp_path / "full" / f"{_safe(pack.name)}.json")
        mlflow.log_artifact(str(full_path), artifact_path="pack")
        code = _bundle_source(tmp_path / "code")

        for sub, name, tags, counter in zip(subpacks, names, all_tags, counters, strict=True):
            target = sub.targets[0].name
            pack_path = sub.save(tmp_path / "targets" / _safe(target) / "pack.json")
            basic = {k: v for k, v in tags.items() if k in _LOGGED_MODEL_TAGS}
            info = mlflow.pyfunc.log_model(
                name=_safe(f"rulepack-{target}"),
                python_model=str(MODEL_FILE),
                artifacts={PACK_ARTIFACT: str(pack_path)},
                code_paths=[str(code)],
                pip_requirements=requirements,
                metadata={"leanlearn": {"pack": sub.name, "line": pack.line, "target": target,
                                        "content_hash": tags[CONTENT_HASH_TAG], "n_rules": len(sub.rules)}},
                tags=basic,
            )
            description = f"{len(sub.rules)} rule(s) for {target} on line {pack.line} from pack {pack.name}"
            if pack.description:
                description += f": {pack.description}"
            versions.append(_create_version(
                client, name, tags[CONTENT_HASH_TAG], counter, source=info.model_uri, run_id=run.info.run_id,
                tags=tags, description=description, model_id=info.model_id,
            ))
    return versions


#: Tags the logged model (not only the version) carries.
_LOGGED_MODEL_TAGS = frozenset({CONTENT_HASH_TAG, f"{TAG_PREFIX}n_rules", REVIEW_TAG, f"{TAG_PREFIX}target",
                                f"{TAG_PREFIX}line", f"{TAG_PREFIX}pack", f"{TAG_PREFIX}source_pack_hash"})


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
