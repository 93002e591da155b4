"""What every page shares: settings, the published snapshot, cached resources and queries,
empty states, and the guard that turns errors into one line instead of a traceback.

Caching: the snapshot directory (`current` resolved) is part of every cache key, so a new
publish makes every page read the new snapshot on its next run, while a page already
running keeps its snapshot whole. The model and index load once per process
(st.cache_resource); query results are kept CACHE_TTL_S seconds (st.cache_data).
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

from core.errors import (
    IndexMismatchError,
    IndexMissingError,
    PaperradarError,
    StoreMissingError,
)
from core.publish import Snapshot, current_snapshot
from core.settings import Settings
from core.store import Store

CACHE_TTL_S = 600
log = logging.getLogger("paperradar.dashboard")
T = TypeVar("T")


class NoTrendViews(PaperradarError):
    """The published database predates the trend views; `paperradar index` brings them."""


def settings() -> Settings:
    """The settings from the environment (PAPERRADAR_*), read on each run (cheap)."""
    return Settings()


def snapshot() -> Snapshot:
    """The current published snapshot (StoreMissingError when there is none)."""
    return current_snapshot(settings().home)


@st.cache_resource(show_spinner=False, max_entries=2)
def _reader(snapshot_dir: str) -> Store:
    return Store.open_read_only(Snapshot(Path(snapshot_dir)).db_path)


@contextmanager
def reader(snapshot_dir: str) -> Iterator[Store]:
    """A read-only Store on its own cursor of the snapshot's shared connection (DuckDB
    cursors may run in parallel threads: one per Streamlit session at a time)."""
    shared = _reader(snapshot_dir)
    cursor = shared.con.cursor()
    try:
        yield Store(cursor, shared.path, read_only=True)
    finally:
        cursor.close()


@st.cache_resource(show_spinner=False, max_entries=2)
def _sql_reader(snapshot_dir: str) -> Store:
    return Store.open_read_only(Snapshot(Path(snapshot_dir)).db_path, external_access=False)


def sql_store() -> Store:
    """The connection for user SQL: read-only, no files, no ATTACH, no extensions."""
    return _sql_reader(str(snapshot().path))


@st.cache_resource(show_spinner="Loading the model and the index…", max_entries=1)
def _searcher(snapshot_dir: str) -> Any:
    from index.embed import shared_embedder
    from index.search import Searcher

    s = settings()
    embedder = shared_embedder(s.model, s.device, s.batch_size, s.embed_backend,
                               s.home / "models", s.embed_threads)
    searcher = Searcher(Snapshot(Path(snapshot_dir)), embedder)
    embedder.load()
    _ = searcher.keyword  # the BM25 postings, built on first use otherwise
    _freeze_heap()
    return searcher


def _freeze_heap() -> None:
    """Move everything alive now (modules, the model, the index) out of the garbage
    collector's sight. Streamlit runs a full collection after every script run; with the
    model and a 72k-paper index loaded that walked ~230k long-lived objects, 100-300 ms of
    each search on 2 busy cores. Frozen objects are never freed: they live as long as the
    process anyway (a new snapshot's searcher replaces only the index part)."""
    gc.collect()
    gc.freeze()


def searcher() -> Any:
    """The Searcher of the current snapshot, built once (model, FAISS, keyword postings)."""
    return _searcher(str(snapshot().path))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=512)
def _cached(_fn: Callable[..., Any], name: str, snapshot_dir: str, args: tuple[Any, ...]) -> Any:
    with reader(snapshot_dir) as store:
        return _fn(store, *args)


def query_at(snapshot_dir: str, fn: Callable[..., T], *args: Any) -> T:
    """`fn(store, *args)` on the snapshot in `snapshot_dir`, cached per snapshot and arguments."""
    return _cached(fn, f"{fn.__module__}.{fn.__qualname__}", snapshot_dir, args)  # type: ignore[no-any-return]


def query(fn: Callable[..., T], *args: Any) -> T:
    """`fn(store, *args)` on the current snapshot, cached per snapshot and arguments."""
    return query_at(str(snapshot().path), fn, *args)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=4)
def health_status(snapshot_dir: str) -> dict[str, Any]:
    """What `paperradar status` reports (flows.health.collect_status), cached per snapshot."""
    from flows.health import collect_status

    return collect_status(settings())


@st.cache_resource(show_spinner=False, max_entries=2)
def warm_up(snapshot_dir: str) -> threading.Thread:
    """Once per snapshot and process: load the searcher and compute the pages' default
    views in a background thread (dashboard/warm.py)."""
    from dashboard import warm

    extra = [lambda: _searcher(snapshot_dir), lambda: health_status(snapshot_dir)]
    return warm.start(snapshot_dir, partial(query_at, snapshot_dir), extra, _with_context)


