"""The hand-written known-item set passes its own rules, and the rules catch what they should."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.known_items import (
    DEFAULT_PATH,
    CorpusPaper,
    KnownItem,
    check,
    load_corpus,
    load_known_items,
    main,
    title_violations,
    verbatim_runs,
)
from tests.conftest import FIXTURES

PAPER = CorpusPaper(
    "Robust LiDAR-Camera Calibration with 2D Gaussian Splatting",
    "A critical and initial step in integrating the LiDAR and camera data is the calibration.",
    "cs.RO cs.CV", "2025-04-01")


@pytest.fixture(scope="module")
def corpus() -> dict[str, CorpusPaper]:
    if not (FIXTURES / "daily-arxiv").is_dir():
        pytest.skip(f"daily-arXiv fixture not found at {FIXTURES / 'daily-arxiv'} "
                    "(clone ../shared beside the repo)")
    return load_corpus(FIXTURES)


def test_the_set_passes_the_check(corpus: dict[str, CorpusPaper]) -> None:
    items = load_known_items(DEFAULT_PATH)
    assert check(items, corpus) == []
    assert len({corpus[item.arxiv_id].update_date[:7] for item in items}) == 16


def test_cli_check_prints_one_line_and_exits_zero(corpus: dict[str, CorpusPaper],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", "--fixtures", str(FIXTURES)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].endswith(": OK")


def test_cli_check_exits_non_zero_on_a_violation(corpus: dict[str, CorpusPaper], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"arxiv_id": "9999.99999", "query": "a paper that is not there at all"}\n')
    assert main(["--check", "--fixtures", str(FIXTURES), "--path", str(bad)]) == 1
    captured = capsys.readouterr()
    assert "id not in the corpus" in captured.err and "only 1 items" in captured.err


def test_check_catches_a_title_word() -> None:
    corpus = {"2504.00525": PAPER}
    clean = KnownItem("2504.00525", "targetless extrinsic alignment of a laser scanner and RGB sensor", "")
    leaky = KnownItem("2504.00525", "targetless extrinsic calibrations of a laser scanner and RGB sensor", "")
    assert check([clean], corpus, min_items=1) == []
    problems = check([leaky], corpus, min_items=1)
    assert len(problems) == 1 and "title word 'calibrations'" in problems[0]


def test_title_rule_matches_simple_stems_and_acronyms() -> None:
    title = "Retrieval-Augmented Generation for Large Language Models"
    assert title_violations("models that retrieve before they answer", title) == ["title word 'models'"]
    assert title_violations("a study of RAG pipelines for chatbots", title) == ["title acronym 'RAG'"]
    assert title_violations("LLMs looking things up first", title) == ["title acronym 'LLMs'"]
    assert title_violations("generating answers grounded in fetched documents", title) == [
        "title word 'generating'"]
    assert title_violations("chatbots that look documents up before answering", title) == []


def test_verbatim_runs_of_four_abstract_words_are_caught() -> None:
    assert verbatim_runs("integrating the lidar and camera rigs", PAPER.abstract) == [
        "integrating the lidar and", "the lidar and camera"]
    assert verbatim_runs("the lidar with camera data", PAPER.abstract) == []


def test_check_catches_duplicates_and_word_counts() -> None:
    corpus = {"2504.00525": PAPER}
    item = KnownItem("2504.00525", "targetless extrinsic alignment of a laser scanner and RGB sensor", "")
    short = KnownItem("2504.00525", "laser scanner RGB", "")
    problems = check([item, short], corpus, min_items=1)
    assert any("duplicate id" in p for p in problems)
    assert any("3 words, want 6 to 20" in p for p in problems)
