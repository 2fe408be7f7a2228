#!/usr/bin/env bash
# End to end through the standalone embedded Kafka with a real client: kcat produces the real
# events twice plus malformed records (truncated JSON, binary garbage, invalid UTF-8 inside and
# outside strings, 2000-deep arrays, a 5 MB record) into `weir kafka embedded`;
# `weir run dedup --kafka <bootstrap> --bounded` processes them; kcat reads the DLQ and quarantine
# envelopes back and every bad record is found there with the spec's reason.
. "$(dirname "$0")/lib.sh"
need_data
command -v kcat >/dev/null || fail "kcat is not installed (tools/install-deps.sh)"
IN="$DATA/real/streaming-events-2026-01-08.jsonl"
BIG="-X message.max.bytes=20000000"
CBIG="-X fetch.max.bytes=20000000 -X fetch.message.max.bytes=20000000 -X receive.message.max.bytes=30000000"

"$WEIR" kafka embedded --topic streaming_events:3 --topic events.dlq.streaming_events.v1:1 \
  --topic events.quarantine.streaming_events.v1:1 --bootstrap-file "$TMP/bs" > "$TMP/embedded.log" 2>&1 &
EMB=$!
trap 'kill $EMB 2>/dev/null || true; wait $EMB 2>/dev/null || true; cleanup_tmp' EXIT
for _ in $(seq 100); do [ -s "$TMP/bs" ] && break; sleep 0.1; done
BS=$(cat "$TMP/bs")
[ -n "$BS" ] || fail "embedded Kafka did not start: $(cat "$TMP/embedded.log")"

python3 - "$TMP/bad.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "wb") as f:
    f.write(b'{"id":"x",\n')                                   # truncated JSON
    f.write(bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x00, 0x1a, 0xff, 0xfe]) + b"\n")  # binary garbage
    f.write(b'{"id":"u1","type":"ai_stream_status",\xff\xfe"timestamp":1}\n')   # invalid UTF-8 between tokens
    f.write(b'{"id":"u2","type":"ai_stream_status","timestamp":1710000000000,"data":{"stream_id":"s\xff","request_id":"r","pipeline":"p"}}\n')  # inside a string: U+FFFD, accepted (spec 2.2)
    f.write(b"[" * 2000 + b"]" * 2000 + b"\n")                 # nesting deeper than 1024
    big = {"id": "big-1", "type": "ai_stream_status", "timestamp": 1710000000000,
           "data": {"stream_id": "s", "request_id": "r", "pipeline": "p",
                    "inference_status": {"last_params": {"prompt": "x" * 5000000}}}}
    f.write(json.dumps(big).encode() + b"\n")                  # 5 MB record: row over the size guard
PY
kcat -b "$BS" -P -t streaming_events $BIG -l "$IN"
kcat -b "$BS" -P -t streaming_events $BIG -l "$IN"
kcat -b "$BS" -P -t streaming_events $BIG -l "$TMP/bad.jsonl"

# default settings: the 10 MB DLQ envelope of the 5 MB record must not fail the job
out=$("$WEIR" run dedup --kafka "$BS" --bounded --output-dir "$TMP/out" -p 2 2>"$TMP/run.log") \
  || fail "weir run failed: $(tail -5 "$TMP/run.log")"
echo "$out"
expect_eq "$(json_get "$out" records_in)" 136 records_in
expect_eq "$(json_get "$out" accepted)" 67 accepted      # 65 real + u2 + big-1
expect_eq "$(json_get "$out" quarantine)" 65 quarantine
expect_eq "$(json_get "$out" dlq)" 5 dlq                 # 4 gate rejects + 1 size guard

kcat -b "$BS" -C -t events.dlq.streaming_events.v1 -e -q $CBIG > "$TMP/dlq.jsonl"
kcat -b "$BS" -C -t events.quarantine.streaming_events.v1 -e -q $CBIG > "$TMP/quarantine.jsonl"
python3 - "$TMP/dlq.jsonl" "$TMP/quarantine.jsonl" "$TMP/out" <<'PY'
import base64, collections, json, os, sys
dlq = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
quar = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
assert len(dlq) == 5, len(dlq)
assert len(quar) == 65, len(quar)
reasons = collections.Counter((e["failure"]["stage"], e["failure"]["reason"]) for e in dlq)
assert reasons == {("DESERIALIZATION", "json_parse_error"): 4,
                   ("SINK_GUARD", "record_too_large"): 1}, reasons
for e in dlq:
    assert e["schemaVersion"] == "v1" and e["source"]["topic"] == "streaming_events", e
    if e["failure"]["reason"] == "json_parse_error":
        assert e["payload"]["encoding"] == "base64" and e["identity"]["eventId"] is None, e
        base64.b64decode(e["payload"]["body"], validate=True)
    else:
        assert e["identity"]["eventId"] == "big-1", e
        assert e["failure"]["details"].startswith("Row size ") and \
            e["failure"]["details"].endswith(" exceeds limit 1000000"), e
        assert len(e["payload"]["body"]) > 5000000
bodies = sorted(base64.b64decode(e["payload"]["body"]) for e in dlq
                if e["failure"]["reason"] == "json_parse_error")
assert bodies[0].startswith(b"[[[["), bodies
for e in quar:
    assert e["failure"] == {"stage": "DEDUP", "failureClass": "DUPLICATE",
                            "reason": "duplicate_event",
                            "details": "Duplicate detected for key: " + e["dedupKey"]}, e
    assert e["dedupStrategy"] == "event_id"
# the U+FFFD event was accepted with the replacement character (spec 2.2)
rows = [json.loads(l) for l in open(os.path.join(sys.argv[3], "ai_stream_status.jsonl"), encoding="utf-8")]
assert any(r["stream_id"] == "s\ufffd" for r in rows), "u2 not accepted"
# the 5 MB DLQ row is dropped from the table file only (spec 5.5); the four others are there
n = sum(1 for _ in open(os.path.join(sys.argv[3], "streaming_events_dlq.jsonl")))
assert n == 4, n
print("kcat round trip ok")
PY
# Appendix A: QUALITY_TOPIC_RESET_STRATEGY_MAP=topic=latest starts that topic at its end, so a
# bounded run reads nothing of what is already there
out=$(QUALITY_TOPIC_RESET_STRATEGY_MAP="streaming_events=latest" "$WEIR" run dedup --kafka "$BS" \
      --bounded --output-dir "$TMP/out-latest" 2>>"$TMP/run.log") || fail "weir run (latest) failed"
expect_eq "$(json_get "$out" records_in)" 0 "records_in with reset strategy latest"
echo PASS
