"""User-typed SQL on the published database: one read-only statement, a row cap, a time limit.

Used by `paperradar sql` and the dashboard's SQL page. Four layers, each enough on its own
for what it covers:

1. One statement only, parsed by DuckDB itself (`extract_statements`), on a scratch
   connection without file access (parsing IMPORT DATABASE would otherwise read files).
2. Its type is SELECT or EXPLAIN (DESCRIBE, SHOW, SUMMARIZE, FROM-first and PRAGMA
   metadata queries parse as SELECT); DDL, DML, COPY, ATTACH, INSTALL/LOAD, SET, CALL,
   EXPORT are refused with the reason.
3. No function that reads files, the network or runs SQL from a string (read_csv*,
   read_parquet, read_json*, read_text, read_blob, glob, query, ...), and no file name as
   a table (`FROM 'x.csv'`), found among DuckDB's own tokens so words inside strings
   and comments do not count.
4. The connection is opened with `enable_external_access=false` (core.store), so even a
   statement that slipped past 2 and 3 cannot touch files, ATTACH or load extensions;
   `run_guarded` refuses a connection that allows it.

The statement runs on its own cursor, interrupted after `time_limit` seconds (a timer
thread calling `interrupt()`), and at most `row_cap` rows are fetched.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import duckdb

from core.errors import PaperradarError, StoreError, UserInputError
from core.store import Store

ROW_CAP = 1000
TIME_LIMIT_S = 10.0
MAX_SQL_CHARS = 20_000
ALLOWED_TYPES = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})
ALLOWED_WORDS = "SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE or EXPLAIN"

# Functions that read files or the network, list files, run SQL given as a string, or
# reach outside the database; exact names and name prefixes.
DENIED_FUNCTIONS = frozenset({
    "glob", "sniff_csv", "query", "query_table", "json_execute_serialized_sql", "getenv",
    "delta_scan", "st_read", "st_read_meta", "load_aws_credentials", "which_secret",
    "duckdb_secrets", "checkpoint", "force_checkpoint",
})
DENIED_PREFIXES = ("read_", "parquet_", "iceberg_", "sqlite_", "postgres_", "mysql_", "http_",
                   "ducklake_")
# Keywords of statements that change state or reach outside (their statement types are
# refused too; the keyword check gives the message before parsing, which for IMPORT
# would already read files).
DENIED_KEYWORDS = frozenset({
    "attach", "detach", "copy", "install", "load", "export", "import", "pragma", "set",
    "reset", "call", "checkpoint", "use", "vacuum", "insert", "update", "delete", "drop",
    "create", "alter", "truncate", "merge", "begin", "commit", "rollback", "prepare",
    "execute", "deallocate",
})
_FILE_CLAUSES = frozenset({"from", "join"})


class SQLRefusedError(UserInputError):
    """The SQL is not a single read-only query that paperradar runs for users."""


class SQLTimeoutError(PaperradarError):
    """The query ran past the time limit and was stopped."""


@dataclass(frozen=True)
class SQLResult:
    """Column names, at most `row_cap` rows, whether more rows were left out, seconds taken."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    seconds: float


def check_sql(sql: str) -> str:
    """The one statement in `sql`, or SQLRefusedError saying why it is refused.

    >>> check_sql("SELECT count(*) FROM papers;")
    'SELECT count(*) FROM papers'
    """
    text = sql.strip()
    if not text:
        raise SQLRefusedError("the SQL statement is empty: write a query such as "
                              "SELECT count(*) FROM papers")
    if len(text) > MAX_SQL_CHARS:
        raise SQLRefusedError(f"the SQL is {len(text)} characters long; keep it under "
                              f"{MAX_SQL_CHARS}")
    _check_tokens(text)
    parser = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        statements = parser.extract_statements(text)
    except duckdb.Error as exc:
        raise SQLRefusedError(f"the SQL does not parse: {_first_line(exc)}") from None
    finally:
        parser.close()
    if len(statements) != 1:
        raise SQLRefusedError(
            f"one statement at a time, not {len(statements)}: remove the extra ';'-separated "
            "statements" if statements else "the SQL holds no statement (only comments?)")
    statement = statements[0]
    if statement.type not in ALLOWED_TYPES:
        kind = statement.query.split(maxsplit=1)[0].upper() if statement.query.strip() \
            else statement.type.name
        raise SQLRefusedError(
            f"{kind} statements are not allowed: the database is read-only here; use "
            f"{ALLOWED_WORDS}")
    return str(statement.query).strip().rstrip(";").rstrip()


