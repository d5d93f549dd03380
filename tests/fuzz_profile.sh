#!/bin/sh
# Fuzz the profile and allocinfo readers (tests/fuzz_profile.c) with
# libFuzzer for a bounded number of runs (a fixed seed: the same inputs every
# time), starting from a real profile, a
# real allocinfo text and hand-made edge cases.  Any crash, sanitizer report
# or leak fails the test.  Skipped (status 77) without clang's fuzzer runtime.
# usage: fuzz_profile.sh /path/to/source-dir /path/to/alloctag /path/to/liballoctag-preload.so
set -eu
SRC=$(readlink -f "$1")
AT=$2
PRE=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
CC=$(command -v clang || command -v clang-14 || true)
[ -n "$CC" ] || { echo "no clang: skipped"; exit 77; }
TOOLS=$SRC/tools
PB=$(dirname "$AT")/proto
if ! "$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I"$TOOLS" -I"$PB" -o "$T/fuzz" "$SRC/tests/fuzz_profile.c" \
    "$TOOLS"/common/common.c "$TOOLS"/profile/read.c "$TOOLS"/profile/allocinfo_read.c \
    "$TOOLS"/symbols/dwfl.c "$TOOLS"/report/*.c "$PB"/profile.pb-c.c \
    "$TOOLS"/live/records.c "$TOOLS"/live/peak_report.c "$TOOLS"/live/html.c \
    -ldw -lelf -lprotobuf-c -lz -lstdc++ 2>"$T/cc.err"; then
    grep -q 'libclang_rt.fuzzer\|fuzzer' "$T/cc.err" && { echo "no libFuzzer runtime: skipped"; exit 77; }
    cat "$T/cc.err" >&2
    exit 1
fi
mkdir "$T/corpus"
cc -g -O1 -o "$T/prog" "$SRC/tests/tool_prog.c"
"$AT" run --top 0 -o "$T/corpus/real.prof" -- "$T/prog" 3 >/dev/null 2>&1
"$AT" report --format allocinfo -o "$T/corpus/real.ai" "$T/corpus/real.prof"
printf 'alloctag-profile 1\nmap 0 0x1000 0x2000 0x0 0x0 - /x\nchain 1 1 0 0 1 0:0x10 -:0x20\ntag 5 1 0 0 mod.so a.c:3 func:f loaded:no\nend 3\n' >"$T/corpus/small.prof"
printf 'allocinfo - version: 2.0\n#     <size>  <calls> <tag info>\n        4096        1 a.c:1 [m.so] func:f accurate:no \n' >"$T/corpus/small.ai"
FUZZ_OBJ=$T/prog "$T/fuzz" -artifact_prefix="$T/" -seed=20261130 -runs=60000 -max_len=2048 -timeout=10 -rss_limit_mb=1024 "$T/corpus" >"$T/fuzz.log" 2>&1 ||
    { grep -v '^alloctag: ' "$T/fuzz.log" | tail -30 >&2
      for f in "$T"/crash-* "$T"/leak-* "$T"/timeout-*; do [ -e "$f" ] && { echo "input $f:"; od -c "$f" | head -20; }; done >&2
      exit 1; }
grep -q "Done 60000 runs" "$T/fuzz.log" || { tail -20 "$T/fuzz.log" >&2; exit 1; }
echo "fuzz: 60000 runs, no crash"
