"""`paperradar dashboard`: the Streamlit command line it runs, and bad ports refused."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from flows.cli import main


def test_dashboard_runs_streamlit_on_the_app(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: dict[str, Any] = {}

    def execve(path: str, args: list[str], env: dict[str, str]) -> None:
        ran.update(path=path, args=args, env=env)

    monkeypatch.setattr(os, "execve", execve)
    monkeypatch.chdir(home.parent)
    monkeypatch.setenv("PAPERRADAR_HOME", "home")  # relative: passed on absolute
    assert main(["dashboard", "--port", "8612", "--address", "127.0.0.1"]) == 0
    args = ran["args"]
    assert args[1:4] == ["-m", "streamlit", "run"]
    assert Path(args[4]) == Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
    flags = dict(zip(args[5::2], args[6::2], strict=True))
    assert flags["--server.port"] == "8612" and flags["--server.address"] == "127.0.0.1"
    assert flags["--server.headless"] == "true" and flags["--browser.gatherUsageStats"] == "false"
    assert flags["--client.showErrorDetails"] == "none" and flags["--runner.magicEnabled"] == "false"
    assert ran["env"]["PAPERRADAR_HOME"] == str(home.resolve())


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_bad_ports_are_one_line(port: str, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--port", port]) == 2
    err = capsys.readouterr().err.strip()
    assert "--port" in err and "\n" not in err
