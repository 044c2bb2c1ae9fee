"""Guards, keys and templates, evaluated by a sandboxed Jinja2 environment."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.parser import Parser
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from crmflow.errors import ExpressionError

from .bounds import (
    bound_tree,
    bounded,
    check_binop,
    check_call,
    check_size,
    guard_filters,
    iter_sizes,
    refused_construct,
)

__all__ = [
    "Expression",
    "ExpressionEnv",
    "MissingField",
    "Template",
    "compile_expression",
    "compile_template",
    "compile_value",
    "make_environment",
    "render_value",
]

# A single `{{ expr }}` keeps the expression's type (numbers stay numbers).
_SINGLE = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}\s*$", re.S)
_MAX_SEQUENCE = 100_000


class MissingField(Exception):
    """An expression read a field that the context does not have."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class ExpressionEnv(ImmutableSandboxedEnvironment):
    """The sandbox: no internals, no mutation of data, bounded time and size (see bounds)."""

    intercepted_binops = frozenset(["+", "-", "*", "/", "//", "%", "**"])
    lenient: ExpressionEnv

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        # `'x' * 10**9`, `9 ** 9 ** 9` or chains of them would hang a worker: every
        # operation is checked before it runs and its result after.
        check_binop(operator, left, right)
        return check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        check_call(__obj, args, kwargs)
        return check_size(super().call(__context, __obj, *args, **kwargs))


def make_environment(functions: Mapping[str, Callable[..., Any]] | None = None) -> ExpressionEnv:
    """A fresh sandboxed environment with the registered functions as globals.

    Guards and keys are strict (a missing field is reported); message text
    uses ``env.lenient``, where a missing field renders as nothing.
    """
    env = ExpressionEnv(undefined=StrictUndefined, autoescape=False)
    lenient = ExpressionEnv(undefined=ChainableUndefined, autoescape=False)
    for each in (env, lenient):
        guard_filters(each.filters)
        each.globals.clear()
        each.globals.update({"min": min, "max": max, "abs": abs, "round": round, "len": len})
        if functions:
            each.globals.update(functions)
    env.lenient = lenient
    return env


def _check_safe(tree: nodes.Node, source: str) -> None:
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        name = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value if isinstance(node.arg.value, str) else None
        elif isinstance(node, nodes.Name):
            name = node.name
        if isinstance(name, str) and name.startswith("_"):
            raise ExpressionError(
                f"refused: {source!r} reaches the Python internal {name!r}; expressions may "
                "only read workflow data (no names starting with '_')"
            )


def _paths(node: nodes.Node) -> Iterator[tuple[str, ...]]:
    """Dotted paths read by an expression, outermost chains first."""
    for found in node.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        parts: list[str] = []
        current: nodes.Node = found
        while True:
            if isinstance(current, nodes.Getattr):
                parts.append(current.attr)
                current = current.node
            elif isinstance(current, nodes.Getitem) and isinstance(current.arg, nodes.Const):
                parts.append(str(current.arg.value))
                current = current.node
            elif isinstance(current, nodes.Name):
                parts.append(current.name)
                yield tuple(reversed(parts))
                break
            else:
                break


def _missing_field(tree: nodes.Node, context: Mapping[str, Any], env: ExpressionEnv) -> str | None:
    for path in _paths(tree):
        if path[0] in env.globals:
            continue
        value: Any = context
        for depth, part in enumerate(path):
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif isinstance(value, list | tuple) and part.lstrip("-").isdigit():
                index = int(part)
                if -len(value) <= index < len(value):
                    value = value[index]
                else:
                    return ".".join(path[: depth + 1])
            else:
                return ".".join(path[: depth + 1])
    return None


_FAILURES = (TypeError, ValueError, ArithmeticError, LookupError, TemplateError, RecursionError)


def _parse_expression(source: str, env: ExpressionEnv) -> nodes.Expr:
    parser = Parser(env, source, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno)
    return expr


def _check_names(tree: nodes.Node, env: ExpressionEnv) -> None:
    """Unknown filters and tests, found when parsing as compiling would find them."""
    for node in tree.find_all(nodes.Filter):
        if node.name not in env.filters:
            raise TemplateSyntaxError(f"No filter named {node.name!r}.", node.lineno)
    for test in tree.find_all(nodes.Test):
        if test.name not in env.tests:
            raise TemplateSyntaxError(f"No test named {test.name!r}.", test.lineno)


def _refuse_constructs(tree: nodes.Node, source: str, what: str) -> None:
    construct = refused_construct(tree)
    if construct is not None:
        raise ExpressionError(
            f"refused: {what} {source!r} uses {construct}, which workflow templates may not "
            "use (its cost cannot be bounded)"
        )


