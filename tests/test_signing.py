"""Signed rule packs: Ed25519 key pairs, signatures over the canonical content and the signer, trusted keys, the
line's policy (require or warn), and ``leanlearn pack keygen / sign / verify``."""

from __future__ import annotations

import base64
import copy
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leanlearn.cli import app
from leanlearn.errors import PackError
from leanlearn.mining.rules import Condition, Rule, RuleSet
from leanlearn.packs.pack import RulePack, Target, canonical_bytes, content_hash
from leanlearn.packs.signing import (
    DOMAIN,
    PUBLIC_KEY_TAG,
    SignatureCheck,
    TrustedKeys,
    generate_keypair,
    key_id,
    public_key_line,
    read_pack,
    require_signatures,
    sign_document,
    sign_pack_file,
    signed_message,
    verify_document,
)

runner = CliRunner()


def _rule(i: int, value: float = 60.0) -> Rule:
    return Rule((Condition("torque", ">=", value),), Condition("scrap", "==", 1), support=0.1, coverage=0.1,
                confidence=0.9, lift=4.5, leverage=0.08, conviction=8.0, n=10, hits=9, p_value=1e-4,
                p_value_raw=1e-5, ci=(0.6, 0.98), base_rate=0.2, id=f"R{i}")


def _doc(name: str = "press-scrap", line: str = "L1") -> dict:
    pack = RulePack(name=name, line=line, targets=(Target("scrap"),), rules=RuleSet((_rule(1), _rule(2, 75.0))),
                    description="Pressen-Ausschuss · ünïcode", created="2026-01-01T00:00:00Z")
    return pack.to_json()  # a fixed creation time: the hash covers it, and two calls may straddle a second


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    alice = generate_keypair(folder / "alice.key", signer="Alice Martin (L1)")
    mallory = generate_keypair(folder / "mallory.key", signer="mallory")
    trusted = folder / "trusted"
    trusted.mkdir()
    (trusted / "alice.pub").write_text(alice[1].read_text())
    return {"alice": alice, "mallory": mallory, "trusted": trusted, "folder": folder}


