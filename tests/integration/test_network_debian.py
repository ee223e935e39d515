"""Against the real Debian mirror this machine's APT sources name (never a hard-coded host).

``bookworm main amd64`` filtered to ``^htop$`` with ``with_dependencies: true`` is synced
through the CLI (InRelease verified against the machine's Debian archive keyring: the
configuration has no ``verify`` section, so bootstrap falls back to the machine's APT
keyrings), synced again (only InRelease fetched), published signed with a key made by
``chantal key generate``, and a real ``apt-get`` with a private state directory and an
empty dpkg status resolves ``htop`` from it. ``curl`` (a deep dependency tree: libcurl4,
libssh2, libldap, Kerberos, nghttp2... down to libc6) is synced the same way into a second
repository and apt-get resolves every dependency of it from that repository alone. The
stanza parser is checked against python-debian on the full Packages index, and
``binary-all`` is not fetched when the Release says the per-architecture indexes list
those packages.

Skipped, with the reason, when no Debian mirror is configured or reachable (5 s probe),
or the Debian archive keyring is missing. Every test is marked ``network``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import shutil
import sqlite3
import subprocess
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chantal_cli.main import main
from support.debfixtures import GpgKey, missing_tools
from support.debian_mirror import DebianMirror, find_debian_mirror
from support.webserver import public_tmpdir, serve_as_web_user

_MISSING = missing_tools("gpg", "gpgv", "apt-get", "apt-cache")
pytestmark = [pytest.mark.network, pytest.mark.integration,
              pytest.mark.skipif(bool(_MISSING), reason=f"needs {', '.join(_MISSING)}")]

from test_apt_format import AptClient, _apt_problems  # noqa: E402

SUITE = "bookworm"
PACKAGES_XZ = "main/binary-amd64/Packages.xz"


@pytest.fixture(scope="module")
def mirror() -> DebianMirror:
    found = find_debian_mirror(SUITE)
    if isinstance(found, str):
        pytest.skip(f"no usable Debian mirror: {found}")
    return found


class RecordingFetcher:
    """A :class:`~chantal_core.ports.Fetcher` wrapper that logs every URL requested."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.urls: list[str] = []

    def open(self, url: str, *, headers: Mapping[str, str] | None = None) -> Any:
        self.urls.append(url)
        return self.inner.open(url, headers=headers)

    def get_bytes(self, url: str) -> bytes:
        self.urls.append(url)
        return bytes(self.inner.get_bytes(url))


class Upstream:
    """The suite's Release (verified) and its main/binary-amd64 Packages index."""

    def __init__(self, release_text: bytes, packages_xz: bytes) -> None:
        self.release_text = release_text
        self.packages_xz = packages_xz

    @functools.cached_property
    def packages(self) -> bytes:
        """The decompressed Packages index."""
        from chantal_adapters.apt.packages import open_index

        return bytes(open_index(self.packages_xz, PACKAGES_XZ).read())

    def stanza(self, name: str) -> Any:
        """python-debian's reading of ``name``'s stanza (the oracle)."""
        from debian import deb822

        text = b"\n" + self.packages
        start = text.find(f"\nPackage: {name}\n".encode())
        assert start >= 0, name
        end = text.find(b"\n\n", start + 1)
        return deb822.Packages(text[start + 1:end if end >= 0 else None])


@pytest.fixture(scope="module")
def upstream(mirror: DebianMirror) -> Upstream:
    """InRelease verified with gpgv against the Debian keyring; Packages.xz checked
    against its size and SHA256 in the Release."""
    from chantal_adapters.apt.release import parse_release
    from chantal_adapters.apt.upstream import verify_content
    from chantal_adapters.gpg import GpgvVerifier
    from chantal_adapters.http import Urllib3Fetcher

    fetcher = Urllib3Fetcher()
    url = f"{mirror.uri}/dists/{SUITE}"
    verified = GpgvVerifier([mirror.keyring]).verify_clear(
        fetcher.get_bytes(f"{url}/InRelease"), source=f"{url}/InRelease")
    release = parse_release(verified.content, source=f"{url}/InRelease")
    data = fetcher.get_bytes(f"{url}/{PACKAGES_XZ}")
    verify_content(data, release.files[PACKAGES_XZ], source=f"{url}/{PACKAGES_XZ}")
    return Upstream(release_text=verified.content, packages_xz=data)


