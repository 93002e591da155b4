"""Typed records that flow from ingest/ into core/store: one per paper, code link or venue mention."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

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
        text = f"{self.comment or ''} {self.abstract[:300]}".lower()
        return any(marker in text for marker in WITHDRAWN_MARKERS)

    @property
    def content_hash(self) -> str:
        """Hash of the text that is embedded: a change means the vector must be recomputed."""
        return text_hash(self.title, self.abstract)


def text_hash(title: str, abstract: str) -> str:
    """Stable 16-hex-digit hash of title + abstract (what the embedding is computed from)."""
    return hashlib.blake2b(f"{title}\n{abstract}".encode(), digest_size=8).hexdigest()


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
