"""`junkan serve`: the production web server.

On a POSIX system the app runs under gunicorn embedded here (`BaseApplication`): one master
process that binds the port and several forked worker processes (the CPU count by default),
each with a few threads. The app is created once in the master before the workers fork
(`preload`), so what the master set up — the local Stripe of the demo — is what each worker
serves; each worker then opens its own database connections. Where gunicorn cannot run
(Windows: no `fork`), waitress serves the app in one process with threads.

The scheduler never runs inside a web worker (APScheduler's job store must not be shared by
several schedulers): with SCHEDULER_IN_PROCESS=1 the server starts `junkan scheduler` as one
child process of the master (it stops with the server), or, under waitress, a thread.
"""

import contextvars
import errno
import gc
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from web.db import ENGINE_KEY


class PortTaken(Exception):
    """The port is in use by another program."""


def gunicorn_available() -> bool:
    """gunicorn runs on POSIX systems with `fork` (not on Windows)."""
    if os.name != "posix" or not hasattr(os, "fork"):
        return False
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        return False
    return True


def default_workers() -> int:
    """WEB_CONCURRENCY when set, else the CPUs this process may run on."""
    raw = os.environ.get("WEB_CONCURRENCY", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (raises PortTaken when another program has it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise PortTaken(port) from None
        raise
    return sock


@dataclass
class ServerOptions:
    workers: int
    threads: int
    timeout: int = 60


def run_gunicorn(app: Flask, sock: socket.socket, options: ServerOptions) -> None:
    """Serve `app` on the bound socket with gunicorn until a signal stops it (SIGINT, SIGTERM:
    the master stops the workers and returns by SystemExit). Returns only in the master."""
    from gunicorn.app.base import BaseApplication

    master = os.getpid()
    engine = app.extensions[ENGINE_KEY]

    def post_fork(_arbiter, _worker) -> None:
        # A worker never uses the master's connections (a connection is not shared by forks).
        engine.dispose(close=False)

    settings = {
        "bind": [f"fd://{sock.fileno()}"],
        "workers": options.workers,
        "threads": options.threads,
        "worker_class": "gthread" if options.threads > 1 else "sync",
        "timeout": options.timeout,
        "graceful_timeout": 10,
        "keepalive": 5,
        "preload_app": True,
        "loglevel": "warning",  # the app logs its requests' failures itself
        "post_fork": post_fork,
        # The control socket's default path ($HOME/.gunicorn/gunicorn.ctl) is one per user:
        # two servers would fight over it.
        "control_socket_disable": True,
    }

    class Embedded(BaseApplication):
        def load_config(self) -> None:
            for key, value in settings.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self):
            return app

    sock.set_inheritable(True)
    embedded = Embedded(prog="junkan serve")
    # What the master built (the app, its templates, the imported libraries) lives as long as
    # the workers: out of the garbage collector's sight, a worker's full collection walks only
    # what it made itself (a loaded process: ~140 → a few ms), and the forked pages it reads
    # stay shared instead of being copied when the collector touches them.
    gc.collect()
    gc.freeze()
    try:
        # The workers fork from here: in an empty context, so that no app context of the
        # `junkan` command is inherited (each request pushes its own).
        contextvars.Context().run(embedded.run)
    except SystemExit as leaving:
        if os.getpid() != master:
            # A worker leaving ends here, with gunicorn's exit code (it tells the master
            # whether the worker could boot): nothing of the command around it runs in it.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(leaving.code if isinstance(leaving.code, int) else 1)
        raise


def run_waitress(app: Flask, sock: socket.socket, threads: int) -> None:
    """Serve `app` in this process with waitress (where gunicorn cannot run)."""
    import waitress.server

    host, port = sock.getsockname()[:2]
    sock.close()
    server = waitress.server.create_server(app, host=host, port=port, threads=threads)
    server.run()


class SchedulerFailed(Exception):
    """The scheduler child process did not start (its messages are on stderr)."""


@dataclass
class SchedulerProcess:
    """`junkan scheduler` as a child of the server (SCHEDULER_IN_PROCESS=1 under gunicorn)."""

    process: subprocess.Popen

    @classmethod
    def start(cls, timeout: float = 60.0) -> "SchedulerProcess | None":
        """Start it and wait until it holds the scheduler lock; None when another scheduler
        holds the database (the child then exits by itself). SchedulerFailed when it did not
        start for another reason."""
        read_end, write_end = os.pipe()
        root = Path(__file__).resolve().parent.parent
        path = os.environ.get("PYTHONPATH", "")
        process = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "scheduler", "--quiet"]
            + ["--parent-pid", str(os.getpid()), "--ready-fd", str(write_end)],
            pass_fds=(write_end,),
            cwd=str(root),
            env={**os.environ, "PYTHONPATH": str(root) + (os.pathsep + path if path else "")},
        )
        os.close(write_end)
        with os.fdopen(read_end, "rb") as ready:
            import select

            readable, _, _ = select.select([ready], [], [], timeout)
            line = ready.readline() if readable else b""
        if line.strip() != b"ready":
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if line.strip() == b"locked":
                return None
            raise SchedulerFailed(
                f"the scheduler did not start (exit {process.returncode}; see above)"
            )
        return cls(process)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # a clean stop: the lock is released
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def watch_parent(parent_pid: int, stop: Callable[[], None], every_s: float = 1.0) -> None:
    """Call `stop` once the process `parent_pid` is gone (a daemon thread)."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(every_s)
        stop()

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()
