"""Digests page: the weekly digests written under $PAPERRADAR_HOME/digests, and a preview of
the week in progress.

The files are written by `paperradar digest` (and the weekly flow of `paperradar serve`);
this page shows them as they are. The preview is the same digest composed in memory for
the newest week in the data, marked partial while that week is not complete; it is
computed once per snapshot (dashboard/warm.py), never written to disk.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.errors import StoreMissingError
from dashboard import queries, ui


def body() -> None:
    st.title("Digests")
    home = ui.settings().home
    _written(home)
    _preview()


def _written(home: Path) -> None:
    files = queries.digest_files(home)
    if not files:
        ui.empty_state(
            f"No digest yet. The weekly digest (papers of the week against the 8 before, rising "
            f"and new topics, code, accepted papers, watchlist matches) is written as Markdown "
            f"and HTML under `{home / 'digests'}` by `paperradar digest`, and weekly by "
            "`paperradar serve`; the preview of the week in progress is below.",
            "paperradar digest              # the last complete week\n"
            "paperradar digest --week 2026-W20 --send")
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


def _preview() -> None:
    st.subheader("This week so far")
    try:
        ui.require_views()
        preview = ui.query(queries.digest_preview, ui.settings().categories)
    except StoreMissingError:
        st.caption("No published database yet: nothing to preview.")
        return
    if not preview:
        st.caption("No papers yet: nothing to preview.")
        return
    state = (f"partial: the data ends {preview['data_last']}, so the week's numbers will still "
             "grow" if preview["partial"] else "complete")
    st.caption(f"Preview of {preview['week']} ({state}), composed from the published snapshot; "
               f"`paperradar digest --week {preview['week']}` writes it.")
    st.html(preview["html"])


ui.run_page(body)
