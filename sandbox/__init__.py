"""A local emulator of the Meta Graph API endpoints socialdesk uses, plus a control API to play
Meta's side (customers, comments, webhook delivery, faults).

Independent of socialdesk's own code on purpose: it imports nothing else from `bot/`, so it is a
second reading of shared/meta-platform.md that can catch socialdesk's mistakes.
"""

from sandbox.app import create_sandbox_app

__all__ = ["create_sandbox_app"]
