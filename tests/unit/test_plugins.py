"""The plugin machinery: built-ins, third-party plugins, entry points, blocking, validation."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from chantal_adapters import hookspecs
from chantal_adapters.fs_pool import FilesystemPool
from chantal_adapters.fs_publish import FilesystemPublishTarget
from chantal_adapters.hookspecs import hookimpl
from chantal_adapters.plugins import (
    BLOCKED_ENV,
    BUILTIN_MODULES,
    FormatRegistry,
    Plugins,
    check_pending,
    make_plugin_manager,
)
from chantal_core.errors import PluginError
from chantal_core.model import PackageRecord
from chantal_core.ports import UpstreamIndex


class ToyFormat:
    """A minimal third-party repository format."""

    package_format = "toy"

    def __init__(self, name: str = "toy") -> None:
        self.name = name

    def version_key(self, record: PackageRecord) -> Any:
        return record.version

    def read_upstream(self, repo: Any, fetcher: Any, *, previous_token: str | None,
                      select: Any = None, verifier: Any = None, details: bool = True
                      ) -> UpstreamIndex | None:
        return UpstreamIndex(token="t", packages=())

    def publish(self, tree: Any, packages: Sequence[PackageRecord],
                extras: Mapping[str, bytes], options: Any) -> None:
        tree.write_file("toy.index", b"")


class ToyPlugin:
    @hookimpl
    def chantal_register_repository_formats(self) -> list[Any]:
        return [ToyFormat()]

    @hookimpl
    def chantal_register_pool_backends(self) -> Mapping[str, Any]:
        return {"toy-pool": lambda location: f"pool at {location}"}


@pytest.fixture(autouse=True)
def _no_blocked_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BLOCKED_ENV, raising=False)


def test_builtin_storage_is_registered_through_the_hooks(tmp_path: Path) -> None:
    plugins = Plugins.load(load_entrypoints=False)
    assert "filesystem" in plugins.names()
    pool = plugins.pool_backends()["filesystem"](str(tmp_path / "pool"))
    assert isinstance(pool, FilesystemPool)
    target = plugins.publish_targets()["filesystem"]({"mode_file": 0o640})
    assert isinstance(target, FilesystemPublishTarget) and target.mode_file == 0o640
    with pytest.raises(PluginError, match="unknown options"):
        plugins.publish_targets()["filesystem"]({"colour": "blue"})


def test_third_party_plugin_registered_programmatically() -> None:
    pm = make_plugin_manager(load_entrypoints=False)
    pm.register(ToyPlugin(), name="toy")
    check_pending(pm)
    registry = FormatRegistry.from_plugin_manager(pm)
    assert "toy" in registry
    assert registry.get("toy").package_format == "toy"
    assert "toy-pool" in Plugins(pm).pool_backends()
    assert "filesystem" in Plugins(pm).pool_backends()


def test_unknown_format_lists_the_known_names() -> None:
    pm = make_plugin_manager(load_entrypoints=False)
    pm.register(ToyPlugin(), name="toy")
    with pytest.raises(PluginError) as info:
        FormatRegistry.from_plugin_manager(pm).get("yum")
    assert "'yum'" in str(info.value) and "toy" in str(info.value)
    assert info.value.hint


def test_builtin_formats_are_found_when_installed() -> None:
    """rpm and apt come from Chantal's own plugin modules (skipped while not written)."""
    registry = Plugins.load(load_entrypoints=True).format_registry()
    for name, module in BUILTIN_MODULES.items():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            assert name not in registry
            continue
        assert name in registry, f"{module} is installed but {name!r} is not registered"


def test_misspelt_hook_fails_check_pending() -> None:
    class Typo:
        @hookimpl
        def chantal_register_repositry_formats(self) -> list[Any]:
            return []

    pm = make_plugin_manager(load_entrypoints=False)
    pm.register(Typo(), name="typo")
    with pytest.raises(PluginError, match="chantal_register_repositry_formats"):
        check_pending(pm)


def test_hookimpl_with_unknown_argument_is_refused() -> None:
    class Bad:
        @hookimpl
        def chantal_register_repository_formats(self, config: Any) -> list[Any]:
            return []

    plugins = Plugins(make_plugin_manager(load_entrypoints=False))
    with pytest.raises(PluginError, match=r"'bad'.*config"):
        plugins.register(Bad(), "bad")
    plugins.register(ToyPlugin(), "toy")
    with pytest.raises(PluginError, match="toy"):
        plugins.register(ToyPlugin(), "toy")


