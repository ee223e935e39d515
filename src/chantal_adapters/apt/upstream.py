"""Read an APT upstream: Release/InRelease (verified), then the Packages/Sources indexes.

Flow for each suite of the repository (``apt.distributions`` or ``apt.distribution``):

1. ``dists/<suite>/InRelease``; when it is missing (HTTP 404/403/410), ``Release`` and
   ``Release.gpg``. The signature is verified with the :class:`~chantal_core.ports.Verifier`
   (on by default for APT, as apt does); the text parsed is the *verified* content.
2. ``Valid-Until`` is enforced (an expired Release is refused), unless switched off.
3. The token is the SHA256 of every Release file fetched; equal to the previous token means
   nothing else is fetched and ``None`` is returned.
4. For every component and architecture (``binary-<arch>``, ``binary-all`` when listed, and
   ``source`` with ``include_source_packages``), the best compression the Release lists is
   fetched (``.xz``, ``.gz``, ``.bz2``, ``.lzma``, ``.zst``, plain), through
   ``by-hash/SHA256/<hash>`` when the Release says ``Acquire-By-Hash: yes`` (falling back to
   the plain path when a mirror lacks the by-hash copy), and checked against the Release's
   size and checksum before being parsed, streaming.

Extras returned (all bytes; the sync stores them in the pool, deduplicated by SHA256):

* ``release:<suite>``: the verified Release text of each suite;
* ``raw:<path>``: files exactly as fetched, at their path from the repository root:
  ``dists/<suite>/InRelease`` (or ``Release`` + ``Release.gpg``) and each index parsed
  (``dists/<suite>/main/binary-amd64/Packages.xz``). In ``mode: mirror`` also every other
  compression of those indexes and the per-directory ``Release`` files the Release lists,
  so the tree can be republished byte for byte. With ``apt.include_translations`` /
  ``apt.include_contents`` also ``<component>/i18n/Translation-*`` and
  ``<component>/Contents-<arch>`` (best served compression; every one in mirror mode);
* ``apt:layout``: JSON describing the suites, components and architectures read (used by
  publishing to write indexes for exactly those, empty ones included).

Fetching only what changed: pass the previous version's extras as ``previous_extras``;
an index whose Release checksum equals the SHA256 of a previous ``raw:`` blob is taken from
there instead of the network.
"""

from __future__ import annotations

import hashlib
import json
import logging
import lzma
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from chantal_adapters.apt.lazy import (
    IndexContext,
    IndexEntries,
    LazyPackages,
    scan_packages,
    scan_sources,
)
from chantal_adapters.apt.packages import (
    COMPRESSIONS,
    ReadAhead,
    open_index,
    parse_lazy_relations,
)
from chantal_adapters.apt.release import (
    CHECKSUM_FIELDS,
    IndexEntry,
    ReleaseFile,
    extra_indexes,
    parse_release,
    strip_clearsign,
)
from chantal_core.errors import (
    ChecksumMismatchError,
    ConfigError,
    FetchError,
    MetadataError,
    SignatureError,
)
from chantal_core.memory import gc_paused
from chantal_core.model import PackageRecord
from chantal_core.ports import Fetcher, Selector, UpstreamIndex, Verifier

log = logging.getLogger("chantal.apt")

#: HTTP statuses read as "this file is not there" when probing InRelease / Release.gpg.
_MISSING = frozenset({404, 403, 410})
#: Checksum tables in order of preference for verifying an index.
_STRONGEST = ("SHA512", "SHA256", "SHA1", "MD5Sum")


