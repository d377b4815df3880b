"""Signed rule packs: who vouches for a pack, checked against the keys a line trusts (Ed25519).

The content hash of a pack proves *integrity*: the document is the one its writer hashed. It does not prove
*origin*: anyone can edit a pack and hash it again. A pack that will steer another line carries a signature:

- a line engineer makes a key pair once (:func:`generate_keypair`): a private key (PKCS8 PEM, file mode 0600,
  optionally encrypted with a passphrase) and a public key file beside it, ``<private>.pub``, one line
  ``leanlearn-ed25519 <base64 of the 32-byte raw key> <signer name>``;
- they sign a pack (:func:`sign_document`, :func:`sign_pack_file`): the pack gains a top-level ``signature``
  ``{"algorithm": "ed25519", "signer", "key_id", "signed", "value"}``;
- a receiving line lists the public keys it trusts (:class:`TrustedKeys`: a ``.pub`` file with one key per line,
  or a folder of ``*.pub`` files; ``LEANLEARN_TRUSTED_KEYS`` names it), and every read (:func:`read_pack`) checks the
  signature against them. With ``LEANLEARN_REQUIRE_SIGNATURES=1`` a pack that is not validly signed by a trusted key
  is refused; otherwise it is accepted and the :class:`SignatureCheck` says why it is not valid (shown as a warning).

What the signature covers (:func:`signed_message`): the domain prefix ``leanlearn.rulepack.signature/1``, the
canonical JSON of ``{algorithm, key_id, signed, signer}``, and the pack's canonical content
(:func:`leanlearn.packs.pack.canonical_bytes`: every field except ``content_hash`` and ``signature``). So no rule,
threshold, figure, review record or lineage entry, and neither the signer's name nor the signing time, can be changed
without breaking it, and a signature cannot be moved onto another pack. Signing does not change the content hash.

What it does not prove: that the rules are right (that is what ``leanlearn pack validate`` measures on the target
line's data), nor that the private key was not stolen, nor that a key id names a real person. Trust comes only from
the public keys a line chooses to configure; a signer name is a claim, checked against the name the line trusts that
key under.

Limits: a key file is at most :data:`MAX_KEY_FILE_BYTES`, a trust list holds at most :data:`MAX_TRUSTED_KEYS` keys
(and a folder at most :data:`MAX_KEY_FILES` files); a signer name is 1 to 200 printable characters.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from leanlearn.mining.rules import RuleSet
>>> from leanlearn.packs.pack import RulePack, Target
>>> folder = Path(tempfile.mkdtemp())
>>> private, public = generate_keypair(folder / "alice.key", signer="Alice (L1)")
>>> doc = RulePack(name="demo", line="L1", targets=(Target("scrap"),), rules=RuleSet()).to_json()
>>> signed = sign_document(doc, private)
>>> signed["content_hash"] == doc["content_hash"], signed["signature"]["signer"]
(True, 'Alice (L1)')
>>> verify_document(signed, TrustedKeys.load(public)).status
'valid'
>>> signed["line"] = "L2"  # edited and re-hashed: the hash matches again, the signature does not
>>> from leanlearn.packs.pack import content_hash
>>> signed["content_hash"] = content_hash(signed)
>>> verify_document(signed, TrustedKeys.load(public)).status
'invalid'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanlearn.errors import PackError
from leanlearn.packs.pack import RulePack, canonical_bytes, content_hash, read_document

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "ALGORITHM",
    "DOMAIN",
    "PUBLIC_KEY_TAG",
    "SignatureCheck",
    "TrustedKey",
    "TrustedKeys",
    "generate_keypair",
    "key_id",
    "read_pack",
    "require_signatures",
    "sign_document",
    "sign_pack_file",
    "signed_message",
    "verify_document",
]

ALGORITHM = "ed25519"
#: Domain separation: a leanlearn pack signature can never be mistaken for a signature over anything else.
DOMAIN = b"leanlearn.rulepack.signature/1\n"
#: First word of a public key line.
PUBLIC_KEY_TAG = "leanlearn-ed25519"
#: Largest public-key file (or trust list) read, in bytes.
MAX_KEY_FILE_BYTES = 256 * 1024
#: Largest private-key file read, in bytes.
MAX_PRIVATE_KEY_BYTES = 16 * 1024
#: Most keys one trust list (file or folder) may hold.
MAX_TRUSTED_KEYS = 1000
#: Most ``*.pub`` files read from one folder of trusted keys.
MAX_KEY_FILES = 1000
#: Longest signer name (the schema's limit).
MAX_SIGNER_CHARS = 200
#: Environment variables.
ENV_TRUSTED_KEYS = "LEANLEARN_TRUSTED_KEYS"
ENV_REQUIRE = "LEANLEARN_REQUIRE_SIGNATURES"
ENV_PASSPHRASE = "LEANLEARN_KEY_PASSPHRASE"

_STATUSES = ("valid", "unsigned", "untrusted", "invalid")
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


# -- keys -----------------------------------------------------------------------------------------------------------
def _raw_public(public_key: Any) -> bytes:
    if isinstance(public_key, (bytes, bytearray)):
        raw = bytes(public_key)
    else:
        from cryptography.hazmat.primitives import serialization

        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if len(raw) != 32:
        raise PackError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
    return raw


def key_id(public_key: bytes | Ed25519PublicKey) -> str:
    """The id a signature names its key by: ``ed25519:`` and the first 16 bytes of the sha256 of the raw key (hex).

    >>> key_id(bytes(32))
    'ed25519:66687aadf862bd776c8fc18b8e9f8e20'
    """
    return "ed25519:" + hashlib.sha256(_raw_public(public_key)).hexdigest()[:32]


def _check_signer(signer: Any, where: str) -> str:
    if not isinstance(signer, str):
        raise PackError(f"{where}: the signer name must be text, got {type(signer).__name__}")
    name = signer.strip()
    if not name:
        raise PackError(f"{where}: the signer name is empty; give a name, e.g. --signer 'Alice Martin (line L1)'")
    if len(name) > MAX_SIGNER_CHARS:
        raise PackError(f"{where}: the signer name has {len(name)} characters, at most {MAX_SIGNER_CHARS}")
    if _BAD_NAME.search(name):
        raise PackError(f"{where}: the signer name {name!r:.80} holds control or invisible characters; "
                        "write it in plain printable text")
    return name


def _passphrase(passphrase: str | bytes | None) -> bytes | None:
    if passphrase is None:
        passphrase = os.environ.get(ENV_PASSPHRASE) or None
    if passphrase is None:
        return None
    data = passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)
    return data or None


def public_key_line(public_key: bytes | Ed25519PublicKey, signer: str) -> str:
    """The one-line public key file format: ``leanlearn-ed25519 <base64 raw key> <signer>``.

    >>> public_key_line(bytes(32), "Alice")
    'leanlearn-ed25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= Alice'
    """
    name = _check_signer(signer, "public key")
    return f"{PUBLIC_KEY_TAG} {base64.b64encode(_raw_public(public_key)).decode()} {name}"


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` (never overwrite) with ``mode``, atomically visible with its final mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            fd = -1
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        if fd >= 0:
            os.close(fd)
        path.unlink(missing_ok=True)
        raise


def generate_keypair(private_path: str | Path, *, signer: str,
                     passphrase: str | bytes | None = None) -> tuple[Path, Path]:
    """Make an Ed25519 key pair: the private key at ``private_path`` (PKCS8 PEM, mode 0600), the public key beside
    it at ``<private_path>.pub`` (one line naming ``signer``).

    Parameters
    ----------
    private_path : str or Path
        Where the private key goes; neither it nor its ``.pub`` may exist yet (a key is never overwritten).
    signer : str
        The name signatures made with this key carry, e.g. ``"Alice Martin (line L1)"``.
    passphrase : str or bytes, optional
        Encrypts the private key (default: ``LEANLEARN_KEY_PASSPHRASE`` if set, else unencrypted).

    Returns
    -------
    tuple of Path
        ``(private_path, public_path)``.

    >>> import tempfile
    >>> private, public = generate_keypair(Path(tempfile.mkdtemp()) / "k", signer="Bob")
    >>> oct(private.stat().st_mode & 0o777), public.name, public.read_text().split()[::2]
    ('0o600', 'k.pub', ['leanlearn-ed25519', 'Bob'])
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private_path = Path(private_path)
    public_path = private_path.with_name(private_path.name + ".pub")
    name = _check_signer(signer, str(private_path))
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise PackError(f"{path}: already exists; a key is never overwritten — choose another --out, or remove "
                            "the old key deliberately first")
    if not private_path.parent.is_dir():
        raise PackError(f"{private_path.parent}: no such folder for the key; create it first")
    key = Ed25519PrivateKey.generate()
    secret = _passphrase(passphrase)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(secret) if secret else serialization.NoEncryption()
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    _write_new(private_path, pem, 0o600)
    try:
        _write_new(public_path, (public_key_line(key.public_key(), name) + "\n").encode(), 0o644)
    except BaseException:
        private_path.unlink(missing_ok=True)
        raise
    return private_path, public_path


