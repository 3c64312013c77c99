"""`sealer lease renew | revoke | lookup`, through sys/leases/*."""

from __future__ import annotations

import argparse
from typing import Any

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Group, Parser
from sealer.cli.calls import failing
from sealer.cli.output import show_data, show_secret


def _lease_id(raw: str) -> str:
    lease_id = raw.strip()
    if not lease_id:
        raise CommandFailed("a lease ID is required", Exit.USAGE)
    return lease_id


class RenewCommand(Command):
    name = "lease renew"
    summary = "Renew the lease of a secret"
    usage = "lease renew [options] LEASE_ID"
    description = (
        "Renews the lease of a secret, extending how long it can be used before the server\n"
        "revokes it. -increment asks for a TTL from now; the engine may grant less."
    )
    examples = ("sealer lease renew database/creds/readonly/2f6a614c...",
                "sealer lease renew -increment=1h database/creds/readonly/2f6a614c...")
    flags = Flags.HTTP | Flags.FORMAT | Flags.FIELD

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--increment", "-i", metavar="DURATION", help="TTL to ask for, from now")
        parser.add_argument("lease_id", metavar="LEASE_ID")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        body: dict[str, Any] = {"lease_id": _lease_id(args.lease_id)}
        if args.increment:
            body["increment"] = args.increment
        with failing("Error renewing lease"):
            secret = ctx.client().put("sys/leases/renew", body) or {}
        return show_secret(ctx, secret, args.field)


class RevokeCommand(Command):
    name = "lease revoke"
    summary = "Revoke leases and secrets"
    usage = "lease revoke [options] LEASE_ID"
    description = (
        "Revokes a lease and the secret it covers. -prefix revokes every lease under the given\n"
        "path (needs sudo); with -force too, leases are dropped even when the engine cannot revoke\n"
        "the secret (use with care). Without -sync the revocation is queued and the command returns\n"
        "at once."
    )
    examples = ("sealer lease revoke database/creds/readonly/2f6a614c...",
                "sealer lease revoke -prefix -sync aws/", "sealer lease revoke -prefix -force aws/")
    flags = Flags.HTTP

    def configure(self, parser: Parser) -> None:
        parser.add_bool("--prefix", help="revoke every lease under LEASE_ID as a path prefix")
        parser.add_bool("--force", help="with -prefix: forget leases even if revoking the secret fails")
        parser.add_bool("--sync", help="wait until the revocation is done")
        parser.add_argument("lease_id", metavar="LEASE_ID")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        lease_id = _lease_id(args.lease_id)
        if args.force and not args.prefix:
            raise CommandFailed("-force requires -prefix", Exit.USAGE)
        client = ctx.client()
        if args.force:
            ctx.env.err("Warning! Force-removing leases can cause Sealer to become out of sync with\n"
                        "secret engines!")
            with failing("Error force revoking leases with prefix " + lease_id):
                client.put(f"sys/leases/revoke-force/{lease_id}")
            ctx.env.out(f"Success! Force revoked any leases with prefix: {lease_id}")
        elif args.prefix:
            with failing("Error revoking leases with prefix " + lease_id):
                client.put(f"sys/leases/revoke-prefix/{lease_id}", {"sync": args.sync})
            ctx.env.out(f"Success! Revoked any leases with prefix: {lease_id}" if args.sync
                        else "All revocation operations queued successfully!")
        else:
            with failing(f"Error revoking lease {lease_id}"):
                client.put("sys/leases/revoke", {"lease_id": lease_id, "sync": args.sync})
            ctx.env.out(f"Success! Revoked lease: {lease_id}" if args.sync
                        else "All revocation operations queued successfully!")
        return Exit.OK


class LookupCommand(Command):
    name = "lease lookup"
    summary = "Look up the lease of a secret"
    usage = "lease lookup [options] LEASE_ID"
    description = "Prints a lease's issue time, expiry, last renewal, TTL and whether it is renewable."
    examples = ("sealer lease lookup database/creds/readonly/2f6a614c...",
                "sealer lease lookup -field=ttl database/creds/readonly/2f6a614c...")
    flags = Flags.HTTP | Flags.FORMAT | Flags.FIELD

    def configure(self, parser: Parser) -> None:
        parser.add_argument("lease_id", metavar="LEASE_ID")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        with failing("Error looking up lease"):
            secret = ctx.client().put("sys/leases/lookup", {"lease_id": _lease_id(args.lease_id)}) or {}
        if ctx.format != "table" and not args.field:
            return show_secret(ctx, secret, None)
        return show_data(ctx, secret.get("data") or {}, args.field)


GROUP = Group(
    name="lease",
    summary="Interact with leases",
    commands={"renew": RenewCommand, "revoke": RevokeCommand, "lookup": LookupCommand},
)
