"""A throwaway PostgreSQL server (Debian's postgresql-15), run as the postgres user.

initdb refuses root, so every server command runs through `runuser -u postgres`. Data lives in a
temporary directory owned by postgres; the server listens on a free port on 127.0.0.1 only, unless a
test names another address too (the local cluster's bridge address, for pods: `clients` is then the
pod subnet, allowed with a password, scram-sha-256, where 127.0.0.1 keeps trust).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg

from .ports import free_port

BIN = Path(os.environ.get("KUBETASK_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "postgres", "--", *cmd], capture_output=True, text=True, timeout=60)


class PostgresServer:
    def __init__(self, address: str | None = None, clients: str | None = None) -> None:
        if not (BIN / "initdb").exists():
            raise RuntimeError(f"{BIN}/initdb not found: run scripts/setup.sh (installs postgresql-15)")
        self.dir = Path(tempfile.mkdtemp(prefix="kubetask-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        self.listen = "127.0.0.1" if address is None else f"127.0.0.1,{address}"
        r = _as_postgres(
            str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"
        )
        if r.returncode:
            raise RuntimeError(f"initdb failed: {r.stderr}")
        if clients is not None:
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {clients} scram-sha-256\n")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses={self.listen} -c fsync=off -c max_connections=200"
        log = self.dir / "log"
        r = _as_postgres(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(log), "-w", "-t", "30", "start"
        )
        if r.returncode:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {r.stderr}\n{tail}")

    def stop(self) -> None:
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def pids(self) -> list[int]:
        """The postmaster and every backend it forked; [] when the server is not running."""
        try:
            postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return []
        children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
        return [postmaster, *map(int, children)]

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def paused(pids: Iterable[int]) -> Iterator[None]:
    """SIGSTOP these processes (a hung server: connections accepted, nothing answered) until the block
    ends, then SIGCONT them, whatever the block raised."""
    stopped = list(pids)
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in stopped:
            with suppress(ProcessLookupError):  # a backend may have ended meanwhile
                os.kill(pid, signal.SIGCONT)


@contextmanager
def throwaway_postgres(address: str | None = None, clients: str | None = None) -> Iterator[PostgresServer]:
    """A started server, destroyed afterwards (resumed first, should a failed test leave it paused)."""
    server = PostgresServer(address, clients)
    server.start()
    try:
        yield server
    finally:
        for pid in server.pids():
            with suppress(ProcessLookupError):  # a backend may have ended since it was listed
                os.kill(pid, signal.SIGCONT)
        server.destroy()