@pytest.fixture()
def no_env(monkeypatch):
    for name in ("LEANLEARN_TRUSTED_KEYS", "LEANLEARN_REQUIRE_SIGNATURES", "LEANLEARN_KEY_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)


def _trusted(keys) -> TrustedKeys:
    return TrustedKeys.load(keys["trusted"])


# -- keys -------------------------------------------------------------------------------------------------------
def test_keygen_writes_a_private_pem_readable_by_its_owner_only_and_a_one_line_public_key(keys):
    private, public = keys["alice"]
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert oct(private.stat().st_mode & 0o777) == "0o600"
    assert public == private.with_name("alice.key.pub")
    (line,) = public.read_text().splitlines()
    tag, b64, name = line.split(" ", 2)
    assert tag == PUBLIC_KEY_TAG and name == "Alice Martin (L1)" and len(base64.b64decode(b64)) == 32
    assert TrustedKeys.load(public).keys[0].key_id == key_id(base64.b64decode(b64))


def test_key_id_is_sha256_of_the_raw_key_truncated_to_16_bytes():
    import hashlib

    raw = bytes(range(32))
    assert key_id(raw) == "ed25519:" + hashlib.sha256(raw).hexdigest()[:32]
    with pytest.raises(PackError, match="32 bytes, got 31"):
        key_id(raw[:31])


def test_keygen_never_overwrites_a_key_and_refuses_bad_signer_names(keys, tmp_path):
    private = keys["alice"][0]
    before = private.read_bytes()
    with pytest.raises(PackError, match="already exists; a key is never overwritten"):
        generate_keypair(private, signer="Alice")
    assert private.read_bytes() == before
    (tmp_path / "only.key.pub").write_text("x")  # an orphan .pub also blocks: the pair would not match
    with pytest.raises(PackError, match=r"only\.key\.pub: already exists"):
        generate_keypair(tmp_path / "only.key", signer="A")
    assert not (tmp_path / "only.key").exists()
    for name, reason in [("", "empty"), ("   ", "empty"), ("evil\x1b[31m", "control or invisible"),
                         ("a\nb", "control or invisible"), ("x" * 201, "201 characters"), (42, "must be text")]:
        with pytest.raises(PackError, match=reason):
            generate_keypair(tmp_path / "k2", signer=name)  # type: ignore[arg-type]
    assert not (tmp_path / "k2").exists()
    with pytest.raises(PackError, match="no such folder"):
        generate_keypair(tmp_path / "missing" / "k", signer="A")


def test_an_encrypted_private_key_needs_its_passphrase(tmp_path, no_env, monkeypatch):
    private, public = generate_keypair(tmp_path / "enc.key", signer="Enc", passphrase="correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in private.read_bytes()
    doc = _doc()
    with pytest.raises(PackError, match="encrypted; set its passphrase in LEANLEARN_KEY_PASSPHRASE"):
        sign_document(doc, private)
    with pytest.raises(PackError, match="wrong passphrase"):
        sign_document(doc, private, passphrase="wrong")
    monkeypatch.setenv("LEANLEARN_KEY_PASSPHRASE", "correct horse")
    signed = sign_document(doc, private)
    assert verify_document(signed, TrustedKeys.load(public)).status == "valid"
    from_env, _ = generate_keypair(tmp_path / "env.key", signer="P")
    assert b"ENCRYPTED" in from_env.read_bytes()  # the environment's passphrase applies when none is given
    plain, _ = generate_keypair(tmp_path / "plain.key", signer="P", passphrase="")
    assert b"ENCRYPTED" not in plain.read_bytes()  # an empty passphrase given means none


def test_a_private_key_readable_by_others_is_refused(keys, tmp_path):
    copy_path = tmp_path / "leaky.key"
    copy_path.write_bytes(keys["alice"][0].read_bytes())
    os.chmod(copy_path, 0o644)
    with pytest.raises(PackError, match=r"readable by others \(mode 0644\); protect it with chmod 600"):
        sign_document(_doc(), copy_path, signer="A")
    os.chmod(copy_path, 0o600)
    assert sign_document(_doc(), copy_path, signer="A")["signature"]["signer"] == "A"


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "not a PEM private key"),
    (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a PEM private key"),
    (b"\xff\xfe garbage", "not a PEM private key"),
    (b"x" * 20_000, "larger than 16,384 bytes"),
])
def test_a_broken_private_key_is_one_pack_error(tmp_path, content, reason):
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    os.chmod(path, 0o600)
    with pytest.raises(PackError, match=reason):
        sign_document(_doc(), path, signer="A")


