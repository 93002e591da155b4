"""Venues from arXiv comments and journal-refs: hand-labelled real comments, every pattern, the corpus."""

from __future__ import annotations

import doctest
import gzip
import json
import re
from datetime import date
from pathlib import Path

import pytest

import ingest.venues
from ingest.venues import Venue, best_venue, extract_venues, normalize_conference

DATA = Path(__file__).parent / "data"
# Comments that speak of submission or review: none of them may come out as an acceptance.
NOT_YET = re.compile(r"submi|under review|in review|review|reject|in submission", re.IGNORECASE)
# The same, stricter, for the unlabelled corpus ("reviewer score: 4" says nothing of the status).
SUBMITTED = re.compile(r"submi|under review|in review|under consideration|reject", re.IGNORECASE)


def _labelled(name: str) -> list[dict[str, object]]:
    with open(DATA / name, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def _expected(row: dict[str, object]) -> str | None:
    if row["venue"] is None:
        return None
    return Venue(str(row["venue"]), row["year"], str(row["kind"])).display  # type: ignore[arg-type]


def _best(row: dict[str, object]) -> str | None:
    return best_venue(extract_venues(str(row["arxiv_id"]), row["comment"], None))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "floor"),
    [
        ("venue_labels.jsonl", 0.95),  # 195 comments, labelled before the extractor was written
        ("venue_holdout.jsonl", 0.95),  # 80 more, labelled blind; 0.875 before the fixes they prompted
        ("venue_holdout2.jsonl", 0.85),  # 60 more, labelled after all tuning and never tuned on: 0.90
    ],
)
def test_accuracy_on_hand_labelled_comments(name: str, floor: float) -> None:
    rows = _labelled(name)
    wrong = [(r["arxiv_id"], r["comment"], _best(r), _expected(r)) for r in rows if _best(r) != _expected(r)]
    accuracy = 1 - len(wrong) / len(rows)
    print(f"\n{name}: (venue, year, kind) right for {len(rows) - len(wrong)}/{len(rows)} = {accuracy:.3f}")
    for arxiv_id, comment, got, want in wrong:
        print(f"  {arxiv_id} {comment!r}: got {got!r}, want {want!r}")
    assert accuracy >= floor


@pytest.mark.parametrize("name", ["venue_labels.jsonl", "venue_holdout.jsonl", "venue_holdout2.jsonl"])
def test_no_submission_or_review_counted_as_accepted(name: str) -> None:
    not_yet = [r for r in _labelled(name) if r["venue"] is None and NOT_YET.search(str(r["comment"]))]
    accepted = [(r["arxiv_id"], r["comment"], _best(r)) for r in not_yet if _best(r) is not None]
    print(f"\n{name}: {len(not_yet)} submitted/under-review comments, {len(accepted)} counted as accepted")
    assert len(not_yet) >= 10
    assert accepted == []


def test_labelled_sets_do_not_overlap() -> None:
    ids = [
        {r["arxiv_id"] for r in _labelled(n)}
        for n in ("venue_labels.jsonl", "venue_holdout.jsonl", "venue_holdout2.jsonl")
    ]
    assert [len(s) for s in ids] == [195, 80, 60]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])


