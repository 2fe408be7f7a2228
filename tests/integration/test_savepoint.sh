#!/usr/bin/env bash
# Savepoints (issue #3): the dedup job runs at parallelism 4 on RocksDB and is stopped mid-stream
# with `weir stop --savepointPath` (after a plain `weir savepoint` while it runs); the savepoint is
# restored at parallelism 1 and 8, into the heap backend and back into RocksDB. Each restored run
# continues the committed output of the stopped one, and the result must equal one uninterrupted
# run. `weir savepoint inspect` must show every dedup key in the key group Flink assigns
# (inside its subtask's range). `weir list` must show the running job.
. "$(dirname "$0")/lib.sh"
N=${WEIR_SAVEPOINT_EVENTS:-1000000}

"$WEIR" gen --count "$N" --seed 5 --dup-fraction 0.05 --malformed-fraction 0.01 \
  --output "$TMP/in.jsonl" 2>/dev/null


"$WEIR" run dedup --input "$TMP/in.jsonl" --output-dir "$TMP/ref" -p 4 > "$TMP/ref.json" 2>"$TMP/ref.log" \
  || fail "reference run failed: $(tail -3 "$TMP/ref.log")"
rows_digest "$TMP/ref" > "$TMP/ref.digest"

# a job id of our own, so that nothing else on the machine can answer for it
JID=0123456789abcdef0123456789abcdef
"$WEIR" run dedup --input "$TMP/in.jsonl" --output-dir "$TMP/out" -p 4 --state-backend rocksdb \
  --state-dir "$TMP/state" --checkpoint-dir "$TMP/ck" --job-id $JID \
  -D execution.checkpointing.interval=500ms > "$TMP/run1.json" 2>"$TMP/run1.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; cleanup_tmp' EXIT
for _ in $(seq 200); do "$WEIR" list 2>/dev/null | grep "$JID" | grep -q RUNNING && break; sleep 0.05; done
"$WEIR" list | grep "\"job_id\":\"$JID\"" | grep -q '"state":"RUNNING"' \
  || fail "weir list does not show the job running: $("$WEIR" list 2>&1)"
# the checks below need a completed periodic checkpoint (every 500 ms): wait for the first one,
# so that a fast job is not stopped before it (the savepoint and stop take well under 500 ms)
for _ in $(seq 400); do
  [ -n "$("$WEIR" checkpoints --json "$TMP/ck" 2>/dev/null)" ] && break
  sleep 0.05
done
ans=$("$WEIR" savepoint $JID "$TMP/sp-running") || fail "savepoint failed: $ans"
echo "$ans"
"$WEIR" savepoint inspect "$(json_get "$ans" path)" > /dev/null || fail "inspect of a running-job savepoint failed"
ans=$("$WEIR" stop --savepointPath "$TMP/sp" $JID) || fail "stop failed: $ans"
echo "$ans"
SP=$(json_get "$ans" path)
wait $PID || fail "stopped job exited with an error: $(tail -3 "$TMP/run1.log")"
# `weir checkpoints` lists the completed checkpoints of the stopped job (id, time, size, duration)
"$WEIR" checkpoints --json "$TMP/ck" > "$TMP/cks.jsonl" || fail "weir checkpoints failed"
python3 - "$TMP/cks.jsonl" $JID <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert rows, "no completed checkpoint listed"
for r in rows:
    assert sys.argv[2] in json.dumps(r), r
print(f"weir checkpoints: {len(rows)} completed checkpoint(s): {rows[-1]}")
PY
in1=$(json_get "$(cat "$TMP/run1.json")" records_in)
echo "stopped after $in1 of $N records: $SP"
[ "$in1" -gt 0 ] && [ "$in1" -lt "$N" ] || fail "the savepoint was not taken mid-stream ($in1 of $N)"

"$WEIR" savepoint inspect "$SP" > "$TMP/inspect.jsonl" || fail "inspect failed"
python3 - "$TMP/inspect.jsonl" "$(json_get "$(cat "$TMP/run1.json")" accepted)" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
head, ops = lines[0], {l["operator"]: l for l in lines if "parallelism" in l}
assert head["savepoint"] and head["format"] == "canonical", head
dd = ops["dedup"]
assert dd["parallelism"] == 4 and dd["max_parallelism"] == 128, dd
ranges = {s["subtask"]: s["key_groups"] for s in dd["subtasks"]}
assert sorted(ranges.values()) == [[0, 31], [32, 63], [64, 95], [96, 127]], ranges
keys = [l for l in lines if l.get("state") == "dedup-keys"]
per_kg = {}
for e in keys:
    lo, hi = ranges[e["subtask"]]
    assert lo <= e["key_group"] <= hi, e
    per_kg[e["key_group"]] = per_kg.get(e["key_group"], 0) + 1
# one dedup key per accepted event (the first occurrence of each key is accepted)
assert len(keys) == int(sys.argv[2]), (len(keys), sys.argv[2])
assert len(set(e["key"] for e in keys)) == len(keys)
print(f"inspect: {len(keys)} dedup keys in {len(per_kg)} key groups")
PY

restore() { # NAME PARALLELISM BACKEND
  rm -rf "$TMP/out-$1"; cp -r "$TMP/out" "$TMP/out-$1"
  "$WEIR" run dedup --input "$TMP/in.jsonl" --output-dir "$TMP/out-$1" -p "$2" --state-backend "$3" \
    --state-dir "$TMP/state-$1" --checkpoint-dir "$TMP/ck-$1" -s "$SP" \
    > "$TMP/$1.json" 2>"$TMP/$1.log" || fail "$1: restored run failed: $(tail -3 "$TMP/$1.log")"
  grep -q "restored from checkpoint/savepoint" "$TMP/$1.log" || fail "$1: no restore message"
  local in2
  in2=$(json_get "$(cat "$TMP/$1.json")" records_in)
  expect_eq "$((in1 + in2))" "$N" "$1: records before + after the savepoint"
  rows_digest "$TMP/out-$1" > "$TMP/$1.digest"
  diff "$TMP/ref.digest" "$TMP/$1.digest" || fail "$1: output differs from the uninterrupted run"
  echo "$1: p=4 rocksdb -> p=$2 $3: output equals the uninterrupted run"
}
# `weir cancel` ends a running job without a savepoint; it exits non-zero ("job cancelled")
JID2=c0ffeec0ffeec0ffeec0ffeec0ffeec0
"$WEIR" run dedup --input "$TMP/in.jsonl" --output-dir "$TMP/out-cancel" -p 2 \
  --checkpoint-dir "$TMP/ck-cancel" --job-id $JID2 > /dev/null 2>"$TMP/cancel.log" &
PID=$!
for _ in $(seq 200); do "$WEIR" list 2>/dev/null | grep "$JID2" | grep -q RUNNING && break; sleep 0.05; done
"$WEIR" cancel $JID2 > /dev/null || fail "weir cancel failed"
if wait $PID; then fail "a cancelled job exited 0"; fi
grep -q "job cancelled" "$TMP/cancel.log" || fail "no cancellation message: $(tail -2 "$TMP/cancel.log")"
if "$WEIR" list 2>/dev/null | grep -q $JID2; then fail "cancelled job still listed"; fi
echo "weir cancel: the job ended"

restore p1-heap 1 heap
restore p8-heap 8 heap
restore p8-rocksdb 8 rocksdb
echo PASS