def test_signing_with_a_public_key_or_a_non_ed25519_key_says_so(keys, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    public = keys["alice"][1]
    pub_copy = tmp_path / "pub.key"
    pub_copy.write_bytes(public.read_bytes())
    os.chmod(pub_copy, 0o600)
    with pytest.raises(PackError, match="is a public key; sign with the private key"):
        sign_document(_doc(), pub_copy)
    ec_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path = tmp_path / "ec.key"
    path.write_bytes(ec_key)
    os.chmod(path, 0o600)
    with pytest.raises(PackError, match="not an Ed25519 key"):
        sign_document(_doc(), path, signer="A")


# -- signing and verifying -------------------------------------------------------------------------------------
def test_sign_and_verify_round_trip_and_the_content_hash_is_unchanged(keys):
    doc = _doc()
    signed = sign_document(doc, keys["alice"][0])
    assert signed["content_hash"] == doc["content_hash"] == content_hash(signed)
    assert canonical_bytes(signed) == canonical_bytes(doc)
    sig = signed["signature"]
    assert set(sig) == {"algorithm", "signer", "key_id", "signed", "value"}
    assert sig["algorithm"] == "ed25519" and sig["signer"] == "Alice Martin (L1)"
    assert sig["key_id"] == _trusted(keys).keys[0].key_id
    assert len(base64.b64decode(sig["value"])) == 64 and sig["signed"].endswith("Z")
    assert "signature" not in doc  # the input is not changed
    check = verify_document(signed, _trusted(keys))
    assert check == SignatureCheck("valid", check.message, "Alice Martin (L1)", sig["key_id"], sig["signed"],
                                   str(keys["trusted"]))
    assert check.valid and "trusted in" in check.message and "alice.pub line 1" in check.message
    pack = RulePack.from_json(signed)  # the schema accepts the signature; the pack carries it
    assert pack.signature == sig and pack.content_hash == doc["content_hash"]
    assert verify_document(pack.to_json(), _trusted(keys)).valid  # RulePack re-serialises the same content


def test_the_signed_message_is_domain_separated_and_covers_signer_key_time_and_content(keys):
    signed = sign_document(_doc(), keys["alice"][0])
    message = signed_message(signed, signed["signature"])
    assert message.startswith(DOMAIN)
    header, body = message[len(DOMAIN):].split(b"\n", 1)
    assert json.loads(header) == {"algorithm": "ed25519", **{k: signed["signature"][k]
                                                              for k in ("key_id", "signed", "signer")}}
    assert body == canonical_bytes(signed)


def test_resigning_replaces_the_earlier_signature(keys):
    once = sign_document(_doc(), keys["mallory"][0])
    twice = sign_document(once, keys["alice"][0])
    assert twice["signature"]["signer"] == "Alice Martin (L1)"
    assert verify_document(twice, _trusted(keys)).valid


@pytest.mark.parametrize("style", ["pretty", "compact", "reordered", "ascii"])
def test_the_signature_survives_re_serialisation(keys, tmp_path, style):
    signed = sign_document(_doc(), keys["alice"][0])
    if style == "pretty":
        text = json.dumps(signed, indent=4, ensure_ascii=False)
    elif style == "compact":
        text = json.dumps(signed, separators=(",", ":"), ensure_ascii=False)
    elif style == "reordered":
        text = json.dumps(dict(reversed(list(signed.items()))), indent=1, sort_keys=True)
    else:
        text = json.dumps(signed, ensure_ascii=True)
    path = tmp_path / "p.json"
    path.write_text(text, encoding="utf-8")
    pack, check = read_pack(path, trusted_keys=keys["trusted"], require_signature=True)
    assert check.status == "valid" and pack.name == "press-scrap"


def test_an_untrusted_key_is_named_with_its_signer_and_where_the_trusted_keys_are(keys):
    signed = sign_document(_doc(), keys["mallory"][0])
    check = verify_document(signed, _trusted(keys))
    assert check.status == "untrusted" and check.signer == "mallory"
    assert check.message.startswith(f"is signed by 'mallory' with key {signed['signature']['key_id']}, which is not "
                                    f"among the line's trusted keys in {keys['trusted']}")
    assert "add their public key or ask for a pack signed by a trusted key" in check.message
    none = verify_document(signed, None)
    assert none.status == "untrusted" and "no trusted keys are configured" in none.message


def test_a_wrong_key_claiming_a_trusted_key_id_is_invalid(keys):
    signed = sign_document(_doc(), keys["mallory"][0])
    signed["signature"]["key_id"] = _trusted(keys).keys[0].key_id  # mallory's signature, alice's key id
    signed["signature"]["signer"] = "Alice Martin (L1)"
    check = verify_document(signed, _trusted(keys))
    assert check.status == "invalid" and "the signature does not match" in check.message


def test_a_trusted_key_signing_under_another_name_is_untrusted(keys, tmp_path):
    signed = sign_document(_doc(), keys["alice"][0], signer="Bob (quality)")  # alice's key, a claimed other name
    check = verify_document(signed, _trusted(keys))
    assert check.status == "untrusted"
    assert "a key the line trusts as 'Alice Martin (L1)'" in check.message and "'Bob (quality)'" in check.message


@pytest.mark.parametrize(("field", "value"), [("signer", "Alice Martin (L2)"), ("signed", "2020-01-01T00:00:00Z")])
def test_editing_the_signer_name_or_the_signing_time_breaks_the_signature(keys, field, value):
    signed = sign_document(_doc(), keys["alice"][0])
    signed["signature"][field] = value
    if field == "signer":  # the line trusts the key under the new name too: the name is still covered
        trusted = TrustedKeys.parse(public_key_line(_trusted(keys).keys[0].raw, value), "t.pub")
    else:
        trusted = _trusted(keys)
    check = verify_document(signed, trusted)
    assert check.status == "invalid" and "signer name or its signing time was changed" in check.message


def test_removing_the_signing_time_breaks_the_signature(keys):
    signed = sign_document(_doc(), keys["alice"][0])
    del signed["signature"]["signed"]
    assert verify_document(signed, _trusted(keys)).status == "invalid"


def test_a_signature_transplanted_from_another_pack_is_invalid(keys):
    one = sign_document(_doc("press-scrap", "L1"), keys["alice"][0])
    other = _doc("press-scrap", "L3")  # a different pack, unsigned: someone copies the signature over
    other["signature"] = copy.deepcopy(one["signature"])
    assert RulePack.from_json(other).signature == one["signature"]  # the schema cannot tell
    check = verify_document(other, _trusted(keys))
    assert check.status == "invalid" and "does not match" in check.message


def test_an_edited_and_rehashed_pack_is_invalid(keys):
    signed = sign_document(_doc(), keys["alice"][0])
    signed["rules"][0]["if"][0]["value"] = 70.0
    signed["content_hash"] = content_hash(signed)
    RulePack.from_json(signed)  # the hash is fine again
    assert verify_document(signed, _trusted(keys)).status == "invalid"


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda s: s.update(value="not*base64!"), "not base64"),
    (lambda s: s.update(value=base64.b64encode(b"x" * 63).decode()), "63 bytes, an Ed25519 signature is 64"),
    (lambda s: s.update(value=base64.b64encode(b"x" * 65).decode()), "65 bytes"),
    (lambda s: s.update(value=base64.b64encode(bytes(64)).decode()), "does not match"),
    (lambda s: s.update(algorithm="rsa"), "algorithm 'rsa'"),
    (lambda s: s.pop("value"), "without value"),
    (lambda s: s.update(signer=7), "without signer"),
    (lambda s: s.update(key_id="md5:00"), "key id 'md5:00'"),
])
def test_a_damaged_signature_is_invalid_with_its_reason(keys, edit, reason):
    signed = sign_document(_doc(), keys["alice"][0])
    edit(signed["signature"])
    check = verify_document(signed, _trusted(keys))
    assert check.status == "invalid" and reason in check.message


