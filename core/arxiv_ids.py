"""arXiv identifiers: split 'hep-th/9901001v2' or '2401.01234v3' into the version-less key and version."""

from __future__ import annotations

import re

from core.errors import UserInputError

# New style since 2007-04: YYMM.NNNN (4 digits until 2014) or YYMM.NNNNN (since 2015).
_NEW = r"\d{4}\.\d{4,5}"
# Old style until 2007-03: archive(.SUBJECT)/YYMMNNN, e.g. hep-th/9901001, math.GT/0309136.
_OLD = r"[a-z][a-z\-]*(?:\.[A-Za-z\-]{2})?/\d{7}"
_ID_RE = re.compile(
    rf"^(?:(?:https?://)?(?:export\.)?arxiv\.org/(?:abs|pdf)/|arxiv:)?(?P<id>{_NEW}|{_OLD})(?:v(?P<v>\d+))?(?:\.pdf)?$",
    re.IGNORECASE,
)


def split_arxiv_id(raw: str) -> tuple[str, int | None]:
    """Return (version-less id, version or None) for an id, abs URL or 'arXiv:' form.

    >>> split_arxiv_id("http://arxiv.org/abs/hep-th/9901001v2")
    ('hep-th/9901001', 2)
    >>> split_arxiv_id("2401.01234")
    ('2401.01234', None)

    Raises UserInputError for anything that is not an arXiv identifier.
    """
    match = _ID_RE.match(raw.strip())
    if not match:
        raise UserInputError(
            f"not an arXiv id: {raw!r} (expected e.g. 2401.01234, 2401.01234v2 or hep-th/9901001)"
        )
    version = match.group("v")
    return match.group("id"), int(version) if version else None


def abs_url(arxiv_id: str) -> str:
    """The canonical abstract page of a version-less id."""
    return f"https://arxiv.org/abs/{arxiv_id}"
