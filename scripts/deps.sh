#!/bin/sh
# Install the Debian packages that building alloctag and running its tests
# need (a fresh Debian machine lacks most of them; needs root or sudo).
#   build:   cmake gcc g++ make pkg-config binutils
#   tools:   libdw-dev libelf-dev (symbols), libprotobuf-c-dev
#            protobuf-c-compiler (pprof), zlib1g-dev (gzip)
#   runtime experiments: libunwind-dev (the unwinder compared in BENCHMARKS.md)
#   tests:   golang-go (go tool pprof reads our pprof), sqlite3, python3,
#            clang and libclang-rt-14-dev (fuzzers, sanitizers)
#   tool tests: llvm (llvm-symbolizer, compared with alloctag's symbolizer)
#   live tests: chromium (the HTML report, headless), curl (the HTTP
#            endpoint), util-linux and bsdutils (runuser, setpriv, script)
set -eu
pkgs="cmake gcc g++ make pkg-config binutils libdw-dev libelf-dev libprotobuf-c-dev
protobuf-c-compiler zlib1g-dev libunwind-dev golang-go sqlite3 python3 clang
libclang-rt-14-dev
llvm
chromium curl util-linux bsdutils"
# tests/real_programs.sh: real Debian programs under the preload library
pkgs="$pkgs perl git xz-utils bash coreutils valgrind"
[ $# -gt 0 ] && pkgs="$pkgs $*"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
$sudo apt-get update -q >/dev/null
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