@attrs.frozen(kw_only=True)
class SuiteRelease:
    """The Release of one suite as fetched.

    :ivar suite: the suite as configured (``bookworm``), or the flat path.
    :ivar path: directory of the Release from the repository root (``dists/bookworm``; for
        flat repositories the configured path without trailing ``/``, possibly "").
    :ivar url: URL of that directory (no trailing ``/``).
    :ivar raw: files as fetched, path from the repository root -> bytes.
    :ivar text: the (verified) Release text.
    :ivar release: the parsed Release.
    :ivar fingerprint: the signing key's fingerprint, or ``None`` when not verified.
    """

    suite: str
    path: str
    url: str
    raw: Mapping[str, bytes]
    text: bytes
    release: ReleaseFile
    fingerprint: str | None = None
    flat: bool = False


@attrs.frozen(kw_only=True)
class IndexTarget:
    """One index to read: ``<component>/binary-<arch>/Packages`` or ``.../source/Sources``.

    :ivar directory: directory relative to the Release (``main/binary-amd64``; "" flat).
    :ivar basename: ``Packages`` or ``Sources``.
    :ivar component: component it belongs to (``None`` for flat repositories).
    :ivar arch: architecture (``source`` for Sources).
    :ivar optional: missing from the Release is not an error (``binary-all``).
    """

    directory: str
    basename: str
    component: str | None
    arch: str
    optional: bool = False

    def relpath(self, suffix: str = "") -> str:
        """Path relative to the Release directory, with a compression suffix."""
        name = self.basename + suffix
        return f"{self.directory}/{name}" if self.directory else name


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def _settings(repo: Any) -> tuple[str, Any, list[str]]:
    feed = getattr(repo, "feed", None) or getattr(repo, "url", None)
    if not feed:
        raise ConfigError(f"repository {getattr(repo, 'id', '?')}: APT upstream needs 'feed'")
    apt = getattr(repo, "apt", None)
    if apt is None:
        raise ConfigError(f"repository {getattr(repo, 'id', '?')}: missing 'apt' section")
    suites_fn = getattr(apt, "suites", None)
    if callable(suites_fn):
        suites = list(suites_fn())
    else:
        suites = list(getattr(apt, "distributions", ()) or ())
        if not suites and getattr(apt, "distribution", None):
            suites = [apt.distribution]
    if not suites:
        raise ConfigError(f"repository {getattr(repo, 'id', '?')}: apt.distribution is not set")
    return str(feed).rstrip("/"), apt, suites


def verification_opted_out(repo: Any) -> bool:
    """Whether the repository switched APT signature checking off explicitly.

    APT upstreams are verified by default (as apt does); the opt-out is a ``verify`` section
    with ``enabled: false`` (or ``repo_gpgcheck: false``) on the repository.
    """
    verify = getattr(repo, "verify", None)
    if verify is None:
        return False
    return not getattr(verify, "enabled", True) or not getattr(verify, "repo_gpgcheck", True)


def _policy(repo: Any, verifier: Verifier | None, name: str) -> str:
    for holder in (getattr(verifier, "policy", None), getattr(repo, "verify", None)):
        value = getattr(holder, name, None)
        if isinstance(value, str):
            return value
    return "fail"


def _fetch_optional(fetcher: Fetcher, url: str) -> bytes | None:
    try:
        return fetcher.get_bytes(url)
    except FetchError as exc:
        if exc.status in _MISSING:
            return None
        raise


