"""RPM capabilities through the CLI beyond the basic mirror cycle of test_rpm_e2e.py:
mutual TLS with an entitlement certificate directory, a forward proxy, upstream
signature policies, signed publishing, ``mode: mirror``, hosted repositories with
uploads, ``repo check-updates``, ``repo import``, and the inspection/maintenance commands.

Everything is real: RPMs built with rpmbuild, repositories made with createrepo_c,
loopback HTTP(S) servers, gpg/gpgv keys, and dnf reading what is published.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from chantal_cli.main import main
from support.cli import (
    Capsys,
    chantal,
    init_and_sync,
    pool_rpm_names,
    published_dir,
    run_json,
    run_ok,
    store_state,
)
from support.cli import write_config as _write_config
from support.httpserver import ServerTLS, serve_directory
from support.rpmfixtures import (
    TOOLS,
    PkgSpec,
    build_repo,
    build_rpms,
    dnf_query,
    missing_tools,
    rpm_standard_repo,  # noqa: F401  (session fixture)
    sha256_of,
)
from support.tls import make_pki
from support.webserver import serve_as_web_user

pytestmark = pytest.mark.integration

if missing_tools(*TOOLS, "dnf"):
    pytest.skip(f"needs {', '.join(missing_tools(*TOOLS, 'dnf'))}", allow_module_level=True)

NEVRA_QF = "%{name}-%{epoch}:%{version}-%{release}.%{arch}"


# --- helpers ----------------------------------------------------------------------------


def write_config(path: Path, base: Path, published: Path, repos: str, *,
                 extra: str = "") -> Path:
    """A configuration with SQLite under ``base``, no download retries, ``extra`` top-level
    YAML and the ``repositories`` items ``repos``."""
    return _write_config(path, base=base, published=published, body=extra,
                         repositories=repos, retry_attempts=0)


def upstream_nevras(upstream: Path, *, pattern: str = "*.rpm") -> list[str]:
    """NEVRAs (epoch always shown) of the binary RPMs in ``upstream/Packages``."""
    files = [str(p) for p in (upstream / "Packages").glob(pattern)
             if not p.name.endswith(".src.rpm")]
    out = subprocess.run(["rpm", "-qp", "--qf", "%{NAME}-%{EPOCHNUM}:%{VERSION}-%{RELEASE}."
                          "%{ARCH}\n", *files], capture_output=True, text=True, check=True)
    return sorted(out.stdout.split())


def pool_rpms(base: Path) -> list[Path]:
    """The RPM files in the pool (stored as ``<sha256>_<file name>``)."""
    return sorted((base / "pool").rglob("*.rpm"))


#: (state directory, published directory, upstream repository copy)
Env = tuple[Path, Path, Path]


@pytest.fixture()
def env(tmp_path: Path, rpm_standard_repo: Path) -> Iterator[Env]:  # noqa: F811
    upstream = tmp_path / "upstream"
    shutil.copytree(rpm_standard_repo, upstream)
    with published_dir() as published:
        yield tmp_path / "state", published, upstream


# --- gpg keys ---------------------------------------------------------------------------


class Key:
    """A gpg key in its own home: fingerprint, armored and binary public key files."""

    def __init__(self, base: Path, name: str) -> None:
        from chantal_adapters.gpg import generate_key

        self.home = base / name / "gnupg"
        self.fingerprint = generate_key(str(self.home), f"Chantal {name}",
                                        f"{name}@example.invalid", algorithm="ed25519")
        self.armored = base / name / "public.asc"
        self.binary = base / name / "public.gpg"
        self.armored.write_bytes(self._gpg("--armor", "--export", self.fingerprint).stdout)
        self.binary.write_bytes(self._gpg("--export", self.fingerprint).stdout)

    def _gpg(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["gpg", "--homedir", str(self.home), "--batch", "--yes", *args],
                              capture_output=True, check=True)

    def sign_repomd(self, repo: Path) -> Path:
        """``gpg --detach-sign --armor`` repodata/repomd.xml into repomd.xml.asc."""
        target = repo / "repodata" / "repomd.xml"
        asc = target.with_name("repomd.xml.asc")
        self._gpg("--local-user", self.fingerprint, "--detach-sign", "--armor",
                  "--output", str(asc), str(target))
        return asc


Keys = tuple[Key, Key]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    if missing_tools("gpg", "gpgv"):
        pytest.skip("needs gpg and gpgv")
    from chantal_adapters.gpg import stop_agent

    base = tmp_path_factory.mktemp("keys")
    made: list[Key] = []
    try:
        made.append(Key(base, "upstream"))
        made.append(Key(base, "other"))
        yield made[0], made[1]
    finally:
        for key in made:
            stop_agent(str(key.home))


# --- 1. mutual TLS ----------------------------------------------------------------------


def test_https_upstream_with_entitlement_client_certificate(env: Env, tmp_path: Path,
                                                            capsys: Capsys) -> None:
    base, published, upstream = env
    pki = make_pki(tmp_path / "pki")
    entitlement = tmp_path / "entitlement"
    entitlement.mkdir()
    shutil.copy(pki.client_cert, entitlement / "4711.pem")
    shutil.copy(pki.client_key, entitlement / "4711-key.pem")
    (entitlement / "unrelated.txt").write_text("not a certificate")
    empty = tmp_path / "no-entitlement"
    empty.mkdir()
    tls = ServerTLS(pki.server_cert, pki.server_key, client_ca=pki.ca_cert)
    with serve_directory(upstream, tls=tls) as url:
        assert url.startswith("https://127.0.0.1:")
        repo = """\
            - id: cdn
              type: rpm
              feed: {url}
              ssl:
                ca_bundle: {ca}
              auth:
                type: client_cert
                cert_dir: {certs}
              filters:
                patterns:
                  include: ["^beta$"]
            """
        cfg = write_config(tmp_path / "config.yaml", base, published,
                           repo.format(url=url, ca=pki.ca_cert, certs=entitlement))
        init_and_sync(cfg, "--repo-id", "cdn")
        assert any(r.endswith(".rpm") for r in url.requests)
        assert pool_rpm_names(base) == ["beta-1.0-1.noarch.rpm"]

        # the same server without a client certificate: the handshake is refused
        nocert = write_config(tmp_path / "nocert.yaml", tmp_path / "state2", published,
                              repo.format(url=url, ca=pki.ca_cert, certs=empty))
        assert chantal(nocert, "init") == 0
        _, err = run_ok(capsys, nocert, "-q", "repo", "sync", "--repo-id", "cdn", code=1)
        assert url.url("repodata/repomd.xml") in err, err
        assert not pool_rpms(tmp_path / "state2")

        # the right certificate but an unrelated CA bundle: the server is not trusted
        wrong_ca = write_config(tmp_path / "wrongca.yaml", tmp_path / "state2", published,
                                repo.format(url=url, ca=pki.other_ca_cert, certs=entitlement))
        _, err = run_ok(capsys, wrong_ca, "-q", "repo", "sync", "--repo-id", "cdn", code=1)
        assert url.url("repodata/repomd.xml") in err and "certificate verify failed" in err, err
        assert not pool_rpms(tmp_path / "state2")


# --- 2. proxy ---------------------------------------------------------------------------


def test_sync_goes_through_the_configured_proxy(env: Env, tmp_path: Path) -> None:
    import base64

    base, published, upstream = env
    # The "origin" serves an empty directory: only a request through the proxy (which
    # serves the repository for any absolute-form URL) can find anything.
    origin_root = tmp_path / "origin"
    origin_root.mkdir()
    with serve_directory(origin_root) as origin, serve_directory(upstream) as proxy, \
            serve_directory(upstream) as direct:
        cfg = write_config(tmp_path / "config.yaml", base, published, f"""\
            - id: proxied
              type: rpm
              feed: {origin}
              filters:
                patterns:
                  include: ["^(alpha|beta)$"]
            - id: direct
              type: rpm
              feed: {direct}
              proxy:
                http_proxy: null
              filters:
                patterns:
                  include: ["^gamma$"]
            """, extra=f"""\
            proxy:
              http_proxy: {proxy}
              username: bob
              password: "p@ss word"
            """)
        init_and_sync(cfg, "--all")
        assert origin.requests == []
        assert origin.url("repodata/repomd.xml") in proxy.proxied
        rpms = [u for u in proxy.proxied if u.endswith(".rpm")]
        assert len(rpms) == 3 and all(u.startswith(str(origin)) for u in rpms), rpms
        credentials = "Basic " + base64.b64encode(b"bob:p@ss word").decode()
        assert {h["Proxy-Authorization"] for h in proxy.request_headers} == {credentials}
        # the repository that turns the proxy off went straight to its origin
        assert not [u for u in proxy.proxied if u.startswith(str(direct))]
        assert "repodata/repomd.xml" in direct.requests and direct.proxied == []
    assert pool_rpm_names(base) == ["alpha-1.0-1.x86_64.rpm", "alpha-2.0-1.x86_64.rpm",
                                "beta-1.0-1.noarch.rpm", "gamma-1.0-1.noarch.rpm",
                                "gamma-1.0~rc1-1.noarch.rpm"]


# --- 3. upstream signature --------------------------------------------------------------


def _verify_repo(url: str, key: Path, extra: str = "") -> str:
    return f"""\
        - id: signed
          type: rpm
          feed: {url}
          filters:
            patterns:
              include: ["^gamma$"]
          verify:
            enabled: true
            gpgcheck: false  # the fixture RPMs are unsigned; repomd.xml.asc is checked
            key_files: [{key}]
        """ + textwrap.indent(textwrap.dedent(extra), "    ")


def test_upstream_signature_is_verified(env: Env, tmp_path: Path, keys: Keys,
                                        capsys: Capsys) -> None:
    base, published, upstream = env
    key, other = keys
    asc = key.sign_repomd(upstream)
    good_signature = asc.read_bytes()
    with serve_directory(upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published,
                           _verify_repo(url, key.armored))
        init_and_sync(cfg, "--repo-id", "signed")
        assert "repodata/repomd.xml.asc" in url.requests
        before = store_state(base)

        # upstream changes; the new repomd.xml carries the old (now wrong) signature
        build_repo(upstream, [PkgSpec(name="gamma", version="3.0", files={"/g3": "3"})])
        asc.write_bytes(good_signature)
        _, err = run_ok(capsys, cfg, "-q", "repo", "sync", "--repo-id", "signed", code=1)
        assert url.url("repodata/repomd.xml.asc") in err and "signature" in err.lower(), err
        assert store_state(base) == before

        # a tampered signature file (one byte of the base64 body changed)
        key.sign_repomd(upstream)
        text = asc.read_text().splitlines()
        body = next(i for i, line in enumerate(text) if line and ":" not in line
                    and not line.startswith("-----"))
        text[body] = ("B" if text[body][0] != "B" else "C") + text[body][1:]
        asc.write_text("\n".join(text) + "\n")
        _, err = run_ok(capsys, cfg, "-q", "repo", "sync", "--repo-id", "signed", code=1)
        assert url.url("repodata/repomd.xml.asc") in err and "error[bad-signature]" in err, err
        assert store_state(base) == before

        # a key we do not trust signed it
        other.sign_repomd(upstream)
        _, err = run_ok(capsys, cfg, "-q", "repo", "sync", "--repo-id", "signed", code=1)
        assert url.url("repodata/repomd.xml.asc") in err and "no public key" in err, err
        assert store_state(base) == before

        # the right signature again: the new gamma arrives
        key.sign_repomd(upstream)
        assert chantal(cfg, "repo", "sync", "--repo-id", "signed") == 0
    assert "gamma-3.0-1.noarch.rpm" in pool_rpm_names(base)


def test_missing_signature_policy_and_fingerprint_pinning(env: Env, tmp_path: Path, keys: Keys,
                                                          capsys: Capsys) -> None:
    base, published, upstream = env
    key, other = keys
    with serve_directory(upstream) as url:
        # unsigned upstream: fail by default...
        strict = write_config(tmp_path / "strict.yaml", base, published,
                              _verify_repo(url, key.armored))
        assert chantal(strict, "init") == 0
        _, err = run_ok(capsys, strict, "-q", "repo", "sync", "--repo-id", "signed", code=1)
        assert url.url("repodata/repomd.xml.asc") in err and "not signed" in err, err
        assert not pool_rpms(base)
        # ...accepted with a warning under on_missing_signature: warn
        lenient = write_config(tmp_path / "lenient.yaml", base, published, _verify_repo(
            url, key.armored, "on_missing_signature: warn\n"))
        capsys.readouterr()
        assert main(["--config", str(lenient), "repo", "sync", "--repo-id", "signed"]) == 0
        err = capsys.readouterr().err
        assert "not signed" in err and "warn" in err.lower(), err
        assert pool_rpms(base)

        # signed by a trusted key, but the pinned fingerprint is another key's
        key.sign_repomd(upstream)
        pinned = write_config(tmp_path / "pinned.yaml", tmp_path / "state2", published,
                              _verify_repo(url, key.binary, f"trusted_fingerprints: "
                                           f"[{other.fingerprint}]\n"))
        assert chantal(pinned, "init") == 0
        _, err = run_ok(capsys, pinned, "-q", "repo", "sync", "--repo-id", "signed", code=1)
        assert url.url("repodata/repomd.xml.asc") in err and "not pinned" in err, err
        assert not pool_rpms(tmp_path / "state2")
        # pinned to the signer's own fingerprint: accepted
        right = write_config(tmp_path / "right.yaml", tmp_path / "state2", published,
                             _verify_repo(url, key.binary, f"trusted_fingerprints: "
                                          f"[{key.fingerprint}]\n"))
        assert chantal(right, "repo", "sync", "--repo-id", "signed") == 0
        assert pool_rpms(tmp_path / "state2")


# --- 4. signed publishing ---------------------------------------------------------------


@pytest.fixture()
def stop_dnf_gpg_agents(tmp_path: Path) -> Iterator[None]:
    """After the test, stop the gpg-agents dnf started for ``repo_gpgcheck``.

    dnf imports the repository keys into a keyring of its own under its cache directory
    (``<cachedir>/<repo>-<hash>/pubring``) and gpg leaves an agent running for that home;
    each such home under ``tmp_path`` (a directory holding ``pubring.kbx`` or an
    ``S.gpg-agent`` socket) gets ``gpgconf --kill all`` with ``GNUPGHOME`` set to it.
    """
    yield
    gpgconf = shutil.which("gpgconf")
    if gpgconf is None:
        return
    homes = {p.parent for pattern in ("pubring.kbx", "S.gpg-agent")
             for p in tmp_path.rglob(pattern)}
    homes |= {p for p in tmp_path.rglob("pubring") if p.is_dir()}
    for home in sorted(homes):
        subprocess.run([gpgconf, "--kill", "all"], env=dict(os.environ, GNUPGHOME=str(home)),
                       capture_output=True, timeout=30, check=False)


@pytest.mark.usefixtures("stop_dnf_gpg_agents")
def test_published_repomd_is_signed_and_dnf_checks_it(env: Env, tmp_path: Path, keys: Keys) -> None:
    base, published, upstream = env
    key, _ = keys
    with serve_directory(upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published, f"""\
            - id: fixture
              type: rpm
              feed: {url}
              filters:
                rpm:
                  exclude_source_rpms: true
            """, extra=f"""\
            gpg:
              gnupg_home: {key.home}
              key_id: {key.fingerprint}
            """)
        init_and_sync(cfg, "--repo-id", "fixture")
    assert chantal(cfg, "publish", "repo", "--repo-id", "fixture") == 0
    tree = published / "fixture" / "latest"
    repomd = tree / "repodata" / "repomd.xml"
    asc = tree / "repodata" / "repomd.xml.asc"
    assert asc.read_bytes().startswith(b"-----BEGIN PGP SIGNATURE-----")
    gpgv = subprocess.run(["gpgv", "--keyring", str(key.binary), str(asc), str(repomd)],
                          capture_output=True, text=True, check=False)
    assert gpgv.returncode == 0, gpgv.stderr
    # the signature covers the file: a changed repomd.xml fails gpgv
    changed = tmp_path / "repomd.xml"
    changed.write_bytes(repomd.read_bytes().replace(b"<revision>", b"<revision>1"))
    bad = subprocess.run(["gpgv", "--keyring", str(key.binary), str(asc), str(changed)],
                         capture_output=True, text=True, check=False)
    assert bad.returncode != 0

    with serve_as_web_user(published) as web:
        repo_url = web + "fixture/latest/"
        # skip_if_unavailable=0: dnf otherwise only warns about a repository it cannot load
        gpgcheck = ["--setopt=fixture.repo_gpgcheck=1", "--setopt=fixture.gpgcheck=0",
                    "--setopt=fixture.skip_if_unavailable=0",
                    f"--setopt=fixture.gpgkey=file://{key.armored}"]
        got = dnf_query(repo_url, tmp_path / "dnf", *gpgcheck, "repoquery", "--qf", NEVRA_QF)
        assert sorted(got.split()) == upstream_nevras(upstream)
        # the same tree with a signature by another key is refused by dnf
        asc.write_bytes(_sign_with_other(keys[1], repomd))
        with pytest.raises(RuntimeError, match=r"repomd\.xml GPG signature verification error"):
            dnf_query(repo_url, tmp_path / "dnf-other", *gpgcheck, "repoquery")


def _sign_with_other(key: Key, repomd: Path) -> bytes:
    return subprocess.run(["gpg", "--homedir", str(key.home), "--batch", "--yes",
                           "--local-user", key.fingerprint, "--detach-sign", "--armor",
                           "--output", "-", str(repomd)], capture_output=True,
                          check=True).stdout


# --- 5. mirror mode ---------------------------------------------------------------------


def _assert_same_tree(tree: Path, upstream: Path) -> None:
    """``tree`` holds upstream's repomd.xml (+ .asc), every file it lists and every RPM at
    upstream's locations, byte for byte."""
    for name in ("repomd.xml", "repomd.xml.asc"):
        assert (tree / "repodata" / name).read_bytes() == (
            upstream / "repodata" / name).read_bytes(), name
    for listed in re.findall(r'<location href="([^"]+)"',
                             (upstream / "repodata" / "repomd.xml").read_text()):
        assert sha256_of(tree / listed) == sha256_of(upstream / listed), listed
    upstream_rpms = sorted(p.relative_to(upstream) for p in upstream.rglob("*.rpm"))
    assert sorted(p.relative_to(tree) for p in tree.rglob("*.rpm")) == upstream_rpms
    for rel in upstream_rpms:
        assert sha256_of(tree / rel) == sha256_of(upstream / rel), rel


