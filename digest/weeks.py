"""ISO weeks as the digest names them (`2026-W20`): parsing, bounds, and the default week.

A digest covers one ISO week, Monday to Sunday, in the calendar of the papers' v1
timestamps (UTC), like the trend views (core/views.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from core.errors import UserInputError
from core.store import Store

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEK = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.I)


@dataclass(frozen=True, order=True)
class Week:
    """One ISO week: its Monday and its label."""

    start: date  # Monday

    @classmethod
    def of(cls, day: date) -> Week:
        """The ISO week that contains `day`."""
        return cls(day - timedelta(days=day.weekday()))

    @property
    def end(self) -> date:
        """Its Sunday."""
        return self.start + timedelta(days=6)

    @property
    def label(self) -> str:
        year, number, _ = self.start.isocalendar()
        return f"{year}-W{number:02d}"

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """[Monday 00:00, next Monday 00:00) as timestamps, for TIMESTAMP columns."""
        first = datetime.combine(self.start, time())
        return first, first + timedelta(days=7)

    def shift(self, weeks: int) -> Week:
        return Week(self.start + timedelta(weeks=weeks))

    def span(self) -> str:
        """'11–17 May 2026', or across months '27 Apr – 3 May 2026' (English month names
        whatever the locale: the file must not depend on where it is made)."""
        a, b = self.start, self.end
        if a.year != b.year:
            return f"{a.day} {_MONTHS[a.month - 1]} {a.year} – {b.day} {_MONTHS[b.month - 1]} {b.year}"
        if a.month != b.month:
            return f"{a.day} {_MONTHS[a.month - 1]} – {b.day} {_MONTHS[b.month - 1]} {b.year}"
        return f"{a.day}–{b.day} {_MONTHS[b.month - 1]} {b.year}"


def parse_week(text: str) -> Week:
    """`2026-W20` (or `2026W20`) as a Week; UserInputError for anything else.

    >>> parse_week("2026-W20").start
    datetime.date(2026, 5, 11)
    """
    found = _WEEK.match(text)
    if not found:
        raise UserInputError(f"--week {text!r} is not an ISO week: use YYYY-Www, e.g. 2026-W20")
    year, number = int(found.group(1)), int(found.group(2))
    try:
        return Week(date.fromisocalendar(year, number, 1))
    except ValueError:
        raise UserInputError(f"--week {text!r}: {year} has no ISO week {number}") from None


def default_week(store: Store, today: date) -> Week:
    """The last complete ISO week: the newest week the views count as complete (its papers
    all in: it ends on or before the newest v1 day in the database, and before today). With
    no complete week in the data, the last calendar week before today."""
    _, rows = store.query("SELECT max(period) FROM period_totals "
                          "WHERE period_kind = 'week' AND NOT partial")
    newest = rows[0][0] if rows else None
    return Week(newest) if newest is not None else Week.of(today).shift(-1)
