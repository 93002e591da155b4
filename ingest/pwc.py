"""Papers with Code (relaunched at paperswithcode.co/api/v1): code links, venue, tasks per arXiv paper.

Three layers, as for every source: pure parsing of decoded JSON (`parse_paper`, `parse_page`),
transport (`JSONAPIClient`, the shared PoliteClient: one rate limit per host, retries on
429/5xx/resets/truncated bodies honouring Retry-After) and the fetchers of `PwCClient`.
`Enrichment`, the record every enrichment source yields, and the transport are shared with
`ingest.hf_papers` and `ingest.pwc_dump`.

Field names follow SOURCES.md; the legacy paperswithcode.com names (`conference` as a slug,
`proceeding`) parse too. Tolerance: unknown fields are ignored, optional ones may be missing,
repositories and project pages may be dicts or bare URL strings. What is not tolerated (an
`IngestError` naming the URL): a list that is not a list, a paper with none of the id fields,
a `papers/` answer that does not echo the date filter sent (it would otherwise page through
the whole catalogue), JSON that stays malformed after the retries.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from core.arxiv_ids import split_arxiv_id
from core.errors import IngestError, SourceHTTPError, UserInputError
from core.records import CodeLink, Enrichment
from ingest._http import HTTPStats, PoliteClient, RetryPolicy

__all__ = [
    "DEFAULT_PWC_URL",
    "Enrichment",
    "JSONAPIClient",
    "Page",
    "PwCClient",
    "SchemaDriftError",
    "arxiv_id_of",
    "parse_page",
    "parse_paper",
]

DEFAULT_PWC_URL = "https://paperswithcode.co/api/v1"
SOURCE = "pwc"
MAX_PAGE_SIZE = 100  # the API's ceiling for page_size (SOURCES.md)
# A paper object must carry at least one of these keys (their values may be null).
ID_FIELDS = ("arxiv_id", "paper_arxiv_id", "url_abs", "paper_url_abs", "id", "paper_url")
_LIST_KEYS = (("results", "count"), ("items", "total"))
# Where the venue is, best first: the relaunch's name; the legacy dump's proceeding
# ("NeurIPS 2018 12"); `conference`, a name in the relaunch but a paper slug in legacy answers.
_VENUE_KEYS = ("conference_name", "proceeding", "conference")
_NO_FRAMEWORK = frozenset({"", "none", "null", "unknown"})
T = TypeVar("T")
R = TypeVar("R")


class SchemaDriftError(IngestError):
    """A source answered JSON that no longer has the documented shape; the parser needs updating."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list answer: the raw items and whatever paging hints came with them.

    `bare` is True for a bare list (no room for paging hints or a filter echo); `has_next`
    is None when the answer says nothing about a next page; `applied_filters` is None when
    the answer carries no echo of the filters.
    """

    items: list[dict[str, Any]]
    bare: bool = False
    total: int | None = None
    has_next: bool | None = None
    applied_filters: dict[str, Any] | None = None


# ---------------------------------------------------------------- pure parsing


def arxiv_id_of(obj: dict[str, Any]) -> str | None:
    """The version-less arXiv id of a paper object, from the first id field that holds one."""
    for key in ID_FIELDS:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            try:
                return split_arxiv_id(value.strip())[0]
            except UserInputError:
                continue  # a slug, a DOI, a non-arXiv URL: try the next field
    return None


def parse_paper(obj: Any, source: str = SOURCE, *, arxiv_id: str | None = None) -> Enrichment | None:
    """One paper object (relaunch, legacy API or legacy dump shape) as an Enrichment.

    Returns None for a paper without an arXiv id (the caller counts it), unless `arxiv_id`
    says which paper was asked for. Raises SchemaDriftError for something that is no paper
    object: not a dict, none of ID_FIELDS, resources of the wrong type.
    """
    if not isinstance(obj, dict):
        raise SchemaDriftError(f"a paper is {type(obj).__name__}, not an object: the API may have changed")
    if not any(key in obj for key in ID_FIELDS):
        keys = ", ".join(sorted(obj)[:8]) or "none"
        raise SchemaDriftError(
            f"a paper object has none of the id fields {', '.join(ID_FIELDS)} (keys: {keys}): "
            "the API may have changed"
        )
    found = arxiv_id_of(obj) or arxiv_id
    if found is None:
        return None
    repos = _links(obj.get("repositories"), found, source, "repository", "repositories")
    pages = _links(obj.get("project_pages"), found, source, "project_page", "project_pages")
    frameworks = _names(obj.get("frameworks"), "frameworks")
    frameworks += tuple(_text(r.get("framework")) or "" for r in _dicts(obj.get("repositories")))
    stars = [s for s in (_int(r.get("stars")) for r in _dicts(obj.get("repositories"))) if s is not None]
    venues = {k: v for k in _VENUE_KEYS if (v := _venue(obj.get(k)))}
    extra: dict[str, Any] = {}
    if isinstance(obj.get("id"), str) and arxiv_id_of({"id": obj["id"]}) is None:
        extra["pwc_id"] = obj["id"]
    for key in ("title", "published"):
        if _text(obj.get(key)):
            extra[key] = _text(obj.get(key))
    for key in ("hf_models", "hf_datasets", "hf_spaces"):
        urls = [u for u in (_url(v) for v in _list(obj.get(key), key)) if u]
        if urls:
            extra[key] = urls
    orgs = _names(obj.get("organizations"), "organizations")
    if orgs:
        extra["organizations"] = list(orgs)
    if venues:
        extra["venue_fields"] = venues
    return Enrichment(
        arxiv_id=found,
        source=source,
        code_links=_unique_links(repos + pages),
        conference=next(iter(venues.values()), None),
        tasks=_names(obj.get("tasks"), "tasks"),
        methods=_names(obj.get("methods"), "methods"),
        frameworks=tuple(dict.fromkeys(f for f in frameworks if f.lower() not in _NO_FRAMEWORK)),
        citation_count=_int(obj.get("citation_count")),
        stars=max(stars) if stars else None,
        extra=extra,
    )


def parse_page(obj: Any) -> Page:
    """A list answer in any of its shapes: {"count", "results"}, {"total", "items"} or a bare list.

    Raises SchemaDriftError when no list of objects is found where one belongs.
    """
    if isinstance(obj, list):
        return Page(items=_objects(obj, "the list"), bare=True)
    if not isinstance(obj, dict):
        raise SchemaDriftError(f"a list answer is {type(obj).__name__}: the API may have changed")
    for items_key, total_key in _LIST_KEYS:
        if items_key in obj:
            items = obj[items_key]
            if not isinstance(items, list):
                raise SchemaDriftError(
                    f"'{items_key}' is {type(items).__name__}, not a list: the API may have changed"
                )
            has_next: bool | None = None
            if "next" in obj:
                has_next = bool(obj["next"])
            elif "has_next" in obj:
                has_next = bool(obj["has_next"])
            filters = obj.get("applied_filters")
            return Page(
                items=_objects(items, f"'{items_key}'"),
                total=_int(obj.get(total_key, obj.get("count", obj.get("total")))),
                has_next=has_next,
                applied_filters=filters if isinstance(filters, dict) else None,
            )
    keys = ", ".join(sorted(obj)[:8]) or "none"
    raise SchemaDriftError(
        f"a list answer has neither 'results' nor 'items' (keys: {keys}): the API may have changed"
    )


def _objects(items: list[Any], where: str) -> list[dict[str, Any]]:
    for item in items:
        if not isinstance(item, dict):
            raise SchemaDriftError(
                f"{where} holds a {type(item).__name__}, not objects: the API may have changed"
            )
    return items


def _list(value: Any, key: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        return [value]  # one link given bare instead of in a list
    if not isinstance(value, list):
        raise SchemaDriftError(f"'{key}' is {type(value).__name__}, not a list: the API may have changed")
    return value


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _url(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("url") or value.get("repo_url") or value.get("html_url") or value.get("id")
    return _text(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def flag(value: Any) -> bool:
    """A boolean that may arrive as true/false, "true"/"false", 1/0 or None (= False)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "t")
    return bool(value)


