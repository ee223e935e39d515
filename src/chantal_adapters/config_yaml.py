"""Load Chantal's YAML configuration into :mod:`chantal_core.config` values.

Pipeline: ruamel.yaml round-trip parse (so every key keeps its line) → plain Python with
``${VAR}`` expansion → includes resolved → cattrs structuring (unknown keys forbidden,
scalar types strict) → :func:`chantal_core.config.check_config` → warnings from
:func:`chantal_core.config.config_warnings`. Every problem names the file, the line and
the key; all problems of a run are reported together in one
:class:`~chantal_core.errors.ConfigError`.

Lookup order (:func:`locate_config`): ``--config``, ``$CHANTAL_CONFIG``,
``/etc/chantal/config.yaml``, ``~/.config/chantal/config.yaml``, ``./config.yaml``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from io import StringIO
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)
from cattrs.gen import make_dict_structure_fn
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from chantal_core.config import (
    REPOSITORY_TYPES,
    ChantalConfig,
    ConfigFinding,
    KeyPath,
    RepositoryConfig,
    ViewConfig,
    check_config,
    closest_key,
    config_warnings,
    format_key_path,
)
from chantal_core.errors import ConfigError

__all__ = [
    "ConfigWarning",
    "LoadedConfig",
    "default_base_path",
    "default_config_paths",
    "load_config",
    "locate_config",
    "mask_url",
    "render_config",
    "render_config_yaml",
]

#: Top-level keys besides the global sections.
_LIST_KEYS = ("repositories", "views")
#: Keys an included file may hold (anything else is ignored there, with a warning).
_INCLUDE_KEYS = frozenset({"repositories", "views", "include"})
_GLOBAL_KEYS = tuple(a.name for a in attrs.fields(ChantalConfig) if a.name not in _LIST_KEYS)
_TOP_KEYS = (*_GLOBAL_KEYS, *_LIST_KEYS, "include")


# --- public values ----------------------------------------------------------------------


@attrs.frozen
class ConfigWarning:
    """A notice about a valid configuration (a key accepted but ignored, a deprecation).

    :ivar file: the file holding the key.
    :ivar line: 1-based line, or ``None`` when unknown.
    :ivar key: key path inside that file (``repositories[0].schedule``).
    :ivar message: what the operator should know.
    """

    file: Path
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else str(self.file)
        return f"{where}: {self.key}: {self.message}"


@attrs.frozen
class LoadedConfig:
    """The result of :func:`load_config`.

    :ivar config: the configuration (validated).
    :ivar warnings: notices, each naming file, line and key.
    :ivar files: every file read, the main file first, then includes in load order.
    """

    config: ChantalConfig
    warnings: tuple[ConfigWarning, ...]
    files: tuple[Path, ...]


# --- lookup -------------------------------------------------------------------------------


def default_config_paths(env: Mapping[str, str] = os.environ) -> tuple[Path, ...]:
    """The default locations, in lookup order (Chantal 1.6's order).

    ``~/.config`` honours ``$XDG_CONFIG_HOME`` and ``$HOME`` from ``env``.
    """
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    xdg = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    return (Path("/etc/chantal/config.yaml"), xdg / "chantal" / "config.yaml",
            Path("config.yaml"))


def locate_config(explicit: str | os.PathLike[str] | None,
                  env: Mapping[str, str] = os.environ, *,
                  candidates: Sequence[Path] | None = None) -> Path:
    """Find the configuration file.

    Order: ``explicit`` (the ``--config`` option), then ``$CHANTAL_CONFIG``, then the first
    existing of ``candidates`` (default :func:`default_config_paths`).

    :param explicit: path given on the command line, or ``None``.
    :param env: environment to read ``CHANTAL_CONFIG``, ``HOME``, ``XDG_CONFIG_HOME`` from.
    :param candidates: default locations to search (for tests).
    :returns: the path of an existing file.
    :raises ConfigError: the explicit or ``$CHANTAL_CONFIG`` file does not exist, or no
        default location has one (the message lists what was searched).
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"{path}: configuration file not found (--config)")
        return path
    from_env = env.get("CHANTAL_CONFIG")
    if from_env:
        path = Path(from_env).expanduser()
        if not path.is_file():
            raise ConfigError(f"{path}: configuration file not found (from CHANTAL_CONFIG)")
        return path
    searched = tuple(candidates) if candidates is not None else default_config_paths(env)
    for path in searched:
        if path.is_file():
            return path
    raise ConfigError("no configuration file found; searched: "
                      + ", ".join(str(p) for p in searched),
                      hint="pass --config FILE or set CHANTAL_CONFIG")


