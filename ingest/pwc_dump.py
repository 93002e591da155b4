"""The legacy Papers with Code dumps (pwc-archive on Hugging Face): code links and venues in bulk.

Two files matter: `links-between-papers-and-code` (one row per paper-repository pair:
paper_arxiv_id, repo_url, is_official, mentioned_in_paper, mentioned_in_github, framework)
and `papers-with-abstracts` (one row per paper: arxiv_id, proceeding, conference, tasks,
methods). Both come as a JSON array (plain or .gz, as paperswithcode-data published them),
as JSON lines, or as parquet (the pwc-archive datasets); the format is told from the first
bytes, not the name. Everything is streamed: JSON is decoded value by value from 1 MiB
chunks (the stdlib has no streaming parser and ijson is not a dependency), parquet is read
in record batches, so a multi-GB dump never sits in memory. One record may be at most
MAX_RECORD_CHARS long.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from core.arxiv_ids import split_arxiv_id
from core.errors import IngestError, UserInputError
from core.records import CodeLink, Enrichment
from ingest.pwc import SchemaDriftError, flag, parse_paper

__all__ = [
    "DumpStats",
    "iter_links",
    "iter_papers",
    "parse_link_row",
    "parse_paper_row",
    "read_records",
]

SOURCE = "dump"
CHUNK_CHARS = 1 << 20
MAX_RECORD_CHARS = 64 << 20  # a record longer than this is taken for a broken file
BATCH_ROWS = 10_000
LINK_COLUMNS = (
    "paper_url",
    "paper_title",
    "paper_arxiv_id",
    "paper_url_abs",
    "repo_url",
    "is_official",
    "mentioned_in_paper",
    "mentioned_in_github",
    "framework",
)
PAPER_COLUMNS = (
    "paper_url",
    "arxiv_id",
    "title",
    "url_abs",
    "proceeding",
    "conference",
    "tasks",
    "methods",
    "date",
    "conference_url_abs",
)
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_SPACE = re.compile(r"\s*")


@dataclass
class DumpStats:
    """Counts of one import: rows read, rows without an arXiv id or repository (skipped)."""

    rows: int = 0
    skipped: int = 0


# ---------------------------------------------------------------- reading any of the formats


def read_records(
    path: Path, columns: Sequence[str] | None = None, chunk_chars: int = CHUNK_CHARS
) -> Iterator[dict[str, Any]]:
    """Every record (a dict) of a dump file: JSON array or lines, plain or gzip, or parquet.

    `columns` limits what parquet reads (missing ones are ignored). Raises IngestError naming
    the file and record for malformed JSON or a record that is no object, UserInputError for
    a file that does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"no such dump file: {path} (download it from the pwc-archive datasets)")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == _PARQUET_MAGIC:
        yield from _read_parquet(path, columns)
        return
    gz = magic[:2] == _GZIP_MAGIC
    text: IO[str] = gzip.open(path, "rt", encoding="utf-8") if gz else path.open(encoding="utf-8")
    with text:
        try:
            for n, value in enumerate(_json_values(text, str(path), chunk_chars), 1):
                if not isinstance(value, dict):
                    raise IngestError(f"{path}: record {n} is {type(value).__name__}, not an object")
                yield value
        except (OSError, EOFError, UnicodeDecodeError) as exc:  # a broken or truncated .gz
            raise IngestError(f"{path}: cannot be read to the end ({exc}); download it again") from None


def _read_parquet(path: Path, columns: Sequence[str] | None) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq  # only parquet dumps need it

    try:
        file = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own ArrowInvalid/OSError family
        raise IngestError(f"{path}: not a readable parquet file ({exc})") from None
    names = file.schema_arrow.names
    wanted = [c for c in columns if c in names] if columns else None
    for batch in file.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
        yield from batch.to_pylist()


