"""`sealer token create | lookup | renew | revoke | capabilities`, through auth/token/* and sys/capabilities*."""

from __future__ import annotations

import argparse
from typing import Any

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Group, Parser, repeated
from sealer.cli.calls import failing
from sealer.cli.kvdata import DataError, parse_flag_pairs
from sealer.cli.output import dump, show_secret


class CreateCommand(Command):
    name = "token create"
    summary = "Create a new token"
    usage = "token create [options]"
    description = (
        "Creates a new token that can be used for authentication. It is a child of the token\n"
        "making the request unless -orphan is given; its policies must be a subset of its\n"
        "parent's unless the parent is root. -ttl, -explicit-max-ttl and -period take Vault's\n"
        'durations ("30m", "1h", "768h") or seconds.'
    )
    examples = (
        "sealer token create -policy=app -ttl=1h",
        "TOKEN=$(sealer token create -policy=app -field=token)",
        "sealer token create -orphan -period=24h -policy=agent",
        "sealer token create -role=ci -format=json",
    )
    flags = Flags.HTTP | Flags.FORMAT | Flags.FIELD

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--policy", action="append", metavar="NAME",
                            help="a policy for the token; repeat or comma-separate for several")
        parser.add_argument("--ttl", metavar="DURATION", help="initial time to live")
        parser.add_argument("--explicit-max-ttl", metavar="DURATION",
                            help="hard limit: the token cannot be renewed past it")
        parser.add_argument("--period", metavar="DURATION",
                            help="a periodic token: each renewal resets its TTL to this")
        parser.add_bool("--renewable", default=True, help="the token may be renewed (default: true)")
        parser.add_bool("--orphan", help="the token has no parent: revoking its creator leaves it")
        parser.add_bool("--no-default-policy", help="leave out the default policy")
        parser.add_argument("--use-limit", type=int, metavar="N", help="number of uses before it expires")
        parser.add_argument("--display-name", metavar="NAME", help="a name shown in audit logs")
        parser.add_argument("--metadata", action="append", metavar="K=V",
                            help="metadata to attach; repeat for several")
        parser.add_argument("--role", metavar="NAME", help="create the token through this token role")
        parser.add_argument("--type", choices=("service", "batch"), help="token type (default: service)")
        parser.add_argument("--id", metavar="ID", help="the token's value (root tokens only)")
        parser.add_argument("--entity-alias", metavar="NAME", help="entity alias the token belongs to (role only)")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        body = self.request_body(args)
        if args.role:
            path = f"auth/token/create/{args.role}"
        elif args.orphan:
            path = "auth/token/create-orphan"
        else:
            path = "auth/token/create"
        with failing("Error creating token"):
            secret = ctx.client().post(path, body) or {}
        return show_secret(ctx, secret, args.field)

    @staticmethod
    def request_body(args: argparse.Namespace) -> dict[str, Any]:
        body: dict[str, Any] = {"renewable": args.renewable}
        policies = repeated(args.policy)
        if policies:
            body["policies"] = policies
        for flag, key in (("ttl", "ttl"), ("explicit_max_ttl", "explicit_max_ttl"), ("period", "period"),
                          ("display_name", "display_name"), ("type", "type"), ("id", "id"),
                          ("entity_alias", "entity_alias")):
            value = getattr(args, flag)
            if value is not None:
                body[key] = value
        if args.use_limit is not None:
            body["num_uses"] = args.use_limit
        if args.no_default_policy:
            body["no_default_policy"] = True
        if args.metadata:
            try:
                body["meta"] = parse_flag_pairs(args.metadata, "metadata")
            except DataError as exc:
                raise CommandFailed(f"Error parsing -metadata: {exc}", Exit.USAGE) from None
        return body


def _token_or_accessor(parser: Parser, what: str) -> None:
    parser.add_bool("--accessor", help=f"the argument is the accessor of the token to {what}, not the token")
    parser.add_argument("token", nargs="?", metavar="TOKEN",
                        help="the token (default: the token this command runs with)")


class LookupCommand(Command):
    name = "token lookup"
    summary = "Display information about a token"
    usage = "token lookup [options] [TOKEN | ACCESSOR]"
    description = (
        "Displays information about a token or accessor. With no argument, looks up the token\n"
        "the command runs with (auth/token/lookup-self)."
    )
    examples = ("sealer token lookup", "sealer token lookup hvs.CAESI...",
                "sealer token lookup -accessor 9793c9b3-...", "sealer token lookup -field=policies")
    flags = Flags.HTTP | Flags.FORMAT | Flags.FIELD

    def configure(self, parser: Parser) -> None:
        _token_or_accessor(parser, "look up")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        client = ctx.client()
        with failing("Error looking up token"):
            if args.accessor:
                if not args.token:
                    raise CommandFailed("-accessor needs the accessor as an argument", Exit.USAGE)
                secret = client.post("auth/token/lookup-accessor", {"accessor": args.token})
            elif args.token:
                secret = client.post("auth/token/lookup", {"token": args.token})
            else:
                secret = client.get("auth/token/lookup-self")
        return show_secret(ctx, secret or {}, args.field)


