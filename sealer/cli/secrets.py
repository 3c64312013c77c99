"""`sealer secrets enable | disable | list | tune | move`: secret engines through sys/mounts and sys/remount."""

from __future__ import annotations

import argparse

from sealer.cli.base import Command, Context, Exit, Flags, Group, Parser
from sealer.cli.calls import failing, mount_path
from sealer.cli.mounts import SECRETS, DisableBase, EnableBase, ListBase, TuneBase


class EnableCommand(EnableBase):
    kind = SECRETS
    name = "secrets enable"
    summary = "Enable a secrets engine"
    usage = "secrets enable [options] TYPE"
    description = (
        "Enables a secrets engine of TYPE (kv, kv-v2, transit, cubbyhole, ...) at -path, by\n"
        "default at TYPE/. -version=2 (or -options=version=2) makes a kv mount versioned."
    )
    examples = ("sealer secrets enable -path=kv2 -version=2 kv", "sealer secrets enable transit",
                "sealer secrets enable -path=apps -description='app secrets' -max-lease-ttl=72h kv")


class DisableCommand(DisableBase):
    kind = SECRETS
    name = "secrets disable"
    summary = "Disable a secrets engine"
    usage = "secrets disable [options] PATH"
    description = "Disables the secrets engine at PATH: its data is deleted and its leases revoked."
    examples = ("sealer secrets disable kv2/",)


class ListCommand(ListBase):
    kind = SECRETS
    name = "secrets list"
    summary = "List enabled secrets engines"
    usage = "secrets list [options]"
    description = "Lists the enabled secrets engines; -detailed adds TTLs, options and more."
    examples = ("sealer secrets list", "sealer secrets list -detailed", "sealer secrets list -format=json")


class TuneCommand(TuneBase):
    kind = SECRETS
    name = "secrets tune"
    summary = "Tune a secrets engine configuration"
    usage = "secrets tune [options] PATH"
    description = "Changes the settings of the secrets engine at PATH; settings not given stay as they are."
    examples = ("sealer secrets tune -default-lease-ttl=72h kv/", "sealer secrets tune -options=version=2 kv/")


class MoveCommand(Command):
    name = "secrets move"
    summary = "Move a secrets engine to a new path"
    usage = "secrets move [options] SOURCE DESTINATION"
    description = (
        "Moves a secrets engine and its data to a new path (sys/remount). Leases issued under the\n"
        "old path are revoked, as Vault does."
    )
    examples = ("sealer secrets move secret/ generic/",)
    flags = Flags.HTTP

    def configure(self, parser: Parser) -> None:
        parser.add_argument("source", metavar="SOURCE")
        parser.add_argument("destination", metavar="DESTINATION")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        source, destination = mount_path(args.source), mount_path(args.destination)
        client = ctx.client()
        with failing("Error moving secrets engine"):
            answer = client.post("sys/remount", {"from": source, "to": destination}) or {}
        migration = (answer.get("data") or {}).get("migration_id", "")
        ctx.env.out(f"Started moving secrets engine {source} to {destination}, with migration ID {migration}")
        if migration:
            with failing("Error checking the move"):
                status = client.get(f"sys/remount/status/{migration}") or {}
            info = (status.get("data") or {}).get("migration_info") or {}
            if info.get("status") == "failure":
                ctx.env.err(f"Error moving secrets engine {source} to {destination}")
                return Exit.ERROR
        ctx.env.out(f"Success! Finished moving secrets engine {source} to {destination}")
        return Exit.OK


GROUP = Group(
    name="secrets",
    summary="Interact with secrets engines",
    commands={"enable": EnableCommand, "disable": DisableCommand, "list": ListCommand, "tune": TuneCommand,
              "move": MoveCommand},
)
