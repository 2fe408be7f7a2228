#!/usr/bin/env bash
# The session job's lifecycle facts in a real ClickHouse 18.16 (issue #5). A clickhouse-server
# is started as in it_test_dedup_clickhouse (tests/integration/clickhouse.sh), the 18 schema is
# applied with `weir schema apply`, and `weir run session --clickhouse URL --output-dir D` runs
#   1. over the 18 real scenario sessions (shared/data/real/scenarios/*/*/*.events.jsonl, read in
#      place, all in one job), database wsc;
#   2. over generated traffic (`weir gen --count 50000 --seed 4 --dup-fraction 0.05`, -p 2),
#      database wgen;
# and `weir run pipeline --clickhouse` once over the generated traffic (database wpipe).
# Checks per run (check.py below):
#   - no row refused by ClickHouse: streaming_events_dlq holds no sink row (failure_stage
#     CLICKHOUSE_SINK / SINK_GUARD);
#   - every table: count() == lines of <output-dir>/<table>.jsonl, i.e. every row the job wrote
#     was stored. Background merges are stopped for this (SYSTEM STOP MERGES): a
#     ReplacingMergeTree collapses rows with equal ORDER BY key whenever it merges, so its plain
#     count() is anywhere between the number of keys and the number of rows inserted (observed:
#     2101..2594 for the 29606 fact_workflow_sessions rows of the generated run), not testable;
#   - ReplacingMergeTree fact tables (sessions, segments, param updates, coverage, latency):
#     count() FINAL == the number of distinct ORDER BY keys in the file, and the FINAL rows are
#     exactly the file's max-version row per key (key, version; segments also end ts and
#     reason). The MergeTree fact tables: the same multiset of rows as the file on key columns,
#     state / trace type+category+swap flag, is_attributed, source_event_uid. FINAL, not plain
#     count(), for the ReplacingMergeTree tables: the job emits
#     a new version of the same key on every signal (sessions/latency/segments) and the tables
#     are meant to be read collapsed; comparing FINAL with the file's LINE count would be wrong
#     (29606 lines -> 2101 keys for the generated traffic). The coverage key contains
#     source_event_uid, so there FINAL == lines. Note the key of fact_workflow_sessions (and
#     latency) contains session_start_ts, which moves earlier when a later signal (status
#     start_time) lowers it: FINAL then keeps the superseded row under its old key too (2101
#     keys for 2048 sessions here), so "the session row" must be read as the max version per
#     workflow_session_id (LIMIT 1 BY), not as FINAL alone. The MergeTree tables (status
#     samples, trace edges) keep every row: count() == lines, no FINAL;
#   - fact_workflow_sessions, max version per workflow_session_id read back from ClickHouse ==
#     the file's max-version row per workflow_session_id on the columns of the parity test
#     (workflow_session_id, stream_id, request_id, event_count, session_start_ts, session_end_ts,
#     startup_success, swap_count, error_count, ... 20 columns) and version;
#   - scenarios: the ClickHouse session row of each session against its golden row
#     (*.expected.jsonl) directly, with it_test_session_parity's rule (golden ts == ours + 0 or
#     + 5 h) and its KNOWN golden/spec disagreements (same list, same reasons; only the
#     session-row part: segments, edges and samples are compared with golden by that test on
#     the file output, and here ClickHouse with the file output on those columns; note this
#     test runs the 18 sessions in one job, that test one job per session).
#   - pipeline: typed tables and fact tables both got rows (and the count checks above).
# Usage outside ctest: WEIR=build/weir bash tests/integration/test_session_clickhouse.sh
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clickhouse.sh"
need_data
ch_need

# Every weir process runs in the background with its pid recorded, so that the EXIT trap (also
# taken on INT/TERM) ends it (SIGTERM, SIGKILL after 10 s) before it stops the server (a client
# still inserting would hold up 18.16's shutdown) and removes $TMP.
WEIR_PID=
_stop_weir() {
  stop_pid "$WEIR_PID"
  WEIR_PID=
}
trap 'exit 1' INT TERM
run_weir() { # run_weir SUMMARY_FILE ARGS...: runs weir, fails the test on a non-zero exit
  local sum=$1
  shift
  "$WEIR" "$@" >"$sum" &
  WEIR_PID=$!
  wait "$WEIR_PID" || { WEIR_PID=; fail "weir $1 $2 failed"; }
  WEIR_PID=
}

