"""approle secret IDs: issue (role/<name>/secret-id, role/<name>/custom-secret-id), list their
accessors, look up and destroy them by value or by accessor, and tidy the expired ones."""

from __future__ import annotations

import uuid

from engine.backends.approle.context import ROLE, ApproleContext
from engine.backends.approle.entries import RoleEntry, SecretIdEntry, parse_metadata
from engine.backends.approle.store import ApproleStore
from engine.backends.cidrs import is_subset, quoted_list, validate_cidr_blocks
from engine.errors import BadRequest, NotFound, PermissionDenied
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

_SECRET_ID = {"secret_id": Field(FieldType.STRING, description="The secret ID.")}
_ACCESSOR = {"secret_id_accessor": Field(FieldType.STRING, description="The accessor of a secret ID.")}
_ISSUE_FIELDS = {
    "metadata": Field(FieldType.STRING, description="JSON (or k=v,...) metadata put on issued tokens."),
    "cidr_list": Field(FieldType.LIST, description="CIDR blocks allowed to log in with this secret ID."),
    "token_bound_cidrs": Field(FieldType.LIST, description="CIDR blocks allowed to use issued tokens."),
    "num_uses": Field(FieldType.INT, description="Uses of this secret ID; 0 is unlimited."),
    "ttl": Field(FieldType.DURATION, description="Lifetime of this secret ID; 0 never expires."),
}

TIDY_WARNING = (
    "Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs."
)


def subset_error(role_cidrs: list[str], secret_cidrs: list[str]) -> BadRequest:
    return BadRequest(
        f"failed to verify subset relationship between CIDR blocks on the role {quoted_list(role_cidrs)} "
        f"and CIDR blocks on the secret ID {quoted_list(secret_cidrs)}"
    )


def _as_blocks(cidrs: list[str]) -> list[str]:
    # Vault's verifyCIDRRoleSecretIDSubset: role addresses stored without a mask are /32 blocks.
    return [c if "/" in c else c + ("/128" if ":" in c else "/32") for c in cidrs]


