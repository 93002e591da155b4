"""`paperradar watch add|list|rm|matches` on a real indexed store (tests/index/test_watch.py's
home: ~300 real papers, the real model), `paperradar index` checking the watchlists against
new papers, bad input as one line with exit 2, and writes refused while another process
holds the writer lock."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.publish import current_snapshot
from core.records import Paper
from flows.cli import main
from tests.core.test_writer import held_elsewhere
from tests.index.test_watch import QUERY, rows
from tests.support.watch_home import store_papers

ADDED = re.compile(r"watching 'edit' \(hybrid score >= 0\.3\): (\d+) matches among the (\d+) papers "
                   r"of the last 7 days \(paperradar watch matches edit\); published ")


@pytest.fixture()
def home(watch_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import flows.cli

    monkeypatch.setattr(flows.cli.out, "width", 300)  # tables unwrapped, as in a wide terminal
    return watch_home


@pytest.fixture()
def corpus(watch_corpus: tuple[list[Paper], list[Paper]]) -> tuple[list[Paper], list[Paper]]:
    return watch_corpus


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def as_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_add_list_matches_rm(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert as_json(capsys, "watch", "list") == []
    code, _, err = run(capsys, "watch", "list")
    assert code == 0 and "no watchlists" in err

    code, _, err = run(capsys, "watch", "add", "edit", QUERY, "--category", "cs.CV",
                       "--min-score", "0.3")
    assert code == 0, err
    added = ADDED.search(err)
    assert added, err
    found, looked_at = int(added.group(1)), int(added.group(2))
    assert looked_at == rows(home, "SELECT count(*) FROM papers")[0][0]
    assert 0 < found < looked_at

    [listed] = as_json(capsys, "watch", "list")
    assert {k: listed[k] for k in ("name", "query", "categories", "venue", "has_code", "min_score",
                                   "mode", "matches")} == {
        "name": "edit", "query": QUERY, "categories": ["cs.CV"], "venue": None, "has_code": False,
        "min_score": 0.3, "mode": "hybrid", "matches": found}
    assert listed["checked_through"] and listed["last_match"]

    matches = as_json(capsys, "watch", "matches", "edit")
    assert len(matches) == found and listed["last_arxiv_id"] in {m["arxiv_id"] for m in matches}
    assert [m["score"] for m in matches] == sorted((m["score"] for m in matches), reverse=True)
    for m in matches:
        assert m["score"] >= 0.3 and m["url"] == f"https://arxiv.org/abs/{m['arxiv_id']}"
        assert {"title", "published", "semantic_score", "keyword_score", "matched_at",
                "run_id"} <= set(m)
    in_cv = {r[0] for r in rows(home, "SELECT arxiv_id FROM papers WHERE list_contains(categories, "
                                      "'cs.CV')")}
    assert {m["arxiv_id"] for m in matches} <= in_cv
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    assert as_json(capsys, "watch", "matches", "edit", "--since", tomorrow) == []
    assert len(as_json(capsys, "watch", "matches", "edit", "--since", "2026-01-01")) == found

    code, out, _ = run(capsys, "watch", "list")
    assert code == 0 and "edit" in out and str(found) in out
    code, out, _ = run(capsys, "watch", "matches", "edit")
    assert code == 0 and matches[0]["arxiv_id"] in out

    code, _, err = run(capsys, "watch", "rm", "edit")
    assert code == 0 and f"removed watchlist 'edit' and its {found} matches" in err
    assert as_json(capsys, "watch", "list") == []
    assert rows(home, "SELECT count(*) FROM watch_matches") == [(0,)]


def test_index_checks_the_watchlists_against_new_papers(
    home: Path, corpus: tuple[list[Paper], list[Paper]], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "watch", "add", "edit", QUERY, "--min-score", "0.3")
    assert code == 0, err
    before = {m["arxiv_id"] for m in as_json(capsys, "watch", "matches", "edit")}
    store_papers(home, corpus[1])  # the next day's papers, as `paperradar ingest` stores them
    code, _, err = run(capsys, "index")
    assert code == 0, err
    line = re.search(r"watchlists: (\d+) matches \(edit: (\d+)\)", err)
    assert line and line.group(1) == line.group(2), err
    after = {m["arxiv_id"] for m in as_json(capsys, "watch", "matches", "edit")}
    new = after - before
    assert before < after and len(new) == int(line.group(1))
    assert new <= {p.arxiv_id for p in corpus[1]}
    code, _, err = run(capsys, "index")  # nothing new: nothing reported again
    assert code == 0 and "watchlists: 0 matches (edit: 0)" in err
    assert {m["arxiv_id"] for m in as_json(capsys, "watch", "matches", "edit")} == after


@pytest.mark.parametrize(("args", "message"), [
    (["watch", "add", "two words", "q"], "bad watchlist name 'two words'"),
    (["watch", "add", "x", "q", "--category", "cs.XX"], "unknown category 'cs.XX'"),
    (["watch", "add", "x", "q", "--min-score", "2"], "--min-score must be above 0 and at most 1"),
    (["watch", "add", "x", "q", "--min-score", "-0.1"], "--min-score must be above 0"),
    (["watch", "add", "x", "q", "--min-score", "high"], "Invalid value for '--min-score'"),
    (["watch", "add", "x", "q", "--mode", "fuzzy"], "unknown search mode 'fuzzy'"),
    (["watch", "add", "x", "   "], "the query is empty"),
    (["watch", "add", "x", "q", "--venue", " "], "--venue is empty"),
    (["watch", "add", "dup", "q"], "a watchlist named 'dup' exists already"),
    (["watch", "rm", "nope"], "no watchlist named 'nope' (there are: dup)"),
    (["watch", "matches", "nope"], "no watchlist named 'nope'"),
    (["watch", "matches", "dup", "--since", "yesterday"], "'yesterday' is not a date"),
    (["watch", "add", "x"], "Missing argument 'query'"),
])
def test_bad_input_is_one_line_and_exit_2(home: Path, capsys: pytest.CaptureFixture[str],
                                          args: list[str], message: str) -> None:
    code, _, err = run(capsys, "watch", "add", "dup", "q", "--min-score", "0.9")
    assert code == 0, err
    snapshot = current_snapshot(home).path
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert "Traceback" not in err
    assert current_snapshot(home).path == snapshot  # nothing published
    assert rows(home, "SELECT name FROM watchlists") == [("dup",)]


def test_writes_wait_for_no_one_while_a_run_writes(home: Path, capsys: pytest.CaptureFixture[str]
                                                   ) -> None:
    """Another process holds the writer lock (a flow run): `watch add`, `watch rm` and `index`
    stop at once with one line naming it, exit 1, and publish nothing; afterwards they work."""
    code, _, err = run(capsys, "watch", "add", "kept", "q")
    assert code == 0, err
    snapshot = current_snapshot(home).path
    with held_elsewhere(home) as child:
        for args in (["watch", "add", "new", QUERY], ["watch", "rm", "kept"], ["index"]):
            code, _, err = run(capsys, *args)
            assert code == 1, (args, err)
            assert err.startswith(f"paperradar: error: the daily flow (pid {child.pid}, since "), err
            assert err.strip().endswith("try again when it has finished")
            assert len(err.strip().splitlines()) == 1
    assert current_snapshot(home).path == snapshot
    assert rows(home, "SELECT name FROM watchlists") == [("kept",)]
    code, _, err = run(capsys, "watch", "add", "new", QUERY)
    assert code == 0, err
    assert {r[0] for r in rows(home, "SELECT name FROM watchlists")} == {"kept", "new"}


def test_watch_help() -> None:
    for args in (["watch", "--help"], ["watch", "add", "--help"], ["watch", "list", "--help"],
                 ["watch", "rm", "--help"], ["watch", "matches", "--help"]):
        result = subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0 and "Usage: paperradar watch" in result.stdout, args
