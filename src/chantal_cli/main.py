"""``chantal``: argv -> parsed options -> a use case -> rendered output -> exit code.

The parser is built by :func:`_make_parser`; command modules are imported only when their
command runs, so ``chantal --version`` stays fast. Errors are mapped to exit codes in
exactly one place, :func:`main`.

Exit codes: 0 success; 1 a Chantal error (fetch, checksum, signature, catalog...);
2 usage or configuration error; 3 something was found wrong (``pool verify``,
``db verify``); 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from chantal_cli import __doc__ as _pkg_doc  # noqa: F401  (keeps the package imported)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PROBLEMS = 3
EXIT_INTERRUPTED = 130


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chantal")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        from chantal_core import __version__

        return __version__


class _VersionAction(argparse.Action):
    """``--version``: the version looked up only when asked for (package metadata)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: Any = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0,
                         help=help or "show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(f"chantal {_version()}")
        parser.exit()


def _add_selection(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--repo-id", help="one repository by id")
    group.add_argument("--all", action="store_true", help="every enabled repository")
    group.add_argument("--pattern",
                       help="repositories whose id matches this glob (e.g. 'epel*')")
    parser.add_argument("--type", dest="repo_type",
                        help="only repositories of this type (rpm, apt)")


def _make_parser() -> argparse.ArgumentParser:
    """The whole command line, without importing any command implementation."""
    parser = argparse.ArgumentParser(
        prog="chantal",
        description="Offline mirroring of RPM and APT repositories.",
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument("-c", "--config", help="configuration file (default: $CHANTAL_CONFIG, "
                        "/etc/chantal/config.yaml, ~/.config/chantal/config.yaml, ./config.yaml)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    fmt = argparse.ArgumentParser(add_help=False)
    fmt.add_argument("--format", choices=("table", "json"), default="table",
                     help="output format (default: table)")
    fmt_csv = argparse.ArgumentParser(add_help=False)
    fmt_csv.add_argument("--format", choices=("table", "json", "csv"), default="table",
                         help="output format (default: table)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    # init / config / db / stats
    p = sub.add_parser("init", help="create the database schema and the storage directories")
    p.set_defaults(handler="admin:init")
    cfg = sub.add_parser("config", help="configuration").add_subparsers(dest="sub", required=True)
    p = cfg.add_parser("check", parents=[fmt], help="validate and print the resolved configuration")
    p.set_defaults(handler="admin:config_check")
    db = sub.add_parser("db", help="the catalog database").add_subparsers(dest="sub", required=True)
    db.add_parser("upgrade", help="apply pending schema migrations").set_defaults(
        handler="admin:db_upgrade")
    db.add_parser("status", help="schema version").set_defaults(handler="admin:db_status")
    db.add_parser("stats", parents=[fmt], help="row counts").set_defaults(handler="admin:stats")
    db.add_parser("verify", parents=[fmt], help="every referenced pool file exists with the "
                  "right size").set_defaults(handler="admin:db_verify")
    p = db.add_parser("cleanup", help="drop packages nothing uses, then free their pool files")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(handler="admin:db_cleanup")
    sub.add_parser("stats", parents=[fmt], help="repositories, packages, snapshots, pool size, "
                   "deduplication").set_defaults(handler="admin:stats")

    # repo
    repo = sub.add_parser("repo", help="repositories").add_subparsers(dest="sub", required=True)
    repo.add_parser("list", parents=[fmt], help="configured repositories").set_defaults(
        handler="repo:list_")
    p = repo.add_parser("show", parents=[fmt], help="one repository")
    p.add_argument("--repo-id", required=True)
    p.set_defaults(handler="repo:show")
    p = repo.add_parser("history", parents=[fmt], help="sync history")
    p.add_argument("--repo-id", required=True)
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(handler="repo:history")
    p = repo.add_parser("sync", parents=[fmt], help="sync from upstream")
    _add_selection(p)
    p.add_argument("--workers", type=int, default=None, help="parallel downloads (default 8)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, download nothing")
    p.set_defaults(handler="repo:sync")
    p = repo.add_parser("check-updates", parents=[fmt], help="what upstream has that we lack "
                        "(metadata only)")
    _add_selection(p)
    p.set_defaults(handler="repo:check_updates")
    p = repo.add_parser("import", help="repository definitions from yum .repo or APT sources")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-yum-repos", nargs="*", metavar="FILE",
                     help=".repo files (default: /etc/yum.repos.d/*.repo)")
    src.add_argument("--from-apt-sources", nargs="*", metavar="FILE",
                     help=".sources/.list files (default: the machine's APT sources)")
    p.add_argument("--output", "-o", help="write YAML here (default: stdout)")
    p.add_argument("--prefix", default="", help="prefix for generated repository ids")
    p.set_defaults(handler="repo:import_")

    # package
    pkg = sub.add_parser("package", help="packages in the catalog").add_subparsers(
        dest="sub", required=True)
    p = pkg.add_parser("list", parents=[fmt], help="packages of a repository")
    p.add_argument("--repo-id", required=True)
    p.add_argument("--arch")
    p.set_defaults(handler="package:list_")
    p = pkg.add_parser("search", parents=[fmt], help="search by name")
    p.add_argument("term")
    p.add_argument("--repo-id")
    p.add_argument("--arch")
    p.set_defaults(handler="package:search")
    p = pkg.add_parser("show", parents=[fmt], help="one package by SHA256 or NEVRA")
    p.add_argument("package")
    p.set_defaults(handler="package:show")
    p = pkg.add_parser("upload", help="add package files to a hosted repository")
    p.add_argument("--repo-id", required=True)
    p.add_argument("files", nargs="+")
    p.set_defaults(handler="package:upload")

    # pool
    pool = sub.add_parser("pool", help="the content pool").add_subparsers(dest="sub",
                                                                        required=True)
    pool.add_parser("stats", parents=[fmt], help="files, bytes, deduplication").set_defaults(
        handler="pool:stats")
    pool.add_parser("verify", parents=[fmt], help="re-hash every file").set_defaults(
        handler="pool:verify")
    p = pool.add_parser("cleanup", help="remove files nothing references")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(handler="pool:cleanup")

    # publish
    pub = sub.add_parser("publish", help="publish static trees").add_subparsers(
        dest="sub", required=True)
    p = pub.add_parser("repo", help="publish the current version of repositories")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--repo-id")
    g.add_argument("--all", action="store_true")
    p.set_defaults(handler="publish:repo")
    p = pub.add_parser("snapshot", help="publish a snapshot")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--repo-id")
    g.add_argument("--view")
    p.add_argument("--snapshot", required=True)
    p.add_argument("--path", help="publish here instead of the snapshot path (e.g. the latest "
                   "path, to roll back)")
    p.set_defaults(handler="publish:snapshot")
    p = pub.add_parser("view", help="publish a view")
    p.add_argument("--name", required=True)
    p.set_defaults(handler="publish:view")
    pub.add_parser("list", parents=[fmt], help="what is published where").set_defaults(
        handler="publish:list_")
    p = pub.add_parser("unpublish", help="remove a published tree")
    p.add_argument("--path", required=True)
    p.set_defaults(handler="publish:unpublish")

    # snapshot
    snap = sub.add_parser("snapshot", help="immutable snapshots").add_subparsers(
        dest="sub", required=True)
    p = snap.add_parser("create", help="snapshot a repository or a view")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--repo-id")
    g.add_argument("--view")
    p.add_argument("--name", required=True)
    p.add_argument("--description", default="")
    p.set_defaults(handler="snapshot:create")
    p = snap.add_parser("list", parents=[fmt], help="snapshots")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--repo-id")
    g.add_argument("--view")
    p.set_defaults(handler="snapshot:list_")
    p = snap.add_parser("show", parents=[fmt], help="one snapshot")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--repo-id")
    g.add_argument("--view")
    p.add_argument("--name", required=True)
    p.set_defaults(handler="snapshot:show")
    p = snap.add_parser("delete", help="delete a snapshot")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--repo-id")
    g.add_argument("--view")
    p.add_argument("--name", required=True)
    p.add_argument("--force", action="store_true", help="also unpublish it")
    p.set_defaults(handler="snapshot:delete")
    p = snap.add_parser("diff", parents=[fmt], help="what changed between two snapshots")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--repo-id")
    g.add_argument("--view")
    p.add_argument("old")
    p.add_argument("new")
    p.set_defaults(handler="snapshot:diff")
    p = snap.add_parser("content", parents=[fmt_csv], help="every package of a snapshot")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--repo-id")
    g.add_argument("--view")
    p.add_argument("--snapshot", required=True)
    p.set_defaults(handler="snapshot:content")

    # view
    view = sub.add_parser("view", help="views over several repositories").add_subparsers(
        dest="sub", required=True)
    view.add_parser("list", parents=[fmt]).set_defaults(handler="view:list_")
    p = view.add_parser("show", parents=[fmt])
    p.add_argument("--name", required=True)
    p.set_defaults(handler="view:show")

    # key
    key = sub.add_parser("key", help="publishing keys").add_subparsers(dest="sub", required=True)
    p = key.add_parser("generate", help="create a signing key in the configured gpg homedir")
    p.add_argument("--name", default="Chantal repository signing key")
    p.add_argument("--email", default="chantal@localhost")
    p.set_defaults(handler="key:generate")
    p = key.add_parser("export", help="print the public key for clients' Signed-By / gpgkey")
    p.add_argument("--output", "-o")
    p.set_defaults(handler="key:export")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (never raises for expected errors)."""
    parser = _make_parser()
    args = parser.parse_args(argv)
    module_name, func_name = args.handler.split(":")
    from importlib import import_module

    from chantal_cli.render import error_text

    try:
        from chantal_core.errors import ChantalError, ConfigError, NotFoundError
    except ImportError:  # pragma: no cover
        raise
    try:
        module = import_module(f"chantal_cli.commands.{module_name}")
        handler = getattr(module, func_name)
        return int(handler(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ConfigError as exc:
        print(error_text(exc), file=sys.stderr)
        return EXIT_USAGE
    except NotFoundError as exc:
        print(error_text(exc), file=sys.stderr)
        return EXIT_ERROR
    except ChantalError as exc:
        print(error_text(exc), file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # pragma: no cover - `chantal ... | head`
        return EXIT_OK


def run() -> NoReturn:
    """The ``chantal`` console script: :func:`main`, then exit with its code.

    The objects still alive are first frozen out of the garbage collector
    (:func:`gc.freeze`): the process is ending, and the collector's last passes over all
    of them at interpreter shutdown (about 40 ms after a sync of a large index) would
    free nothing that exiting does not.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
