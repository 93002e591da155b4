"""What the weekly digest says, as numbers and papers read from the published database's views.

Every section is a query on the views of core/views.py (or, for the rising topics of a
past week, index.trends.emerging with `as_of`: the view's own SQL anchored at that week),
so each number in a digest can be checked with SQL on the same snapshot (README, "Weekly
digest"). What counts:

- a paper belongs to the ISO week of its v1 submission (`published`, UTC); withdrawn
  papers never count;
- the headline compares the week with the mean of the 8 weeks before it, complete weeks
  only, per tracked category (primary category);
- rising topics: the emerging ranking with its recent window ending with the week (the
  newest complete week before it when the week itself is partial), score above 0 (the
  share grew beyond noise);
- new topics: fine topics born in that 4-week window;
- accepted this week: papers whose own text (comment or journal-ref) states the venue
  shown for them, in the version submitted this week (`updated`): new papers that arrive
  accepted, and revisions that add the note;
- watchlists: matches recorded (`matched_at`) during the week, so a paper appears in one
  week's digest per watchlist.

Ordering always ends on the arXiv id, so the same database gives the same digest.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from core.store import Store
from core.watch_store import has_watch_tables
from digest.weeks import Week
from index import trends

TREND_WEEKS = 8  # the headline's and code share's comparison: the mean of the 8 weeks before
SPARK_WEEKS = 16  # sparklines: the emerging windows (12 + 4 weeks) up to the digest's week
RISING = 5  # rising topics shown
PAPERS_PER_TOPIC = 3  # representative new papers per rising or new topic
OFFICIAL_CODE = 5  # papers with official code listed
VENUES = 10  # venues in the accepted-papers table
PAPERS_PER_VENUE = 3  # papers listed for each of the first VENUE_HIGHLIGHTS venues
VENUE_HIGHLIGHTS = 3
WATCH_MATCHES = 10  # matches listed per watchlist
TEXT_SOURCES = ("text", "comment", "journal_ref")  # venue mentions read from the paper itself


@dataclass(frozen=True)
class PaperRef:
    """A paper as the digest links it."""

    arxiv_id: str
    title: str
    primary_category: str
    venue: str | None = None
    code_url: str | None = None
    score: float | None = None  # watchlist matches: the match score

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"


@dataclass(frozen=True)
class CategoryRow:
    """Papers of the week in one group of primary categories, against the 8 weeks before."""

    name: str
    papers: int
    mean: float | None  # mean papers per complete week of the TREND_WEEKS before; None: none
    weeks: int  # complete weeks in that mean

    @property
    def change(self) -> float | None:
        return None if not self.mean else self.papers / self.mean - 1


@dataclass(frozen=True)
class Rising:
    """A rising topic: its emerging row (as of the anchor week) and this week's papers."""

    topic_id: int
    label: str
    rank: int
    recent_papers: int
    baseline_papers: int
    growth: float | None
    score: float
    young: bool
    week_papers: int
    spark: tuple[int, ...]  # papers per week, SPARK_WEEKS weeks ending with the digest's week
    papers: tuple[PaperRef, ...]


@dataclass(frozen=True)
class NewTopic:
    topic_id: int
    label: str
    born: date
    size: int
    week_papers: int
    papers: tuple[PaperRef, ...]


@dataclass(frozen=True)
class Code:
    papers: int
    with_code: int
    with_official: int
    trend_papers: int  # papers of the complete weeks among the TREND_WEEKS before
    trend_with_code: int
    trend_official: int
    spark: tuple[float | None, ...]  # share with code per week, SPARK_WEEKS weeks
    official: tuple[PaperRef, ...]  # the first OFFICIAL_CODE of this week's with official code


@dataclass(frozen=True)
class VenueGroup:
    venue: str
    papers: int
    examples: tuple[PaperRef, ...]


@dataclass(frozen=True)
class Watch:
    name: str
    query: str
    matches: int
    shown: tuple[PaperRef, ...]


@dataclass(frozen=True)
class Digest:
    """One week's digest: every number it shows, in the order it shows them."""

    week: Week
    partial: bool  # the data does not cover the week whole (yet)
    data_first: date | None  # oldest and newest v1 day in the database
    data_last: date | None
    active_days: int
    total: CategoryRow
    categories: tuple[CategoryRow, ...]  # tracked categories, then the others as one row
    anchor: Week | None  # the recent window of the rising topics ends with this week
    windows: dict[str, date] = field(default_factory=dict)  # recent/baseline start/end
    rising: tuple[Rising, ...] = ()
    new_topics: tuple[NewTopic, ...] = ()
    newest_topic: tuple[str, date] | None = None  # when there is no new topic: the newest one
    has_topics: bool = False
    code: Code | None = None
    accepted: int = 0
    venues: tuple[VenueGroup, ...] = ()
    watches: tuple[Watch, ...] | None = None  # None: the database has no watchlists

    @property
    def empty(self) -> bool:
        return self.total.papers == 0


