"""The SQL views of the database: stable, documented names for the common questions.

Plain DuckDB views, stored in the file, so every client of a published snapshot sees them.
They are created by migration 4 (core/store.py); a change to one needs a new migration
that calls `create_views` again. README.md ("Views") documents each view's columns.

Conventions, and the guards against misreading a trend:
- Only non-withdrawn papers count; a paper belongs to the period of its v1 `published` day.
- Weeks are ISO weeks (Monday to Sunday), months calendar months, both as the DATE they start.
- A period is `partial` when the data does not cover it whole: it starts before the first
  v1 day in the database, ends after the newest one, or has not ended yet (contains today).
  A partial period's count is low for that reason alone: its `growth` is NULL, and
  baselines and the emerging-topic windows use complete periods only.
- Shares are of all papers of the period, so a holiday week or a slow month (fewer papers in
  every topic) does not read as a decline of any one topic; `active_days` (days with at
  least one paper) shows such periods. Weekends sit inside a week, never compared alone.
- Growth of a period = its share / the baseline share, the baseline being the pooled share
  (papers / all papers) over the complete periods of the BASELINE_WEEKS weeks (weekly
  views) or BASELINE_MONTHS months (monthly views) before it.
"""

from __future__ import annotations

import duckdb

BASELINE_WEEKS = 12
BASELINE_MONTHS = 3
RECENT_WEEKS = 4  # emerging topics: the last RECENT_WEEKS complete weeks ...
EMERGING_BASELINE_WEEKS = 12  # ... against the EMERGING_BASELINE_WEEKS weeks before them
MIN_SUPPORT = 20  # papers in the recent window for a topic to be ranked
YOUNG_WEEKS = 12  # a topic born this many weeks before the end of the recent window is young
# The emerging score is a one-sided 95% lower bound on log2 growth (counts as Poisson: the
# variance of a log ratio of counts is about 1/a + 1/b), so 30 papers up from 15 rank below
# 300 up from 150: a small topic's jump must be large to beat noise.
Z_ONE_SIDED = 1.645

_FRAME = {
    "week": f"RANGE BETWEEN INTERVAL {7 * BASELINE_WEEKS} DAY PRECEDING AND INTERVAL 1 DAY PRECEDING",
    "month": f"RANGE BETWEEN INTERVAL {BASELINE_MONTHS} MONTH PRECEDING AND INTERVAL 1 DAY PRECEDING",
}

# The best repository of each paper (official first, then the oldest) and its first one.
_CODE = """code AS (
    SELECT arxiv_id,
           arg_min(url, (NOT is_official, first_seen, url)) AS code_url,
           bool_or(is_official) AS code_official,
           min(first_seen) AS first_code_at
    FROM code_links WHERE kind = 'repository'
    GROUP BY arxiv_id
)"""
# The venue mention that papers.venue shows (matched by its display string), in parts.
_VENUE_PARTS = """venue_parts AS (
    SELECT arxiv_id, venue AS venue_name, year AS venue_year, kind AS venue_kind,
           CASE kind WHEN 'findings' THEN 'Findings of ' || base
                     WHEN 'workshop' THEN base || ' Workshop'
                     WHEN 'demo' THEN base || ' Demo' ELSE base END AS display
    FROM (SELECT *, CASE WHEN year IS NULL THEN venue ELSE venue || ' ' || year END AS base
          FROM venue_mentions)
    QUALIFY row_number() OVER (PARTITION BY arxiv_id, display ORDER BY source, position) = 1
)"""
# Days from v1 to the first repository link (greatest() alone would turn NULL into 0).
_DAYS_TO_CODE = ("CASE WHEN c.first_code_at IS NOT NULL THEN greatest(0, date_diff('day', "
                 "p.published, c.first_code_at)) END")

