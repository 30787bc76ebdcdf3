"""The one object every sandbox route works with: its memory and its webhook sender."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.store import Store
from sandbox.webhooks import Webhooks


@dataclass
class Sandbox:
    store: Store
    webhooks: Webhooks


class ControlError(Exception):
    """A control call that cannot be played (unknown id, contradictory request): answered with
    `status` and {"error": message}. Graph API refusals use `graph_rules.GraphFault` instead."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def not_found(what: str, ident: object) -> ControlError:
    return ControlError(404, f"no {what} {ident!r}")


def bad_request(message: str) -> ControlError:
    return ControlError(400, message)
