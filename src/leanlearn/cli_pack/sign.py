"""``leanlearn pack keygen / sign / verify``: who vouches for a pack, and the pack loader every pack command shares.

:func:`load_pack_file` reads a pack file the way a line's policy says (:func:`leanlearn.packs.signing.read_pack`):
refused with one ``error:`` line when the pack is broken, or when signatures are required and it is not validly
signed by a trusted key; accepted with one yellow ``warning:`` line on stderr otherwise (``--json`` stdout stays pure).
The options :data:`TrustedKeysOption` and :data:`RequireSignatureOption` give every command the same flags.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from leanlearn.cli_pack import command

if TYPE_CHECKING:
    from leanlearn.packs.pack import RulePack
    from leanlearn.packs.signing import SignatureCheck

#: ``--trusted-keys PATH``: the line's trusted public keys (default ``LEANLEARN_TRUSTED_KEYS``).
TrustedKeysOption = Annotated[
    Path | None,
    typer.Option(
        "--trusted-keys",
        metavar="PATH",
        help="The line's trusted public keys: a .pub file (one key per line) or a folder of *.pub files "
             "(default: $LEANLEARN_TRUSTED_KEYS).",
    ),
]
#: ``--require-signature / --no-require-signature`` (default ``LEANLEARN_REQUIRE_SIGNATURES``).
RequireSignatureOption = Annotated[
    bool | None,
    typer.Option(
        "--require-signature/--no-require-signature",
        help="Refuse a pack not validly signed by a trusted key, or accept it with a warning "
             "(default: $LEANLEARN_REQUIRE_SIGNATURES, else allow).",
        show_default=False,
    ),
]


def _warn(label: str, check: SignatureCheck) -> None:
    from leanlearn.cli import _console, _printable, _say

    _say(_console(stderr=True),
         _printable(f"warning: {label} {check.message}; accepted because this line does not require signed packs "
                    "(LEANLEARN_REQUIRE_SIGNATURES=1 refuses it)"),
         "yellow")


def load_pack_file_checked(path: Path, *, trusted_keys: Path | None = None,
                           require_signature: bool | None = None) -> tuple[RulePack, SignatureCheck]:
    """:func:`load_pack_file`, also returning the :class:`~leanlearn.packs.signing.SignatureCheck` (for a report)."""
    from leanlearn.packs.signing import read_pack

    pack, check = read_pack(path, trusted_keys=trusted_keys, require_signature=require_signature)
    if not check.valid:
        _warn(str(path), check)
    return pack, check


def load_pack_file(path: Path, *, trusted_keys: Path | None = None, require_signature: bool | None = None) -> RulePack:
    """Read and verify a pack file for a ``leanlearn pack`` command (size, JSON, schema, hash, then signature).

    Raises :class:`~leanlearn.errors.PackError` (call it inside ``_user_errors()``) when the file is broken or,
    where signatures are required, not validly signed by a trusted key; prints a yellow warning on stderr when the
    pack is accepted without a valid signature.
    """
    return load_pack_file_checked(path, trusted_keys=trusted_keys, require_signature=require_signature)[0]


def _echo_json(doc: object) -> None:
    typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))


@command
def keygen(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the private key goes; the public key is written "
                                                          "beside it as OUT.pub.")],
    signer: Annotated[str, typer.Option("--signer", help="The name signatures made with the key carry, e.g. "
                                                         "'Alice Martin (line L1)'.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the paths and key id as JSON.")] = False,
) -> None:
    """Make an Ed25519 key pair for signing rule packs.

    The private key (mode 600) never leaves you; encrypt it by setting LEANLEARN_KEY_PASSPHRASE. Give the public key
    (OUT.pub) to every line that should trust the packs you sign: they add it to their trusted keys.

    \b
      leanlearn pack keygen --out ~/.leanlearn/alice.key --signer "Alice Martin (L1)"
    """
    from leanlearn.cli import _console, _printable, _say, _user_errors

    with _user_errors():
        from leanlearn.packs.signing import TrustedKeys, generate_keypair

        private, public = generate_keypair(out, signer=signer)
        key = TrustedKeys.load(public).keys[0]
    if json_out:
        _echo_json({"private_key": str(private), "public_key": str(public), "signer": key.signer,
                    "key_id": key.key_id, "encrypted": bool(os.environ.get("LEANLEARN_KEY_PASSPHRASE"))})
        return
    console = _console()
    _say(console, _printable(f"wrote private key {private} (keep it secret; it is readable by you only)"))
    _say(console, _printable(f"wrote public key  {public} (give it to the lines that should trust your packs)"))
    _say(console, _printable(f"signer {key.signer!r}, key id {key.key_id}"))


@command
def sign(
    pack_file: Annotated[Path, typer.Argument(metavar="PACK.json", help="The rule pack to sign.")],
    key: Annotated[Path, typer.Option("--key", "-k", help="Your private key (from leanlearn pack keygen).")],
    signer: Annotated[str | None, typer.Option("--signer", help="The signer name (default: the name in KEY.pub).")]
    = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", metavar="SIGNED.json",
                                             help="Write the signed pack here (default: sign in place).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print what was signed as JSON.")] = False,
) -> None:
    """Sign a rule pack with your Ed25519 key.

    The pack is verified first (schema, content hash); the signature covers its whole content and your signer name
    and the signing time, and leaves the content hash unchanged. An encrypted key's passphrase comes from
    LEANLEARN_KEY_PASSPHRASE.

    \b
      leanlearn pack sign L1-defect.json --key ~/.leanlearn/alice.key
    """
    from leanlearn.cli import _console, _printable, _say, _user_errors

    with _user_errors():
        from leanlearn.packs.pack import RulePack
        from leanlearn.packs.signing import sign_pack_file

        written = sign_pack_file(pack_file, key, signer=signer, out=out)
        pack = RulePack.load(written)
    signature = pack.signature or {}
    if json_out:
        _echo_json({"pack": str(pack_file), "out": str(written), "name": pack.name, "line": pack.line,
                    "content_hash": pack.source_hash, **{k: signature.get(k) for k in ("signer", "key_id", "signed")}})
        return
    _say(_console(), _printable(f"signed {written} as {signature.get('signer')!r} with key {signature.get('key_id')} "
                                f"(content hash {str(pack.source_hash)[:19]}… unchanged)"))


@command
def verify(
    pack_file: Annotated[Path, typer.Argument(metavar="PACK.json", help="The rule pack to check.")],
    trusted_keys: TrustedKeysOption = None,
    require_signature: RequireSignatureOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Check a rule pack: size, JSON, schema, content hash, then its signature against the line's trusted keys.

    Exit 0 when validly signed by a trusted key, 1 when readable but not validly signed (unsigned, untrusted key, or
    a signature that does not match), 2 when the pack is broken — or refused because signatures are required.

    \b
      leanlearn pack verify L1-defect.json --trusted-keys /etc/leanlearn/trusted/
    """
    from leanlearn.cli import _console, _printable, _say, _user_errors

    with _user_errors():
        from leanlearn.packs.signing import read_pack

        pack, check = read_pack(pack_file, trusted_keys=trusted_keys, require_signature=require_signature)
    if json_out:
        _echo_json({"pack": str(pack_file), "name": pack.name, "line": pack.line, "content_hash": pack.source_hash,
                    "valid": check.valid, **check.to_json()})
    else:
        style = "green" if check.valid else "yellow"
        _say(_console(), _printable(f"{check.status}: {pack_file} {check.message}"), style)
    if not check.valid:
        raise typer.Exit(1)
