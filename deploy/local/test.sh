#!/usr/bin/env bash
# Quick start, part 2: the whole test suite against real PostgreSQL and RabbitMQ: the contract
# test of the admin API (deploy/local/contract.sh), then the Rust suite.
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

# Databases left behind by earlier runs.
stale=$(runuser -u postgres -- psql -qAt -d postgres \
  -c "SELECT datname FROM pg_database WHERE datname LIKE 'sy\_test\_%'" 2>/dev/null || true)
for db in $stale; do
  runuser -u postgres -- psql -q -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null || true
done

export RUST_LOG=${RUST_LOG:-warn}
# The admin API against its own OpenAPI document (schemathesis; bounded in time), then the
# Rust suite, whose summary closes the output.
cargo build --quiet --bin switchyard
bash deploy/local/contract.sh
cargo test --workspace --all-targets -- --test-threads "${TEST_THREADS:-4}"
