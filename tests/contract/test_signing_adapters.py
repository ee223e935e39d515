"""The Signer/Verifier contract against the fakes and against gpg + gpgv.

The GnuPG keys (ed25519, fast) are generated once per module in temporary homes; the
gpg-agents started for them are stopped at teardown.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import attrs
import pytest

from chantal_adapters.gpg import GpgSigner, GpgvVerifier, generate_key, stop_agent
from chantal_core.errors import SignatureError
from chantal_core.testing.signing import FakeKeyPair, FakeSigner, FakeVerifier
from contract.signing_contract import RELEASE, SigningContract

SIGNING = FakeKeyPair("signing")
OTHER = FakeKeyPair("other")


class TestFakeSigning(SigningContract):
    @pytest.fixture
    def signer(self) -> FakeSigner:
        return FakeSigner(SIGNING)

    @pytest.fixture
    def other_signer(self) -> FakeSigner:
        return FakeSigner(OTHER)

    @pytest.fixture
    def signer_fingerprint(self) -> str:
        return SIGNING.fingerprint

    @pytest.fixture
    def other_fingerprint(self) -> str:
        return OTHER.fingerprint

    @pytest.fixture
    def verifier(self) -> FakeVerifier:
        return FakeVerifier([SIGNING])

    @pytest.fixture
    def make_verifier(self) -> Callable[[Iterable[str]], FakeVerifier]:
        return lambda pins: FakeVerifier([SIGNING, OTHER], pins)

    # -- fake-specific ------------------------------------------------------------------
    def test_key_identity(self) -> None:
        assert len(SIGNING.fingerprint) == 40
        assert SIGNING.fingerprint == SIGNING.fingerprint.upper()
        assert SIGNING.fingerprint != OTHER.fingerprint
        assert FakeKeyPair("signing") == SIGNING
        assert SIGNING.key_id == SIGNING.fingerprint[-16:]
        assert SIGNING.fingerprint.encode() in FakeSigner(SIGNING).public_key()

    def test_signature_contains_fingerprint(self) -> None:
        signature = FakeSigner(SIGNING).sign_detached(RELEASE)
        assert SIGNING.fingerprint.encode() in signature

    def test_forged_fingerprint_is_a_bad_signature(self) -> None:
        forged = FakeSigner(OTHER).sign_detached(RELEASE).replace(
            OTHER.fingerprint.encode(), SIGNING.fingerprint.encode())
        with pytest.raises(SignatureError, match="BAD signature"):
            FakeVerifier([SIGNING]).verify_detached(RELEASE, forged, source="x")

    @pytest.mark.parametrize("data", [b"", b"no final newline", b"\n\n-\n--\n- \n",
                                      b"a\r\nb\r\n"])
    def test_clear_signing_round_trips_edge_cases(self, data: bytes) -> None:
        document = FakeSigner(SIGNING).sign_clear(data)
        assert FakeVerifier([SIGNING]).verify_clear(document, source="x").content == data


@attrs.frozen
class GpgKey:
    homedir: str
    fingerprint: str
    signer: GpgSigner
    keyring: str  # armored public key file


@pytest.fixture(scope="module")
def gpg_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GpgKey, GpgKey]]:
    if shutil.which("gpg") is None or shutil.which("gpgv") is None:
        pytest.skip("gpg and gpgv are needed for the GnuPG signing contract")
    base = tmp_path_factory.mktemp("gpg-contract")
    homes = [str(base / name / "gnupg") for name in ("signing", "other")]
    try:
        made = []
        for name, home in zip(("signing", "other"), homes):
            fingerprint = generate_key(home, f"Chantal {name}", f"{name}@example.invalid",
                                       algorithm="ed25519")
            signer = GpgSigner(home, fingerprint)
            keyring = Path(base / name / "key.asc")
            keyring.write_bytes(signer.public_key())
            made.append(GpgKey(home, fingerprint, signer, str(keyring)))
        yield made[0], made[1]
    finally:
        for home in homes:
            stop_agent(home)


class TestGpgSigning(SigningContract):
    @pytest.fixture
    def signer(self, gpg_keys: tuple[GpgKey, GpgKey]) -> GpgSigner:
        return gpg_keys[0].signer

    @pytest.fixture
    def other_signer(self, gpg_keys: tuple[GpgKey, GpgKey]) -> GpgSigner:
        return gpg_keys[1].signer

    @pytest.fixture
    def signer_fingerprint(self, gpg_keys: tuple[GpgKey, GpgKey]) -> str:
        return gpg_keys[0].fingerprint

    @pytest.fixture
    def other_fingerprint(self, gpg_keys: tuple[GpgKey, GpgKey]) -> str:
        return gpg_keys[1].fingerprint

    @pytest.fixture
    def verifier(self, gpg_keys: tuple[GpgKey, GpgKey]) -> GpgvVerifier:
        return GpgvVerifier([gpg_keys[0].keyring])

    @pytest.fixture
    def make_verifier(self, gpg_keys: tuple[GpgKey, GpgKey]
                      ) -> Callable[[Iterable[str]], GpgvVerifier]:
        keyrings = [gpg_keys[0].keyring, gpg_keys[1].keyring]
        return lambda pins: GpgvVerifier(keyrings, pins)
