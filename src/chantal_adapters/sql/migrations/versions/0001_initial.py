"""Initial catalog schema: repositories, packages, interval-coded versions, snapshots,
publications, sync history.

Written out explicitly (not ``metadata.create_all``) so this revision keeps creating the
same schema when ``schema.py`` evolves; ``tests/unit/test_migrations.py`` checks that head
and ``schema.py`` agree.

Revision ID: 0001
Revises:
Create Date: 2024-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create every table and index of the initial schema."""
    op.create_table(
        "repositories",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("current_version", sa.Integer, nullable=True),
        sa.Column("upstream_token", sa.Text, nullable=True),
        sa.Column("last_sync", sa.Double, nullable=True),
        sa.Column("created", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_repositories"),
    )
    op.create_table(
        "packages",
        sa.Column("sha256", sa.String(64), nullable=False),
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
        sa.PrimaryKeyConstraint("sha256", name="pk_packages"),
    )
    op.create_index("ix_packages_name_arch", "packages", ["name", "arch"])
    op.create_table(
        "repository_versions",
        sa.Column("repo_id", sa.String(255), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("created", sa.Double, nullable=False),
        sa.Column("package_count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("repo_id", "number", name="pk_repository_versions"),
        sa.ForeignKeyConstraint(["repo_id"], ["repositories.id"],
                                name="fk_repository_versions_repo_id_repositories"),
    )
    op.create_table(
        "content",
        sa.Column("repo_id", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("added_in", sa.Integer, nullable=False),
        sa.Column("removed_in", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("repo_id", "sha256", "added_in", name="pk_content"),
        sa.CheckConstraint("removed_in IS NULL OR removed_in > added_in",
                           name="ck_content_interval"),
        sa.ForeignKeyConstraint(["repo_id"], ["repositories.id"],
                                name="fk_content_repo_id_repositories"),
        sa.ForeignKeyConstraint(["sha256"], ["packages.sha256"],
                                name="fk_content_sha256_packages"),
    )
    op.create_index("ix_content_repo_id_added_in", "content", ["repo_id", "added_in"])
    op.create_index("ix_content_repo_id_removed_in", "content", ["repo_id", "removed_in"])
    op.create_index("ix_content_sha256", "content", ["sha256"])
    op.create_table(
        "version_extras",
        sa.Column("repo_id", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("repo_id", "version", "kind", name="pk_version_extras"),
        sa.ForeignKeyConstraint(
            ["repo_id", "version"], ["repository_versions.repo_id", "repository_versions.number"],
            name="fk_version_extras_repo_id_version_repository_versions"),
    )
    op.create_index("ix_version_extras_sha256", "version_extras", ["sha256"])
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("repo_id", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created", sa.Double, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("view", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_snapshots"),
        sa.ForeignKeyConstraint(
            ["repo_id", "version"], ["repository_versions.repo_id", "repository_versions.number"],
            name="fk_snapshots_repo_id_version_repository_versions"),
        sa.UniqueConstraint("view", "name", "repo_id", name="uq_snapshots_view_name_repo_id"),
    )
    op.create_index("uq_snapshots_repo_name", "snapshots", ["repo_id", "name"], unique=True,
                    sqlite_where=sa.text("view IS NULL"),
                    postgresql_where=sa.text("view IS NULL"))
    op.create_table(
        "publications",
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("repo_id", sa.String(255), nullable=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("snapshot", sa.String(255), nullable=True),
        sa.Column("published", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("path", name="pk_publications"),
    )
    op.create_table(
        "publication_packages",
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("path", "sha256", name="pk_publication_packages"),
        sa.ForeignKeyConstraint(["path"], ["publications.path"], ondelete="CASCADE",
                                name="fk_publication_packages_path_publications"),
    )
    op.create_index("ix_publication_packages_sha256", "publication_packages", ["sha256"])
    op.create_table(
        "sync_history",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
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
        sa.PrimaryKeyConstraint("id", name="pk_sync_history"),
    )
    op.create_index("ix_sync_history_repo_id_started", "sync_history", ["repo_id", "started"])


def downgrade() -> None:
    """Drop everything the upgrade created (children first)."""
    for table in ("sync_history", "publication_packages", "publications", "snapshots",
                  "version_extras", "content", "repository_versions", "packages",
                  "repositories"):
        op.drop_table(table)
