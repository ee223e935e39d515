"""Dependency closure: the selected packages plus what they need to install.

``with_dependencies: true`` makes a sync keep, besides the packages the filters select
(the *seed*), every package of the repository's upstream that the seed needs, recursively:
:func:`closure` computes that set purely, for RPM and Debian packages alike.

A dependency is satisfied by

* a package name or a ``Provides`` entry, with version relations:

  - RPM: ranges overlap as rpm's ``rpmdsCompare()``/``rpmverOverlap()`` decide
    (``lib/rpmds.c``, ``rpmio/rpmver.c``): an unversioned side always overlaps; epochs
    compare first (a missing epoch is 0), then versions with ``rpmvercmp``, then releases
    only when both sides have one, and a side without release overlaps an ``=`` on the
    other side (``foo = 1.0`` is satisfied by ``foo-1.0-5``; ``foo > 1.0`` is not);
  - Debian: dpkg's relations ``<<``, ``<=``, ``=``, ``>=``, ``>>`` (the obsolete ``<``/``>``
    mean ``<=``/``>=``) against the package version; a ``Provides`` entry satisfies an
    unversioned relation, and a versioned relation only when it carries a version
    (``Provides: foo (= 1.0)``), which is then compared (Debian Policy 7.5);

* (RPM) a file path (``/usr/bin/sh``) found in a package's files, as primary.xml lists
  them (``/etc/*``, ``*bin/*`` paths: what file dependencies name in practice), or in its
  ``Provides``.

RPM rich (boolean) dependencies (rpm 4.13+, ``(a or b)``) are parsed as rpm's
``rpmrichParse()`` reads them: ``and``, ``or``, ``with``, ``without``, ``if``/``if ... else``
and ``unless``/``unless ... else``, nested. Debian alternatives (``a | b``) are an ``or``.
``rpmlib(...)`` dependencies are satisfied by rpm itself. Dependencies of source
packages (build dependencies) are not followed, and source packages never satisfy one.

Choosing: a dependency the current set already satisfies adds nothing. Otherwise the best
candidate is added: among the universe's packages of the allowed architectures (plus
``noarch``/``all``), those of the depending package's own architecture (or
architecture-independent ones) first, then the architecture listed first in ``arches``,
then the highest version (``version_key``), then the first in the universe. For an ``or``
(Debian alternatives), the first alternative that has a candidate is taken, as apt does.
Conditional dependencies (``(a if b)``) at the top level are decided when nothing else
is left to add: first those whose condition holds; then those whose condition does not
(their ``else`` branch, or ``unless``), and checked again at the end, so a condition that
became true later is honoured. Conditionals nested inside other operators are decided
when met. The process runs to a fixpoint over a worklist, with an index
name -> providers built once, so its cost follows the size of the result, not of the
universe (after one pass over it). A lazy universe (:mod:`chantal_core.records`) is not
even passed over: the providers of a name are asked for when a dependency first names it.

Not modelled: Debian ``Multi-Arch`` (a candidate of another architecture is only taken
when the allowed architectures offer nothing better), implicit dependencies on
``Essential: yes`` packages, conflicts (``Conflicts``, ``Breaks``), and build dependencies.

The closure is greedy, as package managers' resolvers are: which candidate an ``or`` or
a version range takes may depend on what is already present, so two seeds with the same
closure-relevant content in a different order can yield different (equally valid)
closures. With only unversioned dependencies on package names the result is unique.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, Literal

import attrs

from chantal_core.errors import InvalidVersionError
from chantal_core.memory import gc_paused
from chantal_core.model import PackageRecord
from chantal_core.records import ChainedRecords, LazyRecords, is_lazy
from chantal_core.sync import ExplainedSelection
from chantal_core.versions.deb import DebVersionKey, deb_record_key, deb_version_key
from chantal_core.versions.rpm import rpm_version_key

__all__ = [
    "ClosureReason",
    "ClosureResult",
    "DepAtom",
    "DepCond",
    "DepNode",
    "DepOp",
    "RichDependencyError",
    "closure",
    "closure_selector",
    "deb_relation_satisfied",
    "parse_rich_dependency",
    "record_key",
    "rpm_ranges_overlap",
]

Kind = Literal["rpm", "deb"]

#: rpm's sense bits (``RPMSENSE_LESS``, ``RPMSENSE_GREATER``, ``RPMSENSE_EQUAL``).
LESS: Final = 2
GREATER: Final = 4
EQUAL: Final = 8
_SENSE_MASK: Final = LESS | GREATER | EQUAL
#: primary.xml ``flags`` -> sense bits.
RPM_FLAGS: Final[Mapping[str, int]] = MappingProxyType(
    {"LT": LESS, "GT": GREATER, "EQ": EQUAL, "LE": LESS | EQUAL, "GE": GREATER | EQUAL})
#: Operators of textual dependencies (rich dependency atoms) -> sense bits, as rpm's
#: ``rpmParseDSFlags()`` accepts them.
_RPM_OPERATORS: Final[Mapping[str, int]] = MappingProxyType(
    {"<": LESS, ">": GREATER, "=": EQUAL, "==": EQUAL, "<=": LESS | EQUAL,
     "=<": LESS | EQUAL, ">=": GREATER | EQUAL, "=>": GREATER | EQUAL})
_RPM_OP_TEXT: Final[Mapping[int, str]] = MappingProxyType(
    {LESS: "<", GREATER: ">", EQUAL: "=", LESS | EQUAL: "<=", GREATER | EQUAL: ">="})
#: Architectures whose packages install anywhere.
INDEPENDENT_ARCHES: Final = frozenset({"noarch", "all"})

#: An RPM EVR as dependencies carry it: ``(epoch, version, release)``, ``None`` if absent.
RpmDepEvr = tuple[str | None, str | None, str | None]


# --- results ------------------------------------------------------------------------------


@attrs.frozen
class ClosureReason:
    """Why the closure added a package.

    :ivar required_by: NEVRA (RPM ``name-[epoch:]version-release.arch``, Debian
        ``name_version_arch``) of the package whose dependency it satisfies.
    :ivar dependency: that dependency as text (``libfoo >= 1.2``, ``/usr/bin/sh``,
        ``(a or b)``, ``libc6 (>= 2.34) | libc6.1``).
    :ivar weak: the dependency is a weak one (``Recommends``), followed only with
        ``include_recommends``.
    """

    required_by: str
    dependency: str
    weak: bool = False

    def __str__(self) -> str:
        """``required by <nevra> (<dependency>)``, or ``recommended by ...`` when weak."""
        verb = "recommended" if self.weak else "required"
        return f"{verb} by {self.required_by} ({self.dependency})"


@attrs.frozen(kw_only=True)
class ClosureResult:
    """The outcome of :func:`closure`.

    :ivar packages: the seed (in its order, duplicates dropped) followed by the added
        packages in the order they were added.
    :ivar added: :func:`record_key` of each added package -> why it was added.
    :ivar unsatisfied: ``(NEVRA, dependency text)`` of member dependencies no package of the
        universe satisfies (reported, not fatal), in discovery order.
    """

    packages: tuple[PackageRecord, ...]
    added: Mapping[str, ClosureReason]
    unsatisfied: tuple[tuple[str, str], ...] = ()

    def explained(self) -> ExplainedSelection:
        """The result as a sync selection step's output (reasons as text)."""
        return ExplainedSelection(
            records=self.packages,
            reasons={key: str(reason) for key, reason in self.added.items()},
            unsatisfied=self.unsatisfied)


