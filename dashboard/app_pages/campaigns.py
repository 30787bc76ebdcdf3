"""Comment campaigns: the list with key numbers, and the editor (trigger, actions with a live
Messenger-shaped preview, dry run, activation).

A campaign can only be activated after a dry run of exactly what is being activated: the dry
run uses the live engine's `campaigns.match` on the stored comments, so staff see what going
live would do before anyone receives a message. Every field is kept as a draft, so leaving
the page does not lose an edit in progress. A live campaign can also be sent, after a
confirmation, to the stored comments it matches that Meta still lets us answer privately.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import msgspec
import streamlit as st

from bot import commands
from bot.automation import campaigns, referral_triggers
from bot.automation.campaigns import (
    DRY_RUN_DAYS,
    REASONS,
    ActionSpec,
    CampaignSpec,
    TriggerSpec,
)
from bot.automation.flows import store as flow_store
from bot.core.compose import (
    MAX_CARD_BUTTONS,
    MAX_CARD_CHARS,
    SHORTCODES,
    Button,
    Card,
    MessageContent,
    private_reply_parts,
    render_content,
)
from bot.core.errors import GraphError, Invalid, NotFound, Refused
from bot.platform import registry as channels
from bot.platform import runtime
from bot.staff.permissions import Action
from dashboard import campaign_growth as growth
from dashboard import moderation, state, widgets
from dashboard.condition_fields import condition_fields, conditions_from_state
from dashboard.widgets import drafted

if TYPE_CHECKING:
    from streamlit.delta_generator import DeltaGenerator

    from bot.platform.models import Channel

EDIT = "sd_campaign_edit"
ACTION_KINDS = {"send_message": "Send a private message", "reply_comment": "Reply to the comment publicly",
                "add_tag": "Add a tag", "wait": "Wait", "start_flow": "Start a bot flow", **moderation.ACTION_LABELS}
LIST_NUMBERS = {"received": "Comments", "matched": "Matched", "sent": "Sent", "delivered": "Delivered",
                "read": "Read", "clicked": "Clicked"}
WAIT_UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
SAMPLE = {"first_name": "Ana", "last_name": "Silva", "full_name": "Ana Silva", "username": "ana.silva",
          "contact_id": "42", "comment_text": "How much is it?", "post_url": "https://facebook.com/posts/1"}


# --- list ---------------------------------------------------------------------------------------------


def campaign_list() -> None:
    st.title("Campaigns")
    state.show_notice()
    if st.button("New campaign", icon=":material/add:", type="primary", key="campaign_new"):
        st.session_state[EDIT] = "new"
        st.rerun()
    names = {c.id: c.name for c in state.channels()}
    rows = state.campaign_list()
    if not rows:
        st.info("No campaigns yet. A campaign answers comments on your posts with a private message.")
    for campaign in rows:
        funnel = state.funnel(campaign.id)
        with st.container(border=True):
            body, numbers, actions = st.columns([3, 5, 1.4], vertical_alignment="center")
            badge = ":green-badge[active]" if campaign.is_active else ":gray-badge[inactive]"
            body.markdown(f"**{widgets.plain(campaign.name)}** {badge}  \n"
                          f":gray[{widgets.plain(names.get(campaign.channel_id, ''))}]")
            cells = numbers.columns(len(LIST_NUMBERS))
            for cell, (stage, label) in zip(cells, LIST_NUMBERS.items(), strict=True):
                cell.metric(label, getattr(funnel, stage))
            if actions.button("Edit", key=f"campaign_edit_{campaign.id}", icon=":material/edit:"):
                st.session_state[EDIT] = campaign.id
                st.rerun()
            if actions.button("Stats", key=f"campaign_stats_{campaign.id}", icon=":material/bar_chart:"):
                st.switch_page("app_pages/stats.py", query_params={"campaign": str(campaign.id)})


# --- editor --------------------------------------------------------------------------------------------


def editor(campaign_id: int | None) -> None:
    loaded = state.campaign_spec(campaign_id) if campaign_id is not None else None
    if campaign_id is not None and loaded is None:
        st.session_state.pop(EDIT, None)
        st.error("This campaign no longer exists.")
        return
    connected = channels.list_channels()
    if not connected:
        st.warning("Connect a Facebook Page in Settings first.")
        return
    saved = loaded[1] if loaded else CampaignSpec(name="", channel_id=connected[0].id)
    prefix = f"ce{campaign_id or 'new'}_"
    st.button("All campaigns", icon=":material/arrow_back:", key="campaign_back", on_click=_close_editor)
    st.title(widgets.plain(saved.name) or "New campaign")
    state.show_notice()
    slots: dict[str, DeltaGenerator] = {}
    drafted(st.text_input, "Name", prefix + "name", saved.name)
    slots["name"] = st.empty()
    by_id = {c.id: c for c in connected}
    channel_id = drafted(st.selectbox, "Channel", prefix + "channel", saved.channel_id, options=list(by_id),
                         format_func=lambda i: widgets.channel_label(by_id[i]))
    slots["channel_id"] = st.empty()
    channel = by_id[channel_id]
    trigger_editor(prefix, saved.trigger, channel, loaded[0].bound_post_id if loaded else None)
    slots["trigger"] = st.empty()
    actions_editor(prefix, saved.actions, channel, slots)
    growth.audience_fields(prefix, saved.audience)
    spec = spec_from_state(prefix, saved, channel.id)
    footer(campaign_id, spec, saved, prefix)
    if st.session_state.get(prefix + CHECKED):  # after a refused Save: every problem, next to its field
        show_problems(problems_of(spec), slots)


CHECKED = "checked"  # set by a refused Save or Dry run: the problems then stay shown, live, until fixed


def problems_of(spec: CampaignSpec) -> list[Invalid]:
    """What Save would refuse, all of it (post ids are normalized first, as Save does)."""
    try:
        spec = campaigns.normalized(spec)
    except Invalid as exc:
        return [exc]
    return campaigns.problems(spec)


def slot_of(field: str) -> str:
    """Where a problem is shown: in its action's box, or under the field it names."""
    if field.startswith("actions["):
        return field.split(".", 1)[0]
    return field.split(".", 1)[0].split("[", 1)[0]


