"""Pipeline health for `paperradar status`: freshness per source, papers per category per day
with suspicious gaps, recent runs, index consistency, disk use."""

from __future__ import annotations

import json
import statistics
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from core.errors import IndexMismatchError, IndexMissingError
from core.publish import current_snapshot
from core.settings import Settings
from core.store import Store
from index.faiss_index import index_ids, load_index
from index.vectors import VectorStore

DAYS_SHOWN = 14  # days of per-category counts in `status`
BASELINE_DAYS = 28  # days whose median weekday count says whether a category is busy
BUSY_PER_DAY = 5  # papers on a median weekday for a category to count as busy


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
        for name, newest_paper in _newest_by_source(db).items():
            sources.setdefault(name, {"last_ok": None, "last_status": None, "last_error": None})
            sources[name]["newest_paper"] = newest_paper
        for src in sources.values():
            src.setdefault("newest_paper", None)
        per_day = daily_counts(db, settings.categories)
        _, key_rows = db.query("SELECT paper_id FROM papers WHERE NOT withdrawn")
        _, state_rows = db.query("SELECT source, key, value FROM ingest_state ORDER BY 1, 2")
    db_keys = {int(r[0]) for r in key_rows}
    disk = disk_usage(settings.home)
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
        "per_day": per_day,
        "disk_bytes": sum(disk.values()),
        "disk": disk,
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


def _newest_by_source(db: Store) -> dict[str, date | None]:
    """The newest v1 day each source delivered: the papers an ingest source (arxiv_api, oai,
    snapshot) stored last, the papers an enrichment source (pwc, hf, dump) knew."""
    _, rows = db.query(
        """
        SELECT source, max(published)::DATE FROM papers GROUP BY source
        UNION ALL
        SELECT e.source, max(p.published)::DATE FROM enrichments e JOIN papers p USING (arxiv_id)
        GROUP BY e.source
        """
    )
    return {r[0]: r[1] for r in rows}


def daily_counts(db: Store, categories: tuple[str, ...], days: int = DAYS_SHOWN) -> dict[str, Any]:
    """Papers per tracked category per v1 day over the `days` days up to the newest v1 day in
    the store (cross-lists count in each of their categories), and the suspicious gaps.

    A gap is a weekday without a single paper in a category that is normally busy: its
    median weekday count over the BASELINE_DAYS up to that newest day is at least
    BUSY_PER_DAY. Weekends are never gaps (arXiv takes submissions every day, but few come
    at weekends), and a quiet category is never flagged.
    """
    _, [(newest,)] = db.query(
        "SELECT max(published)::DATE FROM papers WHERE NOT withdrawn AND "
        "list_has_any(categories, ?::VARCHAR[])", [list(categories)])
    if newest is None:
        return {"first": None, "last": None, "days": [], "categories": {}, "busy": [], "gaps": []}
    first = newest - timedelta(days=days - 1)
    since = newest - timedelta(days=max(days, BASELINE_DAYS) - 1)
    _, rows = db.query(
        """
        SELECT c, published::DATE AS day, count(*)
        FROM (SELECT unnest(categories) AS c, published FROM papers WHERE NOT withdrawn
              AND published >= ?::DATE)
        WHERE c IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL
        """,
        [since, list(categories)],
    )
    count = {(c, day): int(n) for c, day, n in rows}
    shown = [first + timedelta(days=i) for i in range(days)]
    baseline = [since + timedelta(days=i) for i in range((newest - since).days + 1)]
    busy = [c for c in categories
            if statistics.median([count.get((c, d), 0) for d in baseline if d.weekday() < 5] or [0])
            >= BUSY_PER_DAY]
    gaps = [{"category": c, "day": d.isoformat()} for c in busy for d in shown
            if d.weekday() < 5 and count.get((c, d), 0) == 0]
    return {
        "first": first.isoformat(),
        "last": newest.isoformat(),
        "days": [d.isoformat() for d in shown],
        "categories": {c: [count.get((c, d), 0) for d in shown] for c in categories},
        "busy": busy,
        "gaps": gaps,
    }


def disk_usage(home: Path) -> dict[str, int]:
    """Bytes under `home` by top-level entry (work, snapshots, vectors, index, models, ...),
    each file counted once: snapshots hard-link the index files they share."""
    seen: set[tuple[int, int]] = set()
    usage: dict[str, int] = {}
    if not home.is_dir():
        return usage
    order = {"work": 0, "index": 1, "vectors": 2, "snapshots": 3}
    for top in sorted(home.iterdir(), key=lambda p: (order.get(p.name, 9), p.name)):
        if top.is_symlink():
            continue
        files = [top] if top.is_file() else [p for p in top.rglob("*") if p.is_file() and not p.is_symlink()]
        total = 0
        for path in files:
            try:
                st = path.stat()
            except OSError:  # pruned while we looked
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
        usage[top.name if top.is_dir() else "other"] = usage.get(
            top.name if top.is_dir() else "other", 0) + total
    return usage
