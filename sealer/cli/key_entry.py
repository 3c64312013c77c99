"""How a key holder hands a share to a ceremony command (rekey, generate-root), as Vault's CLI takes it:

- no KEY argument: the command shows the operation's nonce and asks for the key without echo (a line
  from stdin when stdin is not a terminal); the nonce is the one in progress unless -nonce is given;
- KEY is "-": the key is all of stdin, and -nonce is required;
- KEY itself (it then stays in the shell's history): -nonce is required.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sealer.cli.base import CommandFailed, Context


@dataclass(frozen=True)
class Entry:
    key: str = field(repr=False)
    nonce: str


def enter_key(ctx: Context, argument: str | None, nonce_flag: str, current_nonce: str,
              nonce_label: str) -> Entry:
    if argument is None or argument == "":
        nonce = nonce_flag or current_nonce
        ctx.env.err(f"{nonce_label}: {nonce}")
        try:
            key = ctx.env.read_secret("Unseal Key (will be hidden): ")
        except EOFError:
            key = ""
    elif argument == "-":
        nonce = nonce_flag
        key = ctx.env.stdin.read()
    else:
        nonce, key = nonce_flag, argument
    key = key.strip()
    if not key:
        raise CommandFailed("Error posting unseal key: no key given")
    if not nonce:
        raise CommandFailed("Missing nonce value: specify it via the -nonce flag")
    return Entry(key=key, nonce=nonce)
