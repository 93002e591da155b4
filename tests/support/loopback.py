"""Owns LoopbackServer: the 127.0.0.1 server thread, request log and fault queue of the fixture servers.

A fixture server subclasses `LoopbackServer` and supplies only what is its own: `answer()`
(routing and payload rendering) and, where they differ, `content_type`, `status_body()`,
`error_body()`, `_record()`, `fault_kinds` and `handler` (a `LoopbackHandler` subclass, for
socket options). Everything else is here:

- ``with server:`` serves on 127.0.0.1 (``port`` 0: a free one) from a daemon thread;
  ``base_url`` is ``http://127.0.0.1:<port>``.
- ``inject(faults)`` queues faults, each replacing (or altering) the answer to the next
  request: ("status", code, headers) (a short body from `status_body()`), ("reset",) (the
  connection is closed with a TCP RST, no answer), ("truncate", fraction) (the first part of
  the right body, then the connection closes), ("body", status, bytes, content type) and
  ("pass",) (answered normally; it delays the next fault). A server may accept fewer kinds
  or add its own (`fault_kinds`); those reach `answer()`.
  ``inject_every(n, faults)`` instead faults every n-th request, cycling through `faults`.
- ``requests`` logs every request, monotonic time first (``(time, target)`` unless
  `_record()` says otherwise); ``hits`` counts them for the server's lifetime,
  ``faults_served`` the kinds of the faults applied, ``max_in_flight`` the most requests
  handled at once. ``latency`` delays every answer (to see requests overlap).
- ``reset()`` forgets requests, served and pending faults, latency and the in-flight count.
- ``run_forever()`` and `runner_parser()` make the ``python -m`` runners;
  `server_fixtures()` the ``server``/``srv`` pytest fixtures of a test module.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

Fault = tuple[Any, ...]


class LoopbackHandler(BaseHTTPRequestHandler):
    """Applies the owner's faults around its `answer()`."""

    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet server
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        owner = self.server.owner
        fault = owner._arrive(self.path, self.headers)
        try:
            if owner.latency:
                time.sleep(owner.latency)
            self._reply(owner, fault)
        finally:
            owner._leave()

    def _reply(self, owner: LoopbackServer, fault: Fault | None) -> None:
        kind, *args = fault or (None,)
        if kind == "reset":
            linger = struct.pack("ii", 1, 0)  # close() then sends RST instead of FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.server.aborted.add(id(self.connection))
            self.close_connection = True
            return
        if kind == "body":  # ("body", status, bytes, content type)
            self._send(int(args[0]), args[1], args[2], {})
            return
        if kind == "status":  # ("status", code, headers)
            headers = args[1] if len(args) > 1 else {}
            self._send(int(args[0]), *owner.status_body(int(args[0])), headers)
            return
        try:
            status, body = owner.answer(self.path, fault)
        except Exception as exc:  # a bug here should reach the client, not hang it
            traceback.print_exc()
            status, body = 500, owner.error_body(exc)
        if kind == "truncate":  # the first part of the right body, then close
            keep = float(args[0]) if args else 0.5
            body, self.close_connection = body[: int(len(body) * keep)], True
        self._send(status, body, owner.content_type, {})

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

    def __init__(self, owner: LoopbackServer) -> None:
        super().__init__(("127.0.0.1", owner.port), owner.handler)
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


