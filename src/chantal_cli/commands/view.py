"""``chantal view list|show`` and the view publishing behind ``chantal publish view`` /
``chantal publish snapshot --view``.

Also the adapter-side pieces a view publication needs that the core cannot do without I/O:
reading the APT overrides file (YAML) and merging RPM ``updateinfo`` documents (XML,
parsed with defusedxml).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Mapping, Sequence
from io import BytesIO
from typing import Any

from chantal_cli.commands._common import services
from chantal_cli.render import human_bytes, render_mapping, render_rows
from chantal_core.errors import ConfigError, MetadataError, PublishError

_XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'


# --- wiring ------------------------------------------------------------------------------


def resolve_view(svc: Any, name: str) -> tuple[Any, Any, Any, Any]:
    """A configured view and what the use cases need for it.

    :returns: ``(ViewConfig, ViewSource, RepositoryFormat, first member RepositoryConfig)``.
    :raises NotFoundError: no such view, or a member is not configured.
    :raises ConfigError: the view has no members.
    """
    from chantal_core.views import ViewSource

    config = svc.config.view(name)
    if not config.repos:
        raise ConfigError(f"view {name!r} has no repositories")
    first = svc.config.repository(config.repos[0])
    for repo_id in config.repos[1:]:
        svc.config.repository(repo_id)
    source = ViewSource(name=config.name, repos=tuple(config.repos), policy=config.merge)
    return config, source, svc.format_for(first), first


def load_overrides(path: str) -> dict[str, dict[str, str | None]]:
    """Read an APT overrides file: a YAML mapping package name -> field -> value.

    Values are strings (numbers are written as they read; booleans as ``yes``/``no``);
    ``null`` drops the field from the package's stanza. Fields describing the file
    (``Filename``, ``Size``, checksums) cannot be overridden. Relative paths are relative
    to the working directory, as every path in the configuration.

    .. code-block:: yaml

        hello:
          Priority: important
          Section: admin
        libfoo1:
          X-Custom: null

    :returns: package -> field -> value or ``None``.
    :raises ConfigError: unreadable file, invalid YAML or an invalid entry, naming the
        file and line.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from chantal_adapters.apt.publish import PROTECTED_FIELDS

    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError(f"overrides file {path}: {exc.strerror}") from exc
    try:
        data = YAML(typ="rt", pure=True).load(text)
    except YAMLError as exc:
        raise ConfigError(f"overrides file {path}: invalid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}:1: an overrides file is a mapping of package names to "
                          "field mappings")

    def line_of(mapping: Any, key: Any) -> int:
        try:
            return int(mapping.lc.key(key)[0]) + 1
        except (AttributeError, KeyError, TypeError):
            return 1

    problems: list[str] = []
    out: dict[str, dict[str, str | None]] = {}
    for package, fields in data.items():
        where = f"{path}:{line_of(data, package)}: {package}"
        if not isinstance(fields, Mapping):
            problems.append(f"{where}: expected a mapping of field -> value")
            continue
        entry: dict[str, str | None] = {}
        for field, value in fields.items():
            at = f"{path}:{line_of(fields, field)}: {package}.{field}"
            name = str(field)
            if not name or any(c.isspace() or c == ":" for c in name):
                problems.append(f"{at}: not a field name")
            elif name.lower() in PROTECTED_FIELDS:
                problems.append(f"{at}: describes the package file and cannot be overridden")
            elif value is None:
                entry[name] = None
            elif isinstance(value, bool):
                entry[name] = "yes" if value else "no"
            elif isinstance(value, (str, int, float)):
                entry[name] = str(value)
            else:
                problems.append(f"{at}: the value must be a string or null")
        out[str(package)] = entry
    if problems:
        raise ConfigError(problems)
    return out


def merge_updateinfo(documents: Sequence[bytes]) -> bytes:
    """One updateinfo.xml from several: every ``<update>`` element, in member order, the
    first of each advisory ``<id>`` kept (updates without an id are all kept).

    Publishing then keeps only the advisories that name a published package
    (:func:`chantal_adapters.rpm.publish.filter_updateinfo`).

    :raises PublishError: a document is malformed or uses a forbidden XML construct.
    """
    from xml.etree.ElementTree import ParseError, tostring

    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    seen: set[str] = set()
    out = [_XML_DECL, "<updates>\n"]
    for index, data in enumerate(documents, start=1):
        source = f"updateinfo of view member {index}"
        depth = 0
        try:
            for event, elem in SafeET.iterparse(BytesIO(data), events=("start", "end"),
                                                forbid_dtd=False, forbid_entities=True,
                                                forbid_external=True):
                if event == "start":
                    depth += 1
                    continue
                depth -= 1
                if depth != 1:
                    continue
                if elem.tag.rsplit("}", 1)[-1] == "update":
                    ident = next(((child.text or "").strip() for child in elem
                                  if child.tag.rsplit("}", 1)[-1] == "id"), "")
                    if not ident or ident not in seen:
                        if ident:
                            seen.add(ident)
                        elem.tail = None
                        out.append("  " + tostring(elem, encoding="unicode") + "\n")
                elem.clear()
        except DefusedXmlException as exc:
            raise PublishError(str(MetadataError(source, f"forbidden XML construct: {exc!r}"))
                               ) from exc
        except ParseError as exc:
            raise PublishError(str(MetadataError(source, f"malformed XML: {exc}"))) from exc
    out.append("</updates>\n")
    return "".join(out).encode("utf-8")


