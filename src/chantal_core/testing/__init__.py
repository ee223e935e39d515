"""In-memory test doubles of every port, shipped with the core.

They are pure (no file, socket or process I/O) and pass the same contract suites
(``tests/contract/``) as the real adapters, so unit tests of the use cases that run
against them exercise faithful behaviour.

================================  ===================================
port                              double
================================  ===================================
:class:`~chantal_core.ports.ContentPool`       :class:`InMemoryPool`
:class:`~chantal_core.ports.Catalog`           :class:`InMemoryCatalog`
:class:`~chantal_core.ports.Fetcher`           :class:`StaticFetcher`
:class:`~chantal_core.ports.PublishTarget`     :class:`InMemoryPublishTarget`
:class:`~chantal_core.ports.RepositoryFormat`  :class:`StaticFormat`
:class:`~chantal_core.ports.Signer` / Verifier :class:`FakeSigner` / :class:`FakeVerifier`
:class:`~chantal_core.ports.PackageSignatureChecker` :class:`FakePackageSignatureChecker`
:class:`~chantal_core.ports.Progress`          :class:`RecordingProgress`
================================  ===================================
"""

from chantal_core.testing.catalog import InMemoryCatalog
from chantal_core.testing.fetch import StaticFetcher, StaticResponse
from chantal_core.testing.format import StaticFormat
from chantal_core.testing.package_signing import FakePackageSignatureChecker, fake_signed_package
from chantal_core.testing.pool import InMemoryPool
from chantal_core.testing.progress import RecordingProgress
from chantal_core.testing.publish import InMemoryPublishTarget
from chantal_core.testing.signing import FakeKeyPair, FakeSigner, FakeVerifier

__all__ = [
    "FakeKeyPair",
    "FakePackageSignatureChecker",
    "FakeSigner",
    "FakeVerifier",
    "InMemoryCatalog",
    "InMemoryPool",
    "InMemoryPublishTarget",
    "RecordingProgress",
    "StaticFetcher",
    "StaticFormat",
    "StaticResponse",
    "fake_signed_package",
]
