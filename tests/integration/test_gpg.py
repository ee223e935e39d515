"""GpgSigner and GpgvVerifier against the real gpg and gpgv.

Keys are generated (ed25519, fast) in temporary GnuPG homes; the gpg-agent each home
starts is stopped at the end of the module.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chantal_adapters.gpg import GpgSigner, GpgvVerifier, generate_key, stop_agent
from chantal_core.errors import PublishError, SignatureError

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("gpg") is None or shutil.which("gpgv") is None,
                       reason="gpg and gpgv are needed"),
]

RELEASE = (b"Origin: Chantal Test\nLabel: Chantal Test\nSuite: stable\nCodename: test\n"
           b"Date: Sat, 01 Jun 2024 12:00:00 UTC\n-----BEGIN-looking line\n"
           b"SHA256:\n 0123 456 main/binary-amd64/Packages\n")


@dataclass
class Key:
    homedir: str
    fingerprint: str
    signer: GpgSigner
    armored: Path  # public key, armored (.asc)
    binary: Path  # public key, binary keyring (.gpg)


def _make_key(base: Path, name: str) -> Key:
    home = str(base / name / "gnupg")
    fingerprint = generate_key(home, f"Chantal {name}", f"{name}@example.invalid",
                               algorithm="ed25519")
    signer = GpgSigner(home, fingerprint)
    armored = base / name / "key.asc"
    armored.write_bytes(signer.public_key())
    binary = base / name / "key.gpg"
    subprocess.run(["gpg", "--homedir", home, "--batch", "--yes", "--output", str(binary),
                    "--export", fingerprint], check=True, capture_output=True)
    return Key(home, fingerprint, signer, armored, binary)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Key, Key]]:
    base = tmp_path_factory.mktemp("gpg")
    made: list[Key] = []
    try:
        made.append(_make_key(base, "signing"))
        made.append(_make_key(base, "other"))
        yield made[0], made[1]
    finally:
        for key in made:
            stop_agent(key.homedir)
        for name in ("signing", "other"):
            stop_agent(str(base / name / "gnupg"))


def test_generated_key_has_a_fingerprint(keys: tuple[Key, Key]) -> None:
    key, other = keys
    assert len(key.fingerprint) == 40 and key.fingerprint == key.fingerprint.upper()
    assert key.fingerprint != other.fingerprint
    assert key.signer.public_key().startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----")


@pytest.mark.parametrize("keyring_kind", ["armored", "binary"])
@pytest.mark.parametrize("armor", [True, False])
def test_detached_signature_verifies(keys: tuple[Key, Key], keyring_kind: str, armor: bool
                                     ) -> None:
    key, _ = keys
    signature = key.signer.sign_detached(RELEASE, armor=armor)
    assert signature.startswith(b"-----BEGIN PGP SIGNATURE-----") == armor
    verifier = GpgvVerifier([str(getattr(key, keyring_kind))])
    result = verifier.verify_detached(RELEASE, signature, source="dists/stable/Release")
    assert result.fingerprint == key.fingerprint
    assert result.content == RELEASE


def test_clear_signed_document_verifies_and_yields_the_content(keys: tuple[Key, Key]) -> None:
    key, _ = keys
    document = key.signer.sign_clear(RELEASE)
    assert document.startswith(b"-----BEGIN PGP SIGNED MESSAGE-----")
    result = GpgvVerifier([str(key.armored)]).verify_clear(document, source="InRelease")
    assert result.fingerprint == key.fingerprint
    assert result.content == RELEASE


def test_text_outside_the_signed_block_is_not_returned(keys: tuple[Key, Key]) -> None:
    key, _ = keys
    document = b"Injected: header\n" + key.signer.sign_clear(RELEASE) + b"Trailing: junk\n"
    result = GpgvVerifier([str(key.armored)]).verify_clear(document, source="InRelease")
    assert result.content == RELEASE


def test_tampered_data_is_rejected(keys: tuple[Key, Key]) -> None:
    key, _ = keys
    signature = key.signer.sign_detached(RELEASE)
    with pytest.raises(SignatureError) as info:
        GpgvVerifier([str(key.armored)]).verify_detached(
            RELEASE.replace(b"stable", b"stab1e"), signature, source="dists/stable/Release")
    message = str(info.value)
    assert "dists/stable/Release" in message and "BAD signature" in message
    assert key.fingerprint[-16:] in message


def test_tampered_clear_signed_document_is_rejected(keys: tuple[Key, Key]) -> None:
    key, _ = keys
    document = key.signer.sign_clear(RELEASE).replace(b"Suite: stable", b"Suite: evil!")
    with pytest.raises(SignatureError, match="BAD signature"):
        GpgvVerifier([str(key.armored)]).verify_clear(document, source="InRelease")


def test_wrong_keyring_names_the_key_id_and_the_keyring(keys: tuple[Key, Key]) -> None:
    key, other = keys
    signature = key.signer.sign_detached(RELEASE)
    with pytest.raises(SignatureError) as info:
        GpgvVerifier([str(other.armored)]).verify_detached(RELEASE, signature,
                                                           source="repomd.xml")
    message = str(info.value)
    assert "no public key" in message
    assert key.fingerprint[-16:] in message
    assert str(other.armored) in message and "repomd.xml" in message


def test_any_of_several_keyrings_may_hold_the_key(keys: tuple[Key, Key]) -> None:
    key, other = keys
    signature = key.signer.sign_detached(RELEASE)
    verifier = GpgvVerifier([str(other.binary), str(key.armored)])
    assert verifier.verify_detached(RELEASE, signature, source="x").fingerprint == \
        key.fingerprint


def test_pinned_fingerprints(keys: tuple[Key, Key]) -> None:
    key, other = keys
    signature = key.signer.sign_detached(RELEASE)
    both = [str(key.armored), str(other.armored)]
    spaced = " ".join(key.fingerprint[i:i + 4] for i in range(0, 40, 4)).lower()
    for pin in (key.fingerprint, spaced, key.fingerprint[-16:]):
        assert GpgvVerifier(both, {pin}).verify_detached(RELEASE, signature, source="x")
    with pytest.raises(SignatureError, match="not pinned"):
        GpgvVerifier(both, {other.fingerprint}).verify_detached(RELEASE, signature,
                                                                source="x")
    with pytest.raises(SignatureError, match="invalid pinned"):
        GpgvVerifier(both, {"not-hex"})


def test_missing_or_invalid_keyring(keys: tuple[Key, Key], tmp_path: Path) -> None:
    key, _ = keys
    signature = key.signer.sign_detached(RELEASE)
    with pytest.raises(SignatureError, match="cannot read keyring"):
        GpgvVerifier([str(tmp_path / "absent.gpg")]).verify_detached(RELEASE, signature,
                                                                      source="x")
    with pytest.raises(SignatureError, match="no keyring"):
        GpgvVerifier([]).verify_detached(RELEASE, signature, source="x")
    bogus = tmp_path / "bogus.asc"
    bogus.write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!!\n"
                     "-----END PGP PUBLIC KEY BLOCK-----\n")
    with pytest.raises(SignatureError):
        GpgvVerifier([str(bogus)]).verify_detached(RELEASE, signature, source="x")


def test_garbage_signature_and_unsigned_document(keys: tuple[Key, Key]) -> None:
    key, _ = keys
    verifier = GpgvVerifier([str(key.armored)])
    with pytest.raises(SignatureError, match="no valid signature"):
        verifier.verify_detached(RELEASE, b"not a signature", source="Release.gpg")
    with pytest.raises(SignatureError, match="not a clear-signed"):
        verifier.verify_clear(RELEASE, source="InRelease")


def test_signing_with_an_unknown_key_fails_naming_it(keys: tuple[Key, Key]) -> None:
    key, _ = keys
    signer = GpgSigner(key.homedir, "0" * 40)
    with pytest.raises(PublishError, match="0" * 40):
        signer.sign_detached(RELEASE)


def test_passphrase_protected_key(tmp_path: Path) -> None:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    # no passphrase caching, so the wrong passphrase below is really checked
    (home / "gpg-agent.conf").write_text("default-cache-ttl 0\nmax-cache-ttl 0\n")
    try:
        proc = subprocess.run(
            ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback",
             "--passphrase", "correct horse", "--status-fd", "1", "--quick-generate-key",
             "Locked <locked@example.invalid>", "ed25519", "sign", "never"],
            check=True, capture_output=True, text=True)
        fingerprint = next(line.split()[3] for line in proc.stdout.splitlines()
                           if "KEY_CREATED" in line)
        keyring = tmp_path / "locked.asc"
        keyring.write_bytes(GpgSigner(str(home), fingerprint).public_key())
        signature = GpgSigner(str(home), fingerprint, "correct horse").sign_detached(RELEASE)
        assert GpgvVerifier([str(keyring)]).verify_detached(
            RELEASE, signature, source="x").fingerprint == fingerprint
        with pytest.raises(PublishError):
            GpgSigner(str(home), fingerprint, "wrong").sign_detached(RELEASE)
    finally:
        stop_agent(str(home))


def test_inline_keys_and_multi_key_armored_files(keys: tuple[Key, Key], tmp_path: Path
                                                 ) -> None:
    key, other = keys
    signature = key.signer.sign_detached(RELEASE)
    inline = GpgvVerifier([], inline_keys=[key.armored.read_text()], policy="opaque")
    assert inline.verify_detached(RELEASE, signature, source="x").fingerprint == \
        key.fingerprint
    assert inline.policy == "opaque"
    bundle = tmp_path / "archive-keys.asc"  # several armored blocks in one file
    bundle.write_bytes(other.armored.read_bytes() + key.armored.read_bytes())
    assert GpgvVerifier([str(bundle)]).verify_detached(RELEASE, signature, source="x")
    with pytest.raises(SignatureError, match="inline key #1"):
        GpgvVerifier([], inline_keys=[other.armored.read_text()]).verify_detached(
            RELEASE, signature, source="x")


def test_signer_imports_a_key_file_and_finds_the_key(keys: tuple[Key, Key], tmp_path: Path
                                                     ) -> None:
    key, _ = keys
    secret = tmp_path / "secret.asc"
    secret.write_bytes(subprocess.run(
        ["gpg", "--homedir", key.homedir, "--batch", "--pinentry-mode", "loopback",
         "--passphrase", "", "--armor", "--export-secret-keys", key.fingerprint],
        check=True, capture_output=True).stdout)
    fresh_home = str(tmp_path / "fresh-gnupg")
    try:
        signer = GpgSigner(fresh_home, key_file=str(secret))
        assert signer.signing_key() == key.fingerprint
        signature = signer.sign_detached(RELEASE)
        assert GpgvVerifier([str(key.armored)]).verify_detached(
            RELEASE, signature, source="x").fingerprint == key.fingerprint
        # without key_id or key_file: the first secret key of the home
        assert GpgSigner(fresh_home).signing_key() == key.fingerprint
    finally:
        stop_agent(fresh_home)
    empty_home = str(tmp_path / "empty-gnupg")
    try:
        with pytest.raises(PublishError, match="no secret key"):
            GpgSigner(empty_home).sign_clear(RELEASE)
    finally:
        stop_agent(empty_home)
