"""The Catalog contract against the in-memory fake, SQLite and PostgreSQL.

Plus SQL-specific behaviour: scale (50,000 packages), interval storage costing rows in
proportion to the change, rollback of a failure at the last statement, SQLite settings.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from chantal_adapters.sql import SqlCatalog, init_database
from chantal_adapters.sql.schema import content, packages, repositories, repository_versions
from chantal_adapters.sql.schema import sync_history as sync_history_table
from chantal_core.errors import CatalogError
from chantal_core.model import PackageRecord
from chantal_core.testing.catalog import InMemoryCatalog
from contract.catalog_contract import T0, A, B, CatalogContract, commit, pkg


class TestInMemoryCatalog(CatalogContract):
    @pytest.fixture
    def catalog(self) -> InMemoryCatalog:
        return InMemoryCatalog()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite catalog at head, made once; tests copy it (migrations cost ~0.1 s each)."""
    path = tmp_path_factory.mktemp("catalog-template") / "chantal.db"
    init_database(f"sqlite:///{path}")
    return path


def _sqlite_catalog(template: Path, directory: Path) -> SqlCatalog:
    path = directory / "chantal.db"
    shutil.copyfile(template, path)
    return SqlCatalog(f"sqlite:///{path}")


# --- SQL-only behaviour, shared by SQLite and PostgreSQL ----------------------------------


def _count(catalog: SqlCatalog, table: sa.Table, *where: Any) -> int:
    with catalog.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where))
                   .scalar_one())


def _bulk_records(count: int, offset: int = 0) -> list[PackageRecord]:
    return [
        PackageRecord(
            format="rpm", name=f"pkg{i:05d}", version="1.0", release="1.el9", arch="x86_64",
            sha256=f"{i:064x}", size=10_000 + i, filename=f"pkg{i:05d}-1.0-1.el9.x86_64.rpm",
            location=f"Packages/p/pkg{i:05d}-1.0-1.el9.x86_64.rpm", summary="bulk",
            metadata={"primary": f"<package><name>pkg{i:05d}</name></package>",
                      "files": [f"/usr/bin/pkg{i:05d}"]})
        for i in range(offset, offset + count)
    ]