def show_problems(problems: list[Invalid], slots: dict[str, DeltaGenerator]) -> None:
    grouped: dict[str, list[str]] = {}
    for problem in problems:
        grouped.setdefault(slot_of(problem.field), []).append(problem.words)
    for slot, words in grouped.items():
        target = slots.get(slot) or slots["name"]
        target.error("\n".join(f"- {widgets.plain(w)}" for w in words), icon=":material/error:")


def refused(problems: list[Invalid], prefix: str, what: str) -> bool:
    """True (and says so, with every problem) when Save would refuse the campaign."""
    if not problems:
        return False
    st.session_state[prefix + CHECKED] = True
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    st.error(f"{what}: {count}, shown next to the fields.\n\n"
             + "\n".join(f"- {widgets.plain(p.words)}" for p in problems), icon=":material/error:")
    return True


def _close_editor() -> None:
    st.session_state.pop(EDIT, None)


TRIGGER_LABELS = {"comment": "someone comments on a post", "story_mention": "someone mentions the account in "
                  "their Instagram story", "story_reply": "someone replies to one of the account's Instagram stories",
                  "referral": "someone arrives from a ref link, Get Started with a ref, or an ad"}


def trigger_editor(prefix: str, trigger: TriggerSpec, channel: Channel, bound_post_id: str | None = None) -> None:
    kinds = [k for k in campaigns.TRIGGER_KINDS if channel.platform == "instagram" or k in ("comment", "referral")]
    kind = drafted(st.selectbox, "Trigger", prefix + "trigger_kind", trigger.kind if trigger.kind in kinds
                   else "comment", options=kinds, format_func=TRIGGER_LABELS.get)
    if kind == "referral":
        referral_fields(prefix, trigger)
        return
    if kind != "comment":
        st.caption("The message goes to the person's Instagram DMs (the story opened the 24-hour window). "
                   "A story mention rarely carries words, so a word filter lets few through.")
        keyword_fields(prefix, trigger, "message")
        return
    st.subheader("Trigger: someone comments on a post")
    watch = drafted(st.radio, "Posts", prefix + "watch", growth.scope_of(trigger), options=list(growth.SCOPES),
                    format_func=growth.SCOPES.get, horizontal=True)
    if watch == "chosen":
        post_picker(prefix, trigger.post_ids, channel)
    elif watch == "next":
        growth.next_post_note(bound_post_id)
    drafted(st.toggle, "Also answer replies to other comments", prefix + "replies", trigger.include_replies)
    keyword_fields(prefix, trigger, "comment")


