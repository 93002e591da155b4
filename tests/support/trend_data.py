"""Hand-made papers and topics whose trend numbers are known (tests of the views, README queries).

Two fine topics, A (1) and B (2), in one broad topic (3), over 13 ISO weeks from a Monday:
A has 2 of 10 papers a week, one week has no papers at all, one (a holiday) has half the
papers, A jumps to 6 of 10 in the last four complete weeks, and the 13th week is partial
(the data ends on its Wednesday). A's papers are cs.CL, B's cs.CV; a withdrawn paper of A
sits in week 8. Topic A was born 5 weeks before the end of the last complete week.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from core.records import Paper
from core.store import Store

# (papers in A, papers in B) per week
WEEKS = [(2, 8)] * 6 + [(0, 0), (1, 4), (6, 4), (6, 4), (6, 4), (6, 4), (3, 1)]


def hand_made_papers(start: date) -> tuple[list[Paper], dict[str, int]]:
    """The papers and the topic of each: a week's papers spread over its working days
    (Monday to Wednesday in the partial last week), one of week 0's on its Sunday."""
    assert start.weekday() == 0, "start on a Monday"
    papers, topic = [], {}
    n = 0
    prefix = f"{start:%y%m}"
    for i, (a, b) in enumerate(WEEKS):
        monday = start + timedelta(weeks=i)
        days = 3 if i == len(WEEKS) - 1 else 5
        for j, t in enumerate([1] * a + [2] * b):
            n += 1
            day = monday + timedelta(days=6 if i == 0 and j == 0 else j % days)
            arxiv_id = f"{prefix}.{n:05d}"
            papers.append(_paper(arxiv_id, day, "cs.CL" if t == 1 else "cs.CV"))
            topic[arxiv_id] = t
    withdrawn = f"{prefix}.99999"
    papers.append(_paper(withdrawn, start + timedelta(weeks=8), "cs.CL",
                         comment="This paper has been withdrawn by the authors."))
    topic[withdrawn] = 1
    return papers, topic


def _paper(arxiv_id: str, day: date, category: str, comment: str | None = None) -> Paper:
    when = datetime.combine(day, datetime.min.time()) + timedelta(hours=12)
    return Paper(arxiv_id, 1, f"Title {arxiv_id}", "An abstract.", ("A. Author",), when, when,
                 category, (category,), comment)


def fill(store: Store, start: date, extra: dict[str, int] | None = None) -> None:
    """Store the hand-made papers and their topics; `extra` assigns papers already in the
    store (arxiv id -> 1 or 2) too."""
    papers, topic = hand_made_papers(start)
    store.upsert_papers(papers)
    topic.update(extra or {})
    now = datetime.combine(start + timedelta(weeks=13), datetime.min.time())
    for topic_id, level, parent, label, born in (
            (1, "fine", 3, "topic a", start + timedelta(weeks=8)),
            (2, "fine", 3, "topic b", start - timedelta(weeks=14)),
            (3, "broad", None, "broad ab", start)):
        store.con.execute(
            "INSERT INTO topics VALUES (?, ?, ?, ?, ['t'], [], 0, ?, ?, ?, NULL, 1, 'vs', [1.0])",
            [topic_id, level, parent, label, born, now, now])
    store.con.execute("CREATE TEMP TABLE assigned (arxiv_id VARCHAR, topic_id BIGINT)")
    store.con.executemany("INSERT INTO assigned VALUES (?, ?)", list(topic.items()))
    store.con.execute(
        """
        INSERT INTO paper_topics
        SELECT p.paper_id, p.arxiv_id, lvl.level,
               CASE lvl.level WHEN 'fine' THEN a.topic_id ELSE 3 END, 0.5, p.content_hash, ?
        FROM papers p JOIN assigned a USING (arxiv_id), (VALUES ('fine'), ('broad')) lvl(level)
        """, [now])
    store.con.execute("DROP TABLE assigned")
    store.con.execute("INSERT INTO topic_label_history VALUES (1, 1, ?, NULL, 'topic a (first)', ['t']),"
                      " (1, 2, ?, 'topic a (first)', 'topic a', ['t'])", [now, now])
    store.con.execute("UPDATE topics SET size = (SELECT count(*) FROM paper_topics pt "
                      "WHERE pt.topic_id = topics.topic_id)")
