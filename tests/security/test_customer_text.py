"""Customers cannot plant links, images or formatting in the staff UI (issue 17 point 3).

Hostile strings go in through the sandbox as Meta would deliver them (signed webhooks): as
customer names and usernames, message texts, attachment URLs and titles, a story reply's URL,
button and card titles of an echoed template, and comment text. Then staff open the inbox and
each conversation in real headless Chromium, and the page must hold no link, image or other
resource pointing anywhere socialdesk did not build (nothing on the attacker's host, no
`javascript:`), no heading made from customer text, and the hostile text shown as written.
"""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import desk  # noqa: F401 - fixtures shared with the dashboard tests
from tests.dashboard.test_browser import chromium, dashboard_url, page, sign_in  # noqa: F401
from tests.servers import Stack

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

EVIL = "evil.example"
HOSTILE = [
    "[Reset your password](https://evil.example/reset)",
    "![pixel](https://evil.example/pixel.png)",
    '<a href="https://evil.example/html">click</a>',
    "<img src=https://evil.example/img.png onerror=alert(1)>",
    "Injected heading\n===",
    "# Injected big heading",
    "Injected subheading\n---",
    "https://evil.example/autolink and www.evil.example",
    "write to victim@evil.example",
    "[ref link][x]\n\n[x]: https://evil.example/ref",
    "<https://evil.example/angle>",
    ":red[alarm] :material/warning: $x^2$ **bold** | a | b |",
    "javascript:alert(1)",
]
NAMES = ["[Support](https://evil.example/name)", "<img src=https://evil.example/n.png> Ann", "![x](https://evil.example/n2.png)"]
# URLs that are http(s) (so socialdesk may link them, escaped) but try to break out of the link.
TRICKY_URLS = ["https://cdn.example/a.pdf?x=1)[click](https://evil.example/breakout)",
               "https://cdn.example/b.jpg\"><img src=https://evil.example/q.png>"]
BAD_URLS = ["javascript:alert(document.cookie)", "data:text/html,<script>alert(1)</script>", "//evil.example/x"]

FIND_BAD = """() => {
  const bad = [];
  const attrs = ['href', 'src', 'srcset', 'action', 'formaction', 'poster', 'data', 'xlink:href'];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of attrs) {
      const value = el.getAttribute(attr);
      if (!value) continue;
      let host = '';
      try { host = new URL(value, location.href).hostname; } catch (e) { host = ''; }
      if (host.endsWith('EVIL') || /^\\s*(javascript|data:text)/i.test(value)) bad.push(el.outerHTML.slice(0, 300));
    }
    const style = el.getAttribute('style') || '';
    if (style.includes('EVIL')) bad.push(el.outerHTML.slice(0, 300));
  }
  const headings = [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => h.textContent.trim());
  return {bad, headings};
}""".replace("EVIL", EVIL)


