from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Settings, settings_table


def test_defaults_match_the_design(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAPERRADAR_HOME")
    monkeypatch.delenv("PAPERRADAR_ARXIV_DELAY")
    monkeypatch.delenv("PAPERRADAR_DEVICE")
    s = Settings()
    assert s.home == Path("data")
    assert s.categories == ("cs.AI", "cs.LG", "cs.CL", "cs.CV", "stat.ML")
    assert s.arxiv_api_url == "https://export.arxiv.org/api/query"
    assert s.arxiv_delay == 3
    assert s.pwc_api_url == "https://paperswithcode.co/api/v1"
    assert s.hf_api_url == "https://huggingface.co/api"
    assert s.model == "all-MiniLM-L6-v2"
    assert s.device == "auto"


def test_environment_overrides(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERRADAR_CATEGORIES", "cs.CL, cs.CV")
    monkeypatch.setenv("PAPERRADAR_ARXIV_DELAY", "0.5")
    s = Settings()
    assert s.categories == ("cs.CL", "cs.CV")
    assert s.arxiv_delay == 0.5
    assert s.home == home
    assert s.published_db == home / "papers.duckdb"


def test_bad_values_are_refused(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERRADAR_DEVICE", "tpu")
    with pytest.raises(ValidationError):
        Settings()


def test_every_setting_is_described() -> None:
    rows = settings_table()
    assert {r[0] for r in rows} >= {
        "PAPERRADAR_HOME", "PAPERRADAR_CATEGORIES", "PAPERRADAR_ARXIV_API_URL",
        "PAPERRADAR_ARXIV_OAI_URL", "PAPERRADAR_ARXIV_DELAY", "PAPERRADAR_PWC_API_URL",
        "PAPERRADAR_HF_API_URL", "PAPERRADAR_MODEL", "PAPERRADAR_DEVICE",
    }
    assert all(description for _, _, description in rows)
