"""Schema management: create, upgrade and check the catalog schema with alembic.

The alembic :class:`~alembic.config.Config` is built in code with ``script_location``
pointing at the ``migrations`` directory inside this package, so migrations run from any
working directory and from an installed wheel; no ``alembic.ini`` is read. The schema
revision lives in alembic's own ``alembic_version`` table.

* ``chantal init`` → :func:`init_database` (creates the schema at head; idempotent).
* ``chantal db upgrade`` → :func:`upgrade_database`.
* ``chantal db status`` → :func:`schema_status`.
* :class:`~chantal_adapters.sql.catalog.SqlCatalog` calls :func:`check_schema` when built.

alembic is imported only when a migration runs or a database is not at
:data:`HEAD_REVISION`: the check every command makes reads ``alembic_version`` with
SQLAlchemy alone (importing alembic and scanning the migration scripts costs more than
the rest of a short command's start-up).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from chantal_adapters.sql.schema import make_engine, metadata, safe_url
from chantal_core.errors import CatalogError, SchemaOutdatedError

if TYPE_CHECKING:
    from alembic.config import Config

#: Directory holding ``env.py`` and ``versions/``.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: The newest migration shipped (``revision`` of the last file in ``migrations/versions``);
#: a test keeps it equal to alembic's head. Add a migration, update this.
HEAD_REVISION = "0001"

_INIT_HINT = "run `chantal init` to create the catalog database"
_UPGRADE_HINT = "run `chantal db upgrade` (back up the database first)"


class SchemaStatus(NamedTuple):
    """Where a database's schema stands; unpacks as ``current, head = status``.

    :ivar current: the revision recorded in ``alembic_version``, or ``None`` when the
        database is not initialised.
    :ivar head: the newest revision this version of Chantal ships.
    """

    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        """Whether the database is at head."""
        return self.current == self.head

    @property
    def known(self) -> bool:
        """``False`` when ``current`` is a revision this Chantal does not ship (the database
        was migrated by a newer Chantal); ``True`` for ``None``."""
        return self.current is None or is_known_revision(self.current)


def is_known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of the migrations shipped with this Chantal."""
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    script = ScriptDirectory.from_config(alembic_config())
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def alembic_config() -> Config:
    """The alembic configuration for the catalog, built in code.

    :returns: a config whose ``script_location`` is :data:`MIGRATIONS_DIR`.
    """
    from alembic.config import Config

    cfg = Config()
    # ConfigParser interpolation: a literal "%" in the path must be doubled
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    return cfg


def head_revision() -> str:
    """The newest schema revision shipped with this version of Chantal.

    :raises CatalogError: the migrations are missing or branched (a packaging error).
    """
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    heads = script.get_heads()
    if len(heads) != 1:
        raise CatalogError(f"the catalog migrations in {MIGRATIONS_DIR} have {len(heads)} heads "
                           f"({', '.join(heads) or 'none'}); expected exactly one")
    return heads[0]


@contextmanager
def _engine_for(target: str | URL | Engine) -> Iterator[Engine]:
    if isinstance(target, Engine):
        yield target
        return
    engine = make_engine(target)
    try:
        yield engine
    finally:
        engine.dispose()


def schema_status(target: str | URL | Engine) -> SchemaStatus:
    """Read the schema revision of a database.

    :param target: database URL or an engine made by
        :func:`~chantal_adapters.sql.schema.make_engine`.
    :returns: current and head revisions.
    :raises CatalogError: the database cannot be reached.
    """
    from alembic.runtime.migration import MigrationContext

    head = head_revision()
    with _engine_for(target) as engine:
        try:
            with engine.connect() as conn:
                heads = MigrationContext.configure(conn).get_current_heads()
        except sa.exc.SQLAlchemyError as exc:
            raise CatalogError(f"cannot read the schema of {safe_url(engine.url)}: {exc}"
                               ) from exc
    return SchemaStatus(current=heads[0] if heads else None, head=head)


