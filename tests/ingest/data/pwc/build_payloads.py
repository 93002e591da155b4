"""Build the CONSTRUCTED Papers with Code / Hugging Face payloads in this folder, reproducibly.

    python tests/ingest/data/pwc/build_payloads.py ../shared/fixtures tests/ingest/data/pwc

No recorded response of the relaunched paperswithcode.co API exists (SOURCES.md), and the HF
fixture predates githubRepo/githubStars/ai_keywords, so these payloads are built from the
documented field lists, around real papers: ids, titles, authors, listing days and the URLs
their own arXiv comments and abstracts state come from ``daily-arxiv/arxiv-cs-2026-06.jsonl.gz``;
everything else (flags, counts, tasks, keywords, the reimplementation repos) is derived from a
hash of the id, so a rebuild gives the same bytes. README.md says which field comes from where.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

FIRST_DAY, LAST_DAY = "2026-06-01", "2026-06-05"
URL = re.compile(r"https?://[^\s,;<>\"'{}\\]+")
TRAILING = ".,;:)]}'\""
# Venue statements in comments; the raw span becomes conference_name (a real venue the authors name).
VENUE = re.compile(
    r"(?:accepted|to appear|published|presented)\s+(?:as\s+\w+\s+)?(?:at|in|to|by|for)\s+(?:the\s+)?"
    r"(?P<venue>[A-Z][A-Za-z\-]*(?:\s+[A-Z][A-Za-z\-]*)?\s*'?(?:20)?2[5-7])",
    re.IGNORECASE,
)
TASKS = {  # title keyword -> PwC-style task name (constructed)
    "segmentation": "Semantic Segmentation",
    "retrieval": "Retrieval",
    "detection": "Object Detection",
    "question answering": "Question Answering",
    "reinforcement": "Reinforcement Learning",
    "translation": "Machine Translation",
    "reasoning": "Reasoning",
    "video": "Video Understanding",
    "3d": "3D Reconstruction",
    "speech": "Speech Recognition",
    "graph": "Graph Learning",
    "agent": "LLM Agents",
    "generation": "Image Generation",
    "recommend": "Recommendation Systems",
}
METHODS = {  # title keyword -> method name (constructed)
    "transformer": "Transformer",
    "diffusion": "Diffusion",
    "lora": "LoRA",
    "mixture": "Mixture of Experts",
    "gaussian splatting": "3D Gaussian Splatting",
    "attention": "Attention",
    "contrastive": "Contrastive Learning",
    "llm": "Large Language Model",
    "language model": "Large Language Model",
    "rag": "Retrieval-Augmented Generation",
}


def h(arxiv_id: str, salt: str = "") -> int:
    return int(hashlib.sha1(f"{salt}{arxiv_id}".encode()).hexdigest()[:12], 16)


def urls(text: str | None) -> list[str]:
    out = []
    for u in URL.findall(text or ""):
        u = u.rstrip(TRAILING)
        if u.count("/") >= 2 and u not in out:
            out.append(u)
    return out


def github_repo(u: str) -> str | None:
    m = re.match(r"https?://(?:www\.)?github\.com/([\w.\-]+)/([\w.\-]+)", u)
    return f"https://github.com/{m[1]}/{m[2]}" if m else None


def slug(title: str) -> str:
    words = re.sub(r"[^a-z0-9 ]+", " ", title.lower()).split()
    return "-".join(words[:6])


def authors(rec: dict[str, Any]) -> list[str]:
    return [" ".join(p for p in (a[1], a[0], *a[2:]) if p) for a in rec["authors_parsed"]]


def short(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + "…"


def load(fixtures: Path) -> list[dict[str, Any]]:
    path = fixtures / "daily-arxiv" / "arxiv-cs-2026-06.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        recs = [json.loads(line) for line in fh]
    return [r for r in recs if FIRST_DAY <= r["update_date"] <= LAST_DAY]


def resources(rec: dict[str, Any]) -> dict[str, Any]:
    found = urls(rec.get("comments")) + [
        u for u in urls(rec["abstract"]) if u not in urls(rec.get("comments"))
    ]
    repos = [r for r in (github_repo(u) for u in found) if r]
    repos = list(dict.fromkeys(repos))
    hf = [u for u in found if "huggingface.co/" in u]
    pages = [
        u
        for u in found
        if not github_repo(u)
        and "huggingface.co/" not in u
        and "arxiv.org" not in u
        and "doi.org" not in u
        and "zenodo" not in u
    ]
    return {"repos": repos, "pages": pages, "hf": hf}


def pwc_paper(rec: dict[str, Any], res: dict[str, Any]) -> dict[str, Any]:
    aid, k = rec["id"], h(rec["id"])
    title_l = rec["title"].lower()
    repos: list[Any] = []
    for i, url in enumerate(res["repos"]):
        repo: dict[str, Any] = {"url": url, "is_official": True}
        if k % 3:
            repo["framework"] = "jax" if k % 5 == 0 else "pytorch"
        if i == 0 and k % 4 == 0:
            repo["stars"] = k % 700
        repos.append(repo)
    if (res["repos"] and k % 5 == 1) or (not res["repos"] and k % 10 == 3):
        name = github_repo(res["repos"][0]).rsplit("/", 1)[1] if res["repos"] else slug(rec["title"])[:30]
        repos.append(
            {
                "url": f"https://github.com/pwc-fixture-reimpl/{name}",
                "is_official": False,
                "framework": "pytorch",
            }
        )
    if repos and k % 7 == 0:  # the bare-string form some list answers use
        repos = [r["url"] for r in repos]
    paper: dict[str, Any] = {
        "id": slug(rec["title"]),
        "arxiv_id": aid,
        "title": " ".join(rec["title"].split()),
        "abstract": short(rec["abstract"]),
        "published": rec["update_date"],
        "authors": authors(rec),
        "organizations": [],
        "url_abs": f"https://arxiv.org/abs/{aid}",
        "url_pdf": f"https://arxiv.org/pdf/{aid}",
    }
    venue = VENUE.search(rec.get("comments") or "")
    if venue and not venue["venue"].lower().startswith("the "):
        # Both names occur (SOURCES.md: conference_name, or conference).
        paper["conference" if k % 3 == 0 else "conference_name"] = " ".join(venue["venue"].split())
    elif k % 2:
        paper["conference_name"] = None
    if k % 6:
        paper["citation_count"] = (k >> 8) % 4 if k % 4 else 0
    tasks = [t for key, t in TASKS.items() if key in title_l]
    methods = [m for key, m in METHODS.items() if re.search(rf"\b{re.escape(key)}", title_l)]
    if tasks:
        paper["tasks"] = tasks if k % 2 else [{"id": slug(t), "name": t} for t in tasks]
    if methods:
        methods = list(dict.fromkeys(methods))
        paper["methods"] = methods if k % 2 else [{"name": m, "full_name": m} for m in methods]
    if res["repos"] and k % 3 == 0:
        paper["frameworks"] = ["pytorch"]
    paper["repositories"] = repos
    paper["project_pages"] = [{"url": u, "is_official": True} for u in res["pages"]]
    paper["hf_models"] = [u for u in res["hf"] if "/datasets/" not in u and "/spaces/" not in u]
    paper["hf_datasets"] = [u for u in res["hf"] if "/datasets/" in u]
    paper["hf_spaces"] = [u for u in res["hf"] if "/spaces/" in u]
    return paper


def hf_paper(rec: dict[str, Any], res: dict[str, Any]) -> dict[str, Any]:
    aid, k = rec["id"], h(rec["id"], "hf")
    words = [w.strip(":,.()").lower() for w in rec["title"].split()]
    paper: dict[str, Any] = {
        "id": aid,
        "authors": [
            {"_id": hashlib.sha1(f"{aid}{i}".encode()).hexdigest()[:24], "name": n, "hidden": False}
            for i, n in enumerate(authors(rec))
        ],
        "publishedAt": f"{rec['update_date']}T{k % 24:02d}:{k % 60:02d}:00.000Z",
        "title": " ".join(rec["title"].split()),
        "summary": short(rec["abstract"]),
        "upvotes": k % 40,
        "discussionId": hashlib.sha1(f"d{aid}".encode()).hexdigest()[:24],
        "ai_summary": short(rec["abstract"], 120),
        "ai_keywords": list(dict.fromkeys(w for w in words if len(w) >= 7))[:5],
    }
    if res["repos"] and k % 5:  # HF misses some repos the authors state
        paper["githubRepo"] = res["repos"][0]
        paper["githubStars"] = (k >> 4) % 300
    if res["pages"]:
        paper["projectPage"] = res["pages"][0]
    return paper


def daily_item(paper: dict[str, Any]) -> dict[str, Any]:
    k = h(paper["id"], "daily")
    return {
        "paper": paper,
        "publishedAt": paper["publishedAt"],
        "title": paper["title"],
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{paper['id']}.png",
        "numComments": k % 5,
        "submittedBy": {
            "avatarUrl": "/avatars/fixture.svg",
            "fullname": "Constructed Fixture",
            "name": "constructed-fixture",
            "type": "user",
            "isPro": False,
            "isHf": False,
            "isMod": False,
            "followerCount": 0,
        },
    }


def non_arxiv(fixtures: Path) -> list[dict[str, Any]]:
    """The legacy list's papers without an arXiv id, moved into the window (they have none now either)."""
    path = fixtures / "pwc" / "legacy-com-api" / "codingpot_paper_list_response.json"
    legacy = json.loads(path.read_text(encoding="utf-8"))["results"]
    out = []
    for i, p in enumerate(r for r in legacy if not r["arxiv_id"]):
        out.append(
            {
                "id": p["id"],
                "arxiv_id": None,
                "title": p["title"],
                "abstract": short(p["abstract"]),
                "published": f"2026-06-0{1 + i % 5}",
                "authors": p["authors"],
                "organizations": [],
                "url_abs": p["url_abs"],
                "url_pdf": p["url_pdf"],
                "conference_name": None,
                "repositories": [],
                "project_pages": [],
                "hf_models": [],
                "hf_datasets": [],
                "hf_spaces": [],
            }
        )
    return out


