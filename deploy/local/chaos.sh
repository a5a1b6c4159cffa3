#!/usr/bin/env bash
# The chaos run (RELIABILITY.md): signed webhooks of every channel for several tenants at a
# steady rate while RabbitMQ and PostgreSQL are restarted and a worker and the ingress are
# killed with SIGKILL; then every accepted event is checked against the database and every
# stored message against the replies the fake providers received. Fails on any loss or
# duplicate.
#
# It runs once per queue backend in CHAOS_BACKENDS (default "rabbitmq pubsub"). The Pub/Sub
# run uses the emulator (deploy/local/pubsub-emulator.sh; skipped, saying why, when it is not
# installed) and leaves out the broker restart: the emulator keeps messages in memory only.
#
# It restarts this machine's RabbitMQ and PostgreSQL, so run it as root and never beside a
# test suite. CHAOS_SHORT=1 runs the shorter variant CI runs (90 s at 15 events/s); the
# default is the full run (240 s at 20 events/s). Other arguments go to the program
# (`target/debug/chaos --help`), e.g. --report FILE or other --broker-restart /
# --database-restart commands for machines managed by systemd (with both backends, --report
# is written by each run in turn: choose one with CHAOS_BACKENDS).
set -euo pipefail
cd "$(dirname "$0")/../.."

bash deploy/local/services.sh
cargo build --quiet --bin switchyard --bin chaos

args=()
if [ "${CHAOS_SHORT:-0}" = 1 ]; then
  args+=(--duration-secs 90 --rate 15)
fi
for backend in ${CHAOS_BACKENDS:-rabbitmq pubsub}; do
  case "$backend" in
    rabbitmq)
      target/debug/chaos --backend rabbitmq "${args[@]}" "$@"
      ;;
    pubsub)
      bash deploy/local/with-pubsub-emulator.sh "the chaos run on Pub/Sub" \
        target/debug/chaos --backend pubsub "${args[@]}" "$@"
      ;;
    *)
      echo "unknown backend in CHAOS_BACKENDS: $backend" >&2
      exit 2
      ;;
  esac
done
