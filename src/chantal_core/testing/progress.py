"""Progress doubles: :class:`NullProgress` (silent) and :class:`RecordingProgress`."""

from __future__ import annotations

import threading

import attrs

from chantal_core.progress import NullProgress

__all__ = ["NullProgress", "ProgressEvent", "RecordingProgress"]


@attrs.frozen
class ProgressEvent:
    """One call made on a :class:`RecordingProgress`.

    :ivar kind: ``"start"``, ``"advance"``, ``"message"`` or ``"finish"``.
    :ivar label: the task label for ``start``, the text for ``message``, else ``""``.
    :ivar amount: ``total`` for ``start`` (``None`` when unknown), ``amount`` for
        ``advance``, else ``None``.
    :ivar unit: the unit given to ``start``, else ``""``.
    """

    kind: str
    label: str = ""
    amount: int | None = None
    unit: str = ""


class RecordingProgress:
    """A :class:`~chantal_core.ports.Progress` that records every call, for assertions.

    Thread-safe: parallel downloads may report to one instance.

    :ivar events: every call in order, as :class:`ProgressEvent` values.
    """

    def __init__(self) -> None:
        self.events: list[ProgressEvent] = []
        self._lock = threading.Lock()

    def start(self, label: str, total: int | None = None, unit: str = "items") -> None:
        """Record the start of a task of ``total`` ``unit``."""
        with self._lock:
            self.events.append(ProgressEvent("start", label, total, unit))

    def advance(self, amount: int = 1) -> None:
        """Record ``amount`` more units done."""
        with self._lock:
            self.events.append(ProgressEvent("advance", amount=amount))

    def message(self, text: str) -> None:
        """Record a line of information."""
        with self._lock:
            self.events.append(ProgressEvent("message", text))

    def finish(self) -> None:
        """Record the end of the current task."""
        with self._lock:
            self.events.append(ProgressEvent("finish"))

    @property
    def messages(self) -> list[str]:
        """The texts of every ``message`` call, in order."""
        return [e.label for e in self.events if e.kind == "message"]

    @property
    def started(self) -> list[str]:
        """The labels of every ``start`` call, in order."""
        return [e.label for e in self.events if e.kind == "start"]

    @property
    def advanced(self) -> int:
        """The sum of every ``advance`` amount (units as given to ``start``)."""
        return sum(e.amount or 0 for e in self.events if e.kind == "advance")
