"""Chantal adapters: filesystem pool, SQL catalog, urllib3 fetcher, RPM and APT formats, gpg, YAML config."""
