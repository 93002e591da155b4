"""Pipeline health: papers per category per day with suspicious gaps, disk use per folder."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path

from core.records import Paper
from core.store import Store
from flows.health import daily_counts, disk_usage


def test_status_flags_weekday_gaps_in_busy_categories(tmp_path: Path) -> None:
    """Four weeks of cs.CL (busy) and cs.AI (quiet): a weekday without cs.CL papers is a gap,
    a weekend is not, and the quiet category is never flagged."""
    papers = []
    day = date(2026, 5, 11)  # a Monday; 28 days up to Sunday 2026-06-07
    missing = date(2026, 6, 3)  # a Wednesday
    while day <= date(2026, 6, 7):
        if day.weekday() < 5 and day != missing:
            for i in range(6):
                noon = datetime(day.year, day.month, day.day, 12)
                papers.append(Paper(f"26{day:%m}.{day:%d}{i:03d}", 1, "t", "a", ("A",), noon, noon,
                                    "cs.CL", ("cs.CL",)))
        day += timedelta(days=1)
    papers.append(Paper("2606.09999", 1, "t", "a", ("A",), datetime(2026, 6, 5, 9),
                        datetime(2026, 6, 5, 9), "cs.AI", ("cs.AI", "cs.CL")))
    with Store.open(tmp_path / "db.duckdb") as store:
        store.upsert_papers(papers)
        per_day = daily_counts(store, ("cs.CL", "cs.AI"))
    assert per_day["last"] == "2026-06-05" and len(per_day["days"]) == 14
    assert per_day["busy"] == ["cs.CL"]
    assert per_day["gaps"] == [{"category": "cs.CL", "day": "2026-06-03"}]
    assert per_day["categories"]["cs.CL"][-1] == 7  # the cross-listed cs.AI paper counts too
    assert per_day["categories"]["cs.AI"][-1] == 1


def test_disk_use_counts_hard_linked_files_once(tmp_path: Path) -> None:
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "faiss.index").write_bytes(b"x" * 1000)
    (tmp_path / "snapshots" / "a" / "index").mkdir(parents=True)
    os.link(tmp_path / "index" / "faiss.index", tmp_path / "snapshots" / "a" / "index" / "faiss.index")
    (tmp_path / "snapshots" / "a" / "papers.duckdb").write_bytes(b"y" * 300)
    (tmp_path / "current").symlink_to("snapshots/a")
    assert disk_usage(tmp_path) == {"index": 1000, "snapshots": 300}