class SqlCatalogBehaviour:
    """Tests that look inside the database; subclasses provide ``catalog`` (a SqlCatalog)
    and ``bulk_seconds`` (the time budget for committing 50,000 packages)."""

    bulk_seconds = 10.0

    def test_50000_packages_then_a_small_change_costs_small_rows(self, catalog: SqlCatalog
                                                                  ) -> None:
        records = _bulk_records(50_000)
        started = time.perf_counter()
        assert catalog.commit_sync(commit("big", records)) == 1
        elapsed = time.perf_counter() - started
        assert elapsed < self.bulk_seconds, f"50,000 packages took {elapsed:.1f} s"
        assert _count(catalog, content) == 50_000
        assert _count(catalog, packages) == 50_000

        # version 2: 10 packages leave, 10 new ones arrive
        changed = records[10:] + _bulk_records(10, offset=50_000)
        assert catalog.commit_sync(commit("big", changed, started=T0 + 1)) == 2
        assert _count(catalog, content) == 50_010  # 10 rows added, none copied
        assert _count(catalog, content, content.c.added_in == 2) == 10
        assert _count(catalog, content, content.c.removed_in == 2) == 10
        assert _count(catalog, packages) == 50_010
        assert len(catalog.version_content("big", 1)) == 50_000
        assert catalog.version_content("big", 2) == {r.sha256 for r in changed}
        # unchanged: no row at all besides history
        assert catalog.commit_sync(commit("big", changed, started=T0 + 2)) is None
        assert _count(catalog, content) == 50_010
        assert _count(catalog, repository_versions) == 2
        # a snapshot is one row whatever the size
        from chantal_core.model import Snapshot

        catalog.create_snapshots([Snapshot(name="s", repo_id="big", version=1, created=T0)])
        assert len(catalog.version_packages("big", 1)) == 50_000

    def test_failure_at_the_last_statement_rolls_everything_back(self, catalog: SqlCatalog
                                                                  ) -> None:
        """The history INSERT is the commit's last statement; failing it must leave no
        package, repository, version or content row behind."""
        catalog.commit_sync(commit("base", [A]))

        def fail_history(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO SYNC_HISTORY"):
                raise sa.exc.OperationalError(statement, None, Exception("injected failure"))

        sa.event.listen(catalog.engine, "before_cursor_execute", fail_history)
        try:
            with pytest.raises(CatalogError, match="injected failure"):
                catalog.commit_sync(commit("base", [A, B], started=T0 + 1, token="t2"))
            with pytest.raises(CatalogError, match="injected failure"):
                catalog.commit_sync(commit("new", [B]))
        finally:
            sa.event.remove(catalog.engine, "before_cursor_execute", fail_history)
        assert _count(catalog, packages) == 1
        assert _count(catalog, content) == 1
        assert _count(catalog, repository_versions) == 1
        assert _count(catalog, repositories) == 1
        assert _count(catalog, sync_history_table) == 1
        state = catalog.get_repository("base")
        assert state is not None
        assert (state.current_version, state.upstream_token) == (1, "tok")

    def test_concurrent_commits_to_one_repository_serialise(self, catalog: SqlCatalog
                                                            ) -> None:
        """Writers on separate connections never both take the same version number
        (SQLite: BEGIN IMMEDIATE; PostgreSQL: the repository row is locked)."""
        catalog.commit_sync(commit("base", [A]))

        def work(i: int) -> int | None:
            return catalog.commit_sync(commit("base", [A, pkg(f"c{i}")], started=T0 + i))

        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(work, range(1, 25)))
        assert sorted(r for r in results if r is not None) == list(range(2, 26))
        assert [n for n, _, _ in catalog.list_versions("base")] == list(range(1, 26))
        for number in range(2, 26):
            assert len(catalog.version_content("base", number)) == 2
        assert _count(catalog, content, content.c.removed_in.is_(None)) == 2

    def test_re_added_package_gets_a_new_interval(self, catalog: SqlCatalog) -> None:
        catalog.commit_sync(commit("base", [A, B]))
        catalog.commit_sync(commit("base", [B], started=T0 + 1))
        catalog.commit_sync(commit("base", [A, B], started=T0 + 2))
        with catalog.engine.connect() as conn:
            rows = conn.execute(sa.select(content.c.added_in, content.c.removed_in).where(
                content.c.sha256 == A.sha256).order_by(content.c.added_in)).all()
        assert [tuple(r) for r in rows] == [(1, 2), (3, None)]


class TestSqliteCatalog(CatalogContract, SqlCatalogBehaviour):
    @pytest.fixture
    def catalog(self, sqlite_template: Path, tmp_path: Path) -> Iterator[SqlCatalog]:
        catalog = _sqlite_catalog(sqlite_template, tmp_path)
        yield catalog
        catalog.close()

    def test_sqlite_enables_foreign_keys_and_wal(self, catalog: SqlCatalog) -> None:
        with catalog.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"

    def test_two_catalogs_on_one_file_see_each_other(self, catalog: SqlCatalog) -> None:
        other = SqlCatalog(catalog.engine.url)
        try:
            catalog.commit_sync(commit("base", [A]))
            assert other.version_content("base") == {A.sha256}
            assert other.commit_sync(commit("base", [A, B], started=T0 + 1)) == 2
            assert catalog.get_repository("base").current_version == 2  # type: ignore[union-attr]
        finally:
            other.close()


def test_sqlite_catalog_on_uninitialised_database_says_run_init(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/deep/dir/chantal.db"
    with pytest.raises(CatalogError, match="not initialised") as info:
        SqlCatalog(url)
    assert info.value.hint is not None and "chantal init" in info.value.hint
    assert (tmp_path / "deep" / "dir").is_dir()  # parent directory created
    SqlCatalog(url, check=False).close()  # without the check it can be built


def test_catalog_rejects_unsupported_database() -> None:
    with pytest.raises(CatalogError, match="unsupported database"):
        SqlCatalog("mysql://user:secret@127.0.0.1/chantal")


def test_catalog_error_messages_hide_the_password() -> None:
    with pytest.raises(CatalogError) as info:
        SqlCatalog("mysql://user:secret@127.0.0.1/chantal")
    assert "secret" not in str(info.value)


@pytest.mark.postgres
class TestPostgresCatalog(CatalogContract, SqlCatalogBehaviour):
    bulk_seconds = 20.0

    @pytest.fixture
    def catalog(self, postgres_clean: sa.Engine) -> SqlCatalog:
        return SqlCatalog(postgres_clean)
