"""arXiv OAI-PMH: bulk harvests of a set (e.g. cs) by datestamp window, resumable page by page.

Three layers: pure parsing of response bytes (`parse_list_records`, `parse_get_record`),
transport (`OAIClient`, through the shared PoliteClient: rate limit per host, retries,
Retry-After, truncated bodies) and storing (`harvest`: filter by category, upsert each
page, save the resumption token after it so a crashed run resumes where it stopped).

Formats: `arXivRaw` (default) carries the version history with dates, so a paper gets its
version number, v1 date and latest-version date. `arXiv` carries only created/updated days
and no version number: its papers get `version = UNKNOWN_VERSION` (0), which the store's
upsert treats as older than any real version, so such a record inserts a paper the store
lacks and never overwrites a known version (see `parse_list_records`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import httpx
from lxml import etree

from core.arxiv_ids import split_arxiv_id
from core.errors import IngestError, SourceHTTPError, UserInputError
from core.records import Paper
from ingest._http import ARXIV_BUDGET, HTTPStats, PoliteClient, RetryPolicy
from ingest.arxiv_api import clean_text

if TYPE_CHECKING:
    from core.store import Store

Prefix = Literal["arXivRaw", "arXiv"]
PREFIXES: tuple[Prefix, ...] = ("arXivRaw", "arXiv")
UNKNOWN_VERSION = 0  # the `arXiv` format does not say which version is current
SOURCE = "oai"
OAI_ID_PREFIX = "oai:arXiv.org:"
MAX_RESTARTS = 3
# The same split as the Kaggle snapshot importer (ingest/snapshot.py) for author strings.
_AUTHOR_SPLIT = re.compile(r",\s+|\s+and\s+")
_SET_RE = re.compile(r"[A-Za-z][A-Za-z0-9.\-]*(?::[A-Za-z][A-Za-z0-9.\-]*)*")
_END_RE = re.compile(rb"</(?:[\w.\-]+:)?OAI-PMH>\s*$")
# Errors that mean "the request was wrong": the user's set, dates, id or format.
_ARGUMENT_CODES = frozenset(
    {"badArgument", "cannotDisseminateFormat", "noSetHierarchy", "idDoesNotExist", "noMetadataFormats"}
)
_HINTS = {
    "badArgument": "check --set, --from and --until",
    "cannotDisseminateFormat": "use --metadata-prefix arXivRaw or arXiv",
    "noSetHierarchy": "harvest without --set",
    "idDoesNotExist": "check the arXiv id",
    "badResumptionToken": "the token expired; the harvest restarts the window",
}


class OAIError(IngestError):
    """The OAI-PMH endpoint answered with an <error> code inside a 200 response."""

    def __init__(self, code: str, message: str = "", url: str = "") -> None:
        super().__init__(code, message, url)
        self.code, self.message, self.url = code, message, url

    def __str__(self) -> str:
        where = f" from {self.url}" if self.url else ""
        text = self.message or "no message"
        hint = f" ({_HINTS[self.code]})" if self.code in _HINTS else ""
        return f"OAI-PMH error {self.code}{where}: {text}{hint}"


class BadResumptionTokenError(OAIError):
    """The resumption token is unknown or expired: the list must restart from its beginning."""


class OAIArgumentError(OAIError, UserInputError):
    """The endpoint refused the request's set, dates, identifier or metadata format."""

    exit_code = 2


@dataclass(frozen=True)
class OAIPage:
    """One ListRecords response: its papers and where the list goes on.

    `token` is None when the list ends here (the token was empty or missing); `cursor` and
    `complete_size` are the token's attributes when the endpoint sends them (the classic
    interface does, the 2025 one sends `expires` instead). `deleted` counts records whose
    header says status="deleted" (skipped).
    """

    papers: list[Paper]
    token: str | None
    cursor: int | None = None
    complete_size: int | None = None
    response_date: datetime | None = None
    deleted: int = 0


# ---------------------------------------------------------------- parsing (pure)


def check_prefix(prefix: str) -> Prefix:
    """The metadata prefix, if supported; raises UserInputError listing the valid ones."""
    if prefix not in PREFIXES:
        raise UserInputError(f"unknown metadata prefix {prefix!r}: use {' or '.join(PREFIXES)}")
    return prefix


def check_set(set_spec: str) -> str:
    """An OAI-PMH set spec of arXiv's shape (cs, math, physics:hep-th); raises UserInputError."""
    cleaned = set_spec.strip()
    if not _SET_RE.fullmatch(cleaned):
        raise UserInputError(f"not an OAI-PMH set: {set_spec!r} (e.g. cs, math, physics:hep-th)")
    return cleaned


