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
# json_get JSON KEY... : prints a (nested) value of a one-line JSON document
json_get() { python3 -c 'import json,sys; v=json.loads(sys.argv[1])
for k in sys.argv[2:]: v=v[k]
print(v)' "$@"; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
count_lines() { if [ -f "$1" ]; then wc -l < "$1" | tr -d ' '; else echo 0; fi; }
