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
echo PASS