def test_mirror_mode_publishes_upstream_byte_for_byte(env: Env, tmp_path: Path, keys: Keys) -> None:
    base, published, upstream = env
    key, _ = keys
    key.sign_repomd(upstream)
    with serve_directory(upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published, f"""\
            - id: fixture
              type: rpm
              mode: mirror
              feed: {url}
            """)
        init_and_sync(cfg, "--repo-id", "fixture")
        assert chantal(cfg, "publish", "repo", "--repo-id", "fixture") == 0
        tree = published / "fixture" / "latest"
        _assert_same_tree(tree, upstream)
        gpgv = subprocess.run(["gpgv", "--keyring", str(key.binary),
                               str(tree / "repodata" / "repomd.xml.asc"),
                               str(tree / "repodata" / "repomd.xml")],
                              capture_output=True, text=True, check=False)
        assert gpgv.returncode == 0, gpgv.stderr  # upstream's signature is still valid
        with serve_as_web_user(published) as web:
            got = dnf_query(web + "fixture/latest/", tmp_path / "dnf", "repoquery", "--qf",
                            NEVRA_QF)
        theirs = dnf_query(url, tmp_path / "dnf-upstream", "repoquery", "--qf", NEVRA_QF)
        assert sorted(got.split()) == sorted(theirs.split())
        assert set(upstream_nevras(upstream)) < set(got.split())  # binary and source

        # upstream moves on: the next sync and publish follow it exactly
        build_repo(upstream, [PkgSpec(name="gamma", version="3.0", files={"/g3": "3"})])
        key.sign_repomd(upstream)
        url.clear_log()
        assert chantal(cfg, "repo", "sync", "--repo-id", "fixture") == 0
        fetched_rpms = [r for r in url.requests if r.endswith(".rpm")]
        assert fetched_rpms == ["Packages/gamma-3.0-1.noarch.rpm"]
    assert chantal(cfg, "publish", "repo", "--repo-id", "fixture") == 0
    _assert_same_tree(tree, upstream)


