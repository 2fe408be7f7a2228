#!/usr/bin/env bash
# Installs every Debian package weir's build, tests, demo and benchmarks need.
# Idempotent; run as root (or with sudo available). See docs/dependencies.md for why each one.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config g++ clang-format cppcheck
  librdkafka-dev        # Kafka source/sink and the embedded (mock) cluster
  librocksdb-dev        # RocksDB keyed state backend (C API)
  liblz4-dev            # LZ4: the session job's per-key state blobs
  libsimdjson-dev       # JSON parsing (C++ library behind a one-file C shim)
  libssl-dev            # SHA-256 (dedup payload hash) and Base64
  libxxhash-dev         # hash tables (state buffer, heap backend, sinks, JSON duplicate keys)
  libcurl4-openssl-dev  # ClickHouse HTTP sink
  libdouble-conversion-dev  # shortest round-trip digits for Java's Double/Float.toString
  libprotobuf-c-dev protobuf-c-compiler  # checkpoint metadata
  libcmocka-dev         # unit tests
  kcat                  # real Kafka client used by the end-to-end tests
  python3               # test helpers compare JSON outputs
  clickhouse-server clickhouse-client  # real ClickHouse 18.16 for the sink tests (plain process)
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
