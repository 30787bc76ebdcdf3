"""The Messenger Profile API: `GET|POST|DELETE /{page-id}/messenger_profile` (or `/me/...`),
with `platform=instagram` for the Instagram account linked to the Page (meta-platform.md §12).

Kept per (account, platform). Meta's documented limits are enforced with its error code 100:
- `get_started.payload` 1-1000 characters;
- `greeting`: `{locale, text}` items, `text` at most 160 characters, a `default` locale required;
- `persistent_menu`: a `default` locale required; `call_to_actions` 1-20 buttons, each
  `postback` (title, payload) or `web_url` (title, url); nested menus were removed in Graph v8.0;
  on Messenger the menu needs Get Started set first ("You must set a Get Started button if you
  also wish to use persistent menu."); on Instagram `composer_input_disabled` is not available;
- `ice_breakers`: per locale (a `default` one required) at most 4 `{question, payload}`.
Unconfirmed (Meta's pages are silent; the sandbox assumes): menu titles at most 30 characters,
ice breaker questions at most 80, greeting and Get Started are Messenger only (the Instagram
pages document ice breakers and the persistent menu only), and the exact error messages.
"""

from __future__ import annotations

from typing import Any

from sandbox import graph_rules
from sandbox.graph_call import GraphCall

FIELDS = ("get_started", "greeting", "persistent_menu", "ice_breakers")
INSTAGRAM_FIELDS = ("persistent_menu", "ice_breakers")
GREETING_MAX = 160
PAYLOAD_MAX = 1000
MENU_MAX = 20
TITLE_MAX = 30  # unconfirmed
ICE_BREAKERS_MAX = 4
QUESTION_MAX = 80  # unconfirmed


def _key(call: GraphCall) -> tuple[str, str]:
    """Whose profile: the Instagram account's when called on its node or on its Page with
    `platform=instagram` (one profile either way), else the Page's Messenger profile."""
    account = call.account
    assert account is not None
    if call.instagram:
        return account.id, "instagram"
    if call.param("platform") == "instagram":
        if not account.linked_id:
            raise graph_rules.invalid_param("This Page has no linked Instagram account")
        return account.linked_id, "instagram"
    return account.id, "messenger"


def _profile(call: GraphCall) -> dict[str, Any]:
    call.require_scope("pages_messaging", "instagram_manage_messages", "instagram_business_manage_messages")
    return call.store.profiles.setdefault(_key(call), {})


def read_profile(call: GraphCall) -> dict[str, Any]:
    """`GET ...?fields=a,b`: `{"data": [{...the set fields...}]}` (empty when none is set)."""
    profile = _profile(call)
    wanted = [f.strip() for f in str(call.param("fields") or "").split(",") if f.strip()]
    if not wanted:
        raise graph_rules.invalid_param("The parameter fields is required")
    unknown = [f for f in wanted if f not in FIELDS]
    if unknown:
        raise graph_rules.invalid_param(f"Requested field {unknown[0]} is not valid")
    found = {f: profile[f] for f in wanted if f in profile}
    return {"data": [found] if found else []}


def set_profile(call: GraphCall) -> dict[str, Any]:
    profile = _profile(call)
    instagram = _key(call)[1] == "instagram"
    given = {f: call.param(f) for f in FIELDS if call.param(f) is not None}
    extra = [k for k in call.params if k not in (*FIELDS, "platform")]
    if extra:
        raise graph_rules.invalid_param(f"param {extra[0]} is not a valid Messenger profile property")
    if not given:
        raise graph_rules.invalid_param("No valid Messenger profile properties were provided")
    for name, value in given.items():
        if instagram and name not in INSTAGRAM_FIELDS:
            raise graph_rules.invalid_param(f"{name} is not supported for platform instagram")
        _CHECKS[name](value, instagram)
    if "persistent_menu" in given and not instagram and "get_started" not in {**profile, **given}:
        raise graph_rules.invalid_param("You must set a Get Started button if you also wish to use persistent menu.")
    profile.update(given)
    return {"result": "success"}


