"""What a flow run shows while it works: progress of long steps, and errors without tracebacks.

`Progress` reports a long step (embedding) twice: as a rich progress bar on a terminal, and
as log lines (Prefect's run logger: console and UI) at most every LOG_EVERY seconds. While
the bar is live, Prefect's console handlers write through it, so log lines appear above
the bar instead of tearing it.

`quiet_expected_tracebacks()` keeps Prefect's console from printing tracebacks of
paperradar's own errors (a source that cannot be reached, a bad setting): their one-line
message says what to do. Tracebacks of anything else (bugs) are still shown, and the API
(the Prefect UI) still gets every traceback.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from core.errors import PaperradarError

LOG_EVERY = 10.0  # seconds between two progress lines in the log


class Progress:
    """`progress(done, total)` callback for a step; use as a context manager.

    >>> with Progress("embed", logger, "papers") as progress:
    ...     embed_missing(inputs, encoder, vectors, progress)
    """

    def __init__(self, label: str, logger: Any, unit: str = "papers", bar: bool | None = None) -> None:
        self.label = label
        self.logger = logger
        self.unit = unit
        self.bar = sys.stderr.isatty() if bar is None else bar
        self._progress: Any = None
        self._task: Any = None
        self._start = time.perf_counter()
        self._logged_at = 0.0
        self._consoles: list[tuple[Any, Any]] = []

    def __enter__(self) -> Progress:
        self._start = time.perf_counter()
        if self.bar:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar

            self._progress = Bar("[progress.description]{task.description}", BarColumn(),
                                 MofNCompleteColumn(), TimeRemainingColumn(),
                                 console=Console(stderr=True), transient=True)
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=None)
            # Prefect's console handlers hold the real stderr; point them at the bar's proxy.
            for handler in _console_handlers():
                self._consoles.append((handler.console, handler.console.file))
                handler.console.file = sys.stderr
        return self

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=total)
        if done >= total or now - self._logged_at >= LOG_EVERY:
            self._logged_at = now
            rate = done / max(now - self._start, 1e-9)
            self.logger.info(f"{self.label}: {done}/{total} {self.unit} "
                             f"({done / max(total, 1):.0%}, {rate:.0f} {self.unit}/s)")

    def __exit__(self, *exc: object) -> None:
        for console, file in self._consoles:
            console.file = file
        self._consoles.clear()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class _DropExpectedTracebacks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], PaperradarError):
            record.exc_info = None
            record.exc_text = None
        return True


_FILTER = _DropExpectedTracebacks()


def quiet_expected_tracebacks() -> None:
    """Drop tracebacks of PaperradarError from Prefect's console output (idempotent)."""
    for handler in _console_handlers():
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def _console_handlers() -> list[Any]:
    from prefect.logging.handlers import PrefectConsoleHandler

    found: list[Any] = []
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in
                                       list(logging.Logger.manager.loggerDict)
                                       if name.startswith("prefect")]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler) and handler not in found:
                found.append(handler)
    return found
