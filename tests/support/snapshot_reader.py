"""Owns the reader loop of the concurrency test: a separate process that reads the published
snapshot over and over, as users do while a flow writes, and records every answer.

    python -m tests.support.snapshot_reader HOME OUT.jsonl STOPFILE

Each round, until STOPFILE exists:
1. a plain read-only DuckDB session on HOME/papers.duckdb (as a user's `duckdb` opens it);
   then, from one snapshot (the link resolved once), the non-withdrawn paper keys and the
   FAISS ids of its index, which must be equal;
2. `paperradar search ... --json` (the CLI's own code, in this process): k results, every
   one a paper of the snapshot current after the search (papers are never deleted, so a
   paper of an earlier snapshot is in every later one);
3. `paperradar sql "SELECT count(*) FROM papers" --json`.
One JSON line per round: the snapshot, the counts, whether it was consistent, and the
error of anything that failed (a failure is never retried: it is what the test counts).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import traceback
from pathlib import Path

QUERY = "speech recognition with large language models"
K = 5


def read_round(home: Path) -> dict[str, object]:
    import duckdb

    from flows.cli import main
    from index.faiss_index import index_ids, load_index

    record: dict[str, object] = {"at": time.time()}
    con = duckdb.connect(str(home / "papers.duckdb"), read_only=True)  # as a user's session
    try:
        record["user_papers"] = con.execute("SELECT count(*) FROM papers").fetchone()[0]  # type: ignore[index]
    finally:
        con.close()
    # Database and index of one snapshot: resolved once, as the CLI and the dashboard do.
    db_path = Path(os.path.realpath(home / "papers.duckdb"))
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        keys = {int(r[0]) for r in con.execute("SELECT paper_id FROM papers WHERE NOT withdrawn").fetchall()}
    finally:
        con.close()
    index, _ = load_index(db_path.parent / "index", "all-MiniLM-L6-v2")
    ids = index_ids(index).tolist()
    record.update(snapshot=db_path.parent.name, papers=len(keys), indexed=len(ids),
                  consistent=set(ids) == keys and len(ids) == len(set(ids)))

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["search", QUERY, "-k", str(K), "--json"])
    record["search_exit"] = code
    results = json.loads(buffer.getvalue()) if code == 0 else []
    record["search_results"] = len(results)
    con = duckdb.connect(str(home / "papers.duckdb"), read_only=True)
    try:
        known = {r[0] for r in con.execute("SELECT arxiv_id FROM papers").fetchall()}
    finally:
        con.close()
    record["search_known"] = all(r["arxiv_id"] in known for r in results)

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["sql", "SELECT count(*) AS n FROM papers", "--json"])
    record["sql_exit"] = code
    record["sql_papers"] = json.loads(buffer.getvalue())[0]["n"] if code == 0 else None
    return record


def main() -> None:
    home, out, stop = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    with out.open("a") as sink:
        while not stop.exists():
            try:
                record = read_round(home)
            except Exception as exc:  # recorded, never retried: the test counts these
                record = {"at": time.time(), "error": f"{type(exc).__name__}: {exc}",
                          "traceback": traceback.format_exc()}
            sink.write(json.dumps(record) + "\n")
            sink.flush()


if __name__ == "__main__":
    main()
