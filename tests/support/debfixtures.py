"""Build Debian test fixtures with the real tools: ``.deb`` files (``dpkg-deb``), a signing
key (``gpg``), and a signed APT archive (``reprepro``).

Usage::

    key = GpgKey.generate(tmp_path / "gnupg")
    debs = [build_deb(DebSpec(name="hello", version="1.0-1"), tmp_path / "debs")]
    root = build_archive(tmp_path / "archive", debs, suite="stable", sign_key=key)
    # root/dists/stable/InRelease, root/pool/main/h/hello/hello_1.0-1_amd64.deb ...

Every helper raises :class:`FixtureError` with the tool's output when a tool fails; tests
skip beforehand with :func:`missing_tools`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DebSpec",
    "FixtureError",
    "GpgKey",
    "build_archive",
    "build_deb",
    "description_md5",
    "dpkg_fields",
    "extend_release",
    "missing_tools",
    "translation_stanza",
]


class FixtureError(RuntimeError):
    """A fixture tool failed (the message carries its output)."""


def missing_tools(*names: str) -> list[str]:
    """The names among ``names`` that are not on ``PATH``."""
    return [name for name in names if shutil.which(name) is None]


def _run(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
         cwd: str | Path | None = None, input: bytes | None = None) -> bytes:
    proc = subprocess.run(list(argv), capture_output=True, env=dict(env) if env else None,
                          cwd=cwd, input=input, timeout=120, check=False)
    if proc.returncode != 0:
        raise FixtureError(f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n"
                           f"{proc.stdout.decode(errors='replace')}"
                           f"{proc.stderr.decode(errors='replace')}")
    return proc.stdout


@dataclass(frozen=True)
class DebSpec:
    """A binary package to build.

    :ivar name: ``Package``.
    :ivar version: ``Version`` (``[epoch:]upstream[-revision]``).
    :ivar arch: ``Architecture`` (``amd64``, ``all``...).
    :ivar fields: further control fields in order (``Depends``, ``Multi-Arch``, custom
        ``X-...`` fields...); ``Section``/``Priority`` default to ``misc``/``optional``
        (reprepro needs them), ``Description`` to a multi-line one.
    :ivar files: files to ship, path inside the package -> content.
    """

    name: str
    version: str
    arch: str = "amd64"
    fields: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        """Debian's file name: ``name_version-without-epoch_arch.deb``."""
        version = self.version.split(":", 1)[-1]
        return f"{self.name}_{version}_{self.arch}.deb"


