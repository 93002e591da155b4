"""DuckDB's full-text search extension over titles, abstracts and authors (BM25).

`paperradar index` (re)builds the index when the searchable text changed: a table
`keyword_docs` (paper_id, title, abstract, authors) of the papers that belong in the index,
indexed by `PRAGMA create_fts_index` (Porter stemmer, English stop words, lower case,
accents stripped) into the schema `fts_main_keyword_docs`, plus `postings` there: the
extension's per-token `terms` table counted per (term, document), ordered by term, which
index.keyword loads to score queries in memory. The published database carries all of
it, so a user's own session can also run the extension's BM25:

    LOAD fts;  -- or the file of the duckdb-extension-fts package
    SELECT paper_id, fts_main_keyword_docs.match_bm25(paper_id, 'speculative decoding') AS s
    FROM keyword_docs WHERE s IS NOT NULL ORDER BY s DESC LIMIT 10;

The extension comes from the `duckdb-extension-fts` package (a file loaded by its path,
no network); where that package is missing, `INSTALL fts` (needs a network once).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from core.errors import StoreError

TABLE = "keyword_docs"
SCHEMA = f"fts_main_{TABLE}"
STEMMER = "porter"


def extension_path() -> Path | None:
    """The fts extension file shipped by duckdb-extension-fts for this DuckDB, if installed."""
    try:
        import duckdb_extension_fts
    except ImportError:
        return None
    root = Path(duckdb_extension_fts.__file__).parent / "extensions"
    path = root / f"v{duckdb.__version__}" / "fts.duckdb_extension"
    return path if path.exists() else None


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """LOAD the fts extension into `con`: the packaged file, else the extension repository."""
    path = extension_path()
    try:
        if path is not None:
            con.execute(f"LOAD '{path.as_posix()}'")
        else:
            con.execute("INSTALL fts")
            con.execute("LOAD fts")
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise StoreError(
            f"cannot load DuckDB's full-text search extension: {first} (pip install "
            f"duckdb-extension-fts=={duckdb.__version__})"
        ) from None


def text_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """Identifies the searchable text: paper keys with their content and author lists."""
    row = con.execute(
        "SELECT count(*), bit_xor(hash(paper_id, content_hash, authors)) "
        "FROM papers WHERE NOT withdrawn"
    ).fetchone()
    assert row is not None
    return hashlib.sha256(f"{row[0]}:{row[1]}".encode()).hexdigest()[:32]


def keyword_index_state(con: duckdb.DuckDBPyConnection) -> str | None:
    """The text fingerprint the current keyword index was built for, or None."""
    row = con.execute(
        "SELECT value FROM ingest_state WHERE source = 'keyword_index' AND key = 'fingerprint'"
    ).fetchone()
    return row[0] if row else None


def build_keyword_index(con: duckdb.DuckDBPyConnection, force: bool = False) -> bool:
    """(Re)build `keyword_docs` and its FTS index if the text changed; True if it did."""
    wanted = text_fingerprint(con)
    if not force and keyword_index_state(con) == wanted and _has_index(con):
        return False
    load_fts(con)
    con.execute("SET enable_progress_bar = false")
    # Not one transaction: the extension numbers documents by row id, and rows inserted in
    # an open transaction have provisional ids. The fingerprint is written last, so a crash
    # part-way leaves an index that the next run rebuilds.
    con.execute("DELETE FROM ingest_state WHERE source = 'keyword_index'")
    con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    con.execute(
        f"CREATE OR REPLACE TABLE {TABLE} AS SELECT paper_id, title, abstract, "
        "array_to_string(authors, ', ') AS authors FROM papers WHERE NOT withdrawn "
        "ORDER BY paper_id"
    )
    con.execute(
        f"PRAGMA create_fts_index('{TABLE}', 'paper_id', 'title', 'abstract', 'authors', "
        f"stemmer='{STEMMER}', stopwords='english', strip_accents=1, lower=1, overwrite=1)"
    )
    con.execute(
        f"CREATE TABLE {SCHEMA}.postings AS SELECT termid, docid, count(*)::INTEGER AS tf "
        f"FROM {SCHEMA}.terms GROUP BY ALL ORDER BY termid, docid"
    )
    con.execute(
        "INSERT INTO ingest_state VALUES ('keyword_index', 'fingerprint', ?, now()) "
        "ON CONFLICT (source, key) DO UPDATE SET value = excluded.value, "
        "updated_at = excluded.updated_at",
        [wanted],
    )
    return True


def _has_index(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = 'postings'",
        [SCHEMA],
    ).fetchone()
    return bool(row and row[0])
