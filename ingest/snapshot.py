"""Kaggle arXiv snapshot: stream `arxiv-metadata-oai-snapshot.json` lines (plain or gzip) into Papers.

One JSON object per line (keys id, authors, title, comments, journal-ref, doi, categories,
abstract, versions, update_date, authors_parsed). `parse_snapshot_line` is pure;
`iter_snapshot` streams a file line by line, so the 4 GB snapshot never sits in memory.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.arxiv_ids import split_arxiv_id
from core.errors import IngestError, UserInputError
from core.records import Paper
from ingest.arxiv_api import clean_text

try:  # orjson (a Prefect dependency) parses these lines ~3x faster than json
    import orjson

    _loads: Callable[[str | bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads

PROGRESS_EVERY = 10_000
_GZIP_MAGIC = b"\x1f\x8b"
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
# Every archive arXiv has had (current and retired). Besides the real categories, some
# lines carry MSC/ACM classes and free-text keywords in `categories` ("68T45", "I.2.7;",
# "spatial reasoning"); a secondary token counts only when its archive is one of these.
_ARCHIVES = frozenset(
    "astro-ph cond-mat cs econ eess gr-qc hep-ex hep-lat hep-ph hep-th math math-ph nlin nucl-ex "
    "nucl-th physics q-bio q-fin quant-ph stat acc-phys adap-org alg-geom ao-sci atom-ph bayes-an "
    "chao-dyn chem-ph cmp-lg comp-gas dg-ga funct-an mtrl-th patt-sol plasm-ph q-alg solv-int "
    "supr-con".split()
)
_SUBJECT = re.compile(r"[A-Za-z][A-Za-z\-]*")
_AUTHOR_SPLIT = re.compile(r",\s+|\s+and\s+")


class _Malformed(Exception):
    """One line is not a usable snapshot record; the caller adds where it was."""


def parse_snapshot_line(line: str | bytes, *, where: str = "snapshot line") -> Paper:
    """One snapshot line as a Paper (latest version, v1 date as `published`).

    >>> line = snapshot_path.read_bytes().split(b"\\n", 1)[0]
    >>> parse_snapshot_line(line, where=f"{snapshot_path} line 1").arxiv_id
    '0704.0001'

    Raises IngestError("<where>: ...") when the line is not JSON or lacks id, title,
    versions or categories.
    """
    try:
        return _to_paper(_load(line))
    except _Malformed as exc:
        raise IngestError(f"{where}: {exc}") from None


def iter_snapshot(
    path: Path,
    categories: Collection[str] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[Paper]:
    """Stream the papers of one snapshot file, plain or gzip (told apart by magic bytes).

    `categories` keeps papers in any of them: exact ("math.CO", "hep-ph") or a bare archive
    ("cs" keeps every cs.*); None keeps all. `on_progress(bytes_read)` is called every
    10,000 lines and at the end, counting bytes of the file on disk (compressed for gzip),
    to draw a bar against `path.stat().st_size`. Blank lines are skipped; a malformed line
    raises IngestError("PATH line N: ...").
    """
    wanted = _wanted(categories)
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below, also when the consumer stops early
    except OSError as exc:
        raise IngestError(f"cannot read snapshot {path}: {exc.strerror or exc}") from None
    lineno = 0
    try:
        lines: Iterable[bytes] = raw
        if raw.read(2) == _GZIP_MAGIC:
            lines = gzip.GzipFile(fileobj=raw, mode="rb")
        raw.seek(0)
        for lineno, line in enumerate(lines, 1):
            if on_progress is not None and lineno % PROGRESS_EVERY == 0:
                on_progress(raw.tell())
            if line.isspace():
                continue
            try:
                rec = _load(line)
                if wanted is not None and not _matches(_categories_of(rec), wanted):
                    continue
                paper = _to_paper(rec)
            except _Malformed as exc:
                raise IngestError(f"{path} line {lineno}: {exc}") from None
            yield paper
        if on_progress is not None:
            on_progress(raw.tell())
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise IngestError(f"{path} after line {lineno}: unreadable ({exc}); re-download it") from None
    finally:
        raw.close()


def iter_snapshot_files(
    paths: Sequence[Path],
    categories: Collection[str] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[Paper]:
    """`iter_snapshot` over several files in order; progress counts bytes over all of them."""
    done = 0
    for path in paths:
        report = None if on_progress is None else _offset(on_progress, done)
        yield from iter_snapshot(path, categories, report)
        done += path.stat().st_size


def _offset(on_progress: Callable[[int], None], done: int) -> Callable[[int], None]:
    return lambda n: on_progress(done + n)


def _wanted(categories: Collection[str] | None) -> frozenset[str] | None:
    if categories is None:
        return None
    if isinstance(categories, str):
        categories = (categories,)
    wanted = frozenset(c.strip() for c in categories if c.strip())
    if not wanted:
        raise UserInputError("no categories given (e.g. cs, cs.CL, hep-ph); pass None to keep all")
    return wanted


def _matches(cats: tuple[str, ...], wanted: frozenset[str]) -> bool:
    return any(c in wanted or c.partition(".")[0] in wanted for c in cats)


def _load(line: str | bytes) -> dict[str, Any]:
    try:
        rec = _loads(line)
    except ValueError as exc:
        raise _Malformed(f"not valid JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(rec, dict):
        raise _Malformed(f"expected a JSON object, got {type(rec).__name__}")
    return rec


def _categories_of(rec: dict[str, Any]) -> tuple[str, ...]:
    raw = rec.get("categories")
    if not isinstance(raw, str) or not raw.strip():
        raise _Malformed("no 'categories'; is this the Kaggle arxiv-metadata-oai-snapshot format?")
    return _parse_categories(raw)


@lru_cache(maxsize=1 << 16)
def _parse_categories(raw: str) -> tuple[str, ...]:
    """Primary first, in order, no duplicates, stray MSC/ACM classes and keywords dropped."""
    primary, *rest = raw.split()
    kept = [primary]
    for tok in rest:
        archive, dot, subject = tok.partition(".")
        if archive in _ARCHIVES and (not dot or _SUBJECT.fullmatch(subject)):
            kept.append(tok)
    return tuple(dict.fromkeys(kept))


@lru_cache(maxsize=1 << 16)
def _parse_created(value: str) -> datetime:
    """'Mon, 2 Apr 2007 19:18:42 GMT' as a naive UTC datetime (few distinct values: cached)."""
    try:
        _, day, month, year, hms, _zone = value.split()
        hour, minute, second = hms.split(":")
        return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second))
    except (ValueError, KeyError):
        pass
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise _Malformed(f"unreadable version date {value!r}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.replace(tzinfo=None)


def _clean(text: str | None) -> str:
    """`clean_text`, skipping its split/join when the text holds no whitespace but single
    spaces and newlines (most abstracts): 3x faster, same result. `isprintable()` is False
    for every whitespace character other than " ", so it rules out tabs, NBSP and the rest."""
    if not text:
        return ""
    flat = text.strip().replace("\n", " ")
    if "  " not in flat and flat.isprintable():
        return flat
    return clean_text(flat)


def _author(parts: list[str]) -> str:
    # authors_parsed is [last, first, suffix] plus, in old records, an affiliation we drop.
    if len(parts) >= 3:
        return _clean(f"{parts[1]} {parts[0]} {parts[2]}")
    return _clean(" ".join(reversed(parts)))


def _authors(rec: dict[str, Any]) -> tuple[str, ...]:
    parsed = rec.get("authors_parsed")
    if parsed:
        names = (_author(p) for p in parsed)
    else:
        names = (_clean(a) for a in _AUTHOR_SPLIT.split(rec.get("authors") or ""))
    return tuple(n for n in names if n)


def _to_paper(rec: dict[str, Any]) -> Paper:
    for key in ("id", "title", "versions"):
        if not rec.get(key):
            raise _Malformed(f"no {key!r}; is this the Kaggle arxiv-metadata-oai-snapshot format?")
    try:
        arxiv_id, _ = split_arxiv_id(rec["id"])
        versions = rec["versions"]
        first, last = versions[0], versions[-1]
        version = int(last["version"].lstrip("v"))
        published = _parse_created(first["created"])
        updated = published if last is first else _parse_created(last["created"])
    except (UserInputError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _Malformed(f"bad id or versions ({exc})") from None
    cats = _categories_of(rec)
    return Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=_clean(rec["title"]),
        abstract=_clean(rec.get("abstract")),
        authors=_authors(rec),
        published=published,
        updated=updated,
        primary_category=cats[0],
        categories=cats,
        comment=_clean(rec.get("comments")) or None,
        journal_ref=_clean(rec.get("journal-ref")) or None,
        doi=_clean(rec.get("doi")) or None,
        source="snapshot",
    )
