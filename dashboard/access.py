"""The dashboard's access-control sections: the sign-in log with locked accounts and addresses
(with unlock buttons, for roles allowed `users.manage`), and API tokens (own, or everyone's for
`tokens.manage`). Reads and writes go through `bot.staff.signin` and `bot.staff.auth`, as the REST API's do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from bot.core.errors import Invalid, NotFound
from bot.staff import auth, signin
from bot.staff.permissions import Action
from dashboard import state

if TYPE_CHECKING:
    from bot.platform.models import User

NEW_TOKEN = "sd_new_token"  # a token just created, shown once on the next run


def sign_ins() -> None:
    """Who is locked out now (unlockable), then the latest sign-ins and refused API tokens."""
    st.markdown("#### Locked out now")
    locks = signin.locks()
    if not locks:
        st.caption("Nobody: no account or address has failed to sign in repeatedly lately.")
    for index, lock in enumerate(locks):
        _lock_row(index, lock)
    st.markdown("#### Recent sign-ins")
    rows = signin.recent(200)
    if not rows:
        st.caption("No sign-ins yet.")
        return
    st.dataframe(pd.DataFrame([{"When": state.when(r.at), "How": r.method, "E-mail": r.email,
                                "Address": r.address, "Outcome": r.outcome} for r in rows]),
                 hide_index=True, width="stretch")


def _lock_row(index: int, lock: signin.LockView) -> None:
    what = {"account": "Account", "address": "Sign-ins from", "token": "API tokens from"}.get(lock.kind, lock.kind)
    until = "locked until " + state.when(lock.locked_until) if lock.locked_until else "waiting"
    text, button = st.columns([4, 1])
    text.text(f"{what} {lock.subject}: {lock.failures} failures, {until}")
    if button.button("Unlock", key=f"unlock_{index}"):
        if lock.kind == "account":
            signin.unlock(lock.subject)
        else:
            signin.unlock_address(lock.kind, lock.subject)
        state.notice(f"Unlocked {lock.subject}.")
        st.rerun()


def tokens(user: User) -> None:
    """API tokens (never the tokens themselves): status, expiry, last use; revoke one; create one."""
    everyone = state.may(user, Action.MANAGE_TOKENS)
    created = st.session_state.pop(NEW_TOKEN, None)
    if created:
        st.success("Copy this token now: it is not shown again.")
        st.code(created, language=None)
    rows = auth.tokens(None if everyone else user.id)
    if not rows:
        st.caption("No API tokens yet.")
    for row in rows:
        _token_row(row, user, everyone)
    _create_form(user, everyone)


def _token_row(row: auth.TokenView, user: User, everyone: bool) -> None:
    text, button = st.columns([4, 1])
    owner = f"{row.email} · " if everyone else ""
    expires = f"expires {state.when(row.expires_at)}" if row.expires_at else "no expiry"
    used = f"last used {state.when(row.last_used_at)}" if row.last_used_at else "never used"
    text.text(f"#{row.id} {row.name or 'unnamed'} ({owner}{row.status}) · created {state.when(row.created_at)}"
              f" · {expires} · {used}")
    if row.status != "revoked" and button.button("Revoke", key=f"revoke_token_{row.id}"):
        try:
            auth.revoke_token(row.id, None if everyone else user.id)
        except NotFound:
            st.error("This token no longer exists.")
            return
        state.notice(f"Revoked token #{row.id}.")
        st.rerun()


def _create_form(user: User, everyone: bool) -> None:
    with st.form("new_token", clear_on_submit=True):
        st.markdown("#### Create an API token")
        name = st.text_input("Name (what uses it)", key="new_token_name", max_chars=200)
        owner = st.text_input("For user (e-mail)", value=user.email, key="new_token_user") if everyone else user.email
        days = st.number_input("Expires after (days, 0 = never)", min_value=0, max_value=auth.MAX_TOKEN_DAYS,
                               value=90, key="new_token_days")
        submitted = st.form_submit_button("Create", type="primary", key="new_token_create")
    if submitted:
        try:
            st.session_state[NEW_TOKEN] = auth.create_api_token(owner, name, int(days) or None)
        except (Invalid, NotFound) as exc:
            st.error(f"Not created: {exc}")
            return
        st.rerun()
