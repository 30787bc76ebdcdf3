"""`/api/v1/campaigns`: create, update, activate, deactivate, dry run and stats, with the same
validation as the dashboard (errors name the field)."""

from __future__ import annotations

from typing import Any

from bot.platform.db import connection
from bot.platform.models import Campaign, Message
from tests.api.conftest import Api, error_of


def spec(channel_id: int, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Price answers",
        "channel_id": channel_id,
        "trigger": {"all_posts": True, "keywords_any": ["price"]},
        "actions": [
            {"kind": "send_message", "message": {"text": "Hi {{ first_name }}, it is 49 EUR.",
                                                 "buttons": [{"title": "Buy", "url": "https://shop.example/b"}]}},
            {"kind": "reply_comment", "text": "Sent you a message!", "variations": ["Check your inbox!"]},
        ],
    }
    body.update(overrides)
    return body


def page_channel(api: Api) -> int:
    return api.ok("GET", "/channels")[0]["id"]


def test_create_get_list_update(api: Api) -> None:
    channel_id = page_channel(api)
    created = api.ok("POST", "/campaigns", 201, json=spec(channel_id))
    assert (created["name"], created["channel_id"]) == ("Price answers", channel_id)
    assert created["is_active"] is False
    assert created["trigger"]["keywords_any"] == ["price"] and created["trigger"]["all_posts"] is True
    assert [a["kind"] for a in created["actions"]] == ["send_message", "reply_comment"]
    assert created["actions"][0]["message"]["buttons"] == [{"title": "Buy", "url": "https://shop.example/b"}]
    assert api.ok("GET", f"/campaigns/{created['id']}") == created
    assert [c["id"] for c in api.ok("GET", "/campaigns")] == [created["id"]]
    post_id = f"{api.stack.page['page_id']}_2"
    changed = api.ok("PUT", f"/campaigns/{created['id']}", json=spec(
        channel_id, name="Prices v2", trigger={"all_posts": False, "post_ids": [post_id]},
        actions=[{"kind": "add_tag", "tag": "asked price"}], is_active=True))
    assert (changed["name"], changed["is_active"]) == ("Prices v2", True)
    assert changed["trigger"]["post_ids"] == [post_id]
    assert [a["kind"] for a in changed["actions"]] == ["add_tag"]
    assert changed["updated_at"] >= created["updated_at"]


def test_activate_and_deactivate(api: Api) -> None:
    campaign_id = api.ok("POST", "/campaigns", 201, json=spec(page_channel(api)))["id"]
    assert api.ok("POST", f"/campaigns/{campaign_id}/activate")["is_active"] is True
    with connection():
        assert Campaign.get_by_id(campaign_id).is_active is True
    assert api.ok("POST", f"/campaigns/{campaign_id}/deactivate")["is_active"] is False


def test_validation_names_the_field(api: Api) -> None:
    channel_id = page_channel(api)
    cases = [
        (spec(channel_id, name=" "), "name"),
        (spec(channel_id, name="x" * 300), "name"),
        (spec(999), "channel_id"),
        (spec(0), "channel_id"),
        ({**spec(channel_id), "channel_id": "one"}, "channel_id"),
        ({"channel_id": channel_id, "actions": []}, "name"),
        (spec(channel_id, actions=[]), "actions"),
        (spec(channel_id, trigger={"all_posts": False}), "trigger.post_ids"),
        (spec(channel_id, trigger={"keywords_any": "price"}), "trigger.keywords_any"),
        (spec(channel_id, actions=[{"kind": "dance"}]), "actions[0].kind"),
        (spec(channel_id, actions=[{"tag": "x"}]), "actions[0].kind"),
        (spec(channel_id, actions=[{"kind": "send_message"}]), "actions[0].message"),
        (spec(channel_id, actions=[{"kind": "send_message", "message": {"text": "Hi {{ frist_name }}"}}]),
         "actions[0].message.text"),
        (spec(channel_id, actions=[{"kind": "add_tag", "tag": "x"}, {"kind": "wait", "seconds": 0}]),
         "actions[1].seconds"),
        (spec(channel_id, actions=[{"kind": "reply_comment", "text": "ok", "variations": [""]}]),
         "actions[0].variations[0]"),
    ]
    for body, field in cases:
        for method, path in (("POST", "/campaigns"), ("POST", "/campaigns/dry-run")):
            response = api.call(method, path, json=body)
            assert response.status_code == 422, (path, body, response.text)
            assert error_of(response)["field"] == field, (path, body, error_of(response))
    assert api.ok("GET", "/campaigns") == []


