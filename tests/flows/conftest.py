"""Fixtures of the flow tests: a home served by the loopback arXiv, PwC and HF servers, with the
int8 model in place, and `paperradar` runs in child processes against the session's Prefect API."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.flows.test_cli import paperradar
from tests.support.pwc_server import PwCFixtureServer
from tests.support.records import daily_records

DAY1 = date(2026, 6, 4)  # 98 cs.CL papers (v1 that day, cross-lists included)
DAY2 = date(2026, 6, 5)  # 129 more


@pytest.fixture(scope="session")
def pwc_api(fixtures_dir: Path) -> Iterator[PwCFixtureServer]:
    """The loopback Papers with Code + Hugging Face server, one per session."""
    with PwCFixtureServer(fixtures_dir=fixtures_dir) as server:
        yield server


@pytest.fixture()
def flow_home(served_home: Path, pwc_api: PwCFixtureServer, onnx_models: Path,
              monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home for flow runs: cs.CL only, every source on loopback, no waiting, the int8 build."""
    pwc_api.reset()
    monkeypatch.setenv("PAPERRADAR_CATEGORIES", "cs.CL")
    monkeypatch.setenv("PAPERRADAR_PWC_API_URL", pwc_api.pwc_url)
    monkeypatch.setenv("PAPERRADAR_HF_API_URL", pwc_api.hf_url)
    monkeypatch.setenv("PAPERRADAR_ENRICH_DELAY", "0")
    monkeypatch.setenv("PAPERRADAR_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("PAPERRADAR_FLOW_RETRY_DELAY", "0")
    shutil.copytree(onnx_models, served_home / "models")
    return served_home


@pytest.fixture()
def prefect_api(prefect_harness: None) -> str:
    """The session's temporary Prefect API, for child processes (no server start of their own)."""
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


def expected_ids(fixtures_dir: Path, first: date, last: date) -> set[str]:
    """The cs.CL papers (v1 in [first, last]) the loopback arXiv serves."""
    return {r["id"] for r in daily_records(fixtures_dir, {"cs.CL"}, first, last)}


def child_env(api: str, **extra: str) -> dict[str, str]:
    """This process's environment (the test's PAPERRADAR_*), the Prefect API, wide log lines."""
    return {**os.environ, "PREFECT_API_URL": api, "COLUMNS": "400", "PAPERRADAR_DEBUG": "",
            **extra}


def run_paperradar(api: str, *args: str, timeout: float = 300, **extra: str
                   ) -> subprocess.CompletedProcess[str]:
    """`paperradar ARGS` in a child process against `api`, as a user (or cron) runs it."""
    return subprocess.run([*paperradar(), *args], capture_output=True, text=True, timeout=timeout,
                          env=child_env(api, **extra))
