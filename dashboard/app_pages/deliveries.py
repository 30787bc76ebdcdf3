"""Webhook deliveries (admins only): the ones set aside after failing repeatedly, with the
reason, and a Retry button that puts one back in line once the cause is fixed.

A quarantined delivery no longer holds up the ones behind it, so nothing here is urgent for
customers; it is what was not read. The reason may quote the delivery (it is an error message
about its content), so it is shown as plain text, never as markdown.
"""

from __future__ import annotations

import streamlit as st

from bot import commands
from bot.core.errors import NotFound
from bot.inbound import quarantine
from bot.staff.permissions import Action
from dashboard import state


def retry(delivery_id: int) -> None:
    try:
        commands.retry_delivery(delivery_id)
    except NotFound:
        state.notice(f"Delivery {delivery_id} is no longer quarantined.", "warning")
        return
    state.notice(f"Delivery {delivery_id} is back in line.")


def delivery_card(item: quarantine.QuarantinedDelivery) -> None:
    with st.container(border=True):
        st.markdown(f"**Delivery {item.id}** · received {state.when(item.received_at)} · "
                    f"{item.size:,} bytes · {item.attempts} attempts")
        st.text(item.reason or "no reason recorded")
        st.button("Retry", key=f"retry_delivery_{item.id}", icon=":material/replay:",
                  on_click=state.with_db(retry), args=(item.id,))


def page() -> None:
    state.require(state.current_user(), Action.MANAGE_DELIVERIES)
    st.title("Webhook deliveries")
    state.show_notice()
    items = quarantine.quarantined()
    total = quarantine.count()
    if not items:
        st.success("No quarantined deliveries: every webhook Meta sent has been read.")
        return
    st.warning(f"{total} deliveries were set aside after failing repeatedly. "
               "The ones behind them were read; retry one after fixing its cause.")
    for item in items:
        delivery_card(item)
    if total > len(items):
        st.caption(f"The newest {len(items)} of {total} are shown.")


page()
