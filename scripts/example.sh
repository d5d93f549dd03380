#!/bin/sh
# The README's first command: install what is needed, build alloctag, and
# run an unmodified program doing real work under `alloctag run`: the
# bundled wordfreq (examples/wordfreq: three C files, built with -g) counts
# the words of every copyright file of the installed packages; at its exit,
# alloctag prints the lines of its source that hold memory, then names the
# profile it wrote (`alloctag report --format pprof PROFILE` and others).
# Then the library API's example (examples/example.c).
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target alloctag_cmd alloctag_preload wordfreq example >/dev/null
mkdir -p build/profiles
cd build/profiles
echo "== alloctag run -- wordfreq /usr/share/doc/*/copyright"
../tools/alloctag run --top 10 -- ../wordfreq /usr/share/common-licenses/* /usr/share/doc/*/copyright
cd ../..
echo
echo "== the library API (examples/example.c)"
./build/example
