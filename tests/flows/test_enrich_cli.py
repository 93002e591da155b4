"""`paperradar enrich` end to end: loopback arXiv, PwC and HF -> code_links, venue_mentions,
papers.has_code and papers.venue, each value explained by rows with a source and raw text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from core.store import Store
from flows.cli import main
from ingest import enrichment
from ingest.venues import best_venue
from tests.support.pwc_server import PwCFixtureServer

DAYS = ["--categories", "cs.CL,cs.CV", "--since", "2026-06-01", "--until", "2026-06-05"]


@pytest.fixture(scope="module")
def pwc_server(fixtures_dir: Path) -> Iterator[PwCFixtureServer]:
    with PwCFixtureServer(fixtures_dir=fixtures_dir) as server:
        yield server


@pytest.fixture()
def enriched_home(served_home: Path, pwc_server: PwCFixtureServer,
                  monkeypatch: pytest.MonkeyPatch) -> Path:
    pwc_server.reset()
    monkeypatch.setenv("PAPERRADAR_PWC_API_URL", pwc_server.pwc_url)
    monkeypatch.setenv("PAPERRADAR_HF_API_URL", pwc_server.hf_url)
    monkeypatch.setenv("PAPERRADAR_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("PAPERRADAR_ENRICH_DELAY", "0")
    assert main(["ingest", "arxiv", *DAYS]) == 0
    return served_home


def rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_enrich_explains_every_has_code_and_venue(enriched_home: Path, pwc_server: PwCFixtureServer) -> None:
    assert main(["enrich", "--lookups", "20"]) == 0
    db = enriched_home / "papers.duckdb"  # the published snapshot
    total, with_code, with_venue = rows(db, "SELECT count(*), count(*) FILTER (has_code), "
                                            "count(venue) FROM papers")[0]
    by_source = dict(rows(db, "SELECT source, count(DISTINCT arxiv_id) FROM code_links GROUP BY 1"))
    assert set(by_source) == {"text", "pwc", "hf"}
    assert 0.1 * total < with_code < total and with_venue > 20
    # has_code is true exactly when a repository link exists, whichever source gave it.
    assert rows(db, """
        SELECT count(*) FROM papers p
        WHERE p.has_code <> EXISTS (SELECT 1 FROM code_links c
                                    WHERE c.arxiv_id = p.arxiv_id AND c.kind = 'repository')
    """) == [(0,)]
    # Every venue is the best of the paper's stored mentions, each with its source and raw text.
    con = duckdb.connect(str(db), read_only=True)
    store = Store(con, db, read_only=True)
    venues = dict(con.execute("SELECT arxiv_id, venue FROM papers WHERE venue IS NOT NULL").fetchall())
    mentions = store.venue_mentions_of(list(venues))
    assert all(m.raw and m.source for ms in mentions.values() for m in ms)
    assert {i: best_venue(mentions[i]) for i in venues} == venues
    assert con.execute("SELECT count(*) FROM papers p WHERE venue IS NULL AND EXISTS "
                       "(SELECT 1 FROM venue_mentions v WHERE v.arxiv_id = p.arxiv_id)").fetchone() == (0,)
    # A text link is dated by the version that states it: never before v1.
    assert con.execute("SELECT count(*) FROM code_links c JOIN papers p USING (arxiv_id) "
                       "WHERE c.first_seen < p.published").fetchone() == (0,)
    con.close()
    kinds = [r[0] for r in rows(enriched_home / "work" / "papers.duckdb",
                                "SELECT kind FROM runs WHERE status = 'ok' ORDER BY run_id")]
    assert kinds == ["ingest-arxiv", "enrich-text", "enrich-pwc", "enrich-hf"]

    pwc_server.requests.clear()
    assert main(["enrich"]) == 0  # nothing is due again today
    assert pwc_server.requests == []
    text_run = rows(enriched_home / "work" / "papers.duckdb",
                    "SELECT counts->>'papers' FROM runs WHERE kind = 'enrich-text' ORDER BY run_id DESC")
    assert text_run[0] == ("0",)


@pytest.mark.slow
def test_papers_without_code_are_asked_again_on_schedule(enriched_home: Path,
                                                         pwc_server: PwCFixtureServer) -> None:
    from ingest.hf_papers import HFPapersClient

    assert main(["enrich", "--source", "text"]) == 0
    with Store.open(enriched_home / "work" / "papers.duckdb") as store, \
            HFPapersClient(pwc_server.hf_url, delay=0) as client:
        def ask(now: datetime) -> dict[str, int]:
            return enrichment.enrich_api(store, "hf", None, client.fetch_papers, now, None, 5000)

        first = ask(datetime(2026, 6, 6))  # every paper is new to HF: all are asked
        assert first["due"] == first["looked_up"] == 1404 and 0 < first["found"] < 1404
        no_code = store.con.execute("SELECT count(*) FROM papers WHERE NOT has_code").fetchone()[0]
        assert ask(datetime(2026, 6, 6, 12))["due"] == 0  # asked today: nothing is due
        # On 06-13 the day-7 check of every paper has come: those still without code are due.
        again = ask(datetime(2026, 6, 13))
        assert again["due"] == no_code > 0
        assert ask(datetime(2026, 6, 20))["due"] == 0  # ... and not again before day 30
        assert ask(datetime(2026, 7, 10))["due"] == no_code
        assert ask(datetime(2026, 11, 1))["due"] == no_code  # day 90
        assert ask(datetime(2027, 6, 1))["due"] == 0  # no check after day 90
        checks = store.con.execute("SELECT max(checks) FROM enrich_checks WHERE source = 'hf'").fetchone()
        assert checks == (4,)


def test_a_failing_source_keeps_the_others_and_exits_1(enriched_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PAPERRADAR_PWC_API_URL", "http://127.0.0.1:9/api/v1")  # nobody listens
    monkeypatch.setenv("PAPERRADAR_HTTP_RETRIES", "2")
    assert main(["enrich", "--source", "text,pwc"]) == 1
    assert "pwc" in capsys.readouterr().err
    db = enriched_home / "papers.duckdb"
    assert rows(db, "SELECT count(*) > 0 FROM code_links WHERE source = 'text'") == [(True,)]
    statuses = rows(enriched_home / "work" / "papers.duckdb",
                    "SELECT kind, status FROM runs WHERE kind LIKE 'enrich%' ORDER BY run_id")
    assert statuses == [("enrich-text", "ok"), ("enrich-pwc", "failed")]
    # `status` says which source is failing, and how many papers have code.
    assert main(["status"]) == 0
    shown = capsys.readouterr().out
    assert "source pwc: last ok never — last run failed: cannot reach" in shown
    assert "source text: last ok 20" in shown and "papers with a repository" in shown


@pytest.mark.parametrize(("args", "message"), [
    (["enrich", "--source", "github"], "unknown source"),
    (["enrich", "--from-dump", "/nonexistent/dump.json"], "no such file"),
    (["enrich", "--limit", "0"], "--limit"),
])
def test_bad_enrich_input_exits_2(served_home: Path, args: list[str], message: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_enrich_from_legacy_dumps(enriched_home: Path, tmp_path: Path) -> None:
    import gzip
    import json

    ids = [r[0] for r in rows(enriched_home / "papers.duckdb",
                              "SELECT arxiv_id FROM papers ORDER BY arxiv_id LIMIT 3")]
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    links = [{"paper_arxiv_id": ids[0], "paper_title": "t", "repo_url": "https://github.com/Org/Repo.git",
              "is_official": True, "framework": "pytorch"},
             {"paper_arxiv_id": ids[1], "paper_title": "t", "repo_url": "https://github.com/x/y",
              "is_official": False, "framework": "none"},
             {"paper_arxiv_id": "1601.02063", "paper_title": "not in the store",
              "repo_url": "https://github.com/LeonGeiger/Kerr", "is_official": False}]
    with gzip.open(dumps / "links-between-papers-and-code.json.gz", "wt") as fh:
        json.dump(links, fh)
    papers = [{"arxiv_id": ids[2], "title": "t", "proceeding": "ICLR 2026", "conference": "iclr-2026",
               "tasks": ["Image Generation"], "methods": ["Attention"]}]
    (dumps / "papers-with-abstracts.json").write_text(json.dumps(papers))

    assert main(["enrich", "--from-dump", str(dumps)]) == 0
    db = enriched_home / "papers.duckdb"
    assert rows(db, "SELECT arxiv_id, url, is_official FROM code_links WHERE source = 'dump' "
                    "ORDER BY arxiv_id") == [(ids[0], "https://github.com/org/repo", True),
                                             (ids[1], "https://github.com/x/y", False)]
    assert rows(db, f"SELECT has_code FROM papers WHERE arxiv_id IN ('{ids[0]}', '{ids[1]}')") == [
        (True,), (True,)]
    assert rows(db, f"SELECT venue FROM papers WHERE arxiv_id = '{ids[2]}'") == [("ICLR 2026",)]
    assert rows(db, f"SELECT source, raw FROM venue_mentions WHERE arxiv_id = '{ids[2]}'") == [
        ("dump", "ICLR 2026")]