def _with_context(thread: threading.Thread) -> None:
    """Give a helper thread this run's script context: Streamlit's caches then work there
    without warning that the thread has none (the thread writes no element)."""
    try:
        from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx
    except ImportError:  # pragma: no cover - moved in another Streamlit version
        return
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is not None:
        add_script_run_ctx(thread, ctx)


def require_views() -> None:
    """Stop the page with an explanation when the snapshot has no trend views."""
    from dashboard import queries

    if not query(queries.has_views):
        raise NoTrendViews("this database was published before the trend views existed: run "
                           "`paperradar index` to update and publish it")


def empty_state(message: str, command: str | None = None) -> None:
    """An explanation of what is missing and the command that fixes it."""
    st.info(message, icon=":material/info:")
    if command:
        st.code(command, language="bash")


def run_page(body: Callable[[], None]) -> None:
    """Run a page's body; what goes wrong is shown as one line, never as a traceback."""
    try:
        body()
    except StoreMissingError:
        home = settings().home
        empty_state(f"No published database under `{home}` yet. Fetch some papers and index "
                    "them, then reload this page:",
                    "paperradar ingest arxiv --since 2026-06-01   # or: paperradar run\n"
                    "paperradar index")
    except (IndexMissingError, IndexMismatchError) as exc:
        empty_state(f"The search index is not ready: {exc}", "paperradar index")
    except PaperradarError as exc:
        st.warning(str(exc), icon=":material/warning:")
    except Exception as exc:  # a bug: one line here, the traceback in the server log
        log.exception("dashboard page failed")
        st.error(f"Something went wrong: {type(exc).__name__}: {_first_line(exc)} "
                 "(the details are in the dashboard's log)", icon=":material/error:")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def md_escape(text: str) -> str:
    """`text` with Markdown and math markers escaped, for titles and abstracts."""
    out = []
    for ch in text:
        if ch in "\\`*_{}[]()#+-!$<>|~":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def snippet_md(snippet: str) -> str:
    """A search snippet (query terms in **bold**) as safe Markdown, the bold kept."""
    return "**".join(md_escape(part) for part in snippet.split("**"))


def percent(value: Any) -> str:
    return "" if value is None or value != value else f"{value:.0%}"


# ---------------------------------------------------------------- search, cached per snapshot


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=256)
def _search(snapshot_dir: str, text: str, k: int, filters: tuple[Any, ...], mode: str,
            ) -> list[dict[str, Any]]:
    from index.search import Filters

    return _searcher(snapshot_dir).search(text, k, Filters(*filters), mode)  # type: ignore[no-any-return]


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=256)
def _similar(snapshot_dir: str, arxiv_id: str, k: int, filters: tuple[Any, ...],
             ) -> list[dict[str, Any]]:
    from index.search import Filters

    return _searcher(snapshot_dir).similar(arxiv_id, k, Filters(*filters))  # type: ignore[no-any-return]


def search(text: str, k: int, filters: Any, mode: str) -> list[dict[str, Any]]:
    """Searcher.search on the current snapshot, cached (a rerun of the page costs nothing)."""
    return _search(str(snapshot().path), text, k, _filter_key(filters), mode)


def similar(arxiv_id: str, k: int, filters: Any) -> list[dict[str, Any]]:
    """Searcher.similar on the current snapshot, cached."""
    return _similar(str(snapshot().path), arxiv_id, k, _filter_key(filters))


def _filter_key(filters: Any) -> tuple[Any, ...]:
    return (filters.since, filters.until, tuple(filters.categories), filters.venue,
            filters.has_code)


# ---------------------------------------------------------------- watchlists (writes)


def watch_score(text: str, mode: str, arxiv_id: str) -> float | None:
    """The score a search result has as a watchlist match of `text` in `mode` (index.watch:
    absolute, unlike the search's own score); None if it is not indexed."""
    from core.store import paper_key
    from index.watch import score_of

    return score_of(searcher(), text, mode, paper_key(arxiv_id))  # type: ignore[no-any-return]


def add_watchlist(watch: Any) -> Any:
    """Save a watchlist, check it and publish: the same code as `paperradar watch add`
    (flows.steps.watch_add; WriterBusyError while a flow run writes). (Watchlist, report)."""
    from flows import steps

    return steps.watch_add(settings(), watch)


def remove_watchlist(name: str) -> int:
    """Remove a watchlist and its matches and publish, as `paperradar watch rm` does."""
    from flows import steps

    return steps.watch_remove(settings(), name)  # type: ignore[no-any-return]