def parse_list_records(content: bytes, prefix: Prefix = "arXivRaw", *, url: str = "") -> OAIPage:
    """A ListRecords response as an OAIPage of Papers (source "oai").

    `noRecordsMatch` is an empty, final page. Other OAI errors raise OAIError:
    BadResumptionTokenError for `badResumptionToken`, OAIArgumentError (a UserInputError)
    for the request's own mistakes (badArgument, cannotDisseminateFormat...). Malformed XML,
    a response with neither <ListRecords> nor <error>, or a record without `prefix`
    metadata raise IngestError. arXiv-format papers have version UNKNOWN_VERSION (0).
    """
    check_prefix(prefix)
    where = url or "OAI-PMH response"
    root = _root(content, where)
    response_date = _response_date(root)
    body = _child(root, "ListRecords")
    if body is None:
        error = _child(root, "error")
        if error is not None and error.get("code") == "noRecordsMatch":
            return OAIPage([], None, None, 0, response_date)
        _raise_error(error, where, "ListRecords")
    papers: list[Paper] = []
    deleted = 0
    token: str | None = None
    cursor = size = None
    for el in body:
        name = _local(el.tag)
        if name == "record":
            paper = _record(el, prefix, where)
            if paper is None:
                deleted += 1
            else:
                papers.append(paper)
        elif name == "resumptionToken":
            token = (el.text or "").strip() or None
            cursor, size = _int_attr(el, "cursor"), _int_attr(el, "completeListSize")
    return OAIPage(papers, token, cursor, size, response_date, deleted)


def parse_get_record(content: bytes, prefix: Prefix = "arXivRaw", *, url: str = "") -> Paper | None:
    """A GetRecord response as a Paper, or None when the record is deleted.

    Errors as in `parse_list_records`; an unknown id (`idDoesNotExist`) is OAIArgumentError.
    """
    check_prefix(prefix)
    where = url or "OAI-PMH response"
    root = _root(content, where)
    body = _child(root, "GetRecord")
    if body is None:
        _raise_error(_child(root, "error"), where, "GetRecord")
    record = _child(body, "record")
    if record is None:
        raise IngestError(f"{where}: <GetRecord> without a <record>; has the OAI-PMH format changed?")
    return _record(record, prefix, where)


def _parser() -> etree.XMLParser:
    # One per call: lxml parsers must not be shared between threads. No entities, no network.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _root(content: bytes, where: str) -> Any:
    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError as exc:
        raise IngestError(f"{where}: malformed XML ({exc}); the source may be failing, "
                          "try again later") from None
    if _local(root.tag) != "OAI-PMH":
        raise IngestError(f"{where}: not an OAI-PMH response (root element <{_local(root.tag)}>); "
                          "check PAPERRADAR_ARXIV_OAI_URL")
    return root


def _local(tag: Any) -> str:
    # Match on local names: recorded responses put the arXiv elements in either namespace.
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _child(el: Any, name: str) -> Any:
    for child in el:
        if _local(child.tag) == name:
            return child
    return None


def _raise_error(error: Any, where: str, verb: str) -> NoReturn:
    if error is None:
        raise IngestError(f"{where}: neither <{verb}> nor <error> in the response; "
                          "has the OAI-PMH format changed?")
    code = error.get("code") or "unknown"
    message = clean_text(error.text)
    if code == "badResumptionToken":
        raise BadResumptionTokenError(code, message, where)
    if code in _ARGUMENT_CODES:
        raise OAIArgumentError(code, message, where)
    raise OAIError(code, message, where)


def _response_date(root: Any) -> datetime | None:
    el = _child(root, "responseDate")
    text = (el.text or "").strip() if el is not None else ""
    try:
        return _naive_utc(datetime.fromisoformat(text)) if text else None
    except ValueError:
        return None


def _int_attr(el: Any, name: str) -> int | None:
    value = (el.get(name) or "").strip()
    return int(value) if value.isdigit() else None