def fetch_release(
    fetcher: Fetcher,
    *,
    feed: str,
    suite: str,
    flat: bool = False,
    verifier: Verifier | None,
    opted_out: bool,
    on_missing: str = "fail",
    on_invalid: str = "fail",
) -> SuiteRelease:
    """Fetch and verify one suite's InRelease, or Release + Release.gpg.

    :param feed: repository root URL (no trailing ``/``).
    :param suite: the suite (``bookworm``) or, with ``flat``, the path of a flat repository.
    :param verifier: checks signatures; ``None`` is allowed only with ``opted_out``.
    :param opted_out: the repository switched signature checking off.
    :param on_missing: ``fail`` | ``warn`` | ``skip`` for an unsigned upstream.
    :param on_invalid: ``fail`` | ``warn`` | ``skip`` for a signature that does not verify.
    :raises SignatureError: unsigned, bad signature, unknown key, or no verifier while
        checking is on (naming the URL).
    :raises FetchError: the Release cannot be fetched.
    :raises MetadataError: the Release cannot be parsed.
    """
    path = suite.strip("/") if flat else _join("dists", suite)
    url = _join(feed, path) if path else feed
    raw: dict[str, bytes] = {}
    fingerprint = None
    in_release = _fetch_optional(fetcher, f"{url}/InRelease")
    if in_release is not None:
        source = f"{url}/InRelease"
        raw[_join(path, "InRelease")] = in_release
        signed = in_release.lstrip().startswith(b"-----BEGIN PGP SIGNED MESSAGE-----")
        text: bytes | None = None
        if not signed:
            text = in_release
            _unsigned(source, opted_out=opted_out, on_missing=on_missing)
        elif not opted_out:
            if verifier is None:
                raise SignatureError(
                    f"{source}: cannot verify the signature: no trusted keys configured",
                    hint="configure verify.key_files, or set verify.enabled: false")
            try:
                verified = verifier.verify_clear(in_release, source=source)
                text, fingerprint = verified.content, verified.fingerprint
            except SignatureError as exc:
                _invalid(exc, on_invalid)
        if text is None:
            text = strip_clearsign(in_release, source=source)
    else:
        source = f"{url}/Release"
        text = fetcher.get_bytes(source)
        raw[_join(path, "Release")] = text
        signature = _fetch_optional(fetcher, f"{url}/Release.gpg")
        if signature is None:
            _unsigned(source, opted_out=opted_out, on_missing=on_missing,
                      detail="neither InRelease nor Release.gpg exists")
        else:
            raw[_join(path, "Release.gpg")] = signature
            if not opted_out:
                if verifier is None:
                    raise SignatureError(
                        f"{source}: cannot verify the signature: no trusted keys configured",
                        hint="configure verify.key_files, or set verify.enabled: false")
                try:
                    fingerprint = verifier.verify_detached(
                        text, signature, source=f"{url}/Release.gpg").fingerprint
                except SignatureError as exc:
                    _invalid(exc, on_invalid)
    release = parse_release(text, source=source)
    return SuiteRelease(suite=suite, path=path, url=url, raw=raw, text=text, release=release,
                        fingerprint=fingerprint, flat=flat)


def _unsigned(source: str, *, opted_out: bool, on_missing: str,
              detail: str = "not clear-signed") -> None:
    if opted_out or on_missing == "skip":
        return
    if on_missing == "warn":
        log.warning("%s: upstream is not signed (%s); continuing (on_missing_signature: warn)",
                    source, detail)
        return
    raise SignatureError(f"{source}: upstream is not signed ({detail})",
                         hint="set verify.on_missing_signature: warn, or verify.enabled: false")


def _invalid(exc: SignatureError, on_invalid: str) -> None:
    if on_invalid == "skip":
        return
    if on_invalid == "warn":
        log.warning("%s; continuing (on_invalid_signature: warn)", exc)
        return
    raise exc


