"""The Kaggle snapshot importer on the real head of the snapshot and 71,990 real cs papers."""

from __future__ import annotations

import gzip
import json
import random
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from core.errors import IngestError
from core.records import Paper
from core.store import PAPER_COLUMNS, Store, paper_key
from ingest.arxiv_api import clean_text
from ingest.snapshot import (
    iter_snapshot,
    iter_snapshot_batches,
    iter_snapshot_files,
    parse_snapshot_line,
)
from tests.support.records import author_names

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
HEAD = FIXTURES / "kaggle-snapshot" / "arxiv-metadata-oai-snapshot.head200.jsonl"
DAILY = sorted((FIXTURES / "daily-arxiv").glob("*.jsonl.gz"))

if not HEAD.is_file() or len(DAILY) != 16:
    pytest.skip(
        f"snapshot fixtures not found under {FIXTURES} (clone ../shared beside the repo)",
        allow_module_level=True,
    )


def raw_records(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_head_lines_parse_and_first_paper_in_full() -> None:
    papers = list(iter_snapshot(HEAD))
    records = raw_records(HEAD)
    assert len(papers) == len(records) == 200
    for paper, rec in zip(papers, records, strict=True):
        assert paper.arxiv_id == rec["id"] and paper.source == "snapshot"
        assert paper.title == clean_text(rec["title"])
        assert paper.abstract == clean_text(rec["abstract"])
        assert paper.comment == (clean_text(rec["comments"]) or None)
        assert list(paper.authors) == [clean_text(a) for a in author_names(rec)]
        assert paper.version == len(rec["versions"]) and paper.published <= paper.updated
        assert paper.categories == tuple(dict.fromkeys(rec["categories"].split()))

    first = papers[0]
    assert first == Paper(
        arxiv_id="0704.0001",
        version=2,
        title="Calculation of prompt diphoton production cross sections at Tevatron and LHC energies",
        abstract=first.abstract,
        authors=("C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"),
        published=datetime(2007, 4, 2, 19, 18, 42),
        updated=datetime(2007, 7, 24, 20, 10, 27),
        primary_category="hep-ph",
        categories=("hep-ph",),
        comment="37 pages, 15 figures; published version",
        journal_ref="Phys.Rev.D76:013009,2007",
        doi="10.1103/PhysRevD.76.013009",
        source="snapshot",
    )
    assert first.abstract.startswith("A fully differential calculation in perturbative quantum")
    assert first.abstract.endswith("with judicious selection of events.")
    # Old records carry an affiliation as a 4th element of authors_parsed: not part of the name.
    assert papers[24].arxiv_id == "0704.0025" and "A. S. Mishchenko" in papers[24].authors


def test_old_style_id_and_fallback_to_the_authors_string() -> None:
    rec = raw_records(HEAD)[0]
    rec["id"] = "hep-ph/0701001"
    rec["versions"] = rec["versions"] + [{"version": "v3", "created": "Wed, 1 Aug 2007 00:00:01 GMT"}]
    del rec["authors_parsed"]
    paper = parse_snapshot_line(json.dumps(rec))
    assert paper.arxiv_id == "hep-ph/0701001" and paper.version == 3
    assert paper.updated == datetime(2007, 8, 1, 0, 0, 1)
    assert paper.authors == ("C. Bal\\'azs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan")


def test_msc_and_acm_classes_in_categories_are_dropped() -> None:
    # The daily-arXiv source appended MSC/ACM classes and keywords to some category lists.
    wanted = {"2504.17179", "2504.10499", "2508.08007"}
    found = {p.arxiv_id: p for p in iter_snapshot(DAILY[1]) if p.arxiv_id in wanted}
    found |= {p.arxiv_id: p for p in iter_snapshot(DAILY[5]) if p.arxiv_id in wanted}
    assert found["2504.17179"].categories == ("cs.AI", "cs.CV", "cs.LG", "cs.RO")
    assert found["2504.10499"].categories == ("cs.IR", "cs.CL")
    assert found["2508.08007"].categories == ("cs.AI",)


def category_match(raw: str, wanted: set[str]) -> bool:
    return any(c in wanted or c.split(".")[0] in wanted for c in raw.split())


@pytest.mark.parametrize("wanted", [{"hep-ph"}, {"cs"}, {"math.CO"}, {"hep-ph", "cs", "math.CO"}])
def test_category_filter(wanted: set[str]) -> None:
    expected = [r["id"] for r in raw_records(HEAD) if category_match(r["categories"], wanted)]
    got = [p.arxiv_id for p in iter_snapshot(HEAD, categories=wanted)]
    assert got == expected and got
    if wanted == {"math.CO"}:  # exact: math.CO-only, not every math paper
        assert all("math.CO" in p.categories for p in iter_snapshot(HEAD, categories=wanted))


def test_gzip_detected_by_magic_bytes_gives_identical_papers(tmp_path: Path) -> None:
    packed = tmp_path / "snapshot.json"  # no .gz suffix on purpose
    with open(HEAD, "rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert list(iter_snapshot(packed)) == list(iter_snapshot(HEAD))


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "gaps.jsonl"
    lines = HEAD.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"\n".join(lines[:3]) + b"\n   \n")
    assert [p.arxiv_id for p in iter_snapshot(path)] == ["0704.0001", "0704.0002", "0704.0003"]


def test_malformed_lines_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_bytes(HEAD.read_bytes() + b"{not json\n")
    with pytest.raises(IngestError, match=r"broken\.jsonl line 201: not valid JSON") as info:
        list(iter_snapshot(path))
    assert "\n" not in str(info.value)

    rec = raw_records(HEAD)[0]
    del rec["id"]
    path.write_bytes(HEAD.read_bytes() + json.dumps(rec).encode() + b"\n")
    with pytest.raises(IngestError, match=r"line 201: no 'id'"):
        list(iter_snapshot(path))
    with pytest.raises(IngestError, match=r"^snapshot line: not valid JSON"):
        parse_snapshot_line("{not json")


def test_missing_file_is_an_ingest_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="cannot read snapshot"):
        list(iter_snapshot(tmp_path / "nope.json.gz"))