def publish_view(svc: Any, name: str, snapshot: str | None = None,
                 path: str | None = None) -> int:
    """Publish a view's current content (or one of its snapshots) as one repository.

    The tree goes to ``path``, else :meth:`Services.view_path`. Publish options are the
    first member's (signing key, compression, APT Release fields), in generated mode, with
    the view's ``overrides`` file applied (APT). RPM views merge the members'
    ``updateinfo``; other metadata (comps, modules, APT layout) comes from the first
    member that has it.

    :returns: the exit code (0).
    :raises ChantalError: unknown view or snapshot, member not synced, publishing failed.
    """
    import attrs

    from chantal_core.views import publish_view as publish_view_use_case

    config, source, fmt, first = resolve_view(svc, name)
    path = path or svc.view_path(config, snapshot)
    options = svc.publish_options(first, mode="filtered")
    if config.overrides:
        options = attrs.evolve(options, overrides=load_overrides(config.overrides))
    combiners = {"updateinfo": merge_updateinfo} if fmt.package_format == "rpm" else {}
    result = publish_view_use_case(
        view=source, path=path, fmt=fmt, catalog=svc.catalog, pool=svc.pool,
        target=svc.target, options=options, snapshot=snapshot, now=time.time(),
        combiners=combiners, tree_exists=os.path.isdir)
    what = f"view {name}" + (f" snapshot {snapshot}" if snapshot else "")
    members = ", ".join(f"{m.repo_id}@{m.version}" for m in result.content.members)
    if result.skipped:
        print(f"{what} is already published at {path}: unchanged")
    else:
        print(f"{what}: published {len(result.content.sourced)} packages "
              f"({source.policy} of {members}) at {path}")
    return 0


# --- commands ------------------------------------------------------------------------------


def _member_rows(svc: Any, repos: Sequence[str]) -> list[dict[str, Any]]:
    states = {s.repo_id: s for s in svc.catalog.list_repositories()}
    rows = []
    for repo_id in repos:
        state = states.get(repo_id)
        version = state.current_version if state is not None else None
        count = None
        if version is not None:
            count = next((c for n, _, c in svc.catalog.list_versions(repo_id) if n == version),
                         None)
        rows.append({"repo_id": repo_id, "version": version, "packages": count})
    return rows


def list_(args: argparse.Namespace) -> int:
    """Configured views: members, merge policy, where they publish."""
    svc = services(args)
    repo_types = {r.id: r.type for r in svc.config.repositories}
    rows = []
    for view in svc.config.views:
        members = _member_rows(svc, view.repos)
        rows.append({
            "name": view.name,
            "type": repo_types.get(view.repos[0]) if view.repos else None,
            "merge": view.merge,
            "repos": ", ".join(view.repos),
            "synced": f"{sum(1 for m in members if m['version'] is not None)}/{len(members)}",
            "publish_path": svc.view_path(view),
            "description": view.description or "",
        })
    render_rows(rows, ["name", "type", "merge", "repos", "synced", "publish_path",
                       "description"], args.format)
    return 0


def show(args: argparse.Namespace) -> int:
    """One view: members with their versions and package counts, policy, merged count."""
    from chantal_core.views import view_content

    svc = services(args)
    config, source, fmt, first = resolve_view(svc, args.name)
    members = _member_rows(svc, config.repos)
    data: dict[str, Any] = {
        "name": config.name, "description": config.description or "", "type": first.type,
        "merge": config.merge, "overrides": config.overrides,
        "publish_path": svc.view_path(config),
    }
    if all(m["version"] is not None for m in members):
        content = view_content(svc.catalog, source, fmt.version_key)
        data["packages"] = len(content.sourced)
        data["size"] = sum(r.size for _, r in content.sourced)
        taken: dict[str, int] = {}
        for repo_id, _ in content.sourced:
            taken[repo_id] = taken.get(repo_id, 0) + 1
        for member in members:
            member["contributes"] = taken.get(member["repo_id"], 0)
    else:
        data["packages"] = None
    data["members"] = members
    data["published"] = [p.path for p in svc.catalog.list_publications()
                         if p.kind in ("view", "view-snapshot") and p.source == config.name]
    data["snapshots"] = sorted({s.name for s in svc.catalog.list_snapshots(view=config.name)})
    if args.format == "json":
        render_mapping(data, "json")
        return 0
    if data.get("size") is not None:
        data["size"] = human_bytes(data["size"])
    data["overrides"] = data["overrides"] or ""
    data["members"] = [
        f"{m['repo_id']}@{m['version'] if m['version'] is not None else 'never synced'}"
        + (f" ({m['packages']} packages" + (f", {m['contributes']} in the view"
                                             if "contributes" in m else "") + ")"
           if m["packages"] is not None else "")
        for m in members]
    render_mapping(data, "table")
    return 0
