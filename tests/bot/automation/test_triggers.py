"""Referral sources on contacts and the source conditions and post scopes of campaigns (issue 22),
at the service level: deliveries out of order still leave the earliest referral as the first and
the latest as the last; a thread opening without ref or ad says nothing."""

from __future__ import annotations

import peewee
import pytest

from bot.automation import triggers
from bot.automation.triggers import SourceCondition
from bot.core import events as ev
from bot.inbound import inbox
from bot.platform.db import transaction
from bot.platform.models import Channel, ContactSource, Identity

PAGE = "7001"


def _referred(user: str, at: int, **referral: str) -> None:
    event = ev.Referred(platform="facebook", account_id=PAGE, timestamp=at, user_id=user,
                        referral=ev.ReferralInfo(type="OPEN_THREAD", **referral))
    with transaction():
        triggers.record_referral(inbox.apply(event))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_first_and_last_referral_by_meta_time_whatever_the_arrival_order(db: peewee.Database) -> None:
    Channel.create(platform="facebook", account_id=PAGE, page_id=PAGE, name="Shop", created_at=0)
    base = 1_760_000_000_000
    _referred("u1", base + 2000, ref="winter", source="SHORTLINK")
    _referred("u1", base + 1000, ref="summer", source="SHORTLINK")  # older, delivered late
    _referred("u1", base + 3000, source="ADS", ad_id="6045")
    _referred("u1", base + 4000, source="SHORTLINK")  # no ref, no ad: nothing to record
    row = ContactSource.get(ContactSource.contact == Identity.get(Identity.scoped_id == "u1").contact_id)
    assert (row.first_ref, row.first_at) == ("summer", base + 1000)
    assert (row.last_ref, row.last_ad_id, row.last_source, row.last_at) == (None, "6045", "ADS", base + 3000)
    source = triggers.source_of(Identity.get(Identity.scoped_id == "u1").channel_id, "u1")
    assert source == {"first_ref": "summer", "last_ad": "6045"}
    assert triggers.source_holds([SourceCondition(kind="ref", value="summer", touch="first")], source)
    assert not triggers.source_holds([SourceCondition(kind="ref", value="summer", touch="last")], source)
    assert triggers.source_holds([SourceCondition(kind="ad", value="6045")], source)
    assert not triggers.source_holds([SourceCondition(kind="ad", value="6045"),
                                      SourceCondition(kind="ref", value="winter")], source)  # all must hold


def test_post_scopes() -> None:
    assert triggers.watches(True, [], False, None, "p1") is None
    assert triggers.watches(False, ["p2"], False, None, "p1") == "post_not_watched"
    assert triggers.watches(False, [], True, None, "p1") == "next_post_pending"
    assert triggers.watches(False, [], True, "p1", "p1") is None
    assert triggers.watches(True, [], True, "p2", "p1") == "post_not_watched"  # bound: only its post
