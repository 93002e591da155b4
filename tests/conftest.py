"""Shared test fixtures: recorded data from ../shared/fixtures served on loopback, settings, model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not (FIXTURES / "arxiv-api").is_dir():
        pytest.skip(f"recorded fixtures not found at {FIXTURES} (clone ../shared beside the repo)")
    return FIXTURES


@pytest.fixture(scope="session")
def arxiv_server(fixtures_dir: Path) -> Iterator[object]:
    from tests.support.arxiv_server import ArxivFixtureServer

    with ArxivFixtureServer(fixtures_dir) as server:
        yield server


@pytest.fixture(scope="session")
def oai_server(fixtures_dir: Path) -> Iterator[object]:
    """The loopback OAI-PMH server (recorded arxiv-oai/ files + synthetic daily-arxiv lists)."""
    from tests.support.oai_server import OAIFixtureServer

    if not (fixtures_dir / "arxiv-oai").is_dir() or not (fixtures_dir / "daily-arxiv").is_dir():
        pytest.skip(f"OAI-PMH fixtures not found under {fixtures_dir}")
    with OAIFixtureServer(fixtures_dir) as server:
        yield server


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh PAPERRADAR_HOME with fast, offline settings; no PAPERRADAR_* leaks in."""
    for name in list(os.environ):
        if name.startswith("PAPERRADAR_"):
            monkeypatch.delenv(name)
    path = tmp_path / "home"
    monkeypatch.setenv("PAPERRADAR_HOME", str(path))
    monkeypatch.setenv("PAPERRADAR_ARXIV_DELAY", "0")
    monkeypatch.setenv("PAPERRADAR_DEVICE", "cpu")
    return path


@pytest.fixture()
def served_home(home: Path, arxiv_server: object, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`home`, with PAPERRADAR_ARXIV_API_URL pointing at the loopback arXiv server."""
    monkeypatch.setenv("PAPERRADAR_ARXIV_API_URL", arxiv_server.api_url)  # type: ignore[attr-defined]
    return home


@pytest.fixture(scope="session")
def embedder() -> object:
    """The real bundled all-MiniLM-L6-v2, loaded once per session (shared with the CLI)."""
    from index.embed import shared_embedder

    model = shared_embedder("all-MiniLM-L6-v2", "cpu", 0)
    _ = model.model
    return model


@pytest.fixture(scope="session")
def onnx_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models cache holding the int8 ONNX build of the bundled model, built once per session.

    Copy it to `<home>/models` (shutil.copytree) where a test's CLI runs would otherwise
    each build their own.
    """
    from index import onnx_backend
    from index.embed import model_source

    root = tmp_path_factory.mktemp("onnx-models")
    onnx_backend.load_or_build("all-MiniLM-L6-v2", model_source("all-MiniLM-L6-v2"), root)
    return root


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API (its own database) for every flow run of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):  # a busy 2-core CI box can take >30 s
        yield


@pytest.fixture(scope="session")
def watch_corpus(fixtures_dir: Path) -> tuple[list, list]:
    """Real papers for the watchlist tests: (a first batch of ~300, a later one of ~150)."""
    from tests.support.watch_home import corpus

    return corpus(fixtures_dir)


@pytest.fixture(scope="session")
def watch_base(watch_corpus: tuple[list, list], onnx_models: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the first batch stored, enriched, indexed and published by `paperradar
    index`; no watchlist. Read-only: tests use `watch_home`, a copy."""
    import shutil

    from flows.cli import main
    from tests.support.watch_home import store_papers

    home = tmp_path_factory.mktemp("watch") / "home"
    shutil.copytree(onnx_models, home / "models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAPERRADAR_HOME", str(home))
        mp.setenv("PAPERRADAR_DEVICE", "cpu")
        store_papers(home, watch_corpus[0])
        assert main(["index"]) == 0
    return home


@pytest.fixture()
def watch_home(watch_base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of `watch_base`, PAPERRADAR_HOME pointing at it (no other PAPERRADAR_*)."""
    import shutil

    for name in list(os.environ):
        if name.startswith("PAPERRADAR_"):
            monkeypatch.delenv(name)
    copy = tmp_path / "home"
    shutil.copytree(watch_base, copy, symlinks=True)
    monkeypatch.setenv("PAPERRADAR_HOME", str(copy))
    monkeypatch.setenv("PAPERRADAR_DEVICE", "cpu")
    return copy