def default_base_path(env: Mapping[str, str] = os.environ, *, uid: int | None = None) -> str:
    """``storage.base_path`` when the configuration has none.

    ``/var/lib/chantal`` for root (Chantal 1.6's default), else
    ``$XDG_DATA_HOME/chantal`` or ``~/.local/share/chantal`` (like rootless podman).

    :param env: environment (``HOME``, ``XDG_DATA_HOME``).
    :param uid: effective user id (default: the process's).
    """
    if uid is None:
        uid = os.geteuid() if hasattr(os, "geteuid") else 0
    if uid == 0:
        return "/var/lib/chantal"
    if env.get("XDG_DATA_HOME"):
        return str(Path(env["XDG_DATA_HOME"]) / "chantal")
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return str(home / ".local" / "share" / "chantal")


# --- scalar hooks -------------------------------------------------------------------------


class _ValueError(ValueError):
    """A value of the wrong type or outside its choices; ``subpath`` locates it further."""

    def __init__(self, message: str, subpath: KeyPath = ()) -> None:
        super().__init__(message)
        self.message = message
        self.subpath = subpath


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _s_str(value: Any, _t: Any) -> str:
    if isinstance(value, str):
        return value
    hint = " (quote it in YAML)" if isinstance(value, (int, float)) else ""
    raise _ValueError(f"expected a string, got {_describe(value)}{hint}")


