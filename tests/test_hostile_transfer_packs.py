"""Hostile packs handed to another line (issue 10, done-when): a threshold edited, a field removed, the hash changed,
the file cut short, oversized, schema-violating, non-UTF-8, deeply nested, NaN — each refused with its reason by
``read_pack`` and by ``leanlearn pack verify`` (one ``error:`` line, exit 2, never a traceback). An edited *and
re-hashed* pack passes the hash but is refused by signature verification where signatures are required, and accepted
with a visible warning where they are not."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from leanlearn.cli import app
from leanlearn.errors import PackError
from leanlearn.mining.rules import Condition, Rule, RuleSet
from leanlearn.packs.pack import RulePack, Target, content_hash
from leanlearn.packs.signing import generate_keypair, read_pack, sign_document

runner = CliRunner()


def _rule(i: int, value: float) -> Rule:
    return Rule((Condition("torque", ">=", value), Condition("tool", "in", ["T1", "T2"])),
                Condition("scrap", "==", 1), support=0.1, coverage=0.12, confidence=0.83, lift=4.2, leverage=0.08,
                conviction=5.0, n=120, hits=100, p_value=1e-6, p_value_raw=1e-7, ci=(0.75, 0.89), base_rate=0.2,
                id=f"R{i}")


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    """A pack signed by the line's trusted signer: (document, private key, trusted .pub)."""
    folder = tmp_path_factory.mktemp("hostile-keys")
    private, public = generate_keypair(folder / "origin.key", signer="Origin L1")
    pack = RulePack(name="press-scrap", line="L1", targets=(Target("scrap"),),
                    rules=RuleSet((_rule(1, 60.0), _rule(2, 75.5), _rule(3, 81.0))))
    return sign_document(pack.to_json(), private), private, public


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    for name in ("LEANLEARN_TRUSTED_KEYS", "LEANLEARN_REQUIRE_SIGNATURES", "LEANLEARN_MAX_PACK_BYTES",
                 "LEANLEARN_MAX_PACK_RULES"):
        monkeypatch.delenv(name, raising=False)


