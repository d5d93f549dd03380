#!/bin/sh
# Build everything and run every test (the README's test command).
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 600
# The suite again under UndefinedBehaviorSanitizer, and the threaded tests
# under ThreadSanitizer, in build-ubsan/ and build-tsan/.
sh scripts/sanitizers.sh
# The fuzz targets: replay fuzz/corpus/ and fuzz each for a few seconds.
sh scripts/fuzz.sh ci 5
