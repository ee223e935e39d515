"""OpenPGP signing (``gpg``) and verification (``gpgv``) of repository metadata.

:class:`GpgSigner` signs published metadata with a key in a GnuPG home directory:
detached signatures (``repomd.xml.asc``, ``Release.gpg``) and clear-signed documents
(``InRelease``). :class:`GpgvVerifier` checks upstream signatures against given keyrings
only, the way apt does: it runs ``gpgv`` with ``--status-fd``, accepts the signature when
at least one good signature (``VALIDSIG``) comes from a usable key (not expired or
revoked, and pinned when fingerprints are pinned) and there is no ``BADSIG``. Keyrings
may be binary (``.gpg``, keybox) or ASCII-armored (``.asc``, converted with
``gpg --dearmor`` into a temporary directory).

Both run the binaries with ``subprocess`` (``--batch``, no terminal, no network).
``gpg`` starts a ``gpg-agent`` for the home directory; :func:`stop_agent` stops it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from chantal_core.errors import PublishError, SignatureError
from chantal_core.ports import VerifiedSignature

__all__ = ["GpgSigner", "GpgvVerifier", "generate_key", "stop_agent"]

#: Seconds a gpg/gpgv run may take before it is killed.
TIMEOUT = 120.0

_HEX_RE = re.compile(r"[0-9A-F]+")


def _binary(name: str, error: type[Exception]) -> str:
    path = shutil.which(name)
    if path is None:
        raise error(f"the {name!r} program is not installed (needed for OpenPGP signatures)")
    return path


def _run(argv: Sequence[str], *, input: bytes = b"", pass_fds: Sequence[int] = (),
         error: type[Exception], what: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(list(argv), input=input, capture_output=True, timeout=TIMEOUT,
                              pass_fds=tuple(pass_fds), check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise error(f"{what}: cannot run {argv[0]}: {exc}") from exc


def _stderr(proc: subprocess.CompletedProcess[bytes]) -> str:
    return proc.stderr.decode("utf-8", "replace").strip().replace("\n", "; ")


def stop_agent(homedir: str) -> None:
    """Stop the ``gpg-agent`` (and other daemons) gpg started for ``homedir`` (best effort)."""
    gpgconf = shutil.which("gpgconf")
    if gpgconf is None:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run([gpgconf, "--homedir", homedir, "--kill", "all"],
                       capture_output=True, timeout=30, check=False)


def generate_key(homedir: str, name: str, email: str, *, algorithm: str = "rsa3072") -> str:
    """Create a signing key without passphrase or expiry in ``homedir`` (created 0700).

    RSA 3072 (the default) is understood by every client, including old ``yum``/``gpgme``;
    ``ed25519`` is faster and smaller but needs GnuPG >= 2.1 on clients.

    :param homedir: GnuPG home directory.
    :param name: user id name (e.g. ``Chantal Repository Signing``).
    :param email: user id e-mail.
    :param algorithm: ``rsa3072``, ``rsa4096``, ``ed25519`` (any gpg ``--quick-gen-key`` algo).
    :returns: the new key's fingerprint (hex, upper case).
    :raises PublishError: gpg is missing or failed.
    """
    gpg = _binary("gpg", PublishError)
    os.makedirs(homedir, mode=0o700, exist_ok=True)
    os.chmod(homedir, 0o700)
    uid = f"{name} <{email}>"
    proc = _run([gpg, "--homedir", homedir, "--batch", "--no-tty", "--pinentry-mode",
                 "loopback", "--passphrase", "", "--status-fd", "1",
                 "--quick-generate-key", uid, algorithm, "sign", "never"],
                error=PublishError, what=f"generating key {uid}")
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if parts[:2] == ["[GNUPG:]", "KEY_CREATED"] and len(parts) >= 4:
            return parts[3].upper()
    raise PublishError(f"generating key {uid} in {homedir} failed: {_stderr(proc)}")


class GpgSigner:
    """A :class:`~chantal_core.ports.Signer` using ``gpg`` and a key in a home directory.

    The key is resolved on first use: ``key_file`` (an armored secret key) is imported
    into ``homedir`` first when given; without ``key_id`` the imported key, else the
    first secret key of ``homedir``, signs.

    :param homedir: GnuPG home directory holding (or receiving) the secret key; created
        0700 when missing.
    :param key_id: fingerprint, key id or user id of the signing key, or ``None``.
    :param passphrase: the key's passphrase (given to gpg through a pipe), or ``None``.
    :param key_file: an armored secret key file to import before signing, or ``None``.
    :param generate: ``(name, email)``: when ``homedir`` holds no secret key (and neither
        ``key_id`` nor ``key_file`` is given), generate one with :func:`generate_key`
        instead of failing (``gpg.generate_key``).
    """

    def __init__(self, homedir: str, key_id: str | None = None,
                 passphrase: str | None = None, *, key_file: str | None = None,
                 generate: tuple[str, str] | None = None) -> None:
        self.homedir = os.fspath(homedir)
        self.key_id = key_id
        self.key_file = key_file
        self.generate = generate
        self._passphrase = passphrase
        self._resolved: str | None = None

    def __repr__(self) -> str:
        return (f"GpgSigner(homedir={self.homedir!r}, key_id={self.key_id!r}, "
                f"key_file={self.key_file!r})")

    def signing_key(self) -> str:
        """The key that signs: ``key_id``, the key imported from ``key_file``, or the first
        secret key in ``homedir``.

        :raises PublishError: the import failed, or no secret key is available.
        """
        if self._resolved is not None:
            return self._resolved
        os.makedirs(self.homedir, mode=0o700, exist_ok=True)
        imported: list[str] = []
        if self.key_file:
            out = self._gpg(["--status-fd", "1", "--import", self.key_file], b"",
                            f"importing {self.key_file}", key=None, need_output=False)
            for line in out.decode("utf-8", "replace").splitlines():
                parts = line.split()
                if parts[:2] == ["[GNUPG:]", "IMPORT_OK"] and len(parts) >= 4:
                    imported.append(parts[3].upper())
        if self.key_id:
            self._resolved = self.key_id
        elif imported:
            self._resolved = imported[0]
        else:
            listing = self._gpg(["--with-colons", "--list-secret-keys"], b"",
                                "listing secret keys", key=None, need_output=False)
            fingerprints = [line.split(":")[9] for line in
                            listing.decode("utf-8", "replace").splitlines()
                            if line.startswith("fpr:")]
            if not fingerprints and self.generate is not None:
                fingerprints = [generate_key(self.homedir, *self.generate)]
            if not fingerprints:
                raise PublishError(f"no secret key in GnuPG home {self.homedir}",
                                   hint="configure gpg.key_id or gpg.key_file")
            self._resolved = fingerprints[0].upper()
        return self._resolved

    def _gpg(self, args: Sequence[str], data: bytes, what: str, *, key: str | None,
             need_output: bool = True) -> bytes:
        gpg = _binary("gpg", PublishError)
        argv = [gpg, "--homedir", self.homedir, "--batch", "--no-tty", "--yes",
                "--pinentry-mode", "loopback"]
        read_fd = write_fd = -1
        try:
            if self._passphrase is not None:
                read_fd, write_fd = os.pipe()
                os.write(write_fd, self._passphrase.encode("utf-8"))
                os.close(write_fd)
                write_fd = -1
                argv += ["--passphrase-fd", str(read_fd)]
            argv += list(args)
            proc = _run(argv, input=data, pass_fds=(read_fd,) if read_fd >= 0 else (),
                        error=PublishError, what=what)
        finally:
            for fd in (read_fd, write_fd):
                if fd >= 0:
                    os.close(fd)
        if proc.returncode != 0 or (need_output and not proc.stdout):
            with_key = f" with key {key}" if key else ""
            raise PublishError(f"{what}{with_key} (GnuPG home {self.homedir}) failed: "
                               f"{_stderr(proc) or f'exit status {proc.returncode}'}")
        return proc.stdout

    def sign_detached(self, data: bytes, *, armor: bool = True) -> bytes:
        """A detached SHA256 signature of ``data`` (armored unless ``armor=False``).

        :raises PublishError: gpg is missing, the key is unknown, or signing failed.
        """
        key = self.signing_key()
        args = ["--local-user", key, "--digest-algo", "SHA256", "--detach-sign"]
        if armor:
            args.append("--armor")
        return self._gpg([*args, "--output", "-"], data, "detached signing", key=key)

    def sign_clear(self, data: bytes) -> bytes:
        """A clear-signed document of ``data`` (for ``InRelease``).

        :raises PublishError: as for :meth:`sign_detached`.
        """
        key = self.signing_key()
        return self._gpg(["--local-user", key, "--digest-algo", "SHA256",
                          "--clearsign", "--output", "-"], data, "clear-signing", key=key)

    def public_key(self) -> bytes:
        """The armored public key (to publish as e.g. ``RPM-GPG-KEY`` or ``.asc``).

        :raises PublishError: the key is unknown.
        """
        key = self.signing_key()
        return self._gpg(["--armor", "--export", key], b"", "exporting the public key",
                         key=key)


@attrs.frozen
class _Status:
    """What gpgv's status lines said."""

    valid: list[tuple[str, str]]  # (signing key fingerprint, primary key fingerprint)
    good: set[str]  # long key ids with GOODSIG
    bad: set[str]  # long key ids with BADSIG
    missing: set[str]  # long key ids without a public key (NO_PUBKEY / ERRSIG)
    unusable: set[str]  # long key ids of expired or revoked keys, or expired signatures
    seen: list[str]  # every key id or fingerprint mentioned, in order


