"""`sealer server`: run the daemon from a config file, or a throwaway dev server with -dev."""

from __future__ import annotations

import argparse

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Parser
from sealer.config import DEFAULT_ADDRESS, ConfigError, DevOptions, load_config, split_address


class ServerCommand(Command):
    name = "server"
    summary = "Start a Sealer server"
    usage = "server -config=FILE | -dev [options]"
    description = (
        "Starts a Sealer server that answers API requests. With -config it reads a YAML file\n"
        "(listener, storage, seal, ...). With -dev it needs no configuration: storage in memory,\n"
        "a private SoftHSM token, initialized and unsealed at start, the root token printed.\n"
        "A dev server keeps nothing and must never hold real secrets.\n\n"
        "The HSM PIN can come from the SEALER_HSM_PIN environment variable instead of the file."
    )
    examples = (
        "sealer server -config=/etc/sealer/sealer.yaml",
        "sealer server -dev -dev-root-token-id=root",
    )
    flags = Flags.NONE

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--config", metavar="FILE", help="path to the YAML configuration file")
        parser.add_argument("--dev", action="store_true",
                            help="run a development server: in memory, unsealed, insecure")
        parser.add_argument("--dev-listen-address", metavar="HOST:PORT",
                            help="address a dev server listens on (default: $SEALER_DEV_LISTEN_ADDRESS, "
                                 f"$VAULT_DEV_LISTEN_ADDRESS, {DEFAULT_ADDRESS})")
        parser.add_argument("--dev-root-token-id", metavar="ID",
                            help="root token of a dev server (default: $SEALER_DEV_ROOT_TOKEN_ID, "
                                 "$VAULT_DEV_ROOT_TOKEN_ID, random)")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        dev_flags = args.dev_listen_address is not None or args.dev_root_token_id is not None
        if args.config and args.dev:
            raise CommandFailed("-config and -dev cannot be used together", Exit.USAGE)
        if dev_flags and not args.dev:
            raise CommandFailed("-dev-listen-address and -dev-root-token-id need -dev", Exit.USAGE)
        if not args.config and not args.dev:
            raise CommandFailed("a configuration file is required: -config=FILE (or -dev)", Exit.USAGE)

        config = None
        dev = None
        if args.dev:
            dev = self.dev_options(args, ctx)
        else:
            try:
                config = load_config(args.config, ctx.env.environ)
            except ConfigError as exc:
                raise CommandFailed(f"Error loading configuration: {exc}") from None

        # Imported only now: the daemon pulls in aiohttp, the HSM layer and the engine, which the
        # client commands never need, and a bad config is reported before any of it loads.
        from sealer.daemon import run_server

        return run_server(config, dev=dev)

    @staticmethod
    def dev_options(args: argparse.Namespace, ctx: Context) -> DevOptions:
        env = ctx.env
        address = (args.dev_listen_address
                   or env.getenv("SEALER_DEV_LISTEN_ADDRESS", "VAULT_DEV_LISTEN_ADDRESS")
                   or DEFAULT_ADDRESS)
        try:
            split_address(address)
        except ValueError as exc:
            raise CommandFailed(f"-dev-listen-address: {exc}", Exit.USAGE) from None
        token = args.dev_root_token_id or env.getenv("SEALER_DEV_ROOT_TOKEN_ID", "VAULT_DEV_ROOT_TOKEN_ID")
        return DevOptions(listen_address=address, root_token_id=token)
