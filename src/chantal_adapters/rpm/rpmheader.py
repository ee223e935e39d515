"""Package records for local ``.rpm`` files (``chantal package upload`` into hosted repos).

The record must carry the same metadata fragments a synced package has, exactly as
createrepo_c would write them, so the files are given to **createrepo_c** itself: they
are hardlinked (copied across file systems) into a private temporary directory,
createrepo_c indexes it, and its primary/filelists/other are read back with this
package's own parsers. One createrepo_c run handles any number of files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

import attrs

from chantal_core.errors import ChantalError, MetadataError
from chantal_core.model import PackageRecord

from .compression import iter_decompressed
from .primary import parse_details, parse_primary, rewrite_location
from .repomd import parse_repomd

#: createrepo_c's own default: the newest 10 changelog entries go into other.xml.
DEFAULT_CHANGELOG_LIMIT = 10
_CHUNK = 1 << 20


def _read_file(path: str) -> list[bytes]:
    with open(path, "rb") as handle:
        return list(iter(lambda: handle.read(_CHUNK), b""))


def _place(src: str, dest: str) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def read_rpm_files(paths: Sequence[str], *, changelog_limit: int = DEFAULT_CHANGELOG_LIMIT,
                   createrepo: str = "createrepo_c", timeout: float = 600.0
                   ) -> list[PackageRecord]:
    """Read package records (with primary/filelists/other fragments) from ``.rpm`` files.

    :param paths: the files.
    :param changelog_limit: newest changelog entries kept in the ``other`` fragment.
    :param createrepo: the createrepo_c executable.
    :param timeout: seconds createrepo_c may run.
    :returns: one record per path, in order; ``location`` is the file's base name and
        ``sha256`` its SHA256.
    :raises MetadataError: a file is not a readable RPM (naming it).
    :raises ChantalError: createrepo_c is missing or failed.
    """
    if not paths:
        return []
    exe = shutil.which(createrepo)
    if exe is None:
        raise ChantalError(f"{createrepo} is needed to read RPM headers and was not found",
                           hint="install createrepo_c")
    for path in paths:
        if not os.path.isfile(path):
            raise MetadataError(path, "no such file")
    with tempfile.TemporaryDirectory(prefix="chantal-rpmhdr-") as tmp:
        for index, path in enumerate(paths):
            sub = os.path.join(tmp, str(index))
            os.mkdir(sub)
            _place(path, os.path.join(sub, os.path.basename(path)))
        cmd = [exe, "--quiet", "--no-database", "--simple-md-filenames", "--workers", "1",
               "--error-exit-val", f"--changelog-limit={changelog_limit}", tmp]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ChantalError(f"{createrepo} failed to run: {exc}") from exc
        problems = (proc.stderr or proc.stdout or "").strip()
        if proc.returncode not in (0, 2):
            raise ChantalError(f"{createrepo} failed (exit {proc.returncode}): {problems}")
        repodata = os.path.join(tmp, "repodata")
        repomd_path = os.path.join(repodata, "repomd.xml")
        if not os.path.exists(repomd_path):
            raise ChantalError(f"{createrepo} wrote no repomd.xml: {problems}")
        with open(repomd_path, "rb") as handle:
            repomd = parse_repomd(handle.read(), repomd_path)
        by_index: dict[int, PackageRecord] = {}
        details: dict[str, dict[str, str]] = {}
        entry = repomd.get("primary")
        if entry is None:
            raise ChantalError(f"{createrepo} wrote no primary metadata")
        source = os.path.join(tmp, entry.location)
        records = parse_primary(iter_decompressed(_read_file(source), source), source)
        wanted = {r.checksum for r in records}
        for kind in ("filelists", "other"):
            kind_entry = repomd.get(kind)
            if kind_entry is None:
                details[kind] = {}
                continue
            source = os.path.join(tmp, kind_entry.location)
            details[kind] = parse_details(iter_decompressed(_read_file(source), source), source,
                                          kind, wanted)
        for record in records:
            head, _, name = record.location.partition("/")
            if not head.isdigit() or not name:
                continue
            metadata = dict(record.metadata)
            metadata["primary"] = rewrite_location(metadata["primary"], name)
            for kind in ("filelists", "other"):
                fragment = details[kind].get(record.checksum)
                if fragment is not None:
                    metadata[kind] = fragment
            by_index[int(head)] = attrs.evolve(record, location=name, metadata=metadata)
    out = []
    for index, path in enumerate(paths):
        found = by_index.get(index)
        if found is None:
            raise MetadataError(path, f"not a readable RPM package: {problems or 'skipped'}")
        if not found.sha256:
            raise MetadataError(path, "createrepo_c did not give a SHA256")
        out.append(found)
    return out


def read_rpm_file(path: str, *, changelog_limit: int = DEFAULT_CHANGELOG_LIMIT) -> PackageRecord:
    """The record of one ``.rpm`` file (see :func:`read_rpm_files`).

    :raises MetadataError: not a readable RPM.
    :raises ChantalError: createrepo_c is missing or failed.
    """
    return read_rpm_files([path], changelog_limit=changelog_limit)[0]
