#!/bin/sh
# Build everything and run every test (the README's test command).
set -eu
cd "$(dirname "$0")/.."
command -v cmake >/dev/null 2>&1 || { apt-get update && apt-get install -y cmake gcc make; }
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 600
