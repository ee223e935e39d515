"""Read a ``.deb``'s control file and build its ``Packages`` stanza (``chantal package
upload`` into hosted repositories).

The control file is read with python-debian's :class:`debian.debfile.DebFile` (pure Python;
``control.tar.zst`` members need ``unzstd``), falling back to ``dpkg-deb --info <deb>
control``. The stanza is the control file with ``Filename``, ``Size``, ``MD5sum``, ``SHA1``
and ``SHA256`` inserted before ``Description``, the order ``dpkg-scanpackages`` and
``apt-ftparchive`` write.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess

from chantal_adapters.apt.packages import (
    check_relpath,
    parse_stanza,
    pool_path,
    record_from_stanza,
    stanza_blocks,
)
from chantal_core.errors import MetadataError
from chantal_core.model import PackageRecord

#: Fields a Packages stanza carries about the file, in the order archive tools write them.
FILE_FIELDS = ("Filename", "Size", "MD5sum", "SHA1", "SHA256")


def read_control_text(path: str) -> str:
    """The raw text of a ``.deb``'s ``control`` file.

    :param path: the ``.deb`` file.
    :returns: the control text, ending with a newline.
    :raises MetadataError: not a Debian binary package, or no control file (naming ``path``).
    """
    try:
        from debian import debfile

        deb = debfile.DebFile(path)
        try:
            data = deb.control.get_content("control")
        finally:
            deb.close()
        if data is None:
            raise MetadataError(path, "no control file in the control archive")
        text = data if isinstance(data, str) else data.decode("utf-8")
    except MetadataError:
        raise
    except Exception as exc:  # python-debian raises DebError, ArError, OSError...
        dpkg_deb = shutil.which("dpkg-deb")
        if dpkg_deb is None:
            raise MetadataError(path, f"cannot read the control file: {exc}") from exc
        result = subprocess.run([dpkg_deb, "--info", path, "control"], capture_output=True,
                                check=False)
        if result.returncode != 0:
            raise MetadataError(
                path, "cannot read the control file: "
                f"{result.stderr.decode(errors='replace').strip() or exc}") from exc
        text = result.stdout.decode("utf-8")
    text = text.strip("\n") + "\n"
    if not parse_stanza(text).values:
        raise MetadataError(path, "empty control file")
    return text


def build_stanza(control: str, *, filename: str, size: int, md5: str, sha1: str,
                 sha256: str) -> str:
    """A ``Packages`` stanza from a control file and the file's facts.

    :param control: the control file text.
    :param filename: the ``Filename`` value (path from the repository root).
    :param size: file size in bytes.
    :param md5, sha1, sha256: hex digests of the file.
    :returns: the stanza (existing file fields replaced; the new ones placed before
        ``Description``, or last).
    """
    values = dict(zip(FILE_FIELDS, (filename, str(size), md5, sha1, sha256), strict=True))
    lowered = {name.lower() for name in FILE_FIELDS}
    inserted = False
    out: list[str] = []
    for key, block in stanza_blocks(control):
        if key in lowered:
            continue
        if key == "description" and not inserted:
            out.extend(f"{name}: {value}\n" for name, value in values.items())
            inserted = True
        out.append(block if block.endswith("\n") else block + "\n")
    if not inserted:
        out.extend(f"{name}: {value}\n" for name, value in values.items())
    return "".join(out)


def _digests(path: str) -> tuple[int, str, str, str]:
    md5, sha1, sha256 = hashlib.md5(), hashlib.sha1(), hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            size += len(chunk)
            md5.update(chunk)
            sha1.update(chunk)
            sha256.update(chunk)
    return size, md5.hexdigest(), sha1.hexdigest(), sha256.hexdigest()


def record_from_deb(path: str, *, component: str = "main", location: str | None = None,
                    suite: str | None = None) -> PackageRecord:
    """A package record for a local ``.deb`` file (hosted repositories).

    :param path: the ``.deb`` file.
    :param component: component it is uploaded to.
    :param location: its ``Filename``; default: Debian's pool layout
        (``pool/<component>/<prefix>/<source>/<file>``, see :func:`pool_path`).
    :param suite: suite recorded in ``metadata["suites"]``.
    :returns: the record with the stanza in ``metadata["stanza"]``.
    :raises MetadataError: unreadable package or invalid control fields.
    """
    control = read_control_text(path)
    fields = parse_stanza(control)
    source_field = (fields.get("source") or "").split()
    source = source_field[0] if source_field else (fields.get("package") or "")
    if location is None:
        location = pool_path(component, source, os.path.basename(path))
    check_relpath(location, source=path)
    size, md5, sha1, sha256 = _digests(path)
    stanza = build_stanza(control, filename=location, size=size, md5=md5, sha1=sha1,
                          sha256=sha256)
    return record_from_stanza(parse_stanza(stanza), component=component, source=path,
                              suite=suite)


__all__ = ["FILE_FIELDS", "build_stanza", "read_control_text", "record_from_deb"]
