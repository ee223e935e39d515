"""Signing doubles: :class:`FakeKeyPair`, :class:`FakeSigner` and :class:`FakeVerifier`.

Pure (no process, file or network I/O): a "signature" is an HMAC-SHA256 of the signed
bytes keyed by a secret derived from the key's name, wrapped in OpenPGP-looking armor so
that code handling ``Release.gpg``/``InRelease``/``repomd.xml.asc`` sees familiar shapes.
They pass the same contract suite (``tests/contract/signing_contract.py``) as
:class:`chantal_adapters.gpg.GpgSigner` and :class:`~chantal_adapters.gpg.GpgvVerifier`,
including their error behaviour: a verifier trusts only the keys it was given, names the
``source`` and the key id (last 16 hex digits of the fingerprint) it saw, and honours pinned
fingerprints the way ``GpgvVerifier`` does.

These are *not* cryptographic signatures: anyone knowing a key's name can forge them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

import attrs

from chantal_core.errors import SignatureError
from chantal_core.ports import Signer, VerifiedSignature, Verifier

__all__ = ["FakeKeyPair", "FakeSigner", "FakeVerifier"]

_SIG_BEGIN = b"-----BEGIN PGP SIGNATURE-----"
_SIG_END = b"-----END PGP SIGNATURE-----"
_MSG_BEGIN = b"-----BEGIN PGP SIGNED MESSAGE-----"
_KEY_BEGIN = b"-----BEGIN PGP PUBLIC KEY BLOCK-----"
_KEY_END = b"-----END PGP PUBLIC KEY BLOCK-----"
#: Prefix of the binary (``armor=False``) form: magic, 40 hex fingerprint, 32-byte MAC.
_BINARY_MAGIC = b"CHANTAL-FAKE-SIG\x00"
_HEX_RE = re.compile(r"[0-9A-F]+")
_FPR_RE = re.compile(rb"^Fingerprint: ([0-9A-F]{40})$", re.MULTILINE)
_MAC_RE = re.compile(rb"^MAC: ([0-9a-f]{64})$", re.MULTILINE)


@attrs.frozen
class FakeKeyPair:
    """A named fake key.

    :ivar name: any label (e.g. ``"signing"``); two keys with the same name are the same
        key (same fingerprint, same secret).
    """

    name: str

    @property
    def fingerprint(self) -> str:
        """40 upper-case hex digits (SHA-1 of the name, like an OpenPGP v4 fingerprint)."""
        return hashlib.sha1(b"chantal-fake-key:" + self.name.encode("utf-8")).hexdigest().upper()

    @property
    def key_id(self) -> str:
        """The long key id: the last 16 hex digits of :attr:`fingerprint`."""
        return self.fingerprint[-16:]

    @property
    def secret(self) -> bytes:
        """The 32-byte HMAC key the signatures of this key are made with."""
        return hashlib.sha256(b"chantal-fake-secret:" + self.name.encode("utf-8")).digest()

    def mac(self, data: bytes) -> bytes:
        """HMAC-SHA256 of ``data`` under :attr:`secret` (32 bytes)."""
        return hmac.new(self.secret, data, hashlib.sha256).digest()


def _armored_signature(key: FakeKeyPair, data: bytes) -> bytes:
    return (_SIG_BEGIN + b"\nComment: chantal fake signature (not cryptographic)\n\n"
            + b"Fingerprint: " + key.fingerprint.encode("ascii") + b"\n"
            + b"MAC: " + key.mac(data).hex().encode("ascii") + b"\n" + _SIG_END + b"\n")


def _dash_escape(data: bytes) -> bytes:
    """Prefix ``- `` to every line starting with ``-`` (RFC 4880 section 7.1)."""
    return b"\n".join(b"- " + line if line.startswith(b"-") else line
                      for line in data.split(b"\n"))


def _dash_unescape(text: bytes) -> bytes:
    return b"\n".join(line[2:] if line.startswith(b"- ") else line
                      for line in text.split(b"\n"))


class FakeSigner:
    """A :class:`~chantal_core.ports.Signer` making fake signatures with ``key``.

    :param key: the signing key.
    """

    def __init__(self, key: FakeKeyPair) -> None:
        self.key = key

    def __repr__(self) -> str:
        return f"FakeSigner({self.key!r})"

    def signing_key(self) -> str:
        """The fingerprint of the signing key (as :meth:`GpgSigner.signing_key` returns)."""
        return self.key.fingerprint

    def sign_detached(self, data: bytes, *, armor: bool = True) -> bytes:
        """A detached signature of ``data``.

        :param armor: ``True``: an armored ``-----BEGIN PGP SIGNATURE-----`` block holding
            ``Fingerprint:`` and ``MAC:`` (hex HMAC-SHA256) lines; ``False``: a binary form
            (magic, 40 ASCII hex fingerprint digits, 32 MAC bytes).
        :returns: the signature bytes.
        """
        if not armor:
            return _BINARY_MAGIC + self.key.fingerprint.encode("ascii") + self.key.mac(data)
        return _armored_signature(self.key, data)

    def sign_clear(self, data: bytes) -> bytes:
        """A clear-signed document of ``data`` (shaped like an ``InRelease`` file).

        Layout: ``-----BEGIN PGP SIGNED MESSAGE-----``, ``Hash: SHA256``, a blank line, the
        dash-escaped data, one line break (not part of the signed content, as in OpenPGP),
        then the armored signature over the exact ``data``.

        :returns: the document bytes.
        """
        return (_MSG_BEGIN + b"\nHash: SHA256\n\n" + _dash_escape(data) + b"\n"
                + _armored_signature(self.key, data))

    def public_key(self) -> bytes:
        """An armored-looking public key block naming the key's fingerprint and name."""
        return (_KEY_BEGIN + b"\nComment: chantal fake key " + self.key.name.encode("utf-8")
                + b"\n\nFingerprint: " + self.key.fingerprint.encode("ascii") + b"\n"
                + _KEY_END + b"\n")


