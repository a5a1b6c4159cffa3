#!/usr/bin/env bash
# Run a command against the Pub/Sub emulator: `with-pubsub-emulator.sh "WHAT" COMMAND...`
# starts the emulator (pubsub-emulator.sh) and runs COMMAND with PUBSUB_EMULATOR_HOST set.
# When the emulator cannot be had (not installed, no Java), it prints "SKIPPED: WHAT" with the
# reason and exits 0, so the RabbitMQ half of a run still counts; any other failure fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

what=$1
shift
set +e
emulator=$(bash deploy/local/pubsub-emulator.sh)
status=$?
set -e
if [ "$status" -eq 3 ]; then
  echo "SKIPPED: $what (the Pub/Sub emulator is not available; the reason is above)" >&2
  exit 0
elif [ "$status" -ne 0 ]; then
  exit "$status"
fi
echo "$what (Pub/Sub emulator at $emulator)" >&2
PUBSUB_EMULATOR_HOST=$emulator exec "$@"
