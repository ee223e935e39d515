"""RPM ``gpgcheck`` through the CLI: every downloaded package's own signature is checked
with ``rpmkeys --checksig`` against the repository's trusted keys before the sync commits.

Everything is real: RPMs built with rpmbuild, signed with ``rpmsign --addsign`` by gpg keys
the test generates in temporary GnuPG homes (their gpg-agents are stopped at teardown),
repositories made with createrepo_c and served on 127.0.0.1, ``chantal repo sync`` run
through the CLI's ``main`` with a configuration file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from chantal_cli.main import main
from support.cli import Capsys, pool_rpm_names, run_cli, run_json, store_state, write_config
from support.httpserver import serve_directory
from support.rpmfixtures import TOOLS, PkgSpec, add_metadata, build_rpms, missing_tools

pytestmark = pytest.mark.integration

_NEEDED = (*TOOLS, "rpmkeys", "rpmsign", "gpg", "gpgconf")
if missing_tools(*_NEEDED):
    pytest.skip(f"needs {', '.join(missing_tools(*_NEEDED))}", allow_module_level=True)

NAMES = ("alpha", "beta", "gamma")


@attrs.frozen
class Key:
    """A signing key in its own GnuPG home, with its armored public key."""

    home: Path
    fingerprint: str
    armored: Path
    binary: Path


def _make_key(base: Path, name: str) -> Key:
    from chantal_adapters.gpg import generate_key

    home = base / name / "gnupg"
    fingerprint = generate_key(str(home), f"Chantal {name}", f"{name}@example.invalid",
                               algorithm="ed25519")
    armored, binary = base / name / "public.asc", base / name / "public.gpg"
    for path, extra in ((armored, ["--armor"]), (binary, [])):
        out = subprocess.run(["gpg", "--homedir", str(home), "--batch", *extra, "--export",
                              fingerprint], capture_output=True, check=True)
        path.write_bytes(out.stdout)
    return Key(home, fingerprint, armored, binary)


def _sign(rpm: Path, key: Key) -> None:
    """``rpmsign --addsign`` with ``key`` (gpg from PATH, no passphrase)."""
    proc = subprocess.run(
        ["rpmsign", "--define", f"_gpg_name {key.fingerprint}",
         "--define", f"_gpg_path {key.home}", "--define", f"__gpg {shutil.which('gpg')}",
         "--addsign", str(rpm)], capture_output=True, text=True, stdin=subprocess.DEVNULL,
        check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr


@attrs.frozen
class Fixtures:
    """Keys and, per package name, the RPM unsigned and signed by each key."""

    key: Key
    other: Key
    rpms: dict[str, dict[str, Path]]  # name -> "unsigned" | "key" | "other" -> file


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixtures]:
    from chantal_adapters.gpg import stop_agent

    base = tmp_path_factory.mktemp("gpgcheck")
    made: list[Key] = []
    try:
        made.append(_make_key(base, "upstream"))
        made.append(_make_key(base, "other"))
        built = build_rpms(base / "built", [
            PkgSpec(name=name, version="1.0", files={f"/usr/share/{name}": name})
            for name in NAMES])
        rpms: dict[str, dict[str, Path]] = {}
        for path in built:
            name = path.name.split("-", 1)[0]
            rpms[name] = {"unsigned": path}
            for label, key in (("key", made[0]), ("other", made[1])):
                signed = base / label / path.name
                signed.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, signed)
                _sign(signed, key)
                rpms[name][label] = signed
        yield Fixtures(made[0], made[1], rpms)
    finally:
        for key in made:
            stop_agent(str(key.home))


def _upstream(root: Path, fx: Fixtures, **choice: str) -> Path:
    """Make ``root`` a repository of the named packages (``alpha="key"``...)."""
    packages = root / "Packages"
    if packages.exists():
        shutil.rmtree(packages)
    packages.mkdir(parents=True)
    for name, variant in choice.items():
        shutil.copy2(fx.rpms[name][variant], packages / fx.rpms[name][variant].name)
    shutil.rmtree(root / "repodata", ignore_errors=True)
    add_metadata(root)
    return root


def _config(path: Path, base: Path, repo: str) -> Path:
    """A configuration with everything under ``base``, no download retries and the
    repository ``repo`` (see :func:`_repo`)."""
    return write_config(path, base=base, repositories=repo, retry_attempts=0)


def _repo(url: str, key_file: Path | None, extra: str = "", *, verify: str = "") -> str:
    """Repository ``signed`` (YAML list item): ``verify`` enabled with ``key_file`` (no
    index signature), ``verify`` lines added to that section, ``extra`` repository keys."""
    section = "" if key_file is None else (
        f"  verify:\n    enabled: true\n    repo_gpgcheck: false\n"
        f"    key_files: [{key_file}]\n" + textwrap.indent(verify, "    "))
    return (f"- id: signed\n  type: rpm\n  feed: {url}\n" + section
            + textwrap.indent(extra, "  "))


def _sync(capsys: Capsys, config: Path, *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, config, "repo", "sync", "--repo-id", "signed", *args)


def _history(capsys: Capsys, config: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = run_json(capsys, config, "repo", "history", "--repo-id",
                                          "signed")
    return rows


def test_signed_packages_sync_with_the_right_key(tmp_path: Path, fixtures: Fixtures,
                                                 capsys: Capsys) -> None:
    fx = fixtures
    upstream = _upstream(tmp_path / "upstream", fx, alpha="key", beta="key")
    base = tmp_path / "state"
    with serve_directory(upstream) as url:
        cfg = _config(tmp_path / "config.yaml", base, _repo(url, fx.key.armored))
        assert main(["--config", str(cfg), "init"]) == 0
        code, _, err = _sync(capsys, cfg)
        assert code == 0, err
        assert "not acted on" not in err
    assert pool_rpm_names(base) == ["alpha-1.0-1.noarch.rpm", "beta-1.0-1.noarch.rpm"]
    assert _history(capsys, cfg)[0]["status"] == "success"


def test_pinned_fingerprint_limits_the_trusted_keys(tmp_path: Path, fixtures: Fixtures,
                                                    capsys: Capsys) -> None:
    fx = fixtures
    upstream = _upstream(tmp_path / "upstream", fx, alpha="key")
    both = tmp_path / "both.asc"
    both.write_bytes(fx.key.armored.read_bytes() + fx.other.armored.read_bytes())
    with serve_directory(upstream) as url:
        def repo(keys: Path, pin: str) -> str:
            return _repo(url, keys, verify=f"trusted_fingerprints: [{pin}]\n")

        wrong = _config(tmp_path / "wrong.yaml", tmp_path / "s1", repo(both, fx.other.fingerprint))
        assert main(["--config", str(wrong), "init"]) == 0
        code, _, err = _sync(capsys, wrong)
        assert code == 1
        assert "alpha-1.0-1.noarch.rpm" in err and url.url(
            "Packages/alpha-1.0-1.noarch.rpm") in err, err
        assert "NOKEY" in err, err
        assert pool_rpm_names(tmp_path / "s1") == []
        # a binary keyring holding both keys, pinned to the signer's key id (16 digits)
        keyring = tmp_path / "both.gpg"
        subprocess.run(["gpg", "--dearmor", "--batch", "--yes", "--output", str(keyring),
                        str(both)], check=True, capture_output=True)
        right = _config(tmp_path / "right.yaml", tmp_path / "s2",
                        repo(keyring, fx.key.fingerprint[-16:]))
        assert main(["--config", str(right), "init"]) == 0
        code, _, err = _sync(capsys, right)
        assert code == 0, err
        assert pool_rpm_names(tmp_path / "s2") == ["alpha-1.0-1.noarch.rpm"]


@pytest.mark.parametrize(("variant", "reason"), [
    ("unsigned", "is not signed"),
    ("other", "does not verify against the trusted keys"),
])
def test_bad_package_fails_the_sync_and_warn_keeps_it(tmp_path: Path, fixtures: Fixtures,
                                                      capsys: Capsys, variant: str,
                                                      reason: str) -> None:
    fx = fixtures
    root = tmp_path / "upstream"
    _upstream(root, fx, alpha="key")
    base = tmp_path / "state"
    with serve_directory(root) as url:
        cfg = _config(tmp_path / "config.yaml", base, _repo(url, fx.key.armored))
        assert main(["--config", str(cfg), "init"]) == 0
        code, _, err = _sync(capsys, cfg)
        assert code == 0, err
        before = store_state(base)

        # upstream adds a signed beta and a bad gamma: nothing of it is kept
        _upstream(root, fx, alpha="key", beta="key", gamma=variant)
        code, _, err = _sync(capsys, cfg)
        assert code == 1
        gamma_url = url.url("Packages/gamma-1.0-1.noarch.rpm")
        assert "gamma-1.0-1.noarch.rpm" in err and gamma_url in err, err
        assert reason in err and "error[bad-signature]" in err, err
        if variant == "other":
            assert f"key ID {fx.other.fingerprint[-8:].lower()}" in err, err
        assert store_state(base) == before
        assert _history(capsys, cfg)[0]["status"] == "failed"

        # the matching policy at warn: the package is kept, with a warning
        policy = "on_missing_signature" if variant == "unsigned" else "on_invalid_signature"
        lenient = _config(tmp_path / "lenient.yaml", base,
                          _repo(url, fx.key.armored, verify=f"{policy}: warn\n"))
        code, out, err = _sync(capsys, lenient, "--format", "json")
        assert code == 0, err
        report = json.loads(out)[0]
        assert report["status"] == "updated", report
        assert len(report["warnings"]) == 1, report
        warning = report["warnings"][0]
        assert "gamma-1.0-1.noarch.rpm" in warning and gamma_url in warning
        assert f"{policy} is warn" in warning
        assert pool_rpm_names(base) == ["alpha-1.0-1.noarch.rpm", "beta-1.0-1.noarch.rpm",
                                     "gamma-1.0-1.noarch.rpm"]
        assert "warning" in _history(capsys, lenient)[0]["message"]


def test_repository_gpgcheck_switch(tmp_path: Path, fixtures: Fixtures,
                                    capsys: Capsys) -> None:
    """``gpgcheck: false`` on the repository turns the check off; ``gpgcheck: true``
    without any trusted key fails with a clear message."""
    fx = fixtures
    upstream = _upstream(tmp_path / "upstream", fx, alpha="unsigned")
    with serve_directory(upstream) as url:
        off = _config(tmp_path / "off.yaml", tmp_path / "s1",
                      _repo(url, fx.key.armored, "gpgcheck: false\n"))
        assert main(["--config", str(off), "init"]) == 0
        code, _, err = _sync(capsys, off)
        assert code == 0, err
        assert pool_rpm_names(tmp_path / "s1") == ["alpha-1.0-1.noarch.rpm"]

        nokey = _config(tmp_path / "nokey.yaml", tmp_path / "s2",
                        _repo(url, None, "gpgcheck: true\n"))
        assert main(["--config", str(nokey), "init"]) == 0
        code, _, err = _sync(capsys, nokey)
        assert code == 1
        assert "no trusted key is configured" in err and "verify.key_files" in err, err
        assert pool_rpm_names(tmp_path / "s2") == []


def test_key_from_an_imported_yum_repo_file(tmp_path: Path, fixtures: Fixtures,
                                            capsys: Capsys) -> None:
    """``gpgcheck=1`` with a local ``gpgkey`` in a .repo file: the imported repository
    checks its packages against that key."""
    fx = fixtures
    root = _upstream(tmp_path / "upstream", fx, alpha="key")
    base = tmp_path / "state"
    with serve_directory(root) as url:
        repo_file = tmp_path / "site.repo"
        repo_file.write_text(f"[signed]\nname=Signed\nbaseurl={url}\ngpgcheck=1\n"
                             f"gpgkey=file://{fx.key.armored}\n")
        imported = tmp_path / "imported.yaml"
        assert main(["repo", "import", "--from-yum-repos", str(repo_file),
                     "--output", str(imported)]) == 0
        cfg = write_config(tmp_path / "config.yaml", base=base, retry_attempts=0,
                           timeout=None, body=imported.read_text())
        assert main(["--config", str(cfg), "init"]) == 0
        code, _, err = _sync(capsys, cfg)
        assert code == 0, err
        assert pool_rpm_names(base) == ["alpha-1.0-1.noarch.rpm"]

        _upstream(root, fx, alpha="key", beta="unsigned")
        code, _, err = _sync(capsys, cfg)
        assert code == 1
        assert url.url("Packages/beta-1.0-1.noarch.rpm") in err and "is not signed" in err, err
        assert pool_rpm_names(base) == ["alpha-1.0-1.noarch.rpm"]
