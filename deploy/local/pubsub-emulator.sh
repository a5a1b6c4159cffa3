#!/usr/bin/env bash
# Start the Google Pub/Sub emulator on 127.0.0.1:${PUBSUB_EMULATOR_PORT:-8085} unless it is
# already listening there, and print its host:port (for PUBSUB_EMULATOR_HOST).
#
# Exits 3, saying why on stderr, when the emulator is not installed (it comes with the Google
# Cloud SDK: `gcloud components install pubsub-emulator`, or Debian's
# google-cloud-cli-pubsub-emulator package) or Java is missing.
#
# The emulator's jar (0.8.20) breaks a subscription for good when a streaming pull on it is
# cancelled (a gRPC packaging defect: see pubsub-emulator-fix/io/grpc/InternalStatus.java). When
# the jar has that defect and a JDK is at hand, the corrected class is compiled into
# target/pubsub-emulator-fix and put ahead of the jar; without javac the emulator runs as
# shipped, with a warning, and tests that stop a worker on Pub/Sub will fail. An emulator
# already listening on the port is used as it is.
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
jar=$(ls "$(dirname "$emulator")"/../lib/cloud-pubsub-emulator-*-all.jar 2>/dev/null | head -n 1 || true)
classpath=$jar
if [ -n "$jar" ] && command -v javap >/dev/null 2>&1 \
  && ! javap -cp "$jar" io.grpc.InternalStatus 2>/dev/null | grep -q ' asRuntimeException('; then
  if command -v javac >/dev/null 2>&1; then
    fix=target/pubsub-emulator-fix
    javac -nowarn -cp "$jar" -d "$fix" deploy/local/pubsub-emulator-fix/io/grpc/InternalStatus.java
    classpath="$fix:$jar"
  else
    echo "warning: javac not found, so the emulator runs with its stream-cancel defect" >&2
  fi
fi
if [ -n "$jar" ]; then
  nohup java -cp "$classpath" com.google.cloud.pubsub.testing.v1.Main \
    --host=127.0.0.1 --port="$port" >target/pubsub-emulator.log 2>&1 &
else
  nohup "$emulator" --host=127.0.0.1 --port="$port" >target/pubsub-emulator.log 2>&1 &
fi
for _ in $(seq 1 60); do
  if port_open "$port"; then
    echo "127.0.0.1:$port"
    exit 0
  fi
  sleep 1
done
echo "the Pub/Sub emulator did not open port $port; see target/pubsub-emulator.log" >&2
exit 1
