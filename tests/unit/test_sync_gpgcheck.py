"""Per-package signature checking (RPM ``gpgcheck``) in the sync use case, on the core's
in-memory fakes: :class:`~chantal_core.testing.FakePackageSignatureChecker` checks the fake
signatures :func:`~chantal_core.testing.fake_signed_package` makes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from chantal_core.errors import SignatureError
from chantal_core.model import PackageRecord
from chantal_core.ports import PackageSignatureCheck, PackageSignatureChecker
from chantal_core.sync import (
    PackageSignaturePolicy,
    SyncReport,
    SyncSettings,
    judge_package_signature,
    sync_repository,
)
from chantal_core.testing import (
    FakeKeyPair,
    FakePackageSignatureChecker,
    InMemoryCatalog,
    InMemoryPool,
    RecordingProgress,
    StaticFetcher,
    StaticFormat,
    fake_signed_package,
)
from chantal_core.testing.format import upstream_files

BASE = "http://upstream.invalid/repo/"
TRUSTED = FakeKeyPair("upstream")
OTHER = FakeKeyPair("someone-else")


class _Env:
    """An upstream, a pool, a catalog and a checker trusting :data:`TRUSTED`."""

    def __init__(self, packages: dict[str, bytes]) -> None:
        self.fetcher = StaticFetcher.serving(BASE, upstream_files(packages))
        self.pool = InMemoryPool()
        self.catalog = InMemoryCatalog()
        self.checker = FakePackageSignatureChecker([TRUSTED])
        self.progress = RecordingProgress()

    def serve(self, packages: dict[str, bytes]) -> None:
        self.fetcher.responses = StaticFetcher.serving(BASE, upstream_files(packages)).responses

    def sync(self, *, on_missing: str = "fail", on_invalid: str = "fail",
             checker: PackageSignatureChecker | None = None, gpgcheck: bool = True,
             workers: int = 4) -> SyncReport:
        policy = (PackageSignaturePolicy(checker=checker or self.checker,
                                         on_missing=on_missing, on_invalid=on_invalid)
                  if gpgcheck else None)
        settings = SyncSettings(repo_id="r", workers=workers, package_signatures=policy)
        return sync_repository(SimpleNamespace(id="r", feed=BASE, type="static"),
                               settings=settings, fmt=StaticFormat(), fetcher=self.fetcher,
                               pool=self.pool, catalog=self.catalog, progress=self.progress,
                               clock=lambda: 1_700_000_000.0)

    def state(self) -> tuple[list[Any], frozenset[str] | None]:
        """Pool entries and the current version's content (``None`` before any version)."""
        repo = self.catalog.get_repository("r")
        content = (self.catalog.version_content("r")
                   if repo is not None and repo.current_version is not None else None)
        return sorted(self.pool.iter_entries()), content


def _signed(name: str, key: FakeKeyPair = TRUSTED) -> bytes:
    return fake_signed_package(f"payload of {name}".encode(), key)


def test_signed_packages_sync_and_each_download_is_checked_once() -> None:
    env = _Env({"a-1.0-1.noarch": _signed("a"), "b-1.0-1.noarch": _signed("b")})
    report = env.sync()
    assert report.status == "updated" and report.version == 1 and report.warnings == ()
    assert sorted(env.checker.checked) == [
        ("a-1.0-1.noarch.rpm", BASE + "Packages/a-1.0-1.noarch.rpm"),
        ("b-1.0-1.noarch.rpm", BASE + "Packages/b-1.0-1.noarch.rpm")]
    # a new version upstream: only the new file is checked, the pooled one is not again
    env.checker.checked.clear()
    env.serve({"a-1.0-1.noarch": _signed("a"), "b-1.0-1.noarch": _signed("b"),
               "c-1.0-1.noarch": _signed("c")})
    assert env.sync().version == 2
    assert env.checker.checked == [("c-1.0-1.noarch.rpm",
                                    BASE + "Packages/c-1.0-1.noarch.rpm")]


@pytest.mark.parametrize(("body", "reason"), [
    (b"payload of b", "is not signed"),
    (_signed("b", OTHER), f"key ID {OTHER.fingerprint[-8:].lower()}"),
    (_signed("b")[:-65] + b"0" * 64 + b"\n", "key ID " + TRUSTED.fingerprint[-8:].lower()),
], ids=["unsigned", "unknown-key", "tampered"])
def test_bad_package_fails_the_sync_and_leaves_pool_and_catalog_unchanged(
        body: bytes, reason: str) -> None:
    env = _Env({"a-1.0-1.noarch": _signed("a")})
    env.sync()
    before = env.state()
    env.serve({"a-1.0-1.noarch": _signed("a"), "b-1.0-1.noarch": body,
               "c-1.0-1.noarch": _signed("c")})
    with pytest.raises(SignatureError) as info:
        env.sync(workers=1)
    message = str(info.value)
    assert "b-1.0-1.noarch.rpm" in message and BASE + "Packages/b-1.0-1.noarch.rpm" in message
    assert reason in message, message
    assert info.value.hint and "verify.key_files" in info.value.hint
    assert env.state() == before
    assert env.catalog.history("r")[0].status == "failed"
    assert "b-1.0-1.noarch.rpm" in env.catalog.history("r")[0].message


