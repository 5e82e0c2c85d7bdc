"""YAML text -> Python data, keeping where every value sits in the file.

PyYAML's composer gives a node tree whose nodes carry start/end marks; the data is constructed from that same tree,
so a validation error's ``loc`` (a path of keys and list indexes) can be walked down the nodes to a line and column.
Paths that name a key the file does not have (a missing field) resolve to the mapping that should hold it; path
elements the data does not contain (pydantic's union and tag labels) are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from swop.schema.errors import Problem, SchemaError

PathItem = str | int
YamlPath = tuple[PathItem, ...]


@dataclass(frozen=True)
class Position:
    """1-based line and column in the YAML text."""

    line: int
    column: int

    @classmethod
    def of(cls, mark: yaml.Mark) -> Position:
        return cls(mark.line + 1, mark.column + 1)


def field_name(path: Sequence[PathItem]) -> str:
    """``("nodes", 0, "slnodedef", "idx")`` -> ``nodes[0].slnodedef.idx``."""
    text = ""
    for item in path:
        text += f"[{item}]" if isinstance(item, int) else (f".{item}" if text else str(item))
    return text


def _key_of(node: yaml.Node) -> Any:
    """The Python value of a scalar key; None for complex or unconstructable keys (they never match a path)."""
    if isinstance(node, yaml.ScalarNode):
        try:
            return SafeConstructor().construct_document(node)
        except yaml.YAMLError:
            return None
    return None


@dataclass(frozen=True)
class Located:
    """Where a validation path lands: the path as it exists in the file, and the position to report."""

    path: YamlPath
    position: Position


class YamlDocument:
    """One parsed YAML document: its text, node tree and constructed data."""

    def __init__(self, source: str, text: str, root: yaml.Node, data: Any) -> None:
        self.source = source
        self.text = text
        self.root = root
        self.data = data

    def _walk(self, loc: Sequence[PathItem], missing: bool) -> tuple[YamlPath, yaml.Node | None, yaml.Node]:
        path: list[PathItem] = []
        key_node: yaml.Node | None = None
        node = self.root
        for i, item in enumerate(loc):
            child = self._child(node, item)
            if child is not None:
                key_node, node = child
                path.append(item)
            elif missing and i == len(loc) - 1:
                path.append(item)
                key_node = None
        return tuple(path), key_node, node

    @staticmethod
    def _child(node: yaml.Node, item: PathItem) -> tuple[yaml.Node | None, yaml.Node] | None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if _key_of(key) == item and type(_key_of(key)) is type(item):
                    return key, value
        elif isinstance(node, yaml.SequenceNode) and isinstance(item, int) and 0 <= item < len(node.value):
            return None, node.value[item]
        return None

    def locate(self, loc: Sequence[PathItem], *, missing: bool = False, at_key: bool = False) -> Located:
        """Where ``loc`` points. ``missing``: the last element is a key the file lacks (point at the mapping that
        should hold it); ``at_key``: point at the key rather than its value (for unknown keys)."""
        path, key_node, node = self._walk(loc, missing)
        mark = key_node.start_mark if at_key and key_node is not None else node.start_mark
        return Located(path, Position.of(mark))

    def value_at(self, loc: Sequence[PathItem]) -> Any:
        """The data at ``loc`` (skipping elements it does not contain, as :meth:`locate` does); None if absent."""
        value = self.data
        for item in loc:
            if isinstance(value, dict) and item in value:
                value = value[item]
            elif isinstance(value, list) and isinstance(item, int) and 0 <= item < len(value):
                value = value[item]
        return value

    def node_at(self, path: Sequence[PathItem]) -> yaml.Node | None:
        node = self.root
        for item in path:
            child = self._child(node, item)
            if child is None:
                return None
            node = child[1]
        return node

    def original_text(self, path: Sequence[PathItem]) -> str | None:
        """The file's own text of the node at ``path``, re-indented to column 0, ending with a newline; None when
        the slice cannot stand alone as the same YAML (then callers serialise the data instead)."""
        node = self.node_at(path)
        if node is None:
            return None
        start, end = node.start_mark, node.end_mark
        text: str | None
        if (isinstance(node, yaml.CollectionNode) and node.flow_style) or isinstance(node, yaml.ScalarNode):
            text = self.text[start.index : end.index].strip() + "\n"
        else:
            text = _dedented(self.text[start.index - start.column : end.index], start.column)
        if text is None:
            return None
        expected = SafeConstructor().construct_document(node)
        try:
            same = yaml.safe_load(text) == expected
        except yaml.YAMLError:
            same = False
        return text if same else None


def _dedented(block: str, indent: int) -> str | None:
    lines = block.splitlines()
    out: list[str] = []
    for line in lines:
        stripped = line.lstrip(" ")
        lead = len(line) - len(stripped)
        if lead >= indent:
            out.append(line[indent:])
        elif not stripped or stripped.startswith("#"):
            out.append(stripped)
        else:
            return None
    while out and (not out[-1].strip() or (out[-1].startswith("#") and _lead(lines[len(out) - 1]) < indent)):
        out.pop()
    return "\n".join(out) + "\n" if out else None


def _lead(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _check_duplicates(node: yaml.Node, source: str, path: YamlPath, seen_nodes: set[int]) -> None:
    if id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[Any, yaml.Node] = {}
        for key, value in node.value:
            name = _key_of(key)
            if name is not None and name in first:
                pos = Position.of(key.start_mark)
                raise SchemaError.single(
                    source,
                    pos.line,
                    pos.column,
                    field_name((*path, name)),
                    f"duplicate key (first given on line {first[name].start_mark.line + 1}); keep only one",
                )
            if name is not None:
                first[name] = key
            _check_duplicates(value, source, (*path, name) if name is not None else path, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicates(item, source, (*path, i), seen_nodes)


_PLAIN_WORDS = (
    ("expected <block end>, but found", "a key here is indented differently from the keys beside it"),
    (
        "mapping values are not allowed here",
        "a ':' is not allowed here: check the indentation, or quote a value that contains ': '",
    ),
    ("found character '\\t'", "tabs cannot indent YAML; use spaces"),
    ("could not find expected ':'", "a key is missing its ':' or a line is indented under a plain value"),
    ("found undefined alias", "an alias (*name) refers to no anchor (&name)"),
)


def _syntax_problem(source: str, text: str, err: yaml.YAMLError) -> SchemaError:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = str(getattr(err, "problem", None) or err)
    context = getattr(err, "context", None)
    raw = (
        f"{context} {problem}"
        if context and problem.startswith("but")
        else (f"{problem} ({context})" if context else problem)
    )
    plain = next((words for pattern, words in _PLAIN_WORDS if pattern in raw), None)
    reason = f"not valid YAML: {plain} (the parser says: {problem})" if plain else f"not valid YAML: {raw}"
    if mark is None:
        return SchemaError.single(source, None, None, "", reason)
    lines = text.splitlines()
    line_text = lines[mark.line] if mark.line < len(lines) else ""
    return SchemaError.single(source, mark.line + 1, mark.column + 1, _key_on_line(line_text), reason)


def _key_on_line(line: str) -> str:
    body = line.strip().removeprefix("- ").strip()
    if ":" in body and not body.startswith(("#", "'", '"', "{", "[")):
        key = body.split(":", 1)[0].strip()
        if key and " " not in key:
            return key
    return ""


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse one YAML document, refusing syntax errors, several documents, an empty file and duplicate keys."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise SchemaError.single(source, 1, 1, "", "the file is empty (expected a YAML mapping)")
        _check_duplicates(root, source, (), set())
        data = loader.construct_document(root)
    except yaml.YAMLError as err:
        raise _syntax_problem(source, text, err) from None
    finally:
        loader.dispose()
    return YamlDocument(source, text, root, data)


def read_yaml(path_or_text: str | Path, default_name: str) -> YamlDocument:
    """A path (a ``Path``, or a one-line string naming a ``.yaml``/``.yml`` or existing file) is read; any other
    string is YAML text, reported as ``default_name``."""
    path: Path | None = None
    if isinstance(path_or_text, Path):
        path = path_or_text
    elif "\n" not in path_or_text and (
        path_or_text.strip().endswith((".yaml", ".yml")) or Path(path_or_text.strip()).is_file()
    ):
        path = Path(path_or_text.strip())
    if path is None:
        return parse_yaml(str(path_or_text), default_name)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise SchemaError([Problem(str(path), None, None, "", f"cannot read the file: {why}")]) from None
    return parse_yaml(text, path.name)
