"""The consultant's studio: check, simulate and save workflow drafts as new versions.

A draft is YAML text that is not yet in the workflow folder. :func:`check_draft`
gives its `FILE:LINE:COL` problems as `crmflow validate` would (against the
factory's enabled plugins); :func:`simulate_draft` runs a scenario against it
with the rest of the folder around it; :func:`save_draft` writes it as version
N+1 of its workflow in a new file — never over the running version — and
returns the diff against version N. Only people with the `consultant` or
`admin` role may save (:func:`require_editor`).
"""

from __future__ import annotations

import difflib
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmflow.errors import InputError, Problem, RefusedError, ValidationError

from .engine.workflowfiles import SHIPPED_WORKFLOWS, iter_workflow_files
from .engine.yamlmarks import YamlSyntaxError, load_with_marks

__all__ = [
    "EDITOR_ROLES",
    "SavedVersion",
    "WorkflowVersionFile",
    "check_draft",
    "diff_versions",
    "require_editor",
    "save_draft",
    "scenario_for",
    "simulate_draft",
    "version_files",
]

EDITOR_ROLES = frozenset({"consultant", "admin"})
_MAX_DRAFT = 512 * 1024


@dataclass(frozen=True)
class WorkflowVersionFile:
    workflow: str
    version: int
    path: Path
    source: str


@dataclass(frozen=True)
class SavedVersion:
    workflow: str
    version: int
    path: Path
    diff: str

    def as_json(self) -> dict[str, Any]:
        return {"workflow": self.workflow, "version": self.version, "file": self.path.name,
                "diff": self.diff}  # fmt: skip


def require_editor(roles: Iterable[str], who: str | None) -> None:
    """Refuse anyone without the consultant or admin role (the same check on every path)."""
    if not EDITOR_ROLES & set(roles):
        raise RefusedError(
            f"role: {who or 'this person'} may not edit workflows; the factory's `consultant` "
            "or `admin` role may",
            reason="role",
        )


def version_files(folder: Path, workflow: str | None = None) -> list[WorkflowVersionFile]:
    """Every workflow file of the folder with its id and version (unreadable ones skipped)."""
    found = []
    for _display, path in iter_workflow_files([folder]):
        try:
            text = path.read_text(encoding="utf-8")
            doc, _marks = load_with_marks(text)
        except (OSError, UnicodeDecodeError, YamlSyntaxError):
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("version"), int):
            continue
        wid = str(doc.get("workflow"))
        if workflow is None or wid == workflow:
            found.append(WorkflowVersionFile(wid, int(doc["version"]), path, text))
    return sorted(found, key=lambda f: (f.workflow, f.version))


def check_draft(
    text: str, *, factory: Any, name: str = "draft.yaml"
) -> list[Problem]:
    """The draft's problems, located in ``name`` as `crmflow validate` prints them."""
    from .validation import validate_workflows

    if len(text.encode("utf-8")) > _MAX_DRAFT:
        return [Problem(name, 1, 1, f"a workflow file may hold at most {_MAX_DRAFT // 1024} KB")]
    with tempfile.TemporaryDirectory(prefix="crmflow-draft-") as tmp:
        path = Path(tmp) / "draft.yaml"
        path.write_text(text, encoding="utf-8")
        factory_file = getattr(factory, "file", None)
        problems, _count = validate_workflows([path], factory=factory_file)
    return [
        Problem(name, p.line, p.column, p.message, p.severity)
        for p in problems
    ]  # fmt: skip


def _identity(text: str) -> tuple[str, int]:
    try:
        doc, _marks = load_with_marks(text)
    except YamlSyntaxError as exc:
        raise InputError(f"the draft is not valid YAML: {exc}", field="source") from exc
    if not isinstance(doc, dict) or not doc.get("workflow"):
        raise InputError("the draft needs `workflow:` and `version:`", field="source")
    version = doc.get("version")
    return str(doc["workflow"]), version if isinstance(version, int) else 0


def _with_version(text: str, version: int) -> str:
    """The draft with its top-level `version:` set to ``version`` (its line kept in place)."""
    doc, marks = load_with_marks(text)
    if "version" not in doc:
        return f"version: {version}\n" + text
    mark = marks.value(("version",))
    lines = text.splitlines(keepends=True)
    line = lines[mark.line - 1]
    col = mark.column - 1
    match = re.match(r"[^\s#,}]+", line[col:])
    end = col + (match.end() if match else 0)
    lines[mark.line - 1] = line[:col] + str(version) + line[end:]
    return "".join(lines)


def diff_versions(old: str, new: str, workflow: str, old_version: int, new_version: int) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=f"{workflow} v{old_version}", tofile=f"{workflow} v{new_version}",
        )  # fmt: skip
    )


def save_draft(text: str, *, folder: Path, factory: Any, roles: Iterable[str],
               who: str | None) -> SavedVersion:  # fmt: skip
    """Write the draft as version N+1 of its workflow; refuse a draft with errors."""
    require_editor(roles, who)
    if Path(folder).resolve() == SHIPPED_WORKFLOWS.resolve():
        raise InputError(
            "the shipped workflows are read-only: give the factory its own folder "
            "(`workflows:` in its YAML) and save there",
            field="workflows",
        )
    workflow, _version = _identity(text)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", workflow):
        raise InputError("workflow ids are lowercase letters, digits and _", field="workflow")
    existing = version_files(Path(folder), workflow)
    previous = existing[-1] if existing else None
    version = (previous.version if previous else 0) + 1
    text = _with_version(text, version)
    errors = [p for p in check_draft(text, factory=factory) if p.severity == "error"]
    if errors:
        raise ValidationError(errors)
    target = Path(folder) / f"{workflow}.v{version}.yaml"
    if target.exists():
        raise InputError(f"{target.name} already exists; reload the studio", field="version")
    tmp = target.with_suffix(".yaml.part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    diff = diff_versions(previous.source if previous else "", text, workflow,
                         previous.version if previous else 0, version)  # fmt: skip
    return SavedVersion(workflow, version, target, diff)


def scenario_for(folder: Path, workflow: str) -> str | None:
    """The workflow's own scenario (``scenarios/WORKFLOW.yaml`` in its folder), to try drafts on."""
    path = Path(folder) / "scenarios" / f"{workflow}.yaml"
    try:
        if path.is_file() and path.stat().st_size <= _MAX_DRAFT:
            return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return None


def simulate_draft(text: str, scenario: str, *, folder: Path, factory: Any) -> Any:
    """Run a scenario (YAML text) against the draft as the newest version of its workflow."""
    from .engine.simulate import simulate

    workflow, _version = _identity(text)
    with tempfile.TemporaryDirectory(prefix="crmflow-studio-") as tmp:
        work = Path(tmp) / "workflows"
        work.mkdir()
        newest = 0
        for item in version_files(Path(folder)):
            if item.workflow == workflow:
                newest = max(newest, item.version)
                continue  # the draft stands in for every version of its workflow
            shutil.copy(item.path, work / item.path.name)
        (work / f"{workflow}.draft.yaml").write_text(
            _with_version(text, max(newest + 1, 1)), encoding="utf-8"
        )
        scenario_file = Path(tmp) / "scenario.yaml"
        scenario_file.write_text(scenario, encoding="utf-8")
        factory_file = getattr(factory, "file", None)
        return simulate(workflow, scenario_file, workflows=work,
                        factory=str(factory_file) if factory_file else None)  # fmt: skip
