#!/usr/bin/env bash
# The dedup job writing into a real ClickHouse 18.16 (issue #5): the real events, twice, go
# through `weir run dedup --clickhouse URL --output-dir D`; every table's count() in ClickHouse
# equals the lines of the file sink's <table>.jsonl (typed rows, DLQ and quarantine rows), and
# the key columns of the rows agree.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clickhouse.sh"
need_data
ch_need
IN="$DATA/real/streaming-events-2026-01-08.jsonl"
ch_start "$TMP/ch"
"$WEIR" schema apply --clickhouse "$CH_URL" --dialect 18 --database wd --user '' \
  || fail "schema apply"

out=$("$WEIR" run dedup --input "$IN" --input "$IN" --output-dir "$TMP/out" --state-dir "$TMP/state" \
      -p 2 --clickhouse "$CH_URL" --clickhouse-database wd --clickhouse-user '')
echo "$out"
expect_eq "$(json_get "$out" quarantine)" 65 quarantine
n=0
for f in "$TMP"/out/*.jsonl; do
  t=$(basename "$f" .jsonl)
  got=$(ch_query "SELECT count() FROM wd.$t FORMAT TSV")
  expect_eq "$got" "$(count_lines "$f")" "count() of $t"
  n=$((n + 1))
done
[ "$n" -ge 12 ] || fail "expected the dedup job's 12 tables, got $n"
# key columns: every stream_trace_events row of the file is in ClickHouse
ch_query "SELECT request_id, trace_type, data_timestamp FROM wd.stream_trace_events ORDER BY request_id, trace_type, data_timestamp FORMAT TSV" | sed "/^$/d" > "$TMP/ch.tsv"
python3 - "$TMP/out/stream_trace_events.jsonl" <<'PY' > "$TMP/file.tsv"
import json, sys
rows = sorted((r["request_id"], r["trace_type"], r["data_timestamp"])
              for r in map(json.loads, open(sys.argv[1])))
for r in rows:
    print("\t".join(r))
PY
diff "$TMP/file.tsv" "$TMP/ch.tsv" || fail "stream_trace_events key columns differ"

# the production scenario sessions: every typed row lands in ClickHouse with the key columns of
# the file sink's rows, which it_test_scenarios_golden matches against production's golden rows
cat "$DATA"/real/scenarios/*/*/*.events.jsonl > "$TMP/scenarios.jsonl"
"$WEIR" schema apply --clickhouse "$CH_URL" --dialect 18 --database ws --user '' >/dev/null \
  || fail "schema apply ws"
"$WEIR" run dedup --input "$TMP/scenarios.jsonl" --output-dir "$TMP/sc" --state-dir "$TMP/state2" \
  --clickhouse "$CH_URL" --clickhouse-database ws --clickhouse-user '' >/dev/null \
  || fail "scenario run"
for t in stream_trace_events ai_stream_status ai_stream_events network_capabilities; do
  case $t in
    stream_trace_events) cols="stream_id, request_id, orchestrator_address, trace_type, event_timestamp, data_timestamp" ;;
    ai_stream_status) cols="stream_id, request_id, orchestrator_address, pipeline, state, event_timestamp" ;;
    ai_stream_events) cols="stream_id, request_id, pipeline, event_type, message, event_timestamp" ;;
    network_capabilities) cols="orchestrator_address, local_address, orch_uri, gpu_id, model_id, capability_id, event_timestamp" ;;
  esac
  ch_query "SELECT $cols FROM ws.$t ORDER BY $cols FORMAT TSV" | sed "/^$/d" > "$TMP/$t.ch.tsv"
  python3 - "$TMP/sc/$t.jsonl" "$cols" <<'PY' > "$TMP/$t.file.tsv"
import json, sys
cols = [c.strip() for c in sys.argv[2].split(",")]
rows = sorted(tuple("" if r[c] is None else str(r[c]) for c in cols)
              for r in map(json.loads, open(sys.argv[1])))
for r in rows:
    print("\t".join(r))
PY
  [ -s "$TMP/$t.file.tsv" ] || fail "no $t rows for the scenarios"
  diff <(LC_ALL=C sort "$TMP/$t.file.tsv") <(LC_ALL=C sort "$TMP/$t.ch.tsv") >/dev/null \
    || fail "$t: ClickHouse rows differ from the file sink's"
done
echo PASS
