"""The paperradar dashboard: `paperradar dashboard` runs `streamlit run dashboard/app.py`.

One file per page under dashboard/pages/; this entry point sets the page up, shows what
snapshot is being read in the sidebar and runs the chosen page. Everything is read from
the published snapshot, read-only, so the dashboard stays correct while flows run.
"""

from __future__ import annotations

import streamlit as st

from dashboard import queries, ui

st.set_page_config(page_title="paperradar", page_icon=":material/radar:", layout="wide")

PAGES = [
    st.Page("pages/search.py", title="Search", icon=":material/search:", default=True),
    st.Page("pages/trends.py", title="Trends", icon=":material/trending_up:"),
    st.Page("pages/venues.py", title="Venues", icon=":material/school:"),
    st.Page("pages/code.py", title="Code", icon=":material/code:"),
    st.Page("pages/digests.py", title="Digests", icon=":material/mail:"),
    st.Page("pages/watchlists.py", title="Watchlists", icon=":material/notifications:"),
    st.Page("pages/health.py", title="Health", icon=":material/monitor_heart:"),
    st.Page("pages/sql.py", title="SQL", icon=":material/database:"),
]


def _sidebar() -> None:
    """The snapshot being read: when it was published, papers, newest paper."""
    try:
        snap = ui.snapshot()
        ui.warm_up(str(snap.path))
        facts = ui.query(queries.overview)
    except Exception:  # no snapshot yet, or an unreadable one: the page says what to do
        st.sidebar.caption("No published database yet.")
        return
    published = str(snap.info.get("published_at", "?")).replace("T", " ")
    st.sidebar.caption(
        f"Snapshot published {published} · {facts['papers']:,} papers · newest v1 "
        f"{facts['last_day'] or '—'}")


page = st.navigation(PAGES)
_sidebar()
page.run()
