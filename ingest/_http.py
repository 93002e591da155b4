"""Politeness and retries for every source: one rate limiter per host, backoff, Retry-After.

This is the single layer that decides what is retried: timeouts, connection errors, 429,
5xx and bodies that fail the caller's completeness check (e.g. an Atom feed cut short)
are retried with exponential backoff and jitter, honouring Retry-After; other 4xx answers
are returned at once for the caller to turn into a clear error.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import requests

from core.errors import IngestError

USER_AGENT = "paperradar/0.1 (research paper tracker; https://github.com/paperradar/paperradar)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ARXIV_BUDGET = "arxiv"  # export.arxiv.org, oaipmh.arxiv.org: one request every N s in all
R = TypeVar("R")


class RateLimiter:
    """Spacing and concurrency of requests to one host, across all threads of the process.

    A request starts at least `delay` seconds after the previous one started and after the
    previous one finished, and at most `concurrency` are in flight. Spacing from the end of
    the last answer is what makes the rule hold where it counts, at the server: a request
    that arrives there late (a slow network, a busy thread) cannot end up closer than
    `delay` to the next one.
    """

    _shared: dict[str, RateLimiter] = {}
    _shared_lock = threading.Lock()

    def __init__(self, delay: float, concurrency: int = 1) -> None:
        self.delay = delay
        self.concurrency = concurrency
        self._cond = threading.Condition()
        self._next_at = 0.0
        self._in_flight = 0

    @classmethod
    def for_host(cls, host: str, delay: float, concurrency: int = 1) -> RateLimiter:
        """The process-wide limiter of a host (arXiv's API and OAI-PMH share one budget)."""
        with cls._shared_lock:
            limiter = cls._shared.get(host)
            if limiter is None:
                limiter = cls._shared[host] = cls(delay, concurrency)
            limiter.delay = delay
            limiter.concurrency = concurrency
            return limiter

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one request's place: waits for the spacing and a free slot."""
        with self._cond:
            while True:
                now = time.monotonic()
                free = self._in_flight < self.concurrency
                if free and now >= self._next_at:
                    break
                self._cond.wait(self._next_at - now if free else None)
            self._in_flight += 1
            self._next_at = now + self.delay
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                self._next_at = max(self._next_at, time.monotonic() + self.delay)
                self._cond.notify_all()


@dataclass
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 120.0

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        exp = min(self.base_delay * 2**attempt, self.max_delay)
        return random.uniform(exp / 2, exp)  # jitter keeps retrying clients apart


@dataclass
class HTTPStats:
    requests: int = 0
    retries: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def note_retry(self, reason: str) -> None:
        self.retries += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


def send_politely(
    send: Callable[[], R],
    url: str,
    *,
    delay: float,
    retry: RetryPolicy,
    stats: HTTPStats,
    status: Callable[[R], int],
    header: Callable[[R, str], str | None],
    complete: Callable[[R], bool] | None = None,
    transient: tuple[type[BaseException], ...] = (),
    concurrency: int = 1,
    budget: str | None = None,
) -> R:
    """The one retry loop, for any HTTP library: `send()` makes one request.

    Waits for the host's rate limit (RateLimiter) before every attempt; retries `transient` exceptions,
    RETRY_STATUSES (honouring Retry-After) and 200 bodies that `complete` rejects, with
    exponential backoff and jitter, `retry.attempts` times in all. After the last attempt
    an exception is re-raised, a retryable status is returned for the caller to report,
    and an incomplete body raises IngestError. `budget` names a limiter shared by several
    hosts (arXiv's API and OAI-PMH hosts share one: ARXIV_BUDGET); by default the host's own.
    """
    limiter = RateLimiter.for_host(budget or urlsplit(url).netloc, delay, concurrency)
    attempt = 0
    while True:
        retry_after: float | None = None
        try:
            with limiter.slot():
                stats.requests += 1
                response = send()
        except transient as exc:
            if attempt + 1 >= retry.attempts:
                raise
            reason = type(exc).__name__
        else:
            code = status(response)
            if code in RETRY_STATUSES:
                reason = f"HTTP {code}"
                retry_after = _retry_after(header(response, "Retry-After"))
            elif code == 200 and complete is not None and not complete(response):
                reason = "incomplete body"
            else:
                return response
            if attempt + 1 >= retry.attempts:
                if reason == "incomplete body":
                    raise IngestError(f"{url} kept answering an incomplete body")
                return response
        stats.note_retry(reason)
        time.sleep(retry.backoff(attempt, retry_after))
        attempt += 1


class PoliteSession(requests.Session):
    """A requests session with a User-Agent, a timeout, a shared rate limit and retries
    (used by the `arxiv` package). `complete(response)` may reject a 200 body as
    incomplete (truncated XML), which is then retried like a 503.
    """

    def __init__(
        self,
        delay: float,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        complete: Callable[[requests.Response], bool] | None = None,
        user_agent: str = USER_AGENT,
        budget: str | None = None,
    ) -> None:
        super().__init__()
        self.budget = budget
        self.delay = delay
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.complete = complete
        self.user_agent = user_agent
        self.stats = HTTPStats()
        self.last_response: requests.Response | None = None

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        headers = dict(kwargs.pop("headers", None) or {})
        headers = {k: v for k, v in headers.items() if k.lower() != "user-agent"}
        headers["User-Agent"] = self.user_agent
        kwargs.setdefault("timeout", self.timeout)
        self.last_response = send_politely(
            lambda: super(PoliteSession, self).request(method, url, *args, headers=headers, **kwargs),
            url,
            delay=self.delay,
            retry=self.retry,
            stats=self.stats,
            status=lambda r: r.status_code,
            header=lambda r, name: r.headers.get(name),
            complete=self.complete,
            transient=(requests.ConnectionError, requests.Timeout),
            budget=self.budget,
        )
        return self.last_response


class PoliteClient(httpx.Client):
    """An httpx client with the same User-Agent, rate limit and retry loop as PoliteSession.

    Truncated bodies surface in httpx as RemoteProtocolError/ReadError and are retried;
    `complete(response)` can reject a 200 body that arrived whole but cut short at the source.
    """

    def __init__(
        self,
        delay: float,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        complete: Callable[[httpx.Response], bool] | None = None,
        user_agent: str = USER_AGENT,
        concurrency: int = 1,
        budget: str | None = None,
        **kwargs: Any,
    ) -> None:
        headers = {"User-Agent": user_agent, **kwargs.pop("headers", {})}
        super().__init__(timeout=timeout, headers=headers, follow_redirects=True, **kwargs)
        self.delay = delay
        self.retry = retry or RetryPolicy()
        self.complete = complete
        self.concurrency = concurrency
        self.budget = budget
        self.stats = HTTPStats()

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        return send_politely(
            lambda: super(PoliteClient, self).send(request, **kwargs),
            str(request.url),
            delay=self.delay,
            retry=self.retry,
            stats=self.stats,
            status=lambda r: r.status_code,
            header=lambda r, name: r.headers.get(name),
            complete=self.complete,
            transient=(httpx.TransportError,),
            concurrency=self.concurrency,
            budget=self.budget,
        )


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds; it may be a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
