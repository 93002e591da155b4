"""Digests page: the weekly digests written under $PAPERRADAR_HOME/digests, rendered.

The digest itself is written by `paperradar digest` (Markdown and HTML); this page only
shows what is there and never makes one up.
"""

from __future__ import annotations

import streamlit as st

from dashboard import queries, ui


def body() -> None:
    st.title("Digests")
    home = ui.settings().home
    files = queries.digest_files(home)
    if not files:
        ui.empty_state(
            f"No digest yet. The weekly digest (new papers of the week, emerging topics, papers "
            f"with code) is written as Markdown and HTML under `{home / 'digests'}` by "
            "`paperradar digest`, and this page shows it, the current week's preview included. "
            "(`paperradar digest` is not part of this version yet.)",
            "paperradar digest --week 2026-W23")
        return
    names = {str(p.relative_to(home / "digests")): p for p in files}
    name = st.selectbox("Digest", list(names), key="digest")
    path = names[name]
    text = path.read_text(encoding="utf-8", errors="replace")
    st.caption(f"{path} · {len(text):,} characters")
    if path.suffix == ".html":
        st.html(text)  # sanitised by Streamlit: no scripts run
    else:
        st.markdown(text)


ui.run_page(body)
