"""Delivery against real servers on 127.0.0.1: aiosmtpd (STARTTLS with a test CA, and a plain
login) and an HTTP webhook; a refused connection, a 500 and a refused login each give one
clear line and exit 1 with the files kept; no secret in the output, the files or the
database."""

from __future__ import annotations

import shutil
from email.message import EmailMessage
from pathlib import Path

import pytest

from core.publish import current_snapshot
from core.settings import Settings
from core.store import Store
from digest import DeliveryError, Email, Webhook, channels, make, post_webhook, send_email
from flows.cli import main
from tests.digest import servers
from tests.digest.conftest import CATEGORIES, W19
from tests.digest.servers import PASSWORD, USER, SMTPServer, free_port

TODAY_WEEK = "2026-W19"
# The plain-login server is deliberate (the path without STARTTLS): aiosmtpd warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(scope="module")
def made(digest_home: Path):  # noqa: ANN201 - a Made
    with Store.open_read_only(current_snapshot(digest_home).db_path) as db:
        return make(db, W19, CATEGORIES, W19.end)


@pytest.fixture()
def cli_home(digest_home: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the published home as PAPERRADAR_HOME (the `home` fixture: no other
    PAPERRADAR_* settings)."""
    shutil.copytree(digest_home, home, symlinks=True)
    monkeypatch.setenv("PAPERRADAR_CATEGORIES", ",".join(CATEGORIES))
    return home


def parts(message: EmailMessage) -> dict[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    # SMTP carries lines ending in CRLF: compare the text as written
    return {p.get_content_type(): p.get_content().replace("\r\n", "\n")
            for p in message.iter_parts()}


def secrets_absent(*texts: str, home: Path) -> None:
    """Neither secret in these texts, nor in any file under `home` (digests, DuckDB files)."""
    for secret in (PASSWORD, "SECRET-token-XYZ"):
        for text in texts:
            assert secret not in text
        for path in home.rglob("*"):
            if path.is_file() and not path.is_symlink():
                assert secret.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("starttls", [True, False], ids=["starttls", "plain-login"])
def test_the_mail_arrives_with_both_parts(made, tmp_path: Path, starttls: bool) -> None:
    with SMTPServer(tmp_path if starttls else None) as server:
        email = Email("127.0.0.1", server.port, starttls, USER, PASSWORD, "radar@example.org",
                      ("ada@example.org", "bob@example.org"))
        send_email(email, made.subject, made.markdown, made.html, tls=server.client_tls)
    [message] = server.messages
    assert message["Subject"] == made.subject and message["From"] == "radar@example.org"
    assert server.inbox.envelopes[0].rcpt_tos == ["ada@example.org", "bob@example.org"]
    got = parts(message)
    assert list(got) == ["text/plain", "text/html"]  # the preferred part last
    assert got["text/plain"] == made.markdown and got["text/html"] == made.html
    assert PASSWORD not in repr(email)


def test_a_refused_login_is_not_worth_retrying(made, tmp_path: Path) -> None:
    with SMTPServer(None) as server:
        email = Email("127.0.0.1", server.port, False, USER, "wrong-pw-1234", "a@b.c", ("d@e.f",))
        with pytest.raises(DeliveryError) as caught:
            send_email(email, made.subject, made.markdown, made.html)
    assert not caught.value.transient and not server.messages
    assert str(caught.value) == (f"email to 127.0.0.1:{server.port} failed: the server refused the "
                                 "login (535): check PAPERRADAR_SMTP_USER and PAPERRADAR_SMTP_PASSWORD")


def test_a_server_without_starttls_is_refused_not_skipped(made) -> None:
    with SMTPServer(None) as server:
        email = Email("127.0.0.1", server.port, True, USER, PASSWORD, "a@b.c", ("d@e.f",))
        with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
            send_email(email, made.subject, made.markdown, made.html)
    assert not server.messages


def test_the_webhook_gets_the_markdown(made) -> None:
    with servers.Webhook(200) as hook:
        post_webhook(Webhook(hook.url()), made.markdown)
    assert hook.bodies == [{"text": made.markdown}]
    assert hook.paths == ["/services/T0001/B0002/SECRET-token-XYZ"]


@pytest.mark.parametrize(("status", "transient"), [(500, True), (429, True), (404, False)])
def test_webhook_errors_name_the_host_only(made, status: int, transient: bool) -> None:
    with servers.Webhook(status) as hook:
        with pytest.raises(DeliveryError) as caught:
            post_webhook(Webhook(hook.url()), made.markdown)
    host = f"127.0.0.1:{hook.server.server_address[1]}"
    assert str(caught.value).startswith(f"webhook to {host} failed: HTTP {status} ")
    assert caught.value.transient is transient and "SECRET" not in str(caught.value)


def test_channels_from_the_settings(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    from core.errors import UserInputError

    assert channels(Settings()) == (None, None)
    monkeypatch.setenv("PAPERRADAR_SMTP_HOST", "smtp.example.org")
    with pytest.raises(UserInputError, match="PAPERRADAR_DIGEST_TO is empty"):
        channels(Settings())
    monkeypatch.setenv("PAPERRADAR_DIGEST_TO", "ada@example.org, bob@example.org")
    monkeypatch.setenv("PAPERRADAR_SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("PAPERRADAR_WEBHOOK_URL", "https://hooks.example.com/services/SECRET-token-XYZ")
    email, hook = channels(Settings())
    assert email is not None and hook is not None
    assert (email.where, email.starttls, email.recipients) == (
        "smtp.example.org:587", True, ("ada@example.org", "bob@example.org"))
    assert hook.host == "hooks.example.com"
    shown = f"{Settings()!r} {email!r} {hook!r}"
    assert PASSWORD not in shown and "SECRET-token-XYZ" not in shown
    monkeypatch.setenv("PAPERRADAR_WEBHOOK_URL", "hooks.example.com/x")
    with pytest.raises(UserInputError, match="not an http"):
        channels(Settings())


# ---------------------------------------------------------------- the command


def test_digest_send_mails_and_posts(cli_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with SMTPServer(tmp_path) as server, servers.Webhook(200) as hook:
        assert server.ca_pem is not None
        monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_pem))  # the system trust store, here
        for name, value in (("SMTP_HOST", "127.0.0.1"), ("SMTP_PORT", str(server.port)),
                            ("SMTP_USER", USER), ("SMTP_PASSWORD", PASSWORD),
                            ("DIGEST_TO", "ada@example.org"), ("DIGEST_FROM", "radar@example.org"),
                            ("WEBHOOK_URL", hook.url())):
            monkeypatch.setenv(f"PAPERRADAR_{name}", value)
        assert main(["digest", "--week", TODAY_WEEK, "--send"]) == 0
    out = capsys.readouterr()
    md = (cli_home / "digests" / f"{TODAY_WEEK}.md").read_text()
    html = (cli_home / "digests" / f"{TODAY_WEEK}.html").read_text()
    [message] = server.messages
    assert parts(message) == {"text/plain": md, "text/html": html}
    assert hook.bodies == [{"text": md}]
    assert f"mailed to 1 recipient(s) via 127.0.0.1:{server.port}" in out.err
    assert f"posted to the webhook at 127.0.0.1:{hook.server.server_address[1]}" in out.err
    secrets_absent(out.out, out.err, home=cli_home)


def test_a_refused_connection_keeps_the_files(cli_home: Path, capsys: pytest.CaptureFixture,
                                              monkeypatch: pytest.MonkeyPatch, made) -> None:
    port = free_port()
    monkeypatch.setenv("PAPERRADAR_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PAPERRADAR_SMTP_PORT", str(port))
    monkeypatch.setenv("PAPERRADAR_SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("PAPERRADAR_SMTP_USER", USER)
    monkeypatch.setenv("PAPERRADAR_DIGEST_TO", "ada@example.org")
    assert main(["digest", "--week", TODAY_WEEK, "--send"]) == 1
    err = capsys.readouterr().err
    [line] = [x for x in err.splitlines() if x.startswith("paperradar: error:")]
    assert line == (f"paperradar: error: email to 127.0.0.1:{port} failed: connection refused (is "
                    "the server running, and the port right?) (may pass: try again later) (the "
                    f"digest is kept: {TODAY_WEEK}.md, {TODAY_WEEK}.html in {cli_home / 'digests'})")
    assert "Traceback" not in err
    assert (cli_home / "digests" / f"{TODAY_WEEK}.md").read_text() == made.markdown
    assert (cli_home / "digests" / f"{TODAY_WEEK}.html").read_text() == made.html
    secrets_absent(err, home=cli_home)


def test_a_500_keeps_the_files_and_names_the_host_only(cli_home: Path, made,
                                                       capsys: pytest.CaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    with servers.Webhook(500) as hook:
        monkeypatch.setenv("PAPERRADAR_WEBHOOK_URL", hook.url())
        assert main(["digest", "--week", TODAY_WEEK, "--send", "--format", "md"]) == 1
    err = capsys.readouterr().err
    assert (f"paperradar: error: webhook to 127.0.0.1:{hook.server.server_address[1]} failed: HTTP "
            "500 Internal Server Error (may pass: try again later) (the digest is kept: "
            f"{TODAY_WEEK}.md in {cli_home / 'digests'})") in err
    assert hook.bodies == [{"text": made.markdown}]
    assert (cli_home / "digests" / f"{TODAY_WEEK}.md").read_text() == made.markdown
    assert not (cli_home / "digests" / f"{TODAY_WEEK}.html").exists()  # --format md
    secrets_absent(err, home=cli_home)


def test_send_without_a_channel_writes_then_exits_2(cli_home: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "elsewhere"
    assert main(["digest", "--week", TODAY_WEEK, "--out", str(out), "--send"]) == 2
    err = capsys.readouterr().err
    assert "paperradar: error: --send: no delivery channel configured" in err
    assert sorted(p.name for p in out.iterdir()) == [f"{TODAY_WEEK}.html", f"{TODAY_WEEK}.md"]
    assert not (cli_home / "digests").exists()  # --out: nothing in the home


@pytest.mark.parametrize(("args", "message"), [
    (["--week", "2026-W60"], "2026 has no ISO week 60"),
    (["--format", "pdf"], "unknown --format 'pdf': use md, html or md,html"),
])
def test_bad_input_is_one_line_exit_2(cli_home: Path, capsys: pytest.CaptureFixture,
                                      args: list[str], message: str) -> None:
    assert main(["digest", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(message) and "\n" not in err
    assert not (cli_home / "digests").exists()


def test_without_a_published_database(home: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["digest"]) == 2
    assert "no published database" in capsys.readouterr().err
