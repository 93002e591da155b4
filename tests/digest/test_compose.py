"""The digest's behaviour around its numbers: the same week gives the same bytes, empty and
partial weeks say so, the default week, new topics, watchlists (each match in one week's
digest; no section without the tables), the HTML's self-containment."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest

from core.errors import UserInputError
from core.publish import current_snapshot, publish
from core.store import Store
from digest import make, parse_week, write
from digest.weeks import Week, default_week
from tests.digest.conftest import CATEGORIES, W19
from tests.support import trend_data

TODAY = date(2026, 11, 22)


@pytest.fixture()
def writable(digest_home: Path, tmp_path: Path) -> Store:
    """A writable copy of the published database."""
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(current_snapshot(digest_home).db_path, copy)
    store = Store.open(copy)
    yield store
    store.close()


def test_the_same_week_twice_gives_the_same_bytes(digest_home: Path, tmp_path: Path) -> None:
    """Made twice, and again from a new snapshot of the same data: identical files."""
    with Store.open_read_only(current_snapshot(digest_home).db_path) as db:
        first = write(make(db, "2026-W19", CATEGORIES, TODAY), tmp_path / "a")
        again = write(make(db, "2026-W19", CATEGORIES, date(2027, 1, 1)), tmp_path / "b")
    home = tmp_path / "home"
    shutil.copytree(digest_home, home, symlinks=True)
    publish(home, current_snapshot(digest_home).db_path, None, {"run": "again"})
    assert current_snapshot(home).path.name != current_snapshot(digest_home).path.name
    with Store.open_read_only(current_snapshot(home).db_path) as db:
        third = write(make(db, "2026-W19", CATEGORIES, TODAY), tmp_path / "c")
    assert [p.name for p in first] == ["2026-W19.md", "2026-W19.html"]
    for a, b, c in zip(first, again, third, strict=True):
        assert a.read_bytes() == b.read_bytes() == c.read_bytes()


@pytest.mark.parametrize(("week", "note"), [
    ("2026-W30", "No papers in this week: the database's newest paper is from 2026-05-11."),
    ("2025-W40", "No papers in this week: the database's oldest paper is from 2026-02-09."),
    ("2026-W13", "No papers in this week."),  # inside the data: trend_data's empty week 6
])
def test_an_empty_week_is_a_short_honest_digest(db: Store, week: str, note: str) -> None:
    made = make(db, week, CATEGORIES, TODAY)
    assert made.digest.empty
    lines = [line for line in made.markdown.splitlines() if line.strip()]
    assert lines[0] == f"# paperradar weekly digest {week}"
    assert f"{note} Nothing rose, nothing was accepted, and no code appeared here." in lines
    assert "## Papers this week" not in made.markdown and "Rising" not in made.markdown
    assert len(lines) <= 12, made.markdown  # the watchlists (none matched) and the footer
    assert note.replace("'", "&#x27;") in made.html or note in made.html


def test_a_partial_week_is_marked_and_ranks_topics_on_the_week_before(db: Store) -> None:
    made = make(db, "2026-W20", CATEGORIES, TODAY)  # the data ends on its Monday
    d = made.digest
    assert d.partial and d.anchor == W19 and d.total.papers > 0
    assert ("**Partial week**: the database holds papers up to 2026-05-11 (the week is not "
            "complete). Its numbers will still grow.") in made.markdown
    assert "(This week is partial, so the window ends with 2026-W19.)" in made.markdown
    assert f"- **{d.total.papers:,} new papers** so far (a partial week: not compared)" \
        in made.markdown
    assert "this week is partial, so its change is not computed" in made.markdown
    table = made.markdown.split("| primary category |", 1)[1].split("\n\n", 1)[0]
    rows = table.splitlines()[2:]  # after the header's end and the alignment row
    assert len(rows) == 4 and all(row.endswith(("| – |", "| **–** |")) for row in rows), rows
    # a tracked category without a paper in any of the weeks is named, not a row of zeros
    assert "No paper in these weeks has cs.LG as its primary category" in made.markdown
    assert d.windows["recent_end"] == W19.end


def test_the_default_week_is_the_last_complete_one(db: Store, tmp_path: Path) -> None:
    assert default_week(db, TODAY) == W19  # W20 holds only its Monday
    assert make(db, None, CATEGORIES, TODAY).digest.week == W19
    with Store.open(tmp_path / "empty.duckdb") as empty:  # no data: the calendar's last week
        assert default_week(empty, date(2026, 5, 13)) == W19


@pytest.mark.parametrize(("text", "message"), [
    ("2026-W54", "2026 has no ISO week 54"), ("2026-W00", "2026 has no ISO week 0"),
    ("26-W5", "is not an ISO week: use YYYY-Www"), ("2026-05-11", "is not an ISO week"),
])
def test_bad_weeks_are_refused(text: str, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        parse_week(text)


def test_week_labels_across_years() -> None:
    assert parse_week("2026-W01").start == date(2025, 12, 29)
    assert parse_week("2020w53").label == "2020-W53"
    assert Week.of(date(2027, 1, 3)).label == "2026-W53"
    assert parse_week("2026-W01").span() == "29 Dec 2025 – 4 Jan 2026"
    assert parse_week("2026-W19").span() == "4–10 May 2026"


def test_a_topic_born_in_the_window_is_listed_as_new(writable: Store) -> None:
    writable.con.execute("UPDATE topics SET born = DATE '2026-04-20' WHERE topic_id = 1")
    made = make(writable, W19, CATEGORIES, TODAY)
    [new] = made.digest.new_topics
    size, week_papers = writable.con.execute(
        "SELECT count(*), count(*) FILTER (WHERE p.published >= ? AND p.published < ?) "
        "FROM paper_topics t JOIN papers p USING (paper_id) WHERE t.topic_id = 1 "
        "AND NOT p.withdrawn", [W19.start, W19.shift(1).start]).fetchone()
    assert (new.label, new.size, new.week_papers) == ("topic a", size, week_papers)
    assert f"born 2026-04-20; {size:,} papers in all, {week_papers:,} this week:" in made.markdown
    assert "### topic a" in made.markdown


def test_each_watchlist_match_is_in_one_weeks_digest(db: Store) -> None:
    """Over the weeks around the matches, every (watchlist, paper) matched is listed in
    exactly one digest, under its watchlist; a paper two watchlists matched is in both."""
    seen: dict[tuple[str, str], list[str]] = {}
    for week in (W19.shift(k) for k in range(-3, 3)):
        made = make(db, week, CATEGORIES, TODAY)
        assert made.digest.watches is not None
        for watch in made.digest.watches:
            for paper in watch.shown:
                seen.setdefault((watch.name, paper.arxiv_id), []).append(week.label)
            assert watch.matches == len(watch.shown) or watch.matches > 10
    matched = db.con.execute("SELECT watchlist, arxiv_id FROM watch_matches").fetchall()
    shown_in_w19 = 10  # 'agents' has 12 matches in W19: 10 listed, "and 2 more"
    assert len(seen) == len(matched) - (12 - shown_in_w19)
    assert all(len(weeks) == 1 for weeks in seen.values()), seen
    both = [a for (w, a) in seen if w == "older" and ("agents", a) in seen]
    assert len(both) == 1 and seen[("agents", both[0])] == seen[("older", both[0])] == ["2026-W20"]
    # the paper 'agents' reported again in W20 stays in W19, with its first score
    [(again, score)] = db.con.execute(
        "SELECT arxiv_id, score FROM watch_matches WHERE watchlist = 'agents' "
        "ORDER BY score DESC, arxiv_id LIMIT 1").fetchall()
    assert seen[("agents", again)] == ["2026-W19"] and score == 0.9


def test_no_watchlists_section_without_the_tables(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.duckdb") as store:
        trend_data.fill(store, date(2026, 2, 9))
        store.con.execute("DROP TABLE IF EXISTS watch_matches")
        store.con.execute("DROP TABLE IF EXISTS watchlists")
        made = make(store, W19, CATEGORIES, TODAY)
    assert made.digest.watches is None
    assert "Watchlists" not in made.markdown and "Watchlists" not in made.html
    assert "## Rising topics" in made.markdown


def test_the_html_is_self_contained(db: Store) -> None:
    html = make(db, W19, CATEGORIES, TODAY).html
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") >= 3
    assert not re.search(r"<script|<link|<img|@import|url\(", html)
    assert not re.search(r'src="', html)
    # Every link goes to arXiv or a paper's repository.
    assert all(h.startswith(("https://arxiv.org/abs/", "https://github.com/", "https://"))
               for h in re.findall(r'href="([^"]+)"', html))
