"""Search page: query, mode, filters, result cards, similar papers, watching a search; the URL
holds the state.

Every widget is seeded from the URL's query parameters when it first appears and the URL
is rewritten on each run, so a search can be shared as a link, e.g.
`/?q=speculative+decoding&mode=keyword&cat=cs.CL&since=2026-01-01&code=1`.

"Watch" (under each result, or beside the result count) opens a form that saves the search
as a watchlist (flows.steps.watch_add, what `paperradar watch add` runs): the query, mode
and filters as they are; from a result, the minimum score is that paper's own watch score,
so papers at least as close as it are reported.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import streamlit as st

from core.errors import PaperradarError
from dashboard import queries, ui

MODES = ("hybrid", "semantic", "keyword")
MODE_HELP = ("hybrid: meaning and words together (best default) · semantic: meaning, finds "
             "papers described in other words · keyword: BM25 on the exact words")
K_CHOICES = (10, 20, 50, 100)
SIMILAR_K = 8
MAX_AUTHORS = 6
FIRST_DAY = date(1991, 8, 1)  # arXiv's first day
EXAMPLES = ("diffusion models for video generation", "speculative decoding",
            "multilingual speech translation", "3D gaussian splatting")


def _date(value: str | None) -> date | None:
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    return day if day and day >= FIRST_DAY else None


def _seed(options: dict[str, Any]) -> None:
    """Widget values from the URL for the widgets that have none yet (first run, shared link)."""
    url = st.query_params
    state = st.session_state
    seeds: dict[str, Any] = {
        "q": url.get("q", ""),
        "mode": url.get("mode") if url.get("mode") in MODES else "hybrid",
        "k": int(url["k"]) if url.get("k", "").isdigit() and int(url["k"]) in K_CHOICES else 10,
        "since": _date(url.get("since")),
        "until": _date(url.get("until")),
        "cats": [c for c in url.get_all("cat") if c in options["categories"]],
        "venue": url.get("venue") if url.get("venue") in options["venues"] else None,
        "code": url.get("code") in ("1", "true", "yes"),
    }
    for key, value in seeds.items():
        if key not in state:
            state[key] = value
    if "similar" not in state:
        state["similar"] = url.get("similar") or None


def _write_url() -> None:
    s = st.session_state
    params: dict[str, Any] = {
        "q": s.q.strip(), "mode": s.mode if s.mode != "hybrid" else None,
        "k": str(s.k) if s.k != 10 else None,
        "since": s.since.isoformat() if s.since else None,
        "until": s.until.isoformat() if s.until else None,
        "cat": list(s.cats) or None, "venue": s.venue, "code": "1" if s.code else None,
        "similar": s.similar,
    }
    st.query_params.from_dict({k: v for k, v in params.items() if v})


def _show_similar(arxiv_id: str) -> None:
    st.session_state["similar"] = arxiv_id


def _close_similar() -> None:
    st.session_state["similar"] = None


def _open_watch(arxiv_id: str | None = None) -> None:
    """Open the watch form: the minimum prefilled with the mode's default, or with the watch
    score of the result it was opened from (rounded down, so that paper would qualify)."""
    from index.watch import DEFAULT_MIN_SCORE

    s = st.session_state
    mode = s.mode or "hybrid"
    score = ui.watch_score(s.q, mode, arxiv_id) if arxiv_id else None
    s.watch_open, s.watch_from = True, arxiv_id if score is not None else None
    s.watch_min = max(0.01, int(score * 100) / 100) if score is not None else DEFAULT_MIN_SCORE[mode]
    if not s.get("watch_name"):
        s.watch_name = re.sub(r"[^a-z0-9]+", "-", s.q.lower()).strip("-")[:40] or "watch"


def _close_watch() -> None:
    st.session_state.watch_open = False


def _add_watch(filters: Any) -> None:
    """Save the form's watchlist; the outcome is one line on the next run."""
    from index.watch import new_watchlist

    s = st.session_state
    try:
        watch = new_watchlist(s.watch_name, s.q, filters.categories, filters.venue,
                              filters.has_code, float(s.watch_min), s.mode or "hybrid")
        stored, report = ui.add_watchlist(watch)
    except PaperradarError as exc:
        s.watch_message = ("warning", str(exc))
        return
    found = ("its first check runs with the next index" if report is None else
             f"{report.matches.get(stored.name, 0)} matches among the papers of the last 7 days")
    s.watch_message = ("success", f"Watching '{stored.name}' ({stored.mode} score ≥ "
                                  f"{stored.min_score:g}): {found}. See the Watchlists page.")
    s.watch_open, s.watch_name = False, ""


def _watch_form(filters: Any) -> None:
    s = st.session_state
    with st.form("watch_form"):
        kept = [f"`{c}`" for c in filters.categories]
        kept += [f"venue {ui.md_escape(filters.venue)}"] if filters.venue else []
        kept += ["with code"] if filters.has_code else []
        st.markdown(f"**Watch this search** — new papers matching "
                    f"“{ui.md_escape(s.q.strip())}” ({s.mode or 'hybrid'}"
                    + (f"; {', '.join(kept)}" if kept else "") + ") are reported once each, "
                    "by every daily run. Dates are not kept: a watchlist looks at new papers.")
        name, score = st.columns([3, 1])
        name.text_input("Name", key="watch_name", max_chars=64,
                        help="Letters, digits, '-', '_' or '.'")
        score.number_input("Minimum score", key="watch_min", min_value=0.01, max_value=1.0,
                           step=0.01, format="%.2f",
                           help="A paper is reported when its watch score (0.4 × cosine + 0.6 × "
                           "its share of the query's best possible BM25, in hybrid mode) is at "
                           "least this; 0.45 is the measured default.")
        if s.get("watch_from"):
            st.caption(f"Prefilled with the watch score of {s.watch_from}: papers at least as "
                       "close are reported.")
        save, cancel = st.columns([1, 6])
        save.form_submit_button("Watch", type="primary", icon=":material/notifications:",
                                on_click=_add_watch, args=(filters,))
        cancel.form_submit_button("Cancel", type="tertiary", on_click=_close_watch)


