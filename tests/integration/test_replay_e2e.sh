#!/usr/bin/env bash
# DLQ replay end to end (issue #5): events rejected by the quality gate (version "2" is not in
# QUALITY_SUPPORTED_VERSIONS) land in the DLQ; the configuration is "fixed" (version 2 allowed)
# and the job restarted; `weir run replay` re-publishes the window's events, which now appear in
# the typed table; the event outside the window is not replayed; replaying the same window a
# second time adds nothing new (the dedup job quarantines the copies).
. "$(dirname "$0")/lib.sh"
need_data
IN="$DATA/real/streaming-events-2026-01-08.jsonl"
DLQ=events.dlq.streaming_events.v1

"$WEIR" kafka embedded --topic streaming_events:2 --topic "$DLQ":1 \
  --topic events.quarantine.streaming_events.v1:1 --bootstrap-file "$TMP/bs" >"$TMP/emb.log" 2>&1 &
EMB=$!
JOB=
cleanup() {
  [ -n "$JOB" ] && kill "$JOB" 2>/dev/null && wait "$JOB" 2>/dev/null
  kill "$EMB" 2>/dev/null; wait "$EMB" 2>/dev/null; cleanup_tmp
}
trap cleanup EXIT
for _ in $(seq 100); do [ -s "$TMP/bs" ] && break; sleep 0.1; done
BS=$(cat "$TMP/bs"); [ -n "$BS" ] || fail "embedded Kafka did not start"

# three events of an unsupported version: two inside the replay window, one after it
python3 - > "$TMP/v2.jsonl" <<'PY'
import json
for i, ts in ((1, 1710000001000), (2, 1710000002000), (3, 1710000009000)):
    print(json.dumps({"id": "v2-%d" % i, "type": "ai_stream_status", "version": "2",
                      "timestamp": ts, "data": {"stream_id": "s%d" % i, "request_id": "r",
                                                "pipeline": "p"}}, separators=(",", ":")))
PY
cat "$IN" "$TMP/v2.jsonl" > "$TMP/all.jsonl"
command -v kcat >/dev/null || fail "kcat is not installed (tools/install-deps.sh)"
kcat -b "$BS" -P -t streaming_events -l "$TMP/all.jsonl"

# 1. the job as configured: the three version-2 events go to the DLQ
out=$("$WEIR" run dedup --kafka "$BS" --bounded --output-dir "$TMP/run1" 2>"$TMP/run1.log") \
  || fail "run 1: $(tail -3 "$TMP/run1.log")"
expect_eq "$(json_get "$out" dlq)" 3 "run 1 dlq"
expect_eq "$(json_get "$out" accepted)" 65 "run 1 accepted"

# 2. the fix: version 2 is allowed; the restarted job continues at the end of the input topic
QUALITY_SUPPORTED_VERSIONS="1,v1,2" QUALITY_TOPIC_RESET_STRATEGY_MAP="streaming_events=latest" \
  "$WEIR" run dedup --kafka "$BS" --output-dir "$TMP/run2" >"$TMP/run2.out" 2>"$TMP/run2.log" &
JOB=$!
for _ in $(seq 100); do [ -e "$TMP/run2/ai_stream_status.jsonl" ] && break; sleep 0.1; done
sleep 1   # its consumer is assigned and positioned at the end

# 3. replay the window [1710000000000, 1710000005000] twice
for k in 1 2; do
  r=$("$WEIR" run replay --kafka "$BS" --start-ms 1710000000000 --end-ms 1710000005000 \
      2>"$TMP/replay$k.log") || fail "replay $k: $(tail -3 "$TMP/replay$k.log")"
  echo "replay $k: $r"
  expect_eq "$(json_get "$r" replayed)" 2 "replay $k replayed"
done
# the running job has consumed the four replayed records once both copies of the second replay
# were quarantined (a quarantine envelope needs both copies of an event)
for _ in $(seq 300); do
  n=$(kcat -b "$BS" -C -t events.quarantine.streaming_events.v1 -e -q 2>/dev/null | wc -l)
  [ "$n" -ge 2 ] && break
  sleep 0.1
done
kill -TERM "$JOB"; wait "$JOB" || fail "run 2 failed: $(tail -3 "$TMP/run2.log")"
JOB=
out=$(cat "$TMP/run2.out"); echo "$out"
expect_eq "$(json_get "$out" records_in)" 4 "run 2 records_in"
expect_eq "$(json_get "$out" accepted)" 2 "run 2 accepted (the window's two events)"
expect_eq "$(json_get "$out" quarantine)" 2 "run 2 quarantine (the second replay)"
python3 - "$TMP/run2/ai_stream_status.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ids = sorted(json.loads(r["raw_json"])["id"] for r in rows)
assert ids == ["v2-1", "v2-2"], ids           # v2-3 lies outside the window
for r in rows:
    assert json.loads(r["raw_json"])["__replay"] is True
PY
echo PASS
