"""The digest as Markdown (terminals, repositories, the webhook) and as self-contained HTML (mail).

Both lay out the same sentences (digest/sentences.py). The HTML uses inline styles only and
inline SVG charts (digest/charts.py), and every chart's numbers are also in its text.
Nothing here reads a clock: the same Digest always gives the same bytes.
"""

from __future__ import annotations

from digest import charts
from digest.compose import TREND_WEEKS, VENUE_HIGHLIGHTS, VENUES, Digest
from digest.sentences import (
    ACCEPTED,
    BORN,
    HTML,
    MD,
    NOT_RISING,
    RECENT_WEEKS,
    WATCH,
    accepted_text,
    category_name,
    change,
    code_text,
    compared_change,
    count,
    empty_text,
    footer,
    headline_rows,
    intro,
    mean,
    mean_note,
    more_venues,
    new_topic_line,
    no_new_topic,
    official_head,
    paper_line,
    rising_intro,
    rising_line,
    silent_note,
    spark_caption,
    summary,
    title,
    watch_head,
)
from digest.weeks import Week

# ---------------------------------------------------------------- Markdown


def render_markdown(d: Digest) -> str:
    """The digest as Markdown (CommonMark + tables)."""
    t = MD
    out = [f"# {title(d)}", "", *(line + "\n" for line in intro(t, d))]
    if d.empty:
        out += [empty_text(t, d), ""]
        out += _md_watches(d)
        out += ["---", footer(d), ""]
        return "\n".join(out)
    out += [*(f"- {item}" for item in summary(t, d)), ""]
    out += ["## Papers this week", "",
            f"Per primary category (a cross-listed paper counts once), against the mean of the "
            f"complete weeks among the {TREND_WEEKS} before{mean_note(d)}.{silent_note(d)}", "",
            f"| primary category | papers | mean of the {TREND_WEEKS} weeks before | change |",
            "|---|---:|---:|---:|"]
    for r in [d.total, *headline_rows(d)]:
        name = category_name(r)
        cells = [name, count(r.papers), mean(r.mean), change(compared_change(d, r))]
        if r is d.total:
            cells = [f"**{c}**" for c in cells]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out += _md_topics(d)
    out += _md_code(d)
    out += _md_venues(d)
    out += _md_watches(d)
    out += ["---", footer(d), ""]
    return "\n".join(out)


def _md_topics(d: Digest) -> list[str]:
    t = MD
    if not d.has_topics:
        return ["## Rising topics", "", "No topics yet: `paperradar index` fits them.", ""]
    out = ["## Rising topics", ""]
    if not d.windows:
        return out + ["No complete week before this one: nothing to compare.", ""]
    out += [rising_intro(t, d), ""]
    if not d.rising:
        out += [NOT_RISING, ""]
    for r in d.rising:
        out += [f"### {r.rank}. {t.esc(r.label)}", "",
                f"`{charts.spark_text(r.spark)}` {spark_caption(d, 'papers per week')}", "",
                rising_line(r) + (":" if r.papers else "."), ""]
        out += [f"- {paper_line(t, p)}" for p in r.papers]
        out += [""] if r.papers else []
    out += ["## New topics", ""]
    if not d.new_topics:
        out += [no_new_topic(t, d) + " " + BORN, ""]
    for n in d.new_topics:
        out += [f"### {t.esc(n.label)}", "", new_topic_line(n) + (":" if n.papers else "."), ""]
        out += [f"- {paper_line(t, p)}" for p in n.papers]
        out += [""] if n.papers else []
    if d.new_topics:
        out += [BORN, ""]
    return out


def _md_code(d: Digest) -> list[str]:
    c = d.code
    if c is None:
        return []
    out = ["## Code", "", code_text(d), "",
           f"`{charts.spark_text(c.spark)}` {spark_caption(d, 'share of papers with code per week')}",
           ""]
    if c.official:
        out += [official_head(d), ""]
        out += [f"- {paper_line(MD, p, with_venue=True)}" for p in c.official]
        out.append("")
    return out


