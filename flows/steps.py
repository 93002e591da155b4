"""The pipeline's steps as plain functions, called by the CLI commands and the flows' tasks alike.

Each step opens the working database (one writer at a time), does its one job, records a
run in `runs`, checkpoints and closes it; none publishes: `paperradar ingest|enrich|index`
publish after their step, the flows once after their last. Lines for people go to `log`,
numbers come back as the run's counts. Heavy imports happen inside the steps, so that
importing this module (as the CLI does for `--help`) stays cheap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from core.errors import StoreMissingError, UserInputError
from core.settings import Settings

Log = Callable[[str], None]
Progress = Callable[[int, int], None]

ENRICH_SOURCES = ("text", "pwc", "hf")
OAI_LOOKBACK_DAYS = 7  # default window of a first harvest of a set


def _quiet(line: str) -> None:
    del line


def today() -> date:
    return datetime.now(UTC).date()


def require_store(settings: Settings) -> None:
    """StoreMissingError (exit 2) unless something was ingested already."""
    if not settings.work_db.exists():
        raise StoreMissingError(
            f"no database at {settings.work_db}: run `paperradar ingest arxiv` first"
        )


def store_identity(settings: Settings) -> str:
    """Names the working database for caches: its path and the time it was created, so a
    database made afresh at the same path is another one (creates it if missing)."""
    from core.store import Store

    with Store.open(settings.work_db) as store:
        _, rows = store.query("SELECT min(applied_at) FROM schema_migrations")
    return f"{settings.work_db.resolve()}@{rows[0][0]:%Y%m%dT%H%M%S.%f}"


def embedder(settings: Settings) -> Any:
    """The embedder the settings ask for (one per configuration per process)."""
    from index.embed import shared_embedder

    return shared_embedder(settings.model, settings.device, settings.batch_size,
                           settings.embed_backend, settings.home / "models", settings.embed_threads)


# ---------------------------------------------------------------- ingest


def arxiv_client(settings: Settings) -> Any:
    from ingest._http import RetryPolicy
    from ingest.arxiv_api import ArxivAPIClient

    return ArxivAPIClient(
        settings.arxiv_api_url,
        delay=settings.arxiv_delay,
        page_size=settings.arxiv_page_size,
        timeout=settings.http_timeout,
        retry=RetryPolicy(attempts=settings.http_retries, base_delay=settings.http_backoff),
    )


def ingest_arxiv(
    settings: Settings,
    categories: tuple[str, ...],
    since: date | None,
    until: date,
    now: date,
    *,
    max_results: int | None = None,
    log: Log = _quiet,
) -> dict[str, Any]:
    """Fetch papers first submitted in [since, until] from the arXiv API and store them.

    `since=None`: each category from its watermark minus the lookback (see
    ingest.arxiv_incremental). Counts: fetched, inserted, updated, unchanged, requests,
    retries, splits. Source errors (IngestError, SourceHTTPError) propagate after the
    finished weeks were recorded, so a later run resumes.
    """
    from core.store import Store
    from ingest import arxiv_incremental

    client = arxiv_client(settings)
    with Store.open(settings.work_db) as store:
        windows = arxiv_incremental.plan(store, categories, since, until, now)
        counts: dict[str, Any] = {}
        params = {"categories": categories, "since": since, "until": until,
                  "max_results": max_results}
        span = (min(w.start for w in windows), until)
        with store.run("ingest-arxiv", params, counts, source="arxiv_api", window=span):
            try:
                arxiv_incremental.ingest(store, client, windows, counts, max_results, log=log)
            finally:
                counts.update(http_counts(client), splits=client.splits)
        store.checkpoint()
    return counts


OAIPageReport = Callable[[Any, dict[str, Any]], None]


def ingest_oai(
    settings: Settings,
    set_name: str,
    prefix: Any,
    wanted: tuple[str, ...] | None,
    first: date | None,
    last: date | None,
    now: date,
    *,
    log: Log = _quiet,
    on_window: Callable[[date, date], OAIPageReport | None] | None = None,
) -> tuple[dict[str, Any], date, date]:
    """Harvest an OAI-PMH set by datestamp window; (counts, first, last) of the window done.

    The window: as given; else an unfinished harvest's (so it resumes); else from the
    set's watermark (or OAI_LOOKBACK_DAYS before `last`) until `now`. `on_window(first,
    last)` gives the per-page report of the resolved window (or None).
    """
    from core.store import Store
    from ingest._http import RetryPolicy
    from ingest.oai import OAIClient, harvest

    client = OAIClient(
        settings.arxiv_oai_url,
        delay=settings.arxiv_delay,  # arXiv's 3 s etiquette covers OAI-PMH too (limiter per host)
        timeout=settings.http_timeout,
        retry=RetryPolicy(attempts=settings.http_retries, base_delay=settings.http_backoff),
    )
    with client, Store.open(settings.work_db) as store:
        first, last = _oai_window(store, set_name, prefix, wanted, first, last, now)
        counts: dict[str, Any] = {}
        params = {"set": set_name, "from": first, "until": last, "categories": wanted,
                  "metadata_prefix": prefix}
        with store.run("ingest-oai", params, counts, source="oai", window=(first, last)):
            harvest(store, client, set_name, first, last, prefix, wanted, counts=counts,
                    on_page=on_window(first, last) if on_window else None, log=log)
        store.checkpoint()
    return counts, first, last


def _oai_window(store: Any, set_spec: str, prefix: Any, wanted: tuple[str, ...] | None,
                first: date | None, last: date | None, now: date) -> tuple[date, date]:
    from ingest.oai import default_since, pending_window, watermark

    if first is None and last is None:
        pending = pending_window(store, set_spec, prefix, wanted)
        if pending is not None:
            return pending
    last = last or now
    first = first or default_since(watermark(store, set_spec, wanted), last, OAI_LOOKBACK_DAYS)
    if first > last:
        raise UserInputError(f"--from {first} is after --until {last}")
    return first, last


def http_counts(client: Any) -> dict[str, Any]:
    stats = client.stats
    return {"requests": stats.requests, "retries": stats.retries} if stats else {}


# ---------------------------------------------------------------- enrich


def enrich_source(
    settings: Settings, name: str, limit: int = 2000, lookups: int = 200, *, log: Log = _quiet
) -> dict[str, Any]:
    """Code links and venues from one source (text, pwc or hf) for the papers due for it.

    Raises the source's error (after recording the run as failed); the other sources are
    independent, so callers go on with them.
    """
    from core.store import Store
    from ingest import enrichment
    from ingest._http import RetryPolicy
    from ingest.hf_papers import HFPapersClient
    from ingest.pwc import PwCClient

    if name not in ENRICH_SOURCES:
        raise UserInputError(f"unknown source {name!r}: use text, pwc, hf or all")
    retry = RetryPolicy(attempts=settings.http_retries, base_delay=settings.http_backoff)
    with Store.open(settings.work_db) as store:
        with store.run(f"enrich-{name}", {"limit": limit}, source=name) as counts:
            if name == "text":
                counts.update(enrichment.enrich_text(store, log))
            else:
                now = datetime.now(UTC).replace(tzinfo=None)
                client: Any = (
                    PwCClient(settings.pwc_api_url, delay=settings.enrich_delay,
                              timeout=settings.http_timeout, retry=retry)
                    if name == "pwc" else
                    HFPapersClient(settings.hf_api_url, delay=settings.enrich_delay,
                                   timeout=settings.http_timeout, retry=retry)
                )
                try:
                    counts.update(enrichment.enrich_api(
                        store, name, _listing(client, name), client.fetch_papers, now, limit,
                        lookups, log))
                finally:
                    counts.update(http_counts(client))
                    client.close()
        store.checkpoint()
    return counts


def enrich_dump(settings: Settings, path: Path, *, log: Log = _quiet) -> dict[str, Any]:
    """Import legacy Papers with Code dumps (a file, or a folder of links-… and papers-… files)."""
    from core.store import Store
    from ingest import enrichment
    from ingest.pwc_dump import iter_links, iter_papers

    links, papers = enrichment.dump_paths(path)
    if not links and not papers:
        raise UserInputError(f"no links-… or papers-… dump files in {path}")
    with Store.open(settings.work_db) as store:
        with store.run("enrich-dump", {"path": str(path)}, source="dump") as counts:
            counts.update(enrichment.import_dump(
                store, (e for p in links for e in iter_links(p)),
                (e for p in papers for e in iter_papers(p)), log))
        store.checkpoint()
    return counts


def _listing(client: Any, source: str) -> Any:
    """A source's bulk listing for the published range of the due papers, a day wider each
    side: PwC's papers/ by date window, HF's daily papers day by day."""
    from ingest.enrichment import window_days

    def fetch(first: datetime, last: datetime) -> Any:
        start, end = (d.date() for d in window_days(first, last))
        if source == "pwc":
            yield from client.fetch_window(start, end)
            return
        day = start
        while day <= end:
            yield from (e for _, e in client.fetch_daily(day))
            day += timedelta(days=1)

    return fetch


# ---------------------------------------------------------------- embed, index, topics


def embed(settings: Settings, *, log: Log = _quiet, progress: Progress | None = None) -> dict[str, Any]:
    """Embed the papers that have no stored vector of their current text (nothing else).

    The daily flow's embed step; `paperradar index` does it as part of `index_papers`.
    Counts: papers (that belong in the index), embedded, reused, seconds.
    """
    from core.store import Store
    from flows.distributed import make_encoder
    from index.build import embed_missing
    from index.vectors import VectorStore

    model = embedder(settings)
    started = time.perf_counter()
    with Store.open(settings.work_db) as store:
        inputs = store.embedding_inputs()
        params = {"model": settings.model, "backend": model.backend}
        with store.run("embed", params) as counts:
            done = embed_missing(inputs, make_encoder(settings, model),
                                 VectorStore(settings.vectors_dir, model.vector_set), progress,
                                 settings.index_shard_size)
            counts.update(papers=len(inputs), embedded=done, reused=len(inputs) - done,
                          seconds=round(time.perf_counter() - started, 2))
        store.checkpoint()
    log(f"embed: {done} papers embedded, {len(inputs) - done} reused "
        f"({model.vector_set}); {time.perf_counter() - started:.1f}s")
    return counts


@dataclass(frozen=True)
class IndexResult:
    """What `index_papers` did: the FAISS report, whether the keyword index was rebuilt, and
    the topics' one-line summary and action (None when topics were not asked for)."""

    report: Any  # index.build.IndexReport
    keyword_rebuilt: bool
    topics: Any = None  # index.topic_update.TopicReport

    def counts(self) -> dict[str, Any]:
        r = self.report
        return {"embedded": r.embedded, "reused": r.reused, "indexed": r.indexed,
                "added": r.added, "removed": r.removed, "rebuilt": r.rebuilt,
                "written": r.written, "index_type": r.index_type,
                "keyword_rebuilt": self.keyword_rebuilt,
                "topics": self.topics.action if self.topics is not None else None}


def index_papers(
    settings: Settings,
    *,
    rebuild: bool = False,
    topics: bool = True,
    refit_topics: bool = False,
    log: Log = _quiet,
    progress: Progress | None = None,
) -> IndexResult:
    """Embed what is new or changed, update the FAISS index and the keyword index, and (with
    `topics`) the topics: the body of `paperradar index`, without the publish."""
    from core.fts import build_keyword_index
    from core.store import Store
    from flows.distributed import make_encoder
    from index.build import update_index
    from index.vectors import VectorStore

    model = embedder(settings)
    topic_report = None
    with Store.open(settings.work_db) as store:
        inputs = store.embedding_inputs()
        log(f"index: {len(inputs)} papers belong in the index (model {settings.model}, "
            f"{model.backend})")
        params = {"model": settings.model, "backend": model.backend, "rebuild": rebuild}
        with store.run("index", params) as counts:
            report = update_index(
                inputs,
                model,
                VectorStore(settings.vectors_dir, model.vector_set),
                settings.index_dir,
                progress=progress,
                encoder=make_encoder(settings, model),
                rebuild=rebuild,
                flat_max=settings.index_flat_max,
                shard_size=settings.index_shard_size,
            )
            counts.update(report.__dict__, seconds=round(report.seconds, 2))
            started = time.perf_counter()
            keyword = build_keyword_index(store.con, force=rebuild)
            if keyword:
                log(f"keyword index rebuilt over {len(inputs)} papers in "
                    f"{time.perf_counter() - started:.1f}s")
                counts["keyword_index_seconds"] = round(time.perf_counter() - started, 2)
            if topics:
                topic_report = _update_topics(store, inputs, settings, model, refit_topics)
                log(topic_report.line())
                counts["topics"] = topic_report.action
        store.checkpoint()
    return IndexResult(report, keyword, topic_report)


def update_topics(settings: Settings, refit: bool = False, *, log: Log = _quiet) -> dict[str, Any]:
    """Bring the topics up to date with the indexed papers (fit, refit or assign), as its
    own step and run record (`topics`); the daily flow's topics step."""
    from core.store import Store

    model = embedder(settings)
    with Store.open(settings.work_db) as store:
        inputs = store.embedding_inputs()
        with store.run("topics", {"refit": refit, "vector_set": model.vector_set}) as counts:
            report = _update_topics(store, inputs, settings, model, refit)
            counts.update(action=report.action, papers=report.papers, assigned=report.assigned,
                          fine=report.fine, broad=report.broad, seconds=round(report.seconds, 2))
        store.checkpoint()
    log(report.line())
    return counts


def _update_topics(store: Any, inputs: Any, settings: Settings, model: Any, refit: bool) -> Any:
    from core.topics_store import TopicStore
    from index.topic_update import update_topics as topics_update
    from index.vectors import VectorStore

    return topics_update(TopicStore(store), inputs, VectorStore(settings.vectors_dir, model.vector_set),
                         refit=refit)


# ---------------------------------------------------------------- publish


def publish(settings: Settings, run: str, **info: Any) -> Any:
    """Publish the working database and index as a new snapshot (core.publish); returns it."""
    from core.publish import publish as publish_snapshot

    return publish_snapshot(settings.home, settings.work_db, settings.index_dir, {"run": run, **info})


# ---------------------------------------------------------------- watchlists


def match_watchlists(settings: Settings, *, names: list[str] | None = None, log: Log = _quiet,
                     kind: str = "watch") -> Any:
    """Check the watchlists (all, or `names`) against the papers new to them and store their
    matches (index.watch), as a run record `kind`; returns the CheckReport. The daily flow's
    step after the index and topics, before the publish, so the snapshot that brings new
    papers brings their matches. No watchlist: no run record, no model loaded."""
    from core.publish import Snapshot
    from core.store import Store
    from core.watch_store import WatchStore
    from index.search import Searcher
    from index.watch import CheckReport, check_watchlists

    with Store.open(settings.work_db) as store:
        watches = WatchStore(store)
        if not watches.all():
            report = CheckReport()
            log(report.line())
            return report
        made: list[Searcher] = []

        def searcher() -> Searcher:
            if not made:
                made.append(Searcher(Snapshot(settings.work_db.parent), embedder(settings),
                                     store=store, index_dir=settings.index_dir))
            return made[0]

        run_id = store.start_run(kind, {"names": names})
        try:
            report = check_watchlists(watches, searcher, names=names, run_id=str(run_id))
        except BaseException as exc:
            store.finish_run(run_id, "failed", {}, str(exc) or type(exc).__name__)
            raise
        finally:
            for s in made:
                s.close()
        store.finish_run(run_id, "ok", {"matches": report.matches, "checked": report.checked,
                                        "waiting": report.waiting})
        store.checkpoint()
    log(report.line())
    return report


def known_categories(settings: Settings) -> set[str]:
    """Categories a watchlist may name: the tracked ones and those of any stored paper."""
    from core.store import Store

    with Store.open(settings.work_db) as store:
        _, rows = store.query("SELECT DISTINCT unnest(categories) FROM papers")
    return set(settings.categories) | {r[0] for r in rows}


def watch_add(settings: Settings, watch: Any, *, log: Log = _quiet) -> tuple[Any, Any]:
    """Save a watchlist (an index.watch.new_watchlist), check it at once against the papers
    of the last FIRST_DAYS v1 days, publish; returns (the stored Watchlist, its CheckReport),
    the report None when there is no index to check with yet (the next `paperradar index`
    or daily run checks it). The CLI and the dashboard both add watchlists through here.

    Holds the writer lock for all of it, so it never publishes a flow's half-done work:
    WriterBusyError (one line) while a run is writing. Bad input is UserInputError: an
    unknown category, a name in use.
    """
    from core.errors import IndexMissingError
    from core.store import Store
    from core.watch_store import WatchStore
    from core.writer import writer_lock
    from index.watch import new_watchlist

    require_store(settings)
    with writer_lock(settings.home, f"paperradar watch add {watch.name}"):
        watch = new_watchlist(watch.name, watch.query, watch.categories, watch.venue,
                              watch.has_code, watch.min_score, watch.mode,
                              known_categories=known_categories(settings))
        with Store.open(settings.work_db) as store:
            stored = WatchStore(store).add(watch, datetime.now(UTC).replace(tzinfo=None))
            store.checkpoint()
        try:
            report = match_watchlists(settings, names=[watch.name], log=log, kind="watch-add")
        except IndexMissingError:
            report = None
        except BaseException:
            with Store.open(settings.work_db) as store:  # all or nothing: no unchecked leftover
                WatchStore(store).remove(watch.name)
                store.checkpoint()
            raise
        with Store.open(settings.work_db) as store:
            stored = WatchStore(store).require(watch.name)
        publish(settings, "watch-add")
    return stored, report


def watch_remove(settings: Settings, name: str) -> int:
    """Delete a watchlist and its matches, publish; returns how many matches went. Holds the
    writer lock (WriterBusyError while a run is writing); UserInputError for an unknown name."""
    from core.store import Store
    from core.watch_store import WatchStore
    from core.writer import writer_lock

    require_store(settings)
    with writer_lock(settings.home, f"paperradar watch rm {name}"):
        with Store.open(settings.work_db) as store:
            removed = WatchStore(store).remove(name)
            store.checkpoint()
        publish(settings, "watch-rm")
    return removed