# --- 6. hosted repositories -------------------------------------------------------------


def test_hosted_repository_takes_uploads(env: Env, tmp_path: Path, capsys: Capsys) -> None:
    base, published, upstream = env
    built = build_rpms(tmp_path / "uploads", [
        PkgSpec(name="inhouse", version="1.0", files={"/opt/inhouse/a": "a"}),
        PkgSpec(name="inhouse-tools", version="0.3", release="2", arch="x86_64",
                requires=("inhouse >= 1.0",), files={"/opt/inhouse/t": "t"}),
    ])
    later = build_rpms(tmp_path / "uploads2", [
        PkgSpec(name="inhouse", version="1.1", files={"/opt/inhouse/a": "a2"})])
    # same name, version, release and arch as built[0], other content
    impostor = build_rpms(tmp_path / "uploads3", [
        PkgSpec(name="inhouse", version="1.0", files={"/opt/inhouse/a": "evil"})])[0]
    junk = tmp_path / "junk-1.0-1.noarch.rpm"
    junk.write_bytes(b"this is not an rpm")
    with serve_directory(upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published, f"""\
            - id: internal
              type: rpm
              mode: hosted
            - id: mirrored
              type: rpm
              feed: {url}
            """)
        capsys.readouterr()
        assert main(["--config", str(cfg), "init"]) == 0
        assert "not acted on" not in capsys.readouterr().err  # hosted works now
        assert chantal(cfg, "package", "upload", "--repo-id", "internal",
                       *map(str, built)) == 0
        out = capsys.readouterr().out
        assert "inhouse-1.0-1.noarch" in out and "inhouse-tools-0.3-2.x86_64" in out
        assert chantal(cfg, "package", "upload", "--repo-id", "internal", str(later[0])) == 0
        # the same file again: nothing changes
        capsys.readouterr()
        assert chantal(cfg, "package", "upload", "--repo-id", "internal", str(built[0])) == 0
        captured = capsys.readouterr()
        assert "already present inhouse-1.0-1.noarch" in captured.out
        assert "content unchanged, version 2" in captured.err
        # a conflicting file or a broken one: refused, pool and catalog unchanged
        before = store_state(base)
        for bad, message in ((impostor, "already in the repository"), (junk, str(junk))):
            capsys.readouterr()
            assert chantal(cfg, "package", "upload", "--repo-id", "internal", str(later[0]),
                           str(bad)) == 1
            err = capsys.readouterr().err
            assert message in err, err
            assert store_state(base) == before
        # a hosted repository is not synced
        assert chantal(cfg, "repo", "sync", "--all") == 0
        # uploads go to hosted repositories only
        capsys.readouterr()
        assert chantal(cfg, "package", "upload", "--repo-id", "mirrored", str(built[0])) == 2
        assert "hosted" in capsys.readouterr().err
    versions = run_json(capsys, cfg, "repo", "show", "--repo-id", "internal")
    assert isinstance(versions, dict) and versions["version"] == 2 and versions["packages"] == 3
    assert chantal(cfg, "publish", "repo", "--repo-id", "internal") == 0
    with serve_as_web_user(published) as web:
        got = dnf_query(web + "internal/latest/", tmp_path / "dnf", "repoquery", "--qf",
                        NEVRA_QF)
        assert sorted(got.split()) == ["inhouse-0:1.0-1.noarch", "inhouse-0:1.1-1.noarch",
                                       "inhouse-tools-0:0.3-2.x86_64"]
        requires = dnf_query(web + "internal/latest/", tmp_path / "dnf2", "repoquery",
                             "--requires", "inhouse-tools")
        assert "inhouse >= 1.0" in requires
        dl = tmp_path / "dl"
        dnf_query(web + "internal/latest/", tmp_path / "dnf3", "download", f"--destdir={dl}",
                  "inhouse-tools")
        assert sha256_of(next(dl.glob("*.rpm"))) == sha256_of(built[1])