def referral_fields(prefix: str, trigger: TriggerSpec) -> None:
    """Which links or ads start the campaign (both empty: any link with a ref, any ad)."""
    st.caption("The message goes to the person's DMs (arriving from the link or the ad opened the 24-hour "
               "window). Leave both empty to answer every link with a ref and every ad.")
    left, right = st.columns(2)
    with left:
        drafted(st.text_input, "Refs of the m.me / ig.me links (comma-separated)", prefix + "refs",
                ", ".join(trigger.refs))
    with right:
        drafted(st.text_input, "Ad ids (comma-separated)", prefix + "ad_ids", ", ".join(trigger.ad_ids))
    keyword_fields(prefix, trigger, "message")


def keyword_fields(prefix: str, trigger: TriggerSpec, noun: str) -> None:
    """Word filters and the audience filter, on a comment or on a story event's message."""
    left, right = st.columns(2)
    with left:
        drafted(st.text_input, f"Only when the {noun} contains any of these words (comma-separated; empty: "
                f"any {noun})", prefix + "kw_any", ", ".join(trigger.keywords_any))
    with right:
        drafted(st.text_input, "Never when it contains one of these words", prefix + "kw_none",
                ", ".join(trigger.keywords_none))
    condition_fields(prefix + "aud_if_", trigger.attribute_conditions, "Only people whose custom attributes "
                     "meet all of these conditions")
    growth.source_fields(prefix, trigger)


def post_picker(prefix: str, saved_ids: list[str], channel: Channel) -> None:
    """The page's recent posts from the Graph API, with picture, text and date, to tick."""
    chosen: list[str] = state.drafts().setdefault(prefix + "post_ids", list(saved_ids))
    cache_key = f"sd_posts_{channel.id}"
    if cache_key not in st.session_state or st.button("Reload posts", key=prefix + "reload_posts",
                                                      icon=":material/refresh:"):
        st.session_state[cache_key] = load_posts(channel)
    posts, error, after = st.session_state[cache_key]
    if error:
        st.error(error)
    listed = {p.id for p in posts}
    for post_id in [p for p in chosen if p not in listed]:
        st.checkbox(f"Post {post_id} (not among the recent posts)", value=True, key=f"{prefix}post_{post_id}",
                    on_change=_toggle_post, args=(prefix, post_id))
    columns = st.columns(3)
    for index, post in enumerate(posts):
        with columns[index % 3].container(border=True):
            if post.picture_url:
                st.image(post.picture_url, width="stretch")
            st.markdown(widgets.plain((post.message or "(no text)")[:160]))
            st.caption(state.when(post.created_time) + (f" · {widgets.link('open', post.permalink_url)}"
                                                        if widgets.safe_url(post.permalink_url) else ""))
            key = f"{prefix}post_{post.id}"
            st.session_state[key] = post.id in chosen
            st.checkbox("Watch this post", key=key, on_change=_toggle_post, args=(prefix, post.id))
    if after and st.button("Older posts", key=prefix + "more_posts", icon=":material/expand_more:"):
        older, error, next_after = load_posts(channel, after)
        st.session_state[cache_key] = (posts + older, error, next_after)
        st.rerun()
    if not chosen:
        st.warning("Tick at least one post.")


