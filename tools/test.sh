#!/usr/bin/env bash
# Runs every test: installs dependencies, builds, runs the unit and integration tests (ctest),
# then rebuilds with AddressSanitizer + UndefinedBehaviorSanitizer and runs them again, and runs
# cppcheck. Exits non-zero on the first failure. Set WEIR_SKIP_SANITIZE=1 to skip the second pass.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
echo "== build (RelWithDebInfo)"
WEIR_BUILD_DIR=build tools/build.sh
echo "== tests"
(cd build && ctest --output-on-failure -j2)
if [ "${WEIR_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== build (ASan + UBSan)"
  WEIR_BUILD_DIR=build-asan WEIR_BUILD_TYPE=Debug tools/build.sh -DWEIR_SANITIZE=ON
  echo "== tests under ASan + UBSan"
  # the sanitizer pass looks for memory and UB errors: the long fault-tolerance scenarios run
  # at a smaller scale there (the first pass runs them at the issue's full scale)
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
     WEIR_CRASH_EVENTS=200000 WEIR_CRASH_KILLS=6 WEIR_SAVEPOINT_EVENTS=300000 \
     WEIR_STORAGE_EVENTS=300000 ctest --output-on-failure -j2)
fi
echo "== cppcheck"
cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
  --suppress=missingIncludeSystem -I runtime/include -I . \
  runtime operators checkpoint jobs tools 2>&1
echo "== all tests passed"