class Expression:
    """A compiled guard or key expression."""

    def __init__(self, source: str, env: ExpressionEnv) -> None:
        self.source = source
        self._env = env
        try:
            expr = _parse_expression(source, env)
            self._tree = nodes.Output([expr])  # find_all() walks below a node, not the node
            _check_safe(self._tree, source)
            _check_names(self._tree, env)
        except TemplateSyntaxError as exc:
            raise ExpressionError(f"expression {source!r} does not parse: {exc.message}") from exc
        except RecursionError:
            raise ExpressionError(f"expression {source!r} is nested too deeply") from None
        except (ValueError, OverflowError) as exc:  # e.g. a number of 5,000 digits
            raise ExpressionError(
                f"expression {source[:80]!r} does not parse: {_reason(exc).split(';')[0]}"
            ) from None
        # Compiled on first use: validating a 20,000-state workflow only parses its guards.
        self._template: Any = None
        self._globals: dict[str, Any] = {}

    def _compile(self) -> Any:
        expr = self._tree.nodes[0]
        body = [nodes.Assign(nodes.Name("result", "store"), bound_tree(expr), lineno=1)]
        # Guards run on every event: calling the compiled template's root function
        # with a Context built here skips Template's generic set-up.
        template = self._env.from_string(nodes.Template(body, lineno=1))
        self._globals = dict(template.globals)
        self._template = template
        return template

    def _evaluate(self, context: Mapping[str, Any]) -> Any:
        template = self._template or self._compile()
        env = self._env
        ctx = env.context_class(
            env, {**self._globals, **context}, template.name, template.blocks,
            globals=self._globals,
        )  # fmt: skip
        with bounded():
            for _ in template.root_render_func(ctx):
                pass
        return ctx.vars["result"]

    def __call__(self, context: Mapping[str, Any]) -> Any:
        try:
            value = self._evaluate(context)
        except UndefinedError as exc:
            raise MissingField(self._missing(context, exc)) from exc
        except SecurityError as exc:
            raise ExpressionError(f"refused: {self.source!r}: {exc}") from exc
        except MemoryError:
            raise ExpressionError(f"refused: {self.source!r}: out of memory") from None
        except _FAILURES as exc:
            raise ExpressionError(f"expression {self.source!r} failed: {_reason(exc)}") from exc
        if isinstance(value, Undefined):
            raise MissingField(self._missing(context, None))
        return value

    def _missing(self, context: Mapping[str, Any], exc: Exception | None) -> str:
        return _missing_field(self._tree, context, self._env) or (str(exc) if exc else self.source)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "recursion too deep"
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "…"


class Template:
    """A compiled `with:`/`unique` template; a lone `{{ expr }}` keeps its type.

    A missing field is undefined and falsy, so ``{{ order.sales_rep or 'sales' }}``
    falls back; a value that is still missing is None (``strict``: MissingField).
    """

    def __init__(self, source: str, env: ExpressionEnv) -> None:
        self.source = source
        match = _SINGLE.match(source)
        self._expr: Expression | None = None
        self._template = None
        if match:
            self._expr = Expression(match.group("expr").strip(), env.lenient)
            return
        try:
            tree = env.parse(source)
            _check_safe(tree, source)
            _refuse_constructs(tree, source, "template")
            self._tree = tree
            self._template = env.lenient.from_string(bound_tree(tree))  # type: ignore[arg-type]
            self._env = env
        except TemplateSyntaxError as exc:
            raise ExpressionError(f"template {source!r} does not parse: {exc.message}") from exc
        except RecursionError:
            raise ExpressionError(f"template {source!r} is nested too deeply") from None
        except (ValueError, OverflowError) as exc:
            raise ExpressionError(
                f"template {source[:80]!r} does not parse: {_reason(exc).split(';')[0]}"
            ) from None

    def __call__(self, context: Mapping[str, Any], *, strict: bool = False) -> Any:
        if self._expr is not None:
            try:
                return self._expr(context)
            except MissingField:
                if strict:
                    raise
                return None
        assert self._template is not None
        try:
            with bounded():
                return iter_sizes(self._template.generate(**context))
        except SecurityError as exc:
            raise ExpressionError(f"refused: template {self.source!r}: {exc}") from exc
        except UndefinedError as exc:
            field = _missing_field(self._tree, context, self._env) or str(exc)
            if strict:
                raise MissingField(field) from exc
            raise ExpressionError(
                f"template {self.source!r} failed: field {field!r} is missing"
            ) from exc
        except MemoryError:
            raise ExpressionError(f"refused: template {self.source!r}: out of memory") from None
        except _FAILURES as exc:
            raise ExpressionError(f"template {self.source!r} failed: {_reason(exc)}") from exc


def compile_expression(source: str, env: ExpressionEnv) -> Expression:
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("expression is empty; write a condition such as order.qty > 10")
    return Expression(source, env)


def compile_template(source: str, env: ExpressionEnv) -> Template:
    return Template(source, env)


def compile_value(value: Any, env: ExpressionEnv) -> Any:
    """Compile every string of a `with:` value (nested dicts and lists too)."""
    if isinstance(value, str):
        return compile_template(value, env) if ("{{" in value or "{%" in value) else value
    if isinstance(value, dict):
        return {k: compile_value(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [compile_value(v, env) for v in value]
    return value


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render a value compiled by :func:`compile_value`."""
    if isinstance(value, Template):
        return value(context)
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    return value
