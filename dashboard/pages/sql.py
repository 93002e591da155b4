"""SQL page: read-only queries over the published database, with example queries.

core/sql_guard.py decides what runs: one SELECT/WITH/DESCRIBE/SHOW/EXPLAIN statement, no
file, network or extension access, at most ROW_CAP rows, stopped after TIME_LIMIT_S.
"""

from __future__ import annotations

import streamlit as st

from core.errors import PaperradarError
from core.sql_guard import ROW_CAP, TIME_LIMIT_S, run_guarded
from dashboard import queries, ui


def _use_example() -> None:
    st.session_state["sql"] = queries.EXAMPLE_QUERIES[st.session_state["sql_example"]]


def _unique(names: list[str]) -> list[str]:
    """Column names made unique (`SELECT 1, 1`), as a table needs them."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def body() -> None:
    st.title("SQL")
    ui.snapshot()
    st.caption(f"Read-only SQL over the published database: one SELECT, WITH, DESCRIBE, SHOW "
               f"or EXPLAIN statement; at most {ROW_CAP:,} rows; stopped after "
               f"{TIME_LIMIT_S:g} s. Files, ATTACH, COPY and extensions are refused. The views "
               "(papers_enriched, weekly_topic_counts, emerging_topics, venue_counts, "
               "code_availability_monthly, …) are described in the README.")
    examples = list(queries.EXAMPLE_QUERIES)
    if "sql" not in st.session_state:
        st.session_state["sql"] = st.query_params.get("sql") or queries.EXAMPLE_QUERIES[examples[0]]
    st.selectbox("Example queries", examples, index=None, key="sql_example",
                 placeholder="pick an example", on_change=_use_example)
    st.text_area("SQL", key="sql", height=160)
    if not st.button("Run", key="run_sql", type="primary", icon=":material/play_arrow:"):
        return
    statement = st.session_state["sql"]
    st.query_params["sql"] = statement
    try:
        result = run_guarded(ui.sql_store(), statement)
    except PaperradarError as exc:
        st.error(str(exc), icon=":material/block:")
        return
    if not result.columns:
        st.info("The statement returned no rows.")
        return
    import pandas as pd

    frame = pd.DataFrame.from_records(result.rows, columns=_unique(result.columns))
    st.caption(f"{len(frame):,} rows in {result.seconds:.2f} s"
               + (f" (only the first {ROW_CAP:,}: add a LIMIT or a WHERE)" if result.truncated
                  else ""))
    st.dataframe(frame, hide_index=True, width="stretch")


ui.run_page(body)
