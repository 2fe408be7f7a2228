#!/usr/bin/env bash
# The ClickHouse sink against a real clickhouse-server (Debian 18.16) started by this test:
#  1. `schema apply --dialect 18`; the dedup job's rows for the real events go through the sink
#     (`ch-load`): SELECT count() per table == lines per file.
#  2. a row over the record limit and a row of the wrong column type land in the DLQ output
#     (SINK_GUARD/RECORD_TOO_LARGE; CLICKHOUSE_SINK with the server's "Code: 27" message); the
#     good rows of the same batch are inserted.
#  3. the server is stopped for 5 s in the middle of a paced load: retries are logged, the
#     sink backpressures, nothing is lost after the server returns.
#  4. the sink's rows/s against a raw HTTP insert of the same files (printed).
# Skips when clickhouse-server is not installed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clickhouse.sh"
need_data
ch_need
IN="$DATA/real/streaming-events-2026-01-08.jsonl"

DRV=("$WEIR")

ch_start "$TMP/ch"
echo "clickhouse at $CH_URL"
"${DRV[@]}" schema apply --clickhouse "$CH_URL" --dialect 18 --database t1 || fail "schema apply"
"${DRV[@]}" schema apply --clickhouse "$CH_URL" --dialect 18 --database t1 || fail "schema re-apply"

count() { ch_query "SELECT count() FROM $1"; }

# ---- 1. real events: counts match the file sink
"$WEIR" run dedup --input "$IN" --output-dir "$TMP/real" --state-dir "$TMP/state" >/dev/null
out=$("${DRV[@]}" ch-load --clickhouse "$CH_URL" --database t1 --user '' --dir "$TMP/real" \
      --dlq-dir "$TMP/real-dlq")
