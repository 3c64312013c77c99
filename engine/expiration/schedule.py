"""When each lease is next due, in memory: the only per-lease state the manager keeps.

A min-heap of (due, lease_id) plus each lease's current due time. Changing a lease's time pushes a
new heap item instead of searching the heap; items whose time no longer matches are stale and are
dropped when they reach the top (and in bulk when they outnumber the live ones). About 200 bytes
per lease: 100,000 leases cost some 20 MB, whatever their entries hold in storage.
"""

from __future__ import annotations

import heapq
from collections.abc import Container, Iterable, Iterator

# Rebuild the heap once stale items exceed this many plus the live ones.
_SLACK = 1024


class Schedule:
    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._due: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, lease_id: object) -> bool:
        return lease_id in self._due

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._due))

    def due(self, lease_id: str) -> float | None:
        return self._due.get(lease_id)

    def set(self, lease_id: str, due: float) -> bool:
        """Schedule (or reschedule) `lease_id`; True when it is now the first one due."""
        first = self.next_due()
        self._due[lease_id] = due
        heapq.heappush(self._heap, (due, lease_id))
        if len(self._heap) > 2 * len(self._due) + _SLACK:
            self._compact()
        return first is None or due < first

    def add_missing(self, items: Iterable[tuple[str, float]], skip: Container[str] = ()) -> list[str]:
        """Schedule those of `items` not scheduled yet and not in `skip` (the background restore, which
        must not undo what changed since its listing); returns the ids added."""
        added: list[str] = []
        for lease_id, due in items:
            if lease_id in self._due or lease_id in skip:
                continue
            self._due[lease_id] = due
            heapq.heappush(self._heap, (due, lease_id))
            added.append(lease_id)
        return added

    def discard(self, lease_id: str) -> None:
        self._due.pop(lease_id, None)

    def next_due(self) -> float | None:
        heap = self._heap
        while heap:
            due, lease_id = heap[0]
            if self._due.get(lease_id) == due:
                return due
            heapq.heappop(heap)
        return None

    def pop_due(self, now: float, limit: int) -> list[str]:
        """Take out up to `limit` leases due at `now`, earliest first. The caller reschedules those it
        could not revoke."""
        taken: list[str] = []
        while len(taken) < limit:
            due = self.next_due()
            if due is None or due > now:
                break
            _, lease_id = heapq.heappop(self._heap)
            del self._due[lease_id]
            taken.append(lease_id)
        return taken

    def _compact(self) -> None:
        self._heap = [(due, lease_id) for lease_id, due in self._due.items()]
        heapq.heapify(self._heap)
