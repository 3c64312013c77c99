#!/usr/bin/env bash
# What an operator's script does with sealer: each step feeds the next, and the first failure stops it
# (set -e). Needs SEALER_ADDR (an unsealed server), ROOT_TOKEN and a HOME of its own (login writes
# $HOME/.sealer-token). Prints "operator script: ok" at the end.
set -euo pipefail
: "${SEALER_ADDR:?}" "${ROOT_TOKEN:?}" "${HOME:?}"

json() {  # json 'EXPRESSION on d' < document: one value out of JSON on stdin
    python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"
}

# The server is up and unsealed: `status` exits 0 only then (2 when sealed, 1 on error).
sealer status > /dev/null
[ "$(sealer status -format=json | json 'd["sealed"]')" = "False" ]

# Set-up with the root token, for these commands only.
SEALER_TOKEN="$ROOT_TOKEN" sealer auth enable userpass
SEALER_TOKEN="$ROOT_TOKEN" sealer policy write ops - <<'HCL'
path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }
HCL
SEALER_TOKEN="$ROOT_TOKEN" sealer write auth/userpass/users/ops password=ops-pass token_policies=ops > /dev/null

# Log in as ops, password on stdin: from here on every command uses the token file.
echo ops-pass | sealer login -method=userpass username=ops -no-print
test -s "$HOME/.sealer-token"
[ "$(sealer token lookup -format=json | json '",".join(d["data"]["policies"])')" = "default,ops" ]

# A versioned KV mount, a secret, and one value back out of it.
sealer secrets enable -path=app-kv -version=2 kv
sealer kv put app-kv/db user=app password=s3cret-from-script > /dev/null
password="$(sealer kv get -field=password app-kv/db)"
[ "$password" = "s3cret-from-script" ]

# A policy from stdin, a token holding only it, and that token at work.
sealer policy write app-read - <<'HCL'
path "app-kv/data/db" { capabilities = ["read"] }
HCL
app_token="$(sealer token create -policy=app-read -ttl=10m -field=token)"
user="$(SEALER_TOKEN="$app_token" sealer read -format=json app-kv/data/db | json 'd["data"]["data"]["user"]')"
[ "$user" = "app" ]
if SEALER_TOKEN="$app_token" sealer kv put -mount=app-kv db user=intruder 2> /dev/null; then
    echo "the read-only token could write" >&2
    exit 1
fi

# The ops login's lease: look it up, then revoke it, which ends the stored token too.
lease_key="$(sealer list -format=json sys/leases/lookup/auth/userpass/login/ops/ | json 'd[0]')"
lease_id="auth/userpass/login/ops/$lease_key"
[ "$(sealer lease lookup -format=json "$lease_id" | json 'd["data"]["renewable"]')" = "True" ]
sealer lease revoke -sync "$lease_id"
if sealer token lookup > /dev/null 2>&1; then
    echo "the revoked login token still works" >&2
    exit 1
fi

echo "operator script: ok"
