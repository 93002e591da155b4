"""Code links from arXiv text: hand-labelled real papers, normalisation cases, the whole corpus."""

from __future__ import annotations

import doctest
import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import ingest.text_links
from ingest.text_links import code_link_kind, extract_code_links, normalize_code_url

DATA = Path(__file__).parent / "data"


def _labelled(name: str) -> list[dict[str, object]]:
    with open(DATA / name, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def _score(rows: list[dict[str, object]], flatten: bool) -> tuple[float, float, int, list[str]]:
    """Precision, recall, kind agreement misses and the mistakes, over (paper, URL) pairs."""
    tp = fp = fn = 0
    mistakes = []
    for row in rows:
        comment, abstract = row["comment"], str(row["abstract"])
        if flatten:  # as the store keeps them: arXiv's hard wraps collapsed to single spaces
            comment = " ".join(str(comment or "").split()) or None
            abstract = " ".join(abstract.split())
        got = {link.url: link.kind for link in extract_code_links(str(row["arxiv_id"]), comment, abstract)}  # type: ignore[arg-type]
        want = {link["url"]: link["kind"] for link in row["links"]}  # type: ignore[attr-defined]
        for url, kind in got.items():
            if url in want and want[url] == kind:
                tp += 1
            else:
                fp += 1
                mistakes.append(f"{row['arxiv_id']} extra {url} ({kind})")
        for url in want.keys() - got.keys():
            fn += 1
            mistakes.append(f"{row['arxiv_id']} missed {url}")
    return tp / (tp + fp), tp / (tp + fn), tp, mistakes


@pytest.mark.parametrize("name", ["code_link_labels.jsonl", "code_link_holdout.jsonl"])
@pytest.mark.parametrize("flatten", [False, True], ids=["as-served", "whitespace-collapsed"])
def test_precision_and_recall_on_hand_labelled_papers(name: str, flatten: bool) -> None:
    rows = _labelled(name)
    precision, recall, tp, mistakes = _score(rows, flatten)
    print(f"\n{name} ({len(rows)} papers, {tp} links right): precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.95, mistakes
    assert recall >= 0.95, mistakes


def test_labelled_sets_are_what_the_readme_says() -> None:
    main, holdout = _labelled("code_link_labels.jsonl"), _labelled("code_link_holdout.jsonl")
    assert len(main) == 120 and len(holdout) == 40
    assert not {r["arxiv_id"] for r in main} & {r["arxiv_id"] for r in holdout}
    for row in main + holdout:
        for link in row["links"]:  # type: ignore[attr-defined]
            assert normalize_code_url(link["url"]) == link["url"], "labels are in normal form"
            assert link["kind"] in ("repository", "project_page")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("https://github.com/Org/Repo", "https://github.com/org/repo"),
        ("http://www.GitHub.com/Org/Repo.git", "https://github.com/org/repo"),
        ("github.com/Org/Repo/tree/main/src", "https://github.com/org/repo"),
        ("https://github.com/org/repo/blob/main/README.md#usage", "https://github.com/org/repo"),
        ("https://github.com/org/repo?tab=readme", "https://github.com/org/repo"),
        ("https://github.com/org/repo).", "https://github.com/org/repo"),
        ("https://github.com/org/repo}.", "https://github.com/org/repo"),
        ("https://github.com/org/repo'", "https://github.com/org/repo"),
        ("https://github.com/ org/repo", "https://github.com/org/repo"),
        ("https://github.com/org/Repo++", "https://github.com/org/repo++"),
        ("https://githubhttps://github.com/org/repo", "https://github.com/org/repo"),
        ("https://github.com/org/repo.(The rest", "https://github.com/org/repo"),
        ("https://gitlab.com/Group/Sub/Project/-/tree/main", "https://gitlab.com/group/sub/project"),
        ("https://gitlab.kit.edu/kit/ATKS/Tool.git", "https://gitlab.kit.edu/kit/atks/tool"),
        ("https://git.tu-berlin.de/rsim/Repo", "https://git.tu-berlin.de/rsim/repo"),
        ("https://bitbucket.org/Team/Repo/src/master/", "https://bitbucket.org/team/repo"),
        ("https://codeberg.org/Owner/Repo", "https://codeberg.org/owner/repo"),
        ("https://huggingface.co/Org/Model-7B/tree/main", "https://huggingface.co/Org/Model-7B"),
        ("https://hf.co/datasets/Org/Set/viewer/default", "https://huggingface.co/datasets/Org/Set"),
        ("https://huggingface.co/spaces/Org/Demo", "https://huggingface.co/spaces/Org/Demo"),
        (
            "https://anonymous.4open.science/r/Code-3E88/README.md",
            "https://anonymous.4open.science/r/Code-3E88",
        ),
        ("https://User.GitHub.io/Project/", "https://user.github.io/Project"),
        ("https://user.github.io/project/index.html", "https://user.github.io/project"),
        ("https://human-tailor.github.com", "https://human-tailor.github.io"),
        ("https://sh8.io/#/zerograsp", "https://sh8.io/#/zerograsp"),
        ("https://www.lab.example.org/tool/#results", "https://lab.example.org/tool"),
    ],
)
def test_normalize_code_url(raw: str, normal: str) -> None:
    assert normalize_code_url(raw) == normal


