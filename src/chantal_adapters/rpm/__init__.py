"""The RPM repository format (repomd): read upstreams, publish repositories.

Modules:

* :mod:`~chantal_adapters.rpm.plugin`: :class:`RpmFormat` and its pluggy registration;
* :mod:`~chantal_adapters.rpm.upstream`: reading an upstream (mirrors, signature, files);
* :mod:`~chantal_adapters.rpm.repomd`: repomd.xml parse/render, safe locations;
* :mod:`~chantal_adapters.rpm.primary`: streaming primary/filelists/other parsers;
* :mod:`~chantal_adapters.rpm.publish`: repodata rendering from stored fragments;
* :mod:`~chantal_adapters.rpm.compression`: gz/xz/bz2/zstd streaming;
* :mod:`~chantal_adapters.rpm.mirrors`: mirrorlist and metalink;
* :mod:`~chantal_adapters.rpm.rpmheader`: records for local ``.rpm`` files (uploads).
"""

from __future__ import annotations

from .plugin import RpmFormat, chantal_register_repository_formats
from .publish import published_location
from .rpmheader import read_rpm_file, read_rpm_files

__all__ = [
    "RpmFormat",
    "chantal_register_repository_formats",
    "published_location",
    "read_rpm_file",
    "read_rpm_files",
]
