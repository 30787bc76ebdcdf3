"""Campaign numbers, counted by `campaign_stats.funnel` from stored facts: the funnel, a
per-day series, failures by Meta's reason, why comments were skipped, and each action.

One unit per chart, said on the chart: the funnel and the per-day series count people (one per
comment the campaign handled), the failures and the per-action table count message parts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bot.automation.campaigns import REASONS
from bot.staff.permissions import Action
from dashboard import campaign_growth, state, widgets

state.require(state.user_or_stop(), Action.MANAGE_CAMPAIGNS)
st.title("Stats")
rows = state.campaign_list()
if not rows:
    st.info("No campaigns yet.")
    st.stop()
names = {c.id: c.name for c in rows}
wanted = st.query_params.get("campaign")
default = int(wanted) if wanted and wanted.isdigit() and int(wanted) in names else rows[0].id
if "stats_campaign" not in st.session_state:
    st.session_state["stats_campaign"] = default
chosen = st.selectbox("Campaign", list(names), format_func=names.get, key="stats_campaign")
st.query_params["campaign"] = str(chosen)
funnel = state.funnel(chosen)

cells = st.columns(len(widgets.FUNNEL_STAGES))
for cell, stage in zip(cells, widgets.FUNNEL_STAGES, strict=True):
    cell.metric(widgets.FUNNEL_LABELS[stage], getattr(funnel, stage))

chart, daily = st.columns(2, gap="large")
with chart:
    st.subheader("Funnel: people")
    st.caption("People at each stage: one per comment the campaign answered.")
    widgets.funnel_chart(funnel)
with daily:
    st.subheader("Per day: people")
    st.caption("People per day, each counted once per stage, on the day they reached it.")
    if funnel.per_day:
        widgets.daily_chart(funnel.per_day)
    else:
        st.caption("Nothing yet.")

failures, skipped = st.columns(2, gap="large")
with failures:
    st.subheader("Failures by reason: message parts")
    if funnel.failures:
        frame = pd.DataFrame([{"Reason": widgets.failure_words(reason, None), "Messages": count}
                              for reason, count in sorted(funnel.failures.items(), key=lambda i: -i[1])])
        st.bar_chart(frame.set_index("Reason"), horizontal=True)
        st.dataframe(frame, hide_index=True, width="stretch")
    else:
        st.caption("No failures.")
with skipped:
    st.subheader("Comments not matched")
    if funnel.skipped:
        st.dataframe(pd.DataFrame([{"Why": REASONS.get(reason, reason), "Comments": count}
                                   for reason, count in sorted(funnel.skipped.items(), key=lambda i: -i[1])]),
                     hide_index=True, width="stretch")
    else:
        st.caption("Every comment seen so far matched.")

st.subheader("By action: message parts")
st.caption("Counted in message parts, one per message Meta receives: a text with its buttons, a card, or one "
           "attachment. A private message with a picture is 2 parts (the picture waits for the person's "
           "answer). Only the last column counts people.")
st.dataframe(pd.DataFrame([{"Step": a.position + 1, "Action": a.kind.replace("_", " "), "Parts queued": a.queued,
                            "Parts sent": a.sent, "Parts delivered": a.delivered, "Parts read": a.read,
                            "Parts refused": a.refused, "Parts failed": a.failed, "People who clicked": a.clicked}
                           for a in funnel.actions]),
             hide_index=True, width="stretch")
if funnel.moderated:  # issue 22: likes and hides, and those refused or failed
    st.caption("Comments moderated: " + " · ".join(f"{label.replace('_', ' ')} {count}"
                                                   for label, count in sorted(funnel.moderated.items())))
campaign_growth.variant_table(funnel)
