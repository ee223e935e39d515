"""Chantal's configuration as frozen values, and the pure rules over them.

The models mirror the YAML schema of Chantal 1.6 (every key it accepts is accepted here)
plus the keys added since; ``docs/configuration.md`` describes each one. Nothing in this
module reads files or YAML: the adapter :mod:`chantal_adapters.config_yaml` parses the
files, structures them into these classes, and maps the :class:`ConfigFinding` values
returned by :func:`check_config` and :func:`config_warnings` to file names and lines.

Conventions:

* every section has defaults, so a file with only ``repositories:`` is a complete
  configuration;
* a per-repository ``proxy``/``ssl``/``gpg``/``verify`` section replaces the global one as a
  whole (Chantal 1.6 semantics: ``proxy: {http_proxy: null}`` on a repository turns the
  proxy off for it); :meth:`RepositoryConfig.effective_proxy` and friends apply the rule;
* lists are tuples, mappings are read-only; paths are plain strings (relative paths are
  relative to the working directory, as in 1.6).

.. versionadded:: 0.1
"""

from __future__ import annotations

import base64
import difflib
import fnmatch
import hashlib
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Literal

import attrs

from chantal_core.errors import ChantalError, ConfigError, NotFoundError
from chantal_core.filters import IncludeExclude, PackageFilter
from chantal_core.ports import FetchOptions

# --- vocabularies -----------------------------------------------------------------

#: Repository types a configuration may name. ``apk`` and ``helm`` load (Chantal 1.6
#: files use them) but are not synced by this version; see :data:`NOT_YET_ACTED_ON`.
REPOSITORY_TYPES: tuple[str, ...] = ("rpm", "apt", "apk", "helm")

#: Repository types this version syncs and publishes.
ACTIVE_TYPES: tuple[str, ...] = ("rpm", "apt")

#: ``storage.base_path`` when neither the file nor the loader gives one (Chantal 1.6's default).
DEFAULT_BASE_PATH = "/var/lib/chantal"

Mode = Literal["mirror", "filtered", "hosted"]
SignaturePolicy = Literal["fail", "warn", "skip"]
RetentionPolicy = Literal["mirror", "newest-only", "keep-all", "keep-last-n"]
Compression = Literal["auto", "gzip", "zstandard", "bzip2", "xz", "none"]
MergePolicy = Literal["all", "priority", "latest"]
ClosureScope = Literal["repository", "views"]
AuthType = Literal["client_cert", "basic", "bearer", "custom"]
DownloadBackend = Literal["requests", "aria2c"]
FeedKind = Literal["baseurl", "mirrorlist", "metalink"]

#: A location inside the configuration tree: mapping keys and list indexes, from the root
#: (``("repositories", 3, "filters", "patterns", "include", 0)``).
KeyPath = tuple[str | int, ...]

_REPO_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")


def _join(base: str, name: str) -> str:
    if not base:
        return name
    if base.endswith("/"):
        return base + name
    return f"{base}/{name}"


def _frozen_str_mapping(value: Mapping[str, str] | None) -> Mapping[str, str]:
    if value is None:
        return MappingProxyType({})
    if isinstance(value, MappingProxyType):
        return value
    return MappingProxyType(dict(value))


