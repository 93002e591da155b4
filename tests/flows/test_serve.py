"""`paperradar serve`: starts, registers the deployments with their schedules, is listed by
Prefect, runs a flow run it is given, and stops cleanly on SIGINT or SIGTERM; without
PREFECT_API_URL it starts a Prefect server of its own whose scheduler plans the runs."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.publish import current_snapshot
from flows.cli import main
from tests.flows.conftest import DAY1, child_env, expected_ids
from tests.flows.test_cli import paperradar
from tests.flows.test_index_kill import published_index_is_whole


class Served:
    """`paperradar serve` in a child process, its stderr collected line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen([*paperradar(), "serve"], env=env, text=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 180) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output)
            if found:
                return found
            assert self.process.poll() is None, f"serve exited {self.process.returncode}:\n{self.output}"
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n{self.output}")

    def stop(self, sig: int) -> int:
        self.process.send_signal(sig)
        try:  # stopping pauses the schedules through the API: slow on a loaded 2-core box
            code = self.process.wait(timeout=180)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"serve still running 180 s after signal {sig}:\n"
                                 f"{self.output[-3000:]}") from None
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def query(api: str, ask: Callable[[Any], Any]) -> Any:
    """`ask(client)` against the Prefect API at `api`."""
    from prefect.client.orchestration import PrefectClient

    async def run() -> Any:
        async with PrefectClient(api) as client:
            return await ask(client)

    return asyncio.run(run())


def poll(api: str, ask: Callable[[Any], Any], timeout: float = 120) -> Any:
    """`ask` until it answers something true (deployments appear as serve registers them)."""
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + timeout
    while True:
        try:
            found = query(api, ask)
            if found:
                return found
        except ObjectNotFound:
            pass
        assert time.monotonic() < deadline, "not registered in time"
        time.sleep(0.5)


@pytest.mark.slow
def test_serve_registers_the_schedules_runs_a_flow_and_stops_on_sigint(
    flow_home: Path, fixtures_dir: Path, prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERRADAR_DAILY_CRON", "15 2 * * 1-5")
    monkeypatch.setenv("PAPERRADAR_SCHEDULE_TIMEZONE", "America/New_York")
    served = Served(child_env(prefect_api))
    try:
        served.wait_for(r"serving daily/daily, backfill/backfill, weekly-digest/weekly-digest "
                        r"with the Prefect API at ")
        daily = poll(prefect_api, lambda c: c.read_deployment_by_name("daily/daily"))
        backfill = poll(prefect_api, lambda c: c.read_deployment_by_name("backfill/backfill"))
        digest = poll(prefect_api, lambda c: c.read_deployment_by_name("weekly-digest/weekly-digest"))
        assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in daily.schedules] == [
            ("15 2 * * 1-5", "America/New_York", True)]
        assert [(s.schedule.cron, s.schedule.timezone) for s in digest.schedules] == [
            ("0 7 * * 2", "America/New_York")]  # PAPERRADAR_DIGEST_CRON's default
        assert digest.entrypoint == "flows.digest.weekly_digest" and not digest.paused
        assert daily.entrypoint == "flows.daily.daily" and not daily.paused
        assert backfill.schedules == [] and backfill.entrypoint == "flows.daily.backfill"
        listed = query(prefect_api, lambda c: c.read_deployments())
        assert {"daily", "backfill"} <= {d.name for d in listed}

        # A run asked of the deployment is picked up and run by the served process.
        async def start(client: Any) -> Any:
            return await client.create_flow_run_from_deployment(
                daily.id, parameters={"since": str(DAY1), "until": str(DAY1)})

        run = query(prefect_api, start)

        async def finished(client: Any) -> Any:
            state = (await client.read_flow_run(run.id)).state
            return state if state is not None and state.is_final() else None

        state = poll(prefect_api, finished, timeout=240)
        assert state.is_completed(), served.output[-3000:]
        assert len(published_index_is_whole(flow_home)) == len(expected_ids(fixtures_dir, DAY1, DAY1))
        assert current_snapshot(flow_home).info["run"] == "daily"

        assert served.stop(signal.SIGINT) == 0, served.output[-3000:]
    finally:
        served.kill()
    assert "stopped serving" in served.output and "Traceback" not in served.output
    paused = query(prefect_api, lambda c: c.read_deployment_by_name("daily/daily"))
    assert paused.paused  # schedules paused on shutdown: nobody would run them


@pytest.mark.slow
def test_serve_starts_its_own_prefect_server_whose_scheduler_plans_runs(
    flow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERRADAR_PREFECT_PORT", "0")  # any free port
    env = {k: v for k, v in child_env("").items() if k != "PREFECT_API_URL"}
    served = Served(env)
    try:
        api = served.wait_for(r"with the Prefect API at (http://127\.0\.0\.1:\d+/api)").group(1)
        daily = poll(api, lambda c: c.read_deployment_by_name("daily/daily"))
        assert daily.schedules[0].schedule.cron == "30 1 * * 1-5"

        async def planned(client: Any) -> Any:
            from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[daily.id])))
            return [r for r in runs if r.state_name == "Scheduled"]

        runs = poll(api, planned, timeout=120)  # the server's scheduler service at work
        starts = sorted(r.expected_start_time for r in runs)
        assert all(t.hour == 1 and t.minute == 30 and t.weekday() < 5 for t in starts)
        assert (flow_home / "prefect" / "prefect.db").is_file()
        assert served.stop(signal.SIGTERM) == 0, served.output[-3000:]
    finally:
        served.kill()
    assert "stopped serving" in served.output
    with pytest.raises(httpx.HTTPError):  # the server it started is gone too
        httpx.get(f"{api}/health", timeout=2)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("PAPERRADAR_DAILY_CRON", "every morning", "bad schedule PAPERRADAR_DAILY_CRON"),
    ("PAPERRADAR_SCHEDULE_TIMEZONE", "Mars/Olympus", "in time zone 'Mars/Olympus'"),
    ("PAPERRADAR_PREFECT_PORT", "70000", "bad setting PAPERRADAR_PREFECT_PORT"),
])
def test_bad_schedule_settings_are_one_line_and_exit_2(
    home: Path, name: str, value: str, message: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(name, value)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert main(["serve"]) == 2
    assert message in capsys.readouterr().err
    assert not (home / "prefect").exists()  # refused before any server started


def test_default_daily_cron_follows_arxiv_announcements() -> None:
    """arXiv announces at 20:00 US Eastern, Sunday to Thursday: 00:00 or 01:00 UTC, Monday to
    Friday. The default runs at 01:30 UTC on those days: after each announcement, winter and
    summer, and on no other day."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from core.settings import Settings

    minute, hour, day, month, weekdays = Settings().daily_cron.split()
    assert (day, month, weekdays) == ("*", "*", "1-5")
    for monday in (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 7, 6, tzinfo=UTC)):
        for i in range(5):
            run = monday + timedelta(days=i, hours=int(hour), minutes=int(minute))
            local = run.astimezone(ZoneInfo("America/New_York"))  # 20:30 EST or 21:30 EDT
            announced = local.replace(hour=20, minute=0, second=0)
            assert announced.strftime("%a") in ("Sun", "Mon", "Tue", "Wed", "Thu")
            assert timedelta(0) < run - announced < timedelta(hours=6)