def record_key(record: PackageRecord) -> str:
    """The key of a record in closure results: its SHA256, or ``<checksum type>:<checksum>``
    when upstream did not give the SHA256 (as the sync plans it)."""
    return record.sha256 or f"{record.checksum_type}:{record.checksum}"


# --- dependency trees -----------------------------------------------------------------


@attrs.frozen(slots=True)
class DepAtom:
    """One simple dependency: a name with an optional version relation.

    :ivar name: package name, Provides name or (RPM) file path.
    :ivar op: RPM: sense bits (:data:`LESS` | :data:`GREATER` | :data:`EQUAL`, 0 when
        unversioned); Debian: the relation operator (``>=``...) or ``None``.
    :ivar evr: RPM: an :data:`RpmDepEvr`; Debian: the version or ``None``.
    """

    name: str
    op: Any = None
    evr: Any = None


@attrs.frozen(slots=True)
class DepOp:
    """``and``, ``or``, ``with`` or ``without`` over its operands (rpm's rich operators;
    Debian alternatives are an ``or``).

    :ivar op: the operator.
    :ivar items: the operands, in order.
    """

    op: str
    items: tuple[DepNode, ...]


@attrs.frozen(slots=True)
class DepCond:
    """``then if cond [else otherwise]`` or ``then unless cond [else otherwise]``.

    :ivar op: ``if`` or ``unless``.
    :ivar then: required when the condition holds (``if``) or does not (``unless``).
    :ivar cond: the condition: satisfied by the packages present.
    :ivar otherwise: the ``else`` part, or ``None``.
    """

    op: str
    then: DepNode
    cond: DepNode
    otherwise: DepNode | None = None


#: A dependency tree.
DepNode = DepAtom | DepOp | DepCond


class RichDependencyError(ValueError):
    """A rich dependency that rpm's grammar does not accept (the message names it)."""


_RICH_WORDS: Final = frozenset({"and", "or", "if", "unless", "else", "with", "without"})
_CHAINING: Final = frozenset({"and", "or", "with", "without"})


def _split_evr(text: str) -> RpmDepEvr:
    """``[epoch:]version[-release]`` as rpm's ``rpmdsParseEVR`` splits it."""
    epoch: str | None = None
    head, colon, rest = text.partition(":")
    if colon and head.isdigit():
        epoch, text = head, rest
    version, hyphen, release = text.rpartition("-")
    if not hyphen:
        return epoch, text or None, None
    return epoch, version or None, release or None