def check_schema(target: str | URL | Engine) -> SchemaStatus:
    """Fail unless the database schema is exactly at head.

    :param target: database URL or engine.
    :returns: the status (at head).
    :raises CatalogError: the database is not initialised (hint: ``chantal init``), or its
        revision is unknown to this Chantal (made by a newer version).
    :raises SchemaOutdatedError: the schema is behind head (hint: ``chantal db upgrade``).
    """
    if _recorded_revisions(target) == [HEAD_REVISION]:
        return SchemaStatus(current=HEAD_REVISION, head=HEAD_REVISION)
    status = schema_status(target)
    where = safe_url(target.url if isinstance(target, Engine) else target)
    if status.current is None:
        raise CatalogError(f"the catalog database {where} is not initialised", hint=_INIT_HINT)
    if not status.known:
        raise CatalogError(
            f"the catalog database {where} has schema revision {status.current}, which this "
            f"version of Chantal does not know (newest known: {status.head})",
            hint="upgrade Chantal, or point it at another database")
    if not status.up_to_date:
        raise SchemaOutdatedError(
            f"the catalog database {where} has schema revision {status.current}; "
            f"this version of Chantal needs {status.head}", hint=_UPGRADE_HINT)
    return status


def _recorded_revisions(target: str | URL | Engine) -> list[str] | None:
    """The revisions in ``alembic_version`` read with plain SQL, or ``None`` when they
    cannot be read (no such table, unreachable database: the full check says why)."""
    table = sa.table("alembic_version", sa.column("version_num", sa.String))
    with _engine_for(target) as engine:
        try:
            with engine.connect() as conn:
                return [str(v) for v in conn.execute(sa.select(table.c.version_num)).scalars()]
        except sa.exc.SQLAlchemyError:
            return None


def _upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command
    from alembic.util.exc import CommandError

    cfg = alembic_config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except (sa.exc.SQLAlchemyError, CommandError) as exc:
        raise CatalogError(f"migrating {safe_url(engine.url)} to {revision} failed: {exc}"
                           ) from exc


def upgrade_database(target: str | URL | Engine, revision: str = "head") -> SchemaStatus:
    """Apply pending migrations (creating the schema if the database is empty).

    Runs in one transaction (PostgreSQL and SQLite both have transactional DDL), so a failed
    migration leaves the schema as it was.

    :param target: database URL or engine.
    :param revision: target revision (default: head).
    :returns: the status afterwards.
    :raises CatalogError: the migration failed, or the database's revision is unknown.
    """
    with _engine_for(target) as engine:
        before = schema_status(engine)
        if before.current is not None and not before.known:
            raise CatalogError(
                f"the catalog database {safe_url(engine.url)} has schema revision "
                f"{before.current}, unknown to this version of Chantal; not upgrading",
                hint="upgrade Chantal")
        _upgrade(engine, revision)
        return schema_status(engine)


def init_database(target: str | URL | Engine) -> SchemaStatus:
    """Create the catalog schema at head; do nothing when it already is at head.

    An initialised but older schema is not upgraded silently: that is
    :func:`upgrade_database`'s job, after the operator made a backup.

    :param target: database URL (SQLite: the file and its directory are created) or engine.
    :returns: the status afterwards (at head).
    :raises SchemaOutdatedError: the database holds an older schema.
    :raises CatalogError: the database is unreachable, holds an unknown revision, or holds
        tables but no revision (not a Chantal catalog, or one made outside migrations).
    """
    with _engine_for(target) as engine:
        status = schema_status(engine)
        if status.current is None:
            with engine.connect() as conn:
                existing = set(sa.inspect(conn).get_table_names()) & set(metadata.tables)
            if existing:
                raise CatalogError(
                    f"{safe_url(engine.url)} has tables ({', '.join(sorted(existing))}) but no "
                    "schema revision; refusing to initialise over them")
            _upgrade(engine)
            return check_schema(engine)
        return check_schema(engine)
