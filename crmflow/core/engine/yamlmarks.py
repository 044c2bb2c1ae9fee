"""Load YAML keeping the line and column of every key and value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["Mark", "Marks", "YamlSyntaxError", "load_with_marks"]

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Mark:
    """A 1-based position in a YAML file."""

    line: int
    column: int


@dataclass
class Marks:
    """Positions of the keys and values of a loaded document, by path."""

    keys: dict[Path, Mark] = field(default_factory=dict)
    values: dict[Path, Mark] = field(default_factory=dict)
    duplicates: list[tuple[Path, Mark]] = field(default_factory=list)

    def key(self, path: Path) -> Mark:
        """Where the key at ``path`` is (falls back to its value, then the parent)."""
        return self.keys.get(path) or self.values.get(path) or self._parent(path)

    def value(self, path: Path) -> Mark:
        """Where the value at ``path`` starts (falls back to its key, then the parent)."""
        return self.values.get(path) or self.keys.get(path) or self._parent(path)

    def _parent(self, path: Path) -> Mark:
        while path:
            path = path[:-1]
            if path in self.values:
                return self.values[path]
            if path in self.keys:
                return self.keys[path]
        return Mark(1, 1)


class YamlSyntaxError(ValueError):
    """The text is not YAML; ``mark`` says where the parser stopped."""

    def __init__(self, message: str, mark: Mark) -> None:
        super().__init__(message)
        self.mark = mark


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def load_with_marks(text: str) -> tuple[Any, Marks]:
    """Parse one YAML document (safe types only) and record where everything is."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        marks = Marks()
        data = _build(loader, node, (), marks) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark(mark.line + 1, mark.column + 1) if mark else Mark(1, 1)
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        raise YamlSyntaxError(f"YAML syntax: {problem}{context}", where) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"YAML syntax: {exc}", Mark(1, 1)) from exc
    finally:
        loader.dispose()
    return data, marks


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path, marks: Marks) -> Any:
    marks.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                )
            child = (*path, key)
            if key in result:
                marks.duplicates.append((child, _mark(key_node)))
            marks.keys[child] = _mark(key_node)
            result[key] = _build(loader, value_node, child, marks)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, i), marks) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
