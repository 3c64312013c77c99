"""`sealer operator rotate | key-status | step-down`: the barrier keyring (sys/rotate, sys/key-status) and
handing the active role to a standby (sys/step-down)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from sealer.cli.base import Command, Context, Exit, Flags
from sealer.cli.calls import failing
from sealer.cli.output import columns, dump


def _key_status(ctx: Context, status: Mapping[str, Any]) -> None:
    data = status.get("data") or status
    if ctx.format != "table":
        ctx.env.out(dump(dict(data), ctx.format))
        return
    rows = [("Key Term", str(data.get("term", ""))), ("Install Time", str(data.get("install_time", "")))]
    if "encryptions" in data:
        rows.append(("Encryption Count", str(data["encryptions"])))
    ctx.env.out(columns(rows))


class RotateCommand(Command):
    name = "operator rotate"
    summary = "Rotates the underlying encryption key"
    usage = "operator rotate [options]"
    description = (
        "Adds a new term to the barrier keyring: new writes are encrypted with the new key, and\n"
        "values written earlier stay readable with theirs. Nothing is re-encrypted on the spot.\n"
        "Needs a token with sudo on sys/rotate."
    )
    examples = ("sealer operator rotate",)
    flags = Flags.HTTP | Flags.FORMAT

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        client = ctx.client()
        with failing("Error rotating key"):
            client.put("sys/rotate")
        with failing("Error reading key status"):
            status = client.get("sys/key-status") or {}
        if ctx.format == "table":
            ctx.env.out("Success! Rotated key\n")
        _key_status(ctx, status)
        return Exit.OK


class KeyStatusCommand(Command):
    name = "operator key-status"
    summary = "Provides information about the active encryption key"
    usage = "operator key-status [options]"
    description = "Prints the active term of the barrier keyring and when it was installed."
    examples = ("sealer operator key-status", "sealer operator key-status -format=json")
    flags = Flags.HTTP | Flags.FORMAT

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        with failing("Error reading key status"):
            status = ctx.client().get("sys/key-status") or {}
        _key_status(ctx, status)
        return Exit.OK


class StepDownCommand(Command):
    name = "operator step-down"
    summary = "Forces the server to resign active duty"
    usage = "operator step-down [options]"
    description = (
        "Makes the active server of an HA cluster step down, so a standby takes over. Only a\n"
        "server running with HA answers it; any other reports the error it gives."
    )
    examples = ("sealer operator step-down",)
    flags = Flags.HTTP

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        client = ctx.client()
        with failing("Error stepping down"):
            client.put("sys/step-down")
        ctx.env.out(f"Success! Stepped down: {client.address}")
        return Exit.OK
