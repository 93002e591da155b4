"""Watchlists: saved searches checked against the papers new to the store, each paper reported once.

A check (`check_watchlists`) takes, per watchlist, the live papers first stored since its
last check (`checked_through`; before its first check, the papers of the last
`first_days` v1 days up to the newest one, so a new watchlist does not report the whole
corpus), scores every one of them for the watchlist's query with its filters
(Searcher.absolute_scores: no k, nothing cut off), keeps those at or above its
`min_score`, and stores them with the new `checked_through` in one transaction
(core/watch_store.py).

The score a minimum is held against must mean the same for every query and every batch
of new papers. `search`'s hybrid score does not: it min-max normalises each mode's list
per query, so its best paper always scores near 1, even among papers that are all
irrelevant. Here each part is absolute instead: the cosine of paper and query, and BM25
divided by the most a paper could score for the query's terms (0..1); the mode's score:

- hybrid: BLEND_SEMANTIC * cosine + (1 - BLEND_SEMANTIC) * keyword (search's weights),
- semantic: the cosine, keyword: the keyword score.

DEFAULT_MIN_SCORE per mode was measured on the 72k-paper corpus (the 7,703 papers of its
last four weeks, four realistic watch queries, matches judged by hand; README, "Watchlists"):
hybrid at 0.45 kept 86% precision at 92% recall of the relevant papers found; cosine
alone could not (at 0.45: 73% precision, 44% recall), as generic papers of the same field
score as high as the ones about the query's subject.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from core.errors import UserInputError
from core.watch_store import Watchlist, WatchMatch, WatchStore
from index.search import BLEND_SEMANTIC, Filters, Searcher, check_mode, clean_query

DEFAULT_MIN_SCORE = {"hybrid": 0.45, "semantic": 0.40, "keyword": 0.50}
FIRST_DAYS = 7  # a new watchlist's first check: the papers of the newest 7 v1 days
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_EPSILON = timedelta(microseconds=1)


def new_watchlist(
    name: str,
    query: str,
    categories: Iterable[str] = (),
    venue: str | None = None,
    has_code: bool = False,
    min_score: float | None = None,
    mode: str = "hybrid",
    known_categories: Iterable[str] | None = None,
) -> Watchlist:
    """A checked Watchlist, or UserInputError saying what is wrong with the input.

    `known_categories`: the categories a watchlist may name (those of the stored papers
    and the tracked ones); None skips that check. `min_score` None: the mode's default.
    """
    name = name.strip()
    if not NAME.fullmatch(name):
        raise UserInputError(
            f"bad watchlist name {name!r}: use 1-64 letters, digits, '-', '_' or '.', starting "
            "with a letter or digit (e.g. speculative-decoding)"
        )
    query = clean_query(query)
    mode = check_mode(mode)
    wanted = tuple(dict.fromkeys(c.strip() for c in categories if c.strip()))
    if known_categories is not None:
        known = set(known_categories)
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise UserInputError(
                f"unknown category {unknown[0]!r}: neither tracked nor in any stored paper "
                f"(known here: {', '.join(sorted(known)[:8])}{', ...' if len(known) > 8 else ''})"
            )
    if venue is not None and not venue.strip():
        raise UserInputError("--venue is empty: give a venue such as 'ICML 2026' or 'ICML'")
    score = DEFAULT_MIN_SCORE[mode] if min_score is None else float(min_score)
    if not 0.0 < score <= 1.0 or score != score:
        raise UserInputError(
            f"--min-score must be above 0 and at most 1, not {min_score} (default for {mode}: "
            f"{DEFAULT_MIN_SCORE[mode]})"
        )
    return Watchlist(name, query, wanted, venue.strip() if venue else None, has_code, score, mode)


def filters_of(watch: Watchlist) -> Filters:
    return Filters(categories=watch.categories, venue=watch.venue, has_code=watch.has_code)


def watch_score(mode: str, cosine: float, keyword: float | None) -> float | None:
    """The score a minimum is held against, by mode (None: keyword mode without a keyword
    index). Hybrid without a keyword index is semantic, as in search."""
    if mode == "semantic" or (mode == "hybrid" and keyword is None):
        return cosine
    if keyword is None:
        return None
    if mode == "keyword":
        return keyword
    return BLEND_SEMANTIC * cosine + (1.0 - BLEND_SEMANTIC) * keyword


def score_of(searcher: Searcher, query: str, mode: str, key: int) -> float | None:
    """The score one paper (its key) has for `query` in `mode` (None: not indexed): what a
    watchlist of that query would hold against its minimum. The dashboard offers it as the
    minimum of a watchlist made from a search result ("papers at least as close as this")."""
    scored = searcher.absolute_scores(query, np.array([key], np.int64))
    return watch_score(check_mode(mode), scored[0][1], scored[0][2]) if scored else None


def score_papers(searcher: Searcher, watch: Watchlist, keys: np.ndarray
                 ) -> tuple[list[WatchMatch], set[int]]:
    """The papers of `keys` that match `watch` (its filters, score >= min_score), best
    first; and the keys the index holds (the others cannot be scored yet)."""
    scored = searcher.absolute_scores(watch.query, keys)
    indexed = {key for key, _, _ in scored}
    allowed = searcher.allowed(filters_of(watch))
    if allowed is not None:
        keep = set(allowed.tolist())
        scored = [s for s in scored if s[0] in keep]
    ids = _arxiv_ids(searcher, [key for key, _, _ in scored])
    found = []
    for key, cosine, keyword in scored:
        score = watch_score(watch.mode, cosine, keyword)
        if score is not None and score >= watch.min_score and key in ids:
            found.append(WatchMatch(ids[key], round(score, 6), round(cosine, 6),
                                    None if keyword is None else round(keyword, 6)))
    return sorted(found, key=lambda m: (-m.score, m.arxiv_id)), indexed


@dataclass
class CheckReport:
    """What a check did: new matches and papers checked per watchlist, and the ones held
    back (a candidate not in the index yet: checked again next time)."""

    matches: dict[str, int] = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.matches.values())

    def line(self) -> str:
        """`watchlists: N matches (name: n, ...)`, as the daily flow logs it."""
        if not self.matches:
            return "watchlists: none to check"
        parts = ", ".join(f"{name}: {n}" for name, n in self.matches.items())
        waiting = sum(self.waiting.values())
        held = f"; {waiting} papers not indexed yet, checked next time" if waiting else ""
        return f"watchlists: {self.total} matches ({parts}){held}"


def check_watchlists(
    store: WatchStore,
    searcher: Callable[[], Searcher],
    *,
    names: Iterable[str] | None = None,
    first_days: int = FIRST_DAYS,
    run_id: str | None = None,
    now: datetime | None = None,
) -> CheckReport:
    """Check watchlists (all, or `names`) against the papers new to them; store what they
    found and how far they are checked, in one transaction.

    `searcher` builds (or returns) a Searcher over the same store; it is called only when
    some watchlist has papers to check, so a check with nothing new loads no model.
    Running it again finds nothing new; a paper once reported to a watchlist never is
    again. A candidate not in the index yet (stored but not embedded) holds its
    watchlist's `checked_through` back to just before it (a first check stays undone), so
    it is checked next time.
    """
    watchlists = store.all()
    if names is not None:
        wanted = set(names)
        watchlists = [w for w in watchlists if w.name in wanted]
    report = CheckReport()
    through = store.newest_seen()
    if not watchlists or through is None:
        return report
    checked = []
    for watch in watchlists:
        candidates = store.candidates(watch, through, first_days)
        matches: list[WatchMatch] = []
        upto: datetime | None = through
        if candidates:
            keys = np.array([key for key, _ in candidates], np.int64)
            matches, indexed = score_papers(searcher(), watch, keys)
            missing = [seen for key, seen in candidates if key not in indexed]
            if missing:
                # A first check is done again whole (it spans v1 days, not first_seen).
                upto = min(missing) - _EPSILON if watch.checked_through else None
                report.waiting[watch.name] = len(missing)
        checked.append((watch.name, matches, upto))
        report.checked[watch.name] = len(candidates)
    report.matches = store.record(checked, now or datetime.now(UTC).replace(tzinfo=None), run_id)
    return report


def _arxiv_ids(searcher: Searcher, keys: list[int]) -> dict[int, str]:
    rows = searcher.store.papers_by_key(keys)
    return {key: row["arxiv_id"] for key, row in rows.items() if not row["withdrawn"]}
