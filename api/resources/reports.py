"""`/api/v1/reports`: first-response and resolution times, volumes per channel per day and
per-agent figures over a date range, and CSV exports of contacts and conversations. Admins
(`reports.view`). Computed from stored facts by `bot.reports`."""

from __future__ import annotations

from collections.abc import Iterator

from litestar import Controller
from litestar.response import Stream

from api.guards import requires
from api.resources import get
from api.schemas_reports import SinceParam, UntilParam
from bot import reports
from bot.platform.db import connection, now_ms
from bot.reports import Report
from bot.staff.permissions import Action

WEEK_MS = 7 * reports.DAY_MS


class ReportController(Controller):
    path = "/reports"
    tags = ["reports"]
    guards = [requires(Action.VIEW_REPORTS)]

    @get(summary="Response and resolution times, messages and conversations per channel per day, per agent "
                 "(range [since, until), at most 366 days)")
    def overview(self, since: SinceParam = None, until: UntilParam = None) -> Report:
        end = until if until is not None else now_ms()
        with connection():
            return reports.report(since if since is not None else end - WEEK_MS, end)

    @get("/contacts.csv", summary="Every contact as CSV (identities, tags, custom attributes)",
         media_type="text/csv")
    def contacts_csv(self) -> Stream:
        return _csv("contacts.csv", reports.contacts_csv())

    @get("/conversations.csv", summary="Every conversation as CSV (channel, person, status, assignee, counts)",
         media_type="text/csv")
    def conversations_csv(self) -> Stream:
        return _csv("conversations.csv", reports.conversations_csv())


def _csv(name: str, lines: Iterator[str]) -> Stream:
    """Streamed (chunked), one batch of rows at a time: `reports.chunks` opens a database
    connection per chunk, since the body is read after this handler returned, on other threads."""
    return Stream(reports.chunks(lines), media_type="text/csv; charset=utf-8",
                  headers={"Content-Disposition": f'attachment; filename="{name}"'})
