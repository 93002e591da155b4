"""Tests for the arXiv fixture server, driven through the real `arxiv` client."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
if not (FIXTURES / "arxiv-api").is_dir() or not (FIXTURES / "daily-arxiv").is_dir():
    pytest.skip(f"arXiv fixtures not found at {FIXTURES}", allow_module_level=True)

import arxiv  # noqa: E402
import requests  # noqa: E402
from lxml import etree  # noqa: E402

from tests.support.arxiv_server import ArxivFixtureServer  # noqa: E402
from tests.support.records import author_names, daily_records  # noqa: E402

WEEK_QUERY = "(cat:cs.CL OR cat:cs.CV) AND submittedDate:[202606010000 TO 202606072359]"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def server() -> Iterator[ArxivFixtureServer]:
    with ArxivFixtureServer(FIXTURES) as srv:
        yield srv


@pytest.fixture()
def fresh(server: ArxivFixtureServer) -> ArxivFixtureServer:
    server.requests.clear()
    return server


def make_client(server: ArxivFixtureServer, page_size: int = 100, retries: int = 0) -> arxiv.Client:
    client = arxiv.Client(page_size=page_size, delay_seconds=0, num_retries=retries)
    client.query_url_format = server.api_url + "?{}"
    return client


def week_records() -> list[dict[str, Any]]:
    """cs.CL/cs.CV records with v1 in 2026-06-01..07, read straight from every jsonl.gz file."""
    return daily_records(FIXTURES, {"cs.CL", "cs.CV"}, date(2026, 6, 1), date(2026, 6, 7))


def test_recorded_id_lookup(fresh: ArxivFixtureServer) -> None:
    [paper] = list(make_client(fresh).results(arxiv.Search(id_list=["1605.08386"])))
    assert paper.entry_id == "http://arxiv.org/abs/1605.08386v1"
    assert paper.title == "Heat-bath random walks with Markov bases"
    assert [a.name for a in paper.authors] == ["Caprice Stanley", "Tobias Windisch"]
    assert paper.primary_category == "math.CO" and paper.comment == "20 pages, 3 figures"
    assert len(fresh.requests) == 1


def test_synthetic_week_matches_records(fresh: ArxivFixtureServer) -> None:
    search = arxiv.Search(query=WEEK_QUERY, sort_by=arxiv.SortCriterion.SubmittedDate,
                          sort_order=arxiv.SortOrder.Ascending, max_results=None)
    results = list(make_client(fresh, page_size=500).results(search))
    expected = week_records()
    assert len(expected) > 1000  # several pages of 500
    assert [r.get_short_id() for r in results] == [f"{r['id']}v1" for r in expected]
    for got, rec in zip(results, expected, strict=True):
        assert got.title == re.sub(r"\s+", " ", rec["title"])
        assert got.summary == rec["abstract"]
        assert [a.name for a in got.authors] == author_names(rec)
        assert got.categories == rec["categories"].split()
        assert got.primary_category == rec["categories"].split()[0]
        assert got.comment == rec["comments"]
        assert got.published == got.updated == rec["_v1"]
        assert got.journal_ref is None and got.doi is None
        assert got.pdf_url == f"https://arxiv.org/pdf/{rec['id']}v1"
    assert len(fresh.requests) == math.ceil(len(expected) / 500)


def entry_shape(entry: Any) -> list[str]:
    """Child tags in order, repeats collapsed, optional arXiv elements left out."""
    optional = {"comment", "journal_ref", "doi"}
    tags = [etree.QName(c).localname for c in entry
            if etree.QName(c).localname not in optional and c.get("title") != "doi"]
    return [t for i, t in enumerate(tags) if i == 0 or tags[i - 1] != t]


def test_synthetic_feed_follows_recorded_layout(fresh: ArxivFixtureServer) -> None:
    raw = next((FIXTURES / "arxiv-api").glob("q_testing_s0_m100_*.xml")).read_bytes()
    recorded = etree.ElementTree(etree.fromstring(raw))
    body = requests.get(fresh.api_url, params={"search_query": WEEK_QUERY, "max_results": "30"},
                        timeout=10).content
    assert body.split(b"\n")[:2] == raw.split(b"\n")[:2]  # XML declaration and <feed ...>
    synthetic = etree.fromstring(body)
    assert [c.tag for c in synthetic if c.tag != ATOM + "entry"] == [
        c.tag for c in recorded.getroot() if c.tag != ATOM + "entry"]
    assert synthetic.findtext("{http://a9.com/-/spec/opensearch/1.1/}itemsPerPage") == "30"
    recorded_shapes = {tuple(entry_shape(e)) for e in recorded.getroot().iter(ATOM + "entry")}
    for entry in synthetic.iter(ATOM + "entry"):
        assert tuple(entry_shape(entry)) in recorded_shapes
    full = [etree.QName(c).localname for c in synthetic.iter(ATOM + "entry").__next__()]
    assert full.index("published") < full.index("primary_category") < full.index("author")


@pytest.mark.parametrize("query, id_list", [
    ("submittedDate:[20260601 TO 20260607]", []),
    ("cat:cs.CL AND submittedDate:[20260601 TO 20260607]", []),
    ("", ["abc"]),
])
def test_bad_requests_give_400(server: ArxivFixtureServer, query: str, id_list: list[str]) -> None:
    with pytest.raises(arxiv.HTTPError) as err:
        list(make_client(server).results(arxiv.Search(query=query, id_list=id_list)))
    assert err.value.status == 400


def test_id_list_against_records(server: ArxivFixtureServer) -> None:
    ids = ["2605.30407", "2605.30380v1", "0808.05394"]
    got = list(make_client(server, page_size=50).results(arxiv.Search(id_list=ids)))
    assert [r.get_short_id() for r in got] == ["2605.30407v1", "2605.30380v1"]


def test_injected_503_then_success(fresh: ArxivFixtureServer) -> None:
    fresh.inject([("status", 503, {"Retry-After": "1"})])
    got = list(make_client(fresh, retries=1).results(arxiv.Search(id_list=["1605.08386"])))
    assert len(got) == 1
    assert len(fresh.requests) == 2 and fresh.requests[0][1] == fresh.requests[1][1]
    assert fresh.requests[0][0] <= fresh.requests[1][0]
    fresh.inject([("status", 503, {"Retry-After": "1"}), ("status", 429, {})])
    url = fresh.api_url + "?id_list=1605.08386"
    first, second = requests.get(url, timeout=10), requests.get(url, timeout=10)
    assert (first.status_code, first.headers["Retry-After"]) == (503, "1")
    assert second.status_code == 429 and requests.get(url, timeout=10).status_code == 200
    assert fresh.hits >= 5


def test_truncate_and_reset_faults(fresh: ArxivFixtureServer) -> None:
    params = {"search_query": WEEK_QUERY, "max_results": "20"}
    whole = requests.get(fresh.api_url, params=params, timeout=10).content
    fresh.inject([("truncate", 0.5), ("reset",)])
    half = requests.get(fresh.api_url, params=params, timeout=10).content
    stamp = re.compile(rb"<updated>[^<]*</updated>", re.S)
    assert len(half) == len(whole) // 2
    assert stamp.sub(b"", whole).startswith(stamp.sub(b"", half)[:-200])
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(half)
    with pytest.raises(requests.ConnectionError):
        requests.get(fresh.api_url, params=params, timeout=10)
    assert len(fresh.requests) == 3 and fresh.hits >= 3


def test_pass_inject_every_and_reset(fresh: ArxivFixtureServer) -> None:
    fresh.reset()
    url = fresh.api_url + "?id_list=1605.08386"

    def codes(n: int) -> list[int]:
        return [requests.get(url, timeout=10).status_code for _ in range(n)]

    fresh.inject([("pass",), ("status", 502, {})])
    assert codes(3) == [200, 502, 200] and fresh.faults_served == ["status"]
    fresh.inject([("status", 500, {})])
    fresh.inject_every(2, [("status", 503, {}), ("status", 429, {})])  # drops what inject queued
    assert codes(5) == [200, 503, 200, 429, 200]
    fresh.inject_every(0, [])
    assert codes(2) == [200, 200] and fresh.faults_served == ["status"] * 3
    hits = fresh.hits
    fresh.reset()
    assert fresh.requests == fresh.faults_served == [] and fresh.hits == hits  # hits never reset
    with pytest.raises(ValueError, match="one of status, reset, truncate, body, pass"):
        fresh.inject([("slow",)])
