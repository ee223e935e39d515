"""Version values and orderings: RPM (rpmvercmp) and Debian (dpkg)."""

from __future__ import annotations

from chantal_core.versions.deb import (
    DebianVersion,
    deb_record_key,
    deb_vercmp,
    deb_version_key,
)
from chantal_core.versions.rpm import (
    Evr,
    Nevra,
    rpm_evr_key,
    rpm_record_key,
    rpm_version_key,
    rpmvercmp,
)

__all__ = [
    "DebianVersion",
    "Evr",
    "Nevra",
    "deb_record_key",
    "deb_vercmp",
    "deb_version_key",
    "rpm_evr_key",
    "rpm_record_key",
    "rpm_version_key",
    "rpmvercmp",
]
