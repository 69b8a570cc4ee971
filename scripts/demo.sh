#!/usr/bin/env bash
# RUN: install, migrate the SQLite database under instance/, load demo data, serve on :5000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/junkan db upgrade
.venv/bin/junkan demo load
# The scheduler runs beside the server as its child process (one machine); Stripe is a local localstripe unless
# STRIPE_SECRET_KEY is set.
SCHEDULER_IN_PROCESS="${SCHEDULER_IN_PROCESS:-1}" exec .venv/bin/junkan serve --host 127.0.0.1 --port "${PORT:-5000}"
