"""Engine test fixtures: the example workflows copied into a fresh folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent / "workflows"


@pytest.fixture
def workflows_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "workflows"
    shutil.copytree(EXAMPLES, folder)
    return folder
