"""A channel's Messenger profile in our own words: the Get Started button, the greeting, the
persistent menu and the ice breakers, each localized, and Meta's limits checked before anything
is sent (meta-platform.md §12), with errors that name the field and say what to change.

Limits: greeting text at most 160 characters; a `default` locale required in every localized
list; persistent menu 1-20 items per locale, flat (Meta removed nested menus in Graph v8.0),
each a postback (title + payload) or a link (title + URL), and on Messenger it needs a Get
Started button; ice breakers at most 4 per locale; payloads at most 1000 characters.
Unconfirmed (Meta's pages are silent; we assume): menu titles at most 30 characters, ice
breaker questions at most 80, and on Instagram only the persistent menu and ice breakers exist
(§12 names only those two for `platform=instagram`), without `composer_input_disabled`.
"""

from __future__ import annotations

import re

import msgspec

from bot.core.errors import Invalid

GREETING_MAX = 160
PAYLOAD_MAX = 1000
MENU_MAX = 20
TITLE_MAX = 30  # unconfirmed
ICE_BREAKERS_MAX = 4
QUESTION_MAX = 80  # unconfirmed
URL_MAX = 2000
LOCALE = re.compile(r"^(default|[a-z]{2}_[A-Z]{2})$")
MAX_LOCALES = 50


