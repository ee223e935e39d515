"""Retention policies and same-NEVRA conflicts through the real ``chantal`` CLI.

Upstreams are real repositories (RPMs built once per module with rpmbuild, metadata made
with createrepo_c) served on 127.0.0.1. Each test syncs a first upstream state, changes
the upstream (newer versions added, packages removed, or a package rebuilt with the same
NEVRA but other content), syncs again and checks the repository version with
``chantal package list --format json``, the pool, the history and, after publishing,
what a real dnf sees (served by a web server running as another user).

Retention semantics checked (see :func:`chantal_core.retention.apply_retention`):

* ``mirror``: exactly the filtered upstream;
* ``newest-only``: per (name, arch), the highest EVR of the current version plus the
  filtered upstream (rpmvercmp order: the epoch wins over the version);
* ``keep-all``: the current version plus the filtered upstream (packages gone upstream stay);
* ``keep-last-n``: per (name, arch), the ``keep_count`` highest EVRs of the current
  version plus the filtered upstream.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from support.cli import Capsys, chantal, init_and_sync, published_dir, run_cli, run_json, run_ok
from support.cli import write_config as _write_config
from support.httpserver import serve_directory
from support.rpmfixtures import (
    TOOLS,
    PkgSpec,
    add_metadata,
    build_rpms,
    dnf_query,
    missing_tools,
    sha256_of,
)
from support.webserver import serve_as_web_user

pytestmark = pytest.mark.integration

if missing_tools(*TOOLS, "dnf"):
    pytest.skip(f"needs {', '.join(missing_tools(*TOOLS, 'dnf'))}", allow_module_level=True)

#: dnf query format: the NEVRA with the epoch always shown.
NEVRA_QF = "%{name}-%{epoch}:%{version}-%{release}.%{arch}"


def _pkg(name: str, version: str, *, arch: str = "noarch", epoch: int = 0,
         content: str | None = None) -> PkgSpec:
    return PkgSpec(name=name, version=version, arch=arch, epoch=epoch,
                   summary=f"{name} {epoch}:{version}",
                   files={f"/usr/share/{name}/{arch}/{epoch}-{version}":
                          content or f"{name} {epoch}:{version} {arch}"})


#: The packages the upstream states are made of, by a short key.
P: Mapping[str, PkgSpec] = {
    "foo-0.9": _pkg("foo", "0.9"),
    "foo-1.0": _pkg("foo", "1.0"),
    "foo-1.1": _pkg("foo", "1.1"),
    "foo-2.0": _pkg("foo", "2.0"),
    "foo-1:0.5": _pkg("foo", "0.5", epoch=1),      # the epoch makes it the newest foo
    "bar-1.0": _pkg("bar", "1.0", arch="x86_64"),
    "bar-1.1": _pkg("bar", "1.1", arch="x86_64"),
    "tool-0.9.x86_64": _pkg("tool", "0.9", arch="x86_64"),
    "tool-1.0.x86_64": _pkg("tool", "1.0", arch="x86_64"),
    "tool-2.0.noarch": _pkg("tool", "2.0"),         # same name, other arch: its own group
    "gone-1.0": _pkg("gone", "1.0"),
    "skipme-1.0": _pkg("skipme", "1.0"),            # excluded by the repository's filter
    "skipme-2.0": _pkg("skipme", "2.0"),
}

#: First upstream state.
V1 = ("foo-0.9", "foo-1.0", "foo-1.1", "bar-1.0", "tool-1.0.x86_64", "tool-2.0.noarch",
      "gone-1.0", "skipme-1.0")
#: Second upstream state: foo-0.9, foo-1.0, gone and skipme-1.0 removed; foo 2.0 and 1:0.5,
#: bar 1.1, an older tool for x86_64 and skipme 2.0 added.
V2 = ("foo-1.1", "foo-2.0", "foo-1:0.5", "bar-1.0", "bar-1.1", "tool-0.9.x86_64",
      "tool-1.0.x86_64", "tool-2.0.noarch", "skipme-2.0")

#: policy -> (expected content after syncing V1, expected content after syncing V2).
EXPECTED: Mapping[str, tuple[set[str], set[str]]] = {
    "mirror": (
        {"foo-0.9", "foo-1.0", "foo-1.1", "bar-1.0", "tool-1.0.x86_64", "tool-2.0.noarch",
         "gone-1.0"},
        {"foo-1.1", "foo-2.0", "foo-1:0.5", "bar-1.0", "bar-1.1", "tool-0.9.x86_64",
         "tool-1.0.x86_64", "tool-2.0.noarch"},
    ),
    "newest-only": (
        {"foo-1.1", "bar-1.0", "tool-1.0.x86_64", "tool-2.0.noarch", "gone-1.0"},
        # gone stays: it is still the newest gone/noarch of current plus upstream
        {"foo-1:0.5", "bar-1.1", "tool-1.0.x86_64", "tool-2.0.noarch", "gone-1.0"},
    ),
    "keep-all": (
        {"foo-0.9", "foo-1.0", "foo-1.1", "bar-1.0", "tool-1.0.x86_64", "tool-2.0.noarch",
         "gone-1.0"},
        {"foo-0.9", "foo-1.0", "foo-1.1", "foo-2.0", "foo-1:0.5", "bar-1.0", "bar-1.1",
         "tool-0.9.x86_64", "tool-1.0.x86_64", "tool-2.0.noarch", "gone-1.0"},
    ),
    "keep-last-n": (
        {"foo-1.0", "foo-1.1", "bar-1.0", "tool-1.0.x86_64", "tool-2.0.noarch", "gone-1.0"},
        {"foo-2.0", "foo-1:0.5", "bar-1.0", "bar-1.1", "tool-0.9.x86_64", "tool-1.0.x86_64",
         "tool-2.0.noarch", "gone-1.0"},
    ),
}


def _nevras(keys: set[str]) -> list[str]:
    """``package list`` NEVRAs (epoch only when non-zero) of package keys, sorted."""
    return sorted(P[k].nevra for k in keys)


def _dnf_nevras(keys: set[str]) -> list[str]:
    """dnf's :data:`NEVRA_QF` strings of package keys, sorted."""
    return sorted(f"{p.name}-{p.epoch}:{p.version}-{p.release}.{p.arch}"
                  for p in (P[k] for k in keys))


