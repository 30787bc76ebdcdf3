"""End to end in a real browser: Debian's headless Chromium against `streamlit run
dashboard/app.py`, joined to the full stack (API, sandbox Graph API, worker, database).

A customer writes through the sandbox (a signed webhook), staff sign in, open the conversation,
reply, and the reply reaches the sandbox; then staff edit, dry-run and activate a campaign, and
a comment gets the edited private reply; and a full browser reload keeps both the sign-in and
the reply being typed. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.dashboard.conftest import ADMIN, APP, customer_writes, dashboard_env
from tests.servers import CI, Stack, free_port, wait_until

ROOT = APP.parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
STEP_MS = 20_000  # Playwright waits at most this long for anything to appear

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


@pytest.fixture
def dashboard_url(desk: Stack, tmp_path: Path) -> Iterator[str]:
    """`streamlit run dashboard/app.py` as its own process, with the stack's environment."""
    port = free_port()
    env = {**os.environ, **dashboard_env(desk), "PYTHONPATH": str(ROOT), "SOCIALDESK_LOG_LEVEL": "WARNING"}
    log = (tmp_path / "streamlit.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless=true",
         "--server.address=127.0.0.1", f"--server.port={port}", "--browser.gatherUsageStats=false",
         "--client.toolbarMode=minimal", "--server.fileWatcherType=none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(url) or process.poll() is not None, 60, what="streamlit health")
        assert process.poll() is None, (tmp_path / "streamlit.log").read_text()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        print((tmp_path / "streamlit.log").read_text()[-4000:])


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium; required under CI, a reason to skip elsewhere."""
    if not CHROMIUM.exists():
        if CI:
            pytest.fail("CI=true needs /usr/bin/chromium (apt-get install chromium fonts-noto-color-emoji)")
        pytest.skip("/usr/bin/chromium is not installed; the browser test runs under CI")
    return CHROMIUM


@pytest.fixture
def page(chromium: Path, dashboard_url: str, request: pytest.FixtureRequest) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1440, "height": 1000})
        tab.set_default_timeout(STEP_MS)
        tab.goto(dashboard_url)
        try:
            yield tab
        finally:
            tab.screenshot(path=str(ARTIFACTS / f"last-{request.node.name}.png"), full_page=True)
            browser.close()


def sign_in(page: object) -> None:
    page.get_by_label("E-mail").fill(ADMIN[0])
    page.get_by_label("Password", exact=True).fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Inbox").wait_for()


def shot(page: object, name: str) -> None:
    """A screenshot once the script run is over and every image has loaded (or failed)."""
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden")
    page.wait_for_function("Array.from(document.images).every(image => image.complete)")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_staff_reply_from_the_dashboard_reaches_the_customer(desk: Stack, page: object) -> None:
    from bot.platform.models import Conversation

    account = desk.page["page_id"]
    customer = desk.control("customers", account_id=account, name="Dana Buyer")["user_id"]
    desk.control("dm", account_id=account, user_id=customer, text="Do you have the red sneakers in size 42?")
    desk.wait(lambda: Conversation.select().count() == 1, what="the conversation")

    sign_in(page)
    page.get_by_text("Dana Buyer").wait_for()
    shot(page, "01-inbox")
    page.get_by_test_id("stButton").filter(has_text="Open").first.click()
    page.get_by_test_id("stChatMessage").filter(has_text="size 42").wait_for()
    page.get_by_text("Message: possible for").wait_for()

    desk.control("dm", account_id=account, user_id=customer, text="Also, is shipping free?")
    page.get_by_test_id("stChatMessage").filter(has_text="shipping free").wait_for()  # live, no reload

    page.get_by_label("Your reply").fill("Yes, size 42 is in stock, and shipping is free!")
    page.get_by_role("button", name="Send").click()
    sent = wait_until(lambda: [s for s in desk.sandbox_get("sent", recipient_id=customer)["sent"]
                               if "size 42 is in stock" in str(s["body"])], 30,
                      what="the reply in the sandbox")
    assert sent[0]["kind"] == "message"
    page.get_by_test_id("stChatMessage").filter(has_text="size 42 is in stock").filter(
        has_text="Sent").wait_for()
    shot(page, "02-conversation")


def test_staff_edit_dry_run_and_activate_a_campaign(desk: Stack, page: object, dashboard_url: str) -> None:
    """The editor shows what goes in the private reply (a card) and what waits for the person's
    answer (the text, a picture); the screenshot is test-artifacts/campaign-editor.png."""
    from bot.automation import campaigns
    from bot.automation.campaigns import ActionSpec, CampaignSpec
    from bot.core.compose import Button, Card, MediaAttachment, MessageContent
    from bot.platform import registry as channels
    from bot.platform.models import Campaign, Message

    account = desk.page["page_id"]
    channel = channels.channel_for("facebook", account)
    picture = f"{dashboard_url}/favicon.png"  # an image the browser can load without the internet
    campaigns.save(CampaignSpec(name="Sneaker coupon", channel_id=channel.id, actions=[
        ActionSpec(kind="send_message", message=MessageContent(
            card=Card(title="Red sneakers for {{ first_name }}", subtitle="10% off this week", image_url=picture,
                      buttons=(Button(title="Shop now", url="https://shop.example/red"),)),
            text="Hello!", attachments=(MediaAttachment(type="image", url=picture),)))]))
    customer = desk.control("customers", account_id=account, name="Sam Shopper")["user_id"]
    post = desk.control("posts", account_id=account, message="New red sneakers!")["post_id"]

    sign_in(page)
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_text("Sneaker coupon").wait_for()
    shot(page, "03-campaigns")
    page.get_by_role("button", name="Edit").click()
    page.get_by_label("Message", exact=True).fill("Hi {{ first_name }}, here is your 10% coupon: RED10")
    page.get_by_role("button", name="Dry run").click()
    page.get_by_text("Dry run: the last 7 days of comments").wait_for()
    page.get_by_text("here is your 10% coupon").first.wait_for()  # the live preview
    page.get_by_text("Private reply: sent now, as one message").wait_for()
    page.get_by_text("Waiting: 2 more messages go out when the person answers").wait_for()
    page.get_by_text("Red sneakers for Ana").wait_for()  # the card, drawn with the sample values
    page.set_viewport_size({"width": 1440, "height": 1500})  # the action, its card and its preview at once
    page.get_by_text("1. Send a private message").evaluate("e => e.scrollIntoView({block: 'start'})")
    shot(page, "campaign-editor")
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.get_by_role("button", name="Activate").click()
    page.get_by_text("Saved and activated").wait_for()

    saved = desk.wait(lambda: Campaign.get(Campaign.name == "Sneaker coupon").is_active, what="activation")
    assert saved
    desk.control("comment", account_id=account, post_id=post, user_id=customer, text="Want!")
    sent = wait_until(lambda: [s for s in desk.sandbox_get("sent", account_id=account)["sent"]
                               if s["private_reply"]], 30, what="the private reply")
    [card] = sent[0]["body"]["message"]["attachment"]["payload"]["elements"]
    assert (card["title"], card["image_url"]) == ("Red sneakers for Sam", picture)
    held = desk.wait(lambda: list(Message.select().where(Message.status == "held").order_by(Message.id)),
                     what="the held parts")
    assert held[0].text == "Hi Sam, here is your 10% coupon: RED10" and held[1].attachments[0]["url"] == picture


def session_cookies(page: object) -> list[dict]:
    return [c for c in page.context.cookies() if c["name"] == "socialdesk_session"]


def test_a_reload_keeps_the_sign_in_and_the_reply_being_typed(desk: Stack, page: object) -> None:
    from playwright.sync_api import expect

    from bot.platform.models import StaffSession, User
    from bot.staff import auth, drafts

    conversation_id, _ = customer_writes(desk, "Rita Reload", "Is the blue jacket back in stock?")
    admin = User.get(User.email == ADMIN[0])
    sign_in(page)
    page.get_by_test_id("stButton").filter(has_text="Open").first.click()
    page.get_by_test_id("stChatMessage").filter(has_text="blue jacket").wait_for()
    page.get_by_label("Your reply").fill("Yes, it is back in every size")
    page.get_by_role("heading", name="Rita Reload").click()  # the text area loses focus: its value is sent
    desk.wait(lambda: getattr(drafts.load(admin.id, conversation_id), "text", None)
              == "Yes, it is back in every size", what="the draft in the database")
    [cookie] = session_cookies(page)
    assert cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert abs(cookie["expires"] - (time.time() + auth.SESSION_TTL_MS / 1000)) < 120
    assert auth.session_user(cookie["value"]).id == admin.id  # the opaque session token, nothing else

    page.reload()
    expect(page.get_by_label("Your reply")).to_have_value("Yes, it is back in every size")
    page.get_by_role("button", name="Sign out").wait_for()  # still signed in
    assert cookie["value"] not in page.url and f"conversation={conversation_id}" in page.url
    shot(page, "05-reloaded-draft")

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()
    wait_until(lambda: not session_cookies(page), 10, what="the cookie cleared on sign-out")
    page.reload()
    page.get_by_role("button", name="Sign in").wait_for()
    expect(page.get_by_text("Your session has expired")).to_have_count(0)

    sign_in(page)
    wait_until(lambda: session_cookies(page), 10, what="a new cookie")
    StaffSession.update(expires_at=1).execute()  # the session ends while the browser is away
    page.reload()
    page.get_by_text("Your session has expired. Please sign in again.").wait_for()
    page.get_by_role("button", name="Sign in").wait_for()
    wait_until(lambda: not session_cookies(page), 10, what="the stale cookie cleared")