def test_a_422_says_the_problem_in_peoples_words_next_to_the_field(api: Api) -> None:
    """Clients show `words` as is: numbered from 1 like the screens, whether our rules or the
    request decoder found the problem; other errors carry none."""
    channel_id = page_channel(api)
    long_title = {"kind": "send_message", "message": {"text": "Hi", "buttons": [
        {"title": "Buy", "url": "https://shop.example/b"}, {"title": "x" * 30, "url": "https://shop.example/c"}]}}
    cases = [
        (spec(channel_id, actions=[{"kind": "add_tag", "tag": "x"}, long_title]),
         "actions[1].message.buttons[1].title", "Action 2, button 2: title "),
        (spec(channel_id, actions=[{"kind": "reply_comment", "text": "ok", "variations": [""]}]),
         "actions[0].variations[0]", "Action 1, variation 1"),
        ({"channel_id": channel_id, "actions": []}, "name", "Name is required"),
    ]
    for body, field, words in cases:
        error = error_of(api.call("POST", "/campaigns", json=body))
        assert error["field"] == field and error["words"].startswith(words), (field, error)
        assert "[" not in error["words"], error
    assert error_of(api.call("GET", "/campaigns/77"))["words"] is None


def test_unknown_campaign_is_404(api: Api) -> None:
    body = spec(page_channel(api))
    for method, path, json in [("GET", "/campaigns/77", None), ("PUT", "/campaigns/77", body),
                               ("POST", "/campaigns/77/activate", None),
                               ("POST", "/campaigns/77/deactivate", None),
                               ("POST", "/campaigns/77/dry-run", None), ("GET", "/campaigns/77/stats", None)]:
        response = api.call(method, path, json=json)
        assert response.status_code == 404, (method, path, response.text)
        assert error_of(response)["code"] == "not_found"


def test_dry_run_on_stored_comments(api: Api) -> None:
    channel_id = page_channel(api)
    api.comment("What's the price?")
    api.comment("Nice boots")
    report = api.ok("POST", "/campaigns/dry-run", json=spec(channel_id))
    assert (report["comments"], report["matched"], report["eligible_for_private_reply"]) == (2, 1, 1)
    assert report["skipped"] == {"keyword_missing": 1}
    assert report["samples"][0]["comment_text"] == "What's the price?"
    assert report["samples"][0]["messages"][0] == "Hi Jane, it is 49 EUR."
    saved = api.ok("POST", "/campaigns", 201, json=spec(channel_id))
    assert api.ok("POST", f"/campaigns/{saved['id']}/dry-run", params={"days": 1})["matched"] == 1
    too_far = api.post("/campaigns/dry-run", json=spec(channel_id), params={"days": 90})
    assert too_far.status_code == 422 and error_of(too_far)["field"] == "days"
    with connection():
        assert not Message.select().where(Message.direction == "out").exists()  # a dry run sends nothing


def test_stats_after_the_campaign_fires(api: Api) -> None:
    campaign = api.ok("POST", "/campaigns", 201, json=spec(page_channel(api), is_active=True))
    api.comment("price please")
    api.stack.wait(lambda: Message.select().where(Message.origin.startswith("campaign:")
                                                  & (Message.send_kind == "private_reply")
                                                  & (Message.status == "sent")).exists(),
                   what="the campaign's private reply sent")
    funnel = api.ok("GET", f"/campaigns/{campaign['id']}/stats")
    assert (funnel["campaign_id"], funnel["matched"], funnel["sent"]) == (campaign["id"], 1, 1)
    assert [a["kind"] for a in funnel["actions"]] == ["send_message", "reply_comment"]
    assert funnel["actions"][0]["sent"] == 1


