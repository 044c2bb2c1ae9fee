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
    #: values and keys that YAML read as booleans (yes/no/on/off/true/false): their text
    booleans: dict[Path, str] = field(default_factory=dict)
    boolean_keys: dict[Path, str] = field(default_factory=dict)

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


# libyaml's parser when PyYAML has it: the same nodes and marks, ten times faster.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_DEPTH = 64  # nesting of mappings and lists
ALIAS_ALLOWANCE = 10_000  # values aliases may add beyond the document's own


def _position(text: str, index: int) -> Mark:
    line = text.count("\n", 0, index) + 1
    return Mark(line, index - (text.rfind("\n", 0, index) + 1) + 1)


def load_with_marks(text: str) -> tuple[Any, Marks]:
    """Parse one YAML document (safe types only) and record where everything is.

    Refused, with a location: aliases that expand the document by more than
    :data:`ALIAS_ALLOWANCE` values (an "alias bomb"), nesting deeper than
    :data:`MAX_DEPTH`, characters YAML does not allow, numbers too long to read.
    """
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        marks = Marks()
        budget = _Budget(len(text) + ALIAS_ALLOWANCE)
        data = _build(loader, node, (), marks, budget) if node is not None else None
    except yaml.reader.ReaderError as exc:
        where = _position(text, exc.position) if isinstance(exc.position, int) else Mark(1, 1)
        code = ord(exc.character) if isinstance(exc.character, str) else exc.character
        what = f"character U+{code:04X}" if isinstance(code, int) else "a character"
        raise YamlSyntaxError(
            f"YAML syntax: {what} is not allowed in a workflow file (control character?)", where
        ) from None
    except RecursionError:
        raise YamlSyntaxError(
            f"YAML: nested too deeply (at most {MAX_DEPTH} levels)", Mark(1, 1)
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark(mark.line + 1, mark.column + 1) if mark else Mark(1, 1)
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        raise YamlSyntaxError(f"YAML syntax: {problem}{context}", where) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"YAML syntax: {exc}", Mark(1, 1)) from exc
    finally:
        if loader is not None:
            loader.dispose()
    return data, marks


class _Budget:
    """How many values the document may still build (aliases build theirs again)."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.built = 0


def _build(
    loader: yaml.SafeLoader, node: yaml.Node, path: Path, marks: Marks, budget: _Budget
) -> Any:
    budget.built += 1
    if budget.built > budget.allowed:
        raise yaml.constructor.ConstructorError(
            None, None,
            f"aliases expand this document beyond {budget.allowed:,} values; write the "
            "values out (or use fewer aliases)",
            node.start_mark,
        )  # fmt: skip
    if len(path) > MAX_DEPTH:
        raise yaml.constructor.ConstructorError(
            None, None, f"nested deeper than {MAX_DEPTH} levels", node.start_mark
        )
    marks.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(loader, key_node)
            if isinstance(key, list | dict):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                )
            child = (*path, key)
            if key in result:
                marks.duplicates.append((child, _mark(key_node)))
            marks.keys[child] = _mark(key_node)
            if isinstance(key, bool):
                marks.boolean_keys[child] = str(key_node.value)
            result[key] = _build(loader, value_node, child, marks, budget)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, item, (*path, i), marks, budget) for i, item in enumerate(node.value)
        ]
    value = _scalar(loader, node)
    if isinstance(value, bool):
        marks.booleans[path] = str(node.value)
    return value


def _scalar(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", node.start_mark
            )
    try:
        value = loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:  # e.g. an integer of 5,000 digits
        raise yaml.constructor.ConstructorError(
            None, None, f"value cannot be read: {str(exc).split(';')[0]}", node.start_mark
        ) from None
    # Hex and base-60 integers (0xFFFF…, 1:30:…) escape Python's digit limit; no
    # workflow value needs more than 64 bits.
    if isinstance(value, int) and value.bit_length() > 64:
        raise yaml.constructor.ConstructorError(
            None, None, "number too large (more than 64 bits)", node.start_mark
        )
    return value
