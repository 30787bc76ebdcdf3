"""The Messenger Profile API's JSON (meta-platform.md §12): our ProfileSpec to Meta's
properties, and Meta's `GET` answer back to a ProfileSpec.

`POST /{page-id}/messenger_profile` sets the properties given (Instagram: `platform=instagram`
on the same edge), `DELETE` with `{"fields": [...]}` removes them. Ice breakers use Meta's
localized format (`[{"locale", "call_to_actions": [{"question", "payload"}]}]`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from bot.core.profile import Greeting, IceBreaker, IceBreakers, Menu, MenuItem, ProfileSpec
from bot.meta.graph_shapes import _decode, malformed_answer

PROPERTIES = ("get_started", "greeting", "persistent_menu", "ice_breakers")


def profile_params(platform: str) -> dict[str, str]:
    return {"platform": "instagram"} if platform == "instagram" else {}


def properties(spec: ProfileSpec) -> dict[str, Any]:
    """The properties the spec sets (the others are "not set": see `unset`)."""
    body: dict[str, Any] = {}
    if spec.get_started_payload:
        body["get_started"] = {"payload": spec.get_started_payload}
    if spec.greeting:
        body["greeting"] = [{"locale": g.locale, "text": g.text} for g in spec.greeting]
    if spec.persistent_menu:
        body["persistent_menu"] = [_menu(m) for m in spec.persistent_menu]
    if spec.ice_breakers:
        body["ice_breakers"] = [{"locale": b.locale, "call_to_actions": [
            {"question": q.question, "payload": q.payload} for q in b.questions]} for b in spec.ice_breakers]
    return body


def _menu(menu: Menu) -> dict[str, Any]:
    items = [{"type": "web_url", "title": i.title, "url": i.url} if i.url else
             {"type": "postback", "title": i.title, "payload": i.payload} for i in menu.items]
    entry: dict[str, Any] = {"locale": menu.locale, "call_to_actions": items}
    if menu.composer_input_disabled:
        entry["composer_input_disabled"] = True
    return entry


def unset(spec: ProfileSpec) -> list[str]:
    return [p for p in PROPERTIES if p not in properties(spec)]


class _Action(msgspec.Struct):
    type: str | None = None
    title: str | None = None
    payload: str | None = None
    url: str | None = None
    question: str | None = None


class _Localized(msgspec.Struct):
    locale: str = "default"
    text: str | None = None
    composer_input_disabled: bool = False
    call_to_actions: list[_Action] = []


class _GetStarted(msgspec.Struct):
    payload: str | None = None


class _ProfileData(msgspec.Struct):
    get_started: _GetStarted | None = None
    greeting: list[_Localized] = []
    persistent_menu: list[_Localized] = []
    ice_breakers: list[_Localized] = []


class _ProfileAnswer(msgspec.Struct):
    data: list[_ProfileData] = []


def read_profile(body: bytes) -> ProfileSpec:
    """`GET ...?fields=...`: `{"data": [{...}]}`, empty when nothing is set."""
    answer = _decode(body, _ProfileAnswer, "messenger profile")
    data = answer.data[0] if answer.data else _ProfileData()
    return ProfileSpec(
        get_started_payload=data.get_started.payload if data.get_started else None,
        greeting=[Greeting(locale=g.locale, text=g.text or "") for g in data.greeting],
        persistent_menu=[Menu(locale=m.locale, composer_input_disabled=m.composer_input_disabled,
                              items=[MenuItem(title=a.title or "", payload=a.payload, url=a.url)
                                     for a in m.call_to_actions]) for m in data.persistent_menu],
        ice_breakers=[IceBreakers(locale=b.locale, questions=[IceBreaker(question=a.question or "", payload=a.payload)
                                                              for a in b.call_to_actions]) for b in data.ice_breakers],
    )


def read_result(body: bytes) -> None:
    """`{"result": "success"}`; anything else did not happen."""
    answer = _decode(body, _Result, "messenger profile")
    if answer.result != "success":
        raise malformed_answer("messenger profile")


class _Result(msgspec.Struct):
    result: str | None = None
