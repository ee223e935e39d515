"""Shared hypothesis strategies: version strings, EVR/NEVRA and Debian versions, records.

Small alphabets on purpose: collisions (equal segments, equal versions, shared
``(name, arch)``) are where ordering bugs hide.
"""

from __future__ import annotations

import attrs
from hypothesis import strategies as st

from chantal_core.model import DEB, RPM, PackageRecord
from chantal_core.versions.deb import DebianVersion
from chantal_core.versions.rpm import Evr, Nevra

# --- RPM --------------------------------------------------------------------------------

_rpm_numbers = st.text("00129", min_size=1, max_size=4)
_rpm_letters = st.text("abzAZ", min_size=1, max_size=3)


def rpm_segment_strings(separators: str = "._+~^") -> st.SearchStrategy[str]:
    """Version strings built from digit runs, letter runs and separators/``~``/``^``.

    :param separators: the non-alphanumeric characters to use (rpmbuild allows
        ``._+%{}~^``).
    """
    piece = st.one_of(_rpm_numbers, _rpm_letters, st.sampled_from(list(separators)))
    return st.lists(piece, min_size=1, max_size=8).map("".join)


#: Strings rpmbuild accepts as Version/Release (what :class:`Evr` accepts).
rpm_verrel = rpm_segment_strings("._+~^%{}")

#: Arbitrary rpmvercmp input without ``:`` and ``-`` (so rpm's Lua ``vercmp`` compares the
#: whole string with ``rpmvercmp``), including non-ASCII and punctuation.
rpm_any_strings = st.one_of(
    rpm_segment_strings(),
    st.text(
        st.characters(min_codepoint=1, max_codepoint=0x3FF, exclude_characters=":-"),
        min_size=1,
        max_size=8,
    ),
    st.text("0a~^._é中", min_size=1, max_size=6),
)

rpm_epochs = st.one_of(st.just(0), st.integers(0, 3), st.integers(0, 2**32 - 1))


@st.composite
def evrs(draw: st.DrawFn, *, with_release: bool | None = None) -> Evr:
    """:class:`Evr` values; ``with_release`` forces (True) or forbids (False) a release."""
    release = ""
    if with_release or (with_release is None and draw(st.booleans())):
        release = draw(rpm_verrel)
    return Evr(draw(rpm_epochs), draw(rpm_verrel), release)


rpm_names = st.from_regex(r"[a-z0-9][a-z0-9_+.-]{0,8}", fullmatch=True)
rpm_arches = st.sampled_from(["x86_64", "noarch", "i686", "aarch64", "src"])


@st.composite
def nevras(draw: st.DrawFn) -> Nevra:
    """:class:`Nevra` values."""
    evr = draw(evrs(with_release=True))
    return Nevra(draw(rpm_names), evr.epoch, evr.version, evr.release, draw(rpm_arches))


# --- Debian ---------------------------------------------------------------------------

_deb_number = st.text("0129", min_size=1, max_size=3)
_deb_upstream_tail = st.lists(
    st.one_of(_deb_number, st.text("abzAZ", min_size=1, max_size=2), st.sampled_from(".+~")),
    max_size=6,
).map("".join)
deb_revisions = st.lists(
    st.one_of(_deb_number, st.text("abuZ", min_size=1, max_size=3), st.sampled_from(".+~")),
    min_size=1,
    max_size=5,
).map("".join)


@st.composite
def deb_versions(draw: st.DrawFn) -> DebianVersion:
    """Policy-conforming :class:`DebianVersion` values (including ``-`` and ``:`` in the
    upstream version where Policy allows them)."""
    epoch = draw(st.one_of(st.just(0), st.integers(0, 3), st.integers(0, 2**31 - 1)))
    upstream = draw(_deb_number) + draw(_deb_upstream_tail)
    revision = draw(st.one_of(st.just(""), deb_revisions))
    if revision and draw(st.booleans()):
        upstream += "-" + draw(_deb_number)
    if draw(st.integers(0, 9)) == 0:
        upstream += ":" + draw(_deb_number)
    return DebianVersion(epoch, upstream, revision)


#: Version strings dpkg compares (perhaps with a warning): Policy versions, plus
#: upstream versions not starting with a digit and characters outside Policy's sets.
deb_version_strings = st.one_of(
    deb_versions().map(str),
    st.tuples(
        st.text("0a~+.Z_é", min_size=1, max_size=6).filter(lambda s: not s.startswith("-")),
        st.one_of(st.just(""), st.text("1b~.", min_size=1, max_size=3)),
    ).map(lambda t: f"{t[0]}-{t[1]}" if t[1] else t[0]),
)


# --- package records ------------------------------------------------------------------

_licenses = st.sampled_from([None, "", "GPL", "GPLv2", "MIT", "Apache", "Proprietary"])
_groups = st.sampled_from([None, "Applications/Internet", "Development/Libraries", "admin"])
_vendors = st.sampled_from([None, "nginx, Inc.", "Third Party"])
_components = st.sampled_from([None, "main", "contrib", "non-free"])
_priorities = st.sampled_from([None, "required", "optional", "extra"])


@st.composite
def rpm_records(draw: st.DrawFn, sha256: str = "0" * 64) -> PackageRecord:
    """An RPM :class:`PackageRecord` from a small pool of names and arches."""
    evr = draw(evrs(with_release=True))
    name = draw(st.sampled_from(["htop", "nginx", "nginx-debuginfo", "kernel-devel"]))
    arch = draw(st.sampled_from(["x86_64", "noarch", "src"]))
    return PackageRecord(
        format=RPM, name=name, epoch=evr.epoch % 3, version=evr.version,
        release=evr.release, arch=arch, sha256=sha256,
        size=draw(st.integers(0, 10_000)),
        filename=f"{name}-{evr.version}-{evr.release}.{arch}.rpm",
        location=f"Packages/{name}-{evr.version}-{evr.release}.{arch}.rpm",
        build_time=draw(st.one_of(st.none(), st.integers(0, 2_000_000_000))),
        license=draw(_licenses), group=draw(_groups), vendor=draw(_vendors),
    )


@st.composite
def deb_records(draw: st.DrawFn, sha256: str = "0" * 64) -> PackageRecord:
    """A Debian :class:`PackageRecord` from a small pool of names and arches."""
    # No colon in the upstream part: PackageRecord.evr omits a zero epoch, which would make
    # "0:1:2" read back as epoch 1.
    version = draw(deb_versions().filter(lambda v: ":" not in v.upstream))
    name = draw(st.sampled_from(["curl", "libc6", "nginx"]))
    arch = draw(st.sampled_from(["amd64", "all", "source"]))
    return PackageRecord(
        format=DEB, name=name, epoch=version.epoch % 3, version=version.upstream,
        release=version.revision, arch=arch, sha256=sha256,
        size=draw(st.integers(0, 10_000)),
        filename=f"{name}_{version}_{arch}.deb",
        location=f"pool/main/{name[0]}/{name}/{name}_{version}_{arch}.deb",
        build_time=None, group=draw(st.sampled_from([None, "admin", "libs", "games"])),
        component=draw(_components), priority=draw(_priorities),
    )


@st.composite
def record_lists(
    draw: st.DrawFn, records: st.SearchStrategy[PackageRecord] | None = None, max_size: int = 30
) -> list[PackageRecord]:
    """Lists of records with distinct SHA256 keys (default: RPM records)."""
    base = draw(st.lists(records if records is not None else rpm_records(), max_size=max_size))
    return [attrs.evolve(r, sha256=f"{i:064x}") for i, r in enumerate(base)]
