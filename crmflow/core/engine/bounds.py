"""Bounds on evaluating guards and templates: time, steps, result size and integer size."""

from __future__ import annotations

import contextvars
import functools
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.visitor import NodeTransformer

__all__ = [
    "LOOP_FILTER",
    "MAX_INT_BITS",
    "MAX_LEN",
    "MAX_STEPS",
    "REFUSED_NODES",
    "SIZE_FILTER",
    "TIME_LIMIT",
    "Budget",
    "bound_tree",
    "bounded",
    "check_binop",
    "check_call",
    "check_format",
    "check_printf",
    "check_size",
    "guard_filters",
    "iter_sizes",
    "refused_construct",
    "step",
]

MAX_LEN = 100_000  # characters of a string, items of a list, of any value or template output
MAX_INT_BITS = 4_096  # about 1,233 decimal digits
MAX_STEPS = 200_000  # loop iterations, calls and operations of one evaluation
TIME_LIMIT = 2.0  # seconds of one evaluation
LOOP_FILTER = "crmflow_bounded_loop"
SIZE_FILTER = "crmflow_bounded_size"

#: Template constructs a workflow never needs and whose cost cannot be bounded up front
#: (recursion through macros, other files).
REFUSED_NODES: dict[type[nodes.Node], str] = {
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.Extends: "{% extends %}",
    nodes.Block: "{% block %}",
}

_WIDTH_FILTERS = frozenset({"indent", "center", "batch", "slice", "wordwrap", "truncate"})
_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})
_PRINTF_WIDTH = re.compile(r"%[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")


class Budget:
    """What one evaluation may still spend."""

    __slots__ = ("deadline", "steps")

    def __init__(self, seconds: float = TIME_LIMIT) -> None:
        self.deadline = time.monotonic() + seconds
        self.steps = 0

    def spend(self, n: int = 1) -> None:
        self.steps += n
        if self.steps > MAX_STEPS:
            raise SecurityError(f"evaluation took more than {MAX_STEPS:,} steps")
        if (self.steps & 255) == 0 or n > 255:
            if time.monotonic() > self.deadline:
                raise SecurityError(f"evaluation took longer than {TIME_LIMIT:g} s")


_CURRENT: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "crmflow_budget", default=None
)


class bounded:  # noqa: N801 - used as ``with bounded():``, as the function it replaced
    """The budget of the evaluation in progress (a fresh one when none is).

    A class, not a generator context manager: a guard enters it on every event.
    """

    __slots__ = ("budget", "token")

    def __enter__(self) -> Budget:
        budget = _CURRENT.get()
        self.token: contextvars.Token[Budget | None] | None = None
        if budget is None:
            budget = Budget()
            self.token = _CURRENT.set(budget)
        self.budget = budget
        return budget

    def __exit__(self, *exc: object) -> None:
        if self.token is not None:
            _CURRENT.reset(self.token)


def step(n: int = 1) -> None:
    budget = _CURRENT.get()
    if budget is not None:
        budget.spend(n)


def check_size(value: Any) -> Any:
    """``value`` if it is within the size bounds, else :class:`SecurityError`."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise SecurityError(f"integer larger than {MAX_INT_BITS} bits")
    elif isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        if len(value) > MAX_LEN:
            raise SecurityError(f"result longer than {MAX_LEN:,} characters or items")
    return value


def _too_big(what: str) -> SecurityError:
    return SecurityError(f"{what} too large in expression")


def _seq_len(value: Any) -> int | None:
    return len(value) if isinstance(value, str | list | tuple) else None


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse an operation whose result would exceed the bounds, before computing it."""
    step()
    ints = (
        isinstance(left, int)
        and isinstance(right, int)
        and not isinstance(left, bool)
        and not isinstance(right, bool)
    )
    if operator == "**":
        if isinstance(right, int | float) and abs(right) > 64 and not (
            isinstance(left, int | float) and abs(left) <= 1
        ):
            raise _too_big("exponent")
        if ints and right > 0 and abs(left) > 1 and left.bit_length() * right > MAX_INT_BITS:
            raise _too_big("power")
    elif operator == "*":
        for seq, count in ((left, right), (right, left)):
            n = _seq_len(seq)
            if n is not None and isinstance(count, int) and n * count > MAX_LEN:
                raise _too_big("repetition")
        if ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise _too_big("product")
    elif operator == "+":
        a, b = _seq_len(left), _seq_len(right)
        if a is not None and b is not None and a + b > MAX_LEN:
            raise _too_big("concatenation")
    elif operator == "%" and isinstance(left, str):
        check_printf(left)


