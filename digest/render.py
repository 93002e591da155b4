"""The digest as Markdown (terminals, repositories, the webhook) and as self-contained HTML (mail).

Both are written from one list of sentences (`_Text` knows how each format escapes, bolds
and links), so the two versions say the same thing with the same numbers. The HTML uses
inline styles only and inline SVG charts (digest/charts.py), and every chart's numbers are
also in its text. Nothing here reads a clock: the same Digest always gives the same bytes.
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
    VENUE_HIGHLIGHTS,
    VENUES,
    CategoryRow,
    Digest,
    NewTopic,
    PaperRef,
    Rising,
    data_end_note,
)
from digest.weeks import Week

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
class _Text:
    """How one format writes plain text, emphasis and links."""

    esc: Callable[[str], str]
    bold: Callable[[str], str]
    em: Callable[[str], str]
    link: Callable[[str, str], str]


_MD_SPECIAL = set("\\`*_[]<>|#")


def md_escape(text: str) -> str:
    """Text (a title, a label) as Markdown that shows it as written."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


MD = _Text(esc=md_escape, bold=lambda s: f"**{s}**", em=lambda s: f"*{s}*",
           link=lambda text, url: f"[{text}]({url})")
HTML = _Text(esc=lambda s: html.escape(s, quote=False), bold=lambda s: f"<strong>{s}</strong>",
             em=lambda s: f"<em>{s}</em>",
             link=lambda text, url: f'<a href="{html.escape(url)}" style="color:{charts.ACCENT};'
             f'text-decoration:none">{text}</a>')


def _repo(url: str) -> str:
    """A repository link's text: the URL without its scheme."""
    return url.split("://", 1)[-1].rstrip("/")


def _paper(t: _Text, p: PaperRef, with_venue: bool = True, with_code: bool = True) -> str:
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


def _intro(t: _Text, d: Digest) -> list[str]:
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


def _summary(t: _Text, d: Digest) -> list[str]:
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


def _category_name(row: CategoryRow) -> str:
    return {"all": "all papers", "other": "other categories"}.get(row.name, row.name)


def _headline_rows(d: Digest) -> list[CategoryRow]:
    """The tracked categories, then the others when they have papers."""
    return [r for r in d.categories if r.name != "other" or r.papers or r.mean]


def _change(d: Digest, row: CategoryRow) -> float | None:
    """A partial week's counts are low for that reason alone: not compared (as in the views)."""
    return None if d.partial else row.change


def _mean_note(d: Digest) -> str:
    if d.partial:
        return "; this week is partial, so its change is not computed"
    weeks = d.total.weeks
    if weeks == TREND_WEEKS:
        return ""
    return f" (only {weeks} complete weeks before this one)" if weeks else \
        " (no complete week before this one)"


def _rising_intro(t: _Text, d: Digest) -> str:
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


def _rising_line(r: Rising) -> str:
    young = "; a young topic" if r.young else ""
    return (f"Share {growth(r.growth)}: {count(r.recent_papers)} papers in the last {RECENT_WEEKS} "
            f"weeks vs {count(r.baseline_papers)} in the 12 before (score {score(r.score)}); "
            f"{count(r.week_papers)} this week{young}")


def _spark_caption(d: Digest, what: str) -> str:
    first = d.week.shift(1 - SPARK_WEEKS)
    return f"{what}, {span(first.start, d.week.end)}"


def _no_new_topic(t: _Text, d: Digest) -> str:
    w = d.windows
    text = f"No new topic was born in {span(w['recent_start'], w['recent_end'])}"
    if d.newest_topic is not None:
        label, born = d.newest_topic
        text += f"; the newest, {t.em(t.esc(label))}, dates from {day(born)}"
    return text + "."


BORN = ("A topic's birth is the v1 day by which 5% of its papers had appeared; topics "
        "are refitted as the corpus grows, so a new one can date from before it was found.")


def _new_line(n: NewTopic) -> str:
    return f"born {day(n.born)}; {count(n.size)} papers in all, {count(n.week_papers)} this week"


def _code_text(d: Digest) -> str:
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


def _official_head(d: Digest) -> str:
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


def _accepted_text(d: Digest) -> str:
    return (f"{count(d.accepted)} papers accepted at {count(len(d.venues))} venues. " + ACCEPTED)


def _more_venues(d: Digest) -> tuple[int, int]:
    rest = d.venues[VENUES:]
    return len(rest), sum(v.papers for v in rest)


def _watch_head(t: _Text, name: str, query: str, matches: int) -> str:
    return (f"{t.esc(name)} · {t.em(t.esc(query))} · {count(matches)} new "
            f"{'match' if matches == 1 else 'matches'}")


