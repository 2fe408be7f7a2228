#!/usr/bin/env bash
# Session job restore (issue #4): generated lifecycle traffic through `weir run session` at
# parallelism 2 on RocksDB, stopped mid-stream with a savepoint (`weir stop --savepointPath`),
# restored at parallelism 1 and 4 on the heap backend. The committed fact rows of the stopped run
# plus the restored run must equal one uninterrupted run: keyed lifecycle state, timers, the
# broadcast capability cache and the buffered signals all travel through the savepoint.
. "$(dirname "$0")/lib.sh"
N=${WEIR_SESSION_SP_EVENTS:-200000}
"$WEIR" gen --count "$N" --seed 9 --dup-fraction 0.05 --malformed-fraction 0.01 \
  --output "$TMP/in.jsonl" 2>/dev/null
"$WEIR" run session --input "$TMP/in.jsonl" --output-dir "$TMP/ref" -p 2 > /dev/null 2>"$TMP/ref.log" \
  || fail "reference run failed: $(tail -3 "$TMP/ref.log")"
rows_digest "$TMP/ref" > "$TMP/ref.digest"
cat "$TMP/ref.digest"

JID=5e55105e55105e55105e55105e55105e
"$WEIR" run session --input "$TMP/in.jsonl" --output-dir "$TMP/out" -p 2 --state-backend rocksdb \
  --state-dir "$TMP/state" --checkpoint-dir "$TMP/ck" --job-id $JID \
  -D execution.checkpointing.interval=200ms > "$TMP/run1.json" 2>"$TMP/run1.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; cleanup_tmp' EXIT
for _ in $(seq 100); do [ -f "$TMP/ck/$JID/chk-1/_metadata" ] && break; sleep 0.02; done
ans=$("$WEIR" stop --savepointPath "$TMP/sp" $JID) || fail "stop failed: $ans"
SP=$(json_get "$ans" path)
wait $PID || fail "stopped job failed: $(tail -3 "$TMP/run1.log")"
in1=$(json_get "$(cat "$TMP/run1.json")" records_in)
echo "stopped after $in1 of $N events: $SP"
[ "$in1" -gt 0 ] && [ "$in1" -lt "$N" ] || fail "the savepoint was not taken mid-stream ($in1 of $N)"
for p in 1 4; do
  rm -rf "$TMP/out-$p"; cp -r "$TMP/out" "$TMP/out-$p"
  "$WEIR" run session --input "$TMP/in.jsonl" --output-dir "$TMP/out-$p" -p $p --state-backend heap \
    --checkpoint-dir "$TMP/ck-$p" -s "$SP" > "$TMP/r$p.json" 2>"$TMP/r$p.log" \
    || fail "restore at p=$p failed: $(tail -3 "$TMP/r$p.log")"
  rows_digest "$TMP/out-$p" > "$TMP/out-$p.digest"
  diff "$TMP/ref.digest" "$TMP/out-$p.digest" || fail "p=2 rocksdb -> p=$p heap: facts differ"
  echo "p=2 rocksdb -> p=$p heap: facts equal the uninterrupted run"
done
echo PASS
