"""Pipeline health for `paperradar status`: freshness, counts, recent runs, index consistency."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import IndexMismatchError, IndexMissingError
from core.publish import current_snapshot
from core.settings import Settings
from core.store import Store
from index.faiss_index import index_ids, load_index
from index.vectors import VectorStore


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
        "index": _index_state(settings, snapshot.index_dir, db_keys),
        "disk_bytes": _disk_usage(settings.home),
    }


def _index_state(settings: Settings, index_dir: Path, db_keys: set[int]) -> dict[str, Any]:
    """DuckDB rows vs index ids vs stored vectors, and what disagrees."""
    try:
        index, manifest = load_index(index_dir, settings.model)
    except (IndexMissingError, IndexMismatchError) as exc:
        return {"count": 0, "model": settings.model, "state": str(exc), "consistent": False,
                "papers": len(db_keys)}
    ids = index_ids(index)
    id_set = set(ids.tolist())
    stale = len(id_set - db_keys)
    missing = len(db_keys - id_set)
    duplicated = len(ids) - len(id_set)
    vector_set = manifest.get("vector_set", manifest["model"])
    vector_keys = set(VectorStore(settings.vectors_dir, vector_set).load()[0].tolist())
    unstored = len(id_set - vector_keys)
    consistent = stale == 0 and duplicated == 0
    problems = [f"{stale} ids not in the database"] if stale else []
    if duplicated:
        problems.append(f"{duplicated} ids indexed twice")
    if missing:
        problems.append(f"{missing} papers not indexed yet (run `paperradar index`)")
    if unstored:
        problems.append(f"{unstored} indexed papers have no stored vector (run "
                        "`paperradar index --rebuild`)")
    return {
        "papers": len(db_keys),
        "count": int(index.ntotal),
        "vectors": len(vector_keys),
        "model": manifest["model"],
        "vector_set": vector_set,
        "index_type": manifest.get("index_type", "IDMap2,FlatIP"),
        "nprobe": manifest.get("nprobe"),
        "recall_at_10": manifest.get("recall_at_10", 1.0),
        "built_at": manifest["built_at"],
        "consistent": consistent,
        "not_indexed": missing,
        "not_in_database": stale,
        "without_vector": unstored,
        "state": "; ".join(problems) if problems else "consistent",
    }


def _disk_usage(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