def delete_profile(call: GraphCall) -> dict[str, Any]:
    """`DELETE` with `{"fields": [...]}` removes those properties."""
    profile = _profile(call)
    fields = call.param("fields")
    if not isinstance(fields, list) or not fields:
        raise graph_rules.invalid_param("param fields must be a non-empty array")
    for name in fields:
        if name not in FIELDS:
            raise graph_rules.invalid_param(f"param fields: {name} is not a Messenger profile property")
    remaining = [f for f in profile if f not in fields]
    if "get_started" in fields and "persistent_menu" in remaining and _key(call)[1] == "messenger":
        # Unconfirmed wording; the rule follows from "the menu needs Get Started".
        raise graph_rules.invalid_param("Delete the persistent menu before the Get Started button.")
    for name in fields:
        profile.pop(name, None)
    return {"result": "success"}


def _check_get_started(value: Any, instagram: bool) -> None:
    payload = value.get("payload") if isinstance(value, dict) else None
    if not isinstance(payload, str) or not 0 < len(payload) <= PAYLOAD_MAX:
        raise graph_rules.invalid_param(f"param get_started[payload] must be 1-{PAYLOAD_MAX} characters")


def _locales(value: Any, name: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(i, dict) for i in value) or not value:
        raise graph_rules.invalid_param(f"param {name} must be a non-empty array of objects")
    locales = [item.get("locale") for item in value]
    if "default" not in locales:
        raise graph_rules.invalid_param(f"param {name} must have a default locale")
    if len(set(locales)) != len(locales):
        raise graph_rules.invalid_param(f"param {name} has the same locale twice")
    return value


def _check_greeting(value: Any, instagram: bool) -> None:
    for item in _locales(value, "greeting"):
        text = item.get("text")
        if not isinstance(text, str) or not 0 < len(text) <= GREETING_MAX:
            raise graph_rules.invalid_param(f"param greeting[text] must be 1-{GREETING_MAX} characters")


def _check_menu(value: Any, instagram: bool) -> None:
    for item in _locales(value, "persistent_menu"):
        if instagram and "composer_input_disabled" in item:
            raise graph_rules.invalid_param("composer_input_disabled is not available on Instagram")
        actions = item.get("call_to_actions")
        if not isinstance(actions, list) or not 0 < len(actions) <= MENU_MAX:
            raise graph_rules.invalid_param(f"param call_to_actions must have 1-{MENU_MAX} items")
        for action in actions:
            _check_menu_item(action)


def _check_menu_item(action: Any) -> None:
    if not isinstance(action, dict):
        raise graph_rules.invalid_param("param call_to_actions items must be objects")
    kind, title = action.get("type"), action.get("title")
    if kind == "nested" or "call_to_actions" in action:
        raise graph_rules.invalid_param("Nested persistent menus are no longer supported")
    if not isinstance(title, str) or not 0 < len(title) <= TITLE_MAX:
        raise graph_rules.invalid_param(f"param call_to_actions[title] must be 1-{TITLE_MAX} characters")
    if kind == "postback":
        payload = action.get("payload")
        if not isinstance(payload, str) or not 0 < len(payload) <= PAYLOAD_MAX:
            raise graph_rules.invalid_param(f"param call_to_actions[payload] must be 1-{PAYLOAD_MAX} characters")
    elif kind == "web_url":
        if not graph_rules.is_http_url(action.get("url")):
            raise graph_rules.invalid_param("param call_to_actions[url] must be an http(s) URL")
    else:
        raise graph_rules.invalid_param("param call_to_actions[type] must be postback or web_url")


def _check_ice_breakers(value: Any, instagram: bool) -> None:
    for item in _locales(value, "ice_breakers"):
        questions = item.get("call_to_actions")
        if not isinstance(questions, list) or not 0 < len(questions) <= ICE_BREAKERS_MAX:
            raise graph_rules.invalid_param(f"A maximum of {ICE_BREAKERS_MAX} ice breakers can be set per locale")
        for question in questions:
            text = question.get("question") if isinstance(question, dict) else None
            payload = question.get("payload") if isinstance(question, dict) else None
            if not isinstance(text, str) or not 0 < len(text) <= QUESTION_MAX:
                raise graph_rules.invalid_param(f"param ice_breakers[question] must be 1-{QUESTION_MAX} characters")
            if not isinstance(payload, str) or not 0 < len(payload) <= PAYLOAD_MAX:
                raise graph_rules.invalid_param(f"param ice_breakers[payload] must be 1-{PAYLOAD_MAX} characters")


_CHECKS = {"get_started": _check_get_started, "greeting": _check_greeting, "persistent_menu": _check_menu,
           "ice_breakers": _check_ice_breakers}
