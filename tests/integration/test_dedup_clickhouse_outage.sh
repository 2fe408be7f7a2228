#!/usr/bin/env bash
# ClickHouse stopped for 60 s in the middle of a dedup run (issue #5): the job backpressures,
# logs its retries, resumes when the server is back, and loses no row: for every table the
# distinct rows in ClickHouse equal the distinct lines of the file sink's output (a batch that
# was written but not acknowledged before the kill may be re-sent: such duplicates are what the
# ReplacingMergeTree keys and FINAL collapse, so distinct rows are compared).
# WEIR_CH_OUTAGE_S shortens the outage for quick local runs (default 60).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clickhouse.sh"
ch_need
OUTAGE=${WEIR_CH_OUTAGE_S:-60}
ch_start "$TMP/ch"
"$WEIR" schema apply --clickhouse "$CH_URL" --dialect 18 --database wo --user '' >/dev/null \
  || fail "schema apply"
"$WEIR" gen --count 100000 --seed 11 --dup-fraction 0.05 --malformed-fraction 0.01 \
  --output "$TMP/events.jsonl" 2>/dev/null

# (default batch limits: tiny batches make ClickHouse 18.16 write thousands of parts)
"$WEIR" run dedup --input "$TMP/events.jsonl" --output-dir "$TMP/out" --state-backend heap \
  --clickhouse "$CH_URL" --clickhouse-database wo --clickhouse-user '' \
  >"$TMP/run.out" 2>"$TMP/run.log" &
JOB=$!
for _ in $(seq 300); do
  n=$(ch_query "SELECT count() FROM wo.ai_stream_status FORMAT TSV" 2>/dev/null || echo 0)
  [ "${n:-0}" -gt 0 ] && break
  sleep 0.05
done
kill -0 "$JOB" 2>/dev/null || fail "the job finished before the outage; make the input larger"
ch_kill
echo "ClickHouse killed; waiting ${OUTAGE}s"
sleep "$OUTAGE"
kill -0 "$JOB" 2>/dev/null || fail "the job ended while ClickHouse was down: $(tail -3 "$TMP/run.log")"
ch_restart_same
wait "$JOB" || fail "the job failed: $(tail -5 "$TMP/run.log")"
cat "$TMP/run.out"
retries=$(grep -c -i "retr" "$TMP/run.log" || true)
[ "$retries" -gt 0 ] || fail "no retry was logged"
echo "retries logged: $retries"
for f in "$TMP"/out/*.jsonl; do
  t=$(basename "$f" .jsonl)
  want=$(sort -u "$f" | sed '/^$/d' | wc -l | tr -d ' ')
  got=$(ch_query "SELECT count() FROM (SELECT DISTINCT * FROM wo.$t) FORMAT TSV")
  expect_eq "$got" "$want" "distinct rows of $t after the outage"
done
echo PASS
