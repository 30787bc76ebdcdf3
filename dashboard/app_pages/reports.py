"""Reports for admins (`bot.reports`, computed from stored messages and status changes): first
response and resolution times, messages and conversations per channel per day, per agent; CSV
exports of contacts and conversations. Days are UTC days."""

from __future__ import annotations

import datetime
import tempfile
from collections.abc import Iterator

import altair as alt
import pandas as pd
import streamlit as st

from bot import reports
from bot.core.errors import Invalid
from bot.staff.permissions import Action
from dashboard import state

DAY = datetime.timedelta(days=1)


def chosen_range() -> tuple[int, int] | None:
    """The days picked (both included), as [since, until) in ms, UTC."""
    today = datetime.datetime.now(datetime.UTC).date()
    picked = st.date_input("Days (UTC)", value=(today - 6 * DAY, today), key="reports_range", format="YYYY-MM-DD")
    if not isinstance(picked, tuple) or len(picked) != 2:
        st.info("Pick a first and a last day.")
        return None
    first, last = picked
    return _ms(first), _ms(last + DAY)


def _ms(day: datetime.date) -> int:
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC).timestamp() * 1000)


def duration(seconds: float | None) -> str:
    """Seconds as staff read them: 45s, 12m 5s, 3h 20m, 2d 4h."""
    if seconds is None:
        return "—"
    whole = int(round(seconds))
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0s"


def times(report: reports.Report) -> None:
    first, resolved, replies, closes = st.columns(4)
    first.metric("First response (median)", duration(report.first_response.median_seconds),
                 help=f"average {duration(report.first_response.average_seconds)} over "
                      f"{report.first_response.count} conversation opening(s)")
    resolved.metric("Resolution (median)", duration(report.resolution.median_seconds),
                    help=f"average {duration(report.resolution.average_seconds)} over "
                         f"{report.resolution.count} close(s)")
    replies.metric("Staff replies", sum(a.replies for a in report.per_agent))
    closes.metric("Conversations closed", report.resolution.count)


def volumes(report: reports.Report) -> None:
    if not report.per_channel_day:
        st.caption("No messages in these days.")
        return
    frame = pd.DataFrame([{"day": r.day, "channel": r.channel, "messages": r.messages_in + r.messages_out,
                           "messages in": r.messages_in, "messages out": r.messages_out,
                           "conversations": r.conversations} for r in report.per_channel_day])
    left, right = st.columns(2, gap="large")
    for column, measure in ((left, "messages"), (right, "conversations")):
        with column:
            st.subheader(f"{measure.capitalize()} per day")
            st.altair_chart(alt.Chart(frame).mark_bar().encode(
                x=alt.X("day:N", title=None), y=alt.Y(f"{measure}:Q", title=None, axis=alt.Axis(format="d")),
                color=alt.Color("channel:N", title="Channel"), tooltip=["day", "channel", measure]),
                width="stretch")
    st.dataframe(frame, hide_index=True, width="stretch")


def agents(report: reports.Report) -> None:
    st.subheader("Per agent")
    if not report.per_agent:
        st.caption("No staff replies or closes in these days.")
        return
    frame = pd.DataFrame([{"agent": a.name, "replies": a.replies, "conversations closed": a.conversations_closed,
                           "first responses": a.first_responses,
                           "average first response": duration(a.average_first_response_seconds)}
                          for a in report.per_agent])
    st.bar_chart(frame.set_index("agent")[["replies", "conversations closed"]], stack=False)
    st.dataframe(frame, hide_index=True, width="stretch")


def exports() -> None:
    """Built when clicked (a deferred download), not on every run of the page."""
    st.subheader("Export")
    contacts, conversations = st.columns(2)
    contacts.download_button("Contacts (CSV)", data=contacts_file, file_name="contacts.csv",
                             mime="text/csv", icon=":material/download:", key="export_contacts")
    conversations.download_button("Conversations (CSV)", data=conversations_file, file_name="conversations.csv",
                                  mime="text/csv", icon=":material/download:", key="export_conversations")


@state.with_db
def contacts_file() -> bytes:
    return _spooled(reports.contacts_csv())


@state.with_db
def conversations_file() -> bytes:
    return _spooled(reports.conversations_csv())


def _spooled(lines: Iterator[str]) -> bytes:
    """The export written batch by batch to a temporary file, then handed to Streamlit, which
    serves a download from memory: the file's bytes once, never its rows as objects."""
    with tempfile.TemporaryFile() as out:
        for chunk in reports.chunks(lines):
            out.write(chunk)
        out.seek(0)
        return out.read()


state.require(state.user_or_stop(), Action.VIEW_REPORTS)
st.title("Reports")
window = chosen_range()
if window is not None:
    try:
        result = reports.report(*window)
    except Invalid as exc:
        st.error(str(exc))
    else:
        times(result)
        volumes(result)
        agents(result)
exports()
