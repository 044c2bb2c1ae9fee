"""Workflow files on disk: found in folders, read as UTF-8, validated together.

A folder's files are validated as a set: duplicate ids across files and
`call:` between them are checked here, after each file's own checks.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable
from pathlib import Path

from crmflow.errors import Problem

from .callcheck import Call, check_calls, unknown_calls, yaml_calls
from .definition import WorkflowDef
from .expressions import ExpressionEnv
from .validate import parse_workflow

__all__ = [
    "MAX_FILE_BYTES",
    "SHIPPED_WORKFLOWS",
    "WORKFLOWS_ENV",
    "iter_workflow_files",
    "read_workflow_text",
    "validate_paths",
    "workflow_ids_in",
]

MAX_FILE_BYTES = 10_000_000
SHIPPED_WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
WORKFLOWS_ENV = "CRMFLOW_WORKFLOWS"


def iter_workflow_files(paths: Iterable[str | Path]) -> list[tuple[str, Path]]:
    """(display name, path) of every YAML file given or found in a given folder."""
    found: list[tuple[str, Path]] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if (
                    file.suffix in (".yaml", ".yml")
                    and file.is_file()
                    and not any(
                        part.startswith(".") or part == "scenarios"
                        for part in file.relative_to(path).parts
                    )
                ):
                    found.append((os.path.join(str(given), str(file.relative_to(path))), file))
        else:
            found.append((str(given), path))
    return found


def read_workflow_text(display: str, path: Path, problems: list[Problem]) -> str | None:
    """The text of a workflow file (UTF-8, with or without BOM), or None with a problem."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.append(
                Problem(display, 1, 1, f"file is {size:,} bytes; at most {MAX_FILE_BYTES:,}")
            )
            return None
        raw = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(display, 1, 1, f"cannot read file: {exc.strerror}"))
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problems.append(
            Problem(
                display, line, column,
                f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
            )  # fmt: skip
        )
        return None


_WORKFLOW_LINE = re.compile(r"^workflow:\s*['\"]?([a-z][a-z0-9_]*)", re.MULTILINE)


def workflow_ids_in(folders: Iterable[str | Path]) -> set[str]:
    """The workflow ids the YAML files of ``folders`` declare (their `workflow:` line)."""
    ids: set[str] = set()
    for _display, path in iter_workflow_files([f for f in folders if Path(f).is_dir()]):
        try:
            found = _WORKFLOW_LINE.search(path.read_text(encoding="utf-8-sig", errors="replace"))
        except OSError:
            continue
        if found:
            ids.add(found.group(1))
    return ids


def validate_paths(
    paths: Iterable[str | Path], env: ExpressionEnv, actions: Collection[str] | None,
    known: Collection[str] = (),
) -> tuple[list[WorkflowDef], list[Problem]]:  # fmt: skip
    """Validate files and folders; also reports duplicate workflow ids across files.

    A `call:` must name a workflow of these files or of ``known`` (ids defined
    elsewhere in the folder or factory); workflows calling each other in a loop
    are an error.
    """
    definitions: list[WorkflowDef] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, int], str] = {}
    texts: dict[str, str] = {}
    broken: list[Call] = []  # the calls of files with errors: they are checked too
    for display, path in iter_workflow_files(paths):
        text = read_workflow_text(display, path, problems)
        if text is None:
            continue
        definition, found = parse_workflow(text, display, env, actions)
        problems.extend(found)
        if definition is None:
            declared = _WORKFLOW_LINE.search(text)  # invalid, yet defined: no second error
            if declared:
                known = {*known, declared.group(1)}
            if "call" in text:
                broken.extend(yaml_calls(text, display))
            continue
        texts[display] = text
        ident = (definition.id, definition.version)
        if ident in seen:
            from .yamlmarks import load_with_marks

            _doc, marks = load_with_marks(text)
            mark = marks.value(("workflow",))
            problems.append(
                Problem(
                    display,
                    mark.line,
                    mark.column,
                    f"duplicate workflow id {definition.id!r} (version {definition.version}) "
                    f"also defined in {seen[ident]}; give each workflow its own id, or raise "
                    "the version",
                )
            )
            continue
        seen[ident] = display
        definitions.append(definition)
    ids = {d.id for d in definitions} | set(known)
    problems.extend(unknown_calls(broken, ids))
    if broken or any(s.call is not None for d in definitions for s in d.states.values()):
        called = check_calls(definitions, texts, known, broken)
        problems.extend(called)
        bad = {p.file for p in called}
        definitions = [d for d in definitions if d.file not in bad]
    return definitions, problems
