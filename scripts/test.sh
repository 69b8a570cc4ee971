#!/usr/bin/env bash
# TEST: install what the suite needs, lint, then run the whole suite on SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium and its driver for the browser tests (never a browser download), and a
# Japanese font so that the Japanese screenshots show text.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || ! fc-list 2>/dev/null | grep -q "Noto Sans CJK"; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null
fi

# The local PostgreSQL server (trust auth, database "test").
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

bash scripts/setup.sh test
.venv/bin/ruff check .
.venv/bin/ruff format --check .

# One pytest worker per CPU (pytest-xdist); each worker has its own database and localstripe.
echo "== test suite on SQLite =="
.venv/bin/python -m pytest -n auto "$@"
echo "== test suite on PostgreSQL =="
# The Chromium walk of every page (tests/e2e/test_e2e_walk.py) reads what pages show; it runs in
# the SQLite pass only, to keep the suite near ten minutes (every other test runs on both).
TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/test" .venv/bin/python -m pytest -n auto --ignore=tests/e2e/test_e2e_walk.py "$@"
