"""arXiv search API: category + submitted-date window queries through the `arxiv` package.

Transport is the package's `Client`, pointed at any base URL (`query_url_format`) and
given a PoliteSession, so one rate limit, User-Agent and retry policy cover every request.
Parsing of an `arxiv.Result` into a Paper is a pure function (`result_to_paper`).
"""

from __future__ import annotations

import itertools
from collections.abc import Generator, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import arxiv
import requests

from core.arxiv_ids import split_arxiv_id
from core.errors import IngestError, SourceHTTPError, UserInputError
from core.records import Paper
from ingest._http import ARXIV_BUDGET, PoliteSession, RetryPolicy

_CATEGORY_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-")


def clean_text(text: str | None) -> str:
    """Collapse the hard wraps and runs of spaces of Atom text into single spaces.

    The same as `" ".join(text.split())`, three times faster on the usual text (no
    whitespace but single spaces and newlines) by skipping the split into words.
    """
    if not text:
        return ""
    flat = text.strip().replace("\n", " ")
    if "  " in flat:
        return " ".join(flat.split())
    if flat.isascii():  # the other ASCII whitespace str.split() knows; `in` is a memchr
        odd = ("\t" in flat or "\r" in flat or "\x0b" in flat or "\x0c" in flat
               or "\x1c" in flat or "\x1d" in flat or "\x1e" in flat or "\x1f" in flat)
    else:  # False for every whitespace character but " ", and 10x slower
        odd = not flat.isprintable()
    return " ".join(flat.split()) if odd else flat


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is UTC:  # what the package's parser gives
        return value.replace(tzinfo=None)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def result_to_paper(result: arxiv.Result, source: str = "arxiv_api") -> Paper:
    """Turn one parsed Atom entry into a Paper (version-less id, version, cleaned text)."""
    arxiv_id, version = split_arxiv_id(result.entry_id)
    primary = result.primary_category or (result.categories[0] if result.categories else "")
    return Paper(
        arxiv_id=arxiv_id,
        version=version or 1,
        title=clean_text(result.title),
        abstract=clean_text(result.summary),
        authors=tuple([clean_text(a.name) for a in result.authors]),
        published=_naive_utc(result.published),
        updated=_naive_utc(result.updated),
        primary_category=primary,
        categories=tuple(dict.fromkeys([primary, *result.categories])),
        comment=clean_text(result.comment) or None,
        journal_ref=clean_text(result.journal_ref) or None,
        doi=clean_text(result.doi) or None,
        source=source,
    )


def validate_categories(categories: Sequence[str]) -> tuple[str, ...]:
    """Categories as given, checked for shape (e.g. cs.CL, hep-th); raises UserInputError."""
    cleaned = tuple(c.strip() for c in categories if c.strip())
    if not cleaned:
        raise UserInputError("no categories given (e.g. --categories cs.CL,cs.CV)")
    for cat in cleaned:
        if not set(cat) <= _CATEGORY_CHARS or not cat[0].isalpha():
            raise UserInputError(f"not an arXiv category: {cat!r} (e.g. cs.CL, stat.ML, hep-th)")
    return cleaned


def window_query(categories: Sequence[str], since: date, until: date) -> str:
    """The API query for papers first submitted in [since, until] (whole days, GMT)."""
    if since > until:
        raise UserInputError(f"--since {since} is after --until {until}")
    return span_query(categories, _day_start(since), _day_end(until))


def span_query(categories: Sequence[str], start: datetime, end: datetime) -> str:
    """The API query for papers first submitted between two minutes (inclusive, GMT).

    The API only accepts exactly 12-digit YYYYMMDDHHMM bounds (since Nov 2025).
    """
    cats = " OR ".join(f"cat:{c}" for c in validate_categories(categories))
    if len(categories) > 1:
        cats = f"({cats})"
    return f"{cats} AND submittedDate:[{start:%Y%m%d%H%M} TO {end:%Y%m%d%H%M}]"


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _day_end(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59)


def _feed_complete(response: requests.Response) -> bool:
    """Whether a 200 body is a whole Atom feed; raises IngestError if it is no feed at all."""
    head = response.content[:2048]
    if b"<feed" not in head:
        kind = response.headers.get("Content-Type", "unknown type")
        raise IngestError(
            f"{response.url} did not answer an Atom feed ({kind}, {len(response.content)} bytes): "
            "the API may have changed"
        )
    # A cut-off body still parses (lxml recovers), so check that the feed was closed.
    return response.content.rstrip().endswith(b"</feed>")


def _entry_count(content: bytes) -> int:
    return content.count(b"<entry>") + content.count(b"<entry ")