def plan_targets(suite: SuiteRelease, apt: Any, *, skip_redundant_all: bool = True
                 ) -> tuple[list[IndexTarget], list[str], list[str]]:
    """The indexes to read for one suite, with the components and architectures chosen.

    Components/architectures: the configured ones, or all the Release lists (``source``
    excluded from architectures). ``binary-all`` is read when ``all`` is configured or
    listed, and only if the Release has it (its packages also appear in ``binary-<arch>``).
    When the Release says ``No-Support-for-Architecture-all: Packages`` (Debian's archive
    does), the ``Architecture: all`` packages are listed in every ``binary-<arch>`` index
    and clients ignore ``binary-all`` (DebianRepository/Format on the Debian wiki; apt
    does not fetch it then): with ``skip_redundant_all`` it is not read either, unless
    ``all`` is configured explicitly.

    :param skip_redundant_all: ``False`` (mirror mode) reads ``binary-all`` all the same.

    :returns: ``(targets, components, architectures)``.
    :raises MetadataError: a configured component or architecture the Release does not list.
    """
    release = suite.release
    include_sources = bool(getattr(apt, "include_source_packages", False))
    if suite.flat:
        targets = [IndexTarget(directory="", basename="Packages", component=None, arch="*")]
        if include_sources:
            targets.append(IndexTarget(directory="", basename="Sources", component=None,
                                       arch="source", optional=True))
        return targets, [], []
    listed_components = list(release.components)
    listed_archs = [a for a in release.architectures if a != "source"]
    components = list(getattr(apt, "components", ()) or ()) or listed_components
    archs = list(getattr(apt, "architectures", ()) or ()) or listed_archs
    if not components:
        raise MetadataError(release.source, "Release lists no Components and none configured")
    if listed_components:
        unknown = [c for c in components if c not in listed_components
                   and c.split("/")[-1] not in listed_components]
        if unknown:
            raise MetadataError(release.source,
                                f"component(s) {unknown} not provided; upstream lists "
                                f"{' '.join(listed_components)}")
    if listed_archs:
        unknown = [a for a in archs if a not in listed_archs and a != "all"]
        if unknown:
            raise MetadataError(release.source,
                                f"architecture(s) {unknown} not provided; upstream lists "
                                f"{' '.join(listed_archs)}")
    redundant_all = skip_redundant_all and (
        (release.get("No-Support-for-Architecture-all") or "").strip() == "Packages")
    targets = []
    for component in components:
        for arch in archs:
            targets.append(IndexTarget(directory=f"{component}/binary-{arch}",
                                       basename="Packages", component=component, arch=arch,
                                       optional=arch == "all"))
        if "all" not in archs and not redundant_all:
            targets.append(IndexTarget(directory=f"{component}/binary-all",
                                       basename="Packages", component=component, arch="all",
                                       optional=True))
        if include_sources:
            targets.append(IndexTarget(directory=f"{component}/source", basename="Sources",
                                       component=component, arch="source"))
    return targets, components, archs


def choose_variant(release: ReleaseFile, target: IndexTarget) -> IndexEntry | None:
    """The best compression of ``target`` the Release lists, or ``None``."""
    for suffix in COMPRESSIONS:
        entry = release.files.get(target.relpath(suffix))
        if entry is not None:
            return entry
    return None


def verify_content(data: bytes, entry: IndexEntry, *, source: str) -> None:
    """Check ``data`` against the Release's size and strongest checksum.

    :raises ChecksumMismatchError: size or checksum differ (naming ``source``).
    :raises MetadataError: the Release gives no checksum for the file.
    """
    if len(data) != entry.size:
        raise ChecksumMismatchError(source, str(entry.size), str(len(data)), kind="size")
    for table in _STRONGEST:
        expected = entry.checksums.get(table)
        if expected:
            actual = hashlib.new(CHECKSUM_FIELDS[table][1], data).hexdigest()
            if actual != expected.lower():
                raise ChecksumMismatchError(source, expected, actual,
                                            kind=CHECKSUM_FIELDS[table][1])
            return
    raise MetadataError(source, "the Release gives no checksum for this file")


class _Cache:
    """Previous ``raw:`` blobs by SHA256 (see ``previous_extras``)."""

    def __init__(self, previous: Mapping[str, bytes] | None) -> None:
        self._previous = previous or {}
        self._by_sha: dict[str, bytes] | None = None

    def get(self, sha256: str | None) -> bytes | None:
        if not sha256 or not self._previous:
            return None
        if self._by_sha is None:
            self._by_sha = {hashlib.sha256(data).hexdigest(): data
                            for key, data in self._previous.items() if key.startswith("raw:")}
        return self._by_sha.get(sha256)


