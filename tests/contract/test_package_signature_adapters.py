"""The PackageSignatureChecker contract against the fake and against ``rpmkeys``.

For the real checker, one RPM is built with rpmbuild and signed with ``rpmsign --addsign``
by two ed25519 keys generated once per module in temporary GnuPG homes (their gpg-agents
are stopped at teardown); it runs with both the in-memory and the filesystem pool (the
latter read in place).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from chantal_adapters.fs_pool import FilesystemPool
from chantal_adapters.rpm.signature import RpmSignatureChecker, parse_checksig
from chantal_core.errors import SignatureError
from chantal_core.testing import (
    FakeKeyPair,
    FakePackageSignatureChecker,
    InMemoryPool,
    fake_signed_package,
)
from contract.package_signature_contract import SOURCE, PackageSignatureContract, store

TRUSTED = FakeKeyPair("trusted")
OTHER = FakeKeyPair("other")


class TestFakePackageSignatures(PackageSignatureContract):
    @pytest.fixture
    def packages(self) -> dict[str, bytes]:
        good = fake_signed_package(b"payload", TRUSTED)
        return {"good": good, "other": fake_signed_package(b"payload", OTHER),
                "unsigned": b"payload", "tampered": b"P" + good[1:]}

    @pytest.fixture
    def trusted_key_id(self) -> str:
        return TRUSTED.fingerprint[-8:].lower()

    @pytest.fixture
    def other_key_id(self) -> str:
        return OTHER.fingerprint[-8:].lower()

    @pytest.fixture
    def checker(self) -> FakePackageSignatureChecker:
        return FakePackageSignatureChecker([TRUSTED])

    @pytest.fixture
    def keyless_checker(self) -> FakePackageSignatureChecker:
        return FakePackageSignatureChecker([])

    @pytest.fixture
    def pool(self) -> InMemoryPool:
        return InMemoryPool()


# --- rpmkeys ------------------------------------------------------------------------------

_TOOLS = ("rpmbuild", "rpmsign", "rpmkeys", "gpg", "gpgconf")


@attrs.frozen
class RpmFixtures:
    """Armored public keys, 8-digit key ids and the package variants."""

    trusted_key: Path
    other_key: Path
    trusted_id: str
    other_id: str
    fingerprints: tuple[str, str]
    packages: dict[str, bytes]


@pytest.fixture(scope="module")
def rpm_fixtures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RpmFixtures]:
    missing = [t for t in _TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} for the rpmkeys package signature contract")
    from chantal_adapters.gpg import generate_key, stop_agent
    from support.rpmfixtures import PkgSpec, build_rpms

    base = tmp_path_factory.mktemp("rpm-signature-contract")
    homes = [base / name / "gnupg" for name in ("trusted", "other")]
    try:
        fingerprints, keys = [], []
        for home in homes:
            name = home.parent.name
            fingerprint = generate_key(str(home), f"Chantal {name}", f"{name}@example.invalid",
                                       algorithm="ed25519")
            exported = subprocess.run(["gpg", "--homedir", str(home), "--batch", "--armor",
                                       "--export", fingerprint], capture_output=True, check=True)
            key = home.parent / "public.asc"
            key.write_bytes(exported.stdout)
            fingerprints.append(fingerprint)
            keys.append(key)
        (rpm,) = build_rpms(base / "built", [PkgSpec(name="pkg", version="1.0",
                                                     files={"/usr/share/pkg": "pkg"})])
        variants = {"unsigned": rpm.read_bytes()}
        for label, home, fingerprint in zip(("good", "other"), homes, fingerprints):
            signed = base / label / rpm.name
            signed.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(rpm, signed)
            proc = subprocess.run(
                ["rpmsign", "--define", f"_gpg_name {fingerprint}", "--define",
                 f"_gpg_path {home}", "--define", f"__gpg {shutil.which('gpg')}",
                 "--addsign", str(signed)], capture_output=True, text=True,
                stdin=subprocess.DEVNULL, check=False, timeout=120)
            assert proc.returncode == 0, proc.stderr
            variants[label] = signed.read_bytes()
        tampered = bytearray(variants["good"])
        tampered[-10] ^= 0xFF  # inside the compressed payload
        variants["tampered"] = bytes(tampered)
        yield RpmFixtures(keys[0], keys[1], fingerprints[0][-8:].lower(),
                          fingerprints[1][-8:].lower(), (fingerprints[0], fingerprints[1]),
                          variants)
    finally:
        for home in homes:
            stop_agent(str(home))


class TestRpmkeysPackageSignatures(PackageSignatureContract):
    @pytest.fixture(params=["memory", "filesystem"])
    def pool(self, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
        return InMemoryPool() if request.param == "memory" else FilesystemPool(tmp_path / "p")

    @pytest.fixture
    def packages(self, rpm_fixtures: RpmFixtures) -> dict[str, bytes]:
        return rpm_fixtures.packages

    @pytest.fixture
    def trusted_key_id(self, rpm_fixtures: RpmFixtures) -> str:
        return rpm_fixtures.trusted_id

    @pytest.fixture
    def other_key_id(self, rpm_fixtures: RpmFixtures) -> str:
        return rpm_fixtures.other_id

    @pytest.fixture
    def checker(self, rpm_fixtures: RpmFixtures) -> Iterator[RpmSignatureChecker]:
        with RpmSignatureChecker([str(rpm_fixtures.trusted_key)]) as checker:
            yield checker

    @pytest.fixture
    def keyless_checker(self) -> RpmSignatureChecker:
        return RpmSignatureChecker([])

    # -- rpmkeys-specific ---------------------------------------------------------------
    def test_pinning_selects_among_the_given_keys(self, rpm_fixtures: RpmFixtures,
                                                  tmp_path: Path) -> None:
        both = [str(rpm_fixtures.trusted_key), str(rpm_fixtures.other_key)]
        pool = InMemoryPool()
        good = store(pool, rpm_fixtures.packages["good"], "good-1.0-1.noarch.rpm")
        other = store(pool, rpm_fixtures.packages["other"], "other-1.0-1.noarch.rpm")
        with RpmSignatureChecker(both) as unpinned:
            assert [unpinned.check_package(r, pool, source=SOURCE).status
                    for r in (good, other)] == ["good", "good"]
            assert sorted(unpinned.trusted_fingerprints) == sorted(rpm_fixtures.fingerprints)
        with RpmSignatureChecker(both, pinned_fingerprints=[
                rpm_fixtures.fingerprints[1][-16:].lower()]) as pinned:
            assert [pinned.check_package(r, pool, source=SOURCE).status
                    for r in (good, other)] == ["invalid", "good"]
            assert pinned.trusted_fingerprints == [rpm_fixtures.fingerprints[1]]
        with RpmSignatureChecker([str(rpm_fixtures.trusted_key)], pinned_fingerprints=[
                rpm_fixtures.fingerprints[1]]) as nothing, pytest.raises(
                SignatureError, match=r"matches verify\.trusted_fingerprints"):
            nothing.check_package(good, pool, source=SOURCE)

    def test_inline_and_binary_keys(self, rpm_fixtures: RpmFixtures, tmp_path: Path) -> None:
        binary = tmp_path / "trusted.gpg"
        subprocess.run(["gpg", "--dearmor", "--batch", "--yes", "--output", str(binary),
                        str(rpm_fixtures.trusted_key)], check=True, capture_output=True)
        pool = InMemoryPool()
        good = store(pool, rpm_fixtures.packages["good"])
        with RpmSignatureChecker([str(binary)]) as checker:
            assert checker.check_package(good, pool, source=SOURCE).status == "good"
        inline = rpm_fixtures.trusted_key.read_text()
        with RpmSignatureChecker(inline_keys=[inline]) as checker:
            assert checker.check_package(good, pool, source=SOURCE).status == "good"

    def test_unreadable_keys_raise_naming_the_source(self, rpm_fixtures: RpmFixtures,
                                                     tmp_path: Path) -> None:
        pool = InMemoryPool()
        good = store(pool, rpm_fixtures.packages["good"])
        junk = tmp_path / "junk.asc"
        junk.write_text("not a key\n")
        for keys, match in (([str(junk)], "not a valid OpenPGP public key"),
                            ([str(tmp_path / "absent.asc")], "no such file")):
            with pytest.raises(SignatureError, match=match) as info:
                RpmSignatureChecker(keys).check_package(good, pool, source=SOURCE)
            assert SOURCE in str(info.value)

    def test_a_file_that_is_not_an_rpm_is_invalid(self, checker: RpmSignatureChecker) -> None:
        pool = InMemoryPool()
        result = checker.check_package(store(pool, b"not an rpm at all"), pool, source=SOURCE)
        assert result.status == "invalid" and result.detail

    def test_close_removes_the_private_keyring(self, rpm_fixtures: RpmFixtures) -> None:
        pool = InMemoryPool()
        good = store(pool, rpm_fixtures.packages["good"])
        checker = RpmSignatureChecker([str(rpm_fixtures.trusted_key)])
        checker.check_package(good, pool, source=SOURCE)
        tmp = checker._tmp
        assert tmp is not None and Path(tmp).is_dir()
        checker.close()
        assert not Path(tmp).exists()
        # usable again: the keyring is rebuilt
        assert checker.check_package(good, pool, source=SOURCE).status == "good"
        checker.close()


def test_parse_checksig_outcomes() -> None:
    """The classification of rpmkeys --checksig -v output (rpm 4.18 wording)."""
    head = "/p/x.rpm:\n"
    ok = head + ("    Header V4 RSA/SHA256 Signature, key ID 463c2d6c: OK\n"
                 "    Header SHA256 digest: OK\n    Payload SHA256 digest: OK\n")
    assert parse_checksig(ok, 0).status == "good"
    assert parse_checksig(ok, 0).key_id == "463c2d6c"
    nokey = ok.replace(": OK\n", ": NOKEY\n", 1)
    assert (parse_checksig(nokey, 1).status, parse_checksig(nokey, 1).key_id) == (
        "invalid", "463c2d6c")
    bad = ok.replace("Payload SHA256 digest: OK", "Payload SHA256 digest: BAD (Expected 1 != 2)")
    assert parse_checksig(bad, 1).status == "invalid"
    assert "Payload SHA256 digest: BAD" in parse_checksig(bad, 1).detail
    unsigned = head + "    Header SHA256 digest: OK\n    Payload SHA256 digest: OK\n"
    assert parse_checksig(unsigned, 0).status == "missing"
    assert parse_checksig(head, 1, "error: /p/x.rpm: not an rpm package").detail == (
        "error: /p/x.rpm: not an rpm package")
    legacy = head + "    V4 RSA/SHA1 Signature, key ID 0badbeef: NOTTRUSTED\n"
    assert parse_checksig(legacy, 1).status == "invalid"
