"""APT repositories in ``mode: mirror`` and ``mode: hosted`` through the real ``chantal`` CLI.

A signed reprepro archive (with Contents indexes) is served on 127.0.0.1. ``mode: mirror``
republishes upstream's Release/InRelease and indexes byte for byte, so a real ``apt-get``
trusting the UPSTREAM's key (``Signed-By``) reads the published tree, served by a web server
running as another user. ``mode: hosted`` takes ``.deb`` files built by dpkg-deb through
``chantal package upload``; the tree is signed with a key from ``chantal key generate`` and
``apt-get``/``apt-cache`` (private state, empty dpkg status) read it with the key
``chantal key export`` wrote.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli import AptClient, apt_problems, chantal, published_dir, run_cli
from support.debfixtures import (
    DebSpec,
    GpgKey,
    build_archive,
    build_deb,
    dpkg_fields,
    missing_tools,
)
from support.httpserver import serve_directory
from support.webserver import serve_as_web_user

_MISSING = missing_tools("dpkg-deb", "reprepro", "gpg", "gpgv", "apt-get", "apt-cache")
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(bool(_MISSING), reason=f"needs {', '.join(_MISSING)}")]

from test_apt_e2e import World, deb_config, generate_key, sha256  # noqa: E402

UPSTREAM = [
    DebSpec("hello", "1.1-1", files={"usr/bin/hello": b"#!/bin/sh\necho hello\n"},
            fields={"Depends": "libfoo1 (>= 1.0)", "Section": "utils"}),
    DebSpec("libfoo1", "1.0-3", fields={"Source": "libfoo", "Section": "libs",
                                         "Multi-Arch": "same"}),
    DebSpec("tools-common", "2.0", arch="all"),
]
UPLOADS = [
    DebSpec("inhouse", "1.0-1", files={"opt/inhouse/bin/run": b"#!/bin/sh\n"},
            fields={"Depends": "inhouse-data (= 1.0-1)", "Section": "admin",
                    "Homepage": "https://example.org/inhouse", "X-Team": "platform"}),
    DebSpec("inhouse-data", "1.0-1", arch="all", fields={"Section": "misc"}),
]


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[World]:
    key = GpgKey.generate(tmp_path / "upstream-gnupg")
    debs = [build_deb(spec, tmp_path / "debs") for spec in UPSTREAM]
    archive = build_archive(tmp_path / "archive", debs, sign_key=key, contents=True)
    with published_dir() as published:
        try:
            yield World(tmp=tmp_path, key=key, other=key, archive=archive,
                        published=published)
        finally:
            key.stop_agent()
            from chantal_adapters.gpg import stop_agent

            stop_agent(str(tmp_path / "publish-gnupg"))


def test_mirror_mode_republishes_upstream_and_apt_trusts_upstreams_key(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    with serve_directory(world.archive) as url:
        cfg = deb_config(world, url, repos=textwrap.dedent(f"""\
            - id: deb
              type: apt
              mode: mirror
              feed: {url}
              apt:
                distribution: stable
                components: [main]
                architectures: [amd64]
                include_contents: true
              verify:
                enabled: true
                key_files: [{world.key.public_gpg}]
            """))
        code, _, err = run_cli(capsys, cfg, "init")
        assert code == 0, err
        assert "include_contents" not in err  # acted on: no "not acted on" warning
        code, _, err = run_cli(capsys, cfg, "repo", "sync", "--repo-id", "deb")
        assert code == 0, err
    code, _, err = run_cli(capsys, cfg, "publish", "repo", "--repo-id", "deb")
    assert code == 0, err
    tree = world.published / "deb" / "latest"
    upstream_dists = sorted(p.relative_to(world.archive) for p in
                            (world.archive / "dists").rglob("*")
                            if p.is_file() and "source" not in p.parts)
    assert {"InRelease", "Release", "Release.gpg"} <= {p.name for p in upstream_dists}
    assert any(p.name == "Contents-amd64.gz" for p in upstream_dists)
    for rel in upstream_dists:
        assert (tree / rel).read_bytes() == (world.archive / rel).read_bytes(), rel
    for deb in world.archive.rglob("*.deb"):
        rel = deb.relative_to(world.archive)
        assert sha256(tree / rel) == sha256(deb), rel

    with serve_as_web_user(world.published) as web:
        client = AptClient(world.tmp / "client", web + "deb/latest/", world.key.public_gpg,
                           components="main")
        update = client.update()
        assert apt_problems(update) == [], update.stdout + update.stderr
        download = client.run("apt-get", "download", "hello", cwd=client.root / "download")
        assert download.returncode == 0, download.stdout + download.stderr
        got = client.root / "download" / "hello_1.1-1_amd64.deb"
        assert sha256(got) == sha256(next(world.archive.rglob("hello_1.1-1_amd64.deb")))
        install = client.run("apt-get", "install", "--simulate", "-y", "hello")
        assert install.returncode == 0, install.stdout + install.stderr
        assert "Inst hello (1.1-1" in install.stdout and "Inst libfoo1 (1.0-3" in install.stdout


def test_hosted_repository_takes_deb_uploads_and_apt_installs_from_it(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    debs = [build_deb(spec, world.tmp / "uploads") for spec in UPLOADS]
    cfg = deb_config(world, "unused", repos=textwrap.dedent("""\
        - id: internal
          type: apt
          mode: hosted
          apt:
            distribution: internal
            components: [main]
            architectures: [amd64]
        """))
    code, _, err = run_cli(capsys, cfg, "init")
    assert code == 0, err
    fingerprint = generate_key(cfg, capsys)
    code, out, err = run_cli(capsys, cfg, "package", "upload", "--repo-id", "internal",
                             *map(str, debs))
    assert code == 0, err
    for deb in debs:
        assert sha256(deb)[:16] in out, out
    # the same file again changes nothing
    code, out, err = run_cli(capsys, cfg, "package", "upload", "--repo-id", "internal",
                             str(debs[0]))
    assert code == 0 and "already present" in out and "content unchanged" in err, (out, err)
    code, _, err = run_cli(capsys, cfg, "publish", "repo", "--repo-id", "internal")
    assert code == 0, err
    key_file = world.published / "ours.asc"
    assert chantal(cfg, "key", "export", "-o", str(key_file)) == 0
    tree = world.published / "internal" / "latest"
    # the configured distribution names the suite
    assert (tree / "dists/internal/InRelease").is_file()
    assert not (tree / "dists/stable").exists()
    assert fingerprint

    with serve_as_web_user(world.published) as web:
        client = AptClient(world.tmp / "hosted-client", web + "internal/latest/", key_file,
                           suite="internal", components="main")
        update = client.update()
        assert apt_problems(update) == [], update.stdout + update.stderr
        for deb in debs:
            control = dpkg_fields(deb)
            show = client.run("apt-cache", "show", control["Package"])
            assert show.returncode == 0, show.stderr
            shown = dpkg_style_fields(show.stdout)
            for name in ("Package", "Version", "Architecture", "Maintainer", "Section",
                         "Priority", "Depends", "Homepage", "X-Team"):
                if name in control:
                    assert shown.get(name) == control[name], (name, show.stdout)
            assert shown["Description"] == control["Description"], show.stdout
            assert shown["SHA256"] == sha256(deb) and shown["Size"] == str(deb.stat().st_size)
            assert (tree / shown["Filename"]).read_bytes() == deb.read_bytes()
        install = client.run("apt-get", "install", "--simulate", "-y", "inhouse")
        assert install.returncode == 0, install.stdout + install.stderr
        assert "Inst inhouse (1.0-1" in install.stdout, install.stdout
        assert "Inst inhouse-data (1.0-1" in install.stdout, install.stdout
        download = client.run("apt-get", "download", "inhouse", cwd=client.root / "download")
        assert download.returncode == 0, download.stdout + download.stderr
        assert sha256(client.root / "download" / debs[0].name) == sha256(debs[0])


def dpkg_style_fields(text: str) -> dict[str, str]:
    """The fields of the first stanza of ``apt-cache show`` output, continuation lines kept
    as ``dpkg-deb -f`` prints them (so both compare equal)."""
    fields: dict[str, str] = {}
    current = None
    for line in text.split("\n\n", 1)[0].splitlines():
        if line[:1] in (" ", "\t") and current is not None:
            fields[current] += "\n" + line
        elif ":" in line:
            current, _, value = line.partition(":")
            fields[current] = value.strip()
    return fields
