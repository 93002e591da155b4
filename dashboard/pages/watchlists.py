"""Watchlists page: the saved searches, what each one reported lately, and removing one.

A watchlist is made from the Search page (the Watch button) or with `paperradar watch add`;
each daily run reports the new papers that match it, once each. Everything shown here is
read from the published snapshot; removing goes through the same code as `paperradar
watch rm` and publishes.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.errors import PaperradarError
from dashboard import queries, ui

COLUMNS = {
    "name": st.column_config.TextColumn("Name"),
    "query": st.column_config.TextColumn("Query", width="large"),
    "filters": st.column_config.TextColumn("Filters"),
    "mode": st.column_config.TextColumn("Mode"),
    "min_score": st.column_config.NumberColumn("Min score", format="%.2f"),
    "matches": st.column_config.NumberColumn("Matches"),
    "last_match": st.column_config.DatetimeColumn("Last match", format="YYYY-MM-DD HH:mm"),
    "checked_through": st.column_config.DatetimeColumn("Checked through",
                                                       format="YYYY-MM-DD HH:mm"),
}
MATCH_COLUMNS = {
    "matched_at": st.column_config.DatetimeColumn("Matched", format="YYYY-MM-DD"),
    "score": st.column_config.NumberColumn("Score", format="%.3f"),
    "title": st.column_config.TextColumn("Title", width="large"),
    "url": st.column_config.LinkColumn("arXiv", display_text=r"https://arxiv\.org/abs/(.*)"),
    "published": st.column_config.DateColumn("v1"),
    "primary_category": st.column_config.TextColumn("Category"),
    "venue": st.column_config.TextColumn("Venue"),
    "has_code": st.column_config.CheckboxColumn("Code"),
}


def _filters(row: Any) -> str:
    parts = list(row["categories"] if row["categories"] is not None else [])
    if row["venue"]:
        parts.append(f"venue {row['venue']}")
    if row["has_code"]:
        parts.append("has code")
    return ", ".join(parts)


def _remove(name: str) -> None:
    try:
        removed = ui.remove_watchlist(name)
    except PaperradarError as exc:
        st.session_state.watch_page_message = ("warning", str(exc))
        return
    st.session_state.watch_page_message = ("success", f"Removed '{name}' and its {removed} matches.")


def body() -> None:
    st.title("Watchlists")
    ui.snapshot()
    message = st.session_state.pop("watch_page_message", None)
    if message:
        (st.success if message[0] == "success" else st.warning)(message[1])
    table = ui.query(queries.watchlists)
    if table.empty:
        ui.empty_state("No watchlists yet. A watchlist is a saved search: each daily run reports "
                       "the new papers that match it, once each. Make one from a search (the "
                       "Watch button), or:",
                       'paperradar watch add spec-decoding "speculative decoding"')
        return
    shown = table.assign(filters=[_filters(r) for _, r in table.iterrows()])
    st.dataframe(shown[list(COLUMNS)], column_config=COLUMNS, hide_index=True, width="stretch")
    names = list(table["name"])
    head, remove = st.columns([6, 1], vertical_alignment="bottom")
    name = head.selectbox("Watchlist", names, key="watchlist")
    with remove.popover("Remove", icon=":material/delete:"):
        st.button(f"Remove '{name}' and its matches", key="watch_rm", type="primary",
                  on_click=_remove, args=(name,))
    row = table[table["name"] == name].iloc[0]
    st.subheader(f"Recent matches of {name}")
    st.caption(f"“{ui.md_escape(row['query'])}” · {row['mode']} score ≥ {row['min_score']:g}"
               + (f" · {ui.md_escape(_filters(row))}" if _filters(row) else "")
               + f" · {row['matches']:,} matches in all")
    matches = ui.query(queries.watch_matches, name, queries.WATCH_ROWS)
    if matches.empty:
        st.info("No match yet: new papers are checked by each daily run (and `paperradar index`).")
        return
    st.dataframe(matches[list(MATCH_COLUMNS)], column_config=MATCH_COLUMNS, hide_index=True,
                 width="stretch")


ui.run_page(body)