def _venues(comment: str, arxiv_id: str = "2607.00001") -> list[tuple[str, int | None, str]]:
    return [(m.venue, m.year, m.kind) for m in extract_venues(arxiv_id, comment, None)]


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        ("Accepted at ICLR 2026", [("ICLR", 2026, "main")]),
        ("Accepted to ICML 2026", [("ICML", 2026, "main")]),
        ("Accepted by NeurIPS 2025", [("NeurIPS", 2025, "main")]),
        ("Accepted in AAAI 2026", [("AAAI", 2026, "main")]),
        (
            "accepted for publication at the IEEE/CVF International Conference on Computer Vision (ICCV),"
            " 2025",
            [("ICCV", 2025, "main")],
        ),
        ("To appear in CVPR 2026", [("CVPR", 2026, "main")]),
        ("To appear in IEEE TPAMI", [("IEEE TPAMI", None, "journal")]),
        ("Published in Transactions on Machine Learning Research (TMLR)", [("TMLR", None, "journal")]),
        ("Published at ICML 2026; code at https://github.com/a/b", [("ICML", 2026, "main")]),
        ("CVPR'25", [("CVPR", 2025, "main")]),
        ("CVPR 2025", [("CVPR", 2025, "main")]),
        ("ICML2026", [("ICML", 2026, "main")]),
        ("Accepted by AAAI-26", [("AAAI", 2026, "main")]),
        ("NeurIPS 2025 (Spotlight)", [("NeurIPS", 2025, "main")]),
        ("Findings of EMNLP 2025", [("EMNLP", 2025, "findings")]),
        ("EMNLP 2025 Findings", [("EMNLP", 2025, "findings")]),
        ("Accepted to NAACL 2025 (Findings)", [("NAACL", 2025, "findings")]),
        ("Accepted to CVPR 2026 Findings", [("CVPR", 2026, "findings")]),
        ("Efficient Reasoning Workshop @ ICML 2026", [("ICML", 2026, "workshop")]),
        ("ML4RS @ICLR 2026 (Main)", [("ICLR", 2026, "workshop")]),
        ("Accepted @ ICML 2026", [("ICML", 2026, "main")]),
        ("Accepted at a workshop at NeurIPS 2025", [("NeurIPS", 2025, "workshop")]),
        ("Accepted at MICCAI 2025 MIRASOL Workshop, 10 pages", [("MICCAI", 2025, "workshop")]),
        ("CVPRW 2025", [("CVPR", 2025, "workshop")]),
        ("Accepted to the Workshop on X (co-located with NAACL 2025)", [("NAACL", 2025, "workshop")]),
        ("Camera-ready for ACL 2025", [("ACL", 2025, "main")]),
        ("ACL Findings camera-ready version", [("ACL", None, "findings")]),
        ("Accepted to the EMNLP 2025 demo track", [("EMNLP", 2025, "demo")]),
        ("EACL 2026 System Demonstrations", [("EACL", 2026, "demo")]),
        ("Accepted to EMNLP 2025 (Industry Track)", [("EMNLP", 2025, "main")]),
        ("Accepted by IEEE Transactions on Geoscience and Remote Sensing", [("IEEE TGRS", None, "journal")]),
        (
            "Accepted for publication in Computer Vision and Image Understanding (CVIU), 2025",
            [("CVIU", 2025, "journal")],
        ),
        ("Accpeted at ICCV 2025", [("ICCV", 2025, "main")]),
        ("Accepected by CVPR 2026", [("CVPR", 2026, "main")]),
        ("Accept by ICME2025", [("ICME", 2025, "main")]),
        ("ISBI 2026 accepted", [("ISBI", 2026, "main")]),
        ("lrec 2026 accepted paper", [("LREC", 2026, "main")]),
        (
            "In ACM Transactions on Graphics (SIGGRAPH 2026)",
            [("ACM TOG", None, "journal"), ("SIGGRAPH", 2026, "main")],
        ),
        # outside the alias table: the acronym the text gives, or the name as written
        (
            "Accepted at the 21st International Conference on Artificial Intelligence and Law (ICAIL 2026)",
            [("ICAIL", 2026, "main")],
        ),
        ("Accepted at APSIPA ASC 2025", [("APSIPA ASC", 2025, "main")]),
        ("Accepted by Information Fusion; 20 pages", [("Information Fusion", None, "journal")]),
        (
            "Accepted to SMT 2025: 23rd International Workshop on Satisfiability Modulo Theories",
            [("SMT", 2025, "workshop")],
        ),
        ("Accepte for publishing in SBIE2025, in Portuguese language", [("SBIE", 2025, "main")]),
        ("Submitted to INLG 2025 (accepted)", [("INLG", 2025, "main")]),
        ("ISPRS Congress 2026, Toronto", [("ISPRS", 2026, "main")]),
    ],
)
def test_acceptances(comment: str, expected: list[tuple[str, int | None, str]]) -> None:
    assert _venues(comment) == expected


@pytest.mark.parametrize(
    "comment",
    [
        "Submitted to ICML 2026",
        "Submitted to CVPR 2025. 10 pages, 7 figures",
        "submiting to TPAMI",
        "Under review at ICLR 2026",
        "Under review for AAAI2026",
        "Under review, MICCAI 2026",
        "Under Review-MIDL-2026",
        "MIDL 2026 (under review)",
        "Paper under submission to NeurIPS 2026",
        "In submission to ACL 2026",
        "Rejected from ICLR 2026",
        "Preprint submitted to Pattern Recognition Letters",
        "arXiv version of a paper under review at NeurIPS 2025",
        "7 pages, under review -- ACL (AACL 2025)",
        "Submitted to the PoliticalNLP 2026 workshop, co-located with LREC 2026 conference",
        "This paper was developed for presentation at ICML 2025 Tokshop Workshop, but is now submitted",
        "Targetting AACL 2026",
        "ACL 2026 Conference Submission",
        "47 pages; SLE2019; under review",
        "Extended version of our CVPR 2024 paper",
        "This is an extended version of an IEEE ISIT 2026 paper with the same title",
        "An earlier conference version was published in ISIT 2025 (DOI: 10.1109/ISIT.2025.1)",
        "Journal version of LAA-Net (CVPR 2024)",
        "This work extends S2ST-Omni, accepted to Findings of ACL 2026",
        "Champion solution for the Ego4D Challenge at the CVPR EgoVis Workshop 2026",
        "Accepted by MICCAI 2025 CARE Challenge",
        "Prepared using the NeurIPS 2025 preprint template",
        "Code will be released upon acceptance",
        "10 pages, 5 figures",
    ],
)
def test_not_acceptances(comment: str) -> None:
    assert _venues(comment) == []


