"""Merging contacts: everything of the merged contact moves to the survivor, the merge is recorded,
new messages of either identity land on the survivor, and undoing restores exactly what moved
(also after new messages, also the tags both had); suggestions pair look-alikes across channels."""

from __future__ import annotations

import pytest

from bot.core import events as ev
from bot.core.errors import Invalid, NotFound, Refused
from bot.helpdesk import merge
from bot.inbound import inbox
from bot.inbound.contacts import identity_for, tag_contact, tags_of
from bot.platform.db import transaction
from bot.platform.models import Channel, Contact, ContactMerge, ContactSource, Conversation, Identity, Message

PAGE, IG = "1", "17841"


def channel(platform: str, account: str) -> Channel:
    return Channel.get_or_none(Channel.account_id == account) or Channel.create(
        platform=platform, account_id=account, page_id=PAGE, name="Acme", created_at=0)


def person(platform: str, account: str, scoped_id: str, name: str) -> Identity:
    identity, _ = identity_for(channel(platform, account), scoped_id, name=name)
    return identity


def write(platform: str, account: str, scoped_id: str, mid: str, text: str = "hi") -> Message:
    """A customer DM applied through the inbox, as the pipeline does."""
    event = ev.MessageReceived(platform=platform, account_id=account, user_id=scoped_id, mid=mid, text=text,
                               timestamp=1_700_000_000_000 + len(mid))
    with transaction():
        inbox.apply(event)
    return Message.get(Message.mid == mid)


def contact_of(message: Message) -> int:
    return Conversation.get_by_id(message.conversation_id).contact_id


def test_a_merge_moves_everything_and_new_messages_follow_the_survivor(db) -> None:
    fb = person("facebook", PAGE, "psid-1", "Dana Buyer")
    ig = person("instagram", IG, "igsid-1", "Dana Buyer")
    first_fb, first_ig = write("facebook", PAGE, "psid-1", "m1"), write("instagram", IG, "igsid-1", "m2")
    tag_contact(fb.contact_id, "vip")
    tag_contact(ig.contact_id, "vip")  # both have it: the merged one's row cannot move
    tag_contact(ig.contact_id, "instagram-lead")

    done = merge.merge(fb.contact_id, ig.contact_id, None)

    assert not Contact.select().where(Contact.id == ig.contact_id).exists()
    assert Identity.get_by_id(ig.id).contact_id == fb.contact_id
    assert contact_of(first_ig) == contact_of(first_fb) == fb.contact_id
    assert tags_of(fb.contact_id) == ["Facebook Messenger", "Instagram Direct", "instagram-lead", "vip"]
    assert done.merge.moved["identity"] == 1 and done.merge.moved["conversation"] == 1
    assert done.merge.displaced == {"contact_tag": 1} and done.merge.merged_name == "Dana Buyer"
    later = write("instagram", IG, "igsid-1", "m3")  # the inbox finds the identity's new contact
    assert contact_of(later) == fb.contact_id and later.conversation_id == first_ig.conversation_id


def test_undo_restores_exactly_what_moved_even_after_new_messages(db) -> None:
    fb = person("facebook", PAGE, "psid-1", "Dana Buyer")
    ig = person("instagram", IG, "igsid-1", "Dana B")
    write("facebook", PAGE, "psid-1", "m1")
    old_ig = write("instagram", IG, "igsid-1", "m2")
    tag_contact(fb.contact_id, "vip")
    tag_contact(ig.contact_id, "vip")
    tag_contact(ig.contact_id, "ig")
    Contact.update(first_name="Dana", picture_url="https://cdn/ig.jpg").where(Contact.id == ig.contact_id).execute()
    before = Contact.get_by_id(ig.contact_id).__data__.copy()
    record = merge.merge(fb.contact_id, ig.contact_id, None).merge
    assert Contact.get_by_id(fb.contact_id).picture_url == "https://cdn/ig.jpg"  # a gap filled meanwhile
    Conversation.update(contact=fb.contact_id).where(Conversation.id == old_ig.conversation_id).execute()
    tag_contact(fb.contact_id, "added-after")  # the survivor's own, after the merge: stays there
    comment_key_identity = Identity.get_by_id(ig.id)
    new_thread = Conversation.create(thread_key="dm:instagram:x:2", kind="instagram", channel=channel(
        "instagram", IG), contact=fb.contact_id, identity=comment_key_identity, created_at=1)

    undone = merge.unmerge(record.id, None)

    assert undone.unmerged_at is not None
    assert Contact.get_by_id(ig.contact_id).__data__ == before
    assert Contact.get_by_id(fb.contact_id).picture_url is None  # the gap the merge filled is empty again
    assert Identity.get_by_id(ig.id).contact_id == ig.contact_id
    assert Conversation.get_by_id(old_ig.conversation_id).contact_id == ig.contact_id
    assert Conversation.get_by_id(new_thread.id).contact_id == ig.contact_id  # opened since the merge
    assert tags_of(ig.contact_id) == ["Instagram Direct", "ig", "vip"]
    assert tags_of(fb.contact_id) == ["Facebook Messenger", "added-after", "vip"]
    assert contact_of(write("instagram", IG, "igsid-1", "m9")) == ig.contact_id
    with pytest.raises(Refused):
        merge.unmerge(record.id, None)