def test_a_signature_that_is_not_an_object_or_a_wrong_hash_is_invalid(keys):
    signed = sign_document(_doc(), keys["alice"][0])
    assert verify_document({**signed, "signature": "abc"}, _trusted(keys)).status == "invalid"
    assert "content hash that does not match" in verify_document({**signed, "line": "L9"}, _trusted(keys)).message
    assert verify_document(_doc(), _trusted(keys)).status == "unsigned"


def test_a_tampered_pack_is_never_signed(keys):
    doc = _doc()
    doc["line"] = "L2"
    with pytest.raises(PackError, match="content hash mismatch"):
        sign_document(doc, keys["alice"][0])
    with pytest.raises(PackError, match="a rule pack is a JSON object"):
        sign_document([1, 2], keys["alice"][0])  # type: ignore[arg-type]


def test_sign_without_a_pub_file_needs_a_signer_name(keys, tmp_path):
    lone = tmp_path / "lone.key"
    lone.write_bytes(keys["alice"][0].read_bytes())
    os.chmod(lone, 0o600)
    with pytest.raises(PackError, match="no signer name .* give one with --signer"):
        sign_document(_doc(), lone)
    (tmp_path / "lone.key.pub").write_text(keys["mallory"][1].read_text())  # the wrong .pub beside it
    with pytest.raises(PackError, match="does not hold the public key of"):
        sign_document(_doc(), lone)


def test_sign_pack_file_in_place_and_to_another_file_atomically(keys, tmp_path):
    path = RulePack.from_json(_doc()).save(tmp_path / "p.json")
    before = path.read_text()
    out = sign_pack_file(path, keys["alice"][0], out=tmp_path / "signed" / "p.json")
    assert path.read_text() == before and out.parent.name == "signed"
    assert sign_pack_file(path, keys["alice"][0]) == path
    assert json.loads(path.read_text())["signature"]["signer"] == "Alice Martin (L1)"
    assert not list(tmp_path.glob(".*.tmp")) and not list(out.parent.glob(".*.tmp"))
    with pytest.raises(PackError, match="is a folder; give the signed pack a file name"):
        sign_pack_file(path, keys["alice"][0], out=tmp_path)


