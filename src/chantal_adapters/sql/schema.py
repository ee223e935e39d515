"""The catalog's tables as SQLAlchemy Core objects, and how engines are configured.

No ORM mapping: the adapter converts rows to and from the core's frozen attrs values with
explicit functions (:mod:`chantal_adapters.sql.catalog`). The migration
``migrations/versions/0001_initial.py`` creates exactly these tables; a unit test compares
the two so they cannot drift apart.

Repository versions are stored as **membership intervals**: a row of ``content`` says that
package ``sha256`` belongs to repository ``repo_id`` from version ``added_in`` up to, but not
including, version ``removed_in`` (``NULL``: still a member). Version *N* is therefore::

    SELECT sha256 FROM content
     WHERE repo_id = :repo AND added_in <= :n AND (removed_in IS NULL OR removed_in > :n)

and a new version costs one row per added package plus one update per removed one, whatever
the size of the repository. A snapshot is a single row referencing ``(repo_id, version)``.

Times are seconds since the epoch (UTC) stored as double precision; sizes are bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from chantal_core.errors import CatalogError

#: Naming convention so constraint names are identical on SQLite and PostgreSQL and
#: future migrations can address them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

#: Bytes of a SHA256 key written as lowercase hex.
SHA256_LEN = 64

repositories = sa.Table(
    "repositories",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("current_version", sa.Integer, nullable=True),
    sa.Column("upstream_token", sa.Text, nullable=True),
    sa.Column("last_sync", sa.Double, nullable=True),
    sa.Column("created", sa.Double, nullable=False),
)

packages = sa.Table(
    "packages",
    metadata,
    sa.Column("sha256", sa.String(SHA256_LEN), primary_key=True),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("version", sa.String(255), nullable=False),
    sa.Column("release", sa.String(255), nullable=False),
    sa.Column("arch", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("checksum_type", sa.String(32), nullable=False),
    sa.Column("checksum", sa.String(255), nullable=False),
    sa.Column("source_name", sa.Text, nullable=True),
    sa.Column("build_time", sa.BigInteger, nullable=True),
    sa.Column("license", sa.Text, nullable=True),
    sa.Column("grp", sa.Text, nullable=True),
    sa.Column("vendor", sa.Text, nullable=True),
    sa.Column("summary", sa.Text, nullable=True),
    sa.Column("component", sa.String(255), nullable=True),
    sa.Column("priority", sa.String(64), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Index(None, "name", "arch"),
)

repository_versions = sa.Table(
    "repository_versions",
    metadata,
    sa.Column("repo_id", sa.String(255), sa.ForeignKey("repositories.id"), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("created", sa.Double, nullable=False),
    sa.Column("package_count", sa.Integer, nullable=False),
)

content = sa.Table(
    "content",
    metadata,
    sa.Column("repo_id", sa.String(255), sa.ForeignKey("repositories.id"), primary_key=True),
    sa.Column("sha256", sa.String(SHA256_LEN), sa.ForeignKey("packages.sha256"),
              primary_key=True),
    sa.Column("added_in", sa.Integer, primary_key=True),
    sa.Column("removed_in", sa.Integer, nullable=True),
    sa.CheckConstraint("removed_in IS NULL OR removed_in > added_in", name="interval"),
    # membership queries: "rows of repo R alive at N" and "current rows of R"
    sa.Index(None, "repo_id", "added_in"),
    sa.Index(None, "repo_id", "removed_in"),
    # referenced_sha256 / delete_unreferenced_packages probe by sha256 alone
    sa.Index(None, "sha256"),
)

version_extras = sa.Table(
    "version_extras",
    metadata,
    sa.Column("repo_id", sa.String(255), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(64), primary_key=True),
    sa.Column("sha256", sa.String(SHA256_LEN), nullable=False),
    sa.ForeignKeyConstraint(["repo_id", "version"],
                            ["repository_versions.repo_id", "repository_versions.number"]),
    sa.Index(None, "sha256"),
)

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("repo_id", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created", sa.Double, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("view", sa.String(255), nullable=True),
    sa.ForeignKeyConstraint(["repo_id", "version"],
                            ["repository_versions.repo_id", "repository_versions.number"]),
    # repository snapshots: one name per repository (partial: ``view IS NULL``; the
    # PostgreSQL predicate is added by :func:`_postgresql_options`)
    sa.Index("uq_snapshots_repo_name", "repo_id", "name", unique=True,
             sqlite_where=sa.text("view IS NULL")),
    # view snapshots: one row per member repository
    sa.UniqueConstraint("view", "name", "repo_id"),
)

publications = sa.Table(
    "publications",
    metadata,
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("source", sa.String(255), nullable=False),
    sa.Column("repo_id", sa.String(255), nullable=True),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("snapshot", sa.String(255), nullable=True),
    sa.Column("published", sa.Double, nullable=False),
)

publication_packages = sa.Table(
    "publication_packages",
    metadata,
    sa.Column("path", sa.Text, sa.ForeignKey("publications.path", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("sha256", sa.String(SHA256_LEN), primary_key=True),
    sa.Index(None, "sha256"),
)

sync_history = sa.Table(
    "sync_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # no foreign key: failed first syncs are recorded before the repository exists
    sa.Column("repo_id", sa.String(255), nullable=False),
    sa.Column("started", sa.Double, nullable=False),
    sa.Column("duration", sa.Double, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("packages_total", sa.Integer, nullable=False),
    sa.Column("packages_added", sa.Integer, nullable=False),
    sa.Column("packages_removed", sa.Integer, nullable=False),
    sa.Column("bytes_downloaded", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("upstream_revision", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Index(None, "repo_id", "started"),
)

#: Every table, parents before children (the order to create; reverse it to drop or empty).
TABLES = (repositories, packages, repository_versions, content, version_extras, snapshots,
          publications, publication_packages, sync_history)

#: Database back-ends the catalog supports (SQLAlchemy dialect names).
SUPPORTED_DIALECTS = ("sqlite", "postgresql")

#: Milliseconds SQLite waits for a lock held by another process before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def safe_url(url: str | URL) -> str:
    """The URL as text with any password replaced by ``***`` (for messages and logs)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as given, minus nothing to hide
        return str(url)


