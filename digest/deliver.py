"""Delivery of a written digest: email over SMTP and a webhook POST; secrets never in messages.

Email is one multipart/alternative message (the Markdown as text/plain, the HTML as
text/html), sent with STARTTLS unless told otherwise, and logged in only when a user is
set. The webhook gets `{"text": <Markdown>}`, what Slack's incoming webhooks (and
Mattermost's) take. A channel that fails raises DeliveryError: one line naming the channel
and the server (host only: a webhook URL is a credential, and so is the password), and
whether trying again later may help (`transient`: unreachable, timeouts, SMTP 4xx, HTTP
429/5xx) or not (refused login, refused recipients, HTTP 4xx). Retrying is the caller's
choice (flows/digest.py); the digest files are written before any delivery and stay.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

import httpx

from core.errors import PaperradarError, UserInputError
from core.settings import Settings

TIMEOUT_S = 30.0  # per connection attempt; a slow server is a transient failure


class DeliveryError(PaperradarError):
    """A digest could not be delivered by one channel (the written files are kept)."""

    def __init__(self, channel: str, target: str, reason: str, transient: bool) -> None:
        super().__init__(channel, target, reason, transient)
        self.channel, self.target, self.reason, self.transient = channel, target, reason, transient

    def __str__(self) -> str:
        again = " (may pass: try again later)" if self.transient else ""
        return f"{self.channel} to {self.target} failed: {self.reason}{again}"


@dataclass(frozen=True)
class Email:
    """An SMTP server and the message's sender and recipients."""

    host: str
    port: int
    starttls: bool
    user: str
    password: str
    sender: str
    recipients: tuple[str, ...]

    def __repr__(self) -> str:  # never the password
        return f"Email({self.where}, starttls={self.starttls}, to={len(self.recipients)})"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Webhook:
    """A webhook URL (a credential: only its host is ever shown)."""

    url: str

    def __repr__(self) -> str:
        return f"Webhook({self.host})"

    @property
    def host(self) -> str:
        parts = urlsplit(self.url)
        return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname \
            else "the webhook"


def channels(settings: Settings) -> tuple[Email | None, Webhook | None]:
    """The channels the settings configure (None where not set); UserInputError for a
    half-configured one (a server without recipients, a URL that is not http(s))."""
    email = None
    if settings.smtp_host:
        if not settings.digest_to:
            raise UserInputError("PAPERRADAR_SMTP_HOST is set but PAPERRADAR_DIGEST_TO is empty: "
                                 "name the recipients, comma separated")
        email = Email(settings.smtp_host, settings.smtp_port, settings.smtp_starttls,
                      settings.smtp_user, settings.smtp_password.get_secret_value(),
                      settings.digest_from, settings.digest_to)
    hook = None
    url = settings.webhook_url.get_secret_value().strip()
    if url:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise UserInputError("PAPERRADAR_WEBHOOK_URL is not an http(s) URL")
        hook = Webhook(url)
    return email, hook


def message(subject: str, sender: str, recipients: tuple[str, ...], text: str,
            html: str) -> EmailMessage:
    """multipart/alternative: the Markdown first (plain text), the HTML second (preferred)."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


def send_email(email: Email, subject: str, text: str, html: str, *,
               tls: ssl.SSLContext | None = None, timeout: float = TIMEOUT_S) -> None:
    """Send the digest to `email.recipients`. `tls` verifies the server's certificate
    (default: the system's trust store); DeliveryError on any failure."""
    msg = message(subject, email.sender, email.recipients, text, html)
    try:
        with smtplib.SMTP(email.host, email.port, timeout=timeout) as smtp:
            if email.starttls:
                smtp.starttls(context=tls or ssl.create_default_context())
            if email.user:
                smtp.login(email.user, email.password)
            smtp.send_message(msg)
    except Exception as exc:  # every failure becomes one clean line, secrets removed
        reason, transient = _smtp_reason(exc)
        raise DeliveryError("email", email.where, _redact(reason, email.password),
                            transient) from None


def _smtp_reason(exc: BaseException) -> tuple[str, bool]:
    """What went wrong in words, and whether it may pass."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (f"the server refused the login ({exc.smtp_code}): check PAPERRADAR_SMTP_USER "
                "and PAPERRADAR_SMTP_PASSWORD", False)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return ("the server does not offer STARTTLS or AUTH (PAPERRADAR_SMTP_STARTTLS=false "
                "sends unencrypted: only on a trusted network)", False)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        return (f"the server refused the recipients ({', '.join(map(str, codes))}): check "
                "PAPERRADAR_DIGEST_TO", all(400 <= c < 500 for c in codes))
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        return f"the server answered {exc.smtp_code} {_first_line(text)}", 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection", True
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {_first_line(str(exc.reason or exc))}", False
    if isinstance(exc, socket.gaierror):
        return "unknown host (check PAPERRADAR_SMTP_HOST)", False
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running, and the port right?)", True
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer in time", True
    if isinstance(exc, OSError):
        return f"cannot connect: {exc.strerror or type(exc).__name__}", True
    return f"{type(exc).__name__}: {_first_line(str(exc))}", False


def post_webhook(hook: Webhook, text: str, *, client: httpx.Client | None = None,
                 timeout: float = TIMEOUT_S) -> None:
    """POST `{"text": text}` to the webhook; DeliveryError unless it answers 2xx."""
    try:
        with _redacted_in("httpx", hook.url, hook.host):  # httpx logs each request's URL
            if client is not None:
                response = client.post(hook.url, json={"text": text}, timeout=timeout)
            else:
                response = httpx.post(hook.url, json={"text": text}, timeout=timeout)
    except httpx.TimeoutException:
        raise DeliveryError("webhook", hook.host, "no answer in time", True) from None
    except httpx.ConnectError as exc:
        refused = "refused" in str(exc).lower()
        reason = "connection refused" if refused else "cannot connect"
        raise DeliveryError("webhook", hook.host, reason, True) from None
    except httpx.HTTPError as exc:
        raise DeliveryError("webhook", hook.host, type(exc).__name__, True) from None
    if response.is_success:
        return
    status = response.status_code
    transient = status == 429 or status >= 500
    hint = "" if transient else ": check PAPERRADAR_WEBHOOK_URL"
    raise DeliveryError("webhook", hook.host, f"HTTP {status} {response.reason_phrase}{hint}",
                        transient)


class _Redact(logging.Filter):
    """Rewrites a logger's records so that `secret` reads as `shown`."""

    def __init__(self, secret: str, shown: str) -> None:
        super().__init__()
        self.secret, self.shown = secret, shown

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self.secret in text:
            record.msg, record.args = text.replace(self.secret, self.shown), ()
        return True


@contextmanager
def _redacted_in(logger: str, secret: str, shown: str) -> Iterator[None]:
    """While the block runs, `logger`'s records show `shown` instead of `secret`."""
    redact = _Redact(secret, shown)
    target = logging.getLogger(logger)
    target.addFilter(redact)
    try:
        yield
    finally:
        target.removeFilter(redact)


def _redact(text: str, *secrets: str) -> str:
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else ""
