"""The legacy PwC dump importer: the real excerpts; constructed JSON, JSON.gz, JSON-lines, parquet files."""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.errors import IngestError, UserInputError
from ingest.pwc_dump import DumpStats, iter_links, iter_papers, parse_link_row, read_records
from tests.support.pwc_server import DATA_DIR

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
PAPERS: list[dict[str, Any]] = json.loads((DATA_DIR / "pwc_papers.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def excerpts() -> Path:
    folder = FIXTURES / "pwc" / "legacy-dump-excerpts"
    if not folder.is_dir():
        pytest.skip(f"recorded fixtures not found at {folder} (clone ../shared beside the repo)")
    return folder


@functools.cache
def link_rows() -> list[dict[str, Any]]:
    """Rows shaped like links-between-papers-and-code: the constructed papers' repositories
    (real URLs the papers state), then 10,000 synthetic rows so the file spans many chunks."""
    rows = []
    for paper in PAPERS:
        for repo in paper["repositories"]:
            url, official = (repo, False) if isinstance(repo, str) else (repo["url"], repo["is_official"])
            rows.append(
                {
                    "paper_url": f"https://paperswithcode.com/paper/{paper['id']}",
                    "paper_title": paper["title"],
                    "paper_arxiv_id": paper["arxiv_id"],
                    "paper_url_abs": paper["url_abs"],
                    "paper_url_pdf": paper["url_pdf"],
                    "repo_url": url,
                    "is_official": official,
                    "mentioned_in_paper": official,
                    "mentioned_in_github": not official,
                    "framework": "pytorch" if official else "none",
                }
            )
    for n in range(10_000):
        arxiv_id = f"1{n // 1000 + 1:03d}.{n % 1000 * 7:05d}" if n % 50 else None  # every 50th: no id
        rows.append(
            {
                "paper_url": f"https://paperswithcode.com/paper/constructed-{n // 3}",
                "paper_title": f"Constructed paper {n // 3} — ünïcode",
                "paper_arxiv_id": arxiv_id,
                "paper_url_abs": None,
                "paper_url_pdf": None,
                "repo_url": f"https://github.com/constructed/repo-{n}",
                "is_official": n % 3 == 0,
                "mentioned_in_paper": False,
                "mentioned_in_github": True,
                "framework": ["none", "tf", "pytorch", "jax"][n % 4],
            }
        )
    return rows


def paper_rows() -> list[dict[str, Any]]:
    """Rows shaped like papers-with-abstracts (the final dump schema of the real excerpt)."""
    rows = []
    for i, paper in enumerate(PAPERS):
        methods = [m if isinstance(m, str) else m["name"] for m in paper.get("methods", [])]
        tasks = [t if isinstance(t, str) else t["name"] for t in paper.get("tasks", [])]
        rows.append(
            {
                "paper_url": f"https://paperswithcode.com/paper/{paper['id']}",
                "arxiv_id": paper["arxiv_id"],
                "nips_id": None,
                "openreview_id": None,
                "title": paper["title"],
                "abstract": paper["abstract"],
                "short_abstract": None,
                "url_abs": paper["url_abs"] if i % 2 else None,
                "url_pdf": paper["url_pdf"],
                "proceeding": paper.get("conference_name") or paper.get("conference"),
                "authors": paper["authors"],
                "tasks": tasks,
                "date": paper["published"],
                "conference_url_abs": None,
                "conference_url_pdf": None,
                "conference": f"{paper['id']}-1" if i % 3 else None,
                "reproduces_paper": None,
                "methods": [
                    {
                        "name": m,
                        "full_name": m,
                        "description": "",
                        "introduced_year": 2017,
                        "source_url": None,
                        "source_title": None,
                        "code_snippet_url": None,
                        "main_collection": {
                            "name": "General",
                            "description": "",
                            "parent": None,
                            "area": "General",
                        },
                    }
                    for m in methods
                ],
            }
        )
    return rows


def write_json(path: Path, rows: list[dict[str, Any]], lines: bool = False) -> Path:
    text = (
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) if lines else json.dumps(rows, indent="\t")
    )
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=1000)
    return path


# ---------------------------------------------------------------- the real excerpts


def test_the_real_links_excerpt(excerpts: Path) -> None:
    got = list(iter_links(excerpts / "links-between-papers-and-code_3entries.json"))
    assert [(e.arxiv_id, [(c.url, c.is_official, c.source) for c in e.code_links]) for e in got] == [
        ("1601.02063", [("https://github.com/LeonGeiger/Kerr", False, "dump")]),
        ("1810.10559", [("https://github.com/paul-buerkner/psis-non-factorized-paper", True, "dump")]),
        ("2005.03776", [("https://github.com/deepneuralmachine/seq2act-tensorflow", False, "dump")]),
    ]
    assert [e.frameworks for e in got] == [(), (), ("tf",)]  # "none" is no framework
    assert got[1].extra["links"] == [
        {
            "url": "https://github.com/paul-buerkner/psis-non-factorized-paper",
            "framework": "none",
            "mentioned_in_paper": True,
            "mentioned_in_github": False,
        }
    ]
    assert got[2].extra["title"] == "Mapping Natural Language Instructions to Mobile UI Action Sequences"