def fetch_index(fetcher: Fetcher, suite: SuiteRelease, entry: IndexEntry,
                cache: _Cache | None = None) -> tuple[bytes, str]:
    """Fetch one file listed in a Release, verified (from ``cache`` when it has it).

    Uses ``by-hash/SHA256/<hash>`` when the Release says ``Acquire-By-Hash: yes``, falling
    back to the plain path on a 404.

    :returns: ``(content, url)``.
    :raises ChecksumMismatchError: content differs from the Release (naming the URL).
    :raises FetchError: the file cannot be fetched.
    """
    plain = f"{suite.url}/{entry.path}"
    cached = cache.get(entry.sha256) if cache is not None else None
    if cached is not None:
        verify_content(cached, entry, source=plain)
        return cached, plain
    urls = []
    if suite.release.acquire_by_hash and entry.sha256:
        directory, _, _name = entry.path.rpartition("/")
        urls.append(_join(suite.url, directory, "by-hash", "SHA256", entry.sha256))
    urls.append(plain)
    for index, url in enumerate(urls):
        try:
            data = fetcher.get_bytes(url)
        except FetchError as exc:
            if index + 1 < len(urls) and exc.status in _MISSING:
                continue
            raise
        verify_content(data, entry, source=url)
        return data, url
    raise AssertionError("unreachable")  # pragma: no cover


def _scan_target(data: bytes, url: str, path: str, target: IndexTarget, suite: str,
                 prefix: str) -> IndexEntries:
    """The entries of one index (:func:`~chantal_adapters.apt.lazy.scan_packages`;
    ``Sources``: records), decompressed in a background thread while scanning."""
    context = IndexContext(component=target.component, source=url, suite=suite,
                           prefix=prefix)
    # the file name (not the URL: by-hash URLs have no extension) selects the decompressor
    stream = ReadAhead(open_index(data, path))
    try:
        if target.basename == "Sources":
            return scan_sources(stream, context)
        return scan_packages(stream, context)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise MetadataError(url or path, f"cannot decompress index: {exc}") from exc
    finally:
        stream.close()


def read_apt_upstream(
    repo: Any,
    fetcher: Fetcher,
    *,
    previous_token: str | None,
    select: Selector | None = None,
    verifier: Verifier | None = None,
    details: bool = True,
    previous_extras: Mapping[str, bytes] | None = None,
    check_valid_until: bool = True,
    clock: Callable[[], float] = time.time,
) -> UpstreamIndex | None:
    """Read an APT upstream (see the module docstring for the flow and the extras).

    :param repo: the repository configuration (``feed``, ``mode``, ``apt``, ``verify``).
    :param fetcher: fetches URLs.
    :param previous_token: the token of the last successful sync.
    :param select: applied to all records read (after deduplication by SHA256).
    :param verifier: checks signatures (required unless :func:`verification_opted_out`).
    :param details: ``False`` (check-updates): skip the mirror-mode extra files.
    :param previous_extras: the previous version's extras; unchanged indexes are taken from
        their ``raw:`` blobs instead of being fetched again.
    :param check_valid_until: refuse a Release whose ``Valid-Until`` has passed.
    :param clock: current time, seconds since the epoch.
    :returns: the index, or ``None`` when the Release files equal ``previous_token``'s.
    :raises ConfigError: no ``feed`` or no suite configured.
    :raises SignatureError, FetchError, MetadataError, ChecksumMismatchError:
    """
    feed, apt, suites = _settings(repo)
    flat = bool(getattr(apt, "flat_repository", False))
    opted_out = verification_opted_out(repo)
    if verifier is None and not opted_out:
        raise SignatureError(
            f"repository {getattr(repo, 'id', feed)}: APT upstream signatures are verified by "
            "default but no verifier (trusted keyring) was given",
            hint="configure verify.key_files, or set verify.enabled: false to opt out")
    on_missing = _policy(repo, verifier, "on_missing_signature")
    on_invalid = _policy(repo, verifier, "on_invalid_signature")
    releases = [
        fetch_release(fetcher, feed=feed, suite=suite, flat=flat, verifier=verifier,
                      opted_out=opted_out, on_missing=on_missing, on_invalid=on_invalid)
        for suite in suites
    ]
    now = clock()
    if check_valid_until and getattr(apt, "check_valid_until", True):
        for suite_release in releases:
            suite_release.release.check_valid_until(now)
    digest = hashlib.sha256()
    for suite_release in releases:
        for path, data in sorted(suite_release.raw.items()):
            digest.update(f"{path}\0{len(data)}\0".encode())
            digest.update(data)
    token = digest.hexdigest()
    if previous_token is not None and previous_token == token:
        return None

    with gc_paused():
        return _read_indexes(repo, fetcher, releases, apt, token=token, feed=feed,
                             select=select, verifier=verifier, opted_out=opted_out,
                             details=details, previous_extras=previous_extras)


