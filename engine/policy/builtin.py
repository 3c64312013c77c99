"""The built-in policies, with Vault's names and texts.

`root` exists only by name: it grants everything and can be neither changed nor deleted. `default` is
stored like any other policy the first time the store starts (so operators may edit it) and cannot be
deleted; every token gets it unless created with no_default_policy. `response-wrapping` and
`control-group` are Vault's fixed internal policies: stored, immutable, never listed or assignable.
"""

from __future__ import annotations

ROOT_POLICY = "root"
DEFAULT_POLICY = "default"
RESPONSE_WRAPPING_POLICY = "response-wrapping"
CONTROL_GROUP_POLICY = "control-group"

IMMUTABLE = (ROOT_POLICY, RESPONSE_WRAPPING_POLICY, CONTROL_GROUP_POLICY)
NON_ASSIGNABLE = (RESPONSE_WRAPPING_POLICY, CONTROL_GROUP_POLICY)

# Vault's vault/policy_store.go defaultPolicy, verbatim (what `vault policy read default` shows on a
# fresh server). The identity paths are templated: without an identity entity they match nothing.
DEFAULT_POLICY_TEXT = """
# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own entity by id or name
path "identity/entity/id/{{identity.entity.id}}" {
  capabilities = ["read"]
}
path "identity/entity/name/{{identity.entity.name}}" {
  capabilities = ["read"]
}


# Allow a token to look up its resultant ACL from all policies. This is useful
# for UIs. It is an internal path because the format may change at any time
# based on how the internal ACL features and capabilities change.
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Allow a token to renew a lease via lease_id in the request body; old path for
# old clients, new path for newer
path "sys/renew" {
    capabilities = ["update"]
}
path "sys/leases/renew" {
    capabilities = ["update"]
}

# Allow looking up lease properties. This requires knowing the lease ID ahead
# of time and does not divulge any sensitive information.
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# Allow a token to manage its own cubbyhole
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Allow a token to wrap arbitrary values in a response-wrapping token
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

# Allow a token to look up the creation time and TTL of a given
# response-wrapping token
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

# Allow a token to unwrap a response-wrapping token. This is a convenience to
# avoid client token swapping since this is also part of the response wrapping
# policy.
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# Allow general purpose tools
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# Allow checking the status of a Control Group request if the user has the
# accessor
path "sys/control-group/request" {
    capabilities = ["update"]
}

# Allow a token to make requests to the Authorization Endpoint for OIDC providers.
path "identity/oidc/provider/+/authorize" {
    capabilities = ["read", "update"]
}
"""

RESPONSE_WRAPPING_POLICY_TEXT = """
path "cubbyhole/response" {
    capabilities = ["create", "read"]
}

path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}
"""

CONTROL_GROUP_POLICY_TEXT = """
path "cubbyhole/control-group" {
    capabilities = ["update", "create", "read"]
}

path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}
"""

# Loaded at start: `default` only when missing (it is the operator's to edit); the immutable ones
# are rewritten whenever their stored text differs from this release's.
STORED_BUILTINS = (
    (DEFAULT_POLICY, DEFAULT_POLICY_TEXT),
    (RESPONSE_WRAPPING_POLICY, RESPONSE_WRAPPING_POLICY_TEXT),
    (CONTROL_GROUP_POLICY, CONTROL_GROUP_POLICY_TEXT),
)
