"""Version values and orderings: RPM (rpmvercmp) and Debian (dpkg)."""