PAPERS_ENRICHED = f"""
-- One row per non-withdrawn paper with its week and month, fine and broad topic, venue
-- (display string and its parts) and best code repository (official first, then oldest).
CREATE OR REPLACE VIEW papers_enriched AS
WITH {_CODE}, {_VENUE_PARTS}, assigned AS (
    SELECT paper_id,
           any_value(topic_id) FILTER (WHERE level = 'fine') AS topic_id,
           any_value(similarity) FILTER (WHERE level = 'fine') AS topic_similarity,
           any_value(topic_id) FILTER (WHERE level = 'broad') AS broad_topic_id
    FROM paper_topics GROUP BY paper_id
)
SELECT p.arxiv_id, p.paper_id, p.title, p.authors, p.published,
       p.published::DATE AS published_day,
       date_trunc('week', p.published)::DATE AS week,
       date_trunc('month', p.published)::DATE AS month,
       p.primary_category, p.categories,
       a.topic_id, t.label AS topic_label, a.topic_similarity,
       a.broad_topic_id, b.label AS broad_topic_label,
       p.venue, v.venue_name, v.venue_year, v.venue_kind,
       p.has_code, c.code_url, coalesce(c.code_official, false) AS code_official,
       c.first_code_at, {_DAYS_TO_CODE} AS days_to_code
FROM papers p
LEFT JOIN assigned a ON a.paper_id = p.paper_id
LEFT JOIN topics t ON t.topic_id = a.topic_id
LEFT JOIN topics b ON b.topic_id = a.broad_topic_id
LEFT JOIN venue_parts v ON v.arxiv_id = p.arxiv_id AND v.display = p.venue
LEFT JOIN code c ON c.arxiv_id = p.arxiv_id
WHERE NOT p.withdrawn
"""

PERIOD_TOTALS = f"""
-- Every ISO week and month from the first to the newest v1 day (also those without papers):
-- all papers of the period, days with papers, whether it is partial, and the pooled
-- baseline total (papers of the complete periods of the {BASELINE_WEEKS} weeks /
-- {BASELINE_MONTHS} months before it).
CREATE OR REPLACE VIEW period_totals AS
WITH days AS (
    SELECT published::DATE AS day, count(*) AS papers FROM papers WHERE NOT withdrawn GROUP BY ALL
), span AS (
    SELECT min(day) AS first_day, max(day) AS last_day FROM days
), grid AS (
    SELECT 'week' AS period_kind, w::DATE AS period, (w + INTERVAL 6 DAY)::DATE AS period_end
    FROM span, range(date_trunc('week', first_day), last_day + 1, INTERVAL 7 DAY) AS t(w)
    UNION ALL
    SELECT 'month', m::DATE, (m + INTERVAL 1 MONTH - INTERVAL 1 DAY)::DATE
    FROM span, range(date_trunc('month', first_day), last_day + 1, INTERVAL 1 MONTH) AS t(m)
), counts AS (
    SELECT 'week' AS period_kind, date_trunc('week', day)::DATE AS period,
           sum(papers)::BIGINT AS papers, count(*) AS active_days
    FROM days GROUP BY ALL
    UNION ALL
    SELECT 'month', date_trunc('month', day)::DATE, sum(papers)::BIGINT, count(*)
    FROM days GROUP BY ALL
), marked AS (
    SELECT g.period_kind, g.period, g.period_end,
           (g.period < s.first_day OR g.period_end > s.last_day
            OR g.period_end >= current_date) AS partial,
           coalesce(c.papers, 0) AS papers, coalesce(c.active_days, 0) AS active_days
    FROM grid g CROSS JOIN span s LEFT JOIN counts c USING (period_kind, period)
)
SELECT period_kind, period, period_end, partial, papers, active_days,
       CASE period_kind
           WHEN 'week' THEN sum(CASE WHEN partial THEN 0 ELSE papers END) OVER (
               PARTITION BY period_kind ORDER BY period {_FRAME['week']})
           ELSE sum(CASE WHEN partial THEN 0 ELSE papers END) OVER (
               PARTITION BY period_kind ORDER BY period {_FRAME['month']})
       END AS baseline_total
FROM marked
"""


