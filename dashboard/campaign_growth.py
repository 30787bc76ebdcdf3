"""The campaign editor's growth fields (issue 22), kept apart from the editor page so both can
change without stepping on each other: the source condition (came from a ref link or an ad), the
audience and timing rules, A/B variants of the private message, and the variant comparison of
the stats page. Every field keeps its draft like the rest of the editor; the rules themselves are
checked by the services (`bot.automation.audience`, `triggers`, `variants`) when saving or dry-running.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from bot.automation import variants as ab
from bot.automation.audience import ActiveHours, AudienceSpec
from bot.automation.campaign_stats import Funnel
from bot.automation.campaigns import ActionSpec, DryRunReport, TriggerSpec
from bot.automation.triggers import SourceCondition
from bot.core.compose import MessageContent
from dashboard import state, widgets
from dashboard.widgets import drafted

if TYPE_CHECKING:
    from bot.platform.models import Channel

SCOPES = {"all": "Any post", "chosen": "Chosen posts", "next": "The next post I publish"}
SOURCE_KINDS = {"": "(anyone)", "ref": "came from the ref link", "ad": "came from the ad"}
TOUCHES = {"any": "first or latest visit", "first": "first visit", "last": "latest visit"}
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
OUTSIDE = {"wait": "Wait until the hours open, then answer", "skip": "Do not answer"}


# --- trigger ----------------------------------------------------------------------------------------------


def scope_of(trigger: TriggerSpec) -> str:
    return "next" if trigger.next_post else ("all" if trigger.all_posts else "chosen")


def next_post_note(bound_post_id: str | None) -> None:
    if bound_post_id:
        st.caption(f"Bound to post {widgets.plain(bound_post_id)}: only its comments are answered.")
    else:
        st.caption("Waiting: the first post the page publishes after the campaign goes live is the one it "
                   "watches (Facebook Pages only: Meta sends no notice of new Instagram posts).")


def source_fields(prefix: str, trigger: TriggerSpec) -> None:
    """One source condition (more through the REST API)."""
    first = trigger.source_conditions[0] if trigger.source_conditions else None
    kind_col, value_col, touch_col = st.columns([2, 2, 2])
    with kind_col:
        drafted(st.selectbox, "Only people who", prefix + "src_kind", first.kind if first else "",
                options=list(SOURCE_KINDS), format_func=SOURCE_KINDS.get)
    with value_col:
        drafted(st.text_input, "ref or ad id", prefix + "src_value", first.value if first else "",
                placeholder="summer-sale")
    with touch_col:
        drafted(st.selectbox, "on their", prefix + "src_touch", first.touch if first else "any",
                options=list(TOUCHES), format_func=TOUCHES.get)


def sources_from_state(prefix: str, saved: TriggerSpec) -> list[SourceCondition]:
    first = saved.source_conditions[0] if saved.source_conditions else None
    kind = state.value(prefix + "src_kind", first.kind if first else "")
    if not kind:
        return list(saved.source_conditions[1:])
    edited = SourceCondition(kind=kind, value=(state.value(prefix + "src_value") or "").strip(),
                             touch=state.value(prefix + "src_touch", "any"))
    return [edited, *saved.source_conditions[1:]]


# --- audience and timing ----------------------------------------------------------------------------------


def audience_fields(prefix: str, saved: AudienceSpec) -> None:
    st.subheader("Audience and timing")
    once, new = st.columns(2)
    with once:
        drafted(st.toggle, "Once per person (whatever post they comment on)", prefix + "aud_once",
                saved.once_per_person)
    with new:
        drafted(st.toggle, "New contacts only (never wrote or commented before)", prefix + "aud_new",
                saved.new_contacts_only)
    drafted(st.text_input, "Leave out people tagged (comma-separated)", prefix + "aud_tags",
            ", ".join(saved.exclude_tags))
    hours = saved.active_hours
    if drafted(st.toggle, "Only during active hours", prefix + "aud_hours", hours is not None):
        _hours_fields(prefix, hours or ActiveHours())
    low, high = st.columns(2)
    with low:
        drafted(st.number_input, "Random delay before answering: at least (seconds)", prefix + "aud_delay_min",
                saved.delay_min_seconds, min_value=0, step=5)
    with high:
        drafted(st.number_input, "at most (seconds)", prefix + "aud_delay_max", saved.delay_max_seconds,
                min_value=0, step=5)


def _hours_fields(prefix: str, hours: ActiveHours) -> None:
    start, end, zone = st.columns(3)
    with start:
        drafted(st.text_input, "From (HH:MM)", prefix + "aud_start", hours.start)
    with end:
        drafted(st.text_input, "To (HH:MM)", prefix + "aud_end", hours.end)
    with zone:
        drafted(st.text_input, "Time zone", prefix + "aud_zone", hours.time_zone, placeholder="Europe/Paris")
    drafted(st.multiselect, "Days (none: every day)", prefix + "aud_days", [WEEKDAYS[d] for d in hours.days],
            options=WEEKDAYS)
    drafted(st.radio, "A comment outside these hours", prefix + "aud_outside", hours.outside,
            options=list(OUTSIDE), format_func=OUTSIDE.get, horizontal=True)


def audience_from_state(prefix: str, saved: AudienceSpec) -> AudienceSpec:
    hours = saved.active_hours or ActiveHours()
    active = None
    if state.value(prefix + "aud_hours", saved.active_hours is not None):
        active = ActiveHours(start=(state.value(prefix + "aud_start", hours.start) or "").strip(),
                             end=(state.value(prefix + "aud_end", hours.end) or "").strip(),
                             time_zone=(state.value(prefix + "aud_zone", hours.time_zone) or "").strip(),
                             days=[WEEKDAYS.index(d) for d in state.value(prefix + "aud_days",
                                                                           [WEEKDAYS[d] for d in hours.days])],
                             outside=state.value(prefix + "aud_outside", hours.outside))
    tags = [t.strip() for t in (state.value(prefix + "aud_tags", "") or "").split(",") if t.strip()]
    return AudienceSpec(once_per_person=bool(state.value(prefix + "aud_once", saved.once_per_person)),
                        new_contacts_only=bool(state.value(prefix + "aud_new", saved.new_contacts_only)),
                        exclude_tags=tags, active_hours=active,
                        delay_min_seconds=int(state.value(prefix + "aud_delay_min", saved.delay_min_seconds) or 0),
                        delay_max_seconds=int(state.value(prefix + "aud_delay_max", saved.delay_max_seconds) or 0))


# --- A/B variants ------------------------------------------------------------------------------------------


def message_or_variants(key: str, saved: ActionSpec | None, channel: Channel,
                        message_fields: Callable[[str, MessageContent | None, Channel], None]) -> None:
    """One message, or (switched on) 2-6 weighted variants, each with the editor's composer."""
    saved_variants = saved.variants if saved else []
    if not drafted(st.toggle, "A/B test: send one of several variants", key + "ab", bool(saved_variants)):
        message_fields(key, saved.message if saved else None, channel)
        return
    count = drafted(st.number_input, "Variants", key + "ab_count", max(len(saved_variants), ab.MIN_VARIANTS),
                    min_value=ab.MIN_VARIANTS, max_value=ab.MAX_VARIANTS, step=1)
    for index in range(int(count)):
        variant = saved_variants[index] if index < len(saved_variants) else None
        with st.container(border=True):
            st.markdown(f"**Variant {ab.letter(index)}**")
            drafted(st.number_input, "Weight (share of people, relative to the others)", f"{key}v{index}_weight",
                    variant.weight if variant else 1, min_value=1, max_value=ab.MAX_WEIGHT, step=1)
            message_fields(f"{key}v{index}_", variant.message if variant else None, channel)


