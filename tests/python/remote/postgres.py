"""A real PostgreSQL server for DuckLake's catalog: Debian's `postgresql` package (installed
by scripts/test), a cluster in a temporary folder started as the `postgres` user when run
as root, listening on loopback only. Each test gets a database of its own in it."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def bin_dir() -> Path | None:
    """The newest PostgreSQL's programs (`initdb`, `pg_ctl`), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _as_owner(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: a test run as root starts it as `postgres`.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, bindir: Path, folder: Path, port: int):
        self.bindir, self.folder, self.port = bindir, folder, port
        self.data = folder / "data"
        self.serial = 0

    def conninfo(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        subprocess.run(
            _as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"), "-o", options, "-w", *args]),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def sql(self, text: str, dbname: str = "postgres") -> str:
        run = subprocess.run(
            [str(self.bindir / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", self.conninfo(dbname), "-c", text],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    def new_database(self) -> str:
        """A fresh, empty database; its name."""
        self.serial += 1
        name = f"lake{self.serial}"
        self.sql(f"CREATE DATABASE {name}")
        return name


@contextlib.contextmanager
def cluster():
    """Starts a cluster on a free loopback port; stops it and removes its folder after."""
    bindir = bin_dir()
    assert bindir is not None, "PostgreSQL is not installed (scripts/test installs Debian's postgresql)"
    folder = Path(tempfile.mkdtemp(prefix="healthsim-pg-"))
    try:
        folder.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        subprocess.run(
            _as_owner([str(bindir / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", "postgres", "--no-sync"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        running = Cluster(bindir, folder, _free_port())
        running.pg_ctl("start")
        try:
            yield running
        finally:
            with contextlib.suppress(subprocess.SubprocessError):
                running.pg_ctl("stop", "-m", "immediate")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