def test_progress_reports_increasing_bytes_up_to_the_file_size(tmp_path: Path) -> None:
    # Two gzip files back to back are one valid multi-member gzip file of ~14,000 lines.
    joined = tmp_path / "two-months.json.gz"
    joined.write_bytes(DAILY[-3].read_bytes() + DAILY[-2].read_bytes())
    seen: list[int] = []
    n = sum(1 for _ in iter_snapshot(joined, on_progress=seen.append))
    size = joined.stat().st_size
    assert n == sum(len(raw_records(p)) for p in DAILY[-3:-1]) > 10_000
    assert len(seen) == n // 10_000 + 1
    assert seen == sorted(seen) and 0 < seen[0] < size and seen[-1] == size

    total: list[int] = []
    for _ in iter_snapshot_files(DAILY[:2], on_progress=total.append):
        pass
    assert total == sorted(total) and total[-1] == sum(p.stat().st_size for p in DAILY[:2])


def test_text_cleaning_is_split_and_join() -> None:
    # clean_text skips the split when nothing needs collapsing: check it against the
    # definition on every kind of whitespace str.split() knows, ASCII or not.
    chars = [" ", "\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u2003",
             "\u3000", "a", "é", "\x00", "\u200b"]
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice(chars) for _ in range(rng.randint(0, 8)))
        assert clean_text(text) == " ".join(text.split()), repr(text)
    assert clean_text(None) == ""