# -- trusted keys ----------------------------------------------------------------------------------------------
def test_trusted_keys_from_a_file_of_lines_a_folder_and_the_environment(keys, tmp_path, monkeypatch):
    listing = tmp_path / "line-L2.pub"
    listing.write_text("# trusted by line L2\n\n" + keys["alice"][1].read_text() + keys["mallory"][1].read_text()
                       + keys["alice"][1].read_text())  # a repeated line counts once
    trusted = TrustedKeys.load(listing)
    assert trusted.signers() == ["Alice Martin (L1)", "mallory"] and len(trusted) == 2
    assert trusted.keys[1].source == f"{listing} line 4"
    folder = TrustedKeys.load(keys["trusted"])
    assert folder.signers() == ["Alice Martin (L1)"] and folder.source == str(keys["trusted"])
    monkeypatch.setenv("LEANLEARN_TRUSTED_KEYS", str(listing))
    assert TrustedKeys.from_env().signers() == trusted.signers()  # type: ignore[union-attr]
    monkeypatch.setenv("LEANLEARN_TRUSTED_KEYS", "  ")
    assert TrustedKeys.from_env() is None


@pytest.mark.parametrize(("text", "reason"), [
    ("ssh-ed25519 AAAA me\n", "starts with 'ssh-ed25519', expected 'leanlearn-ed25519'"),
    ("leanlearn-ed25519 AAAA\n", "the signer name is missing"),
    ("leanlearn-ed25519\n", "the key and signer name are missing"),
    ("leanlearn-ed25519 %%%% me\n", "is not base64"),
    ("leanlearn-ed25519 AAAA me\n", "the key is 3 bytes, an Ed25519 public key is 32"),
    ("-----BEGIN PRIVATE KEY-----\nMC4CAQ\n", "this is a PRIVATE key"),
    ("leanlearn-ed25519 " + base64.b64encode(bytes(32)).decode() + " evil\u202ename\n", "control or invisible"),
])
def test_a_bad_key_file_in_the_trusted_folder_is_named_with_its_line(keys, tmp_path, text, reason):
    folder = tmp_path / "trusted"
    folder.mkdir()
    (folder / "alice.pub").write_text(keys["alice"][1].read_text())
    (folder / "zz-bad.pub").write_text("# comment\n" + text)
    with pytest.raises(PackError, match=r"zz-bad\.pub line 2: " + ".*" + reason.replace("(", r"\(")
                       .replace(")", r"\)").replace("%", "%")):
        TrustedKeys.load(folder)


def test_trusted_keys_are_bounded_and_refuse_conflicts_and_empty_lists(keys, tmp_path):
    big = tmp_path / "big.pub"
    big.write_bytes(b"#" * (256 * 1024 + 1))
    with pytest.raises(PackError, match="larger than 262,144 bytes"):
        TrustedKeys.load(big)
    many = tmp_path / "many.pub"
    many.write_text("".join(public_key_line(os.urandom(32), f"s{i}") + "\n" for i in range(1001)))
    with pytest.raises(PackError, match="more than 1000 keys"):
        TrustedKeys.load(many)
    raw = _trusted(keys).keys[0].raw
    clash = tmp_path / "clash.pub"
    clash.write_text(public_key_line(raw, "Alice") + "\n" + public_key_line(raw, "Eve") + "\n")
    with pytest.raises(PackError, match="clash.pub line 2: key ed25519:[0-9a-f]+ is trusted as 'Eve' here and as "
                                        "'Alice'"):
        TrustedKeys.load(clash)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PackError, match=r"no \*\.pub files in the trusted-keys folder"):
        TrustedKeys.load(empty)
    (tmp_path / "comments.pub").write_text("# nobody yet\n")
    with pytest.raises(PackError, match="holds no public key lines"):
        TrustedKeys.load(tmp_path / "comments.pub")
    with pytest.raises(PackError, match="no such trusted-keys file or folder"):
        TrustedKeys.load(tmp_path / "nope")
    (tmp_path / "latin1.pub").write_bytes(b"leanlearn-ed25519 AAAA J\xf6rg\n")
    with pytest.raises(PackError, match="latin1.pub: not a UTF-8 text file"):
        TrustedKeys.load(tmp_path / "latin1.pub")