class Greeting(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    locale: str = "default"
    text: str


class MenuItem(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A postback (`payload`, or `flow`: the name of a bot flow, turned into that flow's entry
    payload when saved) or a link (`url`)."""

    title: str
    payload: str | None = None
    flow: str | None = None
    url: str | None = None


class Menu(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    locale: str = "default"
    composer_input_disabled: bool = False
    items: list[MenuItem]


class IceBreaker(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    question: str
    payload: str | None = None
    flow: str | None = None


class IceBreakers(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    locale: str = "default"
    questions: list[IceBreaker]


class ProfileSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Empty lists / None mean "not set" (and removed from Meta when they were set)."""

    get_started_payload: str | None = None
    get_started_flow: str | None = None
    greeting: list[Greeting] = []
    persistent_menu: list[Menu] = []
    ice_breakers: list[IceBreakers] = []


def validate(spec: ProfileSpec, platform: str) -> None:
    """Every limit Meta applies, checked here so a push never fails on our own mistake."""
    instagram = platform == "instagram"
    if instagram and (spec.get_started_payload or spec.get_started_flow or spec.greeting):
        field = "greeting" if spec.greeting else "get_started_payload"
        raise Invalid(field, "Instagram has no Get Started button or greeting; use ice breakers instead")
    _check_payload(spec.get_started_payload, "get_started_payload", required=False)
    _locales([g.locale for g in spec.greeting], "greeting")
    for i, greeting in enumerate(spec.greeting):
        if not 0 < len(greeting.text.strip()) <= GREETING_MAX:
            raise Invalid(f"greeting[{i}].text", f"must be 1 to {GREETING_MAX} characters "
                          f"(this one has {len(greeting.text)})")
    _check_menu(spec, instagram)
    _locales([b.locale for b in spec.ice_breakers], "ice_breakers")
    for i, breakers in enumerate(spec.ice_breakers):
        _check_ice_breakers(breakers, f"ice_breakers[{i}]")


def _locales(locales: list[str], field: str) -> None:
    if not locales:
        return
    if len(locales) > MAX_LOCALES:
        raise Invalid(field, f"at most {MAX_LOCALES} languages")
    for i, locale in enumerate(locales):
        if not LOCALE.match(locale):
            raise Invalid(f"{field}[{i}].locale", "must be default or a locale such as en_US or fr_FR")
    if "default" not in locales:
        raise Invalid(field, "needs a version for the default locale (shown to everyone else)")
    if len(set(locales)) != len(locales):
        raise Invalid(field, "has the same locale twice")


def _check_menu(spec: ProfileSpec, instagram: bool) -> None:
    _locales([m.locale for m in spec.persistent_menu], "persistent_menu")
    if spec.persistent_menu and not instagram and not (spec.get_started_payload or spec.get_started_flow):
        raise Invalid("persistent_menu", "Messenger shows a menu only with a Get Started button: set one first")
    for i, menu in enumerate(spec.persistent_menu):
        field = f"persistent_menu[{i}]"
        if instagram and menu.composer_input_disabled:
            raise Invalid(f"{field}.composer_input_disabled", "is not available on Instagram")
        if not 0 < len(menu.items) <= MENU_MAX:
            raise Invalid(f"{field}.items", f"must have 1 to {MENU_MAX} items (Meta no longer allows submenus)")
        for j, item in enumerate(menu.items):
            _check_menu_item(item, f"{field}.items[{j}]")


def _check_menu_item(item: MenuItem, field: str) -> None:
    if not 0 < len(item.title.strip()) <= TITLE_MAX:
        raise Invalid(f"{field}.title", f"must be 1 to {TITLE_MAX} characters")
    if sum(x is not None for x in (item.payload, item.flow, item.url)) != 1:
        raise Invalid(field, "give exactly one of payload, flow or url")
    if item.url is not None and not (item.url.startswith(("https://", "http://")) and len(item.url) <= URL_MAX):
        raise Invalid(f"{field}.url", "must be an http(s) link")
    _check_payload(item.payload, f"{field}.payload", required=False)


def _check_ice_breakers(breakers: IceBreakers, field: str) -> None:
    if not 0 < len(breakers.questions) <= ICE_BREAKERS_MAX:
        raise Invalid(f"{field}.questions", f"must have 1 to {ICE_BREAKERS_MAX} questions")
    for j, breaker in enumerate(breakers.questions):
        name = f"{field}.questions[{j}]"
        if not 0 < len(breaker.question.strip()) <= QUESTION_MAX:
            raise Invalid(f"{name}.question", f"must be 1 to {QUESTION_MAX} characters")
        if (breaker.payload is None) == (breaker.flow is None):
            raise Invalid(name, "give exactly one of payload or flow")
        _check_payload(breaker.payload, f"{name}.payload", required=False)


def _check_payload(payload: str | None, field: str, *, required: bool) -> None:
    if payload is None:
        if required:
            raise Invalid(field, "is required")
        return
    if not 0 < len(payload.strip()) <= PAYLOAD_MAX:
        raise Invalid(field, f"must be 1 to {PAYLOAD_MAX} characters")


def flows_named(spec: ProfileSpec) -> list[tuple[str, str]]:
    """(field, flow name) of every item that names a flow instead of a payload."""
    found = [("get_started_flow", spec.get_started_flow)] if spec.get_started_flow else []
    for i, menu in enumerate(spec.persistent_menu):
        found += [(f"persistent_menu[{i}].items[{j}].flow", m.flow) for j, m in enumerate(menu.items) if m.flow]
    for i, breakers in enumerate(spec.ice_breakers):
        found += [(f"ice_breakers[{i}].questions[{j}].flow", q.flow) for j, q in enumerate(breakers.questions)
                  if q.flow]
    return found


def with_flow_payloads(spec: ProfileSpec, payloads: dict[str, str]) -> ProfileSpec:
    """The spec with each `flow` replaced by the payload that starts it (`payloads`: flow name
    -> entry payload), so what is stored and pushed are plain payloads."""
    def item(m: MenuItem) -> MenuItem:
        return msgspec.structs.replace(m, payload=payloads[m.flow], flow=None) if m.flow else m

    def breaker(q: IceBreaker) -> IceBreaker:
        return msgspec.structs.replace(q, payload=payloads[q.flow], flow=None) if q.flow else q

    return msgspec.structs.replace(
        spec,
        get_started_payload=payloads[spec.get_started_flow] if spec.get_started_flow else spec.get_started_payload,
        get_started_flow=None,
        persistent_menu=[msgspec.structs.replace(m, items=[item(i) for i in m.items]) for m in spec.persistent_menu],
        ice_breakers=[msgspec.structs.replace(b, questions=[breaker(q) for q in b.questions])
                      for b in spec.ice_breakers],
    )


def payloads_of(spec: ProfileSpec) -> list[str]:
    """Every postback payload the profile can send us (for "which flow does it start")."""
    found = [spec.get_started_payload] if spec.get_started_payload else []
    found += [i.payload for m in spec.persistent_menu for i in m.items if i.payload]
    found += [q.payload for b in spec.ice_breakers for q in b.questions if q.payload]
    return list(dict.fromkeys(found))
