"""Rule packs between registries and lines: list, export, find, the validation record and the promotion gate.

- :func:`list_packs` — every registered pack version: line, target, aliases, review state, source line (for an
  imported pack), validation status, rules, content hash;
- :func:`export_pack` — a version's verified pack as a new document: each rule's review record filled in from the
  version's tags, the lineage extended by ``exported_from`` (model, version, aliases, review summary, content hash,
  when). Unsigned: an export is a new document, sign it again;
- :func:`find_versions` — the versions registered with a content hash;
- :func:`log_validation` / :func:`read_validation` — a transfer validation (report and gate result) stored beside the
  version it validated, refused when it validated another pack;
- :func:`promote` — aliases, with the gate: ``production`` (:data:`GATED_ALIASES`) only for a version whose recorded
  validation passed the gate *and* validated this very content; otherwise refused, saying what is missing and which
  command fixes it. An override needs a reason and is recorded (version tags and a review-log line).

What travels in an export and what does not
-------------------------------------------
Every rule with all its evidence, its review record (decision, who, when, why, the latest comment), the pack's
lineage and where the export came from (its aliases are recorded as lineage, their *meaning* — "approved on line
L1" — travels, the aliases themselves do not: an imported version starts as ``candidate`` and reaches
``production`` on its new line only through that line's validation). The validation record of the source line
stays there (it judged the source line's data); the signature does not travel (the content changed).

MLflow is imported lazily, as in :mod:`leanlearn.packs.registry`.

Examples
--------
>>> from leanlearn.mining.rules import Condition, Rule, RuleSet
>>> from leanlearn.packs.pack import RulePack, Target
>>> from leanlearn.packs.registry import register_pack, review_rule
>>> rule = Rule((Condition("torque", ">=", 60.0),), Condition("scrap", "==", 1), support=0.1, coverage=0.1,
...             confidence=0.9, lift=4.5, leverage=0.08, conviction=8.0, n=10, hits=9, p_value=1e-4,
...             p_value_raw=1e-5, ci=(0.6, 0.98), base_rate=0.2, id="R1")
>>> pack = RulePack(name="demo", line="L1", targets=(Target("scrap"),), rules=RuleSet((rule,)))
>>> uri = "sqlite:///" + str(getfixture("tmp_path") / "mlflow.db")
>>> [registered] = register_pack(pack, tracking_uri=uri)
>>> _ = review_rule(registered.version_uri, "R1", "approved", "ana", tracking_uri=uri)
>>> exported = export_pack(registered.version_uri, tracking_uri=uri)
>>> exported.rules[0].review.status, exported.rules[0].review.by, exported.lineage["exported_from"]["version"]
('approved', 'ana', '1')
>>> [(v.name, v.version, v.aliases, v.review, v.validation) for v in list_packs(tracking_uri=uri)]
[('leanlearn.L1.scrap', '1', ('candidate',), 'decided', 'none')]
>>> promote("leanlearn.L1.scrap", "1", "production", by="ana", tracking_uri=uri)
Traceback (most recent call last):
...
leanlearn.errors.RegistryError: cannot promote leanlearn.L1.scrap version 1 to 'production': it has no validation ...
"""

from __future__ import annotations

import getpass
import json
import os
import re
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leanlearn.errors import RegistryError
from leanlearn.mining.rules import Review, RuleSet
from leanlearn.packs import registry as _reg
from leanlearn.packs.pack import RulePack
from leanlearn.packs.registry import (
    APPROVED_ALIAS,
    CONTENT_HASH_TAG,
    MAX_REASON_CHARS,
    MAX_REVIEWER_CHARS,
    REVIEW_TAG,
    TAG_PREFIX,
    _append_review_log,
    _check_reachable,
    _clean_text,
    _find_version,
    _parse_model_uri,
    _quiet,
    _registry_errors,
    _safe,
    _state_from,
    default_tracking_uri,
)

