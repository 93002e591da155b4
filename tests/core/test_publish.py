from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from core.errors import StoreMissingError
from core.publish import current_snapshot, publish
from core.store import Store
from tests.core.test_store import make_paper


def write(work: Path, ids: list[str]) -> None:
    with Store.open(work) as store:
        store.upsert_papers([make_paper(i) for i in ids])
        store.checkpoint()


def count(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM papers").fetchone()[0]
    finally:
        con.close()


def test_no_snapshot_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreMissingError, match="paperradar ingest arxiv"):
        current_snapshot(tmp_path)


def test_publish_swaps_atomically_and_old_readers_keep_reading(tmp_path: Path) -> None:
    home, work = tmp_path, tmp_path / "work" / "papers.duckdb"
    write(work, ["2401.00001"])
    publish(home, work, None, {})
    published = home / "papers.duckdb"
    assert count(published) == 1

    reader = duckdb.connect(str(published), read_only=True)  # a user's session stays open
    write(work, ["2401.00002", "2401.00003"])
    publish(home, work, None, {})
    assert count(published) == 3  # new readers see the new snapshot
    assert reader.execute("SELECT count(*) FROM papers").fetchone()[0] == 1
    # The writer can keep writing while readers hold snapshots open.
    write(work, ["2401.00004"])
    for _ in range(3):
        publish(home, work, None, {})
    assert reader.execute("SELECT count(*) FROM papers").fetchone()[0] == 1  # pruned, still open
    reader.close()
    assert len([p for p in (home / "snapshots").iterdir()]) == 2


def test_crashed_publish_leaves_current_snapshot_intact(tmp_path: Path) -> None:
    home, work = tmp_path, tmp_path / "work" / "papers.duckdb"
    write(work, ["2401.00001"])
    first = publish(home, work, None, {})
    # A publish that died half-way leaves a temporary folder behind.
    leftover = home / "snapshots" / ".20990101T000000Z.tmp"
    leftover.mkdir()
    (leftover / "papers.duckdb").write_bytes(b"half a file")
    assert current_snapshot(home) == first
    assert count(home / "papers.duckdb") == 1
    publish(home, work, None, {})
    assert not leftover.exists()


def test_other_process_reads_while_the_writer_holds_the_work_db(tmp_path: Path) -> None:
    import subprocess
    import sys

    home, work = tmp_path, tmp_path / "work" / "papers.duckdb"
    write(work, ["2401.00001", "2401.00002"])
    publish(home, work, None, {})
    with Store.open(work) as writer:  # the pipeline is mid-run and holds the writer's lock
        writer.upsert_papers([make_paper("2401.00003")])
        code = ("import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
                "print(c.execute('SELECT count(*) FROM papers').fetchone()[0])")
        reader = subprocess.run([sys.executable, "-c", code, str(home / "papers.duckdb")],
                                capture_output=True, text=True, timeout=60)
        assert reader.returncode == 0, reader.stderr
        assert reader.stdout.strip() == "2"
        blocked = subprocess.run([sys.executable, "-c", code, str(work)],
                                 capture_output=True, text=True, timeout=60)
        assert blocked.returncode != 0  # why readers must never open the working file