def run_guarded(store: Store, sql: str, *, row_cap: int | None = ROW_CAP,
                time_limit: float | None = TIME_LIMIT_S) -> SQLResult:
    """Check `sql` (check_sql), run it on a cursor of `store`, stop it after `time_limit`
    seconds, and return at most `row_cap` rows (None: no limit).

    `store` must be read-only and opened with `external_access=False`
    (`Store.open_read_only(path, external_access=False)`), or StoreError. DuckDB errors
    (unknown table, type errors) come back as StoreError with DuckDB's first line; a
    query stopped at the time limit as SQLTimeoutError.
    """
    statement = check_sql(sql)
    _check_connection(store)
    cursor = store.con.cursor()
    # A cursor starts in the connection's default database: point it where the store is.
    catalog = store.con.execute("SELECT current_database()").fetchone()
    if catalog is not None:
        cursor.execute(f'USE "{catalog[0]}"')
    stopped = threading.Event()

    def stop() -> None:
        stopped.set()
        cursor.interrupt()

    timer = threading.Timer(time_limit, stop) if time_limit is not None else None
    started = time.perf_counter()
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        result = cursor.execute(statement)
        columns = [d[0] for d in result.description] if result.description else []
        if not columns:
            rows = []
        elif row_cap is None:
            rows = result.fetchall()
        else:
            rows = result.fetchmany(row_cap + 1)
    except duckdb.Error as exc:
        if stopped.is_set():
            raise SQLTimeoutError(
                f"the query ran longer than {time_limit:g} s and was stopped: narrow it down "
                "(a WHERE clause, a LIMIT, or one of the views)") from None
        raise StoreError(_first_line(exc)) from None
    finally:
        if timer is not None:
            timer.cancel()
        cursor.close()
    truncated = row_cap is not None and len(rows) > row_cap
    return SQLResult(columns, rows[:row_cap] if truncated else rows, truncated,
                     time.perf_counter() - started)


def _check_tokens(text: str) -> None:
    """Denied keywords, functions and file names among DuckDB's tokens of `text`."""
    try:
        tokens = duckdb.tokenize(text)
    except duckdb.Error as exc:
        raise SQLRefusedError(f"the SQL does not parse: {_first_line(exc)}") from None
    words = [(text[start:(tokens[i + 1][0] if i + 1 < len(tokens) else len(text))].strip(), kind)
             for i, (start, kind) in enumerate(tokens)]
    # A ';' followed by anything but comments and more ';' starts a second statement.
    code = [w for w, kind in words if kind != duckdb.token_type.comment]
    if ";" in code and any(w != ";" for w in code[code.index(";"):]):
        count = sum(1 for a, b in zip(code, code[1:] + [";"], strict=True) if a != ";" and b == ";")
        raise SQLRefusedError(f"one statement at a time, not {count}: remove the extra "
                              "';'-separated statements")
    previous = ""
    for i, (start, kind) in enumerate(tokens):
        end = tokens[i + 1][0] if i + 1 < len(tokens) else len(text)
        word = text[start:end].strip().strip('"').lower()
        if kind == duckdb.token_type.keyword and word in DENIED_KEYWORDS:
            raise SQLRefusedError(
                f"{word.upper()} is not allowed: only read-only queries run here ({ALLOWED_WORDS})")
        called = text[end:end + 1] == "(" or (i + 1 < len(tokens) and
                                               text[tokens[i + 1][0]] == "(")
        denied = word in DENIED_FUNCTIONS or word.startswith(DENIED_PREFIXES)
        # GLOB is also an operator keyword: a keyword is a function only when called.
        if denied and (kind == duckdb.token_type.identifier or
                       (kind == duckdb.token_type.keyword and called)):
            raise SQLRefusedError(
                f"{word} is not allowed: it reads files, the network or other databases; "
                "query the tables and views of this database instead")
        if kind == duckdb.token_type.string_const and previous in _FILE_CLAUSES:
            raise SQLRefusedError(
                "reading files is not allowed: query the tables and views of this database")
        if kind != duckdb.token_type.comment:
            previous = word


def _check_connection(store: Store) -> None:
    if not store.read_only:
        raise StoreError("user SQL runs only on a read-only database")
    row = store.con.execute("SELECT current_setting('enable_external_access')").fetchone()
    if row is None or row[0] is not False:
        raise StoreError("user SQL needs a connection opened with external access disabled "
                         "(Store.open_read_only(path, external_access=False))")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