def _venue(value: Any) -> str | None:
    if isinstance(value, dict):  # a conference object {id, slug, name, ...}
        value = value.get("name") or value.get("slug")
    return _text(value)


def _names(value: Any, key: str) -> tuple[str, ...]:
    """Names from a list of strings or of objects with a name (tasks, methods, organizations)."""
    names = []
    for item in _list(value, key):
        if isinstance(item, dict):
            item = item.get("name") or item.get("full_name") or item.get("slug") or item.get("id")
        if (text := _text(item)) is not None:
            names.append(text)
    return tuple(dict.fromkeys(names))


def _links(value: Any, arxiv_id: str, source: str, kind: str, key: str) -> tuple[CodeLink, ...]:
    links = []
    for item in _list(value, key):
        if not isinstance(item, (str, dict)):
            raise SchemaDriftError(f"'{key}' holds a {type(item).__name__}: the API may have changed")
        url = _url(item)
        if url:
            official = flag(item.get("is_official")) if isinstance(item, dict) else False
            links.append(CodeLink(arxiv_id=arxiv_id, url=url, source=source, is_official=official, kind=kind))
    return tuple(links)


def _unique_links(links: Iterable[CodeLink]) -> tuple[CodeLink, ...]:
    """One link per (url, kind); official wins when a URL is listed twice."""
    best: dict[tuple[str, str], CodeLink] = {}
    for link in links:
        key = (link.url, link.kind)
        if key not in best or (link.is_official and not best[key].is_official):
            best[key] = link
    return tuple(best.values())


