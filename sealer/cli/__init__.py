"""The `sealer` command line: a registry of commands (registry.py), one module per command group,
`main(argv, env) -> exit code` (main.py). Talks to the daemon over its Vault-compatible HTTP API
with the standard library only (client.py)."""
