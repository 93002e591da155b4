"""The writer lock: one process at a time changes the working database and index, then publishes.

DuckDB's own file lock covers one connection, but a run is many: the daily flow opens and
closes the working database once per step (ingest, enrich, embed, index, topics,
watchlists) and publishes at the end. Another writer slipping in between two steps (a
`paperradar enrich`, a watchlist added from the dashboard) would publish a half-done
run: papers stored but not yet in the FAISS index. So every writer holds this lock for
its whole run, publish included: the flows wait for it, commands fail at once with one
line saying who holds it (WriterBusyError).

It is an advisory `flock` on `$PAPERRADAR_HOME/work/writer.lock`: the kernel releases it
when the holder exits or is killed, so a crash never leaves it stuck. The file's text
names the holder (what, process id, since when) for the message; it is never trusted for
the lock itself. `flock` is per open file, so a process must not take it twice.
"""

from __future__ import annotations

import fcntl
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from core.errors import WriterBusyError

LOCK_NAME = "writer.lock"
POLL_S = 0.5


def lock_path(home: Path) -> Path:
    return home / "work" / LOCK_NAME


@contextmanager
def writer_lock(
    home: Path,
    holder: str,
    *,
    wait: float = 0.0,
    log: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the writer lock of `home` around a block; `holder` says who, for others' messages.

    `wait`: seconds to wait for a busy lock (0: fail at once, math.inf: wait as long as it
    takes; `log` hears once who is being waited for). Raises WriterBusyError when it stays
    busy.
    """
    path = lock_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, wait, log)
        try:
            stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{holder} (pid {os.getpid()}, since {stamp})".encode(), 0)
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, wait: float, log: Callable[[str], None] | None) -> None:
    deadline = time.monotonic() + wait if math.isfinite(wait) else math.inf
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            who = holder_of(path) or "another paperradar process"
            if time.monotonic() >= deadline:
                raise WriterBusyError(
                    f"{who} is writing {path.parent}; try again when it has finished"
                ) from None
            if log is not None and not told:
                log(f"waiting for the writer lock: {who} is writing {path.parent}")
                told = True
            time.sleep(POLL_S)


def holder_of(path: Path) -> str:
    """Who holds the lock at `path`, as the holder wrote it ('' when unknown)."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""
