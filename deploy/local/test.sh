#!/usr/bin/env bash
# Quick start, part 2: the whole test suite against real PostgreSQL and RabbitMQ: the contract
# test of the admin API (deploy/local/contract.sh), then the Rust suite; then the end-to-end
# suite again with Pub/Sub as the queue, on the Pub/Sub emulator (skipped, saying why, when
# the emulator is not installed).
#
# Starts (or installs) both services and creates the roles; each test then creates its own
# database (migrated) and its own queue prefix, so tests run in parallel.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash deploy/local/services.sh

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install a Rust toolchain (1.94 or newer) first" >&2
  exit 1
fi

# Databases left behind by earlier runs (each test creates its own), dropped in one session.
runuser -u postgres -- psql -qAt -d postgres \
  -c "SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE);', datname) FROM pg_database
      WHERE datname LIKE 'sy\_test\_%'" 2>/dev/null \
  | runuser -u postgres -- psql -q -d postgres >/dev/null 2>&1 || true

export RUST_LOG=${RUST_LOG:-warn}
# The admin API against its own OpenAPI document (schemathesis; bounded in time), then the
# Rust suite, whose summary closes the output.
cargo build --quiet --bin switchyard
bash deploy/local/contract.sh
cargo test --workspace --all-targets -- --test-threads "${TEST_THREADS:-4}"

bash deploy/local/with-pubsub-emulator.sh "the end-to-end suite on Pub/Sub" \
  env TEST_QUEUE_BACKEND=pubsub cargo test --test api --test pubsub_topology \
  -- --test-threads "${TEST_THREADS:-4}"
