"""Output rendering for the CLI: tables, JSON, CSV, progress and error printing."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

FORMATS = ("table", "json", "csv")


def human_bytes(size: float) -> str:
    """``1536`` -> ``"1.5 KiB"`` (binary units)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def render_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str = "table",
                *, out: TextIO | None = None, title: str | None = None) -> None:
    """Print rows as an aligned table, a JSON array or CSV with a header line.

    :param rows: one mapping per row; missing keys print as empty.
    :param columns: the keys to show, in order (also the CSV header and JSON keys).
    :param fmt: ``"table"``, ``"json"`` or ``"csv"``.
    """
    out = out or sys.stdout
    if fmt == "json":
        json.dump([{c: row.get(c) for c in columns} for row in rows], out, indent=2,
                  default=str)
        out.write("\n")
        return
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        return
    if title:
        out.write(f"{title}\n")
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    out.write("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
    for r in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")


def render_mapping(data: Mapping[str, Any], fmt: str = "table", *, out: TextIO | None = None
                   ) -> None:
    """Print one record as ``key: value`` lines or as a JSON object."""
    out = out or sys.stdout
    if fmt == "json":
        json.dump(data, out, indent=2, default=str)
        out.write("\n")
        return
    width = max((len(k) for k in data), default=0)
    for key, value in data.items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        out.write(f"{key + ':':<{width + 1}} {value}\n")


def dump_json(data: Any, out: TextIO | None = None) -> None:
    """Print any JSON-serialisable value."""
    out = out or sys.stdout
    json.dump(data, out, indent=2, default=str)
    out.write("\n")


class TerminalProgress:
    """Progress for the CLI: a redrawn bar on a terminal, plain lines otherwise.

    Implements :class:`chantal_core.ports.Progress`. Thread-safe enough for the download
    workers (a lock guards the counters).
    """

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        import threading

        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._quiet = quiet
        self._lock = threading.Lock()
        self._label = ""
        self._total: int | None = None
        self._done = 0
        self._unit = "items"
        self._t0 = 0.0
        self._last = 0.0

    def start(self, label: str, total: int | None = None, unit: str = "items") -> None:
        """Begin a task."""
        with self._lock:
            self._label, self._total, self._unit = label, total, unit
            self._done = 0
            self._t0 = self._last = time.monotonic()
        if not self._tty and not self._quiet:
            size = human_bytes(total) if (unit == "bytes" and total) else (total or "?")
            self._stream.write(f"{label}: {size} {'' if unit == 'bytes' else unit}\n".rstrip()
                               + "\n")

    def advance(self, amount: int = 1) -> None:
        """Count ``amount`` more units; redraw at most ten times a second on a terminal."""
        with self._lock:
            self._done += amount
            now = time.monotonic()
            if not self._tty or self._quiet or now - self._last < 0.1:
                return
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._t0, 1e-6)
        rate = self._done / elapsed
        if self._unit == "bytes":
            done = human_bytes(self._done)
            rate_s = f"{human_bytes(rate)}/s"
        else:
            done, rate_s = str(self._done), f"{rate:.0f}/s"
        if self._total:
            frac = min(self._done / self._total, 1.0)
            bar = "#" * int(frac * 30)
            eta = (self._total - self._done) / rate if rate > 0 else 0
            total = human_bytes(self._total) if self._unit == "bytes" else str(self._total)
            line = (f"\r{self._label} [{bar:<30}] {frac:4.0%} {done}/{total} {rate_s} "
                    f"ETA {eta:4.0f}s")
        else:
            line = f"\r{self._label} {done} {rate_s}"
        self._stream.write(line)
        self._stream.flush()

    def message(self, text: str) -> None:
        """Print one line of information."""
        if self._quiet:
            return
        with self._lock:
            if self._tty and self._total is not None:
                self._stream.write("\r\033[K")
            self._stream.write(text + "\n")

    def finish(self) -> None:
        """End the current task with a summary line."""
        with self._lock:
            if self._quiet:
                return
            elapsed = time.monotonic() - self._t0
            done = human_bytes(self._done) if self._unit == "bytes" else f"{self._done}"
            prefix = "\r\033[K" if self._tty else ""
            self._stream.write(f"{prefix}{self._label}: {done} in {elapsed:.1f}s\n")
            self._total = None


def error_text(exc: BaseException) -> str:
    """``error[code]: message`` plus the hint on its own line when there is one."""
    code = getattr(exc, "code", "error")
    text = f"error[{code}]: {exc}"
    hint = getattr(exc, "hint", None)
    if hint:
        text += f"\nhint: {hint}"
    return text


def to_stringio() -> io.StringIO:
    """A text buffer (tests capture output with it)."""
    return io.StringIO()
