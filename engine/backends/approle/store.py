"""The approle method's storage, in the mount's view. Secret IDs and role IDs are credentials, so none
appears in clear anywhere, not even behind the barrier: they are stored and indexed by HMAC.

    salt                                   random key for the role-id and accessor indexes
    role/<lower-case name>                 RoleEntry
    role_id/<hmac(salt, role_id)>          {"name": role name}
    secret_id/<hmac(k, name)>/<hmac(k, secret_id)>   SecretIdEntry   (k: the role's own hmac_key)
    accessor/<hmac(salt, accessor)>        {"secret_id_hmac": ...}
"""

from __future__ import annotations

import json
import secrets

from engine.backends.approle.entries import RoleEntry, SecretIdEntry
from engine.crypto import hmac_sha256, random_bytes
from engine.errors import BadRequest
from engine.storage.base import Delete, Put, Storage

SALT_KEY = "salt"
ROLE_PREFIX = "role/"
ROLE_ID_PREFIX = "role_id/"
SECRET_ID_PREFIX = "secret_id/"
ACCESSOR_PREFIX = "accessor/"

# Vault refuses to HMAC longer inputs (and role names longer than this).
MAX_HMAC_INPUT = 4096


def new_hmac_key() -> str:
    return secrets.token_hex(32)


def hmac_hex(key: str | bytes, value: str) -> str:
    if len(value) > MAX_HMAC_INPUT:
        raise BadRequest(f"value is longer than maximum of {MAX_HMAC_INPUT} bytes")
    raw_key = key.encode() if isinstance(key, str) else key
    return hmac_sha256(raw_key, value.encode()).hex()


class ApproleStore:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def _salt(self) -> bytes:
        salt = await self.storage.get(SALT_KEY)
        if salt is None:
            salt = random_bytes(32)
            await self.storage.put(SALT_KEY, salt)
        return salt

    # --- roles --------------------------------------------------------------------------------

    async def role(self, name: str) -> RoleEntry | None:
        raw = await self.storage.get(ROLE_PREFIX + name.lower())
        return None if raw is None else RoleEntry.from_json(raw)

    async def role_names(self) -> list[str]:
        return await self.storage.list(ROLE_PREFIX)

    async def role_name_for_id(self, role_id: str) -> str | None:
        raw = await self.storage.get(ROLE_ID_PREFIX + hmac_hex(await self._salt(), role_id))
        return None if raw is None else str(json.loads(raw)["name"])

    async def save_role(self, name: str, role: RoleEntry, previous_role_id: str = "") -> None:
        """Persist `role` and its role-id index in one batch (Vault's setRoleEntry)."""
        if not role.has_constraint():
            raise BadRequest("at least one constraint should be enabled on the role")
        owner = await self.role_name_for_id(role.role_id)
        if owner is not None and owner != name:
            raise BadRequest("role_id already in use")
        salt = await self._salt()
        ops: list[Put | Delete] = []
        if previous_role_id and previous_role_id != role.role_id:
            ops.append(Delete(ROLE_ID_PREFIX + hmac_hex(salt, previous_role_id)))
        ops.append(Put(ROLE_PREFIX + name, role.to_json()))
        ops.append(Put(ROLE_ID_PREFIX + hmac_hex(salt, role.role_id), json.dumps({"name": name}).encode()))
        await self.storage.batch(ops)

    async def delete_role(self, name: str, role: RoleEntry) -> None:
        """The role, its role-id index and every secret ID issued against it."""
        salt = await self._salt()
        ops: list[Put | Delete] = []
        folder = self._secret_folder(role, name)
        for secret_hmac in await self.storage.list(folder):
            entry = await self.secret_id_at(folder + secret_hmac)
            if entry is not None:
                ops.append(Delete(ACCESSOR_PREFIX + hmac_hex(salt, entry.secret_id_accessor)))
            ops.append(Delete(folder + secret_hmac))
        ops.append(Delete(ROLE_ID_PREFIX + hmac_hex(salt, role.role_id)))
        ops.append(Delete(ROLE_PREFIX + name))
        await self.storage.batch(ops)

    # --- secret IDs ---------------------------------------------------------------------------

    @staticmethod
    def _secret_folder(role: RoleEntry, name: str) -> str:
        return f"{SECRET_ID_PREFIX}{hmac_hex(role.hmac_key, name)}/"

    def secret_key(self, role: RoleEntry, name: str, secret_id: str) -> str:
        return self._secret_folder(role, name) + hmac_hex(role.hmac_key, secret_id)

    def secret_key_for_hmac(self, role: RoleEntry, name: str, secret_hmac: str) -> str:
        return self._secret_folder(role, name) + secret_hmac

    async def secret_id_at(self, key: str) -> SecretIdEntry | None:
        raw = await self.storage.get(key)
        return None if raw is None else SecretIdEntry.from_json(raw)

    async def secret_hmacs(self, role: RoleEntry, name: str) -> list[str]:
        return await self.storage.list(self._secret_folder(role, name))

    async def add_secret_id(self, key: str, entry: SecretIdEntry) -> None:
        if await self.storage.get(key) is not None:
            raise BadRequest("SecretID is already registered")
        accessor_key = ACCESSOR_PREFIX + hmac_hex(await self._salt(), entry.secret_id_accessor)
        secret_hmac = key.rsplit("/", 1)[1]
        await self.storage.batch(
            [
                Put(accessor_key, json.dumps({"secret_id_hmac": secret_hmac}).encode()),
                Put(key, entry.to_json()),
            ]
        )

    async def update_secret_id(self, key: str, entry: SecretIdEntry) -> None:
        await self.storage.put(key, entry.to_json())

    async def delete_secret_id(self, key: str, entry: SecretIdEntry) -> None:
        accessor_key = ACCESSOR_PREFIX + hmac_hex(await self._salt(), entry.secret_id_accessor)
        await self.storage.batch([Delete(accessor_key), Delete(key)])

    async def secret_hmac_for_accessor(self, accessor: str) -> str | None:
        raw = await self.storage.get(ACCESSOR_PREFIX + hmac_hex(await self._salt(), accessor))
        return None if raw is None else str(json.loads(raw)["secret_id_hmac"])

    # --- tidy ---------------------------------------------------------------------------------

    async def tidy(self, now: float) -> int:
        """Delete expired secret IDs and accessor entries whose secret ID is gone; the count removed."""
        salt = await self._salt()
        live: set[str] = set()
        ops: list[Put | Delete] = []
        for folder in await self.storage.list(SECRET_ID_PREFIX):
            for secret_hmac in await self.storage.list(SECRET_ID_PREFIX + folder):
                key = SECRET_ID_PREFIX + folder + secret_hmac
                entry = await self.secret_id_at(key)
                if entry is None:
                    continue
                if entry.expired(now):
                    ops.append(Delete(key))
                    ops.append(Delete(ACCESSOR_PREFIX + hmac_hex(salt, entry.secret_id_accessor)))
                else:
                    live.add(secret_hmac)
        expired_accessors = {op.key for op in ops if op.key.startswith(ACCESSOR_PREFIX)}
        for name in await self.storage.list(ACCESSOR_PREFIX):
            key = ACCESSOR_PREFIX + name
            if key in expired_accessors:
                continue
            raw = await self.storage.get(key)
            if raw is not None and json.loads(raw)["secret_id_hmac"] not in live:
                ops.append(Delete(key))
        if ops:
            await self.storage.batch(ops)
        return len(ops)
