"""Typed records that flow from ingest/ into core/store: papers (single or batched), code links, venues."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any

WITHDRAWN_MARKERS = ("this paper has been withdrawn", "this article has been withdrawn")


@dataclass(frozen=True, slots=True)
class Paper:
    """One arXiv paper at one version, as a source delivered it.

    `arxiv_id` is version-less (`2401.01234`, `hep-th/9901001`); `published` is the v1
    submission time and `updated` the time of `version`, both naive UTC.
    """

    arxiv_id: str
    version: int
    title: str
    abstract: str
    authors: tuple[str, ...]
    published: datetime
    updated: datetime
    primary_category: str
    categories: tuple[str, ...]
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    source: str = "arxiv_api"

    @property
    def withdrawn(self) -> bool:
        """arXiv marks withdrawals in the comment or abstract, not in a field of their own."""
        return is_withdrawn(self.comment, self.abstract)

    @property
    def content_hash(self) -> str:
        """Hash of the text that is embedded: a change means the vector must be recomputed."""
        return text_hash(self.title, self.abstract)


def text_hash(title: str, abstract: str) -> str:
    """Stable 16-hex-digit hash of title + abstract (what the embedding is computed from)."""
    return hashlib.blake2b(f"{title}\n{abstract}".encode(), digest_size=8).hexdigest()


def is_withdrawn(comment: str | None, abstract: str) -> bool:
    """Whether a comment or the start of an abstract says the paper was withdrawn."""
    text = f"{comment or ''} {abstract[:300]}".lower()
    # Every marker contains "withdrawn": one search rules out nearly all papers.
    return "withdrawn" in text and any(marker in text for marker in WITHDRAWN_MARKERS)


PAPER_FIELDS = tuple(f.name for f in fields(Paper))
# One Paper as a tuple of its fields, in PAPER_FIELDS order: `Paper(*row)`.
PaperRow = tuple[
    str, int, str, str, tuple[str, ...], datetime, datetime, str, tuple[str, ...],
    str | None, str | None, str | None, str,
]
_row_of = attrgetter(*PAPER_FIELDS)


@dataclass(frozen=True, slots=True)
class PaperBatch:
    """Many papers as rows of Paper's fields, for bulk loads (the snapshot import).

    A tuple is a tenth of the cost of a Paper to build, and the store reads columns
    straight out of the rows; `Paper(*row)` (or iterating the batch) gives the records.
    """

    rows: list[PaperRow]

    @classmethod
    def of(cls, papers: Iterable[Paper]) -> PaperBatch:
        return cls([_row_of(p) for p in papers])

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Paper]:
        return (Paper(*row) for row in self.rows)


@dataclass(frozen=True, slots=True)
class CodeLink:
    """A code repository or project page said to belong to a paper.

    `kind` is "repository" (GitHub, GitLab, Hugging Face, ...) or "project_page" (a web page
    about the paper, often `*.github.io`).
    """

    arxiv_id: str
    url: str
    source: str
    is_official: bool
    first_seen: datetime | None = None
    kind: str = "repository"


@dataclass(frozen=True, slots=True)
class VenueMention:
    """A statement that a paper appeared (or will appear) at a venue, with the raw text."""

    arxiv_id: str
    venue: str
    year: int | None
    source: str
    raw: str
    kind: str = "main"


@dataclass(frozen=True, slots=True)
class Enrichment:
    """What one source says about one arXiv paper beyond its metadata.

    `arxiv_id` is version-less; `code_links` hold repositories and project pages (CodeLink.kind)
    with the source ("pwc", "hf", "dump") and its official flag; `conference` is the raw venue
    text (normalised later, with the arXiv comment); `stars` are GitHub stars where the source
    gives them. `extra` keeps the rest worth storing: hf_models/hf_datasets/hf_spaces URLs,
    organizations, title, published, upvotes, ai_keywords, the raw venue fields.
    """

    arxiv_id: str
    source: str
    code_links: tuple[CodeLink, ...] = ()
    conference: str | None = None
    tasks: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    frameworks: tuple[str, ...] = ()
    citation_count: int | None = None
    stars: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def repositories(self) -> tuple[CodeLink, ...]:
        return tuple(link for link in self.code_links if link.kind == "repository")

    @property
    def project_pages(self) -> tuple[CodeLink, ...]:
        return tuple(link for link in self.code_links if link.kind == "project_page")
