"""Venues page: accepted papers per venue and year, code availability per venue, and a
venue's papers. Venues come from acceptances in comments and journal refs and from Papers
with Code (`paperradar enrich`)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import queries, ui, warm

TOP_VENUES = 20


def _papers_per_year(years: pd.DataFrame) -> None:
    years = years.assign(year=years["year"].astype("string").fillna("no year"))
    leaders = years.groupby("venue")["papers"].sum().nlargest(TOP_VENUES).index
    shown = years[years["venue"].isin(leaders)]
    chart = alt.Chart(shown).mark_bar().encode(
        y=alt.Y("venue:N", sort=list(leaders), title=None),
        x=alt.X("papers:Q", stack=True, title="accepted papers"),
        color=alt.Color("year:N", title="year", legend=alt.Legend(orient="bottom")),
        tooltip=["venue:N", "year:N", "papers:Q", "with_code:Q",
                 alt.Tooltip("share_with_code:Q", format=".0%", title="with code")])
    st.altair_chart(chart.properties(height=max(200, 22 * len(leaders))), width="stretch")
    pivot = (years[years["venue"].isin(leaders)]
             .pivot_table(index="venue", columns="year", values="papers", aggfunc="sum",
                          fill_value=0))
    pivot.columns = [str(c) for c in pivot.columns]
    with st.expander("Table: papers per venue and year"):
        st.dataframe(pivot.loc[list(leaders)], width="stretch")


def _code_per_venue(table: pd.DataFrame) -> None:
    top = table.head(TOP_VENUES)
    st.dataframe(
        top[["venue", "kind", "papers", "with_code", "share_with_code", "with_official_code",
             "share_official", "median_days_to_code"]],
        hide_index=True, width="stretch",
        column_config={
            "share_with_code": st.column_config.ProgressColumn(
                "with code", format="percent", min_value=0, max_value=1),
            "share_official": st.column_config.ProgressColumn(
                "official code", format="percent", min_value=0, max_value=1),
            "with_code": "papers with code", "with_official_code": "with official code",
            "median_days_to_code": st.column_config.NumberColumn("median days to code",
                                                                 format="%.0f"),
        })


def _browse(table: pd.DataFrame, names: list[str]) -> None:
    choices = names + [v for v in table["venue"] if v not in names]
    venue = st.selectbox("Venue", choices, key="venue_browse",
                         help="A name alone (ICML) covers every year and kind")
    papers = ui.query(queries.venue_papers, venue, warm.VENUE_PAPERS)
    st.caption(f"{len(papers)} papers" + (f" (the newest {warm.VENUE_PAPERS})"
                                          if len(papers) == warm.VENUE_PAPERS else ""))
    papers = papers.assign(link="https://arxiv.org/abs/" + papers["arxiv_id"])
    st.dataframe(
        papers[["link", "title", "published", "venue", "primary_category", "code_url",
                "code_official"]],
        hide_index=True, width="stretch",
        column_config={"link": st.column_config.LinkColumn("arXiv", display_text=r"abs/(.*)"),
                       "code_url": st.column_config.LinkColumn("code"),
                       "code_official": st.column_config.CheckboxColumn("official")})


def body() -> None:
    st.title("Venues")
    ui.snapshot()
    ui.require_views()
    table = ui.query(queries.venue_table)
    if table.empty:
        ui.empty_state("No venue is known yet. `paperradar enrich` finds acceptances in the "
                       "papers' comments and journal refs (\"Accepted at ICML 2026\") and asks "
                       "Papers with Code:", "paperradar enrich")
        return
    years = ui.query(queries.venue_years)
    st.subheader("Accepted papers per venue and year")
    _papers_per_year(years)
    st.subheader("Code availability per venue")
    _code_per_venue(table)
    st.subheader("Browse a venue")
    _browse(table, list(dict.fromkeys(years["venue"])))


ui.run_page(body)