@pytest.mark.parametrize(
    "raw",
    [
        "https://github.com",  # GitHub itself
        "https://github.com/OrgName",  # a user or organisation page: no repository named
        "https://github.com/features/copilot",
        "https://github.com/topics/llm",
        "https://github.com/sponsors/someone",
        "https://github.com/orgs/acme/repositories",
        "https://github.com/xxx/xxx",  # placeholders
        "https://github.com/anonymous/SenseCF",
        "https://huggingface.co/papers/2501.00001",
        "https://huggingface.co/collections/org/name",
        "https://huggingface.co/datasets/Org",
        "https://anonymous.4open.science/",
        "not a url",
        "https://localhost/x",
    ],
)
def test_normalize_code_url_rejects_what_names_no_repository(raw: str) -> None:
    assert normalize_code_url(raw) is None


def test_code_link_kind_by_host() -> None:
    assert code_link_kind("https://github.com/a/b") == "repository"
    assert code_link_kind("https://huggingface.co/datasets/a/b") == "repository"
    assert code_link_kind("https://anonymous.4open.science/r/x") == "repository"
    assert code_link_kind("https://gitlab.kitware.com/a/b") == "repository"
    assert code_link_kind("https://a.github.io/b") == "project_page"
    assert code_link_kind("https://sites.google.com/view/x") == "project_page"
    assert code_link_kind("https://example.org/x") is None


def _urls(comment: str | None, abstract: str = "") -> list[tuple[str, str]]:
    return [(link.url, link.kind) for link in extract_code_links("2501.00001", comment, abstract)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Code: https://github.com/Org/Repo.", [("https://github.com/org/repo", "repository")]),
        ("Code is available at github.com/Org/Repo.", [("https://github.com/org/repo", "repository")]),
        ("Code will be at\ngithub.com/Org/Repo-Name.", [("https://github.com/org/repo-name", "repository")]),
        (
            "The code is available atgithub.com/xmed-lab/TAM.",
            [("https://github.com/xmed-lab/tam", "repository")],
        ),
        ("available at https: //github.com/Org/Repo.", [("https://github.com/org/repo", "repository")]),
        ("available at https:\n//github.com/Org/Repo.", [("https://github.com/org/repo", "repository")]),
        (
            "available at https:// github. com/\nOrg/ Repo-2 .",
            [("https://github.com/org/repo-2", "repository")],
        ),
        ("Code is available at:\nhttps:github.com/Org/Repo", [("https://github.com/org/repo", "repository")]),
        ("Code: https://github.com/Org/ soon.", []),  # "soon" is a word, not the repository
        (
            "Code: https://github.com/CAIR- LAB- WFUSM/NSVQ.git",
            [("https://github.com/cair-lab-wfusm/nsvq", "repository")],
        ),
        (r"at \url{https://github.com/Org/My\_Repo}.", [("https://github.com/org/my_repo", "repository")]),
        (
            r"at \href{https://github.com/Org/Repo}{https://github.com/Org/Repo}.",
            [("https://github.com/org/repo", "repository")],
        ),
        (
            r"code at: \verb+github.com/agr78/spectralViT+.",
            [("https://github.com/agr78/spectralvit", "repository")],
        ),
        (
            "[kwanyun.github.io/page](kwanyun.github.io/page).",
            [("https://kwanyun.github.io/page", "project_page")],
        ),
        (
            "Project page: https:/cvlab-kaist.github.io/DiffTrack",
            [("https://cvlab-kaist.github.io/DiffTrack", "project_page")],
        ),
        (
            "page: https://ntt-hilab-gensp.\ngithub.io/ssw13/",
            [("https://ntt-hilab-gensp.github.io/ssw13", "project_page")],
        ),
        (
            "page: https://4d-\nvisual-pretraining.github.io/.",
            [("https://4d-visual-pretraining.github.io", "project_page")],
        ),
        ("Project page: https://reli3d.jdihlmann.com/", [("https://reli3d.jdihlmann.com", "project_page")]),
        (
            "Project website at oliverrensu.github.io/project/GRAT",
            [("https://oliverrensu.github.io/project/GRAT", "project_page")],
        ),
        ("Code: https://www.tue-mps.org/eomt/", [("https://tue-mps.org/eomt", "project_page")]),
        ("Video: https://youtu.be/abc. Data: https://zenodo.org/records/1", []),
        ("Demo is available at https://studio.example.ai/demo/", []),  # a demo: not code, not the page
        (
            "Results are open-sourced at https://board.netlify.app/",
            [("https://board.netlify.app", "project_page")],
        ),
        ("for Burmese and other low-resource languages.\nhttps://leaderboard.example.ai/x", []),
        ("for community research.\n  Chat: https://chat.example.ai", []),  # the cue is a sentence before
        ("Project page: https://doi.org/10.1/x", []),  # never a project page
        ("Code will be released at https://github.com/anonymous/x upon acceptance.", []),
        (
            "Our code is available at https://anonymous.4open.science/r/DiffTOD.",
            [("https://anonymous.4open.science/r/DiffTOD", "repository")],
        ),
        (
            "Weights: https://huggingface.co/Org/Model and https://hf.co/datasets/Org/Data",
            [
                ("https://huggingface.co/Org/Model", "repository"),
                ("https://huggingface.co/datasets/Org/Data", "repository"),
            ],
        ),
        ("Code: https://gitlab.com/Group/Sub/Tool", [("https://gitlab.com/group/sub/tool", "repository")]),
        ("no links here, only code and github mentions", []),
    ],
)
def test_extract_code_links_cases(text: str, expected: list[tuple[str, str]]) -> None:
    assert _urls(text) == expected
    assert _urls(None, text) == expected  # the abstract is read the same way


