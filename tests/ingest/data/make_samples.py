"""Draw the (unlabelled) samples behind venue_labels.jsonl and code_link_labels.jsonl, reproducibly.

    python tests/ingest/data/make_samples.py /work/shared/fixtures/daily-arxiv OUT_DIR

Writes OUT_DIR/venue_sample.jsonl and OUT_DIR/code_link_sample.jsonl with the texts only; the labels
in this folder were then written by hand from those texts (see README.md). Strata and seeds are fixed
here so anyone can check that the labelled papers were drawn at random, not picked to suit the code.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import sys
from pathlib import Path

# Anything that smells of a venue: the stratum the venue extractor must get right.
VENUE_ISH = re.compile(
    r"accep|accpe|appear|publish|conference|workshop|proceedings|symposium|journal|transactions|"
    r"camera|oral|spotlight|findings|\b[A-Z][A-Za-z]*[A-Z]\s?[-'’@]?\s?(19|20)?\d\d\b",
    re.IGNORECASE,
)
# Statements of submission or review: none of these may be counted as an acceptance.
NOT_YET = re.compile(r"submi|under review|in review|reject|review", re.IGNORECASE)
ACRONYM_YEAR = re.compile(r"\b[A-Z][A-Za-z]*[A-Z]\s?[-'’@]?\s?(19|20)?\d\d\b")
URL_ISH = re.compile(r"://|github|www\.|\bcode\b", re.IGNORECASE)
# Comments picked by hand while reading the corpus: mixed or misleading statements.
HAND_PICKED = [
    "2510.04797",  # "Submitted to CVPR 2025 and Published at CVPR 2025 AI for Content Creation workshop"
    "2603.13044",  # "Under review, MICCAI 2026"
    "2506.10095",  # "developed for presentation at ICML 2025 Tokshop Workshop, but is now submitted ..."
    "2505.16276",  # "Peer reviewed and to appear in the ESWC 2025 Workshops ..."
    "2510.25070",  # "Preprint under review at IEEE Transactions on Pattern Analysis ... (TPAMI), 2025"
    "2504.21589",  # "submitted to SemEval-2025 workshop Task 5"
]


def load(folder: Path) -> list[dict[str, str | None]]:
    papers = []
    for path in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                rec = json.loads(line)
                papers.append(
                    {"arxiv_id": rec["id"], "comment": rec["comments"], "abstract": rec["abstract"]}
                )
    return papers


def venue_sample(papers: list[dict[str, str | None]]) -> list[dict[str, str | None]]:
    with_comment = [p for p in papers if p["comment"]]
    venue_ish = [
        p for p in with_comment if VENUE_ISH.search(p["comment"]) and not NOT_YET.search(p["comment"])
    ]
    tricky = [p for p in with_comment if NOT_YET.search(p["comment"])]
    tricky_named = [p for p in tricky if ACRONYM_YEAR.search(p["comment"])]
    by_id = {p["arxiv_id"]: p for p in with_comment}
    picked = (
        random.Random(1).sample(venue_ish, 100)
        + random.Random(2).sample(with_comment, 40)
        + random.Random(3).sample(tricky_named, 35)
        + random.Random(4).sample(tricky, 15)
        + [by_id[i] for i in HAND_PICKED]
    )
    seen: set[str | None] = set()
    out = []
    for p in picked:
        if p["arxiv_id"] not in seen:
            seen.add(p["arxiv_id"])
            out.append({"arxiv_id": p["arxiv_id"], "comment": p["comment"]})
    return out


def code_link_sample(papers: list[dict[str, str | None]]) -> list[dict[str, str | None]]:
    url_ish = [p for p in papers if URL_ISH.search(f"{p['comment'] or ''} {p['abstract']}")]
    picked = random.Random(5).sample(url_ish, 60) + random.Random(6).sample(papers, 60)
    seen: set[str | None] = set()
    return [p for p in picked if not (p["arxiv_id"] in seen or seen.add(p["arxiv_id"]))]


def venue_holdout(
    papers: list[dict[str, str | None]],
    taken: set[str | None],
    seeds: tuple[int, int, int] = (11, 12, 13),
    sizes: tuple[int, int, int] = (40, 20, 20),
) -> list[dict[str, str | None]]:
    """A further draw, labelled after the extractor was written: venue-like, tricky, random."""
    with_comment = [p for p in papers if p["comment"] and p["arxiv_id"] not in taken]
    venue_ish = [
        p for p in with_comment if VENUE_ISH.search(p["comment"]) and not NOT_YET.search(p["comment"])
    ]
    tricky = [p for p in with_comment if NOT_YET.search(p["comment"]) and ACRONYM_YEAR.search(p["comment"])]
    picked = (
        random.Random(seeds[0]).sample(venue_ish, sizes[0])
        + random.Random(seeds[1]).sample(tricky, sizes[1])
        + random.Random(seeds[2]).sample(with_comment, sizes[2])
    )
    unique = {p["arxiv_id"]: p for p in picked}
    return [{"arxiv_id": p["arxiv_id"], "comment": p["comment"]} for p in unique.values()]


def code_link_holdout(
    papers: list[dict[str, str | None]], taken: set[str | None]
) -> list[dict[str, str | None]]:
    """A second draw of 40 papers for the code links, labelled after the extractor was written."""
    rest = [p for p in papers if p["arxiv_id"] not in taken]
    url_ish = [p for p in rest if URL_ISH.search(f"{p['comment'] or ''} {p['abstract']}")]
    return random.Random(14).sample(url_ish, 20) + random.Random(15).sample(rest, 20)


def main(fixture: Path, out: Path) -> None:
    papers = load(fixture)
    out.mkdir(parents=True, exist_ok=True)
    venues, links = venue_sample(papers), code_link_sample(papers)
    holdout = venue_holdout(papers, {p["arxiv_id"] for p in venues})
    # The second holdout was drawn and labelled after the extractor had been tuned on the first.
    taken = {p["arxiv_id"] for p in venues + holdout}
    samples = (
        ("venue_sample", venues),
        ("code_link_sample", links),
        ("venue_holdout", holdout),
        ("venue_holdout2", venue_holdout(papers, taken, seeds=(21, 22, 23), sizes=(30, 15, 15))),
        ("code_link_holdout", code_link_holdout(papers, {p["arxiv_id"] for p in links})),
    )
    for name, rows in samples:
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{name}: {len(rows)} papers")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
