"""Chantal's pure domain core: versions, package records, filters, content-set algebra,
ports (typing.Protocol) and use cases. It performs no I/O; every effect goes through a port.
"""

__version__ = "0.1.0"
