"""A real PostgreSQL server for the tests, run by scripts/postgres.sh (which installs it when missing).

`running_postgres()` starts a throwaway cluster in a temporary folder on a free port and stops it on exit;
`PostgresServer.create_database()` gives each test a database of its own. A server that cannot be had
raises `PostgresUnavailable` with the script's output: the tests that need Postgres fail, never skip,
so CI proves that the Postgres warehouse works.
"""

from __future__ import annotations

import itertools
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "postgres.sh"
# Installing the package on a machine without it (apt-get update + install) takes well under a minute.
START_TIMEOUT_S = 480
STOP_TIMEOUT_S = 90
# A free port can be taken between choosing it and the server binding it: then another is tried.
PORT_ATTEMPTS = 3


class PostgresUnavailable(Exception):
    """scripts/postgres.sh could not start a server; the message carries its output."""


@dataclass(frozen=True)
class PostgresParams:
    """How to reach one database of the server, as the warehouse settings and the dbt profile read it."""

    host: str
    port: int
    user: str
    password: str
    database: str

    def env(self) -> dict[str, str]:
        """The POSTGRES_* variables of orchestration/settings.py and profiles.yml."""
        return {
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_DB": self.database,
        }

    def connect(self, **kwargs):
        import psycopg2

        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=self.database, **kwargs
        )


class PostgresServer:
    """One cluster of scripts/postgres.sh: its folder, and the parameters of its `postgres` database."""

    def __init__(self, directory: Path, params: PostgresParams) -> None:
        self.directory = directory
        self.params = params
        self._names = itertools.count(1)

    def create_database(self, hint: str = "test") -> PostgresParams:
        """A new, empty database (named after `hint`, made unique) on this server."""
        slug = re.sub(r"[^a-z0-9]+", "_", hint.lower()).strip("_")[:40] or "test"
        name = f"{slug}_{next(self._names)}"
        self._admin(f'create database "{name}"')
        return replace(self.params, database=name)

    def drop_database(self, name: str) -> None:
        self._admin(f'drop database if exists "{name}" with (force)')

    def _admin(self, sql: str) -> None:
        connection = self.params.connect()
        try:
            connection.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
            with connection.cursor() as cursor:
                cursor.execute(sql)
        finally:
            connection.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _script(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    command = ["bash", str(SCRIPT), *args]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        output = _text(exc.stdout) + _text(exc.stderr)
        raise PostgresUnavailable(f"`{' '.join(command)}` timed out after {timeout:.0f} s:\n{output}") from None


def _text(data: bytes | str | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


def _parse_env(stdout: str) -> dict[str, str]:
    env = {}
    for line in stdout.splitlines():
        key, sep, value = line.removeprefix("export ").partition("=")
        if sep and key.startswith("POSTGRES_"):
            env[key] = value
    return env


def start_server(directory: Path) -> PostgresServer:
    """Starts a cluster in `directory` on a free port; raises PostgresUnavailable with the script's output."""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = free_port()
        result = _script("start", str(directory), str(port), timeout=START_TIMEOUT_S)
        if result.returncode == 0:
            env = _parse_env(result.stdout)
            params = PostgresParams(
                host=env["POSTGRES_HOST"],
                port=int(env["POSTGRES_PORT"]),
                user=env["POSTGRES_USER"],
                password=env["POSTGRES_PASSWORD"],
                database=env["POSTGRES_DB"],
            )
            return PostgresServer(directory, params)
        port_taken = "could not bind" in result.stderr or "Address already in use" in result.stderr
        if not (port_taken and attempt < PORT_ATTEMPTS):
            raise PostgresUnavailable(
                f"scripts/postgres.sh start {directory} {port} exited {result.returncode}:\n"
                f"{result.stdout}{result.stderr}"
            )
    raise AssertionError("unreachable")


def stop_server(directory: Path) -> None:
    result = _script("stop", str(directory), timeout=STOP_TIMEOUT_S)
    if result.returncode != 0:
        raise PostgresUnavailable(
            f"scripts/postgres.sh stop {directory} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A server for the duration of the block, in a fresh folder that is removed afterwards.

    The folder is made under /tmp, not pytest's tmp_path: the server runs as the `postgres` user when the
    tests run as root, and pytest's folders are private to root; the socket path must also stay short.
    """
    directory = Path(tempfile.mkdtemp(prefix="pg-tests-", dir="/tmp" if Path("/tmp").is_dir() else None))
    try:
        yield start_server(directory)
    finally:
        try:
            stop_server(directory)  # also after a failed start: a no-op when nothing runs
        finally:
            shutil.rmtree(directory, ignore_errors=True)
