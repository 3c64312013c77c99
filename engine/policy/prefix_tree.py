"""A radix tree answering "which stored prefix is the longest prefix of this path" by walking the path
once, whatever the number of prefixes (Vault uses armon/go-radix's LongestPrefix for the same job)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

V = TypeVar("V")


@dataclass(eq=False)
class _Node(Generic[V]):
    # first character of an edge label -> (label, child): labels out of one node never share a start.
    edges: dict[str, tuple[str, _Node[V]]] = field(default_factory=dict)
    value: V | None = None
    has_value: bool = False


class PrefixTree(Generic[V]):
    def __init__(self) -> None:
        self._root: _Node[V] = _Node()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def insert(self, key: str, value: V) -> None:
        node, rest = self._root, key
        while rest:
            edge = node.edges.get(rest[0])
            if edge is None:
                node.edges[rest[0]] = (rest, self._leaf(value))
                return
            label, child = edge
            common = _common_prefix(label, rest)
            if common < len(label):
                # Split the edge: the shared part leads to a new node holding both continuations.
                middle: _Node[V] = _Node()
                middle.edges[label[common]] = (label[common:], child)
                node.edges[rest[0]] = (label[:common], middle)
                child = middle
            node, rest = child, rest[common:]
        if not node.has_value:
            self._size += 1
        node.value, node.has_value = value, True

    def _leaf(self, value: V) -> _Node[V]:
        self._size += 1
        return _Node(value=value, has_value=True)

    def longest_prefix(self, key: str) -> tuple[str, V, int] | None:
        """(the longest stored prefix of `key`, its value, edges followed), or None."""
        node, pos, steps = self._root, 0, 0
        best, best_at = (node, 0) if node.has_value else (None, 0)
        while pos < len(key):
            edge = node.edges.get(key[pos])
            if edge is None:
                break
            label, child = edge
            steps += 1
            if not key.startswith(label, pos):
                break
            pos += len(label)
            node = child
            if node.has_value:
                best, best_at = node, pos
        if best is None:
            return None
        return key[:best_at], cast(V, best.value), steps

def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
