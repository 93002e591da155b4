"""`paperradar serve`: the flows as Prefect deployments on cron schedules, served by this process.

Deployments: `daily/daily` on PAPERRADAR_DAILY_CRON, `backfill/backfill` without a schedule
(started on demand: `prefect deployment run backfill/backfill -p start=2026-01-01 -p
end=2026-01-31`), and `weekly-digest/weekly-digest` (flows/digest.py, `DIGEST_FLOW`) on
PAPERRADAR_DIGEST_CRON; should that module not import, `serve` says so and serves the rest.

The Prefect API: PREFECT_API_URL when set (a `prefect server start` elsewhere, or Prefect
Cloud). Otherwise this process starts a Prefect server of its own on
127.0.0.1:PAPERRADAR_PREFECT_PORT, its database in PAPERRADAR_HOME/prefect, and stops it
on exit: Prefect's temporary server (what `paperradar run` uses) does not run the
scheduler, so it would register the schedules but never start a run.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from core.errors import UserInputError
from core.settings import Settings

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

DIGEST_FLOW = "flows.digest:weekly_digest"  # module:flow, registered when it exists
STOP_TIMEOUT_S = 60.0  # for the runner to cancel its runs and pause the schedules

Log = Callable[[str], None]


def check_cron(cron: str, name: str, timezone: str) -> Any:
    """A Prefect cron schedule, or UserInputError naming the setting."""
    from prefect.schedules import Cron
    from pydantic import ValidationError

    try:
        from prefect.client.schemas.schedules import CronSchedule

        CronSchedule(cron=cron, timezone=timezone)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise UserInputError(
            f"bad schedule PAPERRADAR_{name.upper()} {cron!r} in time zone {timezone!r}: {problem} "
            "(five cron fields, e.g. '30 1 * * 1-5'; an IANA time zone, e.g. UTC)"
        ) from None
    return Cron(cron, timezone=timezone)


def digest_flow() -> Any | None:
    """The weekly digest flow, if the digest has been built (DIGEST_FLOW), else None."""
    module, name = DIGEST_FLOW.split(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def deployments(settings: Settings) -> list[Any]:
    """The RunnerDeployments `serve` registers (module entry points: runnable wherever
    paperradar is installed)."""
    from prefect.deployments.runner import EntrypointType

    from flows.daily import backfill, daily

    made = [
        daily.to_deployment(
            name="daily", schedules=[check_cron(settings.daily_cron, "daily_cron",
                                                settings.schedule_timezone)],
            paused=False, tags=["paperradar"], entrypoint_type=EntrypointType.MODULE_PATH,
            description="Ingest arXiv, enrich, embed, index, topics, publish.",
        ),
        backfill.to_deployment(
            name="backfill", tags=["paperradar"], entrypoint_type=EntrypointType.MODULE_PATH,
            description="A past date range, chunked; run on demand with start and end.",
        ),
    ]
    digest = digest_flow()
    if digest is not None:
        made.append(digest.to_deployment(
            name="weekly-digest", schedules=[check_cron(settings.digest_cron, "digest_cron",
                                                        settings.schedule_timezone)],
            paused=False, tags=["paperradar"], entrypoint_type=EntrypointType.MODULE_PATH,
            description="The digest of the last complete week: files, then email and webhook.",
        ))
    return made


def serve_flows(settings: Settings, log: Log) -> None:
    """Register the deployments and run their scheduled flow runs until SIGINT or SIGTERM."""
    from flows.prefect_api import own_server
    from flows.progress import quiet_expected_tracebacks

    made = deployments(settings)  # bad crons fail here, before any server starts
    if digest_flow() is None:
        log(f"weekly digest: not served ({DIGEST_FLOW} does not import)")
    quiet_expected_tracebacks()
    try:
        with _terminate_as_interrupt(), own_server(settings, log) as api:
            names = ", ".join(f"{d.flow_name}/{d.name}" for d in made)
            weekly = f", digest on '{settings.digest_cron}'" if digest_flow() else ""
            log(f"serving {names} with the Prefect API at {api}; daily on '{settings.daily_cron}'"
                f"{weekly} ({settings.schedule_timezone}); stop with Ctrl-C")
            asyncio.run(_run_until_signalled(made, log))
    finally:
        log("stopped serving")


async def _run_until_signalled(made: list[Any], log: Log) -> None:
    """Prefect's runner until SIGINT or SIGTERM, then its own orderly stop (runs cancelled,
    schedules paused).

    Not `prefect.serve`: it leaves SIGINT to asyncio, whose cancellation of the runner's task
    was sometimes swallowed inside it (the process idled on after Ctrl-C), and its SIGTERM
    handler stops the runner from another thread. Here both signals only set an event.
    """
    from prefect.runner import Runner

    loop = asyncio.get_running_loop()
    runner = Runner(pause_on_shutdown=True, limit=1)  # one run at a time: one working database
    for deployment in made:
        await runner.aadd_deployment(deployment)  # registers it with the API
    stop = asyncio.Event()
    running = asyncio.create_task(runner.start())
    await asyncio.sleep(0)  # start() installs its SIGTERM handler first thing: replace it
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if running in done:  # the runner ended by itself: its error, if any, is the command's
        stopping.cancel()
        running.result()
        return
    log("stopping: cancelling runs in progress, pausing the schedules")
    if runner.started:
        await runner.astop()  # ends start()'s task group; its exit pauses the schedules
    else:
        running.cancel()
    try:
        await asyncio.wait_for(running, timeout=STOP_TIMEOUT_S)
    except asyncio.CancelledError:
        pass
    except TimeoutError:
        log(f"the runner did not stop within {STOP_TIMEOUT_S:g} s; leaving it")


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a service manager's stop) shuts down like Ctrl-C, also before Prefect's runner
    has installed its own handler: the server we started is stopped either way."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
