"""HFPapersClient over loopback HTTP against constructed payloads; the recorded 2024 daily answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import IngestError, SourceHTTPError
from ingest._http import USER_AGENT, RetryPolicy
from ingest.hf_papers import HFPapersClient, parse_daily, parse_hf_paper
from ingest.pwc import SchemaDriftError
from tests.support.loopback import server_fixtures
from tests.support.pwc_server import DATA_DIR, PwCFixtureServer

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)
DAILY: dict[str, list[dict[str, Any]]] = json.loads((DATA_DIR / "hf_daily.json").read_text(encoding="utf-8"))


server, srv = server_fixtures(PwCFixtureServer)


@pytest.fixture()
def hf(srv: PwCFixtureServer) -> Iterator[HFPapersClient]:
    with HFPapersClient(srv.hf_url, delay=0, retry=FAST) as client:
        yield client


@pytest.fixture(scope="module")
def recorded_daily() -> Any:
    path = FIXTURES / "hf-papers" / "deep-diver_paper-reviewer_daily_papers_2024-10-25_first4.json"
    if not path.is_file():
        pytest.skip(f"recorded fixtures not found at {path.parent} (clone ../shared beside the repo)")
    return json.loads(path.read_text(encoding="utf-8"))


def test_a_paper_with_repo_and_project_page(hf: HFPapersClient, srv: PwCFixtureServer) -> None:
    e = hf.fetch_paper("2605.31603v1")
    assert e is not None and e.arxiv_id == "2605.31603" and e.source == "hf"
    assert [(link.url, link.kind, link.is_official, link.source) for link in e.code_links] == [
        ("https://github.com/alibaba-damo-academy/Lumos-Custom", "repository", False, "hf"),
        ("https://jiazheng-xing.github.io/nexus-lumos-home/", "project_page", False, "hf"),
    ]
    assert e.stars == 3 and e.extra["upvotes"] == 23
    assert e.extra["ai_keywords"] == ["lumos-nexus", "efficient", "frequency", "bridging", "homogeneous"]
    (request,) = srv.requests
    assert request.path == "/api/papers/2605.31603" and request.params == {}
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"] == USER_AGENT


def test_not_indexed_is_none_and_no_repo_is_no_link(hf: HFPapersClient) -> None:
    assert hf.fetch_paper("2605.30355") is None and hf.not_found == 1
    e = hf.fetch_paper("2605.30568")  # indexed, but HF has no githubRepo for it
    assert e is not None and e.repositories == () and e.stars is None


def test_a_day_pages_until_a_short_page(hf: HFPapersClient, srv: PwCFixtureServer) -> None:
    want = [item["paper"]["id"] for item in DAILY["2026-06-02"]]
    assert len(want) == 58
    got = list(hf.fetch_daily("2026-06-02", limit=10))
    assert [arxiv_id for arxiv_id, _ in got] == want
    assert all(arxiv_id == e.arxiv_id for arxiv_id, e in got)
    assert [r.params for r in srv.requests] == [
        {"date": "2026-06-02", "limit": "10", "p": str(p)} for p in range(6)
    ]
    with_repo = {i for i, e in got if e.repositories}
    assert with_repo == {
        item["paper"]["id"] for item in DAILY["2026-06-02"] if item["paper"].get("githubRepo")
    }
    srv.reset()
    assert len(list(hf.fetch_daily("2026-06-02"))) == 58 and len(srv.requests) == 1  # limit=100
    srv.reset()
    assert list(hf.fetch_daily("2026-06-07")) == [] and len(srv.requests) == 1  # a day without papers


def test_the_recorded_2024_daily_answer_parses(recorded_daily: Any) -> None:
    pairs = parse_daily(recorded_daily)
    assert [i for i, _ in pairs] == ["2410.17243", "2410.16251", "2410.18533", "2410.18693"]
    for arxiv_id, e in pairs:
        assert e.arxiv_id == arxiv_id and e.code_links == () and e.stars is None  # predates githubRepo
        assert isinstance(e.extra["upvotes"], int) and "num_comments" in e.extra
    assert pairs[0][1].extra["upvotes"] == 64


def test_parse_is_tolerant_and_strict_where_it_matters() -> None:
    e = parse_hf_paper(
        {
            "id": "2606.00001",
            "githubRepo": "  https://github.com/a/b\n",
            "projectPage": "",
            "githubStars": "17",
            "organization": {"_id": "x", "name": "acme", "fullname": "Acme Research"},
            "ai_keywords": ["graph", {"name": "agents"}],
            "new_field": [1],
        }
    )
    assert e is not None and [link.url for link in e.code_links] == ["https://github.com/a/b"]
    assert e.stars == 17 and e.extra["organizations"] == ["Acme Research"]
    assert e.extra["ai_keywords"] == ["graph", "agents"]
    assert parse_hf_paper({"id": "not-arxiv"}) is None
    with pytest.raises(SchemaDriftError, match="no 'id'"):
        parse_hf_paper({"paper": {"id": "2606.00001"}})
    with pytest.raises(SchemaDriftError, match="not a list"):
        parse_daily({"papers": []})
    with pytest.raises(SchemaDriftError, match="no 'paper' object"):
        parse_daily([{"title": "x"}])


def test_fetch_papers_is_bounded_and_ordered(srv: PwCFixtureServer) -> None:
    srv.latency = 0.06
    ids = ["2605.31603", "2605.30355", "2605.30568", "2605.30931", "2605.30972", "2605.31603v2"]
    with HFPapersClient(srv.hf_url, delay=0, retry=FAST, concurrency=2) as client:
        got = list(client.fetch_papers(ids))
    assert [i for i, _ in got] == ["2605.31603", "2605.30355", "2605.30568", "2605.30931", "2605.30972"]
    assert [e is not None for _, e in got] == [True, False, True, True, False]
    assert srv.max_in_flight == 2 and len(srv.requests) == 5


def test_faults_are_retried_then_drift_fails_fast(hf: HFPapersClient, srv: PwCFixtureServer) -> None:
    srv.inject([("status", 429, {"Retry-After": "0"}), ("status", 500, {}), ("truncate", 0.3)])
    assert len(list(hf.fetch_daily("2026-06-01"))) == len(DAILY["2026-06-01"])
    srv.inject([("reset",)])
    assert hf.fetch_paper("2605.31603") is not None
    assert hf.stats is not None and hf.stats.retries == 4 and len(srv.requests) == 6
    srv.inject([("drift",)])
    with pytest.raises(SchemaDriftError, match="daily_papers.*not a list"):
        list(hf.fetch_daily("2026-06-01"))
    srv.inject([("drift",)])
    with pytest.raises(SchemaDriftError, match="papers/2605.31603: a paper object has no 'id'"):
        hf.fetch_paper("2605.31603")


def test_errors_are_clear(srv: PwCFixtureServer) -> None:
    srv.inject([("body", 200, b"[{", "application/json")] * 2)
    with HFPapersClient(srv.hf_url, delay=0, retry=RetryPolicy(attempts=2, base_delay=0.01)) as client:
        with pytest.raises(IngestError, match="malformed JSON in 2 attempts"):
            list(client.fetch_daily("2026-06-01"))
        srv.inject([("status", 401, {})])
        with pytest.raises(SourceHTTPError, match="HTTP 401"):
            client.fetch_paper("2605.31603")
    assert len(srv.requests) == 3
