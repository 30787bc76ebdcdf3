"""Staff templates render under limits: a template that would loop, grow or run for long is
refused when saved, with the reason, and a send of one that slipped through fails fast."""

from __future__ import annotations

import time

import pytest

from bot.core import compose, templates
from bot.core.errors import Invalid

# Each costs seconds to minutes of CPU, or gigabytes, in a plain jinja2 sandbox.
ATTACKS = {
    "nested range": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "nested bounded ranges": "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
                             "{% endfor %}{% endfor %}{% endfor %}",
    "loops over a long comment": "{% for a in comment_text %}{% for b in comment_text %}{% for c in comment_text %}"
                                 "{% endfor %}{% endfor %}{% endfor %}",
    "string times a big number": '{{ "x" * 1000000000 }}',
    "list times a big number": "{{ [1] * 1000000000 }}",
    "power": "{{ 10 ** 100000000 }}",
    "doubling with ~": "{% set a = 'xxxxxxxxxxxxxxxxxxxx' %}" + "".join(
        "{% set a = a ~ a %}" for _ in range(30)) + "{{ a|length }}",
    "doubling with +": "{% set a = 'xxxxxxxxxxxxxxxxxxxx' %}" + "".join(
        "{% set a = a + a %}" for _ in range(30)) + "{{ a|length }}",
    "namespace doubling": "{% set ns = namespace(s='xy') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
                          "{% endfor %}{{ ns.s|length }}",
    "big width method": '{{ first_name.center(1000000000) }}',
    "big width filter": "{{ first_name|center(1000000000) }}",
    "format width": '{{ "{:>1000000000}".format(first_name) }}',
    "format filter": '{{ "%1000000000s"|format(first_name) }}',
    "percent formatting": '{{ "%1000000000s" % first_name }}',
    "recursive macro": "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "huge output": "{% for i in range(1000) %}{{ comment_text }}{% endfor %}",
    "replace growth": '{{ (comment_text ~ comment_text)|replace("", comment_text) }}',
}


@pytest.mark.parametrize("name", ATTACKS)
def test_an_expensive_template_is_refused_at_save_with_the_reason(name: str) -> None:
    started = time.monotonic()
    with pytest.raises(Invalid) as refused:
        compose.check_template(ATTACKS[name], "actions[0].message.text")
    assert time.monotonic() - started < 2, "refusing must itself be cheap"
    assert refused.value.field == "actions[0].message.text"
    problem = refused.value.problem
    assert problem.startswith("template refused: ") or "is unsafe" in problem, problem


@pytest.mark.parametrize("name", ATTACKS)
def test_a_send_never_hangs_on_a_template_that_was_never_checked(name: str) -> None:
    """Stored before these limits existed, or written to the database by hand: the send fails
    fast as one permanent failure of that message."""
    started = time.monotonic()
    with pytest.raises(Invalid) as failed:
        compose.render(ATTACKS[name], {"first_name": "Ann", "comment_text": "y" * 2000})
    assert time.monotonic() - started < 2
    assert failed.value.field == "template"


def test_the_time_limit_stops_a_loop_without_output() -> None:
    started = time.monotonic()
    with pytest.raises(Invalid, match="rendering took longer than"):
        compose.render("{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
                       "{% endfor %}{% endfor %}{% endfor %}", {})
    assert time.monotonic() - started < templates.TIME_LIMIT_S + 1


def test_ordinary_templates_still_render() -> None:
    text = ("Hi {{ first_name or 'there' }}! {% for word in ['a', 'b'] %}{{ word|upper }}{% endfor %} "
            "{{ '%s-%s'|replace('%', '') }} {{ range(3)|join(',') }} {{ 'ab' * 3 }} {{ 2 ** 10 }} "
            "{{ (full_name ~ '!')|truncate(50) }}")
    compose.check_template(text, "text")
    assert compose.render(text, {"first_name": "Ann", "full_name": "Ann Lee"}) == (
        "Hi Ann! AB s-s 0,1,2 ababab 1024 Ann Lee!")


def test_a_previous_tracer_comes_back_after_rendering() -> None:
    import sys

    def tracer(*_: object) -> None:
        return None

    sys.settrace(tracer)
    try:
        compose.render("{{ first_name }}", {"first_name": "Ann"})
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(None)


@pytest.mark.parametrize("name", ["doubling with ~", "doubling with +", "namespace doubling", "replace growth",
                                  "string times a big number"])
def test_growth_is_stopped_by_the_size_bound_before_it_costs_memory(name: str) -> None:
    """Not by the clock: by then a doubling string would already hold hundreds of megabytes."""
    with pytest.raises(Invalid, match=f"longer than {templates.MAX_VALUE} characters"):
        compose.render(ATTACKS[name], {"first_name": "Ann", "comment_text": "y" * 2000})
