"""Reading: YAML and CSV become the same tree of raw text values, each with the line it is on."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.domain.communes import fold
from bot.importer.errors import ImportError_
from bot.importer.sections import CSV_ONLY_IN_YAML, LABELS, SECTIONS

TOP_LEVEL = ("commune", "province")  # defaults for every entry, not sections


@dataclass
class Raw:
    value: Any  # str | None | list[Raw] | dict[str, Raw]
    line: int
    key_lines: dict[str, int] = field(default_factory=dict)


@dataclass
class Document:
    commune: Raw | None
    sections: dict[str, list[Raw]]  # section → its entries (mappings)
    province: Raw | None = None


class Source:
    def __init__(self, path: str):
        self.path = path

    def error(self, line: int | None, where: str | None, problem: str) -> ImportError_:
        return ImportError_(self.path, line, where, problem)

    def read(self) -> Document:
        suffix = Path(self.path).suffix.lower()
        if suffix not in (".yaml", ".yml", ".csv"):
            raise self.error(None, None, "expected a .yaml, .yml or .csv file")
        try:
            data = Path(self.path).read_bytes()
        except OSError as exc:
            raise self.error(None, None, f"cannot read the file: {exc.strerror or exc}") from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise self.error(line, None, "not UTF-8 text (save the file as UTF-8)") from None
        return self._read_csv(text) if suffix == ".csv" else self._read_yaml(text)

    def _read_yaml(self, text: str) -> Document:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
            raise self.error(mark.line + 1 if mark else None, None, f"not valid YAML: {problem}") from None
        if root is None:
            raise self.error(None, None, "the file is empty")
        top = self._raw(root)
        if not isinstance(top.value, dict):
            raise self.error(top.line, None, "expected sections such as units:, disclosures: at the top level")
        sections: dict[str, list[Raw]] = {}
        for name, raw in top.value.items():
            line = top.key_lines[name]
            if name in TOP_LEVEL:
                continue
            if name not in SECTIONS:
                raise self.error(line, name, f"unknown section (expected commune, province, {', '.join(SECTIONS)})")
            if raw.value is None:
                sections[name] = []
            elif name == "routing":
                sections[name] = self._routing_entries(raw)
            elif isinstance(raw.value, list):
                sections[name] = raw.value
            else:
                raise self.error(raw.line, name, "expected a list of entries (each line starting with '- ')")
        return Document(commune=top.value.get("commune"), sections=sections, province=top.value.get("province"))

    def _routing_entries(self, raw: Raw) -> list[Raw]:
        """``routing: {land: Phòng Kinh tế, "*": Văn phòng}`` → entries {category, unit}."""
        if not isinstance(raw.value, dict):
            raise self.error(raw.line, "routing", "expected lines of the form 'category: unit name'")
        entries = []
        for category, unit in raw.value.items():
            line = raw.key_lines[category]
            entries.append(Raw({"category": Raw(category, line), "unit": unit}, line,
                               {"category": line, "unit": unit.line}))
        return entries

    def _raw(self, node: yaml.Node) -> Raw:
        line = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            return Raw(None if node.tag == "tag:yaml.org,2002:null" else node.value, line)
        if isinstance(node, yaml.SequenceNode):
            return Raw([self._raw(item) for item in node.value], line)
        mapping: dict[str, Raw] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error(key_line, None, "a field name must be plain text")
            key = key_node.value
            if key in mapping:
                raise self.error(key_line, key, f"given twice (first on line {key_lines[key]})")
            mapping[key], key_lines[key] = self._raw(value_node), key_line
        return Raw(mapping, line, key_lines)

    def _read_csv(self, text: str) -> Document:
        first_line = text.split("\n", 1)[0]
        delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            rows = []
            last_line = 0
            for cells in reader:
                rows.append((last_line + 1, cells))
                last_line = reader.line_num
        except csv.Error as exc:
            raise self.error(reader.line_num, None, f"not valid CSV: {exc}") from None
        rows = [(line, cells) for line, cells in rows if any(cell.strip() for cell in cells)]
        if not rows:
            raise self.error(None, None, "the file is empty")
        header_line, header = rows[0]
        columns = [cell.strip().lower() for cell in header]
        for position, column in enumerate(columns):
            if not column:
                raise self.error(header_line, f"column {position + 1}", "the column has no name")
            if column in columns[:position]:
                raise self.error(header_line, column, "the column is given twice")
        kind = self._csv_kind(header_line, columns, rows[1:])
        required, optional = SECTIONS[kind]
        allowed = {"kind", "commune", *required, *optional} - CSV_ONLY_IN_YAML
        for column in columns:
            if column not in allowed:
                raise self.error(header_line, column, f"unknown column for {kind} "
                                                      f"(expected {', '.join(sorted(allowed))})")
        entries = []
        for line, cells in rows[1:]:
            if len(cells) > len(columns):
                raise self.error(line, None, f"{len(cells)} cells but only {len(columns)} columns")
            values = {column: Raw(cell.strip() or None, line) for column, cell in zip(columns, cells)
                      if column != "kind"}
            entries.append(Raw(values, line, {column: line for column in values}))
        return Document(commune=None, sections={kind: entries})

    def _csv_kind(self, header_line: int, columns: list[str], rows: list[tuple[int, list[str]]]) -> str:
        if "kind" in columns:
            position = columns.index("kind")
            kinds = set()
            for line, cells in rows:
                name = section_name(cells[position] if position < len(cells) else "")
                if name is None:
                    raise self.error(line, "kind", f"unknown kind (expected one of {', '.join(SECTIONS)})")
                kinds.add(name)
                if len(kinds) > 1:
                    raise self.error(line, "kind", "one CSV file holds one kind of entry")
            if kinds:
                return kinds.pop()
        present = set(columns) - {"kind", "commune"}
        fitting = [name for name, (required, optional) in SECTIONS.items()
                   if set(required) <= present <= set(required) | set(optional)]
        if len(fitting) == 1:
            return fitting[0]
        raise self.error(header_line, None, "cannot tell what the rows are from the columns; "
                                            f"add a kind column ({', '.join(SECTIONS)})")


def section_name(text: str) -> str | None:
    name = fold(text).replace(" ", "_")
    for section, (one, many) in LABELS.items():
        if name in (section, one.replace(" ", "_"), many.replace(" ", "_")):
            return section
    return None

