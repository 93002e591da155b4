"""What the digest says, in words and numbers, written once for both formats.

Each sentence is a function of the Digest and a `Text` (how Markdown or HTML escapes, bolds
and links), so the Markdown and the HTML say the same thing with the same numbers
(digest/render.py lays them out). Numbers are formatted here and only here.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from digest import charts
from digest.compose import (
    SPARK_WEEKS,
    TREND_WEEKS,
    VENUES,
    CategoryRow,
    Digest,
    NewTopic,
    PaperRef,
    Rising,
    data_end_note,
)

RECENT_WEEKS = 4  # the emerging recent window (core.views.RECENT_WEEKS), highlighted in charts

# ---------------------------------------------------------------- numbers, one way for both formats


def count(n: int) -> str:
    return f"{n:,}"


def mean(m: float | None) -> str:
    return "–" if m is None else f"{m:,.1f}"


def change(c: float | None) -> str:
    """+35%, -4%, ±0% (a rounded zero has no sign); – without a mean."""
    if c is None:
        return "–"
    pct = round(c * 100)
    return "±0%" if pct == 0 else f"{pct:+d}%"


def share(s: float | None) -> str:
    return "–" if s is None else f"{s:.1%}"


def growth(g: float | None) -> str:
    return "new" if g is None else f"{g:.1f}x"


def score(s: float) -> str:
    return f"{s:.2f}"


def day(d: date) -> str:
    return d.isoformat()


def span(first: date, last: date) -> str:
    return f"{first.isoformat()} – {last.isoformat()}"


# ---------------------------------------------------------------- the two formats


@dataclass(frozen=True)
class Text:
    """How one format writes plain text, emphasis and links."""

    esc: Callable[[str], str]
    bold: Callable[[str], str]
    em: Callable[[str], str]
    link: Callable[[str, str], str]


_MD_SPECIAL = set("\\`*_[]<>|#")


def md_escape(text: str) -> str:
    """Text (a title, a label) as Markdown that shows it as written."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


MD = Text(esc=md_escape, bold=lambda s: f"**{s}**", em=lambda s: f"*{s}*",
           link=lambda text, url: f"[{text}]({url})")
HTML = Text(esc=lambda s: html.escape(s, quote=False), bold=lambda s: f"<strong>{s}</strong>",
             em=lambda s: f"<em>{s}</em>",
             link=lambda text, url: f'<a href="{html.escape(url)}" style="color:{charts.ACCENT};'
             f'text-decoration:none">{text}</a>')


def _repo(url: str) -> str:
    """A repository link's text: the URL without its scheme."""
    return url.split("://", 1)[-1].rstrip("/")


def paper_line(t: Text, p: PaperRef, with_venue: bool = True, with_code: bool = True) -> str:
    parts = [t.link(t.esc(p.title), p.url), t.esc(p.primary_category)]
    if with_venue and p.venue:
        parts.append(t.esc(p.venue))
    if with_code and p.code_url:
        parts.append(t.link(t.esc(_repo(p.code_url)), p.code_url))
    if p.score is not None:
        parts.append(f"match {score(p.score)}")
    return " · ".join(parts)


# ---------------------------------------------------------------- sentences


def title(d: Digest) -> str:
    return f"paperradar weekly digest {d.week.label}"


def subject(d: Digest) -> str:
    """The mail subject: the week, its papers and the top rising topic."""
    text = f"{title(d)}: {count(d.total.papers)} new papers"
    if d.rising:
        text += f"; rising: {d.rising[0].label}"
    return text


def intro(t: Text, d: Digest) -> list[str]:
    lines = [f"{t.bold(d.week.span())} · papers count in the ISO week of their first (v1) "
             "submission, UTC; withdrawn papers never count."]
    note = data_end_note(d)
    if d.empty:  # the empty digest's one sentence says it
        return lines
    if d.partial:
        lines.append(t.bold("Partial week") + f": {note}. Its numbers will still grow.")
    elif note:
        lines.append(note[0].upper() + note[1:] + ".")
    return lines


def summary(t: Text, d: Digest) -> list[str]:
    """The digest in four bullets."""
    total = d.total
    first = f"{t.bold(count(total.papers) + ' new papers')}"
    if d.partial:
        first += " so far (a partial week: not compared)"
    elif total.mean is not None:
        first += f", {change(total.change)} on the mean of the {TREND_WEEKS} weeks before " \
                 f"({mean(total.mean)})"
    items = [first]
    if d.rising:
        items.append("Rising: " + "; ".join(f"{t.em(t.esc(r.label))} ({growth(r.growth)})"
                                            for r in d.rising[:3]))
    if d.code is not None and d.code.papers:
        items.append(f"{t.bold(count(d.code.with_code) + ' papers link code')} "
                     f"({share(d.code.with_code / d.code.papers)}), "
                     f"{count(d.code.with_official)} of them official")
    if d.venues:
        top = d.venues[0]
        items.append(f"{t.bold(count(d.accepted) + ' papers accepted')} at "
                     f"{count(len(d.venues))} venues, most at {t.esc(top.venue)} "
                     f"({count(top.papers)})")
    return items


def category_name(row: CategoryRow) -> str:
    return {"all": "all papers", "other": "other categories"}.get(row.name, row.name)


def headline_rows(d: Digest) -> list[CategoryRow]:
    """The tracked categories, then the others, each when it has papers this week or before
    (a row of zeros would read as a collapse; `silent_note` names them instead)."""
    return [r for r in d.categories if r.papers or r.mean]


