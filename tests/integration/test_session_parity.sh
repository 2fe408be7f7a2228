#!/usr/bin/env bash
# Production parity of the lifecycle facts, end to end through the CLI (issue #4): the events of
# every real session in shared/data/real/scenarios (read in place) go through
# `weir run session`, and the facts are compared with the session's golden rows
# (`*.expected.jsonl`, the production ClickHouse fact tables):
#   - the max-version fact_workflow_sessions row on the 20 columns of the issue;
#   - fact_workflow_session_segments per segment_index (max version): start, end, reason;
#   - fact_stream_trace_edges as a multiset of (edge_ts, trace_type, trace_category,
#     is_swap_event); fact_stream_status_samples as a multiset of (sample_ts, state).
# Prints a PARITY REPORT (sessions matched / columns matched) and fails only on a mismatch in a
# column that is not a recorded golden/spec disagreement (KNOWN below; the same explanations as
# tests/unit/test_session_parity.c and docs/session-job.md).
#
# Time zone: every golden fact timestamp is the events' epoch + exactly 5 h (production read
# the text as local time in UTC-5, as for the typed tables); a golden timestamp equal to ours
# + 0 or + 5 h is a match, nothing else. Unlike the pure-logic test, the job does NOT shift the
# fixtures' network_capabilities timestamps (already in the golden frame, ~5 h after the
# signals): they arrive after the session's signals, in arrival and in event time, so no
# capability row is available when the signals are applied (see KNOWN orchestrator_address).
#
# Usage outside ctest: WEIR=build/weir bash tests/integration/test_session_parity.sh
. "$(dirname "$0")/lib.sh"
need_data
n=0
for ev in "$DATA"/real/scenarios/*/*/*.events.jsonl; do
  out="$TMP/s$n"; n=$((n + 1))
  "$WEIR" run session --input "$ev" --output-dir "$out" --state-backend heap >"$out.summary" \
    || fail "weir run session failed on $ev"
  echo "$ev" >"$out.src"
done
[ "$n" -gt 0 ] || fail "no scenario sessions found"
python3 - "$TMP" "$n" <<'PY' || fail "unexplained parity mismatches"
import datetime as dt, json, os, sys
tmp, n = sys.argv[1], int(sys.argv[2])
SHIFT = dt.timedelta(hours=5)
KNOWN = {
    "pipeline": "golden holds the raw model label (streamdiffusion-sdxl-v2v) where the spec's "
                "legacy_misnamed resolver gives the snapshot pipeline or \"\" (TV26)",
    "orchestrator_address": "production's capability cache held rows the fixture lacks or that "
                            "arrive (and are timestamped) after the session",
    "model_id": "follows the production cache contents (see orchestrator_address); 6 "
                "no-orchestrator sessions: golden null where the spec gives the first model hint",
    "gpu_id": "follows the production cache contents (see orchestrator_address)",
    "swap_count": "cae483be: golden 1 without an orchestrator_swap trace = the OLD formula "
                  "max(explicit, distinct orchestrators - 1), spec section 0",
    "segments.count": "orchestrator_change boundaries need canonical addresses from capability "
                      "rows the fixture lacks (cae483be, fa7d6a09)",
    "segments.key": "same as segments.count; 7118f081: segment_start_ts is the ts of the first "
                    "APPLIED signal; weir applies signals in event-time order, production in "
                    "arrival order (36 ms apart)",
}
def ts(v):
    if v is None:
        return None
    return dt.datetime.fromisoformat(v.replace("T", " ").replace("+00:00", ""))
def ts_eq(ours, gold):
    a, b = ts(ours), ts(gold)
    if a is None or b is None:
        return a == b
    return b == a or b == a + SHIFT
def rows(path):
    return [json.loads(l) for l in open(path)] if os.path.exists(path) else []
STR = ["workflow_session_id", "stream_id", "request_id", "pipeline", "orchestrator_address",
       "model_id", "gpu_id"]
