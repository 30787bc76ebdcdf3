"""A channel's Messenger profile (Get Started, greeting, persistent menu, ice breakers): saved
here, pushed to Meta's Messenger Profile API only when it changed (Meta rate-limits that API,
about 10 calls per 10 minutes per page, unconfirmed figure: meta-platform.md §12).

Postback payloads reach the bot like a button's (`postback` webhook -> flow engine): a payload
that is one of a flow's entry payloads starts that flow. Staff may name the flow instead of a
payload; saving turns the name into the flow's first entry payload, so what Meta holds and what
the engine matches are the same string.

An Instagram account connected with Instagram Login (`channel.login == "instagram"`, no Facebook
Page) has its profile pushed through the Instagram host (`graph.instagram.com`) with its Instagram
User token, on `/me/messenger_profile?platform=instagram`. meta-platform.md §12 documents the
Messenger Profile API on the Facebook host (`/{page-id}/messenger_profile`, `platform=instagram`
for the linked account) and lists only sends and private replies for the Instagram host: that the
same edge, body and `platform` parameter work there is unconfirmed; we assume so, and `me` as the
node, as for the webhook subscription on that host (`registry.subscription_node`).
"""

from __future__ import annotations

import msgspec

from bot.automation.flows import store as flows
from bot.core.errors import GraphError, Invalid, NotFound
from bot.core.profile import ProfileSpec, flows_named, payloads_of, validate, with_flow_payloads
from bot.meta import profile_shapes
from bot.meta.graph import GraphClient
from bot.platform import runtime
from bot.platform.db import now_ms, transaction
from bot.platform.models import Channel, MessengerProfile
from bot.platform.registry import page_token, subscription_node


class ProfileView(msgspec.Struct, frozen=True):
    """What the settings page and `GET /channels/{id}/messenger-profile` show. `starts` maps
    each payload to the flow it starts (None: no active flow answers it); `warnings` are
    Meta's rules that make part of the profile invisible."""

    channel_id: int
    spec: ProfileSpec
    status: str  # not_set | pending | pushing | pushed | failed
    reason: str | None
    pushed_at: int | None
    starts: dict[str, str | None]
    warnings: list[str]


def view(channel_id: int) -> ProfileView:
    channel = _channel(channel_id)
    row = MessengerProfile.get_or_none(MessengerProfile.channel == channel_id)
    spec = msgspec.convert(row.spec, ProfileSpec) if row else ProfileSpec()
    starts = {p: _flow_for(channel.id, p) for p in payloads_of(spec)}
    return ProfileView(channel_id=channel_id, spec=spec, status=row.status if row else "not_set",
                       reason=row.reason if row else None, pushed_at=row.pushed_at if row else None,
                       starts=starts, warnings=_warnings(spec))


def save(channel_id: int, spec: ProfileSpec) -> tuple[ProfileView, bool]:
    """Validate and store; returns the view and whether a push is needed (it changed)."""
    channel = _channel(channel_id)
    validate(spec, channel.platform)
    spec = with_flow_payloads(spec, _flow_payloads(channel.id, spec))
    stored = msgspec.to_builtins(spec)
    with transaction():
        row = MessengerProfile.get_or_none(MessengerProfile.channel == channel_id)
        changed = row is None or row.pushed != stored
        status = "pending" if changed else "pushed"
        if row is None:
            MessengerProfile.create(channel=channel_id, spec=stored, status=status, updated_at=now_ms())
        else:
            MessengerProfile.update(spec=stored, status=status, reason=None, updated_at=now_ms()).where(
                MessengerProfile.id == row.id).execute()
    return view(channel_id), changed


def _flow_payloads(channel_id: int, spec: ProfileSpec) -> dict[str, str]:
    payloads = {}
    for field, name in flows_named(spec):
        flow = flows.runnable(name, channel_id)
        if flow is None:
            raise Invalid(field, f"no active bot flow named {name!r} on this channel")
        if not flow.entry.payloads:
            raise Invalid(field, f"the flow {name!r} has no entry payload: add one in the flow editor")
        payloads[name] = flow.entry.payloads[0]
    return payloads