def _counts_view(name: str, kind: str, dimension: str) -> str:
    """A per-period count view of papers by topic, primary category or venue, with shares
    and growth against the trailing baseline (see the module docstring)."""
    period = "week" if kind == "week" else "month"
    back = BASELINE_WEEKS if kind == "week" else BASELINE_MONTHS
    if dimension == "topic":
        keys = "SELECT topic_id FROM topics WHERE retired_at IS NULL"
        key = "topic_id"
        counts = (f"SELECT date_trunc('{period}', p.published)::DATE AS period, pt.topic_id, "
                  "count(*) AS papers FROM papers p JOIN paper_topics pt USING (paper_id) "
                  "WHERE NOT p.withdrawn GROUP BY ALL")
        what, dense = "topic (fine and broad, see `level`)", True
    elif dimension == "category":
        keys = "SELECT DISTINCT primary_category AS category FROM papers WHERE NOT withdrawn"
        key = "category"
        counts = (f"SELECT date_trunc('{period}', published)::DATE AS period, "
                  "primary_category AS category, count(*) AS papers FROM papers "
                  "WHERE NOT withdrawn GROUP BY ALL")
        what, dense = "primary category", True
    else:
        key = "venue"
        counts = (f"SELECT date_trunc('{period}', published)::DATE AS period, venue, "
                  "count(*) AS papers FROM papers WHERE NOT withdrawn AND venue IS NOT NULL "
                  "GROUP BY ALL")
        what, dense = "venue (papers.venue; only periods with papers)", False
    if dense:
        # Every key has every period: the baseline is the previous `back` rows.
        rows = f"""SELECT k.{key}, t.*, coalesce(c.papers, 0) AS group_papers
    FROM ({keys}) k CROSS JOIN t LEFT JOIN counts c USING ({key}, period)"""
        frame = f"ROWS BETWEEN {back} PRECEDING AND 1 PRECEDING"
    else:
        rows = "SELECT c.venue, t.*, c.papers AS group_papers FROM counts c JOIN t USING (period)"
        frame = _FRAME[kind]
    label = ("JOIN topics USING (topic_id)" if dimension == "topic" else "")
    cols = "topic_id, level, label" if dimension == "topic" else key
    return f"""
-- Papers per {period} and {what}: count, all papers of the {period}, share of them, and
-- growth = share / baseline_share, where baseline_share = pooled share over the complete
-- {period}s of the {back} {period}s before it (NULL when partial or when the baseline has none).
CREATE OR REPLACE VIEW {name} AS
WITH counts AS ({counts}),
t AS (SELECT period, period_end, partial, papers AS total_papers, active_days, baseline_total
      FROM period_totals WHERE period_kind = '{kind}'),
rows AS ({rows}),
framed AS (
    SELECT *, coalesce(sum(CASE WHEN partial THEN 0 ELSE group_papers END) OVER (
               PARTITION BY {key} ORDER BY period {frame}), 0) AS baseline_papers
    FROM rows
)
SELECT period AS {period}, period_end AS {period}_end, partial, {cols},
       group_papers AS papers, total_papers, active_days,
       group_papers / nullif(total_papers, 0) AS share,
       baseline_papers, baseline_total,
       baseline_papers / nullif(baseline_total, 0) AS baseline_share,
       CASE WHEN NOT partial AND baseline_papers > 0
            THEN (group_papers / nullif(total_papers, 0)) / (baseline_papers / baseline_total)
       END AS growth
FROM framed {label}
"""


def _code_view(name: str, kind: str, by: str) -> str:
    """Code availability per month/week (and category), or per topic over all time."""
    measures = """count(p.paper_id) AS papers,
       count(p.paper_id) FILTER (WHERE p.has_code) AS with_code,
       count(p.paper_id) FILTER (WHERE p.code_official) AS with_official_code,
       count(p.paper_id) FILTER (WHERE p.has_code) / nullif(count(p.paper_id), 0) AS share_with_code,
       count(p.paper_id) FILTER (WHERE p.code_official) / nullif(count(p.paper_id), 0) AS share_official,
       median(p.days_to_code) AS median_days_to_code"""
    head = ("-- Code availability: papers, papers with a repository link (any source, and "
            "official), their shares, and the\n-- median days from v1 to the first repository "
            "link. Recent periods are low partly because code\n-- often appears after v1.")
    period = "week" if kind == "week" else "month"
    papers = f"""{_CODE}, p AS (
    SELECT p.paper_id, p.primary_category AS category,
           date_trunc('{period}', p.published)::DATE AS period, p.has_code,
           coalesce(c.code_official, false) AS code_official, {_DAYS_TO_CODE} AS days_to_code
    FROM papers p LEFT JOIN code c USING (arxiv_id)
    WHERE NOT p.withdrawn
)"""
    if by == "topic":
        return f"""{head}
CREATE OR REPLACE VIEW {name} AS
WITH {papers}
SELECT t.topic_id, t.level, t.label, {measures}
FROM topics t JOIN paper_topics pt ON pt.topic_id = t.topic_id
JOIN p ON p.paper_id = pt.paper_id
WHERE t.retired_at IS NULL
GROUP BY ALL
"""
    extra, group = ("p.category, ", ", p.category") if by == "category" else ("", "")
    join = "JOIN" if by == "category" else "LEFT JOIN"
    return f"""{head}
CREATE OR REPLACE VIEW {name} AS
WITH {papers}
SELECT t.period AS {period}, t.partial, {extra}{measures}
FROM period_totals t {join} p ON p.period = t.period
WHERE t.period_kind = '{kind}'
GROUP BY t.period, t.partial{group}
"""


