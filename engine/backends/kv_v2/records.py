"""What a KV v2 mount stores (Vault's KeyMetadata, VersionMetadata and Configuration) and the rules
that live on them: the sliding window of kept versions and when a version counts as deleted."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine.backends.kv_v2.times import go_duration, load_time, show_time

# Kept per key when neither the mount's config nor the key's metadata sets max_versions.
DEFAULT_MAX_VERSIONS = 10


@dataclass
class VersionMeta:
    created_time: datetime
    deletion_time: datetime | None = None
    destroyed: bool = False

    def deleted(self, now: datetime) -> bool:
        # Vault compares with Before(now); "at or before" only differs for a clock that stands still.
        return self.deletion_time is not None and self.deletion_time <= now

    def unreadable(self, now: datetime) -> bool:
        return self.destroyed or self.deleted(now)

    def view(self) -> dict[str, Any]:
        return {
            "created_time": show_time(self.created_time),
            "deletion_time": show_time(self.deletion_time),
            "destroyed": self.destroyed,
        }

    def to_json(self) -> dict[str, Any]:
        # Times stay datetimes: the store's encoder writes them as isoformat() does (see store.py).
        return {"created_time": self.created_time, "deletion_time": self.deletion_time, "destroyed": self.destroyed}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> VersionMeta:
        created = load_time(raw["created_time"])
        assert created is not None
        return cls(created, load_time(raw.get("deletion_time")), bool(raw.get("destroyed", False)))


@dataclass
class KeyMetadata:
    key: str
    versions: dict[int, VersionMeta] = field(default_factory=dict)
    current_version: int = 0
    oldest_version: int = 0
    created_time: datetime | None = None
    updated_time: datetime | None = None
    max_versions: int = 0
    cas_required: bool = False
    delete_version_after: int = 0  # seconds; 0: the mount's setting applies
    custom_metadata: dict[str, str] = field(default_factory=dict)

    def add_version(
        self, created: datetime, deletion: datetime | None, config_max_versions: int
    ) -> tuple[VersionMeta, list[int]]:
        """Record a new current version and slide the window of kept versions (Vault's AddVersion):
        the larger of the key's and the mount's max_versions wins, 10 when neither is set. Returns the
        new version and the numbers of the versions that fell out of the window, whose data goes."""
        version = VersionMeta(created, deletion)
        self.current_version += 1
        self.versions[self.current_version] = version
        self.updated_time = created
        if self.created_time is None:
            self.created_time = created
        keep = max(self.max_versions, config_max_versions) or DEFAULT_MAX_VERSIONS
        if self.current_version - self.oldest_version < keep:
            return version, []
        last_dropped = self.current_version - keep
        # A loop, not one step: max_versions may have been lowered since the last write.
        dropped = list(range(self.oldest_version, last_dropped + 1))
        for number in dropped:
            self.versions.pop(number, None)
        self.oldest_version = last_dropped + 1
        return version, [n for n in dropped if n > 0]

    def copy(self) -> KeyMetadata:
        """A copy to change, down to each version: a fraction of the cost of parsing the stored JSON again."""
        versions = {n: VersionMeta(v.created_time, v.deletion_time, v.destroyed) for n, v in self.versions.items()}
        return KeyMetadata(
            key=self.key,
            versions=versions,
            current_version=self.current_version,
            oldest_version=self.oldest_version,
            created_time=self.created_time,
            updated_time=self.updated_time,
            max_versions=self.max_versions,
            cas_required=self.cas_required,
            delete_version_after=self.delete_version_after,
            custom_metadata=dict(self.custom_metadata),
        )

    def version_view(self, number: int, version: VersionMeta) -> dict[str, Any]:
        """The per-version metadata data/ and subkeys/ answer with."""
        return {
            "version": number,
            **version.view(),
            "custom_metadata": self.custom_metadata_view(),
        }

    def custom_metadata_view(self) -> dict[str, str] | None:
        # Vault keeps it in protobuf, where an empty map reads back as nil: shown as null.
        return dict(self.custom_metadata) or None

    def view(self) -> dict[str, Any]:
        """GET metadata/<path>."""
        return {
            "versions": {str(number): version.view() for number, version in sorted(self.versions.items())},
            "current_version": self.current_version,
            "oldest_version": self.oldest_version,
            "created_time": show_time(self.created_time),
            "updated_time": show_time(self.updated_time),
            "max_versions": self.max_versions,
            "cas_required": self.cas_required,
            "delete_version_after": go_duration(self.delete_version_after),
            "custom_metadata": self.custom_metadata_view(),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "versions": {str(number): version.to_json() for number, version in self.versions.items()},
            "current_version": self.current_version,
            "oldest_version": self.oldest_version,
            "created_time": self.created_time,
            "updated_time": self.updated_time,
            "max_versions": self.max_versions,
            "cas_required": self.cas_required,
            "delete_version_after": self.delete_version_after,
            "custom_metadata": dict(self.custom_metadata),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> KeyMetadata:
        return cls(
            key=raw["key"],
            versions={int(number): VersionMeta.from_json(v) for number, v in raw.get("versions", {}).items()},
            current_version=int(raw.get("current_version", 0)),
            oldest_version=int(raw.get("oldest_version", 0)),
            created_time=load_time(raw.get("created_time")),
            updated_time=load_time(raw.get("updated_time")),
            max_versions=int(raw.get("max_versions", 0)),
            cas_required=bool(raw.get("cas_required", False)),
            delete_version_after=int(raw.get("delete_version_after", 0)),
            custom_metadata=dict(raw.get("custom_metadata") or {}),
        )

    @classmethod
    def from_json_bytes(cls, raw: bytes) -> KeyMetadata:
        return cls.from_json(json.loads(raw))


@dataclass
class KvConfig:
    """The mount-wide settings (config)."""

    max_versions: int = 0
    cas_required: bool = False
    # Seconds; 0: not set; negative: delete_version_after is disabled for every key.
    delete_version_after: int = 0

    @property
    def delete_version_after_disabled(self) -> bool:
        return self.delete_version_after < 0

    def deletion_time(self, start: datetime, meta: KeyMetadata) -> datetime | None:
        """When a version written (or undeleted) at `start` is due to read as deleted: after the
        smaller of the key's and the mount's non-zero delete_version_after, or never."""
        if self.delete_version_after_disabled:
            return None
        candidates = [s for s in (self.delete_version_after, meta.delete_version_after) if s > 0]
        if not candidates:
            return None
        return start + timedelta(seconds=min(candidates))

    def view(self) -> dict[str, Any]:
        return {
            "max_versions": self.max_versions,
            "cas_required": self.cas_required,
            "delete_version_after": go_duration(self.delete_version_after),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "max_versions": self.max_versions,
            "cas_required": self.cas_required,
            "delete_version_after": self.delete_version_after,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> KvConfig:
        return cls(
            max_versions=int(raw.get("max_versions", 0)),
            cas_required=bool(raw.get("cas_required", False)),
            delete_version_after=int(raw.get("delete_version_after", 0)),
        )
