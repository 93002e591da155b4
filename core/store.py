"""The DuckDB store: the only code that opens the database file.

Schema by numbered migrations (recorded in `schema_migrations`), idempotent upserts keyed
on the version-less arXiv id, run records and watermarks. The pipeline writes a private
working database; readers use the published snapshot (core/publish.py), never this one.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from core.errors import StoreError, StoreMissingError
from core.records import (
    PAPER_FIELDS,
    CodeLink,
    Enrichment,
    Paper,
    PaperBatch,
    PaperRow,
    VenueMention,
    is_withdrawn,
    text_hash,
)

PAPER_COLUMNS = (
    "paper_id",
    "arxiv_id",
    "version",
    "title",
    "abstract",
    "authors",
    "published",
    "updated",
    "primary_category",
    "categories",
    "comment",
    "journal_ref",
    "doi",
    "withdrawn",
    "content_hash",
    "source",
)

_PAPER_SCHEMA = pa.schema(
    [
        ("paper_id", pa.int64()),
        ("arxiv_id", pa.string()),
        ("version", pa.int32()),
        ("title", pa.string()),
        ("abstract", pa.string()),
        ("authors", pa.list_(pa.string())),
        ("published", pa.timestamp("us")),
        ("updated", pa.timestamp("us")),
        ("primary_category", pa.string()),
        ("categories", pa.list_(pa.string())),
        ("comment", pa.string()),
        ("journal_ref", pa.string()),
        ("doi", pa.string()),
        ("withdrawn", pa.bool_()),
        ("content_hash", pa.string()),
        ("source", pa.string()),
    ]
)


def paper_key(arxiv_id: str) -> int:
    """The integer key of a paper: the first 63 bits of blake2b(version-less id).

    Deterministic, so a database rebuilt from scratch gives every paper the same key and
    stored vectors (keyed by it) stay valid. A collision (odds ~1e-7 over all of arXiv)
    would be refused by the UNIQUE constraint rather than merge two papers.
    """
    digest = hashlib.blake2b(arxiv_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


# ---------------------------------------------------------------- migrations

Migration = Callable[[duckdb.DuckDBPyConnection], None]
MIGRATIONS: list[tuple[int, str, Migration]] = []


def migration(version: int, name: str) -> Callable[[Migration], Migration]:
    """Register a schema migration; versions are applied once, in order, in a transaction."""

    def register(fn: Migration) -> Migration:
        MIGRATIONS.append((version, name, fn))
        MIGRATIONS.sort(key=lambda m: m[0])
        return fn

    return register


@migration(1, "papers, code links, venue mentions, runs, ingest state")
def _m001_initial(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE TABLE papers (
            arxiv_id         VARCHAR PRIMARY KEY,   -- version-less, e.g. 2401.01234 or hep-th/9901001
            paper_id         BIGINT NOT NULL UNIQUE, -- integer key; FAISS ids are these
            version          INTEGER NOT NULL,      -- latest version seen
            title            VARCHAR NOT NULL,
            abstract         VARCHAR NOT NULL,
            authors          VARCHAR[] NOT NULL,
            published        TIMESTAMP NOT NULL,    -- v1 submission, UTC
            updated          TIMESTAMP NOT NULL,    -- submission of `version`, UTC
            primary_category VARCHAR NOT NULL,
            categories       VARCHAR[] NOT NULL,    -- all categories, primary first
            comment          VARCHAR,
            journal_ref      VARCHAR,
            doi              VARCHAR,
            venue            VARCHAR,               -- best known venue (enrichment)
            has_code         BOOLEAN NOT NULL DEFAULT false,
            withdrawn        BOOLEAN NOT NULL DEFAULT false,
            content_hash     VARCHAR NOT NULL,      -- hash of title + abstract (what is embedded)
            source           VARCHAR NOT NULL,      -- arxiv_api, oai, snapshot
            first_seen       TIMESTAMP NOT NULL DEFAULT current_timestamp::TIMESTAMP,
            last_changed     TIMESTAMP NOT NULL DEFAULT current_timestamp::TIMESTAMP
        )
        """
    )
    con.execute(
        """
        CREATE TABLE code_links (
            arxiv_id    VARCHAR NOT NULL,
            url         VARCHAR NOT NULL,
            source      VARCHAR NOT NULL,           -- pwc, hf, text, dump
            is_official BOOLEAN NOT NULL,
            first_seen  TIMESTAMP NOT NULL,
            PRIMARY KEY (arxiv_id, url, source)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE venue_mentions (
            arxiv_id VARCHAR NOT NULL,
            venue    VARCHAR NOT NULL,
            year     INTEGER,
            kind     VARCHAR NOT NULL,              -- main, workshop, findings, journal
            source   VARCHAR NOT NULL,              -- comment, journal_ref, pwc
            raw      VARCHAR NOT NULL,
            PRIMARY KEY (arxiv_id, source, venue)
        )
        """
    )
    con.execute("CREATE SEQUENCE run_id_seq")
    con.execute(
        """
        CREATE TABLE runs (
            run_id      BIGINT PRIMARY KEY DEFAULT nextval('run_id_seq'),
            kind        VARCHAR NOT NULL,           -- ingest-arxiv, index, ...
            started_at  TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            status      VARCHAR NOT NULL,           -- running, ok, failed
            params      JSON,
            counts      JSON,
            error       VARCHAR
        )
        """
    )
    con.execute(
        """
        CREATE TABLE ingest_state (
            source     VARCHAR NOT NULL,            -- arxiv_api, oai, ...
            key        VARCHAR NOT NULL,            -- e.g. a category
            value      VARCHAR NOT NULL,            -- watermark or resumption token
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (source, key)
        )
        """
    )


