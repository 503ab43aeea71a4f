"""What an import reports: a refusal naming the file, line and field, or a summary of what it did."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.importer.sections import LABELS


class ImportError_(Exception):
    """The file cannot be imported; the message is one line naming the file, the line and the field."""

    def __init__(self, path: str, line: int | None, where: str | None, problem: str):
        self.path, self.line, self.field, self.problem = path, line, where, problem
        location = ", ".join(part for part in (path, f"line {line}" if line else None, where) if part)
        super().__init__(f"{location}: {problem}")


@dataclass
class ImportSummary:
    counts: dict[str, int] = field(default_factory=dict)   # entries in the file, by section
    project_updates: int = 0
    board_invites: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    sessions_moved: int = 0
    sessions_cancelled: int = 0
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = []
        for section, (one, many) in LABELS.items():
            count = self.counts.get(section, 0)
            if not count:
                continue
            part = f"{count} {one if count == 1 else many}"
            if section == "projects" and self.project_updates:
                part += f" ({self.project_updates} update{'' if self.project_updates == 1 else 's'})"
            parts.append(part)
        text = ", ".join(parts) or "nothing"
        text += f" — {self.created} new, {self.changed} changed, {self.unchanged} unchanged"
        if self.sessions_moved or self.sessions_cancelled:
            text += (f"; reception sessions moved: {self.sessions_moved}, cancelled: {self.sessions_cancelled}"
                     " (subscribers and registered citizens told)")
        return "\n".join([text, *(f"warning: {warning}" for warning in self.warnings)])