def _normalise_pin(pin: str) -> str:
    """Normalise a pinned fingerprint like ``GpgvVerifier`` (spaces, ``0x``, case ignored)."""
    pin = pin.replace(" ", "").upper()
    if pin.startswith("0X"):
        pin = pin[2:]
    if not _HEX_RE.fullmatch(pin) or not 16 <= len(pin) <= 64:
        raise SignatureError(f"invalid pinned fingerprint {pin!r}: expected a fingerprint "
                             "(40 or 64 hex digits) or a long key id (at least 16)")
    return pin


class FakeVerifier:
    """A :class:`~chantal_core.ports.Verifier` accepting signatures of :class:`FakeSigner`.

    A signature is accepted only when made by one of ``trusted_keys`` over the exact bytes
    verified, and (when pins are given) by a pinned key.

    :param trusted_keys: the keys whose signatures are accepted (the "keyring").
    :param pinned_fingerprints: when given, only these keys count: a full fingerprint or a
        long key id (16 hex digits) matching its end; spaces, ``0x`` and case are ignored.
    :raises SignatureError: a pinned fingerprint is malformed.
    """

    def __init__(self, trusted_keys: Iterable[FakeKeyPair],
                 pinned_fingerprints: Iterable[str] | None = None) -> None:
        self.trusted = {key.fingerprint: key for key in trusted_keys}
        self.pinned = (None if pinned_fingerprints is None
                       else frozenset(_normalise_pin(p) for p in pinned_fingerprints))

    def __repr__(self) -> str:
        return f"FakeVerifier(trusted={sorted(self.trusted)!r}, pinned={self.pinned!r})"

    def verify_detached(self, data: bytes, signature: bytes, *, source: str
                        ) -> VerifiedSignature:
        """Verify a detached signature (armored or binary) of ``data``.

        :param source: URL or path of the signed file, named in errors.
        :returns: the signer's fingerprint and ``data``.
        :raises SignatureError: unparsable signature, untrusted key, BAD signature (data or
            signature altered), or a key not pinned; the message names ``source`` and the
            key id seen.
        """
        fingerprint, mac = self._parse(signature, source)
        return VerifiedSignature(self._judge(fingerprint, mac, data, source), data)

    def verify_clear(self, document: bytes, *, source: str) -> VerifiedSignature:
        """Verify a clear-signed document and extract the signed content.

        Text before ``-----BEGIN PGP SIGNED MESSAGE-----`` and after the signature block is
        ignored, as ``gpgv`` does.

        :param source: URL or path of the document, named in errors.
        :returns: the signer's fingerprint and the exact signed content.
        :raises SignatureError: not clear-signed, or as for :meth:`verify_detached`.
        """
        start = document.find(_MSG_BEGIN + b"\n")
        if start < 0:
            raise SignatureError(f"{source}: not a clear-signed document")
        headers_end = document.find(b"\n\n", start)
        if headers_end < 0:
            raise SignatureError(f"{source}: clear-signed document has no header end")
        body_start = headers_end + 2
        body_end = document.find(b"\n" + _SIG_BEGIN + b"\n", body_start)
        if body_end < 0:
            raise SignatureError(f"{source}: clear-signed document has no signature block")
        content = _dash_unescape(document[body_start:body_end])
        sig_end = document.find(_SIG_END, body_end)
        if sig_end < 0:
            raise SignatureError(f"{source}: clear-signed document has no signature end")
        block = document[body_end + 1:sig_end + len(_SIG_END)]
        fingerprint, mac = self._parse(block, source)
        return VerifiedSignature(self._judge(fingerprint, mac, content, source), content)

    # -- internals --------------------------------------------------------------------
    def _parse(self, signature: bytes, source: str) -> tuple[str, bytes]:
        if signature.startswith(_BINARY_MAGIC):
            rest = signature[len(_BINARY_MAGIC):]
            fpr = rest[:40].decode("ascii", "replace")
            if len(rest) == 72 and _HEX_RE.fullmatch(fpr):
                return fpr, rest[40:]
        elif _SIG_BEGIN in signature and _SIG_END in signature:
            fpr_match = _FPR_RE.search(signature)
            mac_match = _MAC_RE.search(signature)
            if fpr_match and mac_match:
                return (fpr_match.group(1).decode("ascii"),
                        bytes.fromhex(mac_match.group(1).decode("ascii")))
        raise SignatureError(f"{source}: no valid signature found; key ids seen: none")

    def _judge(self, fingerprint: str, mac: bytes, data: bytes, source: str) -> str:
        key_id = fingerprint[-16:]
        key = self.trusted.get(fingerprint)
        if key is None:
            raise SignatureError(f"{source}: no public key for {key_id} in the trusted keys; "
                                 f"key ids seen: {key_id}")
        if not hmac.compare_digest(key.mac(data), mac):
            raise SignatureError(f"{source}: BAD signature by key {key_id}; "
                                 f"key ids seen: {key_id}")
        if self.pinned is not None and not any(
                fingerprint == pin or (len(pin) == 16 and fingerprint.endswith(pin))
                for pin in self.pinned):
            raise SignatureError(f"{source}: signed by a key that is not pinned (pinned: "
                                 f"{', '.join(sorted(self.pinned))}); key ids seen: {key_id}")
        return fingerprint


def _conforms(signer: FakeSigner, verifier: FakeVerifier) -> tuple[Signer, Verifier]:
    """Static check (for mypy) that the fakes satisfy the ports."""
    return signer, verifier
