"""The dashboard's Deliveries page (admins only): quarantined deliveries with their reason shown
as plain text, and a Retry button that puts one back in line until it is read."""

from __future__ import annotations

import pytest

from bot.inbound import ingest
from bot.platform.db import connection
from bot.platform.models import Delivery, Message
from tests.bot.meta import payloads as p
from tests.dashboard.conftest import texts
from tests.servers import Stack

REASON = "expansion failed 3 times; last: [Reset your password](http://evil.example) ![x](http://evil.example/i.png)"


def quarantined_delivery(stack: Stack) -> int:
    """A delivery as the expander leaves it after its last failed attempt."""
    body = p.encode(p.messenger_message(stack.page["page_id"], "98001", "m_held", text="held back"))
    with connection():
        [delivery_id] = ingest.store_deliveries([body])
        Delivery.update(status="quarantined", attempts=ingest.MAX_ATTEMPTS, reason=REASON).where(
            Delivery.id == delivery_id).execute()
    return delivery_id


def test_admin_sees_the_reason_as_text_and_retries(desk: Stack, admin_app) -> None:  # noqa: ANN001
    delivery_id = quarantined_delivery(desk)
    app = admin_app.switch_page("app_pages/deliveries.py").run()
    assert not app.exception, app.exception
    assert f"Delivery {delivery_id}" in texts(app)
    assert [element.value for element in app.text] == [REASON]  # st.text: never markdown
    assert "evil.example" not in texts(app)
    app.button(key=f"retry_delivery_{delivery_id}").click().run()
    assert not app.exception, app.exception
    assert "back in line" in texts(app)
    desk.wait(lambda: Message.get_or_none(Message.mid == "m_held"), what="the retried delivery read")
    app.run()
    assert "No quarantined deliveries" in texts(app)


def test_agents_have_no_deliveries_page(agent_app) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        agent_app.switch_page("app_pages/deliveries.py")