class SecretIdPaths:
    def __init__(self, ctx: ApproleContext) -> None:
        self.ctx = ctx

    def paths(self) -> list[Path]:
        return [
            Path(
                rf"{ROLE}/secret-id/?",
                fields=_ISSUE_FIELDS,
                operations={Op.UPDATE: self.generate, Op.LIST: self.list_accessors},
                synopsis="Generate a secret ID for a role, or list the accessors of its secret IDs.",
            ),
            Path(
                rf"{ROLE}/custom-secret-id",
                fields={**_ISSUE_FIELDS, **_SECRET_ID},
                operations={Op.UPDATE: self.custom},
                synopsis="Assign a secret ID of choice to a role.",
            ),
            Path(
                rf"{ROLE}/secret-id/lookup/?",
                fields=_SECRET_ID,
                operations={Op.UPDATE: self.lookup},
                synopsis="Read the properties of a secret ID.",
            ),
            Path(
                rf"{ROLE}/secret-id/destroy/?",
                fields=_SECRET_ID,
                operations={Op.UPDATE: self.destroy, Op.DELETE: self.destroy},
                synopsis="Invalidate a secret ID.",
            ),
            Path(
                rf"{ROLE}/secret-id-accessor/lookup/?",
                fields=_ACCESSOR,
                operations={Op.UPDATE: self.lookup_accessor},
                synopsis="Read the properties of a secret ID by its accessor.",
            ),
            Path(
                rf"{ROLE}/secret-id-accessor/destroy/?",
                fields=_ACCESSOR,
                operations={Op.UPDATE: self.destroy_accessor, Op.DELETE: self.destroy_accessor},
                synopsis="Invalidate a secret ID by its accessor.",
            ),
            Path("tidy/secret-id", operations={Op.UPDATE: self.tidy}, synopsis="Remove expired secret IDs."),
        ]

    async def _role(
        self, store: ApproleStore, data: FieldData, *, missing: type[BadRequest] | type[NotFound] = BadRequest
    ) -> tuple[str, RoleEntry]:
        name: str = data.get("role_name").lower()
        role = await store.role(name)
        if role is None:
            raise missing(f'role "{name}" does not exist')
        return name, role

    # --- issue --------------------------------------------------------------------------------

    async def generate(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return await self._issue(data, storage, str(uuid.uuid4()))

    async def custom(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return await self._issue(data, storage, data.get("secret_id"))

    async def _issue(self, data: FieldData, storage: Storage, secret_id: str) -> Response:
        """Vault's handleRoleSecretIDCommon."""
        if not secret_id:
            raise BadRequest("missing secret_id")
        store = ApproleStore(storage)
        name, role = await self._role(store, data, missing=NotFound)
        if not role.bind_secret_id:
            raise BadRequest("bind_secret_id is not set on the role")

        cidrs = validate_cidr_blocks(data.get("cidr_list"))
        if cidrs and role.secret_id_bound_cidrs and not is_subset(role.secret_id_bound_cidrs, cidrs):
            raise subset_error(role.secret_id_bound_cidrs, cidrs)
        token_cidrs = validate_cidr_blocks(data.get("token_bound_cidrs"))
        role_token_cidrs = _as_blocks(role.token_bound_cidrs)
        if token_cidrs and role_token_cidrs and not is_subset(role_token_cidrs, token_cidrs):
            raise subset_error(role_token_cidrs, token_cidrs)

        num_uses, given = data.get_ok("num_uses")
        if given:
            if num_uses < 0:
                raise BadRequest("num_uses cannot be negative")
            limit = role.secret_id_num_uses
            if limit > 0 and (num_uses == 0 or num_uses > limit):
                raise BadRequest("num_uses cannot be higher than the role's secret_id_num_uses")
        else:
            num_uses = role.secret_id_num_uses
        ttl, given = data.get_ok("ttl")
        if given:
            limit = role.secret_id_ttl
            if limit > 0 and (ttl == 0 or ttl > limit):
                raise BadRequest("ttl cannot be longer than the role's secret_id_ttl")
        else:
            ttl = role.secret_id_ttl
        # Vault's deriveSecretIDTTL: never beyond the mount's max lease TTL.
        effective_ttl = min(ttl, self.ctx.mount.max_lease_ttl()) if ttl else 0

        now = self.ctx.now()
        entry = SecretIdEntry(
            secret_id_accessor=str(uuid.uuid4()),
            secret_id_num_uses=num_uses,
            secret_id_ttl=ttl,
            creation_time=now,
            last_updated_time=now,
            expiration_time=now + effective_ttl if effective_ttl else 0.0,
            metadata=parse_metadata(data.get("metadata")),
            cidr_list=cidrs,
            token_bound_cidrs=token_cidrs,
        )
        async with self.ctx.lock:
            await store.add_secret_id(store.secret_key(role, name, secret_id), entry)
        return Response(
            data={
                "secret_id": secret_id,
                "secret_id_accessor": entry.secret_id_accessor,
                "secret_id_ttl": effective_ttl,
                "secret_id_num_uses": num_uses,
            }
        )

    # --- list, look up, destroy ---------------------------------------------------------------

    async def list_accessors(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        store = ApproleStore(storage)
        name, role = await self._role(store, data)
        accessors = []
        for secret_hmac in await store.secret_hmacs(role, name):
            entry = await store.secret_id_at(store.secret_key_for_hmac(role, name, secret_hmac))
            if entry is not None:
                accessors.append(entry.secret_id_accessor)
        return Response(data={"keys": accessors} if accessors else {})

    async def _by_secret_id(self, data: FieldData, storage: Storage) -> tuple[ApproleStore, str]:
        secret_id = data.get("secret_id")
        if not secret_id:
            raise BadRequest("missing secret_id")
        store = ApproleStore(storage)
        name, role = await self._role(store, data)
        return store, store.secret_key(role, name, secret_id)

    async def lookup(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        store, key = await self._by_secret_id(data, storage)
        async with self.ctx.lock:
            entry = await store.secret_id_at(key)
            if entry is None:
                return None
            if await store.secret_hmac_for_accessor(entry.secret_id_accessor) is None:
                await store.delete_secret_id(key, entry)
                raise BadRequest("invalid secret id")
        return Response(data=entry.describe())

    async def destroy(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        store, key = await self._by_secret_id(data, storage)
        async with self.ctx.lock:
            entry = await store.secret_id_at(key)
            if entry is not None:
                await store.delete_secret_id(key, entry)
        return None

    async def _by_accessor(
        self, data: FieldData, storage: Storage, *, missing: type[BadRequest] | type[NotFound]
    ) -> tuple[ApproleStore, str, SecretIdEntry | None]:
        accessor = data.get("secret_id_accessor")
        if not accessor:
            raise BadRequest("missing secret_id_accessor")
        store = ApproleStore(storage)
        name, role = await self._role(store, data)
        secret_hmac = await store.secret_hmac_for_accessor(accessor)
        if secret_hmac is None:
            raise missing(f'failed to find accessor entry for secret_id_accessor: "{accessor}"')
        key = store.secret_key_for_hmac(role, name, secret_hmac)
        return store, key, await store.secret_id_at(key)

    async def lookup_accessor(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        _, _, entry = await self._by_accessor(data, storage, missing=NotFound)
        return None if entry is None else Response(data=entry.describe())

    async def destroy_accessor(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        async with self.ctx.lock:
            store, key, entry = await self._by_accessor(data, storage, missing=BadRequest)
            if entry is None:
                raise PermissionDenied("invalid secret id accessor")
            await store.delete_secret_id(key, entry)
        return None

    async def tidy(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        async with self.ctx.lock:
            await ApproleStore(storage).tidy(self.ctx.now())
        return Response(warnings=[TIDY_WARNING], status=202)
