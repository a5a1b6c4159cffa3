#!/usr/bin/env bash
# The chaos run (RELIABILITY.md): signed webhooks of every channel for several tenants at a
# steady rate while RabbitMQ and PostgreSQL are restarted and a worker and the ingress are
# killed with SIGKILL; then every accepted event is checked against the database and every
# stored message against the replies the fake providers received. Fails on any loss or
# duplicate.
#
# It restarts this machine's RabbitMQ and PostgreSQL, so run it as root and never beside a
# test suite. CHAOS_SHORT=1 runs the shorter variant CI runs (90 s at 15 events/s); the
# default is the full run (240 s at 20 events/s). Other arguments go to the program
# (`target/debug/chaos --help`), e.g. --report FILE or other --broker-restart /
# --database-restart commands for machines managed by systemd.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash deploy/local/services.sh
cargo build --quiet --bin switchyard --bin chaos

args=()
if [ "${CHAOS_SHORT:-0}" = 1 ]; then
  args+=(--duration-secs 90 --rate 15)
fi
target/debug/chaos "${args[@]}" "$@"
