"""Chantal adapters: filesystem pool, SQL catalog, urllib3 fetcher, RPM and APT formats,
gpg, YAML configuration, and the composition root (:mod:`chantal_adapters.bootstrap`)."""