class _Client(arxiv.Client):
    """The package's client, retrying only what our session cannot see: empty pages.

    arXiv sometimes answers a page with no entries while totalResults says more; the
    package detects that. Every other retry (429, 5xx, resets, truncation) happens once,
    in the PoliteSession, and a 4xx is never retried.
    """

    empty_page_retries = 3
    last_total: int | None = None  # totalResults of the last first page

    def _parse_feed(self, url: str, first_page: bool = True, _try_index: int = 0) -> Any:
        for attempt in range(self.empty_page_retries + 1):
            try:
                feed = super()._parse_feed(url, first_page=first_page, _try_index=0)
                if first_page:
                    self.last_total = feed.header.total_results
                response = getattr(self._session, "last_response", None)
                if response is not None and len(feed.results) != _entry_count(response.content):
                    raise IngestError(
                        f"{url}: only {len(feed.results)} of {_entry_count(response.content)} "
                        "entries could be read (missing id, published or updated): the API's "
                        "format may have changed"
                    )
                return feed
            except arxiv.UnexpectedEmptyPageError:
                if attempt == self.empty_page_retries:
                    raise
                stats = getattr(self._session, "stats", None)
                if stats is not None:
                    stats.note_retry("empty page")
        raise AssertionError("unreachable")


class ArxivAPIClient:
    """Fetches papers from the arXiv search API.

    >>> client = ArxivAPIClient("https://export.arxiv.org/api/query", delay=3.0)
    >>> papers = client.fetch_window(["cs.CL"], date(2026, 6, 1), date(2026, 6, 7))

    The API pages through at most `max_per_query` (30,000) results of one query, so a
    window whose first page reports more is split in two by submission time, recursively.
    """

    max_per_query = 30_000

    def __init__(
        self,
        api_url: str,
        delay: float = 3.0,
        page_size: int = 1000,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.api_url = api_url
        self.session = session or PoliteSession(
            delay=delay, timeout=timeout, retry=retry, complete=_feed_complete, budget=ARXIV_BUDGET
        )
        # The package's own delay would stack on the session's rate limit.
        self.client = _Client(page_size=page_size, delay_seconds=0, num_retries=0)
        self.client.query_url_format = f"{api_url}?{{}}"
        self.client._session = self.session  # the package has no public hook for this
        self.splits = 0  # windows split because they held more than max_per_query results

    @property
    def stats(self) -> Any:
        return getattr(self.session, "stats", None)

    def fetch_query(self, query: str, max_results: int | None = None) -> Generator[Paper, None, None]:
        """Every paper matching an API query, oldest submission first."""
        search = arxiv.Search(
            query=query,
            max_results=max_results,
            sort_by=arxiv.SortCriterion.SubmittedDate,
            sort_order=arxiv.SortOrder.Ascending,
        )
        yield from self._results(search)

    def fetch_window(
        self,
        categories: Sequence[str],
        since: date,
        until: date,
        max_results: int | None = None,
    ) -> Iterator[Paper]:
        """Papers first submitted in [since, until] in any of the categories, each once,
        oldest first; windows over the API's ceiling are split (see the class doc)."""
        window_query(categories, since, until)  # validates
        papers = self._fetch_span(tuple(categories), _day_start(since), _day_end(until))
        yield from itertools.islice(papers, max_results)

    def _fetch_span(self, categories: tuple[str, ...], start: datetime, end: datetime) -> Iterator[Paper]:
        results = self.fetch_query(span_query(categories, start, end))
        self.client.last_total = None
        first = next(results, None)  # parses the first page, which reports totalResults
        total = self.client.last_total or 0
        if total <= self.max_per_query:
            if first is not None:
                yield first
                yield from results
            return
        results.close()
        minutes = int((end - start).total_seconds() // 60)
        if minutes < 1:
            raise IngestError(
                f"{total} papers submitted in the minute {start:%Y-%m-%d %H:%M} for "
                f"{', '.join(categories)}: more than the API can page through ({self.max_per_query})"
            )
        self.splits += 1
        middle = start + timedelta(minutes=minutes // 2)
        yield from self._fetch_span(categories, start, middle)
        yield from self._fetch_span(categories, middle + timedelta(minutes=1), end)

    def fetch_ids(self, ids: Sequence[str]) -> Iterator[Paper]:
        """The latest version of each given id."""
        yield from self._results(arxiv.Search(id_list=list(ids), max_results=len(ids)))

    def _results(self, search: arxiv.Search) -> Generator[Paper, None, None]:
        try:
            for result in self.client.results(search):
                try:
                    paper = result_to_paper(result)
                except UserInputError:  # an id that is no arXiv id, e.g. an error entry
                    raise IngestError(
                        f"{self.api_url} answered an entry that is not a paper: {result.entry_id}"
                    ) from None
                yield paper
        except arxiv.HTTPError as exc:
            hint = "check the query" if 400 <= exc.status < 500 else "the source is failing"
            raise SourceHTTPError(self.api_url, exc.status, hint) from None
        except arxiv.UnexpectedEmptyPageError:
            raise IngestError(
                f"{self.api_url} kept returning empty pages; try again later"
            ) from None
        except requests.RequestException as exc:
            raise IngestError(f"cannot reach {self.api_url}: {type(exc).__name__}") from None
