"""The demo's own workflow folder: the shipped workflows, copied once, where the studio saves."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .engine.workflowfiles import SHIPPED_WORKFLOWS, WORKFLOWS_ENV
from .store import data_dir

__all__ = ["DEMO_FACTORY", "demo_workflows", "demo_workflows_for"]

#: the demo factory beside the package in a source checkout (`make run`)
DEMO_FACTORY = Path(__file__).resolve().parents[2] / "examples" / "demo" / "factory.yaml"
FOLDER = "demo-workflows"


def demo_workflows(base: Path | None = None) -> Path:
    """The demo's workflow folder in the data folder, made on first use.

    On first use it is a copy of the shipped workflows (their scenarios
    included), so a consultant can save version N+1 of a workflow in the demo
    (the shipped folder is read-only). Later runs keep what was saved there;
    remove the folder to start again from the shipped workflows.
    """
    folder = (base or data_dir()) / FOLDER
    if not folder.exists():
        part = folder.with_name(FOLDER + ".part")
        shutil.rmtree(part, ignore_errors=True)
        shutil.copytree(SHIPPED_WORKFLOWS, part, ignore=shutil.ignore_patterns("__pycache__"))
        part.replace(folder)
    return folder


def demo_workflows_for(
    factory: str | None, workflows: str | Path | None, *, make: bool = False
) -> Path | None:
    """The demo's folder for a command run on the demo factory without a workflow folder.

    None when a folder is given (``--workflows`` or ``$CRMFLOW_WORKFLOWS``), the
    factory is not the demo, or the folder does not exist yet (``make``: made then).
    """
    if workflows or os.environ.get(WORKFLOWS_ENV) or not factory:
        return None
    try:
        if Path(factory).resolve() != DEMO_FACTORY:
            return None
    except OSError:
        return None
    if make:
        return demo_workflows()
    folder = data_dir() / FOLDER
    return folder if folder.is_dir() else None