def _tuple_of_str(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError(f"expected a sequence of strings, got the string {value!r}")
    return tuple(value)


# --- global sections ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class DatabaseConfig:
    """The catalog database (SQLAlchemy URL).

    :ivar url: SQLAlchemy URL (``sqlite:///path``, ``postgresql://user:pass@host/db``), or
        ``None`` for SQLite at ``<storage.base_path>/chantal.db``
        (see :meth:`ChantalConfig.database_url`).
    :ivar pool_size: connections kept open (PostgreSQL).
    :ivar max_overflow: connections allowed above ``pool_size`` (PostgreSQL).
    :ivar echo: log every SQL statement.
    """

    url: str | None = None
    pool_size: int = 5
    max_overflow: int = 10
    echo: bool = False


def _default_pool(self: StorageConfig) -> str:
    return _join(self.base_path, "pool")


def _default_published(self: StorageConfig) -> str:
    return _join(self.base_path, "published")


def _default_temp(self: StorageConfig) -> str:
    return _join(self.base_path, "tmp")


def _default_cache(self: StorageConfig) -> str:
    return _join(self.base_path, "cache")


@attrs.frozen(kw_only=True)
class StorageConfig:
    """Where Chantal keeps its files. Unset paths derive from ``base_path``.

    :ivar base_path: root directory (default :data:`DEFAULT_BASE_PATH`; the YAML loader
        picks a per-user default for non-root users).
    :ivar pool_path: the SHA256 content pool (default ``<base_path>/pool``).
    :ivar published_path: root of published trees (default ``<base_path>/published``;
        Chantal 1.6 defaulted to ``/var/www/repos``).
    :ivar temp_path: scratch space on the pool's file system (default ``<base_path>/tmp``).
    :ivar cache_path: metadata cache (default ``<base_path>/cache``).
    """

    base_path: str = DEFAULT_BASE_PATH
    pool_path: str = attrs.field(default=attrs.Factory(_default_pool, takes_self=True))
    published_path: str = attrs.field(
        default=attrs.Factory(_default_published, takes_self=True))
    temp_path: str = attrs.field(default=attrs.Factory(_default_temp, takes_self=True))
    cache_path: str = attrs.field(default=attrs.Factory(_default_cache, takes_self=True))


@attrs.frozen(kw_only=True)
class CacheConfig:
    """Metadata cache (Chantal 1.6). Accepted, not acted on by this version.

    :ivar enabled: cache upstream metadata files by checksum.
    :ivar max_age_hours: time to live of a cached file, hours, or ``None`` for no limit.
    """

    enabled: bool = False
    max_age_hours: int | None = None


@attrs.frozen(kw_only=True)
class ProxyConfig:
    """An HTTP(S) proxy.

    :ivar http_proxy: proxy URL for ``http://`` upstreams, or ``None`` for none.
    :ivar https_proxy: proxy URL for ``https://`` upstreams, or ``None`` for none (no
        fallback to ``http_proxy``, as in 1.6).
    :ivar no_proxy: comma-separated hosts, domain suffixes (``.internal``), IP networks
        (``10.0.0.0/8``) or ``*`` that bypass the proxy (curl/requests semantics).
    :ivar username: proxy user name, or ``None``.
    :ivar password: proxy password, or ``None`` (masked by ``chantal config check``).
    """

    http_proxy: str | None = None
    https_proxy: str | None = None
    no_proxy: str | None = None
    username: str | None = None
    password: str | None = None

    def url_for(self, url: str) -> str | None:
        """The proxy URL to use for ``url``, credentials included, or ``None`` for direct.

        :param url: the upstream URL about to be fetched.
        :returns: ``https_proxy`` for ``https://`` URLs, ``http_proxy`` for ``http://`` ones,
            ``None`` for other schemes or when ``no_proxy`` matches the host. ``username`` /
            ``password`` are inserted (percent-encoded) unless the proxy URL has its own.
        """
        scheme, sep, rest = url.partition("://")
        if not sep:
            return None
        scheme = scheme.lower()
        proxy = {"https": self.https_proxy, "http": self.http_proxy}.get(scheme)
        if not proxy:
            return None
        if self.no_proxy and _no_proxy_matches(_host_of(rest), self.no_proxy):
            return None
        if self.username:
            p_scheme, p_sep, p_rest = proxy.partition("://")
            authority = p_rest.split("/", 1)[0]
            if p_sep and "@" not in authority:
                creds = _quote(self.username)
                if self.password is not None:
                    creds += ":" + _quote(self.password)
                proxy = f"{p_scheme}://{creds}@{p_rest}"
        return proxy


def _host_of(rest: str) -> str:
    authority = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    if authority.startswith("["):
        return authority[1:].split("]", 1)[0].lower()
    return authority.rsplit(":", 1)[0].lower() if authority.count(":") == 1 else authority.lower()


def _no_proxy_matches(host: str, no_proxy: str) -> bool:
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry = entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry
        domain = entry.lstrip(".")
        if host == domain or host.endswith("." + domain):
            return True
    return False


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _quote(text: str) -> str:
    return "".join(ch if ch in _UNRESERVED else "".join(f"%{b:02X}" for b in ch.encode())
                   for ch in text)


@attrs.frozen(kw_only=True)
class SSLConfig:
    """TLS settings for HTTPS upstreams.

    :ivar ca_bundle: path of a PEM CA bundle, or ``None`` for the system's.
    :ivar ca_cert: inline PEM CA certificates (1.6). Accepted, not acted on yet.
    :ivar verify: ``False`` disables certificate verification (insecure).
    :ivar client_cert: path of a PEM client certificate (mutual TLS, e.g. the Red Hat CDN).
    :ivar client_key: path of its unencrypted PEM key.
    """

    ca_bundle: str | None = None
    ca_cert: str | None = None
    verify: bool = True
    client_cert: str | None = None
    client_key: str | None = None


@attrs.frozen(kw_only=True)
class DownloadConfig:
    """How packages are downloaded.

    :ivar backend: 1.6's HTTP client choice (``requests`` | ``aria2c``). This version always
        uses its own urllib3 fetcher; ``aria2c`` is accepted and reported.
    :ivar parallel: concurrent downloads, 1..100.
    :ivar timeout: seconds for connecting and for each read, >= 1.
    :ivar retry_attempts: retries after the first attempt, 0..10.
    :ivar verify_checksum: 1.6 switch; checksums are always verified here (``false`` is
        accepted and reported).
    """

    backend: DownloadBackend = "requests"
    parallel: int = 4
    timeout: int = 60
    retry_attempts: int = 3
    verify_checksum: bool = True


@attrs.frozen(kw_only=True)
class GpgConfig:
    """The key that signs published metadata (repomd.xml, Release/InRelease).

    A per-repository ``gpg`` section replaces the global one. The key comes from
    ``key_file`` (imported), else ``key_id`` (already in ``gnupg_home``), else a key
    generated on first publish when ``generate_key`` is true.

    :ivar enabled: ``False`` turns signing off (for this repository when set per repository).
    :ivar key_id: key id or fingerprint of a key in the keyring.
    :ivar key_file: ASCII-armoured private key to import before signing.
    :ivar passphrase: the key's passphrase inline (prefer ``passphrase_file``; masked).
    :ivar passphrase_file: file holding the passphrase.
    :ivar gnupg_home: GnuPG home directory; a private temporary one when ``None``.
    :ivar public_key_file: public key to publish; exported from the keyring when ``None``.
    :ivar public_key_name: file name of the published public key in the tree's root.
    :ivar generate_key: create a key pair when none is given.
    :ivar key_name: real name of a generated key (default: the repository name).
    :ivar key_email: e-mail of a generated key.
    """

    enabled: bool = True
    key_id: str | None = None
    key_file: str | None = None
    passphrase: str | None = None
    passphrase_file: str | None = None
    gnupg_home: str | None = None
    public_key_file: str | None = None
    public_key_name: str = "key.gpg"
    generate_key: bool = False
    key_name: str | None = None
    key_email: str | None = None


@attrs.frozen(kw_only=True)
class VerifyConfig:
    """Upstream signature policy (authenticity of what is synced).

    :ivar enabled: verify upstream signatures at all.
    :ivar repo_gpgcheck: verify the index signature (repomd.xml.asc, InRelease/Release.gpg).
    :ivar gpgcheck: verify each RPM's header signature (RPM only).
    :ivar key_files: files holding trusted public keys (armoured or binary keyrings).
    :ivar keys: trusted public keys inline (ASCII-armoured).
    :ivar trusted_fingerprints: allow-list of signing key fingerprints (full, or >= 16 hex
        digit long key ids); empty = any imported key.
    :ivar gnupg_home: keyring directory; a private temporary one when ``None``.
    :ivar on_missing_signature: ``fail`` | ``warn`` | ``skip`` when upstream is unsigned.
    :ivar on_invalid_signature: ``fail`` | ``warn`` | ``skip`` when a signature does not verify.
    :ivar client_key_name: file name under which the trusted key is published for clients
        (``{repo_id}`` is substituted; ``""`` disables).
    """

    enabled: bool = False
    repo_gpgcheck: bool = True
    gpgcheck: bool = True
    key_files: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    trusted_fingerprints: tuple[str, ...] = ()
    gnupg_home: str | None = None
    on_missing_signature: SignaturePolicy = "fail"
    on_invalid_signature: SignaturePolicy = "fail"
    client_key_name: str = "RPM-GPG-KEY-{repo_id}"


# --- repository sections ------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AuthConfig:
    """How to authenticate to the upstream.

    :ivar type: ``client_cert`` (TLS client certificate), ``basic`` (HTTP Basic), ``bearer``
        (``Authorization: Bearer``) or ``custom`` (arbitrary headers).
    :ivar cert_dir: directory of entitlement certificates (``<n>.pem`` + ``<n>-key.pem``,
        the Red Hat CDN layout); see :func:`pick_entitlement_cert`.
    :ivar cert_file: client certificate (PEM).
    :ivar key_file: its key (PEM).
    :ivar username: Basic user name.
    :ivar password: Basic password (masked).
    :ivar token: bearer token (masked).
    :ivar headers: extra request headers for ``custom`` (values masked).
    :ivar verify_ssl: ``False`` disables TLS verification for this repository.
    :ivar ca_bundle: CA bundle for this repository (used when ``ssl.ca_bundle`` is unset).
    """

    type: AuthType
    cert_dir: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    username: str | None = None
    password: str | None = None
    token: str | None = None
    headers: Mapping[str, str] = attrs.field(
        factory=dict, converter=_frozen_str_mapping, hash=False)
    verify_ssl: bool = True
    ca_bundle: str | None = None

    def http_headers(self) -> dict[str, str]:
        """Request headers this authentication adds.

        :returns: ``Authorization: Basic base64(user:password)`` (RFC 7617) for ``basic``,
            ``Authorization: Bearer <token>`` (RFC 6750) for ``bearer``, ``headers`` for
            ``custom``; nothing for ``client_cert`` or when credentials are missing.
        """
        if self.type == "basic" and self.username is not None and self.password is not None:
            raw = f"{self.username}:{self.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}
        if self.type == "bearer" and self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if self.type == "custom":
            return dict(self.headers)
        return {}


@attrs.frozen(kw_only=True)
class RetentionConfig:
    """What a new repository version keeps (see :mod:`chantal_core.retention`).

    :ivar policy: ``mirror`` (exactly upstream), ``newest-only``, ``keep-all`` or
        ``keep-last-n``.
    :ivar keep_count: N for ``keep-last-n`` (>= 1).
    """

    policy: RetentionPolicy = "mirror"
    keep_count: int | None = None


@attrs.frozen(kw_only=True)
class ScheduleConfig:
    """Automatic syncs (1.6). Accepted, not acted on: run ``chantal repo sync`` from cron or a
    systemd timer.

    :ivar enabled: run on schedule.
    :ivar cron: five-field cron expression.
    :ivar create_snapshot: snapshot after each scheduled sync.
    :ivar snapshot_name_template: ``{repo_id}`` and ``{date}`` are substituted.
    """

    enabled: bool = False
    cron: str = "0 2 * * *"
    create_snapshot: bool = False
    snapshot_name_template: str = "{repo_id}-{date}"


@attrs.frozen(kw_only=True)
class ListFilter:
    """Include/exclude lists (exact values; regexes for ``patterns``).

    :ivar include: keep only matching values; empty = everything.
    :ivar exclude: drop matching values (applied after ``include``).
    """

    include: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    exclude: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)

    def to_filter(self) -> IncludeExclude:
        """The same lists as a :class:`chantal_core.filters.IncludeExclude`."""
        return IncludeExclude(include=self.include, exclude=self.exclude)


