"""approle roles: role/<name> (create, read, update, delete, list), its one-field endpoints
(role/<name>/policies, .../secret-id-ttl, ...) and role/<name>/role-id."""

from __future__ import annotations

import uuid

from engine.backends.approle.context import ROLE, ApproleContext
from engine.backends.approle.entries import RoleEntry, go_duration
from engine.backends.approle.store import MAX_HMAC_INPUT, ApproleStore, new_hmac_key
from engine.backends.cidrs import validate_cidr_blocks
from engine.backends.token_params import TOKEN_FIELDS, parse_policies, upgrade_legacy
from engine.errors import BadRequest, NotFound
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

ROLE_FIELDS: dict[str, Field] = {
    "role_name": Field(FieldType.STRING),
    "bind_secret_id": Field(FieldType.BOOL, default=True, description="Require a secret_id at login."),
    "bound_cidr_list": Field(FieldType.LIST, description='Deprecated: use "secret_id_bound_cidrs".'),
    "secret_id_bound_cidrs": Field(FieldType.LIST, description="CIDR blocks allowed to log in."),
    "secret_id_num_uses": Field(FieldType.INT, description="Uses of each secret ID; 0 is unlimited."),
    "secret_id_ttl": Field(FieldType.DURATION, description="Lifetime of each secret ID; 0 never expires."),
    "period": Field(FieldType.DURATION, description='Deprecated: use "token_period".'),
    "policies": Field(FieldType.LIST, description='Deprecated: use "token_policies".'),
    "role_id": Field(FieldType.STRING, description="A chosen RoleID instead of a random one."),
    "local_secret_ids": Field(FieldType.BOOL, description="Cluster-local secret IDs (creation only)."),
    **TOKEN_FIELDS,
}

# role/<name>/<endpoint>: the role fields each one-field endpoint reads and writes (first: the main one).
FIELD_ENDPOINTS: dict[str, tuple[str, ...]] = {
    "bind-secret-id": ("bind_secret_id",),
    "secret-id-bound-cidrs": ("secret_id_bound_cidrs",),
    "token-bound-cidrs": ("token_bound_cidrs",),
    "policies": ("token_policies", "policies"),
    "secret-id-num-uses": ("secret_id_num_uses",),
    "secret-id-ttl": ("secret_id_ttl",),
    "period": ("token_period", "period"),
    "token-num-uses": ("token_num_uses",),
    "token-ttl": ("token_ttl",),
    "token-max-ttl": ("token_max_ttl",),
}

_TOKEN_TYPE_COMPAT = {"default-service": "service", "default-batch": "batch"}