def test_duplicate_format_names_are_refused() -> None:
    class Again:
        @hookimpl
        def chantal_register_repository_formats(self) -> list[Any]:
            return [ToyFormat("toy")]

    pm = make_plugin_manager(load_entrypoints=False)
    pm.register(ToyPlugin(), name="toy")
    pm.register(Again(), name="again")
    with pytest.raises(PluginError, match="registered twice"):
        FormatRegistry.from_plugin_manager(pm)


def test_invalid_format_objects_are_refused() -> None:
    with pytest.raises(PluginError, match="lacks"):
        FormatRegistry([object()])  # type: ignore[list-item]
    nameless = ToyFormat("")
    with pytest.raises(PluginError, match="invalid name"):
        FormatRegistry([nameless])


def test_failing_hook_becomes_a_plugin_error() -> None:
    class Broken:
        @hookimpl
        def chantal_register_repository_formats(self) -> list[Any]:
            raise RuntimeError("boom")

    pm = make_plugin_manager(load_entrypoints=False)
    pm.register(Broken(), name="broken")
    with pytest.raises(PluginError, match="boom"):
        Plugins(pm).repository_formats()


def test_hook_returning_wrong_shape() -> None:
    class Wrong:
        @hookimpl
        def chantal_register_pool_backends(self) -> Any:
            return ["not", "a", "mapping"]

    pm = make_plugin_manager(load_entrypoints=False)
    pm.register(Wrong(), name="wrong")
    with pytest.raises(PluginError, match="mapping"):
        Plugins(pm).pool_backends()


def test_blocked_plugins_from_argument_and_environment(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    pm = make_plugin_manager(load_entrypoints=False, blocked=["filesystem"])
    assert pm.get_plugin("filesystem") is None
    monkeypatch.setenv(BLOCKED_ENV, " toy , filesystem")
    pm = make_plugin_manager(load_entrypoints=False)
    assert pm.get_plugin("filesystem") is None
    pm.register(ToyPlugin(), name="toy")  # blocked: silently not registered
    assert "toy" not in FormatRegistry.from_plugin_manager(pm)


def test_hookspecs_are_typed_and_documented() -> None:
    """Every hook has a docstring with :returns: and a return annotation."""
    specs = [getattr(hookspecs, n) for n in dir(hookspecs) if n.startswith("chantal_")]
    assert len(specs) == 3
    for spec in specs:
        assert spec.__doc__ and ":returns:" in spec.__doc__, spec.__name__
        assert spec.__annotations__.get("return"), spec.__name__


# -- entry points of an installed distribution -------------------------------------------

@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A distribution ``chantal-toy`` on sys.path with entry points in group ``chantal``."""
    site = tmp_path / "site"
    (site / "chantal_toy_plugin").mkdir(parents=True)
    (site / "chantal_toy_plugin" / "__init__.py").write_text(textwrap.dedent("""
        from chantal_adapters.hookspecs import hookimpl

        class Fmt:
            name = "toy-ep"
            package_format = "toy"
            def version_key(self, record): return record.version
            def read_upstream(self, repo, fetcher, *, previous_token, select=None,
                              verifier=None, details=True): return None
            def publish(self, tree, packages, extras, options): pass

        @hookimpl
        def chantal_register_repository_formats():
            return [Fmt()]
    """))
    (site / "chantal_broken_plugin.py").write_text("raise ImportError('needs libfoo')\n")
    dist = site / "chantal_toy-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: chantal-toy\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[chantal]\ntoy = chantal_toy_plugin\nbroken = chantal_broken_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    for name in ("chantal_toy_plugin", "chantal_broken_plugin"):
        sys.modules.pop(name, None)


def test_entry_point_plugins_are_loaded(fake_distribution: Path) -> None:
    plugins = Plugins.load(blocked=["broken"])
    assert "toy" in plugins.names()
    assert plugins.format_registry().get("toy-ep").package_format == "toy"
    assert "toy-ep" not in Plugins.load(blocked=["broken", "toy"]).format_registry()


def test_entry_point_that_fails_to_import_names_itself(fake_distribution: Path) -> None:
    with pytest.raises(PluginError) as info:
        make_plugin_manager()
    assert "'broken'" in str(info.value) and "needs libfoo" in str(info.value)
    assert BLOCKED_ENV in (info.value.hint or "")


def test_format_registry_from_a_plugin_manager() -> None:
    pm = make_plugin_manager(load_entrypoints=False)
    pm.register(ToyPlugin(), name="toy")
    assert FormatRegistry(pm).names() == FormatRegistry.from_plugin_manager(pm).names()
    assert "toy" in FormatRegistry(pm).names()
