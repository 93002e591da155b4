"""Trends page: topics over time, emerging topics with sparklines, one topic in detail,
primary categories over time. Numbers come from the views of core/views.py."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import queries, ui, warm

PARTIAL_NOTE = ("Partial periods (faded points on the lines: the data does not cover them "
                "whole) have low counts for that reason alone, and no growth.")


def trend_chart(frame: pd.DataFrame, color: str, stacked: bool, period: str) -> alt.Chart:
    """Papers per period by `color` as a stacked area or as lines, partial periods marked."""
    x = alt.X("period:T", title=period, axis=alt.Axis(format="%Y-%m-%d" if period == "week"
                                                        else "%Y-%m"))
    tooltip = [alt.Tooltip("period:T", title=period), f"{color}:N", "papers:Q",
               alt.Tooltip("share:Q", format=".1%"), alt.Tooltip("growth:Q", format=".2f"),
               "partial:N"]
    base = alt.Chart(frame).encode(x=x, color=alt.Color(f"{color}:N", title=None,
                                                          legend=alt.Legend(orient="bottom",
                                                                            columns=2,
                                                                            labelLimit=420)))
    if stacked:
        chart = base.mark_area(opacity=0.85).encode(y=alt.Y("papers:Q", stack=True),
                                                    tooltip=tooltip)
    else:
        lines = base.mark_line().encode(y="papers:Q", tooltip=tooltip)
        points = base.mark_point(size=30).encode(
            y="papers:Q", opacity=alt.condition("datum.partial", alt.value(0.25), alt.value(1.0)),
            tooltip=tooltip)
        chart = lines + points
    return chart.properties(height=360)


def _topics_over_time(period: str, level: str) -> None:
    st.subheader("Topics over time")
    c1, c2 = st.columns([1, 3])
    top = c1.slider("Topics shown", 3, 20, warm.TOP_TOPICS, key="trend_top")
    stacked = c2.radio("Chart", ("stacked", "lines"), horizontal=True, key="trend_chart") == "stacked"
    frame = ui.query(queries.topic_trends, period, level, None, top)
    if frame.empty:
        st.info("No papers in the last periods.")
        return
    st.altair_chart(trend_chart(frame, "topic", stacked, period), width="stretch")
    st.caption(PARTIAL_NOTE)


def _emerging(level: str, categories: list[str]) -> pd.DataFrame:
    st.subheader("Emerging topics")
    category = st.selectbox("Primary category", categories, index=None, key="emerging_cat",
                            placeholder="all categories")
    frame = ui.query(queries.emerging_topics, level, category, warm.EMERGING_ROWS)
    if frame.empty:
        st.info("No topic has enough papers in the recent window yet (20 papers in the last "
                "4 complete weeks are needed to rank one).")
        return frame
    r0 = frame.iloc[0]
    st.caption(f"Share of all papers in {r0['recent_start']} … {r0['recent_end']} against "
               f"{r0['baseline_start']} … {r0['baseline_end']}; growth = the ratio of the two "
               "shares; score = a cautious log2 growth (its one-sided 95% lower bound: 1 means "
               "the share at least doubled); young = born in the last 12 weeks.")
    shown = frame[["rank", "topic_id", "label", "recent_papers", "baseline_papers", "growth",
                   "emerging_score", "born", "young", "weekly"]]
    st.dataframe(
        shown, hide_index=True, width="stretch",
        column_config={
            "rank": st.column_config.NumberColumn("#", width="small"),
            "topic_id": st.column_config.NumberColumn("topic", width="small"),
            "recent_papers": "recent", "baseline_papers": "baseline",
            "growth": st.column_config.NumberColumn("growth", format="%.2fx"),
            "emerging_score": st.column_config.NumberColumn("score", format="%.2f"),
            "weekly": st.column_config.LineChartColumn(
                f"last {queries.SPARK_WEEKS} weeks", y_min=0),
        })
    return frame


def _topic_detail(level: str, emerging: pd.DataFrame) -> None:
    st.subheader("Topic detail")
    choices = ui.query(queries.topic_choices, level)
    if choices.empty:
        return
    labels = {int(r.topic_id): f"{r.label} (#{r.topic_id}, {r.size} papers)"
              for r in choices.itertuples()}
    ids = list(labels)
    if not emerging.empty and int(emerging.iloc[0]["topic_id"]) in labels:
        default = ids.index(int(emerging.iloc[0]["topic_id"]))
    else:
        default = 0
    topic_id = st.selectbox("Topic", ids, index=default, format_func=labels.__getitem__,
                            key="topic_detail")
    topic = ui.query(queries.topic_detail, int(topic_id))
    if topic is None:
        st.info("That topic is gone from this snapshot.")
        return
    st.markdown(f"#### {ui.md_escape(topic['label'])}")
    st.markdown(" ".join(f":blue-badge[{ui.md_escape(t)}]" for t in topic["top_terms"][:12]))
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("papers", f"{topic['size']:,}")
    m2.metric("born", str(topic["born"]))
    e = topic["emerging"]
    m3.metric("growth (last 4 weeks)", f"{e['growth']:.2f}x" if e and e["growth"] else "—")
    m4.metric("emerging rank", str(e["rank"]) if e and e["rank"] else "—")
    if topic.get("parent_label"):
        st.caption(f"Broad topic: {topic['parent_label']}")
    weekly = topic["weekly"]
    if not weekly.empty:
        chart = alt.Chart(weekly).mark_bar().encode(
            x=alt.X("week:T", title="week"), y=alt.Y("papers:Q"),
            opacity=alt.condition("datum.partial", alt.value(0.4), alt.value(1.0)),
            tooltip=["week:T", "papers:Q", alt.Tooltip("share:Q", format=".2%"),
                     alt.Tooltip("growth:Q", format=".2f")])
        st.altair_chart(chart.properties(height=220), width="stretch")
    papers = topic["papers"]
    if not papers.empty:
        st.markdown("**Representative papers** (closest to the topic's centre)")
        papers = papers.assign(link="https://arxiv.org/abs/" + papers["arxiv_id"])
        st.dataframe(papers[["link", "title", "published", "primary_category", "venue",
                             "code_url"]],
                     hide_index=True, width="stretch", column_config={
                         "link": st.column_config.LinkColumn("arXiv", display_text=r"abs/(.*)"),
                         "code_url": st.column_config.LinkColumn("code")})


def _categories(period: str) -> None:
    st.subheader("Primary categories over time")
    frame = ui.query(queries.category_trends, period, None, warm.TOP_CATEGORIES)
    if frame.empty:
        st.info("No papers in the last periods.")
        return
    st.altair_chart(trend_chart(frame, "category", False, period), width="stretch")


def body() -> None:
    st.title("Trends")
    ui.snapshot()
    ui.require_views()
    c1, c2 = st.columns(2)
    period = c1.segmented_control("Period", ("week", "month"), default="week",
                                  key="trend_period") or "week"
    level = c2.segmented_control("Topic level", ("fine", "broad"), default="fine",
                                 key="trend_level") or "fine"
    options = ui.query(queries.filter_options)
    if not options["categories"]:
        ui.empty_state("No papers yet, so no trends. Fetch and index some:",
                       "paperradar ingest arxiv\npaperradar index")
        return
    if not ui.query(queries.has_topics):
        ui.empty_state("No topics yet: `paperradar index` fits them once the database has at "
                       "least 20 papers. Category trends are below.", "paperradar index")
        _categories(period)
        return
    _topics_over_time(period, level)
    emerging = _emerging(level, options["categories"])
    _topic_detail(level, emerging)
    _categories(period)


ui.run_page(body)
