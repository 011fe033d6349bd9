"""YAML read into plain Python values that remember where each one was written.

Rule files are data written by people: every problem must point at a line and
column. We compose the YAML into nodes ourselves (instead of loading it) so
that aliases, depth and size are checked before anything is built, and every
mapping and list carries the position of its keys and items.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from policy_service.errors import Problem, RuleFileError

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_NODES = 50_000

# Scalars become str, int, float, bool or None; anything else (dates, binary)
# keeps its written text, so a timestamp in a test event stays an ISO string.
_TYPED_TAGS = {
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


@dataclass(frozen=True)
class Pos:
    """A 1-based line and column in a file."""

    line: int
    column: int


def _pos(node: Node) -> Pos:
    return Pos(node.start_mark.line + 1, node.start_mark.column + 1)


class LocDict(dict[str, Any]):
    """A mapping from YAML that knows where it, its keys and its values are."""

    pos: Pos
    key_pos: dict[str, Pos]
    value_pos: dict[str, Pos]


class LocList(list[Any]):
    """A list from YAML that knows where it and each item are."""

    pos: Pos
    item_pos: list[Pos]


def position_of(value: object, default: Pos) -> Pos:
    """The position of a mapping or list from YAML, or `default` for a scalar."""
    if isinstance(value, LocDict | LocList):
        return value.pos
    return default


def parse_yaml(data: bytes, path: str) -> Any:
    """Parse one YAML document into Loc values; raise RuleFileError with positions."""
    if len(data) > MAX_FILE_BYTES:
        raise RuleFileError(
            [Problem(path, 1, 1, f"file is {len(data)} bytes; the limit is {MAX_FILE_BYTES}")]
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RuleFileError(
            [Problem(path, line, column, f"not UTF-8 text (byte 0x{data[exc.start]:02x})")]
        ) from None
    yaml = YAML(typ="safe", pure=True)
    try:
        node = yaml.compose(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise RuleFileError([Problem(path, line, column, f"invalid YAML: {message}")]) from None
    except YAMLError as exc:
        raise RuleFileError([Problem(path, 1, 1, f"invalid YAML: {exc}")]) from None
    if node is None:
        return None
    return _Builder(path, yaml).build(node, 0)


class _Builder:
    def __init__(self, path: str, yaml: YAML) -> None:
        self._path = path
        self._yaml = yaml
        self._seen: set[int] = set()

    def _fail(self, node: Node, message: str) -> RuleFileError:
        p = _pos(node)
        return RuleFileError([Problem(self._path, p.line, p.column, message)])

    def build(self, node: Node, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self._fail(node, f"nested deeper than {MAX_DEPTH} levels")
        # An alias is the same node object met twice: refuse it, so that an
        # alias bomb cannot expand and rule files stay readable on their own.
        if id(node) in self._seen:
            raise self._fail(
                node,
                "YAML anchors and aliases are not allowed in rule files (this value is reused)",
            )
        self._seen.add(id(node))
        if len(self._seen) > MAX_NODES:
            raise self._fail(node, f"more than {MAX_NODES} values in one file")
        if isinstance(node, MappingNode):
            return self._mapping(node, depth)
        if isinstance(node, SequenceNode):
            result = LocList()
            result.pos = _pos(node)
            result.item_pos = []
            for item in node.value:
                result.append(self.build(item, depth + 1))
                result.item_pos.append(_pos(item))
            return result
        assert isinstance(node, ScalarNode)
        if node.tag in _TYPED_TAGS:
            return self._yaml.constructor.construct_object(node, deep=True)
        return str(node.value)

    def _mapping(self, node: MappingNode, depth: int) -> LocDict:
        result = LocDict()
        result.pos = _pos(node)
        result.key_pos = {}
        result.value_pos = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self._fail(key_node, "YAML merge keys (<<) are not allowed in rule files")
            if not isinstance(key_node, ScalarNode):
                raise self._fail(key_node, "mapping keys must be plain text")
            key = str(key_node.value)
            if key in result:
                raise self._fail(key_node, f"key {key!r} appears twice in the same mapping")
            result[key] = self.build(value_node, depth + 1)
            result.key_pos[key] = _pos(key_node)
            result.value_pos[key] = _pos(value_node)
        return result
