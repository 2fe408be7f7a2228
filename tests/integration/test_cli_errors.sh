#!/usr/bin/env bash
# The CLI's error paths: bad flags and usage errors exit 2, runtime errors (unreachable Kafka,
# unwritable output directory, missing input file) exit 1; each prints a clear message on stderr
# and nothing on stdout. --help exits 0.
. "$(dirname "$0")/lib.sh"

expect_fail() { # expect_fail CODE PATTERN -- args...
  local code=$1 pat=$2; shift 3
  set +e
  "$WEIR" "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  set -e
  [ "$rc" = "$code" ] || fail "weir $*: exit $rc, expected $code ($(cat "$TMP/err"))"
  grep -q -- "$pat" "$TMP/err" || fail "weir $*: stderr lacks '$pat': $(cat "$TMP/err")"
  [ ! -s "$TMP/out" ] || fail "weir $*: printed on stdout: $(cat "$TMP/out")"
}

"$WEIR" --help | grep -q "weir run" || fail "weir --help"
"$WEIR" run --help | grep -q -- "--output-dir" || fail "weir run --help"
expect_fail 2 "unknown command" -- frobnicate
expect_fail 2 "missing job name" -- run --input x
expect_fail 2 "unknown job" -- run nosuchjob --input x
expect_fail 2 "no input" -- run dedup
expect_fail 2 "invalid number" -- run dedup --input x -p zero
expect_fail 2 "parallelism" -- run dedup --input x -p 0
expect_fail 2 "unknown state backend" -- run dedup --input x --state-backend mem
expect_fail 2 "key=value" -- run dedup --input x -D nokey
expect_fail 2 "unknown --state-backend" -- bench --state-backend mem
expect_fail 2 "runs 1..16" -- bench --runs 0
expect_fail 2 "no row output" -- run dedup --input "$TMP/x.jsonl"
expect_fail 1 "cannot open\|No such file" -- run dedup --input "$TMP/does-not-exist.jsonl" --output-dir "$TMP/o"
touch "$TMP/file"
expect_fail 1 "not writable" -- run dedup --input "$TMP/file" --output-dir "$TMP/file/sub"
start=$(date +%s)
expect_fail 1 "127.0.0.1:1" -- run dedup --kafka 127.0.0.1:1 --bounded --output-dir "$TMP/o" -D kafka.socket.connection.setup.timeout.ms=2000
[ $(( $(date +%s) - start )) -lt 30 ] || fail "unreachable Kafka took too long to report"
echo PASS