def test_links_are_official_text_links_deduplicated_comment_first() -> None:
    links = extract_code_links(
        "2501.00001",
        "Project page: https://a.github.io/p/ Code: https://github.com/A/B",
        "Code at https://github.com/a/b.git and the page https://a.github.io/p.",
    )
    assert [(link.url, link.kind) for link in links] == [
        ("https://a.github.io/p", "project_page"),
        ("https://github.com/a/b", "repository"),
    ]
    assert all(link.source == "text" and link.is_official and link.arxiv_id == "2501.00001" for link in links)


def test_docstring_examples() -> None:
    assert doctest.testmod(ingest.text_links).failed == 0


# -- the whole daily-arXiv fixture --------------------------------------------------------------


def _fixture_papers(fixtures_dir: Path) -> Iterator[dict[str, str | None]]:
    folder = fixtures_dir / "daily-arxiv"
    paths = sorted(folder.glob("*.jsonl.gz"))
    if not paths:
        pytest.skip(f"no daily-arxiv fixture under {folder}")
    for path in paths:
        with gzip.open(path, "rb") as lines:
            for line in lines:
                yield json.loads(line)


@pytest.fixture(scope="module")
def corpus_links(fixtures_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """arxiv id → extracted (url, kind), for all 71,990 papers of the daily-arXiv fixture."""
    return {
        p["id"]: [(link.url, link.kind) for link in extract_code_links(p["id"], p["comments"], p["abstract"])]  # type: ignore[arg-type]
        for p in _fixture_papers(fixtures_dir)
    }


def test_corpus_share_of_papers_with_a_code_link(corpus_links: dict[str, list[tuple[str, str]]]) -> None:
    """SOURCES.md: about 15% of cs papers name their code in the comment or abstract."""
    total = len(corpus_links)
    any_link = sum(1 for links in corpus_links.values() if links)
    repository = sum(1 for links in corpus_links.values() if any(kind == "repository" for _, kind in links))
    print(
        f"\n{total} papers: {any_link} ({any_link / total:.2%}) with a code link or project page, "
        f"{repository} ({repository / total:.2%}) with a repository"
    )
    assert total == 71_990
    assert any_link / total >= 0.15
    assert repository / total >= 0.15


def test_corpus_agrees_with_cv_arxiv_daily(
    fixtures_dir: Path, corpus_links: dict[str, list[tuple[str, str]]]
) -> None:
    """An independent source: Vincentqyw/cv-arxiv-daily's GitHub links (from Papers with Code)."""
    path = fixtures_dir / "daily-lists" / "Vincentqyw_cv-arxiv-daily_docs_cv-arxiv-daily.json"
    if not path.exists():
        pytest.skip(f"{path} not found")
    theirs: dict[str, str] = {}
    for rows in json.loads(path.read_text(encoding="utf-8")).values():
        for arxiv_id, row in rows.items():
            link = re.search(r"\[link\]\((https?://github\.com/[^)]+)\)", row)
            if link:
                theirs[re.sub(r"v\d+$", "", arxiv_id)] = link.group(1)
    shared = [i for i in theirs if i in corpus_links]
    ours = {i: {url for url, _ in corpus_links[i]} for i in shared}
    same = [i for i in shared if normalize_code_url(theirs[i]) in ours[i]]
    with_repo = [i for i in shared if any("://github.com/" in url for url in ours[i])]
    print(
        f"\ncv-arxiv-daily links for {len(shared)} fixture papers: the text names the same repository for "
        f"{len(same)} ({len(same) / len(shared):.0%}); {len(with_repo)} papers have a GitHub repository in "
        f"the text and {sum(i in same for i in with_repo)} of them agree; "
        f"{sum(1 for i in shared if ours[i])} have some code link or page in the text"
    )
    assert len(shared) >= 80
    assert (
        len(same) / len(shared) >= 0.5
    )  # the rest give no repository in the text (PwC found them elsewhere)
    assert sum(i in same for i in with_repo) >= 0.95 * len(with_repo)  # when both name one, it is the same
