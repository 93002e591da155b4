"""The hand-written known-item search set (bench/data/known_items.jsonl) and its rules.

Each line is `{"arxiv_id", "query", "note"}`: a query a researcher might type to find that
one paper, written from its abstract in other words. The check keeps the set honest:

    python -m bench.known_items --check [--fixtures ../shared/fixtures]
    python -m bench.known_items --sample [--per-month 7]   # the candidates the set came from

The set is the 100 candidates `--sample` prints with its defaults, less 2603.07555 (a
one-sentence abstract that only restates its title), in the order sampled.

Rules (`check`): every id is in the daily-arXiv corpus and appears once; at least
MIN_ITEMS items; queries of 6 to 20 words; no content word of the title appears in the query (lowercased, four
letters or more, not a stop word, compared on a crude stem: `stem`), nor an acronym of the title
(a title token with two capitals, like "LLMs", or the initials of consecutive title
words, like "RAG" for "Retrieval-Augmented Generation"); and no run of four consecutive
abstract words appears in the query.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

DEFAULT_PATH = Path(__file__).parent / "data" / "known_items.jsonl"
DEFAULT_FIXTURES = Path("../shared/fixtures")
MIN_ITEMS = 60
QUERY_WORDS = (6, 20)  # what a person types: more than a keyword pair, less than an abstract
SAMPLE_SEED = 20261123
# The big three primary categories hold 91% of the corpus; the sample takes one of each per
# month and fills the rest from the other categories, so the small ones are not drowned out.
MAJOR_CATEGORIES = ("cs.CV", "cs.CL", "cs.AI")

_WORD = re.compile(r"[A-Za-z0-9]+")
# English function words plus the glue words of titles ("towards", "using", "via"): they
# carry no content, so a query may use them even when the title does.
STOP_WORDS = frozenset("""
a about above across after again against all almost along also although am among an and
another any are around as at be because been before being below between beyond both but by
can could did do does doing done down during each either else enough especially even ever
every few for from further had has have having he her here hers him his how however i if in
into is it its itself just least less let like made make makes many may me might more most
much must my neither no nor not now of off often on once one only onto or other others our
ours out over own per rather same she should since so some such than that the their theirs
them then there these they this those through thus to too toward towards under until up upon
us using use used uses very via was we well were what when where whether which while who
whom whose why will with within without would yet you your yours based new
""".split())


_SUFFIXES = ("ations", "ation", "ings", "ions", "ing", "ion", "ives", "ive", "ally", "ly",
             "ed", "es", "s")


class KnownItemError(Exception):
    """The known-item file cannot be read: bad JSON or a missing field."""


class CorpusPaper(NamedTuple):
    title: str
    abstract: str
    categories: str
    update_date: str


@dataclass(frozen=True)
class KnownItem:
    arxiv_id: str
    query: str
    note: str


def load_known_items(path: Path = DEFAULT_PATH) -> list[KnownItem]:
    """The items of a known-item JSONL file, in file order; blank lines are skipped."""
    items = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            items.append(KnownItem(record["arxiv_id"], record["query"], record.get("note", "")))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise KnownItemError(f"{path}:{number}: {exc!r}; each line needs arxiv_id and query") from exc
    return items


def load_corpus(fixtures: Path = DEFAULT_FIXTURES) -> dict[str, CorpusPaper]:
    """Every paper of fixtures/daily-arxiv/*.jsonl.gz by arXiv id, text cleaned as ingest does."""
    from ingest.arxiv_api import clean_text

    files = sorted((Path(fixtures) / "daily-arxiv").glob("*.jsonl.gz"))
    if not files:
        raise FileNotFoundError(f"no daily-arxiv/*.jsonl.gz under {fixtures}; pass --fixtures")
    corpus = {}
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                corpus[rec["id"]] = CorpusPaper(clean_text(rec["title"]), clean_text(rec["abstract"]),
                                                rec["categories"], rec["update_date"])
    return corpus


def stem(word: str) -> str:
    """A crude stem, so that "generating", "generated" and "generation" all give "gener".

    Lowercased; one suffix cut (-ations, -ation, -ings, -ions, -ing, -ion, -ives, -ive,
    -ally, -ly, -ed, -es, -s) when three letters stay; then a final -e, then a final -at.
    Coarser than the brief's -s/-es/-ing/-ed: more collisions only make the check stricter.
    """
    word = word.lower()
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word[:-2] if word.endswith("at") and len(word) > 5 else word


def _title_acronyms(title: str) -> set[str]:
    tokens = [t for t in re.split(r"[^A-Za-z0-9]+", title) if t]
    acronyms = {stem(t) for t in tokens if sum(c.isupper() for c in t) >= 2}
    content = [t for t in tokens if t.lower() not in STOP_WORDS]
    for words in (tokens, content):
        initials = "".join(w[0].lower() for w in words)
        for start in range(len(initials)):
            for length in range(2, 7):
                if start + length <= len(initials):
                    acronyms.add(initials[start:start + length])
    return acronyms


def title_violations(query: str, title: str) -> list[str]:
    """The query words that are title content words or title acronyms (empty when clean)."""
    banned = {stem(w) for w in _WORD.findall(title) if len(w) >= 4 and w.lower() not in STOP_WORDS}
    acronyms = _title_acronyms(title)
    found = []
    for word in _WORD.findall(query):
        if word.lower() in STOP_WORDS:
            continue
        if stem(word) in banned:
            found.append(f"title word {word!r}")
        elif len(word) >= 2 and (stem(word) in acronyms or word.lower() in acronyms):
            found.append(f"title acronym {word!r}")
    return found


def verbatim_runs(query: str, abstract: str, n: int = 4) -> list[str]:
    """Runs of `n` consecutive query words that also appear consecutively in the abstract."""
    q = [w.lower() for w in _WORD.findall(query)]
    a = [w.lower() for w in _WORD.findall(abstract)]
    grams = {tuple(a[i:i + n]) for i in range(len(a) - n + 1)}
    return [" ".join(q[i:i + n]) for i in range(len(q) - n + 1) if tuple(q[i:i + n]) in grams]


def check(items: list[KnownItem], corpus: dict[str, CorpusPaper],
          min_items: int = MIN_ITEMS) -> list[str]:
    """Every rule the set breaks, one line each; an empty list means the set is valid."""
    problems = []
    if len(items) < min_items:
        problems.append(f"only {len(items)} items, at least {min_items} needed")
    seen: set[str] = set()
    for item in items:
        where = f"{item.arxiv_id} ({item.query!r})"
        if item.arxiv_id in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(item.arxiv_id)
        words = len(item.query.split())
        if not QUERY_WORDS[0] <= words <= QUERY_WORDS[1]:
            problems.append(f"{where}: {words} words, want {QUERY_WORDS[0]} to {QUERY_WORDS[1]}")
        paper = corpus.get(item.arxiv_id)
        if paper is None:
            problems.append(f"{where}: id not in the corpus")
            continue
        for found in title_violations(item.query, paper.title):
            problems.append(f"{where}: {found} from the title {paper.title!r}")
        for run in verbatim_runs(item.query, paper.abstract):
            problems.append(f"{where}: {run!r} is verbatim from the abstract")
    return problems


def sample_candidates(corpus: dict[str, CorpusPaper], per_month: int = 7,
                      seed: int = SAMPLE_SEED) -> list[str]:
    """Candidate ids for the set: per month, one paper of each major category, then others.

    Within a month papers are shuffled with `seed`; after the majors, the first paper of a
    primary category not taken yet (in any month) is preferred, so small categories spread.
    """
    by_month: dict[str, list[str]] = defaultdict(list)
    for arxiv_id in sorted(corpus):
        by_month[corpus[arxiv_id].update_date[:7]].append(arxiv_id)
    rng = random.Random(seed)
    taken: set[str] = set()
    picked = []
    for month in sorted(by_month):
        ids = by_month[month][:]
        rng.shuffle(ids)
        primary = {i: corpus[i].categories.split()[0] for i in ids}
        chosen = [next(i for i in ids if primary[i] == c) for c in MAJOR_CATEGORIES
                  if c in primary.values()]
        others = [i for i in ids if primary[i] not in MAJOR_CATEGORIES]
        fresh = [i for i in others if primary[i] not in taken]
        for arxiv_id in fresh + others:
            if len(chosen) >= per_month:
                break
            if arxiv_id not in chosen and primary[arxiv_id] not in {primary[c] for c in chosen}:
                chosen.append(arxiv_id)
        taken.update(primary[i] for i in chosen)
        picked.extend(chosen)
    return picked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH, help="the known-item JSONL file")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="verify the set; exit 1 on a violation")
    action.add_argument("--sample", action="store_true", help="print the candidate papers")
    parser.add_argument("--per-month", type=int, default=7, help="candidates per month (--sample)")
    args = parser.parse_args(argv)

    corpus = load_corpus(args.fixtures)
    if args.sample:
        for arxiv_id in sample_candidates(corpus, args.per_month):
            paper = corpus[arxiv_id]
            print(json.dumps({"arxiv_id": arxiv_id, "month": paper.update_date[:7],
                              "categories": paper.categories, "title": paper.title,
                              "abstract": paper.abstract}, ensure_ascii=False))
        return 0
    items = load_known_items(args.path)
    problems = check(items, corpus)
    for problem in problems:
        print(problem, file=sys.stderr)
    months = {corpus[i.arxiv_id].update_date[:7] for i in items if i.arxiv_id in corpus}
    categories = {corpus[i.arxiv_id].categories.split()[0] for i in items if i.arxiv_id in corpus}
    verdict = f"{len(problems)} violation(s)" if problems else "OK"
    print(f"{args.path.name}: {len(items)} queries over {len(months)} months and "
          f"{len(categories)} primary categories, corpus {len(corpus)} papers: {verdict}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