class _Chunks:
    """A text stream read in chunks, with a cursor: enough buffer to decode one value at a time."""

    def __init__(self, fh: IO[str], chunk_chars: int) -> None:
        self.fh, self.chunk_chars = fh, chunk_chars
        self.buf, self.pos, self.eof = "", 0, False

    def fill(self) -> bool:
        if self.eof:
            return False
        more = self.fh.read(self.chunk_chars)
        if not more:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + more
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next non-blank character ("" at the end), the cursor left on it."""
        while True:
            self.pos = _SPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""


def _json_values(fh: IO[str], where: str, chunk_chars: int) -> Iterator[Any]:
    """The elements of a top-level JSON array, or the values of a JSON-lines file, one by one."""
    decoder = json.JSONDecoder()
    src = _Chunks(fh, chunk_chars)
    in_array = src.peek() == "["
    if in_array:
        src.pos += 1
    n = 0
    while True:
        head = src.peek()
        if in_array and head == "]":
            src.pos += 1
            if src.peek():
                raise IngestError(f"{where}: data after the closing ']' of the array")
            return
        if not head:
            if in_array:
                raise IngestError(f"{where}: the file ends inside the array (truncated download?)")
            return
        n += 1
        while True:
            try:
                value, end = decoder.raw_decode(src.buf, src.pos)
            except json.JSONDecodeError as exc:
                if len(src.buf) - src.pos > MAX_RECORD_CHARS:
                    raise IngestError(
                        f"{where}: record {n} is malformed or over {MAX_RECORD_CHARS} chars"
                    ) from None
                if src.fill():
                    continue  # the value may just continue in the next chunk
                raise IngestError(f"{where}: record {n} is malformed JSON ({exc.msg})") from None
            if end == len(src.buf) and not isinstance(value, (dict, list, str)) and src.fill():
                continue  # a number cut at the chunk's end: decode it again, whole
            break
        src.pos = end
        yield value
        if in_array:
            sep = src.peek()
            if sep == ",":
                src.pos += 1
            elif not sep:
                raise IngestError(f"{where}: the file ends inside the array (truncated download?)")
            elif sep != "]":
                raise IngestError(f"{where}: expected ',' or ']' after record {n}, found {sep!r}")


# ---------------------------------------------------------------- the two dumps


def parse_link_row(row: dict[str, Any]) -> CodeLink | None:
    """One links-between-papers-and-code row as a CodeLink (None: no arXiv id or no repo URL)."""
    arxiv_id = None
    for key in ("paper_arxiv_id", "paper_url_abs"):
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            try:
                arxiv_id = split_arxiv_id(value.strip())[0]
                break
            except UserInputError:
                continue
    url = row.get("repo_url")
    if arxiv_id is None or not isinstance(url, str) or not url.strip():
        return None
    return CodeLink(
        arxiv_id=arxiv_id, url=url.strip(), source=SOURCE, is_official=flag(row.get("is_official"))
    )


def iter_links(
    path: Path, stats: DumpStats | None = None, on_progress: Callable[[int], None] | None = None
) -> Iterator[Enrichment]:
    """The links dump as one Enrichment per paper (consecutive rows of a paper are merged).

    `code_links` hold the repositories (source "dump", PwC's official flag); `frameworks` the
    non-"none" frameworks; `extra["links"]` each link's url, framework, mentioned_in_paper and
    mentioned_in_github. A paper whose rows are not adjacent yields more than one Enrichment;
    storing is keyed on (arxiv_id, url), so that is harmless. `on_progress(rows)` is called
    every BATCH_ROWS rows.
    """
    stats = stats if stats is not None else DumpStats()
    current: list[tuple[CodeLink, dict[str, Any]]] = []
    for row in read_records(path, LINK_COLUMNS):
        stats.rows += 1
        if on_progress is not None and stats.rows % BATCH_ROWS == 0:
            on_progress(stats.rows)
        link = parse_link_row(row)
        if link is None:
            stats.skipped += 1
            continue
        if current and current[0][0].arxiv_id != link.arxiv_id:
            yield _merge(current)
            current = []
        current.append((link, row))
    if current:
        yield _merge(current)


def _merge(rows: list[tuple[CodeLink, dict[str, Any]]]) -> Enrichment:
    links: dict[str, CodeLink] = {}
    details = []
    for link, row in rows:
        if link.url not in links or (link.is_official and not links[link.url].is_official):
            links[link.url] = link
        details.append(
            {
                "url": link.url,
                "framework": row.get("framework"),
                "mentioned_in_paper": row.get("mentioned_in_paper"),
                "mentioned_in_github": row.get("mentioned_in_github"),
            }
        )
    frameworks = (d["framework"] for d in details if isinstance(d["framework"], str))
    first = rows[0][1]
    extra: dict[str, Any] = {"links": details}
    for key, name in (("paper_url", "pwc_url"), ("paper_title", "title")):
        if first.get(key):
            extra[name] = first[key]
    return Enrichment(
        arxiv_id=rows[0][0].arxiv_id,
        source=SOURCE,
        code_links=tuple(links.values()),
        frameworks=tuple(dict.fromkeys(f for f in frameworks if f.strip().lower() not in ("", "none"))),
        extra=extra,
    )


def parse_paper_row(row: dict[str, Any]) -> Enrichment | None:
    """One papers-with-abstracts row as an Enrichment: venue (proceeding, else conference),
    tasks and method names. None when the paper has no arXiv id."""
    try:
        enrichment = parse_paper(row, SOURCE)
    except SchemaDriftError as exc:
        raise IngestError(f"papers-with-abstracts row: {exc}") from None
    if enrichment is None:
        return None
    extra = dict(enrichment.extra)
    if row.get("paper_url"):
        extra["pwc_url"] = row["paper_url"]
    if row.get("date"):
        extra["published"] = str(row["date"])
    return replace(enrichment, extra=extra)


def iter_papers(
    path: Path, stats: DumpStats | None = None, on_progress: Callable[[int], None] | None = None
) -> Iterator[Enrichment]:
    """The papers-with-abstracts dump as Enrichments (rows without an arXiv id are counted)."""
    stats = stats if stats is not None else DumpStats()
    for row in read_records(path, PAPER_COLUMNS):
        stats.rows += 1
        if on_progress is not None and stats.rows % BATCH_ROWS == 0:
            on_progress(stats.rows)
        try:
            enrichment = parse_paper_row(row)
        except IngestError as exc:
            raise IngestError(f"{path} record {stats.rows}: {exc}") from None
        if enrichment is None:
            stats.skipped += 1
        else:
            yield enrichment