WATCH = "Matches recorded this week (each paper once per watchlist, best match first)."
FOOTER = ("Made by paperradar from its published database; each number is a query on its "
          "views (README, \"Weekly digest\").")


def _footer(d: Digest) -> str:
    data = f" Papers in the database: {span(d.data_first, d.data_last)}." \
        if d.data_first and d.data_last else ""
    return FOOTER + data


def _empty(t: _Text, d: Digest) -> str:
    note = data_end_note(d)
    return ("No papers in this week" + (f": {note}." if note else ".") +
            " Nothing rose, nothing was accepted, and no code appeared here.")


# ---------------------------------------------------------------- Markdown


def render_markdown(d: Digest) -> str:
    """The digest as Markdown (CommonMark + tables)."""
    t = MD
    out = [f"# {title(d)}", "", *(line + "\n" for line in _intro(t, d))]
    if d.empty:
        out += [_empty(t, d), ""]
        out += _md_watches(d)
        out += ["---", _footer(d), ""]
        return "\n".join(out)
    out += [*(f"- {item}" for item in _summary(t, d)), ""]
    out += ["## Papers this week", "",
            f"Per primary category (a cross-listed paper counts once), against the mean of the "
            f"complete weeks among the {TREND_WEEKS} before{_mean_note(d)}.", "",
            f"| primary category | papers | mean of the {TREND_WEEKS} weeks before | change |",
            "|---|---:|---:|---:|"]
    for r in [d.total, *_headline_rows(d)]:
        name = _category_name(r)
        cells = [name, count(r.papers), mean(r.mean), change(_change(d, r))]
        if r is d.total:
            cells = [f"**{c}**" for c in cells]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out += _md_topics(d)
    out += _md_code(d)
    out += _md_venues(d)
    out += _md_watches(d)
    out += ["---", _footer(d), ""]
    return "\n".join(out)


def _md_topics(d: Digest) -> list[str]:
    t = MD
    if not d.has_topics:
        return ["## Rising topics", "", "No topics yet: `paperradar index` fits them.", ""]
    out = ["## Rising topics", ""]
    if not d.windows:
        return out + ["No complete week before this one: nothing to compare.", ""]
    out += [_rising_intro(t, d), ""]
    if not d.rising:
        out += [NOT_RISING, ""]
    for r in d.rising:
        out += [f"### {r.rank}. {t.esc(r.label)}", "",
                f"`{charts.spark_text(r.spark)}` {_spark_caption(d, 'papers per week')}", "",
                _rising_line(r) + (":" if r.papers else "."), ""]
        out += [f"- {_paper(t, p)}" for p in r.papers]
        out += [""] if r.papers else []
    out += ["## New topics", ""]
    if not d.new_topics:
        out += [_no_new_topic(t, d) + " " + BORN, ""]
    for n in d.new_topics:
        out += [f"### {t.esc(n.label)}", "", _new_line(n) + (":" if n.papers else "."), ""]
        out += [f"- {_paper(t, p)}" for p in n.papers]
        out += [""] if n.papers else []
    if d.new_topics:
        out += [BORN, ""]
    return out


def _md_code(d: Digest) -> list[str]:
    c = d.code
    if c is None:
        return []
    out = ["## Code", "", _code_text(d), "",
           f"`{charts.spark_text(c.spark)}` {_spark_caption(d, 'share of papers with code per week')}",
           ""]
    if c.official:
        out += [_official_head(d), ""]
        out += [f"- {_paper(MD, p, with_venue=True)}" for p in c.official]
        out.append("")
    return out


def _md_venues(d: Digest) -> list[str]:
    t = MD
    out = ["## Accepted this week", ""]
    if not d.venues:
        return out + ["No paper of this week states an acceptance. " + ACCEPTED, ""]
    out += [_accepted_text(d), "", "| venue | papers |", "|---|---:|"]
    out += [f"| {t.esc(v.venue)} | {count(v.papers)} |" for v in d.venues[:VENUES]]
    more, papers = _more_venues(d)
    if more:
        out.append(f"| {count(more)} more venues | {count(papers)} |")
    out.append("")
    for v in d.venues[:VENUE_HIGHLIGHTS]:
        out += [f"**{t.esc(v.venue)}**", ""]
        out += [f"- {_paper(t, p, with_venue=False)}" for p in v.examples]
        out.append("")
    return out