def load_posts(channel: Channel, after: str | None = None) -> tuple[list, str | None, str | None]:
    """One page of the page's posts (newest first) and the cursor of the next, from the Graph API."""
    try:
        page = runtime.graph(channel.login).list_posts(channel.account_id, channel.platform,
                                                       channels.page_token(channel),
                                          after=after)
    except (GraphError, NotFound) as exc:
        return [], f"Could not load the posts: {exc}", None
    return page.posts, None, page.after


def _toggle_post(prefix: str, post_id: str) -> None:
    chosen: list[str] = state.drafts().setdefault(prefix + "post_ids", [])
    if post_id in chosen:
        chosen.remove(post_id)
    else:
        chosen.append(post_id)


def action_order(prefix: str, saved: list[ActionSpec]) -> list[dict]:
    """The editor's actions as [{uid, kind}]; field keys use the uid, so moving keeps values."""
    return state.drafts().setdefault(prefix + "actions", [{"uid": f"a{i}", "kind": a.kind}
                                                          for i, a in enumerate(saved)])


def actions_editor(prefix: str, saved: list[ActionSpec], channel: Channel,
                   slots: dict[str, DeltaGenerator]) -> None:
    st.subheader("Actions, in order")
    order = action_order(prefix, saved)
    defaults = {f"a{i}": action for i, action in enumerate(saved)}
    for index, item in enumerate(order):
        with st.container(border=True):
            title, up, down, remove = st.columns([12, 1, 1, 1])
            title.markdown(f"**{index + 1}. {ACTION_KINDS[item['kind']]}**")
            key = f"{prefix}{item['uid']}_"
            up.button("", icon=":material/arrow_upward:", key=key + "up", disabled=index == 0,
                      on_click=_move, args=(prefix, index, -1), help="Move up")
            last = index == len(order) - 1
            down.button("", icon=":material/arrow_downward:", key=key + "down", disabled=last, on_click=_move,
                        args=(prefix, index, 1), help="Move down")
            remove.button("", icon=":material/delete:", key=key + "remove", on_click=_remove,
                          args=(prefix, index), help="Remove")
            action_fields(key, item["kind"], defaults.get(item["uid"]), channel)
            saved_action = defaults.get(item["uid"])
            condition_fields(key + "if_", saved_action.only_if if saved_action else [], "Only if the "
                             "commenter's custom attributes meet all of these conditions (else this action is "
                             "skipped)")
            slots[f"actions[{index}]"] = st.empty()
    slots["actions"] = st.empty()
    kind_col, add_col = st.columns([3, 1], vertical_alignment="bottom")
    kind = kind_col.selectbox("Add an action", list(ACTION_KINDS), format_func=ACTION_KINDS.get,
                              key=prefix + "new_kind")
    add_col.button("Add", icon=":material/add:", key=prefix + "add", on_click=_add, args=(prefix, kind))


def _move(prefix: str, index: int, step: int) -> None:
    order = state.drafts()[prefix + "actions"]
    order[index], order[index + step] = order[index + step], order[index]


def _remove(prefix: str, index: int) -> None:
    state.drafts()[prefix + "actions"].pop(index)


def _add(prefix: str, kind: str) -> None:
    state.drafts()[prefix + "actions"].append({"uid": uuid.uuid4().hex[:8], "kind": kind})


