"""Plugin hooks of Chantal (pluggy project name and entry-point group: ``chantal``).

A plugin is a module or object with functions marked :data:`hookimpl` whose names are
the hooks below. Built-in formats (``rpm``, ``apt``) are registered through these same
hooks. A third-party package makes itself known with an entry point::

    [project.entry-points.chantal]
    myformat = "mypackage.chantal_plugin"

and ``mypackage/chantal_plugin.py``::

    from chantal_adapters.hookspecs import hookimpl

    @hookimpl
    def chantal_register_repository_formats():
        return [MyFormat()]

Hooks return data and never reach into global state. Setting the environment variable
``CHANTAL_BLOCKED_PLUGINS`` to a comma-separated list of plugin (entry-point) names keeps
them from loading. On a breaking change of these hooks the group becomes ``chantal.v2``.

It lives in the adapters package because :mod:`pluggy` is infrastructure: the core stays
free of it. The hook signatures use the core's port Protocols.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pluggy

from chantal_core.ports import ContentPool, PublishTarget, RepositoryFormat

__all__ = [
    "PROJECT_NAME",
    "PoolFactory",
    "PublishTargetFactory",
    "chantal_register_pool_backends",
    "chantal_register_publish_targets",
    "chantal_register_repository_formats",
    "hookimpl",
    "hookspec",
]

#: The pluggy project name, also the entry-point group plugins register under.
PROJECT_NAME = "chantal"

#: Marks the hook specifications below.
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Marks a plugin's hook implementations.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

#: Builds a content pool from a location (a directory path, or a URL for remote backends).
PoolFactory = Callable[[str], ContentPool]
#: Builds a publish target from its options (backend specific, e.g. ``mode_file``).
PublishTargetFactory = Callable[[Mapping[str, Any]], PublishTarget]


@hookspec
def chantal_register_repository_formats() -> list[RepositoryFormat]:
    """Return the repository formats this plugin provides.

    Called once when the plugin manager is built (by the composition root), to fill the
    format registry looked up by a repository's ``type``. Each object must satisfy
    :class:`~chantal_core.ports.RepositoryFormat`; its ``name`` must be unique across all
    plugins (a duplicate is a :class:`~chantal_core.errors.PluginError`).

    :returns: format objects, e.g. ``[RpmFormat()]``; ``[]`` when none.

    .. versionadded:: 0.1
    """
    return []


@hookspec
def chantal_register_publish_targets() -> Mapping[str, PublishTargetFactory]:
    """Return the publish target backends this plugin provides, by backend name.

    Called once when the plugin manager is built. The built-in ``filesystem`` backend
    materialises trees on a local file system with hardlinks from the pool.

    :returns: backend name (e.g. ``"filesystem"``) -> factory taking the backend's
        options mapping and returning a :class:`~chantal_core.ports.PublishTarget`.

    .. versionadded:: 0.1
    """
    return {}


@hookspec
def chantal_register_pool_backends() -> Mapping[str, PoolFactory]:
    """Return the content pool backends this plugin provides, by backend name.

    Called once when the plugin manager is built. The built-in ``filesystem`` backend
    stores files under ``<root>/ab/cd/<sha256>_<filename>``.

    :returns: backend name (e.g. ``"filesystem"``) -> factory taking a location (path or
        URL) and returning a :class:`~chantal_core.ports.ContentPool`.

    .. versionadded:: 0.1
    """
    return {}