def test_mixed_statements_keep_only_the_acceptance() -> None:
    assert _venues("Submitted to CVPR 2025 and Published at CVPR 2025 AI for Content Creation workshop") == [
        ("CVPR", 2025, "workshop")
    ]
    assert _venues("Accepted to IPCAI 2026 and submitted to IJCARs") == [("IPCAI", 2026, "main")]
    assert _venues("Accepted by TPAMI, extension of CVPR 2024 paper DreamComposer") == [
        ("IEEE TPAMI", None, "journal")
    ]


def test_years_are_taken_as_written_never_guessed() -> None:
    assert _venues("Accepted at ICML'26") == [("ICML", 2026, "main")]
    assert _venues("Accepted at ICML 2026") == [("ICML", 2026, "main")]
    assert _venues("Accepted to IEEE TPAMI") == [("IEEE TPAMI", None, "journal")]
    assert _venues("Accepted to The 2026 ACM Conference on Fairness, Accountability, and Transparency") == [
        ("FAccT", 2026, "main")
    ]


def test_bare_mention_of_a_venue_that_has_not_decided_yet_is_a_submission() -> None:
    # NeurIPS decides in September: "NeurIPS 2026" on a paper listed in May 2026 is a submission ...
    assert _venues("8 pages, NeurIPS 2026", arxiv_id="2605.01234") == []
    # ... but not on one whose comment was written in October, or when it says "accepted".
    assert [m.venue for m in extract_venues("2605.01234", "NeurIPS 2026", None, as_of=date(2026, 10, 2))] == [
        "NeurIPS"
    ]
    assert _venues("Accepted at NeurIPS 2026", arxiv_id="2605.01234") == [("NeurIPS", 2026, "main")]
    assert _venues("ICLR 2026", arxiv_id="2602.00001") == [("ICLR", 2026, "main")]
    assert _venues("ICLR 2026", arxiv_id="2512.00001") == []


def test_mention_records_source_raw_fragment_and_journal_ref() -> None:
    mentions = extract_venues(
        "2501.00001",
        "12 pages. Accepted to Findings of ACL 2025. Code: https://github.com/a/b",
        None,
        source="arxiv_api",
    )
    assert len(mentions) == 1
    m = mentions[0]
    assert (m.arxiv_id, m.venue, m.year, m.kind, m.source) == (
        "2501.00001",
        "ACL",
        2025,
        "findings",
        "arxiv_api",
    )
    assert m.raw == "Accepted to Findings of ACL 2025"
    ref = extract_venues("0704.0001", None, "Phys.Rev.D76:013009,2007")
    assert [(m.venue, m.year, m.kind, m.raw) for m in ref] == [
        ("Phys.Rev.D", 2007, "journal", "Phys.Rev.D76:013009,2007")
    ]


@pytest.mark.parametrize(
    ("journal_ref", "expected"),
    [
        ("Phys. Rev. Lett. 99, 048301 (2007)", ("Phys. Rev. Lett", 2007, "journal")),
        (
            "Journal of Applied Physics, vol 104, 073536 (2008)",
            ("Journal of Applied Physics", 2008, "journal"),
        ),
        (
            "J.Opt.Soc.Am.A 23, 2578-2591 (2006); Erratum: J.Opt.Soc.Am.A 32, 2407-2408 (2015)",
            ("J.Opt.Soc.Am.A", 2006, "journal"),
        ),
        ("Proceedings of CVPR 2025, pp. 1-10", ("CVPR", 2025, "main")),
        (
            "IEEE Transactions on Pattern Analysis and Machine Intelligence, 47(3), 2025",
            ("IEEE TPAMI", 2025, "journal"),
        ),
        (
            "Findings of the Association for Computational Linguistics: EMNLP 2025",
            ("EMNLP", 2025, "findings"),
        ),
    ],
)
def test_journal_refs(journal_ref: str, expected: tuple[str, int | None, str]) -> None:
    mentions = extract_venues("0704.0001", None, journal_ref)
    assert (mentions[-1].venue, mentions[-1].year, mentions[-1].kind) == expected