def action_fields(key: str, kind: str, saved: ActionSpec | None, channel: Channel) -> None:
    if kind == "send_message":
        growth.message_or_variants(key, saved, channel, message_fields)
    elif kind == "reply_comment":
        drafted(st.text_input, "Public reply", key + "text", saved.text if saved else "")
        drafted(st.text_area, "Variations, one per line (one is picked at random, so replies differ)",
                key + "variations", "\n".join(saved.variations) if saved else "", height=90)
    elif kind == "add_tag":
        drafted(st.text_input, "Tag", key + "tag", saved.tag if saved else "")
    elif kind in moderation.ACTION_LABELS:
        moderation.action_fields(key, kind, saved)
    elif kind == "start_flow":
        names = [f.name for f in flow_store.list_flows(channel.id)]
        if not names:
            st.warning("No bot flow exists yet: create one on the Bot flows page.")
        current = saved.flow if saved and saved.flow in names else (names[0] if names else None)
        drafted(st.selectbox, "Bot flow (its first step answers the comment by private reply)", key + "flow",
                current, options=names)
    else:
        seconds = (saved.seconds if saved else None) or 3600
        unit = next(u for u in ("days", "hours", "minutes") if seconds % WAIT_UNITS[u] == 0 or u == "minutes")
        amount, unit_col = st.columns([1, 1])
        with amount:
            drafted(st.number_input, "Wait for", key + "amount", seconds // WAIT_UNITS[unit], min_value=1,
                    step=1)
        with unit_col:
            drafted(st.selectbox, "Unit", key + "unit", unit, options=list(WAIT_UNITS))


def message_fields(key: str, saved: MessageContent | None, channel: Channel) -> None:
    """The private message: card, composer, shortcode help, and a live preview of exactly what
    goes in the private reply and what waits for the person's answer."""
    write, look = st.columns([3, 2], gap="medium")
    with write:
        card_fields(key, saved.card if saved else None, channel)
        widgets.composer(key, media=True, text_label="Message", defaults=widgets.composer_defaults(key, saved))
        with st.expander("Shortcodes"):
            st.markdown("Write `{{ first_name }}` to insert a value; `{{ first_name or \"there\" }}` gives a "
                        "fallback.\n\n" + "\n".join(f"- `{{{{ {name} }}}}`: {text}" for name, text in
                                                      SHORTCODES.items()))
    with look:
        preview(message_from_state(key), channel)


def card_fields(key: str, saved: Card | None, channel: Channel) -> None:
    """A card (image, title, subtitle, up to 3 buttons) sent as the private reply itself, so the
    person gets the picture with the words at once. Facebook only: Meta documents text only for
    Instagram private replies."""
    if channel.platform == "instagram":
        st.caption(":material/info: Instagram private replies take text only: pictures and files wait "
                   "until the person answers, and a card is not possible.")
        return
    on = drafted(st.toggle, "Send a card as the private reply (image, title, subtitle, up to 3 buttons)",
                 key + "card_on", saved is not None)
    if not on:
        return
    with st.container(border=True):
        drafted(st.text_input, f"Card title (up to {MAX_CARD_CHARS} characters)", key + "card_title",
                saved.title if saved else "")
        drafted(st.text_input, f"Card subtitle (up to {MAX_CARD_CHARS} characters)", key + "card_subtitle",
                (saved.subtitle if saved else "") or "")
        drafted(st.text_input, "Card image URL", key + "card_image", (saved.image_url if saved else "") or "",
                placeholder="https://…")
        buttons = saved.buttons if saved else ()
        for i in range(MAX_CARD_BUTTONS):
            button = buttons[i] if i < len(buttons) else None
            title_col, kind_col, value_col = st.columns([2, 1.2, 3])
            with title_col:
                drafted(st.text_input, f"Card button {i + 1} title", f"{key}cbtn{i}_title",
                        button.title if button else "", placeholder=f"Card button {i + 1} title",
                        label_visibility="collapsed")
            with kind_col:
                drafted(st.selectbox, f"Card button {i + 1} kind", f"{key}cbtn{i}_kind",
                        "Reply" if button and button.payload else "Link", options=("Link", "Reply"),
                        label_visibility="collapsed")
            with value_col:
                drafted(st.text_input, f"Card button {i + 1} value", f"{key}cbtn{i}_value",
                        (button.url or button.payload or "") if button else "",
                        placeholder="https://… or a reply payload", label_visibility="collapsed")