def _parse_status(text: str) -> _Status:
    status = _Status([], set(), set(), set(), set(), [])
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2 or parts[0] not in ("[GNUPG:]", "[GNU:]"):
            continue
        keyword, args = parts[1], parts[2:]
        if keyword == "VALIDSIG" and args:
            primary = args[9] if len(args) > 9 else args[0]
            status.valid.append((args[0].upper(), primary.upper()))
            status.seen.append(primary.upper())
        elif keyword == "GOODSIG" and args:
            status.good.add(args[0].upper())
        elif keyword == "BADSIG" and args:
            status.bad.add(args[0].upper())
            status.seen.append(args[0].upper())
        elif keyword in ("NO_PUBKEY", "ERRSIG") and args:
            status.missing.add(args[0].upper())
            status.seen.append(args[0].upper())
        elif keyword in ("EXPKEYSIG", "REVKEYSIG", "EXPSIG") and args:
            status.unusable.add(args[0].upper())
            status.seen.append(args[0].upper())
    return status


def _normalise_pin(pin: str) -> str:
    pin = pin.replace(" ", "").upper()
    if pin.startswith("0X"):
        pin = pin[2:]
    if not _HEX_RE.fullmatch(pin) or not 16 <= len(pin) <= 64:
        raise SignatureError(f"invalid pinned fingerprint {pin!r}: expected a fingerprint "
                             "(40 or 64 hex digits) or a long key id (at least 16)")
    return pin


