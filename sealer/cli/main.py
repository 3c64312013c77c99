"""`sealer`: find the command in the registry, parse its flags, run it, and turn every failure into a
message on stderr and an exit code, in this one place."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable, Sequence

from sealer.cli.base import (
    Command,
    CommandFailed,
    Context,
    Exit,
    Group,
    ParserExit,
    UsageError,
    normalise_argv,
)
from sealer.cli.env import Env
from sealer.cli.registry import COMMANDS

_HELP = ("-h", "--help", "-help", "help")


def main(argv: Sequence[str], env: Env | None = None) -> int:
    env = env or Env()
    args = normalise_argv(argv)
    try:
        return _dispatch(args, env)
    except UsageError as exc:
        if exc.usage:
            env.stderr.write(exc.usage)
        env.err(f"Error: {exc.message}")
        return Exit.USAGE
    except ParserExit as exc:
        return exc.status
    except CommandFailed as exc:
        env.err(exc.message)
        return exc.code
    except KeyboardInterrupt:
        env.err("")
        return 130


def entrypoint() -> None:
    sys.exit(main(sys.argv[1:]))


def _dispatch(args: list[str], env: Env) -> int:
    if not args or args[0] in _HELP:
        (env.stdout if args else env.stderr).write(top_help() + "\n")
        return Exit.OK if args else Exit.USAGE
    name, rest = args[0], args[1:]
    entry = COMMANDS.get(name)
    if entry is None:
        raise UsageError(f"unknown command {name!r}{_suggest(name, COMMANDS)}; run `sealer -help`")
    target = entry.load()
    while isinstance(target, Group):  # groups nest: `sealer kv metadata get`
        if not rest or rest[0] in _HELP:
            (env.stdout if rest else env.stderr).write(target.help() + "\n")
            return Exit.OK if rest else Exit.USAGE
        sub = target.commands.get(rest[0])
        if sub is None:
            raise UsageError(f"unknown subcommand {target.name} {rest[0]!r}{_suggest(rest[0], target.commands)}; "
                             f"run `sealer {target.name} -help`")
        target, rest = sub, rest[1:]
    return _run(target, rest, env)


def _run(command_class: type[Command], args: list[str], env: Env) -> int:
    command = command_class()
    parsed = command.parser(env).parse_args(args)
    try:
        return command.run(parsed, Context(env=env, args=parsed))
    except CommandFailed as exc:
        if exc.code == Exit.USAGE:
            env.stderr.write(command.parser(env).format_usage())
        raise


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def top_help() -> str:
    width = max(len(name) for name in COMMANDS) + 4
    lines = ["Usage: sealer <command> [options] [args]", "",
             "Sealer keeps secrets behind a seal held by a PKCS#11 token, with Vault's API.", "",
             "Commands:"]
    lines += [f"    {name.ljust(width)}{entry.summary}" for name, entry in COMMANDS.items()]
    lines += ["", "Run `sealer <command> -help` for a command's options. The server address comes from",
              "-address, SEALER_ADDR or VAULT_ADDR; the token from SEALER_TOKEN, VAULT_TOKEN or",
              "~/.sealer-token."]
    return "\n".join(lines)
