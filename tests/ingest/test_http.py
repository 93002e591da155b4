"""The politeness layer with httpx (PoliteClient) against faults injected at a loopback server."""

from __future__ import annotations

import itertools
import threading

import httpx
import pytest

from ingest._http import USER_AGENT, PoliteClient, RetryPolicy

FAST = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05)
QUERY = {"search_query": "cat:cs.CL AND submittedDate:[202606010000 TO 202606012359]",
         "max_results": "50"}


@pytest.fixture()
def server(arxiv_server):  # type: ignore[no-untyped-def]
    arxiv_server.requests.clear()
    return arxiv_server


def test_faults_are_retried_and_counted(server) -> None:  # type: ignore[no-untyped-def]
    server.inject([("status", 503, {"Retry-After": "0"}), ("status", 429, {}), ("reset",),
                   ("truncate", 0.5)])
    whole = lambda r: r.content.rstrip().endswith(b"</feed>")  # noqa: E731
    with PoliteClient(delay=0, retry=FAST, complete=whole) as client:
        response = client.get(server.api_url, params=QUERY)
    assert response.status_code == 200 and whole(response)
    assert client.stats.requests == 5 and client.stats.retries == 4
    reasons = dict(client.stats.reasons)
    assert [reasons.pop(k) for k in ("HTTP 503", "HTTP 429", "incomplete body")] == [1, 1, 1]
    assert list(reasons.values()) == [1]  # the reset, as the OS reports it
    assert set(reasons) <= {"ReadError", "RemoteProtocolError", "ConnectError"}


def test_a_4xx_is_returned_at_once(server) -> None:  # type: ignore[no-untyped-def]
    with PoliteClient(delay=0, retry=FAST) as client:
        response = client.get(server.api_url, params={"search_query": "nonsense:x"})
    assert response.status_code == 400 and client.stats.requests == 1


def test_the_last_retryable_status_is_returned_after_bounded_attempts(server) -> None:  # type: ignore[no-untyped-def]
    server.inject([("status", 503, {})] * 3)
    with PoliteClient(delay=0, retry=RetryPolicy(attempts=3, base_delay=0.01)) as client:
        response = client.get(server.api_url, params=QUERY)
    assert response.status_code == 503 and client.stats.requests == 3


def test_user_agent_and_shared_rate_limit_across_threads(server) -> None:  # type: ignore[no-untyped-def]
    delay = 0.15
    clients = [PoliteClient(delay=delay, retry=FAST) for _ in range(2)]

    def fetch(client: PoliteClient) -> None:
        for _ in range(3):
            assert client.get(server.api_url, params=QUERY).status_code == 200

    threads = [threading.Thread(target=fetch, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps = sorted(t for t, _ in server.requests)
    assert len(stamps) == 6
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= delay * 0.95, gaps
    request = clients[0].build_request("GET", server.api_url)
    assert request.headers["User-Agent"] == USER_AGENT
    for c in clients:
        c.close()


def test_timeouts_are_retried_then_raised(server) -> None:  # type: ignore[no-untyped-def]
    # A port nobody listens on: connection refused every time.
    with PoliteClient(delay=0, retry=RetryPolicy(attempts=2, base_delay=0.01)) as client:
        with pytest.raises(httpx.ConnectError):
            client.get("http://127.0.0.1:9/")
    assert client.stats.requests == 2 and client.stats.retries == 1
