"""`/api/v1/channels`: connected pages and Instagram accounts, their settings, handover settings
and health. Everyone may read; only admins connect channels, change settings or ask for a
backfill."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller

from api.guards import Caller, requires
from api.resources import get, patch, post, put
from api.schemas import ChannelSettingsBody, ConnectChannelBody, ConnectInstagramLoginBody, HandoverBody, IdParam
from bot import commands, queries
from bot.automation import handover
from bot.automation.handover import HandoverSettings
from bot.channels import backfill, health
from bot.channels.backfill import BackfillView
from bot.channels.health import HealthView
from bot.platform.db import connection
from bot.queries import ChannelView
from bot.staff.permissions import Action

MANAGE = [requires(Action.MANAGE_CHANNELS)]
EpochMs = Annotated[int, msgspec.Meta(ge=0, le=10**13, description="milliseconds since the epoch")]


class BackfillBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The period to read back from Meta (`until` defaults to now)."""

    since: EpochMs
    until: EpochMs | None = None


class ChannelController(Controller):
    path = "/channels"
    tags = ["channels"]
    guards = [requires(Action.VIEW_CHANNELS)]

    @get(summary="List channels")
    def list_channels(self) -> list[ChannelView]:
        with connection():
            return queries.channels()

    @post(guards=MANAGE, summary="Connect a Facebook Page (and its Instagram account)")
    def connect(self, data: ConnectChannelBody) -> list[ChannelView]:
        with connection():
            connected = commands.connect_page(data.page_id, data.name, data.token,
                                              instagram_id=data.instagram_id,
                                              instagram_username=data.instagram_username,
                                              instagram_followers=data.instagram_followers)
            return [queries.channel(c.id) for c in connected]

    @post("/instagram-login", guards=MANAGE,
          summary="Connect an Instagram professional account with Instagram Login (no Facebook Page)")
    def connect_instagram_login(self, data: ConnectInstagramLoginBody) -> list[ChannelView]:
        with connection():
            connected = commands.connect_instagram_login(data.token, data.instagram_id)
            return [queries.channel(c.id) for c in connected]

    @get("/{channel_id:str}", summary="A channel")
    def get_channel(self, channel_id: IdParam) -> ChannelView:
        with connection():
            return queries.channel(channel_id)

    @patch("/{channel_id:str}/settings", guards=MANAGE, summary="Change settings toggles")
    def change_settings(self, channel_id: IdParam, data: ChannelSettingsBody) -> ChannelView:
        changes = data.changes()
        with connection():
            if changes:
                commands.update_channel_settings(channel_id, **changes)
            return queries.channel(channel_id)

    @get("/{channel_id:str}/handover", summary="What asks for a person, what the bot says then, how long it pauses")
    def get_handover(self, channel_id: IdParam) -> HandoverSettings:
        with connection():
            queries.channel(channel_id)  # 404 for an unknown channel
            return handover.settings_for(channel_id)

    @put("/{channel_id:str}/handover", guards=MANAGE, summary="Replace the handover settings")
    def replace_handover(self, channel_id: IdParam, data: HandoverBody) -> HandoverSettings:
        with connection():
            queries.channel(channel_id)  # 404 first: no point validating settings for a missing channel
            return handover.save_settings(channel_id, data)

    @get("/{channel_id:str}/health", summary="The channel's health as last checked, its history and backfills")
    def health(self, channel_id: IdParam) -> HealthView:
        with connection():
            return health.view(channel_id)

    @get("/{channel_id:str}/backfills", summary="The channel's recent backfills, newest first")
    def backfills(self, channel_id: IdParam) -> list[BackfillView]:
        with connection():
            queries.channel(channel_id)  # 404 for an unknown channel
            return backfill.runs_of(channel_id)

    @post("/{channel_id:str}/backfill", guards=MANAGE, status_code=202,
          summary="Read back what Meta holds for a period (messages and comments)")
    def request_backfill(self, caller: Caller, channel_id: IdParam, data: BackfillBody) -> BackfillView:
        with connection():
            return commands.request_backfill(channel_id, data.since, data.until, requested_by=caller.id)
