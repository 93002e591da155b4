"""The dashboard's questions as plain functions: a read-only Store in, DataFrames and dicts out.

No Streamlit here, so each is unit-tested on its own (tests/dashboard/test_queries.py) and
cached by the pages (dashboard/ui.py). The arithmetic of trends lives in the SQL views
(core/views.py) and index/trends.py; these functions pick, shape and limit their rows.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from core.store import Store
from index import trends as tr

SPARK_WEEKS = 16  # weeks of history in the emerging-topics sparklines
GAP_DAYS = 60  # papers-per-day window on the health page
DIGEST_SUFFIXES = (".md", ".html")

EXAMPLE_QUERIES: dict[str, str] = {
    "Papers per week by primary category (last 12 weeks)": (
        "SELECT week, category, papers, round(share, 3) AS share, round(growth, 2) AS growth\n"
        "FROM weekly_category_counts\n"
        "WHERE week >= (SELECT max(week) FROM weekly_category_counts) - INTERVAL 11 WEEK\n"
        "ORDER BY week DESC, papers DESC"
    ),
    "Emerging fine topics": (
        "SELECT rank, label, recent_papers, baseline_papers, round(growth, 2) AS growth,\n"
        "       round(emerging_score, 2) AS score, born, young\n"
        "FROM emerging_topics WHERE level = 'fine' AND supported\n"
        "ORDER BY rank LIMIT 20"
    ),
    "Code availability by month": (
        "SELECT month, partial, papers, with_code, round(share_with_code, 3) AS share,\n"
        "       with_official_code, median_days_to_code\n"
        "FROM code_availability_monthly ORDER BY month DESC"
    ),
    "Venues by accepted papers": (
        "SELECT venue, kind, papers, with_code, round(share_with_code, 2) AS share_with_code\n"
        "FROM venue_counts ORDER BY papers DESC LIMIT 30"
    ),
    "Most prolific authors": (
        "SELECT author, count(*) AS papers\n"
        "FROM (SELECT unnest(authors) AS author FROM papers WHERE NOT withdrawn)\n"
        "GROUP BY author ORDER BY papers DESC LIMIT 20"
    ),
    "Newest papers with official code": (
        "SELECT arxiv_id, published_day, title, code_url\n"
        "FROM papers_enriched WHERE code_official\n"
        "ORDER BY published DESC LIMIT 20"
    ),
    "Tables and views": "SHOW TABLES",
    "Columns of papers": "DESCRIBE papers",
}


def _frame(store: Store, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    names, rows = store.query(sql, params)
    return pd.DataFrame.from_records(rows, columns=names)


def has_views(store: Store) -> bool:
    """Whether the snapshot has the trend views (databases before migration 4 have not)."""
    _, rows = store.query("SELECT count(*) FROM duckdb_views() WHERE view_name = 'papers_enriched'")
    return bool(rows[0][0])


def has_topics(store: Store) -> bool:
    _, rows = store.query("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'topics'")
    if not rows[0][0]:
        return False
    _, rows = store.query("SELECT count(*) FROM topics WHERE retired_at IS NULL")
    return bool(rows[0][0])


# ---------------------------------------------------------------- overview and filters


def overview(store: Store) -> dict[str, Any]:
    """Counts for the sidebar: papers, with code, with a venue, first and newest v1 day."""
    names, [row] = store.query(
        "SELECT count(*) AS papers, count(*) FILTER (WHERE has_code) AS with_code, "
        "count(venue) AS with_venue, min(published)::DATE AS first_day, "
        "max(published)::DATE AS last_day FROM papers WHERE NOT withdrawn")
    return dict(zip(names, row, strict=True))


def filter_options(store: Store) -> dict[str, Any]:
    """What the search filters offer: categories (most papers first), venues (names alone
    and with their year, most papers first), and the v1 date span."""
    _, cats = store.query(
        "SELECT c, count(*) FROM (SELECT unnest(categories) AS c FROM papers WHERE NOT withdrawn) "
        "GROUP BY c ORDER BY count(*) DESC, c")
    _, venues = store.query(
        "SELECT venue, count(*) FROM papers WHERE venue IS NOT NULL AND NOT withdrawn "
        "GROUP BY venue ORDER BY count(*) DESC, venue")
    names: dict[str, int] = {}
    for venue, n in venues:
        # "ICML 2026" and "ICLR 2026 Workshop" also offer "ICML" / "ICLR" (any year).
        head = venue.split(" ")[0] if not venue.startswith("Findings of ") else None
        if head and head != venue:
            names[head] = names.get(head, 0) + n
    _, [(first, last)] = store.query(
        "SELECT min(published)::DATE, max(published)::DATE FROM papers WHERE NOT withdrawn")
    venue_list = [v for v, _ in sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))]
    venue_list += [v for v, _ in venues if v not in names]
    return {"categories": [c for c, _ in cats], "venues": venue_list,
            "first_day": first, "last_day": last}


# ---------------------------------------------------------------- trends


def topic_trends(store: Store, period: tr.Period, level: tr.Level = "fine",
                 since: date | None = None, top: int = 10) -> pd.DataFrame:
    """Papers per period of the `top` topics with most papers over the span shown
    (index.trends.series rows: period, partial, topic_id, label, papers, share, growth)."""
    frame = pd.DataFrame(tr.series(store, "topic", period, since, level))
    if frame.empty:
        return frame
    leaders = frame.groupby("topic_id")["papers"].sum().nlargest(top).index
    frame = frame[frame["topic_id"].isin(leaders)].copy()
    frame["topic"] = frame["topic_id"].astype(str) + " · " + frame["label"]
    return frame.rename(columns={period: "period"})


def category_trends(store: Store, period: tr.Period, since: date | None = None,
                    top: int = 10) -> pd.DataFrame:
    """Papers per period of the `top` primary categories with most papers over the span."""
    frame = pd.DataFrame(tr.series(store, "category", period, since))
    if frame.empty:
        return frame
    leaders = frame.groupby("category")["papers"].sum().nlargest(top).index
    return frame[frame["category"].isin(leaders)].rename(columns={period: "period"})


def emerging_topics(store: Store, level: tr.Level = "fine", category: str | None = None,
                    limit: int = 20) -> pd.DataFrame:
    """Topics ranked by emerging score (index.trends.emerging), each with `weekly`: its
    papers in each of the last SPARK_WEEKS weeks, oldest first (for a sparkline)."""
    rows = tr.emerging(store, level, category, limit)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    ids = [int(i) for i in frame["topic_id"]]
    _, weeks = store.query(
        "SELECT period FROM period_totals WHERE period_kind = 'week' ORDER BY period DESC LIMIT ?",
        [SPARK_WEEKS])
    span = sorted(w for (w,) in weeks)
    _, counts = store.query(
        "SELECT topic_id, week, papers FROM weekly_topic_counts "
        "WHERE topic_id IN (SELECT unnest(?::BIGINT[])) AND week >= ?",
        [ids, span[0] if span else date.min])
    by_topic: dict[int, dict[date, int]] = {}
    for topic_id, week, papers in counts:
        by_topic.setdefault(int(topic_id), {})[week] = int(papers)
    frame["weekly"] = [[by_topic.get(i, {}).get(w, 0) for w in span] for i in ids]
    return frame


def topic_choices(store: Store, level: tr.Level = "fine") -> pd.DataFrame:
    """Live topics of `level`, largest first: topic_id, label, size."""
    return _frame(store, "SELECT topic_id, label, size FROM topics WHERE level = ? AND "
                         "retired_at IS NULL ORDER BY size DESC, topic_id", [level])


def topic_detail(store: Store, topic_id: int) -> dict[str, Any] | None:
    """A topic: label, level, top terms, size, born, its broad parent, emerging numbers
    (growth, score, recent and baseline papers), papers per week, and its representative
    papers (closest to the centroid). None for an unknown id."""
    names, rows = store.query(
        "SELECT t.topic_id, t.level, t.label, t.top_terms, t.size, t.born, t.retired_at, "
        "t.central_papers, p.label AS parent_label FROM topics t "
        "LEFT JOIN topics p ON p.topic_id = t.parent_id WHERE t.topic_id = ?", [topic_id])
    if not rows:
        return None
    topic = dict(zip(names, rows[0], strict=True))
    names, rows = store.query(
        "SELECT recent_papers, baseline_papers, growth, emerging_score, rank, recent_start, "
        "recent_end FROM emerging_topics WHERE topic_id = ?", [topic_id])
    topic["emerging"] = dict(zip(names, rows[0], strict=True)) if rows else None
    topic["weekly"] = _frame(
        store, "SELECT week, papers, share, growth, partial FROM weekly_topic_counts "
               "WHERE topic_id = ? ORDER BY week", [topic_id])
    central = list(topic.pop("central_papers") or [])
    papers = _frame(
        store, "SELECT arxiv_id, title, published_day AS published, primary_category, venue, "
               "code_url FROM papers_enriched WHERE arxiv_id IN (SELECT unnest(?::VARCHAR[]))",
        [central])
    if not papers.empty:
        order = {a: i for i, a in enumerate(central)}
        papers = papers.sort_values("arxiv_id", key=lambda s: s.map(order)).reset_index(drop=True)
    topic["papers"] = papers
    topic["top_terms"] = list(topic["top_terms"] or [])
    return topic


# ---------------------------------------------------------------- venues


def venue_years(store: Store) -> pd.DataFrame:
    """Accepted papers per venue name and year (all kinds together), with code shares."""
    return _frame(
        store,
        "SELECT venue_name AS venue, year, sum(papers)::BIGINT AS papers, "
        "sum(with_code)::BIGINT AS with_code, sum(with_official_code)::BIGINT AS with_official_code, "
        "sum(with_code) / sum(papers) AS share_with_code "
        "FROM venue_counts WHERE venue_name IS NOT NULL GROUP BY ALL ORDER BY papers DESC, venue, year")


def venue_table(store: Store) -> pd.DataFrame:
    """One row per venue as shown ('ICML 2026', 'ICLR 2026 Workshop'): papers and code."""
    return _frame(
        store,
        "SELECT venue, venue_name, year, kind, papers, with_code, with_official_code, "
        "share_with_code, share_official, median_days_to_code FROM venue_counts "
        "ORDER BY papers DESC, venue")


def venue_papers(store: Store, venue: str, limit: int = 200) -> pd.DataFrame:
    """A venue's papers, newest first: one venue as shown ('ICML 2026 Workshop'), or a
    canonical name ('ICML': every year and kind, Findings and workshops included)."""
    return _frame(
        store,
        "SELECT arxiv_id, title, published_day AS published, venue, primary_category, "
        "code_url, code_official FROM papers_enriched "
        "WHERE lower(venue) = lower(?) OR lower(venue_name) = lower(?) "
        "ORDER BY published DESC, arxiv_id LIMIT ?", [venue, venue, limit])


# ---------------------------------------------------------------- code


def code_over_time(store: Store, period: tr.Period, since: date | None = None) -> pd.DataFrame:
    """Per period: papers, with code (any source), with official code, their shares and the
    median days from v1 to the first repository link."""
    frame = pd.DataFrame(tr.series(store, "code", period, since))
    return frame.rename(columns={period: "period"}) if not frame.empty else frame


def code_by_category(store: Store, since: date | None = None, top: int = 8) -> pd.DataFrame:
    """Share of papers with code per month for the `top` primary categories."""
    frame = _frame(
        store,
        "SELECT month AS period, partial, category, papers, with_code, with_official_code, "
        "share_with_code, share_official FROM code_availability_by_category "
        "WHERE month >= ? ORDER BY month, category", [since or date.min])
    if frame.empty:
        return frame
    leaders = frame.groupby("category")["papers"].sum().nlargest(top).index
    return frame[frame["category"].isin(leaders)]


def code_by_topic(store: Store, level: tr.Level = "fine", limit: int = 30) -> pd.DataFrame:
    """Code availability of the largest topics (all time)."""
    return _frame(
        store,
        "SELECT topic_id, label, papers, with_code, with_official_code, share_with_code, "
        "share_official, median_days_to_code FROM code_availability_by_topic "
        "WHERE level = ? ORDER BY papers DESC, topic_id LIMIT ?", [level, limit])


def code_by_venue(store: Store, limit: int = 30) -> pd.DataFrame:
    """Code availability of the venues with most papers."""
    return _frame(
        store,
        "SELECT venue, papers, with_code, with_official_code, share_with_code, share_official, "
        "median_days_to_code FROM venue_counts ORDER BY papers DESC, venue LIMIT ?", [limit])


DAYS_TO_CODE_BUCKETS = ((0, 0, "same day"), (1, 7, "1-7 days"), (8, 30, "8-30 days"),
                        (31, 90, "31-90 days"), (91, 365, "91-365 days"),
                        (366, 1_000_000, "over a year"))


def days_to_code(store: Store) -> pd.DataFrame:
    """Papers by days from v1 to their first repository link, in DAYS_TO_CODE_BUCKETS."""
    cases = " ".join(f"WHEN days_to_code BETWEEN {lo} AND {hi} THEN {i}"
                     for i, (lo, hi, _) in enumerate(DAYS_TO_CODE_BUCKETS))
    _, rows = store.query(
        f"SELECT CASE {cases} END AS bucket, count(*) FROM papers_enriched "
        "WHERE days_to_code IS NOT NULL GROUP BY 1 ORDER BY 1")
    counts = dict(rows)
    return pd.DataFrame({
        "days to code": [label for _, _, label in DAYS_TO_CODE_BUCKETS],
        "papers": [int(counts.get(i, 0)) for i in range(len(DAYS_TO_CODE_BUCKETS))],
        "order": list(range(len(DAYS_TO_CODE_BUCKETS))),
    })


def newest_official_code(store: Store, limit: int = 20) -> pd.DataFrame:
    """The newest papers whose repository is official (linked by the authors)."""
    return _frame(
        store,
        "SELECT arxiv_id, title, published_day AS published, primary_category, venue, code_url "
        "FROM papers_enriched WHERE code_official ORDER BY published DESC, arxiv_id LIMIT ?",
        [limit])


# ---------------------------------------------------------------- health


def papers_per_day(store: Store, days: int = GAP_DAYS) -> pd.DataFrame:
    """Papers per v1 day over the last `days` days up to the newest paper, every day listed.

    `gap` marks a weekday (Monday to Friday) without any paper: arXiv takes submissions
    every weekday, so an empty one means a fetch missed it. Weekends are quieter by nature
    and never flagged.
    """
    _, [(last,)] = store.query("SELECT max(published)::DATE FROM papers WHERE NOT withdrawn")
    if last is None:
        return pd.DataFrame(columns=["day", "papers", "weekday", "gap"])
    first = last - timedelta(days=days - 1)
    _, rows = store.query(
        "SELECT published::DATE, count(*) FROM papers WHERE NOT withdrawn AND published >= ? "
        "GROUP BY 1", [first])
    counts = dict(rows)
    _, [(oldest,)] = store.query("SELECT min(published)::DATE FROM papers WHERE NOT withdrawn")
    start = max(first, oldest)
    span = [start + timedelta(days=i) for i in range((last - start).days + 1)]
    return pd.DataFrame({
        "day": span,
        "papers": [int(counts.get(d, 0)) for d in span],
        "weekday": [d.strftime("%a") for d in span],
        "gap": [d.weekday() < 5 and counts.get(d, 0) == 0 for d in span],
    })


def digest_files(home: Path) -> list[Path]:
    """Digests written under `<home>/digests` (Markdown or HTML), newest name first."""
    folder = home / "digests"
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.rglob("*") if p.is_file() and p.suffix in DIGEST_SUFFIXES),
                  key=lambda p: p.name, reverse=True)


def digest_preview(store: Store, categories: tuple[str, ...]) -> dict[str, Any]:
    """The weekly digest of the newest week in the data, composed and rendered in memory (what
    `paperradar digest --week` would write for it): the week in progress, `partial` until
    its papers are all in. Empty when there are no papers."""
    from digest import make
    from digest.weeks import Week

    _, rows = store.query("SELECT max(published)::DATE FROM papers WHERE NOT withdrawn")
    newest = rows[0][0] if rows else None
    if newest is None:
        return {}
    made = make(store, Week.of(newest), categories, newest)
    d = made.digest
    return {"week": d.week.label, "partial": d.partial, "data_last": d.data_last,
            "markdown": made.markdown, "html": made.html}


# ---------------------------------------------------------------- watchlists

WATCH_COLUMNS = ["name", "query", "categories", "venue", "has_code", "min_score", "mode",
                 "created_at", "checked_through", "checked_at", "matches", "last_match",
                 "last_arxiv_id"]
WATCH_ROWS = 50  # matches listed for a watchlist


def watchlists(store: Store) -> pd.DataFrame:
    """Every watchlist (by name) with its filters, matches so far and the last one; empty for
    a snapshot published before watchlists existed."""
    from core.watch_store import WatchStore, has_watch_tables

    if not has_watch_tables(store):
        return pd.DataFrame(columns=WATCH_COLUMNS)
    return pd.DataFrame.from_records(WatchStore(store).summary(), columns=WATCH_COLUMNS)


def watch_matches(store: Store, name: str, limit: int = WATCH_ROWS) -> pd.DataFrame:
    """A watchlist's latest matches: newest check first, best score first within it, with the
    paper's title, v1 day, category, venue, code and link."""
    from core.arxiv_ids import abs_url
    from core.watch_store import WatchStore

    frame = pd.DataFrame.from_records(WatchStore(store).matches(name, limit=limit),
                                      columns=["arxiv_id", "title", "authors", "published",
                                               "primary_category", "venue", "has_code", "score",
                                               "semantic_score", "keyword_score", "matched_at",
                                               "run_id"])
    frame["url"] = [abs_url(a) for a in frame["arxiv_id"]]
    return frame
