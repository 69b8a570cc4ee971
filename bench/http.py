"""HTTP benchmark: Junkan under `junkan serve` (gunicorn) against a bare Flask app.

Usage: ``python bench/http.py [--workers 2] [--threads 4] [--connections 16] [--duration 10]
[--runs 3] [--database-url URL] [--loader wrk|python]``.

Starts (a) a bare Flask "hello" app and (b) Junkan with the demo data (a temporary SQLite
file unless --database-url: `junkan db upgrade` + `junkan demo load`), each under gunicorn
with the same workers and threads as `junkan serve`, and drives them with keep-alive
connections for a fixed time: `wrk` when installed (`--latency`), else a Python load generator
(one thread and one http.client connection per connection). Both servers run at once and
the targets take turns, round after round, so that a change in the machine's load touches each
alike; reported, the median of --runs:

- ``hello``: bare Flask ``GET /``;
- ``api``: ``GET /api/v1/listings?material=copper_scrap&near=27&sort=distance`` with the bearer
  token of the demo manufacturer;
- ``page``: the logged-in ``/listings`` page (the same member's session cookie).

Prints a table (req/s, p50, p99, ratio to bare Flask) and, last, one JSON line with the
figures. The load generator runs on the same machine and shares its CPUs with the server:
with 2 cores, wrk's own threads take part of them, so every figure is lower than on a
separate client machine (the ratios are the fairer comparison).
"""

from __future__ import annotations

import os
import sys

# This file is named http.py: run as a script, its folder comes first on sys.path and would
# shadow the standard library's `http` package, so the folder leaves the path first.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.parse  # noqa: E402
import urllib.request  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
API_PATH = "/api/v1/listings?material=copper_scrap&near=27&sort=distance"
PAGE_PATH = "/listings"
MEMBER = "manufacturer@demo.junkan.jp"
# Flask-Login's "strong" session protection ties a session to the browser's address and
# User-Agent: the login and the load generator send the same one.
USER_AGENT = "junkan-bench/1"
PASSWORD = "junkan-demo"
HELLO_APP = """
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, World!"
"""


