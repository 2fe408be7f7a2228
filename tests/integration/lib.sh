# Shared helpers for the integration tests (sourced). Needs WEIR (the binary), WEIR_SHARED_DATA,
# WEIR_TEST_TMP; tests skip (exit 0 with a message) when the shared data is absent.
set -euo pipefail
: "${WEIR:?path of the weir binary}"
DATA=${WEIR_SHARED_DATA:-$(dirname "$0")/../../../shared/data}
TMP=${WEIR_TEST_TMP:-/tmp}/$(basename "$0" .sh).$$
mkdir -p "$TMP"
# control sockets of `weir run` (weir savepoint/stop/list): a short private directory, as a Unix
# socket path is limited to 108 bytes
export WEIR_CONTROL_DIR=/tmp/weir-ctl-$$
cleanup_tmp() { rm -rf "$TMP" "$WEIR_CONTROL_DIR"; }
trap cleanup_tmp EXIT
need_data() {
  if [ ! -d "$DATA/real" ]; then
    echo "SKIP: shared data not found at $DATA"
    exit 0
  fi
}
fail() { echo "FAIL: $*" >&2; exit 1; }
# stop_pid PID : SIGTERM, up to 10 s for the process to end, then SIGKILL; reaps it. An empty
# PID or a process that already ended is not an error.
stop_pid() {
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1" 2>/dev/null || true
    local i
    for i in $(seq 1 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$1" 2>/dev/null && kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
# json_get JSON KEY... : prints a (nested) value of a one-line JSON document
json_get() { python3 -c 'import json,sys; v=json.loads(sys.argv[1])
for k in sys.argv[2:]: v=v[k]
print(v)' "$@"; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
count_lines() { if [ -f "$1" ]; then wc -l < "$1" | tr -d ' '; else echo 0; fi; }
# rows_digest DIR [kafka] : per table (<table>.jsonl, or the committed <table>/part-* files of the
# exactly-once file sink) prints "table rows digest" of the sorted rows, processing time
# (ingestion_timestamp) removed. With "kafka", quarantine rows are compared without their
# source position: with several partitions, which copy of a duplicate arrives first depends on
# how the partitions interleave (as in Flink); same keys, same count.
rows_digest() { python3 - "$1" "${2:-}" <<'PY'
import glob, hashlib, json, os, sys
d, loose = sys.argv[1], sys.argv[2] == "kafka"
for t in sorted(os.listdir(d)):
    p = os.path.join(d, t)
    if os.path.isfile(p):
        if not t.endswith(".jsonl"): continue
        files, name = [p], t[:-6]
    else:
        files, name = sorted(glob.glob(os.path.join(p, "part-*"))), t
    rows = []
    for f in files:
        for line in open(f, encoding="utf-8"):
            r = json.loads(line)
            r.pop("ingestion_timestamp", None)
            if loose and name == "streaming_events_quarantine":
                for k in ("source_partition", "source_offset", "source_record_timestamp"):
                    r.pop(k, None)
            rows.append(json.dumps(r, sort_keys=True))
    rows.sort()
    print(name, len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16])
PY
}
