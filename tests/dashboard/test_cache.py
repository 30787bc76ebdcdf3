"""The dashboard's cached reads (`dashboard.state.cached`): read once, kept while nothing changes,
and never stale after a change: one made by this process shows on the next read, one made by
another process (the REST API, workers) once the FRESH_SECONDS slot turns."""

from __future__ import annotations

import sqlite3

import pytest

from tests.dashboard.conftest import texts

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE
def test_a_cached_read_is_kept_until_a_write(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import commands, queries
    from bot.platform.db import connection, now_ms, open_database, transaction
    from bot.platform.models import Contact, Tag
    from dashboard import state

    reads: list[int] = []
    real = queries.tag_names
    monkeypatch.setattr(queries, "tag_names", lambda: reads.append(1) or real())
    database = open_database(database_url)
    state.watch_writes(database)
    with connection():
        assert state.tag_names() == [] and state.tag_names() == []
        assert len(reads) == 1  # the second came from the cache

        contact = Contact.create(name="Vera", created_at=now_ms(), updated_at=now_ms())
        commands.add_tag(contact.id, "vip")  # a command, as a page's callback runs it
        assert state.tag_names() == ["vip"]
        with transaction():
            Tag.create(name="gold")
        assert state.tag_names() == ["gold", "vip"]
        assert len(reads) == 3

        other = sqlite3.connect(database_url.removeprefix("sqlite:///"))  # another process's write
        with other:
            other.execute("INSERT INTO tag (name) VALUES ('bronze')")
        other.close()
        assert state.tag_names() == ["gold", "vip"]  # not seen yet: at most FRESH_SECONDS late
        later = state._now() + state.FRESH_SECONDS
        monkeypatch.setattr(state, "_now", lambda: later)
        assert state.tag_names() == ["bronze", "gold", "vip"]


@SQLITE
def test_campaign_changes_show_on_the_next_rerun(desk, admin_app) -> None:
    from bot.automation import campaigns
    from bot.automation.campaigns import ActionSpec, CampaignSpec, TriggerSpec
    from bot.core.compose import MessageContent
    from bot.platform import registry as channels

    channel = channels.channel_for("facebook", desk.page["page_id"])
    admin_app.switch_page("app_pages/campaigns.py").run()
    assert "No campaigns yet" in texts(admin_app)

    spec = CampaignSpec(name="Coupon", channel_id=channel.id, trigger=TriggerSpec(keywords_any=["coupon"]),
                        actions=[ActionSpec(kind="send_message", message=MessageContent(text="Here: C10"))])
    campaign = campaigns.save(spec)
    admin_app.run()
    assert "**Coupon** :gray-badge[inactive]" in texts(admin_app)
    campaigns.set_active(campaign.id, True)
    admin_app.run()
    assert "**Coupon** :green-badge[active]" in texts(admin_app)

    admin_app.switch_page("app_pages/stats.py").run()
    assert admin_app.selectbox(key="stats_campaign").options == ["Coupon"]
    campaigns.save(msgspec_replace(spec, name="Coupon 10"), campaign.id)
    admin_app.run()
    assert not admin_app.exception, admin_app.exception
    assert admin_app.selectbox(key="stats_campaign").options == ["Coupon 10"]


def msgspec_replace(spec: object, **changes: object) -> object:
    import msgspec

    return msgspec.structs.replace(spec, **changes)


def test_the_warm_up_imports_what_the_pages_import() -> None:
    """`dashboard.serve` and the first run import these before any page needs them."""
    from dashboard import serve, state

    names = state.imported_by(serve.APP.parent)
    assert {"pandas", "bot.commands", "bot.automation.notifications", "dashboard.widgets"} <= set(names)
    state.import_all(["dashboard.widgets", "bot.queries.tag_names"])  # a function, not a module: skipped
    assert state._warm.is_set()


def test_the_warm_up_parses_again_when_another_thread_made_the_parser_fail(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """CPython 3.11's parser can raise SystemError when two threads compile at once; the warm-up
    thread must not die of it (it did once in CI, as an unhandled thread exception)."""
    import ast

    from dashboard import serve, state

    real_parse, failures = ast.parse, iter([True])

    def parse(*args: object, **kwargs: object) -> ast.AST:
        if next(failures, False):
            raise SystemError("AST constructor recursion depth mismatch (before=18, after=22)")
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(state.ast, "parse", parse)
    imported: list[list[str]] = []
    monkeypatch.setattr(state, "import_all", imported.append)
    state.warm_up_now(serve.APP.parent)
    assert len(imported) == 1 and "dashboard.widgets" in imported[0]