def feed_hostile_data(desk: Stack) -> tuple[list[int], list[str]]:  # noqa: F811
    """Every hostile string through the sandbox; returns the conversations to open and the
    texts each must show literally."""
    from bot.platform.models import Conversation, Identity

    facebook, instagram = desk.page["page_id"], desk.page["instagram_id"]
    people = [desk.control("customers", account_id=facebook, name=name)["user_id"] for name in NAMES]
    for text in HOSTILE:
        desk.control("dm", account_id=facebook, user_id=people[0], text=text)
    attachments = [{"type": "fallback", "title": title, "url": url}
                   for title, url in zip(HOSTILE, TRICKY_URLS + BAD_URLS, strict=False)]
    attachments += [{"type": "file", "url": url} for url in TRICKY_URLS + BAD_URLS]
    attachments += [{"type": "image", "url": url} for url in BAD_URLS]
    desk.control("dm", account_id=facebook, user_id=people[1], text="attachments", attachments=attachments)
    card = {"type": "template", "template_type": "generic", "elements": [
        {"title": HOSTILE[0], "subtitle": HOSTILE[4], "image_url": BAD_URLS[0], "default_action": {"url": BAD_URLS[1]},
         "buttons": [{"type": "web_url", "url": BAD_URLS[0], "title": HOSTILE[1]},
                     {"type": "postback", "title": HOSTILE[3], "payload": HOSTILE[2]}]}]}
    desk.control("echo", account_id=facebook, user_id=people[1], attachments=[card])
    insta = desk.control("customers", account_id=instagram, name=NAMES[2],
                         username="x)[profile](https://evil.example/u")["user_id"]
    desk.control("dm", account_id=instagram, user_id=insta, text=HOSTILE[5], story_reply_url=BAD_URLS[0])
    desk.control("dm", account_id=instagram, user_id=insta, text=HOSTILE[6], story_reply_url=TRICKY_URLS[0])
    post = desk.control("posts", account_id=facebook, message=HOSTILE[0])["post_id"]
    for text in HOSTILE[:6]:
        desk.control("comment", account_id=facebook, post_id=post, user_id=people[2], text=text)

    def conversations() -> list[int]:
        rows = list(Conversation.select().join(Identity, on=Conversation.identity == Identity.id)
                    .where(Identity.scoped_id.in_([*people, insta])))
        return [row.id for row in rows] if len(rows) == 4 else []

    ids = desk.wait(conversations, what="the four conversations")
    desk.wait(lambda: _messages() >= len(HOSTILE) + 1 + 1 + 2 + 6, what="every message stored")
    # Shown as written (up to the invisible word joiner that keeps `https://` from being autolinked).
    return ids, ["[Reset your password](https:", "![pixel](https:", HOSTILE[5], "Injected heading"]


def _messages() -> int:
    from bot.platform.models import Message

    return Message.select().count()


def check_page(page: object, where: str) -> dict:  # noqa: F811
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden")
    found = page.evaluate(FIND_BAD)
    assert found["bad"] == [], f"{where}: links or resources socialdesk did not build: {found['bad']}"
    injected = [h for h in found["headings"] if "Injected" in h or "Reset your password" in h]
    assert injected == [], f"{where}: customer text became a heading: {injected}"
    return found


def test_hostile_customer_text_is_shown_as_text_and_links_nothing(desk: Stack, page: object,  # noqa: F811
                                                                   dashboard_url: str) -> None:  # noqa: F811
    conversation_ids, literal = feed_hostile_data(desk)
    sign_in(page)
    page.get_by_text("[Support](https:").first.wait_for()
    check_page(page, "inbox")
    for conversation_id in conversation_ids:
        page.goto(f"{dashboard_url}/conversation?conversation={conversation_id}")
        page.get_by_test_id("stChatMessage").first.wait_for()
        page.get_by_test_id("stStatusWidget").wait_for(state="hidden")
        for expander in page.get_by_test_id("stExpander").all():
            expander.click()  # the campaign ledger's labels are comment text
        check_page(page, f"conversation {conversation_id}")
    page.goto(f"{dashboard_url}/conversation?conversation={conversation_ids[0]}")
    for text in literal:  # shown as written: the markdown characters are visible, not interpreted
        page.get_by_test_id("stChatMessage").filter(has_text=text).first.wait_for()


def test_socialdesk_built_links_remain(desk: Stack, page: object, dashboard_url: str) -> None:  # noqa: F811
    """The defence removes only what customers wrote: an http(s) attachment is still a link
    (escaped), and a Instagram profile link still leads to Instagram."""
    from bot.platform.models import Conversation

    facebook = desk.page["page_id"]
    person = desk.control("customers", account_id=facebook, name="Dana Buyer")["user_id"]
    desk.control("dm", account_id=facebook, user_id=person, text="my file",
                 attachments=[{"type": "fallback", "title": "The invoice", "url": TRICKY_URLS[0]}])
    conversation = desk.wait(lambda: Conversation.select().first(), what="the conversation")
    sign_in(page)
    page.goto(f"{dashboard_url}/conversation?conversation={conversation.id}")
    link = page.get_by_role("link", name="The invoice")
    link.wait_for()
    href = link.get_attribute("href")
    assert href.startswith("https://cdn.example/a.pdf?x=1%29%5Bclick%5D%28https://evil.example/breakout%29")
