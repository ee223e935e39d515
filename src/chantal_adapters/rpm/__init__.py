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

import importlib
from typing import Any

from .plugin import RpmFormat, chantal_register_repository_formats

#: Names imported when first used (an APT sync loads this package for the plugin only).
_LAZY = {
    "published_location": ".publish",
    "read_rpm_file": ".rpmheader",
    "read_rpm_files": ".rpmheader",
}


def __getattr__(name: str) -> Any:
    """The names of :data:`_LAZY`, from their module (PEP 562).

    :raises AttributeError: any other name.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


__all__ = [
    "RpmFormat",
    "chantal_register_repository_formats",
    "published_location",
    "read_rpm_file",
    "read_rpm_files",
]
