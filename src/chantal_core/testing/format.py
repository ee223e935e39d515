""":class:`StaticFormat`: a pure, minimal :class:`~chantal_core.ports.RepositoryFormat`.

Its upstream is one text file, ``<feed>/index``, one package per line::

    name epoch version release arch sha256 size location

(fields separated by single spaces; blank lines and lines starting with ``#`` are ignored).
Publishing writes the same file and places every package at its ``location``. It lets
use cases and the format contract suite run without XML, Deb822 or system tools.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from chantal_core.errors import MetadataError, PublishError
from chantal_core.model import PackageRecord
from chantal_core.ports import (
    Fetcher,
    PublishOptions,
    Selector,
    TreeBuilder,
    UpstreamIndex,
    Verifier,
)
from chantal_core.testing.publish import check_relpath
from chantal_core.versions.rpm import RpmEvrKey, rpm_record_key

__all__ = ["INDEX", "StaticFormat", "parse_index", "render_index", "upstream_files"]

#: Name of the index file, relative to the repository root.
INDEX = "index"

_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_FIELDS = 8


def _feed(repo: Any) -> str:
    feed = getattr(repo, "feed", None)
    if not feed:
        raise MetadataError(f"repository {getattr(repo, 'id', '?')}",
                            "static upstream needs a 'feed' URL")
    return str(feed).rstrip("/") + "/"


def parse_index(data: bytes, *, source: str, package_format: str = "rpm"
                ) -> list[PackageRecord]:
    """Parse a static index into package records.

    :param data: the index bytes (UTF-8), one package per line as described in the module.
    :param source: URL named in errors.
    :param package_format: :attr:`PackageRecord.format` of the records.
    :returns: the records in file order; ``filename`` is the last component of ``location``.
    :raises MetadataError: not UTF-8, a line without exactly 8 fields, a non-integer epoch
        or size, a malformed SHA256 or an unsafe location (naming ``source`` and the line).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MetadataError(source, f"not UTF-8: {exc}") from exc
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        if len(fields) != _FIELDS:
            raise MetadataError(source, f"line {number}: expected {_FIELDS} fields "
                                        f"(name epoch version release arch sha256 size "
                                        f"location), found {len(fields)}")
        name, epoch, version, release, arch, sha256, size, location = fields
        if not epoch.isdigit() or not size.isdigit():
            raise MetadataError(source, f"line {number}: epoch and size must be integers")
        if not _SHA256_RE.fullmatch(sha256):
            raise MetadataError(source, f"line {number}: invalid SHA256 {sha256!r}")
        try:
            location = check_relpath(location)
        except PublishError as exc:
            raise MetadataError(source, f"line {number}: unsafe location {location!r}"
                                ) from exc
        records.append(PackageRecord(
            format=package_format, name=name, epoch=int(epoch), version=version,
            release=release, arch=arch, sha256=sha256, size=int(size),
            filename=location.rsplit("/", 1)[-1], location=location,
            checksum_type="sha256", checksum=sha256))
    return records


def render_index(packages: Sequence[PackageRecord]) -> bytes:
    """Render records as a static index (the inverse of :func:`parse_index`).

    :param packages: records with a SHA256 and a location.
    :returns: UTF-8 bytes, one line per record, in the given order.
    :raises PublishError: a record lacks its SHA256, or a field contains whitespace.
    """
    lines = []
    for record in packages:
        if not record.sha256:
            raise PublishError(f"{record.nevra}: record has no SHA256; cannot publish it")
        fields = [record.name, str(record.epoch), record.version, record.release,
                  record.arch, record.sha256, str(record.size), record.location]
        if any(not f or any(c.isspace() for c in f) for f in fields):
            raise PublishError(f"{record.nevra}: empty field or whitespace in a field")
        lines.append(" ".join(fields) + "\n")
    return "".join(lines).encode("utf-8")