def _flow_for(channel_id: int, payload: str) -> str | None:
    flow = flows.flow_for_payload(channel_id, payload)
    return flow.name if flow else None


def _warnings(spec: ProfileSpec) -> list[str]:
    if spec.ice_breakers and spec.get_started_payload:
        # Meta: API ice breakers take precedence over the Get Started button when both are set.
        return ["Meta shows the ice breakers instead of the Get Started button when both are set."]
    return []


def push(channel_id: int) -> ProfileView:
    """Send the saved profile to Meta: one POST with the properties set, one DELETE for those
    that were pushed before and are now removed. A retryable Graph error is raised (the job
    tries again later); a permanent one is recorded with Meta's reason."""
    channel = _channel(channel_id)
    row = MessengerProfile.get_or_none(MessengerProfile.channel == channel_id)
    if row is None or row.status not in ("pending", "pushing", "failed"):
        return view(channel_id)
    MessengerProfile.update(status="pushing").where(MessengerProfile.id == row.id).execute()
    spec = msgspec.convert(row.spec, ProfileSpec)
    previous = msgspec.convert(row.pushed, ProfileSpec) if row.pushed else ProfileSpec()
    removed = [p for p in profile_shapes.unset(spec) if p not in profile_shapes.unset(previous)]
    try:
        _send(channel, spec, removed)
    except GraphError as exc:
        _record_failure(row, exc)
        if exc.retryable:
            raise
        return view(channel_id)
    MessengerProfile.update(pushed=row.spec, status="pushed", reason=None, pushed_at=now_ms()).where(
        (MessengerProfile.id == row.id) & (MessengerProfile.updated_at == row.updated_at)).execute()
    return view(channel_id)


def _send(channel: Channel, spec: ProfileSpec, removed: list[str]) -> None:
    graph, node = _profile_api(channel)
    token = page_token(channel)
    # Removing the menu before Get Started: Messenger keeps no menu without it (§12).
    graph.delete_messenger_profile(node, channel.platform, token, removed)
    graph.set_messenger_profile(node, channel.platform, token, spec)


def _profile_api(channel: Channel) -> tuple[GraphClient, str]:
    """The host and node holding the channel's profile: the Page (or, with `platform=instagram`,
    its linked Instagram account) on the Facebook host; `me` on the Instagram host for an
    Instagram Login channel (see the module docstring: unconfirmed)."""
    node = subscription_node(channel.login, channel.page_id)
    return runtime.graph(channel.login), node


def _record_failure(row: MessengerProfile, exc: GraphError) -> None:
    status = "pending" if exc.retryable else "failed"
    reason = f"Meta did not accept the profile: {exc.describe()}"
    if exc.retryable:
        reason += " — trying again shortly."
    MessengerProfile.update(status=status, reason=reason).where(MessengerProfile.id == row.id).execute()


def unpushed(older_than_ms: int) -> list[int]:
    """Channels whose saved profile has waited this long for its push (the queue message was
    lost, or the retries ran out): for the clock's sweep."""
    cutoff = now_ms() - older_than_ms
    return [r.channel_id for r in MessengerProfile.select(MessengerProfile.channel).where(
        MessengerProfile.status.in_(["pending", "pushing"]) & (MessengerProfile.updated_at < cutoff)).limit(100)]


def read_from_meta(channel_id: int) -> ProfileSpec:
    """What Meta holds now (`GET .../messenger_profile`), to compare with what is saved."""
    channel = _channel(channel_id)
    graph, node = _profile_api(channel)
    return graph.get_messenger_profile(node, channel.platform, page_token(channel))


def _channel(channel_id: int) -> Channel:
    channel = Channel.get_or_none(Channel.id == channel_id)
    if channel is None:
        raise NotFound("channel", channel_id)
    return channel
