"""Which Prefect API a command talks to, and starting one when none is configured.

- `temporary_api()` (paperradar run, backfill): PREFECT_API_URL or a Prefect profile's API
  when set; else Prefect's temporary API (the app Prefect's client would start on first
  use, without the scheduler), started here at once in a child process, so that its
  start-up (~6 s on 2 cores) overlaps this process's imports instead of following them;
  stopped on exit.
- `own_server()` (paperradar serve): PREFECT_API_URL when set; else a full Prefect server
  (scheduler included: the temporary API has none) on 127.0.0.1:PAPERRADAR_PREFECT_PORT,
  its database under PAPERRADAR_HOME/prefect; stopped on exit.

Only the child processes import Prefect's server; this process never does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from core.errors import PaperradarError
from core.settings import Settings

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

START_TIMEOUT = 120.0  # seconds; a cold start on 2 busy cores takes 10-30 s

Log = Callable[[str], None]


class PrefectServerError(PaperradarError):
    """A Prefect server for the command could not be started."""


@contextmanager
def temporary_api(log: Log = lambda line: None) -> Iterator[Callable[[], None]]:
    """Start Prefect's temporary API now unless an API is configured; yields `ready()`, to
    call before the first flow run: it waits for the API and points Prefect at it.

    >>> with temporary_api() as ready:
    ...     from flows.daily import daily  # imports while the API starts
    ...     ready()
    ...     daily()
    """
    if os.environ.get("PREFECT_API_URL"):
        yield lambda: None
        return
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    logfile = Path(os.environ.get("TMPDIR", "/tmp")) / f"paperradar-prefect-{port}.log"
    log(f"starting Prefect's temporary API at {api} for this run (set PREFECT_API_URL to use "
        "a Prefect server of your own)")
    server = _start(
        ["-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"],
        {"PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1", "PREFECT_UI_ENABLED": "0"},
        logfile,
    )
    with ExitStack() as stack:
        stack.callback(logfile.unlink, missing_ok=True)
        stack.callback(_stop, server)

        def ready() -> None:
            from prefect.settings import PREFECT_API_URL, temporary_settings

            if PREFECT_API_URL.value():  # a Prefect profile names one: use it, not ours
                _stop(server)
                return
            _wait_healthy(server, api, logfile)
            os.environ["PREFECT_API_URL"] = api  # and child processes (Dask workers)
            stack.callback(os.environ.pop, "PREFECT_API_URL", None)
            stack.enter_context(temporary_settings({PREFECT_API_URL: api}))
            stack.callback(drain)

        yield ready


@contextmanager
def own_server(settings: Settings, log: Log) -> Iterator[str]:
    """The API URL: PREFECT_API_URL if set, else a Prefect server of our own for the duration."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield str(PREFECT_API_URL.value())
        return
    root = settings.home / "prefect"
    root.mkdir(parents=True, exist_ok=True)
    port = settings.prefect_port or free_port()
    api = f"http://127.0.0.1:{port}/api"
    log(f"starting a Prefect server on 127.0.0.1:{port} (database {root / 'prefect.db'}, log "
        f"{root / 'server.log'})")
    server = _start(
        ["-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        {"PREFECT_HOME": str(root),
         "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{root / 'prefect.db'}"},
        root / "server.log",
    )
    try:
        _wait_healthy(server, api, root / "server.log")
        saved = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = api  # the runner's flow-run processes inherit it
        try:
            with temporary_settings({PREFECT_API_URL: api}):
                try:
                    yield api
                finally:
                    drain()
        finally:
            if saved is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = saved
    finally:
        _stop(server)


def drain() -> None:
    """Send Prefect's buffered logs and events now, while the API is still up: at exit this
    process would otherwise retry them against a stopped server for a minute or more."""
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def flush() -> None:
        try:
            result = APILogWorker.instance().drain()
            if inspect.isawaitable(result):
                await result
        except RuntimeError:  # never started
            pass
        result = EventsWorker.drain_all()
        if inspect.isawaitable(result):
            await result

    run_coro_as_sync(flush())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(args: list[str], extra: dict[str, str], logfile: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
           "PREFECT_API_URL": "", **extra}
    with open(logfile, "ab") as log:
        return subprocess.Popen(
            [sys.executable, *args], env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C in the terminal reaches us, and we stop it
        )


def _wait_healthy(server: subprocess.Popen[bytes], api: str, logfile: Path) -> None:
    import httpx

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = logfile.read_text(errors="replace").strip().splitlines()[-3:]
            raise PrefectServerError(
                f"the Prefect server exited with code {server.returncode}: {' | '.join(tail)} "
                "(another one on that port? set PAPERRADAR_PREFECT_PORT, or PREFECT_API_URL)"
            )
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise PrefectServerError(f"the Prefect server did not answer at {api} within "
                             f"{START_TIMEOUT:.0f} s (see {logfile})")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
