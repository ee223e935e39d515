"""The Progress contract against NullProgress, RecordingProgress and TerminalProgress.

TerminalProgress runs on a plain :class:`io.StringIO` (a pipe or log file: plain lines)
and on a StringIO that claims to be a terminal (redrawn ``\\r`` bar). Its redraws are
rate-limited by ``time.monotonic``; the terminal tests give the module a fake clock that
moves 0.25 s per reading instead of sleeping.
"""

from __future__ import annotations

import io
import re
import types
from collections.abc import Callable, Iterator

import pytest

from chantal_cli import render
from chantal_cli.render import TerminalProgress
from chantal_core.progress import NullProgress
from chantal_core.testing.progress import ProgressEvent, RecordingProgress
from contract.progress_contract import ADVANCES_PER_THREAD, THREADS, ProgressContract, run_threads


class TtyStringIO(io.StringIO):
    """A text buffer that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make ``render``'s clock advance 0.25 s per reading (every advance redraws)."""
    now = [1000.0]

    def monotonic() -> float:
        now[0] += 0.25
        return now[0]

    monkeypatch.setattr(render, "time", types.SimpleNamespace(monotonic=monotonic))
    yield


class TestNullProgress(ProgressContract):
    @pytest.fixture
    def make_progress(self) -> Callable[[], NullProgress]:
        return NullProgress


class TestRecordingProgress(ProgressContract):
    @pytest.fixture
    def make_progress(self) -> Callable[[], RecordingProgress]:
        return RecordingProgress

    def test_records_every_call_in_order(self) -> None:
        progress = RecordingProgress()
        progress.start("Downloading", 4096, unit="bytes")
        progress.advance(1000)
        progress.advance()
        progress.message("mirror slow")
        progress.finish()
        assert progress.events == [
            ProgressEvent("start", "Downloading", 4096, "bytes"),
            ProgressEvent("advance", amount=1000),
            ProgressEvent("advance", amount=1),
            ProgressEvent("message", "mirror slow"),
            ProgressEvent("finish"),
        ]
        assert progress.started == ["Downloading"]
        assert progress.advanced == 1001
        assert progress.messages == ["mirror slow"]

    def test_threaded_advances_are_all_recorded(self) -> None:
        progress = RecordingProgress()
        progress.start("parallel", THREADS * ADVANCES_PER_THREAD)
        run_threads(progress)
        progress.finish()
        assert progress.advanced == THREADS * ADVANCES_PER_THREAD
        assert len(progress.events) == THREADS * ADVANCES_PER_THREAD + 2
        assert progress.events[0].amount == THREADS * ADVANCES_PER_THREAD
        assert progress.events[-1].kind == "finish"


class TestTerminalProgressPlain(ProgressContract):
    @pytest.fixture
    def make_progress(self) -> Callable[[], TerminalProgress]:
        return lambda: TerminalProgress(io.StringIO())

    def test_plain_lines_with_label_and_summary(self) -> None:
        out = io.StringIO()
        progress = TerminalProgress(out)
        progress.start("Downloading packages", 3)
        for _ in range(3):
            progress.advance()
        progress.message("3 packages downloaded")
        progress.finish()
        text = out.getvalue()
        assert "\r" not in text and "\033" not in text
        lines = text.splitlines()
        assert lines[0] == "Downloading packages: 3 items"
        assert lines[1] == "3 packages downloaded"
        assert re.fullmatch(r"Downloading packages: 3 in \d+\.\ds", lines[2])
        assert len(lines) == 3 and text.endswith("\n")

    def test_bytes_are_shown_in_binary_units(self) -> None:
        out = io.StringIO()
        progress = TerminalProgress(out)
        progress.start("Fetching primary.xml.zst", 1536, unit="bytes")
        progress.advance(1536)
        progress.finish()
        lines = out.getvalue().splitlines()
        assert lines[0] == "Fetching primary.xml.zst: 1.5 KiB"
        assert lines[1].startswith("Fetching primary.xml.zst: 1.5 KiB in ")

    def test_threaded_advances_are_all_counted(self) -> None:
        out = io.StringIO()
        progress = TerminalProgress(out)
        progress.start("parallel", THREADS * ADVANCES_PER_THREAD)
        run_threads(progress)
        progress.finish()
        assert f"parallel: {THREADS * ADVANCES_PER_THREAD} in " in out.getvalue()


@pytest.mark.usefixtures("fake_clock")
class TestTerminalProgressTty(ProgressContract):
    @pytest.fixture
    def make_progress(self) -> Callable[[], TerminalProgress]:
        return lambda: TerminalProgress(TtyStringIO())

    def test_redraws_with_a_percentage(self) -> None:
        out = TtyStringIO()
        progress = TerminalProgress(out)
        progress.start("Downloading packages", 4)
        assert out.getvalue() == ""  # nothing until there is progress to draw
        progress.advance()
        progress.advance()
        text = out.getvalue()
        assert text.count("\r") == 2 and "\n" not in text
        assert re.search(r"\rDownloading packages \[#+ *\]\s+25% 1/4", text)
        assert re.search(r"\rDownloading packages \[#+ *\]\s+50% 2/4", text)
        progress.finish()
        assert re.search(r"\r\033\[KDownloading packages: 2 in \d+\.\ds\n$", out.getvalue())

    def test_unknown_total_redraws_a_count(self) -> None:
        out = TtyStringIO()
        progress = TerminalProgress(out)
        progress.start("Scanning")
        progress.advance(7)
        assert re.search(r"\rScanning 7 \d+/s", out.getvalue())
        assert "%" not in out.getvalue()

    def test_message_clears_the_bar_and_prints_a_line(self) -> None:
        out = TtyStringIO()
        progress = TerminalProgress(out)
        progress.start("Downloading packages", 4)
        progress.advance()
        progress.message("skipped htop: filtered")
        assert out.getvalue().endswith("\r\033[Kskipped htop: filtered\n")


class TestTerminalProgressQuiet(ProgressContract):
    @pytest.fixture(params=[io.StringIO, TtyStringIO], ids=["plain", "tty"])
    def stream(self, request: pytest.FixtureRequest) -> io.StringIO:
        stream: io.StringIO = request.param()
        return stream

    @pytest.fixture
    def make_progress(self, stream: io.StringIO) -> Callable[[], TerminalProgress]:
        return lambda: TerminalProgress(stream, quiet=True)

    @pytest.mark.usefixtures("fake_clock")
    def test_prints_nothing(self, stream: io.StringIO) -> None:
        progress = TerminalProgress(stream, quiet=True)
        progress.start("Downloading packages", 4)
        progress.advance(2)
        progress.message("hello")
        progress.advance(2)
        progress.finish()
        assert stream.getvalue() == ""


@pytest.mark.parametrize("stream_type", [io.StringIO, TtyStringIO])
def test_message_text_appears_in_output(stream_type: type[io.StringIO]) -> None:
    out = stream_type()
    progress = TerminalProgress(out)
    progress.message("repomd.xml changed upstream")
    progress.start("x", 1)
    progress.message("second message")
    progress.finish()
    assert "repomd.xml changed upstream\n" in out.getvalue()
    assert "second message\n" in out.getvalue()