def build_deb(spec: DebSpec, dest: str | Path) -> Path:
    """Build ``spec`` with ``dpkg-deb --build --root-owner-group`` into ``dest``.

    :returns: the ``.deb`` path.
    :raises FixtureError: dpkg-deb failed.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest / f".build-{spec.name}-{spec.version.replace(':', '_')}-{spec.arch}"
    if root.exists():
        shutil.rmtree(root)
    (root / "DEBIAN").mkdir(parents=True)
    files = dict(spec.files) or {
        f"usr/share/doc/{spec.name}/README": f"{spec.name} {spec.version}\n".encode()}
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    control = [f"Package: {spec.name}", f"Version: {spec.version}",
               f"Architecture: {spec.arch}", "Maintainer: Chantal Tests <tests@example.org>"]
    extra = {"Section": "misc", "Priority": "optional", **spec.fields}
    description = extra.pop("Description",
                            f"test package {spec.name}\n This is {spec.name} {spec.version}"
                            ".\n .\n Built by the Chantal test suite.")
    control += [f"{name}: {value}" for name, value in extra.items()]
    control.append(f"Description: {description}")
    (root / "DEBIAN" / "control").write_text("\n".join(control) + "\n", encoding="utf-8")
    out = dest / spec.filename
    _run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(out)])
    shutil.rmtree(root)
    return out


def dpkg_fields(deb: str | Path) -> dict[str, str]:
    """The control fields of a ``.deb`` as ``dpkg-deb -f`` prints them (the oracle).

    :returns: field name -> value (continuation lines as in the control file).
    """
    text = _run(["dpkg-deb", "-f", str(deb)]).decode("utf-8")
    fields: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and current is not None:
            fields[current] += "\n" + line
        elif ":" in line:
            current, _, value = line.partition(":")
            fields[current] = value.strip()
    return fields


@dataclass(frozen=True)
class GpgKey:
    """A passphrase-less signing key in its own GnuPG home.

    :ivar home: the GnuPG home directory.
    :ivar fingerprint: the key's fingerprint (hex, upper case).
    :ivar public_asc: ASCII-armored public key file.
    :ivar public_gpg: binary public keyring file (for ``gpgv`` and ``signed-by``).
    """

    home: Path
    fingerprint: str
    public_asc: Path
    public_gpg: Path

    @classmethod
    def generate(cls, home: str | Path, *, name: str = "Chantal Test Archive",
                 email: str = "archive@example.org") -> GpgKey:
        """Create a key with ``gpg --batch --quick-gen-key`` (ed25519, no passphrase).

        :raises FixtureError: gpg failed.
        """
        home = Path(home)
        home.mkdir(parents=True, exist_ok=True)
        os.chmod(home, 0o700)
        env = {**os.environ, "GNUPGHOME": str(home)}
        gpg = ["gpg", "--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", ""]
        _run([*gpg, "--quick-gen-key", f"{name} <{email}>", "ed25519", "sign", "never"],
             env=env)
        listing = _run(["gpg", "--batch", "--with-colons", "--list-secret-keys", email],
                       env=env).decode()
        fingerprint = next(line.split(":")[9] for line in listing.splitlines()
                           if line.startswith("fpr:"))
        public_asc = home / "public.asc"
        public_asc.write_bytes(_run(["gpg", "--batch", "--armor", "--export", fingerprint],
                                    env=env))
        public_gpg = home / "public.gpg"
        public_gpg.write_bytes(_run(["gpg", "--batch", "--export", fingerprint], env=env))
        return cls(home=home, fingerprint=fingerprint, public_asc=public_asc,
                   public_gpg=public_gpg)

    @property
    def env(self) -> dict[str, str]:
        """The environment with ``GNUPGHOME`` set to this key's home."""
        return {**os.environ, "GNUPGHOME": str(self.home)}

    def stop_agent(self) -> None:
        """Stop the gpg-agent gpg started for this home (best effort)."""
        if shutil.which("gpgconf"):
            subprocess.run(["gpgconf", "--kill", "all"], env=self.env, capture_output=True,
                           timeout=30, check=False)


def build_archive(
    dest: str | Path,
    packages: Iterable[str | Path | tuple[str | Path, str]],
    *,
    suite: str = "stable",
    components: Sequence[str] = ("main",),
    architectures: Sequence[str] = ("amd64",),
    sign_key: GpgKey | None = None,
    origin: str = "Chantal Tests",
    label: str = "Chantal Tests",
    suite_field: str | None = None,
    valid_for: str | None = None,
    work: str | Path | None = None,
    contents: bool = False,
) -> Path:
    """Build an APT archive with ``reprepro`` at ``dest`` (``dists/`` and ``pool/``).

    :param packages: ``.deb`` paths (into the first component) or ``(path, component)``.
        reprepro (5.3) keeps one version of a package per component and architecture: put
        older versions into another component.
    :param suite: the codename: ``dists/<suite>/``.
    :param components: the components declared.
    :param architectures: architectures declared (``source`` is added).
    :param sign_key: signs ``InRelease`` and ``Release.gpg`` when given.
    :param suite_field: Release ``Suite`` (default: none).
    :param valid_for: reprepro ``ValidFor`` (``30d``) to write ``Valid-Until``.
    :param work: reprepro's base directory (conf/, db/); default ``<dest>.reprepro``.
    :param contents: have reprepro write ``<component>/Contents-<arch>.gz`` (``Contents:
        .gz``; the Release also lists the uncompressed file, which is not written).
    :returns: ``dest``.
    :raises FixtureError: reprepro failed.
    """
    dest = Path(dest)
    base = Path(work) if work is not None else dest.with_name(dest.name + ".reprepro")
    (base / "conf").mkdir(parents=True, exist_ok=True)
    lines = [f"Origin: {origin}", f"Label: {label}", f"Codename: {suite}",
             f"Architectures: {' '.join(architectures)} source",
             f"Components: {' '.join(components)}",
             "Description: Chantal test archive",
             "DebIndices: Packages Release . .gz .xz"]
    if suite_field:
        lines.append(f"Suite: {suite_field}")
    if valid_for:
        lines.append(f"ValidFor: {valid_for}")
    if contents:
        lines.append("Contents: .gz nocompatsymlink")
    if sign_key is not None:
        lines.append(f"SignWith: {sign_key.fingerprint}")
    (base / "conf" / "distributions").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (base / "conf" / "options").write_text(f"outdir {dest}\n", encoding="utf-8")
    env = sign_key.env if sign_key is not None else dict(os.environ)
    for item in packages:
        path, component = (item if isinstance(item, tuple) else (item, components[0]))
        _run(["reprepro", "--silent", "-b", str(base), "-C", component, "includedeb", suite,
              str(path)], env=env)
    _run(["reprepro", "--silent", "-b", str(base), "export", suite], env=env)
    return dest