class RenewCommand(Command):
    name = "token renew"
    summary = "Renew a token lease"
    usage = "token renew [options] [TOKEN | ACCESSOR]"
    description = (
        "Renews a token's lease, extending how long it can be used. With no argument, renews the\n"
        "token the command runs with. -increment asks for a TTL from now; the server may grant less."
    )
    examples = ("sealer token renew", "sealer token renew -increment=30m hvs.CAESI...",
                "sealer token renew -accessor 9793c9b3-...")
    flags = Flags.HTTP | Flags.FORMAT | Flags.FIELD

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--increment", "-i", metavar="DURATION", help="TTL to ask for, from now")
        _token_or_accessor(parser, "renew")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        body: dict[str, Any] = {}
        if args.increment:
            body["increment"] = args.increment
        client = ctx.client()
        with failing("Error renewing token"):
            if args.accessor:
                if not args.token:
                    raise CommandFailed("-accessor needs the accessor as an argument", Exit.USAGE)
                secret = client.post("auth/token/renew-accessor", {"accessor": args.token, **body})
            elif args.token:
                secret = client.post("auth/token/renew", {"token": args.token, **body})
            else:
                secret = client.post("auth/token/renew-self", body)
        return show_secret(ctx, secret or {}, args.field)


class RevokeCommand(Command):
    name = "token revoke"
    summary = "Revoke a token and its children"
    usage = "token revoke [options] [TOKEN | ACCESSOR]"
    description = (
        "Revokes a token and, by default, every token created from it and every lease it holds.\n"
        "-mode=orphan revokes the token alone (its children become orphans; needs sudo);\n"
        "-mode=path revokes every token created at the given auth path prefix (needs sudo)."
    )
    examples = ("sealer token revoke hvs.CAESI...", "sealer token revoke -self",
                "sealer token revoke -accessor 9793c9b3-...", "sealer token revoke -mode=path auth/userpass/")
    flags = Flags.HTTP

    def configure(self, parser: Parser) -> None:
        parser.add_bool("--self", help="revoke the token this command runs with")
        parser.add_argument("--mode", choices=("orphan", "path"), help="what to revoke besides the token")
        _token_or_accessor(parser, "revoke")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        if args.self and args.token:
            raise CommandFailed("-self and a token argument cannot be used together", Exit.USAGE)
        if not args.self and not args.token:
            raise CommandFailed("give a token, an accessor with -accessor, or -self", Exit.USAGE)
        if args.accessor and args.mode == "path":
            raise CommandFailed("-accessor and -mode=path cannot be used together", Exit.USAGE)
        client = ctx.client()
        with failing("Error revoking token"):
            if args.self:
                client.post("auth/token/revoke-self")
            elif args.mode == "path":
                client.post(f"sys/leases/revoke-prefix/{args.token.strip('/')}")
            elif args.accessor:
                client.post("auth/token/revoke-accessor", {"accessor": args.token})
            elif args.mode == "orphan":
                client.post("auth/token/revoke-orphan", {"token": args.token})
            else:
                client.post("auth/token/revoke", {"token": args.token})
        ctx.env.out("Success! Revoked token (if it existed)")
        return Exit.OK


class CapabilitiesCommand(Command):
    name = "token capabilities"
    summary = "Print capabilities of a token on a path"
    usage = "token capabilities [options] [TOKEN | ACCESSOR] PATH"
    description = (
        "Prints what a token may do at a path (create, read, update, patch, delete, list, sudo,\n"
        'deny, root). With only PATH, the token the command runs with.'
    )
    examples = ("sealer token capabilities secret/app/db", "sealer token capabilities hvs.CAESI... secret/app/db",
                "sealer token capabilities -accessor 9793c9b3-... secret/app/db")
    flags = Flags.HTTP | Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        parser.add_bool("--accessor", help="the first argument is a token accessor")
        parser.add_argument("arguments", nargs="+", metavar="[TOKEN] PATH")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        if len(args.arguments) > 2:
            raise CommandFailed(f"Too many arguments (expected 1-2, got {len(args.arguments)})", Exit.USAGE)
        *who, path = args.arguments
        if args.accessor and not who:
            raise CommandFailed("-accessor needs the accessor and the path", Exit.USAGE)
        path = path.strip().lstrip("/")
        client = ctx.client()
        with failing("Error listing capabilities"):
            if args.accessor:
                answer = client.post("sys/capabilities-accessor", {"accessor": who[0], "paths": [path]})
            elif who:
                answer = client.post("sys/capabilities", {"token": who[0], "paths": [path]})
            else:
                answer = client.post("sys/capabilities-self", {"paths": [path]})
        data = (answer or {}).get("data") or answer or {}
        capabilities = data.get(path, data.get("capabilities")) or []
        capabilities = sorted(str(c) for c in capabilities)
        if ctx.format != "table":
            ctx.env.out(dump(capabilities, ctx.format))
        else:
            ctx.env.out(", ".join(capabilities))
        return Exit.OK


GROUP = Group(
    name="token",
    summary="Interact with tokens",
    commands={"create": CreateCommand, "lookup": LookupCommand, "renew": RenewCommand, "revoke": RevokeCommand,
              "capabilities": CapabilitiesCommand},
)
