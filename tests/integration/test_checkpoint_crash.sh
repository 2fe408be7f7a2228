#!/usr/bin/env bash
# Crash test (issue #3): the dedup job on N generated events with 5 % duplicates, checkpoints
# every second, killed with `kill -9` at K random moments and restarted each time with the same
# command (it resumes from the latest completed checkpoint in --checkpoint-dir). The committed
# output (<table>/part-*.jsonl) must equal the output of one uninterrupted run: same rows, each
# exactly once, hence the same DLQ and quarantine counts. Once from a JSON-lines file (RocksDB
# state), once from a standalone embedded Kafka (`weir kafka embedded`, which survives the
# kills; 256 partitions keep every partition under the mock cluster's ~5 MB retention, so what
# a restart replays is still there).
# WEIR_CRASH_EVENTS (default 1000000) and WEIR_CRASH_KILLS (default 20) scale it.
. "$(dirname "$0")/lib.sh"
N=${WEIR_CRASH_EVENTS:-1000000}
K=${WEIR_CRASH_KILLS:-20}

"$WEIR" gen --count "$N" --seed 11 --dup-fraction 0.05 --malformed-fraction 0.01 \
  --output "$TMP/in.jsonl" 2>/dev/null

# crash_loop NAME ARGS... : runs `weir run dedup ARGS` K times killed at a random moment, then to
# the end; checks the committed output against the reference digest.
crash_loop() {
  local name=$1; shift
  local ck="$TMP/$name-ck" out="$TMP/$name-out" log="$TMP/$name.log"
  local resumed=0
  for i in $(seq "$K"); do
    "$WEIR" run dedup "$@" --output-dir "$out" --checkpoint-dir "$ck" -p 2 \
      -D execution.checkpointing.interval=1s >>"$log" 2>&1 &
    local pid=$!
    sleep "$(python3 -c "import random; print(round(random.uniform(0.3, 2.5), 2))")"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  "$WEIR" run dedup "$@" --output-dir "$out" --checkpoint-dir "$ck" -p 2 \
    -D execution.checkpointing.interval=1s >>"$log" 2>&1 || fail "$name: final run failed: $(tail -3 "$log")"
  resumed=$(grep -c "resuming from checkpoint" "$log" || true)
  echo "$name: $K kills, $resumed restarts resumed from a checkpoint"
  [ "$resumed" -ge 1 ] || fail "$name: no restart resumed from a checkpoint"
  if ls "$out"/*/.inprogress-* >/dev/null 2>&1; then fail "$name: in-progress files left"; fi
  rows_digest "$out" "$name" > "$TMP/$name.digest"
  if ! diff "$TMP/$name-ref.digest" "$TMP/$name.digest"; then
    fail "$name: committed output differs from the uninterrupted run"
  fi
  echo "$name: committed output equals the uninterrupted run"
}

# reference NAME ARGS... : one uninterrupted run without checkpoints
reference() {
  local name=$1; shift
  "$WEIR" run dedup "$@" --output-dir "$TMP/$name-ref" -p 2 > "$TMP/$name-ref.json" \
    2>"$TMP/$name-ref.log" || fail "$name: reference run failed: $(tail -3 "$TMP/$name-ref.log")"
  rows_digest "$TMP/$name-ref" "$name" > "$TMP/$name-ref.digest"
  cat "$TMP/$name-ref.digest"
  expect_eq "$(json_get "$(cat "$TMP/$name-ref.json")" records_in)" "$N" "$name: reference records_in"
}

reference file --input "$TMP/in.jsonl"
crash_loop file --input "$TMP/in.jsonl" --state-backend rocksdb --state-dir "$TMP/file-state"

"$WEIR" kafka embedded --topic streaming_events:256 --topic events.dlq.streaming_events.v1:1 \
  --topic events.quarantine.streaming_events.v1:1 --bootstrap-file "$TMP/bs" > "$TMP/embedded.log" 2>&1 &
EMB=$!
trap 'kill $EMB 2>/dev/null || true; wait $EMB 2>/dev/null || true; cleanup_tmp' EXIT
for _ in $(seq 100); do [ -s "$TMP/bs" ] && break; sleep 0.1; done
BS=$(cat "$TMP/bs")
[ -n "$BS" ] || fail "embedded Kafka did not start: $(cat "$TMP/embedded.log")"
"$WEIR" gen --count "$N" --seed 11 --dup-fraction 0.05 --malformed-fraction 0.01 \
  --kafka "$BS" --topic streaming_events 2>"$TMP/gen.log" || fail "producing failed: $(cat "$TMP/gen.log")"
reference kafka --kafka "$BS" --bounded
crash_loop kafka --kafka "$BS" --bounded --state-backend rocksdb --state-dir "$TMP/kafka-state"
echo PASS
