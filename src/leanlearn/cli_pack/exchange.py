"""``leanlearn pack list | export | import | promote``: rule packs between registries and lines, through the gate.

Thin: parse, call :mod:`leanlearn.packs.exchange` (and the mapping / import of :mod:`leanlearn.packs.mapping`),
print. Every command has ``--json`` (stdout is then only JSON; MLflow's chatter goes to stderr) and
``--tracking-uri``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from leanlearn.cli_pack import command

_TRACKING = typer.Option("--tracking-uri", metavar="URI",
                         help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or ~/.leanlearn/mlflow.db).")
_JSON = typer.Option("--json", help="Print JSON only (for scripts).")


def _echo_json(doc: Any) -> None:
    typer.echo(json.dumps(doc, ensure_ascii=False, indent=2, default=str))


@command
def list_(
    line: Annotated[str | None, typer.Option("--line", metavar="L", help="Only the packs of line L.")] = None,
    json_out: Annotated[bool, _JSON] = False,
    tracking_uri: Annotated[str | None, _TRACKING] = None,
) -> None:
    """List the registered rule packs: name, version, aliases, review state, source line, validation.

    One row per registered version (newest first per model). The source line is where an imported pack came from
    (empty for a pack mined on its own line); validation is the transfer validation recorded beside the version
    (passed, failed, or none).

    \b
    [bold]Examples[/bold]
      leanlearn pack list
      leanlearn pack list --line L2 --json
    """
    from leanlearn.cli import _console, _printable, _say, _user_errors

    with _user_errors():
        from leanlearn.packs.exchange import list_packs

        versions = list_packs(line=line, tracking_uri=tracking_uri or None)
        if json_out:
            _echo_json([v.to_json() for v in versions])
            return
        console = _console()
        if not versions:
            where = f" for line {line!r}" if line else ""
            _say(console, f"no registered rule packs{where}; register one with leanlearn pack import ... --register "
                          "or leanlearn mine ... --register")
            return
        from rich.table import Table
        from rich.text import Text

        table = Table(show_lines=False)
        for head in ("name", "version", "aliases", "review", "source line", "validation", "rules", "created"):
            table.add_column(head, justify="right" if head in ("version", "rules") else "left")
        for v in versions:
            table.add_row(*(Text(_printable(x)) for x in (
                v.name, v.version, ", ".join(v.aliases) or "-", v.review, v.source_line or "-", v.validation,
                str(v.n_rules), v.created)))
        console.print(table)


@command
def export(
    model_uri: Annotated[str, typer.Argument(metavar="MODEL_URI",
                                             help="models:/leanlearn.<line>.<target>@<alias> or .../<version>.")],
    out: Annotated[Path, typer.Option("--out", metavar="PACK.json", help="Where to write the exported pack.")],
    json_out: Annotated[bool, _JSON] = False,
    tracking_uri: Annotated[str | None, _TRACKING] = None,
) -> None:
    """Export a registered pack version as a pack file, with its review record and lineage.

    Every rule travels with its evidence and its review record (decision, who, when, why, comment, from the
    registry); the lineage gains 'exported_from' (model, version, aliases, review state, content hash, time). The
    export is a new document: it is not signed — sign it with leanlearn pack sign before another line imports it.

    \b
    [bold]Examples[/bold]
      leanlearn pack export models:/leanlearn.L1.defect@approved --out L1-defect.json
    """
    from leanlearn.cli import _console, _printable, _say, _user_errors

    with _user_errors():
        from leanlearn.packs.exchange import export_pack

        pack = export_pack(model_uri, tracking_uri=tracking_uri or None)
        path = pack.save(out)
        origin = pack.lineage["exported_from"]
        decided: dict[str, int] = {}
        for rule in pack.rules:
            decided[rule.review.status] = decided.get(rule.review.status, 0) + 1
        if json_out:
            _echo_json({"model": origin["model"], "version": origin["version"], "aliases": origin["aliases"],
                        "out": str(path), "rules": len(pack.rules), "reviews": decided,
                        "content_hash": pack.content_hash, "signed": False})
            return
        console = _console()
        _say(console, _printable(f"exported {origin['model']} version {origin['version']} "
                                 f"({len(pack.rules)} rules, {', '.join(f'{n} {s}' for s, n in decided.items())}) "
                                 f"to {path}"))
        _say(console, "not signed (an export is a new document); sign it before another line imports it:")
        _say(console, _printable(f"  leanlearn pack sign {path} --key KEY"))


def _read_pack(path: Path, trusted_keys: Path | None, require_signature: bool | None) -> Any:
    """The verified pack in ``path`` under the line's signature policy (a warning on stderr where it is lax), and
    the signature check."""
    from leanlearn.cli_pack.sign import load_pack_file_checked

    return load_pack_file_checked(path, trusted_keys=trusted_keys, require_signature=require_signature)


@command
def import_(
    pack_file: Annotated[Path, typer.Argument(metavar="PACK.json", help="A pack exported from another line.")],
    line: Annotated[str, typer.Option("--line", metavar="LINE", help="The line the pack is imported for.")],
    mapping: Annotated[Path | None, typer.Option("--mapping", metavar="MAP.yaml",
                                                 help="Feature renames, code maps, unit conversions.")] = None,
    register: Annotated[bool, typer.Option("--register", help="Register the imported pack (alias candidate).")] = False,
    out: Annotated[Path | None, typer.Option("--out", metavar="PATH",
                                             help="Where to write it (default: <pack>.<line>.json beside it).")] = None,
    trusted_keys: Annotated[Path | None, typer.Option("--trusted-keys", metavar="PATH",
                                                      help="The line's trusted public keys (.pub file or folder).")]
    = None,
    require_signature: Annotated[bool | None, typer.Option(
        "--require-signature/--no-require-signature",
        help="Refuse a pack not signed by a trusted key (default: LEANLEARN_REQUIRE_SIGNATURES).")] = None,
    json_out: Annotated[bool, _JSON] = False,
    tracking_uri: Annotated[str | None, _TRACKING] = None,
) -> None:
    """Import another line's pack for LINE: a new pack, its features renamed and converted by the mapping.

    The pack is verified first (schema, content hash, and its signature against the line's trusted keys: refused
    where the line requires signatures, a warning otherwise). The new pack keeps every rule, its origin evidence and
    review record, and records its lineage (source line, model, version, content hash, mapping hash, the source
    aliases). With --register it is registered as candidate — production on LINE needs LINE's validation.

    \b
    [bold]Examples[/bold]
      leanlearn pack import L1-defect.json --line L2 --mapping l1-to-l2.yaml --register
      leanlearn pack import L1-defect.json --line L1b --out packs/L1b.json
    """
    from leanlearn.cli import _console, _printable, _say, _user_errors

    with _user_errors():
        from dataclasses import replace

        from leanlearn.packs.mapping import Mapping, import_pack

        source, check = _read_pack(pack_file, trusted_keys, require_signature)
        loaded = Mapping.load(mapping) if mapping is not None else None
        new = import_pack(source, line, loaded)  # source model, version, aliases: from the export's lineage
        # the verdict on the source's signature travels in the lineage: the new pack itself is unsigned
        signed = {"status": check.status, "signer": check.signer, "key_id": check.key_id, "signed": check.signed}
        new = replace(new, lineage={**new.lineage, "source_signature": signed}, signature=None)
        target = out if out is not None else pack_file.with_name(f"{pack_file.stem}.{line}.json")
        path = new.save(target)
        registered = []
        if register:
            from leanlearn.packs.registry import register_pack

            registered = register_pack(new, tracking_uri=tracking_uri or None)
        if json_out:
            _echo_json({"out": str(path), "line": new.line, "rules": len(new.rules),
                        "content_hash": new.content_hash, "lineage": new.lineage,
                        "registered": [{"name": r.name, "version": r.version, "target": r.target, "uri": r.uri,
                                        "version_uri": r.version_uri} for r in registered]})
            return
        console = _console()
        _say(console, _printable(f"imported {source.name!r} from line {source.line!r} for line {line!r}: "
                                 f"{len(new.rules)} rules, written to {path}"))
        for item in registered:
            _say(console, _printable(f"registered {item.target}: {item.version_uri} (alias candidate)"))
        nxt = registered[0].version_uri if registered else "models:/<registered version>"
        _say(console, "next, validate it on this line's data:")
        _say(console, _printable(f"  leanlearn pack validate {path} DATA --model {nxt}"))


@command
def promote(
    model_name: Annotated[str, typer.Argument(metavar="MODEL_NAME", help="leanlearn.<line>.<target>.")],
    version: Annotated[str, typer.Argument(metavar="VERSION", help="The version number.")],
    alias: Annotated[str, typer.Option("--alias", metavar="ALIAS", help="Alias to set.")] = "production",
    override_reason: Annotated[str | None, typer.Option(
        "--override-reason", metavar="TEXT", help="Promote past the gate; the reason is recorded.")] = None,
    by: Annotated[str | None, typer.Option("--by", metavar="NAME",
                                           help="Who promotes (default: LEANLEARN_REVIEWER or your login).")] = None,
    json_out: Annotated[bool, _JSON] = False,
    tracking_uri: Annotated[str | None, _TRACKING] = None,
) -> None:
    """Point an alias at a version — production only through the gate.

    production needs a validation on the line's data (leanlearn pack validate ... --model models:/NAME/VERSION)
    that passed the gate and judged this very content; otherwise it is refused, saying what is missing.
    --override-reason promotes anyway and records the reason, who and when (version tags and the review log).
    approved needs every rule decided; other aliases are set freely.

    \b
    [bold]Examples[/bold]
      leanlearn pack promote leanlearn.L2.defect 3 --alias production
      leanlearn pack promote leanlearn.L2.defect 3 --alias production --override-reason "trial week, watched daily"
    """
    from leanlearn.cli import _console, _printable, _say, _user_errors

    with _user_errors():
        from leanlearn.packs.exchange import promote as _promote

        done = _promote(model_name, version, alias, by=by, override_reason=override_reason,
                        tracking_uri=tracking_uri or None)
        if json_out:
            _echo_json(done.to_json())
            return
        console = _console()
        grounds = {"passed": "its validation passed the gate", "overridden": "gate overridden, reason recorded",
                   "reviewed": "every rule decided", "free": "no gate on this alias"}[done.gate]
        _say(console, _printable(f"{done.uri} -> version {done.version} ({grounds}; by {done.by}, {done.at})"))
        if done.gate == "overridden":
            _say(console, _printable(f"override reason: {done.override_reason}"), "yellow")
