"""``chantal key generate|export``: the key that signs published metadata.

``generate`` creates a key in the configured GnuPG home (``gpg.gnupg_home``, default
``<storage.base_path>/gnupg``) and prints, on standard output, a YAML document: the
fingerprint and the ``gpg:`` section that makes ``publish`` sign with it. ``export`` prints
the armored public key clients trust (APT ``Signed-By``, dnf ``gpgkey``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from chantal_cli.commands._common import services
from chantal_core.errors import ConfigError


def gnupg_home(svc: Any) -> str:
    """The GnuPG home directory keys are made in and read from.

    :param svc: the :class:`~chantal_adapters.bootstrap.Services`.
    :returns: ``gpg.gnupg_home`` of the global ``gpg`` section when set (enabled or not),
        else ``<storage.base_path>/gnupg`` (the default :meth:`Services.signer` uses too).
    """
    config = svc.config
    gpg = config.gpg
    if gpg is not None and gpg.gnupg_home:
        return str(gpg.gnupg_home)
    return os.path.join(config.storage.base_path, "gnupg")


def _yaml_snippet(homedir: str, fingerprint: str) -> str:
    return (f"fingerprint: {fingerprint}\n"
            "gpg:\n"
            "  enabled: true\n"
            f"  gnupg_home: {homedir}\n"
            f"  key_id: {fingerprint}\n")


def generate(args: argparse.Namespace) -> int:
    """Create a signing key (RSA 3072, no passphrase, no expiry) in the configured GnuPG home.

    Standard output is a YAML document: ``fingerprint: <FPR>`` and the ``gpg:`` section to
    put into the configuration; a hint goes to standard error. The configuration needs
    no ``gpg`` section yet (or one with ``enabled: false``); a key already configured is
    left alone (the new one is added next to it).

    :param args: ``name`` and ``email`` of the key's user id, ``config``.
    :returns: exit code 0.
    :raises PublishError: gpg is missing or failed (exit 1).
    :raises ConfigError: the configuration cannot be loaded (exit 2).
    """
    from chantal_adapters.gpg import generate_key

    svc = services(args, check_schema=False)
    homedir = gnupg_home(svc)
    fingerprint = generate_key(homedir, args.name, args.email)
    sys.stdout.write(_yaml_snippet(homedir, fingerprint))
    if not getattr(args, "quiet", False):
        print(f"created key {fingerprint} ({args.name} <{args.email}>) in {homedir}; put the "
              "gpg section above into the configuration to sign published trees with it",
              file=sys.stderr)
    return 0


def _signer(svc: Any) -> Any:
    """The configured signer; else (signing not enabled yet) ``gpg.key_id`` or the first
    secret key of the GnuPG home, e.g. a key just made by ``key generate``."""
    signer = svc.signer()
    if signer is not None:
        return signer
    homedir = gnupg_home(svc)
    if not os.path.isdir(homedir):
        raise ConfigError(f"no signing key configured and no GnuPG home at {homedir}",
                          hint="create one with `chantal key generate`")
    from chantal_adapters.gpg import GpgSigner

    gpg = svc.config.gpg
    return GpgSigner(homedir, gpg.key_id if gpg is not None else None)


def export(args: argparse.Namespace) -> int:
    """Print (or write, mode 0644) the armored public key of the signing key.

    The key is the configured one (``gpg`` section), else the first secret key of the GnuPG
    home. APT reads the armored file as it is in ``Signed-By`` (a ``.asc`` name).

    :param args: ``output`` (a file path, or ``None`` for standard output), ``config``.
    :returns: exit code 0.
    :raises ConfigError: no key configured and no GnuPG home (exit 2).
    :raises PublishError: the GnuPG home holds no secret key, or gpg failed (exit 1).
    """
    svc = services(args, check_schema=False)
    key = _signer(svc).public_key()
    if args.output:
        with open(args.output, "wb") as handle:
            handle.write(key)
        os.chmod(args.output, 0o644)
        if not getattr(args, "quiet", False):
            print(f"wrote the public key to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(key.decode("ascii"))
    return 0
