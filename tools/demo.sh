#!/usr/bin/env bash
# The zero-setup demo: installs dependencies, builds, then runs the dedup job on the embedded
# Kafka: generated events -> embedded Kafka -> quality gate / dedup / parse -> typed rows in
# out/demo/<table>.jsonl, DLQ and quarantine envelopes to their Kafka topics and files.
# Prints the job's JSON summary. Extra arguments are passed to `weir run dedup`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
mkdir -p out/demo
exec build/weir run dedup --kafka embedded --generate "${WEIR_DEMO_EVENTS:-200000}" \
  --dup-fraction 0.05 --malformed-fraction 0.01 --output-dir out/demo -p 2 "$@"
