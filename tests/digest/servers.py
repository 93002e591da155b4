"""Real servers on 127.0.0.1 for the delivery tests: SMTP (aiosmtpd, optionally STARTTLS with a
trustme test CA and AUTH) and an HTTP webhook receiver (http.server) with a chosen status."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "digest-bot", "pw-S3cr3t-9b1e"


def free_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                  auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() \
        and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


class SMTPServer:
    """aiosmtpd on 127.0.0.1 that requires a login; with `tls_dir`, also STARTTLS before it,
    its certificate from a test CA whose PEM is written to `tls_dir/ca.pem`."""

    def __init__(self, tls_dir: Path | None = None) -> None:
        self.inbox = _Inbox()
        self.port = free_port()
        self.ca_pem: Path | None = None
        self.client_tls: ssl.SSLContext | None = None
        kwargs: dict[str, Any] = {"authenticator": _authenticate, "auth_required": True,
                                  "auth_require_tls": tls_dir is not None}
        if tls_dir is not None:
            import trustme

            ca = trustme.CA()
            server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1").configure_cert(server_tls)
            self.client_tls = ssl.create_default_context()
            ca.configure_trust(self.client_tls)
            self.ca_pem = tls_dir / "ca.pem"
            ca.cert_pem.write_to_path(str(self.ca_pem))
            kwargs.update(tls_context=server_tls, require_starttls=True)
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self) -> SMTPServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        return self.inbox.messages


class Webhook:
    """An HTTP server that records POSTed JSON bodies and answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.bodies: list[Any] = []
        self.paths: list[str] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                size = int(self.headers.get("Content-Length", 0))
                hook.paths.append(self.path)
                hook.bodies.append(json.loads(self.rfile.read(size)))
                self.send_response(hook.status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if hook.status == 200 else b"no_service")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/services/T0001/B0002/SECRET-token-XYZ") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
