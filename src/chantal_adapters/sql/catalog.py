"""The catalog on SQLAlchemy Core: SQLite (default) and PostgreSQL.

:class:`SqlCatalog` implements :class:`chantal_core.ports.Catalog` with the exact semantics
of the in-memory fake :class:`chantal_core.testing.catalog.InMemoryCatalog` (whose module
docstring lists the rules; ``tests/contract/`` checks both). Rows and the core's frozen
attrs values are converted by explicit functions here; nothing is ORM-mapped.

Work is set-based so that a 60,000-package repository syncs in seconds: memberships are
intervals (see :mod:`chantal_adapters.sql.schema`) so a new version writes one row per added
package and one ``UPDATE`` per removed one, and ``IN`` lists are chunked below SQLite's
bound-parameter limit.

The bulk writes of :meth:`SqlCatalog.commit_sync` bypass SQLAlchemy's per-row parameter
processing (it cost as much as the database's own work) and run on the DB-API cursor of the
transaction's own connection, in the same transaction: package rows are tuples
(:func:`operator.attrgetter`) in key order with their ``metadata`` encoded as they are
consumed by a compact :class:`json.JSONEncoder`. SQLite gets one ``executemany`` of a
prepared ``INSERT .. ON CONFLICT DO NOTHING`` per table; PostgreSQL (psycopg 3) a ``COPY``
into ``packages`` and one ``INSERT .. SELECT unnest(..)`` into ``content``. Keys the catalog
already holds are looked up first and neither encoded nor sent. On the real ``bookworm main
amd64`` index (63,440 records, 2 CPUs) this took the first commit from 2.1 s to 1.55 s on
SQLite and from 3.5 s to 1.7 s on PostgreSQL; what remains on SQLite is about 0.4 s of JSON
encoding and 0.9 s of SQLite's own writing (``tests/bench/run.py --only catalog`` shows the
commit beside raw ``sqlite3`` writing the same rows).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, Row

from chantal_adapters.sql import schema as s
from chantal_adapters.sql.migrate import check_schema
from chantal_core.errors import CatalogError, ChantalError, ConflictError, NotFoundError
from chantal_core.memory import gc_paused
from chantal_core.model import PackageRecord, Publication, Snapshot, SyncHistoryEntry
from chantal_core.ports import RepositoryState, SyncCommit

#: Values per ``IN (...)`` list: below SQLite's historical limit of 999 bound parameters.
IN_CHUNK = 500
#: Rows per ``executemany`` call.
INSERT_CHUNK = 5_000

#: ``metadata`` as stored: compact JSON, ``NaN``/``Infinity`` refused (they are not JSON; the
#: in-memory catalog refuses them too). Non-ASCII stays escaped (``\uXXXX``): as fast, and a
#: lone surrogate still round-trips instead of failing the driver's UTF-8 encoding.
#: ``check_circular`` is off for speed: a cycle then ends in :class:`RecursionError`,
#: reported like any unserialisable value.
_encode_metadata: Callable[[Any], str] = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=True, check_circular=False, allow_nan=False).encode

#: ``packages`` columns written by :meth:`SqlCatalog.commit_sync`, in row-tuple order; all
#: but ``metadata`` are record attributes of the same name (``grp``: ``group``).
_PACKAGE_COLUMNS = ("sha256", "format", "name", "epoch", "version", "release", "arch", "size",
                    "filename", "location", "checksum_type", "checksum", "source_name",
                    "build_time", "license", "grp", "vendor", "summary", "component",
                    "priority", "metadata")
_package_fields = operator.attrgetter(
    *("group" if col == "grp" else col for col in _PACKAGE_COLUMNS[:-1]))
_QUOTED_COLUMNS = ", ".join(f'"{col}"' for col in _PACKAGE_COLUMNS)
_SQLITE_INSERT_PACKAGES = (
    f"INSERT INTO packages ({_QUOTED_COLUMNS}) VALUES "
    f"({', '.join('?' for _ in _PACKAGE_COLUMNS)}) ON CONFLICT DO NOTHING")
#: PostgreSQL: the rows are copied into ``packages`` directly; should a key be stored
#: concurrently, into this session-private table, then moved.
_PG_COPY_DIRECT = f"COPY packages ({_QUOTED_COLUMNS}) FROM STDIN"
_PG_INSERT_PACKAGES = (
    f"INSERT INTO packages ({_QUOTED_COLUMNS}) VALUES "
    f"({', '.join('%s' for _ in _PACKAGE_COLUMNS)}) ON CONFLICT DO NOTHING")
_PG_STAGING = "chantal_staging_packages"
_PG_STAGE_PACKAGES = (
    f"CREATE TEMPORARY TABLE {_PG_STAGING} (LIKE packages INCLUDING DEFAULTS) "
    f"ON COMMIT DROP")
_PG_COPY_STAGING = f"COPY {_PG_STAGING} ({_QUOTED_COLUMNS}) FROM STDIN"
_PG_MOVE_PACKAGES = (
    f"INSERT INTO packages ({_QUOTED_COLUMNS}) SELECT {_QUOTED_COLUMNS} FROM {_PG_STAGING} "
    f"ON CONFLICT DO NOTHING")
#: PostgreSQL statements taking a list of keys as one ``text[]`` literal (see
#: :func:`_pg_text_array`): ``= ANY`` of a constant array is a hashed lookup whatever the
#: table statistics say, where a join with a set-returning function can be planned as a
#: nested loop over a freshly filled (not yet analysed) table.
_PG_KNOWN_PACKAGES = "SELECT sha256 FROM packages WHERE sha256 = ANY(%s::text[])"
_PG_CLOSE_CONTENT = ("UPDATE content SET removed_in = %s WHERE repo_id = %s "
                     "AND removed_in IS NULL AND sha256 = ANY(%s::text[])")
_PG_OPEN_CONTENT = ("INSERT INTO content (repo_id, sha256, added_in, removed_in) "
                    "SELECT %s, unnest(%s::text[]), %s, NULL")


def _pg_text_array(values: Iterable[str]) -> str:
    r"""A PostgreSQL ``text[]`` literal such as ``{"a","b\"c"}``: every element double-quoted,
    ``\`` and ``"`` escaped with a backslash, as PostgreSQL's array input reads it. Built
    here because psycopg dumps a ``list`` element by element in Python, several times
    slower (63,000 keys: about 0.2 s)."""
    def quoted(value: str) -> str:
        if "\\" in value or '"' in value:
            value = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{value}"'

    return "{" + ",".join(map(quoted, values)) + "}"


_T = TypeVar("_T")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _text_array(name: str, values: Sequence[str]) -> sa.BindParameter[Any]:
    """A PostgreSQL ``text[]`` bound parameter."""
    # Imported here: the PostgreSQL dialect costs ~15 ms and a SQLite catalog never needs it.
    from sqlalchemy.dialects import postgresql as pg_dialect

    return sa.bindparam(name, value=list(values), type_=pg_dialect.ARRAY(sa.Text))


def _package_sort_key(record: PackageRecord) -> tuple[str, str, int, str, str, str]:
    return (record.name, record.arch, record.epoch, record.version, record.release,
            record.sha256)


# --- row <-> value ------------------------------------------------------------------


def package_to_row(record: PackageRecord) -> dict[str, Any]:
    """The ``packages`` row of a record (``group`` is stored as ``grp``)."""
    return {
        "sha256": record.sha256, "format": record.format, "name": record.name,
        "epoch": record.epoch, "version": record.version, "release": record.release,
        "arch": record.arch, "size": record.size, "filename": record.filename,
        "location": record.location, "checksum_type": record.checksum_type,
        "checksum": record.checksum, "source_name": record.source_name,
        "build_time": record.build_time, "license": record.license, "grp": record.group,
        "vendor": record.vendor, "summary": record.summary, "component": record.component,
        "priority": record.priority, "metadata": dict(record.metadata),
    }


def row_to_package(row: Row[Any] | Any) -> PackageRecord:
    """The record of a ``packages`` row (any row with the table's column names)."""
    m = row._mapping
    return PackageRecord(
        format=m["format"], name=m["name"], epoch=m["epoch"], version=m["version"],
        release=m["release"], arch=m["arch"], sha256=m["sha256"], size=m["size"],
        filename=m["filename"], location=m["location"], checksum_type=m["checksum_type"],
        checksum=m["checksum"], source_name=m["source_name"], build_time=m["build_time"],
        license=m["license"], group=m["grp"], vendor=m["vendor"], summary=m["summary"],
        component=m["component"], priority=m["priority"], metadata=m["metadata"] or {},
    )


#: ``packages`` columns of :meth:`SqlCatalog.version_listing`: all but ``metadata``.
_LISTING_COLUMNS = tuple(col for col in s.packages.c if col.name != "metadata")


#: ``metadata`` read as JSON text and decoded by :func:`json.loads` directly: about a fifth
#: faster than the ``JSON`` type's result processing on large versions.
_METADATA_TEXT = sa.cast(s.packages.c.metadata, sa.Text).label("metadata_json")


def _listing_record(row: Row[Any] | Any, metadata: Any = None) -> PackageRecord:
    """The record of a row of :data:`_LISTING_COLUMNS` with ``metadata`` (``None``: empty)."""
    return PackageRecord(
        format=row.format, name=row.name, epoch=row.epoch, version=row.version,
        release=row.release, arch=row.arch, sha256=row.sha256, size=row.size,
        filename=row.filename, location=row.location, checksum_type=row.checksum_type,
        checksum=row.checksum, source_name=row.source_name, build_time=row.build_time,
        license=row.license, group=row.grp, vendor=row.vendor, summary=row.summary,
        component=row.component, priority=row.priority, metadata=metadata)


def _row_to_snapshot(row: Row[Any]) -> Snapshot:
    m = row._mapping
    return Snapshot(name=m["name"], repo_id=m["repo_id"], version=m["version"],
                    created=m["created"], description=m["description"], view=m["view"])


def _row_to_history(row: Row[Any]) -> SyncHistoryEntry:
    m = row._mapping
    return SyncHistoryEntry(
        repo_id=m["repo_id"], started=m["started"], duration=m["duration"],
        status=m["status"], packages_total=m["packages_total"],
        packages_added=m["packages_added"], packages_removed=m["packages_removed"],
        bytes_downloaded=m["bytes_downloaded"], version=m["version"],
        upstream_revision=m["upstream_revision"], message=m["message"])


def _history_to_row(entry: SyncHistoryEntry) -> dict[str, Any]:
    return {
        "repo_id": entry.repo_id, "started": entry.started, "duration": entry.duration,
        "status": entry.status, "packages_total": entry.packages_total,
        "packages_added": entry.packages_added, "packages_removed": entry.packages_removed,
        "bytes_downloaded": entry.bytes_downloaded, "version": entry.version,
        "upstream_revision": entry.upstream_revision, "message": entry.message,
    }


def _row_to_state(row: Row[Any]) -> RepositoryState:
    m = row._mapping
    return RepositoryState(repo_id=m["id"], format=m["format"],
                           current_version=m["current_version"],
                           upstream_token=m["upstream_token"], last_sync=m["last_sync"])


def _label(snap: Snapshot) -> str:
    if snap.view is None:
        return f"{snap.name!r} of repository {snap.repo_id!r}"
    return f"{snap.name!r} of view {snap.view!r} (repository {snap.repo_id!r})"


class SqlCatalog:
    """:class:`~chantal_core.ports.Catalog` on SQLite or PostgreSQL through SQLAlchemy Core.

    Each public method runs in one transaction (``commit_sync`` and ``create_snapshots``
    are all-or-nothing). On SQLite, writing transactions start with ``BEGIN IMMEDIATE`` so
    two processes never both read a version number and then write the same one; on
    PostgreSQL ``commit_sync`` locks the repository row (``SELECT .. FOR UPDATE``).

    .. code-block:: python

        init_database("sqlite:////var/lib/chantal/chantal.db")
        catalog = SqlCatalog("sqlite:////var/lib/chantal/chantal.db")

    :param database: SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://...``) or an
        engine made by :func:`~chantal_adapters.sql.schema.make_engine` (then the caller
        owns and disposes it).
    :param check: verify the schema is at head now (default).
    :param echo: log every SQL statement (SQLAlchemy ``echo``), URL form only.
    :raises CatalogError: unsupported or unreachable database, or not initialised
        (hint: ``chantal init``).
    :raises SchemaOutdatedError: the schema is behind (hint: ``chantal db upgrade``).
    """

    def __init__(self, database: str | URL | Engine, *, check: bool = True,
                 echo: bool = False) -> None:
        if isinstance(database, Engine):
            self._engine = database
            self._owns_engine = False
        else:
            self._engine = s.make_engine(database, echo=echo)
            self._owns_engine = True
        self._dialect = self._engine.dialect.name
        if self._dialect not in s.SUPPORTED_DIALECTS:
            raise CatalogError(f"unsupported database {s.safe_url(self._engine.url)}")
        self._writer = self._engine.execution_options(chantal_write=True)
        #: The driver's (DB-API) base exception, for statements run on its cursor.
        self._driver_error: type[Exception] = self._engine.dialect.loaded_dbapi.Error
        #: psycopg 3 prepares a statement run often; a prepared ``= ANY($1::text[])`` may
        #: get a generic plan searching the array linearly, so the key-list statements opt out.
        self._unprepared: dict[str, Any] = (
            {"prepare": False} if self._engine.dialect.driver == "psycopg" else {})
        self._where = s.safe_url(self._engine.url)
        if check:
            try:
                check_schema(self._engine)
            except BaseException:
                self.close()
                raise

    # --- plumbing ----------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for diagnostics and tests)."""
        return self._engine

    def close(self) -> None:
        """Release pooled connections (only when this catalog made the engine)."""
        if self._owns_engine:
            self._engine.dispose()

    def __enter__(self) -> SqlCatalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlCatalog({self._where!r})"

    @contextmanager
    def _tx(self, action: str, *, write: bool = False) -> Iterator[Connection]:
        """One transaction; SQLAlchemy errors become :class:`CatalogError` naming ``action``."""
        try:
            with (self._writer if write else self._engine).begin() as conn:
                yield conn
        except ChantalError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            detail = getattr(exc, "orig", None) or exc
            raise CatalogError(f"catalog {self._where}: {action} failed: {detail}") from exc
        except self._driver_error as exc:  # raised by the driver's cursor (bulk writes)
            raise CatalogError(f"catalog {self._where}: {action} failed: {exc}") from exc

    def _ordered(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """``column`` compared by code point (PostgreSQL: ``COLLATE "C"``; SQLite: BINARY)."""
        if self._dialect == "postgresql":
            return sa.collate(column, "C")
        return column

    @staticmethod
    def _current_version(conn: Connection, repo_id: str) -> int:
        current = conn.execute(
            sa.select(s.repositories.c.current_version).where(s.repositories.c.id == repo_id)
        ).scalar_one_or_none()
        if current is None:
            raise NotFoundError(f"repository {repo_id!r} has no versions (never synced)",
                                hint=f"run: chantal repo sync --repo-id {repo_id}")
        return int(current)

    def _resolve(self, conn: Connection, repo_id: str, version: int | None) -> int:
        """The version number meant by ``version`` (``None``: current), checked to exist."""
        current = self._current_version(conn, repo_id)
        if version is None:
            return current
        exists = conn.execute(
            sa.select(s.repository_versions.c.number).where(
                s.repository_versions.c.repo_id == repo_id,
                s.repository_versions.c.number == version)
        ).first()
        if exists is None:
            raise NotFoundError(f"repository {repo_id!r} has no version {version} "
                                f"(current: {current})")
        return version

    @staticmethod
    def _alive_at(repo_id: str, number: int) -> sa.ColumnElement[bool]:
        """Membership of ``content`` rows in version ``number``: the interval rule."""
        c = s.content.c
        return sa.and_(c.repo_id == repo_id, c.added_in <= number,
                       sa.or_(c.removed_in.is_(None), c.removed_in > number))

    # --- repositories ------------------------------------------------------------------

    def get_repository(self, repo_id: str) -> RepositoryState | None:
        """The repository's state, or ``None`` if it was never synced."""
        with self._tx(f"reading repository {repo_id!r}") as conn:
            row = conn.execute(sa.select(s.repositories).where(
                s.repositories.c.id == repo_id)).first()
        return None if row is None else _row_to_state(row)

    def list_repositories(self) -> list[RepositoryState]:
        """Every repository known to the catalog, ordered by id (code points)."""
        with self._tx("listing repositories") as conn:
            rows = conn.execute(sa.select(s.repositories).order_by(
                self._ordered(s.repositories.c.id))).all()
        return [_row_to_state(r) for r in rows]

    # --- sync ---------------------------------------------------------------------------

    def commit_sync(self, commit: SyncCommit) -> int | None:
        """Apply one sync in one transaction.

        Upserts the packages (known SHA256 keys are left as stored), creates the repository
        on its first sync, records version *N+1* only when ``commit.content`` differs from
        version *N* (the first sync always records version 1) together with the extras,
        then stores the upstream token, ``last_sync`` (``history.started + duration``) and
        the history entry with its ``version`` filled in.

        :returns: the new version number, or ``None`` when the content did not change.
        :raises ConflictError: the repository holds another package format.
        :raises CatalogError: a content key is neither in ``commit.packages`` nor known, a
            record's metadata is not JSON-serialisable, or the database failed; nothing is
            written.
        """
        repo_id = commit.repo_id
        with self._tx(f"committing the sync of {repo_id!r}", write=True) as conn:
            repo = conn.execute(
                sa.select(s.repositories).where(s.repositories.c.id == repo_id)
                .with_for_update()).first()
            if repo is not None and repo.format != commit.format:
                raise ConflictError(
                    f"repository {repo_id!r} holds {repo.format} packages, "
                    f"the sync brought {commit.format}")
            current_version: int | None = repo.current_version if repo is not None else None
            current: set[str] = set()
            if current_version is not None:
                current = self._current_keys(conn, repo_id)
            self._upsert_packages(conn, commit.packages, skip=current)

            offered = {r.sha256 for r in commit.packages}
            unverified = sorted(commit.content - current - offered)
            if unverified:
                found: set[str] = set()
                for chunk in _chunks(unverified, IN_CHUNK):
                    found.update(conn.execute(sa.select(s.packages.c.sha256).where(
                        s.packages.c.sha256.in_(chunk))).scalars())
                missing = [sha for sha in unverified if sha not in found]
                if missing:
                    raise CatalogError(
                        f"sync of {repo_id!r}: {len(missing)} content key(s) are neither known "
                        f"nor in the commit's packages, e.g. {missing[0]}")

            finished = commit.history.started + commit.history.duration
            if repo is None:
                conn.execute(sa.insert(s.repositories).values(
                    id=repo_id, format=commit.format, created=finished))

            new_version: int | None = None
            if current_version is None or current != commit.content:
                new_version = (current_version or 0) + 1
                self._write_version(conn, repo_id, new_version, commit, current, finished)
                current_version = new_version

            conn.execute(sa.update(s.repositories).where(s.repositories.c.id == repo_id).values(
                current_version=current_version, upstream_token=commit.upstream_token,
                last_sync=finished))
            row = _history_to_row(commit.history)
            row.update(repo_id=repo_id, version=current_version)
            conn.execute(sa.insert(s.sync_history), row)
        return new_version

    @staticmethod
    @contextmanager
    def _driver_cursor(conn: Connection) -> Iterator[Any]:
        """A DB-API cursor of ``conn``'s own driver connection: inside its transaction."""
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            yield cursor
        finally:
            cursor.close()

    def _current_keys(self, conn: Connection, repo_id: str) -> set[str]:
        """Keys of the repository's current version (open intervals), read on the driver's
        cursor: half the time of a SQLAlchemy result on 60,000 rows."""
        mark = "%s" if self._dialect == "postgresql" else "?"
        with self._driver_cursor(conn) as cursor:
            cursor.execute(f"SELECT sha256 FROM content WHERE repo_id = {mark} "
                           f"AND removed_in IS NULL", (repo_id,))
            return {row[0] for row in cursor}

    def _known_packages(self, conn: Connection, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` that are rows of ``packages`` already: on PostgreSQL one
        statement with the keys as one ``text[]``, on SQLite :data:`IN_CHUNK` keys per ``IN``
        list."""
        if not keys:
            return set()
        found: set[str] = set()
        with self._driver_cursor(conn) as cursor:
            if self._dialect == "postgresql":
                cursor.execute(_PG_KNOWN_PACKAGES, (_pg_text_array(keys),),
                               **self._unprepared)
                found.update(row[0] for row in cursor)
                return found
            for chunk in _chunks(keys, IN_CHUNK):
                cursor.execute(f"SELECT sha256 FROM packages WHERE sha256 IN "
                               f"({', '.join('?' for _ in chunk)})", chunk)
                found.update(row[0] for row in cursor)
        return found

    def _upsert_packages(self, conn: Connection, records: Sequence[PackageRecord],
                         skip: set[str]) -> None:
        """Insert the records not in ``skip`` and not stored yet, first record per key wins.

        Rows are written in key order through the connection's driver (see the module
        docstring), each ``metadata`` encoded as its row is consumed so the JSON text of
        all rows is never held at once. The ``ON CONFLICT DO NOTHING`` covers keys a
        concurrent transaction stores meanwhile.

        :raises CatalogError: a record's metadata is not JSON-serialisable (naming it).
        """
        new: dict[str, PackageRecord] = {}
        for record in records:
            if record.sha256 not in skip:
                new.setdefault(record.sha256, record)
        for sha in self._known_packages(conn, list(new)):
            del new[sha]
        if not new:
            return
        ordered = [new[sha] for sha in sorted(new)]  # index pages filled in order
        fields, encode = _package_fields, _encode_metadata

        def rows() -> Iterator[tuple[Any, ...]]:
            for record in ordered:
                yield (*fields(record), encode(dict(record.metadata)))

        try:
            with self._driver_cursor(conn) as cursor:
                if self._dialect != "postgresql":
                    cursor.executemany(_SQLITE_INSERT_PACKAGES, rows())
                elif self._engine.dialect.driver == "psycopg":
                    self._copy_packages(cursor, rows)
                else:  # another DB-API driver (psycopg2, pg8000): "format" parameters
                    cursor.executemany(_PG_INSERT_PACKAGES, rows())
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            self._raise_unserialisable(ordered, exc)

    @staticmethod
    def _copy_packages(cursor: Any, rows: Callable[[], Iterator[tuple[Any, ...]]]) -> None:
        """PostgreSQL through psycopg 3: ``COPY`` the rows into ``packages`` under a
        savepoint; when a key turns out to be stored meanwhile (a concurrent transaction
        committed it after :meth:`_known_packages` looked), copy them into a temporary table
        instead and move them with ``INSERT .. SELECT .. ON CONFLICT DO NOTHING``.

        :param cursor: a psycopg cursor in the commit's transaction.
        :param rows: makes a fresh iterator of row tuples (:data:`_PACKAGE_COLUMNS` order).
        """
        from psycopg.errors import UniqueViolation

        cursor.execute("SAVEPOINT chantal_copy_packages")
        try:
            with cursor.copy(_PG_COPY_DIRECT) as copy:
                for row in rows():
                    copy.write_row(row)
        except UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT chantal_copy_packages")
            cursor.execute(_PG_STAGE_PACKAGES)
            with cursor.copy(_PG_COPY_STAGING) as copy:
                for row in rows():
                    copy.write_row(row)
            cursor.execute(_PG_MOVE_PACKAGES)
            cursor.execute(f"DROP TABLE {_PG_STAGING}")
        cursor.execute("RELEASE SAVEPOINT chantal_copy_packages")

    @staticmethod
    def _raise_unserialisable(records: Sequence[PackageRecord], exc: Exception
                              ) -> NoReturn:
        """Raise :class:`CatalogError` naming the first record whose metadata cannot be
        stored as JSON (``exc``: the error the bulk encoding raised)."""
        for record in records:
            try:
                _encode_metadata(dict(record.metadata))
            except (TypeError, ValueError, RecursionError) as inner:
                raise CatalogError(
                    f"package {record.name} ({record.sha256}): metadata is not "
                    f"JSON-serialisable: {inner}") from exc
        raise CatalogError(f"storing packages failed: {exc}") from exc

    def _write_version(self, conn: Connection, repo_id: str, number: int, commit: SyncCommit,
                       current: set[str], created: float) -> None:
        """Record version ``number``: close removed intervals, open added ones, extras."""
        conn.execute(sa.insert(s.repository_versions).values(
            repo_id=repo_id, number=number, created=created, package_count=len(commit.content)))
        removed = sorted(current - commit.content)
        added = sorted(commit.content - current)
        with self._driver_cursor(conn) as cursor:
            # prepared statements on the driver's cursor: no per-row SQLAlchemy processing
            if self._dialect == "postgresql":
                # one statement each, the keys passed as one text[] literal
                if removed:
                    cursor.execute(_PG_CLOSE_CONTENT, (number, repo_id, _pg_text_array(removed)),
                                   **self._unprepared)
                if added:
                    cursor.execute(_PG_OPEN_CONTENT, (repo_id, _pg_text_array(added), number),
                                   **self._unprepared)
            else:
                cursor.executemany(
                    "UPDATE content SET removed_in = ? WHERE repo_id = ? AND sha256 = ? "
                    "AND removed_in IS NULL", [(number, repo_id, sha) for sha in removed])
                cursor.executemany(
                    "INSERT INTO content (repo_id, sha256, added_in, removed_in) "
                    "VALUES (?, ?, ?, NULL)", [(repo_id, sha, number) for sha in added])
        if commit.extras:
            conn.execute(sa.insert(s.version_extras), [
                {"repo_id": repo_id, "version": number, "kind": kind, "sha256": sha}
                for kind, sha in sorted(commit.extras.items())])

    def record_history(self, entry: SyncHistoryEntry) -> None:
        """Record a sync run that changed nothing else; the repository need not exist."""
        with self._tx(f"recording history of {entry.repo_id!r}", write=True) as conn:
            conn.execute(sa.insert(s.sync_history), _history_to_row(entry))

    def history(self, repo_id: str, limit: int = 20) -> list[SyncHistoryEntry]:
        """The ``limit`` most recent runs, newest first (ties: last recorded first)."""
        h = s.sync_history.c
        with self._tx(f"reading history of {repo_id!r}") as conn:
            rows = conn.execute(sa.select(s.sync_history).where(h.repo_id == repo_id)
                                .order_by(h.started.desc(), h.id.desc())
                                .limit(max(limit, 0))).all()
        return [_row_to_history(r) for r in rows]

    # --- versions ------------------------------------------------------------------------

    def version_content(self, repo_id: str, version: int | None = None) -> frozenset[str]:
        """SHA256 keys of a version (``None``: the current one).

        :raises NotFoundError: unknown repository or version.
        """
        with self._tx(f"reading content of {repo_id!r}") as conn:
            number = self._resolve(conn, repo_id, version)
            return frozenset(conn.execute(
                sa.select(s.content.c.sha256).where(self._alive_at(repo_id, number))).scalars())

    def version_packages(self, repo_id: str, version: int | None = None) -> list[PackageRecord]:
        """Records of a version (``None``: current), metadata included, in package-list order
        (name, arch, epoch, version, release, sha256 by code point).

        :raises NotFoundError: unknown repository or version.
        """
        with self._tx(f"reading packages of {repo_id!r}") as conn, gc_paused():
            number = self._resolve(conn, repo_id, version)
            rows = conn.execute(
                sa.select(*_LISTING_COLUMNS, _METADATA_TEXT)
                .join(s.content, s.content.c.sha256 == s.packages.c.sha256)
                .where(self._alive_at(repo_id, number))).all()
            loads = json.loads
            try:
                records = [_listing_record(r, loads(r.metadata_json) if r.metadata_json
                                           else None) for r in rows]
            except ValueError as exc:
                raise CatalogError(f"catalog {self._where}: a package of {repo_id!r} has "
                                   f"malformed metadata JSON: {exc}") from exc
            return sorted(records, key=_package_sort_key)

    def version_listing(self, repo_id: str, version: int | None = None) -> list[PackageRecord]:
        """Records of a version with ``metadata`` empty, in package-list order: the
        ``metadata`` JSON column is not read, which makes this several times faster than
        :meth:`version_packages` on large versions.

        :raises NotFoundError: unknown repository or version.
        """
        with self._tx(f"reading the package list of {repo_id!r}") as conn, gc_paused():
            number = self._resolve(conn, repo_id, version)
            rows = conn.execute(
                sa.select(*_LISTING_COLUMNS)
                .join(s.content, s.content.c.sha256 == s.packages.c.sha256)
                .where(self._alive_at(repo_id, number))).all()
            return sorted(map(_listing_record, rows), key=_package_sort_key)

    def version_changes(self, repo_id: str, old: int, new: int
                        ) -> tuple[list[PackageRecord], list[PackageRecord]]:
        """Both versions' records (``metadata`` empty) of the ``(name, arch)`` whose
        membership differs, each list in package-list order.

        The ``content`` rows whose interval starts or ends between the two versions give
        the changed ``(name, arch)`` (one statement, by the ``(repo_id, added_in)`` and
        ``(repo_id, removed_in)`` indexes); then the rows of those names alive in either
        version are read by the ``packages (name, arch)`` index (one statement per
        :data:`IN_CHUNK` names on SQLite, one ``= ANY(text[])`` on PostgreSQL).

        :raises NotFoundError: unknown repository or version.
        """
        c = s.content.c
        p = s.packages.c
        with self._tx(f"comparing versions {old} and {new} of {repo_id!r}") as conn:
            self._resolve(conn, repo_id, old)
            self._resolve(conn, repo_id, new)
            if old == new:
                return [], []
            lo, hi = min(old, new), max(old, new)
            # rows alive in exactly one of lo, hi: added after lo and still alive at hi, or
            # alive at lo and removed by hi
            changed_rows = sa.and_(c.repo_id == repo_id, sa.or_(
                sa.and_(c.added_in > lo, c.added_in <= hi,
                        sa.or_(c.removed_in.is_(None), c.removed_in > hi)),
                sa.and_(c.removed_in > lo, c.removed_in <= hi, c.added_in <= lo)))
            changed = {(row.name, row.arch) for row in conn.execute(
                sa.select(p.name, p.arch).join(s.content, c.sha256 == p.sha256)
                .where(changed_rows).distinct())}
            # every row of those names alive at lo or hi, by the packages (name, arch) index
            stmt = (sa.select(*_LISTING_COLUMNS, c.added_in, c.removed_in)
                    .join(s.content, c.sha256 == p.sha256)
                    .where(c.repo_id == repo_id, c.added_in <= hi,
                           sa.or_(c.removed_in.is_(None), c.removed_in > lo)))
            names = sorted({name for name, _ in changed})
            rows: list[Any] = []
            if self._dialect == "postgresql":
                if names:
                    rows = list(conn.execute(stmt.where(
                        p.name == sa.any_(_text_array("names", names)))).all())
            else:
                for chunk in _chunks(names, IN_CHUNK):
                    rows.extend(conn.execute(stmt.where(p.name.in_(chunk))).all())
        sides: dict[int, dict[tuple[str, str], list[PackageRecord]]] = {old: {}, new: {}}
        for row in rows:
            if (row.name, row.arch) not in changed:
                continue
            record = _listing_record(row)
            for number, groups in sides.items():
                if row.added_in <= number and (row.removed_in is None
                                               or row.removed_in > number):
                    groups.setdefault(record.name_arch, []).append(record)
        parts: tuple[list[PackageRecord], list[PackageRecord]] = ([], [])
        for name_arch in sides[old].keys() | sides[new].keys():
            before = sides[old].get(name_arch, [])
            after = sides[new].get(name_arch, [])
            # a key removed and re-added between the versions is not a change
            if {r.sha256 for r in before} != {r.sha256 for r in after}:
                parts[0].extend(before)
                parts[1].extend(after)
        return (sorted(parts[0], key=_package_sort_key),
                sorted(parts[1], key=_package_sort_key))

    def version_extras(self, repo_id: str, version: int | None = None) -> dict[str, str]:
        """Metadata blobs of a version: kind -> SHA256 of the pool entry.

        :raises NotFoundError: unknown repository or version.
        """
        e = s.version_extras.c
        with self._tx(f"reading extras of {repo_id!r}") as conn:
            number = self._resolve(conn, repo_id, version)
            rows = conn.execute(sa.select(e.kind, e.sha256).where(
                e.repo_id == repo_id, e.version == number)).all()
        return {r.kind: r.sha256 for r in rows}

    def list_versions(self, repo_id: str) -> list[tuple[int, float, int]]:
        """``(number, created, package_count)`` of every version, oldest first.

        :raises NotFoundError: unknown repository.
        """
        v = s.repository_versions.c
        with self._tx(f"listing versions of {repo_id!r}") as conn:
            self._current_version(conn, repo_id)
            rows = conn.execute(sa.select(v.number, v.created, v.package_count).where(
                v.repo_id == repo_id).order_by(v.number)).all()
        return [(r.number, r.created, r.package_count) for r in rows]

    # --- packages ------------------------------------------------------------------------

    def get_packages(self, sha256s: Iterable[str]) -> dict[str, PackageRecord]:
        """Records by SHA256 for those that are known."""
        keys = sorted(set(sha256s))
        found: dict[str, PackageRecord] = {}
        with self._tx("reading packages") as conn:
            for chunk in _chunks(keys, IN_CHUNK):
                for row in conn.execute(sa.select(s.packages).where(
                        s.packages.c.sha256.in_(chunk))):
                    found[row.sha256] = row_to_package(row)
        return found

    def find_packages(
        self,
        *,
        name: str | None = None,
        pattern: str | None = None,
        arch: str | None = None,
        repo_id: str | None = None,
        limit: int | None = None,
    ) -> list[PackageRecord]:
        """Packages matching every given criterion, in package-list order.

        :param name: exact name.
        :param pattern: substring of the name; ``%`` and ``_`` match themselves; case is
            ignored for ASCII letters (package names are ASCII in RPM and Debian).
        :param arch: exact architecture.
        :param repo_id: only packages of that repository's current version.
        :param limit: at most this many (``None``: all).
        :raises NotFoundError: ``repo_id`` was never synced.
        """
        p = s.packages.c
        stmt = sa.select(s.packages)
        if name is not None:
            stmt = stmt.where(p.name == name)
        if arch is not None:
            stmt = stmt.where(p.arch == arch)
        if pattern is not None:
            stmt = stmt.where(sa.func.lower(p.name).contains(pattern.translate(_ASCII_LOWER),
                                                              autoescape=True))
        stmt = stmt.order_by(*(self._ordered(col) for col in (p.name, p.arch)), p.epoch,
                             *(self._ordered(col) for col in (p.version, p.release, p.sha256)))
        if limit is not None:
            stmt = stmt.limit(max(limit, 0))
        with self._tx("searching packages") as conn:
            if repo_id is not None:
                self._current_version(conn, repo_id)
                stmt = stmt.join(s.content, s.content.c.sha256 == p.sha256).where(
                    s.content.c.repo_id == repo_id, s.content.c.removed_in.is_(None))
            rows = conn.execute(stmt).all()
        return [row_to_package(r) for r in rows]

    # --- snapshots ------------------------------------------------------------------------

    def create_snapshots(self, snapshots: Sequence[Snapshot]) -> None:
        """Create snapshots atomically (all or none); each is one row referencing a version.

        :raises NotFoundError: a referenced repository version does not exist.
        :raises ConflictError: a name is taken (also within ``snapshots`` itself).
        """
        if not snapshots:
            return
        sn = s.snapshots.c
        with self._tx("creating snapshots", write=True) as conn:
            seen: set[tuple[str | None, str, str]] = set()
            checked: set[tuple[str, int]] = set()
            for snap in snapshots:
                if (snap.repo_id, snap.version) not in checked:
                    self._resolve(conn, snap.repo_id, snap.version)
                    checked.add((snap.repo_id, snap.version))
                key = (snap.view, snap.name, snap.repo_id)
                if key in seen:
                    raise ConflictError(f"snapshot {_label(snap)} is given twice")
                seen.add(key)
                if snap.view is None:
                    taken = sa.select(sn.id).where(sn.view.is_(None), sn.repo_id == snap.repo_id,
                                                   sn.name == snap.name)
                else:
                    taken = sa.select(sn.id).where(sn.view == snap.view, sn.name == snap.name)
                if conn.execute(taken.limit(1)).first() is not None:
                    raise ConflictError(f"snapshot {_label(snap)} exists already")
            try:
                conn.execute(sa.insert(s.snapshots), [
                    {"name": x.name, "repo_id": x.repo_id, "version": x.version,
                     "created": x.created, "description": x.description, "view": x.view}
                    for x in snapshots])
            except sa.exc.IntegrityError as exc:  # a concurrent creator won the race
                raise ConflictError(f"snapshot {_label(snapshots[0])}...: a name is taken: "
                                    f"{exc.orig}") from exc

    def _select_snapshots(self, conn: Connection, name: str, repo_id: str | None,
                          view: str | None) -> list[Row[Any]]:
        sn = s.snapshots.c
        stmt = sa.select(s.snapshots).where(sn.name == name)
        stmt = stmt.where(sn.view.is_(None) if view is None else sn.view == view)
        if repo_id is not None:
            stmt = stmt.where(sn.repo_id == repo_id)
        rows = conn.execute(stmt.order_by(self._ordered(sn.repo_id))).all()
        repos = sorted({r.repo_id for r in rows})
        if view is None and repo_id is None and len(repos) > 1:
            raise ConflictError(f"snapshot name {name!r} exists in several repositories "
                                f"({', '.join(repos)}); give the repository")
        return list(rows)

    def get_snapshot(self, name: str, *, repo_id: str | None = None, view: str | None = None
                     ) -> Snapshot | None:
        """A repository snapshot (``view=None``) or a view snapshot's member.

        With ``view`` and no ``repo_id``: the member with the smallest repository id.

        :raises ConflictError: ``view`` and ``repo_id`` are ``None`` and several
            repositories have a snapshot of that name.
        """
        with self._tx(f"reading snapshot {name!r}") as conn:
            rows = self._select_snapshots(conn, name, repo_id, view)
        return _row_to_snapshot(rows[0]) if rows else None

    def list_snapshots(self, *, repo_id: str | None = None, view: str | None = None
                       ) -> list[Snapshot]:
        """Snapshot rows, oldest first (ties: creation order); ``repo_id``/``view`` restrict."""
        sn = s.snapshots.c
        stmt = sa.select(s.snapshots).order_by(sn.created, sn.id)
        if repo_id is not None:
            stmt = stmt.where(sn.repo_id == repo_id)
        if view is not None:
            stmt = stmt.where(sn.view == view)
        with self._tx("listing snapshots") as conn:
            return [_row_to_snapshot(r) for r in conn.execute(stmt)]

    def delete_snapshot(self, name: str, *, repo_id: str | None = None, view: str | None = None
                        ) -> int:
        """Delete a repository snapshot or a view snapshot's members; returns rows deleted.

        :raises ConflictError: as for :meth:`get_snapshot`; nothing is deleted.
        """
        with self._tx(f"deleting snapshot {name!r}", write=True) as conn:
            ids = [r.id for r in self._select_snapshots(conn, name, repo_id, view)]
            if ids:
                conn.execute(sa.delete(s.snapshots).where(s.snapshots.c.id.in_(ids)))
        return len(ids)

    # --- publications -------------------------------------------------------------------------

    def record_publication(self, publication: Publication) -> None:
        """Record (or replace) the publication at ``publication.path`` and the keys it holds."""
        path = publication.path
        with self._tx(f"recording publication {path}", write=True) as conn:
            conn.execute(sa.delete(s.publication_packages).where(
                s.publication_packages.c.path == path))
            conn.execute(sa.delete(s.publications).where(s.publications.c.path == path))
            conn.execute(sa.insert(s.publications).values(
                path=path, kind=publication.kind, source=publication.source,
                repo_id=publication.repo_id, version=publication.version,
                snapshot=publication.snapshot, published=publication.published))
            rows = [{"path": path, "sha256": sha} for sha in sorted(publication.packages)]
            for chunk in _chunks(rows, INSERT_CHUNK):
                conn.execute(sa.insert(s.publication_packages), list(chunk))

    def list_publications(self) -> list[Publication]:
        """Every publication, ordered by path, with the keys it holds."""
        pp = s.publication_packages.c
        with self._tx("listing publications") as conn:
            pubs = conn.execute(sa.select(s.publications).order_by(
                self._ordered(s.publications.c.path))).all()
            held: dict[str, set[str]] = {}
            for row in conn.execute(sa.select(pp.path, pp.sha256)):
                held.setdefault(row.path, set()).add(row.sha256)
        return [Publication(path=r.path, kind=r.kind, source=r.source, repo_id=r.repo_id,
                            version=r.version, snapshot=r.snapshot,
                            packages=frozenset(held.get(r.path, ())), published=r.published)
                for r in pubs]

    def delete_publication(self, path: str) -> bool:
        """Forget the publication at ``path``; returns whether one was recorded."""
        with self._tx(f"deleting publication {path}", write=True) as conn:
            conn.execute(sa.delete(s.publication_packages).where(
                s.publication_packages.c.path == path))
            result = conn.execute(sa.delete(s.publications).where(
                s.publications.c.path == path))
        return bool(result.rowcount)

    # --- references ------------------------------------------------------------------------------

    def referenced_sha256(self) -> frozenset[str]:
        """Every key in any version of any repository, any extras blob, any publication.

        Versions are kept until pruned, so every ``content`` row counts, whatever its
        interval; snapshots reference versions and add nothing of their own.
        """
        stmt = sa.union(sa.select(s.content.c.sha256), sa.select(s.version_extras.c.sha256),
                        sa.select(s.publication_packages.c.sha256))
        with self._tx("reading referenced keys") as conn:
            return frozenset(conn.execute(stmt).scalars())

    @staticmethod
    def _unreferenced() -> sa.ColumnElement[bool]:
        sha = s.packages.c.sha256
        return sa.and_(
            ~sa.exists().where(s.content.c.sha256 == sha),
            ~sa.exists().where(s.version_extras.c.sha256 == sha),
            ~sa.exists().where(s.publication_packages.c.sha256 == sha),
        )

    def unreferenced_packages(self) -> frozenset[str]:
        """Keys of package rows :meth:`delete_unreferenced_packages` would drop."""
        with self._tx("finding unreferenced packages") as conn:
            return frozenset(conn.execute(
                sa.select(s.packages.c.sha256).where(self._unreferenced())).scalars())

    def delete_unreferenced_packages(self) -> int:
        """Drop package rows no version, extras entry or publication uses; returns how many."""
        with self._tx("deleting unreferenced packages", write=True) as conn:
            result = conn.execute(sa.delete(s.packages).where(self._unreferenced()))
        return int(result.rowcount)

    def stats(self) -> dict[str, int]:
        """Counts for ``chantal stats`` (keys as :meth:`chantal_core.ports.Catalog.stats`)."""
        count = sa.func.count()
        sn = s.snapshots.c
        view_snaps = sa.select(sn.view, sn.name).where(sn.view.is_not(None)).distinct().subquery()
        queries = {
            "repositories": sa.select(count).select_from(s.repositories),
            "versions": sa.select(count).select_from(s.repository_versions),
            "packages": sa.select(count).select_from(s.packages),
            "package_bytes": sa.select(sa.func.coalesce(sa.func.sum(s.packages.c.size), 0)),
            "snapshots": sa.select(count).select_from(s.snapshots).where(sn.view.is_(None)),
            "view_snapshots": sa.select(count).select_from(view_snaps),
            "publications": sa.select(count).select_from(s.publications),
            "sync_runs": sa.select(count).select_from(s.sync_history),
        }
        with self._tx("counting") as conn:
            return {key: int(conn.execute(q).scalar_one()) for key, q in queries.items()}

    def logical_bytes(self) -> int:
        """Bytes the current versions of all repositories hold, a package counted once per
        repository that has it: what separate mirrors would store (``chantal stats``
        divides it by the pool's bytes for the deduplication ratio)."""
        stmt = (sa.select(sa.func.coalesce(sa.func.sum(s.packages.c.size), 0))
                .select_from(s.content.join(s.packages,
                                            s.packages.c.sha256 == s.content.c.sha256))
                .where(s.content.c.removed_in.is_(None)))
        with self._tx("counting bytes") as conn:
            return int(conn.execute(stmt).scalar_one())