def _read_indexes(repo: Any, fetcher: Fetcher, releases: Sequence[SuiteRelease], apt: Any, *,
                  token: str, feed: str, select: Selector | None, verifier: Verifier | None,
                  opted_out: bool, details: bool,
                  previous_extras: Mapping[str, bytes] | None) -> UpstreamIndex:
    """The indexes of every suite read, parsed, deduplicated and selected (the second half
    of :func:`read_apt_upstream`, run with the cyclic garbage collector paused)."""
    mirror = getattr(repo, "mode", "filtered") == "mirror"
    cache = _Cache(previous_extras)
    extras: dict[str, bytes] = {}
    layout: list[dict[str, Any]] = []
    indexes: list[IndexEntries] = []
    for suite_release in releases:
        release = suite_release.release
        extras[f"release:{suite_release.suite}"] = suite_release.text
        for path, data in suite_release.raw.items():
            extras[f"raw:{path}"] = data
        if mirror and details:
            _mirror_release_files(fetcher, suite_release, verifier, opted_out, extras)
        targets, components, archs = plan_targets(suite_release, apt,
                                                  skip_redundant_all=not mirror)
        found = 0
        for target in targets:
            entry = choose_variant(release, target)
            if entry is None:
                if not target.optional and not suite_release.flat:
                    log.info("%s: %s not listed in the Release; read as empty",
                             release.source, target.relpath())
                continue
            data, url = fetch_index(fetcher, suite_release, entry, cache)
            found += 1
            extras[f"raw:{_join(suite_release.path, entry.path)}"] = data
            # flat repositories: Filename is relative to the Release's directory
            prefix = suite_release.path if suite_release.flat else ""
            indexes.append(_scan_target(data, url, entry.path, target, suite_release.suite,
                                        prefix))
            if mirror and details:
                _mirror_companions(fetcher, suite_release, target, entry, cache, extras)
        if details and not suite_release.flat:
            _fetch_extra_indexes(fetcher, suite_release, apt, components, archs, cache,
                                 extras, every_variant=mirror)
        if found == 0:
            wanted = ", ".join(t.relpath() for t in targets if not t.optional) or "Packages"
            raise MetadataError(release.source,
                                f"the Release lists none of the indexes to read ({wanted})")
        layout.append({
            "suite": suite_release.suite,
            "path": suite_release.path,
            "flat": suite_release.flat,
            "components": components,
            "architectures": archs,
            "sources": bool(getattr(apt, "include_source_packages", False)),
        })
    extras["apt:layout"] = json.dumps({"suites": layout}, sort_keys=True).encode()
    # records are built when the selection asks for them (see chantal_core.records)
    unique: Sequence[PackageRecord] = LazyPackages(indexes)
    del indexes
    unique = select(unique) if select is not None else list(unique)
    # the records kept are stored with their metadata: their relationship fields are
    # parsed here, while the collector is paused (the others are never parsed)
    parse_lazy_relations(unique)
    revision = "; ".join(
        f"{r.suite} {r.release.get('Date')}" if len(releases) > 1 else str(r.release.get("Date"))
        for r in releases if r.release.get("Date"))
    return UpstreamIndex(token=token, revision=revision, packages=list(unique), extras=extras,
                         base_urls=(feed + "/",))