def _pretty(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _edit(doc: dict, change: Callable[[dict], object]) -> dict:
    out = json.loads(json.dumps(doc))
    change(out)
    return out


def _rehash(doc: dict) -> dict:
    doc["content_hash"] = content_hash(doc)
    return doc


def _nested(depth: int) -> dict:
    node: dict = {}
    for _ in range(depth):
        node = {"x": node}
    return node


# name -> (file bytes from the signed document, words the reason must hold)
HOSTILE: dict[str, tuple[Callable[[dict], bytes], tuple[str, ...]]] = {
    "threshold edited": (
        lambda d: _pretty(_edit(d, lambda x: x["rules"][1]["if"][0].update(value=70.0))).encode(),
        ("content hash mismatch", "changed after it was written")),
    "confidence edited": (
        lambda d: _pretty(_edit(d, lambda x: x["rules"][0].update(confidence=0.99))).encode(),
        ("content hash mismatch",)),
    "rule field removed": (
        lambda d: _pretty(_edit(d, lambda x: x["rules"][2].pop("confidence"))).encode(),
        ("field rules/2", "'confidence' is a required property")),
    "top-level field removed": (
        lambda d: _pretty(_edit(d, lambda x: x.pop("targets"))).encode(),
        ("'targets' is a required property",)),
    "hash removed": (
        lambda d: _pretty(_edit(d, lambda x: x.pop("content_hash"))).encode(),
        ("'content_hash' is a required property",)),
    "hash changed": (
        lambda d: _pretty(_edit(d, lambda x: x.update(content_hash="sha256:" + "0" * 64))).encode(),
        ("content hash mismatch", "stored sha256:000000000000")),
    "hash malformed": (
        lambda d: _pretty(_edit(d, lambda x: x.update(content_hash="md5:abc"))).encode(),
        ("field content_hash", "does not match")),
    "schema id changed": (
        lambda d: _pretty(_edit(d, lambda x: x.update(schema="leanlearn.rulepack/9"))).encode(),
        ("schema is 'leanlearn.rulepack/9', expected 'leanlearn.rulepack/1'",)),
    "wrong type": (
        lambda d: _pretty(_edit(d, lambda x: x["rules"][0].update(confidence="high"))).encode(),
        ("field rules/0/confidence", "'high' is not of type 'number'")),
    "unknown operator": (
        lambda d: _pretty(_edit(d, lambda x: x["rules"][0]["if"][0].update(op="=~"))).encode(),
        ("field rules/0/if/0/op", "'=~' is not one of")),
    "extra top-level field": (
        lambda d: _pretty(_edit(d, lambda x: x.update(run="rm -rf /"))).encode(),
        ("Additional properties are not allowed", "'run' was unexpected")),
    "signature with an extra field": (
        lambda d: _pretty(_edit(d, lambda x: x["signature"].update(exec="payload"))).encode(),
        ("field signature", "'exec' was unexpected")),
    "not an object": (lambda d: b"[1, 2, 3]\n", ("a rule pack is a JSON object, got list",)),
    "empty file": (lambda d: b"", ("is empty",)),
    "only whitespace": (lambda d: b"  \n\t\n", ("is empty",)),
    "non-UTF-8": (lambda d: _pretty(d).replace("press-scrap", "pr\udcffss").encode("utf-8", "surrogateescape"),
                  ("not a UTF-8 text file",)),
    "latin-1 text": (lambda d: json.dumps(_edit(d, lambda x: x.update(description="Ausschu\xdf")))
                     .replace("\\u00df", "\xdf").encode("latin-1"),
                     ("not a UTF-8 text file",)),
    "UTF-8 BOM": (lambda d: b"\xef\xbb\xbf" + _pretty(d).encode(), ("not valid JSON",)),
    "NaN": (lambda d: _pretty(d).replace('"confidence": 0.83', '"confidence": NaN', 1).encode(),
            ("NaN is not a JSON number",)),
    "Infinity": (lambda d: _pretty(d).replace('"lift": 4.2', '"lift": Infinity', 1).encode(),
                 ("Infinity is not a JSON number",)),
    "float overflow": (lambda d: _pretty(d).replace('"lift": 4.2', '"lift": 1e999', 1).encode(),
                       ("beyond the float range",)),
    "huge integer": (lambda d: _pretty(d).replace('"n": 120', '"n": ' + "9" * 5000, 1).encode(),
                     ("5000 digits",)),
    "deeply nested mining": (lambda d: _pretty(_edit(d, lambda x: x.update(mining=_nested(80)))).encode(),
                             ("field mining nests more than 64 levels deep",)),
    "pathologically nested": (lambda d: b'{"mining": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
                              ("nested too deeply to read",)),
    "a JSON string": (lambda d: b'"leanlearn.rulepack/1"', ("a rule pack is a JSON object, got str",)),
}


def _cuts(text: bytes) -> list[int]:
    return [1, 10, len(text) // 4, len(text) // 2, len(text) - 200, len(text) - 3]


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_read_pack_refuses_a_hostile_pack_with_its_reason(signed, tmp_path, case):
    make, words = HOSTILE[case]
    path = tmp_path / "hostile.json"
    path.write_bytes(make(signed[0]))
    with pytest.raises(PackError) as caught:
        read_pack(path, trusted_keys=signed[2], require_signature=False)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    for word in words:
        assert word in message, message
    assert len(message) < 600 and "\n" not in message


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_pack_verify_refuses_a_hostile_pack_in_one_error_line(signed, tmp_path, case):
    make, words = HOSTILE[case]
    path = tmp_path / "hostile.json"
    path.write_bytes(make(signed[0]))
    result = runner.invoke(app, ["pack", "verify", str(path), "--trusted-keys", str(signed[2]), "--json"])
    _one_error(result, str(path), *words)


def test_a_pack_cut_short_anywhere_is_refused_as_invalid_json(signed, tmp_path):
    text = _pretty(signed[0]).encode()
    for cut in _cuts(text):
        path = tmp_path / f"cut{cut}.json"
        path.write_bytes(text[:cut])
        with pytest.raises(PackError, match=rf"cut{cut}\.json: not valid JSON \(line \d+, column \d+: "):
            read_pack(path, trusted_keys=signed[2])
        _one_error(runner.invoke(app, ["pack", "verify", str(path)]), "not valid JSON")
    # cut after the closing brace's newline only: still the whole document, still valid
    path = tmp_path / "whole.json"
    path.write_bytes(text[:-1])
    assert read_pack(path, trusted_keys=signed[2], require_signature=True)[1].valid


def test_an_oversized_pack_is_refused_before_it_is_parsed(signed, tmp_path, monkeypatch):
    path = tmp_path / "big.json"
    text = _pretty(signed[0]).encode()
    path.write_bytes(text)
    with pytest.raises(PackError, match=f"big.json: larger than the limit of {len(text) - 1:,} bytes for a rule pack; "
                                        "raise it with LEANLEARN_MAX_PACK_BYTES"):
        read_pack(path, trusted_keys=signed[2], max_bytes=len(text) - 1)
    assert read_pack(path, trusted_keys=signed[2], max_bytes=len(text))[1].valid
    monkeypatch.setenv("LEANLEARN_MAX_PACK_BYTES", "1000")
    with pytest.raises(PackError, match="larger than the limit of 1,000 bytes"):
        read_pack(path, trusted_keys=signed[2])
    _one_error(runner.invoke(app, ["pack", "verify", str(path)]), "larger than the limit of 1,000 bytes")
    monkeypatch.setenv("LEANLEARN_MAX_PACK_BYTES", "lots")
    _one_error(runner.invoke(app, ["pack", "verify", str(path)]), "LEANLEARN_MAX_PACK_BYTES='lots'")


def test_too_many_rules_is_refused(signed, tmp_path, monkeypatch):
    path = tmp_path / "many.json"
    path.write_text(_pretty(signed[0]))
    monkeypatch.setenv("LEANLEARN_MAX_PACK_RULES", "2")
    _one_error(runner.invoke(app, ["pack", "verify", str(path)]), "3 rules, more than the limit of 2")


def test_a_folder_or_a_missing_file_is_one_error(tmp_path):
    _one_error(runner.invoke(app, ["pack", "verify", str(tmp_path)]), "is a folder, not a rule pack file")
    _one_error(runner.invoke(app, ["pack", "verify", str(tmp_path / "nope.json")]), "no such rule pack file")


def test_the_untouched_signed_pack_passes(signed, tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(_pretty(signed[0]))
    pack, check = read_pack(path, trusted_keys=signed[2], require_signature=True)
    assert check.valid and len(pack.rules) == 3
    result = runner.invoke(app, ["pack", "verify", str(path), "--trusted-keys", str(signed[2]), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["status"] == "valid"


# -- edited and re-hashed: the hash is satisfied, the signature is not ------------------------------------------------
REHASHED: dict[str, Callable[[dict], object]] = {
    "threshold": lambda x: x["rules"][1]["if"][0].update(value=70.0),
    "confidence": lambda x: x["rules"][0].update(confidence=0.99, ci=[0.95, 1.0]),
    "rule removed": lambda x: x["rules"].pop(2),
    "line": lambda x: x.update(line="L2"),
    "category codes": lambda x: x["rules"][0]["if"][1].update(value=["T1", "T9"]),
}


@pytest.mark.parametrize("case", list(REHASHED), ids=list(REHASHED))
def test_an_edited_and_rehashed_pack_is_refused_where_signatures_are_required(signed, tmp_path, case):
    doc = _rehash(_edit(signed[0], REHASHED[case]))
    path = tmp_path / "rehashed.json"
    path.write_text(_pretty(doc))
    RulePack.load(path)  # integrity alone is satisfied: anyone can re-hash
    with pytest.raises(PackError, match=r"rehashed\.json: refused — this line requires packs signed by a trusted "
                                        r"key, and it claims to be signed by 'Origin L1' with key ed25519:[0-9a-f]+, "
                                        r"but the signature does not match"):
        read_pack(path, trusted_keys=signed[2], require_signature=True)
    _one_error(runner.invoke(app, ["pack", "verify", str(path), "--trusted-keys", str(signed[2]),
                                   "--require-signature"]), "refused", "the signature does not match")


def test_an_edited_and_rehashed_pack_is_accepted_with_a_warning_where_signatures_are_not_required(signed, tmp_path,
                                                                                                 capsys):
    from leanlearn.cli_pack.sign import load_pack_file

    doc = _rehash(_edit(signed[0], REHASHED["threshold"]))
    path = tmp_path / "rehashed.json"
    path.write_text(_pretty(doc))
    pack, check = read_pack(path, trusted_keys=signed[2], require_signature=False)
    assert check.status == "invalid" and pack.rules.to_json()[1]["if"][0]["value"] == 70.0
    loaded = load_pack_file(path, trusted_keys=signed[2], require_signature=False)
    out, err = capsys.readouterr()
    assert loaded.name == "press-scrap" and out == ""
    assert err.startswith(f"warning: {path} claims to be signed by 'Origin L1'") and "does not match" in err
    result = runner.invoke(app, ["pack", "verify", str(path), "--trusted-keys", str(signed[2]), "--json"])
    assert result.exit_code == 1 and json.loads(result.stdout)["status"] == "invalid"


def test_an_edited_pack_with_its_signature_stripped_is_refused_as_unsigned(signed, tmp_path):
    doc = _rehash(_edit(signed[0], REHASHED["threshold"]))
    del doc["signature"]
    path = tmp_path / "stripped.json"
    path.write_text(_pretty(doc))
    with pytest.raises(PackError, match="refused — .* and it is not signed"):
        read_pack(path, trusted_keys=signed[2], require_signature=True)
    assert read_pack(path, trusted_keys=signed[2], require_signature=False)[1].status == "unsigned"


def test_an_edited_pack_re_signed_by_an_outsider_is_refused(signed, tmp_path):
    outsider, _ = generate_keypair(tmp_path / "mallory.key", signer="Origin L1")  # the same name, another key
    doc = sign_document(_rehash(_edit(signed[0], REHASHED["threshold"])), outsider)
    path = tmp_path / "resigned.json"
    path.write_text(_pretty(doc))
    with pytest.raises(PackError, match="which is not among the line's trusted keys in"):
        read_pack(path, trusted_keys=signed[2], require_signature=True)


# -- the same refusals through the commands that bring a pack onto a line ---------------------------------------------
@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_pack_import_refuses_a_hostile_pack_in_one_error_line(signed, tmp_path, case):
    make, words = HOSTILE[case]
    path = tmp_path / "hostile.json"
    path.write_bytes(make(signed[0]))
    out = tmp_path / "imported.json"
    result = runner.invoke(app, ["pack", "import", str(path), "--line", "L2", "--out", str(out),
                                 "--trusted-keys", str(signed[2]), "--json"])
    _one_error(result, str(path), *words)
    assert not out.exists()


@pytest.mark.parametrize("case", list(REHASHED), ids=list(REHASHED))
def test_pack_import_refuses_an_edited_and_rehashed_pack_where_signatures_are_required(signed, tmp_path, case,
                                                                                        monkeypatch):
    path = tmp_path / "rehashed.json"
    path.write_text(_pretty(_rehash(_edit(signed[0], REHASHED[case]))))
    out = tmp_path / "imported.json"
    args = ["pack", "import", str(path), "--line", "L2", "--out", str(out), "--trusted-keys", str(signed[2])]
    _one_error(runner.invoke(app, [*args, "--require-signature"]), "refused", "the signature does not match")
    monkeypatch.setenv("LEANLEARN_REQUIRE_SIGNATURES", "yes")
    _one_error(runner.invoke(app, args), "refused", "'Origin L1'")
    assert not out.exists()


def test_pack_import_accepts_an_edited_and_rehashed_pack_with_a_warning_where_not_required(signed, tmp_path):
    path = tmp_path / "rehashed.json"
    path.write_text(_pretty(_rehash(_edit(signed[0], REHASHED["threshold"]))))
    out = tmp_path / "imported.json"
    result = runner.invoke(app, ["pack", "import", str(path), "--line", "L2", "--out", str(out),
                                 "--trusted-keys", str(signed[2]), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["line"] == "L2" and out.exists()  # stdout stays pure JSON
    (warning,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert warning.startswith(f"warning: {path} claims to be signed by 'Origin L1'")
    assert "signature does not match" in warning and "accepted because this line does not require" in warning


def test_pack_import_of_the_untouched_signed_pack_is_silent(signed, tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(_pretty(signed[0]))
    result = runner.invoke(app, ["pack", "import", str(path), "--line", "L2", "--out", str(tmp_path / "i.json"),
                                 "--trusted-keys", str(signed[2]), "--require-signature", "--json"])
    assert result.exit_code == 0 and result.stderr == "", result.stderr


@pytest.fixture(scope="module")
def line_data(tmp_path_factory):
    """A small table of the target line: torque, tool, scrap (scrap mostly where torque is high on T1/T2)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(10)
    torque = rng.uniform(40, 100, 600)
    tool = rng.choice(["T1", "T2", "T3"], 600)
    scrap = ((torque >= 60) & (tool != "T3") & (rng.uniform(size=600) < 0.85)) | (rng.uniform(size=600) < 0.05)
    path = tmp_path_factory.mktemp("line-data") / "l2-runs.csv"
    pd.DataFrame({"torque": torque.round(2), "tool": tool, "scrap": scrap.astype(int)}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_pack_validate_refuses_a_hostile_pack_in_one_error_line(signed, tmp_path, line_data, case):
    make, words = HOSTILE[case]
    path = tmp_path / "hostile.json"
    path.write_bytes(make(signed[0]))
    report = tmp_path / "report.html"
    result = runner.invoke(app, ["pack", "validate", str(path), str(line_data), "--out", str(report),
                                 "--trusted-keys", str(signed[2]), "--json"])
    _one_error(result, str(path), *words)
    assert not report.exists()


@pytest.mark.parametrize("case", ["threshold", "line"])
def test_pack_validate_refuses_an_edited_and_rehashed_pack_where_signatures_are_required(signed, tmp_path, line_data,
                                                                                          case, monkeypatch):
    path = tmp_path / "rehashed.json"
    path.write_text(_pretty(_rehash(_edit(signed[0], REHASHED[case]))))
    args = ["pack", "validate", str(path), str(line_data), "--trusted-keys", str(signed[2]), "--json"]
    _one_error(runner.invoke(app, [*args, "--require-signature"]), "refused", "the signature does not match")
    monkeypatch.setenv("LEANLEARN_REQUIRE_SIGNATURES", "1")
    _one_error(runner.invoke(app, args), "refused", "'Origin L1'")


def test_pack_validate_accepts_an_edited_and_rehashed_pack_with_a_warning_where_not_required(signed, tmp_path,
                                                                                            line_data):
    path = tmp_path / "rehashed.json"
    path.write_text(_pretty(_rehash(_edit(signed[0], REHASHED["threshold"]))))
    result = runner.invoke(app, ["pack", "validate", str(path), str(line_data), "--trusted-keys", str(signed[2]),
                                 "--json"])
    assert result.exit_code in (0, 1), result.stderr  # the gate's verdict; the pack was read
    json.loads(result.stdout)  # stdout stays pure JSON
    warnings = [line for line in result.stderr.splitlines() if line.startswith(f"warning: {path} ")]
    assert len(warnings) == 1 and "claims to be signed by 'Origin L1'" in warnings[0]
    assert "signature does not match" in warnings[0]
    clean = tmp_path / "ok.json"
    clean.write_text(_pretty(signed[0]))
    result = runner.invoke(app, ["pack", "validate", str(clean), str(line_data), "--trusted-keys", str(signed[2]),
                                 "--require-signature", "--json"])
    assert result.exit_code in (0, 1) and f"warning: {clean}" not in result.stderr, result.stderr


def _one_error(result, *words: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]
