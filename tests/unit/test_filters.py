"""Package filters: every dimension by example, the anchor configs, and laws."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import deb_records, record_lists

from chantal_core.errors import FilterError
from chantal_core.filters import (
    IncludeExclude,
    PackageFilter,
    apply_filter,
    compile_filter,
    latest_versions,
)
from chantal_core.model import PackageRecord
from chantal_core.versions.deb import deb_record_key
from chantal_core.versions.rpm import rpm_record_key

_serial = itertools.count()
DAY = 86400
NOW = 1_750_000_000.0  # a fixed "now" (2025-06-15), seconds since the epoch


def rpm(name: str, version: str = "1.0", release: str = "1", arch: str = "x86_64",
        **fields: Any) -> PackageRecord:
    """An RPM record with a unique SHA256."""
    return PackageRecord(
        format="rpm", name=name, version=version, release=release, arch=arch,
        sha256=f"{next(_serial):064x}", size=fields.pop("size", 5000),
        filename=f"{name}-{version}-{release}.{arch}.rpm",
        location=f"Packages/{name}-{version}-{release}.{arch}.rpm", **fields,
    )


def deb(name: str, version: str = "1.0", release: str = "1", arch: str = "amd64",
        **fields: Any) -> PackageRecord:
    """A Debian record with a unique SHA256."""
    return PackageRecord(
        format="deb", name=name, version=version, release=release, arch=arch,
        sha256=f"{next(_serial):064x}", size=fields.pop("size", 5000),
        filename=f"{name}_{version}-{release}_{arch}.deb",
        location=f"pool/main/{name[0]}/{name}/{name}_{version}-{release}_{arch}.deb", **fields,
    )


def run(records: list[PackageRecord], flt: PackageFilter, *,
        key: Callable[[PackageRecord], Any] = rpm_record_key) -> list[str]:
    """The NEVRAs kept, in order."""
    return [r.nevra for r in apply_filter(records, flt, version_key=key, now=NOW)]


def ie(include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> IncludeExclude:
    return IncludeExclude(include, exclude)


# --- each dimension -----------------------------------------------------------------


def test_empty_filter_keeps_everything_in_order() -> None:
    """PackageFilter() is the identity."""
    records = [rpm("b"), rpm("a"), rpm("a", "2.0")]
    assert apply_filter(records, PackageFilter(), version_key=rpm_record_key) == records


def test_patterns_search_name_and_nevra() -> None:
    """Include matches by re.search on the name or on the NEVRA (Chantal 1.6)."""
    records = [rpm("nginx"), rpm("nginx-module-njs"), rpm("libnginx"), rpm("curl", "8.0"),
               rpm("foo", "2.0", epoch=1)]
    assert run(records, PackageFilter(patterns=ie(("^nginx$",)))) == ["nginx-1.0-1.x86_64"]
    # re.search, not re.match: "nginx" is found inside "libnginx"
    assert len(run(records, PackageFilter(patterns=ie(("nginx",))))) == 3
    # NEVRA subjects: version, arch and the epoch (shown when non-zero) are searchable
    assert run(records, PackageFilter(patterns=ie((r"-8\.0-",)))) == ["curl-8.0-1.x86_64"]
    assert run(records, PackageFilter(patterns=ie((r"-1:2\.0-",)))) == ["foo-1:2.0-1.x86_64"]


def test_pattern_include_kernel_dash_matches_kernel_itself_via_nevra() -> None:
    """1.6 docs: include "^kernel-.*" keeps kernel-5.14... (its NEVRA matches)."""
    records = [rpm("kernel", "5.14.0", "360.el9"), rpm("kernel-debuginfo", "5.14.0", "360.el9")]
    flt = PackageFilter(patterns=ie(("^kernel-.*",), (".*-debuginfo$",)))
    assert run(records, flt) == ["kernel-5.14.0-360.el9.x86_64"]


def test_pattern_exclude_drops_when_either_subject_matches() -> None:
    """Exclude drops a record whose name or NEVRA matches any pattern."""
    records = [rpm("htop"), rpm("htop-debuginfo"), rpm("vim", "9.0", "1.el9_debug")]
    flt = PackageFilter(patterns=ie(exclude=("-debuginfo$", r"_debug\.")))
    assert run(records, flt) == ["htop-1.0-1.x86_64"]
    assert run(records, PackageFilter(patterns=ie(exclude=("_debug",)))) == [
        "htop-1.0-1.x86_64", "htop-debuginfo-1.0-1.x86_64"]


def test_patterns_on_debian_records_use_the_deb_nevra() -> None:
    """Debian NEVRA is name_version_arch; patterns search it as well."""
    records = [deb("curl", arch="amd64"), deb("curl", arch="arm64"), deb("libc6")]
    assert run(records, PackageFilter(patterns=ie(("_amd64$",))), key=deb_record_key) == [
        "curl_1.0-1_amd64", "libc6_1.0-1_amd64"]


def test_architectures_exact() -> None:
    """Architectures match exactly; Debian "all" is just another name."""
    records = [rpm("a", arch="x86_64"), rpm("a", arch="x86_64_v2"), rpm("a", arch="noarch"),
               deb("b", arch="all")]
    assert run(records, PackageFilter(architectures=ie(("x86_64", "all")))) == [
        "a-1.0-1.x86_64", "b_1.0-1_all"]
    assert run(records, PackageFilter(architectures=ie(exclude=("noarch",)))) == [
        "a-1.0-1.x86_64", "a-1.0-1.x86_64_v2", "b_1.0-1_all"]


def test_exclude_source() -> None:
    """exclude_source drops src, nosrc and Debian source records only."""
    records = [rpm("a"), rpm("a", arch="src"), rpm("a", arch="nosrc"),
               deb("b", arch="source"), deb("b")]
    assert run(records, PackageFilter(exclude_source=True)) == [
        "a-1.0-1.x86_64", "b_1.0-1_amd64"]


def test_groups_licenses_vendors_exact_and_missing_passes() -> None:
    """RPM metadata lists match exactly; a record without the value passes (1.6 RPM)."""
    records = [
        rpm("a", group="Applications/Internet", license="GPLv2", vendor="nginx, Inc."),
        rpm("b", group="Development/Libraries", license="GPLv2+", vendor="Third Party"),
        rpm("c"),  # no group, license or vendor
        rpm("d", group="", license="", vendor=""),  # empty counts as missing
    ]
    assert run(records, PackageFilter(groups=ie(("Applications/Internet",)))) == [
        "a-1.0-1.x86_64", "c-1.0-1.x86_64", "d-1.0-1.x86_64"]
    # exact, not substring: "GPLv2+" is not "GPLv2"
    assert run(records, PackageFilter(licenses=ie(("GPL", "GPLv2")))) == [
        "a-1.0-1.x86_64", "c-1.0-1.x86_64", "d-1.0-1.x86_64"]
    assert run(records, PackageFilter(vendors=ie(exclude=("Third Party",)))) == [
        "a-1.0-1.x86_64", "c-1.0-1.x86_64", "d-1.0-1.x86_64"]


def test_epochs_as_strings() -> None:
    """Epochs are compared as decimal strings; epoch 0 is "0"."""
    records = [rpm("a"), rpm("b", epoch=1), rpm("c", epoch=10)]
    assert run(records, PackageFilter(epochs=ie(("0", "1")))) == [
        "a-1.0-1.x86_64", "b-1:1.0-1.x86_64"]
    assert run(records, PackageFilter(epochs=ie(exclude=("10",)))) == [
        "a-1.0-1.x86_64", "b-1:1.0-1.x86_64"]


def test_debian_components_priorities_sections_missing_fails_include() -> None:
    """Debian lists match exactly; a missing value fails include, passes exclude (1.6 APT)."""
    records = [
        deb("a", component="main", priority="required", group="admin"),
        deb("b", component="non-free", priority="optional", group="games"),
        deb("c"),  # nothing known
    ]
    key = deb_record_key
    assert run(records, PackageFilter(components=ie(("main", "contrib"))), key=key) == [
        "a_1.0-1_amd64"]
    assert run(records, PackageFilter(components=ie(exclude=("non-free",))), key=key) == [
        "a_1.0-1_amd64", "c_1.0-1_amd64"]
    assert run(records, PackageFilter(priorities=ie(("required",))), key=key) == [
        "a_1.0-1_amd64"]
    assert run(records, PackageFilter(priorities=ie(exclude=("optional",))), key=key) == [
        "a_1.0-1_amd64", "c_1.0-1_amd64"]
    assert run(records, PackageFilter(sections=ie(("admin", "libs"))), key=key) == [
        "a_1.0-1_amd64"]
    assert run(records, PackageFilter(sections=ie(exclude=("games",))), key=key) == [
        "a_1.0-1_amd64", "c_1.0-1_amd64"]


def test_size_bounds_are_inclusive_bytes() -> None:
    """size_min/size_max keep sizes within [min, max], bounds included."""
    records = [rpm("a", size=1023), rpm("b", size=1024), rpm("c", size=2048),
               rpm("d", size=2049)]
    assert run(records, PackageFilter(size_min=1024, size_max=2048)) == [
        "b-1.0-1.x86_64", "c-1.0-1.x86_64"]
    assert run(records, PackageFilter(size_max=1023)) == ["a-1.0-1.x86_64"]


def test_build_time_bounds_inclusive_and_missing_passes() -> None:
    """newer_than/older_than are inclusive; a record without build time passes (1.6)."""
    t = 1_704_067_200  # 2024-01-01T00:00:00Z
    records = [rpm("a", build_time=t - 1), rpm("b", build_time=t), rpm("c", build_time=t + 1),
               rpm("d")]
    assert run(records, PackageFilter(build_time_newer_than=float(t))) == [
        "b-1.0-1.x86_64", "c-1.0-1.x86_64", "d-1.0-1.x86_64"]
    assert run(records, PackageFilter(build_time_older_than=float(t))) == [
        "a-1.0-1.x86_64", "b-1.0-1.x86_64", "d-1.0-1.x86_64"]


def test_build_time_last_n_days_is_relative_to_now() -> None:
    """last_n_days keeps builds at or after now - N days; `now` is required."""
    records = [rpm("old", build_time=int(NOW - 31 * DAY)),
               rpm("edge", build_time=int(NOW - 30 * DAY)), rpm("new", build_time=int(NOW - 1))]
    flt = PackageFilter(build_time_last_n_days=30)
    assert run(records, flt) == ["edge-1.0-1.x86_64", "new-1.0-1.x86_64"]
    later = apply_filter(records, flt, version_key=rpm_record_key, now=NOW + 2 * DAY)
    assert [r.name for r in later] == ["new"]
    with pytest.raises(FilterError, match="now"):
        apply_filter(records, flt, version_key=rpm_record_key)


# --- post-processing ----------------------------------------------------------------


def test_only_latest_version_per_name_and_arch_in_rpm_order() -> None:
    """Highest EVR per (name, arch) by rpmvercmp: ~ before release, ^ after, epoch first."""
    records = [
        rpm("vim", "9.0.2120"), rpm("vim", "9.0.2190"), rpm("vim", "9.0.2153"),
        rpm("vim", "9.0.2120", arch="aarch64"),
        rpm("tool", "2.0"), rpm("tool", "2.0~rc1"), rpm("tool", "1.9^git5"),
        rpm("epochy", "9.9"), rpm("epochy", "1.0", epoch=1),
    ]
    assert run(records, PackageFilter(only_latest_version=True)) == [
        "vim-9.0.2190-1.x86_64", "vim-9.0.2120-1.aarch64", "tool-2.0-1.x86_64",
        "epochy-1:1.0-1.x86_64"]


def test_only_latest_version_in_dpkg_order() -> None:
    """With deb_record_key, ~ sorts before the release and revisions count."""
    records = [deb("curl", "8.0~rc1", "1"), deb("curl", "8.0", "1"), deb("curl", "8.0", "1~bpo1")]
    flt = PackageFilter(only_latest_version=True)
    assert run(records, flt, key=deb_record_key) == ["curl_8.0-1_amd64"]


def test_only_latest_n_versions_and_precedence() -> None:
    """N highest per (name, arch); only_latest_version wins when both are set (1.6)."""
    records = [rpm("a", v) for v in ["1.0", "3.0", "2.0", "4.0"]] + [rpm("b", "1.0")]
    assert run(records, PackageFilter(only_latest_n_versions=2)) == [
        "a-3.0-1.x86_64", "a-4.0-1.x86_64", "b-1.0-1.x86_64"]
    both = PackageFilter(only_latest_version=True, only_latest_n_versions=3)
    assert run(records, both) == ["a-4.0-1.x86_64", "b-1.0-1.x86_64"]


def test_post_processing_runs_after_the_filters() -> None:
    """The latest version *among the kept ones* survives, not the upstream latest."""
    records = [rpm("a", "1.0"), rpm("a", "2.0", "1.el9_debug")]
    flt = PackageFilter(patterns=ie(exclude=("_debug",)), only_latest_version=True)
    assert run(records, flt) == ["a-1.0-1.x86_64"]


def test_latest_versions_ties_keep_input_order() -> None:
    """Equal versions (1.0 == 1.00 under rpmvercmp): exactly n kept, earliest first."""
    first, second, third = rpm("a", "1.0"), rpm("a", "1.00"), rpm("a", "1.000")
    assert latest_versions([first, second, third], 2, rpm_record_key) == [first, second]
    with pytest.raises(FilterError):
        latest_versions([first], 0, rpm_record_key)


# --- anchor configs -----------------------------------------------------------------
# The filter sections of /work/shared/anchor-configs/filter-examples.yaml (Chantal 1.6
# configuration examples), transcribed as the PackageFilter the config loader must build.

NGINX_REPO = [
    rpm("nginx", "1.24.0", "1.el9.ngx", vendor="nginx, Inc.", license="BSD",
        group="System Environment/Daemons", size=900_000, build_time=1_700_000_000),
    rpm("nginx", "1.26.1", "2.el9.ngx", vendor="nginx, Inc.", license="BSD",
        group="System Environment/Daemons", size=950_000, build_time=1_718_000_000),
    rpm("nginx", "1.26.1", "2.el9.ngx", arch="src", vendor="nginx, Inc.", license="BSD",
        size=1_200_000, build_time=1_718_000_000),
    rpm("nginx-debuginfo", "1.26.1", "2.el9.ngx", vendor="nginx, Inc.", license="BSD",
        size=3_000_000, build_time=1_718_000_000),
    rpm("nginx-module-njs", "1.26.1+0.8.4", "1.el9.ngx", vendor="nginx, Inc.", license="BSD",
        group="System Environment/Daemons", size=600_000, build_time=1_718_100_000),
    rpm("curl", "7.76.1", "29.el9", vendor="Rocky", license="MIT", group="Applications/Internet",
        size=300_000, build_time=1_690_000_000),
    rpm("curl-devel", "7.76.1", "29.el9", license="MIT", group="Development/Libraries",
        size=100_000, build_time=1_690_000_000),
    rpm("tiny", "1", "1", arch="noarch", size=512, build_time=1_718_000_000),
    rpm("kernel-debug-devel", "5.14.0", "427.el9", license="GPLv2", size=200_000_000,
        build_time=1_746_000_000, group="Development/System"),
    rpm("bash", "5.1.8", "9.el9", license="GPLv3+", size=1_800_000, build_time=1_745_000_000,
        group="System Environment/Base"),
    rpm("httpd", "2.4.57", "5.el9", arch="i686", license="ASL 2.0", size=50_000,
        build_time=1_745_500_000),
]


def test_anchor_generic_metadata() -> None:
    """1. size 1 KiB..100 MiB, built after 2024-01-01, x86_64/noarch."""
    flt = PackageFilter(size_min=1024, size_max=104_857_600,
                        build_time_newer_than=1_704_067_200.0,
                        architectures=ie(("x86_64", "noarch")))
    assert run(NGINX_REPO, flt) == [
        "nginx-1.26.1-2.el9.ngx.x86_64", "nginx-debuginfo-1.26.1-2.el9.ngx.x86_64",
        "nginx-module-njs-1.26.1+0.8.4-1.el9.ngx.x86_64", "bash-5.1.8-9.el9.x86_64"]


def test_anchor_rpm_specific() -> None:
    """2. no source RPMs; groups, licenses, vendors, epochs include lists (exact)."""
    flt = PackageFilter(
        exclude_source=True,
        groups=ie(("Applications/Internet", "System Environment/Base")),
        licenses=ie(("GPL", "GPLv2", "MIT", "Apache")),
        vendors=ie(("nginx, Inc.",)),
        epochs=ie(("0", "1")),
    )
    # licenses are exact (BSD, GPLv3+, ASL 2.0 fail); curl fails the vendor list; "tiny"
    # has no license, group or vendor, and a missing value passes these RPM lists (1.6)
    assert run(NGINX_REPO, flt) == ["tiny-1-1.noarch"]
    assert run(NGINX_REPO, attrs.evolve(flt, vendors=IncludeExclude())) == [
        "curl-7.76.1-29.el9.x86_64", "tiny-1-1.noarch"]


def test_anchor_deb_specific() -> None:
    """3. components include main/contrib minus non-free; priorities; sections."""
    records = [
        deb("base-files", component="main", priority="required", group="admin"),
        deb("gcc", component="main", priority="optional", group="devel"),
        deb("nethack", component="main", priority="optional", group="games"),
        deb("firmware", component="non-free", priority="required", group="admin"),
        deb("libfoo", component="contrib", priority="standard", group="libs"),
    ]
    flt = PackageFilter(
        components=ie(("main", "contrib"), ("non-free",)),
        priorities=ie(("required", "important", "standard")),
        sections=ie(("admin", "devel", "libs")),
    )
    assert run(records, flt, key=deb_record_key) == ["base-files_1.0-1_amd64",
                                                      "libfoo_1.0-1_amd64"]


def test_anchor_patterns() -> None:
    """4. include ^nginx$, ^nginx-.*, ^(curl|wget|httpd)$; exclude debuginfo/-devel/..."""
    flt = PackageFilter(patterns=ie(
        ("^nginx$", "^nginx-.*", "^(curl|wget|httpd)$"),
        (".*-debuginfo$", ".*-debugsource$", ".*-devel$", ".*-doc$"),
    ))
    assert run(NGINX_REPO, flt) == [
        "nginx-1.24.0-1.el9.ngx.x86_64", "nginx-1.26.1-2.el9.ngx.x86_64",
        "nginx-1.26.1-2.el9.ngx.src", "nginx-module-njs-1.26.1+0.8.4-1.el9.ngx.x86_64",
        "curl-7.76.1-29.el9.x86_64", "httpd-2.4.57-5.el9.i686"]


def test_anchor_post_processing() -> None:
    """5. only_latest_version per (name, arch)."""
    kept = run(NGINX_REPO, PackageFilter(only_latest_version=True))
    assert "nginx-1.24.0-1.el9.ngx.x86_64" not in kept
    assert len(kept) == len(NGINX_REPO) - 1


def test_anchor_rhel9_production_combined() -> None:
    """6. size <= 500 MB, last 90 days, x86_64/noarch, no src, groups exclude, licenses
    include, debuginfo/devel/doc excluded, latest only."""
    flt = PackageFilter(
        size_max=524_288_000, build_time_last_n_days=90,
        architectures=ie(("x86_64", "noarch")), exclude_source=True,
        groups=ie(exclude=("Development/Libraries", "Development/Tools")),
        licenses=ie(("GPL", "GPLv2", "GPLv3", "MIT", "Apache")),
        patterns=ie(exclude=(".*-debuginfo$", ".*-debugsource$", ".*-devel$", ".*-doc$")),
        only_latest_version=True,
    )
    # NOW - 90 days = 1_742_224_000: only kernel-debug-devel (excluded by -devel$), bash
    # (GPLv3+ is not GPLv3) and httpd (i686) are that recent, so nothing is left ...
    assert run(NGINX_REPO, flt) == []
    # ... until the license list names bash's license exactly
    lic = attrs.evolve(flt, licenses=ie(("GPLv3+",)))
    assert run(NGINX_REPO, lic) == ["bash-5.1.8-9.el9.x86_64"]


def test_anchor_minimal() -> None:
    """7. no source RPMs, no debuginfo, latest only."""
    flt = PackageFilter(exclude_source=True, patterns=ie(exclude=(".*-debuginfo$",)),
                        only_latest_version=True)
    kept = run(NGINX_REPO, flt)
    assert "nginx-1.26.1-2.el9.ngx.x86_64" in kept
    assert not [n for n in kept if "debuginfo" in n or n.endswith(".src")]
    assert "nginx-1.24.0-1.el9.ngx.x86_64" not in kept


# --- validation ---------------------------------------------------------------------


@pytest.mark.parametrize("where", ["include", "exclude"])
def test_bad_regex_raises_filter_error_naming_the_pattern(where: str) -> None:
    """A pattern that does not compile raises FilterError naming it and its list."""
    flt = PackageFilter(patterns=IncludeExclude(**{where: ("ok", "nginx-(")}))
    with pytest.raises(FilterError) as info:
        compile_filter(flt)
    assert "'nginx-('" in str(info.value)
    assert f"patterns.{where}" in str(info.value)
    with pytest.raises(FilterError):
        apply_filter([], flt, version_key=rpm_record_key)


@pytest.mark.parametrize(
    "flt",
    [
        PackageFilter(size_min=-1), PackageFilter(size_max=-5),
        PackageFilter(size_min=10, size_max=9), PackageFilter(only_latest_n_versions=0),
        PackageFilter(build_time_last_n_days=-1),
        PackageFilter(build_time_newer_than=10.0, build_time_older_than=5.0),
    ],
)
def test_invalid_bounds_raise_filter_error(flt: PackageFilter) -> None:
    """Negative or contradictory bounds and N < 1 are refused up front."""
    with pytest.raises(FilterError):
        compile_filter(flt)


def test_include_exclude_refuses_a_bare_string() -> None:
    """IncludeExclude("x86_64") would silently mean ("x", "8", ...): refused."""
    with pytest.raises(FilterError):
        IncludeExclude("x86_64")
    assert IncludeExclude(["a"], ["b"]) == IncludeExclude(("a",), ("b",))


# --- laws ---------------------------------------------------------------------------

_POOLS = {
    "architectures": ["x86_64", "noarch", "src", "amd64", "all", "source"],
    "groups": ["Applications/Internet", "Development/Libraries", "admin", "libs"],
    "licenses": ["GPL", "GPLv2", "MIT", "Apache", "Proprietary"],
    "vendors": ["nginx, Inc.", "Third Party"],
    "epochs": ["0", "1", "2"],
    "components": ["main", "contrib", "non-free"],
    "priorities": ["required", "optional", "extra"],
    "sections": ["admin", "libs", "games"],
    "patterns": ["^nginx", "debuginfo$", "htop", "curl", r"\.src$", "_amd64$", "-1:",
                 "^(libc6|kernel-devel)$", "[0-9]~", "a"],
}


@st.composite
def filters(draw: st.DrawFn) -> PackageFilter:
    """Valid PackageFilter values using 0-3 dimensions, over the record strategies' pools."""
    dimensions = [*_POOLS, "exclude_source", "size", "build_time", "last_n_days", "latest"]
    active = draw(st.lists(st.sampled_from(dimensions), max_size=3, unique=True))
    fields: dict[str, Any] = {}
    for name in active:
        if name in _POOLS:
            words = st.sampled_from(_POOLS[name])
            fields[name] = IncludeExclude(tuple(draw(st.lists(words, max_size=2))),
                                          tuple(draw(st.lists(words, max_size=1))))
        elif name == "exclude_source":
            fields[name] = True
        elif name == "size":
            low, high = sorted(draw(st.lists(st.integers(0, 10_000), min_size=2, max_size=2)))
            fields["size_min"] = low if draw(st.booleans()) else None
            fields["size_max"] = high if draw(st.booleans()) else None
        elif name == "build_time":
            low, high = sorted(draw(st.lists(st.integers(0, 2_000_000_000), min_size=2,
                                             max_size=2)))
            fields["build_time_newer_than"] = float(low) if draw(st.booleans()) else None
            fields["build_time_older_than"] = float(high) if draw(st.booleans()) else None
        elif name == "last_n_days":
            fields["build_time_last_n_days"] = draw(st.integers(0, 20_000))
        else:
            fields["only_latest_version"] = draw(st.booleans())
            fields["only_latest_n_versions"] = draw(st.one_of(st.none(), st.integers(1, 3)))
    return PackageFilter(**fields)


