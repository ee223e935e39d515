"""Contract of :class:`chantal_core.ports.Signer` and :class:`~chantal_core.ports.Verifier`.

Run against every adapter pair and the fakes. A concrete test class subclasses
:class:`SigningContract` and overrides the fixtures:

* ``signer``: a signer with a key the verifier trusts;
* ``other_signer``: a signer with a different key the verifier does not trust;
* ``signer_fingerprint`` / ``other_fingerprint``: their fingerprints (40 hex, upper case);
* ``verifier``: a verifier trusting the key of ``signer`` only;
* ``make_verifier``: a function ``(pinned_fingerprints) -> Verifier`` trusting the keys of
  both signers, with those fingerprints pinned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from chantal_core.errors import SignatureError
from chantal_core.ports import VerifiedSignature

RELEASE = (b"Origin: Chantal Test\nLabel: Chantal Test\nSuite: stable\nCodename: test\n"
           b"Date: Sat, 01 Jun 2024 12:00:00 UTC\n-----BEGIN-looking line\n"
           b"- dash and space\nSHA256:\n 0123 456 main/binary-amd64/Packages\n")


class SigningContract:
    """Behaviour every signer/verifier pair shares."""

    @pytest.fixture
    def signer(self) -> Any:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def other_signer(self) -> Any:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def signer_fingerprint(self) -> str:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def other_fingerprint(self) -> str:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def verifier(self) -> Any:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def make_verifier(self) -> Callable[[Iterable[str]], Any]:
        raise NotImplementedError("must be overridden")

    # -- detached signatures ------------------------------------------------------------
    @pytest.mark.parametrize("armor", [True, False])
    def test_detached_signature_verifies(self, signer: Any, verifier: Any,
                                         signer_fingerprint: str, armor: bool) -> None:
        signature = signer.sign_detached(RELEASE, armor=armor)
        assert isinstance(signature, bytes)
        assert signature.startswith(b"-----BEGIN PGP SIGNATURE-----") == armor
        result = verifier.verify_detached(RELEASE, signature, source="dists/stable/Release")
        assert isinstance(result, VerifiedSignature)
        assert result.fingerprint == signer_fingerprint
        assert result.content == RELEASE

    def test_tampered_data_fails(self, signer: Any, verifier: Any,
                                 signer_fingerprint: str) -> None:
        signature = signer.sign_detached(RELEASE)
        with pytest.raises(SignatureError) as info:
            verifier.verify_detached(RELEASE.replace(b"stable", b"stab1e"), signature,
                                     source="dists/stable/Release")
        message = str(info.value)
        assert "dists/stable/Release" in message and "BAD signature" in message
        assert signer_fingerprint[-16:] in message

    def test_truncated_data_fails(self, signer: Any, verifier: Any) -> None:
        signature = signer.sign_detached(RELEASE)
        with pytest.raises(SignatureError):
            verifier.verify_detached(RELEASE[:-1], signature, source="Release")

    def test_signature_by_untrusted_key_fails_naming_source_and_key(
            self, other_signer: Any, verifier: Any, other_fingerprint: str) -> None:
        signature = other_signer.sign_detached(RELEASE)
        with pytest.raises(SignatureError) as info:
            verifier.verify_detached(RELEASE, signature, source="repodata/repomd.xml")
        message = str(info.value)
        assert "repodata/repomd.xml" in message
        assert "no public key" in message
        assert other_fingerprint[-16:] in message

    def test_garbage_signature_fails(self, verifier: Any) -> None:
        with pytest.raises(SignatureError, match=r"Release\.gpg"):
            verifier.verify_detached(RELEASE, b"not a signature", source="Release.gpg")

    # -- clear-signed documents ---------------------------------------------------------
    def test_clear_signed_round_trip_returns_exact_content(
            self, signer: Any, verifier: Any, signer_fingerprint: str) -> None:
        document = signer.sign_clear(RELEASE)
        assert document.startswith(b"-----BEGIN PGP SIGNED MESSAGE-----")
        result = verifier.verify_clear(document, source="InRelease")
        assert result.fingerprint == signer_fingerprint
        assert result.content == RELEASE

    def test_text_outside_the_signed_block_is_not_returned(self, signer: Any,
                                                           verifier: Any) -> None:
        document = b"Injected: header\n" + signer.sign_clear(RELEASE) + b"Trailing: junk\n"
        assert verifier.verify_clear(document, source="InRelease").content == RELEASE

    def test_tampered_clear_signed_document_fails(self, signer: Any, verifier: Any) -> None:
        document = signer.sign_clear(RELEASE)
        assert b"Suite: stable" in document
        with pytest.raises(SignatureError, match="InRelease") as info:
            verifier.verify_clear(document.replace(b"Suite: stable", b"Suite: evil!"),
                                  source="InRelease")
        assert "BAD signature" in str(info.value)

    def test_clear_signed_by_untrusted_key_fails(self, other_signer: Any,
                                                 verifier: Any) -> None:
        with pytest.raises(SignatureError, match="InRelease"):
            verifier.verify_clear(other_signer.sign_clear(RELEASE), source="InRelease")

    def test_unsigned_document_is_not_clear_signed(self, verifier: Any) -> None:
        with pytest.raises(SignatureError, match="not a clear-signed"):
            verifier.verify_clear(RELEASE, source="InRelease")

    # -- public key -------------------------------------------------------------------
    def test_public_key_is_armored_bytes(self, signer: Any, other_signer: Any) -> None:
        key = signer.public_key()
        assert isinstance(key, bytes) and key
        assert key.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----")
        assert key != other_signer.public_key()

    # -- pinning ------------------------------------------------------------------------
    def test_pinned_fingerprint_match_is_accepted(
            self, signer: Any, make_verifier: Callable[[Iterable[str]], Any],
            signer_fingerprint: str) -> None:
        signature = signer.sign_detached(RELEASE)
        spaced = " ".join(signer_fingerprint[i:i + 4] for i in range(0, 40, 4)).lower()
        for pin in (signer_fingerprint, spaced, signer_fingerprint[-16:]):
            result = make_verifier([pin]).verify_detached(RELEASE, signature, source="x")
            assert result.fingerprint == signer_fingerprint

    def test_pinned_fingerprint_mismatch_fails(
            self, signer: Any, make_verifier: Callable[[Iterable[str]], Any],
            other_fingerprint: str) -> None:
        signature = signer.sign_detached(RELEASE)
        verifier = make_verifier([other_fingerprint])
        with pytest.raises(SignatureError, match="not pinned") as info:
            verifier.verify_detached(RELEASE, signature, source="dists/stable/Release")
        assert "dists/stable/Release" in str(info.value)
        with pytest.raises(SignatureError, match="not pinned"):
            verifier.verify_clear(signer.sign_clear(RELEASE), source="InRelease")

    def test_malformed_pin_is_rejected(
            self, make_verifier: Callable[[Iterable[str]], Any]) -> None:
        with pytest.raises(SignatureError, match="invalid pinned"):
            make_verifier(["not-hex"])
