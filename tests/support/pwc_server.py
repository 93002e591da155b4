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
the most requests handled at once.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

DATA_DIR = Path(__file__).resolve().parents[1] / "ingest" / "data" / "pwc"
JSON_TYPE = "application/json; charset=utf-8"
RESOURCE_KEYS = ("repositories", "project_pages", "hf_models", "hf_datasets", "hf_spaces")
FILTERS = ("start_date", "end_date", "conference", "task", "method", "framework", "organization")
FAULTS = ("status", "reset", "truncate", "body", "drift", "noecho", "pass")
LEGACY_PAPER = ("1406.2661", "pwc/legacy-com-api/codingpot_paper_get_response.json")

Fault = tuple[Any, ...]


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


class PwCFixtureServer:
    """Context manager serving both APIs on 127.0.0.1 (random port) from constructed payloads."""

    def __init__(self, data_dir: Path = DATA_DIR, fixtures_dir: Path | None = None, port: int = 0) -> None:
        self.pwc_papers: list[dict[str, Any]] = _load(data_dir / "pwc_papers.json")
        self.hf_papers = {p["id"]: p for p in _load(data_dir / "hf_papers.json")}
        self.hf_daily: dict[str, list[dict[str, Any]]] = _load(data_dir / "hf_daily.json")
        self.by_arxiv = {p["arxiv_id"]: p for p in self.pwc_papers if p.get("arxiv_id")}
        self.legacy: dict[str, bytes] = {}
        if fixtures_dir is not None and (fixtures_dir / LEGACY_PAPER[1]).is_file():
            self.legacy[LEGACY_PAPER[0]] = (fixtures_dir / LEGACY_PAPER[1]).read_bytes()
        self.list_shape = "count"
        self.latency = 0.0
        self.requests: list[Request] = []
        self.faults_served: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.port = port
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pwc_url(self) -> str:
        return self.base_url + "/api/v1"

    @property
    def hf_url(self) -> str:
        return self.base_url + "/api"

    def __enter__(self) -> PwCFixtureServer:
        self._httpd = _HTTPServer(self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="pwc-fixture-server", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def inject(self, faults: list[Fault]) -> None:
        """Queue faults; each one replaces (or alters) the normal answer to the next request."""
        for fault in faults:
            if not fault or fault[0] not in FAULTS:
                raise ValueError(f"unknown fault {fault!r} (one of {', '.join(FAULTS)})")
        with self._lock:
            self._faults.extend(tuple(f) for f in faults)

    def reset(self) -> None:
        """Forget requests and pending faults; default shape, no latency (between tests)."""
        with self._lock:
            self.requests.clear()
            self.faults_served.clear()
            self._faults.clear()
            self.list_shape, self.latency = "count", 0.0
            self.in_flight = self.max_in_flight = 0

    def window(self, start: str, end: str) -> list[dict[str, Any]]:
        """The papers a window lists, in the order the server pages them."""
        return [p for p in self.pwc_papers if start <= p["published"] <= end]

    def _arrive(self, path: str, params: dict[str, str], headers: dict[str, str]) -> Fault | None:
        with self._lock:
            self.requests.append(Request(time.monotonic(), path, params, headers))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            fault = self._faults.popleft() if self._faults else None
            if fault is not None and fault[0] != "pass":
                self.faults_served.append(fault[0])
                return fault
            return None

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    # ------------------------------------------------------------ answers

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


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet server
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        owner = self.server.owner
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        fault = owner._arrive(parts.path, params, {k.lower(): v for k, v in self.headers.items()})
        try:
            if owner.latency:
                time.sleep(owner.latency)
            self._answer(owner, parts.path, params, fault)
        finally:
            owner._leave()

    def _answer(
        self, owner: PwCFixtureServer, path: str, params: dict[str, str], fault: Fault | None
    ) -> None:
        kind = fault[0] if fault else None
        if kind == "reset":
            linger = struct.pack("ii", 1, 0)  # close() then sends RST instead of FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.server.aborted.add(id(self.connection))
            self.close_connection = True
            return
        if kind == "body":  # ("body", status, bytes, content type)
            assert fault is not None
            self._send(int(fault[1]), fault[2], fault[3], {})
            return
        if kind == "status":
            assert fault is not None
            headers = fault[2] if len(fault) > 2 else {}
            body = json.dumps({"detail": f"HTTP {fault[1]}"}).encode()
            self._send(int(fault[1]), body, JSON_TYPE, headers)
            return
        try:
            status, value = owner.respond(path, params, fault if kind in ("drift", "noecho") else None)
        except _BadRequest as exc:
            status, value = exc.status, {"detail": exc.detail}
        body = json.dumps(value, ensure_ascii=False).encode()
        if path.startswith("/api/v1/papers/") and path.rstrip("/") != "/api/v1/papers":
            arxiv_id = unquote(path[len("/api/v1/papers/") :]).rstrip("/")
            if arxiv_id in owner.legacy:  # the recorded legacy answer, verbatim
                status, body = 200, owner.legacy[arxiv_id]
        if kind == "truncate":  # the first part of the right body, then close
            assert fault is not None
            keep = float(fault[1]) if len(fault) > 1 else 0.5
            body, self.close_connection = body[: int(len(body) * keep)], True
        self._send(status, body, JSON_TYPE, {})

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: PwCFixtureServer) -> None:
        super().__init__(("127.0.0.1", owner.port), _Handler)
        self.owner = owner
        self.aborted: set[int] = set()

    def shutdown_request(self, request: Any) -> None:
        if id(request) in self.aborted:  # "reset" fault: close at once, the RST goes out
            self.aborted.discard(id(request))
            request.close()
        else:
            super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # hang-ups are expected in fault tests
            super().handle_error(request, client_address)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=Path("../shared/fixtures"))
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    fixtures = args.fixtures if args.fixtures.is_dir() else None
    with PwCFixtureServer(fixtures_dir=fixtures, port=args.port) as server:
        print(f"PAPERRADAR_PWC_API_URL={server.pwc_url} PAPERRADAR_HF_API_URL={server.hf_url}",
              flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