def card_from_state(key: str) -> Card | None:
    if not state.value(key + "card_on", False):
        return None

    def value(name: str) -> str:
        return (state.value(key + name) or "").strip()
    buttons = tuple(Button(title=value(f"cbtn{i}_title"), url=value(f"cbtn{i}_value") or None)
                    if value(f"cbtn{i}_kind") != "Reply" else
                    Button(title=value(f"cbtn{i}_title"), payload=value(f"cbtn{i}_value") or None)
                    for i in range(MAX_CARD_BUTTONS) if value(f"cbtn{i}_title"))
    return Card(title=value("card_title"), subtitle=value("card_subtitle") or None,
                image_url=value("card_image") or None, buttons=buttons)


def message_from_state(key: str) -> MessageContent:
    return msgspec.structs.replace(widgets.composed(key, media=True), card=card_from_state(key))


def preview(content: MessageContent, channel: Channel) -> None:
    """What the person will see, split as it will be sent: the private reply (ONE message, Meta's
    rule) now, the rest once they answer. Nothing is drawn that Save would refuse."""
    problems = campaigns.message_problems(content, channel.platform)
    if problems:
        st.caption("Preview")
        st.error("Not previewed until this is fixed:\n" + "\n".join(f"- {widgets.plain(p.words)}"
                                                                     for p in problems), icon=":material/block:")
        return
    context = {**SAMPLE, "page_name": channel.name,
               "channel": "Instagram" if channel.platform == "instagram" else "Messenger"}
    try:
        now, later = private_reply_parts(render_content(content, context), channel.platform)
    except Invalid as exc:
        st.error(exc.words)
        return
    st.caption(":material/send: Private reply: sent now, as one message")
    if now is None:
        st.caption("Nothing: Instagram takes only text in a private reply. Write a text to answer now.")
    else:
        widgets.messenger_preview(now, page_name=channel.name)
    if later:
        st.caption(f":material/schedule: Waiting: {len(later)} more message{'s' if len(later) != 1 else ''} "
                   "go out when the person answers (a private reply carries one message only)")
        for part in later:
            widgets.messenger_preview(part, page_name=channel.name)


def spec_from_state(prefix: str, saved: CampaignSpec, channel_id: int) -> CampaignSpec:
    """The campaign as currently edited (drafts and widget values)."""
    def words(key: str) -> list[str]:
        return [w.strip() for w in (state.value(prefix + key) or "").split(",") if w.strip()]

    kind = state.value(prefix + "trigger_kind", saved.trigger.kind) or "comment"
    story = kind != "comment"
    scope = "all" if story else state.value(prefix + "watch", growth.scope_of(saved.trigger))
    trigger = TriggerSpec(kind=kind, all_posts=scope == "all", next_post=scope == "next",
                          source_conditions=growth.sources_from_state(prefix, saved.trigger),
                          post_ids=[] if story else list(state.drafts().get(prefix + "post_ids",
                                                                            saved.trigger.post_ids)),
                          include_replies=not story and bool(state.value(prefix + "replies", False)),
                          keywords_any=words("kw_any"), keywords_none=words("kw_none"),
                          attribute_conditions=conditions_from_state(prefix + "aud_if_",
                                                                     saved.trigger.attribute_conditions),
                          refs=words("refs") if kind == "referral" else [],
                          ad_ids=words("ad_ids") if kind == "referral" else [])
    defaults = {f"a{i}": action for i, action in enumerate(saved.actions)}
    actions = [only_if_from_state(f"{prefix}{item['uid']}_", action_from_state(f"{prefix}{item['uid']}_",
                                                                                item["kind"]),
                                  defaults.get(item["uid"])) for item in action_order(prefix, [])]
    return CampaignSpec(name=(state.value(prefix + "name") or "").strip(), channel_id=channel_id,
                        trigger=trigger, actions=actions, is_active=saved.is_active,
                        audience=growth.audience_from_state(prefix, saved.audience))


