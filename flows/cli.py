"""The `paperradar` command line: each command builds the library objects, calls them, prints.

Errors never reach the user as tracebacks: bad input is one line on stderr and exit 2,
a failing source or store is one line and exit 1. Heavy imports (torch, FAISS) happen
inside the commands that need them so `--help` and `sql` stay fast.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from core.errors import PaperradarError, UserInputError
from core.settings import Settings
from flows.steps import ENRICH_SOURCES, OAI_LOOKBACK_DAYS

try:  # typer >= 0.24 vendors click; older versions use click itself
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # type: ignore

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

app = typer.Typer(
    help="paperradar: track arXiv papers, code and venues; search them; watch trends.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts are plain: "[default: today]" stays as written
)
ingest_app = typer.Typer(help="Fetch papers from a source into the store.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")

LOOKBACK_DAYS = 5  # keep in step with ingest.arxiv_incremental (not imported: keeps --help fast)
Command = TypeVar("Command", bound=Callable[..., Any])


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise UserInputError(
            f"bad setting PAPERRADAR_{where.upper()}: {problem['msg']}"
        ) from None


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD") from None


def _today() -> date:
    return datetime.now(UTC).date()


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _writes(what: str) -> Callable[[Command], Command]:
    """Run a command that writes the working database and publishes under the writer lock
    (core/writer.py): while a flow run or another command writes, it stops at once with one
    line naming that writer, instead of publishing a snapshot in the middle of its work."""

    def wrap(command: Command) -> Command:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            from core.writer import writer_lock

            with writer_lock(_settings().home, what):
                return command(*args, **kwargs)

        return run  # type: ignore[return-value]

    return wrap


# ---------------------------------------------------------------- ingest


@ingest_app.command("arxiv")
@_writes("paperradar ingest arxiv")
def ingest_arxiv(
    categories: Annotated[
        str | None,
        typer.Option(help="Comma-separated arXiv categories [default: PAPERRADAR_CATEGORIES]."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="First v1 submission day, YYYY-MM-DD [default: per-category watermark "
                     f"minus {LOOKBACK_DAYS} days, or {LOOKBACK_DAYS} days ago]."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last v1 submission day, YYYY-MM-DD [default: today].")
    ] = None,
    max_results: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many papers in all.")
    ] = None,
) -> None:
    """Fetch papers submitted in a date window from the arXiv API and store them (idempotent).

    Resumable: a run killed at any point continues, when started again, from the last
    finished week of its window.
    """
    from flows import steps
    from ingest.arxiv_api import validate_categories

    settings = _settings()
    cats = validate_categories(categories.split(",")) if categories else settings.categories
    first, last = _parse_date(since), _parse_date(until) or _today()
    if first and first > last:
        raise UserInputError(f"--since {first} is after --until {last}")
    counts = steps.ingest_arxiv(settings, cats, first, last, _today(), max_results=max_results,
                                log=lambda line: err.print(line, highlight=False))
    steps.publish(settings, "ingest")
    err.print(
        f"fetched {counts['fetched']} papers: {counts['inserted']} new, {counts['updated']} "
        f"updated, {counts['unchanged']} unchanged ({counts['requests']} requests, "
        f"{counts['retries']} retried); published {settings.published_db}"
    )


@ingest_app.command("snapshot")
@_writes("paperradar ingest snapshot")
def ingest_snapshot(
    paths: Annotated[
        list[Path],
        typer.Argument(help="arxiv-metadata-oai-snapshot.json files (plain or .gz) or folders of them."),
    ],
    categories: Annotated[
        str | None,
        typer.Option(help="Comma-separated categories or archives (cs), or 'all' "
                     "[default: PAPERRADAR_CATEGORIES]."),
    ] = None,
) -> None:
    """Import Kaggle arXiv snapshot lines (streamed), keeping the chosen categories (idempotent)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from core.publish import publish
    from core.store import Store
    from ingest.snapshot import iter_snapshot_batches

    settings = _settings()
    files = _snapshot_files(paths)
    if categories and categories.strip().lower() == "all":
        wanted: tuple[str, ...] | None = None
    else:
        wanted = tuple(c.strip() for c in categories.split(",") if c.strip()) if categories \
            else settings.categories
    total = sum(f.stat().st_size for f in files)
    counts = {"files": len(files), "inserted": 0, "updated": 0, "unchanged": 0}
    with Store.open(settings.work_db) as store:
        params = {"paths": [str(f) for f in files], "categories": wanted}
        with store.run("ingest-snapshot", params, counts, source="snapshot"):
            with Progress("[progress.description]{task.description}", BarColumn(),
                          DownloadColumn(), TimeRemainingColumn(), console=err,
                          transient=True) as bar:
                task = bar.add_task("snapshot", total=total)
                batches = iter_snapshot_batches(files, wanted,
                                                on_progress=lambda done: bar.update(task, completed=done))
                # Parses the next batch in a background thread while this one is written.
                result = store.upsert_papers(batches, read_ahead=True)
            counts.update(inserted=result.inserted, updated=result.updated,
                          unchanged=result.unchanged)
        store.checkpoint()
    publish(settings.home, settings.work_db, settings.home / "index", {"run": "ingest-snapshot"})
    err.print(
        f"imported {result.inserted + result.updated + result.unchanged} papers from {len(files)} "
        f"file(s): {result.inserted} new, {result.updated} updated, {result.unchanged} unchanged; "
        f"published {settings.published_db}"
    )


