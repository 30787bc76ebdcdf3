"""The embedded demo: with no Meta app configured, socialdesk talks to its built-in sandbox.
On start it makes sure a sandbox page (with an Instagram account) exists and is connected, so
`socialdesk run` shows a working system right away. The sandbox keeps its state in memory, so
the same page id and token are registered again after a restart."""

from __future__ import annotations

import asyncio
import logging

import httpx

from bot import commands
from bot.platform import registry as channels
from bot.platform.db import connection
from bot.platform.models import Channel
from bot.platform.settings import SANDBOX_PREFIX, Settings

log = logging.getLogger(__name__)

DEMO_PAGE_ID = "100000000000001"
DEMO_IG_ID = "17840000000000001"


async def ensure_demo_channel(settings: Settings) -> None:
    """Register the demo page in the sandbox and connect it (idempotent)."""
    base = f"http://127.0.0.1:{settings.api_port}{SANDBOX_PREFIX}"
    async with httpx.AsyncClient(timeout=10) as client:
        await _until_listening(client, f"http://127.0.0.1:{settings.api_port}/health")
        answer = await client.post(f"{base}/control/pages", json={
            "name": "Demo Shop", "page_id": DEMO_PAGE_ID,
            "instagram": {"username": "demo.shop", "followers_count": 4200, "ig_id": DEMO_IG_ID}})
        answer.raise_for_status()
        page = answer.json()
        subscribed = await client.post(
            f"{base}/graph/{settings.graph_api_version}/{page['page_id']}/subscribed_apps",
            params={"subscribed_fields": ",".join(channels.PAGE_FIELDS), "access_token": page["page_token"]})
        subscribed.raise_for_status()
    with connection():
        commands.connect_page(page["page_id"], "Demo Shop", page["page_token"],
                              instagram_id=page.get("instagram_id"), instagram_username="demo.shop",
                              instagram_followers=4200, subscribe=False)  # done above: async, same process
        count = Channel.select().count()
    log.info("sandbox mode: demo page 'Demo Shop' connected (%d channels)", count)


async def _until_listening(client: httpx.AsyncClient, url: str, attempts: int = 100) -> None:
    for _ in range(attempts):
        try:
            await client.get(url)
            return
        except httpx.TransportError:
            await asyncio.sleep(0.1)
