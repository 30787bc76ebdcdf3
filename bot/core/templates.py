"""Staff templates (shortcodes) rendered under limits: no template can take the worker's CPU or
memory, however it is written.

Jinja2's sandbox stops templates from reaching Python internals, but not from working hard:
`range` allows 100,000 items and loops nest, `"x" * 10**9` allocates a gigabyte, and
`{% set s = s ~ s %}` doubles a string each time. Here each cost has its own bound:

- syntax: macros, call blocks, imports and includes are refused (shortcodes need none, and
  a macro calling itself doubles its output without any operator to intercept);
- `range` gives at most `MAX_RANGE` items;
- every string or list an operator (`*`, `+`, `~`, `%`, `**`), a filter or a method call
  produces is at most `MAX_VALUE` long, and integer arguments of calls are at most `MAX_INT`
  (`"x".center(10**9)`), `str.format` and the `format` filter are refused (a width inside the
  format string would escape that check);
- the output is at most `MAX_OUTPUT` characters;
- a render stops after `TIME_LIMIT_S` of work: a line tracer on the template's own frames
  looks at the clock at every line (loops included).

A template breaking a limit raises `TemplateLimit` (a `jinja2.TemplateError`, with the reason),
so `bot.core.compose` refuses it at save and fails that one message at send, never hanging.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from functools import wraps
from types import FrameType
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_SOURCE = 10_000  # characters of template text
MAX_RANGE = 1_000  # items `range` may give
MAX_VALUE = 10_000  # length of any string or list computed while rendering
MAX_INT = 10_000  # integer arguments of calls and filters (widths, counts)
MAX_OUTPUT = 10_000  # characters of output (Meta's limits are far lower; compose checks those)
TIME_LIMIT_S = 0.25  # of rendering work
TEMPLATE_FILE = "<template>"  # the file name of code compiled from_string
REFUSED_NODES: tuple[type[nodes.Node], ...] = (nodes.Macro, nodes.CallBlock, nodes.Import, nodes.FromImport,
                                               nodes.Include, nodes.Extends)
REFUSED_ATTRIBUTES = frozenset({"format", "format_map"})


class TemplateLimit(jinja2.TemplateError):
    """The template broke one of the limits above; the message says which."""


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles `a ~ b` to a join that checks the result's length."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with the bounds above."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = bounded_range
        self.filters = {name: _bounded_filter(f) for name, f in self.filters.items()}
        self.filters["format"] = _refused_format

    def bounded_join(self, parts: tuple[Any, ...]) -> str:
        return _checked("".join(map(str, parts)))

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and not (_small_number(left) and _small_number(right, 64)):
            raise TemplateLimit(f"`**` is limited to numbers up to {MAX_INT} and powers up to 64")
        if operator == "*" and ((_sized(left) and isinstance(right, int)) or (_sized(right) and isinstance(left, int))):
            size, count = (len(left), right) if _sized(left) else (len(right), left)
            if size * count > MAX_VALUE:
                raise TemplateLimit(f"a value would be longer than {MAX_VALUE} characters or items")
        if operator == "%" and isinstance(left, str):
            raise TemplateLimit("`%` string formatting is not available in templates")
        return _checked(super().call_binop(context, operator, left, right))

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _check_arguments(args, kwargs)
        return _checked(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> None:
        """No sandboxed `str.format`: it is refused outright (`is_safe_attribute`)."""
        return None

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in REFUSED_ATTRIBUTES:
            return False
        return super().is_safe_attribute(obj, attr, value)


def bounded_range(*args: int) -> range:
    """`range`, refused beyond MAX_RANGE items."""
    items = range(*args)
    if len(items) > MAX_RANGE:
        raise TemplateLimit(f"range() is limited to {MAX_RANGE} items")
    return items


def check_syntax(tree: nodes.Template) -> None:
    """Refuse the constructs shortcodes never need and limits cannot bound."""
    for kind in REFUSED_NODES:
        found = tree.find(kind)
        if found is not None:
            raise TemplateLimit(f"line {found.lineno}: {kind.__name__.lower()} is not available in templates")


def check_source(text: str) -> None:
    if len(text) > MAX_SOURCE:
        raise TemplateLimit(f"a template is limited to {MAX_SOURCE} characters")


def render_bounded(template: jinja2.Template, values: Mapping[str, Any]) -> str:
    """Render within the output and time limits (the other limits act as it runs)."""
    deadline = time.monotonic() + TIME_LIMIT_S
    pieces: list[str] = []
    size = 0
    with _time_limit(deadline):
        for piece in template.generate(values):
            size += len(piece)
            if size > MAX_OUTPUT:
                raise TemplateLimit(f"the output is limited to {MAX_OUTPUT} characters")
            pieces.append(piece)
    return "".join(pieces)


class _time_limit:  # noqa: N801 - used as a context manager
    """A line tracer on template frames that raises TemplateLimit once the deadline passes; the
    tracer in place before (a debugger, coverage) comes back afterwards."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.previous: Callable | None = None

    def __enter__(self) -> None:
        self.previous = sys.gettrace()
        sys.settrace(self._on_call)

    def __exit__(self, *_: object) -> None:
        sys.settrace(self.previous)

    def _on_call(self, frame: FrameType, event: str, _arg: object) -> Callable | None:
        if frame.f_code.co_filename != TEMPLATE_FILE:
            return None
        self._check()
        return self._on_line

    def _on_line(self, frame: FrameType, event: str, _arg: object) -> Callable | None:
        self._check()
        return self._on_line

    def _check(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimit(f"rendering took longer than {TIME_LIMIT_S} s")


def _bounded_filter(fn: Callable) -> Callable:
    """A filter with its integer arguments and its result bounded (jinja's pass_* marks kept)."""

    @wraps(fn)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_arguments(args, kwargs)
        return _checked(fn(*args, **kwargs))

    return bounded


def _refused_format(*_: Any, **__: Any) -> str:
    raise TemplateLimit("the format filter is not available in templates")


def _check_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise TemplateLimit(f"numbers passed to filters and methods are limited to {MAX_INT}")


def _checked(value: Any) -> Any:
    if _sized(value) and len(value) > MAX_VALUE:
        raise TemplateLimit(f"a value would be longer than {MAX_VALUE} characters or items")
    return value


def _sized(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


def _small_number(value: Any, bound: int = MAX_INT) -> bool:
    return isinstance(value, int | float) and abs(value) <= bound
