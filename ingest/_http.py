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
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests

from core.errors import IngestError

USER_AGENT = "paperradar/0.1 (research paper tracker; https://github.com/paperradar/paperradar)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RateLimiter:
    """At most one request per `delay` seconds for one host, across all threads of the process."""

    _shared: dict[str, RateLimiter] = {}
    _shared_lock = threading.Lock()

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._lock = threading.Lock()
        self._next_at = 0.0

    @classmethod
    def for_host(cls, host: str, delay: float) -> RateLimiter:
        """The process-wide limiter of a host (arXiv's API and OAI-PMH share one budget)."""
        with cls._shared_lock:
            limiter = cls._shared.get(host)
            if limiter is None:
                limiter = cls._shared[host] = cls(delay)
            limiter.delay = delay
            return limiter

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now < self._next_at:
                time.sleep(self._next_at - now)
                now = time.monotonic()
            self._next_at = now + self.delay


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


class PoliteSession(requests.Session):
    """A requests session with a User-Agent, a timeout, a shared rate limit and retries.

    `complete(response)` may reject a 200 body as incomplete (truncated XML), which is
    then retried like a 503.
    """

    def __init__(
        self,
        delay: float,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        complete: Callable[[requests.Response], bool] | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        super().__init__()
        self.delay = delay
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.complete = complete
        self.user_agent = user_agent
        self.stats = HTTPStats()

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        headers = dict(kwargs.pop("headers", None) or {})
        headers = {k: v for k, v in headers.items() if k.lower() != "user-agent"}
        headers["User-Agent"] = self.user_agent
        kwargs.setdefault("timeout", self.timeout)
        limiter = RateLimiter.for_host(urlsplit(url).netloc, self.delay)
        attempt = 0
        while True:
            limiter.wait()
            self.stats.requests += 1
            reason: str | None
            retry_after: float | None = None
            try:
                response = super().request(method, url, *args, headers=headers, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt + 1 >= self.retry.attempts:
                    raise
                reason = type(exc).__name__
            else:
                if response.status_code in RETRY_STATUSES:
                    reason = f"HTTP {response.status_code}"
                    retry_after = _retry_after(response.headers.get("Retry-After"))
                elif response.status_code == 200 and self.complete and not self.complete(response):
                    reason = "incomplete body"
                else:
                    return response
                if attempt + 1 >= self.retry.attempts:
                    if reason == "incomplete body":
                        raise IngestError(f"{url} kept answering an incomplete body")
                    return response
            self.stats.note_retry(reason)
            time.sleep(self.retry.backoff(attempt, retry_after))
            attempt += 1


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