class RolePaths:
    def __init__(self, ctx: ApproleContext) -> None:
        self.ctx = ctx

    def paths(self) -> list[Path]:
        endpoints = "|".join(FIELD_ENDPOINTS)
        return [
            Path(r"role/?", operations={Op.LIST: self.list_roles}, synopsis="List the roles."),
            Path(
                ROLE,
                fields=ROLE_FIELDS,
                operations={
                    Op.READ: self.read_role,
                    Op.CREATE: self.write_role,
                    Op.UPDATE: self.write_role,
                    Op.DELETE: self.delete_role,
                },
                existence_check=self.role_exists,
                synopsis="Register a role with the backend.",
            ),
            Path(
                rf"{ROLE}/(?P<endpoint>{endpoints})",
                fields=ROLE_FIELDS,
                operations={Op.READ: self.read_field, Op.UPDATE: self.write_field, Op.DELETE: self.reset_field},
                synopsis="Read, update or reset one property of a role.",
            ),
            Path(
                rf"{ROLE}/local-secret-ids",
                operations={Op.READ: self.read_local_secret_ids},
                synopsis="Whether the role's secret IDs are cluster-local.",
            ),
            Path(
                rf"{ROLE}/role-id",
                fields={"role_id": ROLE_FIELDS["role_id"]},
                operations={Op.READ: self.read_role_id, Op.UPDATE: self.write_role_id},
                synopsis="Read or set the RoleID of a role.",
            ),
        ]

    @staticmethod
    def _name(data: FieldData) -> str:
        name: str = data.get("role_name")
        if not name:
            raise BadRequest("missing role_name")
        return name.lower()

    # --- role CRUD ----------------------------------------------------------------------------

    async def role_exists(self, req: Request, data: FieldData, storage: Storage) -> bool:
        return await ApproleStore(storage).role(self._name(data)) is not None

    async def list_roles(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        keys = await ApproleStore(storage).role_names()
        return Response(data={"keys": keys} if keys else {})

    async def read_role(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        role = await ApproleStore(storage).role(self._name(data))
        if role is None:
            return None
        response = Response(data=role.describe())
        if not role.has_constraint():
            response.warnings.append(
                "Role does not have any constraints set on it. Updates to this role will require a constraint to be set"
            )
        return response

    async def delete_role(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        name = self._name(data)
        store = ApproleStore(storage)
        async with self.ctx.lock:
            role = await store.role(name)
            if role is not None:
                await store.delete_role(name, role)
        return None

    async def write_role(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        name = self._name(data)
        if len(name) > MAX_HMAC_INPUT:
            raise BadRequest(f"role_name is longer than maximum of {MAX_HMAC_INPUT} bytes")
        response = Response()
        token_type = data.raw.get("token_type")
        if isinstance(token_type, str) and token_type in _TOKEN_TYPE_COMPAT:
            adjusted = _TOKEN_TYPE_COMPAT[token_type]
            response.warnings.append(f"{token_type} has no useful meaning; adjusting to {adjusted}")
            data = FieldData({**data.raw, "token_type": adjusted}, data.schema)
        store = ApproleStore(storage)
        async with self.ctx.lock:
            role = await store.role(name)
            creating = role is None
            if role is None:
                if req.op is not Op.CREATE:
                    raise NotFound(f'role name "{name}" doesn\'t exist')
                role = RoleEntry(hmac_key=new_hmac_key())
            previous_role_id = role.role_id
            self._apply(role, data, creating=creating)
            if role.token_max_ttl > self.ctx.mount.max_lease_ttl():
                response.warnings.append(
                    "token_max_ttl is greater than the backend mount's maximum TTL value; issued tokens' "
                    "max TTL value will be truncated"
                )
            await store.save_role(name, role, previous_role_id)
        return response if response.warnings else None

    def _apply(self, role: RoleEntry, data: FieldData, *, creating: bool) -> None:
        """Vault's pathRoleCreateUpdate, for the fields `data` supplies."""
        role.parse_token_fields(data)
        local, given = data.get_ok("local_secret_ids")
        if given:
            if not creating:
                raise BadRequest("local_secret_ids can only be modified during role creation")
            role.local_secret_ids = local
        role_id, given = data.get_ok("role_id")
        if given:
            role.role_id = role_id
        elif creating:
            role.role_id = str(uuid.uuid4())
        if not role.role_id:
            raise BadRequest("invalid role_id supplied, or failed to generate a role_id")
        bind, given = data.get_ok("bind_secret_id")
        if given:
            role.bind_secret_id = bind
        for name in ("secret_id_bound_cidrs", "bound_cidr_list"):
            cidrs, given = data.get_ok(name)
            if given:
                role.secret_id_bound_cidrs = validate_cidr_blocks(cidrs)
                break
        uses, given = data.get_ok("secret_id_num_uses")
        if given:
            role.secret_id_num_uses = uses
        if role.secret_id_num_uses < 0:
            raise BadRequest("secret_id_num_uses cannot be negative")
        ttl, given = data.get_ok("secret_id_ttl")
        if given:
            role.secret_id_ttl = ttl
        upgrade_legacy(data, "policies", "token_policies", role, parse_policies)
        upgrade_legacy(data, "period", "token_period", role)
        max_ttl = self.ctx.mount.max_lease_ttl()
        if role.period > max_ttl:
            raise BadRequest(
                f'period of "{go_duration(role.period)}" is greater than the backend\'s maximum lease TTL '
                f'of "{go_duration(max_ttl)}"'
            )

    # --- one-field endpoints ------------------------------------------------------------------

    async def read_field(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        role = await ApproleStore(storage).role(self._name(data))
        if role is None:
            return None
        shown = role.describe()
        names = FIELD_ENDPOINTS[data.get("endpoint")]
        return Response(data={name: shown[name] for name in names if name in shown})

    async def write_field(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        name = self._name(data)
        names = FIELD_ENDPOINTS[data.get("endpoint")]
        supplied = {n: data.raw[n] for n in names if data.raw.get(n) is not None}
        if not supplied:
            raise BadRequest(f"missing {names[0]}")
        store = ApproleStore(storage)
        async with self.ctx.lock:
            role = await store.role(name)
            if role is None:
                raise NotFound("unsupported path")
            self._apply(role, FieldData(supplied, ROLE_FIELDS), creating=False)
            await store.save_role(name, role)
        return None

    async def reset_field(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        name = self._name(data)
        defaults = RoleEntry()
        store = ApproleStore(storage)
        async with self.ctx.lock:
            role = await store.role(name)
            if role is None:
                return None
            for field_name in FIELD_ENDPOINTS[data.get("endpoint")]:
                setattr(role, field_name, getattr(defaults, field_name))
            await store.save_role(name, role)
        return None

    async def read_local_secret_ids(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        role = await ApproleStore(storage).role(self._name(data))
        return None if role is None else Response(data={"local_secret_ids": role.local_secret_ids})

    # --- role-id ------------------------------------------------------------------------------

    async def read_role_id(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        role = await ApproleStore(storage).role(self._name(data))
        return None if role is None else Response(data={"role_id": role.role_id})

    async def write_role_id(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        name = self._name(data)
        role_id: str = data.get("role_id")
        store = ApproleStore(storage)
        async with self.ctx.lock:
            role = await store.role(name)
            if role is None:
                return None
            if not role_id:
                raise BadRequest("missing role_id")
            previous = role.role_id
            role.role_id = role_id
            await store.save_role(name, role, previous)
        return None