# --- 7. check-updates -------------------------------------------------------------------


def test_check_updates_reports_without_downloading(env: Env, tmp_path: Path,
                                                   capsys: Capsys) -> None:
    base, published, upstream = env
    with serve_directory(upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published, f"""\
            - id: fixture
              type: rpm
              feed: {url}
              filters:
                patterns:
                  exclude: ["^zeta"]
                rpm:
                  exclude_source_rpms: true
            """)
        init_and_sync(cfg, "--repo-id", "fixture")
        before = store_state(base)
        build_repo(upstream, [
            PkgSpec(name="gamma", version="3.0", files={"/g3": "3"}),
            PkgSpec(name="beta", version="1.5", epoch=2, files={"/b": "b15"}),
            PkgSpec(name="omega", version="0.1", arch="x86_64", files={"/o": "o"}),
            PkgSpec(name="zeta", version="1.0", files={"/z": "z"}),  # filtered out
        ])
        url.clear_log()
        capsys.readouterr()
        assert chantal(cfg, "repo", "check-updates", "--repo-id", "fixture") == 0
        table = capsys.readouterr().out
        assert "fixture: 2 updates, 1 new packages" in table, table
        gamma = next(line for line in table.splitlines() if line.startswith("gamma"))
        assert gamma.split()[:4] == ["gamma", "noarch", "1.0-1", "3.0-1"], gamma
        beta = next(line for line in table.splitlines() if line.startswith("beta"))
        assert beta.split()[:4] == ["beta", "noarch", "2:1.0-1", "2:1.5-1"], beta
        assert "omega" in table and "zeta" not in table

        rows = run_json(capsys, cfg, "repo", "check-updates", "--repo-id", "fixture")
        assert isinstance(rows, list)
        by_name = {r["name"]: r for r in rows}
        assert set(by_name) == {"gamma", "beta", "omega"}
        assert (by_name["gamma"]["local"], by_name["gamma"]["remote"]) == ("1.0-1", "3.0-1")
        assert by_name["omega"]["new"] is True and by_name["omega"]["local"] is None
        assert by_name["gamma"]["new"] is False and by_name["gamma"]["size"] > 0
        assert url.requests and not [r for r in url.requests if r.endswith(".rpm")], \
            url.requests
    assert store_state(base) == before