def _snapshot_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and
                           p.name.endswith((".json", ".jsonl", ".json.gz", ".jsonl.gz")))
            if not found:
                raise UserInputError(f"no .json/.jsonl(.gz) snapshot files in {path}")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise UserInputError(f"no such file or folder: {path}")
    return files


@ingest_app.command("oai")
@_writes("paperradar ingest oai")
def ingest_oai(
    set_spec: Annotated[
        str, typer.Option("--set", help="OAI-PMH set: an archive (cs, math, stat, eess) or "
                          "group:archive (physics:hep-th).")
    ] = "cs",
    from_: Annotated[
        str | None,
        typer.Option("--from", help="First datestamp (day of the last metadata change), YYYY-MM-DD "
                     f"[default: the set's watermark, or {OAI_LOOKBACK_DAYS} days before --until]."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last datestamp, YYYY-MM-DD [default: today].")
    ] = None,
    categories: Annotated[
        str | None,
        typer.Option(help="Comma-separated categories or archives (cs) to keep, or 'all' "
                     "[default: PAPERRADAR_CATEGORIES]."),
    ] = None,
    metadata_prefix: Annotated[
        str, typer.Option("--metadata-prefix", help="arXivRaw (with version history) or arXiv "
                          "(no version numbers: stored as version 0, never replacing a known one).")
    ] = "arXivRaw",
) -> None:
    """Bulk-harvest a set from arXiv OAI-PMH by datestamp window (resumable, idempotent)."""
    from flows import steps
    from ingest.oai import check_prefix, check_set

    settings = _settings()
    prefix = check_prefix(metadata_prefix)
    set_name = check_set(set_spec)
    wanted = _oai_categories(categories, settings.categories)
    first, last = _parse_date(from_), _parse_date(until)
    if first and last and first > last:
        raise UserInputError(f"--from {first} is after --until {last}")

    def report(first: date, last: date) -> Any:
        return _oai_progress(f"OAI-PMH {set_name} ({prefix}): datestamps {first} .. {last}, keeping "
                             f"{', '.join(wanted) if wanted else 'all categories'}")

    counts, first, last = steps.ingest_oai(
        settings, set_name, prefix, wanted, first, last, _today(), on_window=report,
        log=lambda message: err.print(f"OAI-PMH: {message}", markup=False))
    steps.publish(settings, "ingest-oai")
    err.print(
        f"harvested {counts['records']} records in {counts['pages']} pages: {counts['inserted']} new, "
        f"{counts['updated']} updated, {counts['unchanged']} unchanged, {counts['skipped']} in other "
        f"categories, {counts['deleted']} deleted; published {settings.published_db}"
    )


def _oai_categories(value: str | None, default: tuple[str, ...]) -> tuple[str, ...] | None:
    from ingest.arxiv_api import validate_categories

    if value is None:
        return default
    if value.strip().lower() == "all":
        return None
    return validate_categories(value.split(","))


def _oai_progress(title: str) -> Any:
    """A progress line per stored page, under `title` (printed with the first page, so that
    a request refused at once prints only its one-line error)."""

    def report(page: Any, counts: dict[str, Any]) -> None:
        if counts["pages"] == 1:
            err.print(title, markup=False)
        done = f"{page.cursor + len(page.papers) + page.deleted}/{page.complete_size}" \
            if page.cursor is not None and page.complete_size else f"{counts['records']}"
        err.print(f"  page {counts['pages']}: {done} records, {counts['inserted']} new, "
                  f"{counts['updated']} updated, {counts['skipped']} skipped", markup=False)

    return report


# ---------------------------------------------------------------- enrich

@app.command()
@_writes("paperradar enrich")
def enrich(
    source: Annotated[
        str, typer.Option(help="text, pwc, hf or all (comma-separated for several).")
    ] = "all",
    limit: Annotated[
        int, typer.Option(min=1, help="At most this many papers asked per API source, newest first.")
    ] = 2000,
    lookups: Annotated[
        int, typer.Option(min=0, help="At most this many one-by-one lookups per API source.")
    ] = 200,
    from_dump: Annotated[
        Path | None,
        typer.Option("--from-dump", help="Import legacy Papers with Code dumps (a file, or a folder "
                     "with links-between-papers-and-code and papers-with-abstracts; JSON, .gz "
                     "or parquet) instead of asking the APIs."),
    ] = None,
) -> None:
    """Code links and venues: from the papers' own text, Papers with Code and Hugging Face.

    Incremental: text is read again when a paper changes; an API is asked about a paper
    once, and again 1, 7, 30 and 90 days after its v1 while no code is known.
    """
    from flows import steps

    settings = _settings()
    wanted = ENRICH_SOURCES if source.strip() == "all" else tuple(
        s.strip() for s in source.split(",") if s.strip())
    unknown = [s for s in wanted if s not in ENRICH_SOURCES]
    if unknown or not wanted:
        raise UserInputError(f"unknown source {', '.join(unknown) or source!r}: use text, pwc, hf or all")
    if from_dump is not None and not from_dump.exists():
        raise UserInputError(f"no such file or folder: {from_dump}")
    steps.require_store(settings)
    log = lambda line: err.print(line, highlight=False)  # noqa: E731
    failures: list[str] = []
    if from_dump is not None:
        steps.enrich_dump(settings, from_dump, log=log)
        wanted = ()
    for name in wanted:
        try:
            steps.enrich_source(settings, name, limit, lookups, log=log)
        except PaperradarError as exc:  # one failing source does not stop the others
            failures.append(f"{name}: {exc}")
            err.print(f"enrich {name} failed: {exc}", markup=False, highlight=False)
    steps.publish(settings, "enrich")
    if failures:
        raise PaperradarError(f"{len(failures)} source(s) failed: {'; '.join(failures)}")
    err.print(f"enriched; published {settings.published_db}")


# ---------------------------------------------------------------- index and search


def _embedder(settings: Settings) -> Any:
    """The embedder the settings ask for (one per configuration per process)."""
    from flows.steps import embedder

    return embedder(settings)


@app.command("index")
@_writes("paperradar index")
def index_cmd(
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="Build the FAISS index afresh from the stored vectors (no re-embedding)."
    )] = False,
    refit_topics: Annotated[bool, typer.Option(
        "--refit-topics", help="Cluster the topics again (ids kept) instead of only assigning "
        "new papers; done anyway when the corpus grew 20% since the last fit."
    )] = False,
) -> None:
    """Embed papers that are new or changed, update the FAISS index and the topics, check the
    watchlists against the new papers, publish."""
    from flows import steps

    settings = _settings()
    steps.require_store(settings)
    result = steps.index_papers(settings, rebuild=rebuild, refit_topics=refit_topics, log=err.print,
                                progress=lambda done, total: err.print(f"  embedded {done}/{total}"))
    steps.match_watchlists(settings, log=lambda line: err.print(line, highlight=False, markup=False))
    steps.publish(settings, "index")
    report = result.report
    if report.rebuilt:
        state = f"built afresh, recall@10 {report.recall_at_10:.3f} vs exact"
    elif report.written:
        state = f"updated: +{report.added} -{report.removed}"
    else:
        state = "unchanged"
    err.print(
        f"embedded {report.embedded} papers, reused {report.reused}; index holds "
        f"{report.indexed} ({report.index_type}), {state}; {report.seconds:.1f}s"
    )


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What you are looking for, in your own words.")],
    k: Annotated[int, typer.Option("-k", help="Number of results (1-1000).")] = 10,
    mode: Annotated[str, typer.Option(
        "--mode", help="hybrid (default), semantic (meaning) or keyword (BM25 on the words).")
    ] = "hybrid",
    since: Annotated[str | None, typer.Option(help="First v1 date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Last v1 date (YYYY-MM-DD).")] = None,
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="Only these arXiv categories (repeat or comma-separate).")] = None,
    venue: Annotated[str | None, typer.Option(
        help="Only this venue: 'ICML 2026', or 'ICML' for any year.")] = None,
    has_code: Annotated[bool, typer.Option("--has-code", help="Only papers with code.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """Search the published papers (hybrid: meaning + words), best match first."""
    from index.search import check_k, check_mode, clean_query

    clean_query(query)  # bad input fails before anything slow is loaded
    check_k(k)
    check_mode(mode)
    filters = _filters(since, until, category, venue, has_code)
    searcher = _searcher()
    try:
        results = searcher.search(query, k, filters, mode)
    finally:
        searcher.close()
    _print_results(results, as_json)


@app.command()
def similar(
    arxiv_id: Annotated[str, typer.Argument(help="A paper in the database, e.g. 2401.01234.")],
    k: Annotated[int, typer.Option("-k", help="Number of results (1-1000).")] = 10,
    since: Annotated[str | None, typer.Option(help="First v1 date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Last v1 date (YYYY-MM-DD).")] = None,
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="Only these arXiv categories (repeat or comma-separate).")] = None,
    venue: Annotated[str | None, typer.Option(help="Only this venue.")] = None,
    has_code: Annotated[bool, typer.Option("--has-code", help="Only papers with code.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """Papers most like a given one (more like this), from its stored vector."""
    from core.arxiv_ids import split_arxiv_id
    from index.search import check_k

    split_arxiv_id(arxiv_id)
    check_k(k)
    filters = _filters(since, until, category, venue, has_code)
    searcher = _searcher()
    try:
        results = searcher.similar(arxiv_id, k, filters)
    finally:
        searcher.close()
    _print_results(results, as_json)


def _filters(since: str | None, until: str | None, categories: list[str] | None,
             venue: str | None, has_code: bool) -> Any:
    from index.search import Filters

    wanted = tuple(c.strip() for value in categories or [] for c in value.split(",") if c.strip())
    return Filters(_parse_date(since), _parse_date(until), wanted, venue, has_code)


def _searcher() -> Any:
    from core.publish import current_snapshot
    from index.search import Searcher

    settings = _settings()
    return Searcher(current_snapshot(settings.home), _embedder(settings))


def _print_results(results: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        _print_json(results)
        return
    if not results:
        err.print("no paper matches (loosen the filters, or try other words)")
        return
    table = Table("score", "arxiv id", "published", "title / snippet", "category", "venue",
                  "code")
    for r in results:
        text = f"[bold]{escape(r['title'])}[/bold]\n{escape(r['snippet'])}"
        code = ("official " if r.get("code_official") else "") + (r["code_url"] or "") \
            if r["code_url"] else ""
        table.add_row(f"{r['score']:.4f}", r["arxiv_id"], r["published"], text,
                      r["primary_category"], r["venue"] or "", code)
    out.print(table)


# ---------------------------------------------------------------- flows


@app.command("run")
def run_cmd(
    categories: Annotated[
        str | None,
        typer.Option(help="Comma-separated arXiv categories [default: PAPERRADAR_CATEGORIES]."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="First v1 submission day, YYYY-MM-DD [default: per-category watermark "
                     f"minus {LOOKBACK_DAYS} days, or {LOOKBACK_DAYS} days ago]."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last v1 submission day, YYYY-MM-DD [default: today].")
    ] = None,
) -> None:
    """Run the daily pipeline once, as a Prefect flow: ingest arXiv, enrich code and venues,
    embed, index, topics, publish one snapshot.

    A failing source does not stop the others: what they delivered is published, then the
    run ends with exit 1 naming the source. Without PREFECT_API_URL (or a Prefect profile's
    API), Prefect's temporary local API runs for the duration (nothing to install or start).
    """
    first, last = _parse_date(since), _parse_date(until)
    if first and last and first > last:
        raise UserInputError(f"--since {first} is after --until {last}")
    settings = _settings()  # a bad setting is one line, before Prefect starts
    from ingest.arxiv_api import validate_categories

    cats = list(validate_categories(categories.split(","))) if categories else None
    from flows.prefect_api import temporary_api

    with temporary_api(lambda line: err.print(line, highlight=False, markup=False)) as ready:
        from flows.daily import daily  # imported while Prefect's API starts

        ready()
        daily(since=first, until=last, categories=cats)
    err.print(f"daily run done; published {settings.published_db}", highlight=False)


@app.command("backfill")
def backfill_cmd(
    start: Annotated[str, typer.Argument(help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Argument(help="Last day, YYYY-MM-DD.")],
    via: Annotated[str, typer.Option(
        help="api (arXiv API: by v1 submission day) or oai (OAI-PMH: by datestamp, i.e. the "
        "day a record last changed).")] = "api",
    chunk_days: Annotated[int, typer.Option(min=1, help="Days per window (one task each).")] = 7,
    set_spec: Annotated[str, typer.Option("--set", help="OAI-PMH set, with --via oai.")] = "cs",
    refresh: Annotated[bool, typer.Option(
        "--refresh", help="Fetch windows again that an earlier backfill finished.")] = False,
) -> None:
    """Fetch a past date range for the tracked categories, a window at a time, as a Prefect
    flow; then enrich, embed, index, topics and publish like the daily run.

    A window finished once is not fetched again by a later backfill (Prefect cache, 30 days).
    """
    first, last = _parse_date(start), _parse_date(end)
    assert first is not None and last is not None
    if first > last:
        raise UserInputError(f"start {first} is after end {last}")
    if via not in ("api", "oai"):
        raise UserInputError(f"unknown --via {via!r}: use api or oai")
    if via == "oai":
        from ingest.oai import check_set

        set_spec = check_set(set_spec)
    settings = _settings()
    from flows.prefect_api import temporary_api

    with temporary_api(lambda line: err.print(line, highlight=False, markup=False)) as ready:
        from flows.daily import backfill

        ready()
        backfill(start=first, end=last, via=via, chunk_days=chunk_days, oai_set=set_spec,
                 refresh=refresh)
    err.print(f"backfill {first} .. {last} done; published {settings.published_db}",
              highlight=False)


@app.command()
def serve() -> None:
    """Run the flows on their schedules until stopped (Ctrl-C or SIGTERM): the daily run on
    PAPERRADAR_DAILY_CRON, backfill on demand, via Prefect's `serve`.

    Uses the Prefect API at PREFECT_API_URL if set; otherwise starts a Prefect server on
    127.0.0.1:PAPERRADAR_PREFECT_PORT for as long as it runs (its database in
    PAPERRADAR_HOME/prefect).
    """
    settings = _settings()
    from flows.serve import serve_flows

    serve_flows(settings, log=lambda line: err.print(line, highlight=False, markup=False))


# ---------------------------------------------------------------- watchlists

watch_app = typer.Typer(help="Watchlists: saved searches that report the new papers matching them.",
                        no_args_is_help=True)
app.add_typer(watch_app, name="watch")


@watch_app.command("add")
def watch_add(
    name: Annotated[str, typer.Argument(
        help="A short name: letters, digits, '-', '_', '.' (e.g. spec-decoding).")],
    query: Annotated[str, typer.Argument(help="What to watch for, in your own words, as for search.")],
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="Only these arXiv categories (repeat or comma-separate).")] = None,
    venue: Annotated[str | None, typer.Option(
        help="Only this venue: 'ICML 2026', or 'ICML' for any year.")] = None,
    has_code: Annotated[bool, typer.Option("--has-code", help="Only papers with code.")] = False,
    min_score: Annotated[float | None, typer.Option(
        "--min-score", help="Report papers scoring at least this, 0-1 [default: 0.45 hybrid, 0.40 "
        "semantic, 0.50 keyword; see README, Watchlists].")] = None,
    mode: Annotated[str, typer.Option(
        "--mode", help="hybrid (default), semantic (meaning) or keyword (the words).")] = "hybrid",
) -> None:
    """Watch for new papers matching QUERY (a saved search); publishes.

    Each daily run (and `paperradar index`) then reports the papers new to the store that
    match, once each. A new watchlist is checked at once against the papers of the last 7
    days. Fails with one line while a run is writing the database (try again when it ends).
    """
    from flows import steps
    from index.watch import FIRST_DAYS, new_watchlist

    wanted = tuple(c.strip() for value in category or [] for c in value.split(",") if c.strip())
    watch = new_watchlist(name, query, wanted, venue, has_code, min_score, mode)  # before loading
    settings = _settings()
    stored, report = steps.watch_add(settings, watch)
    rule = f"{stored.mode} score >= {stored.min_score:g}"
    if report is None:
        found = "no index to check it with yet: the next `paperradar index` or daily run does"
    else:
        found = (f"{report.matches.get(stored.name, 0)} matches among the "
                 f"{report.checked.get(stored.name, 0)} papers of the last {FIRST_DAYS} days "
                 f"(paperradar watch matches {stored.name})")
    err.print(f"watching {stored.name!r} ({rule}): {found}; published {settings.published_db}",
              highlight=False, markup=False)


@watch_app.command("list")
def watch_list(as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
               ) -> None:
    """The watchlists of the published database, with their matches so far and the last one."""
    rows = _watch_read(lambda w: w.summary())
    if as_json:
        _print_json(rows)
        return
    if not rows:
        err.print("no watchlists: add one with paperradar watch add NAME QUERY")
        return
    table = Table("name", "query", "filters", "mode", "min score", "matches", "last match",
                  "checked through")
    for r in rows:
        last = f"{r['last_match']:%Y-%m-%d %H:%M} ({r['last_arxiv_id']})" if r["last_match"] else ""
        through = f"{r['checked_through']:%Y-%m-%d %H:%M}" if r["checked_through"] else "not yet"
        table.add_row(escape(r["name"]), escape(r["query"]), escape(_watch_filters(r)), r["mode"],
                      f"{r['min_score']:g}", str(r["matches"]), last, through)
    out.print(table)


@watch_app.command("rm")
def watch_rm(name: Annotated[str, typer.Argument(help="The watchlist to remove.")]) -> None:
    """Remove a watchlist and its matches; publishes.

    Fails with one line while a run is writing the database (try again when it ends).
    """
    from flows import steps

    settings = _settings()
    removed = steps.watch_remove(settings, name)
    err.print(f"removed watchlist {name!r} and its {removed} matches; published "
              f"{settings.published_db}", highlight=False, markup=False)


@watch_app.command("matches")
def watch_matches(
    name: Annotated[str, typer.Argument(help="A watchlist (paperradar watch list).")],
    since: Annotated[str | None, typer.Option(help="Only matches found on or after this day "
                                              "(YYYY-MM-DD).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """The papers a watchlist reported, newest first (the best first within a run)."""
    from core.arxiv_ids import abs_url

    day = _parse_date(since)
    rows = _watch_read(lambda w: w.matches(name, day), require=name)
    for r in rows:
        r["url"] = abs_url(r["arxiv_id"])
    if as_json:
        _print_json(rows)
        return
    if not rows:
        err.print(f"no matches for {name!r}" + (f" since {day}" if day else "") + " yet")
        return
    table = Table("matched", "score", "arxiv id", "published", "title", "category", "venue")
    for r in rows:
        table.add_row(f"{r['matched_at']:%Y-%m-%d}", f"{r['score']:.3f}", r["arxiv_id"],
                      str(r["published"]), escape(r["title"]), r["primary_category"],
                      escape(r["venue"] or ""))
    out.print(table)


def _watch_read(read: Any, require: str | None = None) -> Any:
    """`read(WatchStore)` on the published database; a database published before watchlists
    existed has none (and `require` names one it lacks: one line, exit 2)."""
    from core.publish import current_snapshot
    from core.store import Store
    from core.watch_store import WatchStore, has_watch_tables

    settings = _settings()
    with Store.open_read_only(current_snapshot(settings.home).db_path) as db:
        if not has_watch_tables(db):
            if require is not None:
                raise UserInputError(f"no watchlist named {require!r} (there are none: add one "
                                     "with paperradar watch add NAME QUERY)")
            return []
        return read(WatchStore(db))


def _watch_filters(row: dict[str, Any]) -> str:
    parts = list(row["categories"] or [])
    if row["venue"]:
        parts.append(f"venue {row['venue']}")
    if row["has_code"]:
        parts.append("has code")
    return ", ".join(parts)


# ---------------------------------------------------------------- sql and status


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="SQL to run, e.g. \"SELECT count(*) FROM papers\".")],
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as a JSON array.")] = False,
) -> None:
    """Query the published database read-only: one SELECT/WITH/DESCRIBE/SHOW/EXPLAIN
    statement; writes, files, ATTACH and extensions are refused."""
    from core.publish import current_snapshot
    from core.sql_guard import check_sql, run_guarded
    from core.store import Store

    check_sql(statement)  # refused before the database is opened
    settings = _settings()
    with Store.open_read_only(current_snapshot(settings.home).db_path, external_access=False) as db:
        result = run_guarded(db, statement, row_cap=None, time_limit=None)
    names, rows = result.columns, result.rows
    if as_json:
        _print_json([dict(zip(names, row, strict=True)) for row in rows])
        return
    table = Table(*names)
    for row in rows:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    out.print(table)


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Where the data is, how fresh it is, recent runs, and whether the index matches the papers."""
    from flows.health import collect_status

    report = collect_status(_settings())
    if as_json:
        _print_json(report)
        return
    out.print(f"published database: {report['database']} ({report['published_at']})")
    out.print(f"papers: {report['papers']} ({report['withdrawn']} withdrawn), "
              f"newest v1 {report['newest_published']}")
    share = report["with_code"] / max(1, report["papers"] - report["withdrawn"])
    out.print(f"code: {report['with_code']} papers with a repository ({share:.0%}), "
              f"{report['with_venue']} with a venue")
    for name, src in report["sources"].items():
        last = f"{src['last_ok']:%Y-%m-%d %H:%M}" if src["last_ok"] else "never"
        problem = f" — last run {src['last_status']}: {src['last_error']}" \
            if src["last_status"] not in ("ok", "running", None) else ""
        newest = f"; newest paper {src['newest_paper']} ({(_today() - src['newest_paper']).days} " \
            "days ago)" if src["newest_paper"] else ""
        out.print(f"source {name}: last ok {last}{problem}{newest}", highlight=False, markup=False)
    _print_per_day(report["per_day"])
    idx = report["index"]
    if "vectors" in idx:
        out.print(f"index: {idx['papers']} papers in the database, {idx['count']} in the index "
                  f"({idx['index_type']}, recall@10 {idx['recall_at_10']:.3f}), "
                  f"{idx['vectors']} stored vectors ({idx['vector_set']}): {idx['state']}",
                  highlight=False)
    else:
        out.print(f"index: model {idx['model']}, {idx['state']}", highlight=False)
    runs = Table("run", "kind", "started (UTC)", "status", "counts", "error")
    for r in report["runs"]:
        counts = ", ".join(f"{k} {v}" for k, v in r["counts"].items())
        runs.add_row(str(r["run_id"]), r["kind"], f"{r['started_at']:%Y-%m-%d %H:%M:%S}",
                     r["status"], counts, r["error"] or "")
    out.print(runs)
    parts = ", ".join(f"{name} {size / 1e6:.1f}" for name, size in report["disk"].items())
    out.print(f"disk: {report['disk_bytes'] / 1e6:.1f} MB under {report['home']} ({parts} MB)",
              highlight=False)


def _print_per_day(per_day: dict[str, Any]) -> None:
    """Papers per tracked category per v1 day, a suspicious gap shown as a red 0!."""
    if not per_day["days"]:
        out.print("papers per day: none in the tracked categories yet")
        return
    gaps = {(g["category"], g["day"]) for g in per_day["gaps"]}
    categories = list(per_day["categories"])
    out.print(f"papers per v1 day, {per_day['first']} .. {per_day['last']} (cross-lists count in "
              "each category; 0! = a weekday without papers in a busy category):", highlight=False)
    table = Table("day", *categories)
    for i, day in enumerate(per_day["days"]):
        weekend = date.fromisoformat(day).weekday() >= 5
        cells = ["[bold red]0![/bold red]" if (c, day) in gaps else str(per_day["categories"][c][i])
                 for c in categories]
        table.add_row(f"{date.fromisoformat(day):%a} {day}", *cells,
                      style="dim" if weekend else None)
    out.print(table)
    if gaps:
        shown = ", ".join(f"{g['category']} {g['day']}" for g in per_day["gaps"])
        out.print(f"gaps: {len(gaps)} weekday(s) without papers in busy categories: {shown}",
                  highlight=False)


# ---------------------------------------------------------------- trends

TREND_COLUMNS = 8  # period columns in the table (--json has them all)


@app.command()
def trends(
    by: Annotated[str, typer.Option(help="topic, category (primary), venue or code.")] = "topic",
    period: Annotated[str, typer.Option(help="week (ISO, Monday first) or month.")] = "week",
    since: Annotated[str | None, typer.Option(
        help="First period, YYYY-MM-DD or YYYY-MM [default: the last 12 weeks / 6 months].")] = None,
    level: Annotated[str, typer.Option(help="Topic level: fine or broad.")] = "fine",
    emerging: Annotated[bool, typer.Option(
        "--emerging", help="Rank topics by emerging score instead (last 4 complete weeks vs the "
        "12 before; --category for one primary category).")] = False,
    category: Annotated[str | None, typer.Option(help="With --emerging: one primary category.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Rows in the table (--json: all rows).")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as a JSON array.")] = False,
) -> None:
    """Papers per week or month by topic, category or venue (counts, shares, growth against
    the trailing baseline), or code availability; partial periods are marked, not compared."""
    from core.publish import current_snapshot
    from core.store import Store
    from index import trends as tr

    by, period, level = tr.check_by(by), tr.check_period(period), tr.check_level(level)
    first = tr.parse_since(since)
    if category and not emerging:
        raise UserInputError("--category goes with --emerging (use --by category for categories)")
    settings = _settings()
    with Store.open_read_only(current_snapshot(settings.home).db_path) as db:
        if emerging:
            rows = tr.emerging(db, level, category, limit if not as_json else 10_000)
        else:
            rows = tr.series(db, by, period, first, level)
    if as_json:
        _print_json(rows)
    elif emerging:
        _print_emerging(rows, level, category)
    elif by == "code":
        _print_code(rows, period)
    else:
        _print_trend(rows, by, period, level, limit)


def _print_emerging(rows: list[dict[str, Any]], level: str, category: str | None) -> None:
    if not rows:
        err.print("no topic has enough papers in the recent window (or no topics yet: run "
                  "`paperradar index`)")
        return
    r0 = rows[0]
    out.print(f"emerging {level} topics{' in ' + category if category else ''}: "
              f"{r0['recent_start']}…{r0['recent_end']} vs {r0['baseline_start']}…"
              f"{r0['baseline_end']} (shares of all papers; score = 95% lower bound of log2 growth)",
              highlight=False)
    table = Table("rank", "topic", "label", "recent", "baseline", "recent share",
                  "baseline share", "growth", "score", "born")
    for r in rows:
        growth = f"{r['growth']:.2f}x" if r["growth"] is not None else "new"
        table.add_row(str(r["rank"]), str(r["topic_id"]), escape(r["label"]),
                      str(r["recent_papers"]), str(r["baseline_papers"]),
                      f"{r['recent_share']:.2%}", f"{r['baseline_share']:.2%}", growth,
                      f"{r['emerging_score']:.2f}", f"{r['born']}" + (" (young)" if r["young"] else ""))
    out.print(table)


def _print_code(rows: list[dict[str, Any]], period: str) -> None:
    table = Table(period, "papers", "with code", "share", "official", "official share",
                  "median days to code")
    for r in rows:
        share = lambda v: "" if v is None else f"{v:.1%}"  # noqa: E731
        days = "" if r["median_days_to_code"] is None else f"{r['median_days_to_code']:g}"
        table.add_row(f"{_period_label(r[period], period)}{' *' if r['partial'] else ''}",
                      str(r["papers"]),
                      str(r["with_code"]), share(r["share_with_code"]), str(r["with_official_code"]),
                      share(r["share_official"]), days)
    out.print(table)
    out.print("* partial period (not complete); recent periods are also low because code "
              "often appears after v1", highlight=False)


def _period_label(start: Any, period: str) -> str:
    """A week as the date of its Monday, a month as YYYY-MM."""
    return "" if start is None else f"{start:%Y-%m}" if period == "month" else f"{start}"


def _print_trend(rows: list[dict[str, Any]], by: str, period: str, level: str, limit: int) -> None:
    """Groups as rows, periods as columns (papers), then the last complete period's share
    and growth; the groups with most papers in that period first."""
    if not rows:
        err.print("no papers in that range (or no topics yet: run `paperradar index`)")
        return
    periods = sorted({r[period] for r in rows})[-TREND_COLUMNS:]
    partial = {r[period] for r in rows if r["partial"]}
    complete = [p for p in periods if p not in partial]
    last = complete[-1] if complete else None
    key = (lambda r: (r["topic_id"], r["label"])) if by == "topic" else (lambda r: (r[by],))
    cells: dict[tuple, dict[Any, dict[str, Any]]] = {}
    for r in rows:
        cells.setdefault(key(r), {})[r[period]] = r
    ranked = sorted(cells.items(), key=lambda kv: (-(kv[1].get(last, {}).get("papers") or 0), kv[0]))
    names = ["topic", "label"] if by == "topic" else [by]
    table = Table(*names, *(f"{_period_label(p, period)}{' *' if p in partial else ''}"
                            for p in periods),
                  f"share {_period_label(last, period)}", f"growth {_period_label(last, period)}")
    for group, by_period in ranked[:limit]:
        now = by_period.get(last, {})
        growth = now.get("growth")
        table.add_row(*(escape(str(g)) for g in group),
                      *(str(by_period[p]["papers"]) if p in by_period else "0" for p in periods),
                      f"{now['share']:.2%}" if now.get("share") is not None else "",
                      f"{growth:.2f}x" if growth is not None else "")
    title = f"papers per {period} by {'topic (' + level + ')' if by == 'topic' else by}"
    out.print(title, highlight=False)
    out.print(table)
    baseline = "12 weeks" if period == "week" else "3 months"
    out.print(f"* partial period: not complete, not compared. growth = share of all papers / "
              f"its share over the complete {period}s of the {baseline} before", highlight=False)


# ---------------------------------------------------------------- digest


@app.command()
def digest(
    week: Annotated[str | None, typer.Option(
        help="ISO week, YYYY-Www, e.g. 2026-W20 (default: the last complete week in the data)."
    )] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Folder to write to (default: $PAPERRADAR_HOME/digests).")] = None,
    formats: Annotated[str, typer.Option("--format", help="md, html or md,html.")] = "md,html",
    send: Annotated[bool, typer.Option(
        "--send", help="Then deliver it: by email (PAPERRADAR_SMTP_HOST, PAPERRADAR_DIGEST_TO) "
        "and/or to a webhook (PAPERRADAR_WEBHOOK_URL).")] = False,
) -> None:
    """Write the weekly digest of the published database (Markdown and HTML): papers per
    category against the 8 weeks before, rising and new topics, code, accepted papers,
    watchlist matches. The same data and week give the same files.

    With --send, the files are written first and kept whatever happens to the delivery; a
    channel that fails is one line and exit 1.
    """
    import time

    from core.publish import current_snapshot
    from core.store import Store
    from digest import build, channels
    from digest.weeks import parse_week

    chosen = parse_week(week) if week is not None else None
    wanted = build.check_formats(formats)
    settings = _settings()
    started = time.perf_counter()
    with Store.open_read_only(current_snapshot(settings.home).db_path) as db:
        made = build.make(db, chosen, settings.categories, _today())
    paths = build.write(made, out_dir or settings.home / "digests", wanted)
    d = made.digest
    err.print(f"digest {d.week.label}: {d.total.papers:,} papers, {len(d.rising)} rising topics, "
              f"{d.accepted:,} accepted{' (partial week)' if d.partial else ''}; wrote "
              f"{', '.join(str(p) for p in paths)} ({time.perf_counter() - started:.1f}s)",
              highlight=False, markup=False)
    if not send:
        return
    email, hook = channels(settings)
    if email is None and hook is None:
        raise UserInputError("--send: no delivery channel configured: set PAPERRADAR_SMTP_HOST "
                             "and PAPERRADAR_DIGEST_TO, or PAPERRADAR_WEBHOOK_URL (the files are "
                             "written)")
    done, failed = build.deliver(made, email, hook)
    for line in done:
        err.print(line, highlight=False, markup=False)
    if failed:
        kept = ", ".join(p.name for p in paths)
        raise PaperradarError("; ".join(str(f) for f in failed) +
                              f" (the digest is kept: {kept} in {paths[0].parent})")


# ---------------------------------------------------------------- dashboard


@app.command()
def dashboard(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8501,
    address: Annotated[str | None, typer.Option(
        help="Address to listen on, e.g. 127.0.0.1 for this machine only [default: all].")] = None,
) -> None:
    """Start the Streamlit dashboard on the published snapshot (search, trends, venues, code,
    digests, health, SQL); it reads read-only, so flows can run meanwhile. Ctrl-C stops it."""
    import dashboard as dashboard_pkg

    settings = _settings()
    app_path = Path(dashboard_pkg.__file__).resolve().parent / "app.py"
    args = [sys.executable, "-m", "streamlit", "run", str(app_path),
            "--server.port", str(port), "--server.headless", "true",
            "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
            "--client.showErrorDetails", "none", "--client.toolbarMode", "minimal",
            # No "magic": the pages write nothing implicitly, and Streamlit's AST rewrite
            # of a page can race with another thread's ast use in CPython 3.11 (SystemError).
            "--runner.magicEnabled", "false"]
    if address:
        args += ["--server.address", address]
    # The address it prints; also keeps Streamlit from asking a web service for this
    # machine's external IP at start (a network call, and a wait where there is no network).
    args += ["--browser.serverAddress", address if address not in (None, "0.0.0.0", "::")
             else "localhost"]
    env = {**os.environ, "PAPERRADAR_HOME": str(settings.home.resolve())}
    err.print(f"paperradar dashboard: http://{address or 'localhost'}:{port} "
              f"(database under {settings.home.resolve()})", highlight=False)
    sys.stdout.flush()
    sys.stderr.flush()
    # Streamlit replaces this process, so Ctrl-C and a kill reach the server itself.
    os.execve(sys.executable, args, env)


# ---------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: runs the app and maps every error to one line + exit code."""
    try:
        result = app(argv, standalone_mode=False, prog_name="paperradar")
    except NoArgsIsHelpError:
        return 2
    except UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "paperradar"
        err.print(f"{where}: error: {exc.format_message()} (see --help)", markup=False,
                  highlight=False)
        return 2
    except ClickException as exc:
        err.print(f"paperradar: error: {exc.format_message()}", markup=False, highlight=False)
        return exc.exit_code
    except PaperradarError as exc:
        err.print(f"paperradar: error: {exc}", markup=False, highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("paperradar: interrupted", markup=False)
        return 130
    except Exception as exc:  # a bug: still one line, with a way to get the details
        if os.environ.get("PAPERRADAR_DEBUG"):
            raise
        err.print(f"paperradar: internal error: {type(exc).__name__}: {exc} "
                  "(set PAPERRADAR_DEBUG=1 for the traceback)", markup=False, highlight=False)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
