"""Helpdesk tools staff use on conversations: private notes with @mentions, snoozing, and canned
responses. Each module owns its table; the staff commands and queries are the doors."""
