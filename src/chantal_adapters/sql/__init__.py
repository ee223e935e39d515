"""The SQL catalog: SQLAlchemy Core tables, alembic migrations, :class:`SqlCatalog`.

Supported databases: SQLite (``sqlite:////var/lib/chantal/chantal.db``, the default) and
PostgreSQL (``postgresql+psycopg://user@host:5432/chantal``, needs the ``postgres`` extra).

.. code-block:: python

    from chantal_adapters.sql import SqlCatalog, init_database

    init_database(url)        # `chantal init`: schema at head, idempotent
    catalog = SqlCatalog(url)  # checks the schema is at head
"""

from __future__ import annotations

from chantal_adapters.sql.catalog import SqlCatalog
from chantal_adapters.sql.migrate import (
    SchemaStatus,
    check_schema,
    head_revision,
    init_database,
    schema_status,
    upgrade_database,
)
from chantal_adapters.sql.schema import make_engine

__all__ = [
    "SchemaStatus",
    "SqlCatalog",
    "check_schema",
    "head_revision",
    "init_database",
    "make_engine",
    "schema_status",
    "upgrade_database",
]