@attrs.frozen(kw_only=True)
class SizeFilter:
    """Package file size bounds, bytes, inclusive.

    :ivar min: smallest size kept, or ``None``.
    :ivar max: largest size kept, or ``None``.
    """

    min: int | None = None
    max: int | None = None


@attrs.frozen(kw_only=True)
class TimeFilter:
    """Build time bounds.

    :ivar newer_than: ISO 8601 date or date-time (UTC when no offset); keep packages built
        at or after it.
    :ivar older_than: same format; keep packages built before it.
    :ivar last_n_days: keep packages built in the last N days before the sync.
    """

    newer_than: str | None = None
    older_than: str | None = None
    last_n_days: int | None = None


@attrs.frozen(kw_only=True)
class MetadataFilters:
    """Filters on metadata every format has.

    :ivar size_bytes: file size bounds.
    :ivar build_time: build time bounds.
    :ivar architectures: architectures kept/dropped (``x86_64``, ``noarch``, ``amd64``, ``all``).
    """

    size_bytes: SizeFilter = SizeFilter()
    build_time: TimeFilter = TimeFilter()
    architectures: ListFilter = ListFilter()


@attrs.frozen(kw_only=True)
class RpmFilters:
    """RPM-only filters.

    :ivar exclude_source_rpms: drop ``.src.rpm``/``.nosrc.rpm``.
    :ivar groups: RPM ``Group`` values.
    :ivar licenses: RPM ``License`` values.
    :ivar vendors: RPM ``Vendor`` values.
    :ivar epochs: epochs as strings (``"0"``, ``"1"``).
    """

    exclude_source_rpms: bool = False
    groups: ListFilter = ListFilter()
    licenses: ListFilter = ListFilter()
    vendors: ListFilter = ListFilter()
    epochs: ListFilter = ListFilter()


@attrs.frozen(kw_only=True)
class DebFilters:
    """APT-only filters.

    :ivar components: Debian components (``main``, ``contrib``).
    :ivar priorities: ``Priority`` values.
    :ivar sections: ``Section`` values.
    """

    components: ListFilter = ListFilter()
    priorities: ListFilter = ListFilter()
    sections: ListFilter = ListFilter()


@attrs.frozen(kw_only=True)
class PostProcessing:
    """Selection after all filters, per (name, arch).

    :ivar only_latest_version: keep the highest version only.
    :ivar only_latest_n_versions: keep the N highest versions (>= 1).
    """

    only_latest_version: bool = False
    only_latest_n_versions: int | None = None


@attrs.frozen(kw_only=True)
class FilterConfig:
    """A repository's ``filters`` section, as written (including 1.6's legacy flat keys).

    :func:`package_filter` turns it into the :class:`~chantal_core.filters.PackageFilter`
    the sync applies; legacy keys are merged into their structured equivalents.

    :ivar patterns: regexes (``re.search``) on the package name and the full NEVRA.
    :ivar metadata: size, build time and architecture filters.
    :ivar rpm: RPM-only filters.
    :ivar deb: APT-only filters.
    :ivar post_processing: latest-version selection.
    :ivar include_packages: legacy for ``patterns.include`` (deprecated).
    :ivar exclude_packages: legacy for ``patterns.exclude`` (deprecated).
    :ivar include_architectures: legacy for ``metadata.architectures.include`` (deprecated).
    :ivar exclude_architectures: legacy for ``metadata.architectures.exclude`` (deprecated).
    """

    patterns: ListFilter = ListFilter()
    metadata: MetadataFilters = MetadataFilters()
    rpm: RpmFilters = RpmFilters()
    deb: DebFilters = DebFilters()
    post_processing: PostProcessing = PostProcessing()
    include_packages: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    exclude_packages: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    include_architectures: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    exclude_architectures: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)

    @property
    def is_empty(self) -> bool:
        """True when nothing is filtered (all defaults)."""
        return self == FilterConfig()


@attrs.frozen(kw_only=True)
class AptConfig:
    """An APT upstream: which suites, components and architectures, and the published
    Release fields.

    :ivar distribution: the suite or codename (``dists/<distribution>/``), 1.6's key.
    :ivar distributions: several suites (instead of ``distribution``).
    :ivar components: components to sync; empty = all the Release lists.
    :ivar architectures: architectures to sync (``all`` included); empty = all listed.
    :ivar include_source_packages: sync source packages and ``Sources``.
    :ivar include_contents: keep and publish ``<component>/Contents-<arch>`` (and
        ``Contents-all``) as upstream's Release lists them.
    :ivar include_translations: keep and publish ``<component>/i18n/Translation-*`` (every
        language the Release lists).
    :ivar flat_repository: upstream is a flat repository (no ``dists/``; 1.6 key).
    :ivar by_hash: publish ``by-hash/`` index copies (``Acquire-By-Hash: yes``).
    :ivar origin: published Release ``Origin``.
    :ivar label: published Release ``Label``.
    :ivar suite: published Release ``Suite``.
    :ivar codename: published Release ``Codename``.
    :ivar description: published Release ``Description``.
    :ivar not_automatic: published ``NotAutomatic: yes``.
    :ivar but_automatic_upgrades: published ``ButAutomaticUpgrades: yes``.
    :ivar valid_until_days: published ``Valid-Until`` = Date + N days, or ``None``.
    """

    distribution: str | None = None
    distributions: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    components: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    architectures: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    include_source_packages: bool = False
    include_contents: bool = False
    include_translations: bool = False
    flat_repository: bool = False
    by_hash: bool = True
    origin: str | None = None
    label: str | None = None
    suite: str | None = None
    codename: str | None = None
    description: str | None = None
    not_automatic: bool = False
    but_automatic_upgrades: bool = False
    valid_until_days: int | None = None

    def suites(self) -> tuple[str, ...]:
        """The suites to sync: ``distributions``, or ``(distribution,)``, or ``()``."""
        if self.distributions:
            return self.distributions
        return (self.distribution,) if self.distribution else ()