def _read_bounded(path: Path, limit: int, what: str) -> bytes:
    if not path.exists():
        raise PackError(f"{path}: no such {what} file")
    if path.is_dir():
        raise PackError(f"{path}: is a folder, not a {what} file")
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise PackError(f"{path}: cannot read the {what} file ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise PackError(f"{path}: larger than {limit:,} bytes; this is not a leanlearn {what} file")
    return data


def _load_private(path: str | Path, passphrase: str | bytes | None) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    data = _read_bounded(path, MAX_PRIVATE_KEY_BYTES, "private key")
    if os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise PackError(f"{path}: the private key is readable by others (mode {mode:04o}); protect it with "
                            f"chmod 600 {path}")
    if data.lstrip().startswith(PUBLIC_KEY_TAG.encode()):
        raise PackError(f"{path}: is a public key; sign with the private key (the file without .pub)")
    secret = _passphrase(passphrase)
    try:
        key = serialization.load_pem_private_key(data, password=secret)
    except TypeError:
        if secret is None:
            raise PackError(f"{path}: the private key is encrypted; set its passphrase in {ENV_PASSPHRASE}") from None
        raise PackError(f"{path}: the private key is not encrypted, but a passphrase was given; unset "
                        f"{ENV_PASSPHRASE}") from None
    except ValueError:
        if secret is not None and b"ENCRYPTED" in data:
            raise PackError(f"{path}: wrong passphrase for the private key (from {ENV_PASSPHRASE})") from None
        raise PackError(f"{path}: not a PEM private key; make one with `leanlearn pack keygen`") from None
    except Exception as exc:  # cryptography's UnsupportedAlgorithm and the like
        raise PackError(f"{path}: cannot read the private key ({type(exc).__name__}); make one with "
                        "`leanlearn pack keygen`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise PackError(f"{path}: is a {type(key).__name__.lstrip('_')}, not an Ed25519 key; make one with "
                        "`leanlearn pack keygen`")
    return key


# -- trusted keys ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One public key a line trusts: its id, the signer name it is trusted under, and where it was read."""

    key_id: str
    signer: str
    raw: bytes = field(repr=False)
    source: str = ""


@dataclass(frozen=True, slots=True)
class TrustedKeys:
    """The public keys a line trusts, by key id (from a ``.pub`` file of key lines, or a folder of ``*.pub``).

    A key line is ``leanlearn-ed25519 <base64 32-byte key> <signer name>``; blank lines and lines starting with
    ``#`` are ignored. Every problem is one :class:`PackError` naming the file and line.

    >>> TrustedKeys.parse("# L2 trusts\\n" + public_key_line(bytes(32), "Alice") + "\\n", "l2.pub").signers()
    ['Alice']
    >>> TrustedKeys.parse("leanlearn-ed25519 AAAA Alice", "l2.pub")
    Traceback (most recent call last):
    ...
    leanlearn.errors.PackError: l2.pub line 1: the key is 3 bytes, an Ed25519 public key is 32; ...
    """

    keys: tuple[TrustedKey, ...] = ()
    source: str = ""
    _by_id: dict[str, TrustedKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {k.key_id: k for k in self.keys})

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[TrustedKey]:
        return iter(self.keys)

    def __contains__(self, item: object) -> bool:
        return item in self._by_id

    def get(self, kid: str) -> TrustedKey | None:
        """The trusted key with id ``kid``, or ``None``."""
        return self._by_id.get(kid)

    def signers(self) -> list[str]:
        return [k.signer for k in self.keys]

    @classmethod
    def parse(cls, text: str, where: str = "trusted keys", *, source: str | None = None) -> TrustedKeys:
        """Parse the key lines of one trust-list text (``where`` names it in messages)."""
        keys: list[TrustedKey] = []
        for number, line in enumerate(text.splitlines(), 1):
            keys.extend(_parse_line(line, f"{where} line {number}"))
            if len(keys) > MAX_TRUSTED_KEYS:
                raise PackError(f"{where}: more than {MAX_TRUSTED_KEYS} keys; a line trusts a few signers")
        return cls(_merge(keys), source or where)

    @classmethod
    def load(cls, path: str | Path) -> TrustedKeys:
        """Read a trust list: a ``.pub`` file (one key per line) or a folder of ``*.pub`` files.

        An empty folder or a file with no key lines is refused: a line that configures trust must trust someone.
        """
        path = Path(path)
        if not path.exists():
            raise PackError(f"{path}: no such trusted-keys file or folder; check {ENV_TRUSTED_KEYS} or "
                            "--trusted-keys")
        files = [path]
        if path.is_dir():
            files = sorted(p for p in path.glob("*.pub") if p.is_file())
            if len(files) > MAX_KEY_FILES:
                raise PackError(f"{path}: more than {MAX_KEY_FILES} .pub files in the trusted-keys folder")
            if not files:
                raise PackError(f"{path}: no *.pub files in the trusted-keys folder; copy in the public keys "
                                "(the .pub files written by `leanlearn pack keygen`) of the signers this line trusts")
        keys: list[TrustedKey] = []
        for file in files:
            data = _read_bounded(file, MAX_KEY_FILE_BYTES, "public key")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise PackError(f"{file}: not a UTF-8 text file; a public key file is text") from None
            keys.extend(cls.parse(text, str(file)).keys)
            if len(keys) > MAX_TRUSTED_KEYS:
                raise PackError(f"{path}: more than {MAX_TRUSTED_KEYS} keys; a line trusts a few signers")
        if not keys:
            raise PackError(f"{path}: holds no public key lines ({PUBLIC_KEY_TAG} <key> <signer>); add the .pub "
                            "files of the signers this line trusts")
        return cls(_merge(keys), str(path))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TrustedKeys | None:
        """The trust list named by ``LEANLEARN_TRUSTED_KEYS``, or ``None`` when it is unset."""
        env = os.environ if environ is None else environ
        value = (env.get(ENV_TRUSTED_KEYS) or "").strip()
        return cls.load(value) if value else None


def _parse_line(line: str, where: str) -> list[TrustedKey]:
    text = line.strip()
    if not text or text.startswith("#"):
        return []
    if text.startswith("-----BEGIN") and "PRIVATE" in text:
        raise PackError(f"{where}: this is a PRIVATE key; a line trusts public keys only — use the .pub file beside "
                        "it, and keep the private key secret (replace it if it was shared)")
    parts = text.split(None, 2)
    if parts[0] != PUBLIC_KEY_TAG:
        raise PackError(f"{where}: starts with {parts[0]!r:.40}, expected {PUBLIC_KEY_TAG!r} "
                        f"({PUBLIC_KEY_TAG} <base64 key> <signer name>, as `leanlearn pack keygen` writes it)")
    if len(parts) < 3:
        raise PackError(f"{where}: needs three parts, {PUBLIC_KEY_TAG} <base64 key> <signer name>; the signer "
                        "name is missing" if len(parts) == 2 else f"{where}: the key and signer name are missing")
    try:
        raw = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise PackError(f"{where}: the key {parts[1]!r:.60} is not base64") from None
    if len(raw) != 32:
        raise PackError(f"{where}: the key is {len(raw)} bytes, an Ed25519 public key is 32; copy the whole line "
                        "from the signer's .pub file")
    signer = _check_signer(parts[2], where)
    return [TrustedKey(key_id(raw), signer, raw, where)]


def _merge(keys: list[TrustedKey]) -> tuple[TrustedKey, ...]:
    seen: dict[str, TrustedKey] = {}
    for key in keys:
        earlier = seen.get(key.key_id)
        if earlier is None:
            seen[key.key_id] = key
        elif earlier.signer != key.signer:
            raise PackError(f"{key.source}: key {key.key_id} is trusted as {key.signer!r:.80} here and as "
                            f"{earlier.signer!r:.80} in {earlier.source}; one key names one signer — keep one line")
    return tuple(seen.values())


# -- signing --------------------------------------------------------------------------------------------------------
def signed_message(doc: Mapping[str, Any], signature: Mapping[str, Any]) -> bytes:
    """The exact bytes an Ed25519 pack signature signs.

    ``DOMAIN`` + canonical JSON of ``{algorithm, key_id, signed, signer}`` (``signed`` is ``null`` when absent) +
    ``\\n`` + :func:`~leanlearn.packs.pack.canonical_bytes` of the pack (everything but ``content_hash`` and
    ``signature``).

    >>> signed_message({"schema": "x"}, {"signer": "A", "key_id": "ed25519:00", "signed": None})
    b'leanlearn.rulepack.signature/1\\n{"algorithm":"ed25519","key_id":"ed25519:00","signed":null,"signer":"A"}\\n{"schema":"x"}'
    """
    header = {"algorithm": ALGORITHM, "key_id": signature.get("key_id"), "signed": signature.get("signed"),
              "signer": signature.get("signer")}
    head = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return DOMAIN + head + b"\n" + canonical_bytes(dict(doc))


def _utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _signer_from_pub(private_path: Path, raw: bytes) -> str | None:
    public_path = private_path.with_name(private_path.name + ".pub")
    if not public_path.is_file():
        return None
    keys = TrustedKeys.load(public_path)
    match = keys.get(key_id(raw))
    if match is None:
        raise PackError(f"{public_path}: does not hold the public key of {private_path}; give the signer name "
                        "with --signer, or restore the .pub file written with the key")
    return match.signer


def sign_document(doc: Mapping[str, Any], private_key_path: str | Path, *, signer: str | None = None,
                  passphrase: str | bytes | None = None, where: str | None = None) -> dict[str, Any]:
    """A copy of pack document ``doc`` with an Ed25519 ``signature`` (any earlier one replaced).

    The document is verified first (schema, content hash, expressions — :meth:`RulePack.from_json`): a broken or
    tampered pack is never signed.

    Parameters
    ----------
    doc : dict
        A rule-pack JSON document (e.g. ``RulePack.to_json()`` or a parsed pack file).
    private_key_path : str or Path
        The private key from :func:`generate_keypair` (readable by its owner only).
    signer : str, optional
        The name the signature carries; default: the name in ``<private_key_path>.pub``.
    passphrase : str or bytes, optional
        For an encrypted key; default ``LEANLEARN_KEY_PASSPHRASE``.

    See the module docstring for an example.
    """
    label = where or (f"rule pack {doc.get('name')!r:.80}" if isinstance(doc, Mapping) else "rule pack")
    if not isinstance(doc, Mapping):
        raise PackError(f"{label}: a rule pack is a JSON object, got {type(doc).__name__}")
    body = {k: v for k, v in doc.items() if k != "signature"}
    RulePack.from_json(body, where=label)
    from cryptography.hazmat.primitives import serialization

    path = Path(private_key_path)
    key = _load_private(path, passphrase)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    name = _check_signer(signer, "--signer") if signer is not None else _signer_from_pub(path, raw)
    if name is None:
        raise PackError(f"{path}: no signer name — the .pub file beside the key is missing; give one with --signer")
    signature: dict[str, Any] = {"algorithm": ALGORITHM, "signer": name, "key_id": key_id(raw),
                                 "signed": _utc_now()}
    signature["value"] = base64.b64encode(key.sign(signed_message(body, signature))).decode()
    return {**body, "signature": signature}


def _write_atomic(path: Path, text: str) -> Path:
    if path.is_dir():
        raise PackError(f"{path} is a folder; give the signed pack a file name")
    from leanlearn._util import write_text_atomic

    return write_text_atomic(path, text)


def _read_doc(path: Path, max_bytes: int | None, label: str) -> Any:
    return read_document(path, max_bytes=max_bytes, where=label)


def sign_pack_file(path: str | Path, key: str | Path, *, signer: str | None = None, out: str | Path | None = None,
                   passphrase: str | bytes | None = None, max_bytes: int | None = None) -> Path:
    """Sign the pack file ``path`` with private key ``key`` and write it to ``out`` (default: in place), atomically.

    Returns the path written. The content hash is unchanged; only the ``signature`` field is added or replaced.
    The file is verified first (size, JSON, schema, content hash) and the private key must be readable by its owner
    only. See :func:`read_pack` for an example.
    """
    path = Path(path)
    doc = _read_doc(path, max_bytes, str(path))
    signed = sign_document(doc, key, signer=signer, passphrase=passphrase, where=str(path))
    text = json.dumps(signed, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return _write_atomic(Path(out) if out is not None else path, text)


# -- verifying ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The outcome of checking a pack's signature.

    ``status``: ``"valid"`` (signed by a trusted key under its trusted name, content unchanged since), ``"unsigned"``
    (no signature), ``"untrusted"`` (the key, or the name it claims, is not among the line's trusted keys — or no
    trusted keys are configured), ``"invalid"`` (malformed, or it does not match the content: the pack, its signer
    name or signing time was changed after signing). ``message`` says it in words.
    """

    status: str
    message: str
    signer: str | None = None
    key_id: str | None = None
    signed: str | None = None
    trusted_keys: str | None = None

    def __post_init__(self) -> None:
        if self.status not in _STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {_STATUSES}")

    @property
    def valid(self) -> bool:
        return self.status == "valid"

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "signer": self.signer, "key_id": self.key_id, "signed": self.signed,
                "trusted_keys": self.trusted_keys, "message": self.message}


def _text(value: Any, limit: int = 80) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def verify_document(doc: Mapping[str, Any], trusted: TrustedKeys | None) -> SignatureCheck:
    """Check the ``signature`` of pack document ``doc`` against the ``trusted`` keys (``None``: none configured).

    Also checks that the stored content hash matches the content (a signature vouches for content, not for a hash).
    Never raises for a bad signature: the status and message say what is wrong.

    >>> from leanlearn.mining.rules import RuleSet
    >>> from leanlearn.packs.pack import Target
    >>> doc = RulePack(name="demo", line="L1", targets=(Target("scrap"),), rules=RuleSet()).to_json()
    >>> verify_document(doc, None).status
    'unsigned'
    >>> verify_document({**doc, "signature": {"algorithm": "ed25519", "signer": "x", "key_id": "ed25519:" + "0" * 32,
    ...                                       "value": "AAAA"}}, None).message
    'has a signature value of 3 bytes, an Ed25519 signature is 64; the signature was damaged'
    """
    where = trusted.source if trusted is not None else None
    signature = doc.get("signature") if isinstance(doc, Mapping) else None
    if signature is None:
        return SignatureCheck("unsigned", "is not signed", trusted_keys=where)
    if not isinstance(signature, Mapping):
        return SignatureCheck("invalid", f"has a signature that is a {type(signature).__name__}, not an object",
                              trusted_keys=where)
    signer, kid, signed = _text(signature.get("signer"), 200), _text(signature.get("key_id")), signature.get("signed")
    signed = signed if isinstance(signed, str) else None

    def check(status: str, message: str) -> SignatureCheck:
        return SignatureCheck(status, message, signer, kid, signed, where)

    if signature.get("algorithm") != ALGORITHM:
        return check("invalid", f"has a signature of algorithm {signature.get('algorithm')!r:.40}; leanlearn signs "
                                f"with {ALGORITHM!r}")
    missing = [k for k in ("signer", "key_id", "value") if not isinstance(signature.get(k), str)]
    if missing:
        return check("invalid", f"has a signature without {', '.join(missing)} (as text)")
    if not re.fullmatch(r"ed25519:[0-9a-f]{16,64}", str(kid)):
        return check("invalid", f"has a signature naming key id {kid!r:.80}, not of the form ed25519:<hex>")
    try:
        value = base64.b64decode(signature["value"], validate=True)
    except (binascii.Error, ValueError):
        return check("invalid", "has a signature value that is not base64; the signature was damaged")
    if len(value) != 64:
        return check("invalid", f"has a signature value of {len(value)} bytes, an Ed25519 signature is 64; the "
                                "signature was damaged")
    try:
        intact = doc.get("content_hash") == content_hash(dict(doc))
    except (TypeError, ValueError, RecursionError):
        intact = False
    if not intact:
        return check("invalid", "has a content hash that does not match its content; the pack was changed after it was "
                                "written")
    claim = f"signed by {signer!r} with key {kid}"
    if trusted is None or not len(trusted):
        return check("untrusted", f"is {claim}, but no trusted keys are configured to check it; set "
                                  f"{ENV_TRUSTED_KEYS} (or --trusted-keys) to the line's trusted public keys")
    known = trusted.get(str(kid))
    if known is None:
        return check("untrusted", f"is {claim}, which is not among the line's trusted keys in {trusted.source}; "
                                  "add their public key or ask for a pack signed by a trusted key")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(known.raw).verify(value, signed_message(doc, signature))
    except InvalidSignature:
        return check("invalid", f"claims to be {claim}, but the signature does not match: the pack, its signer name "
                                "or its signing time was changed after it was signed; ask the signer for the "
                                "original")
    if known.signer != signer:
        return check("untrusted", f"is {claim}, a key the line trusts as {known.signer!r} ({known.source}), not as "
                                  f"{signer!r}; a trusted key may not sign under another name")
    return check("valid", f"is {claim} on {signed or 'an unrecorded date'}, trusted in {known.source}")


def require_signatures(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``LEANLEARN_REQUIRE_SIGNATURES`` asks for signed packs (1/true/yes/on; unset, 0/false/no/off: no).

    >>> require_signatures({"LEANLEARN_REQUIRE_SIGNATURES": "yes"}), require_signatures({})
    (True, False)
    """
    env = os.environ if environ is None else environ
    value = (env.get(ENV_REQUIRE) or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise PackError(f"{ENV_REQUIRE}={env.get(ENV_REQUIRE)!r:.40} is not a yes or no; write 1 (require signed packs) "
                    "or 0")


def read_pack(path: str | Path, *, trusted_keys: TrustedKeys | str | Path | None = None,
              require_signature: bool | None = None, max_bytes: int | None = None, max_rules: int | None = None,
              where: str | None = None) -> tuple[RulePack, SignatureCheck]:
    """Read a pack file, verify it (size, JSON, schema, content hash, expressions), then its signature.

    Parameters
    ----------
    path : str or Path
    trusted_keys : TrustedKeys, str or Path, optional
        The line's trusted public keys (a ``.pub`` file or folder); default ``LEANLEARN_TRUSTED_KEYS``.
    require_signature : bool, optional
        Refuse a pack that is not validly signed by a trusted key; default ``LEANLEARN_REQUIRE_SIGNATURES``.
    max_bytes, max_rules : int, optional
        Limits, as for :meth:`RulePack.load`.
    where : str, optional
        How messages name the pack (default: the path).

    Returns
    -------
    (RulePack, SignatureCheck)
        When signatures are not required, a pack that is not validly signed is returned with a check saying why
        (show it as a warning).

    Raises
    ------
    PackError
        Anything wrong with the file, or — when required — with its signature, with the reason.

    Examples
    --------
    >>> import tempfile
    >>> from leanlearn.mining.rules import RuleSet
    >>> from leanlearn.packs.pack import Target
    >>> folder = Path(tempfile.mkdtemp())
    >>> path = RulePack(name="demo", line="L1", targets=(Target("scrap"),), rules=RuleSet()).save(folder / "p.json")
    >>> read_pack(path, require_signature=False)[1].status
    'unsigned'
    >>> read_pack(path, require_signature=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    leanlearn.errors.PackError: .../p.json: refused — this line requires packs signed by a trusted key, and it is ...
    >>> private, public = generate_keypair(folder / "k", signer="Alice")
    >>> pack, check = read_pack(sign_pack_file(path, private), trusted_keys=public, require_signature=True)
    >>> check.status, check.signer
    ('valid', 'Alice')
    """
    path = Path(path)
    label = where or str(path)
    required = require_signatures() if require_signature is None else bool(require_signature)
    if trusted_keys is None:
        trusted = TrustedKeys.from_env()
    elif isinstance(trusted_keys, TrustedKeys):
        trusted = trusted_keys
    else:
        trusted = TrustedKeys.load(trusted_keys)
    doc = _read_doc(path, max_bytes, label)
    pack = RulePack.from_json(doc, where=label, max_rules=max_rules)
    check = verify_document(doc, trusted)
    if required and not check.valid:
        text = check.message
        if check.status == "unsigned":
            text += "; ask its author to sign it (leanlearn pack sign) with a key the line trusts"
        raise PackError(f"{label}: refused — this line requires packs signed by a trusted key, and it {text}")
    return pack, check