@dataclass
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _has_control_socket() -> bool:
    """gunicorn 25+ opens a control socket at one path per user unless told not to."""
    from gunicorn.config import KNOWN_SETTINGS

    return any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS)


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped (exit {process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=10):  # noqa: S310 (local URL)
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer in {timeout:.0f} s") from None
            time.sleep(0.3)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def env_for(database_url: str, folder: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LOG_JSON": "1",
        "MAIL_OUTBOX": str(folder / "outbox"),
        "PYTHONPATH": str(ROOT),
        # No local Stripe and no scheduler: only the web server is measured.
        "STRIPE_SECRET_KEY": "sk_test_bench_not_used",
    }
    env.pop("SCHEDULER_IN_PROCESS", None)
    return env


def prepare_database(env: dict[str, str]) -> None:
    for command in (["db", "upgrade"], ["demo", "load"]):
        subprocess.run(
            [sys.executable, "-m", "web.cli", *command],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )


def api_token(base: str) -> str:
    body = json.dumps({"email": MEMBER, "password": PASSWORD}).encode()
    req = urllib.request.Request(
        base + "/api/v1/tokens", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 (local URL)
        return json.load(response)["token"]


def csrf_token(html: str) -> str:
    """The CSRF token of the login form in `html` ("" when there is none)."""
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    return found.group(1) if found else ""


def session_cookie(base: str) -> str:
    """Log in through the login form (with its CSRF token); the session cookie."""
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", USER_AGENT)]
    with opener.open(base + "/login", timeout=30) as response:
        html = response.read().decode()
    form = {"email": MEMBER, "password": PASSWORD, "csrf_token": csrf_token(html)}
    data = urllib.parse.urlencode(form).encode()
    with opener.open(base + "/login", data=data, timeout=30) as response:
        response.read()
    cookies = {c.name: c.value for c in jar}
    if "session" not in cookies:
        raise RuntimeError("the login did not set a session cookie")
    check = http.client.HTTPConnection(urllib.parse.urlsplit(base).netloc, timeout=30)
    check.request(
        "GET",
        PAGE_PATH,
        headers={"Cookie": f"session={cookies['session']}", "User-Agent": USER_AGENT},
    )
    answer = check.getresponse()
    answer.read()
    check.close()
    if answer.status != 200:
        raise RuntimeError(f"the session cookie does not open {PAGE_PATH}: {answer.status}")
    return f"session={cookies['session']}"


# --- load generators -----------------------------------------------------------------------


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, headers: dict[str, str], connections: int, duration: int) -> Figures:
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--latency"]
    for name, value in {"User-Agent": USER_AGENT, **headers}.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    latency = {
        p: _ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    }
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return Figures(rps, latency["50"], latency["99"], errors + (int(bad.group(1)) if bad else 0))


def run_python(url: str, headers: dict[str, str], connections: int, duration: int) -> Figures:
    """One thread and one keep-alive connection per connection, for `duration` seconds."""
    parts = urllib.parse.urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"User-Agent": USER_AGENT, **headers}
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    start = threading.Event()
    deadline = [0.0]

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        start.wait()
        while time.perf_counter() < deadline[0]:
            t0 = time.perf_counter()
            try:
                conn.request("GET", target, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 300:
                    errors[i] += 1
            except OSError:
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                continue
            latencies[i].append(time.perf_counter() - t0)
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    began = time.perf_counter()
    deadline[0] = began + duration
    start.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    everything = sorted(x for per in latencies for x in per)
    if not everything:
        return Figures(0.0, 0.0, 0.0, sum(errors))

    def pct(p: float) -> float:
        return everything[min(len(everything) - 1, int(p * len(everything)))] * 1000

    return Figures(len(everything) / elapsed, pct(0.50), pct(0.99), sum(errors))


def measure_interleaved(loader, targets: dict[str, tuple[str, dict]], args) -> dict[str, Figures]:
    """Each target once per round, round after round (so that a change in the machine's load
    touches every target alike); the run with the median req/s of each target."""
    for url, headers in targets.values():
        loader(url, headers, args.connections, 2)  # warm-up (connections, caches)
    runs: dict[str, list[Figures]] = {name: [] for name in targets}
    for _ in range(args.runs):
        for name, (url, headers) in targets.items():
            runs[name].append(loader(url, headers, args.connections, args.duration))
    return {name: sorted(r, key=lambda f: f.rps)[len(r) // 2] for name, r in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="per worker (gthread)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--runs", type=int, default=3, help="the median is reported")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--loader", choices=["wrk", "python"], default=None)
    parser.add_argument("--only", choices=["hello", "api", "page"], nargs="*", default=None)
    args = parser.parse_args()
    loader_name = args.loader or ("wrk" if shutil.which("wrk") else "python")
    loader = run_wrk if loader_name == "wrk" else run_python
    only = set(args.only or ["hello", "api", "page"])

    folder = Path(tempfile.mkdtemp(prefix="junkan-bench-http-"))
    database_url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    env = env_for(database_url, folder)
    (folder / "hello.py").write_text(HELLO_APP)
    results: dict[str, Figures] = {}
    targets: dict[str, tuple[str, dict]] = {}
    servers: list[subprocess.Popen] = []
    try:
        if "hello" in only:
            port = free_port()
            worker_class = "gthread" if args.threads > 1 else "sync"
            hello = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", str(args.workers)]
                + ["--threads", str(args.threads), "--worker-class", worker_class]
                + ["--keep-alive", "5", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
                + (["--no-control-socket"] if _has_control_socket() else [])
                + ["--chdir", str(folder), "hello:app"],
                cwd=folder,
                env=env,
            )
            servers.append(hello)
            wait_until_up(f"http://127.0.0.1:{port}/", hello)
            targets["hello"] = (f"http://127.0.0.1:{port}/", {})
        if only & {"api", "page"}:
            print("loading the demo data…", file=sys.stderr)
            prepare_database(env)
            port = free_port()
            server = subprocess.Popen(
                [sys.executable, "-m", "web.cli", "serve", "--port", str(port)]
                + ["--workers", str(args.workers), "--threads", str(args.threads)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(folder / "serve.log", "wb"),  # noqa: SIM115
            )
            servers.append(server)
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base + "/", server)
            if "api" in only:
                targets["api"] = (base + API_PATH, {"Authorization": f"Bearer {api_token(base)}"})
            if "page" in only:
                targets["page"] = (base + PAGE_PATH, {"Cookie": session_cookie(base)})
        # Both servers run, idle but for the one measured: round after round, each target once.
        results = measure_interleaved(loader, targets, args)
    finally:
        for process in servers:
            stop(process)
        shutil.rmtree(folder, ignore_errors=True)

    bare = results.get("hello")
    print(
        f"gunicorn {args.workers} workers × {args.threads} threads, {args.connections} connections,"
        f" {args.duration} s × {args.runs} runs (median, interleaved), load generator {loader_name} on the same"
        f" {os.cpu_count()} CPUs"
    )
    print(f"{'what':<8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs bare':>8}")
    summary: dict[str, object] = {
        "loader": loader_name,
        "workers": args.workers,
        "threads": args.threads,
        "connections": args.connections,
        "cpus": os.cpu_count(),
        "db": "sqlite" if database_url.startswith("sqlite") else "postgresql",
    }
    for name, figures in results.items():
        ratio = figures.rps / bare.rps if bare and bare.rps else None
        shown = f"{ratio:8.1%}" if ratio is not None else f"{'—':>8}"
        print(
            f"{name:<8} {figures.rps:9.0f} {figures.p50_ms:8.2f} {figures.p99_ms:8.2f}"
            f" {figures.errors:7d} {shown}"
        )
        summary[name] = {k: round(v, 2) for k, v in asdict(figures).items()}
        if ratio is not None and name != "hello":
            summary[f"{name}_ratio"] = round(ratio, 4)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
