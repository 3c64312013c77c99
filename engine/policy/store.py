"""The policy store (Vault's vault/policy_store.go): named ACL policies behind the barrier, and the
compiled ACL of any set of them.

Layout behind the barrier:
    sys/policy/<name>    {"version": 2, "raw": <policy text>, "templated": bool, "type": "acl"}

Names are trimmed and lower-cased, as Vault does. Parsed policies and compiled ACLs are cached; any
write or delete drops every compiled ACL, so a request never sees a policy older than the last
change, and never pays for parsing. A lookup that raced a change answers once from what it read but
is not cached (the generation counter below).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable

from engine.errors import BadRequest
from engine.policy.acl import ACL
from engine.policy.builtin import (
    DEFAULT_POLICY,
    IMMUTABLE,
    NON_ASSIGNABLE,
    ROOT_POLICY,
    STORED_BUILTINS,
)
from engine.policy.parser import Policy, parse_policy
from engine.storage.base import Storage
from engine.storage.view import View, all_keys

POLICY_PREFIX = "sys/policy/"
ACL_CACHE_SIZE = 1024


def sanitize_name(name: str) -> str:
    return name.strip().lower()


class PolicyStore:
    def __init__(self, storage: Storage, *, acl_cache_size: int = ACL_CACHE_SIZE) -> None:
        self._view = View(storage, POLICY_PREFIX)
        self._policies: dict[str, Policy] = {}
        self._acls: OrderedDict[tuple[str, ...], ACL] = OrderedDict()
        self._acl_cache_size = acl_cache_size
        # The same ACLs by the names exactly as a token lists them: skips cleaning and sorting them on every
        # request. Holds only ACLs the LRU above holds: dropped with them (any policy change), and whenever
        # the LRU evicts one (a small map of spellings, rebuilt from the LRU on the next requests).
        self._acls_by_spelling: dict[tuple[str, ...], tuple[tuple[str, ...], ACL]] = {}
        self._generation = 0

    async def setup(self) -> None:
        """Store the built-in policies: `default` when missing (it is the operator's to edit from
        then on), the immutable ones whenever their text changed with this release."""
        for name, text in STORED_BUILTINS:
            # The stored text alone decides: parsing waits for the first request that needs the policy,
            # so unsealing parses nothing once the built-ins are in place.
            stored = await self._view.get(name)
            existing = None if stored is None else json.loads(stored)["raw"]
            if existing is None or (name in IMMUTABLE and existing != text):
                await self._write(parse_policy(text, name))

    # --- CRUD -------------------------------------------------------------------------------------

    async def get(self, name: str) -> Policy | None:
        name = sanitize_name(name)
        if name == ROOT_POLICY:
            return Policy(name=ROOT_POLICY, raw="")
        cached = self._policies.get(name)
        if cached is not None:
            return cached
        generation = self._generation
        raw = await self._view.get(name)
        if raw is None:
            return None
        policy = parse_policy(json.loads(raw)["raw"], name)
        if generation == self._generation:
            self._policies[name] = policy
        return policy

    async def put(self, name: str, raw: str) -> Policy:
        """Create or replace a policy; raises BadRequest for bad text or an immutable name."""
        name = sanitize_name(name)
        if not name:
            raise BadRequest("policy name must be provided in the URL")
        policy = parse_policy(raw, name)
        if name in IMMUTABLE:
            raise BadRequest(f'cannot update "{name}" policy')
        await self._write(policy)
        return policy

    async def delete(self, name: str) -> None:
        """Delete a policy (a missing one is not an error, as in Vault)."""
        name = sanitize_name(name)
        if name in IMMUTABLE:
            raise BadRequest(f'cannot delete "{name}" policy')
        if name == DEFAULT_POLICY:
            raise BadRequest("cannot delete default policy")
        await self._view.delete(name)
        self._policies.pop(name, None)
        self._changed()

    async def names(self) -> list[str]:
        """The stored policies a token may be given, sorted (without `root`, which is not stored)."""
        return [name for name in await all_keys(self._view) if name not in NON_ASSIGNABLE]

    async def _write(self, policy: Policy) -> None:
        entry = {"version": 2, "raw": policy.raw, "templated": policy.templated, "type": "acl"}
        await self._view.put(policy.name, json.dumps(entry).encode())
        self._policies[policy.name] = policy
        self._changed()

    def _changed(self) -> None:
        self._generation += 1
        self._acls.clear()
        self._acls_by_spelling.clear()

    # --- ACLs -------------------------------------------------------------------------------------

    async def acl_for(self, names: Iterable[str]) -> ACL:
        """The compiled ACL of these policies (unknown names are skipped, as Vault does)."""
        spelling = tuple(names)
        known = self._acls_by_spelling.get(spelling)
        if known is not None:
            key, acl = known
            self._acls.move_to_end(key)
            return acl
        key = tuple(sorted({sanitize_name(n) for n in spelling}))
        acl = await self._acl_for(key)
        # Only an ACL the LRU keeps (made under the current policies) may be remembered by spelling too.
        if self._acls.get(key) is acl:
            self._acls_by_spelling[spelling] = (key, acl)
        return acl

    async def _acl_for(self, key: tuple[str, ...]) -> ACL:
        acl = self._acls.get(key)
        if acl is not None:
            self._acls.move_to_end(key)
            return acl
        generation = self._generation
        policies = [policy for name in key if (policy := await self.get(name)) is not None]
        acl = ACL(policies)
        if generation == self._generation:
            self._acls[key] = acl
            if len(self._acls) > self._acl_cache_size:
                self._acls.popitem(last=False)
                self._acls_by_spelling.clear()  # it may hold the evicted ACL
        return acl

    async def sudo_privilege(self, policies: Iterable[str], path: str) -> bool:
        """Whether these policies hold sudo (or root) on `path`: Vault's SudoPrivilege, for backends
        that relax a rule for privileged callers (e.g. orphan tokens)."""
        capabilities = (await self.acl_for(policies)).capabilities(path)
        return "root" in capabilities or "sudo" in capabilities
