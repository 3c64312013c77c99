"""The routing table: which backend answers a path (Vault's vault/router.go). Longest-prefix match over
mount points; mounts never nest, so one route at most can match."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import BadRequest
from engine.framework import Backend
from engine.storage.base import Storage

if TYPE_CHECKING:
    from engine.mounts import MountEntry


@dataclass(frozen=True)
class Route:
    entry: MountEntry
    backend: Backend
    storage: Storage  # the mount's view of the barrier


class Router:
    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}

    def conflict(self, path: str) -> str | None:
        """The existing mount point that `path` would sit inside or above, if any."""
        for existing in self._routes:
            if existing.startswith(path) or path.startswith(existing):
                return existing
        return None

    def add(self, route: Route) -> None:
        if not route.entry.path.endswith("/"):
            raise ValueError(f"mount point {route.entry.path!r} must end in '/'")
        existing = self.conflict(route.entry.path)
        if existing is not None:
            raise BadRequest(f"path is already in use at {existing}")
        self._routes[route.entry.path] = route

    def remove(self, path: str) -> None:
        self._routes.pop(path, None)

    def get(self, mount_path: str) -> Route | None:
        """The route mounted exactly at `mount_path`."""
        return self._routes.get(mount_path)

    def routes(self) -> list[Route]:
        return list(self._routes.values())

    def match(self, path: str) -> tuple[Route, str] | None:
        """The route for a request path and the path below its mount point. As Vault does, "secret"
        also finds the mount "secret/"."""
        route = self._longest_prefix(path)
        if route is None and not path.endswith("/"):
            path += "/"
            route = self._longest_prefix(path)
        if route is None:
            return None
        return route, path[len(route.entry.path) :]

    def _longest_prefix(self, path: str) -> Route | None:
        # Mount points end in "/" and never nest: the one that is a prefix of `path` ends at one of its
        # slashes, so a dictionary lookup per slash finds it.
        end = path.find("/")
        while end != -1:
            route = self._routes.get(path[: end + 1])
            if route is not None:
                return route
            end = path.find("/", end + 1)
        return None
