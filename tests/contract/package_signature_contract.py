"""Contract of :class:`chantal_core.ports.PackageSignatureChecker` (RPM ``gpgcheck``).

Run against :class:`chantal_adapters.rpm.signature.RpmSignatureChecker` (real RPMs signed
with rpmsign) and :class:`chantal_core.testing.FakePackageSignatureChecker`. A concrete test
class subclasses :class:`PackageSignatureContract` and overrides the fixtures:

* ``packages``: package contents by kind: ``good`` (signed by the trusted key), ``other``
  (signed by another key), ``unsigned``, ``tampered`` (signed by the trusted key, content
  changed afterwards);
* ``trusted_key_id`` / ``other_key_id``: the keys' ids as the checker reports them (the last
  8 hex digits of the fingerprint, lower case);
* ``checker``: a checker trusting the trusted key only;
* ``keyless_checker``: a checker given no key at all;
* ``pool``: an empty pool to store packages in.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from chantal_core.errors import PoolIntegrityError, SignatureError
from chantal_core.model import PackageRecord
from chantal_core.ports import PackageSignatureChecker

SOURCE = "http://127.0.0.1:1/Packages/pkg-1.0-1.noarch.rpm"


def store(pool: Any, data: bytes, filename: str = "pkg-1.0-1.noarch.rpm") -> PackageRecord:
    """Put ``data`` in ``pool`` and return a record of it."""
    entry = pool.put([data], filename)
    return PackageRecord(format="rpm", name="pkg", version="1.0", release="1", arch="noarch",
                         sha256=entry.sha256, size=len(data), filename=filename,
                         location=f"Packages/{filename}")


class PackageSignatureContract:
    """Behaviour every package signature checker shares."""

    @pytest.fixture
    def packages(self) -> dict[str, bytes]:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def trusted_key_id(self) -> str:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def other_key_id(self) -> str:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def checker(self) -> Any:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def keyless_checker(self) -> Any:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def pool(self) -> Any:
        raise NotImplementedError("must be overridden")

    def test_satisfies_the_port(self, checker: Any) -> None:
        assert isinstance(checker, PackageSignatureChecker)

    def test_signed_by_the_trusted_key_is_good(self, checker: Any, pool: Any,
                                               packages: dict[str, bytes],
                                               trusted_key_id: str) -> None:
        result = checker.check_package(store(pool, packages["good"]), pool, source=SOURCE)
        assert (result.status, result.key_id) == ("good", trusted_key_id)

    def test_unsigned_is_missing(self, checker: Any, pool: Any,
                                 packages: dict[str, bytes]) -> None:
        result = checker.check_package(store(pool, packages["unsigned"]), pool, source=SOURCE)
        assert (result.status, result.key_id) == ("missing", "")

    def test_signed_by_another_key_is_invalid_naming_it(self, checker: Any, pool: Any,
                                                        packages: dict[str, bytes],
                                                        other_key_id: str) -> None:
        result = checker.check_package(store(pool, packages["other"]), pool, source=SOURCE)
        assert (result.status, result.key_id) == ("invalid", other_key_id)
        assert "NOKEY" in result.detail and other_key_id in result.detail

    def test_tampered_content_is_invalid(self, checker: Any, pool: Any,
                                         packages: dict[str, bytes]) -> None:
        result = checker.check_package(store(pool, packages["tampered"]), pool, source=SOURCE)
        assert result.status == "invalid"
        assert "BAD" in result.detail

    def test_outcomes_do_not_depend_on_order(self, checker: Any, pool: Any,
                                             packages: dict[str, bytes]) -> None:
        records = {kind: store(pool, data, f"{kind}-1.0-1.noarch.rpm")
                   for kind, data in packages.items()}
        first = {k: checker.check_package(r, pool, source=SOURCE).status
                 for k, r in records.items()}
        again = {k: checker.check_package(r, pool, source=SOURCE).status
                 for k, r in reversed(list(records.items()))}
        assert first == again == {"good": "good", "other": "invalid", "unsigned": "missing",
                                  "tampered": "invalid"}

    def test_no_trusted_key_raises_naming_the_source(self, keyless_checker: Any, pool: Any,
                                                     packages: dict[str, bytes]) -> None:
        with pytest.raises(SignatureError, match="no trusted key") as info:
            keyless_checker.check_package(store(pool, packages["good"]), pool, source=SOURCE)
        assert SOURCE in str(info.value)

    def test_a_file_not_in_the_pool_raises(self, checker: Any, pool: Any,
                                           packages: dict[str, bytes]) -> None:
        missing = PackageRecord(format="rpm", name="pkg", version="1", arch="noarch",
                                sha256=hashlib.sha256(b"absent").hexdigest(), size=6,
                                filename="pkg-1-1.noarch.rpm", location="pkg-1-1.noarch.rpm")
        with pytest.raises(PoolIntegrityError):
            checker.check_package(missing, pool, source=SOURCE)