# --- fixtures ---------------------------------------------------------------------------


@attrs.frozen
class Built:
    """The module's RPM files.

    :ivar files: package key -> built RPM.
    :ivar rebuilt_foo: foo-1.1-1.noarch built again with other content (same NEVRA).
    """

    files: Mapping[str, Path]
    rebuilt_foo: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    base = tmp_path_factory.mktemp("retention-rpms")
    paths = build_rpms(base / "rpms", list(P.values()))
    by_name = {p.name: p for p in paths}
    files = {key: by_name[spec.filename] for key, spec in P.items()}
    rebuilt = build_rpms(base / "rebuilt", [
        attrs.evolve(P["foo-1.1"], files={"/usr/share/foo/noarch/0-1.1": "rebuilt content"})])
    assert rebuilt[0].name == files["foo-1.1"].name
    assert sha256_of(rebuilt[0]) != sha256_of(files["foo-1.1"])
    return Built(files=files, rebuilt_foo=rebuilt[0])


def make_upstream(dest: Path, built: Built, keys: tuple[str, ...], *,
                  replace: Mapping[str, Path] | None = None) -> None:
    """Make ``dest`` a repository (``Packages/`` + createrepo_c metadata) of ``keys``,
    replacing whatever it held; ``replace`` gives other files for some keys."""
    for sub in ("Packages", "repodata"):
        shutil.rmtree(dest / sub, ignore_errors=True)
    (dest / "Packages").mkdir(parents=True)
    for key in keys:
        source = (replace or {}).get(key, built.files[key])
        shutil.copy2(source, dest / "Packages" / source.name)
    add_metadata(dest)


#: (state directory, published directory, upstream repository)
Env = tuple[Path, Path, Path]


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[Env]:
    with published_dir() as published:
        yield tmp_path / "state", published, tmp_path / "upstream"


# --- helpers ----------------------------------------------------------------------------


def write_config(path: Path, base: Path, published: Path, repos: str) -> Path:
    """A configuration with SQLite under ``base``, no download retries and the given
    ``repositories`` YAML."""
    return _write_config(path, base=base, published=published, repositories=repos,
                         retry_attempts=0)


def repo_yaml(url: str, retention: str) -> str:
    """One filtered RPM repository ``r`` (``skipme`` excluded) with a retention block."""
    return textwrap.dedent(f"""\
        - id: r
          type: rpm
          feed: {url}
          filters:
            patterns:
              exclude: ["^skipme$"]
          retention:
        """) + textwrap.indent(textwrap.dedent(retention), "    ")


def listed(capsys: Capsys, config: Path) -> list[dict[str, Any]]:
    """``chantal package list --repo-id r --format json``."""
    rows = run_json(capsys, config, "package", "list", "--repo-id", "r")
    assert isinstance(rows, list)
    return rows


def pool_files(base: Path) -> dict[str, str]:
    """RPM file name -> SHA256 for the RPMs in the pool (stored as ``<sha256>_<name>``);
    fails on two pool files with one name."""
    out: dict[str, str] = {}
    for path in (base / "pool").rglob("*.rpm"):
        sha, name = path.name.split("_", 1)
        assert name not in out, f"two pool files named {name}"
        out[name] = sha
    return out