def _postgresql_options() -> None:
    """Add the PostgreSQL-only options to :data:`metadata` (idempotent).

    A ``postgresql_*`` keyword makes SQLAlchemy import its whole PostgreSQL dialect (~15 ms)
    to validate it, so these are set when the first PostgreSQL engine is made rather than at
    import: opening a SQLite catalog never pays for them. Every engine is made by
    :func:`make_engine`, so no DDL or comparison against PostgreSQL sees the table without
    them.
    """
    index = next(i for i in snapshots.indexes if i.name == "uq_snapshots_repo_name")
    if index.dialect_options["postgresql"]["where"] is None:
        index.dialect_kwargs["postgresql_where"] = sa.text("view IS NULL")


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """Create an engine configured for the catalog.

    SQLite (``sqlite:///path/to/chantal.db``): the parent directory of the database file is
    created; each connection enables foreign keys, WAL journaling (file databases),
    ``synchronous=NORMAL`` and a busy timeout of :data:`SQLITE_BUSY_TIMEOUT_MS`. Transactions
    are begun explicitly (``BEGIN``; ``BEGIN IMMEDIATE`` on an engine with the execution
    option ``chantal_write=True``) instead of pysqlite's implicit ones, as SQLAlchemy's SQLite
    documentation recommends, so a read-modify-write transaction really is one.

    PostgreSQL (``postgresql+psycopg://user@host:port/db``): used as is.

    :param url: SQLAlchemy database URL.
    :param kwargs: passed to :func:`sqlalchemy.create_engine`.
    :returns: the engine (no connection is made yet).
    :raises CatalogError: the URL does not parse, names an unsupported database, or the
        SQLite directory cannot be created.
    """
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise CatalogError(f"invalid database URL {url!s}: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_DIALECTS:
        raise CatalogError(
            f"unsupported database {safe_url(parsed)}: Chantal supports "
            f"{', '.join(SUPPORTED_DIALECTS)}")
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            try:
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CatalogError(
                    f"cannot create the directory of the database {database}: {exc}") from exc
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise CatalogError(f"cannot use database {safe_url(parsed)}: {exc}") from exc
    if backend == "sqlite":
        _configure_sqlite(engine)
    else:
        _postgresql_options()
    return engine


def _configure_sqlite(engine: Engine) -> None:
    memory = engine.url.database in (None, "", ":memory:")

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # take transaction control away from pysqlite; "begin" below issues BEGIN itself
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if not memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        if connection.get_execution_options().get("chantal_write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")
