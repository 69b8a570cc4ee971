"""`junkan serve` for real: a gunicorn master with two worker processes, the one scheduler as
its own child and the demo's local Stripe, serving pages and the API, all stopped by Ctrl-C."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from web.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120  # the app imports numpy, scipy, matplotlib: slow on a busy machine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> set[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(p) for p in text.split()}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _get(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (local URL)
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_serve_runs_two_workers_one_scheduler_and_stops_cleanly_on_ctrl_c(tmp_path):
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    upgrade(url)
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "LOG_JSON": "0",
        "SCHEDULER_IN_PROCESS": "1",
        "MAIL_OUTBOX": str(tmp_path / "outbox"),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("STRIPE_SECRET_KEY", "STRIPE_API_KEY", "WEB_CONCURRENCY"):
        env.pop(name, None)
    log = open(tmp_path / "serve.log", "w+b")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(port), "--workers", "2"],
        cwd=str(ROOT),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                status, _, _ = _get(base + "/")
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.5)
        status, headers, body = _get(base + "/")
        assert status == 200 and b"<html" in body
        assert headers["Content-Type"].startswith("text/html")
        status, headers, body = _get(base + "/api/v1/openapi.json")
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        status, headers, _ = _get(base + "/api/v1/listings")
        assert status == 401 and headers["Content-Type"] == "application/problem+json"

        children = _children(server.pid)
        commands = {pid: _command(pid) for pid in children}
        workers = [p for p, c in commands.items() if " serve --port" in c]
        schedulers = [p for p, c in commands.items() if " scheduler " in c]
        stripes = [p for p, c in commands.items() if "web.localstripe" in c]
        assert (len(workers), len(schedulers), len(stripes)) == (2, 1, 1), commands
        output = (tmp_path / "serve.log").read_text()
        assert f"Junkan is running. Open {base}/ in your browser (Ctrl-C stops it)." in output
        assert f"scheduler: running in its own process (pid {schedulers[0]})" in output
    finally:
        server.send_signal(signal.SIGINT)  # what Ctrl-C sends the master
        try:
            code = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    output = (tmp_path / "serve.log").read_text()
    assert code == 0, output
    assert "Traceback" not in output, output
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in children if _alive(p)], "a child outlived the server"
    log.close()


def test_the_master_freezes_what_it_built_before_the_workers_fork(app, monkeypatch):
    """gunicorn forks the workers inside `run`: by then the master's objects (the app among
    them) are frozen, so a worker's full garbage collection does not walk them."""
    import gc

    from gunicorn.app.base import BaseApplication

    from web import serving

    seen: list[int] = []
    monkeypatch.setattr(BaseApplication, "run", lambda self: seen.append(gc.get_freeze_count()))
    try:
        with socket.socket() as sock:
            serving.run_gunicorn(app, sock, serving.ServerOptions(workers=2, threads=1))
        assert seen and seen[0] > 10_000
    finally:
        gc.unfreeze()


def test_workers_default_to_web_concurrency_else_the_cpus(monkeypatch):
    from web.serving import default_workers

    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert default_workers() == 3
    monkeypatch.delenv("WEB_CONCURRENCY")
    assert default_workers() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("WEB_CONCURRENCY", "zero")
    assert default_workers() == len(os.sched_getaffinity(0))


def test_serve_help_names_the_workers_threads_and_web_concurrency():
    from click.testing import CliRunner

    from web.cli import main

    help_text = CliRunner().invoke(main, ["serve", "--help"]).output
    assert "--workers" in help_text and "--threads" in help_text
    assert "WEB_CONCURRENCY" in help_text