def chantal(config: Path, *args: str) -> tuple[int, str]:
    """Run the CLI in-process; returns the exit code and what it printed on stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--config", str(config), "-q", *args])
    return code, out.getvalue()


def snapshot_state(base: Path) -> tuple[dict[str, str], bytes]:
    """Pool files (path -> SHA256) and the catalog without its sync history."""
    pool = {str(p.relative_to(base)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((base / "pool").rglob("*")) if p.is_file()}
    con = sqlite3.connect(base / "chantal.db")
    try:
        dump = "\n".join(line for line in con.iterdump() if "sync_history" not in line)
    finally:
        con.close()
    return pool, dump.encode()


#: The repositories of the configuration: id -> the package name pattern synced with its
#: dependency closure. ``debian`` (htop, a few packages) is the one most tests use.
REPOSITORIES = {"debian": "^htop$", "curl": "^curl$"}


def _repository(repo_id: str, pattern: str, feed: str, verify: str) -> str:
    """One item of ``repositories:`` (``verify``: a YAML section added to it, or "")."""
    lines = [
        f"- id: {repo_id}",
        "  type: apt",
        f"  feed: {feed}",
        "  with_dependencies: true",
        "  apt:",
        f"    distribution: {SUITE}",
        "    components: [main]",
        "    architectures: [amd64]",
        "  filters:",
        "    patterns:",
        f'      include: ["{pattern}"]',
    ]
    return textwrap.indent("\n".join(lines) + "\n" + textwrap.indent(verify, "  "), "  ")


def write_config(base: Path, published: Path, feed: str, *, verify: str = "",
                 gpg: str = "gpg:\n  enabled: false\n") -> Path:
    """The configuration: every repository of :data:`REPOSITORIES`, each with ``verify``
    (a repository-level YAML section) when given."""
    path = base / "config.yaml"
    path.write_text(textwrap.dedent(f"""\
        database:
          url: sqlite:///{base}/state/chantal.db
        storage:
          base_path: {base}/state
          pool_path: {base}/state/pool
          published_path: {published}
        download:
          timeout: 30
        """) + gpg.replace("GNUPG", str(base / "gnupg")) + "repositories:\n"
        + "".join(_repository(repo_id, pattern, feed, verify)
                  for repo_id, pattern in REPOSITORIES.items()), encoding="utf-8")
    return path


@dataclass
class Synced:
    base: Path
    config: Path
    published: Path
    fingerprint: str


@pytest.fixture(scope="module")
def synced(mirror: DebianMirror, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Synced]:
    """init, key generate (put into the configuration), one sync of htop and its closure."""
    from ruamel.yaml import YAML

    base = tmp_path_factory.mktemp("debian")
    published = public_tmpdir()
    cfg = write_config(base, published, mirror.uri,
                       gpg="gpg:\n  enabled: false\n  gnupg_home: GNUPG\n")
    try:
        assert chantal(cfg, "init")[0] == 0
        code, out = chantal(cfg, "key", "generate", "--email", "network-test@localhost")
        assert code == 0
        printed = YAML(typ="safe").load(out)
        cfg.write_text(cfg.read_text().replace(
            "gpg:\n  enabled: false\n", "gpg:\n  enabled: true\n"
            f"  key_id: {printed['fingerprint']}\n", 1))
        code, out = chantal(cfg, "repo", "sync", "--repo-id", "debian", "--format", "json")
        assert code == 0, out
        [report] = json.loads(out)
        assert report["status"] == "updated"
        yield Synced(base=base, config=cfg, published=published,
                     fingerprint=printed["fingerprint"])
    finally:
        from chantal_adapters.gpg import stop_agent

        stop_agent(str(base / "gnupg"))
        shutil.rmtree(published, ignore_errors=True)


def _first_names(relations: str) -> list[str]:
    from debian import deb822

    return [group[0]["name"] for group in deb822.PkgRelation.parse_relations(relations)]


def _package_names(config: Path, repo_id: str, capsys: pytest.CaptureFixture[str]
                   ) -> set[str]:
    """Names of the packages in ``repo_id``'s current version (``package list``)."""
    capsys.readouterr()
    assert main(["--config", str(config), "package", "list", "--repo-id", repo_id,
                 "--format", "json"]) == 0
    return {p["name"] for p in json.loads(capsys.readouterr().out)}


