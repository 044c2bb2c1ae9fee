"""`crmflow validate`: check workflow files against the factory's enabled plugins."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from crmflow.errors import Problem

from .engine.catalog import Catalog
from .engine.expressions import make_environment
from .engine.workflowfiles import validate_paths, workflow_ids_in
from .factory import FactoryConfig, find_factory, load_factory
from .registry import build_registry, enabled_plugins, get_plugin_manager

__all__ = ["validate_workflows"]


def validate_workflows(
    paths: Iterable[str | Path], factory: str | Path | None = None
) -> tuple[list[Problem], int]:
    """Problems of every given file or folder, and how many files were read.

    Actions and functions are checked against the plugins the factory enables
    (every installed plugin without a factory).
    """
    pm = get_plugin_manager()
    names = {name for name, plugin in pm.list_name_plugin() if plugin is not None}
    config = load_factory(find_factory(str(factory)), names) if factory else FactoryConfig()
    registry = build_registry(pm, enabled_plugins(pm, config.plugins))
    env = make_environment({n: r.obj for n, r in registry.functions.items()})
    given = list(paths)
    # A `call:` may name a workflow of the files' own folder or of the factory's folder.
    folders: set[str | Path] = {Path(p).parent for p in given if Path(p).is_file()}
    folders.add(Catalog.resolve_folder(None, config.workflows if factory else None))
    known = workflow_ids_in(folders)
    definitions, problems = validate_paths(given, env, registry.actions, known)
    files = len(definitions) + len({p.file for p in problems if p.severity == "error"})
    return problems, files
