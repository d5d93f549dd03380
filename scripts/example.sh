#!/bin/sh
# Build alloctag and run its main job on the bundled example (README).
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target example >/dev/null
./build/example
