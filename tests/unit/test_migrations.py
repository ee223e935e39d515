"""Catalog schema management: alembic migrations shipped in the package, run from code.

Checks that head equals ``schema.py`` (autogenerate finds no difference), that outdated,
unknown and missing schemas are reported with the right error and hint, and that
migrations need neither an ``alembic.ini`` nor a particular working directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from chantal_adapters.sql import SqlCatalog, make_engine, migrate
from chantal_adapters.sql.migrate import (
    alembic_config,
    check_schema,
    head_revision,
    init_database,
    schema_status,
    upgrade_database,
)
from chantal_adapters.sql.schema import TABLES, metadata
from chantal_core.errors import CatalogError, SchemaOutdatedError

PROBE_MIGRATION = '''"""probe: a second revision for tests"""
import sqlalchemy as sa
from alembic import op

revision = "9002"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("probe", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("probe")
'''


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/db/chantal.db"


def _tables(url: str | sa.Engine) -> set[str]:
    engine = url if isinstance(url, sa.Engine) else make_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        if not isinstance(url, sa.Engine):
            engine.dispose()


def _schema_diff(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An empty database: a SQLite file, or a PostgreSQL database made for this test."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path}/fresh.db")
        yield engine
        engine.dispose()
        return
    base = os.environ.get("CHANTAL_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("PostgreSQL tests need CHANTAL_TEST_POSTGRES_URL "
                    "(e.g. postgresql+psycopg://chantal@127.0.0.1:5433/chantal_test)")
    name = f"chantal_migr_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine = make_engine(sa.make_url(base).set(database=name))
        try:
            yield engine
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        admin.dispose()


def test_init_creates_schema_at_head_and_is_idempotent(fresh_engine: sa.Engine) -> None:
    assert schema_status(fresh_engine) == (None, head_revision())
    status = init_database(fresh_engine)
    assert status.current == status.head == head_revision()
    assert {t.name for t in TABLES} | {"alembic_version"} <= _tables(fresh_engine)
    assert init_database(fresh_engine) == status  # second run: nothing to do
    assert check_schema(fresh_engine).up_to_date


def test_head_schema_equals_schema_module(fresh_engine: sa.Engine) -> None:
    """Law: migrating an empty database to head yields exactly ``schema.metadata``."""
    init_database(fresh_engine)
    assert _schema_diff(fresh_engine) == []


def test_schema_diff_detects_a_drift(fresh_engine: sa.Engine) -> None:
    """The comparison above is not vacuous: a dropped index is noticed."""
    init_database(fresh_engine)
    with fresh_engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_content_sha256")
    assert any("ix_content_sha256" in repr(d) for d in _schema_diff(fresh_engine))


def test_downgrade_to_base_and_up_again(fresh_engine: sa.Engine) -> None:
    init_database(fresh_engine)
    cfg = alembic_config()
    with fresh_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert not ({t.name for t in TABLES} & _tables(fresh_engine))
    assert schema_status(fresh_engine).current is None
    assert upgrade_database(fresh_engine).up_to_date
    assert _schema_diff(fresh_engine) == []


def test_uninitialised_database_says_run_chantal_init(sqlite_url: str) -> None:
    with pytest.raises(CatalogError, match="not initialised") as info:
        check_schema(sqlite_url)
    assert not isinstance(info.value, SchemaOutdatedError)
    assert info.value.hint is not None and "chantal init" in info.value.hint


def test_outdated_schema_is_reported_and_upgraded(sqlite_url: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    init_database(sqlite_url)  # at the real head
    # a newer Chantal: the shipped migrations plus one more revision
    newer = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, newer,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (newer / "versions" / "9002_probe.py").write_text(
        PROBE_MIGRATION.format(down=head_revision()))
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", newer)
    monkeypatch.setattr(migrate, "HEAD_REVISION", "9002")
    assert head_revision() == "9002"

    with pytest.raises(SchemaOutdatedError) as info:
        check_schema(sqlite_url)
    assert info.value.hint is not None and "chantal db upgrade" in info.value.hint
    with pytest.raises(SchemaOutdatedError):
        SqlCatalog(sqlite_url)
    with pytest.raises(SchemaOutdatedError):  # init never upgrades silently
        init_database(sqlite_url)
    assert "probe" not in _tables(sqlite_url)

    status = upgrade_database(sqlite_url)
    assert status == ("9002", "9002")
    assert "probe" in _tables(sqlite_url)
    SqlCatalog(sqlite_url).close()


def test_unknown_revision_means_a_newer_chantal(sqlite_url: str) -> None:
    init_database(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'ffff0000'")
        with pytest.raises(CatalogError, match="does not know") as info:
            check_schema(engine)
        assert not isinstance(info.value, SchemaOutdatedError)
        with pytest.raises(CatalogError, match="unknown"):
            upgrade_database(engine)
        assert not schema_status(engine).known
    finally:
        engine.dispose()


def test_init_refuses_a_database_with_foreign_tables(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE packages (id INTEGER)")
        with pytest.raises(CatalogError, match="no schema revision"):
            init_database(engine)
    finally:
        engine.dispose()


def test_migrations_need_no_ini_and_no_working_directory(tmp_path: Path) -> None:
    """Run from an unrelated directory in a fresh interpreter: script_location is absolute."""
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    db = tmp_path / "data" / "chantal.db"
    code = ("import sys; from chantal_adapters.sql import init_database, SqlCatalog; "
            "s = init_database(sys.argv[1]); SqlCatalog(sys.argv[1]).close(); print(s.current)")
    out = subprocess.run([sys.executable, "-c", code, f"sqlite:///{db}"], cwd=workdir,
                         capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == head_revision()
    assert not any(workdir.iterdir())  # nothing written to the working directory
    assert db.is_file()


def test_migration_files_are_shipped_inside_the_package() -> None:
    base = migrate.MIGRATIONS_DIR
    assert base.parent.name == "sql" and base.parent.parent.name == "chantal_adapters"
    assert (base / "env.py").is_file()
    assert (base / "script.py.mako").is_file()
    assert sorted(p.name for p in (base / "versions").glob("*.py")) == ["0001_initial.py"]


def test_head_revision_constant_is_alembics_head() -> None:
    """The fast schema check compares with HEAD_REVISION: it must name the newest
    migration shipped (add a migration, update the constant)."""
    assert migrate.head_revision() == migrate.HEAD_REVISION


def test_schema_check_at_head_does_not_import_alembic(tmp_path: Path) -> None:
    """A command against an up-to-date catalog runs without loading alembic (start-up)."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    migrate.init_database(url)
    code = ("import sys\n"
            "from chantal_adapters.sql import SqlCatalog\n"
            f"SqlCatalog({url!r})\n"
            "assert not [m for m in sys.modules if m.startswith('alembic')], 'alembic loaded'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
