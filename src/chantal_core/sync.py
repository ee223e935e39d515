"""The sync use case: upstream index -> filters -> plan -> downloads -> one catalog commit.

Decide purely, then act: :func:`plan_sync` computes a :class:`SyncPlan` from values only;
:func:`sync_repository` runs it against the ports. ``--dry-run`` shows the plan and stops.

Failure leaves the pool and catalog as they were: files are verified while streaming and
renamed into the pool only when complete; files this run added are removed again when
the run fails before its catalog commit; the catalog is written in one transaction.

With :attr:`SyncSettings.package_signatures` (RPM ``gpgcheck``), each newly downloaded
file's own signature is checked right after it reaches the pool (in the download worker,
so a failure stops the remaining downloads early) and before the commit; the repository's
``on_missing_signature``/``on_invalid_signature`` policies decide what a missing or invalid
signature does (see :func:`judge_package_signature`). Files the pool already held from
earlier syncs are not checked again.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any

import attrs

from chantal_core.errors import ChantalError, FetchError, MetadataError, SignatureError
from chantal_core.filters import PackageFilter, apply_filter, prefilter
from chantal_core.model import PackageRecord, SyncHistoryEntry
from chantal_core.ports import (
    Catalog,
    ContentPool,
    DurableBatchPool,
    Fetcher,
    PackageSignatureCheck,
    PackageSignatureChecker,
    Progress,
    RepositoryFormat,
    Selector,
    SyncCommit,
    UpstreamIndex,
    Verifier,
)
from chantal_core.progress import NullProgress
from chantal_core.records import LazyRecords
from chantal_core.retention import MIRROR, apply_retention

Clock = Callable[[], float]

#: Signature policies (``verify.on_missing_signature`` / ``on_invalid_signature``).
SIGNATURE_POLICIES = ("fail", "warn", "skip")


def _check_policy(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in SIGNATURE_POLICIES:
        raise ValueError(f"{attribute.name}: {value!r} is not one of fail, warn, skip")


@attrs.frozen(kw_only=True)
class PackageSignaturePolicy:
    """Per-package signature checking (RPM ``gpgcheck``) for one repository.

    :ivar checker: checks a downloaded file's own signature (compared by identity).
    :ivar on_missing: ``fail`` | ``warn`` | ``skip`` for a package without a signature
        (``verify.on_missing_signature``).
    :ivar on_invalid: ``fail`` | ``warn`` | ``skip`` for a signature by an untrusted key
        or one that does not verify (``verify.on_invalid_signature``).
    :raises ValueError: a policy other than fail, warn or skip.
    """

    checker: PackageSignatureChecker = attrs.field(eq=False)
    on_missing: str = attrs.field(default="fail", validator=_check_policy)
    on_invalid: str = attrs.field(default="fail", validator=_check_policy)


def _record_tuple(value: Iterable[PackageRecord]) -> tuple[PackageRecord, ...]:
    return tuple(value)


def _pair_tuple(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class ExplainedSelection:
    """What a :attr:`SyncSettings.select_extra` step may return instead of plain records:
    the records plus why some of them were selected (shown by ``repo sync --dry-run``).

    :ivar records: the selected records.
    :ivar reasons: record key (SHA256, or ``<checksum type>:<checksum>`` without one) ->
        why the step added it (``required by foo-1.0-1.noarch (libbar >= 2)``).
    :ivar unsatisfied: ``(NEVRA, dependency)`` the step could not satisfy.
    """

    records: tuple[PackageRecord, ...] = attrs.field(converter=_record_tuple)
    reasons: Mapping[str, str] = attrs.field(factory=dict)
    unsatisfied: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pair_tuple)


@attrs.frozen(kw_only=True)
class SyncSettings:
    """How one repository is synced (derived from its configuration by the caller).

    :ivar repo_id: repository id.
    :ivar package_filter: the repository's filters.
    :ivar retention: retention policy name (see :mod:`chantal_core.retention`).
    :ivar keep_count: N for ``keep-last-n``.
    :ivar config_hash: hash of the repository's effective configuration; a change forces a
        full sync even when upstream did not change.
    :ivar workers: parallel downloads (>= 1).
    :ivar select_extra: an extra selection step after the filters (e.g. dependency closure),
        given (filtered records, all upstream records); it returns the records to keep, or
        an :class:`ExplainedSelection` whose reasons end up in :attr:`SyncPlan.closure_reasons`.
    :ivar package_signatures: check each downloaded file's own signature (RPM
        ``gpgcheck``), or ``None`` not to.
    :ivar always_read: read and plan even when upstream and the configuration are unchanged
        since the last sync (a joint closure depends on other repositories' upstreams).
    """

    repo_id: str
    package_filter: PackageFilter = attrs.field(factory=PackageFilter)
    retention: str = MIRROR
    keep_count: int | None = None
    config_hash: str = ""
    workers: int = 8
    select_extra: Callable[[Sequence[PackageRecord], Sequence[PackageRecord]],
                           Sequence[PackageRecord] | ExplainedSelection] | None = None
    package_signatures: PackageSignaturePolicy | None = None
    always_read: bool = False


@attrs.frozen(kw_only=True)
class Conflict:
    """Same name+EVR+arch as a package already in the repository, but another file.

    :ivar nevra: the package identity.
    :ivar known_sha256: SHA256 of the file already in the repository (kept).
    :ivar upstream_sha256: SHA256 (or upstream checksum) of upstream's file (not taken).
    """

    nevra: str
    known_sha256: str
    upstream_sha256: str


@attrs.frozen(kw_only=True)
class SyncPlan:
    """What a sync will do; computed purely.

    :ivar content: the records of the next version.
    :ivar download: records whose files the pool lacks (a subset of ``content``).
    :ivar added: records new to the repository.
    :ivar removed: records leaving the repository.
    :ivar conflicts: upstream files that clash with known ones (the known file is kept).
    :ivar upstream_total: records upstream lists before filters.
    :ivar closure_reasons: for content records the selection step added (dependency
        closure): record key (SHA256) -> why (``required by <nevra> (<dependency>)``).
    :ivar closure_unsatisfied: ``(NEVRA, dependency)`` the selection step could not satisfy.
    """

    content: tuple[PackageRecord, ...]
    download: tuple[PackageRecord, ...]
    added: tuple[PackageRecord, ...]
    removed: tuple[PackageRecord, ...]
    conflicts: tuple[Conflict, ...] = ()
    upstream_total: int = 0
    closure_reasons: Mapping[str, str] = attrs.field(factory=dict)
    closure_unsatisfied: tuple[tuple[str, str], ...] = ()

    @property
    def download_bytes(self) -> int:
        """Bytes to download."""
        return sum(r.size for r in self.download)


@attrs.frozen(kw_only=True)
class SyncReport:
    """The outcome of one sync.

    :ivar repo_id: repository id.
    :ivar status: ``"updated"``, ``"unchanged"`` (content equal), ``"up-to-date"``
        (upstream not changed, nothing fetched but the top index) or ``"dry-run"``.
    :ivar version: the repository version after the sync, or ``None``.
    :ivar plan: the plan executed (``None`` when up to date).
    :ivar bytes_downloaded: bytes of package files fetched.
    :ivar files_downloaded: number of package files fetched.
    :ivar duration: seconds.
    :ivar revision: upstream revision.
    :ivar warnings: problems accepted under a ``warn`` policy (package signatures), one
        line each, naming the file and its URL.
    """

    repo_id: str
    status: str
    version: int | None
    plan: SyncPlan | None = None
    bytes_downloaded: int = 0
    files_downloaded: int = 0
    duration: float = 0.0
    revision: str = ""
    warnings: tuple[str, ...] = ()


def _identity(record: PackageRecord) -> tuple[str, int, str, str, str]:
    return (record.name, record.epoch, record.version, record.release, record.arch)


def _key(record: PackageRecord) -> str:
    return record.sha256 or f"{record.checksum_type}:{record.checksum}"


def _same_file(record: PackageRecord, known: PackageRecord) -> bool:
    """Whether an upstream record names the file ``known`` is: same SHA256, or, when
    upstream gives another checksum type only, the same upstream checksum."""
    if record.sha256:
        return record.sha256 == known.sha256
    return bool(record.checksum) and record.checksum == known.checksum


def resolve_known(
    upstream: Sequence[PackageRecord], current: Iterable[PackageRecord]
) -> list[PackageRecord]:
    """Fill in the SHA256 of upstream records that only carry another checksum type.

    Upstreams with sha1/sha512 pkgids do not tell the SHA256 (the pool key) before
    download; a record already in the repository with the same upstream checksum gives it.
    """
    by_checksum = {(r.checksum_type, r.checksum): r.sha256 for r in current if r.checksum}
    out = []
    for record in upstream:
        if not record.sha256:
            known = by_checksum.get((record.checksum_type, record.checksum))
            if known:
                record = attrs.evolve(record, sha256=known)
        out.append(record)
    return out


def plan_sync(
    upstream: Sequence[PackageRecord],
    current: Sequence[PackageRecord],
    *,
    settings: SyncSettings,
    version_key: Callable[[PackageRecord], Any],
    pool_has: Callable[[str], bool],
    upstream_total: int | None = None,
) -> SyncPlan:
    """Compute the next version and the downloads it needs.

    :param upstream: upstream records after filters (and closure).
    :param current: records of the repository's current version.
    :param pool_has: whether the pool holds a SHA256.
    :returns: the plan. Conflicting upstream records are left out in favour of the known file.
    """
    # An upstream may list several files under one NEVRA (two locations); each known
    # copy is remembered, and a record conflicts only when it matches none of them.
    known_by_identity: dict[tuple[str, int, str, str, str], list[PackageRecord]] = {}
    for r in current:
        known_by_identity.setdefault(_identity(r), []).append(r)
    conflicts = []
    accepted: dict[str, PackageRecord] = {}
    for record in resolve_known(upstream, current):
        known = known_by_identity.get(_identity(record), ())
        if known and not any(_same_file(record, k) for k in known):
            conflicts.append(Conflict(nevra=record.nevra, known_sha256=known[0].sha256,
                                      upstream_sha256=_key(record)))
            for k in known:
                accepted.setdefault(_key(k), k)
            continue
        accepted.setdefault(_key(record), record)
    content = apply_retention(list(accepted.values()), current, policy=settings.retention,
                              keep_count=settings.keep_count, version_key=version_key)
    current_keys = {r.sha256 for r in current}
    content_keys = {_key(r) for r in content}
    download = tuple(r for r in content if not r.sha256 or not pool_has(r.sha256))
    return SyncPlan(
        content=tuple(content),
        download=download,
        added=tuple(r for r in content if _key(r) not in current_keys),
        removed=tuple(r for r in current if r.sha256 not in content_keys),
        conflicts=tuple(conflicts),
        upstream_total=len(upstream) if upstream_total is None else upstream_total,
    )


class StoredExtras(Mapping[str, bytes]):
    """The metadata blobs of a repository's current version, read from the pool on access.

    Formats look up a few entries (an unchanged index); nothing is read until then.
    """

    def __init__(self, catalog: Catalog, pool: ContentPool, repo_id: str) -> None:
        self._catalog = catalog
        self._pool = pool
        self._repo_id = repo_id
        self._index: dict[str, str] | None = None

    def _keys(self) -> dict[str, str]:
        if self._index is None:
            self._index = self._catalog.version_extras(self._repo_id)
        return self._index

    def __getitem__(self, kind: str) -> bytes:
        sha = self._keys()[kind]
        with self._pool.open(sha) as handle:
            return handle.read()

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())


def _token(config_hash: str, upstream_token: str) -> str:
    return f"{config_hash}:{upstream_token}"


def _previous_upstream_token(stored: str | None, config_hash: str) -> str | None:
    if not stored or not stored.startswith(config_hash + ":"):
        return None
    return stored[len(config_hash) + 1:]


def _join_url(base: str, location: str) -> str:
    return base.rstrip("/") + "/" + location.lstrip("/")


def download_package(
    record: PackageRecord,
    base_urls: Sequence[str],
    *,
    fetcher: Fetcher,
    pool: ContentPool,
    progress: Progress,
    on_stored: Callable[[PackageRecord, str], None] | None = None,
) -> PackageRecord:
    """Download one package file into the pool, verifying size and checksums while streaming.

    Mirrors in ``base_urls`` are tried in order; the last error is raised when all fail.

    :param on_stored: called with (the record, ``sha256`` filled in; the URL it came from)
        as soon as the file is in the pool.
    :returns: the record, with ``sha256`` filled in when upstream did not give it.
    :raises FetchError, ChecksumMismatchError: naming the URL.
    """
    if not base_urls:
        raise MetadataError(record.location, "no base URL to download from")
    last: ChantalError | None = None
    for base in base_urls:
        url = _join_url(base, record.location)
        try:
            with fetcher.open(url) as response:
                def chunks(response: Any = response) -> Iterable[bytes]:
                    for chunk in response.iter_chunks():
                        progress.advance(len(chunk))
                        yield chunk

                expected_checksum = None
                if record.checksum and record.checksum_type not in ("", "sha256"):
                    expected_checksum = (record.checksum_type, record.checksum)
                entry = pool.put(
                    chunks(), record.filename,
                    expected_sha256=record.sha256 or None,
                    expected_size=record.size or None,
                    expected_checksum=expected_checksum,
                    source=url,
                )
            if not record.sha256:
                record = attrs.evolve(record, sha256=entry.sha256)
            if on_stored is not None:
                on_stored(record, url)
            return record
        except FetchError as exc:
            last = exc
            if len(base_urls) > 1:
                progress.message(f"mirror failed, trying the next: {exc}")
    assert last is not None
    raise last


def judge_package_signature(record: PackageRecord, check: PackageSignatureCheck,
                            policy: PackageSignaturePolicy, *, source: str) -> str | None:
    """Apply the repository's policy to one package's signature check (pure).

    A good signature passes. A missing one follows ``policy.on_missing``, an invalid one
    (untrusted key, bad signature or digest) ``policy.on_invalid``: ``fail`` raises,
    ``warn`` keeps the package and returns the warning, ``skip`` keeps it silently (the
    same policies as the index signature, ``verify.on_*_signature``).

    :param record: the downloaded package (``filename`` named in messages).
    :param check: what the :class:`~chantal_core.ports.PackageSignatureChecker` found.
    :param policy: the repository's policies.
    :param source: URL the file came from, named in messages.
    :returns: a warning line for ``warn``, else ``None``.
    :raises SignatureError: under ``fail``, naming the file, its URL and the key id; also
        for a check status other than good, missing or invalid.
    """
    where = f"package {record.filename} from {source}"
    if check.status == "good":
        return None
    if check.status == "missing":
        action = policy.on_missing
        reason = "is not signed (gpgcheck requires a signature by a trusted key)"
        setting = "on_missing_signature"
    elif check.status == "invalid":
        action = policy.on_invalid
        key = f" by key ID {check.key_id}" if check.key_id else ""
        detail = f": {check.detail}" if check.detail else ""
        reason = f"has a signature{key} that does not verify against the trusted keys{detail}"
        setting = "on_invalid_signature"
    else:
        raise SignatureError(f"{where}: unknown signature check status {check.status!r}")
    if action == "fail":
        raise SignatureError(
            f"{where} {reason}",
            hint=f"add the signing key to the repository's verify.key_files, or set "
                 f"verify.{setting}: warn (or gpgcheck: false) to accept such packages")
    if action == "warn":
        return f"{where} {reason} (kept: {setting} is warn)"
    return None


def store_extras(extras: Mapping[str, bytes], pool: ContentPool, repo_id: str,
                 added_to_pool: list[str]) -> dict[str, str]:
    """Put metadata blobs (``kind -> bytes``) into the pool, as a version's extras.

    :param added_to_pool: appended with the SHA256 of each blob the pool did not hold, so a
        caller whose commit fails can remove exactly those again.
    :returns: ``kind -> SHA256`` (the form :class:`~chantal_core.ports.SyncCommit` takes).
    :raises PoolError: a blob cannot be stored.
    """
    stored = {}
    for kind, data in extras.items():
        digest = hashlib.sha256(data).hexdigest()
        if not pool.has(digest):
            name = kind.replace("/", "_").replace(":", "_") or "blob"
            pool.put([data], name, expected_sha256=digest, source=f"{repo_id}:{kind}")
            added_to_pool.append(digest)
        stored[kind] = digest
    return stored


def sync_repository(
    repo: Any,
    *,
    settings: SyncSettings,
    fmt: RepositoryFormat,
    fetcher: Fetcher,
    pool: ContentPool,
    catalog: Catalog,
    verifier: Verifier | None = None,
    progress: Progress | None = None,
    clock: Clock = time.time,
    dry_run: bool = False,
) -> SyncReport:
    """Sync one repository.

    1. Read upstream's index through the format (nothing else fetched when upstream and
       the configuration are unchanged since the last successful sync);
    2. filter, apply retention, plan;
    3. download what the pool lacks in parallel (``settings.workers``), verified;
    4. one catalog transaction: packages, a new version if the content changed, history.

    :param repo: the repository configuration, passed to the format.
    :returns: the report; a failed sync raises instead (and records a failed history entry).
    :raises ChantalError: any fetch, metadata, signature, checksum or catalog error.
    """
    progress = progress or NullProgress()
    started = clock()
    t0 = time.monotonic()
    state = catalog.get_repository(settings.repo_id)
    previous = None
    if state is not None and state.current_version is not None and not settings.always_read:
        previous = _previous_upstream_token(state.upstream_token, settings.config_hash)
    current: list[PackageRecord] = []
    explained: list[ExplainedSelection] = []

    pre = prefilter(settings.package_filter, package_format=fmt.package_format)

    def select(records: Sequence[PackageRecord]) -> Sequence[PackageRecord]:
        candidates = records
        if pre is not None and isinstance(records, LazyRecords):
            # build only the records the filter may keep (see chantal_core.records); the
            # closure below still sees every record (asking for providers by name)
            candidates = records.prefiltered(pre)
        kept = apply_filter(candidates, settings.package_filter, version_key=fmt.version_key,
                            now=started)
        if settings.select_extra is not None:
            extra = settings.select_extra(kept, records)
            if isinstance(extra, ExplainedSelection):
                explained.append(extra)
                extra = extra.records
            kept = list(extra)
        return kept

    selector: Selector = select
    added_to_pool: list[str] = []
    try:
        progress.message(f"{settings.repo_id}: reading upstream index")
        previous_extras = (StoredExtras(catalog, pool, settings.repo_id)
                           if state is not None and state.current_version is not None else None)
        index = fmt.read_upstream(repo, fetcher, previous_token=None if dry_run else previous,
                                  select=selector, verifier=verifier,
                                  previous_extras=previous_extras)
        if index is None:
            catalog.record_history(SyncHistoryEntry(
                repo_id=settings.repo_id, started=started, duration=time.monotonic() - t0,
                status="up-to-date", version=state.current_version if state else None,
                packages_total=0))
            return SyncReport(repo_id=settings.repo_id, status="up-to-date",
                              version=state.current_version if state else None,
                              duration=time.monotonic() - t0)
        if state is not None and state.current_version is not None:
            current = catalog.version_packages(settings.repo_id)
        plan = plan_sync(index.packages, current, settings=settings,
                         version_key=fmt.version_key, pool_has=pool.has)
        if explained:
            plan = _with_reasons(plan, explained)
        if dry_run:
            return SyncReport(repo_id=settings.repo_id, status="dry-run",
                              version=state.current_version if state else None, plan=plan,
                              duration=time.monotonic() - t0, revision=index.revision)
        warnings: list[str] = []
        batch = (pool.durable_batch() if isinstance(pool, DurableBatchPool)
                 else contextlib.nullcontext())
        with batch:  # every file stored is durable when the block ends, before the commit
            resolved = _download_all(plan, index, fetcher=fetcher, pool=pool,
                                     progress=progress, workers=settings.workers,
                                     added_to_pool=added_to_pool,
                                     signatures=settings.package_signatures,
                                     warnings=warnings)
            extras = store_extras(index.extras, pool, settings.repo_id, added_to_pool)
        warnings.sort()
        content = tuple(resolved.get(_key(r), r) for r in plan.content)
        bytes_downloaded = sum(r.size for r in plan.download)
        history = SyncHistoryEntry(
            repo_id=settings.repo_id, started=started, duration=time.monotonic() - t0,
            status="success", packages_total=len(content), packages_added=len(plan.added),
            packages_removed=len(plan.removed), bytes_downloaded=bytes_downloaded,
            upstream_revision=index.revision,
            message="; ".join(m for m in (_conflict_message(plan.conflicts),
                                          _warning_message(warnings)) if m),
        )
        version = catalog.commit_sync(SyncCommit(
            repo_id=settings.repo_id, format=fmt.package_format,
            packages=content, content=frozenset(r.sha256 for r in content), extras=extras,
            upstream_token=_token(settings.config_hash, index.token), history=history,
        ))
    except BaseException as exc:
        _forget(added_to_pool, pool, catalog)
        if isinstance(exc, ChantalError):
            with contextlib.suppress(ChantalError):
                catalog.record_history(SyncHistoryEntry(
                    repo_id=settings.repo_id, started=started, duration=time.monotonic() - t0,
                    status="failed", message=str(exc)))
        raise
    status = "updated" if version is not None else "unchanged"
    final_version = version if version is not None else (state.current_version if state else None)
    return SyncReport(repo_id=settings.repo_id, status=status, version=final_version, plan=plan,
                      bytes_downloaded=bytes_downloaded, files_downloaded=len(plan.download),
                      duration=time.monotonic() - t0, revision=index.revision,
                      warnings=tuple(warnings))


def _with_reasons(plan: SyncPlan, selections: Sequence[ExplainedSelection]) -> SyncPlan:
    """Attach the selection steps' reasons to the plan's content records (matched by
    identity, since a record's SHA256 may have been filled in from the current version)."""
    by_identity: dict[tuple[str, int, str, str, str], str] = {}
    unsatisfied: list[tuple[str, str]] = []
    for selection in selections:
        for record in selection.records:
            reason = selection.reasons.get(_key(record))
            if reason is not None:
                by_identity[_identity(record)] = reason
        unsatisfied.extend(selection.unsatisfied)
    reasons = {_key(r): by_identity[_identity(r)] for r in plan.content
               if _identity(r) in by_identity}
    return attrs.evolve(plan, closure_reasons=reasons,
                        closure_unsatisfied=tuple(dict.fromkeys(unsatisfied)))


def _conflict_message(conflicts: Sequence[Conflict]) -> str:
    if not conflicts:
        return ""
    names = ", ".join(c.nevra for c in conflicts[:10])
    more = f" and {len(conflicts) - 10} more" if len(conflicts) > 10 else ""
    return f"{len(conflicts)} conflict(s) (kept the known file): {names}{more}"


def _warning_message(warnings: Sequence[str]) -> str:
    if not warnings:
        return ""
    shown = "; ".join(warnings[:10])
    more = f"; and {len(warnings) - 10} more" if len(warnings) > 10 else ""
    return f"{len(warnings)} warning(s): {shown}{more}"


def _download_all(
    plan: SyncPlan,
    index: UpstreamIndex,
    *,
    fetcher: Fetcher,
    pool: ContentPool,
    progress: Progress,
    workers: int,
    added_to_pool: list[str],
    signatures: PackageSignaturePolicy | None = None,
    warnings: list[str] | None = None,
) -> dict[str, PackageRecord]:
    """Download ``plan.download`` in parallel; returns resolved records by their plan key.

    Every file stored is appended to ``added_to_pool`` as soon as it is in the pool (so a
    failure anywhere lets the caller remove it). With ``signatures``, each file's own
    signature is checked in its worker right after the download (unless both policies are
    ``skip``); ``warn`` outcomes are appended to ``warnings`` and shown on ``progress``.
    """
    resolved: dict[str, PackageRecord] = {}
    if not plan.download:
        return resolved
    lock = threading.Lock()
    noted: set[str] = set(added_to_pool)
    check = signatures is not None and not (signatures.on_missing == "skip"
                                             and signatures.on_invalid == "skip")

    def note(sha256: str) -> None:
        with lock:
            if sha256 not in noted:
                noted.add(sha256)
                added_to_pool.append(sha256)

    def work(record: PackageRecord) -> PackageRecord:
        sources: list[str] = []

        def on_stored(stored: PackageRecord, url: str) -> None:
            note(stored.sha256)
            sources.append(url)

        got = download_package(record, index.base_urls, fetcher=fetcher, pool=pool,
                               progress=progress, on_stored=on_stored)
        note(got.sha256)
        if check and signatures is not None:
            url = (sources[-1] if sources else _join_url(index.base_urls[0], record.location)
                   if index.base_urls else record.location)
            result = signatures.checker.check_package(got, pool, source=url)
            warning = judge_package_signature(got, result, signatures, source=url)
            if warning is not None:
                with lock:
                    if warnings is not None:
                        warnings.append(warning)
                progress.message(f"warning: {warning}")
        return got

    progress.start("downloading", total=plan.download_bytes, unit="bytes")
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as executor:
            futures: dict[Future[PackageRecord], PackageRecord] = {
                executor.submit(work, record): record for record in plan.download
            }
            _, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
            # wait for the ones already running so no write continues after we return
            wait(pending)
            error: BaseException | None = None
            for future, record in futures.items():
                if future.cancelled():
                    continue
                exc = future.exception()
                if exc is not None:
                    error = error or exc
                    continue
                resolved[_key(record)] = future.result()
            if error is not None:
                raise error
    finally:
        progress.finish()
    return resolved


def _forget(added: list[str], pool: ContentPool, catalog: Catalog) -> None:
    """Remove pool files a failed run added, unless something references them."""
    if not added:
        return
    try:
        referenced = catalog.referenced_sha256()
    except ChantalError:
        return
    for sha in added:
        if sha not in referenced:
            pool.delete(sha)


def filter_only(records: Sequence[PackageRecord], flt: PackageFilter,
                version_key: Callable[[PackageRecord], Any], now: float) -> list[PackageRecord]:
    """Apply a filter (convenience for check-updates)."""
    return apply_filter(records, flt, version_key=version_key, now=now)
