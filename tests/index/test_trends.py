"""Trend views and `paperradar trends` on hand-made data whose right answers are known
(tests/support/trend_data.py: two topics over 13 weeks from Monday 2024-01-08, with an
empty week, a holiday week, a jump of topic A in the last four complete weeks, a partial
last week and a withdrawn paper)."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import pytest

from core.errors import UserInputError
from core.publish import publish
from core.records import CodeLink
from core.store import Store
from core.views import VIEW_NAMES
from flows.cli import main
from index import trends
from tests.support import trend_data
from tests.support.trend_data import WEEKS

W0 = date(2024, 1, 8)  # a Monday


def week(i: int) -> date:
    return W0 + timedelta(weeks=i)


def fill(store: Store) -> None:
    trend_data.fill(store, W0)


@pytest.fixture()
def db(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "work.duckdb")
    fill(store)
    yield store
    store.close()


def rows(store: Store, sql: str, params: list | None = None) -> list[dict]:
    names, values = store.query(sql, params)
    return [dict(zip(names, v, strict=True)) for v in values]


def test_period_totals_dense_with_partial_and_empty_weeks(db: Store) -> None:
    weeks = rows(db, "SELECT * FROM period_totals WHERE period_kind = 'week' ORDER BY period")
    assert [r["period"] for r in weeks] == [week(i) for i in range(13)]
    assert [r["papers"] for r in weeks] == [a + b for a, b in WEEKS]  # the withdrawn one is out
    assert [r["partial"] for r in weeks] == [False] * 12 + [True]
    assert weeks[6]["papers"] == 0 and weeks[6]["active_days"] == 0  # the empty week is there
    # week 0: Monday to Friday and the Sunday paper
    assert weeks[0]["active_days"] == 6 and weeks[12]["active_days"] == 3
    months = rows(db, "SELECT * FROM period_totals WHERE period_kind = 'month' ORDER BY period")
    assert [(r["period"], r["partial"]) for r in months] == [
        (date(2024, 1, 1), True),  # the data starts on the 8th
        (date(2024, 2, 1), False), (date(2024, 3, 1), False),
        (date(2024, 4, 1), True)]  # the data ends on the 3rd


def test_weekly_topic_growth_against_trailing_baseline(db: Store) -> None:
    a = {r["week"]: r for r in rows(db, "SELECT * FROM weekly_topic_counts WHERE topic_id = 1")}
    assert len(a) == 13
    assert a[week(0)]["papers"] == 2 and a[week(0)]["share"] == pytest.approx(0.2)
    assert a[week(0)]["growth"] is None  # nothing before it
    assert a[week(1)]["growth"] == pytest.approx(1.0)
    # the empty week: zero papers of zero, no share, no growth
    assert (a[week(6)]["papers"], a[week(6)]["share"], a[week(6)]["growth"]) == (0, None, None)
    # the holiday week: half the papers, the same share: not a decline
    assert a[week(7)]["papers"] == 1 and a[week(7)]["growth"] == pytest.approx(1.0)
    # the jump: share 0.6 against the pooled 13/65 = 0.2 of the 12 weeks before
    assert a[week(8)]["baseline_papers"] == 13 and a[week(8)]["baseline_total"] == 65
    assert a[week(8)]["growth"] == pytest.approx(3.0)
    # week 11: baseline = weeks 0..10 except none (12 weeks back reach week -1)
    assert a[week(11)]["baseline_share"] == pytest.approx((13 + 18) / (65 + 30))
    # the partial week: marked, counted, never compared
    assert a[week(12)]["partial"] and a[week(12)]["papers"] == 3 and a[week(12)]["growth"] is None
    b = {r["week"]: r for r in rows(db, "SELECT * FROM weekly_topic_counts WHERE topic_id = 2")}
    assert b[week(8)]["growth"] == pytest.approx(0.4 / 0.8)
    broad = rows(db, "SELECT * FROM weekly_topic_counts WHERE topic_id = 3 AND week = ?", [week(0)])
    assert broad[0]["level"] == "broad" and broad[0]["share"] == 1.0


def test_baseline_skips_partial_periods(db: Store) -> None:
    # March is compared with February alone: January is partial (the data starts on the 8th).
    march = rows(db, "SELECT * FROM monthly_topic_counts WHERE topic_id = 1 AND month = ?",
                 [date(2024, 3, 1)])[0]
    feb = rows(db, "SELECT * FROM monthly_topic_counts WHERE topic_id = 1 AND month = ?",
               [date(2024, 2, 1)])[0]
    assert march["baseline_papers"] == feb["papers"] and march["baseline_total"] == feb["total_papers"]
    assert march["growth"] == pytest.approx(march["share"] / feb["share"])
    assert feb["growth"] is None  # its only earlier month is partial
    april = rows(db, "SELECT * FROM monthly_topic_counts WHERE topic_id = 1 AND month = ?",
                 [date(2024, 4, 1)])[0]
    assert april["partial"] and april["growth"] is None


def test_emerging_topics(db: Store) -> None:
    found = {r["topic_id"]: r for r in rows(db, "SELECT * FROM emerging_topics")}
    a = found[1]
    assert (a["recent_start"], a["recent_end"]) == (week(8), week(11) + timedelta(days=6))
    assert a["baseline_end"] == week(8) - timedelta(days=1)
    assert (a["recent_papers"], a["recent_total"]) == (24, 40)
    assert (a["baseline_papers"], a["baseline_total"]) == (13, 65)
    assert a["growth"] == pytest.approx(3.0)
    assert a["log2_growth"] == pytest.approx(math.log2((25 / 40) / (14 / 65)))
    assert a["emerging_score"] == pytest.approx(
        math.log2((25 / 40) / (14 / 65)) - 1.645 * math.sqrt(1 / 25 + 1 / 14) / math.log(2))
    assert a["supported"] and a["rank"] == 1
    assert a["young"]  # born 2024-03-04, within 12 weeks of the window's end
    assert not found[2]["supported"] and found[2]["rank"] is None  # 16 recent papers < 20
    assert not found[2]["young"]
    cl = rows(db, "SELECT * FROM emerging_topics_by_category WHERE category = 'cs.CL'")
    assert [(r["topic_id"], r["recent_share"], r["baseline_share"]) for r in cl if r["level"] == "fine"] \
        == [(1, 1.0, 1.0)]
    assert trends.emerging(db)[0]["topic_id"] == 1


def test_emerging_as_of_a_week(db: Store) -> None:
    """The ranking as it stood at the end of a past week (the digest's): for the newest
    complete week it is the views' answer, whatever day of the week is given; for week 10
    the windows end there, with the counts of tests/support/trend_data.py."""
    newest = week(11) + timedelta(days=3)
    for level in ("fine", "broad"):
        assert trends.emerging(db, level, limit=100, supported_only=False, as_of=newest) == \
            trends.emerging(db, level, limit=100, supported_only=False)
    assert trends.emerging(db, category="cs.CL", supported_only=False, as_of=newest) == \
        trends.emerging(db, category="cs.CL", supported_only=False)
    past = {r["topic_id"]: r for r in trends.emerging(db, limit=100, supported_only=False,
                                                      as_of=week(10))}
    a, b = past[1], past[2]
    assert (a["recent_start"], a["recent_end"]) == (week(7), week(10) + timedelta(days=6))
    assert (a["baseline_start"], a["baseline_end"]) == (week(-5), week(7) - timedelta(days=1))
    # recent: weeks 7-10 (1+6+6+6 of 5+10+10+10); baseline: weeks 0-6 of the 12 before (2 a week of 10)
    assert (a["recent_papers"], a["recent_total"], a["baseline_papers"], a["baseline_total"]) == \
        (19, 35, 12, 60)
    assert (b["recent_papers"], b["baseline_papers"]) == (16, 48)
    assert a["growth"] == pytest.approx((19 / 35) / (12 / 60))
    assert a["emerging_score"] == pytest.approx(
        math.log2((20 / 35) / (13 / 60)) - 1.645 * math.sqrt(1 / 20 + 1 / 13) / math.log(2))
    assert not a["supported"] and a["rank"] is None  # 19 recent papers < 20
    assert trends.emerging(db, as_of=week(10)) == []  # nothing supported yet that week


def test_category_and_code_views(db: Store) -> None:
    cl = {r["week"]: r for r in rows(
        db, "SELECT * FROM weekly_category_counts WHERE category = 'cs.CL'")}
    assert cl[week(8)]["papers"] == 6 and cl[week(8)]["growth"] == pytest.approx(3.0)
    # Three February papers with code: official after 0 and 10 days, another source's after 4.
    feb = [r[0] for r in db.con.execute(
        "SELECT arxiv_id, published FROM papers WHERE month(published) = 2 ORDER BY arxiv_id "
        "LIMIT 3").fetchall()]
    v1 = dict(db.con.execute("SELECT arxiv_id, published FROM papers").fetchall())
    db.add_code_links([
        CodeLink(feb[0], "https://github.com/a/one", "text", True, v1[feb[0]]),
        CodeLink(feb[1], "https://github.com/a/two", "text", True, v1[feb[1]] + timedelta(days=10)),
        CodeLink(feb[2], "https://github.com/a/three", "pwc", False, v1[feb[2]] + timedelta(days=4)),
        CodeLink(feb[2], "https://a.github.io/three", "text", True, v1[feb[2]], "project_page"),
    ])
    db.set_derived({})
    code = {r["month"]: r for r in rows(db, "SELECT * FROM code_availability_monthly")}
    assert [code[m]["papers"] for m in sorted(code)] == [
        r["papers"] for r in rows(db, "SELECT papers FROM period_totals WHERE period_kind = "
                                      "'month' ORDER BY period")]
    february = code[date(2024, 2, 1)]
    assert (february["with_code"], february["with_official_code"]) == (3, 2)
    assert february["share_with_code"] == pytest.approx(3 / february["papers"])
    assert february["share_official"] == pytest.approx(2 / february["papers"])
    assert february["median_days_to_code"] == 4
    assert code[date(2024, 3, 1)]["with_code"] == 0
    assert code[date(2024, 3, 1)]["median_days_to_code"] is None
    by_topic = {r["topic_id"]: r for r in rows(db, "SELECT * FROM code_availability_by_topic")}
    assert by_topic[3]["with_code"] == 3 and by_topic[3]["papers"] == 109
    enriched = rows(db, "SELECT count(*) AS n, count(topic_id) AS t, count(broad_topic_id) AS b "
                        "FROM papers_enriched")[0]
    assert enriched == {"n": 109, "t": 109, "b": 109}


def test_every_view_answers(db: Store) -> None:
    for name in VIEW_NAMES:
        names, _ = db.query(f"SELECT * FROM {name} LIMIT 1")
        assert names, name


def test_series_and_options(db: Store) -> None:
    got = trends.series(db, "topic", "week", date(2024, 3, 20), "fine")
    assert {r["week"] for r in got} == {week(10), week(11), week(12)}
    assert trends.default_since(db, "week") == week(1)
    assert trends.default_since(db, "month") == date(2023, 11, 1)
    with pytest.raises(UserInputError, match="topic, category, venue, code"):
        trends.check_by("author")
    with pytest.raises(UserInputError, match="YYYY-MM"):
        trends.parse_since("last week")
    assert trends.parse_since("2024-02") == date(2024, 2, 1)


@pytest.fixture()
def published(home: Path) -> Path:
    work = home / "work" / "papers.duckdb"
    with Store.open(work) as store:
        fill(store)
        store.checkpoint()
    publish(home, work, None, {"run": "test"})
    return home


def test_cli_trends_json(published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trends", "--by", "topic", "--period", "week", "--since", "2024-03-25",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(r["week"], r["topic_id"], r["papers"], r["partial"]) for r in data] == [
        ("2024-03-25", 1, 6, False), ("2024-03-25", 2, 4, False),
        ("2024-04-01", 1, 3, True), ("2024-04-01", 2, 1, True)]
    assert main(["trends", "--emerging", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["label"] == "topic a"


def test_cli_trends_tables(published: Path, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    from flows import cli

    monkeypatch.setattr(cli.out, "width", 220)
    assert main(["trends"]) == 0
    text = capsys.readouterr().out
    assert "2024-04-01 *" in text and "topic a" in text and "3.00x" not in text.split("\n")[0]
    for args in (["--by", "category", "--period", "month"], ["--by", "venue"],
                 ["--by", "code", "--period", "month"], ["--emerging"],
                 ["--emerging", "--category", "cs.CL"], ["--level", "broad"]):
        assert main(["trends", *args]) == 0, args
    out = capsys.readouterr().out
    assert "cs.CL" in out and "broad ab" in out and "2024-04-01 *" in out


@pytest.mark.parametrize("args, message", [
    (["--by", "author"], "unknown --by 'author': use one of topic, category, venue, code"),
    (["--period", "day"], "unknown --period 'day': use one of week, month"),
    (["--since", "2024-13-01"], "--since '2024-13-01' is not a date"),
    (["--level", "mid"], "unknown --level 'mid'"),
    (["--category", "cs.CL"], "--category goes with --emerging"),
])
def test_cli_trends_bad_input(published: Path, capsys: pytest.CaptureFixture[str],
                              args: list[str], message: str) -> None:
    assert main(["trends", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_cli_trends_help() -> None:
    assert main(["trends", "--help"]) == 0