@attrs.frozen(kw_only=True)
class ApkConfig:
    """An Alpine upstream (1.6). Accepted, not acted on by this version.

    :ivar branch: ``v3.19``, ``edge``...
    :ivar repository: ``main``, ``community``, ``testing``.
    :ivar architecture: ``x86_64``, ``aarch64``...
    """

    branch: str
    repository: str = "main"
    architecture: str = "x86_64"


@attrs.frozen(kw_only=True)
class MetadataConfig:
    """Generated metadata.

    :ivar compression: ``auto`` (as upstream / the format's default), ``gzip``,
        ``zstandard``, ``bzip2``, ``xz`` or ``none``.
    """

    compression: Compression = "auto"


@attrs.frozen(kw_only=True)
class FeedSource:
    """Where a repository's upstream is found.

    :ivar kind: ``baseurl`` (the repository itself), ``mirrorlist`` or ``metalink`` (dnf's
        lists of mirrors).
    :ivar url: the URL.
    """

    kind: FeedKind
    url: str


@attrs.frozen(kw_only=True)
class RepositoryConfig:
    """One repository: its upstream, how it is synced, and how it is published.

    :ivar id: unique id (letters, digits, ``.``, ``_``, ``-``); names directories.
    :ivar name: display name, or ``None`` (the id is shown).
    :ivar type: ``rpm``, ``apt`` (synced), ``apk``, ``helm`` (accepted, not synced yet).
    :ivar feed: upstream URL; ``mirrorlist:<url>`` / ``metalink:<url>`` name a dnf list.
    :ivar mirrorlist: dnf mirrorlist URL (instead of ``feed``).
    :ivar metalink: dnf metalink URL (instead of ``feed``).
    :ivar enabled: included in ``--all``.
    :ivar mode: ``mirror`` (upstream metadata as is, no filters), ``filtered`` (metadata
        regenerated from the selected packages; 1.6's default) or ``hosted`` (no upstream).
    :ivar tags: free labels for selection.
    :ivar auth: upstream authentication, or ``None``.
    :ivar latest_path: published path of the latest version (default
        ``<storage.published_path>/<id>/latest``).
    :ivar snapshots_path: published root of this repository's snapshots.
    :ivar retention: what a new version keeps.
    :ivar schedule: 1.6 scheduling (accepted, not acted on), or ``None``.
    :ivar filters: package filters.
    :ivar proxy: replaces the global ``proxy`` for this repository, or ``None``.
    :ivar ssl: replaces the global ``ssl``, or ``None``.
    :ivar gpg: replaces the global ``gpg`` (metadata signing), or ``None``.
    :ivar verify: replaces the global ``verify`` (upstream signatures), or ``None``.
    :ivar cache_enabled: 1.6 per-repository cache switch (accepted, not acted on).
    :ivar apt: APT settings (``type: apt``).
    :ivar apk: Alpine settings (``type: apk``).
    :ivar metadata: generated-metadata settings.
    :ivar with_dependencies: also take the dependencies of the selected packages.
    :ivar closure_scope: where dependencies are resolved: ``repository`` (this upstream) or
        ``views`` (packages of other repositories in the same views count as satisfying).
    :ivar include_recommends: with ``with_dependencies``, also follow weak dependencies
        (RPM ``Recommends``, Debian ``Recommends``), as dnf and apt install them by default.
    :ivar gpgcheck: verify RPM package signatures; overrides ``verify.gpgcheck``.
    """

    id: str
    type: str
    name: str | None = None
    feed: str | None = None
    mirrorlist: str | None = None
    metalink: str | None = None
    enabled: bool = True
    mode: Mode = "filtered"
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    auth: AuthConfig | None = None
    latest_path: str | None = None
    snapshots_path: str | None = None
    retention: RetentionConfig = RetentionConfig()
    schedule: ScheduleConfig | None = None
    filters: FilterConfig = FilterConfig()
    proxy: ProxyConfig | None = None
    ssl: SSLConfig | None = None
    gpg: GpgConfig | None = None
    verify: VerifyConfig | None = None
    cache_enabled: bool | None = None
    apt: AptConfig | None = None
    apk: ApkConfig | None = None
    metadata: MetadataConfig = MetadataConfig()
    with_dependencies: bool = False
    closure_scope: ClosureScope = "repository"
    include_recommends: bool = False
    gpgcheck: bool | None = None

    @property
    def display_name(self) -> str:
        """``name``, or the id when no name is set."""
        return self.name or self.id

    def feed_source(self) -> FeedSource | None:
        """The upstream location, or ``None`` (hosted repositories).

        ``feed: mirrorlist:<url>`` and ``feed: metalink:<url>`` are equivalent to the
        ``mirrorlist`` and ``metalink`` keys.
        """
        if self.feed:
            for kind in ("mirrorlist", "metalink"):
                if self.feed.startswith(kind + ":"):
                    return FeedSource(kind=kind, url=self.feed[len(kind) + 1:])
            return FeedSource(kind="baseurl", url=self.feed)
        if self.mirrorlist:
            return FeedSource(kind="mirrorlist", url=self.mirrorlist)
        if self.metalink:
            return FeedSource(kind="metalink", url=self.metalink)
        return None

    def effective_proxy(self, config: ChantalConfig) -> ProxyConfig | None:
        """This repository's ``proxy`` if set, else the global one (whole-section override)."""
        return self.proxy if self.proxy is not None else config.proxy

    def effective_ssl(self, config: ChantalConfig) -> SSLConfig:
        """TLS settings: this repository's ``ssl`` (else the global one, else defaults),
        completed from ``auth``: ``cert_file``/``key_file`` fill an unset client certificate,
        ``auth.ca_bundle`` an unset CA bundle, and ``auth.verify_ssl: false`` turns
        verification off.
        """
        base = self.ssl if self.ssl is not None else (config.ssl or SSLConfig())
        auth = self.auth
        if auth is None:
            return base
        changes: dict[str, Any] = {}
        if auth.type == "client_cert" and auth.cert_file and base.client_cert is None:
            changes["client_cert"] = auth.cert_file
            changes["client_key"] = auth.key_file
        if auth.ca_bundle and base.ca_bundle is None:
            changes["ca_bundle"] = auth.ca_bundle
        if not auth.verify_ssl:
            changes["verify"] = False
        return attrs.evolve(base, **changes) if changes else base

    def effective_verify(self, config: ChantalConfig) -> VerifyConfig | None:
        """Upstream signature policy: this repository's ``verify``, else the global one."""
        return self.verify if self.verify is not None else config.verify

    def effective_gpg(self, config: ChantalConfig) -> GpgConfig | None:
        """Metadata signing key: this repository's ``gpg``, else the global one; ``None``
        when unset or ``enabled: false``."""
        gpg = self.gpg if self.gpg is not None else config.gpg
        return gpg if gpg is not None and gpg.enabled else None

    def effective_gpgcheck(self, config: ChantalConfig) -> bool:
        """Whether RPM package signatures are verified: ``gpgcheck`` if set, else
        ``verify.gpgcheck`` of an enabled ``verify`` section, else ``False``."""
        if self.gpgcheck is not None:
            return self.gpgcheck
        verify = self.effective_verify(config)
        return bool(verify is not None and verify.enabled and verify.gpgcheck)

    def http_headers(self) -> dict[str, str]:
        """Headers every request to this upstream carries (from ``auth``)."""
        return self.auth.http_headers() if self.auth is not None else {}