def compose(store: Store, week: Week, categories: tuple[str, ...]) -> Digest:
    """The digest of `week` from `store` (a published snapshot), `categories` being the
    tracked ones (PAPERRADAR_CATEGORIES). Read-only; an empty week gives an empty Digest
    (`empty`), never an error."""
    first, last = _span(store)
    partial, active_days = _week_state(store, week, last)
    total, rows = _headline(store, week, categories)
    digest = Digest(week=week, partial=partial, data_first=first, data_last=last,
                    active_days=active_days, total=total, categories=rows, anchor=None,
                    watches=_watches(store, week))
    if digest.empty:
        return digest
    anchor = _anchor(store, week, partial)
    rising, windows = _rising(store, week, anchor) if anchor else ((), {})
    new, newest = _new_topics(store, week, windows) if windows else ((), None)
    accepted, venues = _venues(store, week)
    return replace(digest, anchor=anchor, windows=windows, rising=rising, new_topics=new,
                   newest_topic=newest, has_topics=_has_topics(store),
                   code=_code(store, week, {r.topic_id for r in rising}), accepted=accepted,
                   venues=venues)


# ---------------------------------------------------------------- the week and its headline


def _rows(store: Store, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    names, rows = store.query(sql, params)
    return [dict(zip(names, row, strict=True)) for row in rows]


def _span(store: Store) -> tuple[date | None, date | None]:
    _, rows = store.query("SELECT min(published)::DATE, max(published)::DATE FROM papers "
                          "WHERE NOT withdrawn")
    return rows[0][0], rows[0][1]


def _week_state(store: Store, week: Week, last: date | None) -> tuple[bool, int]:
    """(partial, active days): the views' own flag; a week outside the data is partial when
    it has not ended by the newest v1 day (it may still fill)."""
    _, rows = store.query("SELECT partial, active_days FROM period_totals "
                          "WHERE period_kind = 'week' AND period = ?", [week.start])
    if rows:
        return bool(rows[0][0]), int(rows[0][1])
    return last is None or week.end > last, 0


def _headline(store: Store, week: Week, categories: tuple[str, ...],
              ) -> tuple[CategoryRow, tuple[CategoryRow, ...]]:
    """Papers of the week per tracked primary category, the other categories as one row,
    and all papers; each against the mean of the complete weeks among the 8 before."""
    start = week.shift(-TREND_WEEKS).start
    weeks = _rows(store, "SELECT period AS week, partial, papers FROM period_totals "
                  "WHERE period_kind = 'week' AND period BETWEEN ? AND ?", [start, week.start])
    by_group = _rows(store, """
        SELECT CASE WHEN list_contains(?::VARCHAR[], category) THEN category END AS grp, week,
               sum(papers)::BIGINT AS papers
        FROM weekly_category_counts WHERE week BETWEEN ? AND ? GROUP BY ALL""",
                     [list(categories), start, week.start])
    complete = [w["week"] for w in weeks if not w["partial"] and w["week"] < week.start]

    def row(name: str, counts: dict[date, int]) -> CategoryRow:
        mean = sum(counts.get(w, 0) for w in complete) / len(complete) if complete else None
        return CategoryRow(name, counts.get(week.start, 0), mean, len(complete))

    total = row("all", {w["week"]: int(w["papers"]) for w in weeks})
    groups: dict[str | None, dict[date, int]] = {}
    for r in by_group:
        groups.setdefault(r["grp"], {})[r["week"]] = int(r["papers"])
    rows = [row(c, groups.get(c, {})) for c in categories]
    rows.append(row("other", groups.get(None, {})))
    return total, tuple(rows)


# ---------------------------------------------------------------- topics


def _has_topics(store: Store) -> bool:
    _, rows = store.query("SELECT count(*) FROM topics WHERE level = 'fine' AND retired_at IS NULL")
    return bool(rows[0][0])


def _anchor(store: Store, week: Week, partial: bool) -> Week | None:
    """The week the rising topics' recent window ends with: the digest's week, or for a
    partial week the newest complete one before it (a partial week's counts are low)."""
    if not partial:
        return week
    _, rows = store.query("SELECT max(period) FROM period_totals WHERE period_kind = 'week' "
                          "AND NOT partial AND period < ?", [week.start])
    return Week(rows[0][0]) if rows[0][0] is not None else None


def _rising(store: Store, week: Week, anchor: Week) -> tuple[tuple[Rising, ...], dict[str, date]]:
    # Only topics whose share grew beyond noise: the score is a 95% lower bound of log2 growth.
    ranked = [r for r in trends.emerging(store, "fine", limit=RISING, as_of=anchor.start)
              if r["emerging_score"] > 0]
    if not ranked:
        windows = _windows(store, anchor)
        return (), windows
    windows = {k: ranked[0][k] for k in ("recent_start", "recent_end", "baseline_start",
                                         "baseline_end")}
    ids = [int(r["topic_id"]) for r in ranked]
    spark = _topic_weeks(store, ids, week)
    papers = _topic_papers(store, ids, week)
    rising = tuple(
        Rising(topic_id=i, label=r["label"], rank=int(r["rank"]),
               recent_papers=int(r["recent_papers"]), baseline_papers=int(r["baseline_papers"]),
               growth=r["growth"], score=float(r["emerging_score"]), young=bool(r["young"]),
               week_papers=spark[i][-1], spark=spark[i], papers=papers.get(i, ()))
        for i, r in zip(ids, ranked, strict=True))
    return rising, windows


def _windows(store: Store, anchor: Week) -> dict[str, date]:
    """The emerging windows of `anchor` when no topic is ranked (for the new topics)."""
    rows = trends.emerging(store, "fine", limit=1, supported_only=False, as_of=anchor.start)
    if rows:
        return {k: rows[0][k] for k in ("recent_start", "recent_end", "baseline_start",
                                        "baseline_end")}
    return {"recent_start": anchor.shift(-3).start, "recent_end": anchor.end}


def _topic_weeks(store: Store, ids: list[int], week: Week) -> dict[int, tuple[int, ...]]:
    """Papers per week of each topic, SPARK_WEEKS weeks ending with `week` (0 where the
    view has no row: weeks before the data or after it)."""
    first = week.shift(1 - SPARK_WEEKS)
    found = _rows(store, "SELECT topic_id, week, papers FROM weekly_topic_counts "
                  "WHERE topic_id IN (SELECT unnest(?)) AND week BETWEEN ? AND ?",
                  [ids, first.start, week.start])
    counts = {(int(r["topic_id"]), r["week"]): int(r["papers"]) for r in found}
    return {i: tuple(counts.get((i, first.shift(k).start), 0) for k in range(SPARK_WEEKS))
            for i in ids}


_REF = "arxiv_id, title, primary_category, venue, code_url"


def _ref(row: dict[str, Any]) -> PaperRef:
    return PaperRef(row["arxiv_id"], " ".join(str(row["title"]).split()), row["primary_category"],
                    row.get("venue"), row.get("code_url"), row.get("score"))


def _topic_papers(store: Store, ids: list[int], week: Week) -> dict[int, tuple[PaperRef, ...]]:
    """The papers of the week most typical of each topic (closest to its centroid)."""
    found = _rows(store, f"""
        SELECT topic_id, {_REF} FROM papers_enriched
        WHERE topic_id IN (SELECT unnest(?)) AND week = ?
        QUALIFY row_number() OVER (PARTITION BY topic_id
                                   ORDER BY topic_similarity DESC, arxiv_id) <= ?
        ORDER BY topic_id, topic_similarity DESC, arxiv_id""", [ids, week.start, PAPERS_PER_TOPIC])
    papers: dict[int, list[PaperRef]] = {}
    for r in found:
        papers.setdefault(int(r["topic_id"]), []).append(_ref(r))
    return {k: tuple(v) for k, v in papers.items()}


def _new_topics(store: Store, week: Week, windows: dict[str, date],
                ) -> tuple[tuple[NewTopic, ...], tuple[str, date] | None]:
    """Fine topics born in the recent window; without any, the newest topic born before."""
    # size: its papers now, withdrawn ones left out (papers_enriched), as every count here
    found = _rows(store, """
        SELECT t.topic_id, t.label, t.born,
               (SELECT count(*) FROM papers_enriched e WHERE e.topic_id = t.topic_id) AS size
        FROM topics t WHERE t.level = 'fine' AND t.retired_at IS NULL AND t.born BETWEEN ? AND ?
        ORDER BY t.born DESC, t.topic_id""", [windows["recent_start"], windows["recent_end"]])
    if not found:
        newest = _rows(store, "SELECT label, born FROM topics WHERE level = 'fine' AND "
                       "retired_at IS NULL AND born <= ? ORDER BY born DESC, topic_id LIMIT 1",
                       [windows["recent_end"]])
        return (), (newest[0]["label"], newest[0]["born"]) if newest else None
    ids = [int(r["topic_id"]) for r in found]
    spark = _topic_weeks(store, ids, week)
    papers = _topic_papers(store, ids, week)
    return tuple(NewTopic(int(r["topic_id"]), r["label"], r["born"], int(r["size"]),
                          spark[int(r["topic_id"])][-1], papers.get(int(r["topic_id"]), ()))
                 for r in found), None


# ---------------------------------------------------------------- code, venues, watchlists


def _code(store: Store, week: Week, rising: set[int]) -> Code:
    """This week's code availability (view code_availability_weekly) against the pooled
    share of the complete weeks among the 8 before, and papers with official code: those
    in a rising topic first, then those with a venue, then by arXiv id."""
    first = week.shift(1 - SPARK_WEEKS)
    rows = {r["week"]: r for r in _rows(
        store, "SELECT week, partial, papers, with_code, with_official_code "
        "FROM code_availability_weekly WHERE week BETWEEN ? AND ?", [first.start, week.start])}
    trend = [rows[w.start] for w in (week.shift(-k) for k in range(1, TREND_WEEKS + 1))
             if w.start in rows and not rows[w.start]["partial"]]
    now = rows.get(week.start, {"papers": 0, "with_code": 0, "with_official_code": 0})
    spark = tuple(
        (r["with_code"] / r["papers"]) if (r := rows.get(first.shift(k).start)) and r["papers"]
        else None for k in range(SPARK_WEEKS))
    official = _rows(store, f"""
        SELECT {_REF} FROM papers_enriched WHERE week = ? AND code_official
        ORDER BY list_contains(?::BIGINT[], topic_id) DESC, venue IS NOT NULL DESC, arxiv_id LIMIT ?""",
                     [week.start, sorted(rising), OFFICIAL_CODE])
    return Code(
        papers=int(now["papers"]), with_code=int(now["with_code"]),
        with_official=int(now["with_official_code"]),
        trend_papers=sum(int(r["papers"]) for r in trend),
        trend_with_code=sum(int(r["with_code"]) for r in trend),
        trend_official=sum(int(r["with_official_code"]) for r in trend),
        spark=spark, official=tuple(_ref(r) for r in official))


def _venues(store: Store, week: Week) -> tuple[int, tuple[VenueGroup, ...]]:
    """Papers whose own text states, in the version submitted this week, the venue shown
    for them (papers.venue), grouped by venue: most papers first."""
    start, end = week.bounds
    found = _rows(store, f"""
        SELECT e.{_REF.replace(', ', ', e.')}, e.code_official
        FROM papers_enriched e JOIN papers p USING (arxiv_id)
        WHERE e.venue IS NOT NULL AND p.updated >= ? AND p.updated < ?
          AND EXISTS (SELECT 1 FROM venue_mentions m
                      WHERE m.arxiv_id = e.arxiv_id AND list_contains(?::VARCHAR[], m.source)
                        AND m.venue = e.venue_name AND m.kind = e.venue_kind
                        AND m.year IS NOT DISTINCT FROM e.venue_year)
        ORDER BY e.venue, e.code_official DESC, e.arxiv_id""", [start, end, list(TEXT_SOURCES)])
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in found:
        groups.setdefault(r["venue"], []).append(r)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return len(found), tuple(VenueGroup(v, len(rs), tuple(_ref(r) for r in rs[:PAPERS_PER_VENUE]))
                             for v, rs in ordered)


def _watches(store: Store, week: Week) -> tuple[Watch, ...] | None:
    """Per watchlist (by name), its matches recorded during the week, best score first;
    None when the database has no watchlist tables (published before migration 7)."""
    if not has_watch_tables(store):
        return None
    start, end = week.bounds
    lists = _rows(store, "SELECT name, query FROM watchlists ORDER BY name")
    found = _rows(store, f"""
        SELECT m.watchlist, m.score, e.{_REF.replace(', ', ', e.')}
        FROM watch_matches m JOIN papers_enriched e USING (arxiv_id)
        WHERE m.matched_at >= ? AND m.matched_at < ?
        ORDER BY m.watchlist, m.score DESC, e.arxiv_id""", [start, end])
    matches: dict[str, list[dict[str, Any]]] = {}
    for r in found:
        matches.setdefault(r["watchlist"], []).append(r)
    return tuple(Watch(w["name"], w["query"], len(matches.get(w["name"], [])),
                       tuple(_ref(r) for r in matches.get(w["name"], [])[:WATCH_MATCHES]))
                 for w in lists)


def data_end_note(digest: Digest) -> str | None:
    """Why a week reads low or empty, in words (None when nothing needs saying)."""
    if digest.data_last is None:
        return "the database holds no papers yet"
    if digest.week.start > digest.data_last:
        return f"the database's newest paper is from {digest.data_last}"
    if digest.data_first is not None and digest.week.end < digest.data_first:
        return f"the database's oldest paper is from {digest.data_first}"
    if digest.partial and digest.week.end >= digest.data_last:
        return f"the database holds papers up to {digest.data_last} (the week is not complete)"
    if digest.partial:
        return "the data does not cover the whole week"
    return None