# --- retention --------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["mirror", "newest-only", "keep-all", "keep-last-n"])
def test_retention_policy_over_two_upstream_states(policy: str, env: Env, tmp_path: Path,
                                                   built: Built, capsys: Capsys) -> None:
    base, published, upstream = env
    first, second = EXPECTED[policy]
    retention = f"policy: {policy}\n" + ("keep_count: 2\n" if policy == "keep-last-n" else "")
    make_upstream(upstream, built, V1)
    with serve_directory(upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published,
                           repo_yaml(str(url), retention))
        assert chantal(cfg, "init") == 0
        shown = run_json(capsys, cfg, "repo", "show", "--repo-id", "r")
        assert shown["retention"] == policy

        # version 1
        assert chantal(cfg, "repo", "sync", "--repo-id", "r") == 0
        rows = listed(capsys, cfg)
        assert sorted(r["nevra"] for r in rows) == _nevras(first)
        for row in rows:  # each record is the upstream file, byte for byte
            assert row["sha256"] == sha256_of(built.files[next(
                k for k in first if P[k].nevra == row["nevra"])]), row
        # retention runs before downloading: what version 1 drops was never fetched
        assert set(pool_files(base)) == {P[k].filename for k in first}
        assert not any(r.endswith("skipme-1.0-1.noarch.rpm") for r in url.requests)

        # upstream changes: newer versions, removals, an older tool for x86_64
        make_upstream(upstream, built, V2)
        synced = run_json(capsys, cfg, "repo", "sync", "--repo-id", "r")
        assert synced[0]["status"] == "updated" and synced[0]["version"] == 2, synced
        assert sorted(synced[0]["added"]) == _nevras(second - first)
        assert sorted(synced[0]["removed"]) == _nevras(first - second)
        assert synced[0]["conflicts"] == []
        rows = listed(capsys, cfg)
        assert sorted(r["nevra"] for r in rows) == _nevras(second)
        # version 1 is immutable: its content is unchanged
        history = run_json(capsys, cfg, "repo", "history", "--repo-id", "r")
        assert [(h["version"], h["packages"]) for h in history] == [
            (2, len(second)), (1, len(first))]

    # published: dnf sees exactly that version
    assert chantal(cfg, "publish", "repo", "--repo-id", "r") == 0
    with serve_as_web_user(published) as web:
        got = dnf_query(web + "r/latest/", tmp_path / "dnf", "repoquery", "--qf", NEVRA_QF)
    assert sorted(got.split()) == _dnf_nevras(second)


def test_package_list_orders_versions_as_rpm(env: Env, tmp_path: Path, built: Built,
                                             capsys: Capsys) -> None:
    """The table lists a name's versions oldest to newest in rpmvercmp order (the epoch
    counts), not in string order of the EVR."""
    base, published, upstream = env
    make_upstream(upstream, built, ("foo-2.0", "foo-1:0.5", "foo-0.9", "foo-1.1", "bar-1.0"))
    with serve_directory(upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published,
                           repo_yaml(str(url), "policy: mirror\n"))
        init_and_sync(cfg, "--repo-id", "r")
    out, _ = run_ok(capsys, cfg, "package", "list", "--repo-id", "r")
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["NAME", "EVR", "ARCH"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["bar", "1.0-1", "x86_64"], ["foo", "0.9-1", "noarch"], ["foo", "1.1-1", "noarch"],
        ["foo", "2.0-1", "noarch"], ["foo", "1:0.5-1", "noarch"]]
    assert [r["evr"] for r in listed(capsys, cfg) if r["name"] == "foo"] == [
        "0.9-1", "1.1-1", "2.0-1", "1:0.5-1"]


def test_changing_the_policy_applies_on_the_next_sync(env: Env, tmp_path: Path,
                                                      built: Built, capsys: Capsys) -> None:
    """keep-all accumulates; switching the same repository to mirror (the configuration hash
    changes, so even an unchanged upstream is synced again) trims it to the filtered
    upstream; older versions keep their content."""
    base, published, upstream = env
    make_upstream(upstream, built, V1)
    with serve_directory(upstream) as url:
        keep_all = write_config(tmp_path / "keep-all.yaml", base, published,
                                repo_yaml(str(url), "policy: keep-all\n"))
        init_and_sync(keep_all, "--repo-id", "r")
        make_upstream(upstream, built, V2)
        assert chantal(keep_all, "repo", "sync", "--repo-id", "r") == 0
        assert sorted(r["nevra"] for r in listed(capsys, keep_all)) == _nevras(
            EXPECTED["keep-all"][1])
        out, _ = run_ok(capsys, keep_all, "repo", "sync", "--repo-id", "r")
        assert "up to date" in out
        mirror = write_config(tmp_path / "mirror.yaml", base, published,
                              repo_yaml(str(url), "policy: mirror\n"))
        synced = run_json(capsys, mirror, "repo", "sync", "--repo-id", "r")
        assert synced[0]["status"] == "updated" and synced[0]["version"] == 3, synced
        assert synced[0]["files_downloaded"] == 0
    assert sorted(r["nevra"] for r in listed(capsys, mirror)) == _nevras(EXPECTED["mirror"][1])
    # the files of packages that left stay in the pool: version 2 still references them
    assert "gone-1.0-1.noarch.rpm" in pool_files(base)
    assert chantal(mirror, "db", "verify") == 0


