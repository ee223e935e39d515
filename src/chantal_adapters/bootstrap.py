"""The composition root: configuration in, wired adapters out.

Nothing else in Chantal builds adapters: the CLI (and any tool embedding Chantal with the
default adapters) calls :func:`bootstrap` and uses the :class:`Services` it returns.
Expensive parts (the database engine, gpg) are created on first use.
"""

from __future__ import annotations

import os
import time
from functools import cached_property
from pathlib import Path
from typing import Any

from chantal_core.config import (
    ChantalConfig,
    RepositoryConfig,
    ViewConfig,
    config_hash,
    fetch_options,
    package_filter,
    pick_entitlement_cert,
)
from chantal_core.errors import ConfigError, SignatureError
from chantal_core.ports import PublishOptions, RepositoryFormat
from chantal_core.sync import PackageSignaturePolicy, SyncSettings


class Services:
    """The configured adapters for one configuration.

    :ivar config: the loaded configuration.
    :ivar config_path: the file it came from, or ``None`` for an in-memory configuration.
    :ivar warnings: configuration warnings (keys accepted but not acted on, ...).
    """

    def __init__(self, config: ChantalConfig, *, config_path: Path | None = None,
                 warnings: list[str] | None = None, check_schema: bool = True) -> None:
        self.config = config
        self.config_path = config_path
        self.warnings = list(warnings or [])
        self._check_schema = check_schema

    # --- storage --------------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL of the catalog (SQLite under ``storage.base_path`` by default)."""
        return self.config.database_url()

    @cached_property
    def catalog(self) -> Any:
        """The :class:`~chantal_adapters.sql.SqlCatalog` (schema checked on first use)."""
        from chantal_adapters.sql.catalog import SqlCatalog

        return SqlCatalog(self.database_url, check=self._check_schema,
                          echo=self.config.database.echo)

    @cached_property
    def pool(self) -> Any:
        """The :class:`~chantal_adapters.fs_pool.FilesystemPool` at ``storage.pool_path``."""
        from chantal_adapters.fs_pool import FilesystemPool

        return FilesystemPool(self.config.storage.pool_path)

    @cached_property
    def target(self) -> Any:
        """The filesystem publish target."""
        from chantal_adapters.fs_publish import FilesystemPublishTarget

        return FilesystemPublishTarget()

    @cached_property
    def formats(self) -> Any:
        """Repository formats loaded through pluggy (built-ins and third-party plugins)."""
        from chantal_adapters.plugins import FormatRegistry, make_plugin_manager

        return FormatRegistry(make_plugin_manager())

    def format_for(self, repo: RepositoryConfig) -> RepositoryFormat:
        """The format plugin for ``repo.type``.

        :raises PluginError: no plugin provides that type.
        """
        fmt: RepositoryFormat = self.formats.get(repo.type)
        return fmt

    # --- network --------------------------------------------------------------------------

    def fetcher_for(self, repo: RepositoryConfig) -> Any:
        """An :class:`~chantal_adapters.http.Urllib3Fetcher` with the repository's proxy, TLS,
        client certificate (``auth.cert_dir`` entitlement pairs too) and headers."""
        from chantal_adapters.http import Urllib3Fetcher

        client_cert = None
        if repo.auth is not None and repo.auth.cert_dir:
            try:
                names = os.listdir(repo.auth.cert_dir)
            except OSError as exc:
                raise ConfigError(f"repository {repo.id}: auth.cert_dir "
                                  f"{repo.auth.cert_dir}: {exc.strerror}") from exc
            pair = pick_entitlement_cert(names)
            if pair is not None:
                client_cert = (os.path.join(repo.auth.cert_dir, pair[0]),
                               os.path.join(repo.auth.cert_dir, pair[1]))
        if repo.auth is not None and repo.auth.cert_file:
            client_cert = (repo.auth.cert_file, repo.auth.key_file or repo.auth.cert_file)
        return Urllib3Fetcher(fetch_options(repo, self.config, client_cert=client_cert))

    def verifier_for(self, repo: RepositoryConfig) -> Any:
        """A gpgv verifier for the repository's upstream signatures, or ``None``.

        RPM: only when the repository's ``verify`` section is enabled. APT: always, unless
        ``verify.enabled`` is false explicitly; without keys of its own, the machine's
        trusted APT keyrings are used, as apt itself does.

        :raises ConfigError: APT verification is on but no keyring can be found.
        """
        from chantal_adapters.gpg import GpgvVerifier

        verify = repo.effective_verify(self.config)
        keyrings = list(verify.key_files) if verify is not None else []
        inline = list(verify.keys) if verify is not None else []
        pinned = set(verify.trusted_fingerprints) if verify is not None else set()
        if repo.type == "apt":
            if verify is not None and not verify.enabled and _explicit_off(repo):
                return None
            if not keyrings and not inline:
                keyrings = system_apt_keyrings()
            if not keyrings and not inline:
                raise SignatureError(
                    f"repository {repo.id}: APT signature verification is on but no keyring "
                    "was configured and none was found in /etc/apt/trusted.gpg.d or "
                    "/usr/share/keyrings",
                    hint="add verify.key_files, or set verify.enabled: false to opt out")
        elif verify is None or not verify.enabled:
            return None
        return GpgvVerifier(keyrings, pinned_fingerprints=pinned or None, inline_keys=inline,
                            policy=verify)

    # --- sync and publish -----------------------------------------------------------------

    def sync_settings(self, repo: RepositoryConfig, *, workers: int | None = None) -> SyncSettings:
        """The core's :class:`~chantal_core.sync.SyncSettings` for ``repo`` (with its
        package signature policy, see :meth:`package_signature_policy`)."""
        return SyncSettings(
            repo_id=repo.id,
            package_filter=package_filter(repo),
            retention=repo.retention.policy,
            keep_count=repo.retention.keep_count,
            config_hash=config_hash(repo, self.config),
            workers=workers or max(self.config.download.parallel, 8),
            package_signatures=self.package_signature_policy(repo),
        )

    def package_signature_policy(self, repo: RepositoryConfig) -> PackageSignaturePolicy | None:
        """RPM ``gpgcheck``: check each downloaded package's signature with ``rpmkeys``.

        Active for ``type: rpm`` when :meth:`~RepositoryConfig.effective_gpgcheck` is true
        and not both ``on_missing_signature`` and ``on_invalid_signature`` are ``skip``.
        Trusted keys are the effective ``verify`` section's ``key_files`` and ``keys``
        (a ``.repo`` file's local ``gpgkey`` is imported into ``key_files``), limited to
        ``trusted_fingerprints`` when set; its policies apply per package (``fail`` when
        there is no ``verify`` section). Nothing is read or run here: a missing key is
        reported by the first check (:class:`~chantal_adapters.rpm.signature.RpmSignatureChecker`).

        :returns: the policy, or ``None`` when packages are not checked.
        :raises SignatureError: a pinned fingerprint is malformed.
        """
        if repo.type != "rpm" or not repo.effective_gpgcheck(self.config):
            return None
        verify = repo.effective_verify(self.config)
        on_missing = verify.on_missing_signature if verify is not None else "fail"
        on_invalid = verify.on_invalid_signature if verify is not None else "fail"
        if on_missing == "skip" and on_invalid == "skip":
            return None
        from chantal_adapters.rpm.signature import RpmSignatureChecker

        pinned = list(verify.trusted_fingerprints) if verify is not None else []
        checker = RpmSignatureChecker(
            list(verify.key_files) if verify is not None else [],
            inline_keys=list(verify.keys) if verify is not None else [],
            pinned_fingerprints=pinned or None, label=f"repository {repo.id}")
        return PackageSignaturePolicy(checker=checker, on_missing=on_missing,
                                      on_invalid=on_invalid)

    def with_closure(self, repo: RepositoryConfig, settings: SyncSettings,
                     fmt: RepositoryFormat) -> SyncSettings:
        """``settings`` with the dependency closure as its selection step when
        ``repo.with_dependencies`` is true (else ``settings`` unchanged).

        The closure of the filtered packages is taken within every record the upstream
        lists (for APT: all configured suites, components and architectures), see
        :func:`chantal_core.closure.closure`. Candidates are limited to the architectures
        the repository selects (``apt.architectures``, or the architecture filter's include
        list; ``noarch``/``all`` always pass) and never have an excluded architecture. With
        ``include_recommends``, weak dependencies (``Recommends``) are followed too.

        With ``closure_scope: views``, the other repositories sharing a view with ``repo``
        (same type) take part:

        * those that also have ``with_dependencies`` and ``closure_scope: views`` (and a
          feed) are *partners*: their upstream indexes are read too (main index only) and
          the closure is the joint one over all of them (see
          :func:`chantal_core.closure.closure_selector`); ``repo`` keeps what its own
          upstream provides, so a library one member needs is pulled into the member
          whose upstream has it. Such a repository re-plans on every sync (a partner's
          upstream may have changed), though it downloads only what is new;
        * the others count with the packages of their current versions, which satisfy
          dependencies without being added.

        :raises ConfigError: the repository's format has no dependency closure.
        """
        if not repo.with_dependencies:
            return settings
        import attrs

        from chantal_core.closure import ClosurePartners, closure_selector
        from chantal_core.filters import apply_filter

        flt = package_filter(repo)
        arches: list[str] | None = None
        if repo.apt is not None and repo.apt.architectures:
            arches = list(repo.apt.architectures)
        elif flt.architectures.include:
            arches = list(flt.architectures.include)
        exclude = set(flt.architectures.exclude)
        if arches is not None:
            arches = [a for a in arches if a not in exclude]

        others = self._view_neighbours(repo) if repo.closure_scope == "views" else []
        partners = [o for o in others if _joins_closure(o)]
        present = [o for o in others if not _joins_closure(o)]

        def available() -> list[Any]:
            records: list[Any] = []
            for other in present:
                state = self.catalog.get_repository(other.id)
                if state is None or state.current_version is None:
                    continue
                records.extend(r for r in self.catalog.version_packages(other.id)
                               if r.format == fmt.package_format)
            return records

        def joint() -> ClosurePartners:
            seed: list[Any] = []
            universe: list[Any] = []
            for other in partners:
                index = self.format_for(other).read_upstream(
                    other, self.fetcher_for(other), previous_token=None,
                    verifier=self.verifier_for(other), details=False)
                if index is None:  # pragma: no cover - no previous token was given
                    continue
                universe.extend(index.packages)
                seed.extend(apply_filter(index.packages, package_filter(other),
                                         version_key=fmt.version_key))
            return ClosurePartners(seed=seed, universe=universe)

        try:
            select = closure_selector(fmt.package_format, version_key=fmt.version_key,
                                      include_recommends=repo.include_recommends,
                                      arches=arches, exclude_arches=exclude,
                                      available=available,
                                      partners=joint if partners else None)
        except ValueError as exc:
            raise ConfigError(f"repository {repo.id}: with_dependencies: {exc}") from exc
        return attrs.evolve(settings, select_extra=select, always_read=bool(partners))

    def _view_neighbours(self, repo: RepositoryConfig) -> list[RepositoryConfig]:
        """The other enabled repositories of the same type sharing a view with ``repo``,
        in configuration order."""
        names = {other for view in self.config.views if repo.id in view.repos
                 for other in view.repos if other != repo.id}
        return [r for r in self.config.repositories
                if r.id in names and r.type == repo.type and r.enabled]

    def latest_path(self, repo: RepositoryConfig) -> str:
        """Where ``publish repo`` puts the repository: ``latest_path`` or
        ``<published_path>/<repo-id>/latest``."""
        return repo.latest_path or os.path.join(self.config.storage.published_path, repo.id,
                                                "latest")

    def snapshot_path(self, repo: RepositoryConfig, name: str) -> str:
        """``<snapshots_path or published_path/<repo-id>/snapshots>/<name>``."""
        base = repo.snapshots_path or os.path.join(self.config.storage.published_path, repo.id,
                                                   "snapshots")
        return os.path.join(base, name)

    def view_path(self, view: ViewConfig, snapshot: str | None = None) -> str:
        """``publish_path`` or ``<published_path>/views/<name>/latest``; a view snapshot at
        ``<published_path>/views/<name>/snapshots/<s>`` (never inside ``publish_path``: that
        tree is replaced as a whole by every publication)."""
        default = os.path.join(self.config.storage.published_path, "views", view.name)
        if snapshot:
            return os.path.join(default, "snapshots", snapshot)
        return view.publish_path or os.path.join(default, "latest")

    def signer(self, repo: RepositoryConfig | None = None) -> Any:
        """The gpg signer configured by ``gpg`` (per repository or global), or ``None``.

        With ``generate_key: true`` and no ``key_id``/``key_file``, a key (``key_name``,
        default the repository's name, and ``key_email``) is generated in the GnuPG home on
        first signing when that home holds no secret key yet; later publications reuse it.
        """
        gpg = repo.effective_gpg(self.config) if repo is not None else self.config.gpg
        if gpg is None or not gpg.enabled or not (
                gpg.key_id or gpg.key_file or gpg.gnupg_home or gpg.generate_key):
            return None
        from chantal_adapters.gpg import GpgSigner

        passphrase = gpg.passphrase
        if passphrase is None and gpg.passphrase_file:
            passphrase = Path(gpg.passphrase_file).read_text(encoding="utf-8").strip()
        homedir = gpg.gnupg_home or os.path.join(self.config.storage.base_path, "gnupg")
        generate = None
        if gpg.generate_key and not (gpg.key_id or gpg.key_file):
            name = gpg.key_name or (repo.display_name if repo is not None else
                                    "Chantal repository signing")
            generate = (name, gpg.key_email or "chantal@localhost")
        return GpgSigner(homedir, gpg.key_id, passphrase=passphrase, key_file=gpg.key_file,
                         generate=generate)

    def public_key_options(self, repo: RepositoryConfig | None) -> dict[str, Any]:
        """``public_key_name``/``public_key`` for :class:`PublishOptions`: the signing key's
        public key is published at the tree's root (``gpg.public_key_name``) whenever the
        tree is signed; ``gpg.public_key_file`` gives its bytes, else it is exported.

        :raises ConfigError: ``gpg.public_key_file`` cannot be read.
        """
        gpg = repo.effective_gpg(self.config) if repo is not None else self.config.gpg
        if gpg is None or not gpg.enabled or not gpg.public_key_name:
            return {}
        data = None
        if gpg.public_key_file:
            try:
                data = Path(gpg.public_key_file).read_bytes()
            except OSError as exc:
                raise ConfigError(f"gpg.public_key_file {gpg.public_key_file}: cannot be "
                                  f"read: {exc.strerror}") from exc
        return {"public_key_name": gpg.public_key_name, "public_key": data}

    def publish_options(self, repo: RepositoryConfig | None, *, mode: str | None = None
                        ) -> PublishOptions:
        """Publish options from the repository's ``metadata``, ``apt`` and ``gpg`` settings."""
        compression = "gz"
        apt = None
        if repo is not None:
            compression = _COMPRESSION[repo.metadata.compression]
            apt = repo.apt
        signer = self.signer(repo)
        keys = self.public_key_options(repo) if signer is not None else {}
        return PublishOptions(
            **keys,
            mode=mode or (repo.mode if repo is not None else "filtered"),
            compression=compression,
            signer=signer,
            origin=apt.origin if apt else None,
            label=apt.label if apt else None,
            suite=apt.suite if apt else None,
            codename=apt.codename if apt else None,
            description=apt.description if apt else None,
            valid_until_days=apt.valid_until_days if apt else None,
            not_automatic=apt.not_automatic if apt else False,
            but_automatic_upgrades=apt.but_automatic_upgrades if apt else False,
            by_hash=apt.by_hash if apt else True,
            now=time.time(),
        )


