"""Turn existing client configuration into Chantal repository definitions.

* yum/dnf ``.repo`` files (``/etc/yum.repos.d/*.repo``): baseurl, mirrorlist, metalink,
  gpgkey, gpgcheck/repo_gpgcheck, sslclientcert/sslclientkey/sslcacert, sslverify, proxy,
  enabled. Keys and semantics as dnf.conf(5) documents them.
* APT sources (deb822 ``.sources`` and one-line ``.list`` files): URIs, Suites,
  Components, Architectures, Signed-By, as sources.list(5) documents them.

The result is a list of plain dicts in Chantal's configuration schema, rendered as YAML.
"""

from __future__ import annotations

import configparser
import glob
import io
import os
import re
from collections.abc import Sequence
from typing import Any

from chantal_core.errors import ConfigError

_YUM_VARS = re.compile(r"\$(?:\{(releasever|basearch|arch|infra|contentdir)\}|"
                       r"(releasever|basearch|arch|infra|contentdir)\b)")
#: Any dnf variable reference (``$name`` or ``${name}``; custom ones live in /etc/dnf/vars).
_ANY_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-").lower() or "repo"


def import_yum_repos(files: Sequence[str] | None = None, *, prefix: str = "",
                     variables: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Repository definitions from yum ``.repo`` files.

    :param files: paths; default ``/etc/yum.repos.d/*.repo``.
    :param prefix: prepended to every generated id.
    :param variables: values for ``$releasever``/``$basearch`` (left as they are otherwise,
        with a note in the generated ``name``).
    :returns: one dict per section, in file order.
    :raises ConfigError: a file cannot be read or parsed (naming the file and line).
    """
    paths = list(files) if files else sorted(glob.glob("/etc/yum.repos.d/*.repo"))
    variables = variables or {}
    out: list[dict[str, Any]] = []
    for path in paths:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle, source=path)
        except OSError as exc:
            raise ConfigError(f"{path}: {exc.strerror}") from exc
        except configparser.Error as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        for section in parser.sections():
            out.append(_yum_section(path, section, parser[section], prefix, variables))
    return out


def _subst(value: str, variables: dict[str, str]) -> str:
    return _YUM_VARS.sub(
        lambda m: variables.get(m.group(1) or m.group(2), m.group(0)), value)


def unresolved_variables(text: str) -> list[str]:
    """The dnf variables (``$basearch``, ``${releasever}``, custom ones) left in ``text``,
    sorted, without the ``$``."""
    return sorted(set(_ANY_VAR.findall(text)))


def _yum_section(path: str, section: str, values: Any, prefix: str,
                 variables: dict[str, str]) -> dict[str, Any]:
    def get(key: str) -> str | None:
        value = values.get(key)
        return _subst(value.strip(), variables) if value is not None and value.strip() else None

    def flag(key: str, default: bool) -> bool:
        value = get(key)
        if value is None:
            return default
        return value.lower() in ("1", "yes", "true", "on")

    repo: dict[str, Any] = {"id": prefix + _slug(section),
                            "name": get("name") or section, "type": "rpm"}
    baseurl = get("baseurl")
    if baseurl:
        repo["feed"] = baseurl.split()[0].split(",")[0]
    elif get("metalink"):
        repo["feed"] = "metalink:" + str(get("metalink"))
    elif get("mirrorlist"):
        repo["feed"] = "mirrorlist:" + str(get("mirrorlist"))
    else:
        raise ConfigError(f"{path}: [{section}] has no baseurl, mirrorlist or metalink")
    unresolved = unresolved_variables(repo["feed"])
    if unresolved:
        repo["name"] += " (set " + ", ".join("$" + v for v in unresolved) + " in feed)"
    repo["enabled"] = flag("enabled", True)
    gpgkeys = (get("gpgkey") or "").replace(",", " ").split()
    gpgcheck = flag("gpgcheck", False)
    repo_gpgcheck = flag("repo_gpgcheck", False)
    if gpgkeys or gpgcheck or repo_gpgcheck:
        verify: dict[str, Any] = {"enabled": bool(gpgkeys) and (gpgcheck or repo_gpgcheck),
                                  "gpgcheck": gpgcheck, "repo_gpgcheck": repo_gpgcheck}
        local = [k[len("file://"):] for k in gpgkeys if k.startswith("file://")]
        if local:
            verify["key_files"] = local
        remote = [k for k in gpgkeys if not k.startswith("file://")]
        if remote:
            repo["name"] += f" (gpgkey to fetch: {' '.join(remote)})"
        repo["verify"] = verify
    ssl: dict[str, Any] = {}
    if get("sslcacert"):
        ssl["ca_bundle"] = get("sslcacert")
    if get("sslclientcert"):
        ssl["client_cert"] = get("sslclientcert")
    if get("sslclientkey"):
        ssl["client_key"] = get("sslclientkey")
    if not flag("sslverify", True):
        ssl["verify"] = False
    if ssl:
        repo["ssl"] = ssl
    proxy = get("proxy")
    if proxy and proxy.lower() not in ("_none_", "none"):
        entry: dict[str, Any] = {"http_proxy": proxy, "https_proxy": proxy}
        if get("proxy_username"):
            entry["username"] = get("proxy_username")
        if get("proxy_password"):
            entry["password"] = get("proxy_password")
        repo["proxy"] = entry
    return repo


def import_apt_sources(files: Sequence[str] | None = None, *, prefix: str = ""
                       ) -> list[dict[str, Any]]:
    """Repository definitions from APT sources.

    One repository per (URI, suite) of a ``deb`` entry (``deb-src`` sets
    ``include_source_packages``); the keyring comes from ``Signed-By``.

    :param files: ``.sources``/``.list`` paths; default: the machine's own
        (``/etc/apt/sources.list`` and ``/etc/apt/sources.list.d/*``).
    :raises ConfigError: a file cannot be read or parsed.
    """
    from chantal_adapters.apt.sources import parse_sources_file, read_system_sources

    entries = ([e for path in files for e in parse_sources_file(path)] if files
               else read_system_sources())
    repos: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if not entry.enabled or not {"deb", "deb-src"} & set(entry.types):
            continue
        for uri in entry.uris:
            for suite in entry.suites:
                host = re.sub(r"^[a-z+]+://", "", uri).split("/")[0]
                path_part = "-".join(p for p in uri.rstrip("/").split("/")[3:] if p)
                rid = prefix + _slug(f"{path_part or host}-{suite}".replace("/", "-"))
                repo = repos.get(rid)
                if repo is None:
                    repo = {"id": rid, "name": f"{uri} {suite}", "type": "apt",
                            "feed": uri, "apt": {"distribution": suite,
                                                  "components": list(entry.components),
                                                  "architectures": list(
                                                      entry.architectures or ["amd64"])}}
                    if entry.signed_by:
                        repo["verify"] = {"enabled": True,
                                          "key_files": list(entry.signed_by)}
                    repos[rid] = repo
                if "deb-src" in entry.types:
                    repo["apt"]["include_source_packages"] = True
                for comp in entry.components:
                    if comp not in repo["apt"]["components"]:
                        repo["apt"]["components"].append(comp)
    return list(repos.values())


def to_yaml(repos: list[dict[str, Any]]) -> str:
    """``repositories:`` YAML text for the given definitions.

    ``${`` in a value (a dnf variable such as ``${releasever}``) is written ``$${``, the
    configuration's escape for a literal ``${``: otherwise loading the file would take it
    for an environment variable (see :mod:`chantal_adapters.config_yaml`).
    """
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump({"repositories": _escape_env(repos)}, buf)
    return buf.getvalue()


def _escape_env(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: _escape_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape_env(v) for v in value]
    return value


def is_readable(path: str) -> bool:
    """Whether ``path`` is a readable file."""
    return os.path.isfile(path) and os.access(path, os.R_OK)