# -- the line's policy -----------------------------------------------------------------------------------------
def test_require_signatures_reads_the_environment():
    assert [require_signatures({"LEANLEARN_REQUIRE_SIGNATURES": v}) for v in ("1", "TRUE", " yes ", "on")] == [True] * 4
    assert [require_signatures({"LEANLEARN_REQUIRE_SIGNATURES": v}) for v in ("", "0", "false", "No")] == [False] * 4
    with pytest.raises(PackError, match="LEANLEARN_REQUIRE_SIGNATURES='maybe' is not a yes or no"):
        require_signatures({"LEANLEARN_REQUIRE_SIGNATURES": "maybe"})


def test_read_pack_refuses_or_warns_by_policy(keys, tmp_path, no_env, monkeypatch):
    unsigned = RulePack.from_json(_doc()).save(tmp_path / "unsigned.json")
    by_alice = sign_pack_file(unsigned, keys["alice"][0], out=tmp_path / "alice.json")
    by_mallory = sign_pack_file(unsigned, keys["mallory"][0], out=tmp_path / "mallory.json")
    pack, check = read_pack(unsigned)
    assert check.status == "unsigned" and pack.name == "press-scrap"
    assert read_pack(by_mallory, trusted_keys=keys["trusted"])[1].status == "untrusted"
    assert read_pack(by_alice, trusted_keys=_trusted(keys), require_signature=True)[1].valid
    with pytest.raises(PackError, match=r"unsigned\.json: refused — this line requires packs signed by a trusted "
                                        r"key, and it is not signed; ask its author to sign it"):
        read_pack(unsigned, trusted_keys=keys["trusted"], require_signature=True)
    with pytest.raises(PackError, match=r"mallory\.json: refused — .* is signed by 'mallory' with key ed25519:"
                                        r"[0-9a-f]{32}, which is not among the line's trusted keys in "):
        read_pack(by_mallory, trusted_keys=keys["trusted"], require_signature=True)
    with pytest.raises(PackError, match="no trusted keys are configured"):
        read_pack(by_alice, require_signature=True)
    monkeypatch.setenv("LEANLEARN_TRUSTED_KEYS", str(keys["trusted"]))
    monkeypatch.setenv("LEANLEARN_REQUIRE_SIGNATURES", "1")
    assert read_pack(by_alice)[1].valid
    with pytest.raises(PackError, match="refused"):
        read_pack(by_mallory)
    assert read_pack(by_mallory, require_signature=False)[1].status == "untrusted"  # the argument wins
    monkeypatch.setenv("LEANLEARN_TRUSTED_KEYS", str(tmp_path / "gone"))
    with pytest.raises(PackError, match="gone: no such trusted-keys file or folder; check LEANLEARN_TRUSTED_KEYS"):
        read_pack(by_alice)


# -- CLI --------------------------------------------------------------------------------------------------------
def _invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, ["pack", *args], env=env)


