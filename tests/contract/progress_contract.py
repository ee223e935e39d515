"""Contract of :class:`chantal_core.ports.Progress`, run against every implementation.

A concrete test class subclasses :class:`ProgressContract` and overrides the fixture
``make_progress``: a function returning a fresh progress reporter on each call.

The contract: ``start``/``advance``/``message``/``finish`` may be called in any order
(``advance`` before ``start``, ``finish`` twice, ...) without raising, and ``advance`` may
be called from several download threads at once.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import pytest

THREADS = 8
ADVANCES_PER_THREAD = 500

#: Each operation applied to a reporter, with the arguments a caller might give.
OPERATIONS: dict[str, Callable[[Any], None]] = {
    "start": lambda p: p.start("Downloading packages", 10, "items"),
    "start-bytes": lambda p: p.start("Fetching primary.xml.zst", 4096, unit="bytes"),
    "start-unknown": lambda p: p.start("Scanning"),
    "advance": lambda p: p.advance(),
    "advance-many": lambda p: p.advance(1500),
    "message": lambda p: p.message("skipped htop-3.2.2-1.el9.x86_64: filtered"),
    "finish": lambda p: p.finish(),
}


def run_threads(progress: Any) -> None:
    """Advance ``progress`` ``THREADS * ADVANCES_PER_THREAD`` times from ``THREADS`` threads."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(ADVANCES_PER_THREAD):
                progress.advance()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


class ProgressContract:
    """Behaviour every progress reporter shares."""

    @pytest.fixture
    def make_progress(self) -> Callable[[], Any]:
        raise NotImplementedError("must be overridden")

    def test_usual_sequence(self, make_progress: Callable[[], Any]) -> None:
        progress = make_progress()
        progress.start("Downloading packages", 3, unit="items")
        for _ in range(3):
            progress.advance()
        progress.message("3 packages downloaded")
        progress.finish()

    @pytest.mark.parametrize("sequence", list(itertools.permutations(
        ["start", "advance", "message", "finish"])))
    def test_any_order_of_the_four_calls(self, make_progress: Callable[[], Any],
                                         sequence: tuple[str, ...]) -> None:
        progress = make_progress()
        for name in sequence:
            OPERATIONS[name](progress)

    def test_every_short_sequence_of_operations(self, make_progress: Callable[[], Any]
                                                ) -> None:
        for sequence in itertools.product(OPERATIONS, repeat=3):
            progress = make_progress()
            for name in sequence:
                OPERATIONS[name](progress)

    def test_reuse_for_several_tasks(self, make_progress: Callable[[], Any]) -> None:
        progress = make_progress()
        for label in ("first", "second", "third"):
            progress.start(label, 2)
            progress.advance(2)
            progress.finish()
        progress.finish()

    def test_advance_from_several_threads(self, make_progress: Callable[[], Any]) -> None:
        progress = make_progress()
        progress.start("parallel", THREADS * ADVANCES_PER_THREAD)
        run_threads(progress)
        progress.finish()
