#!/usr/bin/env bash
# Fuzz every payload parser and signature verifier for a bounded time (see fuzz/README.md).
#
#   bash deploy/local/fuzz.sh                                   # every target, 60 s each
#   FUZZ_SECONDS=300 bash deploy/local/fuzz.sh twilio_form      # one target, 5 minutes
#
# Needs only the stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its nightly-only
# flags. AddressSanitizer links on stable; FUZZ_SANITIZER=none builds without it where it does
# not. Corpora live in fuzz/corpus/<target>: the committed seed-* inputs, fixture-* inputs
# copied here from tests/fixtures/, and what the fuzzer adds; a crashing input is kept in fuzz/artifacts/<target>/ and the script exits
# non-zero. Each target's libFuzzer output is in fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${FUZZ_SECONDS:-60}
sanitizer=${FUZZ_SANITIZER:-address}
export RUSTC_BOOTSTRAP=1
# Smaller codegen units build the large dependency tree much faster, at little cost in speed.
build_flags=(--sanitizer "$sanitizer" --codegen-units 16 --target-dir "${CARGO_TARGET_DIR:-fuzz/target}")

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi

# seed TARGET NAME FILE [PREFIX]: fuzz/corpus/TARGET/fixture-NAME is PREFIX (printf escapes,
# e.g. the two status bytes the API-answer targets read first) followed by FILE.
seed() {
  local dir="fuzz/corpus/$1"
  mkdir -p "$dir"
  { printf "${4:-}"; cat "$3"; } >"$dir/fixture-$2"
}
f=tests/fixtures
for name in inbound_text inbound_button_reply inbound_image status_delivered status_failed; do
  seed whatsapp_webhook "$name" "$f/whatsapp/$name.json"
done
for name in message_received message_sent message_finalized call_initiated call_hangup \
  call_conversation_ended; do
  seed telnyx_webhook "$name" "$f/telnyx/$name.json"
done
for name in gmail_push push_with_attributes_and_delivery_attempt gmail_notification_decoded; do
  seed pubsub_push "$name" "$f/pubsub/$name.json"
done
seed google_jwks test_jwks ingress/tests/keys/test_only_google_jwks.json
seed google_jwks cache_control /dev/null 'public, max-age=19822, must-revalidate, no-transform'
# Status bytes: the targets read 100 + (big-endian u16 % 500), so \x00\x64 is 200.
seed gmail_api history_list "$f/gmail/history_list.json" '\x00\x64'
seed gmail_api message_full "$f/gmail/message_full.json" '\x00\x64'
seed gmail_api send_response "$f/gmail/send_response.json" '\x00\x64'
seed gmail_api error_404_history "$f/gmail/error_404_history.json" '\x01\x30'
seed gemini_response generate_response "$f/gemini/generate_response.json" '\x00\x64'
seed gemini_response blocked_prompt "$f/gemini/generate_response_blocked_prompt.json" '\x00\x64'
seed gemini_response error_429 "$f/gemini/error_429.json" '\x01\x49'
seed gemini_response error_503 "$f/gemini/error_503.json" '\x01\x93'
seed telnyx_send_answer send_message_response "$f/telnyx/send_message_response.json" '\x00\x64\x00'
seed telnyx_send_answer error_429 "$f/telnyx/error_response.json" '\x01\x49\x0230'
seed whatsapp_send_answer send_text_response "$f/whatsapp/send_text_response.json" '\x00\x64'
seed whatsapp_send_answer send_error_response "$f/whatsapp/send_error_response.json" '\x01\x2c'

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

cargo fuzz build "${build_flags[@]}"
mkdir -p fuzz/logs
failed=()
summary=()
for target in "${targets[@]}"; do
  log="fuzz/logs/$target.log"
  mkdir -p "fuzz/corpus/$target"
  echo "== $target: $seconds s"
  status=ok
  if ! cargo fuzz run "${build_flags[@]}" "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=25 -print_final_stats=1 >"$log" 2>&1; then
    status=CRASH
    failed+=("$target")
    tail -n 40 "$log"
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  summary+=("$(printf '%-22s %6ss %12s runs  %s' "$target" "$seconds" "${runs:-?}" "$status")")
done

printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
