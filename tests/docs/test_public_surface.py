"""Built-in plugins use only the public surface that docs/hooks.md lists for plugins."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "crmflow" / "plugins"


def _listed() -> set[str]:
    text = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    section = text.split("## What a plugin may import", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(crmflow[a-z_.]*)`", section, re.M)) | set(
        re.findall(r", `(crmflow[a-z_.]*)`", section)
    )


def _allowed(module: str, listed: set[str]) -> bool:
    if module.startswith("crmflow.plugins"):
        return True  # a plugin's own modules (and the built-ins' shared ones)
    if module in listed:
        return True
    # "crmflow.core.domain and its public modules": crmflow.core.domain.records, not ._writers
    parent, _, leaf = module.rpartition(".")
    return parent == "crmflow.core.domain" and parent in listed and not leaf.startswith("_")


def test_built_in_plugins_import_only_the_documented_surface() -> None:
    listed = _listed()
    assert {"crmflow", "crmflow.cli_helpers", "crmflow.core.engine"} <= listed
    wrong = []
    for path in sorted(PLUGINS.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for module in names:
                if module.split(".")[0] == "crmflow" and not _allowed(module, listed):
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: {module}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "lazy":
                target = (
                    node.args[0].value
                    if node.args and isinstance(node.args[0], ast.Constant)
                    else ""
                )
                module = str(target).split(":")[0]
                if module.startswith("crmflow") and not _allowed(module, listed):
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: lazy {module}")
    assert not wrong, "plugins reach past the public surface:\n" + "\n".join(wrong)
