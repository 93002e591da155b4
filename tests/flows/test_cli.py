"""The `paperradar` command line end to end: loopback arXiv -> DuckDB -> embeddings -> FAISS -> search."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pytest
import typer

from flows.cli import app, main
from ingest.arxiv_api import clean_text
from tests.support.records import author_names, daily_records

WEEK = ["--categories", "cs.CL,cs.CV", "--since", "2026-06-01", "--until", "2026-06-07"]
SEARCH_FIELDS = {"arxiv_id", "title", "authors", "published", "primary_category", "score",
                 "venue", "code_url", "url"}


def paperradar() -> list[str]:
    script = Path(sys.executable).with_name("paperradar")
    return [str(script)] if script.exists() else [sys.executable, "-m", "flows.cli"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script in a child process, as a user runs it."""
    return subprocess.run([*paperradar(), *args], capture_output=True, text=True, timeout=300,
                          env=os.environ.copy())


def papers_table(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT * FROM papers ORDER BY arxiv_id").fetchall()
    finally:
        con.close()


def test_ingest_window_stores_every_record_once(served_home: Path, fixtures_dir: Path) -> None:
    assert main(["ingest", "arxiv", *WEEK]) == 0
    published = served_home / "papers.duckdb"
    expected = {r["id"]: r for r in daily_records(
        fixtures_dir, {"cs.CL", "cs.CV"}, date(2026, 6, 1), date(2026, 6, 7))}
    con = duckdb.connect(str(published), read_only=True)
    rows = con.execute(
        "SELECT arxiv_id, title, abstract, authors, categories, primary_category, comment, "
        "published, version, withdrawn FROM papers"
    ).fetchall()
    con.close()
    assert len(rows) == len(expected) == len({r[0] for r in rows})
    for arxiv_id, title, abstract, authors, cats, primary, comment, published_at, version, _ in rows:
        rec = expected[arxiv_id]
        assert title == clean_text(rec["title"])
        assert abstract == clean_text(rec["abstract"])
        assert authors == author_names(rec)
        assert cats == rec["categories"].split() and primary == cats[0]
        assert comment == (clean_text(rec["comments"]) or None)
        assert published_at == rec["_v1"].replace(tzinfo=None)
        assert version == 1

    before = papers_table(published)
    assert main(["ingest", "arxiv", *WEEK]) == 0
    assert papers_table(published) == before  # the second run changes nothing


@pytest.mark.slow
def test_index_then_search_end_to_end(served_home: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    day = ["--categories", "cs.CL", "--since", "2026-06-04", "--until", "2026-06-04"]
    assert main(["ingest", "arxiv", *day]) == 0
    assert main(["index"]) == 0
    assert "index holds" in capsys.readouterr().err

    query = "diffusion models for video generation"
    assert main(["search", query, "-k", "5", "--mode", "semantic", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert isinstance(results, list) and len(results) == 5
    for r in results:
        assert set(r) >= SEARCH_FIELDS
        assert isinstance(r["authors"], list) and r["url"].endswith(r["arxiv_id"])
        assert date.fromisoformat(r["published"]) == date(2026, 6, 4)

    # Ranked by cosine similarity: recompute against every paper with the model itself, as
    # the settings choose it (the int8 ONNX backend on a CPU by default).
    from core.settings import Settings
    from flows.cli import _embedder
    from index.embed import document_text

    embedder = _embedder(Settings())

    con = duckdb.connect(str(served_home / "papers.duckdb"), read_only=True)
    papers = con.execute("SELECT arxiv_id, title, abstract FROM papers").fetchall()
    con.close()
    docs = embedder.encode_documents([document_text(t, a) for _, t, a in papers])
    cosine = docs @ embedder.encode_query(query)
    best = [papers[i][0] for i in np.argsort(-cosine)[:5]]
    assert [r["arxiv_id"] for r in results] == best
    assert [r["score"] for r in results] == pytest.approx(sorted(cosine)[::-1][:5], abs=2e-3)

    # Nothing new: the second run embeds nothing and keeps the index.
    assert main(["index"]) == 0
    assert "embedded 0 papers" in capsys.readouterr().err

    # A plain read-only DuckDB session can query the published file.
    con = duckdb.connect(str(served_home / "papers.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM papers").fetchone()[0] == len(papers)
    con.close()

    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["papers"] == len(papers)
    assert status["index"]["consistent"] and status["index"]["count"] == len(papers)
    assert status["index"]["not_indexed"] == 0
    assert status["index"]["papers"] == status["index"]["vectors"] == len(papers)
    assert [r["kind"] for r in status["runs"]][:2] == ["index", "index"]

    # --rebuild builds the index afresh from the stored vectors: nothing is re-embedded.
    assert main(["index", "--rebuild"]) == 0
    assert "embedded 0 papers" in (err := capsys.readouterr().err) and "built afresh" in err
    assert main(["status"]) == 0
    assert f"{len(papers)} papers in the database, {len(papers)} in the index" in (
        capsys.readouterr().out)

    assert main(["sql", "SELECT count(*) AS n FROM papers", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": len(papers)}]


def test_sql_is_read_only(served_home: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    day = ["--categories", "cs.CL", "--since", "2026-06-05", "--until", "2026-06-05"]
    assert main(["ingest", "arxiv", *day]) == 0
    capsys.readouterr()
    # Refused statements are bad input (exit 2; core/sql_guard.py); tests/dashboard has the rest.
    for statement in ["DELETE FROM papers", "DROP TABLE papers",
                      "SELECT * FROM read_csv('/etc/passwd')", "ATTACH '/tmp/x.duckdb' AS x",
                      "COPY papers TO '/tmp/x.csv'", "SELECT 1; DROP TABLE papers"]:
        assert main(["sql", statement]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("paperradar: error:") and "\n" not in err
    assert main(["sql", "SELECT count(*) FROM papers"]) == 0


def _commands(group: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for info in group.registered_commands:
        found.append((*prefix, info.name or info.callback.__name__))  # type: ignore[union-attr]
    for sub in group.registered_groups:
        found.append((*prefix, sub.name))
        found.extend(_commands(sub.typer_instance, (*prefix, sub.name)))  # type: ignore[arg-type]
    return found


def test_every_command_has_help(capsys) -> None:  # type: ignore[no-untyped-def]
    commands = _commands(app)
    assert {("ingest", "arxiv"), ("index",), ("search",), ("sql",), ("status",)} <= set(commands)
    for command in [(), *commands]:
        assert main([*command, "--help"]) == 0, command
        assert "Usage" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "transformers", "--bogus"], "No such option: --bogus"),
        (["ingest", "arxiv", "--since", "2026-13-01"], "is not a date"),
        (["ingest", "arxiv", "--since", "yesterday"], "is not a date"),
        (["ingest", "arxiv", "--since", "2026-06-08", "--until", "2026-06-01"], "is after"),
        (["ingest", "arxiv", "--categories", "cs CL"], "not an arXiv category"),
        (["search", ""], "the query is empty"),
        (["search", "   "], "the query is empty"),
        (["search", "graphs", "-k", "0"], "-k must be between"),
        (["search", "graphs", "-k", "100000"], "-k must be between"),
        (["search", "long " * 2000], "characters long"),
        (["search", "\x01\x02\x1b\x7f"], "the query is empty"),
        (["search", "graphs", "--mode", "fuzzy"], "unknown search mode"),
        (["search", "graphs", "--since", "2026-06-08", "--until", "2026-06-01"], "is after"),
        (["search", "graphs", "--since", "June"], "is not a date"),
        (["search", "graphs", "--venue", " "], "--venue is empty"),
        (["similar", "banana"], "not an arXiv id"),
        (["similar", "2401.01234", "-k", "0"], "-k must be between"),
        (["search", "graphs"], "no published database"),
        (["sql", "SELECT 1"], "no published database"),
        (["status"], "no published database"),
        (["index"], "no database at"),
        (["frobnicate"], "No such command"),
        (["ingest", "snapshot", "/no/such/snapshot.json"], "no such file or folder"),
    ],
)
def test_errors_are_one_line_and_exit_2(home: Path, args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_bad_setting_is_one_line(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERRADAR_ARXIV_DELAY", "soon")
    result = run_cli("status")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if "PAPERRADAR_ARXIV_DELAY" in line]


def test_unreachable_source_is_one_line_and_keeps_data(served_home: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    day = ["--categories", "cs.CL", "--since", "2026-06-05", "--until", "2026-06-05"]
    assert main(["ingest", "arxiv", *day]) == 0
    before = papers_table(served_home / "papers.duckdb")
    monkeypatch.setenv("PAPERRADAR_ARXIV_API_URL", "http://127.0.0.1:9/api/query")
    monkeypatch.setenv("PAPERRADAR_HTTP_TIMEOUT", "2")
    monkeypatch.setenv("PAPERRADAR_HTTP_RETRIES", "2")
    result = run_cli("ingest", "arxiv", *day)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) <= 2 and "cannot reach" in result.stderr
    assert "Traceback" not in result.stderr
    assert papers_table(served_home / "papers.duckdb") == before
    con = duckdb.connect(str(served_home / "work" / "papers.duckdb"), read_only=True)
    status, error, requests = con.execute(
        "SELECT status, error, counts->>'requests' FROM runs ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    con.close()
    assert status == "failed" and "cannot reach" in error and requests == "2"


def test_ingest_snapshot_imports_filtered_and_idempotent(home: Path, fixtures_dir: Path) -> None:
    head = fixtures_dir / "kaggle-snapshot" / "arxiv-metadata-oai-snapshot.head200.jsonl"
    lines = [json.loads(line) for line in head.read_text().splitlines() if line.strip()]
    hep_ph = {r["id"] for r in lines if "hep-ph" in r["categories"].split()}
    assert main(["ingest", "snapshot", str(head), "--categories", "hep-ph"]) == 0
    con = duckdb.connect(str(home / "papers.duckdb"), read_only=True)
    assert {i for (i,) in con.execute("SELECT arxiv_id FROM papers").fetchall()} == hep_ph
    con.close()
    assert main(["ingest", "snapshot", str(head), "--categories", "all"]) == 0
    before = papers_table(home / "papers.duckdb")
    assert len(before) == len(lines)
    assert main(["ingest", "snapshot", str(head), "--categories", "all"]) == 0
    assert papers_table(home / "papers.duckdb") == before
