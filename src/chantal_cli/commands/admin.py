"""``chantal init``, ``config check``, ``db ...`` and ``stats``."""

from __future__ import annotations

import argparse
import os
import sys

from chantal_cli.commands._common import render_pool_figures, services
from chantal_cli.render import dump_json, render_rows


def init(args: argparse.Namespace) -> int:
    """Create the storage directories and the database schema (idempotent)."""
    from chantal_adapters.sql.migrate import init_database

    svc = services(args, check_schema=False)
    storage = svc.config.storage
    for label, path in (("base", storage.base_path), ("pool", storage.pool_path),
                        ("published", storage.published_path), ("temp", storage.temp_path)):
        os.makedirs(path, exist_ok=True)
        print(f"{label + ' directory:':<22}{path}")
    init_database(svc.database_url)
    print(f"{'database:':<22}{_masked(svc.database_url)} (schema at head)")
    print("Chantal is ready: add repositories to the configuration, then "
          "`chantal repo sync --all`.")
    return 0


def _masked(url: str) -> str:
    from chantal_adapters.config_yaml import mask_url

    return mask_url(url)


def config_check(args: argparse.Namespace) -> int:
    """Validate the configuration and print it resolved, secrets masked."""
    from chantal_adapters.config_yaml import render_config, render_config_yaml

    svc = services(args, check_schema=False)
    if args.format == "json":
        dump_json(render_config(svc.config))
    else:
        print(f"# {svc.config_path}: valid, {len(svc.config.repositories)} repositories, "
              f"{len(svc.config.views)} views")
        sys.stdout.write(render_config_yaml(svc.config))
    return 0


def db_upgrade(args: argparse.Namespace) -> int:
    """Apply pending migrations."""
    from chantal_adapters.sql.migrate import upgrade_database

    svc = services(args, check_schema=False)
    upgrade_database(svc.database_url)
    print("database schema is at head")
    return 0


def db_status(args: argparse.Namespace) -> int:
    """Print the schema revision and whether it is current."""
    from chantal_adapters.sql.migrate import schema_status

    svc = services(args, check_schema=False)
    current, head = schema_status(svc.database_url)
    print(f"schema revision: {current or '(none: run `chantal init`)'}; head: {head}")
    return 0 if current == head else 1


def stats(args: argparse.Namespace) -> int:
    """Repositories, packages, snapshots, pool size and the deduplication ratio."""
    svc = services(args)
    data = dict(svc.catalog.stats())
    files, size = svc.pool.stats()
    data["pool_files"] = files
    data["pool_bytes"] = size
    render_pool_figures(svc, data, args.format)
    return 0


def db_verify(args: argparse.Namespace) -> int:
    """Every package the catalog references is in the pool with the right size."""
    svc = services(args)
    referenced = svc.catalog.referenced_sha256()
    known = svc.catalog.get_packages(referenced)
    problems = []
    for sha in sorted(referenced):
        entry = svc.pool.get(sha)
        record = known.get(sha)
        if entry is None:
            problems.append({"sha256": sha, "file": record.filename if record else "",
                             "problem": "missing from pool"})
        elif record is not None and record.size and entry.size != record.size:
            problems.append({"sha256": sha, "file": record.filename,
                             "problem": f"size {entry.size}, catalog says {record.size}"})
    if problems:
        render_rows(problems, ["sha256", "file", "problem"], args.format)
        return 3
    print(f"ok: {len(referenced)} referenced files present with the right size")
    return 0


def db_cleanup(args: argparse.Namespace) -> int:
    """Drop packages nothing uses, then free their pool files."""
    from chantal_cli.commands.pool import cleanup_pool

    svc = services(args)
    if args.dry_run:
        print("dry run: nothing is deleted")
    else:
        dropped = svc.catalog.delete_unreferenced_packages()
        print(f"dropped {dropped} unreferenced package rows")
    return cleanup_pool(svc, dry_run=args.dry_run)
