"""The Prefect flows: `daily` (arXiv -> enrich -> embed -> index -> topics -> watchlists ->
publish) and `backfill`.

Each flow is a short list of tasks, and each task calls one function of flows.steps, the
same functions `paperradar ingest`, `enrich` and `index` call. One writer: the tasks run
one after another in the flow's process, each holding the working database for its step
only, and the flow publishes one snapshot at the end (core.publish: atomic), so readers
only ever see the snapshot before the run or the one after it. The flow holds the writer
lock (core/writer.py) from its first step to its publish, waiting for it if a command
holds it, so no other writer (`paperradar watch add`, `enrich`, ...) publishes between
two of its steps.

Retries, by error type (`transient`): a source that could not be reached, timed out or
answered 429/5xx (after the HTTP layer's own retries, ingest._http) is tried again
PAPERRADAR_FLOW_RETRIES times, PAPERRADAR_FLOW_RETRY_DELAY seconds later and four times
longer each time; bad input, a refused request (4xx), schema drift, a model that does not
load and store errors fail at once. A source that still fails does not stop the flow:
the later steps run on what the other sources delivered, the flow publishes it, and
then ends Failed (SourcesFailedError) naming the source. Any other error fails the flow
where it happens, and the previous snapshot stays published.

Caching: the store already remembers what is done, durably and across processes: arXiv
watermarks, the enrichment schedule (a paper is asked again only on its due days), stored
vectors by content hash, the index fingerprint and each watchlist's `checked_through`; a
run with nothing new does none of that work again. A Prefect cache on top of those would
be a second, weaker record of the same facts. The one place where a Prefect cache saves
work the store cannot is `backfill`: a window finished once is not fetched again when the
backfill is run again (e.g. after a later chunk failed), keyed on the working database,
the source, the categories and the window (PAPERRADAR_HOME's database made afresh means a
new key), for CACHE_DAYS.
"""

from __future__ import annotations

import math
import os
import time
from datetime import date, timedelta
from typing import Any, Literal

from core.errors import (
    IngestError,
    PaperradarError,
    SourceHTTPError,
    SourcesFailedError,
    UserInputError,
)
from core.settings import Settings
from core.writer import writer_lock
from flows import steps
from flows.progress import Progress, quiet_expected_tracebacks

# Prefect reads its settings when first imported, so this comes first.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

CACHE_DAYS = 30  # a backfilled window is not fetched again for this long
RETRY_GROWTH = 4  # each retry of a source waits this many times longer than the one before

quiet_expected_tracebacks()


