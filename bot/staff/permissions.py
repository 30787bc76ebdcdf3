"""Who may do what: the one table of staff roles -> allowed actions.

The REST API's guards (`api.guards.requires`) and the dashboard's navigation and page locks
(`dashboard.state`) both ask `allowed(role, action)`, so an agent can do exactly the same things
through either door. Adding an action means adding it here, then naming it where it is enforced.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """Everything staff can be allowed to do, grouped by what it touches."""

    WORK_INBOX = "inbox.work"  # read conversations and contacts, reply, assign, close, tag, pause the bot
    VIEW_CHANNELS = "channels.view"  # list channels, their handover settings and health
    MANAGE_CHANNELS = "channels.manage"  # connect pages, change settings, handover, backfill
    MANAGE_CAMPAIGNS = "campaigns.manage"  # see, create, edit, run campaigns and their stats
    MANAGE_FLOWS = "flows.manage"  # see, create, edit, import, delete bot flows
    MANAGE_USERS = "users.manage"  # add and deactivate staff, review sign-ins, unlock accounts
    MANAGE_WEBHOOKS = "webhooks.manage"  # outgoing webhook endpoints and their logs
    MANAGE_DELIVERIES = "deliveries.manage"  # quarantined Meta webhook deliveries: see the reason, retry
    OWN_TOKENS = "tokens.own"  # list, create and revoke one's own API tokens
    MANAGE_TOKENS = "tokens.manage"  # everyone's API tokens
    USE_SANDBOX = "sandbox.use"  # the sandbox's control panel (demo/test installs)
    MANAGE_ATTRIBUTES = "attributes.manage"  # define and delete custom contact attributes (staff set values)
    VIEW_REPORTS = "reports.view"  # response/resolution times, volumes, per-agent figures, CSV exports


AGENT_ACTIONS: frozenset[Action] = frozenset({Action.WORK_INBOX, Action.VIEW_CHANNELS, Action.OWN_TOKENS})

TABLE: dict[str, frozenset[Action]] = {
    "admin": frozenset(Action),
    "agent": AGENT_ACTIONS,
}


def allowed(role: str, action: Action) -> bool:
    """Whether a staff member with `role` may do `action` (an unknown role may do nothing)."""
    return action in TABLE.get(role, frozenset())