def only_if_from_state(key: str, action: ActionSpec, saved: ActionSpec | None) -> ActionSpec:
    """The action with its "only if" conditions as edited."""
    edited = conditions_from_state(key + "if_", saved.only_if if saved else [])
    return msgspec.structs.replace(action, only_if=edited) if edited else action


def action_from_state(key: str, kind: str) -> ActionSpec:
    if kind == "send_message":
        return growth.action_from_state(key) or ActionSpec(kind=kind, message=message_from_state(key))
    if kind == "reply_comment":
        variations = [v.strip() for v in (state.value(key + "variations") or "").splitlines() if v.strip()]
        return ActionSpec(kind=kind, text=(state.value(key + "text") or "").strip(), variations=variations)
    if kind == "add_tag":
        return ActionSpec(kind=kind, tag=(state.value(key + "tag") or "").strip())
    if kind in moderation.ACTION_LABELS:
        return moderation.action_from_state(key, kind)
    if kind == "start_flow":
        return ActionSpec(kind=kind, flow=state.value(key + "flow"))
    seconds = int(state.value(key + "amount", 1) or 1) * WAIT_UNITS[state.value(key + "unit", "hours")]
    return ActionSpec(kind=kind, seconds=seconds)


# --- dry run, save, activate ---------------------------------------------------------------------------


def fingerprint(spec: CampaignSpec) -> bytes:
    """What a dry run vouches for: the spec apart from its active flag."""
    return msgspec.json.encode(msgspec.structs.replace(spec, is_active=False))


def footer(campaign_id: int | None, spec: CampaignSpec, saved: CampaignSpec, prefix: str) -> None:
    active = saved.is_active
    st.divider()
    dry_key = prefix + "dry_run"
    save_col, dry_col, live_col = st.columns(3)
    if save_col.button("Save", icon=":material/save:", key=prefix + "save") \
            and not refused(problems_of(spec), prefix, "Not saved"):
        _save(campaign_id, msgspec.structs.replace(spec, is_active=active), prefix, "Saved.")
    if dry_col.button("Dry run", icon=":material/science:", key=prefix + "dry") \
            and not refused(problems_of(spec), prefix, "Fix this first"):
        try:
            report = referral_triggers.dry_run_any(spec, campaign_id=campaign_id)
            st.session_state[dry_key] = (fingerprint(spec), report)
        except Invalid as exc:
            st.error(f"Fix this first: {exc.words}")
    tested = st.session_state.get(dry_key, (None, None))
    current = tested[0] == fingerprint(spec)
    if active:
        if live_col.button("Deactivate", icon=":material/pause:", key=prefix + "deactivate"):
            campaigns.set_active(campaign_id, False)
            state.notice("The campaign is inactive: new comments no longer trigger it.")
            st.rerun()
        st.caption("This campaign is live: saved changes apply to the next comments.")
        past_comments(campaign_id, saved, unsaved=fingerprint(spec) != fingerprint(saved), prefix=prefix)
    elif live_col.button("Activate", icon=":material/play_arrow:", type="primary", key=prefix + "activate",
                         disabled=not current, help=None if current else "Run a dry run first."):
        _save(campaign_id, msgspec.structs.replace(spec, is_active=True), prefix,
              "Saved and activated: new comments now trigger this campaign.")
    if tested[1] is not None:
        dry_run_report(tested[1], current)


