from sealer.cli.main import entrypoint

entrypoint()
