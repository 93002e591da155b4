"""The writer lock between processes: a second writer fails at once naming the first, or waits
for it; a killed holder never leaves it stuck."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.errors import WriterBusyError
from core.writer import holder_of, lock_path, writer_lock

HOLD = """
import sys
from pathlib import Path
from core.writer import writer_lock
with writer_lock(Path(sys.argv[1]), "the daily flow"):
    print("held", flush=True)
    sys.stdin.readline()
"""


@contextmanager
def held_elsewhere(home: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the writer lock of `home` until its stdin gets a line."""
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(home)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "held\n"
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()


def test_a_second_writer_fails_at_once_naming_the_first(tmp_path: Path) -> None:
    with held_elsewhere(tmp_path) as child:
        with pytest.raises(WriterBusyError) as caught:
            with writer_lock(tmp_path, "paperradar watch add x"):
                pytest.fail("got the lock while another process holds it")
        message = str(caught.value)
        assert message.startswith(f"the daily flow (pid {child.pid}, since ")
        assert "is writing" in message and message.endswith("try again when it has finished")
        assert WriterBusyError.exit_code == 1
    with writer_lock(tmp_path, "paperradar watch add x"):  # free again
        assert holder_of(lock_path(tmp_path)).startswith("paperradar watch add x (pid ")
    assert holder_of(lock_path(tmp_path)) == ""


def test_a_waiting_writer_gets_the_lock_when_the_first_is_done(tmp_path: Path) -> None:
    heard: list[str] = []
    got = threading.Event()

    def wait_for_it() -> None:
        with writer_lock(tmp_path, "the backfill flow", wait=math.inf, log=heard.append):
            got.set()

    with held_elsewhere(tmp_path) as child:
        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        while not heard:  # it waits, and says for whom, once
            assert waiter.is_alive()
            threading.Event().wait(0.05)
        assert not got.is_set()
        assert child.stdin is not None
        child.stdin.write("done\n")
        child.stdin.flush()
        waiter.join(timeout=60)
    assert got.is_set() and len(heard) == 1
    assert heard[0].startswith("waiting for the writer lock: the daily flow (pid ")


def test_a_killed_holder_leaves_the_lock_free(tmp_path: Path) -> None:
    with held_elsewhere(tmp_path) as child:
        child.send_signal(signal.SIGKILL)
        child.wait()
        with writer_lock(tmp_path, "the next run"):  # the kernel dropped the dead one's lock
            pass
