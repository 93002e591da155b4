"""The `weekly-digest` flow under Prefect: files written, both channels delivered; a delivery
retried only when its failure may pass (500: again, 404: never), the flow then Failed with
the files kept; no secret in the flow's logs."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from core.errors import PaperradarError
from tests.digest import servers
from tests.digest.conftest import CATEGORIES
from tests.digest.servers import PASSWORD, USER, SMTPServer

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]


@pytest.fixture()
def flow_home(digest_home: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(digest_home, home, symlinks=True)
    monkeypatch.setenv("PAPERRADAR_CATEGORIES", ",".join(CATEGORIES))
    monkeypatch.setenv("PAPERRADAR_FLOW_RETRIES", "1")
    monkeypatch.setenv("PAPERRADAR_FLOW_RETRY_DELAY", "0")
    return home


def logs(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    """Every log record at any level (httpx's and Prefect's included) and the console, less
    the test SMTP server's own log ('mail.log': it logs what clients send it)."""
    out = capfd.readouterr()
    records = [f"{r.name} {r.getMessage()}" for r in caplog.records if r.name != "mail.log"]
    console = [line for line in (out.out + out.err).splitlines() if "mail.log" not in line]
    return "\n".join(records + console)


def test_the_flow_writes_and_delivers(flow_home: Path, prefect_harness: None,
                                      monkeypatch: pytest.MonkeyPatch,
                                      caplog: pytest.LogCaptureFixture,
                                      capfd: pytest.CaptureFixture[str]) -> None:
    from flows.digest import weekly_digest

    caplog.set_level(logging.DEBUG)
    with SMTPServer(None) as smtp, servers.Webhook(200) as hook:
        for name, value in (("SMTP_HOST", "127.0.0.1"), ("SMTP_PORT", str(smtp.port)),
                            ("SMTP_STARTTLS", "false"), ("SMTP_USER", USER),
                            ("SMTP_PASSWORD", PASSWORD), ("DIGEST_TO", "ada@example.org"),
                            ("WEBHOOK_URL", hook.url())):
            monkeypatch.setenv(f"PAPERRADAR_{name}", value)
        summary = weekly_digest()  # the default week: the last complete one, 2026-W19
    md = (flow_home / "digests" / "2026-W19.md").read_text()
    assert (flow_home / "digests" / "2026-W19.html").exists()
    assert summary["week"] == "2026-W19" and len(summary["delivered"]) == 2
    assert hook.bodies == [{"text": md}] and len(smtp.messages) == 1
    text = logs(caplog, capfd)
    assert "digest 2026-W19:" in text and "posted to the webhook at 127.0.0.1:" in text
    assert PASSWORD not in text and "SECRET-token-XYZ" not in text


@pytest.mark.parametrize(("status", "posts"), [(500, 2), (404, 1)])
def test_a_delivery_is_retried_only_when_it_may_pass(flow_home: Path, prefect_harness: None,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture,
                                                     capfd: pytest.CaptureFixture[str],
                                                     status: int, posts: int) -> None:
    from flows.digest import weekly_digest

    caplog.set_level(logging.DEBUG)
    with servers.Webhook(status) as hook:
        monkeypatch.setenv("PAPERRADAR_WEBHOOK_URL", hook.url())
        with pytest.raises(PaperradarError, match=f"webhook to 127.0.0.1:.* failed: HTTP {status}"):
            weekly_digest(week="2026-W19")
    assert len(hook.bodies) == posts  # PAPERRADAR_FLOW_RETRIES=1: one retry of a 500
    assert (flow_home / "digests" / "2026-W19.md").read_text() == hook.bodies[0]["text"]
    text = logs(caplog, capfd)
    assert "SECRET-token-XYZ" not in text