def _record(el: Any, prefix: Prefix, where: str) -> Paper | None:
    header = _child(el, "header")
    if header is None:
        raise IngestError(f"{where}: a <record> without <header>; has the OAI-PMH format changed?")
    if header.get("status") == "deleted":
        return None
    ident_el = _child(header, "identifier")
    ident = (ident_el.text or "").strip() if ident_el is not None else "?"
    metadata = _child(el, "metadata")
    meta = _child(metadata, prefix) if metadata is not None else None
    if meta is None:
        found = [_local(c.tag) for c in metadata] if metadata is not None else []
        raise IngestError(f"{where}: record {ident} has no <{prefix}> metadata (found {found or 'none'});"
                          f" was it requested with metadataPrefix={prefix}?")
    fields: dict[str, Any] = {}
    versions: list[Any] = []
    for child in meta:
        name = _local(child.tag)
        if name == "version":
            versions.append(child)
        elif name:
            fields.setdefault(name, child)
    try:
        if prefix == "arXivRaw":
            return _raw_paper(fields, versions)
        return _arxiv_paper(fields)
    except (UserInputError, ValueError, KeyError, TypeError) as exc:
        raise IngestError(f"{where}: record {ident}: {exc}") from None


def _text(fields: dict[str, Any], name: str) -> str:
    el = fields.get(name)
    return clean_text(el.text) if el is not None else ""


def _common(fields: dict[str, Any]) -> dict[str, Any]:
    arxiv_id, _ = split_arxiv_id(_text(fields, "id"))
    categories = tuple(dict.fromkeys(_text(fields, "categories").split()))
    title = _text(fields, "title")
    if not categories or not title:
        raise ValueError("no title or categories")
    return {
        "arxiv_id": arxiv_id,
        "title": title,
        "abstract": _text(fields, "abstract"),
        "primary_category": categories[0],
        "categories": categories,
        "comment": _text(fields, "comments") or None,
        "journal_ref": _text(fields, "journal-ref") or None,
        "doi": _text(fields, "doi") or None,
        "source": SOURCE,
    }


def _raw_paper(fields: dict[str, Any], versions: list[Any]) -> Paper:
    if not versions:
        raise ValueError("no <version> history")
    numbered = sorted((_version_number(v, i), v) for i, v in enumerate(versions, 1))
    (_, first), (number, last) = numbered[0], numbered[-1]
    published = _rfc2822(_version_date(first))
    authors = (clean_text(a) for a in _AUTHOR_SPLIT.split(_text(fields, "authors")))
    return Paper(
        version=number,
        authors=tuple(a for a in authors if a),
        published=published,
        updated=published if last is first else _rfc2822(_version_date(last)),
        **_common(fields),
    )


def _arxiv_paper(fields: dict[str, Any]) -> Paper:
    created = _day(_text(fields, "created"))
    updated = _text(fields, "updated")
    authors_el = fields.get("authors")
    names = []
    for author in authors_el if authors_el is not None else ():
        parts = {_local(p.tag): clean_text(p.text) for p in author}
        name = " ".join(p for p in (parts.get("forenames"), parts.get("keyname"), parts.get("suffix")) if p)
        if name:
            names.append(name)
    return Paper(
        version=UNKNOWN_VERSION,
        authors=tuple(names),
        published=created,
        updated=_day(updated) if updated else created,
        **_common(fields),
    )


def _version_number(el: Any, position: int) -> int:
    label = (el.get("version") or "").strip().lstrip("vV")
    return int(label) if label.isdigit() else position


def _version_date(el: Any) -> str:
    date_el = _child(el, "date")
    if date_el is None or not (date_el.text or "").strip():
        raise ValueError("a <version> without <date>")
    return str(date_el.text).strip()


@lru_cache(maxsize=4096)
def _rfc2822(value: str) -> datetime:
    """'Mon, 2 Apr 2007 19:18:42 GMT' as naive UTC (few distinct values per page: cached)."""
    try:
        return _naive_utc(parsedate_to_datetime(value))
    except (TypeError, ValueError):
        raise ValueError(f"unreadable version date {value!r}") from None


def _day(value: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time())
    except ValueError:
        raise ValueError(f"unreadable date {value!r}") from None


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


# ---------------------------------------------------------------- transport


def _oai_complete(response: httpx.Response) -> bool:
    # lxml would report a cut-off body as malformed; a complete one ends with </OAI-PMH>.
    return bool(_END_RE.search(response.content[-256:]))