def _mirror_release_files(fetcher: Fetcher, suite: SuiteRelease, verifier: Verifier | None,
                          opted_out: bool, extras: dict[str, bytes]) -> None:
    """Mirror mode: ``Release`` and ``Release.gpg`` besides ``InRelease``, when upstream has
    them; ``Release`` must be exactly the signed text of ``InRelease``."""
    release_path = _join(suite.path, "Release")
    if release_path in suite.raw:
        return  # read through Release already
    release = _fetch_optional(fetcher, f"{suite.url}/Release")
    if release is None:
        return
    if release != suite.text:
        raise MetadataError(f"{suite.url}/Release",
                            "differs from the signed content of InRelease")
    extras[f"raw:{release_path}"] = release
    signature = _fetch_optional(fetcher, f"{suite.url}/Release.gpg")
    if signature is None:
        return
    if verifier is not None and not opted_out:
        verifier.verify_detached(release, signature, source=f"{suite.url}/Release.gpg")
    extras[f"raw:{_join(suite.path, 'Release.gpg')}"] = signature


def _mirror_companions(fetcher: Fetcher, suite: SuiteRelease, target: IndexTarget,
                       parsed: IndexEntry, cache: _Cache,
                       extras: dict[str, bytes]) -> None:
    """Mirror mode: the other compressions of an index and its directory's Release."""
    wanted = [target.relpath(suffix) for suffix in COMPRESSIONS]
    if target.directory:
        wanted.append(f"{target.directory}/Release")
    for relpath in wanted:
        entry = suite.release.files.get(relpath)
        if entry is None or relpath == parsed.path:
            continue
        data, _url = fetch_index(fetcher, suite, entry, cache)
        extras[f"raw:{_join(suite.path, relpath)}"] = data


def _fetch_extra_indexes(fetcher: Fetcher, suite: SuiteRelease, apt: Any,
                         components: Sequence[str], archs: Sequence[str], cache: _Cache,
                         extras: dict[str, bytes], *, every_variant: bool) -> None:
    """``apt.include_translations`` / ``apt.include_contents``: the Translation and Contents
    files the Release lists (see :func:`~chantal_adapters.apt.release.extra_indexes`),
    verified against the Release, kept as ``raw:<path>`` extras.

    The best listed compression that the mirror serves is kept (a listed file answering
    404/403/410 is skipped: Debian lists uncompressed files it does not serve); with
    ``every_variant`` (``mode: mirror``) every served variant is kept, and Translation files
    are kept whatever ``include_translations`` says: the republished Release lists them and
    apt fetches them (404 would fail ``apt-get update``).
    """
    wanted = extra_indexes(suite.release, components, archs,
                           # a republished upstream Release lists them: apt fetches them
                           translations=every_variant or bool(
                               getattr(apt, "include_translations", False)),
                           contents=bool(getattr(apt, "include_contents", False)))
    for extra in wanted:
        kept = 0
        for entry in extra.variants:
            try:
                data, _url = fetch_index(fetcher, suite, entry, cache)
            except FetchError as exc:
                if exc.status in _MISSING:
                    continue
                raise
            extras[f"raw:{_join(suite.path, entry.path)}"] = data
            kept += 1
            if not every_variant:
                break
        if not kept:
            log.warning("%s: %s is listed but none of its files is served; skipped",
                        suite.release.source, extra.name)


__all__ = [
    "IndexTarget",
    "SuiteRelease",
    "choose_variant",
    "fetch_index",
    "fetch_release",
    "plan_targets",
    "read_apt_upstream",
    "verification_opted_out",
    "verify_content",
]
