"""PwCClient over loopback HTTP against constructed payloads, faults included; legacy recorded shapes."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import IngestError, SourceHTTPError, UserInputError
from core.records import Enrichment
from ingest._http import USER_AGENT, RetryPolicy
from ingest.pwc import PwCClient, SchemaDriftError, parse_page, parse_paper
from tests.support.loopback import server_fixtures
from tests.support.pwc_server import DATA_DIR, PwCFixtureServer

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)
PAPERS: list[dict[str, Any]] = json.loads((DATA_DIR / "pwc_papers.json").read_text(encoding="utf-8"))
FIRST, LAST = "2026-06-01", "2026-06-05"


server, srv = server_fixtures(lambda: PwCFixtureServer(fixtures_dir=FIXTURES if FIXTURES.is_dir() else None))


@pytest.fixture()
def pwc(srv: PwCFixtureServer) -> Iterator[PwCClient]:
    with PwCClient(srv.pwc_url, delay=0, retry=FAST) as client:
        yield client


@pytest.fixture(scope="module")
def legacy_dir() -> Path:
    folder = FIXTURES / "pwc" / "legacy-com-api"
    if not folder.is_dir():
        pytest.skip(f"recorded fixtures not found at {folder} (clone ../shared beside the repo)")
    return folder


def expected(start: str, end: str) -> list[dict[str, Any]]:
    return [p for p in PAPERS if start <= p["published"] <= end]


# ---------------------------------------------------------------- paging a window


def test_a_window_pages_every_paper_once(pwc: PwCClient, srv: PwCFixtureServer) -> None:
    want = expected(FIRST, LAST)
    got = list(pwc.fetch_window(FIRST, LAST))
    assert [e.arxiv_id for e in got] == [p["arxiv_id"] for p in want if p["arxiv_id"]]
    assert len({e.arxiv_id for e in got}) == len(got) > 500
    assert pwc.skipped == sum(1 for p in want if not p["arxiv_id"]) == 6  # the non-arXiv papers
    pages = math.ceil(len(want) / 100)
    assert [r.params["page"] for r in srv.requests] == [str(n) for n in range(1, pages + 1)]
    for request in srv.requests:
        assert request.path == "/api/v1/papers/"
        assert request.params == {
            "start_date": FIRST,
            "end_date": LAST,
            "include_resources": "true",
            "page": request.params["page"],
            "page_size": "100",
        }
        assert request.headers["accept"] == "application/json"
        assert request.headers["user-agent"] == USER_AGENT


@pytest.mark.parametrize("shape", ["count", "total", "bare"])
@pytest.mark.parametrize("page_size", [50, 97])
def test_every_list_shape_is_paged_to_the_end(
    pwc: PwCClient, srv: PwCFixtureServer, shape: str, page_size: int
) -> None:
    srv.list_shape = shape
    listed = expected("2026-06-02", "2026-06-03")  # 308 papers, 2 of them without an arXiv id
    got = [e.arxiv_id for e in pwc.fetch_window("2026-06-02", "2026-06-03", page_size=page_size)]
    assert got == [p["arxiv_id"] for p in listed if p["arxiv_id"]] and pwc.skipped == 2
    pages = math.ceil(len(listed) / page_size)
    # A bare list says nothing about the end: a short last page ends it (97 * 4 = 388 > 308).
    assert len(srv.requests) == pages


def test_a_bare_list_ending_on_a_full_page_takes_one_empty_page_more(
    pwc: PwCClient, srv: PwCFixtureServer
) -> None:
    srv.list_shape = "bare"
    n = len(expected("2026-06-04", "2026-06-04"))  # 68 = 4 * 17
    assert [e.arxiv_id for e in pwc.fetch_window("2026-06-04", "2026-06-04", page_size=17)]
    assert len(srv.requests) == n // 17 + 1


def test_bad_windows_are_refused_before_any_request(pwc: PwCClient, srv: PwCFixtureServer) -> None:
    with pytest.raises(UserInputError, match="after"):
        list(pwc.fetch_window("2026-06-05", "2026-06-01"))
    with pytest.raises(UserInputError, match="page_size"):
        list(pwc.fetch_window(FIRST, LAST, page_size=101))
    with pytest.raises(UserInputError, match="2026-06-01"):
        list(pwc.fetch_window("June 1st", LAST))
    assert srv.requests == []


# ---------------------------------------------------------------- what include_resources gives


def test_resources_parse_with_their_official_flags(pwc: PwCClient) -> None:
    by_id = {e.arxiv_id: e for e in pwc.fetch_window(FIRST, LAST)}
    raw = {p["arxiv_id"]: p for p in PAPERS if p["arxiv_id"]}
    # A real repository stated in the paper (official) beside a constructed reimplementation.
    mixed = by_id["2605.30972"]
    assert [(link.url, link.is_official, link.kind, link.source) for link in mixed.code_links] == [
        ("https://github.com/bakhtzadaabshare/BiSegMamba", True, "repository", "pwc"),
        ("https://github.com/pwc-fixture-reimpl/BiSegMamba", False, "repository", "pwc"),
    ]
    assert mixed.tasks == ("Semantic Segmentation", "3D Reconstruction")
    assert mixed.frameworks == ("pytorch",) and mixed.citation_count == 3
    # Repository, project page and HF dataset of one paper, as its arXiv comment states them.
    jav = by_id["2606.03168"]
    assert [(link.url, link.kind) for link in jav.code_links] == [
        ("https://github.com/RyanChenYN/JAVEdit", "repository"),
        ("https://ryanchenyn.github.io/projects/JAVEdit", "project_page"),
    ]
    assert [link.url for link in jav.project_pages] == ["https://ryanchenyn.github.io/projects/JAVEdit"]
    assert jav.extra["hf_datasets"] == ["https://huggingface.co/datasets/Coraxor/JAVEdit-100k"]
    assert jav.conference is None and jav.citation_count == 3
    # `conference` (the other documented name) and methods given as plain strings.
    multi = by_id["2605.30925"]
    assert multi.conference == "SIGGRAPH 2026" and multi.methods == ("Attention",)
    assert by_id["2605.30639"].stars == 328
    # Across the whole window: every listed link arrives, with its flag, nothing invented.
    for arxiv_id, enrichment in by_id.items():
        links = raw[arxiv_id]["repositories"] + raw[arxiv_id]["project_pages"]
        want = {(r, False) if isinstance(r, str) else (r["url"], r["is_official"]) for r in links}
        assert {(link.url, link.is_official) for link in enrichment.code_links} == want
        venue = raw[arxiv_id].get("conference_name") or raw[arxiv_id].get("conference")
        assert enrichment.conference == venue
        assert enrichment.citation_count == raw[arxiv_id].get("citation_count")
    assert sum(1 for e in by_id.values() if e.conference) > 50
    assert sum(1 for e in by_id.values() for link in e.code_links if not link.is_official) > 40


def test_parse_paper_is_tolerant_of_shapes_and_unknown_fields() -> None:
    obj = {
        "id": "2606.00001",
        "title": "  A Paper ",
        "conference": {"id": 7, "slug": "icml-2026", "name": "ICML 2026"},
        "repositories": [
            " https://github.com/a/b \n",
            {"url": "https://github.com/a/b", "is_official": "true"},
            {"url": "https://gitlab.com/c/d", "is_official": 0, "framework": "jax", "stars": "12"},
            {"url": ""},
        ],
        "project_pages": {"url": "https://a.github.io/b", "is_official": True},
        "organizations": [{"id": 1, "name": "Org One", "slug": "org-one"}, "Org Two"],
        "tasks": [{"id": "qa", "name": "Question Answering"}, "Question Answering", None],
        "methods": None,
        "frameworks": ["none", "pytorch"],
        "citation_count": "4",
        "some_future_field": {"nested": [1, 2]},
    }
    e = parse_paper(obj)
    assert e is not None and e.arxiv_id == "2606.00001" and e.source == "pwc"
    assert [(link.url, link.is_official, link.kind) for link in e.code_links] == [
        ("https://github.com/a/b", True, "repository"),  # listed twice: the official entry wins
        ("https://gitlab.com/c/d", False, "repository"),
        ("https://a.github.io/b", True, "project_page"),
    ]
    assert e.conference == "ICML 2026" and e.tasks == ("Question Answering",) and e.methods == ()
    assert e.frameworks == ("pytorch", "jax") and e.citation_count == 4 and e.stars == 12
    assert e.extra["organizations"] == ["Org One", "Org Two"] and e.extra["title"] == "A Paper"
    assert parse_paper({"arxiv_id": "2606.00002v3"}) == Enrichment("2606.00002", "pwc")
    assert parse_paper({"id": "some-slug", "arxiv_id": None, "url_abs": "https://www.pnas.org/x"}) is None
    with pytest.raises(SchemaDriftError, match="none of the id fields"):
        parse_paper({"name": "no ids at all"})
    with pytest.raises(SchemaDriftError, match="'repositories' is int"):
        parse_paper({"arxiv_id": "2606.00001", "repositories": 3})


# ---------------------------------------------------------------- single papers


def test_fetch_paper_and_404_is_none(pwc: PwCClient, srv: PwCFixtureServer) -> None:
    e = pwc.fetch_paper("2605.30639v2")
    assert e is not None and e.arxiv_id == "2605.30639"
    assert [link.url for link in e.code_links] == ["https://github.com/Avalon-S/PInVerify"]
    assert pwc.fetch_paper("2605.30355") is None  # a real June paper the constructed index lacks
    assert pwc.not_found == 1
    assert [(r.path, r.params) for r in srv.requests] == [
        ("/api/v1/papers/2605.30639", {"include_resources": "true"}),
        ("/api/v1/papers/2605.30355", {"include_resources": "true"}),
    ]
    with pytest.raises(UserInputError):
        pwc.fetch_paper("not-an-id")


def test_fetch_papers_keeps_at_most_concurrency_requests_in_flight(srv: PwCFixtureServer) -> None:
    ids = [
        "2605.30639",
        "2605.30355",
        "2606.03168",
        "2605.30972v1",
        "2605.30925",
        "2605.30972",
        "2606.00001",
        "2605.30519",
    ]
    for concurrency in (2, 3):
        srv.reset()
        srv.latency = 0.06
        with PwCClient(srv.pwc_url, delay=0, retry=FAST, concurrency=concurrency) as client:
            got = list(client.fetch_papers(ids))
        assert [i for i, _ in got] == list(dict.fromkeys(i.split("v")[0] for i in ids))  # order, once
        assert [e is None for _, e in got] == [False, True, False, False, False, True, False]
        assert srv.max_in_flight == concurrency  # overlapping, but never more than allowed
        assert len(srv.requests) == 7


def test_the_per_host_delay_holds_across_threads(srv: PwCFixtureServer) -> None:
    with PwCClient(srv.pwc_url, delay=0.08, retry=FAST, concurrency=2) as client:
        list(client.fetch_papers(["2605.30639", "2605.30355", "2606.03168", "2605.30972", "2605.30925"]))
    stamps = [r.at for r in srv.requests]
    assert min(b - a for a, b in itertools.pairwise(stamps)) >= 0.075


# ---------------------------------------------------------------- faults


def test_429_waits_for_retry_after(srv: PwCFixtureServer) -> None:
    srv.inject([("status", 429, {"Retry-After": "1"})])
    with PwCClient(
        srv.pwc_url, delay=0, retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=5)
    ) as client:
        assert client.fetch_paper("2605.30639") is not None
    first, second = srv.requests
    assert second.at - first.at >= 0.99
    assert client.stats is not None and client.stats.reasons == {"HTTP 429": 1}


def test_5xx_resets_and_truncated_bodies_are_retried(pwc: PwCClient, srv: PwCFixtureServer) -> None:
    srv.inject([("status", 503, {}), ("reset",), ("truncate", 0.5), ("pass",), ("status", 502, {})])
    got = [e.arxiv_id for e in pwc.fetch_window("2026-06-04", "2026-06-04", page_size=50)]
    assert got == [p["arxiv_id"] for p in expected("2026-06-04", "2026-06-04") if p["arxiv_id"]]
    assert pwc.stats is not None and pwc.stats.retries == 4 and len(srv.requests) == 6
    assert pwc.stats.reasons["HTTP 503"] == pwc.stats.reasons["incomplete body"] == 1


def test_malformed_json_fails_clearly_after_bounded_retries(srv: PwCFixtureServer) -> None:
    srv.inject([("body", 200, b'{"count": 3, "resul', "application/json")] * 3)
    with PwCClient(srv.pwc_url, delay=0, retry=RetryPolicy(attempts=3, base_delay=0.01)) as client:
        with pytest.raises(IngestError, match="malformed JSON in 3 attempts") as err:
            list(client.fetch_window(FIRST, LAST))
    assert "\n" not in str(err.value) and "/api/v1/papers/" in str(err.value)
    assert len(srv.requests) == 3


def test_an_html_answer_fails_at_once(pwc: PwCClient, srv: PwCFixtureServer) -> None:
    srv.inject([("body", 200, b"<html><body>Maintenance</body></html>", "text/html")])
    with pytest.raises(SchemaDriftError, match="text/html.*not JSON: check the base URL"):
        pwc.fetch_paper("2605.30639")
    assert len(srv.requests) == 1


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (("drift",), "neither 'results' nor 'items'"),
        (("drift", "type"), "'results' is dict, not a list"),
        (("noecho",), "does not echo applied_filters"),
    ],
)
def test_schema_drift_in_a_list_fails_fast(
    pwc: PwCClient, srv: PwCFixtureServer, fault: tuple[str, ...], message: str
) -> None:
    srv.inject([fault])
    with pytest.raises(SchemaDriftError, match=message) as err:
        list(pwc.fetch_window(FIRST, LAST))
    assert "page 1" in str(err.value) and len(srv.requests) == 1


def test_a_bare_list_that_ignores_the_window_is_caught(pwc: PwCClient, srv: PwCFixtureServer) -> None:
    srv.list_shape = "bare"
    srv.inject([("pass",)])
    # Simulate a server that ignores start_date: ask for one day, check against another.
    original = srv.window
    srv.window = lambda start, end: original(FIRST, LAST)  # type: ignore[method-assign]
    try:
        with pytest.raises(SchemaDriftError, match="outside 2026-06-03..2026-06-03"):
            list(pwc.fetch_window("2026-06-03", "2026-06-03"))
    finally:
        srv.window = original  # type: ignore[method-assign]


def test_a_paper_that_drifted_fails_fast(pwc: PwCClient, srv: PwCFixtureServer) -> None:
    srv.inject([("drift",)])
    with pytest.raises(SchemaDriftError, match="papers/2605.30639: a paper object has none of the id fields"):
        pwc.fetch_paper("2605.30639")


def test_a_4xx_is_not_retried(pwc: PwCClient, srv: PwCFixtureServer) -> None:
    srv.inject([("status", 403, {})])
    with pytest.raises(SourceHTTPError) as err:
        pwc.fetch_paper("2605.30639")
    assert err.value.status == 403 and "check the base URL" in str(err.value)
    assert len(srv.requests) == 1


def test_a_404_that_is_no_api_answer_is_a_wrong_base_url(pwc: PwCClient, srv: PwCFixtureServer) -> None:
    srv.inject([("body", 404, b"<html>Not Found</html>", "text/html")])
    with pytest.raises(SourceHTTPError, match="HTTP 404 .*check the base URL"):
        pwc.fetch_paper("2605.30639")


def test_5xx_that_persists_becomes_a_source_error(srv: PwCFixtureServer) -> None:
    srv.inject([("status", 503, {})] * 2)
    with PwCClient(srv.pwc_url, delay=0, retry=RetryPolicy(attempts=2, base_delay=0.01)) as client:
        with pytest.raises(SourceHTTPError, match="HTTP 503 .* try again later"):
            client.fetch_paper("2605.30639")


def test_an_unreachable_host_is_one_clear_error() -> None:
    with PwCClient("http://127.0.0.1:9/api/v1", delay=0, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(IngestError, match="cannot reach http://127.0.0.1:9/api/v1/papers/2605.30639"):
            client.fetch_paper("2605.30639")


# ---------------------------------------------------------------- recorded legacy answers


def test_the_legacy_list_answer_parses(legacy_dir: Path) -> None:
    obj = json.loads((legacy_dir / "codingpot_paper_list_response.json").read_text(encoding="utf-8"))
    page = parse_page(obj)
    assert page.total == 761618 and page.has_next is True and len(page.items) == 50
    parsed = [parse_paper(p) for p in page.items]
    assert sum(e is None for e in parsed) == 6  # Hopfield 1982 and others: no arXiv id
    assert all(e.code_links == () and e.conference is None for e in parsed if e is not None)
    for name, count in (
        ("codingpot_paper_method_list_response.json", 2),
        ("codingpot_paper_task_list_response.json", 0),
    ):
        page = parse_page(json.loads((legacy_dir / name).read_text(encoding="utf-8")))
        assert len(page.items) == count and page.has_next is False


def test_the_legacy_paper_answer_parses_over_http(
    legacy_dir: Path, pwc: PwCClient, srv: PwCFixtureServer
) -> None:
    e = pwc.fetch_paper("1406.2661")  # served verbatim from the recording
    assert e is not None and e.arxiv_id == "1406.2661" and e.code_links == ()
    assert e.conference == "proceedings-of-the-27th-international"  # `proceeding` before the slug
    assert e.extra["venue_fields"] == {
        "proceeding": "proceedings-of-the-27th-international",
        "conference": "generative-adversarial-networks-1",
    }
    assert e.extra["pwc_id"] == "generative-adversarial-networks"
    assert e.extra["title"] == "Generative Adversarial Networks"