def _as_date(value: date | str, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UserInputError(f"{name} must be a date like 2026-06-01, not {value!r}") from None


# ---------------------------------------------------------------- transport


def _json_complete(response: httpx.Response) -> bool:
    """Whether a 200 body is whole JSON (a cut-off body is retried like a 503).

    Raises SchemaDriftError at once for a body that is no JSON at all (an HTML page).
    """
    body = response.content.lstrip()
    ctype = response.headers.get("Content-Type", "")
    if "json" not in ctype and body[:1] not in (b"{", b"["):
        raise SchemaDriftError(
            f"{response.request.url} answered {ctype or 'an unknown type'} "
            f"({len(response.content)} bytes), not JSON: check the base URL"
        )
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


class JSONAPIClient:
    """GET JSON politely: `Accept: application/json`, the shared rate limit and retry loop.

    The transport of PwCClient and HFPapersClient. `client` may be any httpx.Client (tests,
    proxies); the default is a PoliteClient with the given delay, timeout and retry policy.
    Errors: SourceHTTPError for a status other than 200 (a JSON 404 only where the caller
    allows it), IngestError when the host is unreachable or the JSON stays malformed, SchemaDriftError
    when the answer is no JSON.
    """

    def __init__(
        self,
        base_url: str,
        delay: float,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        concurrency: int = 2,
    ) -> None:
        if concurrency < 1:
            raise UserInputError(f"concurrency must be at least 1, not {concurrency}")
        self.base_url = base_url.rstrip("/")
        self.client = client or PoliteClient(
            delay=delay, timeout=timeout, retry=retry, complete=_json_complete,
            concurrency=concurrency,
        )
        self.concurrency = concurrency
        self.skipped = 0  # papers without an arXiv id
        self.not_found = 0  # single-paper lookups answered 404

    @property
    def stats(self) -> HTTPStats | None:
        return getattr(self.client, "stats", None)

    def close(self) -> None:
        self.client.close()

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_json(self, path: str, params: dict[str, Any] | None = None, *, allow_404: bool = False) -> Any:
        """The decoded JSON of GET base_url/path; None for a 404 when `allow_404`."""
        url = f"{self.base_url}/{path}"
        shown = str(httpx.URL(url, params=params or {}))
        try:
            response = self.client.get(url, params=params, headers={"Accept": "application/json"})
        except SchemaDriftError:
            raise
        except IngestError:  # PoliteClient: every attempt's body was cut short or malformed
            attempts = getattr(getattr(self.client, "retry", None), "attempts", "all")
            raise IngestError(
                f"{shown} answered malformed JSON in {attempts} attempts: the source is failing, "
                "try again later"
            ) from None
        except httpx.HTTPError as exc:
            raise IngestError(f"cannot reach {shown}: {type(exc).__name__} {exc}".strip()) from None
        status = response.status_code
        if status == 404 and allow_404:
            if "json" in response.headers.get("Content-Type", ""):
                return None
            # The APIs answer an unknown paper in JSON; anything else is a wrong base URL.
            raise SourceHTTPError(shown, 404, "not the API's JSON answer: check the base URL")
        if status != 200:
            if status == 429 or status >= 500:
                hint = "still failing after retries; try again later"
            else:
                hint = f"check the base URL and parameters ({_detail(response)})"
            raise SourceHTTPError(shown, status, hint)
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise IngestError(f"{shown} answered malformed JSON ({exc})") from None

    def map_bounded(self, fn: Callable[[str], R], items: Iterable[str]) -> Iterator[tuple[str, R]]:
        """(item, fn(item)) in input order, with at most `concurrency` calls in flight.

        Submits lazily (a few items ahead), so a long id list never becomes a long queue; the
        first error stops the rest and is raised.
        """
        if self.concurrency == 1:
            for item in items:
                yield item, fn(item)
            return
        pending: deque[tuple[str, Future[R]]] = deque()
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="paperradar-enrich") as pool:
            try:
                for item in items:
                    pending.append((item, pool.submit(fn, item)))
                    if len(pending) >= 2 * self.concurrency:
                        done, future = pending.popleft()
                        yield done, future.result()
                while pending:
                    done, future = pending.popleft()
                    yield done, future.result()
            finally:
                for _, future in pending:
                    future.cancel()


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:120].strip() or "no detail"
    if isinstance(body, dict):
        for key in ("detail", "error", "message"):
            if body.get(key):
                return str(body[key])[:120]
    return "no detail"


