"""Trend questions over the store's views (core/views.py), for the CLI, the dashboard and the digest.

The arithmetic lives in the SQL views, so a user's own DuckDB session gets the same answers;
this module only picks the view, filters it and validates the caller's options.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from core.errors import UserInputError
from core.store import Store
from core.views import emerging_select

By = Literal["topic", "category", "venue", "code"]
Period = Literal["week", "month"]
Level = Literal["fine", "broad"]
BY: tuple[str, ...] = ("topic", "category", "venue", "code")
PERIODS: tuple[str, ...] = ("week", "month")
LEVELS: tuple[str, ...] = ("fine", "broad")
DEFAULT_PERIODS = {"week": 12, "month": 6}  # periods shown when no --since is given

_VIEW = {
    ("topic", "week"): "weekly_topic_counts", ("topic", "month"): "monthly_topic_counts",
    ("category", "week"): "weekly_category_counts", ("category", "month"): "monthly_category_counts",
    ("venue", "week"): "weekly_venue_counts", ("venue", "month"): "monthly_venue_counts",
    ("code", "week"): "code_availability_weekly", ("code", "month"): "code_availability_monthly",
}
GROUP = {"topic": ("topic_id", "label"), "category": ("category",), "venue": ("venue",)}


def _check(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise UserInputError(f"unknown {what} {value!r}: use one of {', '.join(allowed)}")
    return value


def check_by(value: str) -> By:
    return _check(value, BY, "--by")  # type: ignore[return-value]


def check_period(value: str) -> Period:
    return _check(value, PERIODS, "--period")  # type: ignore[return-value]


def check_level(value: str) -> Level:
    return _check(value, LEVELS, "--level")  # type: ignore[return-value]


def parse_since(value: str | None) -> date | None:
    """A --since value: YYYY-MM-DD, or YYYY-MM (the month's first day)."""
    if value is None:
        return None
    text = value.strip()
    try:
        return date.fromisoformat(f"{text}-01" if len(text) == 7 else text)
    except ValueError:
        raise UserInputError(f"--since {value!r} is not a date: use YYYY-MM-DD or YYYY-MM") from None


def period_start(day: date, period: Period) -> date:
    """The start of the ISO week (Monday) or month that contains `day`."""
    return day - timedelta(days=day.weekday()) if period == "week" else day.replace(day=1)


def default_since(store: Store, period: Period) -> date | None:
    """The start of the period DEFAULT_PERIODS[period] - 1 periods before the newest one."""
    _, rows = store.query(
        "SELECT max(period) FROM period_totals WHERE period_kind = ?", [period])
    newest = rows[0][0] if rows else None
    if newest is None:
        return None
    back = DEFAULT_PERIODS[period] - 1
    if period == "week":
        return newest - timedelta(weeks=back)
    month = newest.year * 12 + newest.month - 1 - back
    return date(month // 12, month % 12 + 1, 1)


def series(store: Store, by: By, period: Period, since: date | None = None,
           level: Level = "fine") -> list[dict[str, Any]]:
    """Rows of the view for `by` x `period` from the period containing `since` (default: the
    last DEFAULT_PERIODS periods), oldest first; topics of one level only.

    Each row has the period (`week` or `month`), `partial`, and per group (topic_id + label,
    category, venue) papers, total_papers, share, baseline_share and growth; for `code`,
    papers, with_code, with_official_code, their shares and median_days_to_code.
    """
    view = _VIEW[(check_by(by), check_period(period))]
    first = since if since is not None else default_since(store, period)
    where: list[str] = []
    params: list[Any] = []
    if first is not None:
        where.append(f"{period} >= ?")
        params.append(period_start(first, period))
    if by == "topic":
        where.append("level = ?")
        params.append(check_level(level))
    order = ", ".join((period, *GROUP.get(by, ())))
    sql = f"SELECT * FROM {view}" + (f" WHERE {' AND '.join(where)}" if where else "") + \
        f" ORDER BY {order}"
    names, rows = store.query(sql, params)
    return [dict(zip(names, row, strict=True)) for row in rows]


def emerging(store: Store, level: Level = "fine", category: str | None = None,
             limit: int = 20, supported_only: bool = True,
             as_of: date | None = None) -> list[dict[str, Any]]:
    """Topics of `level` ranked by emerging score (view emerging_topics, or
    emerging_topics_by_category for one primary category), best first.

    `as_of` (any day of an ISO week) ranks them as they stood at the end of that week: the
    recent window is the 4 weeks ending with it, by the views' own SQL (core.views.
    emerging_select), so for the newest complete week the answer is the view's. A digest
    of a past week needs this: the views always end at the newest complete week.
    """
    where: list[str] = ["level = ?"]
    params: list[Any] = [check_level(level)]
    if category:
        where.append("category = ?")
        params.append(category)
    if supported_only:
        where.append("supported")
    if as_of is None:
        source = "emerging_topics_by_category" if category else "emerging_topics"
    else:
        source = f"({emerging_select(bool(category), '?')})"
        params.insert(0, period_start(as_of, "week"))
    names, rows = store.query(
        f"SELECT * FROM {source} WHERE {' AND '.join(where)} "
        "ORDER BY emerging_score DESC NULLS LAST, topic_id LIMIT ?", [*params, limit])
    return [dict(zip(names, row, strict=True)) for row in rows]
