"""approle login (Vault's builtin/credential/approle/path_login.go): role_id, plus secret_id when the
role binds one; CIDR bindings on the secret ID and the role; use counts consumed under a lock so two
concurrent logins cannot both spend the last use; expired secret IDs refused."""

from __future__ import annotations

from engine.backends.approle.context import ApproleContext
from engine.backends.approle.secret_ids import subset_error
from engine.backends.approle.store import ApproleStore
from engine.backends.cidrs import address_allowed, is_subset
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Auth, Op, Request, Response
from engine.storage.base import Storage

INVALID = "invalid role or secret ID"


class LoginPaths:
    def __init__(self, ctx: ApproleContext) -> None:
        self.ctx = ctx

    def paths(self) -> list[Path]:
        return [
            Path(
                "login",
                fields={
                    "role_id": Field(FieldType.STRING, description="The RoleID of the role."),
                    "secret_id": Field(FieldType.STRING, description="A secret ID of the role."),
                },
                operations={Op.UPDATE: self.login},
                synopsis="Issue a token based on the credentials supplied.",
            )
        ]

    async def login(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        role_id = data.get("role_id").strip()
        if not role_id:
            raise BadRequest("missing role_id")
        store = ApproleStore(storage)
        remote = req.remote_address
        async with self.ctx.lockout.attempt(storage, role_id) as attempt:
            name = await store.role_name_for_id(role_id)
            role = await store.role(name) if name is not None else None
            if name is None or role is None:
                raise BadRequest(INVALID)
            metadata: dict[str, str] = {}
            token_cidrs = list(role.token_bound_cidrs)
            if role.bind_secret_id:
                secret_id = data.get("secret_id").strip()
                if not secret_id:
                    raise BadRequest("missing secret_id")
                key = store.secret_key(role, name, secret_id)
                async with self.ctx.lock:
                    entry = await store.secret_id_at(key)
                    if entry is None or entry.expired(self.ctx.now()):
                        if entry is not None:
                            await store.delete_secret_id(key, entry)
                        await attempt.failed()
                        raise BadRequest(INVALID)
                    if await store.secret_hmac_for_accessor(entry.secret_id_accessor) is None:
                        await store.delete_secret_id(key, entry)  # an orphan, as Vault revokes it
                        raise BadRequest(INVALID)
                    # As Vault: the use is spent before the CIDR checks below.
                    if entry.secret_id_num_uses == 1:
                        await store.delete_secret_id(key, entry)
                    elif entry.secret_id_num_uses > 1:
                        entry.secret_id_num_uses -= 1
                        entry.last_updated_time = self.ctx.now()
                        await store.update_secret_id(key, entry)
                if entry.cidr_list:
                    if role.secret_id_bound_cidrs and not is_subset(role.secret_id_bound_cidrs, entry.cidr_list):
                        raise subset_error(role.secret_id_bound_cidrs, entry.cidr_list)
                    if not address_allowed(remote, entry.cidr_list):
                        raise BadRequest(
                            f'source address "{remote}" unauthorized through CIDR restrictions on the secret ID'
                        )
                metadata = dict(entry.metadata)
                token_cidrs = list(entry.token_bound_cidrs) or token_cidrs
            if role.secret_id_bound_cidrs and not address_allowed(remote, role.secret_id_bound_cidrs):
                raise BadRequest(f'source address "{remote}" unauthorized by CIDR restrictions on the role')
            await attempt.succeeded()
        metadata["role_name"] = name
        auth = role.auth(metadata=metadata, internal_data={"role_name": name}, alias_name=role.role_id)
        auth.bound_cidrs = token_cidrs
        return Response(login=auth)

    async def renew_auth(self, auth: Auth, storage: Storage) -> Auth | None:
        """Vault's pathLoginRenew: the role must still exist; the renewal takes its current TTLs."""
        name = str(auth.internal_data.get("role_name", ""))
        if not name:
            raise BadRequest("failed to fetch role_name during renewal")
        role = await ApproleStore(storage).role(name)
        if role is None:
            raise BadRequest(f'role "{name}" does not exist during renewal')
        auth.ttl, auth.max_ttl, auth.period = role.token_ttl, role.token_max_ttl, role.token_period
        return auth
