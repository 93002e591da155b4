"""The `weekly-digest` flow: write the digest of the last complete week, then deliver it.

`paperradar serve` runs it on PAPERRADAR_DIGEST_CRON (flows/serve.py); `prefect deployment
run weekly-digest/weekly-digest -p week=2026-W20` runs it for another week. It reads the
published snapshot only (never the working database), so it runs beside a daily run.

Two steps: `write-digest` (compose, render, write `$PAPERRADAR_HOME/digests/<week>.md` and
`.html`: same snapshot and week, same bytes) and one `deliver-digest` task per configured
channel (email, webhook). A delivery is retried PAPERRADAR_FLOW_RETRIES times,
PAPERRADAR_FLOW_RETRY_DELAY seconds later and four times longer each time, only when its
failure may pass (server unreachable, timeout, SMTP 4xx, HTTP 429/5xx); a refused login or
recipient, or an HTTP 4xx, fails at once. A channel that still fails ends the flow Failed,
with the files written and the other channel delivered. Without a channel the flow only
writes the files. Secrets (the SMTP password, the webhook URL) are read from the
environment inside the tasks and never logged: the logs name the server's host only.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from core.errors import PaperradarError
from core.settings import Settings
from digest import DeliveryError, Made, build, channels
from flows.progress import quiet_expected_tracebacks

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

RETRY_GROWTH = 4

quiet_expected_tracebacks()


def retry_delivery(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: only a delivery failure that may pass."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, DeliveryError) and exc.transient


@task(name="write-digest", cache_policy=NO_CACHE, persist_result=False)
def write_digest(settings: Settings, week: str | None) -> Made:
    """Compose the week's digest from the published snapshot and write its files."""
    from core.publish import current_snapshot
    from core.store import Store

    logger = get_run_logger()
    with Store.open_read_only(current_snapshot(settings.home).db_path) as db:
        made = build.make(db, week, settings.categories, datetime.now(UTC).date())
    paths = build.write(made, settings.home / "digests")
    d = made.digest
    logger.info(f"digest {d.week.label}: {d.total.papers:,} papers, {len(d.rising)} rising topics, "
                f"{d.accepted:,} accepted{' (partial week)' if d.partial else ''}; wrote "
                f"{', '.join(str(p) for p in paths)}")
    return made


@task(name="deliver-digest", task_run_name="deliver-{channel}", cache_policy=NO_CACHE,
      persist_result=False, retry_condition_fn=retry_delivery)
def deliver_digest(channel: str, made: Made) -> str:
    """Send the digest by one channel ('email' or 'webhook'), configured from the environment."""
    email, hook = channels(Settings())
    done, failed = build.deliver(made, email if channel == "email" else None,
                                 hook if channel == "webhook" else None)
    if failed:
        raise failed[0]
    get_run_logger().info(done[0])
    return done[0]


@flow(name="weekly-digest", persist_result=False)
def weekly_digest(week: str | None = None) -> dict[str, Any]:
    """The digest of `week` (YYYY-Www; default the last complete week in the data), written
    under $PAPERRADAR_HOME/digests and sent by every configured channel."""
    settings = Settings()
    made = write_digest(settings, week)
    email, hook = channels(settings)  # a half-configured channel fails here, the files written
    delay = settings.flow_retry_delay
    retrying = deliver_digest.with_options(
        retries=settings.flow_retries,
        retry_delay_seconds=[delay * RETRY_GROWTH**i for i in range(max(1, settings.flow_retries))],
        retry_jitter_factor=0.2 if delay else None)
    wanted = [name for name, on in (("email", email), ("webhook", hook)) if on is not None]
    if not wanted:
        get_run_logger().info("no delivery channel configured: the files only")
    delivered, failed = [], []
    for channel in wanted:
        state = retrying(channel, made, return_state=True)
        if state.is_completed():
            delivered.append(state.result())
        else:
            failed.append(state.result(raise_on_failure=False))
    summary = {"week": made.digest.week.label, "papers": made.digest.total.papers,
               "delivered": delivered}
    if failed:
        raise PaperradarError("; ".join(str(f) for f in failed) +
                              f" (the digest {made.digest.week.label} is written under "
                              f"{settings.home / 'digests'})")
    return summary
