"""The library's default :class:`~chantal_core.ports.Progress`: it reports nothing.

Use cases take a ``progress`` argument; when the caller gives none they use
:class:`NullProgress`, so the library stays silent unless a front end (the CLI's progress
bars, a test's :class:`~chantal_core.testing.progress.RecordingProgress`) asks otherwise.
"""

from __future__ import annotations

__all__ = ["NullProgress"]


class NullProgress:
    """A :class:`~chantal_core.ports.Progress` that discards every report.

    Stateless and thread-safe, so one instance may be shared by parallel downloads.
    """

    def start(self, label: str, total: int | None = None, unit: str = "items") -> None:
        """Ignore the start of a task."""

    def advance(self, amount: int = 1) -> None:
        """Ignore progress."""

    def message(self, text: str) -> None:
        """Ignore a message."""

    def finish(self) -> None:
        """Ignore the end of a task."""
