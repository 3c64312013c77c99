"""A throwaway PostgreSQL cluster for tests, from the Debian binaries: initdb + pg_ctl as the `postgres`
system user (initdb refuses root) in a private temp dir, on a free loopback port, with password (SCRAM)
authentication over TCP and a superuser whose password the test knows.

`pg_ctl -w` returns once the server accepts connections, so nothing here sleeps. `stop()` is an immediate
shutdown (what a crash or a pulled cable looks like to a client); `start()` brings the same cluster back
on the same port.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

SYSTEM_USER = "postgres"
SUPERUSER = "sealer_admin"
SUPERUSER_PASSWORD = "pg-admin-Secret-1"  # a test value; listed in tests/e2e/conftest.py _CLEAR_SECRETS
DATABASE = "postgres"
_PG_CTL_TIMEOUT = 60  # seconds pg_ctl waits for start/stop


def binaries() -> Path:
    """The newest installed PostgreSQL's bin directory (the Makefile installs `postgresql` when missing)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is required for these tests: apt-get install -y postgresql")
    return Path(found[-1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresCluster:
    directory: Path
    port: int
    bin_dir: Path = field(default_factory=binaries)
    superuser: str = SUPERUSER
    password: str = field(default=SUPERUSER_PASSWORD, repr=False)
    running: bool = False

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def dsn(self) -> str:
        """The superuser's connection URL."""
        return self.dsn_for(self.superuser, self.password)

    def dsn_for(self, user: str, password: str, database: str = DATABASE) -> str:
        return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}"

    @property
    def templated_url(self) -> str:
        """Vault's connection_url form, with the credentials left to the engine to fill in."""
        return f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{self.port}/{DATABASE}"

    @classmethod
    def create(cls) -> PostgresCluster:
        """initdb a new cluster and start it."""
        # Under /tmp rather than pytest's root-only tmp dir: the postgres user must reach it.
        directory = Path(tempfile.mkdtemp(prefix="sealer-pg-"))
        shutil.chown(directory, SYSTEM_USER, SYSTEM_USER)
        cluster = cls(directory=directory, port=_free_port())
        pwfile = directory / "pwfile"
        pwfile.write_text(cluster.password + "\n")
        shutil.chown(pwfile, SYSTEM_USER, SYSTEM_USER)
        try:
            cluster._as_postgres(
                "initdb", "-D", str(cluster.data_dir), "-U", cluster.superuser, f"--pwfile={pwfile}",
                "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C",
            )
        finally:
            pwfile.unlink()
        cluster.start()
        return cluster

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            "pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(self.directory / "log"),
            "-w", "-t", str(_PG_CTL_TIMEOUT), "start",
        )
        self.running = True

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        self.running = False

    def destroy(self) -> None:
        if self.running:
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _as_postgres(self, tool: str, *args: str) -> None:
        command = ["runuser", "-u", SYSTEM_USER, "--", str(self.bin_dir / tool), *args]
        if os.geteuid() != 0:  # already unprivileged: run the tool directly
            command = command[4:]
        done = subprocess.run(command, capture_output=True, text=True, timeout=_PG_CTL_TIMEOUT + 30)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
