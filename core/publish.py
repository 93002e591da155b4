"""Published snapshots: a consistent, read-only copy of the database and the index for readers.

Layout under PAPERRADAR_HOME:

    snapshots/<stamp>/papers.duckdb   checkpointed copy of the working database
    snapshots/<stamp>/index/...       the FAISS index and its manifest (hard links)
    snapshots/<stamp>/snapshot.json   what the snapshot holds
    current -> snapshots/<stamp>      swapped atomically by rename
    papers.duckdb -> current/papers.duckdb

Readers (CLI, dashboard, a user's `duckdb`) open `papers.duckdb` read-only. The writer never
touches a published file, so readers never block and never see half-written state; a
reader that opened the previous snapshot keeps reading it even after it is pruned.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import StoreMissingError

KEEP_SNAPSHOTS = 2
DB_NAME = "papers.duckdb"


@dataclass(frozen=True)
class Snapshot:
    """One published snapshot directory, resolved once so db and index come from the same one."""

    path: Path

    @property
    def db_path(self) -> Path:
        return self.path / DB_NAME

    @property
    def index_dir(self) -> Path:
        return self.path / "index"

    @property
    def info(self) -> dict[str, Any]:
        return json.loads((self.path / "snapshot.json").read_text())


def current_snapshot(home: Path) -> Snapshot:
    """The snapshot readers should use now. Raises StoreMissingError if none was published."""
    link = home / "current"
    if not link.exists():
        raise StoreMissingError(
            f"no published database under {home}: run `paperradar ingest arxiv` "
            "(or `paperradar run`) first"
        )
    return Snapshot(Path(os.path.realpath(link)))


def publish(home: Path, work_db: Path, index_dir: Path | None, info: dict[str, Any]) -> Snapshot:
    """Publish the (closed, checkpointed) working database and index as a new snapshot.

    Every step before the final rename writes into a fresh temporary directory, so a
    crash at any point leaves the previous snapshot current and intact.
    """
    snapshots = home / "snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    tmp = snapshots / f".{stamp}.tmp"
    tmp.mkdir()
    shutil.copyfile(work_db, tmp / DB_NAME)
    if index_dir is not None and index_dir.is_dir():
        (tmp / "index").mkdir()
        for item in index_dir.iterdir():
            if item.is_file() and not item.name.endswith(".tmp"):
                _link_or_copy(item, tmp / "index" / item.name)
    meta = {"published_at": datetime.now(UTC).isoformat(timespec="seconds"), **info}
    (tmp / "snapshot.json").write_text(json.dumps(meta, indent=2, default=str))
    _fsync_dir(tmp)
    final = snapshots / stamp
    os.replace(tmp, final)
    _swap_link(home / "current", Path("snapshots") / stamp)
    db_link = home / DB_NAME
    if not db_link.is_symlink():
        _swap_link(db_link, Path("current") / DB_NAME)
    _prune(snapshots, keep=final.name)
    return Snapshot(final)


def _link_or_copy(src: Path, dst: Path) -> None:
    # Index files are only ever replaced (new inode), never edited, so a hard link is safe.
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _swap_link(link: Path, target: Path) -> None:
    tmp = link.with_name(f".{link.name}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


def _fsync_dir(path: Path) -> None:
    for item in path.rglob("*"):
        if item.is_file():
            with open(item, "rb") as fh:
                os.fsync(fh.fileno())


def _prune(snapshots: Path, keep: str) -> None:
    """Keep the newest KEEP_SNAPSHOTS snapshots; drop leftovers of crashed publishes."""
    done = sorted(p for p in snapshots.iterdir() if not p.name.startswith("."))
    for old in done[:-KEEP_SNAPSHOTS]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
    for leftover in snapshots.glob(".*.tmp"):
        shutil.rmtree(leftover, ignore_errors=True)
