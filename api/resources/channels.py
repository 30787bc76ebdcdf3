"""`/api/v1/channels`: connected pages and Instagram accounts, their settings and health.
Everyone may read; only admins connect channels or change settings."""

from __future__ import annotations

from litestar import Controller

from api.guards import admin_only
from api.resources import get, patch, post
from api.schemas import ChannelSettingsBody, ConnectChannelBody, IdParam
from bot import channels, queries
from bot.db import connection
from bot.queries import ChannelHealth, ChannelView


class ChannelController(Controller):
    path = "/channels"
    tags = ["channels"]

    @get(summary="List channels")
    def list_channels(self) -> list[ChannelView]:
        with connection():
            return queries.channels()

    @post(guards=[admin_only], summary="Connect a Facebook Page (and its Instagram account)")
    def connect(self, data: ConnectChannelBody) -> list[ChannelView]:
        with connection():
            connected = channels.connect_page(data.page_id, data.name, data.token,
                                              instagram_id=data.instagram_id,
                                              instagram_username=data.instagram_username,
                                              instagram_followers=data.instagram_followers)
            return [queries.channel(c.id) for c in connected]

    @get("/{channel_id:str}", summary="A channel")
    def get_channel(self, channel_id: IdParam) -> ChannelView:
        with connection():
            return queries.channel(channel_id)

    @patch("/{channel_id:str}/settings", guards=[admin_only], summary="Change settings toggles")
    def change_settings(self, channel_id: IdParam, data: ChannelSettingsBody) -> ChannelView:
        changes = data.changes()
        with connection():
            if changes:
                channels.update_settings(channel_id, **changes)
            return queries.channel(channel_id)

    @get("/{channel_id:str}/health", summary="The channel's health as last checked")
    def health(self, channel_id: IdParam) -> ChannelHealth:
        with connection():
            return queries.channel_health(channel_id)
