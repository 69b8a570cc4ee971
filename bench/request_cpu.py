"""CPU time a request costs inside the app, against a bare Flask "hello" in the same process.

Usage: ``python bench/request_cpu.py [--database-url URL] [--requests 200] [--rounds 3]``.

Loads the demo story into a temporary SQLite file (unless --database-url: an empty database,
migrated and loaded here), then sends each request through the Flask test client ``--requests``
times, ``--rounds`` times, and keeps the best round's CPU time per request
(``time.process_time``: the work of this process, with SQLite the database's too, whatever else
runs on the machine) and the number of SQL statements a request runs. Requests:

- ``hello``: a bare Flask app's ``GET /`` (the floor: Flask and the test client alone);
- ``me``: ``GET /api/v1/me`` with the demo manufacturer's bearer token;
- ``api``: ``GET /api/v1/listings?material=copper_scrap&near=27&sort=distance`` (the request of
  ``bench/http.py``);
- ``page``: the logged-in ``/listings`` page (25 rows of the demo story).

Prints a table and, last, one JSON line. The ratio ``hello / request`` is the share of bare
Flask a server could reach on the same CPUs if nothing but CPU counted (``bench/http.py``
measures it over real connections).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from flask import Flask  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.http import (  # noqa: E402
    API_PATH,
    MEMBER,
    PAGE_PATH,
    PASSWORD,
    csrf_token,
    env_for,
    prepare_database,
)


def _hello_client():
    app = Flask("hello")

    @app.get("/")
    def hello():
        return "Hello, World!"

    return app.test_client()


def _cpu_per_request(client, path: str, headers: dict, n: int, rounds: int) -> float:
    for _ in range(5):  # warm-up: caches, compiled statements, templates
        assert client.get(path, headers=headers).status_code == 200, path
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(n):
            client.get(path, headers=headers)
        best = min(best, (time.process_time() - start) / n * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="junkan-cpu-") as tmp:
        folder = Path(tmp)
        url = args.database_url or f"sqlite:///{folder / 'demo.db'}"
        env = env_for(url, folder)
        prepare_database(env)
        from web import create_app

        app = create_app(
            {"DATABASE_URL": url, "MAIL_OUTBOX": env["MAIL_OUTBOX"], "LOG_JSON": False}
        )
        engine = app.extensions["junkan.engine"]
        statements = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(1))
        api = app.test_client()
        token = api.post("/api/v1/tokens", json={"email": MEMBER, "password": PASSWORD})
        bearer = {"Authorization": "Bearer " + token.get_json()["token"]}
        page = app.test_client()
        html = page.get("/login").get_data(as_text=True)
        page.post(
            "/login",
            data={"email": MEMBER, "password": PASSWORD, "csrf_token": csrf_token(html)},
        )
        cases = [
            ("hello", _hello_client(), "/", {}),
            ("me", api, "/api/v1/me", bearer),
            ("api", api, API_PATH, bearer),
            ("page", page, PAGE_PATH, {}),
        ]
        result: dict[str, dict] = {}
        print(f"{'request':8} {'CPU ms':>8} {'queries':>8} {'hello/request':>14}")
        for name, client, path, headers in cases:
            cpu = _cpu_per_request(client, path, headers, args.requests, args.rounds)
            statements.clear()
            response = client.get(path, headers=headers)
            result[name] = {
                "cpu_ms": round(cpu, 3),
                "queries": len(statements),
                "bytes": len(response.get_data()),
            }
        hello = result["hello"]["cpu_ms"]
        for name, figures in result.items():
            figures["share_of_hello"] = round(hello / figures["cpu_ms"], 4)
            print(
                f"{name:8} {figures['cpu_ms']:>8.2f} {figures['queries']:>8} "
                f"{figures['share_of_hello']:>13.1%}"
            )
        engine.dispose()
    print(json.dumps({"db": url.split(":")[0], **result}))


if __name__ == "__main__":
    main()