@migration(2, "runs: source, window and counts as columns")
def _m002_run_columns(con: duckdb.DuckDBPyConnection) -> None:
    for column, kind in (("source", "VARCHAR"), ("window_start", "DATE"), ("window_end", "DATE"),
                         ("papers_new", "INTEGER"), ("papers_updated", "INTEGER"),
                         ("papers_unchanged", "INTEGER"), ("requests", "INTEGER"),
                         ("retries", "INTEGER")):
        con.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")


@migration(3, "enrichment: code link kinds, venue kinds in the key, enrichments, checks")
def _m003_enrichment(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("ALTER TABLE code_links ADD COLUMN kind VARCHAR DEFAULT 'repository'")
    # A paper can be at "ICML" twice: the main conference and a workshop there.
    con.execute(
        """
        CREATE TABLE venue_mentions_v3 (
            arxiv_id VARCHAR NOT NULL,
            venue    VARCHAR NOT NULL,              -- canonical name, e.g. ICML, TMLR
            year     INTEGER,
            kind     VARCHAR NOT NULL,              -- main, workshop, findings, journal, demo
            source   VARCHAR NOT NULL,              -- comment, journal_ref, pwc, dump
            raw      VARCHAR NOT NULL,              -- the text it was read from
            position INTEGER NOT NULL,              -- order of the mention in its source
            PRIMARY KEY (arxiv_id, source, venue, kind)
        )
        """
    )
    con.execute("INSERT INTO venue_mentions_v3 SELECT arxiv_id, venue, year, kind, source, raw, "
                "row_number() OVER (PARTITION BY arxiv_id, source) FROM venue_mentions")
    con.execute("DROP TABLE venue_mentions")
    con.execute("ALTER TABLE venue_mentions_v3 RENAME TO venue_mentions")
    con.execute(
        """
        CREATE TABLE enrichments (
            arxiv_id       VARCHAR NOT NULL,
            source         VARCHAR NOT NULL,        -- pwc, hf, dump
            conference     VARCHAR,                 -- as the source names it
            tasks          VARCHAR[],
            methods        VARCHAR[],
            frameworks     VARCHAR[],
            citation_count INTEGER,
            stars          INTEGER,                 -- GitHub stars (Hugging Face)
            extra          JSON,
            fetched_at     TIMESTAMP NOT NULL,
            PRIMARY KEY (arxiv_id, source)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE enrich_checks (
            arxiv_id   VARCHAR NOT NULL,
            source     VARCHAR NOT NULL,            -- pwc, hf, text
            checked_at TIMESTAMP NOT NULL,          -- last time the source was asked
            checks     INTEGER NOT NULL,            -- how many times
            found      BOOLEAN NOT NULL,            -- whether the source knew the paper
            PRIMARY KEY (arxiv_id, source)
        )
        """
    )


@migration(4, "topics, paper topics, label history, topic fits; trend views")
def _m004_topics(con: duckdb.DuckDBPyConnection) -> None:
    from core.topics_store import TOPIC_TABLES
    from core.views import create_views

    for statement in TOPIC_TABLES:
        con.execute(statement)
    create_views(con)


@migration(5, "trend views: emerging score as a lower confidence bound of growth")
def _m005_views(con: duckdb.DuckDBPyConnection) -> None:
    from core.views import create_views

    create_views(con)  # the views as core/views.py defines them now


@migration(6, "trend views: faster (no papers_enriched under the code views, ROWS frames)")
def _m006_views(con: duckdb.DuckDBPyConnection) -> None:
    from core.views import create_views

    create_views(con)


@migration(7, "watchlists")
def _m007_watchlists(con: duckdb.DuckDBPyConnection) -> None:
    from core.watch_store import WATCH_TABLES

    for statement in WATCH_TABLES:
        con.execute(statement)


# ---------------------------------------------------------------- the store


@dataclass(frozen=True)
class UpsertResult:
    """What an upsert did: new papers, papers replaced by a newer version, and no-ops."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


USER_SQL_CATALOG = "papers_db"  # the published file's name in a connection for user SQL


def _sql_quote(text: str) -> str:
    return text.replace("'", "''")


class Store:
    """A connection to one paperradar DuckDB file.

    `Store.open(path)` creates and migrates a writable database; `Store.open_read_only(path)`
    opens an existing one (a published snapshot) without taking the writer's lock.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> None:
        self.con = con
        self.path = path
        self.read_only = read_only

    # -- opening

    @classmethod
    def open(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            raise StoreError(f"cannot open {path} for writing: {_first_line(exc)}") from None
        store = cls(con, path, read_only=False)
        store.migrate()
        # Only one process can hold this file for writing, so a run still marked running
        # belongs to a process that died (killed, power cut): say so.
        store.con.execute(
            "UPDATE runs SET status = 'interrupted', error = 'the process ended before the run "
            "finished' WHERE status = 'running'"
        )
        return store

    @classmethod
    def open_read_only(cls, path: Path, *, external_access: bool = True) -> Store:
        """Open an existing database read-only; `external_access=False` also forbids
        reading files, ATTACH and extension loading (for user-typed SQL, core/sql_guard.py).

        Without external access the file is attached, read-only, to a fresh in-memory
        database whose configuration is then locked: DuckDB refuses a second connection to
        a file with another configuration in the same process, and the dashboard also
        holds ordinary read-only connections to it (search needs the fts extension)."""
        if not path.exists():
            raise StoreMissingError(
                f"no database at {path}: run `paperradar ingest arxiv` (or `paperradar run`) first"
            )
        try:
            if external_access:
                con = duckdb.connect(str(path), read_only=True)
            else:
                con = duckdb.connect(":memory:")
                con.execute(f"ATTACH '{_sql_quote(str(path))}' AS {USER_SQL_CATALOG} (READ_ONLY)")
                con.execute(f"USE {USER_SQL_CATALOG}")
                con.execute("SET enable_external_access = false")
                con.execute("SET lock_configuration = true")
        except duckdb.Error as exc:
            raise StoreError(f"cannot open {path} read-only: {_first_line(exc)}") from None
        return cls(con, path, read_only=True)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the file so a plain copy of it is complete."""
        self.con.execute("CHECKPOINT")

    # -- schema

    def schema_version(self) -> int:
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        ).fetchone()
        if not exists or not exists[0]:
            return 0
        row = self.con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        return int(row[0]) if row else 0

    def migrate(self) -> list[int]:
        """Apply pending migrations; returns the versions applied (empty when up to date)."""
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        current = self.schema_version()
        applied = []
        for version, name, fn in MIGRATIONS:
            if version <= current:
                continue
            self.con.execute("BEGIN TRANSACTION")
            try:
                fn(self.con)
                self.con.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, _now()]
                )
                self.con.execute("COMMIT")
            except Exception as exc:
                self.con.execute("ROLLBACK")
                raise StoreError(f"migration {version} ({name}) failed: {_first_line(exc)}") from exc
            applied.append(version)
        if applied:
            # Fold schema changes into the file at once: DuckDB 1.5.5 cannot replay an
            # ALTER TABLE of a table with a nextval() default from the write-ahead log, so a
            # process killed before its next checkpoint would leave a file that won't open.
            self.checkpoint()
        return applied

    # -- papers

    def upsert_papers(
        self,
        papers: Iterable[Paper | PaperBatch],
        batch_size: int = 5000,
        *,
        read_ahead: bool = False,
    ) -> UpsertResult:
        """Insert new papers and replace older versions; re-running with the same input is a no-op.

        A row is rewritten only when the incoming version is newer, or the same version
        arrives with different metadata (arXiv adds journal refs and DOIs without a new
        version). Older versions never overwrite newer ones; within a batch the newest
        version of an id wins. Each batch is one transaction: `batch_size` Papers, or a
        PaperBatch as given (the bulk path). A failed batch is rolled back and raises
        StoreError; the batches before it stay stored.

        `read_ahead=True` is for bulk loads whose input is parsed as it is read: a
        background thread reads `papers` and prepares the next batch while this thread
        writes the previous one (DuckDB releases the GIL), so parsing and writing overlap.
        The input is then consumed in that thread, in a copy of the caller's context; its
        errors are raised here, after the batches before them are stored.

        >>> store.upsert_papers(iter_snapshot_batches(files), read_ahead=True)
        """
        prepared: Iterator[tuple[pa.Table, int]] = (
            (_paper_table(rows), len(rows)) for rows in _batches(papers, batch_size)
        )
        if read_ahead:
            prepared = _read_ahead(prepared)
        total = UpsertResult()
        written = 0  # papers since the last checkpoint
        with self._bulk_writes(leave_a_core=read_ahead):
            for table, size in prepared:
                total += self._upsert_batch(table, size)
                written += size
                if written >= _ROW_GROUP_ROWS:
                    self.checkpoint()
                    written = 0
        if written and self._wal_bytes() > _CHECKPOINT_WAL_BYTES:
            self.checkpoint()
        return total

    @contextmanager
    def _bulk_writes(self, leave_a_core: bool) -> Iterator[None]:
        """DuckDB settings for a stream of batches, restored afterwards.

        DuckDB checkpoints at every commit that leaves over 16 MiB of WAL (~10k papers),
        and each checkpoint rewrites the table's last, partly filled row group (122,880
        rows) in full: 72k papers in batches of 20k were compressed and written almost 3
        times over. Here upsert_papers checkpoints once per row group instead. With
        `leave_a_core`, DuckDB gets one thread fewer than cores, the other core being the
        read-ahead thread's: a DuckDB worker there only competes with it (~30% more CPU
        time for the same import on 2 cores).
        """
        con = self.con
        saved = con.execute(
            "SELECT current_setting('checkpoint_threshold'), current_setting('threads')"
        ).fetchone()
        assert saved is not None
        threshold, threads = saved
        con.execute("SET checkpoint_threshold = '1 TiB'")
        if leave_a_core:
            con.execute(f"SET threads = {max(1, min(int(threads), (os.cpu_count() or 1) - 1))}")
        try:
            yield
        finally:
            con.execute(f"SET checkpoint_threshold = '{threshold}'")
            if leave_a_core:
                con.execute(f"SET threads = {int(threads)}")

    def _wal_bytes(self) -> int:
        try:
            return os.path.getsize(f"{self.path}.wal")
        except OSError:
            return 0

    def _upsert_batch(self, table: pa.Table, size: int) -> UpsertResult:
        """Store one batch of `size` papers, prepared by `_paper_table`, in one transaction."""
        distinct = table.num_rows
        con = self.con
        con.register("incoming", table)
        try:
            con.execute("BEGIN TRANSACTION")
            counts = con.execute(
                f"SELECT count(*), count(*) FILTER (WHERE {_CHANGED}) "
                "FROM incoming i JOIN papers p USING (arxiv_id)"
            ).fetchone()
            assert counts is not None
            existing, updated = int(counts[0]), int(counts[1])
            if updated:
                # Two statements: DuckDB updates a LIST column as a delete + insert of the
                # row (~50x the cost of a scalar update), so lists are written only where
                # they differ. The first sets the version, which the second then matches.
                con.execute(
                    f"UPDATE papers AS p SET {_SCALAR_UPDATES}, last_changed = ? "
                    f"FROM incoming i WHERE p.arxiv_id = i.arxiv_id AND ({_CHANGED})",
                    [_now()],
                )
                con.execute(
                    "UPDATE papers AS p SET authors = i.authors, categories = i.categories "
                    "FROM incoming i WHERE p.arxiv_id = i.arxiv_id AND i.version = p.version"
                    " AND (i.authors IS DISTINCT FROM p.authors"
                    " OR i.categories IS DISTINCT FROM p.categories)"
                )
            if existing < distinct:
                # A plain INSERT: new ids need no conflict handling, and into an empty
                # store (a first import) not even the anti-join.
                new = "" if not existing else (
                    " WHERE arxiv_id NOT IN (SELECT arxiv_id FROM papers)"
                )
                con.execute(f"INSERT INTO papers ({_COLUMNS}) SELECT {_COLUMNS} FROM incoming{new}")
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise StoreError(f"could not store {size} papers: {_first_line(exc)}") from exc
        finally:
            con.unregister("incoming")
        inserted = distinct - existing
        return UpsertResult(inserted, updated, size - inserted - updated)

    def count_papers(self) -> int:
        row = self.con.execute("SELECT count(*) FROM papers").fetchone()
        return int(row[0]) if row else 0

    def embedding_inputs(self) -> list[tuple[int, str, str, str]]:
        """(paper_id, content_hash, title, abstract) of every paper that belongs in the index."""
        return [
            (int(r[0]), r[1], r[2], r[3])
            for r in self.con.execute(
                "SELECT paper_id, content_hash, title, abstract FROM papers "
                "WHERE NOT withdrawn ORDER BY paper_id"
            ).fetchall()
        ]

    def papers_by_key(self, paper_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Search-result fields for the given keys, with the best code repository (official
        first, then the oldest). A few milliseconds for a page of results: both queries are
        IN lists of bound parameters, which DuckDB answers from the key indexes."""
        if not paper_ids:
            return {}
        keys = list(dict.fromkeys(int(k) for k in paper_ids))
        cursor = self.con.execute(
            "SELECT paper_id, arxiv_id, title, authors, published, primary_category, categories, "
            "venue, comment, withdrawn, abstract FROM papers "
            f"WHERE paper_id IN ({', '.join('?' * len(keys))})",
            keys,
        )
        names = [d[0] for d in cursor.description]
        rows = {int(row[0]): dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
        arxiv_ids = [row["arxiv_id"] for row in rows.values()]
        best: dict[str, tuple[Any, ...]] = {}
        if arxiv_ids:
            # No `kind` condition in SQL: it would turn the key lookup into a scan.
            links = self.con.execute(
                "SELECT arxiv_id, url, is_official, first_seen, kind FROM code_links "
                f"WHERE arxiv_id IN ({', '.join('?' * len(arxiv_ids))})",
                arxiv_ids,
            ).fetchall()
            for arxiv_id, url, official, first_seen, kind in links:
                rank = (not official, first_seen, url)
                if kind == "repository" and (arxiv_id not in best or rank < best[arxiv_id][0]):
                    best[arxiv_id] = (rank, url, official)
        for row in rows.values():
            link = best.get(row["arxiv_id"])
            row["code_url"] = link[1] if link else None
            row["code_official"] = bool(link[2]) if link else None
        return rows

    # -- runs and watermarks

    @contextmanager
    def run(
        self,
        kind: str,
        params: dict[str, Any],
        counts: dict[str, Any] | None = None,
        *,
        source: str | None = None,
        window: tuple[date | None, date | None] = (None, None),
    ) -> Iterator[dict[str, Any]]:
        """Record a run around a block: yields its counts dict, filled by the caller, and
        records it with status ok, or failed with the error, when the block ends.

        The counts `inserted`, `updated`, `unchanged`, `requests` and `retries` also fill
        the columns papers_new, papers_updated, papers_unchanged, requests and retries."""
        counts = {} if counts is None else counts
        run_id = self.start_run(kind, params, source=source, window=window)
        try:
            yield counts
        except BaseException as exc:
            self.finish_run(run_id, "failed", counts, str(exc) or type(exc).__name__)
            raise
        self.finish_run(run_id, "ok", counts)

    def start_run(
        self,
        kind: str,
        params: dict[str, Any],
        *,
        source: str | None = None,
        window: tuple[date | None, date | None] = (None, None),
    ) -> int:
        row = self.con.execute(
            "INSERT INTO runs (kind, started_at, status, params, source, window_start, window_end)"
            " VALUES (?, ?, 'running', ?, ?, ?, ?) RETURNING run_id",
            [kind, _now(), json.dumps(params, default=str), source, *window],
        ).fetchone()
        assert row is not None
        return int(row[0])

    def finish_run(
        self, run_id: int, status: str, counts: dict[str, Any], error: str | None = None
    ) -> None:
        columns = [counts.get(k) for k in ("inserted", "updated", "unchanged", "requests", "retries")]
        self.con.execute(
            "UPDATE runs SET finished_at = ?, status = ?, counts = ?, error = ?, papers_new = ?,"
            " papers_updated = ?, papers_unchanged = ?, requests = ?, retries = ? WHERE run_id = ?",
            [_now(), status, json.dumps(counts, default=str), error, *columns, run_id],
        )

    def get_state(self, source: str, key: str) -> str | None:
        row = self.con.execute(
            "SELECT value FROM ingest_state WHERE source = ? AND key = ?", [source, key]
        ).fetchone()
        return str(row[0]) if row else None

    def set_state(self, source: str, key: str, value: str) -> None:
        self.con.execute(
            "INSERT INTO ingest_state VALUES (?, ?, ?, ?) ON CONFLICT (source, key) "
            "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            [source, key, value, _now()],
        )

    def delete_state(self, source: str, key: str) -> None:
        self.con.execute("DELETE FROM ingest_state WHERE source = ? AND key = ?", [source, key])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around a block: all of its writes land, or none."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- enrichment: code links, venues, what each source said, when it was asked

    def add_code_links(self, links: Iterable[CodeLink], now: datetime | None = None) -> int:
        """Store code links of papers in the store; returns how many are new.

        A link seen again keeps its first_seen (so "days from v1 to code" stays true) and
        becomes official if any source says so. Links of unknown papers are ignored.
        """
        rows = [(link.arxiv_id, link.url, link.source, link.is_official, link.kind,
                 link.first_seen or now or _now()) for link in links]
        if not rows:
            return 0
        table = pa.table(list(zip(*rows, strict=True)),
                         names=["arxiv_id", "url", "source", "is_official", "kind", "first_seen"])
        before = self._count("code_links")
        with self._registered("incoming_links", table), self.transaction():
            self.con.execute(
                """
                INSERT INTO code_links (arxiv_id, url, source, is_official, first_seen, kind)
                SELECT arxiv_id, url, source, bool_or(is_official), min(first_seen), any_value(kind)
                FROM incoming_links WHERE arxiv_id IN (SELECT arxiv_id FROM papers)
                GROUP BY arxiv_id, url, source
                ON CONFLICT (arxiv_id, url, source) DO UPDATE SET
                    is_official = code_links.is_official OR excluded.is_official,
                    first_seen = least(code_links.first_seen, excluded.first_seen),
                    kind = excluded.kind
                """
            )
        return self._count("code_links") - before

    def replace_venue_mentions(self, source: str, arxiv_ids: Sequence[str],
                               mentions: Iterable[VenueMention]) -> None:
        """Make `mentions` the venue mentions from `source` of these papers (a new version's
        comment replaces what the old one said)."""
        rows = [(m.arxiv_id, m.venue, m.year, m.kind, m.source, m.raw, position)
                for position, m in enumerate(mentions)]
        with self.transaction():
            self.con.execute(
                "DELETE FROM venue_mentions WHERE source = ? AND arxiv_id IN (SELECT unnest(?))",
                [source, list(arxiv_ids)],
            )
            if rows:
                table = pa.table(
                    list(zip(*rows, strict=True)),
                    schema=pa.schema([("arxiv_id", pa.string()), ("venue", pa.string()),
                                      ("year", pa.int32()), ("kind", pa.string()),
                                      ("source", pa.string()), ("raw", pa.string()),
                                      ("position", pa.int32())]),
                )
                with self._registered("incoming_venues", table):
                    self.con.execute(
                        "INSERT INTO venue_mentions SELECT * FROM incoming_venues "
                        "WHERE arxiv_id IN (SELECT arxiv_id FROM papers) "
                        "QUALIFY row_number() OVER (PARTITION BY arxiv_id, source, venue, kind "
                        "ORDER BY position) = 1"
                    )

    def add_enrichments(self, enrichments: Iterable[Enrichment], now: datetime | None = None) -> int:
        """Store what a source said about papers (replacing its previous answer) and their code
        links; returns how many papers of the store were covered."""
        stamp = now or _now()
        items = list(enrichments)
        if not items:
            return 0
        self.add_code_links((link for e in items for link in e.code_links), stamp)
        rows = [(e.arxiv_id, e.source, e.conference, list(e.tasks), list(e.methods),
                 list(e.frameworks), e.citation_count, e.stars,
                 json.dumps(e.extra, default=str, ensure_ascii=False), stamp) for e in items]
        table = pa.table(
            list(zip(*rows, strict=True)),
            schema=pa.schema([("arxiv_id", pa.string()), ("source", pa.string()),
                              ("conference", pa.string()), ("tasks", pa.list_(pa.string())),
                              ("methods", pa.list_(pa.string())),
                              ("frameworks", pa.list_(pa.string())),
                              ("citation_count", pa.int64()), ("stars", pa.int64()),
                              ("extra", pa.string()), ("fetched_at", pa.timestamp("us"))]),
        )
        with self._registered("incoming_enrichments", table), self.transaction():
            row = self.con.execute(
                """
                INSERT OR REPLACE INTO enrichments
                SELECT * FROM incoming_enrichments
                WHERE arxiv_id IN (SELECT arxiv_id FROM papers)
                QUALIFY row_number() OVER (PARTITION BY arxiv_id, source ORDER BY fetched_at DESC) = 1
                """
            ).fetchone()
        return int(row[0]) if row else 0

    def record_checks(self, source: str, found: dict[str, bool], now: datetime | None = None) -> None:
        """Remember that `source` was asked about these papers, and whether it knew them."""
        if not found:
            return
        table = pa.table({"arxiv_id": list(found), "found": list(found.values())})
        with self._registered("incoming_checks", table), self.transaction():
            self.con.execute(
                """
                INSERT INTO enrich_checks
                SELECT arxiv_id, ?, ?, 1, found FROM incoming_checks
                ON CONFLICT (arxiv_id, source) DO UPDATE SET
                    checked_at = excluded.checked_at, checks = enrich_checks.checks + 1,
                    found = enrich_checks.found OR excluded.found
                """,
                [source, now or _now()],
            )

    def due_for_enrichment(self, source: str, now: datetime, schedule_days: Sequence[int],
                           limit: int | None = None) -> list[tuple[str, datetime]]:
        """(arxiv_id, published) of papers `source` should be asked about now, newest first:
        never asked, or still without code and a re-check day (v1 + d days) has come since
        the last time."""
        sql = """
            SELECT p.arxiv_id, p.published FROM papers p
            LEFT JOIN enrich_checks c ON c.arxiv_id = p.arxiv_id AND c.source = ?
            WHERE NOT p.withdrawn AND (
                c.arxiv_id IS NULL
                OR (NOT p.has_code AND EXISTS (
                    SELECT 1 FROM unnest(?::INTEGER[]) AS s(d)
                    WHERE p.published + to_days(s.d) > c.checked_at
                      AND p.published + to_days(s.d) <= ?)))
            ORDER BY p.published DESC, p.arxiv_id
        """
        params: list[Any] = [source, list(schedule_days), now]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [(r[0], r[1]) for r in self.con.execute(sql, params).fetchall()]

    def text_due(self) -> list[tuple[str, str | None, str, str | None, datetime]]:
        """(arxiv_id, comment, abstract, journal_ref, updated) of papers whose text was never
        read for links and venues, or changed since."""
        return self.con.execute(
            """
            SELECT p.arxiv_id, p.comment, p.abstract, p.journal_ref, p.updated FROM papers p
            LEFT JOIN enrich_checks c ON c.arxiv_id = p.arxiv_id AND c.source = 'text'
            WHERE c.arxiv_id IS NULL OR p.last_changed > c.checked_at
            ORDER BY p.arxiv_id
            """
        ).fetchall()

    def venue_mentions_of(self, arxiv_ids: Sequence[str]) -> dict[str, list[VenueMention]]:
        """Every stored venue mention of these papers, text (comment, journal-ref) first."""
        rows = self.con.execute(
            """
            SELECT arxiv_id, venue, year, source, raw, kind FROM venue_mentions
            WHERE arxiv_id IN (SELECT unnest(?))
            ORDER BY arxiv_id, source NOT IN ('comment', 'journal_ref', 'text'), source, position
            """,
            [list(arxiv_ids)],
        ).fetchall()
        found: dict[str, list[VenueMention]] = {}
        for arxiv_id, venue, year, source, raw, kind in rows:
            found.setdefault(arxiv_id, []).append(VenueMention(arxiv_id, venue, year, source, raw, kind))
        return found

    def set_derived(self, venues: dict[str, str | None]) -> None:
        """papers.venue for the given papers, and papers.has_code for all: a repository link."""
        with self.transaction():
            if venues:
                table = pa.table({"arxiv_id": list(venues), "venue": list(venues.values())},
                                 schema=pa.schema([("arxiv_id", pa.string()), ("venue", pa.string())]))
                with self._registered("incoming_derived", table):
                    self.con.execute(
                        "UPDATE papers SET venue = d.venue FROM incoming_derived d "
                        "WHERE papers.arxiv_id = d.arxiv_id AND papers.venue IS DISTINCT FROM d.venue"
                    )
            self.con.execute(
                """
                UPDATE papers SET has_code = c.arxiv_id IS NOT NULL
                FROM papers p LEFT JOIN (SELECT DISTINCT arxiv_id FROM code_links
                                         WHERE kind = 'repository') c USING (arxiv_id)
                WHERE papers.arxiv_id = p.arxiv_id AND papers.has_code <> (c.arxiv_id IS NOT NULL)
                """
            )

    def count_code_links(self) -> int:
        return self._count("code_links")

    def _count(self, table: str) -> int:
        row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    @contextmanager
    def _registered(self, name: str, table: pa.Table) -> Iterator[None]:
        self.con.register(name, table)
        try:
            yield
        finally:
            self.con.unregister(name)

    # -- read-only queries

    def query(self, sql: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[tuple]]:
        """Run one statement; returns (column names, rows). Errors become StoreError."""
        try:
            cursor = self.con.execute(sql, params or [])
            names = [d[0] for d in cursor.description] if cursor.description else []
            return names, cursor.fetchall() if names else []
        except duckdb.Error as exc:
            raise StoreError(_first_line(exc)) from None


# Whether incoming row i replaces stored row p: a newer version, or the same version with
# other metadata. Never an older version.
_CHANGED = """
    i.version > p.version
    OR (i.version = p.version AND (
        i.title IS DISTINCT FROM p.title OR i.abstract IS DISTINCT FROM p.abstract
        OR i.comment IS DISTINCT FROM p.comment
        OR i.journal_ref IS DISTINCT FROM p.journal_ref
        OR i.doi IS DISTINCT FROM p.doi
        OR i.categories IS DISTINCT FROM p.categories
        OR i.authors IS DISTINCT FROM p.authors))
"""
_COLUMNS = ", ".join(PAPER_COLUMNS)
_ROW_GROUP_ROWS = 122_880  # rows per DuckDB row group
_CHECKPOINT_WAL_BYTES = 16 * 2**20  # DuckDB's default checkpoint_threshold
_SCALAR_UPDATES = ", ".join(
    f"{c} = i.{c}" for c in PAPER_COLUMNS if c not in ("arxiv_id", "paper_id", "authors", "categories")
)
_paper_row: Callable[[Paper], PaperRow] = attrgetter(*PAPER_FIELDS)


def _batches(items: Iterable[Paper | PaperBatch], size: int) -> Iterator[list[PaperRow]]:
    batch: list[PaperRow] = []
    for item in items:
        if isinstance(item, PaperBatch):
            if batch:
                yield batch
                batch = []
            if item.rows:
                yield item.rows
            continue
        batch.append(_paper_row(item))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _paper_table(rows: list[PaperRow]) -> pa.Table:
    """The rows as an Arrow table of PAPER_COLUMNS, the newest version of each id only.

    Built column by column from the tuples (no dict per paper), with the derived columns
    computed here: the same values as `paper_key`, `Paper.content_hash`, `Paper.withdrawn`.
    """
    if len({row[0] for row in rows}) < len(rows):
        rows = _newest(rows)
    (arxiv_id, version, title, abstract, authors, published, updated, primary_category,
     categories, comment, journal_ref, doi, source) = zip(*rows, strict=True)
    blake2b = hashlib.blake2b
    columns: dict[str, Sequence[Any]] = {
        "paper_id": [int.from_bytes(blake2b(a.encode(), digest_size=8).digest(), "big") >> 1
                     for a in arxiv_id],
        "arxiv_id": arxiv_id,
        "version": version,
        "title": title,
        "abstract": abstract,
        "authors": authors,
        "published": published,
        "updated": updated,
        "primary_category": primary_category,
        "categories": categories,
        "comment": comment,
        "journal_ref": journal_ref,
        "doi": doi,
        "withdrawn": list(map(is_withdrawn, comment, abstract)),
        "content_hash": list(map(text_hash, title, abstract)),
        "source": source,
    }
    return pa.Table.from_arrays(
        [pa.array(columns[f.name], f.type) for f in _PAPER_SCHEMA], schema=_PAPER_SCHEMA
    )


def _newest(rows: list[PaperRow]) -> list[PaperRow]:
    """One row per id: the highest version, then the latest `updated` (the first on a tie)."""
    best: dict[str, PaperRow] = {}
    for row in rows:
        kept = best.get(row[0])
        if kept is None or (row[1], row[6]) > (kept[1], kept[6]):
            best[row[0]] = row
    return list(best.values())


def _read_ahead(items: Iterator[Any], depth: int = 1) -> Iterator[Any]:
    """`items`, produced in a background thread up to `depth` items ahead of the consumer.

    The producer runs in a copy of the caller's context (contextvars: loggers, run
    context). Its exceptions are raised here, in order; a consumer that stops early (or
    fails) stops it, and it closes `items`, before this generator finishes closing.
    """
    slots: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((False, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((False, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(produce,), name="paperradar-read-ahead",
                              daemon=True)
    thread.start()
    try:
        while True:
            more, item = slots.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        thread.join()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