def _one_error(result, *words: str) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_cli_keygen_sign_verify(tmp_path, no_env):
    key = tmp_path / "qa.key"
    result = _invoke("keygen", "--out", str(key), "--signer", "QA Lead", "--json")
    assert result.exit_code == 0, result.stderr
    made = json.loads(result.stdout)
    assert made == {"private_key": str(key), "public_key": str(key) + ".pub", "signer": "QA Lead",
                    "key_id": TrustedKeys.load(Path(made["public_key"])).keys[0].key_id, "encrypted": False}
    _one_error(_invoke("keygen", "--out", str(key), "--signer", "QA Lead"), "already exists")
    human = _invoke("keygen", "--out", str(tmp_path / "other.key"), "--signer", "Other")
    assert human.exit_code == 0 and "wrote private key" in human.stdout and "key id ed25519:" in human.stdout

    pack = RulePack.from_json(_doc()).save(tmp_path / "p.json")
    result = _invoke("verify", str(pack), "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["status"] == "unsigned"
    result = _invoke("sign", str(pack), "--key", str(key), "--out", str(tmp_path / "s.json"), "--json")
    assert result.exit_code == 0, result.stderr
    signed = json.loads(result.stdout)
    assert signed["signer"] == "QA Lead" and signed["content_hash"] == _doc()["content_hash"]
    assert signed["out"] == str(tmp_path / "s.json") and "signature" not in json.loads(pack.read_text())
    result = _invoke("sign", str(pack), "--key", str(key), "--signer", "QA Lead")  # in place
    assert result.exit_code == 0 and "content hash sha256:" in result.stdout and "unchanged" in result.stdout

    result = _invoke("verify", str(pack), "--trusted-keys", str(key) + ".pub", "--json")
    assert result.exit_code == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["valid"] is True and verdict["status"] == "valid" and verdict["signer"] == "QA Lead"
    assert verdict["name"] == "press-scrap" and verdict["content_hash"] == signed["content_hash"]
    human = _invoke("verify", str(pack), "--trusted-keys", str(key) + ".pub")
    assert human.exit_code == 0 and human.stdout.startswith(f"valid: {pack} is signed by 'QA Lead'")
    other = str(tmp_path / "other.key.pub")
    untrusted = _invoke("verify", str(pack), "--trusted-keys", other)
    assert untrusted.exit_code == 1 and untrusted.stdout.startswith("untrusted: ")
    _one_error(_invoke("verify", str(pack), "--trusted-keys", other, "--require-signature"),
               "refused", "'QA Lead'", "not among the line's trusted keys")
    env = {"LEANLEARN_TRUSTED_KEYS": other, "LEANLEARN_REQUIRE_SIGNATURES": "1"}
    _one_error(_invoke("verify", str(pack), env=env), "refused")
    assert _invoke("verify", str(pack), "--no-require-signature", env=env).exit_code == 1
    _one_error(_invoke("verify", str(tmp_path / "nope.json")), "no such rule pack file")
    _one_error(_invoke("sign", str(pack), "--key", str(tmp_path / "nope.key")), "no such private key file")


def test_cli_sign_with_an_encrypted_key_takes_the_passphrase_from_the_environment(tmp_path, no_env):
    key = tmp_path / "enc.key"
    made = _invoke("keygen", "--out", str(key), "--signer", "E", "--json", env={"LEANLEARN_KEY_PASSPHRASE": "pw"})
    assert json.loads(made.stdout)["encrypted"] is True
    pack = RulePack.from_json(_doc()).save(tmp_path / "p.json")
    _one_error(_invoke("sign", str(pack), "--key", str(key)), "encrypted", "LEANLEARN_KEY_PASSPHRASE")
    _one_error(_invoke("sign", str(pack), "--key", str(key), env={"LEANLEARN_KEY_PASSPHRASE": "nope"}),
               "wrong passphrase")
    assert _invoke("sign", str(pack), "--key", str(key), env={"LEANLEARN_KEY_PASSPHRASE": "pw"}).exit_code == 0
    result = _invoke("sign", str(pack), "--key", str(key), "--passphrase", "pw")
    assert result.exit_code == 2 and "No such option" in result.stderr  # never a CLI argument


def test_load_pack_file_warns_on_stderr_and_keeps_stdout_clean(keys, tmp_path, no_env, capsys):
    from leanlearn.cli_pack.sign import load_pack_file, load_pack_file_checked

    unsigned = RulePack.from_json(_doc()).save(tmp_path / "unsigned.json")
    pack = load_pack_file(unsigned, trusted_keys=keys["trusted"], require_signature=False)
    out, err = capsys.readouterr()
    assert pack.name == "press-scrap" and out == ""
    assert err.startswith(f"warning: {unsigned} is not signed; accepted because this line does not require")
    by_alice = sign_pack_file(unsigned, keys["alice"][0], out=tmp_path / "alice.json")
    _, check = load_pack_file_checked(by_alice, trusted_keys=keys["trusted"], require_signature=True)
    assert check.valid and capsys.readouterr() == ("", "")
    with pytest.raises(PackError, match="refused"):
        load_pack_file(unsigned, trusted_keys=keys["trusted"], require_signature=True)


def test_a_warning_cannot_smuggle_terminal_escapes(keys, tmp_path, no_env, capsys):
    from leanlearn.cli_pack.sign import load_pack_file

    doc = sign_document(_doc(), keys["mallory"][0], signer="mallory")
    doc["signature"]["signer"] = "\x1b]0;owned\x07mallory"  # edited after signing: invalid, and hostile text
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    load_pack_file(path, trusted_keys=keys["trusted"], require_signature=False)
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "\\x1b]0;owned\\x07mallory" in err
    assert "not among the line's trusted keys" in err
