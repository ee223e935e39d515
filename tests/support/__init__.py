"""Reusable test helpers: a loopback HTTP(S) server with fault injection, a test PKI."""
