"""Kaggle arXiv snapshot: stream `arxiv-metadata-oai-snapshot.json` lines (plain or gzip) into Papers.

One JSON object per line (keys id, authors, title, comments, journal-ref, doi, categories,
abstract, versions, update_date, authors_parsed). `parse_snapshot_line` is pure;
`iter_snapshot` streams a file line by line, so the 4 GB snapshot never sits in memory;
`iter_snapshot_batches` is the bulk path: rows of fields in batches, no Paper per line.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, BinaryIO

from core.arxiv_ids import split_arxiv_id
from core.errors import IngestError, UserInputError
from core.records import Paper, PaperBatch, PaperRow
from ingest.arxiv_api import clean_text

try:  # orjson (a Prefect dependency) parses these lines ~3x faster than json
    import orjson

    _loads: Callable[[str | bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads

PROGRESS_EVERY = 10_000
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib reads a gzip header and trailer
_CHUNK = 1 << 16
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
_PLAIN_NEW_ID = re.compile(r"\d{4}\.\d{4,5}").fullmatch


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
        return Paper(*_row(_load(line)))
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
    for row in _rows(path, _wanted(categories), on_progress):
        yield Paper(*row)


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


def iter_snapshot_batches(
    paths: Sequence[Path],
    categories: Collection[str] | None = None,
    on_progress: Callable[[int], None] | None = None,
    batch_size: int = 10_000,
) -> Iterator[PaperBatch]:
    """The papers of `iter_snapshot_files` in PaperBatches of `batch_size`, for bulk loads.

    Rows of Paper's fields instead of a Paper per line: with the store's read-ahead,
    `store.upsert_papers(iter_snapshot_batches(files), read_ahead=True)`, parsing the next
    batch overlaps with writing this one. `on_progress(bytes_read)` is called as each batch
    is handed over, and at the end (from the thread that iterates). A malformed line raises
    IngestError("PATH line N: ...") after the batches before it; its own batch is dropped.

    >>> for batch in iter_snapshot_batches([snapshot_path], ["cs"], batch_size=50):
    ...     papers = list(batch)  # Paper records; `batch.rows` are their fields as tuples
    """
    if batch_size < 1:
        raise UserInputError(f"batch_size must be at least 1, got {batch_size}")
    wanted = _wanted(categories)
    read = done = 0

    def note(n: int) -> None:
        nonlocal read
        read = done + n

    rows: list[PaperRow] = []
    for path in paths:
        for row in _rows(path, wanted, note):
            rows.append(row)
            if len(rows) >= batch_size:
                if on_progress is not None:
                    on_progress(read)
                yield PaperBatch(rows)
                rows = []
        done += path.stat().st_size
    if rows:
        yield PaperBatch(rows)
    if on_progress is not None:
        on_progress(done)


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


def _author(parts: list[str]) -> str:
    # authors_parsed is [last, first, suffix] plus, in old records, an affiliation we drop.
    if len(parts) >= 3:
        return clean_text(f"{parts[1]} {parts[0]} {parts[2]}")
    return clean_text(" ".join(reversed(parts)))


def _authors(rec: dict[str, Any]) -> tuple[str, ...]:
    parsed = rec.get("authors_parsed")
    if parsed:
        try:  # " ".join(x.split()) is clean_text, inlined: a paper has ~6 authors
            names = [" ".join(f"{p[1]} {p[0]} {p[2]}".split()) for p in parsed]
        except (IndexError, KeyError, TypeError):
            names = [_author(p) for p in parsed]
    else:
        names = [clean_text(a) for a in _AUTHOR_SPLIT.split(rec.get("authors") or "")]
    return tuple(filter(None, names))


def _rows(
    path: Path, wanted: frozenset[str] | None, on_progress: Callable[[int], None] | None
) -> Iterator[PaperRow]:
    """The rows of one file (see `iter_snapshot`)."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below, also when the consumer stops early
    except OSError as exc:
        raise IngestError(f"cannot read snapshot {path}: {exc.strerror or exc}") from None
    lineno = 0
    try:
        for lineno, line in enumerate(_lines(raw), 1):
            if on_progress is not None and lineno % PROGRESS_EVERY == 0:
                on_progress(raw.tell())
            if not line or line.isspace():
                continue
            try:
                rec = _load(line)
                if wanted is not None and not _matches(_categories_of(rec), wanted):
                    continue
                row = _row(rec)
            except _Malformed as exc:
                raise IngestError(f"{path} line {lineno}: {exc}") from None
            yield row
        if on_progress is not None:
            on_progress(raw.tell())
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(f"{path} after line {lineno}: unreadable ({exc}); re-download it") from None
    finally:
        raw.close()


def _lines(raw: BinaryIO) -> Iterator[bytes]:
    """The lines of a plain or gzip file (told apart by magic bytes), without line ends.

    Read 64 KiB at a time and split in bulk: a third of GzipFile's cost per line."""
    chunks: Iterator[bytes] = iter(partial(raw.read, _CHUNK), b"")
    if raw.read(2) == _GZIP_MAGIC:
        chunks = _inflated(chunks)
    raw.seek(0)
    tail = b""
    for chunk in chunks:
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        yield from lines
    if tail:
        yield tail


def _inflated(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Gzip data decompressed, over any number of members (as `gzip` reads them)."""
    inflate = zlib.decompressobj(_GZIP_WBITS)
    for chunk in chunks:
        while chunk:
            if inflate.eof:  # another member follows, maybe after zero padding
                chunk = chunk.lstrip(b"\0")
                if not chunk:
                    break
                inflate = zlib.decompressobj(_GZIP_WBITS)
            yield inflate.decompress(chunk)
            chunk = inflate.unused_data if inflate.eof else b""
    if not inflate.eof:
        raise EOFError("compressed file ended before the end-of-stream marker was reached")


def _row(rec: dict[str, Any]) -> PaperRow:
    """One record as Paper's fields, in order (`Paper(*row)`)."""
    for key in ("id", "title", "versions"):
        if not rec.get(key):
            raise _Malformed(f"no {key!r}; is this the Kaggle arxiv-metadata-oai-snapshot format?")
    try:
        arxiv_id = rec["id"]
        if not _PLAIN_NEW_ID(arxiv_id):  # the snapshot's ids are version-less
            arxiv_id, _ = split_arxiv_id(arxiv_id)
        versions = rec["versions"]
        first, last = versions[0], versions[-1]
        version = int(last["version"].lstrip("v"))
        published = _parse_created(first["created"])
        updated = published if last is first else _parse_created(last["created"])
    except (UserInputError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _Malformed(f"bad id or versions ({exc})") from None
    cats = _categories_of(rec)
    get = rec.get
    return (
        arxiv_id,
        version,
        clean_text(rec["title"]),
        clean_text(get("abstract")),
        _authors(rec),
        published,
        updated,
        cats[0],
        cats,
        clean_text(get("comments")) or None,
        clean_text(get("journal-ref")) or None,
        clean_text(get("doi")) or None,
        "snapshot",
    )
