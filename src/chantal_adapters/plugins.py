"""Plugin machinery: the pluggy manager and typed facades over its hooks.

:func:`make_plugin_manager` builds a :class:`pluggy.PluginManager` for the hooks of
:mod:`chantal_adapters.hookspecs`, registers the built-in plugins and then the entry points of
group ``chantal``, all through the same hooks. The built-in repository formats are the
entry points ``rpm`` and ``apt`` declared by Chantal's own distribution; the built-in
storage (the ``filesystem`` pool and publish target) is registered under the name
``filesystem``. Names in ``CHANTAL_BLOCKED_PLUGINS`` (comma-separated) are not loaded.

The rest of Chantal never calls the untyped ``pm.hook``: :class:`Plugins` offers one typed
method per hook and :class:`FormatRegistry` looks formats up by name.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pluggy

from chantal_adapters import hookspecs
from chantal_adapters.hookspecs import PROJECT_NAME, PoolFactory, PublishTargetFactory, hookimpl
from chantal_core.errors import PluginError
from chantal_core.ports import ContentPool, PublishTarget, RepositoryFormat

__all__ = [
    "BLOCKED_ENV",
    "BUILTIN_MODULES",
    "FormatRegistry",
    "Plugins",
    "make_plugin_manager",
]

#: Environment variable naming plugins not to load (comma-separated entry-point names).
BLOCKED_ENV = "CHANTAL_BLOCKED_PLUGINS"

#: Chantal's own entry points: name -> module. While one of these modules is not yet part
#: of the installation it is skipped instead of failing (any other import error fails).
BUILTIN_MODULES: Mapping[str, str] = {
    "rpm": "chantal_adapters.rpm.plugin",
    "apt": "chantal_adapters.apt.plugin",
}

_FORMAT_ATTRIBUTES = ("name", "package_format", "version_key", "read_upstream", "publish")


class _FilesystemStorage:
    """Built-in plugin: the ``filesystem`` content pool and publish target."""

    @hookimpl
    def chantal_register_pool_backends(self) -> Mapping[str, PoolFactory]:
        def filesystem_pool(location: str) -> ContentPool:
            from chantal_adapters.fs_pool import FilesystemPool

            return FilesystemPool(location)

        return {"filesystem": filesystem_pool}

    @hookimpl
    def chantal_register_publish_targets(self) -> Mapping[str, PublishTargetFactory]:
        def filesystem_target(options: Mapping[str, Any]) -> PublishTarget:
            from chantal_adapters.fs_publish import FilesystemPublishTarget

            unknown = set(options) - {"mode_file", "mode_dir"}
            if unknown:
                raise PluginError(f"filesystem publish target: unknown options "
                                  f"{sorted(unknown)} (known: mode_dir, mode_file)")
            return FilesystemPublishTarget(**options)

        return {"filesystem": filesystem_target}


def _blocked_names(blocked: Iterable[str] | None) -> set[str]:
    if blocked is None:
        blocked = os.environ.get(BLOCKED_ENV, "").split(",")
    return {name.strip() for name in blocked if name.strip()}


def _one_line(exc: BaseException) -> str:
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _register(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {name!r} is invalid: {_one_line(exc)}") from exc
    except ValueError as exc:
        raise PluginError(f"plugin {name!r} cannot be registered: {exc}") from exc


def _is_missing_builtin(exc: ModuleNotFoundError, module: str) -> bool:
    """Whether ``exc`` says the built-in ``module`` itself (or its package) is absent."""
    missing = exc.name or ""
    return bool(missing) and (module == missing or module.startswith(missing + "."))


def _load_entry_points(pm: pluggy.PluginManager, group: str) -> None:
    for ep in importlib.metadata.entry_points(group=group):
        if pm.is_blocked(ep.name) or pm.get_plugin(ep.name) is not None:
            continue
        builtin = BUILTIN_MODULES.get(ep.name) == ep.value
        try:
            plugin = ep.load()
        except ModuleNotFoundError as exc:
            if builtin and _is_missing_builtin(exc, ep.value):
                continue
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}",
                              hint=f"uninstall it or add it to {BLOCKED_ENV}") from exc
        except Exception as exc:
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to load: "
                              f"{type(exc).__name__}: {exc}",
                              hint=f"uninstall it or add it to {BLOCKED_ENV}") from exc
        _register(pm, plugin, ep.name)


def make_plugin_manager(load_entrypoints: bool = True,
                        blocked: Iterable[str] | None = None) -> pluggy.PluginManager:
    """Build the plugin manager with the built-in plugins and (optionally) entry points.

    Registration order: the ``filesystem`` storage plugin; then, with
    ``load_entrypoints``, every entry point of group ``chantal`` (which includes the
    built-in ``rpm`` and ``apt`` formats of Chantal's own distribution). Without
    ``load_entrypoints`` the built-in formats are imported directly. Blocked names are
    skipped. Call :meth:`Plugins.check` (or ``pm.check_pending()``) after registering any
    further plugin programmatically.

    :param load_entrypoints: load third-party plugins from installed distributions.
    :param blocked: plugin names not to load; ``None`` reads ``CHANTAL_BLOCKED_PLUGINS``.
    :returns: the manager; hooks are under ``pm.hook``.
    :raises PluginError: a plugin fails to import or does not match the hook specs.
    """
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for name in _blocked_names(blocked):
        pm.set_blocked(name)
    if not pm.is_blocked("filesystem"):
        _register(pm, _FilesystemStorage(), "filesystem")
    if load_entrypoints:
        _load_entry_points(pm, PROJECT_NAME)
    else:
        for name, module in BUILTIN_MODULES.items():
            if pm.is_blocked(name):
                continue
            try:
                plugin = importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if _is_missing_builtin(exc, module):
                    continue
                raise PluginError(f"built-in plugin {name!r} ({module}) failed to load: "
                                  f"{exc}") from exc
            _register(pm, plugin, name)
    return pm


def check_pending(pm: pluggy.PluginManager) -> None:
    """Fail on hook implementations that match no hook spec (e.g. a misspelt hook name).

    :raises PluginError: naming the offending plugin and hook.
    """
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r}: {_one_line(exc)}",
                          hint="check the hook names against chantal_adapters.hookspecs") from exc


class FormatRegistry:
    """The repository formats known to Chantal, by name (a repository's ``type``).

    :param formats: format objects (names must be unique), or a plugin manager whose
        ``chantal_register_repository_formats`` hooks are collected.
    :raises PluginError: an object lacks a format attribute, a name is registered twice,
        or a hook failed.
    """

    def __init__(self, formats: Iterable[RepositoryFormat] | pluggy.PluginManager) -> None:
        if isinstance(formats, pluggy.PluginManager):
            formats = Plugins(formats).repository_formats()
        self._formats: dict[str, RepositoryFormat] = {}
        for fmt in formats:
            missing = [a for a in _FORMAT_ATTRIBUTES if not hasattr(fmt, a)]
            if missing:
                raise PluginError(f"repository format {fmt!r} from {type(fmt).__module__} "
                                  f"lacks {', '.join(missing)}")
            name = fmt.name
            if not isinstance(name, str) or not name:
                raise PluginError(f"repository format {fmt!r} from {type(fmt).__module__} "
                                  f"has an invalid name {name!r}")
            if name in self._formats:
                other = self._formats[name]
                raise PluginError(f"repository format {name!r} registered twice: by "
                                  f"{type(other).__module__} and {type(fmt).__module__}")
            self._formats[name] = fmt

    @classmethod
    def from_plugin_manager(cls, pm: pluggy.PluginManager) -> FormatRegistry:
        """Collect ``chantal_register_repository_formats`` from every plugin.

        :raises PluginError: a hook failed or returned something invalid.
        """
        return cls(Plugins(pm).repository_formats())

    def get(self, name: str) -> RepositoryFormat:
        """The format called ``name``.

        :raises PluginError: unknown name (the message lists the known ones).
        """
        try:
            return self._formats[name]
        except KeyError:
            known = ", ".join(sorted(self._formats)) or "none"
            raise PluginError(f"unknown repository type {name!r} (known: {known})",
                              hint="is the plugin providing it installed and not blocked?"
                              ) from None

    def names(self) -> list[str]:
        """The known format names, sorted."""
        return sorted(self._formats)

    def __contains__(self, name: object) -> bool:
        return name in self._formats

    def __iter__(self) -> Iterator[RepositoryFormat]:
        return iter(self._formats[name] for name in self.names())

    def __len__(self) -> int:
        return len(self._formats)


class Plugins:
    """Typed facade over a plugin manager: one method per hook.

    :param manager: a manager from :func:`make_plugin_manager`.
    """

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self.manager = manager

    @classmethod
    def load(cls, load_entrypoints: bool = True, blocked: Iterable[str] | None = None
             ) -> Plugins:
        """:func:`make_plugin_manager`, then :meth:`check`.

        :raises PluginError: as for :func:`make_plugin_manager` and :meth:`check`.
        """
        plugins = cls(make_plugin_manager(load_entrypoints, blocked))
        plugins.check()
        return plugins

    def register(self, plugin: object, name: str) -> None:
        """Register a plugin object or module programmatically (blocked names are skipped).

        Call :meth:`check` after the last registration.

        :raises PluginError: a hook implementation does not match its spec, or ``name`` is
            taken.
        """
        _register(self.manager, plugin, name)

    def check(self) -> None:
        """See :func:`check_pending`."""
        check_pending(self.manager)

    def names(self) -> list[str]:
        """Names of the registered plugins, sorted."""
        return sorted(name for name, _ in self.manager.list_name_plugin())

    def _call(self, hook: str) -> list[Any]:
        caller = getattr(self.manager.hook, hook)
        try:
            return list(caller())
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(f"hook {hook} failed: {type(exc).__name__}: {exc}") from exc

    def repository_formats(self) -> list[RepositoryFormat]:
        """Every format from ``chantal_register_repository_formats``.

        :raises PluginError: a hook failed or returned a non-list.
        """
        formats: list[RepositoryFormat] = []
        for result in self._call("chantal_register_repository_formats"):
            if isinstance(result, (str, bytes)) or not isinstance(result, Iterable):
                raise PluginError("chantal_register_repository_formats must return a list "
                                  f"of formats, got {result!r}")
            formats.extend(result)
        return formats

    def format_registry(self) -> FormatRegistry:
        """A :class:`FormatRegistry` of :meth:`repository_formats`."""
        return FormatRegistry(self.repository_formats())

    def pool_backends(self) -> dict[str, PoolFactory]:
        """Pool factories by backend name, from ``chantal_register_pool_backends``.

        :raises PluginError: a hook failed, returned a non-mapping, or a name twice.
        """
        return self._merge("chantal_register_pool_backends")

    def publish_targets(self) -> dict[str, PublishTargetFactory]:
        """Publish target factories by name, from ``chantal_register_publish_targets``.

        :raises PluginError: a hook failed, returned a non-mapping, or a name twice.
        """
        return self._merge("chantal_register_publish_targets")

    def _merge(self, hook: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for result in self._call(hook):
            if not isinstance(result, Mapping):
                raise PluginError(f"{hook} must return a mapping name -> factory, "
                                  f"got {result!r}")
            for name, factory in result.items():
                if name in merged:
                    raise PluginError(f"{hook}: backend {name!r} registered twice")
                if not callable(factory):
                    raise PluginError(f"{hook}: backend {name!r} is not callable")
                merged[name] = factory
        return merged
