"""Owns PwCFixtureServer: a loopback server playing Papers with Code's and HF Papers' JSON APIs.

Serves CONSTRUCTED payloads (tests/ingest/data/pwc/, see its README: no recorded answer of
paperswithcode.co exists) plus, when a fixtures folder is given, the recorded legacy PwC
answer for 1406.2661 verbatim:

- ``/api/v1/papers/?start_date&end_date&page&page_size&include_resources`` — papers whose
  `published` day is in the window, ordered by (published, arxiv_id, id), `page` from 1,
  `page_size` ≤ 100 (else 400); the list shape is ``list_shape``: "count"
  (``{"count","next","previous","results","applied_filters"}``, a page past the end → 404
  "Invalid page." like Django REST framework), "total" (``{"total","page","page_size","items",
  "applied_filters"}``) or "bare" (a JSON array; past the end → ``[]``).
- ``/api/v1/papers/{arxiv_id}?include_resources`` — one paper, 404 ``{"detail": "Not found."}``.
  Without include_resources=true the resource fields are left out.
- ``/api/papers/{arxiv_id}`` — one HF paper, 404 when not indexed.
- ``/api/daily_papers?date&limit&p`` — one day's items, `p` from 0, `limit` ≤ 100.

``inject()`` queues faults for the next requests: ("status", code, headers), ("reset",),
("truncate", fraction), ("body", status, bytes, content type), ("drift",) / ("drift", "type")
(the answer's shape changed: the list renamed or of the wrong type, the paper wrapped),
("noecho",) (no applied_filters), ("pass",). ``latency`` delays every answer (to see requests
overlap); ``requests`` records (monotonic time, path, params, headers) and ``max_in_flight``
the most requests handled at once. The server, fault and request-log machinery is
`tests.support.loopback.LoopbackServer`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from tests.support.loopback import Fault, LoopbackHandler, LoopbackServer, runner_parser

DATA_DIR = Path(__file__).resolve().parents[1] / "ingest" / "data" / "pwc"
JSON_TYPE = "application/json; charset=utf-8"
RESOURCE_KEYS = ("repositories", "project_pages", "hf_models", "hf_datasets", "hf_spaces")
FILTERS = ("start_date", "end_date", "conference", "task", "method", "framework", "organization")
FAULTS = ("status", "reset", "truncate", "body", "drift", "noecho", "pass")
LEGACY_PAPER = ("1406.2661", "pwc/legacy-com-api/codingpot_paper_get_response.json")


@dataclass(frozen=True)
class Request:
    at: float
    path: str
    params: dict[str, str]
    headers: dict[str, str]


class _BadRequest(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class _Handler(LoopbackHandler):
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall


class PwCFixtureServer(LoopbackServer):
    """Context manager serving both APIs on 127.0.0.1 (random port) from constructed payloads."""

    content_type = JSON_TYPE
    fault_kinds = FAULTS
    thread_name = "pwc-fixture-server"
    handler = _Handler

    def __init__(self, data_dir: Path = DATA_DIR, fixtures_dir: Path | None = None, port: int = 0) -> None:
        super().__init__(port)
        self.pwc_papers: list[dict[str, Any]] = _load(data_dir / "pwc_papers.json")
        self.hf_papers = {p["id"]: p for p in _load(data_dir / "hf_papers.json")}
        self.hf_daily: dict[str, list[dict[str, Any]]] = _load(data_dir / "hf_daily.json")
        self.by_arxiv = {p["arxiv_id"]: p for p in self.pwc_papers if p.get("arxiv_id")}
        self.legacy: dict[str, bytes] = {}
        if fixtures_dir is not None and (fixtures_dir / LEGACY_PAPER[1]).is_file():
            self.legacy[LEGACY_PAPER[0]] = (fixtures_dir / LEGACY_PAPER[1]).read_bytes()
        self.list_shape = "count"

    @property
    def pwc_url(self) -> str:
        return self.base_url + "/api/v1"

    @property
    def hf_url(self) -> str:
        return self.base_url + "/api"

    def reset(self) -> None:
        """Forget requests and pending faults; default shape, no latency (between tests)."""
        super().reset()
        self.list_shape = "count"

    def window(self, start: str, end: str) -> list[dict[str, Any]]:
        """The papers a window lists, in the order the server pages them."""
        return [p for p in self.pwc_papers if start <= p["published"] <= end]

    # ------------------------------------------------------------ answers

    def _record(self, at: float, target: str, headers: Message) -> Request:
        parts = urlsplit(target)
        return Request(at, parts.path, _params(parts.query), {k.lower(): v for k, v in headers.items()})

    def status_body(self, code: int) -> tuple[bytes, str]:
        return json.dumps({"detail": f"HTTP {code}"}).encode(), JSON_TYPE

    def error_body(self, exc: Exception) -> bytes:
        return json.dumps({"detail": f"internal error: {exc!r}"}).encode()

    def answer(self, target: str, fault: Fault | None) -> tuple[int, bytes]:
        parts = urlsplit(target)
        path, params = parts.path, _params(parts.query)
        shape_fault = fault if fault and fault[0] in ("drift", "noecho") else None
        try:
            status, value = self.respond(path, params, shape_fault)
        except _BadRequest as exc:
            status, value = exc.status, {"detail": exc.detail}
        body = json.dumps(value, ensure_ascii=False).encode()
        if path.startswith("/api/v1/papers/") and path.rstrip("/") != "/api/v1/papers":
            arxiv_id = unquote(path[len("/api/v1/papers/") :]).rstrip("/")
            if arxiv_id in self.legacy:  # the recorded legacy answer, verbatim
                status, body = 200, self.legacy[arxiv_id]
        return status, body

    def respond(self, path: str, params: dict[str, str], fault: Fault | None) -> tuple[int, Any]:
        """(status, JSON value) for one request; `fault` is a "drift" or "noecho" fault or None."""
        drift = fault[1] if fault and fault[0] == "drift" and len(fault) > 1 else fault and fault[0]
        if path.rstrip("/") == "/api/v1/papers":
            return self._paper_list(params, drift)
        if path.startswith("/api/v1/papers/"):
            arxiv_id = unquote(path[len("/api/v1/papers/") :]).rstrip("/")
            paper = self.by_arxiv.get(arxiv_id)
            if paper is None:
                return 404, {"detail": "Not found."}
            if params.get("include_resources") != "true":
                paper = {k: v for k, v in paper.items() if k not in RESOURCE_KEYS}
            return 200, {"data": paper} if drift in ("drift", "type") else paper
        if path.startswith("/api/papers/"):
            paper = self.hf_papers.get(unquote(path[len("/api/papers/") :]).rstrip("/"))
            if paper is None:
                return 404, {"error": "Paper not found"}
            return 200, {"data": paper} if drift in ("drift", "type") else paper
        if path.rstrip("/") == "/api/daily_papers":
            return self._daily(params, drift)
        return 404, {"detail": f"no such endpoint: {path}"}

    def _paper_list(self, params: dict[str, str], drift: Any) -> tuple[int, Any]:
        page, size = _int(params, "page", 1, 1), _int(params, "page_size", 50, 1)
        if size > 100:
            raise _BadRequest(400, "page_size must be between 1 and 100")
        start, end = _day(params, "start_date", "0001-01-01"), _day(params, "end_date", "9999-12-31")
        papers = self.window(start, end)
        if params.get("include_resources") != "true":
            papers = [{k: v for k, v in p.items() if k not in RESOURCE_KEYS} for p in papers]
        chunk = papers[(page - 1) * size : page * size]
        if self.list_shape == "bare":
            return 200, chunk if drift != "type" else {"papers": chunk}
        if not chunk and page > 1:
            return 404, {"detail": "Invalid page."}
        applied = {k: params[k] for k in FILTERS if k in params}

        def link(n: int) -> str | None:
            if n < 1 or (n - 1) * size >= len(papers):
                return None
            return f"{self.pwc_url}/papers/?{urlencode({**params, 'page': n})}"

        if self.list_shape == "total":
            body: dict[str, Any] = {"total": len(papers), "page": page, "page_size": size, "items": chunk}
        else:
            body = {
                "count": len(papers),
                "next": link(page + 1),
                "previous": link(page - 1),
                "results": chunk,
            }
        if drift != "noecho":
            body["applied_filters"] = applied
        key = "items" if self.list_shape == "total" else "results"
        if drift == "drift":
            body["data"] = body.pop(key)
        elif drift == "type":
            body[key] = {str(i): p for i, p in enumerate(chunk)}
        return 200, body

    def _daily(self, params: dict[str, str], drift: Any) -> tuple[int, Any]:
        limit, p = _int(params, "limit", 50, 1), _int(params, "p", 0, 0)
        if limit > 100:
            raise _BadRequest(400, "limit must be between 1 and 100")
        day = _day(params, "date", "")
        items = self.hf_daily.get(day, [])[p * limit : (p + 1) * limit]
        return 200, {"papers": items} if drift in ("drift", "type") else items


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _params(query: str) -> dict[str, str]:
    return dict(parse_qsl(query, keep_blank_values=True))


def _int(params: dict[str, str], name: str, default: int, least: int) -> int:
    value = params.get(name, str(default))
    if not value.isdigit() or int(value) < least:
        raise _BadRequest(400, f"{name} must be an integer ≥ {least}, not {value!r}")
    return int(value)


def _day(params: dict[str, str], name: str, default: str) -> str:
    value = params.get(name, default)
    try:
        return date.fromisoformat(value).isoformat() if value != default else value
    except ValueError:
        raise _BadRequest(400, f"{name} must be YYYY-MM-DD, not {value!r}") from None


def main() -> None:
    args = runner_parser(__doc__, port=8767).parse_args()
    fixtures = args.fixtures if args.fixtures.is_dir() else None
    server = PwCFixtureServer(fixtures_dir=fixtures, port=args.port)
    server.run_forever(
        lambda: f"PAPERRADAR_PWC_API_URL={server.pwc_url} PAPERRADAR_HF_API_URL={server.hf_url}"
    )


if __name__ == "__main__":
    main()
