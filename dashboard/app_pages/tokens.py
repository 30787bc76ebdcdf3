"""API tokens for the REST API: one's own (everyone), or everyone's (roles allowed
`tokens.manage`): status, expiry, last use, revoke one, create one (shown once)."""

from __future__ import annotations

import streamlit as st

from bot.staff.permissions import Action
from dashboard import access, state

user = state.require(state.user_or_stop(), Action.OWN_TOKENS)
st.title("API tokens")
state.show_notice()
access.tokens(user)