@pytest.mark.parametrize("wanted", [None, {"cs.CL", "cs.CV"}])
def test_batches_hold_the_same_papers_in_order(wanted: set[str] | None) -> None:
    files = DAILY[:3]
    papers = list(iter_snapshot_files(files, wanted))
    seen: list[int] = []
    batches = list(iter_snapshot_batches(files, wanted, on_progress=seen.append, batch_size=4000))
    assert [len(b) for b in batches[:-1]] == [4000] * (len(batches) - 1)
    assert 0 < len(batches[-1]) <= 4000
    assert [p for batch in batches for p in batch] == papers and len(papers) > 4000
    assert seen == sorted(seen) and seen[-1] == sum(f.stat().st_size for f in files)


def test_batches_before_a_malformed_line_are_delivered_then_the_error(tmp_path: Path) -> None:
    lines = HEAD.read_bytes().splitlines(keepends=True)
    path = tmp_path / "broken.jsonl"
    path.write_bytes(b"".join(lines[:130]) + b"{not json\n" + b"".join(lines[130:]))
    got = []
    with pytest.raises(IngestError, match=r"broken\.jsonl line 131: not valid JSON"):
        for batch in iter_snapshot_batches([path], batch_size=50):
            got.append(batch)
    # Lines 101-130 were in the batch with the bad line: not delivered.
    assert [len(b) for b in got] == [50, 50]


def test_gzip_members_padding_and_truncation(tmp_path: Path) -> None:
    packed = gzip.compress(HEAD.read_bytes())
    joined = tmp_path / "joined.jsonl.gz"  # what `gzip` accepts: members, zero padding between
    joined.write_bytes(packed + b"\0" * 7 + packed)
    assert [p.arxiv_id for p in iter_snapshot(joined)] == [p.arxiv_id for p in iter_snapshot(HEAD)] * 2
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(DAILY[0].read_bytes()[:200_000])
    with pytest.raises(IngestError, match=r"cut\.jsonl\.gz after line \d+: unreadable .*re-download"):
        list(iter_snapshot(cut))
    garbled = tmp_path / "garbled.jsonl.gz"
    garbled.write_bytes(packed + b"not gzip")
    with pytest.raises(IngestError, match=r"garbled\.jsonl\.gz after line 200: unreadable"):
        list(iter_snapshot(garbled))


@pytest.mark.slow
def test_daily_arxiv_into_a_real_store_and_reimport_is_a_no_op(tmp_path: Path) -> None:
    expected = {r["id"] for path in DAILY for r in raw_records(path)}
    assert len(expected) == 71_990
    db = tmp_path / "paperradar.duckdb"
    with Store.open(db) as store:
        started = time.perf_counter()
        first = store.upsert_papers(iter_snapshot_batches(DAILY), read_ahead=True)
        elapsed = time.perf_counter() - started
        assert (first.inserted, first.updated) == (71_990, 0)
        assert store.count_papers() == 71_990
        # Checkpointed as DuckDB would have: the WAL does not hold the import.
        wal = db.with_name(db.name + ".wal")
        assert not wal.exists() or wal.stat().st_size < 2**20
        # Every column as the Paper records say, derived ones included.
        cols = ", ".join(PAPER_COLUMNS)
        rows = {r[1]: r for r in store.con.execute(f"SELECT {cols} FROM papers").fetchall()}
        assert set(rows) == expected
        for paper in iter_snapshot_files(DAILY):
            assert rows[paper.arxiv_id] == (
                paper_key(paper.arxiv_id), paper.arxiv_id, paper.version, paper.title, paper.abstract,
                list(paper.authors), paper.published, paper.updated, paper.primary_category,
                list(paper.categories), paper.comment, paper.journal_ref, paper.doi, paper.withdrawn,
                paper.content_hash, paper.source)
        again = store.upsert_papers(iter_snapshot_batches(DAILY), read_ahead=True)
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, 71_990)
        # The one-Paper-at-a-time path agrees.
        again = store.upsert_papers(iter_snapshot_files(DAILY), batch_size=20_000)
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, 71_990)
    print(f"imported 71,990 papers in {elapsed:.1f}s ({71_990 / elapsed:,.0f}/s)")