#: Release fields :func:`extend_release` carries over (apt-ftparchive's option names).
_RELEASE_FIELDS = ("Origin", "Label", "Suite", "Codename", "Architectures", "Components",
                   "Description")


def description_md5(deb: str | Path) -> str:
    """The ``Description-md5`` apt computes for a package: MD5 of its ``Description`` value
    (first line and continuation lines as in the control file) plus a newline."""
    import hashlib

    description = dpkg_fields(deb)["Description"]
    return hashlib.md5((description + "\n").encode("utf-8")).hexdigest()


def translation_stanza(deb: str | Path, lang: str, text: str) -> str:
    """A ``Translation-<lang>`` stanza for ``deb``: ``Package``, ``Description-md5`` and
    ``Description-<lang>`` (``text``: first line, then continuation lines)."""
    name = dpkg_fields(deb)["Package"]
    body = "\n".join(f" {line}" if i else line for i, line in enumerate(text.split("\n")))
    return (f"Package: {name}\nDescription-md5: {description_md5(deb)}\n"
            f"Description-{lang}: {body}\n")


def extend_release(dest: str | Path, files: Mapping[str, bytes], *, suite: str = "stable",
                   sign_key: GpgKey | None = None, unserved: Iterable[str] = ()) -> Path:
    """Add ``files`` below ``dists/<suite>/`` of an archive and regenerate its Release with
    ``apt-ftparchive release`` (the fields of the existing Release kept; every file under
    ``dists/<suite>/`` listed), signed again (``InRelease``, ``Release.gpg``) with
    ``sign_key`` (``gpg --clearsign`` / ``--detach-sign``).

    :param files: path relative to ``dists/<suite>/`` -> content.
    :param unserved: paths (relative to ``dists/<suite>/``) listed in the Release, then
        removed, as Debian's archive lists uncompressed indexes it does not serve.
    :returns: the new Release file.
    :raises FixtureError: apt-ftparchive or gpg failed.
    """
    directory = Path(dest) / "dists" / suite
    for relpath, content in files.items():
        target = directory / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    release = directory / "Release"
    options: list[str] = []
    for line in release.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition(": ")
        if sep and name in _RELEASE_FIELDS:
            options += ["-o", f"APT::FTPArchive::Release::{name}={value}"]
    for name in ("Release", "InRelease", "Release.gpg"):
        (directory / name).unlink(missing_ok=True)
    text = _run(["apt-ftparchive", *options, "release", "."], cwd=directory)
    release.write_bytes(text)
    for relpath in unserved:
        (directory / relpath).unlink()
    if sign_key is not None:
        gpg = ["gpg", "--batch", "--yes", "--no-tty", "--local-user", sign_key.fingerprint]
        _run([*gpg, "--clearsign", "-o", str(directory / "InRelease"), str(release)],
             env=sign_key.env)
        _run([*gpg, "--armor", "--detach-sign", "-o", str(directory / "Release.gpg"),
              str(release)], env=sign_key.env)
    return release