_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def _s_bool(value: Any, _t: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _ValueError(f"expected a boolean (true/false), got {_describe(value)}")


def _s_int(value: Any, _t: Any) -> int:
    if isinstance(value, bool):
        raise _ValueError(f"expected an integer, got {_describe(value)}")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise _ValueError(f"expected an integer, got {_describe(value)}")


def _s_float(value: Any, _t: Any) -> float:
    if isinstance(value, bool):
        raise _ValueError(f"expected a number, got {_describe(value)}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise _ValueError(f"expected a number, got {_describe(value)}")


def _is_str_tuple(t: Any) -> bool:
    return get_origin(t) is tuple and get_args(t) == (str, Ellipsis)


def _s_str_tuple(value: Any, _t: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise _ValueError(f"expected a list of strings, got {_describe(value)}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            hint = " (quote it in YAML)" if isinstance(item, (int, float)) else ""
            raise _ValueError(f"expected a string, got {_describe(item)}{hint}", (i,))
        out.append(item)
    return tuple(out)


def _is_literal(t: Any) -> bool:
    return get_origin(t) is Literal


def _s_literal(value: Any, t: Any) -> Any:
    choices = get_args(t)
    if value in choices and type(value) is type(choices[0]):
        return value
    message = (f"expected one of {', '.join(repr(c) for c in choices)}, "
               f"got {_describe(value)}")
    if isinstance(value, str):
        close = closest_key(value, [str(c) for c in choices])
        if close:
            message += f"; did you mean {close!r}?"
    raise _ValueError(message)


def _is_str_mapping(t: Any) -> bool:
    return get_origin(t) is Mapping and get_args(t) == (str, str)


def _s_str_mapping(value: Any, _t: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise _ValueError(f"expected a mapping of strings, got {_describe(value)}")
    for key, item in value.items():
        if not isinstance(item, str):
            hint = " (quote it in YAML)" if isinstance(item, (int, float)) else ""
            raise _ValueError(f"expected a string, got {_describe(item)}{hint}", (key,))
    return MappingProxyType(dict(value))


def _attrs_hook(converter: cattrs.Converter, cl: type) -> Callable[[Any, Any], Any]:
    base = make_dict_structure_fn(cl, converter)  # type: ignore[var-annotated]
    has_default = {a.name for a in attrs.fields(cl) if a.default is not attrs.NOTHING}

    def structure(value: Any, t: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _ValueError(f"expected a mapping, got {_describe(value)}")
        # ``key:`` with no value means "not set" (1.6 accepted null for every optional key)
        kept = {k: v for k, v in value.items() if not (v is None and k in has_default)}
        return base(kept, t)

    return structure


@lru_cache(maxsize=1)
def _converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(str, _s_str)
    conv.register_structure_hook(bool, _s_bool)
    conv.register_structure_hook(int, _s_int)
    conv.register_structure_hook(float, _s_float)
    conv.register_structure_hook_func(_is_str_tuple, _s_str_tuple)
    conv.register_structure_hook_func(_is_literal, _s_literal)
    conv.register_structure_hook_func(_is_str_mapping, _s_str_mapping)
    conv.register_structure_hook_factory(attrs.has, lambda cl: _attrs_hook(conv, cl))
    return conv


def _errors(exc: BaseException, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """Flatten a cattrs error tree into (key path, message) pairs."""
    if isinstance(exc, ClassValidationError):
        with_notes, others = exc.group_exceptions()
        for sub, note in with_notes:
            if (isinstance(sub, KeyError) and not isinstance(sub, _ValueError)
                    and sub.args == (note.name,)):
                yield (*path, note.name), f"required key {note.name!r} is missing"
            else:
                yield from _errors(sub, (*path, note.name))
        for sub in others:
            yield from _errors(sub, path)
    elif isinstance(exc, IterableValidationError):
        with_inotes, iothers = exc.group_exceptions()
        for sub, inote in with_inotes:
            yield from _errors(sub, (*path, inote.index))
        for sub in iothers:
            yield from _errors(sub, path)
    elif isinstance(exc, ForbiddenExtraKeysError):
        valid = [a.name for a in attrs.fields(exc.cl)]
        for key in sorted(exc.extra_fields):
            yield (*path, key), _unknown_key(key, valid)
    elif isinstance(exc, _ValueError):
        yield (*path, *exc.subpath), exc.message
    else:
        yield path, f"invalid value: {exc}"


def _unknown_key(key: str, valid: Sequence[str]) -> str:
    close = closest_key(key, valid)
    return f"unknown key {key!r}" + (f"; did you mean {close!r}?" if close else
                                     f" (valid keys: {', '.join(sorted(valid))})")


# --- documents ----------------------------------------------------------------------------


_VAR = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@attrs.define
class _Doc:
    path: Path
    data: dict[str, Any]
    lines: dict[KeyPath, int]
    root_line: int = 1

    def line_of(self, path: KeyPath) -> int:
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return self.root_line


class _Loader:
    def __init__(self, env: Mapping[str, str], base_path: str | None) -> None:
        self.env = env
        self.base_path = base_path
        self.problems: list[str] = []
        self.warnings: list[ConfigWarning] = []
        self.docs: list[_Doc] = []
        self.loaded: set[Path] = set()
        self.repo_items: list[tuple[_Doc, int, Any]] = []
        self.view_items: list[tuple[_Doc, int, Any]] = []

    # -- reporting
    def problem(self, doc: _Doc | Path, line: int | None, key: KeyPath | str,
                message: str) -> None:
        file = doc.path if isinstance(doc, _Doc) else doc
        keytext = key if isinstance(key, str) else format_key_path(key)
        where = f"{file}:{line}" if line is not None else str(file)
        self.problems.append(f"{where}: {keytext}: {message}")

    def warn(self, doc: _Doc, path: KeyPath, message: str) -> None:
        self.warnings.append(ConfigWarning(doc.path, doc.line_of(path),
                                           format_key_path(path), message))

    # -- parsing
    def read(self, path: Path) -> _Doc | None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(f"{path}: cannot read configuration file: {exc}")
            return None
        yaml = YAML(typ="rt")
        try:
            tree = yaml.load(text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
            what = " ".join(s for s in (exc.context, exc.problem) if s)
            self.problems.append(f"{where}: YAML syntax error: {what}")
            return None
        except YAMLError as exc:
            self.problems.append(f"{path}: YAML error: {exc}")
            return None
        doc = _Doc(path=path, data={}, lines={(): 1})
        if tree is None:
            return doc
        if not isinstance(tree, Mapping):
            self.problem(doc, 1, (), f"the top level must be a mapping, got {_describe(tree)}")
            return None
        plain = self.plain(tree, (), doc)
        doc.data = plain if isinstance(plain, dict) else {}
        return doc

    def plain(self, node: Any, path: KeyPath, doc: _Doc) -> Any:
        """Plain Python from ruamel nodes, recording lines and expanding ``${VAR}``."""
        if isinstance(node, Mapping):
            out: dict[str, Any] = {}
            lc = getattr(node, "lc", None)
            for key, value in node.items():
                skey = str(key)
                line = None
                if lc is not None:
                    try:
                        line = lc.key(key)[0] + 1
                    except (KeyError, TypeError, IndexError):
                        line = (lc.line + 1) if lc.line is not None else None
                child: KeyPath = (*path, skey)
                if line is not None:
                    doc.lines[child] = line
                out[skey] = self.plain(value, child, doc)
            return out
        if isinstance(node, list):
            items = []
            lc = getattr(node, "lc", None)
            for i, value in enumerate(node):
                item_path: KeyPath = (*path, i)
                if lc is not None:
                    with contextlib.suppress(KeyError, TypeError, IndexError):
                        doc.lines[item_path] = lc.item(i)[0] + 1
                items.append(self.plain(value, item_path, doc))
            return items
        if isinstance(node, bool) or node is None:
            return node
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node)
        if isinstance(node, (date, datetime)):
            return node.isoformat()
        if isinstance(node, str):
            return self.expand(str(node), path, doc)
        return node

    def expand(self, text: str, path: KeyPath, doc: _Doc) -> str:
        """``${VAR}``, ``${VAR:-default}`` (unset or empty), ``${VAR-default}`` (unset);
        ``$${`` is a literal ``${``; a lone ``$`` (``$basearch``) is left alone."""
        if "${" not in text:
            return text

        def substitute(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            inner = match.group(1)
            name, default, colon = inner, None, False
            for sep in (":-", "-"):
                if sep in inner:
                    name, default = inner.split(sep, 1)
                    colon = sep == ":-"
                    break
            if not _NAME.fullmatch(name):
                raise _ValueError(f"invalid variable reference ${{{inner}}}")
            value = self.env.get(name)
            if value is None or (colon and value == ""):
                if default is None:
                    raise _ValueError(f"environment variable {name} is not set "
                                      f"(write ${{{name}:-default}} for a default)")
                return default
            return value

        try:
            result = _VAR.sub(substitute, text)
        except _ValueError as exc:
            self.problem(doc, doc.line_of(path), path, exc.message)
            return text
        leftover = _VAR.sub("", text)
        if "${" in leftover:
            self.problem(doc, doc.line_of(path), path, "unterminated ${ in value")
        return result

    # -- includes and collection
    def load(self, path: Path, stack: tuple[Path, ...], main: bool) -> None:
        real = path.resolve()
        self.loaded.add(real)
        doc = self.read(path)
        if doc is None:
            return
        self.docs.append(doc)
        allowed = _TOP_KEYS if main else tuple(_INCLUDE_KEYS)
        for key in doc.data:
            if key in allowed:
                continue
            if not main and key in _GLOBAL_KEYS:
                self.warn(doc, (key,), "global settings are read from the main configuration "
                          "file only; ignored in an included file")
                continue
            self.problem(doc, doc.line_of((key,)), (key,), _unknown_key(key, _TOP_KEYS))
        for list_key, sink in (("repositories", self.repo_items), ("views", self.view_items)):
            items = doc.data.get(list_key)
            if items is None:
                continue
            if not isinstance(items, list):
                self.problem(doc, doc.line_of((list_key,)), (list_key,),
                             f"expected a list, got {_describe(items)}")
                continue
            for i, item in enumerate(items):
                sink.append((doc, i, item))
        if "include" in doc.data:
            self.include(doc, (*stack, real))

    def include(self, doc: _Doc, stack: tuple[Path, ...]) -> None:
        value = doc.data["include"]
        if value is None:
            return
        entries: list[tuple[KeyPath, Any]]
        if isinstance(value, list):
            entries = [(("include", i), v) for i, v in enumerate(value)]
        else:
            entries = [(("include",), value)]
        for key, pattern in entries:
            line = doc.line_of(key)
            if not isinstance(pattern, str) or not pattern:
                self.problem(doc, line, key, f"expected a file name or glob pattern, got "
                             f"{_describe(pattern)}")
                continue
            full = Path(pattern).expanduser()
            if not full.is_absolute():
                full = doc.path.parent / full
            if glob.has_magic(str(full)):
                matches = sorted(Path(p) for p in glob.glob(str(full), recursive=True)
                                 if p.endswith((".yaml", ".yml")) and Path(p).is_file())
                # a glob next to the including file does not include that file itself
                matches = [m for m in matches if m.resolve() != doc.path.resolve()]
            else:
                if not full.is_file():
                    self.problem(doc, line, key, f"included file {full} does not exist")
                    continue
                matches = [full]
            for match in matches:
                real = match.resolve()
                if real in stack:
                    chain = " -> ".join(str(p) for p in (*stack, real))
                    self.problem(doc, line, key, f"include cycle: {chain}")
                    continue
                if real in self.loaded:
                    continue
                self.load(match, stack, main=False)

    # -- structuring
    def structure(self, doc: _Doc, prefix: KeyPath, value: Any, cl: type) -> Any:
        try:
            return _converter().structure(value, cl)
        except Exception as exc:  # cattrs raises ExceptionGroups and hook errors
            for sub_path, message in _errors(exc, ()):
                full = (*prefix, *sub_path)
                self.problem(doc, doc.line_of(full), full, message)
            return None

    def globals(self, main: _Doc) -> ChantalConfig | None:
        data = {k: v for k, v in main.data.items() if k in _GLOBAL_KEYS}
        storage = data.get("storage")
        if isinstance(storage, Mapping):
            storage = dict(storage)
            for key in ("base_path", "pool_path", "published_path", "temp_path", "cache_path"):
                if isinstance(storage.get(key), str):
                    storage[key] = os.path.expanduser(storage[key])
        if self.base_path is not None and (
                storage is None or (isinstance(storage, Mapping)
                                    and storage.get("base_path") is None)):
            storage = {**(storage or {}), "base_path": self.base_path}
        if storage is not None:
            data["storage"] = storage
        result: ChantalConfig | None = self.structure(main, (), data, ChantalConfig)
        return result


def _locate(finding_path: KeyPath, main: _Doc,
            repos: Sequence[tuple[_Doc, int, Any]],
            views: Sequence[tuple[_Doc, int, Any]]) -> tuple[_Doc, KeyPath]:
    if len(finding_path) >= 2 and isinstance(finding_path[1], int):
        table = {"repositories": repos, "views": views}.get(str(finding_path[0]))
        if table is not None and finding_path[1] < len(table):
            doc, index, _item = table[finding_path[1]]
            return doc, (finding_path[0], index, *finding_path[2:])
    return main, finding_path


def load_config(path: str | os.PathLike[str], *, env: Mapping[str, str] = os.environ,
                base_path: str | None = None,
                types: Sequence[str] = REPOSITORY_TYPES) -> LoadedConfig:
    """Load, include, expand, structure and check a configuration file.

    Works for a main configuration and for a file holding only ``repositories:`` (every
    global then takes its default).

    :param path: the main configuration file.
    :param env: environment for ``${VAR}`` expansion (and the default base path).
    :param base_path: ``storage.base_path`` when the file sets none (default:
        :func:`default_base_path`).
    :param types: repository types accepted (plugins may add theirs).
    :returns: the configuration, its warnings and the files read.
    :raises ConfigError: every problem found, each as ``file:line: key: message`` (YAML
        syntax, unknown keys with the closest valid key, wrong types, invalid regexes,
        duplicate repository ids naming both places, bad views, include cycles, unset
        environment variables).
    """
    main_path = Path(path)
    loader = _Loader(env, base_path if base_path is not None else default_base_path(env))
    loader.load(main_path, (), main=True)
    if not loader.docs or loader.docs[0].path != main_path:
        raise ConfigError(loader.problems or [f"{main_path}: cannot load"])
    main = loader.docs[0]
    repos: list[RepositoryConfig | None] = [
        loader.structure(doc, ("repositories", i), item, RepositoryConfig)
        for doc, i, item in loader.repo_items]
    views: list[ViewConfig | None] = [
        loader.structure(doc, ("views", i), item, ViewConfig)
        for doc, i, item in loader.view_items]
    base = loader.globals(main)
    if loader.problems or base is None:
        raise ConfigError(loader.problems)
    config = attrs.evolve(base, repositories=tuple(r for r in repos if r is not None),
                          views=tuple(v for v in views if v is not None))

    def place(finding: ConfigFinding) -> tuple[_Doc, KeyPath, int]:
        doc, local = _locate(finding.path, main, loader.repo_items, loader.view_items)
        return doc, local, doc.line_of(local)

    def suffix(finding: ConfigFinding) -> str:
        head = finding.path[:2]
        if head and head[0] == "repositories" and len(head) == 2 and isinstance(head[1], int):
            repo_id = config.repositories[head[1]].id
            return "" if repr(repo_id) in finding.message else f" (repository {repo_id!r})"
        return ""

    for finding in check_config(config, types=types):
        doc, local, line = place(finding)
        message = finding.message
        for related in finding.related:
            rdoc, _rlocal, rline = place(ConfigFinding(path=related, message=""))
            message += f"; also defined at {rdoc.path}:{rline}"
        message += suffix(finding)
        loader.problem(doc, line, local, message)
    if loader.problems:
        raise ConfigError(loader.problems)
    for finding in config_warnings(config):
        doc, local, line = place(finding)
        loader.warnings.append(ConfigWarning(doc.path, line, format_key_path(local),
                                             finding.message + suffix(finding)))
    return LoadedConfig(config=config, warnings=tuple(loader.warnings),
                        files=tuple(d.path for d in loader.docs))


# --- rendering ----------------------------------------------------------------------------

_SECRET_KEYS = frozenset({"password", "token", "passphrase"})
_URL_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:)[^@/\s]*@")
MASK = "***"


def mask_url(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` replaced by ``***``."""
    return _URL_CREDENTIALS.sub(lambda m: f"{m.group('head')}{MASK}@", text)


_mask_url = mask_url  # the name chantal_cli.commands.admin imports


def _render(value: Any, key: str | None = None) -> Any:
    if attrs.has(type(value)):
        out: dict[str, Any] = {}
        for a in attrs.fields(type(value)):
            item = getattr(value, a.name)
            if item is None:
                continue
            rendered = _render(item, a.name)
            if a.name == "headers" and isinstance(rendered, dict):
                rendered = {k: MASK for k in rendered}
            if rendered in ([], {}) and a.name not in _LIST_KEYS:
                continue
            out[a.name] = rendered
        return out
    if isinstance(value, Mapping):
        return {str(k): _render(v, str(k)) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_render(v) for v in value]
    if isinstance(value, str):
        if key in _SECRET_KEYS and value:
            return MASK
        return mask_url(value)
    return value


def render_config(config: ChantalConfig) -> dict[str, Any]:
    """The resolved configuration as plain data, secrets masked (``chantal config check``).

    Defaults are filled in (``database.url`` resolved, storage paths derived), unset
    optional keys are left out, and secrets become ``***``: passwords, tokens,
    passphrases, custom auth header values, and the password part of any URL
    (``postgresql://user:***@host/db``, ``http://user:***@proxy:3128``).

    :returns: a dict of dicts, lists and scalars in the key order of the schema.
    """
    data = _render(config)
    assert isinstance(data, dict)
    database = dict(data.get("database", {}))
    database["url"] = mask_url(config.database_url())
    data["database"] = {"url": database.pop("url"), **database}
    return data


def render_config_yaml(config: ChantalConfig) -> str:
    """:func:`render_config` as YAML text."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    stream = StringIO()
    yaml.dump(render_config(config), stream)
    return stream.getvalue()