def _md_venues(d: Digest) -> list[str]:
    t = MD
    out = ["## Accepted this week", ""]
    if not d.venues:
        return out + ["No paper of this week states an acceptance. " + ACCEPTED, ""]
    out += [accepted_text(d), "", "| venue | papers |", "|---|---:|"]
    out += [f"| {t.esc(v.venue)} | {count(v.papers)} |" for v in d.venues[:VENUES]]
    more, papers = more_venues(d)
    if more:
        out.append(f"| {count(more)} more venues | {count(papers)} |")
    out.append("")
    for v in d.venues[:VENUE_HIGHLIGHTS]:
        out += [f"**{t.esc(v.venue)}**", ""]
        out += [f"- {paper_line(t, p, with_venue=False)}" for p in v.examples]
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
        out += [f"### {watch_head(t, w.name, w.query, w.matches)}", ""]
        out += [f"- {paper_line(t, p)}" for p in w.shown]
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
            *(_p(line, _SMALL) for line in intro(t, d))]
    if d.empty:
        body.append(_p(empty_text(t, d)))
        body += _html_watches(d)
    else:
        body.append(_ul(summary(t, d)))
        body += _html_headline(d)
        body += _html_topics(d)
        body += _html_code(d)
        body += _html_venues(d)
        body += _html_watches(d)
    body.append(f'<p style="{_SMALL}margin-top:28px;border-top:1px solid #e6e8eb;'
                f'padding-top:10px">{t.esc(footer(d))}</p>')
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
    rows = [d.total, *headline_rows(d)]
    top = max([r.papers for r in rows[1:]] + [r.mean or 0 for r in rows[1:]] + [1])
    head = (f'<tr><th style="{_TD}text-align:left">primary category</th>'
            f'<th style="{_NUM}">papers</th><th style="{_NUM}">mean of {TREND_WEEKS} weeks before'
            f'</th><th style="{_NUM}">change</th><th style="{_TD}"></th></tr>')
    body = []
    for r in rows:
        weight = "font-weight:600;" if r is d.total else ""
        bar = "" if r is d.total else charts.bar_svg(r.papers, r.mean, top)
        body.append(f'<tr style="{weight}"><td style="{_TD}">{HTML.esc(category_name(r))}</td>'
                    f'<td style="{_NUM}">{count(r.papers)}</td><td style="{_NUM}">{mean(r.mean)}'
                    f'</td><td style="{_NUM}">{change(compared_change(d, r))}</td>'
                    f'<td style="{_TD}line-height:0">{bar}</td></tr>')
    return [_h2("Papers this week"),
            _p(f"Per primary category (a cross-listed paper counts once), against the mean of "
               f"the complete weeks among the {TREND_WEEKS} before{mean_note(d)}. Bars: this "
               f"week; red tick: the mean.{silent_note(d)}", _SMALL),
            '<table role="presentation" cellspacing="0" cellpadding="0" '
            f'style="border-collapse:collapse;width:100%">{head}{"".join(body)}</table>']


def _html_topics(d: Digest) -> list[str]:
    t = HTML
    out = [_h2("Rising topics")]
    if not d.has_topics:
        return out + [_p("No topics yet: <code>paperradar index</code> fits them.")]
    if not d.windows:
        return out + [_p("No complete week before this one: nothing to compare.")]
    out.append(_p(rising_intro(t, d), _SMALL))
    if not d.rising:
        out.append(_p(NOT_RISING))
    for r in d.rising:
        spark = charts.spark_svg(r.spark, RECENT_WEEKS, f"papers per week of topic {r.topic_id}")
        out += [_h3(f"{r.rank}. {t.esc(r.label)}"),
                '<table role="presentation" cellspacing="0" cellpadding="0"><tr>'
                f'<td style="padding:2px 12px 0 0;vertical-align:middle;line-height:0">{spark}</td>'
                f'<td style="vertical-align:middle">{_p(rising_line(r), _P)}'
                f'{_p(t.esc(spark_caption(d, "papers per week")), _SMALL)}</td></tr></table>',
                _ul([paper_line(t, p) for p in r.papers])]
    out.append(_h2("New topics"))
    if not d.new_topics:
        out.append(_p(no_new_topic(t, d)))
    for n in d.new_topics:
        out += [_h3(t.esc(n.label)), _p(new_topic_line(n)), _ul([paper_line(t, p) for p in n.papers])]
    out.append(_p(BORN, _SMALL))
    return out


def _html_code(d: Digest) -> list[str]:
    c = d.code
    if c is None:
        return []
    spark = charts.spark_svg(c.spark, 1, "share of papers with code per week")
    out = [_h2("Code"), _p(HTML.esc(code_text(d))),
           '<table role="presentation" cellspacing="0" cellpadding="0"><tr>'
           f'<td style="padding:2px 12px 0 0;line-height:0">{spark}</td><td style="vertical-align:middle">'
           f'{_p(HTML.esc(spark_caption(d, "share of papers with code per week")), _SMALL)}</td>'
           "</tr></table>"]
    if c.official:
        out += [_p(HTML.esc(official_head(d))), _ul([paper_line(HTML, p) for p in c.official])]
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
    more, papers = more_venues(d)
    if more:
        rows.append(f'<tr><td style="{_TD}color:#59636e">{count(more)} more venues</td>'
                    f'<td style="{_NUM}color:#59636e">{count(papers)}</td><td style="{_TD}"></td></tr>')
    out.append('<table role="presentation" cellspacing="0" cellpadding="0" '
               f'style="border-collapse:collapse;width:100%">'
               f'<tr><th style="{_TD}text-align:left">venue</th><th style="{_NUM}">papers</th>'
               f'<th style="{_TD}"></th></tr>{"".join(rows)}</table>')
    for v in d.venues[:VENUE_HIGHLIGHTS]:
        out += [_h3(t.esc(v.venue)), _ul([paper_line(t, p, with_venue=False) for p in v.examples])]
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
        items = [paper_line(t, p) for p in w.shown]
        if w.matches > len(w.shown):
            items.append(f"and {count(w.matches - len(w.shown))} more")
        out += [_h3(watch_head(t, w.name, w.query, w.matches)), _ul(items)]
    return out


def file_name(week: Week, fmt: str) -> str:
    """`2026-W20.md` / `2026-W20.html`."""
    return f"{week.label}.{fmt}"