class OAIClient:
    """Talks OAI-PMH to arXiv: ListRecords page by page, GetRecord.

    Every request goes through PoliteClient: `delay` seconds between requests to the host
    (arXiv asks for 3 s across its services), retries with backoff on resets,
    timeouts, 429/5xx (503 + Retry-After is arXiv's flow control) and truncated bodies.

    >>> client = OAIClient("https://oaipmh.arxiv.org/oai", delay=3.0)
    >>> for page in client.list_records("cs", date(2026, 6, 1), date(2026, 6, 7)):
    ...     print(len(page.papers), page.cursor, page.complete_size)
    """

    def __init__(
        self,
        base_url: str,
        delay: float = 3.0,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url
        self.http = client or PoliteClient(delay=delay, timeout=timeout, retry=retry,
                                           complete=_oai_complete, budget=ARXIV_BUDGET)

    @property
    def stats(self) -> HTTPStats | None:
        return getattr(self.http, "stats", None)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> OAIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def list_records(
        self,
        set_spec: str | None,
        from_date: date | None,
        until_date: date | None,
        prefix: Prefix = "arXivRaw",
        token: str | None = None,
    ) -> Iterator[OAIPage]:
        """Every page of a list, starting at `token` if given (then only the token is sent).

        Yields one OAIPage per response until the token is empty or missing. Raises
        BadResumptionTokenError when a token has expired, OAIArgumentError when the endpoint
        refuses the set, dates or format, IngestError/SourceHTTPError when it keeps failing.
        """
        check_prefix(prefix)
        if from_date and until_date and from_date > until_date:
            raise UserInputError(f"--from {from_date} is after --until {until_date}")
        params: dict[str, str]
        if token:
            params = {"verb": "ListRecords", "resumptionToken": token}
        else:
            params = {"verb": "ListRecords", "metadataPrefix": prefix}
            if set_spec:
                params["set"] = set_spec
            if from_date:
                params["from"] = from_date.isoformat()
            if until_date:
                params["until"] = until_date.isoformat()
        while True:
            page = parse_list_records(self._get(params), prefix, url=self.base_url)
            yield page
            if page.token is None:
                return
            # Per the protocol, later requests carry only the verb and the token.
            params = {"verb": "ListRecords", "resumptionToken": page.token}

    def get_record(self, arxiv_id: str, prefix: Prefix = "arXivRaw") -> Paper | None:
        """The latest metadata of one paper (None if the record is deleted)."""
        key, _ = split_arxiv_id(arxiv_id)
        params = {"verb": "GetRecord", "identifier": OAI_ID_PREFIX + key,
                  "metadataPrefix": check_prefix(prefix)}
        return parse_get_record(self._get(params), prefix, url=self.base_url)

    def _get(self, params: dict[str, str]) -> bytes:
        try:
            response = self.http.get(self.base_url, params=params)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise IngestError(f"cannot reach {self.base_url}: {type(exc).__name__}") from None
        if response.status_code != 200:
            hint = ("check PAPERRADAR_ARXIV_OAI_URL" if 400 <= response.status_code < 500
                    else "the source is failing; try again later")
            raise SourceHTTPError(self.base_url, response.status_code, hint)
        return response.content


# ---------------------------------------------------------------- harvesting into the store


def _label(set_spec: str | None, categories: Collection[str] | None) -> str:
    cats = "all" if categories is None else ",".join(sorted(set(categories)))
    return f"{set_spec or '*'} {cats}"


def token_key(set_spec: str | None, since: date | None, until: date | None, prefix: Prefix,
              categories: Collection[str] | None) -> str:
    """The ingest_state key of an unfinished list: one per set, window, format and filter."""
    return f"token {_label(set_spec, categories)} {since or ''}..{until or ''} {prefix}"


def watermark_key(set_spec: str | None, categories: Collection[str] | None) -> str:
    """The ingest_state key of a set's watermark; per category filter, because a watermark
    only says what was kept (a later harvest with other categories must start earlier)."""
    return f"watermark {_label(set_spec, categories)}"


def watermark(store: Store, set_spec: str | None, categories: Collection[str] | None) -> date | None:
    """The day through which the set was harvested with this filter (None: never)."""
    value = store.get_state(SOURCE, watermark_key(set_spec, categories))
    return date.fromisoformat(value) if value else None


def pending_window(store: Store, set_spec: str | None, prefix: Prefix,
                   categories: Collection[str] | None) -> tuple[date, date] | None:
    """The window of an unfinished harvest of this set, format and filter, if any (the
    oldest), so that a default run resumes it before moving on."""
    head = f"token {_label(set_spec, categories)} "
    _, rows = store.query(
        "SELECT key FROM ingest_state WHERE source = ? AND starts_with(key, ?) "
        "AND ends_with(key, ?) ORDER BY key LIMIT 1",
        [SOURCE, head, f" {prefix}"],
    )
    if not rows:
        return None
    window = str(rows[0][0])[len(head):].rpartition(" ")[0]
    start, _, end = window.partition("..")
    try:
        return date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        return None


def harvest(
    store: Store,
    client: OAIClient,
    set_spec: str | None,
    since: date | None,
    until: date | None,
    prefix: Prefix = "arXivRaw",
    categories: Collection[str] | None = None,
    *,
    counts: dict[str, Any] | None = None,
    on_page: Callable[[OAIPage, dict[str, Any]], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Harvest a set's records with datestamps in [since, until] into the store; returns counts.

    `categories` keeps papers in any of them, exact (cs.CL) or by archive (cs); None keeps
    all. Each page is upserted in one transaction, then its resumption token is saved in
    ingest_state (`token_key`): a run that dies is resumed by the next call with the same
    arguments from the last stored page. The upsert commits its own transaction, so a death
    between the two repeats one page, which is a no-op: no duplicates and no gaps. An expired
    token restarts the window from the beginning (logged, at most MAX_RESTARTS times).

    When the list ends the token is deleted and the set's watermark (`watermark_key`) moves
    forward to `until`, or to the day of the list's first responseDate if that is earlier or
    `until` is None; datestamps are last-modified days, so a next harvest that starts on the
    watermark day repeats at most one day.

    `counts` (filled in place, also when an error escapes) gets pages, records, inserted,
    updated, unchanged, skipped (out of category), deleted, restarts, resumed, requests and
    retries. `on_page(page, counts)` is called after each stored page. Raises what
    `OAIClient.list_records` raises, and StoreError.
    """
    wanted = None if categories is None else frozenset(categories)
    counts = {} if counts is None else counts
    for name in ("pages", "records", "inserted", "updated", "unchanged", "skipped", "deleted",
                 "restarts", "resumed"):
        counts.setdefault(name, 0)
    key = token_key(set_spec, since, until, prefix, categories)
    state = _load_token(store.get_state(SOURCE, key))
    token, list_day = state if state else (None, None)
    if token:
        counts["resumed"] = 1
        _say(log, f"resuming an interrupted harvest from its last stored page ({key})")
    try:
        while True:
            try:
                for page in client.list_records(set_spec, since, until, prefix, token=token):
                    if list_day is None and page.response_date is not None:
                        list_day = page.response_date.date()
                    kept = [p for p in page.papers if wanted is None or _matches(p.categories, wanted)]
                    result = store.upsert_papers(kept, batch_size=max(len(kept), 1))
                    if page.token:
                        store.set_state(SOURCE, key, json.dumps(
                            {"token": page.token, "list_day": list_day and list_day.isoformat()}))
                    counts["pages"] += 1
                    counts["records"] += len(page.papers)
                    counts["skipped"] += len(page.papers) - len(kept)
                    counts["deleted"] += page.deleted
                    counts["inserted"] += result.inserted
                    counts["updated"] += result.updated
                    counts["unchanged"] += result.unchanged
                    if on_page is not None:
                        on_page(page, counts)
                break
            except BadResumptionTokenError as exc:
                if counts["restarts"] >= MAX_RESTARTS:
                    raise IngestError(f"resumption tokens kept expiring ({counts['restarts']} "
                                      f"restarts); try a shorter window: {exc}") from None
                counts["restarts"] += 1
                _say(log, f"resumption token rejected ({exc.message or exc.code}); restarting "
                          f"{set_spec or 'all sets'} {since or ''}..{until or ''} from the beginning")
                token, list_day = None, None
                store.delete_state(SOURCE, key)
    finally:
        stats = client.stats
        if stats is not None:
            counts.update(requests=stats.requests, retries=stats.retries)
    marks = [d for d in (until, list_day) if d is not None]
    previous = watermark(store, set_spec, categories)
    with store.transaction():  # the list is done: forget its token and move the watermark, together
        store.delete_state(SOURCE, key)
        if marks and (previous is None or min(marks) > previous):
            store.set_state(SOURCE, watermark_key(set_spec, categories), min(marks).isoformat())
    return counts


def default_since(mark: date | None, until: date, lookback_days: int = 7) -> date:
    """Where a harvest starts without --from: the watermark day, else `lookback_days` before `until`."""
    return min(mark, until) if mark else until - timedelta(days=lookback_days)


def _matches(cats: tuple[str, ...], wanted: frozenset[str]) -> bool:
    return any(c in wanted or c.partition(".")[0] in wanted for c in cats)


def _load_token(value: str | None) -> tuple[str, date | None] | None:
    if not value:
        return None
    try:
        state = json.loads(value)
        day = state.get("list_day")
        return str(state["token"]), date.fromisoformat(day) if day else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return value, None  # a bare token


def _say(log: Callable[[str], None] | None, message: str) -> None:
    if log is not None:
        log(message)