def lines(items: list[dict[str, Any]]) -> str:
    """A JSON array with one object per line: small diffs, greppable by id."""
    return "[\n" + ",\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n]\n"


def main() -> None:
    fixtures, out = Path(sys.argv[1]), Path(sys.argv[2])
    recs = sorted(load(fixtures), key=lambda r: (r["update_date"], r["id"]))
    pwc, hf = [], []
    for rec in recs:
        res = resources(rec)
        has_url = bool(res["repos"] or res["pages"] or res["hf"])
        if has_url or h(rec["id"]) % 10 == 0:
            pwc.append(pwc_paper(rec, res))
        if (res["repos"] and h(rec["id"], "hf") % 3 == 0) or h(rec["id"], "hf") % 40 == 0:
            hf.append(hf_paper(rec, res))
    pwc += non_arxiv(fixtures)
    pwc.sort(key=lambda p: (p["published"], p["arxiv_id"] or "", p["id"]))
    daily: dict[str, list[dict[str, Any]]] = {}
    for paper in sorted(hf, key=lambda p: (-p["upvotes"], p["id"])):
        daily.setdefault(paper["publishedAt"][:10], []).append(daily_item(paper))
    (out / "pwc_papers.json").write_text(lines(pwc), encoding="utf-8")
    (out / "hf_papers.json").write_text(lines(hf), encoding="utf-8")
    days = ",\n".join(f"{json.dumps(day)}: {lines(items).rstrip()}" for day, items in sorted(daily.items()))
    (out / "hf_daily.json").write_text("{\n" + days + "\n}\n", encoding="utf-8")
    print(f"{len(pwc)} PwC papers, {len(hf)} HF papers, {sum(map(len, daily.values()))} daily items")


if __name__ == "__main__":
    main()
