"""Where a `sealer kv` path lives: its mount, the key inside it, and whether the mount is KV version 1 or
2, found the way Vault's CLI finds it (kvPreflightVersionRequest): ask sys/internal/ui/mounts/<path>; a
server without that endpoint is asked for sys/mounts instead; when neither answers, version 1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sealer.cli.base import CommandFailed, Context, Exit
from sealer.cli.calls import failing, mount_path
from sealer.cli.client import ClientError


@dataclass(frozen=True)
class KvTarget:
    mount: str    # "secret/" ("" when unknown: a v1 path is used as given)
    key: str      # "app/db", without the mount
    version: int  # 1 or 2

    def api(self, section: str) -> str:
        """The API path for a v2 section (data, metadata, delete, undelete, destroy); the path itself for v1."""
        if self.version == 1:
            return f"{self.mount}{self.key}"
        return f"{self.mount}{section}/{self.key}".rstrip("/")

    @property
    def unsure(self) -> str:
        """A note for error messages when the mount could not be found (so version 1 was assumed)."""
        if self.mount:
            return ""
        return ("\n(the mount and its K/V version could not be read with this token, so version 1 was assumed; "
                "on a version 2 mount use `sealer read MOUNT/data/KEY`, `sealer write MOUNT/data/KEY`)")

    def require_v2(self, verb: str) -> None:
        if self.version != 2:
            raise CommandFailed(f"KV engine mount must be version 2 for {verb} support{self.unsure}")


def resolve(ctx: Context, path: str, mount_flag: str | None) -> KvTarget:
    path = path.strip().lstrip("/")
    full = mount_path(mount_flag) + path.strip("/") if mount_flag else path
    info = _mount_info(ctx, full)
    if info is None:
        return KvTarget(mount="", key=full.strip("/"), version=1)
    found_mount, options = info
    if not (full + "/").startswith(found_mount):
        raise CommandFailed(f"path {full!r} is not under mount {found_mount!r}", Exit.USAGE)
    version = 2 if str(options.get("version", "1")) == "2" else 1
    return KvTarget(mount=found_mount, key=full[len(found_mount):].strip("/"), version=version)


def _mount_info(ctx: Context, full: str) -> tuple[str, dict[str, Any]] | None:
    client = ctx.client()
    with failing("Error determining the K/V version of the mount"):
        try:
            answer = client.get(f"sys/internal/ui/mounts/{full}") or {}
            data = answer.get("data") or {}
            if data.get("path"):
                return mount_path(str(data["path"])), data.get("options") or {}
        except ClientError as exc:
            if exc.status not in (400, 403, 404, 405):
                raise
        try:
            answer = client.get("sys/mounts") or {}
        except ClientError as exc:
            if exc.status in (403, 404):
                return None  # cannot tell: treat as version 1, as Vault does when preflight is refused
            raise
    mounts = answer.get("data") or answer
    candidates = [p for p, entry in mounts.items()
                  if isinstance(entry, dict) and (full + "/").startswith(p)]
    if not candidates:
        return None
    best = max(candidates, key=len)
    entry = mounts[best]
    options = dict(entry.get("options") or {})
    if entry.get("type") == "kv-v2":
        options["version"] = "2"
    return best, options
