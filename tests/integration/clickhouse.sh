# Sourced helper: a real clickhouse-server (Debian's 18.16) as a plain child process, for tests.
# Source lib.sh first (stop_pid).
#
#   . tests/integration/clickhouse.sh
#   ch_need            # exit 0 with "SKIP: ..." when clickhouse-server is not installed
#   ch_start DIR       # config + data under DIR, HTTP/TCP on free loopback ports; sets CH_URL,
#                      # CH_HTTP_PORT, CH_PID; waits for /ping (cold start can take ~3 s)
#   ch_query SQL       # runs SQL over HTTP (POST), prints the result; non-zero exit on error
#   ch_stop            # SIGTERM, wait (SIGKILL after 10 s); also installed as an EXIT trap
#   ch_kill            # SIGKILL and wait: an abrupt outage (a SIGTERM'd 18.16 keeps serving
#                      # requests on open keep-alive connections for seconds while it shuts down)
#   ch_restart_same    # starts the server again on the same ports and data (after ch_stop)
#
# Needs curl and python3 (free ports). The caller's EXIT trap (lib.sh removes $TMP) is kept:
# ch_start chains it after stopping the server.

ch_need() {
  if ! command -v clickhouse-server >/dev/null 2>&1 && [ ! -x /usr/sbin/clickhouse-server ]; then
    echo "SKIP: clickhouse-server is not installed (tools/install-deps.sh installs it)"
    exit 0
  fi
  command -v curl >/dev/null 2>&1 || { echo "SKIP: curl is not installed"; exit 0; }
}

_ch_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

_ch_bin() { command -v clickhouse-server 2>/dev/null || echo /usr/sbin/clickhouse-server; }

# ch_wait_ping SECONDS: polls /ping every 50 ms
ch_wait_ping() {
  local deadline=$((SECONDS + ${1:-30}))
  while [ $SECONDS -lt $deadline ]; do
    if curl -sf --max-time 1 "$CH_URL/ping" >/dev/null 2>&1; then return 0; fi
    if [ -n "${CH_PID:-}" ] && ! kill -0 "$CH_PID" 2>/dev/null; then
      echo "clickhouse-server exited; log:" >&2
      tail -20 "$CH_DIR/log/err.log" "$CH_DIR/server.out" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.05
  done
  echo "clickhouse-server did not answer /ping within ${1:-30} s" >&2
  return 1
}

_ch_launch() {
  (cd "$CH_DIR" && exec "$(_ch_bin)" --config-file="$CH_DIR/config.xml" >"$CH_DIR/server.out" 2>&1) &
  CH_PID=$!
  ch_wait_ping 60
}

ch_start() {
  CH_DIR=$1
  mkdir -p "$CH_DIR/data" "$CH_DIR/tmp" "$CH_DIR/log" "$CH_DIR/user_files" "$CH_DIR/format_schemas"
  CH_HTTP_PORT=$(_ch_free_port)
  CH_TCP_PORT=$(_ch_free_port)
  while [ "$CH_TCP_PORT" = "$CH_HTTP_PORT" ]; do CH_TCP_PORT=$(_ch_free_port); done
  cat >"$CH_DIR/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$CH_DIR/log/server.log</log><errorlog>$CH_DIR/log/err.log</errorlog><size>100M</size><count>1</count></logger>
  <http_port>$CH_HTTP_PORT</http_port>
  <tcp_port>$CH_TCP_PORT</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <max_connections>256</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>64</max_concurrent_queries>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <mark_cache_size>67108864</mark_cache_size>
  <path>$CH_DIR/data/</path>
  <tmp_path>$CH_DIR/tmp/</tmp_path>
  <user_files_path>$CH_DIR/user_files/</user_files_path>
  <format_schema_path>$CH_DIR/format_schemas/</format_schema_path>
  <users_config>$CH_DIR/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
  <max_session_timeout>3600</max_session_timeout>
  <default_session_timeout>60</default_session_timeout>
</yandex>
EOF
  cat >"$CH_DIR/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage><log_queries>0</log_queries></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
EOF
  CH_URL="http://127.0.0.1:$CH_HTTP_PORT"
  export CH_URL CH_HTTP_PORT CH_DIR
  _CH_PREV_TRAP=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
  # shellcheck disable=SC2064
  trap "ch_stop; ${_CH_PREV_TRAP:-:}" EXIT
  _ch_launch
}

ch_restart_same() { _ch_launch; }

ch_stop() {
  stop_pid "${CH_PID:-}"
  CH_PID=
}

ch_kill() {
  if [ -n "${CH_PID:-}" ]; then
    kill -KILL "$CH_PID" 2>/dev/null || true
    wait "$CH_PID" 2>/dev/null || true
  fi
  CH_PID=
}

ch_query() {
  local out
  out=$(curl -sS --max-time 30 -w '\n%{http_code}' --data-binary "$1" "$CH_URL/") || return 1
  local code=${out##*$'\n'}
  out=${out%$'\n'*}
  if [ "$code" != 200 ]; then echo "$out" >&2; return 1; fi
  [ -n "$out" ] && printf '%s\n' "$out"
  return 0
}