echo "$out"
n_tables=0
for f in "$TMP"/real/*.jsonl; do
  t=$(basename "$f" .jsonl)
  expect_eq "$(count "t1.$t")" "$(count_lines "$f")" "count() of $t"
  n_tables=$((n_tables + 1))
done
[ "$n_tables" -ge 12 ] || fail "expected the 12 dedup tables, got $n_tables"
expect_eq "$(json_get "$out" dlq_rows)" 0 "DLQ rows of the real events"
# key columns survive (milliseconds kept as text in the 18 dialect)
first=$(head -1 "$TMP/real/ai_stream_status.jsonl" | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(r["event_timestamp"] + "|" + r["stream_id"])')
got=$(ch_query "SELECT event_timestamp, stream_id FROM t1.ai_stream_status WHERE event_timestamp = '${first%|*}' AND stream_id = '${first#*|}' FORMAT TSV" | sed -n 1p | tr '\t' '|')
expect_eq "$got" "$first" "ai_stream_status key columns"

# ---- 2. oversized row and a rejected row → DLQ output with the server's message
mkdir -p "$TMP/bad"
python3 - "$TMP/bad/discovery_results.jsonl" <<'PY'
import json, sys
rows = []
for i in range(5):
    rows.append({"event_timestamp": "2026-01-08 10:00:0%d.123" % i, "orchestrator_address": "0xa",
                 "orchestrator_url": "u", "latency_ms": 5, "raw_event_uid": "u%d" % i,
                 "raw_json": "{\"id\":\"e%d\",\"type\":\"discovery_results\"}" % i})
rows[2]["latency_ms"] = "not-a-number"          # wrong column type → rejected by the server
rows[4]["raw_json"] = "x" * 3000                # over --max-record-bytes
with open(sys.argv[1], "w") as f:
    for r in rows:
        f.write(json.dumps(r, separators=(",", ":")) + "\n")
PY
out=$("${DRV[@]}" ch-load --clickhouse "$CH_URL" --database t1 --user '' --dir "$TMP/bad" \
      --dlq-dir "$TMP/bad-dlq" --max-record-bytes 2000 2>"$TMP/bad.log")
echo "$out"
expect_eq "$(json_get "$out" rows discovery_results)" 3 "good rows of the bad file"
expect_eq "$(json_get "$out" dlq_rows)" 2 "DLQ rows"
expect_eq "$(ch_query "SELECT count() FROM t1.discovery_results WHERE orchestrator_address = '0xa'")" 3 "rows in ClickHouse"
python3 - "$TMP/bad-dlq/discovery_results.dlq.jsonl" <<'PY'
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
assert len(docs) == 2, docs
by = {d["failureClass"]: d for d in docs}
big = by["RECORD_TOO_LARGE"]
assert big["stage"] == "SINK_GUARD" and big["reason"] == "record_too_large", big
assert big["details"].startswith("Row size ") and big["details"].endswith("exceeds limit 2000"), big
rej = by["DLQ_SINK_WRITE"]
assert rej["stage"] == "CLICKHOUSE_SINK" and rej["reason"] == "sink_write_failed", rej
assert rej["details"].startswith("Table discovery_results: Code: 27"), rej["details"]
assert json.loads(rej["row"])["latency_ms"] == "not-a-number", rej
print("DLQ documents OK")
PY

# ---- 3. server stopped for 5 s mid-run: retries, backpressure, no loss
"$WEIR" gen --count 30000 --seed 7 --output "$TMP/gen.jsonl" 2>/dev/null
"$WEIR" run dedup --input "$TMP/gen.jsonl" --output-dir "$TMP/gen" --state-dir "$TMP/state2" >/dev/null
"${DRV[@]}" schema apply --clickhouse "$CH_URL" --dialect 18 --database t3 || fail "schema t3"
total=$(cat "$TMP"/gen/*.jsonl | wc -l | tr -d ' ')
rate=$((total / 8 + 1)) # a paced load of about 8 s
WEIR_LOG_LEVEL=warn "${DRV[@]}" ch-load --clickhouse "$CH_URL" --database t3 --user '' --dir "$TMP/gen" \
  --dlq-dir "$TMP/gen-dlq" --max-rows-per-s "$rate" --max-buffered 3000 --batch-rows 500 \
  >"$TMP/outage.out" 2>"$TMP/outage.log" &
load_pid=$!
deadline=$((SECONDS + 30))
first_table=$(basename "$(ls "$TMP"/gen/*.jsonl | sed -n 1p)" .jsonl) # the source reads files in this order
until [ "$(count "t3.$first_table" 2>/dev/null || echo 0)" -gt 0 ]; do
  [ $SECONDS -lt $deadline ] || fail "no rows arrived before the outage"
  sleep 0.1
done
ch_kill
echo "server killed at $(date +%T)"
sleep 5
kill -0 "$load_pid" 2>/dev/null || { cat "$TMP/outage.out" "$TMP/outage.log" >&2; fail "the load finished while the server was down"; }
ch_restart_same
echo "server back at $(date +%T)"
wait "$load_pid" || { cat "$TMP/outage.log" >&2; fail "ch-load failed across the outage"; }
out=$(cat "$TMP/outage.out")
echo "$out"
grep -q "retrying in" "$TMP/outage.log" || fail "no retry was logged"
echo "retries logged: $(grep -c 'retrying in' "$TMP/outage.log")"
expect_eq "$(json_get "$out" rows_total)" "$total" "rows acknowledged"
for f in "$TMP"/gen/*.jsonl; do
  t=$(basename "$f" .jsonl)
  n=$(count_lines "$f")
  got=$(count "t3.$t")
  [ "$got" -ge "$n" ] || fail "$t lost rows across the outage: $got < $n"
  # duplicates only from a batch re-sent after a lost acknowledgement
  distinct=$(ch_query "SELECT count() FROM (SELECT DISTINCT * FROM t3.$t)")
  expect_eq "$distinct" "$(sort -u "$f" | wc -l | tr -d ' ')" "distinct rows of $t"
done

# ---- 4. throughput: the sink vs a raw HTTP insert of the same files
"${DRV[@]}" schema apply --clickhouse "$CH_URL" --dialect 18 --database t4 >/dev/null
"${DRV[@]}" schema apply --clickhouse "$CH_URL" --dialect 18 --database t5 >/dev/null
out=$("${DRV[@]}" ch-load --clickhouse "$CH_URL" --database t4 --user '' --dir "$TMP/gen" --dlq-dir "$TMP/gen-dlq4")
sink_rate=$(json_get "$out" rows_per_s)
t0=$(date +%s%N)
for f in "$TMP"/gen/*.jsonl; do
  t=$(basename "$f" .jsonl)
  # ~1 MB bodies, one request at a time, like the ENVIRONMENT.md figure
  split -C 1000000 -d "$f" "$TMP/raw-$t."
  for part in "$TMP/raw-$t".*; do
    curl -sf --data-binary @"$part" "$CH_URL/?query=INSERT%20INTO%20t5.$t%20FORMAT%20JSONEachRow" \
      >/dev/null || fail "raw insert into $t"
  done
done
t1=$(date +%s%N)
raw_rate=$(( total * 1000000000 / (t1 - t0) ))
echo "THROUGHPUT rows=$total sink_rows_per_s=$sink_rate raw_http_rows_per_s=$raw_rate"
expect_eq "$(ch_query "SELECT sum(rows) FROM system.parts WHERE database = 't4' AND active")" \
          "$(ch_query "SELECT sum(rows) FROM system.parts WHERE database = 't5' AND active")" "t4 vs t5 rows"
echo "PASS"
