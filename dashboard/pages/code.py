"""Code page: the share of papers with code over time, by category, topic and venue; official
vs any repository; days from v1 to the first code; the newest papers with official code."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import queries, ui, warm

RECENT_NOTE = ("Recent periods are low partly because code often appears weeks after v1; "
               "faded points are partial periods.")


def _over_time(period: str) -> None:
    frame = ui.query(queries.code_over_time, period, None)
    if frame.empty:
        st.info("No papers in the last periods.")
        return
    long = frame.melt(id_vars=["period", "partial", "papers"],
                      value_vars=["share_with_code", "share_official"],
                      var_name="kind", value_name="share")
    long["kind"] = long["kind"].map({"share_with_code": "any repository",
                                     "share_official": "official repository"})
    base = alt.Chart(long).encode(
        x=alt.X("period:T", title=period),
        y=alt.Y("share:Q", axis=alt.Axis(format="%"), title="share of papers"),
        color=alt.Color("kind:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["period:T", "kind:N", alt.Tooltip("share:Q", format=".1%"), "papers:Q",
                 "partial:N"])
    points = base.mark_point(size=30).encode(
        opacity=alt.condition("datum.partial", alt.value(0.25), alt.value(1.0)))
    st.altair_chart((base.mark_line() + points).properties(height=300), width="stretch")
    st.caption(RECENT_NOTE)


def _by_category() -> None:
    frame = ui.query(queries.code_by_category, None, warm.CODE_CATEGORIES)
    if frame.empty:
        return
    chart = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("period:T", title="month"),
        y=alt.Y("share_with_code:Q", axis=alt.Axis(format="%"), title="share with code"),
        color=alt.Color("category:N", legend=alt.Legend(orient="bottom")),
        tooltip=["period:T", "category:N", "papers:Q", "with_code:Q",
                 alt.Tooltip("share_with_code:Q", format=".1%"),
                 alt.Tooltip("share_official:Q", format=".1%")])
    st.altair_chart(chart.properties(height=300), width="stretch")


def _shares_table(frame: pd.DataFrame, name: str) -> None:
    st.dataframe(
        frame, hide_index=True, width="stretch",
        column_config={
            name: st.column_config.TextColumn(name),
            "topic_id": st.column_config.NumberColumn("topic", width="small"),
            "share_with_code": st.column_config.ProgressColumn(
                "with code", format="percent", min_value=0, max_value=1),
            "share_official": st.column_config.ProgressColumn(
                "official", format="percent", min_value=0, max_value=1),
            "median_days_to_code": st.column_config.NumberColumn("median days to code",
                                                                 format="%.0f"),
        })


def _days_to_code() -> None:
    frame = ui.query(queries.days_to_code)
    if int(frame["papers"].sum()) == 0:
        st.info("No paper has a dated repository link yet.")
        return
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("days to code:N", sort=alt.SortField("order"), title="days from v1 to first code"),
        y=alt.Y("papers:Q"), tooltip=["days to code:N", "papers:Q"])
    st.altair_chart(chart.properties(height=240), width="stretch")
    st.caption("Days from a paper's v1 to the first time paperradar saw a repository for it "
               "(a link in the abstract counts as day 0).")


def _newest_official() -> None:
    frame = ui.query(queries.newest_official_code, warm.NEWEST_OFFICIAL)
    if frame.empty:
        st.info("No paper with an official repository yet.")
        return
    frame = frame.assign(link="https://arxiv.org/abs/" + frame["arxiv_id"])
    st.dataframe(frame[["link", "title", "published", "primary_category", "venue", "code_url"]],
                 hide_index=True, width="stretch", column_config={
                     "link": st.column_config.LinkColumn("arXiv", display_text=r"abs/(.*)"),
                     "code_url": st.column_config.LinkColumn("code")})


def body() -> None:
    st.title("Code")
    ui.snapshot()
    ui.require_views()
    facts = ui.query(queries.overview)
    if not facts["papers"]:
        ui.empty_state("No papers yet. Fetch some, then find their code:",
                       "paperradar ingest arxiv\npaperradar enrich")
        return
    share = facts["with_code"] / facts["papers"]
    st.caption(f"{facts['with_code']:,} of {facts['papers']:,} papers ({share:.0%}) have a "
               "repository link (from the abstract or comment, Papers with Code or Hugging "
               "Face); official = linked by the authors.")
    period = st.segmented_control("Period", ("month", "week"), default="month",
                                  key="code_period") or "month"
    st.subheader("Share of papers with code over time")
    _over_time(period)
    st.subheader("By primary category")
    _by_category()
    left, right = st.columns(2)
    with left:
        st.subheader("By topic")
        if ui.query(queries.has_topics):
            _shares_table(ui.query(queries.code_by_topic, "fine", warm.CODE_ROWS), "label")
        else:
            st.info("No topics yet: `paperradar index` fits them.")
    with right:
        st.subheader("By venue")
        venues = ui.query(queries.code_by_venue, warm.CODE_ROWS)
        if venues.empty:
            st.info("No venues known yet (`paperradar enrich`).")
        else:
            _shares_table(venues, "venue")
    st.subheader("Time from v1 to first code")
    _days_to_code()
    st.subheader("Newest papers with official code")
    _newest_official()


ui.run_page(body)
