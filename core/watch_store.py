"""Watchlist tables of the store: saved searches and the papers each one reported.

Schema (migration 7 in core/store.py):

- `watchlists`: one row per saved search: the query, its filters, the search mode, the
  minimum score, and `checked_through`: every paper first stored up to that moment
  (`papers.first_seen`) has been checked against it. NULL until its first check.
- `watch_matches`: one row per (watchlist, paper) reported, with the scores it had and
  when. The key makes reporting a paper twice to a watchlist impossible; a check stores
  its matches and moves `checked_through` in one transaction, so a check killed half way
  leaves neither.

Removing a watchlist removes its matches. What a check looks at and how it scores is
index/watch.py's business; this module only reads and writes the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from core.errors import UserInputError

if TYPE_CHECKING:
    from core.store import Store

WATCH_TABLES = (
    """
    CREATE TABLE watchlists (
        name            VARCHAR PRIMARY KEY,
        query           VARCHAR NOT NULL,
        categories      VARCHAR[],               -- any of them (cross-lists count); empty: all
        venue           VARCHAR,                 -- 'ICML 2026', or 'ICML' for any year
        has_code        BOOLEAN NOT NULL DEFAULT false,
        min_score       DOUBLE NOT NULL,         -- on the scale of the mode's score, see index/watch.py
        mode            VARCHAR NOT NULL DEFAULT 'hybrid',
        created_at      TIMESTAMP NOT NULL,
        checked_through TIMESTAMP,               -- papers first seen up to here are checked
        checked_at      TIMESTAMP                -- when the last check ran
    )
    """,
    """
    CREATE TABLE watch_matches (
        watchlist      VARCHAR NOT NULL,
        arxiv_id       VARCHAR NOT NULL,
        score          DOUBLE NOT NULL,          -- the score min_score was held against
        semantic_score DOUBLE,                   -- cosine of the paper to the query
        keyword_score  DOUBLE,                   -- BM25 / its maximum for the query, 0..1
        matched_at     TIMESTAMP NOT NULL,
        run_id         VARCHAR,                  -- runs.run_id of the check that found it
        PRIMARY KEY (watchlist, arxiv_id)
    )
    """,
)


@dataclass(frozen=True)
class Watchlist:
    """A saved search: papers new to the store that match `query` with these filters and
    score at least `min_score` are reported once each."""

    name: str
    query: str
    categories: tuple[str, ...] = ()
    venue: str | None = None
    has_code: bool = False
    min_score: float = 0.45
    mode: str = "hybrid"
    created_at: datetime | None = None
    checked_through: datetime | None = None
    checked_at: datetime | None = None


@dataclass(frozen=True)
class WatchMatch:
    """A paper a check found for a watchlist, with its scores."""

    arxiv_id: str
    score: float
    semantic_score: float | None
    keyword_score: float | None


_COLUMNS = ("name", "query", "categories", "venue", "has_code", "min_score", "mode", "created_at",
            "checked_through", "checked_at")


def has_watch_tables(store: Store) -> bool:
    """Whether the database has the watchlist tables (a snapshot published before migration 7
    has not)."""
    _, rows = store.query("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'watchlists'")
    return bool(rows[0][0])


class WatchStore:
    """Reads and writes the watchlist tables of one open Store (reads work read-only too)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.con = store.con

    # -- watchlists

    def add(self, watch: Watchlist, now: datetime) -> Watchlist:
        """Store a new watchlist (created now, never checked); UserInputError if the name is taken."""
        if self.get(watch.name) is not None:
            raise UserInputError(
                f"a watchlist named {watch.name!r} exists already: choose another name, or "
                f"remove it first (paperradar watch rm {watch.name})"
            )
        self.con.execute(
            f"INSERT INTO watchlists ({', '.join(_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
            [watch.name, watch.query, list(watch.categories), watch.venue, watch.has_code,
             watch.min_score, watch.mode, now],
        )
        found = self.get(watch.name)
        assert found is not None
        return found

    def remove(self, name: str) -> int:
        """Delete a watchlist and its matches, in one transaction; returns how many matches
        went with it. UserInputError for an unknown name."""
        self.require(name)
        with self.store.transaction():
            row = self.con.execute("DELETE FROM watch_matches WHERE watchlist = ?", [name]).fetchone()
            self.con.execute("DELETE FROM watchlists WHERE name = ?", [name])
        return int(row[0]) if row else 0

    def get(self, name: str) -> Watchlist | None:
        rows = self._select("WHERE name = ?", [name])
        return rows[0] if rows else None

    def require(self, name: str) -> Watchlist:
        """The watchlist `name`, or UserInputError naming the ones there are."""
        found = self.get(name)
        if found is None:
            raise UserInputError(f"no watchlist named {name!r}{self._known()}")
        return found

    def all(self) -> list[Watchlist]:
        return self._select("ORDER BY name", [])

    def _select(self, tail: str, params: list[Any]) -> list[Watchlist]:
        rows = self.con.execute(f"SELECT {', '.join(_COLUMNS)} FROM watchlists {tail}", params).fetchall()
        return [Watchlist(name, query, tuple(cats or ()), venue, bool(code), float(score), mode, created,
                          through, checked)
                for name, query, cats, venue, code, score, mode, created, through, checked in rows]

    def _known(self) -> str:
        names = [w.name for w in self.all()]
        return f" (there are: {', '.join(names)})" if names else " (there are none: add one with " \
            "paperradar watch add NAME QUERY)"

    # -- what a check reads

    def newest_seen(self) -> datetime | None:
        """The latest `first_seen` of any paper: how far a check can look."""
        row = self.con.execute("SELECT max(first_seen) FROM papers").fetchone()
        return row[0] if row else None

    def candidates(self, watch: Watchlist, through: datetime, first_days: int
                   ) -> list[tuple[int, datetime]]:
        """(paper_id, first_seen) of the live papers `watch` has not been checked against:
        first stored after its `checked_through` and up to `through`. Before its first
        check: the papers of the `first_days` days up to the newest v1 day in the store
        (so a new watchlist does not report the whole corpus)."""
        if watch.checked_through is None:
            sql = ("SELECT paper_id, first_seen FROM papers WHERE NOT withdrawn AND first_seen <= ? "
                   "AND published::DATE > (SELECT max(published)::DATE FROM papers) - ?::INTEGER")
            params: list[Any] = [through, first_days]
        else:
            sql = ("SELECT paper_id, first_seen FROM papers WHERE NOT withdrawn "
                   "AND first_seen > ? AND first_seen <= ?")
            params = [watch.checked_through, through]
        return [(int(k), seen) for k, seen in self.con.execute(sql + " ORDER BY paper_id", params).fetchall()]

    # -- what a check writes

    def record(self, checked: Sequence[tuple[str, Sequence[WatchMatch], datetime | None]],
               now: datetime, run_id: str | None) -> dict[str, int]:
        """Store each checked watchlist's matches and move its `checked_through` forward to
        the given moment (None: leave it), all in one transaction. A paper it reported
        before is not stored again (the first report stays). Returns the new matches per
        watchlist."""
        new: dict[str, int] = {}
        with self.store.transaction():
            for name, matches, through in checked:
                new[name] = self._insert(name, matches, now, run_id) if matches else 0
                self.con.execute(
                    "UPDATE watchlists SET checked_at = ?, checked_through = CASE WHEN ?::TIMESTAMP "
                    "IS NULL THEN checked_through ELSE greatest(coalesce(checked_through, ?), ?) END "
                    "WHERE name = ?", [now, through, through, through, name])
        return new

    def _insert(self, name: str, matches: Sequence[WatchMatch], now: datetime, run_id: str | None
                ) -> int:
        table = pa.table(
            [[m.arxiv_id for m in matches], [m.score for m in matches],
             [m.semantic_score for m in matches], [m.keyword_score for m in matches]],
            schema=pa.schema([("arxiv_id", pa.string()), ("score", pa.float64()),
                              ("semantic_score", pa.float64()), ("keyword_score", pa.float64())]),
        )
        self.con.register("incoming_matches", table)
        try:
            row = self.con.execute(
                "INSERT INTO watch_matches SELECT ?, arxiv_id, score, semantic_score, keyword_score, "
                "?, ? FROM incoming_matches ON CONFLICT (watchlist, arxiv_id) DO NOTHING",
                [name, now, run_id],
            ).fetchone()
        finally:
            self.con.unregister("incoming_matches")
        return int(row[0]) if row else 0

    # -- what people read

    def summary(self) -> list[dict[str, Any]]:
        """Every watchlist with its number of matches and its last match (time, paper)."""
        cursor = self.con.execute(
            """
            SELECT w.name, w.query, w.categories, w.venue, w.has_code, w.min_score, w.mode,
                   w.created_at, w.checked_through, w.checked_at,
                   count(m.arxiv_id) AS matches, max(m.matched_at) AS last_match,
                   arg_max(m.arxiv_id, (m.matched_at, m.score)) AS last_arxiv_id
            FROM watchlists w LEFT JOIN watch_matches m ON m.watchlist = w.name
            GROUP BY ALL ORDER BY w.name
            """
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def matches(self, name: str, since: date | None = None, limit: int | None = None
                ) -> list[dict[str, Any]]:
        """The papers a watchlist reported (matched on or after `since`), newest first, best
        first within a check."""
        self.require(name)
        sql = """
            SELECT m.arxiv_id, p.title, p.authors, p.published::DATE AS published,
                   p.primary_category, p.venue, p.has_code, m.score, m.semantic_score,
                   m.keyword_score, m.matched_at, m.run_id
            FROM watch_matches m JOIN papers p USING (arxiv_id)
            WHERE m.watchlist = ? AND m.matched_at >= ?
            ORDER BY m.matched_at DESC, m.score DESC, m.arxiv_id
        """
        params: list[Any] = [name, datetime.combine(since or date.min, datetime.min.time())]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        cursor = self.con.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