def test_the_real_papers_excerpt(excerpts: Path) -> None:
    stats = DumpStats()
    (e,) = iter_papers(excerpts / "papers-with-abstracts_entry_1805.10616.json", stats)
    assert e.arxiv_id == "1805.10616" and e.source == "dump" and e.code_links == ()
    assert e.conference == "NeurIPS 2018 12"  # proceeding; `conference` is a paper slug here
    assert e.extra["venue_fields"]["conference"] == "dynamic-network-model-from-partial-1"
    assert e.tasks == ("model", "Open-Ended Question Answering")
    assert e.methods == ("ooJpiued",)  # the dump's vandalised method, kept as it is
    assert e.extra["published"] == "2018-05-27"
    assert e.extra["pwc_url"] == "https://paperswithcode.com/paper/dynamic-network-model-from-partial"
    assert (stats.rows, stats.skipped) == (1, 0)


# ---------------------------------------------------------------- constructed large files


@pytest.mark.parametrize("name", ["links.json", "links.json.gz", "links.jsonl.gz", "links.parquet"])
def test_a_large_links_dump_streams_in_every_format(tmp_path: Path, name: str) -> None:
    rows = link_rows()
    path = tmp_path / name
    if name.endswith(".parquet"):
        write_parquet(path, rows)
    else:
        write_json(path, rows, lines=".jsonl" in name)
    stats, progress = DumpStats(), list[int]()
    got = list(iter_links(path, stats, on_progress=progress.append))
    assert stats.rows == len(rows) and stats.skipped == 200  # the synthetic rows without an id
    assert progress == [10_000]
    want = [parse_link_row(r) for r in rows]
    assert [c for e in got for c in e.code_links] == [c for c in want if c is not None]
    assert len({e.arxiv_id for e in got}) == len(got)  # each paper's rows are adjacent: one record each
    bisegmamba = next(e for e in got if e.arxiv_id == "2605.30972")
    assert [(c.url, c.is_official) for c in bisegmamba.code_links] == [
        ("https://github.com/bakhtzadaabshare/BiSegMamba", True),
        ("https://github.com/pwc-fixture-reimpl/BiSegMamba", False),
    ]
    assert bisegmamba.frameworks == ("pytorch",)


def test_json_and_parquet_give_the_same_papers(tmp_path: Path) -> None:
    rows = paper_rows()
    from_gz = list(iter_papers(write_json(tmp_path / "papers.json.gz", rows)))
    stats = DumpStats()
    from_parquet = list(iter_papers(write_parquet(tmp_path / "papers.parquet", rows), stats))
    assert from_gz == from_parquet
    assert stats.skipped == 6 and len(from_parquet) == len(rows) - 6  # the non-arXiv papers
    by_id = {e.arxiv_id: e for e in from_parquet}
    assert by_id["2605.30925"].conference == "SIGGRAPH 2026"
    assert by_id["2605.30972"].tasks == ("Semantic Segmentation", "3D Reconstruction")
    assert sum(1 for e in from_parquet if e.methods) > 100


def test_records_across_tiny_chunks(tmp_path: Path) -> None:
    rows = link_rows()[:3000]
    path = write_json(tmp_path / "links.json.gz", rows)
    assert list(read_records(path, chunk_chars=97)) == rows
    lines = write_json(tmp_path / "links.jsonl", rows, lines=True)
    assert list(read_records(lines, chunk_chars=1000)) == rows
    numbers = tmp_path / "numbers.json"
    numbers.write_text('[{"a": 1}, {"b": [12345678, 0.5]}, {}]  \n')
    assert list(read_records(numbers, chunk_chars=3)) == [{"a": 1}, {"b": [12345678, 0.5]}, {}]
    empty = tmp_path / "empty.json"
    empty.write_text(" [ ] ")
    assert list(read_records(empty)) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"a": 1}, {"b": ', "record 2 is malformed JSON"),
        ('[{"a": 1}', "ends inside the array"),
        ('[{"a": 1} {"b": 2}]', "expected ',' or ']' after record 1"),
        ("[1, 2]", "record 1 is int, not an object"),
        ('[{"a": 1}] {"b": 2}', "data after the closing"),
    ],
)
def test_broken_json_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "dump.json"
    path.write_text(content)
    with pytest.raises(IngestError, match=message) as err:
        list(read_records(path, chunk_chars=4))
    assert str(path) in str(err.value)


def test_a_truncated_download_and_a_missing_file(tmp_path: Path) -> None:
    whole = write_json(tmp_path / "links.json.gz", link_rows()[:2000]).read_bytes()
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(IngestError, match="cannot be read to the end.*download it again"):
        list(iter_links(cut))
    with pytest.raises(UserInputError, match="no such dump file"):
        list(iter_links(tmp_path / "missing.json"))
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(IngestError, match="not a readable parquet file"):
        list(iter_papers(bad))
