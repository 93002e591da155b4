"""Hugging Face Papers (huggingface.co/api): GitHub repos, stars and project pages of arXiv papers.

`GET papers/{arxiv_id}` gives one paper (404: not indexed); `GET daily_papers?date=` lists a
day's Daily Papers, each item a `{"paper": {...}, ...}` wrapper. Parsing is pure
(`parse_hf_paper`, `parse_daily`); transport is the JSONAPIClient shared with PwC.

Official or not: HF records one `githubRepo` and one `projectPage` per paper without saying
who linked them (authors claim papers, but the field is also filled for unclaimed papers), so
both become CodeLinks with `is_official=False`. The store upgrades a link to official when the
same URL is stated by the authors (arXiv comment or abstract) or flagged official by PwC.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx

from core.arxiv_ids import split_arxiv_id
from core.errors import UserInputError
from core.records import CodeLink, Enrichment
from ingest._http import RetryPolicy
from ingest.pwc import (
    JSONAPIClient,
    SchemaDriftError,
    _as_date,
    _int,
    _names,
    _text,
    version_less,
)

__all__ = ["DEFAULT_HF_URL", "HFPapersClient", "parse_daily", "parse_hf_paper"]

DEFAULT_HF_URL = "https://huggingface.co/api"
SOURCE = "hf"
MAX_LIMIT = 100  # daily_papers' ceiling for `limit`
# Kept in Enrichment.extra when present (upvotes and keywords help ranking and topics).
_EXTRA_KEYS = ("title", "publishedAt", "upvotes", "ai_keywords", "ai_summary")


def parse_hf_paper(obj: Any, *, arxiv_id: str | None = None) -> Enrichment | None:
    """One `papers/{id}` object (or a daily item's `paper`) as an Enrichment.

    Returns None when its id is no arXiv id and none was asked for; raises SchemaDriftError
    for something that is no paper object (not a dict, no `id`).
    """
    if not isinstance(obj, dict):
        raise SchemaDriftError(f"a paper is {type(obj).__name__}, not an object: the API may have changed")
    if "id" not in obj:
        keys = ", ".join(sorted(obj)[:8]) or "none"
        raise SchemaDriftError(f"a paper object has no 'id' (keys: {keys}): the API may have changed")
    try:
        found = split_arxiv_id(str(obj["id"]))[0]
    except UserInputError:
        if arxiv_id is None:
            return None
        found = arxiv_id
    links = []
    for key, kind in (("githubRepo", "repository"), ("projectPage", "project_page")):
        url = _text(obj.get(key))
        if url:
            links.append(CodeLink(arxiv_id=found, url=url, source=SOURCE, is_official=False, kind=kind))
    extra: dict[str, Any] = {k: obj[k] for k in _EXTRA_KEYS if obj.get(k) not in (None, "", [])}
    if "ai_keywords" in extra:
        extra["ai_keywords"] = list(_names(extra["ai_keywords"], "ai_keywords"))
    org = obj.get("organization")
    if isinstance(org, dict) and (name := _text(org.get("fullname")) or _text(org.get("name"))):
        extra["organizations"] = [name]
    return Enrichment(
        arxiv_id=found,
        source=SOURCE,
        code_links=tuple(links),
        stars=_int(obj.get("githubStars")),
        extra=extra,
    )


def parse_daily(obj: Any) -> list[tuple[str, Enrichment]]:
    """A `daily_papers` answer (a list of `{"paper": {...}, ...}`) as (arxiv_id, Enrichment) pairs.

    Items whose paper id is no arXiv id are left out. Raises SchemaDriftError when the
    answer is not a list of such items.
    """
    if not isinstance(obj, list):
        kind = (
            f"an object with keys {', '.join(sorted(obj)[:8])}"
            if isinstance(obj, dict)
            else type(obj).__name__
        )
        raise SchemaDriftError(f"daily_papers answered {kind}, not a list: the API may have changed")
    out = []
    for item in obj:
        if not isinstance(item, dict) or not isinstance(item.get("paper"), dict):
            raise SchemaDriftError("a daily_papers item has no 'paper' object: the API may have changed")
        enrichment = parse_hf_paper(item["paper"])
        if enrichment is None:
            continue
        if item.get("numComments") is not None:
            enrichment = replace(enrichment, extra={**enrichment.extra, "num_comments": item["numComments"]})
        out.append((enrichment.arxiv_id, enrichment))
    return out


class HFPapersClient(JSONAPIClient):
    """GitHub repos, stars, project pages and keywords from Hugging Face Papers.

    >>> client = HFPapersClient()  # or HFPapersClient(base_url=settings.hf_api_url)
    >>> for arxiv_id, enrichment in client.fetch_daily(date(2026, 6, 1)): ...

    Politeness: anonymous callers get about 500 requests per 5 minutes, i.e. one per 0.6 s,
    the default delay; at most `concurrency` requests are in flight.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_HF_URL,
        delay: float = 0.6,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        concurrency: int = 2,
    ) -> None:
        super().__init__(base_url, delay, timeout, retry, client, concurrency)

    def fetch_paper(self, arxiv_id: str) -> Enrichment | None:
        """What HF knows of one paper, or None when it is not indexed (404)."""
        wanted = split_arxiv_id(arxiv_id)[0]
        path = f"papers/{quote(wanted, safe='')}"
        obj = self.get_json(path, allow_404=True)
        if obj is None:
            self.not_found += 1
            return None
        try:
            return parse_hf_paper(obj, arxiv_id=wanted)
        except SchemaDriftError as exc:
            raise SchemaDriftError(f"{self.base_url}/{path}: {exc}") from None

    def fetch_papers(self, ids: Iterable[str]) -> Iterator[tuple[str, Enrichment | None]]:
        """(version-less id, Enrichment or None) for each id, in order, `concurrency` in flight."""
        yield from self.map_bounded(self.fetch_paper, version_less(ids))

    def fetch_daily(self, day: date | str, limit: int = MAX_LIMIT) -> Iterator[tuple[str, Enrichment]]:
        """Every Daily Paper of one day, each once, paging `p=0,1,…` until a short page."""
        when = _as_date(day, "date")
        if not 1 <= limit <= MAX_LIMIT:
            raise UserInputError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        seen: set[str] = set()
        page_no = 0
        while True:
            params = {"date": when.isoformat(), "limit": limit, "p": page_no}
            where = f"{self.base_url}/daily_papers?date={when} page {page_no}"
            obj = self.get_json("daily_papers", params)
            try:
                pairs = parse_daily(obj)
            except SchemaDriftError as exc:
                raise SchemaDriftError(f"{where}: {exc}") from None
            self.skipped += len(obj) - len(pairs)
            fresh = [(i, e) for i, e in pairs if i not in seen]
            if pairs and not fresh:
                raise SchemaDriftError(f"{where} repeats earlier papers: the API ignores 'p'")
            for arxiv_id, enrichment in fresh:
                seen.add(arxiv_id)
                yield arxiv_id, enrichment
            if len(obj) < limit:
                return
            page_no += 1
