"""Find, validate and cache the workflow versions of a factory."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from crmflow.errors import ConfigError, NotFoundError, Problem, ValidationError

from .callcheck import check_calls, unknown_calls
from .definition import WorkflowDef
from .expressions import ExpressionEnv
from .machine import CompiledWorkflow, compile_workflow
from .tables import WorkflowVersion
from .validate import parse_workflow

__all__ = [
    "Catalog",
    "MAX_FILE_BYTES",
    "RECHECK_EVERY",
    "SHIPPED_WORKFLOWS",
    "WORKFLOWS_ENV",
    "iter_workflow_files",
    "read_workflow_text",
    "validate_paths",
    "workflow_ids_in",
]

MAX_FILE_BYTES = 10_000_000
#: how often a running process looks at its workflow folder for new version files
RECHECK_EVERY = timedelta(seconds=5)

SHIPPED_WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
WORKFLOWS_ENV = "CRMFLOW_WORKFLOWS"

_versions = WorkflowVersion.__table__  # type: ignore[attr-defined]
log = logging.getLogger(__name__)


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
    broken: list[tuple[str, str]] = []  # files with errors: their calls are checked too
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
                broken.append((display, text))
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
    for display, text in broken:
        problems.extend(unknown_calls(text, display, ids))
    if any(s.call is not None for d in definitions for s in d.states.values()):
        called = check_calls(definitions, texts, known)
        problems.extend(called)
        bad = {p.file for p in called}
        definitions = [d for d in definitions if d.file not in bad]
    return definitions, problems


class Catalog:
    """The workflow versions of one factory, each compiled once per process.

    Once it watches a clock (:meth:`watch`; the Engine gives its own), the
    catalog looks at its folder at most once per :data:`RECHECK_EVERY` of that
    clock when asked for a workflow, and reads it again when a file was added or changed: a version
    saved by another process (the studio, a consultant's editor) is started by
    this one without a restart, while running instances stay on their version.
    """

    def __init__(
        self, folder: Path, env: ExpressionEnv, actions: Collection[str], *, strict: bool = True
    ) -> None:
        self.folder = folder
        self.strict = strict
        self.clock: Callable[[], datetime] | None = None
        self._checked_at: datetime | None = None
        self._seen: tuple[tuple[str, int, int], ...] = ()
        self._checking = threading.Lock()
        #: files left out because they are invalid (only when not ``strict``)
        self.skipped: list[str] = []
        self._env = env
        self._actions = actions
        self._compiled: dict[tuple[str, int], CompiledWorkflow] = {}
        self._newest: dict[str, int] = {}
        self._stored: set[tuple[str, int]] = set()
        self._running: dict[tuple[str, int], CompiledWorkflow] = {}
        self.warnings: list[Problem] = []
        self._load()

    @staticmethod
    def resolve_folder(workflows: str | Path | None, factory_folder: Path | None) -> Path:
        if workflows:
            return Path(workflows)
        if os.environ.get(WORKFLOWS_ENV):
            return Path(os.environ[WORKFLOWS_ENV])
        if factory_folder is not None:
            return factory_folder
        return SHIPPED_WORKFLOWS

    def _load(self) -> None:
        if not self.folder.exists():
            raise NotFoundError(f"workflow folder {str(self.folder)!r} does not exist")
        self._seen = self._folder_state()
        definitions, problems = validate_paths([self.folder], self._env, self._actions)
        errors = [p for p in problems if p.severity == "error"]
        if errors and self.strict:
            raise ValidationError(problems)
        self.warnings = problems
        # Not strict (read-only commands): the valid workflows load, the broken files
        # are reported as warnings and left out.
        self.skipped = sorted({p.file for p in errors})
        definitions = [d for d in definitions if d.file not in self.skipped]
        # New dicts swapped in whole: threads reading the catalog meanwhile never see
        # one half-changed (a web process serves requests while it reads the folder).
        compiled_all, newest = dict(self._compiled), dict(self._newest)
        for definition in definitions:
            compiled_all[(definition.id, definition.version)] = compile_workflow(definition)
            if definition.version > newest.get(definition.id, 0):
                newest[definition.id] = definition.version
        self._compiled = compiled_all
        self._newest = newest

    def reload(self) -> None:
        """Read the folder again, e.g. after the studio saved a new version file."""
        self._load()

    def _folder_state(self) -> tuple[tuple[str, int, int], ...]:
        """Each workflow file's path, modification time and size: cheap to compare."""
        state = []
        for _display, path in iter_workflow_files([self.folder]):
            try:
                stat = path.stat()
            except OSError:
                continue
            state.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(state)

    def refresh(self, now: datetime | None = None) -> bool:
        """Read the folder again if a workflow file was added or changed since it was read.

        Without ``now``, looks at once; with it, at most once per :data:`RECHECK_EVERY`.
        A folder that became invalid is not taken (strict catalogs): the versions
        already read stay, the problems are logged and kept in ``warnings``.
        Returns whether new files were read.
        """
        if now is not None:
            last = self._checked_at
            if last is not None and last <= now < last + RECHECK_EVERY:
                return False
        if not self._checking.acquire(blocking=False):
            return False  # another thread of this process is looking right now
        try:
            self._checked_at = now
            state = self._folder_state() if self.folder.exists() else ()
            if state == self._seen:
                return False
            try:
                self._load()
            except (ValidationError, NotFoundError) as exc:
                self._seen = state  # not again until the folder changes once more
                self.warnings = list(getattr(exc, "problems", None) or [])
                log.warning("workflow folder %s changed but is not taken: %s", self.folder, exc)
                return False
            log.info("workflow folder %s read again: %s", self.folder, self._newest)
            return True
        finally:
            self._checking.release()

    def watch(self, clock: Callable[[], datetime]) -> None:
        """Look at the folder again, by ``clock``, whenever a workflow is asked for."""
        self.clock = clock
        self._checked_at = clock()  # the folder was just read

    def _fresh(self) -> None:
        if self.clock is not None:
            self.refresh(self.clock())

    def ids(self) -> list[str]:
        self._fresh()
        return sorted(self._newest)

    def definitions(self) -> list[WorkflowDef]:
        self._fresh()
        return [self._compiled[(wf, v)].definition for wf, v in sorted(self._newest.items())]

    def newest(self, workflow: str) -> CompiledWorkflow:
        self._fresh()
        version = self._newest.get(workflow)
        if version is None:
            raise NotFoundError(
                f"no workflow {workflow!r} in {self.folder} (known: {', '.join(self.ids())})"
            )
        return self._compiled[(workflow, version)]

    def definition(self, workflow: str, version: int) -> WorkflowDef:
        """A version found in the workflow folder (to migrate instances to it)."""
        self._fresh()
        found = self._compiled.get((workflow, version))
        if found is None:
            known = sorted(v for (wf, v) in self._compiled if wf == workflow)
            raise NotFoundError(
                f"no version {version} of workflow {workflow!r} in {self.folder} "
                f"(versions found: {', '.join(map(str, known)) or 'none'})"
            )
        return found.definition

    def get(self, conn: sa.Connection, workflow: str, version: int) -> CompiledWorkflow:
        """The version a running instance is on: the YAML stored when it first started.

        The file's copy serves while it is the same text (checked once per
        process); a file edited in place without a new version number never
        changes instances already running on that version.
        """
        ident = (workflow, version)
        compiled = self._running.get(ident)
        if compiled is not None:
            return compiled
        row = conn.execute(
            sa.select(_versions.c.source, _versions.c.file, _versions.c.digest).where(
                _versions.c.workflow == workflow, _versions.c.version == version
            )
        ).first()
        from_file = self._compiled.get(ident)
        if from_file is not None and (row is None or row.digest == from_file.definition.digest):
            self._running[ident] = from_file
            return from_file
        if row is None:
            raise NotFoundError(f"workflow {workflow!r} version {version} is not known")
        definition, problems = parse_workflow(
            row.source, row.file or f"{workflow}@{version}", self._env, self._actions
        )
        if definition is None:
            raise ValidationError(problems)
        compiled = compile_workflow(definition)
        self._running[ident] = compiled
        return compiled

    def remember_in(self, conn: sa.Connection, definition: WorkflowDef) -> None:
        """Like :meth:`remember`, inside the caller's transaction (a child's start)."""
        ident = (definition.id, definition.version)
        if ident in self._stored:
            return
        exists = conn.execute(
            sa.select(_versions.c.digest).where(
                _versions.c.workflow == definition.id, _versions.c.version == definition.version
            )
        ).first()
        if exists is not None:
            if exists.digest != definition.digest:
                raise ConfigError(
                    f"workflow {definition.id!r} version {definition.version} in "
                    f"{definition.file} differs from the version that instances already run "
                    f"on; raise `version:` to {definition.version + 1}"
                )
            self._stored.add(ident)
            return
        try:
            with conn.begin_nested():
                conn.execute(_versions.insert().values(
                    workflow=definition.id, version=definition.version,
                    source=definition.source, digest=definition.digest, file=definition.file,
                    loaded_at=datetime.now(UTC),
                ))  # fmt: skip
        except sa.exc.IntegrityError:
            pass  # another process stored the same version first
        # not added to _stored: the caller's transaction may still roll back

    def remember(self, db: sa.Engine, definition: WorkflowDef) -> None:
        """Store a version's YAML so instances keep running after the file changes."""
        ident = (definition.id, definition.version)
        if ident in self._stored:
            return
        try:
            with db.begin() as conn:
                exists = conn.execute(
                    sa.select(_versions.c.digest).where(
                        _versions.c.workflow == definition.id,
                        _versions.c.version == definition.version,
                    )
                ).first()
                if exists is not None and exists.digest != definition.digest:
                    raise ConfigError(
                        f"workflow {definition.id!r} version {definition.version} in "
                        f"{definition.file} differs from the version {definition.version} "
                        "that instances already run on; raise `version:` to "
                        f"{definition.version + 1} (running instances keep their YAML)"
                    )
                if exists is None:
                    conn.execute(
                        _versions.insert().values(
                            workflow=definition.id,
                            version=definition.version,
                            source=definition.source,
                            digest=definition.digest,
                            file=definition.file,
                            loaded_at=datetime.now(UTC),
                        )
                    )
        except sa.exc.IntegrityError:
            pass  # another process stored the same version first
        self._stored.add(ident)
