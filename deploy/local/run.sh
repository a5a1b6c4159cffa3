#!/usr/bin/env bash
# Quick start, part 1: run Switchyard all-in-one on this machine, offline.
#
# Starts (or installs) PostgreSQL and RabbitMQ, writes a development .env on first use,
# migrates, and runs ingress + worker + the fake provider APIs with a demo tenant.
# In another shell: `target/release/switchyard simulate whatsapp` sends a signed sample message.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash deploy/local/services.sh

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install a Rust toolchain (1.94 or newer) first" >&2
  exit 1
fi

cargo build --release --quiet --bin switchyard
bin=target/release/switchyard

if [ ! -f .env ]; then
  cat > .env <<ENV
# Development settings written by deploy/local/run.sh. Do not use these values in production.
DATABASE_URL=postgres://switchyard_app:switchyard_app@127.0.0.1:5432/switchyard
DATABASE_OWNER_URL=postgres://switchyard_owner:switchyard_owner@127.0.0.1:5432/switchyard
AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f
BIND_ADDR=127.0.0.1:8080
ENCRYPTION_KEYS=$($bin keygen --id dev1)
ADMIN_TOKEN=dev-admin-token
JWT_SECRET=$(head -c 32 /dev/urandom | base64)
WHATSAPP_APP_SECRET=sandbox-app-secret
WHATSAPP_VERIFY_TOKEN=sandbox-verify-token
ENV
  echo "wrote .env with development settings"
fi

$bin migrate
exec $bin serve --role all --sandbox
