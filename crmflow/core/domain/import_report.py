"""The report of one import: counts, and each rejected row with its line and reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ImportReport"]


@dataclass
class ImportReport:
    """What one import did: counts, and each rejected row with its line and reason."""

    kind: str
    file: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    events: int = 0
    events_failed: list[tuple[str, str]] = field(default_factory=list)
    reason: str = "import"  # kept on the demand changes this load records

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [{"line": line, "reason": reason} for line, reason in self.rejected],
            "warnings": [{"line": line, "reason": reason} for line, reason in self.warnings],
            "events": self.events,
            "events_failed": [{"key": k, "reason": r} for k, r in self.events_failed],
        }
