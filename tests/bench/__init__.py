"""Opt-in benchmarks (``nox -s bench``, or ``python tests/bench/run.py``); pytest skips them."""
