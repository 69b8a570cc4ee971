"""A local Stripe (the `localstripe` package) for the demo and the tests.

localstripe listens on every interface and keeps its state in one fixed pickle file in the
system temp folder, so two runs at once would share it. `LocalStripe.start()` runs it through
this module (`python -m web.localstripe serve`), which binds 127.0.0.1 on a free port (chosen
by the kernel and reported back on the first line of stdout), moves the pickle into a
temporary folder of the run, and exits as soon as its parent process is gone (a watchdog
thread), so a crashed test run or demo never leaves it behind.

Webhooks are registered with `POST /_config/webhooks/{id}` (url and signing secret); localstripe
sends each event about a second after it happens, signed like Stripe (`Stripe-Signature`).
"""

import argparse
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

READY_TIMEOUT_S = 15.0
TEST_KEY = "sk_test_localstripe"


@dataclass
class LocalStripe:
    """A running localstripe child process on 127.0.0.1 (`url`), with its own data folder."""

    process: subprocess.Popen
    port: int
    folder: Path
    key: str = TEST_KEY
    webhooks: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, key: str = TEST_KEY) -> "LocalStripe":
        """Start localstripe and wait until it answers (about 0.3 s)."""
        folder = Path(tempfile.mkdtemp(prefix="junkan-localstripe-"))
        log = open(folder / "localstripe.log", "wb")  # noqa: SIM115 (kept by the child)
        process = subprocess.Popen(
            [sys.executable, "-m", "web.localstripe", "serve", "--data-dir", str(folder)]
            + ["--parent-pid", str(os.getpid())],
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=str(Path(__file__).resolve().parent.parent),
            env={**os.environ, "PYTHONPATH": _python_path()},
        )
        log.close()
        try:
            port = _read_port(process)
            server = cls(process, port, folder, key)
            server.wait_ready()
        except BaseException:
            process.kill()
            process.wait()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return server

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._request("GET", "/v1/balance", auth=True)
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"localstripe did not start: {self.log_tail()}") from None
                time.sleep(0.05)

    def register_webhook(self, url: str, secret: str, webhook_id: str = "junkan") -> None:
        """Have localstripe POST every event to `url`, signed with `secret`."""
        self._request("POST", f"/_config/webhooks/{webhook_id}", {"url": url, "secret": secret})
        self.webhooks[webhook_id] = (url, secret)

    def reset(self) -> None:
        """Forget every object (webhook registrations stay)."""
        self._request("DELETE", "/_config/data")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return (self.folder / "localstripe.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def _request(self, method: str, path: str, form: dict | None = None, auth: bool = False):
        data = urllib.parse.urlencode(form).encode() if form else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if auth:
            req.add_header("Authorization", f"Bearer {self.key}")
        with urllib.request.urlopen(req, timeout=5) as response:  # noqa: S310 (local URL)
            return response.read()


def _python_path() -> str:
    root = str(Path(__file__).resolve().parent.parent)
    current = os.environ.get("PYTHONPATH", "")
    return root + (os.pathsep + current if current else "")


def _read_port(process: subprocess.Popen) -> int:
    """The port the child bound, from the first line of its stdout."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], READY_TIMEOUT_S)
    line = process.stdout.readline().decode() if ready else ""
    if not line.startswith("PORT "):
        raise RuntimeError(f"localstripe did not report its port: {line!r}")
    return int(line.split()[1])


# ---------------------------------------------------------------------------------------------
# The child: localstripe's server with our bind address, pickle path and watchdog


def _serve(data_dir: str, parent_pid: int, port: int) -> None:
    import socket

    from aiohttp import web
    from localstripe import resources, server

    pickle_path = os.path.join(data_dir, "localstripe.pickle")

    def dump_to_disk(store) -> None:
        import pickle

        with open(pickle_path, "wb") as f:
            pickle.dump(dict(store), f, protocol=pickle.HIGHEST_PROTOCOL)

    # The store writes itself to /tmp/localstripe.pickle on every change: write ours instead.
    resources.Store.dump_to_disk = dump_to_disk
    resources.Store.try_load_from_disk = lambda store: None

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sys.stdout.write(f"PORT {sock.getsockname()[1]}\n")
    sys.stdout.flush()
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    web.run_app(server.app, sock=sock, print=None, access_log=None)


def _watch_parent(parent_pid: int) -> None:
    """Exit when the parent is gone (a killed test run or demo must not leave us behind)."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(0)
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m web.localstripe")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run localstripe on 127.0.0.1")
    serve.add_argument("--data-dir", required=True)
    serve.add_argument("--parent-pid", type=int, required=True)
    serve.add_argument("--port", type=int, default=0, help="0: a free port")
    args = parser.parse_args(argv)
    _serve(args.data_dir, args.parent_pid, args.port)


if __name__ == "__main__":
    main()