@attrs.frozen(kw_only=True)
class ViewConfig:
    """Several repositories of one type published as one.

    :ivar name: unique view name.
    :ivar description: free text, or ``None``.
    :ivar repos: repository ids, in priority order (first = highest).
    :ivar publish_path: published path (default under ``storage.published_path``).
    :ivar merge: ``all`` (union), ``priority`` (a (name, arch) present in an earlier
        repository hides it in later ones) or ``latest`` (highest version per (name, arch)).
    :ivar overrides: path of an APT overrides file applied when publishing (APT views).
    """

    name: str
    repos: tuple[str, ...] = attrs.field(converter=_tuple_of_str)
    description: str | None = None
    publish_path: str | None = None
    merge: MergePolicy = "all"
    overrides: str | None = None


@attrs.frozen(kw_only=True)
class ChantalConfig:
    """The whole configuration.

    :ivar database: the catalog.
    :ivar storage: directories.
    :ivar cache: 1.6 metadata cache (accepted, not acted on), or ``None``.
    :ivar proxy: default proxy, or ``None``.
    :ivar ssl: default TLS settings, or ``None``.
    :ivar download: download settings.
    :ivar gpg: default metadata signing key, or ``None``.
    :ivar verify: default upstream signature policy, or ``None``.
    :ivar repositories: repositories in file order (main file first, then includes).
    :ivar views: views in file order.
    """

    database: DatabaseConfig = DatabaseConfig()
    storage: StorageConfig = StorageConfig()
    cache: CacheConfig | None = None
    proxy: ProxyConfig | None = None
    ssl: SSLConfig | None = None
    download: DownloadConfig = DownloadConfig()
    gpg: GpgConfig | None = None
    verify: VerifyConfig | None = None
    repositories: tuple[RepositoryConfig, ...] = ()
    views: tuple[ViewConfig, ...] = ()

    def database_url(self) -> str:
        """``database.url``, or ``sqlite:///<storage.base_path>/chantal.db`` when unset."""
        if self.database.url:
            return self.database.url
        return "sqlite:///" + _join(self.storage.base_path, "chantal.db")

    def repository(self, repo_id: str) -> RepositoryConfig:
        """The repository with this id.

        :raises NotFoundError: no such repository (the message suggests the closest id).
        """
        for repo in self.repositories:
            if repo.id == repo_id:
                return repo
        raise NotFoundError(f"no repository {repo_id!r} in the configuration"
                            + _did_you_mean(repo_id, [r.id for r in self.repositories]))

    def view(self, name: str) -> ViewConfig:
        """The view with this name.

        :raises NotFoundError: no such view.
        """
        for view in self.views:
            if view.name == name:
                return view
        raise NotFoundError(f"no view {name!r} in the configuration"
                            + _did_you_mean(name, [v.name for v in self.views]))

    def views_for(self, repo_id: str) -> tuple[ViewConfig, ...]:
        """The views that contain ``repo_id``."""
        return tuple(v for v in self.views if repo_id in v.repos)


