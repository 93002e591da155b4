"""Every dashboard page through streamlit.testing.v1.AppTest: with no database, with an empty
published one and with a populated one (tests/dashboard/conftest.py); search, filters,
shareable URLs, similar papers, the SQL page's refusals, caches following new snapshots,
and that a failure shows one line instead of a traceback."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PAGES = ("search", "trends", "venues", "code", "digests", "watchlists", "health", "sql")
# What each page shows on the populated snapshot.
KEY_TEXT = {
    "search": ["Type what you are looking for"],
    "trends": ["Topics over time", "Emerging topics", "Topic detail", "Primary categories over time"],
    "venues": ["Accepted papers per venue and year", "Code availability per venue",
               "Browse a venue"],
    "code": ["Share of papers with code over time", "By primary category", "By topic", "By venue",
             "Time from v1 to first code", "Newest papers with official code"],
    "digests": ["No digest yet", "This week so far", "Preview of 2026-W22 (partial: the data ends"],
    "watchlists": ["No watchlists yet", "paperradar watch add"],
    "health": ["Freshness per source", "Papers per day", "Index consistency", "Last runs"],
    "sql": ["Read-only SQL over the published database"],
}
QUERY = "machine translation for low-resource languages"


@pytest.fixture()
def use_home(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Point the dashboard at a PAPERRADAR_HOME (no other PAPERRADAR_* leaks in)."""
    import os

    def use(home: Path) -> Path:
        for name in list(os.environ):
            if name.startswith("PAPERRADAR_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("PAPERRADAR_HOME", str(home))
        monkeypatch.setenv("PAPERRADAR_DEVICE", "cpu")
        return home

    return use


def render(page: str = "search", query: dict[str, Any] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query or {})
    at.run()
    if page != "search":
        at.switch_page(f"pages/{page}.py").run()
    return at


def texts(at: AppTest) -> str:
    """Everything written on the page, one string."""
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error",
                 "success", "code"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert "Traceback" not in texts(at)


def results(at: AppTest) -> list[str]:
    """arXiv ids of the result cards, in order (from their linked titles)."""
    import re

    ids = []
    for md in at.markdown:
        found = re.match(r"\*\*\[.*?\]\(https://arxiv\.org/abs/([^)]+)\)\*\*\n", md.value)
        if found:
            ids.append(found.group(1))
    return ids


# ---------------------------------------------------------------- empty states


@pytest.mark.parametrize("page", PAGES)
def test_pages_without_a_database_explain_what_to_run(page: str, tmp_path: Path, use_home) -> None:
    use_home(tmp_path / "nothing-here")
    at = render(page)
    assert_clean(at)
    shown = texts(at)
    if page == "digests":
        assert "paperradar digest" in shown
    else:
        assert "No published database" in shown and "paperradar index" in shown


@pytest.mark.parametrize("page", PAGES)
def test_pages_on_an_empty_published_database(page: str, empty_home: Path, use_home) -> None:
    use_home(empty_home)
    at = render(page)
    assert_clean(at)
    shown = texts(at)
    expected = {"search": "no papers yet", "trends": "No papers yet", "venues": "No venue",
                "code": "No papers yet", "digests": "No digest yet", "health": "Freshness",
                "watchlists": "No watchlists yet",
                "sql": "Read-only SQL"}[page]
    assert expected in shown, shown


# ---------------------------------------------------------------- a populated snapshot


@pytest.mark.parametrize("page", PAGES)
def test_pages_on_a_populated_database(page: str, dashboard_home: Path, use_home) -> None:
    use_home(dashboard_home)
    at = render(page)
    assert_clean(at)
    shown = texts(at)
    for text in KEY_TEXT[page]:
        assert text in shown, (text, shown[:2000])


def test_search_returns_result_cards(dashboard_home: Path, use_home) -> None:
    use_home(dashboard_home)
    at = render()
    at.text_input(key="q").input(QUERY).run()
    assert_clean(at)
    ids = results(at)
    assert len(ids) == 10
    shown = texts(at)
    assert '10 papers for "machine translation for low\\-resource languages"' in shown
    assert "**translation**" in shown.lower()  # the snippet marks the query's terms
    assert at.query_params["q"] == QUERY  # the URL holds the search
    assert len([b for b in at.button if b.label == "Similar papers"]) == 10


def test_filters_change_the_results(dashboard_home: Path, use_home) -> None:
    from core.publish import current_snapshot
    from core.store import Store

    use_home(dashboard_home)
    at = render(query={"q": QUERY, "k": "20"})
    unfiltered = results(at)
    with Store.open_read_only(current_snapshot(dashboard_home).db_path) as db:
        def rows(ids: list[str]) -> dict[str, dict[str, Any]]:
            names, found = db.query(
                "SELECT arxiv_id, categories, published::DATE AS day, venue, has_code FROM papers "
                "WHERE arxiv_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
            return {r[0]: dict(zip(names, r, strict=True)) for r in found}

        at.multiselect(key="cats").set_value(["cs.CV"]).run()
        cv = results(at)
        assert cv and cv != unfiltered
        assert all("cs.CV" in r["categories"] for r in rows(cv).values())
        assert at.query_params["cat"] == "cs.CV"

        at.multiselect(key="cats").set_value([]).run()
        at.toggle(key="code").set_value(True).run()
        with_code = results(at)
        assert with_code and with_code != unfiltered
        assert all(r["has_code"] for r in rows(with_code).values())

        at.toggle(key="code").set_value(False).run()
        at.date_input(key="since").set_value(date(2026, 4, 1)).run()
        at.date_input(key="until").set_value(date(2026, 4, 30)).run()
        april = results(at)
        assert april and april != unfiltered
        assert all(date(2026, 4, 1) <= r["day"] <= date(2026, 4, 30) for r in rows(april).values())
        assert (at.query_params["since"], at.query_params["until"]) == ("2026-04-01", "2026-04-30")

        at.date_input(key="since").set_value(None).run()
        at.date_input(key="until").set_value(None).run()
        venue = at.selectbox(key="venue").options[0]
        at.selectbox(key="venue").set_value(venue).run()
        at_venue = results(at)
        assert at_venue and all(r["venue"] and r["venue"].lower().startswith(venue.lower())
                                for r in rows(at_venue).values())
    assert_clean(at)


def test_the_mode_changes_the_ranking(dashboard_home: Path, use_home) -> None:
    use_home(dashboard_home)
    at = render(query={"q": "speech recognition"})
    hybrid = results(at)
    at.segmented_control(key="mode").set_value("keyword").run()
    keyword = results(at)
    at.segmented_control(key="mode").set_value("semantic").run()
    semantic = results(at)
    assert_clean(at)
    assert len({tuple(hybrid), tuple(keyword), tuple(semantic)}) >= 2
    assert at.query_params["mode"] == "semantic"


def test_a_shared_url_restores_the_search(dashboard_home: Path, use_home) -> None:
    use_home(dashboard_home)
    link = {"q": QUERY, "mode": "keyword", "cat": "cs.CL", "code": "1", "k": "20",
            "since": "2026-02-01", "until": "not a date"}
    at = render(query=link)
    assert_clean(at)
    assert at.text_input(key="q").value == QUERY
    assert at.segmented_control(key="mode").value == "keyword"
    assert at.multiselect(key="cats").value == ["cs.CL"]
    assert at.toggle(key="code").value is True
    assert at.date_input(key="since").value == date(2026, 2, 1)
    assert at.date_input(key="until").value is None  # a bad date is dropped, not an error
    assert results(at)
    assert {k: at.query_params[k] for k in ("q", "mode", "cat", "code", "k", "since")} == {
        k: link[k] for k in ("q", "mode", "cat", "code", "k", "since")}


def test_similar_papers_of_a_result(dashboard_home: Path, use_home) -> None:
    use_home(dashboard_home)
    at = render(query={"q": QUERY})
    first = results(at)[0]
    next(b for b in at.button if b.label == "Similar papers").click().run()
    assert_clean(at)
    assert f"Papers similar to {first}" in texts(at)
    assert at.query_params["similar"] == first
    similar = results(at)[:8]
    assert len(similar) == 8 and first not in similar
    at.button(key="close-similar").click().run()
    assert "Papers similar to" not in texts(at)


def test_bad_filters_are_one_line(dashboard_home: Path, use_home) -> None:
    use_home(dashboard_home)
    at = render(query={"q": QUERY, "since": "2026-05-01", "until": "2026-04-01"})
    assert not at.exception
    assert any("after" in w.value for w in at.warning), [w.value for w in at.warning]


def test_trends_controls(dashboard_home: Path, use_home) -> None:
    use_home(dashboard_home)
    at = render("trends")
    assert at.dataframe, "the emerging topics table"
    emerging = at.dataframe[0].value
    assert {"label", "growth", "weekly"} <= set(emerging.columns)
    assert len(emerging["weekly"].iloc[0]) == 16
    at.segmented_control(key="trend_period").set_value("month").run()
    at.segmented_control(key="trend_level").set_value("broad").run()
    at.radio(key="trend_chart").set_value("lines").run()
    assert_clean(at)
    shown = texts(at)
    assert "Representative papers" in shown or "Topic detail" in shown


def test_topic_detail(dashboard_home: Path, use_home) -> None:
    from core.publish import current_snapshot
    from core.store import Store
    from dashboard.ui import md_escape

    use_home(dashboard_home)
    at = render("trends")
    topic_id = at.selectbox(key="topic_detail").value
    with Store.open_read_only(current_snapshot(dashboard_home).db_path) as db:
        [(label, terms)] = db.query("SELECT label, top_terms FROM topics WHERE topic_id = ?",
                                    [topic_id])[1]
    shown = texts(at)
    assert "Representative papers" in shown
    assert md_escape(terms[0]) in shown


def test_venue_browse(dashboard_home: Path, use_home) -> None:
    use_home(dashboard_home)
    at = render("venues")
    box = at.selectbox(key="venue_browse")
    name = box.options[0]
    papers = at.dataframe[-1].value
    assert len(papers) and all(name in v for v in papers["venue"])
    box.set_value(box.options[-1]).run()
    assert_clean(at)


# ---------------------------------------------------------------- SQL


@pytest.mark.parametrize("statement, reason", [
    ("DROP TABLE papers", "DROP"),
    ("COPY papers TO '/tmp/papers.csv'", "COPY"),
    ("ATTACH '/tmp/other.duckdb' AS other", "ATTACH"),
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("SELECT * FROM '/etc/passwd'", "reading files"),
    ("SELECT 1; DROP TABLE papers", "one statement"),
    ("INSTALL httpfs", "INSTALL"),
    ("DELETE FROM papers", "DELETE"),
])
def test_sql_page_refuses(statement: str, reason: str, dashboard_home: Path, use_home) -> None:
    use_home(dashboard_home)
    at = render("sql")
    at.text_area(key="sql").input(statement)
    at.button(key="run_sql").click().run()
    assert not at.exception
    assert len(at.error) == 1 and reason in at.error[0].value, [e.value for e in at.error]
    assert not at.dataframe


def test_sql_page_runs_queries_with_a_row_cap(dashboard_home: Path, use_home) -> None:
    use_home(dashboard_home)
    at = render("sql")
    at.text_area(key="sql").input("SELECT count(*) AS n FROM papers")
    at.button(key="run_sql").click().run()
    assert_clean(at)
    assert at.dataframe[0].value["n"].iloc[0] == 700
    at.text_area(key="sql").input("SELECT * FROM range(5000)")
    at.button(key="run_sql").click().run()
    assert len(at.dataframe[0].value) == 1000
    assert any("only the first 1,000" in c.value for c in at.caption)
    at.selectbox(key="sql_example").set_value("Emerging fine topics").run()
    at.button(key="run_sql").click().run()
    assert_clean(at)
    assert "emerging_score" in at.text_area(key="sql").value


# ---------------------------------------------------------------- digests, caches, failures


def test_digests_are_rendered(tmp_path: Path, use_home) -> None:
    home = use_home(tmp_path / "home")
    (home / "digests").mkdir(parents=True)
    (home / "digests" / "2026-W22.md").write_text("# Week 22\n\nThree papers on **decoding**.\n")
    (home / "digests" / "2026-W23.html").write_text("<h1>Week 23</h1><p>Five papers.</p>")
    at = render("digests")
    assert_clean(at)
    assert at.selectbox(key="digest").options == ["2026-W23.html", "2026-W22.md"]
    at.selectbox(key="digest").set_value("2026-W22.md").run()
    assert "Three papers on **decoding**." in texts(at)


def test_the_digest_preview_is_the_week_in_progress(dashboard_home: Path, use_home) -> None:
    """The newest week of the data composed in memory, as `paperradar digest` would write it,
    marked partial; nothing written under the home."""
    from core.publish import current_snapshot
    from core.settings import Settings
    from core.store import Store
    from digest import make
    from digest.weeks import Week

    use_home(dashboard_home)
    at = render("digests")
    assert_clean(at)
    with Store.open_read_only(current_snapshot(dashboard_home).db_path) as db:
        last = db.con.execute("SELECT max(published)::DATE FROM papers").fetchone()[0]
        expected = make(db, Week.of(last), Settings().categories, last)
    assert expected.digest.partial and expected.digest.week.label == "2026-W22"
    assert any(c.value.startswith(f"Preview of 2026-W22 (partial: the data ends {last}, so")
               for c in at.caption)
    [shown] = at.html
    assert shown.proto.body == expected.html.strip()
    assert not (dashboard_home / "digests").exists()


def test_a_new_snapshot_replaces_cached_answers(empty_home: Path, tmp_path: Path, use_home,
                                                 fixtures_dir: Path) -> None:
    from core.publish import publish
    from core.settings import Settings
    from core.store import Store
    from tests.dashboard.conftest import corpus

    home = use_home(tmp_path / "home")
    shutil.copytree(empty_home, home, symlinks=True)
    at = render("code")
    assert "No papers yet" in texts(at)
    settings = Settings()
    with Store.open(settings.work_db) as store:
        store.upsert_papers(corpus(fixtures_dir, 50))
        store.checkpoint()
    publish(home, settings.work_db, None, {"run": "test"})
    at.run()
    assert_clean(at)
    assert "Share of papers with code over time" in texts(at)


def test_a_failure_is_one_line_not_a_traceback(dashboard_home: Path, use_home,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as st

    from core.publish import current_snapshot
    from dashboard import queries, ui

    def broken(store: object) -> None:
        raise RuntimeError("the view is broken\nsecond line")

    use_home(dashboard_home)
    render("digests")
    ui.warm_up(str(current_snapshot(dashboard_home).path)).join(timeout=300)
    monkeypatch.setattr(queries, "venue_table", broken)
    st.cache_data.clear()
    at = render("venues")
    assert not at.exception
    [error] = at.error
    assert "RuntimeError: the view is broken" in error.value and "second line" not in error.value
    st.cache_data.clear()


def test_default_views_are_computed_in_the_background(dashboard_home: Path, tmp_path: Path,
                                                      use_home, monkeypatch: pytest.MonkeyPatch,
                                                      ) -> None:
    """Once a snapshot is seen, every query the pages make with their default widgets runs
    in the background (dashboard/warm.py): opening any page afterwards computes nothing."""
    import inspect
    import os

    from core.publish import current_snapshot
    from dashboard import queries, ui

    home = use_home(tmp_path / "home")  # a copy: its own snapshot path, so its own cache keys
    shutil.copytree(dashboard_home, home, symlinks=True, copy_function=os.link)
    render("digests")  # the sidebar starts the warm-up
    thread = ui.warm_up(str(current_snapshot(home).path))
    thread.join(timeout=300)
    assert not thread.is_alive()
    computed: list[str] = []
    for name, fn in inspect.getmembers(queries, inspect.isfunction):
        # digest_files lists a folder on each run (no database query, nothing to cache)
        if fn.__module__ == queries.__name__ and name not in ("digest_files",) \
                and not name.startswith("_"):
            def spy(*args: Any, _fn: Any = fn, _name: str = name) -> Any:
                computed.append(_name)
                return _fn(*args)
            spy.__module__, spy.__qualname__ = fn.__module__, fn.__qualname__
            monkeypatch.setattr(queries, name, spy)
    for page in PAGES:
        at = render(page)
        assert_clean(at)
    assert computed == [], f"computed on first view: {computed}"


# ---------------------------------------------------------------- watchlists


def writable_copy(home: Path, to: Path) -> Path:
    """A copy of a published home that a page may write to: published snapshots, index,
    vectors and models hard-linked (they are replaced, never changed in place), the working
    database copied."""
    import os

    shutil.copytree(home, to, symlinks=True, copy_function=os.link)
    for name in ("papers.duckdb", "writer.lock"):
        (to / "work" / name).unlink(missing_ok=True)
    shutil.copyfile(home / "work" / "papers.duckdb", to / "work" / "papers.duckdb")
    return to


def submit(at: AppTest, label: str) -> AppTest:
    """Click the watch form's submit button `label`, run the page."""
    [button] = [b for b in at.button if b.label == label and b.form_id == "watch_form"]
    return button.click().run()


def published_watchlists(home: Path) -> list[tuple]:
    from core.publish import current_snapshot
    from core.store import Store

    with Store.open_read_only(current_snapshot(home).db_path) as db:
        return db.query("SELECT name, query, categories, min_score, mode FROM watchlists "
                        "ORDER BY name")[1]


def test_watch_a_search_from_a_result_then_remove_it(dashboard_home: Path, tmp_path: Path,
                                                     use_home) -> None:
    """Watch under a result opens the form with the search's query and filters and that
    paper's own watch score as the minimum; saving it runs `paperradar watch add`'s code
    (checked, published); the Watchlists page lists it with its matches and removes it."""
    from core.publish import current_snapshot
    from core.store import Store, paper_key
    from dashboard.ui import md_escape
    from flows.steps import embedder
    from index.search import Searcher
    from index.watch import score_of

    home = use_home(writable_copy(dashboard_home, tmp_path / "home"))
    at = render(query={"q": QUERY, "cat": "cs.CL"})
    first = results(at)[0]
    watch = [b for b in at.button if b.label == "Watch" and b.key.startswith("watch-r")]
    assert len(watch) == 10
    watch[0].click().run()
    assert_clean(at)
    searcher = Searcher(current_snapshot(home), embedder(_settings()))
    try:
        score = score_of(searcher, QUERY, "hybrid", paper_key(first))
    finally:
        searcher.close()
    assert score is not None
    assert at.number_input(key="watch_min").value == pytest.approx(int(score * 100) / 100)
    assert at.text_input(key="watch_name").value == "machine-translation-for-low-resource-lan"
    assert f"Prefilled with the watch score of {first}" in texts(at)
    assert "`cs.CL`" in texts(at)
    at.text_input(key="watch_name").input("mt")
    submit(at, "Watch")
    assert_clean(at)
    [saved] = [m.value for m in at.success]
    assert saved.startswith("Watching 'mt' (hybrid score ≥ ") and "matches among" in saved
    assert published_watchlists(home) == [("mt", QUERY, ["cs.CL"], int(score * 100) / 100,
                                           "hybrid")]
    assert not [b for b in at.button if b.form_id == "watch_form"]  # the form closed

    from flows.steps import watch_add
    from index.watch import new_watchlist

    watch_add(_settings(), new_watchlist("broad", QUERY, min_score=0.15))  # as the CLI adds it
    page = render("watchlists")
    assert_clean(page)
    shown = texts(page)
    assert "Recent matches of broad" in shown and md_escape(QUERY) in shown
    assert list(page.dataframe[0].value["name"]) == ["broad", "mt"]
    matches = page.dataframe[1].value
    with Store.open_read_only(current_snapshot(home).db_path) as db:
        expected = db.query("SELECT arxiv_id FROM watch_matches WHERE watchlist = 'broad' "
                            "ORDER BY score DESC, arxiv_id")[1]
    assert expected and [u.rsplit("/", 1)[1] for u in matches["url"]] == [r[0] for r in expected]
    page.selectbox(key="watchlist").set_value("mt").run()
    assert "Recent matches of mt" in texts(page)
    page.button(key="watch_rm").click().run()
    assert_clean(page)
    assert page.success[0].value.startswith("Removed 'mt' and its ")
    assert list(page.dataframe[0].value["name"]) == ["broad"]
    assert [r[0] for r in published_watchlists(home)] == ["broad"]


def test_the_watch_form_says_what_is_wrong_in_one_line(dashboard_home: Path, tmp_path: Path,
                                                      use_home) -> None:
    from tests.core.test_writer import held_elsewhere

    home = use_home(writable_copy(dashboard_home, tmp_path / "home"))
    at = render(query={"q": QUERY})
    at.button(key="watch-search").click().run()
    assert at.number_input(key="watch_min").value == pytest.approx(0.45)  # the mode's default
    at.text_input(key="watch_name").input("two words")
    submit(at, "Watch")
    assert not at.exception and "bad watchlist name 'two words'" in at.warning[0].value
    at.button(key="watch-search").click().run()
    at.text_input(key="watch_name").input("mt")
    with held_elsewhere(home):  # a flow run is writing
        submit(at, "Watch")
    assert not at.exception
    assert "the daily flow (pid " in at.warning[0].value
    assert "try again when it has finished" in at.warning[0].value
    assert published_watchlists(home) == []
    at.button(key="watch-search").click().run()
    submit(at, "Cancel")
    assert not [b for b in at.button if b.form_id == "watch_form"]


def _settings() -> Any:
    from core.settings import Settings

    return Settings()
