"""YAML as a config is read: safe loading (YAML 1.2 floats), a cap on what aliases expand to, and the line of
every key (before ``<<:`` merges are flattened), so an error can name it."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import yaml

# stand for billions of values, which anything walking the config would take hours over.
MAX_CONFIG_VALUES = 100_000


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading YAML 1.2's floats without a dot (``1e-3``) as numbers, not as strings."""


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"),
)


class TooManyValues(yaml.YAMLError):
    """The document's aliases expand to more than ``MAX_CONFIG_VALUES`` values."""


class Layout(NamedTuple):
    lines: dict[str, int | str]  # dotted key -> line
    duplicates: list[tuple[str, int, int]]  # dotted key, first line, second line


def parse_yaml(text: str) -> tuple[Any, Layout]:
    """One YAML document: its value, and where its keys are (read before ``<<:`` merges are flattened)."""
    loader = YamlLoader(text)
    try:
        node = loader.get_single_node()
        if _expanded_size(node) > MAX_CONFIG_VALUES:
            raise TooManyValues(f"its aliases (*name) expand to more than {MAX_CONFIG_VALUES:,} values")
        layout = Layout(*key_lines(node))
        return (loader.construct_document(node) if node is not None else None), layout
    finally:
        loader.dispose()


def _expanded_size(root: yaml.Node | None) -> int:
    """How many values a YAML document holds once its aliases are expanded (a node inside itself: no end)."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) not in sizes:
            sizes[id(node)] = MAX_CONFIG_VALUES + 1  # until known: a node met again inside itself is endless
            children = node.value if isinstance(node, yaml.CollectionNode) else []
            nodes = [n for child in children for n in (child if isinstance(child, tuple) else (child,))]
            sizes[id(node)] = min(1 + sum(size(n) for n in nodes), MAX_CONFIG_VALUES + 1)
        return sizes[id(node)]

    return size(root) if root is not None else 0


def key_lines(root: yaml.Node | None) -> tuple[dict[str, int | str], list[tuple[str, int, int]]]:
    """Map every dotted key (and list index) of a YAML document to its 1-based line; and the keys set twice."""
    lines: dict[str, int | str] = {}
    duplicates: list[tuple[str, int, int]] = []
    walked: set[int] = set()

    def walk(node: yaml.Node, prefix: str) -> None:
        if id(node) in walked:  # an alias of a node already walked
            return
        walked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, Any], int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: later keys override on purpose
                    continue
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                dotted, line = f"{prefix}{key}", key_node.start_mark.line + 1
                if (key_node.tag, key) in first:
                    duplicates.append((dotted, first[key_node.tag, key], line))
                first.setdefault((key_node.tag, key), line)
                lines[dotted] = line  # the last one: its value is the one loaded
                walk(value_node, f"{dotted}.")
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines.setdefault(f"{prefix}{index}", item.start_mark.line + 1)
                walk(item, f"{prefix}{index}.")

    if root is not None:
        walk(root, "")
    return lines, duplicates
