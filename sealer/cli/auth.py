"""`sealer auth enable | disable | list | tune`: auth methods through sys/auth."""

from __future__ import annotations

from sealer.cli.base import Group
from sealer.cli.mounts import AUTH, DisableBase, EnableBase, ListBase, TuneBase


class EnableCommand(EnableBase):
    kind = AUTH
    name = "auth enable"
    summary = "Enable a new auth method"
    usage = "auth enable [options] TYPE"
    description = "Enables an auth method of TYPE (userpass, approle) at -path, by default at TYPE/."
    examples = ("sealer auth enable userpass", "sealer auth enable -path=people -description='staff' userpass")


class DisableCommand(DisableBase):
    kind = AUTH
    name = "auth disable"
    summary = "Disable an auth method"
    usage = "auth disable [options] PATH"
    description = "Disables the auth method at PATH: every token it issued is revoked."
    examples = ("sealer auth disable userpass/",)


class ListCommand(ListBase):
    kind = AUTH
    name = "auth list"
    summary = "List enabled auth methods"
    usage = "auth list [options]"
    description = "Lists the enabled auth methods; -detailed adds TTLs, options and more."
    examples = ("sealer auth list", "sealer auth list -detailed")


class TuneCommand(TuneBase):
    kind = AUTH
    name = "auth tune"
    summary = "Tune an auth method configuration"
    usage = "auth tune [options] PATH"
    description = "Changes the settings of the auth method at PATH; settings not given stay as they are."
    examples = ("sealer auth tune -default-lease-ttl=30m userpass/", "sealer auth tune -token-type=batch approle/")


GROUP = Group(
    name="auth",
    summary="Interact with auth methods",
    commands={"enable": EnableCommand, "disable": DisableCommand, "list": ListCommand, "tune": TuneCommand},
)