def past_comments(campaign_id: int, saved: CampaignSpec, *, unsaved: bool, prefix: str) -> None:
    """Send the live campaign to the stored comments of the last 7 days it matches and has not
    handled yet (Meta allows a private reply for 7 days). It writes to real people at once, so
    a click first shows how many and asks again; what is sent is the saved campaign."""
    confirm_key = prefix + "past_confirm"
    if not st.session_state.get(confirm_key):
        if st.button("Send to eligible past comments", icon=":material/history:", key=prefix + "past",
                     disabled=unsaved, help="Save your changes first: the saved campaign is what gets sent."
                     if unsaved else "Answer the comments already stored that this campaign matches."):
            st.session_state[confirm_key] = True
            st.rerun()
        return
    waiting = referral_triggers.dry_run_any(saved, campaign_id=campaign_id).eligible_for_private_reply
    with st.container(border=True):
        if waiting:
            st.warning(f"{waiting} stored comment{'s' if waiting != 1 else ''} from the last {DRY_RUN_DAYS} days "
                       "match this campaign, have not had it yet and can still get a private reply. Each will "
                       "get the campaign's actions once, starting now.", icon=":material/warning:")
        else:
            st.info("No stored comment is waiting for this campaign: every match already had it, or is "
                    "older than Meta's 7 days for a private reply.")
        send_col, cancel_col = st.columns(2)
        if waiting and send_col.button(f"Yes, send to {waiting} comment{'s' if waiting != 1 else ''}",
                                       type="primary", icon=":material/send:", key=prefix + "past_yes"):
            st.session_state.pop(confirm_key, None)
            _send_to_past_comments(campaign_id)
        if cancel_col.button("Cancel" if waiting else "Close", key=prefix + "past_no"):
            st.session_state.pop(confirm_key, None)
            st.rerun()


def _send_to_past_comments(campaign_id: int) -> None:
    """Run the command, then say how many comments got the campaign and what it queued."""
    try:
        got, queued = commands.send_campaign_to_past_comments(campaign_id)
    except (NotFound, Refused) as exc:
        st.error(f"Not sent: {exc}")
        return
    if got:
        state.notice(f"Sent to {got} past comment{'s' if got != 1 else ''}: {queued} "
                     f"message{'s' if queued != 1 else ''} queued.")
    else:
        state.notice("No past comment was waiting for this campaign: nothing was sent.", "warning")
    st.rerun()


def _save(campaign_id: int | None, spec: CampaignSpec, prefix: str, done: str) -> None:
    try:
        saved = campaigns.save(spec, campaign_id)
    except Invalid as exc:
        st.error(f"Not saved: {exc.words}")
        return
    except NotFound as exc:
        st.error(f"Not saved: {exc}")
        return
    for key in [k for k in state.drafts() if k.startswith(prefix)]:  # the saved campaign is the truth now
        del state.drafts()[key]
    st.session_state[EDIT] = saved.id
    state.notice(done)
    st.rerun()


def dry_run_report(report: campaigns.DryRunReport, current: bool) -> None:
    st.subheader("Dry run: the last 7 days of comments")
    if not current:
        st.warning("The settings changed since this dry run: run it again before activating.")
    checked, matched, eligible = st.columns(3)
    checked.metric("Comments checked", report.comments)
    matched.metric("Would match", report.matched)
    eligible.metric("Still within Meta's 7 days for a private reply", report.eligible_for_private_reply)
    for reason, count in sorted(report.skipped.items(), key=lambda item: -item[1]):
        st.caption(f"{count} skipped: {REASONS.get(reason, reason)}")
    for line in moderation.dry_run_lines(report.moderation):
        st.caption(f"Of the matched comments, {line}")
    growth.dry_run_notes(report)
    for sample in report.samples:
        with st.container(border=True):
            st.markdown(f"**{widgets.plain(sample.author or 'Someone')}** wrote "
                        f"“{widgets.plain(sample.comment_text or '')}”")
            for text in sample.messages:
                st.markdown(f":material/reply: {widgets.plain(text)}")
            if sample.held:
                st.caption(":material/schedule: Waiting until the person answers (a private reply is one "
                           "message):")
                for text in sample.held:
                    st.markdown(f":material/schedule: {widgets.plain(text)}")
    st.caption("Nothing was sent.")


state.require(state.user_or_stop(), Action.MANAGE_CAMPAIGNS)
editing = st.session_state.get(EDIT)
if editing is None:
    campaign_list()
else:
    editor(None if editing == "new" else int(editing))
