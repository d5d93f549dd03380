#!/usr/bin/env bash
# Allocator comparison: runs every workload (churn, larson, prodcons, mixed,
# shbench, gmthread, realloc, bigblocks, espresso)
# under glibc malloc, jemalloc, mimalloc, tcmalloc (LD_PRELOAD) and any extra
# configurations, and prints one table per workload.
#
# Environment:
#   BUILD             build/output directory        (default: bench/malloc/build)
#   REPS              runs per (workload, allocator) (default: 3)
#   EXTRA_ALLOCATORS  extra configurations, ';'-separated:
#                       name=/path/lib.so[:ENV=VAL[:ENV2=VAL2 ...]]
#                     ENV=VAL pairs may be separated by ':' or spaces (so values
#                     cannot contain ':' or spaces); an empty path means no
#                     preload (e.g. "glibc-1arena=:MALLOC_ARENA_MAX=1").
#   WORKLOADS         subset/order of workloads     (default: all nine)
#   ARGS_<workload>   arguments for one workload, e.g. ARGS_larson="4 2000000"
#   CC                compiler                      (default: gcc)
#   RUN_TIMEOUT       seconds before a run is killed (default: 300)
# Progress goes to stderr, tables to stdout; raw results in $BUILD/results.tsv,
# each run's output in $BUILD/logs/.  Exit status is 1 if any run failed.
set -eu
set -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-$HERE/build}
REPS=${REPS:-3}
CC=${CC:-gcc}
WORKLOADS=${WORKLOADS:-churn larson prodcons mixed shbench gmthread realloc bigblocks espresso}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
CFLAGS="-std=gnu11 -Wall -Wextra -O2 -pthread"

die() { echo "run.sh: error: $*" >&2; exit 1; }
log() { echo "$*" >&2; }