def test_failure_in_one_worker_removes_every_file_the_run_added() -> None:
    """With parallel workers, files other workers finished are removed too."""
    packages = {f"p{i}-1.0-1.noarch": _signed(f"p{i}") for i in range(12)}
    packages["bad-1.0-1.noarch"] = b"unsigned"
    env = _Env(packages)
    with pytest.raises(SignatureError, match=r"bad-1\.0-1\.noarch\.rpm"):
        env.sync(workers=8)
    assert env.state() == ([], None)


@pytest.mark.parametrize(("policy", "body"), [
    ("on_missing", b"payload of b"),
    ("on_invalid", _signed("b", OTHER)),
], ids=["missing", "invalid"])
def test_warn_keeps_the_package_with_a_warning(policy: str, body: bytes) -> None:
    env = _Env({"a-1.0-1.noarch": _signed("a"), "b-1.0-1.noarch": body})
    settings: dict[str, Any] = {policy: "warn"}
    report = env.sync(**settings)
    assert report.version == 1
    assert len(env.catalog.version_content("r")) == 2
    assert len(report.warnings) == 1
    warning = report.warnings[0]
    assert "b-1.0-1.noarch.rpm" in warning and BASE + "Packages/b-1.0-1.noarch.rpm" in warning
    assert f"{policy}_signature is warn" in warning
    assert any(warning in m for m in env.progress.messages)
    assert warning in env.catalog.history("r")[0].message


@pytest.mark.parametrize(("policy", "body"), [
    ("on_missing", b"payload of b"),
    ("on_invalid", _signed("b", OTHER)),
], ids=["missing", "invalid"])
def test_skip_keeps_the_package_silently(policy: str, body: bytes) -> None:
    env = _Env({"b-1.0-1.noarch": body})
    settings: dict[str, Any] = {policy: "skip"}
    report = env.sync(**settings)
    assert report.version == 1 and report.warnings == ()
    assert env.checker.checked  # the other policy still applies, so it was checked


def test_the_other_policy_still_fails() -> None:
    """on_missing_signature: warn does not let an untrusted signature through."""
    env = _Env({"b-1.0-1.noarch": _signed("b", OTHER)})
    with pytest.raises(SignatureError, match="does not verify"):
        env.sync(on_missing="warn")


def test_both_policies_skip_means_no_check_at_all() -> None:
    env = _Env({"b-1.0-1.noarch": b"unsigned"})
    assert env.sync(on_missing="skip", on_invalid="skip").version == 1
    assert env.checker.checked == []


def test_without_gpgcheck_nothing_is_checked() -> None:
    env = _Env({"b-1.0-1.noarch": b"unsigned"})
    assert env.sync(gpgcheck=False).version == 1
    assert env.checker.checked == []


def test_a_checker_that_cannot_run_fails_the_sync_cleanly() -> None:
    env = _Env({"a-1.0-1.noarch": _signed("a")})
    with pytest.raises(SignatureError, match="no trusted key"):
        env.sync(checker=FakePackageSignatureChecker([]))
    assert env.state() == ([], None)


def test_unchanged_content_downloads_and_checks_nothing() -> None:
    env = _Env({"a-1.0-1.noarch": _signed("a")})
    env.sync()
    env.checker.checked.clear()
    assert env.sync().status == "up-to-date"
    assert env.checker.checked == []


def test_policy_values_are_validated() -> None:
    with pytest.raises(ValueError, match="on_missing"):
        PackageSignaturePolicy(checker=FakePackageSignatureChecker([TRUSTED]),
                               on_missing="ignore")


def _record() -> PackageRecord:
    return PackageRecord(format="rpm", name="b", version="1", arch="noarch", sha256="0" * 64,
                         size=1, filename="b-1-1.noarch.rpm", location="b-1-1.noarch.rpm")


def test_judge_package_signature_rules() -> None:
    checker = FakePackageSignatureChecker([TRUSTED])
    fail = PackageSignaturePolicy(checker=checker)
    url = "http://127.0.0.1/b-1-1.noarch.rpm"
    good = PackageSignatureCheck(status="good", key_id="abcd1234")
    assert judge_package_signature(_record(), good, fail, source=url) is None
    invalid = PackageSignatureCheck(status="invalid", key_id="abcd1234",
                                    detail="key ID abcd1234: NOKEY")
    with pytest.raises(SignatureError) as info:
        judge_package_signature(_record(), invalid, fail, source=url)
    assert str(info.value) == (
        f"package b-1-1.noarch.rpm from {url} has a signature by key ID abcd1234 that does "
        "not verify against the trusted keys: key ID abcd1234: NOKEY")
    warn = PackageSignaturePolicy(checker=checker, on_invalid="warn")
    warning = judge_package_signature(_record(), invalid, warn, source=url)
    assert warning is not None and warning.endswith("(kept: on_invalid_signature is warn)")
    with pytest.raises(SignatureError, match="unknown signature check status 'odd'"):
        judge_package_signature(_record(), PackageSignatureCheck(status="odd"), warn,
                                source=url)


def test_fake_checker_satisfies_the_port() -> None:
    assert isinstance(FakePackageSignatureChecker([TRUSTED]), PackageSignatureChecker)
