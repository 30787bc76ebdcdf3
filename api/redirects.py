"""Click-counting redirects for campaign link buttons: PUBLIC_URL/r/<token> -> the target."""

from __future__ import annotations

from litestar import get
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from bot.automation import campaign_stats
from bot.platform.db import connection, transaction


@get("/r/{token:str}", sync_to_thread=True)
def follow_link(token: str) -> Redirect:
    with connection(), transaction():
        url = campaign_stats.record_link_click(token)
    if url is None:
        raise NotFoundException("unknown link")
    return Redirect(path=url, status_code=302)
