"""Code links stated in a paper's own text (arXiv comment and abstract): find, repair, normalise.

Authors write "Code: https://github.com/org/repo" or "Project page: https://x.github.io" in the
comment or abstract of about 15-20% of cs papers. `extract_code_links` turns those into CodeLinks
(source "text", official because the authors state them); `normalize_code_url` gives every source
(Papers with Code, Hugging Face, text) the same spelling of a URL, so links from several sources
meet on one key.

Decisions (see tests/ingest/data/README.md for the labelled set that checks them):
- Repositories: GitHub, GitLab (gitlab.com and self-hosted `gitlab.*`), Bitbucket, Codeberg,
  Gitee, Hugging Face models / datasets / Spaces, and anonymous.4open.science review mirrors
  (`/r/<id>`). A review mirror is the authors' code, only anonymised for review; the link may expire
  after the review, but it is often the only one a fresh paper gives.
- Project pages: any `*.github.io` / `*.gitlab.io` page and Google Sites, whatever the wording; other
  sites only when the clause introduces them as a project page, website, homepage or as where the
  code / source / implementation is ("Code: https://lab.example.org/tool"). Videos, DOIs, Zenodo,
  OpenReview, Kaggle, Drive, arXiv and the like are never pages of a project.
- Self-hosted GitLab and Gitea servers count as repositories when the host says so (`gitlab.*`,
  `git.*`: gitlab.kit.edu, git.tu-berlin.de).
- A GitHub user or organisation page (`github.com/org`) names no repository ("code will be at
  github.com/<user>" before the repository exists), so it is dropped, as are GitHub's own pages
  (/features, /topics, /sponsors ...) and placeholders (github.com/xxx, github.com/anonymous/...).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from core.records import CodeLink

__all__ = ["code_link_kind", "extract_code_links", "normalize_code_url"]

REPOSITORY = "repository"
PROJECT_PAGE = "project_page"

# Code hosts whose owner/repo names are case-insensitive: lower-cased so that sources agree.
_OWNER_REPO_HOSTS = frozenset({"github.com", "bitbucket.org", "codeberg.org", "gitee.com"})
_GITHUB_RESERVED = frozenset(
    "about apps blog collections contact customer-stories enterprise events explore features "
    "github-copilot issues join login marketplace new notifications orgs organizations pricing "
    "pulls readme search security settings site sponsors team topics trending users".split()
)
_PLACEHOLDER_OWNERS = frozenset(
    "anon anonymous anonymized anonymized-link anonymous-author anonymousauthor anonymous-authors "
    "author authors blind blinded hidden placeholder repo user username yourname your-username".split()
)
_HF_KINDS = frozenset({"datasets", "spaces"})
_HF_RESERVED = frozenset(
    "api blog chat collections docs join learn login models organizations papers posts pricing "
    "search settings tasks".split()
)
_PAGE_HOSTS = (".github.io", ".gitlab.io")
# Hosts that are never a project's page or code, whatever the text calls them.
_NOT_PAGES = frozenset(
    "arxiv.org doi.org dx.doi.org openreview.net youtube.com m.youtube.com youtu.be vimeo.com "
    "zenodo.org figshare.com drive.google.com docs.google.com colab.research.google.com twitter.com "
    "x.com linkedin.com aclanthology.org ieeexplore.ieee.org dl.acm.org link.springer.com "
    "kaggle.com bit.ly tinyurl.com forms.gle creativecommons.org".split()
)

# A URL may hold anything but whitespace, quotes, braces, pipes, backslashes and brackets (LaTeX
# and Markdown wrappers end there); the trailing punctuation of the sentence is stripped after.
_URL_CHARS = r"""[^\s<>"{}|\\^`\[\]]"""
_URL = re.compile(
    rf"""
    (?:https?://|(?<![\w@/.-])www\.){_URL_CHARS}+
    | (?<![\w@/.-])(?:[\w-]+\.)+(?:github\.io|gitlab\.io)(?:/{_URL_CHARS}*)?
    | (?<![\w@/.-])sites\.google\.com/{_URL_CHARS}+
    # code hosts without a scheme, also glued to the word before ("available atgithub.com/...")
    | (?<![/.-])(?:github\.com|gitlab\.com|huggingface\.co|bitbucket\.org|codeberg\.org
        |anonymous\.4open\.science)/{_URL_CHARS}+
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Where a link may start, searched in the lower-cased text (a case-insensitive regex is 10x slower).
_ANCHOR = re.compile(
    r"://|www\.|https?:|github|gitlab|huggingface|hf\.co/|bitbucket|codeberg|4open|sites\.google"
)
# Characters that end a token holding a URL (whitespace, quotes, LaTeX and Markdown brackets).
_TOKEN_STOP = frozenset(' \t\n\r<>"{}|\\^`[]')
_TRAILING = ".,;:!?)]}>\"'*`’”。，"
_LATEX_ESCAPES = (("\\_", "_"), ("\\~{}", "~"), ("\\~", "~"), ("\\#", "#"), ("\\%", "%"), ("\\&", "&"))

# Repairs of URLs that authors, LaTeX or arXiv's line wrapping broke with whitespace.
_BROKEN_SCHEME = re.compile(r"https?:(?!//\S)")  # on lower-cased text
_HOST_WORDS = ("github", "gitlab", "huggingface", "bitbucket", "codeberg")
_SCHEME_GAP = re.compile(r"\b(https?):\s*/\s*/\s*", re.IGNORECASE)  # "https: //x", "https://\nx"
_SCHEME_ONE_SLASH = re.compile(r"\b(https?):/?(?=\w)", re.IGNORECASE)  # "https:/x", "https:x"
_HOST_GAP = re.compile(
    r"\b(github|gitlab|huggingface|bitbucket|codeberg)\.\s+(com|io|co|org)\b", re.IGNORECASE
)
_LABEL_GAP = re.compile(
    r"(://[\w-]+(?:\.[\w-]+)*[.-])\s+(?=(?:[\w-]+\.)*git(?:hub|lab)\.io\b)", re.IGNORECASE
)
_HOST_SLASH_GAP = re.compile(
    r"\b((?:github\.com|gitlab\.com|huggingface\.co|bitbucket\.org|codeberg\.org)/)\s+(?=[\w.-]+/\s*[\w.-])",
    re.IGNORECASE,
)
_OWNER_GAP = re.compile(
    r"\b((?:github\.com|gitlab\.com|huggingface\.co|bitbucket\.org|codeberg\.org)/[\w.-]+?(?:/|-))\s+([\w.-]+)",
    re.IGNORECASE,
)
_VERB = re.compile(r"\\verb(\S)(.*?)\1")  # LaTeX \verb+github.com/x/y+
_NAME = re.compile(r"[\w.+-]+")
_PLAIN_WORD = re.compile(r"[a-z]+\.?")

# Words that make a URL on another site the project's page: "Project page: https://...", "Code is
# available at https://lab.example.org/tool".
_PAGE_CUE = re.compile(
    r"project|website|web\s*site|home\s*page|web\s*page|(?<![\w-])(?:codes?|source)\b|open[- ]?sourced?"
    r"|implementation",
    re.IGNORECASE,
)
_CUE_WINDOW = 60
_SPACES = re.compile(r"\s+")


def extract_code_links(arxiv_id: str, comment: str | None, abstract: str | None) -> list[CodeLink]:
    """Repositories and project pages the authors name in the comment or abstract, in text order.

    >>> [l.url for l in extract_code_links("2501.00001", "Code: https://GitHub.com/Org/Repo.git.", "")]
    ['https://github.com/org/repo']

    Every link is official (the authors state it) with source "text"; each URL appears once per
    paper, comment first. Text that mentions no link costs a lower-casing and one regex search.
    """
    links: list[CodeLink] = []
    seen: set[str] = set()
    for text in (comment, abstract):
        if not text:
            continue
        low = text.lower()
        if not _ANCHOR.search(low):
            continue
        text = _repair(text, low)
        previous_end = 0
        for start, end in _tokens(text):
            for match in _URL.finditer(text, start, end):
                url = normalize_code_url(match.group(0))
                kind = None if url is None else code_link_kind(url)
                if (
                    url is not None
                    and kind is None
                    and _introduced_as_page(text, previous_end, match.start(), url)
                ):
                    kind = PROJECT_PAGE
                previous_end = match.end()
                if url is None or kind is None or url in seen:
                    continue
                seen.add(url)
                links.append(CodeLink(arxiv_id=arxiv_id, url=url, source="text", is_official=True, kind=kind))
    return links


def normalize_code_url(url: str) -> str | None:
    """One spelling per repository or page: `https://`, lower-case host without `www.`, no query,
    fragment, trailing slash, `.git`, `/tree/...` or `/blob/...`; GitHub, GitLab, Bitbucket,
    Codeberg and Gitee reduced to `host/owner/repo` in lower case (their names are
    case-insensitive); Hugging Face to `/<org>/<repo>`, `/datasets/...` or `/spaces/...`.

    >>> normalize_code_url("github.com/ Org/Repo/tree/main/src)")
    'https://github.com/org/repo'

    Returns None for what is no link to code or a page: GitHub's own pages and user/organisation
    pages (no repository named), placeholders, bare hosts, text without a host.
    """
    url = _unwrap(url)
    if not url:
        return None
    if "://" not in url:
        url = "https://" + url
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[bad" and similar
        return None
    host = (parts.hostname or "").rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    if "." not in host or not re.fullmatch(r"[a-z0-9.-]+", host):
        return None
    segments = [s for s in parts.path.split("/") if s]
    if host == "hf.co":
        host = "huggingface.co"
    if host.endswith(".github.com") and host.count(".") == 2:  # the pre-2013 name of GitHub Pages
        host = host[: -len("com")] + "io"
    if host == "github.com":
        return _owner_repo(host, segments, _GITHUB_RESERVED)
    if host in _OWNER_REPO_HOSTS:
        return _owner_repo(host, segments, frozenset())
    if _self_hosted_git(host):
        return _gitlab(host, segments)
    if host == "huggingface.co":
        return _huggingface(segments)
    if host == "anonymous.4open.science":
        if len(segments) >= 2 and segments[0] == "r":
            return f"https://{host}/r/{segments[1]}"
        return None
    # A fragment is dropped, unless it is the route of a single-page site ("https://x.io/#/paper").
    route = parts.fragment if parts.fragment.startswith("/") and len(parts.fragment) > 1 else ""
    return _page(host, segments) + (f"/#{route.rstrip('/')}" if route else "")


def code_link_kind(url: str) -> str | None:
    """The kind of link a normalised URL is, when its host alone says so: "repository" (GitHub,
    GitLab, Hugging Face ...) or "project_page" (`*.github.io`, Google Sites); None for other
    sites, which are pages only when the text calls them so."""
    host = urlsplit(url).hostname or ""
    if host in _OWNER_REPO_HOSTS or host in ("huggingface.co", "gitlab.com", "anonymous.4open.science"):
        return REPOSITORY
    if _self_hosted_git(host):
        return REPOSITORY
    if host.endswith(_PAGE_HOSTS) or host == "sites.google.com":
        return PROJECT_PAGE
    return None


def _self_hosted_git(host: str) -> bool:
    """gitlab.com and the GitLab / Gitea servers of institutions (gitlab.kit.edu, git.tu-berlin.de)."""
    return host == "gitlab.com" or host.startswith(("gitlab.", "git."))


def _repair(text: str, low: str) -> str:
    """Undo the whitespace that authors, LaTeX or line wrapping put into URLs. Each repair runs
    only when a substring test on the lower-cased text says it may apply (rarely)."""
    for escaped, plain in _LATEX_ESCAPES:
        if escaped in text:
            text = text.replace(escaped, plain)
    if "\\verb" in text:
        text = _VERB.sub(r"\2", text)
    if _BROKEN_SCHEME.search(low):
        text = _SCHEME_GAP.sub(r"\1://", text)
        text = _SCHEME_ONE_SLASH.sub(r"\1://", text)
    if any(f"{host}. " in low or f"{host}.\n" in low for host in _HOST_WORDS):
        text = _HOST_GAP.sub(r"\1.\2", text)
    if "github.io" in low or "gitlab.io" in low:
        text = _LABEL_GAP.sub(r"\1", text)
    if "/ " in text or "/\n" in text or "- " in text or "-\n" in text:
        text = _HOST_SLASH_GAP.sub(r"\1", text)
        for _ in range(3):  # "github.com/CAIR- LAB- WFUSM/repo": one gap per pass
            joined = _OWNER_GAP.sub(_join_owner_gap, text)
            if joined == text:
                break
            text = joined
    return text


def _tokens(text: str) -> list[tuple[int, int]]:
    """(start, end) of each whitespace-free run of text that holds a link anchor."""
    spans: list[tuple[int, int]] = []
    covered = 0
    for anchor in _ANCHOR.finditer(text.lower()):
        if anchor.start() < covered:
            continue
        start = anchor.start()
        while start > 0 and text[start - 1] not in _TOKEN_STOP:
            start -= 1
        end = anchor.end()
        while end < len(text) and text[end] not in _TOKEN_STOP:
            end += 1
        spans.append((start, end))
        covered = end
    return spans


def _join_owner_gap(match: re.Match[str]) -> str:
    # "github.com/org/ Repo-Name" is one URL; "github.com/org/ soon." is a URL and a word.
    head, tail = match.group(1), match.group(2)
    if _PLAIN_WORD.fullmatch(tail):
        return match.group(0)
    return head + tail


def _unwrap(url: str) -> str:
    url = "".join(url.split())
    if url.count("://") > 1:  # "https://githubhttps://github.com/x/y": the last URL is meant
        url = url[url.rfind("http", 0, url.rfind("://")) :]
    cut = url.find(".(")  # "github.com/x/y.(The complete ...": a sentence glued on
    if cut > 0:
        url = url[:cut]
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break  # a balanced parenthesis belongs to the URL
        url = url[:-1]
    return url


def _owner_repo(host: str, segments: list[str], reserved: frozenset[str]) -> str | None:
    if len(segments) < 2:
        return None  # a user or organisation page names no repository
    owner, repo = segments[0].lower(), segments[1].lower()
    if repo.endswith(".git"):
        repo = repo[:-4]
    if owner in reserved or owner in _PLACEHOLDER_OWNERS or not _plausible_name(owner):
        return None
    if not repo or not _plausible_name(repo):
        return None
    return f"https://{host}/{owner}/{repo}"


def _plausible_name(name: str) -> bool:
    # GitHub turns "+" into "-", but a "Repo++" the authors wrote still says that code exists.
    return bool(_NAME.fullmatch(name)) and name.strip(".") != "" and set(name) != {"x"}


def _gitlab(host: str, segments: list[str]) -> str | None:
    # GitLab nests groups ("group/subgroup/project"); "/-/" starts the views of a project.
    if "-" in segments:
        segments = segments[: segments.index("-")]
    for view in ("tree", "blob"):
        if view in segments:
            segments = segments[: segments.index(view)]
    if len(segments) < 2:
        return None
    path = "/".join(s.lower() for s in segments)
    if path.endswith(".git"):
        path = path[:-4]
    return f"https://{host}/{path}"


def _huggingface(segments: list[str]) -> str | None:
    if segments and segments[0] in _HF_KINDS:
        if len(segments) < 3:
            return None
        return f"https://huggingface.co/{segments[0]}/{segments[1]}/{segments[2]}"
    if len(segments) < 2 or segments[0] in _HF_RESERVED:
        return None
    return f"https://huggingface.co/{segments[0]}/{segments[1]}"


def _page(host: str, segments: list[str]) -> str:
    if segments and segments[-1].lower() in ("index.html", "index.htm"):
        segments = segments[:-1]
    path = "/".join(segments)
    return f"https://{host}/{path}" if path else f"https://{host}"


def _introduced_as_page(text: str, floor: int, start: int, url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host in _NOT_PAGES or host.endswith(".youtube.com"):
        return False
    before = _SPACES.sub(" ", text[max(floor, start - _CUE_WINDOW) : start])
    # Only the clause that holds the URL: "Project page: A. Demo: B" does not make B a page.
    for stop in (". ", "; "):
        cut = before.rfind(stop)
        if cut >= 0:
            before = before[cut + len(stop) :]
    return bool(_PAGE_CUE.search(before))