def test_send_to_past_comments_answers_each_eligible_comment_once(api: Api) -> None:
    api.comment("What's the price?")
    api.comment("Nice boots")
    draft = api.ok("POST", "/campaigns", 201, json=spec(page_channel(api), is_active=False))
    refused = api.post(f"/campaigns/{draft['id']}/send-to-past-comments")
    assert refused.status_code == 409 and "activate" in refused.json()["error"]["message"]
    saved = api.ok("POST", "/campaigns", 201, json=spec(page_channel(api), is_active=True))
    answered = api.ok("POST", f"/campaigns/{saved['id']}/send-to-past-comments")
    assert answered == {"comments": 1, "queued": 2}  # one matching comment: private + public reply
    api.stack.wait(lambda: Message.select().where(Message.origin.startswith("campaign:")
                                                  & (Message.status == "sent")).count() == 2, what="both sent")
    private = [s for s in api.stack.sandbox_get("sent")["sent"] if s["private_reply"]]
    assert len(private) == 1
    assert api.ok("POST", f"/campaigns/{saved['id']}/send-to-past-comments") == {"comments": 0, "queued": 0}
    assert api.post("/campaigns/999/send-to-past-comments").status_code == 404


def test_the_channel_by_page_id_and_post_ids_in_either_form(api: Api) -> None:
    """Integrators know Meta's ids, not ours: the page id names the channel, and a post id is
    taken as Meta's `{page}_{post}` or bare; both are stored as comment webhooks carry them."""
    page_id = api.stack.page["page_id"]
    body = spec(0, trigger={"all_posts": False, "post_ids": ["77", f"{page_id}_88", f"{page_id}_77"]})
    del body["channel_id"]
    created = api.ok("POST", "/campaigns", 201, json={**body, "page_id": page_id})
    assert created["channel_id"] == page_channel(api)
    assert created["trigger"]["post_ids"] == [f"{page_id}_77", f"{page_id}_88"]
    instagram = api.ok("POST", "/campaigns", 201, json={**spec(0), "channel_id": None,
                                                        "page_id": api.stack.page["instagram_id"]})
    assert instagram["channel_id"] != created["channel_id"]
    cases = [
        ({**body, "page_id": "123456"}, "page_id"),
        ({**body, "page_id": page_id, "channel_id": instagram["channel_id"]}, "page_id"),
        (body, "channel_id"),
        ({**body, "page_id": page_id, "trigger": {"all_posts": False, "post_ids": ["9_77"]}}, "trigger.post_ids[0]"),
        ({**body, "page_id": page_id, "trigger": {"all_posts": False, "post_ids": ["1", "x"]}}, "trigger.post_ids[1]"),
    ]
    for wrong, field in cases:
        response = api.post("/campaigns", json=wrong)
        assert response.status_code == 422 and error_of(response)["field"] == field, (wrong, response.text)


def test_a_campaign_on_a_bare_post_id_answers_comments_on_that_post(api: Api) -> None:
    page_id = api.stack.page["page_id"]
    post_id = api.stack.control("posts", account_id=page_id, message="Boots")["post_id"]
    bare = post_id.split("_", 1)[1]
    api.ok("POST", "/campaigns", 201, json={**spec(0, is_active=True), "channel_id": None, "page_id": page_id,
                                            "trigger": {"all_posts": False, "post_ids": [bare]}})
    api.stack.control("comment", account_id=page_id, post_id=post_id, text="price?", user_id=api.customer())
    api.stack.wait(lambda: Message.select().where(Message.origin.startswith("campaign:")
                                                  & (Message.send_kind == "private_reply")
                                                  & (Message.status == "sent")).exists(),
                   what="the campaign answered a comment on the post named by its bare id")
