#!/usr/bin/env bash
# Same input, same outputs, whatever the parallelism and state backend (issue #2): 300 000
# generated events (5 % duplicates, 1 % malformed; more keys than the RocksDB write buffer holds,
# so its sorted flush and SST ingestion are exercised) through parallelism 1 on the heap backend
# and parallelism 4 on RocksDB. Every output file must hold the same rows (ingestion time aside)
# and the summaries the same counts.
. "$(dirname "$0")/lib.sh"
"$WEIR" gen --count 300000 --seed 5 --dup-fraction 0.05 --malformed-fraction 0.01 \
  --output "$TMP/events.jsonl" 2>/dev/null
a=$("$WEIR" run dedup --input "$TMP/events.jsonl" -p 1 --state-backend heap --output-dir "$TMP/a")
b=$("$WEIR" run dedup --input "$TMP/events.jsonl" -p 4 --state-backend rocksdb \
    --state-dir "$TMP/state" --output-dir "$TMP/b")
echo "$a"; echo "$b"
for k in records_in accepted dlq quarantine; do
  expect_eq "$(json_get "$b" "$k")" "$(json_get "$a" "$k")" "$k (p=4 rocksdb vs p=1 heap)"
done
expect_eq "$(json_get "$a" records_in)" 300000 records_in
diff <(rows_digest "$TMP/a") <(rows_digest "$TMP/b") || fail "outputs differ between p=1 heap and p=4 rocksdb"
echo PASS