[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS must be a positive integer (got '$REPS')"
[[ $RUN_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "RUN_TIMEOUT must be a positive integer"

# ---------------------------------------------------------------- build
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
for w in $WORKLOADS; do
    [ -f "$HERE/$w.c" ] || die "unknown workload '$w' (no $HERE/$w.c)"
    log "build: $CC $CFLAGS -o $BUILD/$w $HERE/$w.c"
    # shellcheck disable=SC2086
    $CC $CFLAGS -o "$BUILD/$w" "$HERE/$w.c" -lm
done

# ---------------------------------------------------------------- peer allocators
PKGS="libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4"
command -v dpkg >/dev/null || die "dpkg not found: this script needs a Debian-based system"
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=""
for p in $PKGS; do pkg_installed "$p" || missing="$missing $p"; done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    log "installing:$missing"
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y $missing >&2 ||
        { $SUDO apt-get update >&2 &&
          $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y $missing >&2; } ||
        die "could not install$missing"
fi

# find_so PACKAGE LIBNAME: the library's soname file (e.g. libjemalloc.so.2) from dpkg -L
find_so() {
    local so
    so=$(dpkg -L "$1" | grep -E "/$2\.so\.[0-9]+$" | sort | head -n1 || true)
    [ -n "$so" ] && [ -e "$so" ] || die "no $2.so.N found in package $1"
    echo "$so"
}

# Allocator configurations: parallel arrays (name, preload library, env words).
A_NAME=(glibc) A_LIB=("") A_ENV=("")
A_NAME+=(jemalloc) A_LIB+=("$(find_so libjemalloc2 libjemalloc)") A_ENV+=("")
A_NAME+=(mimalloc) A_LIB+=("$(find_so libmimalloc2.0 libmimalloc)") A_ENV+=("")
A_NAME+=(tcmalloc) A_LIB+=("$(find_so libtcmalloc-minimal4 libtcmalloc_minimal)") A_ENV+=("")

if [ -n "${EXTRA_ALLOCATORS:-}" ]; then
    IFS=';' read -r -a entries <<<"$EXTRA_ALLOCATORS"
    for e in "${entries[@]}"; do
        e=$(echo "$e" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
        [ -n "$e" ] || continue
        [[ $e == *=* ]] || die "EXTRA_ALLOCATORS entry '$e' is not name=/path/lib.so[:ENV=VAL ...]"
        name=${e%%=*}
        rest=${e#*=}
        lib=${rest%%:*}
        envs=""
        [[ $rest != *:* ]] || envs=${rest#*:}
        read -r -a kvs <<<"${envs//:/ }"
        envs="${kvs[*]}"
        [[ $name =~ ^[A-Za-z0-9._+-]+$ ]] || die "bad allocator name '$name' (use letters, digits, . _ + -)"
        for n in "${A_NAME[@]}"; do [ "$n" != "$name" ] || die "duplicate allocator name '$name'"; done
        if [ -n "$lib" ]; then
            [ -f "$lib" ] || die "allocator '$name': no such library '$lib'"
            lib="$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")"
        fi
        for kv in $envs; do
            [[ $kv =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "allocator '$name': bad ENV=VAL '$kv'"
        done
        A_NAME+=("$name") A_LIB+=("$lib") A_ENV+=("$envs")
    done
fi
NA=${#A_NAME[@]}

# ---------------------------------------------------------------- run
RESULTS=$BUILD/results.tsv
LOGS=$BUILD/logs
mkdir -p "$LOGS"
rm -f "$LOGS"/*.out "$LOGS"/*.err
printf 'round\tworkload\tallocator\tthreads\tops_per_sec\tpeak_rss_kb\n' >"$RESULTS"
FAILED=0

# run_one INDEX WORKLOAD ROUND: one run, appends a line to $RESULTS
run_one() {
    local i=$1 w=$2 r=$3 name=${A_NAME[$1]} lib=${A_LIB[$1]} args_var="ARGS_$2"
    local out="$LOGS/$w.$name.$r.out" err="$LOGS/$w.$name.$r.err" rc=0 line
    local -a envs=() args=() cmd=(env -u LD_PRELOAD)
    read -r -a envs <<<"${A_ENV[$i]}"
    read -r -a args <<<"${!args_var:-}"
    [ -z "$lib" ] || cmd+=("LD_PRELOAD=$lib")
    cmd+=(${envs[@]+"${envs[@]}"} "$BUILD/$w" ${args[@]+"${args[@]}"})
    timeout "$RUN_TIMEOUT" "${cmd[@]}" >"$out" 2>"$err" || rc=$?
    line=$(grep -E "^$w threads=[0-9]+ .*ops_per_sec=[0-9]+ peak_rss_kb=-?[0-9]+$" "$out" | tail -n1 || true)
    # A library that cannot be preloaded is only warned about by ld.so: treat as failure.
    if grep -qE "cannot be preloaded|ERROR: ld.so" "$err"; then
        [ "$rc" -ne 0 ] || rc=127
    fi
    if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
        FAILED=1
        log "  [$r/$REPS] $w $name: FAILED (exit $rc), see $err"
        tail -n5 "$err" | sed 's/^/    /' >&2
        printf '%s\t%s\t%s\t-\tFAIL\tFAIL\n' "$r" "$w" "$name" >>"$RESULTS"
        return 0
    fi
    local thr ops rss
    thr=$(sed -E 's/.* threads=([0-9]+).*/\1/' <<<"$line")
    ops=$(sed -E 's/.* ops_per_sec=([0-9]+).*/\1/' <<<"$line")
    rss=$(sed -E 's/.* peak_rss_kb=(-?[0-9]+).*/\1/' <<<"$line")
    log "  [$r/$REPS] $line  ($name)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$w" "$name" "$thr" "$ops" "$rss" >>"$RESULTS"
}

# Allocators take turns within each round, in an order shuffled anew every
# round (seeded by the round number: reproducible).  A fixed cyclic order
# (rotating only the start) kept one configuration right after another every
# round, and on mixed whatever ran right after tcmalloc lost 30-45% in every
# round (swapping two configurations moved the loss with the position).
for ((r = 1; r <= REPS; r++)); do
    log "round $r/$REPS"
    for w in $WORKLOADS; do
        seed=$((r * 1000 + $(cksum <<<"$w" | cut -d' ' -f1) % 1000)) # small: mawk's srand truncates
        for i in $(awk -v n="$NA" -v s="$seed" 'BEGIN { srand(s); for (i = 0; i < n; i++) print rand(), i }' |
            sort -n | cut -d" " -f2); do
            run_one "$i" "$w" "$r"
        done
    done
done

# ---------------------------------------------------------------- report
describe() {
    case $1 in
    churn) echo "single-thread small-object churn, 8..256 B, 8192 live slots" ;;
    larson) echo "larson-like server: per-thread slot arrays, 8..1000 B, arrays rotate between threads (cross-thread frees)" ;;
    prodcons) echo "producer/consumer pairs over SPSC rings, 32..512 B messages, all frees cross-thread" ;;
    mixed) echo "mixed 16 B..1 MiB log-uniform sizes, 1/4 of ops realloc-grow, per-thread 128 live slots" ;;
    shbench) echo "sh6bench/sh8bench shape: batches of 2000 blocks of 8 B..8 KiB, half freed by the owner in reverse, half by the next thread in random order" ;;
    gmthread) echo "glibc bench-malloc-thread shape: 1024-block working set per thread, sizes 4..32768 B ~ 1/size" ;;
    realloc) echo "single-thread realloc growth: 256 buffers grown 1..64 B per realloc up to 1..64 KiB" ;;
    bigblocks) echo "blocks of 64 KiB..2 MiB log-uniform, 16 live slots per thread, one byte per page written" ;;
    espresso) echo "espresso's shape: a logic minimizer's cubes and set families, recursive complement and tautology, dozens of call sites" ;;
    *) echo "$1" ;;
    esac
}