VENUE_COUNTS = f"""
-- Papers per venue as shown (papers.venue, e.g. 'ICML 2026', 'ICLR 2026 Workshop'), with its
-- canonical name, year and kind, and code availability of its papers.
CREATE OR REPLACE VIEW venue_counts AS
WITH {_CODE}, {_VENUE_PARTS}
SELECT p.venue, any_value(v.venue_name) AS venue_name, any_value(v.venue_year) AS year,
       any_value(v.venue_kind) AS kind, count(*) AS papers,
       count(*) FILTER (WHERE p.has_code) AS with_code,
       count(*) FILTER (WHERE c.code_official) AS with_official_code,
       count(*) FILTER (WHERE p.has_code) / count(*) AS share_with_code,
       count(*) FILTER (WHERE c.code_official) / count(*) AS share_official,
       median({_DAYS_TO_CODE}) AS median_days_to_code
FROM papers p
LEFT JOIN venue_parts v ON v.arxiv_id = p.arxiv_id AND v.display = p.venue
LEFT JOIN code c ON c.arxiv_id = p.arxiv_id
WHERE NOT p.withdrawn AND p.venue IS NOT NULL
GROUP BY p.venue
"""


# The newest complete ISO week: the emerging views' end of the recent window.
NEWEST_COMPLETE_WEEK = ("(SELECT max(period) FROM period_totals "
                        "WHERE period_kind = 'week' AND NOT partial)")


def _emerging_view(name: str, by_category: bool) -> str:
    """Topics ranked by how much their share grew in the last complete weeks."""
    return emerging_select(by_category, NEWEST_COMPLETE_WEEK).replace(
        "-- @CREATE\n", f"CREATE OR REPLACE VIEW {name} AS\n")