# --- 8. import from yum .repo files -----------------------------------------------------


def test_import_yum_repo_file_gives_loadable_configuration(tmp_path: Path, capsys: Capsys) -> None:
    from chantal_adapters.config_yaml import load_config

    repo_file = tmp_path / "site.repo"
    repo_file.write_text(textwrap.dedent("""\
        [site-base]
        name=Site Base $releasever
        baseurl=http://127.0.0.1:8080/base/${releasever}/$basearch/ http://127.0.0.1:8081/base/
        gpgcheck=1
        gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-site
        sslcacert=/etc/pki/site/ca.pem
        sslclientcert=/etc/pki/entitlement/1234.pem
        sslclientkey=/etc/pki/entitlement/1234-key.pem
        proxy=http://127.0.0.1:3128
        proxy_username=bob
        proxy_password=hunter2

        [site-updates]
        name=Site Updates
        metalink=http://127.0.0.1:8080/metalink?repo=updates&arch=$basearch
        enabled=0
        repo_gpgcheck=1
        gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-site
               file:///etc/pki/rpm-gpg/RPM-GPG-KEY-site-2
        """))
    out = tmp_path / "imported.yaml"
    capsys.readouterr()
    assert main(["repo", "import", "--from-yum-repos", str(repo_file), "--prefix", "imp-",
                 "--output", str(out)]) == 0
    err = capsys.readouterr().err
    assert "2 repositories" in err
    # dnf variables cannot be resolved on a mirror host: the operator is told
    assert "imp-site-base: feed http://127.0.0.1:8080/base/${releasever}/$basearch/ uses " \
        "$basearch, $releasever" in err, err
    config_file = tmp_path / "config.yaml"
    config_file.write_text(f"storage:\n  base_path: {tmp_path / 'state'}\n" + out.read_text())
    loaded = load_config(config_file, env={})
    base, updates = loaded.config.repositories
    assert base.id == "imp-site-base" and base.type == "rpm" and base.enabled
    assert base.feed == "http://127.0.0.1:8080/base/${releasever}/$basearch/"
    assert base.name == "Site Base $releasever (set $basearch, $releasever in feed)"
    assert base.verify is not None and base.verify.enabled and base.verify.gpgcheck
    assert base.verify.key_files == ("/etc/pki/rpm-gpg/RPM-GPG-KEY-site",)
    assert base.ssl is not None
    assert (base.ssl.ca_bundle, base.ssl.client_cert, base.ssl.client_key) == (
        "/etc/pki/site/ca.pem", "/etc/pki/entitlement/1234.pem",
        "/etc/pki/entitlement/1234-key.pem")
    assert base.proxy is not None
    assert (base.proxy.http_proxy, base.proxy.https_proxy) == ("http://127.0.0.1:3128",) * 2
    assert (base.proxy.username, base.proxy.password) == ("bob", "hunter2")
    assert updates.id == "imp-site-updates" and not updates.enabled
    assert updates.name == "Site Updates (set $basearch in feed)"
    source = updates.feed_source()
    assert source is not None and source.kind == "metalink"
    assert source.url == "http://127.0.0.1:8080/metalink?repo=updates&arch=$basearch"
    assert updates.verify is not None and updates.verify.repo_gpgcheck
    assert updates.verify.key_files == ("/etc/pki/rpm-gpg/RPM-GPG-KEY-site",
                                        "/etc/pki/rpm-gpg/RPM-GPG-KEY-site-2")
    # and the CLI accepts the file as a whole
    assert main(["--config", str(config_file), "config", "check"]) == 0