def _joins_closure(repo: RepositoryConfig) -> bool:
    """Whether ``repo`` takes part in a view's joint dependency closure: it closes its
    dependencies over the view (``with_dependencies``, ``closure_scope: views``) and has an
    upstream to read."""
    return (repo.with_dependencies and repo.closure_scope == "views" and repo.mode != "hosted"
            and repo.feed_source() is not None)


#: ``metadata.compression`` (Chantal 1.6 spelling) -> PublishOptions.compression.
#: ``auto`` is gz, which every dnf/yum and apt reads; bzip2 and none are published as gz.
_COMPRESSION = {"auto": "gz", "gzip": "gz", "zstandard": "zstd", "xz": "xz", "bzip2": "gz",
                "none": "gz"}


def _explicit_off(repo: RepositoryConfig) -> bool:
    return repo.verify is not None and not repo.verify.enabled


def system_apt_keyrings() -> list[str]:
    """The machine's trusted APT keyrings (``/etc/apt/trusted.gpg.d``, ``/usr/share/keyrings``
    archive keyrings), as apt trusts them."""
    found: list[str] = []
    for directory in ("/etc/apt/trusted.gpg.d",):
        if os.path.isdir(directory):
            found += sorted(os.path.join(directory, n) for n in os.listdir(directory)
                            if n.endswith((".gpg", ".asc")))
    if os.path.isfile("/etc/apt/trusted.gpg"):
        found.append("/etc/apt/trusted.gpg")
    if os.path.isdir("/usr/share/keyrings"):
        found += sorted(os.path.join("/usr/share/keyrings", n)
                        for n in os.listdir("/usr/share/keyrings")
                        if n.endswith("-archive-keyring.gpg"))
    return found


def bootstrap(config_path: str | None = None, *, check_schema: bool = True,
              env: dict[str, str] | None = None) -> Services:
    """Locate and load the configuration, return the wired services.

    :param config_path: explicit ``--config``; otherwise the lookup order of
        :func:`chantal_adapters.config_yaml.locate_config`.
    :raises ConfigError: no configuration found, or it is invalid.
    """
    from chantal_adapters.config_yaml import load_config, locate_config

    environ = dict(os.environ) if env is None else env
    path = locate_config(config_path, env=environ)
    loaded = load_config(path, env=environ)
    return Services(loaded.config, config_path=Path(path),
                    warnings=[str(w) for w in loaded.warnings], check_schema=check_schema)