_any_records = st.one_of(record_lists(), record_lists(deb_records()))


def _key_for(records: list[PackageRecord]) -> Callable[[PackageRecord], Any]:
    return deb_record_key if records and records[0].format == "deb" else rpm_record_key


@settings(max_examples=150, deadline=None)
@given(_any_records, filters())
def test_result_is_an_ordered_subset(records: list[PackageRecord], flt: PackageFilter) -> None:
    """apply_filter returns a subsequence of its input (nothing invented or reordered)."""
    kept = apply_filter(records, flt, version_key=_key_for(records), now=NOW)
    remaining = iter(records)
    assert all(any(k is r for r in remaining) for k in kept)


@settings(max_examples=150, deadline=None)
@given(_any_records, filters())
def test_filtering_is_idempotent(records: list[PackageRecord], flt: PackageFilter) -> None:
    """apply_filter(apply_filter(x)) == apply_filter(x)."""
    key = _key_for(records)
    once = apply_filter(records, flt, version_key=key, now=NOW)
    assert apply_filter(once, flt, version_key=key, now=NOW) == once


@settings(max_examples=150, deadline=None)
@given(_any_records, filters())
def test_filter_is_conjunction_then_post_processing(
    records: list[PackageRecord], flt: PackageFilter
) -> None:
    """Without post-processing, a record is kept iff every single-dimension filter keeps it."""
    key = _key_for(records)
    plain = attrs.evolve(flt, only_latest_version=False, only_latest_n_versions=None)
    kept = apply_filter(records, plain, version_key=key, now=NOW)
    fields = [f.name for f in attrs.fields(PackageFilter)
              if f.name not in ("only_latest_version", "only_latest_n_versions")]
    expected = [
        r for r in records
        if all(
            apply_filter([r], PackageFilter(**{name: getattr(plain, name)}),
                         version_key=key, now=NOW) == [r]
            for name in fields
        )
    ]
    assert kept == expected
    n = flt.latest_n
    if n is not None:
        assert apply_filter(records, flt, version_key=key, now=NOW) == latest_versions(
            kept, n, key)


@settings(max_examples=150, deadline=None)
@given(_any_records, st.integers(1, 4))
def test_latest_n_keeps_exactly_the_n_highest(records: list[PackageRecord], n: int) -> None:
    """Per (name, arch): exactly min(n, count) kept, and none dropped is higher."""
    key = _key_for(records)
    kept = latest_versions(records, n, key)
    kept_ids = {id(r) for r in kept}
    groups: dict[tuple[str, str], list[PackageRecord]] = defaultdict(list)
    for r in records:
        groups[r.name_arch].append(r)
    for members in groups.values():
        chosen = [r for r in members if id(r) in kept_ids]
        dropped = [r for r in members if id(r) not in kept_ids]
        assert len(chosen) == min(n, len(members))
        if chosen and dropped:
            assert min(key(r) for r in chosen) >= max(key(r) for r in dropped)
    assert len(kept) == sum(min(n, len(m)) for m in groups.values())