def test_keep_last_n_without_a_valid_keep_count_is_refused(env: Env, tmp_path: Path,
                                                           built: Built, capsys: Capsys) -> None:
    base, published, upstream = env
    make_upstream(upstream, built, ("foo-1.0",))
    for retention in ("policy: keep-last-n\n", "policy: keep-last-n\nkeep_count: 0\n"):
        cfg = write_config(tmp_path / "config.yaml", base, published,
                           repo_yaml(f"file://{upstream}", retention))
        code, _, err = run_cli(capsys, cfg, "config", "check")
        assert code != 0 and "keep_count" in err, (retention, code, err)
    assert not (base / "pool").exists() or not pool_files(base)


# --- conflicts --------------------------------------------------------------------------


def test_same_nevra_with_other_content_is_a_reported_conflict(env: Env, tmp_path: Path,
                                                              built: Built,
                                                              capsys: Capsys) -> None:
    base, published, upstream = env
    keys = ("foo-1.0", "foo-1.1", "bar-1.0")
    make_upstream(upstream, built, keys)
    original = sha256_of(built.files["foo-1.1"])
    rebuilt = sha256_of(built.rebuilt_foo)
    with serve_directory(upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published,
                           repo_yaml(str(url), "policy: mirror\n"))
        init_and_sync(cfg, "--repo-id", "r")

        # upstream rebuilds foo-1.1-1.noarch: same NEVRA, other file; createrepo_c again
        make_upstream(upstream, built, keys, replace={"foo-1.1": built.rebuilt_foo})
        url.clear_log()
        out, err = run_ok(capsys, cfg, "repo", "sync", "--repo-id", "r")
        assert "r: content unchanged, version 1" in out, out
        assert (f"conflict: foo-1.1-1.noarch: upstream file {rebuilt[:16]} differs from the "
                f"known {original[:16]} (kept the known file)") in err, err
        # the conflicting file is not even downloaded, and nothing was overwritten
        assert not [r for r in url.requests if r.endswith(".rpm")], url.requests
        assert pool_files(base)["foo-1.1-1.noarch.rpm"] == original
        rows = {r["nevra"]: r for r in listed(capsys, cfg)}
        assert rows["foo-1.1-1.noarch"]["sha256"] == original
        history = run_json(capsys, cfg, "repo", "history", "--repo-id", "r")
        assert history[0]["status"] == "success" and history[0]["version"] == 1
        assert history[0]["message"] == \
            "1 conflict(s) (kept the known file): foo-1.1-1.noarch", history[0]

        # the conflict does not block the rest: a newer bar arrives next to the kept foo
        make_upstream(upstream, built, (*keys, "bar-1.1"),
                      replace={"foo-1.1": built.rebuilt_foo})
        synced = run_json(capsys, cfg, "repo", "sync", "--repo-id", "r")
        assert synced[0]["status"] == "updated" and synced[0]["version"] == 2, synced
        assert synced[0]["added"] == ["bar-1.1-1.x86_64"] and synced[0]["removed"] == []
        assert synced[0]["conflicts"] == [{"nevra": "foo-1.1-1.noarch",
                                           "known_sha256": original, "upstream": rebuilt}]
        assert synced[0]["download"] == ["bar-1.1-1.x86_64"]
    rows = {r["nevra"]: r for r in listed(capsys, cfg)}
    assert sorted(rows) == ["bar-1.0-1.x86_64", "bar-1.1-1.x86_64", "foo-1.0-1.noarch",
                            "foo-1.1-1.noarch"]
    assert rows["foo-1.1-1.noarch"]["sha256"] == original
    assert rebuilt not in pool_files(base).values()

    # published: dnf downloads the known file, and its metadata matches that file
    assert chantal(cfg, "publish", "repo", "--repo-id", "r") == 0
    dest = tmp_path / "downloaded"
    with serve_as_web_user(published) as web:
        dnf_query(web + "r/latest/", tmp_path / "dnf", "download", f"--destdir={dest}",
                  "foo-1.1-1.noarch")
    assert sha256_of(dest / "foo-1.1-1.noarch.rpm") == original