class _RichParser:
    """Recursive descent over rpm's rich dependency grammar (``rpmrichParse``)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, what: str) -> RichDependencyError:
        return RichDependencyError(f"invalid rich dependency {self.text!r} at offset "
                                   f"{self.pos}: {what}")

    def skip_ws(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos].isspace():
            pos += 1
        self.pos = pos

    def token(self) -> str:
        """A run of non-blank characters; ``)`` ends it unless a ``(`` in it is open
        (rpm's ``SKIPNONWHITEX``)."""
        text, start = self.text, self.pos
        pos, depth = start, 0
        while pos < len(text):
            c = text[pos]
            if c.isspace() or c == ",":
                break
            if c == ")":
                if depth <= 0:
                    break
                depth -= 1
            elif c == "(":
                depth += 1
            pos += 1
        self.pos = pos
        return text[start:pos]

    def peek_word(self) -> str | None:
        self.skip_ws()
        if self.pos >= len(self.text) or self.text[self.pos] == ")":
            return None
        start = self.pos
        word = self.token()
        self.pos = start
        return word

    def parse(self) -> DepNode:
        self.skip_ws()
        node = self.paren()
        self.skip_ws()
        if self.pos != len(self.text):
            raise self.error("text after the closing parenthesis")
        return node

    def paren(self) -> DepNode:
        if self.pos >= len(self.text) or self.text[self.pos] != "(":
            raise self.error("expected '('")
        self.pos += 1
        node = self.expr()
        self.skip_ws()
        if self.pos >= len(self.text) or self.text[self.pos] != ")":
            raise self.error("expected ')'")
        self.pos += 1
        return node

    def expr(self) -> DepNode:
        first = self.term()
        op = self.peek_word()
        if op is None:
            return first
        if op in _CHAINING:
            items = [first]
            while self.peek_word() == op:
                self.token()
                items.append(self.term())
            following = self.peek_word()
            if following is not None:
                raise self.error(f"{following!r} after {op!r} (mixed operators need "
                                 "parentheses)")
            return DepOp(op, tuple(items))
        if op in ("if", "unless"):
            self.token()
            cond = self.term()
            otherwise = None
            if self.peek_word() == "else":
                self.token()
                otherwise = self.term()
            following = self.peek_word()
            if following is not None:
                raise self.error(f"unexpected {following!r}")
            return DepCond(op, first, cond, otherwise)
        raise self.error(f"unknown operator {op!r}")

    def term(self) -> DepNode:
        self.skip_ws()
        if self.pos < len(self.text) and self.text[self.pos] == "(":
            return self.paren()
        name = self.token()
        if not name:
            raise self.error("expected a dependency")
        if name in _RICH_WORDS:
            raise self.error(f"operator {name!r} where a dependency was expected")
        save = self.pos
        self.skip_ws()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in "<>=":
            self.pos += 1
        operator = self.text[start:self.pos]
        if not operator:
            self.pos = save
            return DepAtom(name, 0, (None, None, None))
        flags = _RPM_OPERATORS.get(operator)
        if flags is None:
            raise self.error(f"unknown comparison {operator!r}")
        self.skip_ws()
        evr = self.token()
        if not evr:
            raise self.error(f"no version after {operator!r}")
        return DepAtom(name, flags, _split_evr(evr))


def parse_rich_dependency(text: str) -> DepNode:
    """Parse an RPM rich dependency (``(a >= 1 or (b with c))``) into a tree.

    Grammar of rpm's ``rpmrichParse()`` (rpm 4.14+): a parenthesised expression of simple
    dependencies (``name [op evr]``) or nested expressions, joined by one chaining operator
    (``and``, ``or``, ``with``, ``without``) repeated, or by ``if``/``unless`` with an
    optional ``else``.

    :param text: the dependency as primary.xml's ``name`` attribute holds it.
    :returns: the tree (internal node types; used by :func:`closure`).
    :raises RichDependencyError: text outside the grammar (unbalanced parentheses, mixed
        operators without parentheses, an operator where a dependency is expected).
    """
    return _RichParser(text).parse()


# --- version relations ----------------------------------------------------------------


def _rpm_cmp(a: str, b: str) -> int:
    ka, kb = rpm_version_key(a), rpm_version_key(b)
    return (ka > kb) - (ka < kb)


def _epoch(value: str | None) -> int:
    if not value:
        return 0
    try:
        return int(value)
    except ValueError:
        return 0


def rpm_ranges_overlap(provide_flags: int, provide: RpmDepEvr,
                       require_flags: int, require: RpmDepEvr) -> bool:
    """Whether a Provides range satisfies a Requires range, as rpm's ``rpmdsCompare()``.

    Source of the rule: ``rpmdsCompareIndex`` (``lib/rpmds.c``) and ``rpmverOverlap``
    (``rpmio/rpmver.c``), rpm 4.18: a side without sense bits or without a version always
    overlaps; otherwise epochs (missing = 0), versions and, when both have one, releases
    are compared with ``rpmvercmp``; when exactly one side has a release and the *other*
    side includes ``=``, the ranges overlap.

    :param provide_flags: sense bits of the provide (:data:`LESS`, :data:`GREATER`,
        :data:`EQUAL`; 0 for an unversioned provide).
    :param provide: the provide's ``(epoch, version, release)``, ``None`` for absent parts.
    :param require_flags: sense bits of the requirement.
    :param require: the requirement's ``(epoch, version, release)``.
    :returns: ``True`` when some EVR lies in both ranges.
    """
    if not (provide_flags & _SENSE_MASK and require_flags & _SENSE_MASK):
        return True
    pe, pv, pr = provide
    re_, rv, rr = require
    if not pv or not rv:
        return True
    sense = (_epoch(pe) > _epoch(re_)) - (_epoch(pe) < _epoch(re_))
    if sense == 0:
        sense = _rpm_cmp(pv, rv)
        if sense == 0:
            if pr and rr:
                sense = _rpm_cmp(pr, rr)
            elif (pr and require_flags & EQUAL) or (rr and provide_flags & EQUAL):
                return True
    if sense < 0:
        return bool(provide_flags & GREATER or require_flags & LESS)
    if sense > 0:
        return bool(provide_flags & LESS or require_flags & GREATER)
    return bool(provide_flags & require_flags & _SENSE_MASK)


def _deb_holds(cmp: int, op: str) -> bool:
    if op == "<<":
        return cmp < 0
    if op in ("<=", "<"):
        return cmp <= 0
    if op == "=":
        return cmp == 0
    if op in (">=", ">"):
        return cmp >= 0
    if op == ">>":
        return cmp > 0
    return False


def deb_relation_satisfied(version: str | None, op: str | None, wanted: str | None) -> bool:
    """Whether a package version (or a Provides entry) satisfies a Debian relation.

    Source of the rule: Debian Policy 7.1 (relations) and 7.5 (a ``Provides`` entry
    without a version satisfies only unversioned relations; a versioned one is compared
    like a package version), dpkg's ``deppossi`` evaluation.

    :param version: the package's version, or the Provides entry's version (``None`` for an
        unversioned Provides).
    :param op: ``<<``, ``<=``, ``=``, ``>=``, ``>>`` (``<``/``>``: obsolete ``<=``/``>=``),
        or ``None`` for an unversioned relation.
    :param wanted: the relation's version.
    :returns: whether the relation holds; invalid versions never satisfy.
    """
    if op is None or wanted is None:
        return True
    if version is None:
        return False
    try:
        have, want = _deb_key(version), _deb_key(wanted)
    except InvalidVersionError:
        return False
    return _deb_holds((have > want) - (have < want), op)


def _deb_record_holds(record: PackageRecord, op: str, wanted: str) -> bool:
    try:
        want = _deb_key(wanted)
    except InvalidVersionError:
        return False
    have = deb_record_key(record)
    return _deb_holds((have > want) - (have < want), op)


@functools.lru_cache(maxsize=65536)
def _deb_key(text: str) -> DebVersionKey:
    return deb_version_key(text)


# --- the resolver -------------------------------------------------------------------------


def _rpm_atom(entry: Sequence[Any]) -> DepAtom:
    name, flags, epoch, ver, rel = entry[0], entry[1], entry[2], entry[3], entry[4]
    return DepAtom(str(name), RPM_FLAGS.get(flags or "", 0), (epoch, ver, rel))


def _rpm_text(atom: DepAtom) -> str:
    if not atom.op:
        return atom.name
    epoch, ver, rel = atom.evr
    evr = f"{epoch}:" if epoch and epoch != "0" else ""
    evr += ver or ""
    if rel:
        evr += f"-{rel}"
    return f"{atom.name} {_RPM_OP_TEXT.get(atom.op, '?')} {evr}"


def _deb_rel_text(rel: Mapping[str, Any]) -> str:
    text = str(rel.get("name", ""))
    if rel.get("archqual"):
        text += f":{rel['archqual']}"
    version = rel.get("version")
    if version:
        text += f" ({version[0]} {version[1]})"
    return text


def _deb_applies(rel: Mapping[str, Any], arch: str) -> bool:
    """Architecture restrictions ``[amd64 !i386]`` (Policy 7.1) against the depending
    package's architecture; arch-independent packages take every relation."""
    arches = rel.get("arch")
    if not arches or arch in INDEPENDENT_ARCHES:
        return True
    positive = [a for enabled, a in arches if enabled]
    negative = [a for enabled, a in arches if not enabled]
    if positive:
        return arch in positive
    return arch not in negative


_RPM_SYSTEM_PREFIXES: Final = ("rpmlib(",)

#: The tie-break order of records outside the universe (seeds, available): after it.
_LATE: Final = 1 << 62

#: Provider list entries: ``(record index, provided version, is the package's own name)``.
_Provider = tuple[int, Any, bool]


class _Resolver:
    """State of one closure computation."""

    def __init__(self, kind: Kind, version_key: Callable[[PackageRecord], Any],
                 include_recommends: bool, arches: Sequence[str] | None,
                 exclude_arches: Collection[str]) -> None:
        self.kind = kind
        self.version_key = version_key
        self.include_recommends = include_recommends
        self.arch_rank = ({a: i for i, a in enumerate(arches)} if arches is not None
                          else None)
        self.exclude_arches = frozenset(exclude_arches)
        self.records: list[PackageRecord] = []
        self.eligible: list[bool] = []
        self.by_key: dict[str, int] = {}
        self.providers: dict[str, list[_Provider]] = {}
        self.files: dict[str, list[int]] | None = None
        self.present: set[int] = set()
        self.members: list[int] = []
        self.queue: deque[int] = deque()
        self.added: dict[str, ClosureReason] = {}
        self.unsatisfied: list[tuple[str, str]] = []
        self.conditionals: list[tuple[int, DepCond, str, bool]] = []
        self.match_cache: dict[DepAtom, tuple[int, ...]] = {}
        self.satisfied_atoms: set[DepAtom] = set()
        self.vkeys: dict[int, Any] = {}
        self.rich_cache: dict[str, DepNode | None] = {}
        #: tie-break order of each record (its universe position; later for the others)
        self.order: list[int] = []
        #: the lazy parts of the universe, with the position of their first record
        self.lazy: list[tuple[int, LazyRecords]] = []
        #: dependency names whose providers the lazy parts were asked for
        self.loaded: set[str] = set()
        self.files_indexed = 0

    # -- index -----------------------------------------------------------------------

    def arch_allowed(self, arch: str) -> bool:
        if arch in self.exclude_arches:
            return False
        if arch in INDEPENDENT_ARCHES or self.arch_rank is None:
            return True
        return arch in self.arch_rank

    def index(self, record: PackageRecord, *, eligible: bool, order: int | None = None) -> int:
        """Index ``record`` (once per key) and return its number; ``order`` is its
        universe position (ties between candidates go to the lowest)."""
        key = record_key(record)
        known = self.by_key.get(key)
        if known is not None:
            if eligible and not self.eligible[known]:
                self.eligible[known] = (not self.records[known].is_source
                                        and self.arch_allowed(self.records[known].arch))
            if order is not None and order < self.order[known]:
                self.order[known] = order
            return known
        i = len(self.records)
        self.records.append(record)
        self.order.append(order if order is not None else _LATE + i)
        self.by_key[key] = i
        self.eligible.append(eligible and not record.is_source
                             and self.arch_allowed(record.arch))
        if record.is_source:
            return i
        providers = self.providers
        if self.kind == "rpm":
            own: Any = (EQUAL, (str(record.epoch), record.version, record.release or None))
            providers.setdefault(record.name, []).append((i, own, True))
            for entry in record.metadata.get("provides") or ():
                atom = _rpm_atom(entry)
                providers.setdefault(atom.name, []).append((i, (atom.op, atom.evr), False))
        else:
            providers.setdefault(record.name, []).append((i, record, True))
            for group in record.metadata.get("provides") or ():
                for rel in group:
                    version = rel.get("version")
                    providers.setdefault(rel["name"], []).append(
                        (i, version[1] if version else None, False))
        return i

    def file_index(self) -> dict[str, list[int]]:
        """File path -> records listing it, over the records indexed so far (extended
        when more were indexed since the last call: lazy universes grow)."""
        if self.files is None:
            self.files = {}
        if self.files_indexed < len(self.records):
            files = self.files
            for i in range(self.files_indexed, len(self.records)):
                record = self.records[i]
                if record.is_source:
                    continue
                for path in record.metadata.get("files") or ():
                    files.setdefault(path, []).append(i)
            self.files_indexed = len(self.records)
        return self.files

    def load(self, name: str) -> None:
        """Index every record of the lazy parts that may satisfy a dependency on
        ``name`` (once per name), so that :attr:`providers` is complete for it."""
        if not self.lazy or name in self.loaded:
            return
        self.loaded.add(name)
        for offset, part in self.lazy:
            for position, record in part.providing(name):
                self.index(record, eligible=True, order=offset + position)

    # -- dependencies ------------------------------------------------------------------

    def dependencies(self, i: int) -> list[tuple[DepNode | None, str, bool]]:
        """The dependencies of record ``i`` as ``(tree or None if unparsable, text, weak)``;
        ``weak`` for ``Recommends``."""
        record = self.records[i]
        if record.is_source:
            return []
        meta = record.metadata
        out: list[tuple[DepNode | None, str, bool]] = []
        if self.kind == "rpm":
            for kind in ("requires", "recommends"):
                if kind == "recommends" and not self.include_recommends:
                    continue
                for entry in meta.get(kind) or ():
                    name = str(entry[0])
                    if name.startswith(_RPM_SYSTEM_PREFIXES):
                        continue
                    if name.startswith("("):
                        out.append((self.rich(name), name, kind == "recommends"))
                    else:
                        atom = _rpm_atom(entry)
                        out.append((atom, _rpm_text(atom), kind == "recommends"))
            return out
        for kind in ("pre_depends", "depends", "recommends"):
            if kind == "recommends" and not self.include_recommends:
                continue
            for group in meta.get(kind) or ():
                alternatives = [rel for rel in group if _deb_applies(rel, record.arch)]
                if not alternatives:
                    continue
                atoms = tuple(
                    DepAtom(str(rel["name"]), *(rel["version"] if rel.get("version")
                                              else (None, None)))
                    for rel in alternatives)
                text = " | ".join(_deb_rel_text(rel) for rel in alternatives)
                node: DepNode = atoms[0] if len(atoms) == 1 else DepOp("or", atoms)
                out.append((node, text, kind == "recommends"))
        return out

    def rich(self, text: str) -> DepNode | None:
        if text not in self.rich_cache:
            try:
                self.rich_cache[text] = parse_rich_dependency(text)
            except RichDependencyError:
                self.rich_cache[text] = None
        return self.rich_cache[text]

    # -- matching ------------------------------------------------------------------------

    def match(self, atom: DepAtom) -> tuple[int, ...]:
        """Indices of the records that satisfy ``atom`` (present or not)."""
        cached = self.match_cache.get(atom)
        if cached is not None:
            return cached
        self.load(atom.name)
        found: dict[int, None] = {}
        if self.kind == "rpm":
            for i, (flags, evr), _own in self.providers.get(atom.name, ()):
                if rpm_ranges_overlap(flags, evr, atom.op, atom.evr):
                    found[i] = None
            if atom.name.startswith("/"):
                for i in self.file_index().get(atom.name, ()):
                    found[i] = None
        else:
            for i, version, own in self.providers.get(atom.name, ()):
                if atom.op is None or atom.evr is None:
                    found[i] = None
                elif own:
                    if _deb_record_holds(version, atom.op, atom.evr):
                        found[i] = None
                elif deb_relation_satisfied(version, atom.op, atom.evr):
                    found[i] = None
        result = tuple(found)
        self.match_cache[atom] = result
        return result

    def single(self, node: DepNode) -> set[int]:
        """Records that satisfy ``node`` on their own (``with``/``without`` semantics)."""
        if isinstance(node, DepAtom):
            return set(self.match(node))
        if isinstance(node, DepCond):
            return self.single(node.then)
        sets = [self.single(item) for item in node.items]
        if node.op == "or":
            return set().union(*sets)
        if node.op == "without":
            return sets[0].difference(*sets[1:])
        return sets[0].intersection(*sets[1:])

    def holds(self, node: DepNode) -> bool:
        """Whether the present set satisfies ``node``."""
        if isinstance(node, DepAtom):
            if node in self.satisfied_atoms:
                return True
            present = self.present
            if any(i in present for i in self.match(node)):
                self.satisfied_atoms.add(node)
                return True
            return False
        if isinstance(node, DepCond):
            branch = self.branch(node)
            return branch is None or self.holds(branch)
        if node.op == "and":
            return all(self.holds(item) for item in node.items)
        if node.op == "or":
            return any(self.holds(item) for item in node.items)
        return not self.present.isdisjoint(self.single(node))

    def branch(self, node: DepCond) -> DepNode | None:
        """The part of a conditional required now (``None``: nothing is)."""
        cond = self.holds(node.cond)
        if (node.op == "if") == cond:
            return node.then
        return node.otherwise

    def possible(self, node: DepNode) -> bool:
        """Whether ``node`` can be satisfied with present or eligible records."""
        if isinstance(node, DepCond):
            branch = self.branch(node)
            return branch is None or self.possible(branch)
        if isinstance(node, DepOp) and node.op in ("and", "or"):
            test = all if node.op == "and" else any
            return test(self.possible(item) for item in node.items)
        candidates = self.match(node) if isinstance(node, DepAtom) else self.single(node)
        return any(self.eligible[i] or i in self.present for i in candidates)

    def best(self, candidates: Iterable[int], requirer: PackageRecord) -> int | None:
        best_i: int | None = None
        best_key: Any = None
        rank = self.arch_rank
        for i in candidates:
            if not self.eligible[i]:
                continue
            record = self.records[i]
            native = record.arch == requirer.arch or record.arch in INDEPENDENT_ARCHES
            order = 0 if rank is None or record.arch in INDEPENDENT_ARCHES else -rank.get(
                record.arch, len(rank))
            vkey = self.vkeys.get(i)
            if vkey is None:
                vkey = self.vkeys[i] = self.version_key(record)
            key = (native, order, vkey, -self.order[i])
            if best_key is None or key > best_key:
                best_i, best_key = i, key
        return best_i

    # -- resolving -------------------------------------------------------------------------

    def add(self, i: int, reason: ClosureReason) -> None:
        if i in self.present:
            return
        self.present.add(i)
        self.members.append(i)
        self.queue.append(i)
        self.added[record_key(self.records[i])] = reason

    def resolve(self, node: DepNode, requirer: int, text: str, weak: bool = False) -> bool:
        """Make ``node`` hold, adding packages; ``False`` when it cannot."""
        if self.holds(node):
            return True
        record = self.records[requirer]
        if isinstance(node, DepCond):
            branch = self.branch(node)
            return branch is None or self.resolve(branch, requirer, text, weak)
        if isinstance(node, DepOp) and node.op == "and":
            results = [self.resolve(item, requirer, text, weak) for item in node.items]
            return all(results)
        if isinstance(node, DepOp) and node.op == "or":
            for item in node.items:
                if self.possible(item):
                    return self.resolve(item, requirer, text, weak)
            return False
        candidates = self.match(node) if isinstance(node, DepAtom) else self.single(node)
        chosen = self.best(candidates, record)
        if chosen is None:
            return False
        self.add(chosen, ClosureReason(record.nevra, text, weak))
        return True

    def drain(self) -> None:
        while self.queue:
            i = self.queue.popleft()
            nevra = self.records[i].nevra
            for node, text, weak in self.dependencies(i):
                # a weak dependency that cannot be met is dropped, as dnf and apt do
                if node is None:
                    if not weak:
                        self.unsatisfied.append((nevra,
                                                 f"{text} (not a valid rich dependency)"))
                elif isinstance(node, DepCond):
                    self.conditionals.append((i, node, text, weak))
                elif not self.resolve(node, i, text, weak) and not weak:
                    self.unsatisfied.append((nevra, text))

    def settle_conditionals(self) -> None:
        """Decide the top-level conditionals, then drain again, until nothing changes."""
        attempted: set[tuple[int, bool]] = set()
        while True:
            self.drain()
            progressed = False
            for positive in (True, False):
                for n, (i, node, text, weak) in enumerate(self.conditionals):
                    if self.holds(node):
                        continue
                    cond = self.holds(node.cond)
                    if cond != positive:
                        continue
                    branch = self.branch(node)
                    key = (n, branch is node.then)
                    if branch is None or key in attempted:
                        continue
                    attempted.add(key)
                    progressed = True
                    self.resolve(branch, i, text, weak)
                if self.queue:
                    break
            if not progressed and not self.queue:
                break
        for i, node, text, weak in self.conditionals:
            if not weak and not self.holds(node):
                self.unsatisfied.append((self.records[i].nevra, text))


def closure(
    seed: Iterable[PackageRecord],
    universe: Iterable[PackageRecord],
    *,
    kind: Kind,
    version_key: Callable[[PackageRecord], Any],
    include_recommends: bool = False,
    arches: Sequence[str] | None = None,
    exclude_arches: Collection[str] = (),
    available: Iterable[PackageRecord] = (),
) -> ClosureResult:
    """The seed plus every package of the universe it needs, recursively.

    See the module docstring for how dependencies are matched and candidates chosen.
    Dependencies are read from ``PackageRecord.metadata``: RPM ``requires``/``provides``
    (``[name, flags, epoch, ver, rel, pre]`` lists), ``files`` and, with
    ``include_recommends``, ``recommends`` when the parser stored it; Debian
    ``pre_depends``/``depends``/``provides`` (and ``recommends``), as lists of alternative
    groups of ``{"name", "version": [op, version] | None, "arch", ...}`` relations.

    :param seed: the selected packages (always in the result).
    :param universe: the packages dependencies may be taken from (e.g. every package
        upstream lists). Seed records need not be part of it. A
        :class:`~chantal_core.records.LazyRecords` (or a
        :class:`~chantal_core.records.ChainedRecords` with such parts) is not iterated:
        it is asked for the providers of each dependency name met, so only those records
        are built; the result is the same as with the list of all its records.
    :param kind: ``"rpm"`` or ``"deb"``: how dependencies are read and compared.
    :param version_key: the format's version ordering (``rpm_record_key``,
        ``deb_record_key``): among candidates the highest wins.
    :param include_recommends: also follow weak dependencies (RPM ``Recommends``, Debian
        ``Recommends``).
    :param arches: architectures candidates may have (``noarch``/``all`` always pass);
        earlier ones are preferred; ``None`` allows every architecture.
    :param exclude_arches: architectures candidates must not have.
    :param available: packages present elsewhere (e.g. in the other repositories of a
        view): dependencies they satisfy add nothing; they are never added.
    :returns: the closure; unsatisfiable dependencies are listed, not raised.
    :raises ValueError: ``kind`` is neither ``"rpm"`` nor ``"deb"``.

    The cyclic garbage collector is paused while it runs (see
    :func:`~chantal_core.memory.gc_paused`): the index allocates a few objects per
    package, and collections walking a 60,000-package universe would otherwise take most
    of the time.
    """
    if kind not in ("rpm", "deb"):
        raise ValueError(f"dependency closure supports kinds 'rpm' and 'deb', not {kind!r}")
    resolver = _Resolver(kind, version_key, include_recommends, arches, exclude_arches)
    parts = universe.parts if isinstance(universe, ChainedRecords) else (universe,)
    with gc_paused():
        position = 0
        for part in parts:
            if isinstance(part, LazyRecords):
                # asked for the providers of each dependency name when first met
                resolver.lazy.append((position, part))
                position += len(part)
                continue
            for record in part:
                resolver.index(record, eligible=True, order=position)
                position += 1
        seeds: list[int] = []
        for record in seed:
            i = resolver.index(record, eligible=False)
            if i not in resolver.present:
                resolver.present.add(i)
                seeds.append(i)
        for record in available:
            i = resolver.index(record, eligible=False)
            resolver.present.add(i)
        resolver.members = list(seeds)
        resolver.queue.extend(seeds)
        resolver.settle_conditionals()
    return ClosureResult(
        packages=tuple(resolver.records[i] for i in resolver.members),
        added=MappingProxyType(dict(resolver.added)),
        unsatisfied=tuple(dict.fromkeys(resolver.unsatisfied)),
    )


def _format_kind(package_format: str) -> Kind:
    if package_format == "rpm":
        return "rpm"
    if package_format == "deb":
        return "deb"
    raise ValueError(f"dependency closure is not available for package format "
                     f"{package_format!r} (only rpm and deb)")


@attrs.frozen(kw_only=True)
class ClosurePartners:
    """The other repositories of a view that close their dependencies together with this
    one (``closure_scope: views`` on each), as read from their upstreams at sync time.

    :ivar seed: their filtered selections (what their own filters keep).
    :ivar universe: every record their upstreams list (candidates for the closure).
    """

    seed: tuple[PackageRecord, ...] = attrs.field(converter=tuple, default=())
    universe: tuple[PackageRecord, ...] = attrs.field(converter=tuple, default=())


def closure_selector(
    package_format: str,
    *,
    version_key: Callable[[PackageRecord], Any],
    include_recommends: bool = False,
    arches: Sequence[str] | None = None,
    exclude_arches: Collection[str] = (),
    available: Callable[[], Iterable[PackageRecord]] | Iterable[PackageRecord] = (),
    partners: Callable[[], ClosurePartners] | None = None,
) -> Callable[[Sequence[PackageRecord], Sequence[PackageRecord]], ExplainedSelection]:
    """A :attr:`~chantal_core.sync.SyncSettings.select_extra` step computing the closure
    of the filtered records within all of upstream's records.

    With ``partners``, the closure is the joint one of a view: the seed is this
    repository's filtered records plus the partners' selections, the universe this
    upstream plus theirs. This repository keeps its own filtered records and the added
    packages that its own upstream lists (the others take theirs when they sync, computing
    the same joint closure), so that a package needed by one member is pulled into the
    member whose upstream has it and stays there. Unsatisfied dependencies are those of
    the records this repository keeps.

    :param package_format: :attr:`PackageRecord.format` of the repository (``rpm``, ``deb``).
    :param available: records present elsewhere (see :func:`closure`), or a callable
        returning them, called once per sync when the selection runs.
    :param partners: the joint-closure partners, or a callable returning them (called
        once per sync, when the selection runs), or ``None``.
    :returns: ``select(filtered, upstream) -> ExplainedSelection`` with the reasons of the
        added packages and the unsatisfied dependencies.
    :raises ValueError: another package format.
    """
    kind = _format_kind(package_format)

    def select(filtered: Sequence[PackageRecord],
               upstream: Sequence[PackageRecord]) -> ExplainedSelection:
        extra = available() if callable(available) else available
        if partners is None:
            return closure(filtered, upstream, kind=kind, version_key=version_key,
                           include_recommends=include_recommends, arches=arches,
                           exclude_arches=exclude_arches, available=extra).explained()
        joint = partners()
        universe: Sequence[PackageRecord] = (
            ChainedRecords(upstream, joint.universe) if is_lazy(upstream)
            else [*upstream, *joint.universe])
        result = closure([*filtered, *joint.seed], universe, kind=kind,
                         version_key=version_key, include_recommends=include_recommends,
                         arches=arches, exclude_arches=exclude_arches, available=extra)
        return _own_share(result, filtered, upstream, joint)

    return select


def _own_share(result: ClosureResult, filtered: Sequence[PackageRecord],
               upstream: Sequence[PackageRecord], joint: ClosurePartners
               ) -> ExplainedSelection:
    """The part of a joint closure one member keeps (see :func:`closure_selector`)."""
    own = (upstream.keys() if isinstance(upstream, LazyRecords)
           else {record_key(r) for r in upstream})
    mine = {record_key(r) for r in filtered}
    theirs = {record_key(r) for r in joint.seed}
    kept = [r for r in result.packages
            if (key := record_key(r)) in mine or (key in own and key in result.added
                                                   and key not in theirs)]
    keys = {record_key(r) for r in kept}
    nevras = {r.nevra for r in kept}
    return ExplainedSelection(
        records=kept,
        reasons={k: str(reason) for k, reason in result.added.items() if k in keys},
        unsatisfied=[(n, dep) for n, dep in result.unsatisfied if n in nevras])
