"""`sealer login`: authenticate with a token, userpass or approle, and keep the token in ~/.sealer-token
for the commands that follow (as `vault login` keeps ~/.vault-token)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Parser
from sealer.cli.calls import failing, mount_path
from sealer.cli.client import Client, store_token
from sealer.cli.kvdata import DataError, parse_kv
from sealer.cli.output import output_secret, print_raw, print_raw_field

_SUCCESS = (
    "Success! You are now authenticated. The token information displayed below\n"
    "is already stored in the token file (~/.sealer-token). You do NOT need to run\n"
    '"sealer login" again. Future Sealer requests will automatically use this token.\n'
)
_SUCCESS_NOT_STORED = (
    "Success! You are now authenticated. The token information below is displayed\n"
    "but NOT stored (-no-store). Set it as SEALER_TOKEN (or VAULT_TOKEN) to use it.\n"
)


_SECRET_VALUES = ("token", "password", "secret_id")


def _ask(ctx: Context, prompt: str) -> str:
    try:
        return ctx.env.read_secret(prompt).strip()
    except EOFError:
        return ""


def _token_login(ctx: Context, client: Client, values: dict[str, Any], positional: str | None) -> dict[str, Any]:
    token = positional if positional is not None else values.get("token")
    if token == "-":
        token = ctx.env.stdin.read()
    token = (token if token is not None else _ask(ctx, "Token (will be hidden): ")).strip()
    if not token:
        raise CommandFailed("Error authenticating: no token given")
    client.token = token
    with failing("Error authenticating"):
        data = (client.get("auth/token/lookup-self") or {}).get("data") or {}
    # What Vault's token handler builds from lookup-self: the auth block a login returns.
    auth = {
        "client_token": token,
        "accessor": data.get("accessor", ""),
        "policies": data.get("policies") or [],
        "token_policies": data.get("policies") or [],
        "identity_policies": data.get("identity_policies") or [],
        "metadata": data.get("meta") or {},
        "lease_duration": data.get("ttl") or 0,
        "renewable": bool(data.get("renewable")),
    }
    return {"request_id": "", "lease_id": "", "lease_duration": 0, "renewable": False, "data": None,
            "warnings": None, "auth": auth}


def _userpass_login(ctx: Context, client: Client, values: dict[str, Any], path: str) -> dict[str, Any]:
    username = str(values.pop("username", "") or ctx.env.getenv("USER") or "")
    if not username:
        raise CommandFailed("Error authenticating: username=NAME is required", Exit.USAGE)
    if "password" not in values:
        values["password"] = _ask(ctx, "Password (will be hidden): ")
    with failing("Error authenticating"):
        return client.post(f"auth/{path}login/{username}", values) or {}


def _approle_login(ctx: Context, client: Client, values: dict[str, Any], path: str) -> dict[str, Any]:
    if not values.get("role_id"):
        raise CommandFailed("Error authenticating: role_id=ID is required", Exit.USAGE)
    if "secret_id" not in values:
        values["secret_id"] = _ask(ctx, "Secret ID (will be hidden; empty if the role binds none): ")
    with failing("Error authenticating"):
        return client.post(f"auth/{path}login", values) or {}


_METHODS: dict[str, Callable[[Context, Client, dict[str, Any], str], dict[str, Any]]] = {
    "userpass": _userpass_login,
    "approle": _approle_login,
}


class LoginCommand(Command):
    name = "login"
    summary = "Authenticate locally"
    usage = "login [options] [TOKEN | [K=V...]]"
    description = (
        "Authenticates to the server with a token (the default method), or with -method=userpass\n"
        "(username=NAME, the password asked without echo) or -method=approle (role_id=...,\n"
        "secret_id=...). The resulting token is written to ~/.sealer-token (mode 0600), which\n"
        "later commands use when SEALER_TOKEN and VAULT_TOKEN are unset. A token or password\n"
        'given as "-" is read from stdin; without one, it is asked for without echo.'
    )
    examples = (
        "sealer login",
        "sealer login -method=userpass username=alice",
        "sealer login -method=approle role_id=... secret_id=-",
        "sealer login -method=userpass -path=people username=alice -token-only",
    )
    flags = Flags.HTTP | Flags.FORMAT | Flags.FIELD

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--method", default="token", choices=("token", *_METHODS),
                            help="how to authenticate (default: token)")
        parser.add_argument("--path", metavar="PATH", help="mount path of the auth method (default: METHOD)")
        parser.add_bool("--no-store", help="print the token but do not write it to ~/.sealer-token")
        parser.add_bool("--token-only", help="print only the token (implies -no-store)")
        parser.add_bool("--no-print", help="print nothing on success")
        parser.add_argument("values", nargs="*", metavar="TOKEN | K=V")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        positional, pairs = None, list(args.values)
        if args.method == "token" and pairs and "=" not in pairs[0]:
            positional = pairs.pop(0)
        try:
            values = parse_kv(pairs, ctx.env.stdin)
        except DataError as exc:
            raise CommandFailed(f"Error parsing configuration: {exc}", Exit.USAGE) from None
        for key in _SECRET_VALUES:
            if isinstance(values.get(key), str):
                # `echo "$PASSWORD" | sealer login ... password=-` brings the newline along.
                values[key] = values[key].rstrip("\r\n")
        client = ctx.client_for(None)
        if args.method == "token":
            secret = _token_login(ctx, client, values, positional)
        else:
            secret = _METHODS[args.method](ctx, client, values, mount_path(args.path or args.method))
        auth = secret.get("auth") or {}
        token = auth.get("client_token")
        if not token:
            raise CommandFailed("Error authenticating: the server returned no token")
        store = not (args.no_store or args.token_only)
        if store:
            try:
                store_token(ctx.env, token)
            except OSError as exc:
                raise CommandFailed(f"Error storing token: {exc.strerror or exc}") from None
            overriding = [name for name in ("SEALER_TOKEN", "VAULT_TOKEN") if ctx.env.getenv(name)]
            if overriding:
                ctx.env.err(f"WARNING! The {overriding[0]} environment variable is set! Its value takes "
                            "precedence over the stored token; unset it to use the new one.\n")
        if args.no_print:
            return Exit.OK
        if args.token_only:
            print_raw(ctx, token)
            return Exit.OK
        if args.field:
            return print_raw_field(ctx, secret, args.field)
        if ctx.format == "table":
            ctx.env.out(_SUCCESS if store else _SUCCESS_NOT_STORED)
        return output_secret(ctx, secret)
