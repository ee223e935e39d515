"""``chantal key generate|export``: the key that signs published metadata."""

from __future__ import annotations

import argparse
import os
import sys

from chantal_cli.commands._common import services
from chantal_core.errors import ConfigError


def _homedir(svc: object) -> str:
    config = svc.config  # type: ignore[attr-defined]
    gpg = config.gpg
    if gpg is not None and gpg.gnupg_home:
        return str(gpg.gnupg_home)
    return os.path.join(config.storage.base_path, "gnupg")


def generate(args: argparse.Namespace) -> int:
    """Create a signing key (no passphrase, no expiry) in the configured gpg homedir and
    print its fingerprint and the configuration to use it."""
    from chantal_adapters.gpg import generate_key

    svc = services(args, check_schema=False)
    homedir = _homedir(svc)
    os.makedirs(homedir, mode=0o700, exist_ok=True)
    fingerprint = generate_key(homedir, args.name, args.email)
    print(f"fingerprint: {fingerprint}")
    print(f"homedir: {homedir}")
    print("# add to the configuration:", file=sys.stderr)
    print(f"# gpg:\n#   gnupg_home: {homedir}\n#   key_id: {fingerprint}", file=sys.stderr)
    return 0


def export(args: argparse.Namespace) -> int:
    """Print (or write) the armored public key of the configured signing key, for clients'
    ``Signed-By`` (APT) or ``gpgkey`` (dnf)."""
    svc = services(args, check_schema=False)
    signer = svc.signer()
    if signer is None:
        raise ConfigError("no signing key configured: set gpg.gnupg_home and gpg.key_id",
                          hint="create one with `chantal key generate`")
    key = signer.public_key()
    if args.output:
        with open(args.output, "wb") as handle:
            handle.write(key)
        os.chmod(args.output, 0o644)
        print(f"wrote the public key to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(key.decode())
    return 0