ch_start "$TMP/ch"
trap '_stop_weir; ch_stop; cleanup_tmp' EXIT # replaces ch_start's "ch_stop; <lib.sh's rm>"
for db in wsc wgen wpipe; do
  "$WEIR" schema apply --clickhouse "$CH_URL" --dialect 18 --database "$db" --user '' >/dev/null \
    || fail "schema apply $db"
done
ch_query "SYSTEM STOP MERGES" || fail "SYSTEM STOP MERGES"
CH=(--clickhouse "$CH_URL" --clickhouse-user '')

cat >"$TMP/check.py" <<'PY'
import collections, datetime as dt, json, os, sys, urllib.request
url, db, out, mode = sys.argv[1:5]
golden_list = sys.argv[5] if len(sys.argv) > 5 else None

def q(sql):
    req = urllib.request.Request(url + "/", data=sql.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read().decode()
def rows_q(sql):
    return [json.loads(l) for l in q(sql + " FORMAT JSONEachRow").splitlines() if l]
def norm(v):
    return None if v is None else str(v)

bad = []
def check(cond, msg):
    if not cond:
        bad.append(msg)
        print("  MISMATCH:", msg)

sink = int(q("SELECT count() FROM %s.streaming_events_dlq WHERE failure_stage IN "
             "('CLICKHOUSE_SINK','SINK_GUARD') FORMAT TSV" % db))
if sink:
    for r in rows_q("SELECT failure_stage, failure_reason, failure_details FROM %s.streaming_events_dlq "
                    "WHERE failure_stage IN ('CLICKHOUSE_SINK','SINK_GUARD') LIMIT 5" % db):
        print("  refused:", r)
check(sink == 0, "%d rows refused by ClickHouse (DLQ sink rows)" % sink)

# ORDER BY keys of the ReplacingMergeTree fact tables (schema-18/24, spec §9); the *_date columns
# are first 10 characters of a key timestamp, so they add nothing to a key's distinctness
KEYS = {
    "fact_workflow_sessions": ["session_start_ts", "workflow_session_id"],
    "fact_workflow_session_segments": ["segment_start_ts", "workflow_session_id", "segment_index"],
    "fact_workflow_param_updates": ["workflow_session_id", "update_ts", "source_event_uid"],
    "fact_lifecycle_edge_coverage": ["workflow_session_id", "signal_ts", "source_event_uid"],
    "fact_workflow_latency_samples": ["workflow_session_id", "sample_ts"],
}
# compared besides key and version on the FINAL rows, and the columns compared as a multiset
# for the MergeTree fact tables (they include what it_test_session_parity compares with golden)
EXTRA = {"fact_workflow_session_segments": ["segment_end_ts", "reason"]}
MULTI = {
    "fact_stream_status_samples": ["workflow_session_id", "sample_ts", "state", "is_attributed",
                                   "source_event_uid"],
    "fact_stream_trace_edges": ["workflow_session_id", "edge_ts", "trace_type", "trace_category",
                                "is_swap_event", "is_attributed", "source_event_uid"],
}
engines = dict(l.split("\t") for l in
               q("SELECT name, engine FROM system.tables WHERE database = '%s' FORMAT TSV" % db).splitlines())
tables = sorted(f[:-6] for f in os.listdir(out) if f.endswith(".jsonl"))
if mode == "facts":
    tables = [t for t in tables if t.startswith("fact_")]
check(len([t for t in tables if t.startswith("fact_")]) == 7, "expected the 7 fact tables in %s" % out)
files = {}
print("  %-40s %8s %8s %8s %8s" % ("table", "lines", "count()", "keys", "FINAL"))
for t in tables:
    rows = [json.loads(l) for l in open(os.path.join(out, t + ".jsonl"))]
    files[t] = rows
    got = int(q("SELECT count() FROM %s.%s FORMAT TSV" % (db, t)))
    check(got == len(rows), "%s: count() %d != %d lines" % (t, got, len(rows)))
    keys = fin = "-"
    if t in KEYS:
        check(engines.get(t, "").startswith("ReplacingMergeTree"), "%s: engine %s" % (t, engines.get(t)))
        kc, xc = KEYS[t], KEYS[t] + ["version"] + EXTRA.get(t, [])
        best = {}
        for r in rows:
            k = tuple(norm(r[c]) for c in kc)
            v = int(r["version"])
            # equal versions of one key: which one FINAL keeps would be arbitrary
            check(k not in best or int(best[k]["version"]) != v,
                  "%s: two rows with key %s and version %d" % (t, k, v))
            if k not in best or v > int(best[k]["version"]):
                best[k] = r
        keys = len(best)
        fin = int(q("SELECT count() FROM %s.%s FINAL FORMAT TSV" % (db, t)))
        check(fin == keys, "%s: count() FINAL %d != %d distinct keys of the file" % (t, fin, keys))
        ch = sorted(tuple(norm(r[c]) for c in xc)
                    for r in rows_q("SELECT %s FROM %s.%s FINAL" % (", ".join(xc), db, t)))
        fl = sorted(tuple(norm(r[c]) for c in xc) for r in best.values())
        check(ch == fl, "%s: FINAL rows (%s) differ from the file's latest row per key"
              % (t, ", ".join(xc)))
    else:
        check(not t.startswith("fact_") or engines.get(t) == "MergeTree",
              "%s: engine %s, expected MergeTree" % (t, engines.get(t)))
        if t in MULTI:
            mc = MULTI[t]
            ch = sorted(tuple(norm(r[c]) for c in mc)
                        for r in rows_q("SELECT %s FROM %s.%s" % (", ".join(mc), db, t)))
            fl = sorted(tuple(norm(r[c]) for c in mc) for r in rows)
            check(ch == fl, "%s: rows (%s) differ from the file's" % (t, ", ".join(mc)))
    print("  %-40s %8d %8d %8s %8s" % (t, len(rows), got, keys, fin))

# fact_workflow_sessions: the latest row per session, ClickHouse vs file
STR = ["workflow_session_id", "stream_id", "request_id", "pipeline", "orchestrator_address",
       "model_id", "gpu_id"]
NUM = ["known_stream", "startup_success", "startup_excused", "startup_unexcused", "swap_count",
       "error_count", "excusable_error_count", "event_count"]
TSC = ["session_start_ts", "session_end_ts", "first_stream_request_ts", "first_processed_ts",
       "first_playable_ts"]
COLS = STR + NUM + TSC + ["version"]
fl = {}
for r in files["fact_workflow_sessions"]:
    w = r["workflow_session_id"]
    if w not in fl or int(r["version"]) > int(fl[w]["version"]):
        fl[w] = r
chl = {r["workflow_session_id"]: r for r in rows_q(
    "SELECT %s FROM %s.fact_workflow_sessions ORDER BY workflow_session_id, version DESC "
    "LIMIT 1 BY workflow_session_id" % (", ".join(COLS), db))}
check(set(chl) == set(fl), "fact_workflow_sessions: session ids differ (%d in ClickHouse, %d in the file)"
      % (len(chl), len(fl)))
diff = 0
for w in sorted(set(chl) & set(fl)):
    for c in COLS:
        if norm(chl[w][c]) != norm(fl[w][c]):
            diff += 1
            if diff <= 10:
                print("  %s %s: clickhouse=%r file=%r" % (w, c, chl[w][c], fl[w][c]))
check(diff == 0, "fact_workflow_sessions: %d cells of the latest rows differ from the file" % diff)
print("  fact_workflow_sessions, latest row per session: %d sessions x %d columns, %d differ "
      "between ClickHouse and the file" % (len(fl), len(COLS), diff))

if golden_list:
    # the golden session rows (it_test_session_parity's rule and KNOWN list, session row only)
    SHIFT = dt.timedelta(hours=5)
    KNOWN = {"pipeline", "orchestrator_address", "model_id", "gpu_id", "swap_count"}
    def ts(v):
        return None if v is None else dt.datetime.fromisoformat(v.replace("T", " ").replace("+00:00", ""))
    def ts_eq(a, b):
        a, b = ts(a), ts(b)
        return a == b if a is None or b is None else (b == a or b == a + SHIFT)
    n = cells = ok = unexplained = 0
    for src in open(golden_list).read().split():
        gold = [json.loads(l) for l in open(src[: -len(".events.jsonl")] + ".expected.jsonl")]
        gs = max((r for r in gold if r["__table"] == "fact_workflow_sessions"), key=lambda r: r["version"])
        ms = chl.get(gs["workflow_session_id"])
        n += 1
        if ms is None:
            check(False, "golden session %s not in ClickHouse" % gs["workflow_session_id"])
            continue
        for c in STR + NUM + TSC:
            good = ts_eq(ms[c], gs.get(c)) if c in TSC else norm(ms[c]) == norm(gs.get(c))
            cells += 1
            ok += good
            if not good and c not in KNOWN:
                unexplained += 1
                print("  %s %s: clickhouse=%r golden=%r" % (os.path.basename(src), c, ms[c], gs.get(c)))
    print("  golden: %d sessions, %d/%d cells match; the rest are known disagreements "
          "(%s); unexplained %d" % (n, ok, cells, ", ".join(sorted(KNOWN)), unexplained))
    check(n > 0 and unexplained == 0, "%d unexplained golden mismatches" % unexplained)

if mode == "all":
    for t in ["ai_stream_status", "stream_trace_events", "network_capabilities", "ai_stream_events",
              "fact_workflow_sessions", "fact_lifecycle_edge_coverage", "fact_stream_status_samples",
              "fact_stream_trace_edges"]:
        n = int(q("SELECT count() FROM %s.%s FORMAT TSV" % (db, t)))
        check(n > 0, "pipeline: no rows in %s" % t)
sys.exit(1 if bad else 0)
PY

# 1. the real scenario sessions, in place, one job
inputs=()
for ev in "$DATA"/real/scenarios/*/*/*.events.jsonl; do
  inputs+=(--input "$ev")
  echo "$ev" >>"$TMP/scenarios.list"
done
[ "${#inputs[@]}" -gt 0 ] || fail "no scenario sessions found"
run_weir "$TMP/sc.summary" run session "${inputs[@]}" --output-dir "$TMP/sc" --state-dir "$TMP/st-sc" \
  "${CH[@]}" --clickhouse-database wsc
echo "scenarios ($(( ${#inputs[@]} / 2 )) sessions): $(cat "$TMP/sc.summary")"
python3 "$TMP/check.py" "$CH_URL" wsc "$TMP/sc" facts "$TMP/scenarios.list" || fail "scenario sessions"

# 2. generated traffic (written under $TMP, the test's temp dir)
"$WEIR" gen --count 50000 --seed 4 --dup-fraction 0.05 --output "$TMP/gen.jsonl" 2>/dev/null \
  || fail "weir gen"
run_weir "$TMP/gen.summary" run session --input "$TMP/gen.jsonl" -p 2 --output-dir "$TMP/gen" \
  --state-dir "$TMP/st-gen" "${CH[@]}" --clickhouse-database wgen
echo "generated: $(cat "$TMP/gen.summary")"
python3 "$TMP/check.py" "$CH_URL" wgen "$TMP/gen" facts || fail "generated traffic"

# 3. the pipeline (typed rows + facts in one DAG) over the same traffic
run_weir "$TMP/pipe.summary" run pipeline --input "$TMP/gen.jsonl" --output-dir "$TMP/pipe" \
  --state-dir "$TMP/st-pipe" "${CH[@]}" --clickhouse-database wpipe
echo "pipeline: $(cat "$TMP/pipe.summary")"
python3 "$TMP/check.py" "$CH_URL" wpipe "$TMP/pipe" all || fail "pipeline"
echo PASS
