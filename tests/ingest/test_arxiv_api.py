"""The arXiv client against recorded responses and real records served on loopback HTTP."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest

from core.errors import IngestError, SourceHTTPError, UserInputError
from ingest._http import RetryPolicy
from ingest.arxiv_api import ArxivAPIClient, clean_text, window_query
from tests.support.records import author_names, daily_records

FAST = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05)


@pytest.fixture()
def server(arxiv_server):  # type: ignore[no-untyped-def]
    arxiv_server.reset()
    yield arxiv_server
    arxiv_server.reset()


def client(server, **kwargs) -> ArxivAPIClient:  # type: ignore[no-untyped-def]
    kwargs.setdefault("delay", 0)
    kwargs.setdefault("retry", FAST)
    return ArxivAPIClient(server.api_url, **kwargs)


def test_new_style_id_from_recorded_response(server) -> None:  # type: ignore[no-untyped-def]
    [paper] = client(server).fetch_ids(["1605.08386"])
    assert paper.arxiv_id == "1605.08386" and paper.version == 1
    assert paper.title == "Heat-bath random walks with Markov bases"
    assert paper.authors == ("Caprice Stanley", "Tobias Windisch")
    assert paper.primary_category == "math.CO"
    assert paper.comment == "20 pages, 3 figures"
    assert paper.published == datetime(2016, 5, 26, 17, 52, 3) or paper.published.year == 2016


@pytest.mark.parametrize(
    ("raw", "arxiv_id", "version"),
    [("quant-ph/0201082v1", "quant-ph/0201082", 1), ("hep-ex/0406020v1", "hep-ex/0406020", 1),
     ("astro-ph/0601001", "astro-ph/0601001", None)],
)
def test_old_style_ids(server, raw: str, arxiv_id: str, version: int | None) -> None:  # type: ignore[no-untyped-def]
    [paper] = client(server).fetch_ids([raw])
    assert paper.arxiv_id == arxiv_id
    assert "/" in paper.arxiv_id and "v" not in paper.arxiv_id.split("/")[1]
    if version:
        assert paper.version == version


def test_legacy_2016_serialisation(server) -> None:  # type: ignore[no-untyped-def]
    [paper] = client(server).fetch_ids(["1111.2011v2"])
    assert paper.arxiv_id == "1111.2011" and paper.version == 2
    assert paper.title.startswith("Quantum Criticality for Extended Nodes on a Bethe Lattice")
    assert paper.primary_category == "cond-mat.str-el"
    assert paper.categories == ("cond-mat.str-el", "cond-mat.stat-mech")
    assert paper.published < paper.updated


def test_http_400_error_feed_fails_fast(server) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SourceHTTPError) as info:
        list(client(server).fetch_ids(["abc"]))
    assert info.value.status == 400
    assert len(server.requests) == 1  # a 4xx is not retried


def test_unknown_id_gives_empty_result(server) -> None:  # type: ignore[no-untyped-def]
    assert list(client(server).fetch_ids(["0000.0000"])) == []


def test_window_returns_every_record_once_with_correct_fields(server, fixtures_dir: Path) -> None:  # type: ignore[no-untyped-def]
    papers = list(client(server, page_size=500).fetch_window(
        ["cs.CL", "cs.CV"], date(2026, 6, 1), date(2026, 6, 7)))
    expected = daily_records(fixtures_dir, {"cs.CL", "cs.CV"}, date(2026, 6, 1), date(2026, 6, 7))
    assert [p.arxiv_id for p in papers] == [r["id"] for r in expected]
    for paper, rec in zip(papers, expected, strict=True):
        assert paper.title == clean_text(rec["title"])
        assert paper.abstract == clean_text(rec["abstract"])
        assert list(paper.authors) == author_names(rec)
        assert list(paper.categories) == rec["categories"].split()
        assert paper.primary_category == rec["categories"].split()[0]
        assert paper.comment == (clean_text(rec["comments"]) or None)
        assert paper.published == rec["_v1"].replace(tzinfo=None)


def test_requests_are_spaced_by_the_delay(server) -> None:  # type: ignore[no-untyped-def]
    delay = 0.3
    papers = list(client(server, delay=delay, page_size=200).fetch_window(
        ["cs.CL"], date(2026, 6, 1), date(2026, 6, 5)))
    stamps = [t for t, _ in server.requests]
    assert len(papers) > 400 and len(stamps) >= 3
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= delay * 0.95, gaps


def test_503_429_reset_and_truncated_pages_are_retried(server, fixtures_dir: Path) -> None:  # type: ignore[no-untyped-def]
    server.inject([("status", 503, {"Retry-After": "0"}), ("status", 429, {}), ("reset",),
                   ("truncate", 0.5)])
    c = client(server, page_size=500)
    papers = list(c.fetch_window(["cs.CV"], date(2026, 6, 2), date(2026, 6, 3)))
    expected = daily_records(fixtures_dir, {"cs.CV"}, date(2026, 6, 2), date(2026, 6, 3))
    assert [p.arxiv_id for p in papers] == [r["id"] for r in expected]
    assert c.stats.retries == 4


def test_a_window_over_the_ceiling_is_split_until_every_paper_is_fetched(server, fixtures_dir: Path) -> None:  # type: ignore[no-untyped-def]
    # cs.CL + cs.CV, one week: 1,404 papers, at most 517 a day. With a ceiling of 600 results
    # per query (arXiv: 30,000) the window must be split by submission time, into sub-day spans.
    server.max_total = 600
    c = client(server, page_size=100)
    c.max_per_query = 600
    papers = list(c.fetch_window(["cs.CL", "cs.CV"], date(2026, 6, 1), date(2026, 6, 7)))
    expected = daily_records(fixtures_dir, {"cs.CL", "cs.CV"}, date(2026, 6, 1), date(2026, 6, 7))
    assert len(expected) == 1404
    assert sorted(p.arxiv_id for p in papers) == sorted(r["id"] for r in expected)
    assert c.splits == 3
    queries = [unquote(path).replace("+", " ") for _, path in server.requests]
    assert any("submittedDate:[202606010000 TO 202606041159]" in q for q in queries), queries[:3]


def test_without_splitting_the_ceiling_loses_papers(server) -> None:  # type: ignore[no-untyped-def]
    # The server really enforces the ceiling: a client that ignores it cannot page past it.
    server.max_total = 600
    c = client(server, page_size=100)
    with pytest.raises(IngestError, match="empty pages"):
        list(c.fetch_window(["cs.CL", "cs.CV"], date(2026, 6, 1), date(2026, 6, 7)))


def test_max_results_stops_early(server) -> None:  # type: ignore[no-untyped-def]
    papers = list(client(server, page_size=50).fetch_window(
        ["cs.CL"], date(2026, 6, 1), date(2026, 6, 7), max_results=120))
    assert len(papers) == 120 and len(server.requests) == 3


@pytest.mark.parametrize(
    ("cats", "since", "until", "message"),
    [(["cs.CL"], date(2026, 6, 8), date(2026, 6, 1), "after"),
     (["cs CL"], date(2026, 6, 1), date(2026, 6, 2), "not an arXiv category"),
     ([], date(2026, 6, 1), date(2026, 6, 2), "no categories")],
)
def test_bad_windows_are_refused(cats: list[str], since: date, until: date, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        window_query(cats, since, until)


def test_window_query_uses_twelve_digit_dates() -> None:
    assert window_query(["cs.CL", "cs.CV"], date(2026, 11, 15), date(2026, 11, 15)) == (
        "(cat:cs.CL OR cat:cs.CV) AND submittedDate:[202611150000 TO 202611152359]"
    )


def test_an_answer_that_is_no_feed_fails_fast(server) -> None:  # type: ignore[no-untyped-def]
    server.inject([("body", 200, b"<html><body>Service moved</body></html>", "text/html")])
    with pytest.raises(IngestError, match="did not answer an Atom feed"):
        list(client(server).fetch_window(["cs.CL"], date(2026, 6, 1), date(2026, 6, 1)))
    assert len(server.requests) == 1  # not retried


def test_entries_the_parser_cannot_read_are_schema_drift_not_silence(server) -> None:  # type: ignore[no-untyped-def]
    # A real page where one entry lost its <published> element (a renamed field, say).
    params = {"search_query": "cat:cs.CL AND submittedDate:[202606010000 TO 202606012359]",
              "max_results": "20", "sortBy": "submittedDate", "sortOrder": "ascending"}
    body = server.search(params)
    start = body.index(b"<published>")
    drifted = body[:start] + body[body.index(b"</published>") + 12:]
    server.inject([("body", 200, drifted, "application/atom+xml")])
    with pytest.raises(IngestError, match=r"only 19 of 20 entries could be read"):
        list(client(server, page_size=20).fetch_window(["cs.CL"], date(2026, 6, 1), date(2026, 6, 1)))