def _card(result: dict[str, Any], key: str, similar_button: bool = True) -> None:
    """One paper: linked title, authors, date, categories, venue badge, code, snippet (one
    Markdown element, so a page of results is few elements for the browser to draw)."""
    authors = result["authors"]
    names = ", ".join(authors[:MAX_AUTHORS]) + (" et al." if len(authors) > MAX_AUTHORS else "")
    meta = [ui.md_escape(names), result["published"],
            " ".join(f"`{c}`" for c in result["categories"])]
    if result.get("venue"):
        meta.append(f":violet-badge[{ui.md_escape(result['venue'])}]")
    if result.get("code_url"):
        mark = " :green-badge[:material/verified: official]" if result.get("code_official") else ""
        meta.append(f"[:material/code: code]({result['code_url']}){mark}")
    lines = [f"**[{ui.md_escape(result['title'])}]({result['url']})**",
             f":small[{' · '.join(meta)}]"]
    if result.get("snippet"):
        lines.append(ui.snippet_md(result["snippet"]))
    with st.container(border=True):
        st.markdown("\n\n".join(lines))
        if similar_button:
            row = st.container(horizontal=True, gap="medium")
            row.button("Similar papers", key=f"similar-{key}-{result['arxiv_id']}",
                       icon=":material/hub:", type="tertiary", on_click=_show_similar,
                       args=(result["arxiv_id"],))
            row.button("Watch", key=f"watch-{key}-{result['arxiv_id']}",
                       icon=":material/notifications:", type="tertiary", on_click=_open_watch,
                       args=(result["arxiv_id"],),
                       help="Save this search as a watchlist that reports new papers at least "
                       "as close to it as this one")


def _filters_row(options: dict[str, Any]) -> Any:
    from index.search import Filters

    c1, c2, c3, c4, c5 = st.columns([1.3, 1.3, 2, 2, 1], vertical_alignment="bottom")
    c1.date_input("Submitted from", key="since", min_value=FIRST_DAY,
                  help="First v1 day (inclusive)")
    c2.date_input("until", key="until", min_value=FIRST_DAY, help="Last v1 day (inclusive)")
    c3.multiselect("Categories", options["categories"], key="cats",
                   placeholder="any category", help="Any of them (cross-lists count)")
    c4.selectbox("Venue", options["venues"], key="venue", index=None, placeholder="any venue",
                 help="'ICML' for every year, 'ICML 2026' for one")
    c5.toggle("Has code", key="code")
    s = st.session_state
    return Filters(s.since, s.until, tuple(s.cats), s.venue, bool(s.code))


def body() -> None:
    st.title("Search")
    ui.snapshot()  # no snapshot: the empty state, before any widget
    options = ui.query(queries.filter_options)
    _seed(options)
    top1, top2, top3 = st.columns([6, 3, 1], vertical_alignment="bottom")
    top1.text_input("Search papers", key="q", placeholder="describe the paper you are looking for",
                    label_visibility="collapsed")
    top2.segmented_control("Mode", MODES, key="mode", help=MODE_HELP,
                           label_visibility="collapsed")
    top3.selectbox("Results", K_CHOICES, key="k", label_visibility="collapsed")
    filters = _filters_row(options)
    _write_url()
    s = st.session_state
    mode = s.mode or "hybrid"  # a segmented control can be cleared

    if s.similar:
        head, close = st.columns([8, 1], vertical_alignment="center")
        head.subheader(f"Papers similar to {s.similar}")
        close.button("Close", key="close-similar", icon=":material/close:",
                     on_click=_close_similar)
        for i, result in enumerate(ui.similar(s.similar, SIMILAR_K, filters)):
            _card(result, f"s{i}")
        st.divider()

    if not s.q.strip():
        if not options["categories"]:
            ui.empty_state("The published database has no papers yet. Fetch some, then index "
                           "them:", "paperradar ingest arxiv\npaperradar index")
            return
        links = " · ".join(f"[{e}](?q={e.replace(' ', '+')})" for e in EXAMPLES)
        st.caption(f"Type what you are looking for and press Enter. Try: {links}")
        return
    results = ui.search(s.q, int(s.k), filters, mode)
    if not results:
        st.info("No paper matches: loosen the filters or try other words.")
        return
    head, watch = st.columns([8, 1], vertical_alignment="center")
    head.caption(f'{len(results)} papers for "{ui.md_escape(s.q.strip())}", best first ({mode}'
                 + (", filtered" if filters.active else "") + ")")
    watch.button("Watch", key="watch-search", icon=":material/notifications:",
                 on_click=_open_watch, help="Save this search as a watchlist")
    message = s.pop("watch_message", None)
    if message:
        (st.success if message[0] == "success" else st.warning)(message[1])
    if s.get("watch_open"):
        _watch_form(filters)
    for i, result in enumerate(results):
        _card(result, f"r{i}")


ui.run_page(body)