# --- 9. inspection and maintenance ------------------------------------------------------


def test_inspection_and_maintenance_commands(env: Env, tmp_path: Path, capsys: Capsys) -> None:
    base, published, upstream = env
    with serve_directory(upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published, f"""\
            - id: fixture
              type: rpm
              feed: {url}
              filters:
                rpm:
                  exclude_source_rpms: true
            - id: alphas
              type: rpm
              feed: {url}
              filters:
                patterns:
                  include: ["^alpha$"]
            """)
        init_and_sync(cfg, "--all")
        # the alphas repository narrows to alpha 2.0 only: alpha 1.0 stays in the pool as
        # part of the fixture repository; then fixture drops beta
        cfg2 = write_config(tmp_path / "config2.yaml", base, published, f"""\
            - id: fixture
              type: rpm
              feed: {url}
              filters:
                patterns:
                  exclude: ["^beta$"]
                rpm:
                  exclude_source_rpms: true
            - id: alphas
              type: rpm
              feed: {url}
              filters:
                patterns:
                  include: ["^alpha$"]
            """)
        assert chantal(cfg2, "repo", "sync", "--repo-id", "fixture") == 0

    # repo list / show / history
    capsys.readouterr()
    assert chantal(cfg2, "repo", "list") == 0
    table = capsys.readouterr().out
    assert re.search(r"^fixture\s+rpm\s+filtered\s+True\s+2\s+http://127", table, re.M), table
    assert re.search(r"^alphas\s+rpm\s+filtered\s+True\s+1\s", table, re.M), table
    listed = run_json(capsys, cfg2, "repo", "list")
    assert [(r["id"], r["version"]) for r in listed] == [("fixture", 2), ("alphas", 1)]
    shown = run_json(capsys, cfg2, "repo", "show", "--repo-id", "fixture")
    n_upstream = len(upstream_nevras(upstream))
    assert shown["version"] == 2 and shown["versions"] == 2
    assert shown["packages"] == n_upstream - 1
    assert chantal(cfg2, "repo", "show", "--repo-id", "fixture") == 0
    assert "latest_path:" in capsys.readouterr().out
    capsys.readouterr()
    assert chantal(cfg2, "repo", "show", "--repo-id", "fixtur") == 1
    assert "fixture" in capsys.readouterr().err  # "did you mean"
    history = run_json(capsys, cfg2, "repo", "history", "--repo-id", "fixture")
    assert [h["status"] for h in history] == ["success", "success"]
    assert history[0]["version"] == 2 and history[0]["removed"] == 1
    assert history[1]["added"] == n_upstream and history[1]["downloaded"] > 0
    assert chantal(cfg2, "repo", "history", "--repo-id", "fixture") == 0
    assert capsys.readouterr().out.count("success") == 2

    # package list / search / show
    pkgs = run_json(capsys, cfg2, "package", "list", "--repo-id", "fixture")
    assert "beta" not in {p["name"] for p in pkgs} and len(pkgs) == n_upstream - 1
    found = run_json(capsys, cfg2, "package", "search", "alph")
    assert sorted({p["nevra"] for p in found}) == ["alpha-1.0-1.x86_64", "alpha-2.0-1.x86_64"]
    capsys.readouterr()
    assert chantal(cfg2, "package", "list", "--repo-id", "alphas", "--arch", "x86_64") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["NAME", "EVR", "ARCH"]
    assert [line.split()[:2] for line in lines[1:]] == [["alpha", "1.0-1"], ["alpha", "2.0-1"]]
    alpha2 = next(p for p in found if p["nevra"] == "alpha-2.0-1.x86_64")
    assert alpha2["sha256"] == sha256_of(upstream / "Packages" / "alpha-2.0-1.x86_64.rpm")
    for term in (alpha2["sha256"], alpha2["sha256"][:12], "alpha-2.0-1.x86_64"):
        detail = run_json(capsys, cfg2, "package", "show", term)
        assert detail["nevra"] == "alpha-2.0-1.x86_64" and detail["summary"] == \
            "Alpha tool 2.0", term
    capsys.readouterr()
    assert chantal(cfg2, "package", "show", "nosuch-1-1.noarch") == 1

    # pool stats and the global stats
    stats = run_json(capsys, cfg2, "pool", "stats")
    assert stats["files"] >= n_upstream and stats["deduplication_ratio"] > 1
    total = run_json(capsys, cfg2, "stats")
    assert total["pool_files"] == stats["files"] and total["saved_bytes"] > 0
    assert chantal(cfg2, "stats") == 0 and "pool_bytes" in capsys.readouterr().out

    # db verify: consistent
    capsys.readouterr()
    assert chantal(cfg2, "db", "verify") == 0
    assert capsys.readouterr().out.startswith("ok:")

    # cleanup: beta left the fixture repository but its version 1 still references it
    # (versions are kept), so only files nothing references go: orphans in the pool
    from chantal_adapters.fs_pool import FilesystemPool

    def pool_files() -> set[Path]:
        return {p for p in (base / "pool").rglob("*") if p.is_file()}

    pool = FilesystemPool(str(base / "pool"))
    referenced = pool_files()
    orphan = pool.put([b"orphan content\n"], "orphan.txt")
    with_orphan = pool_files()
    assert len(with_orphan - referenced) == 1
    capsys.readouterr()
    assert chantal(cfg2, "pool", "cleanup", "--dry-run") == 0
    assert "would remove 1 unreferenced files" in capsys.readouterr().out
    assert pool_files() == with_orphan
    assert chantal(cfg2, "pool", "cleanup") == 0
    assert "removed 1 unreferenced files" in capsys.readouterr().out
    assert pool_files() == referenced and not pool.has(orphan.sha256)
    assert "beta-1.0-1.noarch.rpm" in pool_rpm_names(base)

    # db cleanup: drops package rows nothing uses (none here), then frees pool files
    orphan = pool.put([b"another orphan\n"], "orphan2.txt")
    capsys.readouterr()
    assert chantal(cfg2, "db", "cleanup", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "would remove 1 unreferenced files" in out
    assert pool.has(orphan.sha256)
    assert chantal(cfg2, "db", "cleanup") == 0
    out = capsys.readouterr().out
    assert "dropped 0 unreferenced package rows" in out and "removed 1 unreferenced" in out
    assert pool_files() == referenced
    assert chantal(cfg2, "db", "verify") == 0
    assert chantal(cfg2, "pool", "verify") == 0
    # db verify finds a referenced file missing from the pool (exit 3)
    gone = next(p for p in pool_rpms(base) if p.name.endswith("_delta-1.0^git20240101-1"
                                                               ".noarch.rpm"))
    kept = gone.read_bytes()
    gone.unlink()
    capsys.readouterr()
    assert chantal(cfg2, "db", "verify") == 3
    assert "missing from pool" in capsys.readouterr().out
    gone.write_bytes(kept)

    # pool verify finds a corrupted file (exit 3, naming it)
    victim = next(p for p in pool_rpms(base) if p.name.endswith("_gamma-1.0-1.noarch.rpm"))
    victim.chmod(0o644)
    victim.write_bytes(victim.read_bytes()[:-3] + b"BAD")
    capsys.readouterr()
    assert chantal(cfg2, "pool", "verify") == 3
    out = capsys.readouterr().out
    assert "gamma-1.0-1.noarch.rpm" in out and "does not match" in out
    out, _ = run_ok(capsys, cfg2, "pool", "verify", "--format", "json", code=3)
    rows = json.loads(out)
    assert [r["filename"] for r in rows] == ["gamma-1.0-1.noarch.rpm"]

