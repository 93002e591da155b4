"""Owns ArxivFixtureServer: a local HTTP server that plays arXiv's /api/query from recorded data.

Answers, in this order:
1. Recorded responses (``arxiv-api/index.json``, ``abi445-2026-02/index.json``,
   ``legacy-format-2016/index.json``), served verbatim with their recorded status. A request
   matches a recording when its query parameters, as a dict with arXiv's defaults filled in
   (search_query/id_list "", start 0, max_results 10, sortBy relevance, sortOrder descending),
   equal the recording's; host, path and parameter order are ignored. Legacy keys percent-encode
   the whole query string and are decoded first. Fallback: with start=0 on both sides and
   everything else equal, a different max_results still matches when the recorded page already
   held every result (totalResults <= both max_results), since the page content is identical.
2. Synthetic pages in the current (Nov 2025+) Atom format, built from ``daily-arxiv/*.jsonl.gz``:
   ``cat:X`` / ``(cat:X OR cat:Y ...)`` and/or ``submittedDate:[YYYYMMDDHHMM TO YYYYMMDDHHMM]``
   joined by AND, and/or ``id_list``. itemsPerPage echoes the effective max_results, as the
   recorded responses do (e.g. 100 for a 1-result id lookup).
3. Anything else: HTTP 400 with an arXiv-style error feed.

``inject()`` queues faults applied to the next requests: ("status", code, headers),
("truncate", fraction), ("reset",), ("body", status, bytes, type) and ("pass",)
(a normal answer);
``inject_every(n, faults)`` faults every n-th request.
``max_total`` (30,000 like arXiv) is the last result index a query serves.
``requests`` holds (monotonic time, path) of every request; the server, fault and request-log
machinery is `tests.support.loopback.LoopbackServer`'s.
"""

from __future__ import annotations

import base64
import gc
import gzip
import hashlib
import json
import re
import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, unquote, urlsplit
from xml.sax.saxutils import escape

from tests.support.loopback import Fault, LoopbackServer, runner_parser

ATOM_TYPE = "application/atom+xml; charset=utf-8"
MAX_PAGE = 2000
DEFAULTS = {"search_query": "", "id_list": "", "start": "0", "max_results": "10",
            "sortBy": "relevance", "sortOrder": "descending"}
FEED_HEAD = ("<?xml version='1.0' encoding='UTF-8'?>\n"
             '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
             'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n')