def test_journal_refs_of_the_kaggle_snapshot(fixtures_dir: Path) -> None:
    path = fixtures_dir / "kaggle-snapshot" / "arxiv-metadata-oai-snapshot.head200.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    with_ref = [r for r in rows if r["journal-ref"]]
    found = [extract_venues(r["id"], None, r["journal-ref"]) for r in with_ref]
    assert len(with_ref) > 100
    assert all(len(m) == 1 and m[0].year is not None for m in found)


def test_best_venue_display_and_order() -> None:
    assert best_venue([]) is None
    mentions = extract_venues("2607.00001", "ICLR 2026 Workshop on X; accepted to ICML 2026", None)
    assert best_venue(mentions) == "ICML 2026"  # the main conference before a workshop
    assert best_venue(extract_venues("2607.00001", "ACL 2026 Findings", None)) == "Findings of ACL 2026"
    assert best_venue(extract_venues("2607.00001", "Accepted to TMLR", None)) == "TMLR"
    assert best_venue(extract_venues("2607.00001", "Accepted by IEEE TPAMI", None)) == "IEEE TPAMI"
    assert best_venue(extract_venues("2607.00001", "EACL 2026 demo track", None)) == "EACL 2026 Demo"
    assert (
        best_venue(extract_venues("2607.00001", "In ACM TOG (Proc. SIGGRAPH 2026)", None)) == "SIGGRAPH 2026"
    )


@pytest.mark.parametrize(
    ("name", "year", "expected"),
    [
        ("NeurIPS 2025", None, Venue("NeurIPS", 2025, "main")),
        ("ICLR", 2026, Venue("ICLR", 2026, "main")),
        ("ICLR", None, Venue("ICLR", None, "main")),
        ("neurips-2025", None, Venue("NeurIPS", 2025, "main")),
        ("cvpr-2020-1", None, Venue("CVPR", 2020, "main")),
        ("NeurIPS 2018 12", None, Venue("NeurIPS", 2018, "main")),
        ("ICML 2024 Workshop", None, Venue("ICML", 2024, "workshop")),
        ("emnlp-findings-2023", None, Venue("EMNLP", 2023, "findings")),
        ("Conference on Neural Information Processing Systems", 2024, Venue("NeurIPS", 2024, "main")),
        ("TMLR", None, Venue("TMLR", None, "journal")),
        ("SoCS 2025", None, Venue("SoCS", 2025, "main")),
        ("", None, None),
        (None, 2025, None),
    ],
)
def test_normalize_conference(name: str | None, year: int | None, expected: Venue | None) -> None:
    assert normalize_conference(name, year) == expected


def test_docstring_examples() -> None:
    assert doctest.testmod(ingest.venues).failed == 0


def test_corpus_comments_that_only_speak_of_submission_give_no_venue(fixtures_dir: Path) -> None:
    """All 34k comments of the daily-arXiv fixture: one that says submitted / under review /
    rejected and says nothing of acceptance, publication or presentation yields no venue."""
    paths = sorted((fixtures_dir / "daily-arxiv").glob("*.jsonl.gz"))
    if not paths:
        pytest.skip("no daily-arxiv fixture")
    accepted_words = re.compile(
        r"ac+[a-z]{0,4}p[a-z]{0,4}t|appear|publish|publication|present|camera|oral|spotlight|poster|proceedings"
        r"|highlight|peer[- ]reviewed"
        r"|best (?:student )?paper",
        re.IGNORECASE,
    )
    url = re.compile(r"\S*://\S*|\S+\.(?:com|org|io)/\S*")
    comments = with_venue = checked = 0
    wrong = []
    for path in paths:
        with gzip.open(path, "rb") as lines:
            for line in lines:
                paper = json.loads(line)
                comment = paper["comments"]
                if not comment:
                    continue
                comments += 1
                mentions = extract_venues(paper["id"], comment, None)
                with_venue += bool(mentions)
                text = url.sub(" ", comment)
                if SUBMITTED.search(text) and not accepted_words.search(text):
                    checked += 1
                    if mentions:
                        wrong.append((paper["id"], comment, [(m.venue, m.year, m.kind) for m in mentions]))
    print(
        f"\n{comments} comments, {with_venue} ({with_venue / comments:.1%}) with a venue; "
        f"{checked} speak only of submission or review, {len(wrong)} of them with a venue"
    )
    assert comments > 30_000
    assert wrong == []
