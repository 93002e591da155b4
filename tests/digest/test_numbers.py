"""Every number in a digest's Markdown, recomputed from the tables with SQL of the test's own
(not the views the digest reads), then a sweep that no other number is left in the text."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import date, timedelta
from typing import Any

from core.store import Store
from digest import make
from digest.charts import spark_text
from digest.sentences import change, count, growth, mean, score, share
from digest.weeks import Week
from tests.digest.conftest import CATEGORIES, W19

TODAY = date(2026, 11, 22)
LINK = re.compile(r"\[(?:[^\]\\]|\\.)*\]\(([^)]*)\)")


def q(db: Store, sql: str, params: list[Any] | None = None) -> list[tuple]:
    return db.con.execute(sql, params or []).fetchall()


def papers_in(db: Store, first: date, last: date, where: str = "true",
              params: list[Any] | None = None) -> int:
    """Non-withdrawn papers with v1 on a day in [first, last]."""
    return q(db, f"SELECT count(*) FROM papers p WHERE NOT withdrawn AND published >= ? "
                 f"AND published < ? AND {where}",
             [first, last + timedelta(days=1), *(params or [])])[0][0]


def complete(db: Store, week: Week) -> bool:
    """The views' rule, written out: the data covers the week whole and it has ended."""
    first, last = q(db, "SELECT min(published)::DATE, max(published)::DATE FROM papers "
                        "WHERE NOT withdrawn")[0]
    return week.start >= first and week.end <= last and week.end < TODAY


def before(db: Store, week: Week) -> list[Week]:
    return [w for w in (week.shift(-k) for k in range(8, 0, -1)) if complete(db, w)]


def emerging(db: Store, anchor: Week) -> list[dict[str, Any]]:
    """The emerging ranking for the 4 weeks ending with `anchor`, from raw counts."""
    recent = (anchor.shift(-3).start, anchor.end)
    base = (anchor.shift(-15).start, anchor.shift(-3).start - timedelta(days=1))
    rt, bt = papers_in(db, *recent), papers_in(db, *base)
    out = []
    for topic_id, label, born in q(db, "SELECT topic_id, label, born FROM topics "
                                       "WHERE level = 'fine' AND retired_at IS NULL"):
        on = ("paper_id IN (SELECT paper_id FROM paper_topics WHERE topic_id = ?)", [topic_id])
        rp, bp = papers_in(db, *recent, *on), papers_in(db, *base, *on)
        lg = math.log2(((rp + 1) / rt) / ((bp + 1) / bt))
        s = lg - 1.645 * math.sqrt(1 / (rp + 1) + 1 / (bp + 1)) / math.log(2)
        out.append(dict(topic_id=topic_id, label=label, rp=rp, bp=bp, score=s,
                        growth=(rp / rt) / (bp / bt) if bp else None,
                        young=born > recent[1] - timedelta(weeks=12)))
    ranked = sorted((r for r in out if r["rp"] >= 20 and r["score"] > 0),
                    key=lambda r: (-r["score"], r["topic_id"]))
    return ranked[:5]


def has_code(official: bool) -> str:
    return ("EXISTS (SELECT 1 FROM code_links c WHERE c.arxiv_id = p.arxiv_id AND "
            f"c.kind = 'repository'{' AND c.is_official' if official else ''})")


def display(venue: str, year: int | None, kind: str) -> str:
    base = venue if year is None else f"{venue} {year}"
    return {"findings": f"Findings of {base}", "workshop": f"{base} Workshop",
            "demo": f"{base} Demo"}.get(kind, base)


class Checked:
    """The Markdown's lines, and which of them the test has verified."""

    def __init__(self, markdown: str) -> None:
        self.lines = markdown.splitlines()
        self.done: set[int] = set()

    def line(self, text: str) -> None:
        assert text in self.lines, f"missing line: {text!r}"
        self.done.add(self.lines.index(text))

    def items_after(self, head: str) -> list[tuple[int, str]]:
        """The list items ('- ...') of the block following the line `head`."""
        i = self.lines.index(head) + 1
        while i < len(self.lines) and not self.lines[i].startswith("- "):
            i += 1
        found = []
        while i < len(self.lines) and self.lines[i].startswith("- "):
            found.append((i, self.lines[i]))
            i += 1
        return found

    def papers(self, head: str, ids: list[str], tail: list[str] | None = None) -> None:
        """The items after `head` link these papers in this order (each ending with `tail`)."""
        items = [(i, line) for i, line in self.items_after(head) if "arxiv.org/abs/" in line]
        assert [LINK.match(line[2:]).group(1).rsplit("/", 1)[1] for _, line in items] == ids
        for k, (i, line) in enumerate(items):
            if tail is not None:
                assert line.endswith(tail[k]), (line, tail[k])
            self.done.add(i)

    def unverified_numbers(self, allowed: list[str]) -> list[str]:
        """Lines not verified that still hold a digit once links, dates and `allowed` text
        (labels, venue names, fixed wording) are taken out."""
        left = []
        for i, line in enumerate(self.lines):
            if i in self.done:
                continue
            text = LINK.sub("", line)
            text = re.sub(r"\d{4}-\d{2}-\d{2}", "", text)
            for phrase in sorted(allowed, key=len, reverse=True):
                text = text.replace(phrase, "")
            if re.search(r"\d", text):
                left.append(line)
        return left


