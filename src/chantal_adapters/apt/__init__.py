"""The APT repository format: Release/InRelease and Packages/Sources indexes, read and
published.

Modules: :mod:`~chantal_adapters.apt.release` (Release files),
:mod:`~chantal_adapters.apt.packages` (streaming index parser, records),
:mod:`~chantal_adapters.apt.upstream` (reading an upstream),
:mod:`~chantal_adapters.apt.publish` (writing a tree),
:mod:`~chantal_adapters.apt.sources` (APT source lists),
:mod:`~chantal_adapters.apt.debheader` (``.deb`` control files),
:mod:`~chantal_adapters.apt.plugin` (:class:`AptFormat` and its pluggy hook).
"""

from __future__ import annotations

from chantal_adapters.apt.plugin import AptFormat

__all__ = ["AptFormat"]
