"""Every top-level command: its module, the object in it, and a one-line summary. Modules are imported
only when their command runs. A new command group is one module (defining a `Group`) plus one line here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from sealer.cli.base import Command, Group


@dataclass(frozen=True)
class Entry:
    module: str
    attribute: str  # a Command subclass, or a Group
    summary: str

    def load(self) -> type[Command] | Group:
        loaded: type[Command] | Group = getattr(importlib.import_module(self.module), self.attribute)
        return loaded


COMMANDS: dict[str, Entry] = {
    "read": Entry("sealer.cli.logical", "ReadCommand", "Read data and retrieve secrets"),
    "write": Entry("sealer.cli.logical", "WriteCommand", "Write data, configuration, and secrets"),
    "delete": Entry("sealer.cli.logical", "DeleteCommand", "Delete secrets and configuration"),
    "list": Entry("sealer.cli.logical", "ListCommand", "List data or secrets"),
    "status": Entry("sealer.cli.status", "StatusCommand", "Print seal and HA status"),
    "server": Entry("sealer.cli.server", "ServerCommand", "Start a Sealer server"),
    "operator": Entry("sealer.cli.operator", "GROUP", "Perform operator-specific tasks"),
    "audit": Entry("sealer.cli.audit", "GROUP", "Interact with audit devices"),
    "login": Entry("sealer.cli.login", "LoginCommand", "Authenticate locally"),
    "token": Entry("sealer.cli.token", "GROUP", "Interact with tokens"),
    "policy": Entry("sealer.cli.policy", "GROUP", "Interact with policies"),
    "secrets": Entry("sealer.cli.secrets", "GROUP", "Interact with secrets engines"),
    "auth": Entry("sealer.cli.auth", "GROUP", "Interact with auth methods"),
    "kv": Entry("sealer.cli.kv", "GROUP", "Interact with Sealer's Key-Value storage"),
    "lease": Entry("sealer.cli.lease", "GROUP", "Interact with leases"),
    "transit": Entry("sealer.cli.transit", "GROUP", "Encrypt and decrypt with the transit engine"),
    "hsm": Entry("sealer.cli.hsm_tools", "GROUP", "Inspect and prepare PKCS#11 tokens (offline)"),
    "completion": Entry("sealer.cli.completion", "CompletionCommand", "Print a shell completion script"),
}
