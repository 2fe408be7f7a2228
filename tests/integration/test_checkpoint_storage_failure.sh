#!/usr/bin/env bash
# Checkpoint storage failure (issue #3): the job's checkpoint directory is made read-only while
# the dedup job runs. Checkpoints fail, the job keeps running until more than
# execution.checkpointing.tolerable-failed-checkpoints failed in a row, then fails; the restart
# strategy restarts it from the last GOOD checkpoint (taken before the directory became
# read-only). Once the directory is writable again the job completes, and its committed output
# equals one uninterrupted run.
# "Read-only" is `chattr +i` (immutable: refused even to root, as tests may run as root), or
# chmod 0555 for a non-root user; the test skips when neither blocks writes.
. "$(dirname "$0")/lib.sh"
N=${WEIR_STORAGE_EVENTS:-600000}

mkdir -p "$TMP/probe/d"
make_ro() { chattr +i "$1" 2>/dev/null || chmod 0555 "$1"; }
make_rw() { chattr -i "$1" 2>/dev/null || true; chmod 0755 "$1"; }
make_ro "$TMP/probe/d"
if mkdir "$TMP/probe/d/x" 2>/dev/null; then
  make_rw "$TMP/probe/d"
  echo "SKIP: cannot make a directory read-only here (root without chattr)"
  exit 0
fi
make_rw "$TMP/probe/d"

"$WEIR" gen --count "$N" --seed 3 --dup-fraction 0.05 --malformed-fraction 0.01 \
  --output "$TMP/in.jsonl" 2>/dev/null
"$WEIR" run dedup --input "$TMP/in.jsonl" --output-dir "$TMP/ref" -p 2 > /dev/null 2>"$TMP/ref.log" \
  || fail "reference run failed"
rows_digest "$TMP/ref" > "$TMP/ref.digest"

JID=fedcba9876543210fedcba9876543210
JD="$TMP/ck/$JID"
# N records keep the job running for a few seconds; checkpoints every 100 ms
WEIR_LOG_LEVEL=info "$WEIR" run dedup --input "$TMP/in.jsonl" --output-dir "$TMP/out" -p 2 \
  --state-backend rocksdb --state-dir "$TMP/state" --checkpoint-dir "$TMP/ck" --job-id $JID \
  -D execution.checkpointing.interval=100ms \
  -D execution.checkpointing.tolerable-failed-checkpoints=3 \
  -D restart-strategy.type=fixed-delay -D restart-strategy.fixed-delay.attempts=1000 \
  -D restart-strategy.fixed-delay.delay=200ms > "$TMP/run.json" 2>"$TMP/run.log" &
PID=$!
trap 'make_rw "$JD" 2>/dev/null || true; kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; cleanup_tmp' EXIT
for _ in $(seq 200); do
  [ -f "$JD/chk-2/_metadata" ] && break
  kill -0 $PID 2>/dev/null || fail "job ended before its second checkpoint: $(tail -3 "$TMP/run.log")"
  sleep 0.02
done
[ -f "$JD/chk-2/_metadata" ] || fail "no second checkpoint"
make_ro "$JD"
sleep 1 # a checkpoint already in flight (its chk-<n> existed) may still complete
GOOD=$("$WEIR" checkpoints --json "$JD" | tail -1 | python3 -c \
  'import json, sys; print(json.loads(sys.stdin.read())["checkpoint_id"])')
echo "checkpoint directory read-only after checkpoint $GOOD"
for _ in $(seq 300); do
  grep -q "restoring from checkpoint" "$TMP/run.log" && break
  kill -0 $PID 2>/dev/null || break
  sleep 0.05
done
sleep 0.5
make_rw "$JD"
wait $PID || fail "job failed: $(tail -5 "$TMP/run.log")"
grep -q "checkpoint .* failed" "$TMP/run.log" || fail "no failed checkpoint logged"
if grep -q "restoring from checkpoint" "$TMP/run.log"; then
  grep -q "exceeded the tolerable number of failed checkpoints (3)" "$TMP/run.log" \
    || fail "the job failed for another reason: $(grep -m1 'job failed' "$TMP/run.log")"
  first=$(grep -m1 -o "restoring from checkpoint [0-9]*" "$TMP/run.log" | grep -o "[0-9]*$")
  expect_eq "$first" "$GOOD" "the first restart restores the last good checkpoint"
  echo "restarted from the last good checkpoint $GOOD after exceeding the tolerable failures"
else
  echo "the job finished before exceeding the tolerable failures"
fi
rows_digest "$TMP/out" > "$TMP/out.digest"
diff "$TMP/ref.digest" "$TMP/out.digest" || fail "output differs from the uninterrupted run"
echo PASS
