"""What every command shares: exit codes, the argument parser, flag sets, and the Command base class.

A command is a class with a name, a one-line summary, help text with examples, a `configure(parser)`
for its own flags and a `run(args, ctx) -> int`. Errors it cannot handle are raised as `CommandFailed`
(message for stderr, exit code) and turned into output in one place, `main`.
"""

from __future__ import annotations

import argparse
import enum
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar, NoReturn

from sealer.cli.client import Client, resolve_address, resolve_token
from sealer.cli.env import Env


class Exit(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    # `status` and `operator init -status` reuse 2 for "sealed" / "not initialised", as Vault does.
    SEALED = 2


class CommandFailed(Exception):
    def __init__(self, message: str, code: int = Exit.ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class UsageError(Exception):
    def __init__(self, message: str, usage: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


class ParserExit(Exception):
    """argparse wanted to exit (after --help); carries the status instead of calling sys.exit."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


# -x long flags with one dash, as Vault spells them; -f and -n stay short flags.
_ONE_DASH_LONG = re.compile(r"-[A-Za-z][A-Za-z0-9_-]+(=.*)?", re.DOTALL)


def normalise_argv(argv: Sequence[str]) -> list[str]:
    """`-format=json` -> `--format=json`, so argparse sees Vault's one-dash flags as long options.
    Nothing after a bare `--` is touched."""
    out: list[str] = []
    for index, arg in enumerate(argv):
        if arg == "--":
            return [*out, *argv[index:]]
        out.append("-" + arg if _ONE_DASH_LONG.fullmatch(arg) else arg)
    return out


class Parser(argparse.ArgumentParser):
    """argparse that writes to the Env's streams and raises instead of exiting the process."""

    def __init__(self, *, env: Env, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(**kwargs)
        self._env = env

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.format_usage())

    def add_bool(self, name: str, *, default: bool = False, help: str) -> None:
        """A boolean flag as Vault's: `-name`, `-name=true` or `-name=false`."""
        self.add_argument(name, action="store_true", default=default, help=help)
        self.add_argument("--no-" + name.removeprefix("--"), dest=name.removeprefix("--").replace("-", "_"),
                          action="store_false", help=argparse.SUPPRESS)

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        return super().parse_known_args(self._explicit_booleans(list(args or [])), namespace)

    def _explicit_booleans(self, args: list[str]) -> list[str]:
        """`--flag=true|false` for a store_true flag, as Go's flag package takes it; argparse would
        refuse the value."""
        out: list[str] = []
        for index, arg in enumerate(args):
            if arg == "--":
                return [*out, *args[index:]]
            name, sep, value = arg.partition("=")
            action = self._option_string_actions.get(name) if sep and name.startswith("--") else None
            if not isinstance(action, argparse._StoreTrueAction):
                out.append(arg)
                continue
            truth = _BOOLEANS.get(value.lower())
            if truth is None:
                self.error(f"argument {name}: expected true or false, got {value!r}")
            negative = "--no-" + name.removeprefix("--")
            if truth:
                out.append(name)
            elif negative in self._option_string_actions:
                out.append(negative)
            elif action.default:
                self.error(f"argument {name}: cannot be turned off")
        return out

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self._env.stderr.write(message)
        raise ParserExit(status)

    def _print_message(self, message: str, file: IO[str] | None = None) -> None:
        if message:
            (self._env.stderr if file is sys.stderr else self._env.stdout).write(message)


_BOOLEANS = {"true": True, "t": True, "1": True, "false": False, "f": False, "0": False}


class Flags(enum.Flag):
    NONE = 0
    HTTP = enum.auto()    # -address
    FORMAT = enum.auto()  # -format
    FIELD = enum.auto()   # -field


FORMATS = ("table", "json", "yaml", "yml")


@dataclass
class Context:
    """One run of one command: its environment and the client it talks through."""

    env: Env
    args: argparse.Namespace
    _client: Client | None = field(default=None, repr=False)

    @property
    def format(self) -> str:
        fmt: str = getattr(self.args, "format", None) or "table"
        return "yaml" if fmt == "yml" else fmt

    def client(self) -> Client:
        if self._client is None:
            self._client = self.client_for(resolve_token(self.env))
        return self._client

    def client_for(self, token: str | None) -> Client:
        """A client with this command's address and another token (or none: a login)."""
        try:
            address = resolve_address(getattr(self.args, "address", None), self.env)
        except ValueError as exc:
            raise CommandFailed(f"Error: {exc}") from None
        return Client(address, token, ca_file=self.env.getenv("SEALER_CACERT", "VAULT_CACERT"))


class Command:
    name: ClassVar[str]                 # as typed: "operator init"
    summary: ClassVar[str]              # one line for the command list
    usage: ClassVar[str]                # after "Usage: sealer "
    description: ClassVar[str] = ""
    examples: ClassVar[Sequence[str]] = ()
    flags: ClassVar[Flags] = Flags.HTTP

    def configure(self, parser: Parser) -> None:
        """Add the command's own flags and arguments."""

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        raise NotImplementedError

    def parser(self, env: Env) -> Parser:
        epilog = ""
        if self.examples:
            epilog = "Examples:\n\n" + "\n".join(f"  $ {example}" for example in self.examples)
        parser = Parser(
            prog=f"sealer {self.name}",
            usage=f"sealer {self.usage}",
            description=f"{self.summary}.\n\n{self.description}".rstrip(),
            epilog=epilog,
            env=env,
        )
        if Flags.HTTP in self.flags:
            parser.add_argument(
                "--address", metavar="URL",
                help="address of the Sealer server (default: $SEALER_ADDR, $VAULT_ADDR, "
                     "http://127.0.0.1:8200)",
            )
        if Flags.FORMAT in self.flags:
            default = env.getenv("SEALER_FORMAT", "VAULT_FORMAT") or "table"
            if default not in FORMATS:
                default = "table"
            parser.add_argument("--format", choices=FORMATS, default=default,
                                help="output format (default: table)")
        if Flags.FIELD in self.flags:
            parser.add_argument("--field", metavar="NAME",
                                help="print only this field, raw (no newline when piped)")
        self.configure(parser)
        return parser


@dataclass(frozen=True)
class Group:
    """A command with subcommands (`sealer operator init`): one module defines one Group."""

    name: str  # as typed: "kv metadata"
    summary: str
    commands: Mapping[str, type[Command] | Group]

    def help(self) -> str:
        width = max(len(name) for name in self.commands) + 4
        lines = [f"Usage: sealer {self.name} <subcommand> [options] [args]", "", f"{self.summary}.", "",
                 "Subcommands:"]
        lines += [f"    {name.ljust(width)}{command.summary}" for name, command in self.commands.items()]
        lines += ["", f"Run `sealer {self.name} <subcommand> -help` for a subcommand's options."]
        return "\n".join(lines)


def repeated(values: Sequence[str] | None) -> list[str]:
    """A flag given several times and/or comma-separated (`-policy=a -policy=b,c`), as Go's StringSlice."""
    return [item.strip() for value in values or () for item in value.split(",") if item.strip()]