def check_printf(fmt: str) -> None:
    for width, precision in _PRINTF_WIDTH.findall(fmt):
        for number in (width, precision):
            if number == "*":
                raise SecurityError("'*' widths are not allowed in format strings")
            if number and int(number) > MAX_LEN:
                raise _too_big("format width")


def check_format(fmt: Any) -> None:
    """Refuse ``str.format`` specs that build huge strings (``{:>999999999}``)."""
    if not isinstance(fmt, str):
        return
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises its own, clearer error
    for _text, _field, spec, _conversion in parsed:
        if not spec:
            continue
        if "{" in spec:
            raise SecurityError("nested format specifications are not allowed")
        for number in re.findall(r"\d+", spec):
            if int(number) > MAX_LEN:
                raise _too_big("format width")


def check_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse calls of string methods with arguments that build huge results."""
    step()
    obj = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if not isinstance(owner, str):
        return
    if name in _WIDTH_METHODS:
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, int) and arg > MAX_LEN:
                raise _too_big(f"{name} width")
    elif name == "replace" and len(args) >= 2:
        _check_replace(owner, args[0], args[1], args[2] if len(args) > 2 else -1)
    elif name in ("format", "format_map"):
        check_format(owner)


def _check_replace(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    if len(text) + hits * (len(new) - len(old)) > MAX_LEN:
        raise _too_big("replacement")


def _guard_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    passes_first = getattr(function, "jinja_pass_arg", None) is not None

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        step()
        # pass_context/pass_environment filters get the context or environment first
        values = list(args[1:] if passes_first else args)
        if name in _WIDTH_FILTERS:
            for arg in (*values[1:], *kwargs.values()):
                if isinstance(arg, int) and not isinstance(arg, bool) and arg > MAX_LEN:
                    raise _too_big(f"{name} width")
        elif name == "replace" and len(values) >= 3:
            _check_replace(str(values[0]), values[1], values[2], *values[3:4])
        elif name == "format" and values:
            check_printf(str(values[0]))
        return check_size(function(*args, **kwargs))

    return guarded


def _bounded_loop(iterable: Any) -> Iterator[Any]:
    for item in iterable:
        step()
        yield item


def guard_filters(filters: dict[str, Callable[..., Any]]) -> None:
    """Wrap every filter with the step count and size checks; add the loop and size filters."""
    for name, function in list(filters.items()):
        filters[name] = _guard_filter(name, function)
    filters[LOOP_FILTER] = _bounded_loop
    filters[SIZE_FILTER] = check_size


class _Bounder(NodeTransformer):
    """Counts every loop iteration and checks every `~` concatenation."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = cast(nodes.For, self.generic_visit(node))  # generic_visit hands back the node
        node.iter = nodes.Filter(node.iter, LOOP_FILTER, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = cast(nodes.Concat, self.generic_visit(node))
        return nodes.Filter(node, SIZE_FILTER, [], [], None, None, lineno=node.lineno)


def bound_tree(tree: nodes.Node) -> nodes.Node:
    """``tree`` with the bounds woven in (after :data:`REFUSED_NODES` were refused)."""
    bounded: nodes.Node = _Bounder().visit(tree)
    return bounded


def refused_construct(tree: nodes.Node) -> str | None:
    """The first construct of ``tree`` that templates may not use, if any."""
    for node in tree.find_all(tuple(REFUSED_NODES)):
        return REFUSED_NODES[type(node)]
    return None


def iter_sizes(chunks: Iterable[str]) -> str:
    """Join template output, refusing output beyond :data:`MAX_LEN`."""
    out: list[str] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_LEN:
            raise SecurityError(f"template output longer than {MAX_LEN:,} characters")
        out.append(chunk)
    return "".join(out)