# stats WORKLOAD ALLOCATOR -> "median_ops max_rss threads nruns" or "FAIL"
stats() {
    awk -F'\t' -v w="$1" -v a="$2" '
        NR > 1 && $2 == w && $3 == a {
            if ($5 == "FAIL") { fail = 1; next }
            ops[n++] = $5; if ($6 > rss || n == 1) rss = $6; thr = $4
        }
        END {
            if (fail || n == 0) { print "FAIL"; exit }
            for (i = 0; i < n; i++) for (j = i + 1; j < n; j++)
                if (ops[j] < ops[i]) { t = ops[i]; ops[i] = ops[j]; ops[j] = t }
            med = (n % 2) ? ops[(n - 1) / 2] : (ops[n / 2 - 1] + ops[n / 2]) / 2
            printf "%.0f %s %s %d\n", med, rss, thr, n
        }' "$RESULTS"
}

# paired WORKLOAD ALLOCATOR REF -> median over rounds of (ALLOCATOR's ops/s /
# REF's ops/s in the same round), or "n/a"
paired() {
    awk -F'\t' -v w="$1" -v a="$2" -v ref="$3" '
        NR > 1 && $2 == w && $5 != "FAIL" { if ($3 == a) x[$1] = $5; if ($3 == ref) y[$1] = $5 }
        END {
            for (r in x) if ((r in y) && y[r] > 0) v[n++] = x[r] / y[r]
            if (n == 0) { print "n/a"; exit }
            for (i = 0; i < n; i++) for (j = i + 1; j < n; j++)
                if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
            printf "%.2f\n", (n % 2) ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
        }' "$RESULTS"
}

echo
echo "Allocator comparison: workload throughput and memory under each malloc implementation"
echo "  ops/s        = median over REPS=$REPS runs (higher is better; 1 op = 1 malloc+free or realloc)"
echo "  x glibc      = allocator ops/s / glibc ops/s     (speedup; >1 means faster than glibc)"
echo "  x mimalloc   = allocator ops/s / mimalloc ops/s  (speedup; >1 means faster than mimalloc)"
echo "  paired mi    = median over rounds of (allocator ops/s / mimalloc ops/s in the same round)"
echo "  peak_rss_kb  = max ru_maxrss over the runs (lower is better)"
echo "  host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo '?'); $($CC --version | head -n1); $CFLAGS"
echo "  allocators:"
for ((i = 0; i < NA; i++)); do
    desc="LD_PRELOAD=${A_LIB[$i]}"
    [ -n "${A_LIB[$i]}" ] || desc="(no LD_PRELOAD: system glibc malloc)"
    printf '    %-20s %s\n' "${A_NAME[$i]}" "$desc${A_ENV[$i]:+ ${A_ENV[$i]}}"
done

for w in $WORKLOADS; do
    base=$(stats "$w" glibc | awk '{print $1}')
    mi=$(stats "$w" mimalloc | awk '{print $1}')
    args_var="ARGS_$w"
    thr=$(awk -F'\t' -v w="$w" 'NR > 1 && $2 == w && $4 != "-" { print $4; exit }' "$RESULTS")
    echo
    echo "== $w: $(describe "$w")"
    echo "   threads=${thr:-?} args=\"${!args_var:-(defaults)}\""
    printf '%-20s %14s %10s %12s %10s %14s\n' allocator "ops/s" "x glibc" "x mimalloc" "paired mi" \
        "peak_rss_kb"
    for ((i = 0; i < NA; i++)); do
        s=$(stats "$w" "${A_NAME[$i]}")
        if [ "$s" = FAIL ]; then
            printf '%-20s %14s %10s %12s %10s %14s\n' "${A_NAME[$i]}" FAIL - - - -
            continue
        fi
        read -r med rss _ _ <<<"$s"
        pm=$(paired "$w" "${A_NAME[$i]}" mimalloc)
        awk -v n="${A_NAME[$i]}" -v m="$med" -v b="$base" -v mi="$mi" -v rss="$rss" -v pm="$pm" 'BEGIN {
            gb = (b ~ /^[0-9]+$/ && b > 0) ? sprintf("%.2f", m / b) : "n/a"
            gm = (mi ~ /^[0-9]+$/ && mi > 0) ? sprintf("%.2f", m / mi) : "n/a"
            printf "%-20s %14.0f %10s %12s %10s %14s\n", n, m, gb, gm, pm, rss
        }'
    done
done
echo
echo "raw results: $RESULTS"
[ "$FAILED" -eq 0 ] || { log "run.sh: some runs FAILED (see $LOGS)"; exit 1; }
