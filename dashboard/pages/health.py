"""Health page: freshness per source, papers per day with gaps flagged, the last runs and
whether the index agrees with the database (what `paperradar status` says)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import queries, ui

STALE_HOURS = 48  # a source whose last good run is older than this is flagged


def _freshness(sources: dict[str, Any]) -> None:
    if not sources:
        st.info("No source has run yet.")
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for name, src in sources.items():
        last = src.get("last_ok")
        age = (now - last).total_seconds() / 3600 if last else None
        state = "never succeeded" if last is None else (
            "stale" if age is not None and age > STALE_HOURS else "fresh")
        if src.get("last_status") not in ("ok", "running", None):
            state = f"last run {src['last_status']}"
        rows.append({"source": name, "last ok (UTC)": last,
                     "hours ago": round(age, 1) if age is not None else None,
                     "newest paper": src.get("newest_paper"),
                     "state": state, "last error": src.get("last_error")})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _per_day() -> None:
    frame = ui.query(queries.papers_per_day, queries.GAP_DAYS)
    if frame.empty:
        st.info("No papers yet.")
        return
    frame = frame.assign(kind=frame["gap"].map({True: "gap (weekday without papers)",
                                                False: "papers"}),
                         shown=frame["papers"].where(~frame["gap"], 1))
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("day:T", title="v1 day"), y=alt.Y("shown:Q", title="papers"),
        color=alt.Color("kind:N", title=None, legend=alt.Legend(orient="bottom"),
                        scale=alt.Scale(domain=["papers", "gap (weekday without papers)"],
                                        range=["#4c78a8", "#e45756"])),
        tooltip=["day:T", "weekday:N", "papers:Q", "gap:N"])
    st.altair_chart(chart.properties(height=220), width="stretch")
    gaps = frame[frame["gap"]]
    if gaps.empty:
        st.caption(f"No gap in the last {len(frame)} days: every weekday has papers.")
    else:
        days = ", ".join(str(d) for d in gaps["day"])
        st.warning(f"{len(gaps)} weekday(s) without any paper: {days}. A fetch may have missed "
                   "them: `paperradar ingest arxiv --since DAY --until DAY` fills a gap.",
                   icon=":material/warning:")


def _per_category(per_day: dict[str, Any] | None) -> None:
    """Papers per tracked category per day, with the gaps `status` flags (a weekday without
    papers in a normally busy category), when the status report has them."""
    if not per_day or not per_day.get("days"):
        return
    frame = pd.DataFrame([
        {"category": c, "day": day, "papers": n}
        for c, counts in per_day["categories"].items()
        for day, n in zip(per_day["days"], counts, strict=True)])
    gaps = {(g["category"], g["day"]) for g in per_day.get("gaps", [])}
    frame["gap"] = [(c, d) in gaps for c, d in zip(frame["category"], frame["day"], strict=True)]
    base = alt.Chart(frame).encode(x=alt.X("day:O", title=None), y=alt.Y("category:N", title=None))
    cells = base.mark_rect().encode(
        color=alt.Color("papers:Q", scale=alt.Scale(scheme="blues"), legend=None),
        tooltip=["category:N", "day:N", "papers:Q", "gap:N"])
    marks = base.mark_rect(fill=None, stroke="#e45756", strokeWidth=2).transform_filter(
        "datum.gap")
    counts = base.mark_text(fontSize=10).encode(text="papers:Q")
    st.altair_chart((cells + marks + counts).properties(height=alt.Step(26)), width="stretch")
    if gaps:
        listed = ", ".join(f"{c} {d}" for c, d in sorted(gaps))
        st.warning(f"Gaps (weekdays without papers in a busy category): {listed}",
                   icon=":material/warning:")


def _runs(runs: list[dict[str, Any]]) -> None:
    if not runs:
        st.info("No runs recorded.")
        return
    frame = pd.DataFrame([{
        "run": r["run_id"], "kind": r["kind"], "started (UTC)": r["started_at"],
        "finished (UTC)": r["finished_at"], "status": r["status"],
        "counts": ", ".join(f"{k} {v}" for k, v in r["counts"].items()), "error": r["error"],
    } for r in runs])
    st.dataframe(frame, hide_index=True, width="stretch")


def _index(idx: dict[str, Any]) -> None:
    if "vectors" not in idx:
        st.warning(f"Index: {idx['state']}", icon=":material/warning:")
        return
    text = (f"{idx['papers']:,} papers in the database, {idx['count']:,} in the index "
            f"({idx['index_type']}, recall@10 {idx['recall_at_10']:.3f}), {idx['vectors']:,} "
            f"stored vectors ({idx['vector_set']}), built {idx['built_at']}: {idx['state']}")
    if idx["consistent"] and idx["state"] == "consistent":
        st.success(text, icon=":material/check_circle:")
    else:
        st.warning(text, icon=":material/warning:")


def body() -> None:
    st.title("Health")
    snap = ui.snapshot()
    report = ui.health_status(str(snap.path))
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("papers", f"{report['papers']:,}", help=f"{report['withdrawn']} withdrawn")
    m2.metric("newest v1", report["newest_published"] or "—")
    live = max(1, report["papers"] - report["withdrawn"])
    m3.metric("with code", f"{report['with_code']:,}", f"{report['with_code'] / live:.0%}",
              delta_color="off")
    m4.metric("with a venue", f"{report['with_venue']:,}")
    disk = report.get("disk_bytes")
    st.caption(f"Published database {report['database']} · snapshot published "
               f"{report['published_at']}"
               + (f" · {disk / 1e6:,.1f} MB under {report['home']}" if disk is not None else ""))
    st.subheader("Freshness per source")
    _freshness(report["sources"])
    st.subheader(f"Papers per day (last {queries.GAP_DAYS} days)")
    _per_day()
    _per_category(report.get("per_day"))
    st.subheader("Index consistency")
    _index(report["index"])
    st.subheader("Last runs")
    _runs(report["runs"])
    if report["watermarks"]:
        with st.expander("Watermarks"):
            st.json(report["watermarks"])


ui.run_page(body)