def test_a_merge_into_a_contact_merged_away_since_waits_for_that_undo(db) -> None:
    a = person("facebook", PAGE, "a", "Ann").contact_id
    b = person("instagram", IG, "b", "Ann").contact_id
    c = person("facebook", "2", "c", "Ann").contact_id
    first = merge.merge(a, b, None).merge
    second = merge.merge(c, a, None).merge
    with pytest.raises(Refused, match="undo that merge first"):
        merge.unmerge(first.id, None)
    merge.unmerge(second.id, None)
    merge.unmerge(first.id, None)
    assert {i.scoped_id: i.contact_id for i in Identity.select()} == {"a": a, "b": b, "c": c}


def test_bad_merges_are_refused(db) -> None:
    a = person("facebook", PAGE, "a", "Ann").contact_id
    with pytest.raises(Invalid, match="merged_id"):
        merge.merge(a, a, None)
    with pytest.raises(Invalid, match="merged_id"):
        merge.merge(a, 999_999, None)
    with pytest.raises(NotFound):
        merge.merge(999_999, a, None)
    assert ContactMerge.select().count() == 0


def test_suggestions_pair_look_alikes_on_different_channels_only(db) -> None:
    fb = person("facebook", PAGE, "p1", "Dana Buyer").contact_id
    ig = person("instagram", IG, "i1", "dana buyer ").contact_id
    same_page = person("facebook", PAGE, "p2", "Dana Buyer").contact_id  # another PSID: another person
    other = person("instagram", IG, "i2", "Sam").contact_id
    Contact.update(picture_url="https://cdn/x.jpg").where(Contact.id.in_([other, fb])).execute()
    found = {(s.contact_id, s.other_id): s.reasons for s in merge.suggestions()}
    assert found == {(fb, ig): ["same name"], (ig, same_page): ["same name"], (fb, other): ["same picture"]}
    undone = merge.merge(fb, ig, None).merge
    merge.unmerge(undone.id, None)  # staff said: not the same person
    assert (fb, ig) not in {(s.contact_id, s.other_id) for s in merge.suggestions()}


def source(contact_id: int, first: tuple[str | None, str | None, int], last: tuple[str | None, str | None, int]
           ) -> dict:
    """A contact's recorded first and last referral: (ref, ad id, at) each."""
    row = ContactSource.create(contact=contact_id, first_ref=first[0], first_ad_id=first[1], first_source="ADS",
                               first_at=first[2], last_ref=last[0], last_ad_id=last[1], last_source="SHORTLINK",
                               last_at=last[2])
    return sources()[row.id]


def sources() -> dict[int, dict]:
    return {r["id"]: r for r in ContactSource.select().dicts()}


def test_a_merge_keeps_the_earliest_first_touch_and_the_latest_last_touch_and_undo_restores(db) -> None:
    fb = person("facebook", PAGE, "psid-s", "Ola Source")
    ig = person("instagram", IG, "igsid-s", "Ola Source")
    later = person("instagram", IG, "igsid-t", "Ola Too")
    mine = source(fb.contact_id, ("spring", None, 100), ("autumn", None, 500))
    theirs = source(ig.contact_id, (None, "6001", 50), ("summer", None, 300))
    alone = source(later.contact_id, ("winter", None, 700), ("winter", None, 700))
    before = sources()

    done = merge.merge(fb.contact_id, ig.contact_id, None)
    merge.merge(fb.contact_id, later.contact_id, None)

    [row] = ContactSource.select().dicts()  # one row per contact: the survivor's
    assert row["id"] == mine["id"] and row["contact"] == fb.contact_id
    assert (row["first_ref"], row["first_ad_id"], row["first_source"], row["first_at"]) == (None, "6001", "ADS", 50)
    assert (row["last_ref"], row["last_at"]) == ("winter", 700)  # the third contact's later touch
    assert done.merge.displaced == {"contact_source": 1}
    merge.unmerge(merge.merges_of(fb.contact_id)[0].id, None)  # newest first: the third contact
    assert sources()[alone["id"]] == alone
    assert (sources()[mine["id"]]["last_ref"], sources()[mine["id"]]["last_at"]) == ("autumn", 500)
    merge.unmerge(done.merge.id, None)
    assert sources() == before and theirs["contact"] == ig.contact_id
