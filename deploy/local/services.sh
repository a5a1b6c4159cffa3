#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ are running on this machine, installing them with apt-get
# when absent (as root), and that Switchyard's database roles and database exist.
#
# Idempotent: safe to run before every `run` and `test`. Sourced or executed.
set -euo pipefail

log() { printf '\033[1;34m[services]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  log "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  local port=$1 name=$2
  for _ in $(seq 1 90); do
    port_open "$port" && return 0
    sleep 1
  done
  log "$name did not open port $port"; return 1
}

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt_install postgresql
  fi
  if ! port_open 5432; then
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n1)
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for_port 5432 PostgreSQL
  fi
}

ensure_rabbitmq() {
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    apt_install rabbitmq-server
  fi
  if ! port_open 5672; then
    log "starting RabbitMQ"
    as_root rabbitmq-server -detached || true
    wait_for_port 5672 RabbitMQ
  fi
  # The port opens before the broker accepts connections; wait until it answers.
  for _ in $(seq 1 60); do
    as_root rabbitmqctl -q await_startup >/dev/null 2>&1 && return 0
    sleep 1
  done
}

psql_admin() {
  # Superuser over the local socket (peer auth on a fresh install, trust on some machines).
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qAt "$@"
  else
    sudo -u postgres psql -v ON_ERROR_STOP=1 -qAt "$@"
  fi
}

ensure_roles_and_database() {
  # Owner: runs migrations, owns the tables, may create test databases.
  # Runtime: what the application connects as; not the owner, no BYPASSRLS, so RLS applies.
  psql_admin -d postgres <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'switchyard_owner') THEN
    CREATE ROLE switchyard_owner LOGIN CREATEDB PASSWORD 'switchyard_owner';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'switchyard_app') THEN
    CREATE ROLE switchyard_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
      PASSWORD 'switchyard_app';
  END IF;
END
$$;
SQL
  if [ "$(psql_admin -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'switchyard'")" != "1" ]; then
    log "creating database switchyard"
    psql_admin -d postgres -c "CREATE DATABASE switchyard OWNER switchyard_owner"
  fi
}

ensure_postgres
ensure_rabbitmq
ensure_roles_and_database
log "PostgreSQL and RabbitMQ are ready"
