"""Reports from a scripted day of traffic with controlled timestamps: every figure is worked out
by hand in the comments and must match exactly (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import datetime
import io

import pytest

from bot import commands, reports
from bot.core.errors import Invalid
from bot.helpdesk import attributes
from bot.platform.models import Channel, Contact, Conversation, Message, StatusChange
from tests.bot.helpdesk.factories import staff

D = int(datetime.datetime(2026, 3, 2, tzinfo=datetime.UTC).timestamp() * 1000)  # the scripted day
H, M = 3_600_000, 60_000


def at(hours: float, minutes: int = 0) -> int:
    return D + int(hours * H) + minutes * M


class Day:
    """Two channels, two agents, four conversations."""

    def __init__(self) -> None:
        self.fb = Channel.create(platform="facebook", account_id="1", page_id="1", name="Acme", created_at=0).id
        self.ig = Channel.create(platform="instagram", account_id="2", page_id="1", name="acme.ig", created_at=0).id
        self.ann, self.bob = staff("ann@example.com", "Ann"), staff("bob@example.com", "Bob")

    def conversation(self, key: str, channel: int) -> int:
        contact = Contact.create(name=key, created_at=0, updated_at=0)
        return Conversation.create(thread_key=key, kind="messenger" if channel == self.fb else "instagram",
                                   channel=channel, contact=contact, created_at=0).id

    def customer(self, conversation: int, when: int) -> None:
        """A customer message; like the inbox (bot.inbound.inbox) it reopens the conversation."""
        self._message(conversation, when, "in", "customer", None, "received")
        Conversation.update(status="open").where(Conversation.id == conversation).execute()

    def reply(self, conversation: int, when: int, user: int | None, author: str = "staff",
              status: str = "sent") -> None:
        self._message(conversation, when, "out", author, user, status)

    def _message(self, conversation: int, when: int, direction: str, author: str, user: int | None,
                 status: str) -> None:
        channel = Conversation.get_by_id(conversation).channel_id
        Message.create(channel=channel, conversation=conversation, direction=direction, author=author,
                       author_user=user, text="hi", occurred_at=when, created_at=when, status=status)

    def status(self, monkeypatch: pytest.MonkeyPatch, conversation: int, status: str, when: int, user: int) -> None:
        monkeypatch.setattr("bot.commands.now_ms", lambda: when)
        commands.set_status(conversation, status, by=user)


@pytest.fixture
def day(db, monkeypatch: pytest.MonkeyPatch) -> Day:
    d = Day()
    a, b = d.conversation("a", d.fb), d.conversation("b", d.ig)
    c, late = d.conversation("c", d.fb), d.conversation("late", d.fb)
    d.customer(a, at(9))
    d.reply(a, at(9, 5), d.ann)  # first response 300 s
    d.customer(a, at(9, 10))
    d.reply(a, at(9, 12), d.ann)  # not a first response
    d.status(monkeypatch, a, "closed", at(10), d.ann)  # resolved in 3600 s
    d.customer(b, at(11))
    d.reply(b, at(11, 1), None, author="bot")  # the bot is not a response
    d.reply(b, at(11, 30), d.bob)  # first response 1800 s
    d.status(monkeypatch, b, "closed", at(12), d.bob)  # resolved in 3600 s
    d.customer(b, at(13))  # reopens it
    d.reply(b, at(13, 10), d.ann)  # first response 600 s
    d.status(monkeypatch, b, "closed", at(15), d.ann)  # resolved in 7200 s
    d.status(monkeypatch, b, "closed", at(15, 1), d.ann)  # closing a closed one records nothing
    d.customer(c, at(16))
    d.reply(c, at(16, 1), d.bob, status="refused")  # never reached the customer: not a reply
    d.customer(c, at(24, 30))  # the next day
    d.customer(late, at(-1))  # the day before, 23:00
    d.reply(late, at(0, 20), d.ann)  # first response 4800 s, given on the day
    return d


def test_a_scripted_day_gives_exact_figures(day: Day) -> None:
    report = reports.report(D, D + 24 * H)
    # first responses 300, 1800, 600, 4800 s; resolutions 3600, 3600, 7200 s
    assert report.first_response == reports.Durations(count=4, average_seconds=1875.0, median_seconds=1200.0)
    assert report.resolution == reports.Durations(count=3, average_seconds=4800.0, median_seconds=3600.0)
    assert StatusChange.select().count() == 3
    assert [(r.day, r.channel, r.conversations, r.messages_in, r.messages_out) for r in report.per_channel_day] == [
        ("2026-03-02", "Acme", 3, 3, 3), ("2026-03-02", "acme.ig", 1, 2, 3)]
    assert [(a.name, a.replies, a.first_responses, a.average_first_response_seconds, a.conversations_closed)
            for a in report.per_agent] == [("Ann", 4, 3, 1900.0, 2), ("Bob", 1, 1, 1800.0, 1)]


def test_the_next_day_counts_only_its_own_facts(day: Day) -> None:
    report = reports.report(D + 24 * H, D + 48 * H)
    assert report.first_response.count == 0 and report.resolution.count == 0 and report.per_agent == []
    assert [(r.day, r.channel, r.messages_in) for r in report.per_channel_day] == [("2026-03-03", "Acme", 1)]


def test_a_manual_reopen_starts_a_new_resolution(day: Day, monkeypatch: pytest.MonkeyPatch) -> None:
    a = Conversation.get(Conversation.thread_key == "a").id
    day.status(monkeypatch, a, "open", at(17), day.bob)
    day.status(monkeypatch, a, "closed", at(17, 30), day.bob)
    report = reports.report(D, D + 24 * H)
    assert report.resolution.count == 4 and report.resolution.average_seconds == (3600 + 3600 + 7200 + 1800) / 4
    assert report.first_response.count == 4  # no customer waited, so no response time


def test_the_range_is_checked() -> None:
    with pytest.raises(Invalid) as error:
        reports.checked_range(D, D)
    assert error.value.field == "until"
    with pytest.raises(Invalid):
        reports.checked_range(D, D + 400 * 24 * H)


def test_csv_exports_every_row_with_attributes_and_no_formulas(day: Day) -> None:
    attributes.define("vip_level", "VIP level", "list", ["silver", "gold"])
    hostile = Contact.create(name="=HYPERLINK(\"http://evil\")", created_at=D, updated_at=D)
    attributes.set_values(hostile.id, {"vip_level": "gold"})
    rows = list(csv.DictReader(io.StringIO("".join(reports.contacts_csv()))))
    assert len(rows) == Contact.select().count() == 5
    mine = next(r for r in rows if r["id"] == str(hostile.id))
    assert mine["name"].startswith("'=") and mine["attributes.vip_level"] == "gold"
    assert mine["created_at"] == "2026-03-02T00:00:00Z"
    talks = list(csv.DictReader(io.StringIO("".join(reports.conversations_csv()))))
    b = next(r for r in talks if r["contact_name"] == "b")
    assert (b["channel"], b["status"], b["messages_in"], b["messages_out"]) == ("acme.ig", "closed", "2", "3")


def test_csv_pages_through_more_than_one_batch(db, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reports, "BATCH", 2)
    for i in range(5):
        Contact.create(name=f"P{i}", created_at=0, updated_at=0)
    names = [r["name"] for r in csv.DictReader(io.StringIO("".join(reports.contacts_csv())))]
    assert names == [f"P{i}" for i in range(5)]


def test_an_export_streams_batch_by_batch_never_holding_the_table(db, monkeypatch: pytest.MonkeyPatch) -> None:
    """The streamed download reads one batch per chunk: rows removed after the first chunk was
    drawn are not in the rest, which a file built whole in memory would still hold."""
    monkeypatch.setattr(reports, "BATCH", 3)
    for i in range(9):
        Contact.create(name=f"P{i}", created_at=0, updated_at=0)
    stream = reports.chunks(reports.contacts_csv(), lines_per_chunk=4)  # the header and one batch
    first = next(stream).decode()
    assert [r["name"] for r in csv.DictReader(io.StringIO(first))] == ["P0", "P1", "P2"]
    Contact.delete().where(Contact.name.in_(["P4", "P7"])).execute()
    rest = b"".join(stream).decode().splitlines()
    assert [line.split(",")[1] for line in rest] == ["P3", "P5", "P6", "P8"]