def _md_watches(d: Digest) -> list[str]:
    if d.watches is None:
        return []
    t = MD
    out = ["## Watchlists", ""]
    if not d.watches:
        return out + ["No watchlist yet: `paperradar watch add NAME QUERY` makes one.", ""]
    out += [WATCH, ""]
    for w in d.watches:
        out += [f"### {_watch_head(t, w.name, w.query, w.matches)}", ""]
        out += [f"- {_paper(t, p)}" for p in w.shown]
        if w.matches > len(w.shown):
            out.append(f"- and {count(w.matches - len(w.shown))} more")
        out += [""] if w.shown else []
    return out


# ---------------------------------------------------------------- HTML

_FONT = ("font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif;"
         "color:#1f2328;")
_H2 = ("margin:28px 0 8px;padding-top:14px;border-top:1px solid #e6e8eb;font-size:19px;"
       "line-height:1.3;")
_H3 = "margin:18px 0 4px;font-size:16px;line-height:1.35;"
_P = "margin:6px 0;font-size:14px;line-height:1.5;"
_SMALL = "margin:4px 0;font-size:12px;line-height:1.45;color:#59636e;"
_UL = "margin:6px 0 6px;padding-left:20px;font-size:14px;line-height:1.5;"
_TD = "padding:4px 8px;border-bottom:1px solid #eef0f2;font-size:14px;"
_NUM = _TD + "text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums;"


def _p(text: str, style: str = _P) -> str:
    return f'<p style="{style}">{text}</p>'


def _ul(items: list[str]) -> str:
    if not items:
        return ""
    return f'<ul style="{_UL}">' + "".join(f'<li style="margin:3px 0">{i}</li>' for i in items) + \
        "</ul>"


def render_html(d: Digest) -> str:
    """The digest as one self-contained HTML page (inline styles and SVG; no scripts, no
    external resources), laid out for a mail client's 640-pixel column."""
    t = HTML
    body = [f'<p style="margin:0;font-size:12px;letter-spacing:.08em;text-transform:uppercase;'
            f'color:{charts.ACCENT}">paperradar weekly digest</p>',
            f'<h1 style="margin:4px 0 8px;font-size:26px;line-height:1.2">{d.week.label}</h1>',
            *(_p(line, _SMALL) for line in _intro(t, d))]
    if d.empty:
        body.append(_p(_empty(t, d)))
        body += _html_watches(d)
    else:
        body.append(_ul(_summary(t, d)))
        body += _html_headline(d)
        body += _html_topics(d)
        body += _html_code(d)
        body += _html_venues(d)
        body += _html_watches(d)
    body.append(f'<p style="{_SMALL}margin-top:28px;border-top:1px solid #e6e8eb;'
                f'padding-top:10px">{t.esc(_footer(d))}</p>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{t.esc(title(d))}</title></head>\n"
        f'<body style="margin:0;padding:0;background:#f3f4f6">'
        f'<div style="max-width:640px;margin:0 auto;padding:24px 28px 32px;background:#ffffff;{_FONT}">\n'
        + "\n".join(part for part in body if part) + "\n</div></body></html>\n")


def _h2(text: str) -> str:
    return f'<h2 style="{_H2}">{text}</h2>'


def _h3(text: str) -> str:
    return f'<h3 style="{_H3}">{text}</h3>'


def _html_headline(d: Digest) -> list[str]:
    rows = [d.total, *_headline_rows(d)]
    top = max([r.papers for r in rows[1:]] + [r.mean or 0 for r in rows[1:]] + [1])
    head = (f'<tr><th style="{_TD}text-align:left">primary category</th>'
            f'<th style="{_NUM}">papers</th><th style="{_NUM}">mean of {TREND_WEEKS} weeks before'
            f'</th><th style="{_NUM}">change</th><th style="{_TD}"></th></tr>')
    body = []
    for r in rows:
        weight = "font-weight:600;" if r is d.total else ""
        bar = "" if r is d.total else charts.bar_svg(r.papers, r.mean, top)
        body.append(f'<tr style="{weight}"><td style="{_TD}">{HTML.esc(_category_name(r))}</td>'
                    f'<td style="{_NUM}">{count(r.papers)}</td><td style="{_NUM}">{mean(r.mean)}'
                    f'</td><td style="{_NUM}">{change(_change(d, r))}</td>'
                    f'<td style="{_TD}line-height:0">{bar}</td></tr>')
    return [_h2("Papers this week"),
            _p(f"Per primary category (a cross-listed paper counts once), against the mean of "
               f"the complete weeks among the {TREND_WEEKS} before{_mean_note(d)}. Bars: this "
               "week; red tick: the mean.", _SMALL),
            '<table role="presentation" cellspacing="0" cellpadding="0" '
            f'style="border-collapse:collapse;width:100%">{head}{"".join(body)}</table>']