def upstream_files(packages: Mapping[str, bytes]) -> dict[str, bytes]:
    """The files of a StaticFormat upstream holding ``packages``.

    :param packages: ``name-version-release.arch`` (epoch 0) -> the package file's bytes.
    :returns: relative path -> bytes: ``index`` plus each file at ``Packages/<nevra>.rpm``,
        ready for :meth:`StaticFetcher.serving <chantal_core.testing.StaticFetcher.serving>`.
    """
    lines = []
    files: dict[str, bytes] = {}
    for nevra, body in packages.items():
        name, evr_arch = nevra.split("-", 1)
        version, rest = evr_arch.split("-", 1)
        release, arch = rest.rsplit(".", 1)
        location = f"Packages/{nevra}.rpm"
        digest = hashlib.sha256(body).hexdigest()
        lines.append(f"{name} 0 {version} {release} {arch} {digest} {len(body)} {location}\n")
        files[location] = body
    files[INDEX] = "".join(lines).encode()
    return files


class StaticFormat:
    """A fake repository format over a one-file upstream; see the module docstring.

    Versions order as rpm's ``rpmvercmp`` (:func:`chantal_core.versions.rpm.rpm_record_key`).

    :param name: the repository ``type`` it answers to.
    :param package_format: the :attr:`PackageRecord.format` of its records.
    """

    def __init__(self, name: str = "static", package_format: str = "rpm") -> None:
        self.name = name
        self.package_format = package_format

    def __repr__(self) -> str:
        return f"StaticFormat(name={self.name!r}, package_format={self.package_format!r})"

    def version_key(self, record: PackageRecord) -> RpmEvrKey:
        """Sort key ordering records as rpm's ``rpmvercmp`` (epoch, version, release)."""
        return rpm_record_key(record)

    def read_upstream(
        self,
        repo: Any,
        fetcher: Fetcher,
        *,
        previous_token: str | None,
        select: Selector | None = None,
        verifier: Verifier | None = None,
        details: bool = True,
        previous_extras: Mapping[str, bytes] | None = None,
    ) -> UpstreamIndex | None:
        """Fetch ``<repo.feed>/index`` (one request) and parse it.

        :param repo: anything with a ``feed`` attribute (base URL).
        :param fetcher: used for the single GET.
        :param previous_token: when equal to the index's SHA256, ``None`` is returned.
        :param select: applied to the parsed records; its result is the index's packages.
        :param verifier: ignored (the static format has no signatures).
        :param details: ignored (there are no per-package details).
        :param previous_extras: ignored.
        :returns: token = SHA256 (hex) of the index bytes, revision = the first 12 digits
            of it, packages, no extras, base URL = the feed; or ``None`` when unchanged.
        :raises FetchError: the index cannot be fetched.
        :raises MetadataError: the index is malformed, or ``repo`` has no feed.
        """
        base = _feed(repo)
        url = base + INDEX
        data = fetcher.get_bytes(url)
        token = hashlib.sha256(data).hexdigest()
        if previous_token is not None and previous_token == token:
            return None
        records: Sequence[PackageRecord] = parse_index(
            data, source=url, package_format=self.package_format)
        if select is not None:
            records = select(records)
        return UpstreamIndex(token=token, revision=token[:12], packages=list(records),
                             extras={}, base_urls=(base,))

    def publish(self, tree: TreeBuilder, packages: Sequence[PackageRecord],
                extras: Mapping[str, bytes], options: PublishOptions) -> None:
        """Write ``index`` and place each package at its ``location`` (not committed).

        :param extras: ignored (the format has none).
        :param options: ignored (nothing to compress or sign).
        :raises PublishError: a record lacks its SHA256 or has an unsafe location, or two
            records share a location.
        """
        seen: dict[str, str] = {}
        for record in packages:
            location = check_relpath(record.location)
            if location == INDEX or seen.get(location, record.sha256) != record.sha256:
                raise PublishError(f"{record.nevra}: location {location!r} is used twice")
            seen[location] = record.sha256
        tree.write_file(INDEX, render_index(packages))
        for record in packages:
            tree.link_from_pool(check_relpath(record.location), record.sha256)
