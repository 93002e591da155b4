"""core/sql_guard.py: what user SQL may run on the published database, the row cap, the time
limit, and that the connection itself refuses files even if a statement slipped through."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from core.errors import StoreError
from core.sql_guard import (
    SQLRefusedError,
    SQLTimeoutError,
    check_sql,
    run_guarded,
)
from core.store import Store


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sql") / "papers.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE papers AS SELECT range AS n, 'title ' || range AS title "
                "FROM range(3000)")
    con.execute("CREATE VIEW small AS SELECT * FROM papers WHERE n < 10")
    con.close()
    return path


@pytest.fixture()
def guarded(db_path: Path) -> Store:
    store = Store.open_read_only(db_path, external_access=False)
    yield store
    store.close()


ALLOWED = [
    "SELECT count(*) FROM papers",
    "select n from papers where title like '%glob%' limit 3;",  # words in strings don't count
    "WITH t AS (SELECT n FROM papers) SELECT max(n) FROM t",
    "FROM small",
    "DESCRIBE papers",
    "SHOW TABLES",
    "SUMMARIZE small",
    "EXPLAIN SELECT * FROM papers",
    "VALUES (1, 2)",
    "SELECT title -- read_csv('x') in a comment\nFROM small",
    "SELECT n FROM papers WHERE title GLOB 'title 1*' LIMIT 2",  # GLOB the operator
]

REFUSED = {
    "DROP TABLE papers": "DROP",
    "DELETE FROM papers": "DELETE",
    "UPDATE papers SET n = 1": "UPDATE",
    "INSERT INTO papers VALUES (1, 'x')": "INSERT",
    "CREATE TABLE t AS SELECT 1": "CREATE",
    "COPY papers TO '/tmp/out.csv'": "COPY",
    "EXPORT DATABASE '/tmp/out'": "EXPORT",
    "IMPORT DATABASE '/etc'": "IMPORT",
    "ATTACH '/tmp/other.duckdb' AS other": "ATTACH",
    "DETACH other": "DETACH",
    "INSTALL httpfs": "INSTALL",
    "LOAD httpfs": "LOAD",
    "PRAGMA enable_profiling": "PRAGMA",
    "SET enable_external_access = true": "SET",
    "CALL pragma_version()": "CALL",
    "CHECKPOINT": "CHECKPOINT",
    "SELECT * FROM read_csv('/etc/passwd')": "read_csv",
    "SELECT * FROM read_csv_auto('/etc/passwd')": "read_csv_auto",
    "SELECT * FROM read_parquet('x.parquet')": "read_parquet",
    "SELECT * FROM read_json_auto('x.json')": "read_json_auto",
    "SELECT * FROM read_text('/etc/passwd')": "read_text",
    "SELECT * FROM read_blob('/etc/passwd')": "read_blob",
    "SELECT * FROM glob('/etc/*')": "glob",
    'SELECT * FROM "READ_CSV"(\'/etc/passwd\')': "read_csv",
    "SELECT * FROM main.read_parquet('x')": "read_parquet",
    "SELECT * FROM '/etc/passwd'": "reading files",
    "SELECT * FROM papers JOIN 'x.csv' USING (n)": "reading files",
    "SELECT * FROM query('SELECT 1')": "query",
    "SELECT 1; SELECT 2": "one statement",
    "SELECT 1; DROP TABLE papers": "one statement",
    "": "empty",
    "   ;  ": "no statement",
    "-- only a comment": "no statement",
    "SELEC 1": "does not parse",
}


@pytest.mark.parametrize("sql", ALLOWED)
def test_read_only_queries_pass(sql: str, guarded: Store) -> None:
    assert check_sql(sql)
    result = run_guarded(guarded, sql)
    assert result.columns


@pytest.mark.parametrize("sql, reason", REFUSED.items())
def test_everything_else_is_refused_with_the_reason(sql: str, reason: str) -> None:
    with pytest.raises(SQLRefusedError) as refused:
        check_sql(sql)
    message = str(refused.value)
    assert reason in message and "\n" not in message


def test_import_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    # DuckDB's parser reads the files of IMPORT DATABASE: it must never get the statement.
    (tmp_path / "schema.sql").write_text("CREATE TABLE pwned (x INT);")
    (tmp_path / "load.sql").write_text("")
    with pytest.raises(SQLRefusedError, match="IMPORT"):
        check_sql(f"IMPORT DATABASE '{tmp_path}'")


def test_row_cap(guarded: Store) -> None:
    result = run_guarded(guarded, "SELECT n FROM papers ORDER BY n", row_cap=1000)
    assert len(result.rows) == 1000 and result.truncated and result.rows[-1] == (999,)
    result = run_guarded(guarded, "SELECT n FROM small", row_cap=1000)
    assert len(result.rows) == 10 and not result.truncated
    assert len(run_guarded(guarded, "FROM papers", row_cap=None).rows) == 3000


def test_time_limit(guarded: Store) -> None:
    with pytest.raises(SQLTimeoutError, match="longer than 0.3 s"):
        run_guarded(guarded, "SELECT count(*) FROM range(1000000000) a, range(1000) b",
                    time_limit=0.3)
    # the connection is still usable afterwards
    assert run_guarded(guarded, "SELECT count(*) FROM small").rows == [(10,)]


def test_database_errors_are_one_line(guarded: Store) -> None:
    with pytest.raises(StoreError, match="no_such_table") as failed:
        run_guarded(guarded, "SELECT * FROM no_such_table")
    assert "\n" not in str(failed.value)


def test_only_a_locked_down_connection_runs_user_sql(db_path: Path) -> None:
    with Store.open_read_only(db_path) as plain, pytest.raises(StoreError, match="external"):
        run_guarded(plain, "SELECT 1")
    writable = Store(duckdb.connect(":memory:"), Path(":memory:"), read_only=False)
    with pytest.raises(StoreError, match="read-only"):
        run_guarded(writable, "SELECT 1")
    writable.close()


def test_the_connection_refuses_files_even_past_the_checks(guarded: Store) -> None:
    # The last layer: had a statement slipped past check_sql, DuckDB itself refuses.
    for sql in ("SELECT * FROM read_csv('/etc/passwd')", "ATTACH '/tmp/x.duckdb' AS x",
                "COPY papers TO '/tmp/x.csv'", "INSTALL httpfs"):
        with pytest.raises(duckdb.Error):
            guarded.con.execute(sql)


def test_user_sql_and_ordinary_readers_share_a_file(db_path: Path) -> None:
    # DuckDB refuses two configurations of one file in a process; the dashboard holds both.
    with Store.open_read_only(db_path) as plain, \
            Store.open_read_only(db_path, external_access=False) as guarded:
        assert plain.query("SELECT count(*) FROM papers")[1] == [(3000,)]
        assert run_guarded(guarded, "SELECT count(*) FROM small").rows == [(10,)]
        assert run_guarded(guarded, "SHOW TABLES").rows == [("papers",), ("small",)]