def _did_you_mean(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def closest_key(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate most similar to ``word`` (difflib ratio >= 0.6), or ``None``.

    :param word: a misspelt key.
    :param candidates: the valid keys.
    """
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


# --- selection ----------------------------------------------------------------------------


def find_repositories(
    config: ChantalConfig,
    repo_id: str | None = None,
    all: bool = False,
    pattern: str | None = None,
    type: str | None = None,
    tag: str | None = None,
) -> tuple[RepositoryConfig, ...]:
    """Select repositories the way the CLI's ``--repo-id``/``--all``/``--pattern`` do.

    * ``repo_id``: that repository, enabled or not;
    * ``pattern``: enabled repositories whose id matches the shell-style glob
      (:func:`fnmatch.fnmatchcase`, e.g. ``"epel*"``);
    * ``all``: every enabled repository;
    * ``type`` / ``tag``: narrow any of the above; given alone they select the enabled
      repositories of that type / with that tag.

    :returns: matching repositories in configuration order (possibly empty).
    :raises NotFoundError: ``repo_id`` is not configured.
    :raises ChantalError: nothing to select by (no argument given).
    """
    if repo_id is not None:
        chosen: Iterable[RepositoryConfig] = (config.repository(repo_id),)
    elif all or pattern is not None or type is not None or tag is not None:
        chosen = [r for r in config.repositories if r.enabled]
        if pattern is not None:
            chosen = [r for r in chosen if fnmatch.fnmatchcase(r.id, pattern)]
    else:
        raise ChantalError("no repositories selected: give a repository id, a pattern, "
                           "a type, a tag or all")
    if type is not None:
        chosen = [r for r in chosen if r.type == type]
    if tag is not None:
        chosen = [r for r in chosen if tag in r.tags]
    return tuple(chosen)


# --- filters ------------------------------------------------------------------------------


def parse_config_time(text: str) -> float:
    """An ISO 8601 date or date-time as seconds since the epoch.

    ``2024-01-01`` is midnight UTC; a date-time without offset is UTC; ``Z`` is accepted.

    :raises ConfigError: not an ISO 8601 date.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{text!r} is not an ISO 8601 date (YYYY-MM-DD)") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def package_filter(repo: RepositoryConfig) -> PackageFilter:
    """The filter the sync applies to ``repo``'s upstream packages.

    ``mode: mirror`` takes everything (1.6 forbids filters there). Legacy flat keys are
    merged with their structured equivalents (``include_packages`` + ``patterns.include``,
    ``include_architectures`` + ``metadata.architectures.include``...). Build-time bounds
    become seconds since the epoch (UTC).

    :raises ConfigError: a build-time bound is not an ISO 8601 date (already reported by
        :func:`check_config` for loaded files).
    """
    if repo.mode == "mirror":
        return PackageFilter()
    f = repo.filters
    meta = f.metadata
    times = meta.build_time
    return PackageFilter(
        patterns=IncludeExclude(include=f.patterns.include + f.include_packages,
                                exclude=f.patterns.exclude + f.exclude_packages),
        architectures=IncludeExclude(
            include=meta.architectures.include + f.include_architectures,
            exclude=meta.architectures.exclude + f.exclude_architectures),
        exclude_source=f.rpm.exclude_source_rpms,
        groups=f.rpm.groups.to_filter(),
        licenses=f.rpm.licenses.to_filter(),
        vendors=f.rpm.vendors.to_filter(),
        epochs=f.rpm.epochs.to_filter(),
        components=f.deb.components.to_filter(),
        priorities=f.deb.priorities.to_filter(),
        sections=f.deb.sections.to_filter(),
        size_min=meta.size_bytes.min,
        size_max=meta.size_bytes.max,
        build_time_newer_than=(parse_config_time(times.newer_than)
                               if times.newer_than is not None else None),
        build_time_older_than=(parse_config_time(times.older_than)
                               if times.older_than is not None else None),
        build_time_last_n_days=times.last_n_days,
        only_latest_version=f.post_processing.only_latest_version,
        only_latest_n_versions=f.post_processing.only_latest_n_versions,
    )


def _canonical(value: Any) -> Any:
    if attrs.has(type(value)):
        return {a.name: _canonical(getattr(value, a.name)) for a in attrs.fields(type(value))}
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (tuple, list)):
        return [_canonical(v) for v in value]
    if isinstance(value, frozenset):
        return sorted(_canonical(v) for v in value)
    return value


#: Bump when the projection hashed by :func:`config_hash` changes shape.
CONFIG_HASH_VERSION = 1


def config_hash(repo: RepositoryConfig, config: ChantalConfig | None = None) -> str:
    """A stable hash of what in ``repo``'s effective configuration decides its content.

    Hashed: type, upstream (:meth:`RepositoryConfig.feed_source`), mode, the effective
    :func:`package_filter`, the ``apt``/``apk`` sections, retention, dependency closure,
    and the effective signature policy (``verify`` merged with the global one when
    ``config`` is given, and :meth:`~RepositoryConfig.effective_gpgcheck`). Not hashed
    (they do not change which packages a version holds): name, enabled, tags, auth and
    credentials, proxy, ssl, schedule, publishing paths, compression, signing key.

    :param repo: the repository.
    :param config: the whole configuration, for global fallbacks (``verify``).
    :returns: lowercase hex SHA256 of the canonical JSON of that projection.
    """
    verify = repo.effective_verify(config) if config is not None else repo.verify
    gpgcheck = (repo.effective_gpgcheck(config) if config is not None
                else repo.gpgcheck)
    source = repo.feed_source()
    payload = {
        "v": CONFIG_HASH_VERSION,
        "id": repo.id,
        "type": repo.type,
        "feed": _canonical(source) if source is not None else None,
        "mode": repo.mode,
        "filter": _canonical(package_filter(repo)),
        "apt": _canonical(repo.apt),
        "apk": _canonical(repo.apk),
        "retention": _canonical(repo.retention),
        "with_dependencies": repo.with_dependencies,
        "closure_scope": repo.closure_scope if repo.with_dependencies else None,
        "verify": (_canonical(attrs.evolve(verify, client_key_name=""))
                   if verify is not None else None),
        "gpgcheck": gpgcheck,
    }
    if repo.with_dependencies and repo.include_recommends:
        # Only when set, so that configurations without it keep their hash.
        payload["include_recommends"] = True
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def pick_entitlement_cert(filenames: Iterable[str]) -> tuple[str, str] | None:
    """Choose a certificate/key pair from an entitlement directory listing.

    The Red Hat layout is ``<serial>.pem`` with ``<serial>-key.pem``; the first pair in
    sorted order wins (deterministic, unlike 1.6's directory order).

    :param filenames: the file names in ``auth.cert_dir`` (no directories).
    :returns: ``(certificate name, key name)`` or ``None`` when no complete pair exists.
    """
    names = set(filenames)
    for name in sorted(names):
        if name.endswith(".pem") and not name.endswith("-key.pem"):
            key = name[: -len(".pem")] + "-key.pem"
            if key in names:
                return name, key
    return None


def fetch_options(repo: RepositoryConfig, config: ChantalConfig, *,
                  client_cert: tuple[str, str] | None = None) -> FetchOptions:
    """The :class:`~chantal_core.ports.FetchOptions` to reach ``repo``'s upstream.

    :param repo: the repository.
    :param config: the whole configuration (global download, proxy and TLS settings).
    :param client_cert: ``(certificate path, key path)`` found by the caller in
        ``auth.cert_dir`` (see :func:`pick_entitlement_cert`); used when the TLS settings
        name no client certificate.
    :returns: timeout/retries from ``download``, the proxy for the feed URL, the effective
        TLS settings and the authentication headers.
    """
    ssl = repo.effective_ssl(config)
    cert, key = ssl.client_cert, ssl.client_key
    if cert is None and client_cert is not None:
        cert, key = client_cert
    source = repo.feed_source()
    proxy = repo.effective_proxy(config)
    return FetchOptions(
        timeout=float(config.download.timeout),
        retries=config.download.retry_attempts,
        proxy=proxy.url_for(source.url) if proxy is not None and source is not None else None,
        ca_bundle=ssl.ca_bundle,
        client_cert=cert,
        client_key=key,
        verify_tls=ssl.verify,
        headers=repo.http_headers(),
    )


# --- validation ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ConfigFinding:
    """A problem (or notice) at one place of the configuration.

    :ivar path: where, from the configuration root (``("repositories", 2, "mode")``).
    :ivar message: what is wrong, for a human.
    :ivar related: other places involved (the first definition of a duplicate id).
    """

    path: KeyPath
    message: str
    related: tuple[KeyPath, ...] = ()

    @property
    def key(self) -> str:
        """The path written as ``repositories[2].filters.patterns.include[0]``."""
        return format_key_path(self.path)


def format_key_path(path: KeyPath) -> str:
    """``("repositories", 2, "mode")`` as ``repositories[2].mode`` (``$`` for the root)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text or "$"


def _compile_all(path: KeyPath, patterns: tuple[str, ...], out: list[ConfigFinding]) -> None:
    for i, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            out.append(ConfigFinding(path=(*path, i),
                                     message=f"invalid regular expression {pattern!r}: {exc}"))


def _check_range(out: list[ConfigFinding], path: KeyPath, value: int | None, low: int | None,
                 high: int | None = None) -> None:
    if value is None:
        return
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (f"between {low} and {high}" if high is not None else f"at least {low}")
        out.append(ConfigFinding(path=path, message=f"must be {bounds}, got {value}"))


def _check_verify(out: list[ConfigFinding], path: KeyPath, verify: VerifyConfig) -> None:
    if verify.enabled and not verify.key_files and not verify.keys:
        out.append(ConfigFinding(path=path, message="verification is enabled but no trusted key "
                                 "is given: set key_files or keys"))
    for i, fpr in enumerate(verify.trusted_fingerprints):
        compact = fpr.replace(" ", "")
        if not _HEX.match(compact) or len(compact) < 16:
            out.append(ConfigFinding(
                path=(*path, "trusted_fingerprints", i),
                message=f"{fpr!r} is not a fingerprint or long key id (>= 16 hex digits)"))


def _check_gpg(out: list[ConfigFinding], path: KeyPath, gpg: GpgConfig) -> None:
    if gpg.enabled and not (gpg.key_id or gpg.key_file or gpg.generate_key):
        out.append(ConfigFinding(path=path, message="signing is enabled but no key is given: "
                                 "set key_id, key_file or generate_key: true"))


def _check_filters(out: list[ConfigFinding], path: KeyPath, repo: RepositoryConfig) -> None:
    f = repo.filters
    if repo.mode == "mirror" and not f.is_empty:
        out.append(ConfigFinding(path=path, message="mode 'mirror' cannot be used with filters; "
                                 "use mode: filtered to apply filters"))
    if repo.type == "rpm" and f.deb != DebFilters():
        out.append(ConfigFinding(path=(*path, "deb"),
                                 message="'deb' filters cannot be used with an rpm repository"))
    if repo.type == "apt" and f.rpm != RpmFilters():
        out.append(ConfigFinding(path=(*path, "rpm"),
                                 message="'rpm' filters cannot be used with an apt repository"))
    _compile_all((*path, "patterns", "include"), f.patterns.include, out)
    _compile_all((*path, "patterns", "exclude"), f.patterns.exclude, out)
    _compile_all((*path, "include_packages"), f.include_packages, out)
    _compile_all((*path, "exclude_packages"), f.exclude_packages, out)
    size = f.metadata.size_bytes
    _check_range(out, (*path, "metadata", "size_bytes", "min"), size.min, 0)
    _check_range(out, (*path, "metadata", "size_bytes", "max"), size.max, 0)
    if size.min is not None and size.max is not None and size.min > size.max:
        out.append(ConfigFinding(path=(*path, "metadata", "size_bytes"),
                                 message=f"min ({size.min}) is larger than max ({size.max})"))
    times = f.metadata.build_time
    bounds: dict[str, float] = {}
    for key in ("newer_than", "older_than"):
        text = getattr(times, key)
        if text is not None:
            try:
                bounds[key] = parse_config_time(text)
            except ConfigError as exc:
                out.append(ConfigFinding(path=(*path, "metadata", "build_time", key),
                                         message=exc.message))
    if len(bounds) == 2 and bounds["newer_than"] >= bounds["older_than"]:
        out.append(ConfigFinding(path=(*path, "metadata", "build_time"),
                                 message="newer_than is not before older_than: nothing matches"))
    _check_range(out, (*path, "metadata", "build_time", "last_n_days"), times.last_n_days, 1)
    _check_range(out, (*path, "post_processing", "only_latest_n_versions"),
                 f.post_processing.only_latest_n_versions, 1)


def _check_auth(out: list[ConfigFinding], path: KeyPath, auth: AuthConfig) -> None:
    need: dict[str, tuple[str, ...]] = {
        "basic": ("username", "password"), "bearer": ("token",)}
    missing = [k for k in need.get(auth.type, ()) if getattr(auth, k) is None]
    if missing:
        out.append(ConfigFinding(path=path, message=f"auth type {auth.type!r} needs "
                                 + " and ".join(missing)))
    if auth.type == "custom" and not auth.headers:
        out.append(ConfigFinding(path=path, message="auth type 'custom' needs headers"))
    if auth.type == "client_cert":
        if not auth.cert_dir and not auth.cert_file:
            out.append(ConfigFinding(path=path, message="auth type 'client_cert' needs cert_dir "
                                     "or cert_file and key_file"))
        elif auth.cert_file and not auth.key_file:
            out.append(ConfigFinding(path=(*path, "cert_file"),
                                     message="cert_file needs key_file"))


def _check_repository(out: list[ConfigFinding], i: int, repo: RepositoryConfig,
                      types: tuple[str, ...]) -> None:
    p: KeyPath = ("repositories", i)
    if not _REPO_ID.match(repo.id):
        out.append(ConfigFinding(path=(*p, "id"), message=f"invalid repository id {repo.id!r}: "
                                 "use letters, digits, '.', '_' and '-'"))
    if repo.type not in types:
        out.append(ConfigFinding(path=(*p, "type"), message=f"unknown repository type "
                                 f"{repo.type!r}; expected one of {', '.join(types)}"
                                 + _did_you_mean(repo.type, types)))
    sources = [k for k in ("feed", "mirrorlist", "metalink") if getattr(repo, k)]
    if len(sources) > 1:
        out.append(ConfigFinding(path=(*p, sources[1]),
                                 message=f"give only one of {' and '.join(sources)}"))
    elif not sources and repo.mode != "hosted":
        out.append(ConfigFinding(path=(*p, "feed"), message="required key 'feed' is missing "
                                 "(or mirrorlist/metalink; only mode 'hosted' has no upstream)"))
    source = repo.feed_source()
    if source is not None and source.kind != "baseurl" and repo.type != "rpm":
        out.append(ConfigFinding(path=(*p, sources[0] if sources else "feed"),
                                 message=f"{source.kind} feeds are for rpm repositories"))
    _check_filters(out, (*p, "filters"), repo)
    if repo.retention.policy == "keep-last-n" and (repo.retention.keep_count or 0) < 1:
        out.append(ConfigFinding(path=(*p, "retention", "keep_count"),
                                 message="policy 'keep-last-n' needs keep_count >= 1"))
    if repo.auth is not None:
        _check_auth(out, (*p, "auth"), repo.auth)
    if repo.apt is not None:
        ap: KeyPath = (*p, "apt")
        if repo.type != "apt":
            out.append(ConfigFinding(path=ap, message="an 'apt' section needs type: apt"))
        if repo.apt.distribution and repo.apt.distributions:
            out.append(ConfigFinding(path=(*ap, "distributions"),
                                     message="give either distribution or distributions"))
        elif not repo.apt.suites():
            out.append(ConfigFinding(path=(*ap, "distribution"),
                                     message="required key 'distribution' is missing"))
        for j, suite in enumerate(repo.apt.distributions):
            if not suite.strip() or ".." in suite.split("/"):
                out.append(ConfigFinding(path=(*ap, "distributions", j),
                                         message=f"invalid suite {suite!r}"))
        if len(set(repo.apt.distributions)) != len(repo.apt.distributions):
            out.append(ConfigFinding(path=(*ap, "distributions"),
                                     message="a suite is listed twice"))
        _check_range(out, (*ap, "valid_until_days"), repo.apt.valid_until_days, 1)
    if repo.apk is not None and repo.type != "apk":
        out.append(ConfigFinding(path=(*p, "apk"), message="an 'apk' section needs type: apk"))
    if repo.verify is not None:
        _check_verify(out, (*p, "verify"), repo.verify)
    if repo.gpg is not None:
        _check_gpg(out, (*p, "gpg"), repo.gpg)


def check_config(config: ChantalConfig, *,
                 types: Iterable[str] = REPOSITORY_TYPES) -> tuple[ConfigFinding, ...]:
    """Every rule a configuration must satisfy beyond the types of its values.

    Checks: repository ids (format, duplicates), types, one upstream per repository,
    filters (regexes compile, mirror mode has none, rpm/deb filters match the type,
    bounds), retention, auth completeness, ``apt``/``apk`` sections, signing and
    verification keys, numeric ranges (1.6's: ``download.parallel`` 1..100,
    ``download.timeout`` >= 1, ``download.retry_attempts`` 0..10), and views (unique
    names, known repositories, one repository type, ``overrides`` only for APT).

    :param config: the configuration.
    :param types: repository types accepted (plugins may add theirs).
    :returns: the problems found (empty when valid), in configuration order.
    """
    known = tuple(types)
    out: list[ConfigFinding] = []
    d = config.download
    _check_range(out, ("download", "parallel"), d.parallel, 1, 100)
    _check_range(out, ("download", "timeout"), d.timeout, 1)
    _check_range(out, ("download", "retry_attempts"), d.retry_attempts, 0, 10)
    _check_range(out, ("database", "pool_size"), config.database.pool_size, 1)
    _check_range(out, ("database", "max_overflow"), config.database.max_overflow, 0)
    if config.cache is not None:
        _check_range(out, ("cache", "max_age_hours"), config.cache.max_age_hours, 1)
    if config.verify is not None:
        _check_verify(out, ("verify",), config.verify)
    if config.gpg is not None:
        _check_gpg(out, ("gpg",), config.gpg)
    first: dict[str, int] = {}
    for i, repo in enumerate(config.repositories):
        _check_repository(out, i, repo, known)
        if repo.id in first:
            out.append(ConfigFinding(path=("repositories", i, "id"),
                                     message=f"duplicate repository id {repo.id!r}",
                                     related=(("repositories", first[repo.id], "id"),)))
        else:
            first[repo.id] = i
    by_id = {r.id: r for r in config.repositories}
    first_view: dict[str, int] = {}
    for i, view in enumerate(config.views):
        vp: KeyPath = ("views", i)
        if not view.name:
            out.append(ConfigFinding(path=(*vp, "name"), message="a view needs a name"))
        elif view.name in first_view:
            out.append(ConfigFinding(path=(*vp, "name"),
                                     message=f"duplicate view name {view.name!r}",
                                     related=(("views", first_view[view.name], "name"),)))
        else:
            first_view[view.name] = i
        if not view.repos:
            out.append(ConfigFinding(path=(*vp, "repos"), message="a view needs repositories"))
        types_seen: dict[str, str] = {}
        for j, rid in enumerate(view.repos):
            if rid not in by_id:
                out.append(ConfigFinding(path=(*vp, "repos", j), message=f"view {view.name!r} "
                                         f"names unknown repository {rid!r}"
                                         + _did_you_mean(rid, by_id)))
                continue
            if view.repos.index(rid) != j:
                out.append(ConfigFinding(path=(*vp, "repos", j),
                                         message=f"repository {rid!r} is listed twice"))
            types_seen.setdefault(by_id[rid].type, rid)
        if len(types_seen) > 1:
            mix = ", ".join(f"{rid} ({t})" for t, rid in types_seen.items())
            out.append(ConfigFinding(path=(*vp, "repos"), message=f"view {view.name!r} mixes "
                                     f"repository types: {mix}; a view holds one type"))
        if view.overrides is not None and set(types_seen) - {"apt"}:
            out.append(ConfigFinding(path=(*vp, "overrides"),
                                     message="overrides files apply to apt views only"))
    return tuple(out)


def validate_config(config: ChantalConfig, *,
                    types: Iterable[str] = REPOSITORY_TYPES) -> ChantalConfig:
    """Raise when :func:`check_config` finds problems (for configurations built in code).

    :returns: ``config`` unchanged.
    :raises ConfigError: one problem per finding, each naming its key path.
    """
    problems = check_config(config, types=types)
    if problems:
        raise ConfigError([f"{p.key}: {p.message}" for p in problems])
    return config


# --- keys accepted but not acted on --------------------------------------------------------


@attrs.frozen(kw_only=True)
class NotActedOn:
    """A valid key this version accepts without acting on it.

    :ivar scope: ``"global"`` (tested on :class:`ChantalConfig`), ``"repository"`` or
        ``"view"``.
    :ivar key: the key path inside the scope (``("schedule",)``, ``("apt", "include_contents")``).
    :ivar reason: what the operator should know.
    :ivar present: whether a given config / repository / view uses the key.
    """

    scope: Literal["global", "repository", "view"]
    key: tuple[str, ...]
    reason: str
    present: Callable[[Any], bool]

    @property
    def documented_key(self) -> str:
        """The key as ``docs/configuration.md`` lists it (``repositories[].schedule``)."""
        prefix = {"global": "", "repository": "repositories[].", "view": "views[]."}[self.scope]
        return prefix + ".".join(self.key)


def _ssl_has_ca_cert(ssl: SSLConfig | None) -> bool:
    return ssl is not None and ssl.ca_cert is not None


#: The single list of accepted-but-ignored keys. Each later feature removes its entry here
#: (and the matching line of ``docs/configuration.md``, which a test keeps in sync).
NOT_YET_ACTED_ON: tuple[NotActedOn, ...] = (
    NotActedOn(scope="global", key=("cache",), reason="the metadata cache is not implemented; "
               "unchanged upstreams are detected without it",
               present=lambda c: c.cache is not None),
    NotActedOn(scope="global", key=("storage", "cache_path"),
               reason="the metadata cache is not implemented",
               present=lambda c: c.storage.cache_path != _default_cache(c.storage)),
    NotActedOn(scope="global", key=("download", "backend"),
               reason="downloads always use the built-in urllib3 fetcher",
               present=lambda c: c.download.backend != "requests"),
    NotActedOn(scope="global", key=("download", "verify_checksum"),
               reason="checksums are always verified",
               present=lambda c: not c.download.verify_checksum),
    NotActedOn(scope="global", key=("ssl", "ca_cert"),
               reason="inline CA certificates are not used; put them in a file named by "
               "ca_bundle", present=lambda c: _ssl_has_ca_cert(c.ssl)),
    NotActedOn(scope="repository", key=("type",),
               reason="apk and helm repositories are not synced or published by this version",
               present=lambda r: r.type not in ACTIVE_TYPES and r.type in REPOSITORY_TYPES),
    NotActedOn(scope="repository", key=("schedule",), reason="no built-in scheduler: run "
               "'chantal repo sync' from cron or a systemd timer",
               present=lambda r: r.schedule is not None),
    NotActedOn(scope="repository", key=("cache_enabled",),
               reason="the metadata cache is not implemented",
               present=lambda r: r.cache_enabled is not None),
    NotActedOn(scope="repository", key=("ssl", "ca_cert"),
               reason="inline CA certificates are not used; put them in a file named by "
               "ca_bundle", present=lambda r: _ssl_has_ca_cert(r.ssl)),
)


def config_warnings(config: ChantalConfig) -> tuple[ConfigFinding, ...]:
    """Keys that are valid but change nothing, and deprecated spellings.

    Reports every :data:`NOT_YET_ACTED_ON` key in use, 1.6's legacy flat filter keys,
    ``keep_count`` without ``keep-last-n``, and APT repositories without an ``apt`` section
    (which cannot be synced).

    :returns: notices in configuration order (global ones first).
    """
    out: list[ConfigFinding] = []
    for entry in NOT_YET_ACTED_ON:
        if entry.scope == "global" and entry.present(config):
            out.append(ConfigFinding(path=entry.key, message="accepted but not acted on by "
                                     "this version: " + entry.reason))
    legacy = {"include_packages": "patterns.include", "exclude_packages": "patterns.exclude",
              "include_architectures": "metadata.architectures.include",
              "exclude_architectures": "metadata.architectures.exclude"}
    for i, repo in enumerate(config.repositories):
        p: KeyPath = ("repositories", i)
        for entry in NOT_YET_ACTED_ON:
            if entry.scope == "repository" and entry.present(repo):
                out.append(ConfigFinding(path=(*p, *entry.key),
                                         message="accepted but not acted on by this version: "
                                         + entry.reason))
        for old, new in legacy.items():
            if getattr(repo.filters, old):
                out.append(ConfigFinding(path=(*p, "filters", old),
                                         message=f"deprecated (Chantal 1.6 legacy key): "
                                         f"use filters.{new}"))
        if repo.retention.keep_count is not None and repo.retention.policy != "keep-last-n":
            out.append(ConfigFinding(path=(*p, "retention", "keep_count"),
                                     message="has no effect unless policy is keep-last-n"))
        if repo.type == "apt" and repo.apt is None:
            out.append(ConfigFinding(
                path=p, message=f"repository {repo.id!r} (type apt) has no 'apt' section "
                "(distribution, components, architectures): it cannot be synced"))
    for i, view in enumerate(config.views):
        for entry in NOT_YET_ACTED_ON:
            if entry.scope == "view" and entry.present(view):
                out.append(ConfigFinding(path=("views", i, *entry.key),
                                         message="accepted but not acted on by this version: "
                                         + entry.reason))
    return tuple(out)