NUM = ["known_stream", "startup_success", "startup_excused", "startup_unexcused", "swap_count",
       "error_count", "excusable_error_count", "event_count"]
TSC = ["session_start_ts", "session_end_ts", "first_stream_request_ts", "first_processed_ts",
       "first_playable_ts"]
tot = okc = unexplained = sess_ok = sess_strict = 0
for i in range(n):
    out = os.path.join(tmp, "s%d" % i)
    src = open(out + ".src").read().strip()
    gold = [json.loads(l) for l in open(src[: -len(".events.jsonl")] + ".expected.jsonl")]
    print(" ", os.path.basename(src))
    state = {"ok": True, "strict": True}
    def col(name, good, ours, g):
        global tot, okc, unexplained
        tot += 1
        if good:
            okc += 1
            return
        state["strict"] = False
        if name not in KNOWN:
            state["ok"] = False
            unexplained += 1
        print("    %-26s ours=%-44s golden=%s%s" % (name, ours, g, "  [known]" if name in KNOWN else ""))
    mine = rows(os.path.join(out, "fact_workflow_sessions.jsonl"))
    gs = max((r for r in gold if r["__table"] == "fact_workflow_sessions"), key=lambda r: r["version"])
    ms = max(mine, key=lambda r: r["version"]) if mine else {}
    for c in STR + NUM:
        col(c, ms.get(c) == gs.get(c), ms.get(c), gs.get(c))
    for c in TSC:
        col(c, ts_eq(ms.get(c), gs.get(c)), ms.get(c), gs.get(c))
    def segs(rs):
        best = {}
        for r in rs:
            k = r["segment_index"]
            if k not in best or r["version"] > best[k]["version"]:
                best[k] = r
        return best
    mseg = segs(rows(os.path.join(out, "fact_workflow_session_segments.jsonl")))
    gseg = segs(r for r in gold if r["__table"] == "fact_workflow_session_segments")
    col("segments.count", len(mseg) == len(gseg), len(mseg), len(gseg))
    for k in sorted(set(mseg) & set(gseg)):
        a, b = mseg[k], gseg[k]
        good = (ts_eq(a["segment_start_ts"], b["segment_start_ts"])
                and ts_eq(a["segment_end_ts"], b["segment_end_ts"]) and a["reason"] == b["reason"])
        col("segments.key", good, (a["segment_start_ts"], a["segment_end_ts"], a["reason"]),
            (b["segment_start_ts"], b["segment_end_ts"], b["reason"]))
    # golden edges and samples are in the +5 h frame (every one of them, checked)
    mt = sorted((str(ts(r["edge_ts"])), r["trace_type"], r["trace_category"], r["is_swap_event"])
                for r in rows(os.path.join(out, "fact_stream_trace_edges.jsonl")))
    gt = sorted((str(ts(r["edge_ts"]) - SHIFT), r["trace_type"], r["trace_category"], r["is_swap_event"])
                for r in gold if r["__table"] == "fact_stream_trace_edges")
    col("trace_edges.key", mt == gt, "%d rows" % len(mt), "%d rows" % len(gt))
    mst = sorted((str(ts(r["sample_ts"])), r["state"])
                 for r in rows(os.path.join(out, "fact_stream_status_samples.jsonl")))
    gst = sorted((str(ts(r["sample_ts"]) - SHIFT), r["state"])
                 for r in gold if r["__table"] == "fact_stream_status_samples")
    col("status_samples.key", mst == gst, "%d rows" % len(mst), "%d rows" % len(gst))
    sess_ok += state["ok"]
    sess_strict += state["strict"]
print("\nPARITY REPORT (weir run session): sessions matched %d/%d (strict, incl. known "
      "disagreements: %d/%d); columns matched %d/%d; unexplained mismatches %d"
      % (sess_ok, n, sess_strict, n, okc, tot, unexplained))
print("Known golden/spec disagreements (reported, not failed):")
for k, v in KNOWN.items():
    print("  - %s: %s" % (k, v))
sys.exit(1 if unexplained else 0)
PY
echo "PASS: $n sessions"