__all__ = ["GATED_ALIASES", "PackVersion", "Promotion", "default_reviewer", "export_pack", "find_versions",
           "list_packs", "log_validation", "promote", "read_validation", "validation_path"]

#: Aliases only a version whose recorded validation passed the gate (or an override with a reason) may get.
GATED_ALIASES: tuple[str, ...] = ("production",)
#: Folder of the run's validation artifacts: ``<name>.v<version>.json`` (report and gate) and ``.html``.
VALIDATION_DIR = "validation"
VALIDATION_TAG = f"{TAG_PREFIX}validation"
VALIDATION_COUNTS_TAG = f"{TAG_PREFIX}validation.counts"
VALIDATION_GATE_TAG = f"{TAG_PREFIX}validation.gate"
VALIDATION_HASH_TAG = f"{TAG_PREFIX}validation.content_hash"
VALIDATION_AT_TAG = f"{TAG_PREFIX}validation.at"
VALIDATION_ROWS_TAG = f"{TAG_PREFIX}validation.rows"
VALIDATION_MARGIN_TAG = f"{TAG_PREFIX}validation.margin"
TARGET_FINGERPRINT_TAG = f"{TAG_PREFIX}lineage.target_data_fingerprint"
SOURCE_LINE_TAG = f"{TAG_PREFIX}lineage.source_line"
SOURCE_PACK_HASH_TAG = f"{TAG_PREFIX}source_pack_hash"
#: Longest tag value leanlearn writes (MLflow stores differ; every store takes this much).
MAX_TAG_CHARS = 4000
_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
_ALIAS = re.compile(r"^[\w\-]+$")
_FIX_VALIDATE = "leanlearn pack validate PACK.json DATA --model models:/{name}/{version}"