def _html_topics(d: Digest) -> list[str]:
    t = HTML
    out = [_h2("Rising topics")]
    if not d.has_topics:
        return out + [_p("No topics yet: <code>paperradar index</code> fits them.")]
    if not d.windows:
        return out + [_p("No complete week before this one: nothing to compare.")]
    out.append(_p(_rising_intro(t, d), _SMALL))
    if not d.rising:
        out.append(_p(NOT_RISING))
    for r in d.rising:
        spark = charts.spark_svg(r.spark, RECENT_WEEKS, f"papers per week of topic {r.topic_id}")
        out += [_h3(f"{r.rank}. {t.esc(r.label)}"),
                '<table role="presentation" cellspacing="0" cellpadding="0"><tr>'
                f'<td style="padding:2px 12px 0 0;vertical-align:middle;line-height:0">{spark}</td>'
                f'<td style="vertical-align:middle">{_p(_rising_line(r), _P)}'
                f'{_p(t.esc(_spark_caption(d, "papers per week")), _SMALL)}</td></tr></table>',
                _ul([_paper(t, p) for p in r.papers])]
    out.append(_h2("New topics"))
    if not d.new_topics:
        out.append(_p(_no_new_topic(t, d)))
    for n in d.new_topics:
        out += [_h3(t.esc(n.label)), _p(_new_line(n)), _ul([_paper(t, p) for p in n.papers])]
    out.append(_p(BORN, _SMALL))
    return out


def _html_code(d: Digest) -> list[str]:
    c = d.code
    if c is None:
        return []
    spark = charts.spark_svg(c.spark, 1, "share of papers with code per week")
    out = [_h2("Code"), _p(HTML.esc(_code_text(d))),
           '<table role="presentation" cellspacing="0" cellpadding="0"><tr>'
           f'<td style="padding:2px 12px 0 0;line-height:0">{spark}</td><td style="vertical-align:middle">'
           f'{_p(HTML.esc(_spark_caption(d, "share of papers with code per week")), _SMALL)}</td>'
           "</tr></table>"]
    if c.official:
        out += [_p(HTML.esc(_official_head(d))), _ul([_paper(HTML, p) for p in c.official])]
    return out


def _html_venues(d: Digest) -> list[str]:
    t = HTML
    out = [_h2("Accepted this week")]
    if not d.venues:
        return out + [_p("No paper of this week states an acceptance."), _p(ACCEPTED, _SMALL)]
    out += [_p(f"{count(d.accepted)} papers accepted at {count(len(d.venues))} venues."),
            _p(t.esc(ACCEPTED), _SMALL)]
    top = d.venues[0].papers
    rows = []
    for v in d.venues[:VENUES]:
        rows.append(f'<tr><td style="{_TD}">{t.esc(v.venue)}</td><td style="{_NUM}">'
                    f'{count(v.papers)}</td><td style="{_TD}line-height:0">'
                    f'{charts.bar_svg(v.papers, None, top, width=120)}</td></tr>')
    more, papers = _more_venues(d)
    if more:
        rows.append(f'<tr><td style="{_TD}color:#59636e">{count(more)} more venues</td>'
                    f'<td style="{_NUM}color:#59636e">{count(papers)}</td><td style="{_TD}"></td></tr>')
    out.append('<table role="presentation" cellspacing="0" cellpadding="0" '
               f'style="border-collapse:collapse;width:100%">'
               f'<tr><th style="{_TD}text-align:left">venue</th><th style="{_NUM}">papers</th>'
               f'<th style="{_TD}"></th></tr>{"".join(rows)}</table>')
    for v in d.venues[:VENUE_HIGHLIGHTS]:
        out += [_h3(t.esc(v.venue)), _ul([_paper(t, p, with_venue=False) for p in v.examples])]
    return out


def _html_watches(d: Digest) -> list[str]:
    if d.watches is None:
        return []
    t = HTML
    out = [_h2("Watchlists")]
    if not d.watches:
        return out + [_p("No watchlist yet: <code>paperradar watch add NAME QUERY</code> makes one.")]
    out.append(_p(WATCH, _SMALL))
    for w in d.watches:
        items = [_paper(t, p) for p in w.shown]
        if w.matches > len(w.shown):
            items.append(f"and {count(w.matches - len(w.shown))} more")
        out += [_h3(_watch_head(t, w.name, w.query, w.matches)), _ul(items)]
    return out


def file_name(week: Week, fmt: str) -> str:
    """`2026-W20.md` / `2026-W20.html`."""
    return f"{week.label}.{fmt}"
