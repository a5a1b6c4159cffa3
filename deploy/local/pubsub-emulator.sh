#!/usr/bin/env bash
# Start the Google Pub/Sub emulator on 127.0.0.1:${PUBSUB_EMULATOR_PORT:-8085} unless it is
# already listening there, and print its host:port (for PUBSUB_EMULATOR_HOST).
#
# Exits 3, saying why on stderr, when the emulator is not installed (it comes with the Google
# Cloud SDK: `gcloud components install pubsub-emulator`, or Debian's
# google-cloud-cli-pubsub-emulator package) or Java is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

port=${PUBSUB_EMULATOR_PORT:-8085}
emulator=${PUBSUB_EMULATOR_BIN:-/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if port_open "$port"; then
  echo "127.0.0.1:$port"
  exit 0
fi
if [ ! -x "$emulator" ]; then
  echo "the Pub/Sub emulator is not installed at $emulator" >&2
  exit 3
fi
if ! command -v java >/dev/null 2>&1; then
  echo "the Pub/Sub emulator needs Java, which is not installed" >&2
  exit 3
fi
mkdir -p target
nohup "$emulator" --host=127.0.0.1 --port="$port" >target/pubsub-emulator.log 2>&1 &
for _ in $(seq 1 60); do
  if port_open "$port"; then
    echo "127.0.0.1:$port"
    exit 0
  fi
  sleep 1
done
echo "the Pub/Sub emulator did not open port $port; see target/pubsub-emulator.log" >&2
exit 1
