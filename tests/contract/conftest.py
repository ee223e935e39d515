"""Fixtures for the contract suites: a clean PostgreSQL catalog database per test.

PostgreSQL tests run when ``CHANTAL_TEST_POSTGRES_URL`` names a database the tests may
wipe, e.g. ``postgresql+psycopg://chantal@127.0.0.1:5433/chantal_test``; otherwise they are
skipped with that reason. The schema is dropped and re-created through the migrations once
per session; every test then starts from empty tables (``TRUNCATE``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

POSTGRES_ENV = "CHANTAL_TEST_POSTGRES_URL"


def postgres_url_or_skip() -> str:
    """The test database URL from the environment, or skip the calling test."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} "
                    "(e.g. postgresql+psycopg://chantal@127.0.0.1:5433/chantal_test)")
    return url


def reset_postgres_schema(engine: sa.Engine) -> None:
    """Drop every catalog table and the alembic revision table (the database is disposable)."""
    from chantal_adapters.sql.schema import metadata

    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[sa.Engine]:
    """An engine on the test database with a fresh schema at head (migrations applied)."""
    from chantal_adapters.sql import init_database, make_engine

    url = postgres_url_or_skip()
    engine = make_engine(url)
    try:
        reset_postgres_schema(engine)
        init_database(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def postgres_clean(postgres_engine: sa.Engine) -> sa.Engine:
    """The session's engine with every catalog table emptied before the test."""
    from chantal_adapters.sql.schema import TABLES

    names = ", ".join(t.name for t in reversed(TABLES))
    with postgres_engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    return postgres_engine