def action_from_state(key: str) -> ActionSpec | None:
    """The send_message action with its variants when the A/B switch is on, else None."""
    if not state.value(key + "ab", False):
        return None
    count = int(state.value(key + "ab_count", ab.MIN_VARIANTS) or ab.MIN_VARIANTS)
    return ActionSpec(kind="send_message", variants=[
        ab.MessageVariant(message=widgets.composed(f"{key}v{i}_", media=True),
                          weight=int(state.value(f"{key}v{i}_weight", 1) or 1)) for i in range(count)])


# --- dry run and stats -------------------------------------------------------------------------------------


def dry_run_notes(report: DryRunReport) -> None:
    if report.waiting_for_hours:
        st.caption(f"{report.waiting_for_hours} would wait for the active hours to open before being answered.")


def variant_table(funnel: Funnel) -> None:
    """The A/B variants side by side: sent -> read -> clicked -> replied, counts and rates."""
    if not funnel.variants:
        return
    st.subheader("A/B variants")
    st.dataframe(pd.DataFrame([{
        "Step": v.position + 1, "Variant": v.variant, "Weight": v.weight, "Text": v.text or "",
        "Chosen": v.chosen, "Sent": v.sent, "Read": v.read, "Read rate": f"{v.read_rate:.0%}",
        "Clicked": v.clicked, "Click rate": f"{v.click_rate:.0%}", "Replied": v.replied,
        "Reply rate": f"{v.reply_rate:.0%}"} for v in funnel.variants]), hide_index=True, width="stretch")


def source_panel(source: dict) -> None:
    """Where the contact came from, first and latest (ref links anyone can craft: shown as text)."""
    if not source:
        return
    st.markdown("#### Came from")
    for when in ("first", "last"):
        parts = [f"ref {source[f'{when}_ref']}" if source.get(f"{when}_ref") else "",
                 f"ad {source[f'{when}_ad_id']}" if source.get(f"{when}_ad_id") else ""]
        label = " · ".join(p for p in parts if p)
        if label:
            st.caption(f"{'First' if when == 'first' else 'Latest'}: {widgets.plain(label)} "
                       f"({state.when(source.get(f'{when}_at'))})")
