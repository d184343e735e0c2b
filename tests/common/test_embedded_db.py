"""The embedded PostgreSQL starts once, however many processes race for it, and recovers from a
crash that left a stale postmaster.pid behind."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg2
import pytest

from config.embedded_db import ensure_server, server_status, stop_server

ROOT = Path(__file__).resolve().parents[2]
START_SCRIPT = (
    "import sys; from pathlib import Path; from config.embedded_db import ensure_server;"
    "print(ensure_server(Path(sys.argv[1]), 'racedb').pid)"
)


@pytest.fixture
def datadir():
    base = Path(tempfile.mkdtemp(prefix="vc-embedded-"))
    path = base / "postgres"
    yield path
    stop_server(path)
    shutil.rmtree(base, ignore_errors=True)


def postmasters_for(path: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline", "ppid"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if process.info["name"] == "postgres" and str(path.resolve()) in cmdline:
            parent = psutil.Process(process.info["ppid"]) if process.info["ppid"] else None
            if parent is None or parent.name() != "postgres":
                found.append(process)
    return found


def query_one(server, sql):
    conn = psycopg2.connect(
        host=server.socket_dir, port=server.port, user="postgres", dbname="racedb"
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()[0]
    finally:
        conn.close()


def test_two_processes_racing_start_one_server(datadir):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", START_SCRIPT, str(datadir)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [racer.communicate(timeout=120) for racer in racers]

    assert all(racer.returncode == 0 for racer in racers), outputs
    pids = {int(stdout.strip().splitlines()[-1]) for stdout, _ in outputs}
    assert len(pids) == 1
    assert [p.pid for p in postmasters_for(datadir)] == list(pids)
    # A third start, in this process, reuses the same server.
    assert ensure_server(datadir, "racedb").pid in pids


def test_stale_pid_file_after_crash_is_recovered(datadir):
    first = ensure_server(datadir, "racedb")
    assert query_one(first, "SELECT 1") == 1

    # Crash: kill the postmaster outright, then make the leftover postmaster.pid point at a live
    # process that is not postgres (what a reused pid after a reboot looks like).
    psutil.Process(first.pid).kill()
    deadline = time.time() + 20
    while postmasters_for(datadir) and time.time() < deadline:
        time.sleep(0.2)
    for child in psutil.process_iter(["name", "cmdline"]):
        if child.info["name"] == "postgres" and str(datadir.resolve()) in " ".join(
            child.info["cmdline"] or []
        ):
            child.kill()
    time.sleep(1)
    pid_file = datadir / "postmaster.pid"
    lines = pid_file.read_text().splitlines()
    pid_file.write_text("\n".join([str(os.getpid()), *lines[1:]]) + "\n")
    assert server_status(datadir) is None

    second = ensure_server(datadir, "racedb")

    assert second.pid != first.pid
    assert query_one(second, "SELECT 2") == 2
    assert server_status(datadir) == second.pid