def silent_note(d: Digest) -> str:
    """The tracked categories left out of the table for having no paper at all."""
    silent = [r.name for r in d.categories if r.name != "other" and not (r.papers or r.mean)]
    if not silent:
        return ""
    names = silent[0] if len(silent) == 1 else f"{', '.join(silent[:-1])} or {silent[-1]}"
    return (f" No paper in these weeks has {names} as its primary category (papers cross-listed "
            "to them count under their own primary category).")


def compared_change(d: Digest, row: CategoryRow) -> float | None:
    """A partial week's counts are low for that reason alone: not compared (as in the views)."""
    return None if d.partial else row.change


def mean_note(d: Digest) -> str:
    if d.partial:
        return "; this week is partial, so its change is not computed"
    weeks = d.total.weeks
    if weeks == TREND_WEEKS:
        return ""
    return f" (only {weeks} complete weeks before this one)" if weeks else \
        " (no complete week before this one)"


def rising_intro(t: Text, d: Digest) -> str:
    w = d.windows
    anchor = d.anchor
    text = (f"Ranked by emerging score: a topic's share of all papers in the {RECENT_WEEKS} "
            f"weeks {span(w['recent_start'], w['recent_end'])} against the 12 weeks "
            f"{span(w['baseline_start'], w['baseline_end'])} (growth compares shares, so "
            "counts over 4 and 12 weeks compare fairly). The score is the 95% lower "
            "bound of log2 growth: above 0, the share grew beyond noise; 1, it at least doubled.")
    if anchor is not None and anchor != d.week:
        text += f" (This week is partial, so the window ends with {anchor.label}.)"
    return text


NOT_RISING = ("No topic's share grew beyond noise (a score above 0, with at least 20 papers in "
              "the 4 weeks).")


def rising_line(r: Rising) -> str:
    young = "; a young topic" if r.young else ""
    return (f"Share {growth(r.growth)}: {count(r.recent_papers)} papers in the last {RECENT_WEEKS} "
            f"weeks vs {count(r.baseline_papers)} in the 12 before (score {score(r.score)}); "
            f"{count(r.week_papers)} this week{young}")


def spark_caption(d: Digest, what: str) -> str:
    first = d.week.shift(1 - SPARK_WEEKS)
    return f"{what}, {span(first.start, d.week.end)}"


def no_new_topic(t: Text, d: Digest) -> str:
    w = d.windows
    text = f"No new topic was born in {span(w['recent_start'], w['recent_end'])}"
    if d.newest_topic is not None:
        label, born = d.newest_topic
        text += f"; the newest, {t.em(t.esc(label))}, dates from {day(born)}"
    return text + "."


BORN = ("A topic's birth is the v1 day by which 5% of its papers had appeared; topics "
        "are refitted as the corpus grows, so a new one can date from before it was found.")


def new_topic_line(n: NewTopic) -> str:
    return f"born {day(n.born)}; {count(n.size)} papers in all, {count(n.week_papers)} this week"


def code_text(d: Digest) -> str:
    c = d.code
    assert c is not None
    text = (f"{count(c.with_code)} of this week's {count(c.papers)} papers "
            f"({share(c.with_code / c.papers if c.papers else None)}) link a repository, "
            f"{count(c.with_official)} ({share(c.with_official / c.papers if c.papers else None)}) "
            "their own (official)")
    if c.trend_papers:
        text += (f"; in the {TREND_WEEKS} weeks before, {share(c.trend_with_code / c.trend_papers)} "
                 f"and {share(c.trend_official / c.trend_papers)}")
    return text + ". Code often comes after v1, so the newest weeks read low."


def official_head(d: Digest) -> str:
    c = d.code
    assert c is not None
    shown = len(c.official)
    which = f"{count(shown)} of {count(c.with_official)}" if shown < c.with_official else "all"
    return (f"Official code with this week's papers ({which}; rising topics first, then "
            "papers with a venue):")


ACCEPTED = ("Papers whose own comment or journal-ref states the venue, in the version "
            "submitted this week: new papers that arrive accepted, and revisions that add the "
            "note (a revision that only repeats it counts again: only the current version's "
            "text is kept).")


def accepted_text(d: Digest) -> str:
    return (f"{count(d.accepted)} papers accepted at {count(len(d.venues))} venues. " + ACCEPTED)


def more_venues(d: Digest) -> tuple[int, int]:
    rest = d.venues[VENUES:]
    return len(rest), sum(v.papers for v in rest)


def watch_head(t: Text, name: str, query: str, matches: int) -> str:
    return (f"{t.esc(name)} · {t.em(t.esc(query))} · {count(matches)} new "
            f"{'match' if matches == 1 else 'matches'}")


WATCH = "Matches recorded this week (each paper once per watchlist, best match first)."
FOOTER = ("Made by paperradar from its published database; each number is a query on its "
          "views (README, \"Weekly digest\").")


def footer(d: Digest) -> str:
    data = f" Papers in the database: {span(d.data_first, d.data_last)}." \
        if d.data_first and d.data_last else ""
    return FOOTER + data


def empty_text(t: Text, d: Digest) -> str:
    note = data_end_note(d)
    return ("No papers in this week" + (f": {note}." if note else ".") +
            " Nothing rose, nothing was accepted, and no code appeared here.")