def test_every_number_of_the_markdown_matches_sql(db: Store) -> None:
    week = W19
    md = make(db, week, CATEGORIES, TODAY).markdown
    c = Checked(md)
    prior = before(db, week)
    assert len(prior) == 8  # W11..W18

    # Papers this week, per tracked primary category and the others.
    total = papers_in(db, week.start, week.end)
    weekly = [papers_in(db, w.start, w.end) for w in prior]
    total_mean = sum(weekly) / len(weekly)
    c.line(f"| **all papers** | **{count(total)}** | **{mean(total_mean)}** | "
           f"**{change(total / total_mean - 1)}** |")
    rows = []
    for cat in (*CATEGORIES, None):
        where = "primary_category = ?" if cat else "NOT list_contains(?, primary_category)"
        arg = [cat] if cat else [list(CATEGORIES)]
        n = papers_in(db, week.start, week.end, where, arg)
        m = sum(papers_in(db, w.start, w.end, where, arg) for w in prior) / len(prior)
        rows.append((cat or "other categories", n, m))
        if not (n or m):  # no paper in any of the weeks: named in a sentence, not a row
            assert f"No paper in these weeks has {cat} as its primary category" in md
            continue
        c.line(f"| {cat or 'other categories'} | {count(n)} | {mean(m)} | "
               f"{change(n / m - 1 if m else None)} |")
    assert sum(n for _, n, _ in rows) == total
    c.line(f"- **{count(total)} new papers**, {change(total / total_mean - 1)} on the mean of "
           f"the 8 weeks before ({mean(total_mean)})")

    # Rising topics: their numbers, sparklines and the week's most typical papers.
    ranked = emerging(db, week)
    assert ranked, "the fixture has a rising topic"
    c.line("- Rising: " + "; ".join(f"*{r['label']}* ({growth(r['growth'])})" for r in ranked[:3]))
    for rank, r in enumerate(ranked, 1):
        on = ("paper_id IN (SELECT paper_id FROM paper_topics WHERE topic_id = ?)", [r["topic_id"]])
        this_week = papers_in(db, week.start, week.end, *on)
        spark = [papers_in(db, w.start, w.end, *on) for w in (week.shift(k - 15) for k in range(16))]
        c.line(f"### {rank}. {r['label']}")
        c.line(f"`{spark_text(spark)}` papers per week, {week.shift(-15).start} – {week.end}")
        young = "; a young topic" if r["young"] else ""
        head = (f"Share {growth(r['growth'])}: {count(r['rp'])} papers in the last 4 weeks vs "
                f"{count(r['bp'])} in the 12 before (score {score(r['score'])}); "
                f"{count(this_week)} this week{young}:")
        c.line(head)
        typical = [a for (a,) in q(db, """
            SELECT p.arxiv_id FROM papers p JOIN paper_topics t USING (paper_id)
            WHERE t.topic_id = ? AND NOT p.withdrawn AND p.published >= ? AND p.published < ?
            ORDER BY t.similarity DESC, p.arxiv_id LIMIT 3""",
                                      [r["topic_id"], week.start, week.end + timedelta(days=1)])]
        c.papers(head, typical)

    # Code this week against the complete weeks among the 8 before.
    with_code = papers_in(db, week.start, week.end, has_code(False))
    official = papers_in(db, week.start, week.end, has_code(True))
    trend = sum(papers_in(db, w.start, w.end) for w in prior)
    trend_code = sum(papers_in(db, w.start, w.end, has_code(False)) for w in prior)
    trend_official = sum(papers_in(db, w.start, w.end, has_code(True)) for w in prior)
    c.line(f"{count(with_code)} of this week's {count(total)} papers ({share(with_code / total)}) "
           f"link a repository, {count(official)} ({share(official / total)}) their own "
           f"(official); in the 8 weeks before, {share(trend_code / trend)} and "
           f"{share(trend_official / trend)}. Code often comes after v1, so the newest weeks "
           "read low.")
    shares = []
    for w in (week.shift(k - 15) for k in range(16)):
        n = papers_in(db, w.start, w.end)
        shares.append(papers_in(db, w.start, w.end, has_code(False)) / n if n else None)
    c.line(f"`{spark_text(shares)}` share of papers with code per week, "
           f"{week.shift(-15).start} – {week.end}")
    c.line(f"- **{count(with_code)} papers link code** ({share(with_code / total)}), "
           f"{count(official)} of them official")
    head = (f"Official code with this week's papers ({min(5, official)} of {count(official)}; "
            "rising topics first, then papers with a venue):")
    c.line(head)
    rising_ids = [r["topic_id"] for r in ranked]
    candidates = q(db, f"""
        SELECT p.arxiv_id, t.topic_id, p.venue FROM papers p
        LEFT JOIN paper_topics t ON t.paper_id = p.paper_id AND t.level = 'fine'
        WHERE NOT p.withdrawn AND p.published >= ? AND p.published < ? AND {has_code(True)}""",
                   [week.start, week.end + timedelta(days=1)])
    order = sorted(candidates, key=lambda r: (r[1] not in rising_ids, r[2] is None, r[0]))
    c.papers(head, [r[0] for r in order[:5]])

    # Accepted this week: the paper's own text names its venue, in a version of this week.
    found = q(db, """
        SELECT p.arxiv_id, p.venue, m.venue, m.year, m.kind,
               EXISTS (SELECT 1 FROM code_links c WHERE c.arxiv_id = p.arxiv_id
                       AND c.kind = 'repository' AND c.is_official)
        FROM papers p JOIN venue_mentions m USING (arxiv_id)
        WHERE NOT p.withdrawn AND p.venue IS NOT NULL AND m.source = 'text'
          AND p.updated >= ? AND p.updated < ?""", [week.start, week.end + timedelta(days=1)])
    accepted = {a: (v, off) for a, v, mv, y, k, off in found if display(mv, y, k) == v}
    by_venue = Counter(v for v, _ in accepted.values())
    venues = sorted(by_venue.items(), key=lambda kv: (-kv[1], kv[0]))
    assert len(venues) > 10, "the fixture fills the table"
    c.line(f"- **{count(len(accepted))} papers accepted** at {count(len(venues))} venues, most at "
           f"{venues[0][0]} ({count(venues[0][1])})")
    c.line(f"{count(len(accepted))} papers accepted at {count(len(venues))} venues. Papers whose "
           "own comment or journal-ref states the venue, in the version submitted this week: new "
           "papers that arrive accepted, and revisions that add the note (a revision that only "
           "repeats it counts again: only the current version's text is kept).")
    for venue, n in venues[:10]:
        c.line(f"| {venue} | {count(n)} |")
    c.line(f"| {count(len(venues) - 10)} more venues | {count(sum(n for _, n in venues[10:]))} |")
    for venue, _ in venues[:3]:
        ids = sorted((a for a, (v, _) in accepted.items() if v == venue),
                     key=lambda a: (not accepted[a][1], a))
        c.papers(f"**{venue}**", ids[:3])

    # Watchlists: matches recorded in the week, best first, ten shown.
    start = week.bounds[0]
    for name, query in q(db, "SELECT name, query FROM watchlists ORDER BY name"):
        matches = q(db, """
            SELECT m.arxiv_id, m.score FROM watch_matches m JOIN papers p USING (arxiv_id)
            WHERE m.watchlist = ? AND NOT p.withdrawn AND m.matched_at >= ?
              AND m.matched_at < ? ORDER BY m.score DESC, m.arxiv_id""",
                    [name, start, start + timedelta(days=7)])
        head = (f"### {name} · *{query}* · {count(len(matches))} new "
                f"{'match' if len(matches) == 1 else 'matches'}")
        c.line(head)
        if matches:
            c.papers(head, [a for a, _ in matches[:10]], [f" · match {s:.2f}" for _, s in matches[:10]])
        if len(matches) > 10:
            c.line(f"- and {count(len(matches) - 10)} more")

    # Nothing else in the text is a number: only dates, links, names and fixed wording.
    names = [label for (label,) in q(db, "SELECT label FROM topics")]
    names += [v for (v,) in q(db, "SELECT DISTINCT venue FROM papers WHERE venue IS NOT NULL")]
    names += ["cs.CL", "cs.CV", "cs.LG", week.label, week.span(), "v1", "log2", "95%", "5%",
              "8 weeks", "the 8 before", "4 weeks", "12 weeks", "12 before", "above 0",
              "1, it at least", "20 papers", "4 and 12 weeks"]
    assert c.unverified_numbers(names) == []