def transient(exc: BaseException | None) -> bool:
    """Whether a step's error may pass when the step runs again later.

    Yes: a source unreachable, timing out, answering 429/5xx or cut short (IngestError,
    SourceHTTPError 429/5xx). No: bad input (UserInputError, also OAI's refused
    arguments), any other 4xx, schema drift (the parser needs updating), and everything
    outside ingest (a model that does not load, a store error, a bug).
    """
    from ingest._http import RETRY_STATUSES
    from ingest.pwc import SchemaDriftError

    if isinstance(exc, SourceHTTPError):
        return exc.status in RETRY_STATUSES
    if isinstance(exc, UserInputError | SchemaDriftError):
        return False
    return isinstance(exc, IngestError)


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry only `transient` errors."""
    return transient(state.result(raise_on_failure=False))


def _source_retries(settings: Settings) -> dict[str, Any]:
    delay = settings.flow_retry_delay
    return {
        "retries": settings.flow_retries,
        "retry_delay_seconds": [delay * RETRY_GROWTH**i for i in range(max(1, settings.flow_retries))],
        "retry_jitter_factor": 0.2 if delay else None,
    }


_PLAIN: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}
_SOURCE: dict[str, Any] = {**_PLAIN, "retry_condition_fn": retry_transient}


# ---------------------------------------------------------------- tasks


@task(name="ingest-arxiv", **_SOURCE)
def ingest_arxiv(settings: Settings, since: date | None, until: date | None) -> dict[str, Any]:
    """New papers of the tracked categories from the arXiv API (watermark minus lookback,
    or from `since`)."""
    logger = get_run_logger()
    now = steps.today()
    counts = steps.ingest_arxiv(settings, settings.categories, since, until or now, now,
                                log=logger.info)
    logger.info(f"arXiv: fetched {counts['fetched']} papers of {','.join(settings.categories)}: "
                f"{counts['inserted']} new, {counts['updated']} updated, {counts['unchanged']} "
                f"unchanged ({counts.get('requests', 0)} requests, {counts.get('retries', 0)} retried)")
    return counts


@task(name="enrich", task_run_name="enrich-{source}", **_SOURCE)
def enrich(settings: Settings, source: str) -> dict[str, Any]:
    """Code links and venues from one source (text, pwc, hf) for the papers due for it."""
    logger = get_run_logger()
    counts = steps.enrich_source(settings, source, log=logger.info)
    shown = ", ".join(f"{k} {v}" for k, v in counts.items())
    logger.info(f"enrich {source}: {shown}")
    return counts


@task(name="embed", **_PLAIN)
def embed(settings: Settings) -> dict[str, Any]:
    """Embed the papers without a stored vector of their current text (progress as it goes)."""
    logger = get_run_logger()
    with Progress("embed", logger) as progress:
        return steps.embed(settings, log=logger.info, progress=progress)


@task(name="index", **_PLAIN)
def index(settings: Settings) -> dict[str, Any]:
    """Update the FAISS index (in place, or afresh when due) and the keyword index."""
    logger = get_run_logger()
    result = steps.index_papers(settings, topics=False, log=logger.info)
    r = result.report
    state = ("built afresh" if r.rebuilt else f"updated: +{r.added} -{r.removed}" if r.written
             else "unchanged")
    logger.info(f"index: holds {r.indexed} papers ({r.index_type}), {state}; keyword index "
                f"{'rebuilt' if result.keyword_rebuilt else 'unchanged'}; {r.seconds:.1f}s")
    return result.counts()


@task(name="topics", **_PLAIN)
def topics(settings: Settings) -> dict[str, Any]:
    """Assign new papers to topics (fit or refit when due)."""
    return steps.update_topics(settings, log=get_run_logger().info)


@task(name="watchlists", **_PLAIN)
def watchlists(settings: Settings) -> dict[str, Any]:
    """Check every watchlist against the papers new to it and store its matches (logs
    "watchlists: N matches (name: n, ...)")."""
    report = steps.match_watchlists(settings, log=get_run_logger().info)
    return {"total": report.total, "matches": report.matches, "checked": report.checked,
            "waiting": report.waiting}


@task(name="publish", **_PLAIN)
def publish(settings: Settings, run: str) -> str:
    """Publish the working database and index as a new snapshot; its path."""
    logger = get_run_logger()
    logger.info(f"publishing {settings.work_db} and {settings.index_dir} as a new snapshot")
    snapshot = steps.publish(settings, run)
    logger.info(f"published {snapshot.path.name}: {settings.published_db}")
    return str(snapshot.path)


def _chunk_key(context: Any, parameters: dict[str, Any]) -> str:
    p = parameters
    scope = p["oai_set"] if p["via"] == "oai" else "api"
    return (f"backfill|{p['store_id']}|{scope}|{','.join(p['settings'].categories)}|"
            f"{p['first']}|{p['last']}")


@task(name="ingest-window", task_run_name="ingest-{via}-{first}..{last}", persist_result=True,
      cache_key_fn=_chunk_key, cache_expiration=timedelta(days=CACHE_DAYS),
      retry_condition_fn=retry_transient)
def ingest_window(settings: Settings, via: str, first: date, last: date, oai_set: str,
                  store_id: str) -> dict[str, Any]:
    """One window of a backfill, through the arXiv API or OAI-PMH (cached once complete)."""
    del store_id  # part of the cache key only
    logger = get_run_logger()
    now = steps.today()
    if via == "oai":
        counts, _, _ = steps.ingest_oai(settings, oai_set, "arXivRaw", settings.categories, first,
                                        last, now, log=logger.info)
    else:
        counts = steps.ingest_arxiv(settings, settings.categories, first, last, now, log=logger.info)
    logger.info(f"{via} {first}..{last}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts


# ---------------------------------------------------------------- flows


def _run_source(call: Any, name: str, failed: dict[str, str], *args: Any) -> dict[str, Any]:
    """Run a source task; a source error (after retries) is noted in `failed`, anything else raised."""
    state = call(*args, return_state=True)
    if state.is_completed():
        result: dict[str, Any] = state.result()
        return {**result, "cached": True} if state.name == "Cached" else result
    exc = state.result(raise_on_failure=False)
    if not isinstance(exc, IngestError) or isinstance(exc, UserInputError):
        raise exc if isinstance(exc, BaseException) else PaperradarError(f"{name}: {state.message}")
    failed[name] = str(exc)
    get_run_logger().error(f"source {name} failed: {exc} (the other sources go on; this run "
                           "will end Failed)")
    return {}


def _finish(settings: Settings, summary: dict[str, Any], started: float, name: str) -> dict[str, Any]:
    """Embed, index, topics, watchlists, publish; then the summary line, and Failed if a
    source failed."""
    summary["embed"] = embed(settings)
    summary["index"] = index(settings)
    summary["topics"] = topics(settings)
    summary["watchlists"] = watchlists(settings)
    summary["snapshot"] = publish(settings, name)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    get_run_logger().info(summary_line(name, summary))
    if summary["failed"]:
        problems = "; ".join(f"{k}: {v}" for k, v in summary["failed"].items())
        raise SourcesFailedError(
            f"{len(summary['failed'])} source(s) failed: {problems} (what the other sources "
            f"delivered is stored, indexed and published in {summary['snapshot']})"
        )
    return summary


@flow(name="daily", persist_result=False)
def daily(since: date | None = None, until: date | None = None,
          categories: list[str] | None = None) -> dict[str, Any]:
    """Once a day: new arXiv papers of the tracked categories (or `categories`), their code
    and venues, their embeddings, the index and topics, one published snapshot. A run with
    nothing new embeds nothing and writes no index."""
    started = time.perf_counter()
    settings = Settings()
    if categories:
        settings = settings.model_copy(update={"categories": tuple(categories)})
    summary: dict[str, Any] = {"failed": {}}
    retrying = _source_retries(settings)
    with writer_lock(settings.home, "the daily flow", wait=math.inf, log=get_run_logger().info):
        summary["ingest"] = _run_source(ingest_arxiv.with_options(**retrying), "arxiv",
                                        summary["failed"], settings, since, until)
        for source in steps.ENRICH_SOURCES:
            call = enrich.with_options(**retrying) if source != "text" else enrich
            summary[f"enrich-{source}"] = _run_source(call, source, summary["failed"], settings,
                                                      source)
        return _finish(settings, summary, started, "daily")


@flow(name="backfill", persist_result=False)
def backfill(start: date, end: date, via: Literal["api", "oai"] = "api", chunk_days: int = 7,
             oai_set: str = "cs", refresh: bool = False) -> dict[str, Any]:
    """Papers of a past date range (v1 days through the API, or datestamps through OAI-PMH),
    a window of `chunk_days` at a time, then the daily flow's later steps. A window done
    once is not fetched again (Prefect cache; `refresh` fetches everything again)."""
    started = time.perf_counter()
    if start > end:
        raise UserInputError(f"start {start} is after end {end}")
    if chunk_days < 1:
        raise UserInputError("chunk_days must be at least 1")
    settings = Settings()
    store_id = steps.store_identity(settings)
    summary: dict[str, Any] = {"failed": {}, "windows": []}
    call = ingest_window.with_options(refresh_cache=refresh, **_source_retries(settings))
    first = start
    with writer_lock(settings.home, "the backfill flow", wait=math.inf, log=get_run_logger().info):
        while first <= end:
            last = min(first + timedelta(days=chunk_days - 1), end)
            counts = _run_source(call, f"{via} {first}..{last}", summary["failed"], settings, via,
                                 first, last, oai_set, store_id)
            summary["windows"].append({"first": first, "last": last, **counts})
            first = last + timedelta(days=1)
        for source in steps.ENRICH_SOURCES:
            call = enrich.with_options(**_source_retries(settings)) if source != "text" else enrich
            summary[f"enrich-{source}"] = _run_source(call, source, summary["failed"], settings,
                                                      source)
        return _finish(settings, summary, started, "backfill")


def summary_line(name: str, s: dict[str, Any]) -> str:
    """What a flow run did, in numbers, in one line."""
    parts = []
    ingest = s.get("ingest") or {}
    if ingest:
        parts.append(f"{ingest.get('fetched', 0)} papers fetched ({ingest.get('inserted', 0)} new, "
                     f"{ingest.get('updated', 0)} updated)")
    for window in s.get("windows", []):
        done = "cached" if window.get("cached") else f"{window.get('inserted', 0)} new"
        parts.append(f"{window['first']}..{window['last']}: {done}")
    if "arxiv" in s["failed"]:
        parts.append("arXiv FAILED")
    enriched = []
    for source in steps.ENRICH_SOURCES:
        counts = s.get(f"enrich-{source}") or {}
        if source in s["failed"]:
            enriched.append(f"{source} FAILED")
        elif source == "text":
            enriched.append(f"text {counts.get('papers', 0)} read")
        else:
            enriched.append(f"{source} {counts.get('found', 0)}/{counts.get('due', 0)} found")
    parts.append("code and venues: " + ", ".join(enriched))
    emb, idx = s.get("embed") or {}, s.get("index") or {}
    parts.append(f"embedded {emb.get('embedded', 0)} (reused {emb.get('reused', 0)})")
    state = ("built afresh" if idx.get("rebuilt") else
             f"updated +{idx.get('added', 0)} -{idx.get('removed', 0)}" if idx.get("written")
             else "unchanged")
    parts.append(f"index {idx.get('indexed', 0)} papers, {state}")
    parts.append(f"topics {(s.get('topics') or {}).get('action', 'n/a')}")
    parts.append(f"watchlists {(s.get('watchlists') or {}).get('total', 0)} matches")
    parts.append(f"published {os.path.basename(s.get('snapshot') or '')}")
    return f"{name}: " + "; ".join(parts) + f"; {s.get('seconds', 0):.1f}s"
