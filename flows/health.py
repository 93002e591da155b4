"""Pipeline health for `paperradar status`: freshness, counts, recent runs, index consistency."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from core.errors import IndexMismatchError, IndexMissingError
from core.publish import current_snapshot
from core.settings import Settings
from core.store import Store
from index.faiss_index import load_index


def collect_status(settings: Settings) -> dict[str, Any]:
    """Everything `status` shows, as plain JSON-able values, from the published snapshot."""
    snapshot = current_snapshot(settings.home)
    with Store.open_read_only(snapshot.db_path) as db:
        _, [(papers, withdrawn, newest)] = db.query(
            "SELECT count(*), count(*) FILTER (WHERE withdrawn), max(published) FROM papers"
        )
        names, rows = db.query(
            "SELECT run_id, kind, started_at, finished_at, status, counts, error "
            "FROM runs ORDER BY run_id DESC LIMIT 10"
        )
        runs = [dict(zip(names, r, strict=True)) for r in rows]
        for run in runs:
            run["counts"] = json.loads(run["counts"]) if run["counts"] else {}
        _, [(with_code, with_venue)] = db.query(
            "SELECT count(*) FILTER (WHERE has_code), count(venue) FROM papers WHERE NOT withdrawn"
        )
        names, rows = db.query(
            """
            SELECT source, max(finished_at) FILTER (WHERE status = 'ok') AS last_ok,
                   arg_max(status, run_id) AS last_status, arg_max(error, run_id) AS last_error
            FROM runs WHERE source IS NOT NULL GROUP BY source ORDER BY source
            """
        )
        sources = {r[0]: dict(zip(names[1:], r[1:], strict=True)) for r in rows}
        _, key_rows = db.query("SELECT paper_id FROM papers WHERE NOT withdrawn")
        _, state_rows = db.query("SELECT source, key, value FROM ingest_state ORDER BY 1, 2")
    db_keys = {int(r[0]) for r in key_rows}
    return {
        "home": str(settings.home.resolve()),
        "database": str(settings.published_db.absolute()),
        "snapshot": str(snapshot.path),
        "published_at": snapshot.info.get("published_at"),
        "papers": papers,
        "withdrawn": withdrawn,
        "newest_published": newest.date().isoformat() if newest else None,
        "with_code": with_code,
        "with_venue": with_venue,
        "sources": sources,
        "watermarks": {f"{s}:{k}": v for s, k, v in state_rows},
        "runs": runs,
        "index": _index_state(snapshot.index_dir, settings.model, db_keys),
        "disk_bytes": _disk_usage(settings.home),
    }


def _index_state(index_dir: Path, model: str, db_keys: set[int]) -> dict[str, Any]:
    try:
        index, manifest = load_index(index_dir, model)
    except (IndexMissingError, IndexMismatchError) as exc:
        return {"count": 0, "model": model, "state": str(exc), "consistent": False}
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    stale = len(set(ids.tolist()) - db_keys)
    missing = len(db_keys) - (len(ids) - stale)
    consistent = stale == 0
    state = "consistent" if consistent else f"{stale} ids not in the database"
    if missing:
        state += f"; {missing} papers not indexed yet (run `paperradar index`)"
    return {
        "count": int(index.ntotal),
        "model": manifest["model"],
        "built_at": manifest["built_at"],
        "consistent": consistent,
        "not_indexed": missing,
        "state": state,
    }


def _disk_usage(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