class LoopbackServer:
    """Context manager serving `answer()` on 127.0.0.1, with faults on demand (see module doc)."""

    content_type = "text/plain; charset=utf-8"
    fault_kinds: tuple[str, ...] = ("status", "reset", "truncate", "body", "pass")
    thread_name = "loopback-server"
    handler: type[LoopbackHandler] = LoopbackHandler

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.requests: list[Any] = []
        self.hits = 0
        self.faults_served: list[str] = []
        self.latency = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self._faults: deque[Fault] = deque()
        self._every: tuple[int, list[Fault]] | None = None
        self._count_from = 0
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._httpd = _HTTPServer(self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # ------------------------------------------------------------ what a server says

    def answer(self, target: str, fault: Fault | None) -> tuple[int, bytes]:
        """(status, body) for a request target such as ``/api/query?id_list=...``.

        `fault` is None, or a ("truncate", ...) fault or one of the server's own kinds.
        """
        raise NotImplementedError

    def status_body(self, code: int) -> tuple[bytes, str]:
        """(body, content type) of a ("status", code, headers) fault."""
        return f"HTTP {code}\n".encode(), "text/plain"

    def error_body(self, exc: Exception) -> bytes:
        """The body of the 500 sent when `answer()` raises (a bug in the server)."""
        return f"internal error: {exc!r}\n".encode()

    def _record(self, at: float, target: str, headers: Message) -> Any:
        """The `requests` entry for one request."""
        return at, target

    # ------------------------------------------------------------ faults and the request log

    def inject(self, faults: list[Fault]) -> None:
        """Queue faults; each one replaces (or alters) the normal answer to the next request."""
        self._check(faults)
        with self._lock:
            self._faults.extend(tuple(f) for f in faults)

    def inject_every(self, n: int, faults: list[Fault]) -> None:
        """Fault every n-th request from now on, cycling through `faults`; n=0 stops.

        Faults still queued by `inject` are dropped.
        """
        self._check(faults)
        with self._lock:
            self._faults.clear()
            self._every = (n, list(faults)) if n else None
            self._count_from = self.hits

    def reset(self) -> None:
        """Forget requests, served and pending faults; no latency (between tests)."""
        with self._lock:
            self.requests.clear()
            self.faults_served.clear()
            self._faults.clear()
            self._every = None
            self.latency = 0.0
            self.in_flight = self.max_in_flight = 0

    def _check(self, faults: list[Fault]) -> None:
        for fault in faults:
            if not fault or fault[0] not in self.fault_kinds:
                raise ValueError(f"unknown fault {fault!r} (one of {', '.join(self.fault_kinds)})")

    def _arrive(self, target: str, headers: Message) -> Fault | None:
        """Log a request and take the fault it gets, if any ("pass" gets none)."""
        with self._lock:
            self.requests.append(self._record(time.monotonic(), target, headers))
            self.hits += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            fault = self._faults.popleft() if self._faults else None
            if fault is None and self._every is not None:
                n, cycle = self._every
                seen = self.hits - self._count_from
                if seen % n == 0:
                    fault = cycle[(seen // n - 1) % len(cycle)]
            if fault is None or fault[0] == "pass":
                return None
            self.faults_served.append(fault[0])
            return fault

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    # ------------------------------------------------------------ running it by hand

    def run_forever(self, banner: Callable[[], str]) -> None:
        """Serve until Ctrl-C, after printing `banner()` (the URLs, once the port is known)."""
        with self:
            print(banner(), flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass


def runner_parser(doc: str, port: int) -> argparse.ArgumentParser:
    """Arguments of a ``python -m`` runner: ``--fixtures`` (../shared/fixtures) and ``--port``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=Path("../shared/fixtures"))
    parser.add_argument("--port", type=int, default=port)
    return parser


def server_fixtures(make: Callable[[], LoopbackServer]) -> tuple[Any, Any]:
    """pytest fixtures ``server`` (one `make()` server per module) and ``srv`` (it, reset).

    In a test module: ``server, srv = server_fixtures(PwCFixtureServer)``; keep those two
    names, since ``srv`` asks for ``server`` by name.
    """
    import pytest  # only tests need it; the runners do not

    @pytest.fixture(scope="module")
    def server() -> Iterator[LoopbackServer]:
        with make() as started:
            yield started

    @pytest.fixture()
    def srv(server: LoopbackServer) -> LoopbackServer:
        server.reset()
        return server

    return server, srv