class GpgvVerifier:
    """A :class:`~chantal_core.ports.Verifier` running ``gpgv`` against given keyrings.

    Only the given keyrings are trusted (``gpgv`` runs with an empty temporary home, so
    no user or system keyring is consulted).

    :param keyrings: paths of keyrings: binary (``.gpg``/keybox) or armored (``.asc``).
    :param pinned_fingerprints: when given, a signature counts only when made by one of
        these keys (primary or signing subkey fingerprint, or a long key id of at least 16
        hex digits matching its end; spaces, ``0x`` and case ignored).
    :param inline_keys: armored public keys given as text (configuration ``keys``),
        trusted like keyrings.
    :param policy: the caller's signature policy (e.g. the repository's ``verify``
        settings), kept as :attr:`policy` for the formats; the verifier itself always
        raises on a failed check.
    :raises SignatureError: a pinned fingerprint is malformed.
    """

    def __init__(self, keyrings: Iterable[str],
                 pinned_fingerprints: Iterable[str] | None = None, *,
                 inline_keys: Iterable[str | bytes] = (), policy: Any = None) -> None:
        self.keyrings = [os.path.abspath(os.fspath(k)) for k in keyrings]
        self.inline_keys = [k.encode("utf-8") if isinstance(k, str) else bytes(k)
                            for k in inline_keys]
        self.pinned = (None if pinned_fingerprints is None
                       else frozenset(_normalise_pin(p) for p in pinned_fingerprints))
        self.policy = policy

    def __repr__(self) -> str:
        return (f"GpgvVerifier(keyrings={self.keyrings!r}, inline_keys="
                f"{len(self.inline_keys)}, pinned={self.pinned!r})")

    def verify_detached(self, data: bytes, signature: bytes, *, source: str
                        ) -> VerifiedSignature:
        """Verify a detached signature (armored or binary) of ``data``.

        :param source: URL or path of the signed file, named in errors.
        :returns: the signer's primary key fingerprint and ``data``.
        :raises SignatureError: bad signature, unknown key, unusable or unpinned key,
            no keyring, or gpgv missing; the message names ``source``, the key ids seen
            and the keyrings tried.
        """
        with tempfile.TemporaryDirectory(prefix="chantal-gpgv-") as tmp:
            sig_path = os.path.join(tmp, "data.sig")
            data_path = os.path.join(tmp, "data")
            with open(sig_path, "wb") as handle:
                handle.write(signature)
            with open(data_path, "wb") as handle:
                handle.write(data)
            fingerprint = self._gpgv(tmp, [sig_path, data_path], source)
        return VerifiedSignature(fingerprint, data)

    def verify_clear(self, document: bytes, *, source: str) -> VerifiedSignature:
        """Verify a clear-signed document and extract the signed content.

        The content is what ``gpgv --output`` writes: only the signed part (text outside
        the signed block is discarded), dash-escaping removed.

        :param source: URL or path of the document, named in errors.
        :returns: the signer's primary key fingerprint and the signed content.
        :raises SignatureError: as for :meth:`verify_detached`, or not clear-signed.
        """
        if b"-----BEGIN PGP SIGNED MESSAGE-----" not in document:
            raise SignatureError(f"{source}: not a clear-signed document")
        with tempfile.TemporaryDirectory(prefix="chantal-gpgv-") as tmp:
            doc_path = os.path.join(tmp, "document")
            out_path = os.path.join(tmp, "content")
            with open(doc_path, "wb") as handle:
                handle.write(document)
            fingerprint = self._gpgv(tmp, ["--output", out_path, doc_path], source)
            try:
                with open(out_path, "rb") as handle:
                    content = handle.read()
            except OSError as exc:
                raise SignatureError(f"{source}: gpgv wrote no signed content") from exc
        return VerifiedSignature(fingerprint, content)

    # -- internals --------------------------------------------------------------------
    def _prepare_keyrings(self, tmp: str, source: str) -> list[str]:
        if not self.keyrings and not self.inline_keys:
            raise SignatureError(f"{source}: no keyring configured to verify the signature",
                                 hint="configure the repository's GPG key(s)")
        prepared = []
        sources = list(self.keyrings)
        for index, key in enumerate(self.inline_keys):
            path = os.path.join(tmp, f"inline-{index}.asc")
            with open(path, "wb") as handle:
                handle.write(key)
            sources.append(path)
        for index, keyring in enumerate(sources):
            try:
                with open(keyring, "rb") as handle:
                    head = handle.read(64)
            except OSError as exc:
                raise SignatureError(f"{source}: cannot read keyring {keyring}: "
                                     f"{exc.strerror or exc}") from exc
            if b"-----BEGIN PGP" not in head:
                prepared.append(keyring)
                continue
            out = os.path.join(tmp, f"keyring-{index}.gpg")
            gpg = _binary("gpg", SignatureError)
            proc = _run([gpg, "--homedir", tmp, "--batch", "--no-tty", "--yes", "--dearmor",
                         "--output", out, keyring],
                        error=SignatureError, what=f"{source}: dearmoring {keyring}")
            if proc.returncode != 0 or not os.path.exists(out):
                shown = keyring if index < len(self.keyrings) else (
                    f"inline key #{index - len(self.keyrings) + 1}")
                raise SignatureError(f"{source}: {shown} is not a valid armored key: "
                                     f"{_stderr(proc)}")
            prepared.append(out)
        return prepared

    def _gpgv(self, tmp: str, args: Sequence[str], source: str) -> str:
        gpgv = _binary("gpgv", SignatureError)
        home = os.path.join(tmp, "home")
        os.mkdir(home, 0o700)
        keyrings = self._prepare_keyrings(tmp, source)
        argv = [gpgv, "--homedir", home, "--status-fd", "1"]
        for keyring in keyrings:
            argv += ["--keyring", keyring]
        proc = _run([*argv, *args], error=SignatureError, what=f"{source}: verifying")
        status = _parse_status(proc.stdout.decode("utf-8", "replace"))
        return self._judge(status, proc, source)

    def _judge(self, status: _Status, proc: subprocess.CompletedProcess[bytes],
               source: str) -> str:
        tried = ", ".join(self.keyrings + [f"inline key #{i + 1}"
                                           for i in range(len(self.inline_keys))])
        seen = ", ".join(dict.fromkeys(status.seen)) or "none"

        def fail(reason: str) -> SignatureError:
            detail = _stderr(proc)
            return SignatureError(
                f"{source}: {reason}; key ids seen: {seen}; keyrings tried: {tried}"
                + (f" ({detail})" if detail else ""))

        if status.bad:
            raise fail(f"BAD signature by key {', '.join(sorted(status.bad))}")
        usable = [
            (signing, primary) for signing, primary in status.valid
            if signing[-16:] not in status.unusable and primary[-16:] not in status.unusable
        ]
        if self.pinned is not None:
            usable = [(s, p) for s, p in usable if self._is_pinned(s) or self._is_pinned(p)]
        if usable:
            return usable[0][1]
        if status.valid and self.pinned is not None:
            raise fail("signed by a key that is not pinned (pinned: "
                       f"{', '.join(sorted(self.pinned))})")
        if status.valid or status.unusable:
            raise fail("signed only by expired or revoked keys")
        if status.missing:
            raise fail(f"no public key for {', '.join(sorted(status.missing))} in the keyrings")
        raise fail("no valid signature found")

    def _is_pinned(self, fingerprint: str) -> bool:
        assert self.pinned is not None
        return any(fingerprint == pin or (len(pin) == 16 and fingerprint.endswith(pin))
                   for pin in self.pinned)
