"""Memory-management helpers for the bulk paths (index parsing, closure, catalog reads).

Building tens of thousands of small objects (package records, their metadata, index
structures) triggers CPython's cyclic garbage collector again and again, and each
collection walks every live object: on a Debian ``main`` index (63,000 packages) that was
two thirds of the parsing time and three quarters of the closure's. These paths build no
reference cycles, so reference counting frees everything; pausing the collector while they
run changes nothing else.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["gc_paused"]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the ``with`` block.

    Re-entrant: an inner pause leaves the collector disabled, and only the outermost one
    re-enables it, and only if it was enabled when that pause began.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
