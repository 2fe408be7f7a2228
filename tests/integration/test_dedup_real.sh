#!/usr/bin/env bash
# The dedup job on the 65 real production events (shared/data/README.md): 65 in, 65 accepted,
# no DLQ or quarantine, the documented row count per table; the same file twice: 65 quarantined.
# Parallelism 1 and 4, heap and RocksDB: identical outputs.
. "$(dirname "$0")/lib.sh"
need_data
IN="$DATA/real/streaming-events-2026-01-08.jsonl"

out=$("$WEIR" run dedup --input "$IN" --output-dir "$TMP/a" --state-dir "$TMP/state")
echo "$out"
expect_eq "$(json_get "$out" records_in)" 65 records_in
expect_eq "$(json_get "$out" accepted)" 65 accepted
expect_eq "$(json_get "$out" dlq)" 0 dlq
expect_eq "$(json_get "$out" quarantine)" 0 quarantine
for t in ai_stream_status:17 stream_ingest_metrics:34 stream_trace_events:6 payment_events:6 \
         discovery_results:1 network_capabilities:1 ai_stream_events:0; do
  table=${t%%:*}; n=${t##*:}
  expect_eq "$(json_get "$out" rows "$table")" "$n" "summary rows.$table"
  expect_eq "$(count_lines "$TMP/a/$table.jsonl")" "$n" "lines in $table.jsonl"
done
expect_eq "$(count_lines "$TMP/a/streaming_events_dlq.jsonl")" 0 "DLQ file lines"

# the same file given twice in a row: the second copy is quarantined
out=$("$WEIR" run dedup --input "$IN" --input "$IN" -p 1 --output-dir "$TMP/b" --state-dir "$TMP/state")
echo "$out"
expect_eq "$(json_get "$out" records_in)" 130 records_in
expect_eq "$(json_get "$out" accepted)" 65 accepted
expect_eq "$(json_get "$out" quarantine)" 65 quarantine
expect_eq "$(count_lines "$TMP/b/streaming_events_quarantine.jsonl")" 65 "quarantine file lines"
python3 - "$TMP/b/streaming_events_quarantine.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert r["failure_stage"] == "DEDUP" and r["failure_class"] == "DUPLICATE", r
    assert r["failure_reason"] == "duplicate_event", r
    assert r["failure_details"] == "Duplicate detected for key: " + r["dedup_key"], r
    assert r["dedup_strategy"] == "event_id" and r["dedup_key"] == r["event_id"], r
PY

# identical outputs across parallelism and state backends (ingestion time excluded)
norm() { python3 - "$1" <<'PY'
import json, os, sys
d = sys.argv[1]
for f in sorted(os.listdir(d)):
    rows = []
    for line in open(os.path.join(d, f)):
        r = json.loads(line)
        r.pop("ingestion_timestamp", None)
        rows.append(json.dumps(r, sort_keys=True))
    for r in sorted(rows):
        print(f, r)
PY
}
for v in "-p 1 --state-backend heap" "-p 4 --state-backend rocksdb" "-p 4 --state-backend heap" "-p 2 --state-backend rocksdb"; do
  rm -rf "$TMP/c"
  # shellcheck disable=SC2086
  "$WEIR" run dedup --input "$IN" --input "$IN" $v --output-dir "$TMP/c" --state-dir "$TMP/state" >/dev/null
  diff <(norm "$TMP/b") <(norm "$TMP/c") >/dev/null || fail "outputs differ for: $v"
done
echo "PASS"