def _assert_closed(package: str, names: set[str], upstream: Upstream) -> None:
    """``package`` and its direct dependencies are in ``names``, and the set is closed:
    every Depends/Pre-Depends group of every member has an alternative in it (python-debian
    parses the relations, the oracle)."""
    from debian import deb822

    assert package in names
    stanza = upstream.stanza(package)
    for field in ("Pre-Depends", "Depends"):
        for dependency in _first_names(stanza[field]) if field in stanza else ():
            assert dependency in names, (dependency, names)
    for name in names:
        stanza = upstream.stanza(name)
        for field in ("Depends", "Pre-Depends"):
            if field in stanza:
                groups = deb822.PkgRelation.parse_relations(stanza[field])
                assert all(any(alt["name"] in names for alt in group) for group in groups), \
                    (name, field, stanza[field])


def test_sync_takes_htop_and_its_dependencies(synced: Synced, upstream: Upstream,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _assert_closed("htop", _package_names(synced.config, "debian", capsys), upstream)


def test_verification_uses_the_machines_keyring(
        synced: Synced, mirror: DebianMirror, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from chantal_adapters.bootstrap import bootstrap

    svc = bootstrap(str(synced.config))
    repo = svc.config.repositories[0]
    assert repo.verify is None
    verifier = svc.verifier_for(repo)
    assert mirror.keyring in verifier.keyrings
    # and it is really checked: trusting only an unrelated key, the sync is refused
    stranger = GpgKey.generate(tmp_path / "stranger", name="Stranger",
                               email="stranger@example.org")
    try:
        cfg = write_config(tmp_path, synced.published / "unused", mirror.uri,
                           verify=f"verify:\n  enabled: true\n  key_files: "
                                  f"[{stranger.public_gpg}]\n")
        assert chantal(cfg, "init")[0] == 0
        capsys.readouterr()
        code, _ = chantal(cfg, "repo", "sync", "--repo-id", "debian")
        err = capsys.readouterr().err
        assert code == 1
        assert f"{mirror.uri}/dists/{SUITE}/InRelease" in err and "no public key" in err, err
        assert not [p for p in (tmp_path / "state" / "pool").rglob("*") if p.is_file()]
    finally:
        stranger.stop_agent()


def test_second_sync_fetches_only_the_release(synced: Synced, mirror: DebianMirror,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from chantal_adapters.bootstrap import bootstrap
    from chantal_core.sync import sync_repository

    state = synced.base / "state"
    before = snapshot_state(state)
    svc = bootstrap(str(synced.config))
    repo = svc.config.repositories[0]
    fmt = svc.format_for(repo)
    fetcher = RecordingFetcher(svc.fetcher_for(repo))
    settings = svc.with_closure(repo, svc.sync_settings(repo), fmt)
    report = sync_repository(repo, settings=settings, fmt=fmt, fetcher=fetcher, pool=svc.pool,
                             catalog=svc.catalog, verifier=svc.verifier_for(repo))
    assert report.status == "up-to-date" and report.files_downloaded == 0
    assert fetcher.urls == [f"{mirror.uri}/dists/{SUITE}/InRelease"]
    assert snapshot_state(state) == before
    capsys.readouterr()
    assert main(["--config", str(synced.config), "repo", "history", "--repo-id", "debian",
                 "--format", "json"]) == 0
    assert [h["status"] for h in json.loads(capsys.readouterr().out)][:2] == [
        "up-to-date", "success"]


@contextlib.contextmanager
def published_client(synced: Synced, repo_id: str) -> Iterator[tuple[AptClient, str]]:
    """Publish ``repo_id`` (signed), serve the published tree, and yield an apt client
    (private state, empty dpkg status) whose only source is that repository, after a clean
    ``apt-get update``; also its repository URL."""
    assert chantal(synced.config, "publish", "repo", "--repo-id", repo_id)[0] == 0
    key_file = synced.published / "chantal.asc"
    if not key_file.exists():
        assert chantal(synced.config, "key", "export", "-o", str(key_file))[0] == 0
    with serve_as_web_user(synced.published) as web:
        repo_url = f"{web}{repo_id}/latest/"
        client = AptClient(synced.base / f"apt-{repo_id}", repo_url, key_file, suite=SUITE)
        (client.root / "etc/apt/sources.list").write_text(
            f"deb [signed-by={key_file}] {repo_url} {SUITE} main\n")
        update = client.run("apt-get", "update")
        assert update.returncode == 0, update.stdout + update.stderr
        assert _apt_problems(update) == [], update.stdout + update.stderr
        yield client, repo_url


def _simulate_install(client: AptClient, package: str) -> set[str]:
    """``apt-get install --simulate -y package``; asserts a clean resolution and returns the
    names apt would install."""
    install = client.run("apt-get", "install", "--simulate", "-y", package)
    assert install.returncode == 0, install.stdout + install.stderr
    assert _apt_problems(install) == [], install.stdout + install.stderr
    return {line.split()[1] for line in install.stdout.splitlines()
            if line.startswith("Inst ")}


def test_published_tree_serves_apt_get(synced: Synced, upstream: Upstream) -> None:
    key_file = synced.published / "chantal.asc"
    htop = upstream.stanza("htop")
    with published_client(synced, "debian") as (client, repo_url):
        shown = subprocess.run(["gpg", "--show-keys", "--with-colons", str(key_file)],
                               capture_output=True, text=True, check=True).stdout
        assert f"fpr:::::::::{synced.fingerprint}:" in shown

        policy = client.run("apt-cache", "policy", "htop")
        assert policy.returncode == 0, policy.stderr
        assert f"Candidate: {htop['Version']}" in policy.stdout, policy.stdout
        assert f"{repo_url.rstrip('/')} {SUITE}/main amd64 Packages" in policy.stdout, \
            policy.stdout

        download = client.run("apt-get", "download", "htop", cwd=client.root / "download")
        assert download.returncode == 0, download.stdout + download.stderr
        [deb] = (client.root / "download").glob("htop_*.deb")
        assert hashlib.sha256(deb.read_bytes()).hexdigest() == htop["SHA256"]
        assert deb.stat().st_size == int(htop["Size"])

        installed = _simulate_install(client, "htop")
        assert "htop" in installed
        for dependency in _first_names(htop["Depends"]):
            assert dependency in installed, (dependency, installed)


def test_deep_dependency_tree_of_curl_resolves_with_apt_get(
        synced: Synced, upstream: Upstream, capsys: pytest.CaptureFixture[str]) -> None:
    """curl (libcurl4 -> libssh2, libldap, libgssapi-krb5, libnghttp2... -> libc6): the
    closure synced with ``with_dependencies`` lets apt-get install curl from our repository
    alone, with an empty dpkg status, every package apt picks coming from the sync."""
    code, out = chantal(synced.config, "repo", "sync", "--repo-id", "curl", "--format", "json")
    assert code == 0, out
    [report] = json.loads(out)
    assert report["status"] == "updated"
    names = _package_names(synced.config, "curl", capsys)
    _assert_closed("curl", names, upstream)
    assert {"libcurl4", "libc6", "libssl3"} <= names, names
    assert len(names) > 30, names  # a deep tree, not just the direct dependencies
    with published_client(synced, "curl") as (client, _url):
        installed = _simulate_install(client, "curl")
    curl = upstream.stanza("curl")
    assert "curl" in installed
    for dependency in _first_names(curl["Depends"]):
        assert dependency in installed, (dependency, installed)
    # apt resolved everything from our repository: what it installs is what we synced
    assert installed <= names, installed - names
    assert "libcurl4" in installed and "libc6" in installed


def test_binary_all_is_not_read_when_the_release_says_packages_has_it(
        synced: Synced, mirror: DebianMirror, upstream: Upstream) -> None:
    """Debian's Release says ``No-Support-for-Architecture-all: Packages``: the
    ``Architecture: all`` packages are in ``binary-amd64`` and ``binary-all`` is not fetched
    (as apt does), yet they are all read."""
    from chantal_adapters.apt.release import parse_release
    from chantal_adapters.bootstrap import bootstrap

    release = parse_release(upstream.release_text, source="InRelease")
    assert release.get("No-Support-for-Architecture-all") == "Packages"
    assert "main/binary-all/Packages.xz" in release.files
    svc = bootstrap(str(synced.config))
    repo = svc.config.repositories[0]
    fetcher = RecordingFetcher(svc.fetcher_for(repo))
    index = svc.format_for(repo).read_upstream(
        repo, fetcher, previous_token=None, select=None, verifier=svc.verifier_for(repo))
    assert index is not None
    assert fetcher.urls[0] == f"{mirror.uri}/dists/{SUITE}/InRelease"
    [packages_url] = fetcher.urls[1:]
    assert "/main/binary-amd64/" in packages_url, fetcher.urls
    arch_all = [r for r in index.packages if r.arch == "all"]
    assert len(arch_all) > 10000
    assert len(index.packages) == upstream.packages.count(b"\nPackage: ") + 1


def test_stanza_parser_equals_python_debian_on_the_full_index(upstream: Upstream) -> None:
    from chantal_adapters.apt.packages import compare_with_python_debian

    text = upstream.packages
    assert text.count(b"\nPackage: ") > 30000  # the whole index, not a sample
    assert compare_with_python_debian(lambda: io.BytesIO(text)) == []