ID_RE = re.compile(r"(\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v(\d+))?")
CAT = r"cat:([A-Za-z\-]+(?:\.[A-Za-z\-]+)?)"
CAT_PART = re.compile(rf"{CAT}|\(\s*{CAT}(?:\s+OR\s+{CAT})*\s*\)")
DATE_PART = re.compile(r"submittedDate:\[(\d{12}) TO (\d{12})\]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class ApiError(Exception):
    """A request the real API would refuse: rendered as a 400 error feed."""

    def __init__(self, slug: str, message: str) -> None:
        super().__init__(message)
        self.slug, self.message = slug, message


def _text(value: str) -> str:
    return escape(CONTROL.sub("", value))


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def query_params(query: str) -> dict[str, str]:
    """Parse a query string into param -> last value; decode a wholly percent-encoded one first."""
    if "=" not in query:
        query = unquote(query)
    return {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}


def error_feed(slug: str, message: str) -> bytes:
    """An error response shaped like the recorded ``arxiv-api/id_abc_*.xml``."""
    now, ref = _stamp(datetime.now(UTC)), _attr(f"https://arxiv.org/api/errors#{slug}")
    return (f"{FEED_HEAD}  <id>https://arxiv.org/</id>\n  <title>arXiv Search Results</title>\n"
            f"  <updated>{now}</updated>\n  <opensearch:itemsPerPage>1</opensearch:itemsPerPage>\n"
            "  <opensearch:totalResults>1</opensearch:totalResults>\n"
            "  <opensearch:startIndex>0</opensearch:startIndex>\n  <entry>\n"
            f"    <id>{_text(ref)}</id>\n    <title>Error</title>\n    <updated>{now}</updated>\n"
            f'    <link href="{ref}" rel="alternate" type="text/html"/>\n'
            f"    <summary>{_text(message)}</summary>\n    <author>\n"
            "      <name>arXiv api core</name>\n    </author>\n  </entry>\n</feed>\n").encode()


def render_entry(rec: dict[str, Any], version: int | None = None) -> str:
    """One ``<entry>`` in the current format from a Kaggle-snapshot record."""
    versions = rec["versions"]
    n = version or len(versions)
    vid = f"{rec['id']}v{n}"
    cats = rec["categories"].split()
    out = [f"  <entry>\n    <id>http://arxiv.org/abs/{vid}</id>\n",
           f"    <title>{_text(rec['title'])}</title>\n",
           f"    <updated>{_stamp(_created(versions[n - 1]['created']))}</updated>\n",
           f'    <link href="https://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>\n',
           f'    <link href="https://arxiv.org/pdf/{vid}" rel="related" type="application/pdf"'
           ' title="pdf"/>\n',
           f"    <summary>{_text(rec['abstract'])}</summary>\n"]
    out += [f'    <category term="{_attr(c)}" scheme="http://arxiv.org/schemas/atom"/>\n'
            for c in cats]
    out.append(f"    <published>{_stamp(rec['_published'])}</published>\n")
    if rec.get("comments") is not None:
        out.append(f"    <arxiv:comment>{_text(rec['comments'])}</arxiv:comment>\n")
    out.append(f'    <arxiv:primary_category term="{_attr(cats[0])}"/>\n')
    if rec.get("journal-ref"):
        out.append(f"    <arxiv:journal_ref>{_text(rec['journal-ref'])}</arxiv:journal_ref>\n")
    out += [f"    <author>\n      <name>{_text(name)}</name>\n    </author>\n"
            for name in author_names(rec)]
    if rec.get("doi"):
        out.append(f"    <arxiv:doi>{_text(rec['doi'])}</arxiv:doi>\n    <link rel=\"related\" "
                   f'href="https://doi.org/{_attr(rec["doi"])}" title="doi"/>\n')
    return "".join(out) + "  </entry>\n"


def author_names(rec: dict[str, Any]) -> list[str]:
    """Names as 'First Last Suffix' from authors_parsed, else split from the authors string."""
    if rec.get("authors_parsed"):
        return [" ".join(p for p in (a[1], a[0], *a[2:]) if p) for a in rec["authors_parsed"]]
    return [n for part in rec.get("authors", "").split(", ") for n in part.split(" and ") if n]


@lru_cache(maxsize=4096)
def _created(stamp: str) -> datetime:  # 'Mon, 01 Jun 2026 00:00:00 GMT'; few distinct values
    return parsedate_to_datetime(stamp).astimezone(UTC)


class RecordStore:
    """Lazily loaded, cached months of ``daily-arxiv/arxiv-cs-YYYY-MM.jsonl.gz``."""

    def __init__(self, folder: Path) -> None:
        self.files = {(int(p.name[9:13]), int(p.name[14:16])): p
                      for p in sorted(folder.glob("arxiv-cs-????-??.jsonl.gz"))}
        self._months: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self._by_id: dict[str, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def month(self, key: tuple[int, int]) -> list[dict[str, Any]]:
        with self._lock:
            if key not in self._months:
                recs = []
                was_enabled = gc.isenabled()
                gc.disable()  # ~18k long-lived dicts per month: the cyclic GC only slows this
                try:
                    with gzip.open(self.files[key], "rt", encoding="utf-8") as fh:
                        for line in fh:
                            rec = json.loads(line)
                            rec["_published"] = _created(rec["versions"][0]["created"])
                            rec["_updated"] = _created(rec["versions"][-1]["created"])
                            recs.append(rec)
                finally:
                    if was_enabled:
                        gc.enable()
                self._months[key] = recs
            return self._months[key]

    def between(self, lo: datetime, hi: datetime) -> list[dict[str, Any]]:
        keys = [k for k in self.files if (lo.year, lo.month) <= k <= (hi.year, hi.month)]
        return [r for k in keys for r in self.month(k) if lo <= r["_published"] <= hi]

    def all(self) -> list[dict[str, Any]]:
        return [r for k in self.files for r in self.month(k)]

    def by_id(self) -> dict[str, dict[str, Any]]:
        if self._by_id is None:
            self._by_id = {r["id"]: r for r in self.all()}
        return self._by_id


def _minute(stamp: str) -> datetime:
    try:
        return datetime.strptime(stamp, "%Y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        raise ApiError("invalid_date_format", f"invalid submittedDate {stamp}") from None


def parse_search_query(q: str) -> tuple[set[str] | None, tuple[datetime, datetime] | None]:
    """Split the supported query language into (categories, date window)."""
    cats: set[str] | None = None
    window: tuple[datetime, datetime] | None = None
    for part in filter(None, " ".join(q.split()).split(" AND ")):
        if CAT_PART.fullmatch(part):
            if cats is not None:
                raise ApiError("unsupported_query", f"unsupported query: {q}")
            cats = set(re.findall(CAT, part))
        elif part.startswith("submittedDate:") and window is None:
            if not (date := DATE_PART.fullmatch(part)):
                raise ApiError("invalid_date_format", "submittedDate must be "
                               "[YYYYMMDDHHMM TO YYYYMMDDHHMM] (12 digits, GMT)")
            window = _minute(date[1]), _minute(date[2])
        else:
            raise ApiError("unsupported_query", f"unsupported query: {q}")
    return cats, window


class ArxivFixtureServer(LoopbackServer):
    """Context manager serving ``/api/query`` on 127.0.0.1 from a fixtures folder."""

    content_type = ATOM_TYPE
    thread_name = "arxiv-fixture-server"

    def __init__(self, fixtures_dir: Path, port: int = 0) -> None:
        super().__init__(port)
        self.api_dir = Path(fixtures_dir) / "arxiv-api"
        self.store = RecordStore(Path(fixtures_dir) / "daily-arxiv")
        self.recordings = self._load_recordings()
        self.max_total = 30_000  # like arXiv, no result past this index of a query is served

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/query"

    def reset(self) -> None:
        """Forget requests and pending faults; back to arXiv's ceiling (between tests)."""
        super().reset()
        self.max_total = 30_000

    def _load_recordings(self) -> list[tuple[dict[str, str], Path, int, int | None]]:
        found: list[tuple[dict[str, str], Path, int, int | None]] = []
        for index in (self.api_dir / "index.json", *sorted(self.api_dir.glob("*/index.json"))):
            if not index.is_file():
                continue
            for url, meta in json.loads(index.read_text(encoding="utf-8")).items():
                meta = meta if isinstance(meta, dict) else {"file": meta}
                path = index.parent / meta["file"]
                total = re.search(rb"totalResults[^>]*>(\d+)<", path.read_bytes())
                found.append(({**DEFAULTS, **query_params(urlsplit(url).query)}, path,
                              int(meta.get("status_code", 200)), total and int(total[1])))
        return found

    def recorded(self, params: dict[str, str]) -> tuple[int, bytes] | None:
        """The recorded (status, body) for these parameters, if any (see module doc)."""
        want = {**DEFAULTS, **params}
        for have, path, status, _ in self.recordings:
            if have == want:
                return status, path.read_bytes()
        rest = {k: v for k, v in want.items() if k != "max_results"}
        for have, path, status, total in self.recordings:
            if (want["start"] == "0" and total is not None and want["max_results"].isdigit()
                    and have["max_results"].isdigit()
                    and rest == {k: v for k, v in have.items() if k != "max_results"}
                    and total <= min(int(have["max_results"]), int(want["max_results"]))):
                return status, path.read_bytes()
        return None

    def answer(self, target: str, fault: Fault | None) -> tuple[int, bytes]:
        return self.respond(target)

    def error_body(self, exc: Exception) -> bytes:
        return error_feed("internal_error", repr(exc))

    def respond(self, target: str) -> tuple[int, bytes]:
        """(status, body) for a request target such as ``/api/query?id_list=...``."""
        parts = urlsplit(target)
        if parts.path.rstrip("/") != "/api/query":
            return 404, error_feed("not_found", f"no such endpoint: {parts.path}")
        params = query_params(parts.query)
        hit = self.recorded(params)
        if hit is not None:
            return hit
        try:
            return 200, self.search(params)
        except ApiError as err:
            return 400, error_feed(err.slug, err.message)

    def search(self, p: dict[str, str]) -> bytes:
        """A synthetic results page from the daily-arxiv records."""
        q, ids = p.get("search_query", "").strip(), p.get("id_list", "").strip()
        start, size = _int(p, "start", 0), min(_int(p, "max_results", 10), MAX_PAGE)
        sort_by, order = p.get("sortBy", "relevance"), p.get("sortOrder", "descending")
        if sort_by not in ("relevance", "submittedDate", "lastUpdatedDate"):
            raise ApiError("invalid_sortBy", f"sortBy must be relevance, submittedDate or "
                           f"lastUpdatedDate, not {sort_by}")
        if order not in ("ascending", "descending"):
            raise ApiError("invalid_sortOrder",
                           f"sortOrder must be ascending or descending, not {order}")
        if not q and not ids:
            raise ApiError("empty_query", "search_query or id_list is required")
        cats, window = parse_search_query(q)
        versions: dict[str, int | None] = {}
        if ids:
            for raw in ids.split(","):
                if not (m := ID_RE.fullmatch(raw.strip())):
                    raise ApiError(f"incorrect_id_format_for_{raw}",
                                   f"incorrect id format for {raw}")
                versions.setdefault(m[1], int(m[2]) if m[2] else None)
            known = self.store.by_id()
            recs = [known[i] for i, v in versions.items()
                    if i in known and (v or 1) <= len(known[i]["versions"])]
        else:
            recs = self.store.between(*window) if window else self.store.all()
        if window:
            recs = [r for r in recs if window[0] <= r["_published"] <= window[1]]
        if cats is not None:
            recs = [r for r in recs if cats & set(r["categories"].split())]
        if not (ids and sort_by == "relevance"):  # arXiv keeps id_list order for relevance
            key = "_updated" if sort_by == "lastUpdatedDate" else "_published"
            sign = 1 if order == "ascending" else -1
            recs = sorted(recs, key=lambda r: (sign * r[key].timestamp(), r["id"]))
        page = recs[start:min(start + size, self.max_total)]
        shown = f"search_query={q}&id_list={ids}&start={start}&max_results={size}"
        feed_id = base64.b64encode(hashlib.sha1(shown.encode()).digest()).decode().rstrip("=")
        link = (f"https://arxiv.org/api/query?search_query={quote_plus(q, safe=':')}&start={start}"
                f"&max_results={size}&id_list={quote_plus(ids, safe=',/')}")
        head = (f"{FEED_HEAD}  <id>https://arxiv.org/api/{feed_id}</id>\n"
                f"  <title>arXiv Query: {_text(shown)}</title>\n"
                f"  <updated>{_stamp(datetime.now(UTC))}</updated>\n"
                f'  <link href="{_attr(link)}" type="application/atom+xml"/>\n'
                f"  <opensearch:itemsPerPage>{size}</opensearch:itemsPerPage>\n"
                f"  <opensearch:totalResults>{len(recs)}</opensearch:totalResults>\n"
                f"  <opensearch:startIndex>{start}</opensearch:startIndex>\n")
        body = "".join(render_entry(r, versions.get(r["id"])) for r in page)
        return (head + body + "</feed>\n").encode("utf-8")


def _int(p: dict[str, str], name: str, default: int) -> int:
    value = p.get(name, "").strip() or str(default)
    if not value.isdigit():
        raise ApiError(f"invalid_{name}", f"{name} must be a non-negative integer, not {value}")
    return int(value)


def main() -> None:
    args = runner_parser(__doc__, port=8765).parse_args()
    server = ArxivFixtureServer(args.fixtures, port=args.port)
    server.run_forever(lambda: server.api_url)


if __name__ == "__main__":
    main()