def version_less(ids: Iterable[str]) -> list[str]:
    """Version-less ids, each once, in the given order; UserInputError for a non-arXiv id."""
    return list(dict.fromkeys(split_arxiv_id(i)[0] for i in ids))


# ---------------------------------------------------------------- the PwC client


class PwCClient(JSONAPIClient):
    """Code links, venues, tasks and citations from Papers with Code.

    >>> client = PwCClient()  # or PwCClient(base_url=settings.pwc_api_url)
    >>> for enrichment in client.fetch_window(date(2026, 6, 1), date(2026, 6, 7)):
    ...     store.upsert_enrichment(enrichment)

    Politeness: PwC publishes no rate limit; the official client is sequential, so the
    default is one request every 0.5 s per host and at most `concurrency` (2) in flight.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_PWC_URL,
        delay: float = 0.5,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        concurrency: int = 2,
    ) -> None:
        super().__init__(base_url, delay, timeout, retry, client, concurrency)
        self.duplicates = 0  # papers a window listed twice (the ranking moved while paging)

    def fetch_window(
        self, start_date: date | str, end_date: date | str, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[Enrichment]:
        """Every paper PwC has published in [start_date, end_date] (inclusive), each once.

        Pages `papers/?start_date&end_date&include_resources=true&page&page_size` until the
        answer's count/next say it is done (a bare list: until a short or empty page).
        Papers without an arXiv id are skipped and counted in `skipped`. Raises IngestError
        when the answer does not echo the date filter (or, for a bare list, holds papers
        outside the window), repeats a page, or drifts from the documented shape.
        """
        start, end = _as_date(start_date, "start_date"), _as_date(end_date, "end_date")
        if start > end:
            raise UserInputError(f"start_date {start} is after end_date {end}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise UserInputError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}")
        sent = {"start_date": start.isoformat(), "end_date": end.isoformat()}
        seen: set[str] = set()
        listed, page_no, previous = 0, 1, None
        while True:
            params = {**sent, "include_resources": "true", "page": page_no, "page_size": page_size}
            where = f"{self.base_url}/papers/ page {page_no}"
            try:
                page = parse_page(self.get_json("papers/", params))
            except SchemaDriftError as exc:
                raise SchemaDriftError(f"{where}: {exc}") from None
            _check_filters(page, sent, where)
            if not page.items:
                return
            keys = [(p.get("arxiv_id"), p.get("id"), p.get("title")) for p in page.items]
            if keys == previous:
                raise SchemaDriftError(f"{where} repeats the previous page: the API ignores 'page'")
            previous = keys
            for raw in page.items:
                try:
                    enrichment = parse_paper(raw)
                except SchemaDriftError as exc:
                    raise SchemaDriftError(f"{where}: {exc}") from None
                if page.applied_filters is None:
                    _check_in_window(raw, start, end, where)
                if enrichment is None:
                    self.skipped += 1
                elif enrichment.arxiv_id in seen:
                    self.duplicates += 1
                else:
                    seen.add(enrichment.arxiv_id)
                    yield enrichment
            listed += len(page.items)
            if page.has_next is False or (page.total is not None and listed >= page.total):
                return
            if page.has_next is None and page.total is None and len(page.items) < page_size:
                return
            page_no += 1

    def fetch_paper(self, arxiv_id: str) -> Enrichment | None:
        """One paper with its resources, or None when PwC does not know it (404)."""
        wanted = split_arxiv_id(arxiv_id)[0]
        path = f"papers/{quote(wanted, safe='')}"
        obj = self.get_json(path, {"include_resources": "true"}, allow_404=True)
        if obj is None:
            self.not_found += 1
            return None
        try:
            enrichment = parse_paper(obj, arxiv_id=wanted)
        except SchemaDriftError as exc:
            raise SchemaDriftError(f"{self.base_url}/{path}: {exc}") from None
        assert enrichment is not None  # arxiv_id given
        return enrichment

    def fetch_papers(self, ids: Iterable[str]) -> Iterator[tuple[str, Enrichment | None]]:
        """(version-less id, Enrichment or None) for each id, in order, `concurrency` in flight.

        For the stragglers a window did not cover; the per-host rate limit still applies.
        """
        yield from self.map_bounded(self.fetch_paper, version_less(ids))


def _check_filters(page: Page, sent: dict[str, str], where: str) -> None:
    """An object answer must echo every filter sent; otherwise the filter may have been ignored."""
    if page.applied_filters is None:
        if not page.bare:
            raise SchemaDriftError(
                f"{where} does not echo applied_filters: the date filter may have been ignored; "
                "the API may have changed"
            )
        return
    for name, value in sent.items():
        echoed = page.applied_filters.get(name)
        if echoed is None or str(echoed)[:10] != value:
            raise SchemaDriftError(
                f"{where} echoes {name}={echoed!r} for the {name}={value} sent: the filter was "
                "not applied; the API may have changed"
            )


def _check_in_window(raw: dict[str, Any], start: date, end: date, where: str) -> None:
    """Without an echo, the papers' own dates are the only proof the filter held."""
    published = _text(raw.get("published")) or _text(raw.get("date"))
    if published and not start.isoformat() <= published[:10] <= end.isoformat():
        raise SchemaDriftError(
            f"{where} lists a paper published {published[:10]}, outside {start}..{end}: the date "
            "filter was ignored"
        )