def emerging_select(by_category: bool, last_week: str) -> str:
    """The emerging-topics query with the recent window ending with the ISO week that
    starts on `last_week` (an SQL expression of a Monday: the views use the newest complete
    week, index.trends.emerging_as_of a `?` parameter, so a past week's ranking is the same
    arithmetic as the view's)."""
    part = "category, " if by_category else ""
    cat_col = "p.primary_category AS category, " if by_category else ""
    scope = "of the same primary category" if by_category else ""
    totals_join = "USING (category)" if by_category else "ON true"
    return f"""
-- Emerging topics{' per primary category' if by_category else ''}. Windows: recent = the last
-- {RECENT_WEEKS} complete ISO weeks, baseline = the {EMERGING_BASELINE_WEEKS} weeks before them.
--   recent_share   = recent_papers / recent_total  (all papers {scope} in the recent window)
--   baseline_share = baseline_papers / baseline_total
--   growth         = recent_share / baseline_share (NULL when baseline_papers = 0)
--   log2_growth    = log2(((recent_papers + 1) / recent_total) / ((baseline_papers + 1) / baseline_total))
--   emerging_score = log2_growth - {Z_ONE_SIDED} * sqrt(1 / (recent_papers + 1) + 1 / (baseline_papers + 1)) / ln(2)
--                    (the one-sided 95% lower bound of log2_growth: 1 = the share at least doubled)
--   supported      = recent_papers >= {MIN_SUPPORT}; rank orders supported topics by emerging_score
--   young          = born after recent_end - {YOUNG_WEEKS} weeks
-- @CREATE
WITH w AS (
    SELECT {last_week}::DATE AS last_week
), win AS (
    SELECT (last_week - INTERVAL {7 * (RECENT_WEEKS - 1)} DAY)::DATE AS recent_start,
           (last_week + INTERVAL 6 DAY)::DATE AS recent_end,
           (last_week - INTERVAL {7 * (RECENT_WEEKS - 1 + EMERGING_BASELINE_WEEKS)} DAY)::DATE
               AS baseline_start,
           (last_week - INTERVAL {7 * (RECENT_WEEKS - 1) + 1} DAY)::DATE AS baseline_end
    FROM w
), dated AS (
    SELECT p.paper_id, {cat_col}p.published::DATE >= win.recent_start AS recent
    FROM papers p, win
    WHERE NOT p.withdrawn AND p.published::DATE BETWEEN win.baseline_start AND win.recent_end
), totals AS (
    SELECT {part}count(*) FILTER (WHERE recent) AS recent_total,
           count(*) FILTER (WHERE NOT recent) AS baseline_total
    FROM dated {'GROUP BY category' if by_category else ''}
), counts AS (
    SELECT {part}pt.topic_id, count(*) FILTER (WHERE recent) AS recent_papers,
           count(*) FILTER (WHERE NOT recent) AS baseline_papers
    FROM dated d JOIN paper_topics pt USING (paper_id)
    GROUP BY ALL
), scored AS (
    SELECT {part}t.topic_id, t.level, t.label, t.top_terms, t.size, t.born,
           win.recent_start, win.recent_end, win.baseline_start, win.baseline_end,
           c.recent_papers, c.baseline_papers, n.recent_total, n.baseline_total,
           c.recent_papers / nullif(n.recent_total, 0) AS recent_share,
           c.baseline_papers / nullif(n.baseline_total, 0) AS baseline_share,
           CASE WHEN c.baseline_papers > 0 THEN (c.recent_papers / n.recent_total)
                / (c.baseline_papers / n.baseline_total) END AS growth,
           log2(((c.recent_papers + 1) / nullif(n.recent_total, 0))
                / ((c.baseline_papers + 1) / nullif(n.baseline_total, 0))) AS log2_growth,
           log2_growth - {Z_ONE_SIDED} * sqrt(1 / (c.recent_papers + 1) + 1 / (c.baseline_papers + 1))
               / ln(2) AS emerging_score,
           c.recent_papers >= {MIN_SUPPORT} AS supported,
           t.born > win.recent_end - INTERVAL {7 * YOUNG_WEEKS} DAY AS young
    FROM counts c JOIN topics t USING (topic_id) JOIN totals n {totals_join} CROSS JOIN win
    WHERE t.retired_at IS NULL
)
SELECT *, CASE WHEN supported THEN rank() OVER (
              PARTITION BY {part}level, supported ORDER BY emerging_score DESC, topic_id) END AS rank
FROM scored
"""


def view_statements() -> list[tuple[str, str]]:
    """(name, CREATE VIEW statement) of every view, in dependency order."""
    views = [("papers_enriched", PAPERS_ENRICHED), ("period_totals", PERIOD_TOTALS)]
    for kind, prefix in (("week", "weekly"), ("month", "monthly")):
        for dimension in ("topic", "category", "venue"):
            name = f"{prefix}_{dimension}_counts"
            views.append((name, _counts_view(name, kind, dimension)))
    views += [
        ("venue_counts", VENUE_COUNTS),
        ("code_availability_weekly", _code_view("code_availability_weekly", "week", "period")),
        ("code_availability_monthly", _code_view("code_availability_monthly", "month", "period")),
        ("code_availability_by_category",
         _code_view("code_availability_by_category", "month", "category")),
        ("code_availability_by_topic", _code_view("code_availability_by_topic", "month", "topic")),
        ("emerging_topics", _emerging_view("emerging_topics", False)),
        ("emerging_topics_by_category", _emerging_view("emerging_topics_by_category", True)),
    ]
    return views


VIEW_NAMES = tuple(name for name, _ in view_statements())


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or replace) every view."""
    for _, statement in view_statements():
        con.execute(statement)