# -- helpers -------------------------------------------------------------------------------------------------------
def default_reviewer() -> str:
    """Who acts when nobody is named: ``LEANLEARN_REVIEWER``, else the login name (``""`` if neither is known)."""
    name = os.environ.get("LEANLEARN_REVIEWER", "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):  # no login name (e.g. a container user without a passwd entry)
        return ""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _client(store: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=store, registry_uri=store)


def _store(tracking_uri: str | None) -> str:
    store = tracking_uri or default_tracking_uri()
    _check_reachable(store)
    return store


def _aliases_of(client: Any, name: str, version: str) -> tuple[str, ...]:
    aliases = client.get_registered_model(name).aliases or {}
    return tuple(sorted(str(a) for a, v in aliases.items() if str(v) == str(version)))


def _clip(text: str, limit: int = MAX_TAG_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_alias(alias: Any) -> str:
    if not isinstance(alias, str) or not _ALIAS.match(alias) or alias.lower() == "latest" \
            or re.fullmatch(r"[vV]\d+", alias):
        raise RegistryError(f"alias {alias!r} is not usable: use letters, digits, '_' and '-', not 'latest' nor a "
                            "version like 'v2'")
    return alias


def _version_number(version: Any) -> str:
    text = str(version).strip()
    if not text.isdigit() or len(text) > 18:
        raise RegistryError(f"version {version!r} is not a model version number; list them with leanlearn pack list")
    return str(int(text))


# -- listing -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PackVersion:
    """One registered pack version, as :func:`list_packs` sees it.

    Attributes
    ----------
    name, version : str
        Registered model (``leanlearn.<line>.<target>``) and version number.
    line, target : str
    aliases : tuple of str
        Aliases pointing at the version.
    review : str
        ``pending``, ``decided`` or ``approved`` (the version's ``leanlearn.review`` tag).
    source_line : str or None
        The line an imported pack came from (``None`` for a pack mined on its own line).
    validation : str
        ``passed``, ``failed`` or ``none`` (no transfer validation recorded).
    n_rules : int
    content_hash : str
    created : str
        When the version was registered (UTC, ISO 8601).
    """

    name: str
    version: str
    line: str
    target: str
    aliases: tuple[str, ...]
    review: str
    source_line: str | None
    validation: str
    n_rules: int
    content_hash: str
    created: str

    @property
    def version_uri(self) -> str:
        """``models:/<name>/<version>``."""
        return f"models:/{self.name}/{self.version}"

    def to_json(self) -> dict[str, Any]:
        """The version as plain JSON (aliases a list)."""
        return {"name": self.name, "version": self.version, "uri": self.version_uri, "line": self.line,
                "target": self.target, "aliases": list(self.aliases), "review": self.review,
                "source_line": self.source_line, "validation": self.validation, "n_rules": self.n_rules,
                "content_hash": self.content_hash, "created": self.created}


def _created(version: Any) -> str:
    stamp = getattr(version, "creation_timestamp", None)
    if not isinstance(stamp, (int, float)):
        return ""
    return datetime.fromtimestamp(stamp / 1000, UTC).isoformat(timespec="seconds")


def _pages(call: Any, **kwargs: Any) -> list[Any]:
    out: list[Any] = []
    token = None
    while True:
        page = call(page_token=token, **kwargs)
        out.extend(page)
        token = getattr(page, "token", None)
        if not token:
            return out


def list_packs(*, line: str | None = None, tracking_uri: str | None = None) -> list[PackVersion]:
    """Every registered leanlearn pack version, newest version first per model (models by name).

    Parameters
    ----------
    line : str, optional
        Only the versions registered for this line.
    tracking_uri : str, optional
        Default :func:`leanlearn.packs.registry.default_tracking_uri`.

    Raises
    ------
    RegistryError
        The store cannot be reached.
    """
    if line is not None and (not isinstance(line, str) or not line.strip()):
        raise RegistryError(f"line {line!r} is not a line name; leave it out to list every line")
    store = _store(tracking_uri)
    out: list[PackVersion] = []
    with _quiet(), _registry_errors("list the registered rule packs", store):
        client = _client(store)
        for model in _pages(client.search_registered_models, filter_string="name LIKE 'leanlearn.%'"):
            name = str(model.name)
            model_tags = dict(getattr(model, "tags", None) or {})
            by_version: dict[str, list[str]] = {}
            for alias, number in (client.get_registered_model(name).aliases or {}).items():
                by_version.setdefault(str(number), []).append(str(alias))
            quoted = name.replace("'", "\\'")
            for version in _pages(client.search_model_versions, filter_string=f"name = '{quoted}'"):
                tags = dict(version.tags or {})
                version_line = tags.get(f"{TAG_PREFIX}line") or model_tags.get(f"{TAG_PREFIX}line") or ""
                if line is not None and version_line != line:
                    continue
                n_rules = tags.get(f"{TAG_PREFIX}n_rules", "")
                validation = tags.get(VALIDATION_TAG, "none")
                out.append(PackVersion(
                    name=name, version=str(version.version), line=version_line,
                    target=tags.get(f"{TAG_PREFIX}target") or model_tags.get(f"{TAG_PREFIX}target") or "",
                    aliases=tuple(sorted(by_version.get(str(version.version), ()))),
                    review=tags.get(REVIEW_TAG, "pending"), source_line=tags.get(SOURCE_LINE_TAG) or None,
                    validation=validation if validation in ("passed", "failed") else "none",
                    n_rules=int(n_rules) if n_rules.isdigit() else 0,
                    content_hash=tags.get(CONTENT_HASH_TAG, ""), created=_created(version),
                ))
    return sorted(out, key=lambda v: (v.name, -int(v.version)))


def find_versions(content_hash: str, *, tracking_uri: str | None = None) -> list[str]:
    """The version URIs (``models:/<name>/<version>``) registered with this content hash, by name and version.

    >>> find_versions("sha256:" + "0" * 64, tracking_uri="sqlite:///" + str(getfixture("tmp_path") / "m.db"))
    []
    """
    if not isinstance(content_hash, str) or not _HASH.match(content_hash):
        raise RegistryError(f"{content_hash!r:.90} is not a content hash; it looks like sha256:<64 hex digits>")
    store = _store(tracking_uri)
    with _quiet(), _registry_errors(f"find the versions of pack {content_hash[:19]}…", store):
        client = _client(store)
        found = _pages(client.search_model_versions,
                       filter_string=f"name LIKE 'leanlearn.%' AND tags.`{CONTENT_HASH_TAG}` = '{content_hash}'")
        hits = {(str(v.name), int(v.version)) for v in found
                if dict(v.tags or {}).get(CONTENT_HASH_TAG) == content_hash}
    return [f"models:/{name}/{number}" for name, number in sorted(hits)]


# -- export --------------------------------------------------------------------------------------------------------
def export_pack(model_uri: str, *, tracking_uri: str | None = None) -> RulePack:
    """The verified pack of the version behind ``model_uri``, with its review record and lineage, as a new document.

    Each rule's ``review`` is the version's record (its tags: decision, who, when, why, the latest comment); the
    lineage is the pack's own plus ``exported_from``: ``model``, ``version``, ``aliases`` (list), ``review`` (the
    version's summary: pending, decided or approved), ``content_hash`` (as registered), ``validation`` (passed,
    failed or none) and ``at`` (UTC). The export carries no signature (its content differs from what was signed):
    sign it again with ``leanlearn pack sign``.

    Parameters
    ----------
    model_uri : str
        ``models:/<name>/<version>`` or ``models:/<name>@<alias>``.
    tracking_uri : str, optional
        Default :func:`leanlearn.packs.registry.default_tracking_uri`.

    Raises
    ------
    RegistryError
        No such model, version or alias, or the store cannot be reached.
    PackError
        The registered artifact is not a valid pack (changed after it was written).
    """
    _parse_model_uri(model_uri)
    store = _store(tracking_uri)
    with _quiet(), _registry_errors(f"export {model_uri!r}", store):
        client = _client(store)
        found = _find_version(client, model_uri)
        name, number = str(found.name), str(found.version)
        version = client.get_model_version(name, number)
        pack = _reg.load_pack(f"models:/{name}/{number}", tracking_uri=store)
        state = _state_from(version, pack)
        aliases = _aliases_of(client, name, number)
    tags = dict(version.tags or {})
    records = {r.rule_id: r for r in state.rules}
    rules = []
    for rule in pack.rules:
        record = records[str(rule.id)]
        if record.decision == "pending" and not record.comment:
            review = rule.review  # nothing recorded in the registry: keep what the pack says
        else:
            review = Review(record.decision, record.reviewer, record.at,  # type: ignore[arg-type]
                            record.comment or rule.review.comment, record.reason or None)
        rules.append(replace(rule, review=review))
    validation = tags.get(VALIDATION_TAG, "none")
    lineage = dict(pack.lineage)
    lineage["exported_from"] = {
        "model": name, "version": number, "aliases": list(aliases),
        "review": "approved" if APPROVED_ALIAS in aliases else tags.get(REVIEW_TAG, state.summary),
        "content_hash": tags.get(CONTENT_HASH_TAG, pack.source_hash or pack.content_hash),
        "validation": validation if validation in ("passed", "failed") else "none",
        "at": _now(),
    }
    return replace(pack, rules=RuleSet(tuple(rules)), lineage=lineage, signature=None)


# -- validation record ---------------------------------------------------------------------------------------------
def validation_path(name: str, version: str, suffix: str = "json") -> str:
    """Artifact path (in the version's run) of a version's validation: ``validation/<name>.v<version>.<suffix>``."""
    return f"{VALIDATION_DIR}/{_safe(name)}.v{version}.{suffix}"


def _as_json(value: Any, what: str) -> dict[str, Any]:
    to_json = getattr(value, "to_json", None)
    doc = to_json() if callable(to_json) else value
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            doc = None
    if not isinstance(doc, dict):
        raise RegistryError(f"the {what} is not a leanlearn {what} (it has no to_json() giving an object); pass the "
                            f"one leanlearn.packs.{'transfer' if what == 'report' else 'gate'} made")
    return doc


def _field(obj: Any, doc: dict[str, Any], key: str) -> Any:
    value = getattr(obj, key, None)
    return doc.get(key) if value is None else value


def log_validation(model_uri: str, report: Any, gate_result: Any, *, report_html: str | None = None,
                   tracking_uri: str | None = None, by: str | None = None) -> str:
    """Store a transfer validation beside the version it validated: artifacts, tags, a review-log line.

    ``report`` is a :class:`leanlearn.packs.transfer.TransferReport` (``content_hash``, ``data_fingerprint``,
    ``counts``, ``margin``, ``to_json()``), ``gate_result`` a :class:`leanlearn.packs.gate.GateResult`
    (``passed``, ``reasons``, ``to_json()``). The report must have validated this very pack: its content hash must
    be the version's (or, for a version split from a multi-target pack, the whole pack's: the gate then judged every
    target's rules together), and a report naming the line it judged (``target``) must name the version's line.

    Written: artifacts ``validation/<name>.v<version>.json`` (report, gate, when, by) and ``.html`` (the report, if
    given) in the version's run; version tags ``leanlearn.validation`` (``passed``/``failed``),
    ``leanlearn.validation.counts`` (verdict counts, JSON), ``leanlearn.validation.gate`` (JSON: passed, reasons),
    ``leanlearn.validation.content_hash``, ``leanlearn.validation.at``, ``leanlearn.validation.rows``,
    ``leanlearn.validation.margin`` and ``leanlearn.lineage.target_data_fingerprint`` (sha256 of the target data);
    and a line ``{"event": "validation", ...}`` in the version's review log. A later validation replaces the tags;
    the log keeps every one.

    Returns
    -------
    str
        The artifact path of the validation JSON.

    Raises
    ------
    RegistryError
        No such model or version, the report validated another pack or judged another line, or it lacks its data
        fingerprint.
    """
    report_doc = _as_json(report, "report")
    gate_doc = _as_json(gate_result, "gate result")
    validated = _field(report, report_doc, "content_hash")
    if not isinstance(validated, str) or not _HASH.match(validated):
        raise RegistryError(f"the validation report names no pack content hash (got {validated!r:.80}); validate "
                            "the pack with leanlearn pack validate")
    fingerprint = _field(report, report_doc, "data_fingerprint")
    sha = fingerprint.get("sha256") if isinstance(fingerprint, dict) else None
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise RegistryError("the validation report has no fingerprint of the data it judged (data_fingerprint "
                            "with a sha256); validate the pack again with leanlearn pack validate")
    rows = fingerprint.get("rows") if isinstance(fingerprint, dict) else None
    passed = _field(gate_result, gate_doc, "passed")
    if not isinstance(passed, bool):
        raise RegistryError(f"the gate result says neither passed nor failed (passed={passed!r:.40})")
    reasons = _field(gate_result, gate_doc, "reasons") or []
    reasons = [str(r) for r in reasons] if isinstance(reasons, (list, tuple)) else [str(reasons)]
    counts = _field(report, report_doc, "counts") or {}
    margin = _field(report, report_doc, "margin")
    if report_html is not None and not isinstance(report_html, str):
        raise RegistryError(f"report_html must be the report's HTML text, not {type(report_html).__name__}")
    who = _clean_text(by if by is not None else default_reviewer(), "the name of who validated", MAX_REVIEWER_CHARS,
                      one_line=True) or "unknown"
    store = _store(tracking_uri)
    with _quiet(), _registry_errors(f"log the validation of {model_uri!r}", store):
        client = _client(store)
        version = _find_version(client, model_uri)
        name, number = str(version.name), str(version.version)
        tags = dict(version.tags or {})
        known = {tags.get(CONTENT_HASH_TAG), tags.get(SOURCE_PACK_HASH_TAG)} - {None}
        if validated not in known:
            fix = _FIX_VALIDATE.format(name=name, version=number)
            raise RegistryError(f"the validation report is of pack {validated}, not of {name} version {number} (pack "
                                f"{tags.get(CONTENT_HASH_TAG)}); validate that version: {fix}")
        judged_line = _field(report, report_doc, "target")
        version_line = tags.get(f"{TAG_PREFIX}line")
        if isinstance(judged_line, str) and judged_line not in ("", "target") and version_line \
                and judged_line != version_line:
            raise RegistryError(f"the validation report judged the pack on line {judged_line!r}, but {name} version "
                                f"{number} is registered for line {version_line!r}; production on a line needs that "
                                f"line's validation — validate it on {version_line}'s data")
        if not version.run_id:
            raise RegistryError(f"{name} version {number} has no run to log its validation to; register it again")
        at = _now()
        status = "passed" if passed else "failed"
        doc = {"model": name, "version": number, "status": status, "content_hash": validated, "at": at, "by": who,
               "report": report_doc, "gate": gate_doc}
        path = validation_path(name, number)
        run_id = str(version.run_id)
        client.log_text(run_id, json.dumps(doc, ensure_ascii=False, allow_nan=False, default=str), path)
        if report_html is not None:
            client.log_text(run_id, report_html, validation_path(name, number, "html"))
        gate_tag = json.dumps({"passed": passed, "reasons": reasons}, ensure_ascii=False, default=str)
        if len(gate_tag) > MAX_TAG_CHARS:
            gate_tag = json.dumps({"passed": passed, "reasons": [_clip(r, 300) for r in reasons[:10]],
                                   "more": max(len(reasons) - 10, 0)}, ensure_ascii=False)
        new_tags = {  # the status last: a reader never sees this status beside an earlier validation's details
            VALIDATION_COUNTS_TAG: _clip(json.dumps(counts, ensure_ascii=False, sort_keys=True, default=str)),
            VALIDATION_GATE_TAG: _clip(gate_tag),
            VALIDATION_HASH_TAG: validated,
            VALIDATION_AT_TAG: at,
            VALIDATION_ROWS_TAG: str(rows) if isinstance(rows, int) else "",
            VALIDATION_MARGIN_TAG: "" if margin is None else str(margin)[:40],
            TARGET_FINGERPRINT_TAG: "sha256:" + sha,
            VALIDATION_TAG: status,
        }
        line = {"at": at, "reviewer": who, "model": name, "version": number, "event": "validation",
                "decision": status, "reason": "; ".join(reasons)[:MAX_REASON_CHARS], "counts": counts,
                "content_hash": validated, "data_sha256": sha, "rows": rows}
        _append_review_log(client, run_id, name, number, json.dumps(line, ensure_ascii=False, default=str))
        for key, value in new_tags.items():
            if value:
                client.set_model_version_tag(name, number, key, value)
            elif key in tags:  # an earlier validation's figure this one does not have
                client.delete_model_version_tag(name, number, key)
        return path


def read_validation(model_uri: str, *, tracking_uri: str | None = None) -> dict[str, Any] | None:
    """The validation logged beside the version behind ``model_uri`` (``None`` if none was logged).

    A dict: ``model``, ``version``, ``status`` (passed/failed), ``content_hash``, ``at``, ``by``, ``report``
    (the report's JSON) and ``gate`` (the gate result's JSON).
    """
    store = _store(tracking_uri)
    with _quiet(), _registry_errors(f"read the validation of {model_uri!r}", store):
        client = _client(store)
        version = _find_version(client, model_uri)
        if not version.run_id or VALIDATION_TAG not in (version.tags or {}):
            return None
        with tempfile.TemporaryDirectory(prefix="leanlearn-") as tmp:
            local = client.download_artifacts(str(version.run_id), validation_path(version.name, version.version),
                                              tmp)
            doc = json.loads(Path(local).read_text(encoding="utf-8"))
    return doc if isinstance(doc, dict) else None


# -- promotion -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Promotion:
    """An alias pointed at a version, and on what grounds.

    Attributes
    ----------
    name, version, alias : str
    by, at : str
        Who promoted it and when (UTC, ISO 8601).
    gate : str
        ``passed`` (a gated alias, the validation passed), ``overridden`` (a gated alias, promoted on a recorded
        reason), ``reviewed`` (``approved``: every rule decided) or ``free`` (an alias without a gate).
    validation : str
        The version's validation status at promotion: ``passed``, ``failed`` or ``none``.
    override_reason : str or None
    """

    name: str
    version: str
    alias: str
    by: str
    at: str
    gate: str
    validation: str
    override_reason: str | None = None

    @property
    def uri(self) -> str:
        """``models:/<name>@<alias>``."""
        return f"models:/{self.name}@{self.alias}"

    @property
    def version_uri(self) -> str:
        """``models:/<name>/<version>``."""
        return f"models:/{self.name}/{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "alias": self.alias, "uri": self.uri,
                "version_uri": self.version_uri, "by": self.by, "at": self.at, "gate": self.gate,
                "validation": self.validation, "override_reason": self.override_reason}


def _gate_missing(tags: dict[str, str], name: str, number: str, alias: str) -> str | None:
    """Why the version may not get the gated ``alias`` (``None``: it may)."""
    status = tags.get(VALIDATION_TAG)
    fix = _FIX_VALIDATE.format(name=name, version=number)
    head = f"cannot promote {name} version {number} to {alias!r}"
    override = "or promote anyway with --override-reason '<why>' (recorded)"
    if status not in ("passed", "failed"):
        return (f"{head}: it has no validation on this line's data — validate it first: {fix}, then promote it "
                f"again; {override}")
    validated = tags.get(VALIDATION_HASH_TAG)
    known = {tags.get(CONTENT_HASH_TAG), tags.get(SOURCE_PACK_HASH_TAG)} - {None}
    if validated not in known:
        return (f"{head}: its recorded validation judged another pack ({str(validated)[:19]}…, the version holds "
                f"{str(tags.get(CONTENT_HASH_TAG))[:19]}…) — validate this version: {fix}; {override}")
    if status == "failed":
        try:
            reasons = json.loads(tags.get(VALIDATION_GATE_TAG) or "{}").get("reasons") or []
        except (ValueError, AttributeError):
            reasons = []
        why = "; ".join(str(r) for r in reasons[:5]) or "see the validation report"
        return (f"{head}: its validation did not pass the gate ({why}) — fix the rules or the mapping, import and "
                f"validate again ({fix}); {override}")
    return None


def promote(model_name: str, version: str | int, alias: str = "production", *, by: str | None = None,
            override_reason: str | None = None, tracking_uri: str | None = None) -> Promotion:
    """Point ``alias`` at version ``version`` of ``model_name`` — through the gate where the alias has one.

    - ``production`` (any alias in :data:`GATED_ALIASES`): only a version whose recorded validation (see
      :func:`log_validation`) passed the gate and validated this very content hash. Otherwise the promotion is
      refused, saying what is missing and the command that fixes it — unless ``override_reason`` is given: then the
      version is promoted anyway and the override is recorded as version tags ``leanlearn.override.<alias>.reason``,
      ``.by``, ``.at`` and a line of the version's review log. Every gated promotion is tagged
      ``leanlearn.promoted.<alias>.by|at|gate`` and logged.
    - ``approved``: :func:`leanlearn.packs.registry.promote_approved` (every rule decided).
    - any other alias (letters, digits, ``_``, ``-``): set freely.

    Parameters
    ----------
    model_name : str
        ``leanlearn.<line>.<target>``.
    version : str or int
        The version number.
    alias : str, default "production"
    by : str, optional
        Who promotes; default ``LEANLEARN_REVIEWER`` or the login name.
    override_reason : str, optional
        Why a gated alias is set without a passing validation (at most 2,000 characters).
    tracking_uri : str, optional

    Raises
    ------
    RegistryError
        The gate refuses, the alias, version or reason is unusable, or no such model or version.
    """
    alias = _check_alias(alias)
    number = _version_number(version)
    if not isinstance(model_name, str) or not model_name.strip() or "/" in model_name or "@" in model_name:
        raise RegistryError(f"{model_name!r:.90} is not a registered model name; names look like "
                            "leanlearn.<line>.<target> (see leanlearn pack list)")
    who = _clean_text(by if by is not None else default_reviewer(), "the promoter's name", MAX_REVIEWER_CHARS,
                      one_line=True)
    if not who:
        raise RegistryError("a promotion needs the name of who promotes: pass by='<name>' (--by NAME) or set "
                            "LEANLEARN_REVIEWER")
    reason: str | None = None
    if override_reason is not None:
        reason = _clean_text(override_reason, "the override reason", MAX_REASON_CHARS, one_line=False)
        if not reason:
            raise RegistryError("an override needs a reason: say why the version may skip the gate "
                                "(--override-reason '<why>')")
        if alias not in GATED_ALIASES:
            raise RegistryError(f"alias {alias!r} has no gate to override; the gated aliases are "
                                f"{', '.join(GATED_ALIASES)} — leave out the override reason")
    uri = f"models:/{model_name}/{number}"
    if alias == APPROVED_ALIAS:
        _reg.promote_approved(uri, who, tracking_uri=tracking_uri)
        store = tracking_uri or default_tracking_uri()
        with _quiet(), _registry_errors(f"read {uri!r}", store):
            tags = dict(_client(store).get_model_version(model_name, number).tags or {})
        return Promotion(model_name, number, alias, who, tags.get(f"{TAG_PREFIX}approved_at", _now()), "reviewed",
                         tags.get(VALIDATION_TAG, "none"))
    store = _store(tracking_uri)
    with _quiet(), _registry_errors(f"promote {uri!r} to {alias!r}", store):
        client = _client(store)
        found = _find_version(client, uri)
        name, number = str(found.name), str(found.version)
        tags = dict(client.get_model_version(name, number).tags or {})
        status = tags.get(VALIDATION_TAG, "none")
        status = status if status in ("passed", "failed") else "none"
        at = _now()
        if alias not in GATED_ALIASES:
            client.set_registered_model_alias(name, alias, number)
            return Promotion(name, number, alias, who, at, "free", status)
        missing = _gate_missing(tags, name, number, alias)
        if missing is not None and reason is None:
            raise RegistryError(missing)
        gate = "overridden" if missing is not None else "passed"
        new_tags = {f"{TAG_PREFIX}promoted.{alias}.by": who, f"{TAG_PREFIX}promoted.{alias}.at": at,
                    f"{TAG_PREFIX}promoted.{alias}.gate": gate}
        if gate == "overridden":
            assert reason is not None
            new_tags.update({f"{TAG_PREFIX}override.{alias}.reason": _clip(reason),
                             f"{TAG_PREFIX}override.{alias}.by": who, f"{TAG_PREFIX}override.{alias}.at": at})
        line = {"at": at, "reviewer": who, "model": name, "version": number, "event": "promotion", "alias": alias,
                "decision": gate, "reason": reason if gate == "overridden" else "", "validation": status,
                "content_hash": tags.get(CONTENT_HASH_TAG)}
        if found.run_id:
            _append_review_log(client, str(found.run_id), name, number, json.dumps(line, ensure_ascii=False))
        for key, value in new_tags.items():
            client.set_model_version_tag(name, number, key, value)
        client.set_registered_model_alias(name, alias, number)
        return Promotion(name, number, alias, who, at, gate, status, reason if gate == "overridden" else None)
