"""dashboard/queries.py without Streamlit: each answer checked against a direct computation
on the populated snapshot (tests/dashboard/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from core.publish import current_snapshot
from core.store import Store
from dashboard import queries


@pytest.fixture(scope="module")
def store(dashboard_home: Path) -> Iterator[Store]:
    with Store.open_read_only(current_snapshot(dashboard_home).db_path) as db:
        yield db


def one(store: Store, sql: str, params: list | None = None) -> object:
    return store.query(sql, params)[1][0][0]


def test_overview_and_filter_options(store: Store) -> None:
    facts = queries.overview(store)
    assert facts["papers"] == one(store, "SELECT count(*) FROM papers WHERE NOT withdrawn") == 700
    assert facts["with_code"] == one(store, "SELECT count(*) FROM papers WHERE has_code") > 0
    assert facts["first_day"] >= date(2026, 1, 5) and facts["last_day"] <= date(2026, 5, 31)
    options = queries.filter_options(store)
    assert options["categories"][:2] in (["cs.CV", "cs.CL"], ["cs.CL", "cs.CV"])
    assert len(options["categories"]) == one(
        store, "SELECT count(DISTINCT c) FROM (SELECT unnest(categories) AS c FROM papers)")
    venues = {r[0] for r in store.query("SELECT DISTINCT venue FROM papers WHERE venue IS NOT NULL")[1]}
    assert venues <= set(options["venues"])
    heads = [v for v in options["venues"] if v not in venues]
    assert heads and all(any(v.startswith(h + " ") for v in venues) for h in heads)


def test_views_and_topics_are_there(store: Store) -> None:
    assert queries.has_views(store) and queries.has_topics(store)


def test_topic_and_category_trends(store: Store) -> None:
    frame = queries.topic_trends(store, "week", "fine", None, top=1)
    assert frame["topic_id"].nunique() == 1 and frame["period"].nunique() == 12
    biggest = store.query(
        "SELECT topic_id FROM weekly_topic_counts WHERE level = 'fine' AND week >= ? "
        "GROUP BY 1 ORDER BY sum(papers) DESC LIMIT 1", [frame["period"].min()])[1][0][0]
    assert frame["topic_id"].iloc[0] == biggest
    months = queries.category_trends(store, "month", date(2026, 1, 1), top=2)
    assert set(months["category"]) == {"cs.CL", "cs.CV"} and months["period"].nunique() == 5
    total = one(store, "SELECT count(*) FROM papers WHERE primary_category IN ('cs.CL', 'cs.CV')")
    assert months["papers"].sum() == total


def test_emerging_topics_with_sparklines(store: Store) -> None:
    frame = queries.emerging_topics(store, "fine")
    assert len(frame) >= 1 and list(frame["rank"]) == sorted(frame["rank"])
    for row in frame.itertuples():
        assert len(row.weekly) == queries.SPARK_WEEKS
        last = store.query("SELECT papers FROM weekly_topic_counts WHERE topic_id = ? "
                           "ORDER BY week DESC LIMIT 1", [row.topic_id])[1][0][0]
        assert row.weekly[-1] == last


def test_topic_detail(store: Store) -> None:
    topic_id = int(queries.topic_choices(store, "fine")["topic_id"].iloc[0])
    topic = queries.topic_detail(store, topic_id)
    assert topic is not None and topic["level"] == "fine" and topic["top_terms"]
    assert topic["parent_label"]  # fine topics have a broad parent
    central = one(store, "SELECT central_papers FROM topics WHERE topic_id = ?", [topic_id])
    assert list(topic["papers"]["arxiv_id"]) == list(central)
    assert topic["weekly"]["papers"].sum() == one(
        store, "SELECT count(*) FROM paper_topics WHERE topic_id = ?", [topic_id])
    assert queries.topic_detail(store, -1) is None


def test_venues(store: Store) -> None:
    years = queries.venue_years(store)
    assert years["papers"].sum() == one(store, "SELECT count(*) FROM papers WHERE venue IS NOT NULL")
    table = queries.venue_table(store)
    assert list(table["papers"]) == sorted(table["papers"], reverse=True)
    name = years["venue"].iloc[0]
    papers = queries.venue_papers(store, name)
    assert len(papers) == years[years["venue"] == name]["papers"].sum()
    assert list(papers["published"]) == sorted(papers["published"], reverse=True)


def test_code(store: Store) -> None:
    months = queries.code_over_time(store, "month", date(2026, 1, 1))
    assert months["papers"].sum() == 700
    assert months["with_code"].sum() == one(store, "SELECT count(*) FROM papers WHERE has_code")
    by_cat = queries.code_by_category(store, None, top=2)
    assert set(by_cat["category"]) == {"cs.CL", "cs.CV"}
    by_topic = queries.code_by_topic(store, "fine")
    assert by_topic["papers"].sum() == 700
    assert len(queries.code_by_venue(store, 5)) <= 5
    buckets = queries.days_to_code(store)
    assert buckets["papers"].sum() == one(
        store, "SELECT count(*) FROM papers_enriched WHERE days_to_code IS NOT NULL")
    newest = queries.newest_official_code(store, 5)
    assert len(newest) == 5 and list(newest["published"]) == sorted(newest["published"],
                                                                     reverse=True)
    assert set(newest["arxiv_id"]) <= {r[0] for r in store.query(
        "SELECT arxiv_id FROM code_links WHERE is_official")[1]}


def test_papers_per_day_flags_empty_weekdays(store: Store) -> None:
    frame = queries.papers_per_day(store, 60)
    assert len(frame) == 60
    last = one(store, "SELECT max(published)::DATE FROM papers")
    assert frame["day"].iloc[-1] == last and frame["day"].iloc[0] == last - timedelta(days=59)
    for row in frame.itertuples():
        assert row.gap == (row.papers == 0 and row.day.weekday() < 5)
    assert frame["papers"].sum() == one(
        store, "SELECT count(*) FROM papers WHERE published::DATE > ?", [last - timedelta(days=60)])


def test_digest_files(tmp_path: Path) -> None:
    assert queries.digest_files(tmp_path) == []
    folder = tmp_path / "digests"
    folder.mkdir()
    for name in ("2026-W01.md", "2026-W02.html", "2026-W02.md", "notes.txt"):
        (folder / name).write_text("x")
    assert [p.name for p in queries.digest_files(tmp_path)] == ["2026-W02.md", "2026-W02.html",
                                                                "2026-W01.md"]


def test_watchlists_and_their_matches(watch_home: Path) -> None:
    """On a home with two watchlists (added as `paperradar watch add` adds them): the list
    with counts and last match, and each one's matches newest first, with links."""
    from core.settings import Settings
    from flows import steps
    from index.watch import new_watchlist

    for watch in (new_watchlist("edit", "diffusion models for image editing", min_score=0.3),
                  new_watchlist("none", "diffusion models for image editing", ["cs.CL"],
                                has_code=True, min_score=0.99)):
        steps.watch_add(Settings(), watch)
    with Store.open_read_only(current_snapshot(watch_home).db_path) as db:
        table = queries.watchlists(db)
        assert list(table["name"]) == ["edit", "none"]
        expected = dict(db.query("SELECT watchlist, count(*) FROM watch_matches GROUP BY 1")[1])
        assert dict(zip(table["name"], table["matches"], strict=True)) == {
            "edit": expected["edit"], "none": 0}
        edit = table.set_index("name").loc["edit"]
        assert edit["min_score"] == 0.3 and edit["mode"] == "hybrid" and edit["last_match"] is not None
        assert table.set_index("name").loc["none"]["categories"] == ["cs.CL"]
        matches = queries.watch_matches(db, "edit")
        direct = db.query("SELECT arxiv_id FROM watch_matches WHERE watchlist = 'edit' "
                          "ORDER BY score DESC, arxiv_id")[1]
        assert list(matches["arxiv_id"]) == [r[0] for r in direct]  # one check: best first
        assert (matches["score"] >= 0.3).all()
        assert list(matches["url"]) == [f"https://arxiv.org/abs/{a}" for a in matches["arxiv_id"]]
        assert len(queries.watch_matches(db, "edit", 2)) == 2
        assert queries.watch_matches(db, "none").empty


def test_watchlists_of_a_database_without_them() -> None:
    import duckdb

    bare = Store(duckdb.connect(":memory:"), Path("bare.duckdb"), read_only=True)
    frame = queries.watchlists(bare)
    assert frame.empty and list(frame.columns) == queries.WATCH_COLUMNS
