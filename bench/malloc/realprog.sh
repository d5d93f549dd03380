#!/usr/bin/env bash
# Real Debian programs under each allocator: wall time and peak RSS.
#
#   bench/malloc/realprog.sh PRELOAD_LIB [ROUNDS]
#
# Workloads (inputs generated here, fixed seeds; every output is checked
# against glibc's run of the same round):
#   sqlite  sqlite3 on a script of 200000 inserted rows (one transaction),
#           an index, a GROUP BY, an ORDER BY, an UPDATE and a DELETE
#   gcc     gcc -O2 -c of a generated 150-function C file
#   git     git init, add of 400 files, commit, 20 more commits, log -p,
#           gc, fsck (each git command is its own process; peak of them all)
#   sort    sort of 2000000 generated lines (-S 200M: in memory)
# Configurations: glibc (no preload), alloctag (PRELOAD_LIB, default
# ALLOCTAG), alloctag-depth1 (profiling on, one tag per caller address:
# ALLOCTAG_DEPTH=1; against the default it shows what call chains cost,
# against never what tagging itself costs), alloctag-never
# (ALLOCTAG=never), mimalloc, jemalloc, tcmalloc
# (Debian's libmimalloc2.0, libjemalloc2, libgoogle-perftools4 or
# libtcmalloc-minimal4, skipped if absent).  Each round runs every workload
# under every configuration, in an order rotated each round.  Printed per
# workload and configuration: median wall and CPU (user + system) seconds,
# peak RSS (MB) and minor page faults, and the median over rounds of each
# round's ratio to glibc's run.
# BEFORE=LIB adds LIB (another build of the preload library) in both modes,
# as before and before-never, to the same rounds.
. "$(dirname "$0")/prelude.sh" realprog.sh 3 "$@"
NAMES=(glibc alloctag alloctag-depth1 alloctag-never)
LIBS=("" "$PRE" "$PRE" "$PRE")
ENVS=("" "" "ALLOCTAG_DEPTH=1" "ALLOCTAG=never")
for spec in "mimalloc libmimalloc2.0 libmimalloc" "jemalloc libjemalloc2 libjemalloc" \
    "tcmalloc libgoogle-perftools4 libtcmalloc" "tcmalloc libtcmalloc-minimal4 libtcmalloc_minimal"; do
    set -- $spec
    for n in "${NAMES[@]}"; do [ "$n" != "$1" ] || continue 2; done
    so=$(so_of "$2" "$3")
    [ -z "$so" ] || { NAMES+=("$1"); LIBS+=("$so"); ENVS+=(""); }
done
[ -z "${BEFORE:-}" ] || { NAMES+=(before before-never); LIBS+=("$BEFORE" "$BEFORE"); ENVS+=("" "ALLOCTAG=never"); }

# ---- inputs
awk 'BEGIN { srand(42); print "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, val REAL, grp INTEGER);"
  print "BEGIN;"
  for (i = 0; i < 200000; i++)
    printf "INSERT INTO t(name, val, grp) VALUES(\x27%s-%d\x27, %.3f, %d);\n",
      substr("alphabetagammadeltaepsilonzetaetatheta", 1 + int(rand() * 30), 8), i, rand() * 1000, int(rand() * 500)
  print "COMMIT;"
  print "CREATE INDEX t_name ON t(name);"
  print "SELECT grp, count(*), round(avg(val), 3) FROM t GROUP BY grp ORDER BY grp LIMIT 5;"
  print "SELECT name, round(val, 3) FROM t ORDER BY val DESC, id LIMIT 5;"
  print "UPDATE t SET val = val * 2 WHERE grp % 7 = 0;"
  print "DELETE FROM t WHERE grp % 11 = 0;"
  print "SELECT count(*), round(sum(val), 1) FROM t;" }' >"$W/script.sql"
awk 'BEGIN { print "#include <string.h>"; print "struct s { int a; double b; char c[16]; };"
  for (i = 0; i < 150; i++) {
    printf "int f%d(struct s *p, int n) { int r = %d; for (int i = 0; i < n; i++) { r += p[i].a * %d + (int)p[i].b; if (r > %d) r -= strlen(p[i].c); } switch (n & 7) { case 0: r ^= %d; break; case 3: r += p[n / 2].a; break; default: r--; } return r; }\n", i, i, i % 13 + 1, i * 7, i
  } }' >"$W/gen.c"
awk 'BEGIN { srand(9); for (i = 0; i < 2000000; i++) printf "%08x %d w%d\n", int(rand() * 4294967295), int(rand() * 1e6), i }' >"$W/lines"
cat >"$W/git.sh" <<'EOF'
set -e
d=$1; rm -rf "$d"; mkdir -p "$d"; cd "$d"
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@b GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@b
export GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
git init -q .
awk 'BEGIN { srand(5); for (f = 0; f < 400; f++) { fn = sprintf("f%03d.txt", f); for (l = 0; l < 200; l++) printf "line %d of %d: %d\n", l, f, int(rand() * 1e9) > fn; close(fn) } }'
git add . && git commit -q -m init
for c in $(seq 1 20); do
    awk -v c=$c 'BEGIN { for (f = c; f < 400; f += 20) { fn = sprintf("f%03d.txt", f); printf "change %d\n", c >> fn; close(fn) } }'
    git commit -q -a -m "change $c"
done
git log -p | md5sum | cut -c1-8
git gc -q
git fsck --no-progress
git rev-list --count HEAD
EOF

# ---- runs: results in $W/res: round workload config wall rss
run() { # config-index workload round
    local i=$1 w=$2 r=$3 out="$W/out.$2.$1" line
    local -a cmd=(env -u LD_PRELOAD)
    [ -z "${LIBS[$i]}" ] || cmd+=("LD_PRELOAD=${LIBS[$i]}")
    [ -z "${ENVS[$i]}" ] || cmd+=("${ENVS[$i]}")
    case $w in
    sqlite) cmd+=(sh -c "sqlite3 <'$W/script.sql'") ;;
    gcc) cmd+=(gcc -O2 -c -o "$W/gen.$i.o" "$W/gen.c") ;;
    git) cmd+=(sh "$W/git.sh" "$W/repo.$i") ;;
    sort) cmd+=(sort -S 200M "$W/lines") ;;
    esac
    line=$(MEASURE_OUT=$out "$W/measure" "${cmd[@]}")
    case $line in *" rc=0") ;; *) echo "realprog: $w under ${NAMES[$i]} failed: $line" >&2; exit 1 ;; esac
    [ "$w" != gcc ] || objdump -d "$W/gen.$i.o" | tail -n +4 | md5sum >"$out"
    if [ "$i" -eq 0 ]; then cp "$out" "$W/want.$w"; fi
    set -- $line
    echo "$r $w ${NAMES[$i]} ${1#wall_s=} ${3#maxrss_kb=} ${2#cpu_s=} ${4#minflt=}" >>"$W/res"
}
N=${#NAMES[@]}
for r in $(seq 1 "$ROUNDS"); do
    for w in sqlite gcc git sort; do
        run 0 "$w" "$r" # glibc first: the reference output
        for k in $(seq 1 $((N - 1))); do
            i=$(( (k + r - 2) % (N - 1) + 1 ))
            run "$i" "$w" "$r"
            cmp -s "$W/want.$w" "$W/out.$w.$i" || { echo "realprog: $w output under ${NAMES[$i]} differs from glibc's" >&2; exit 1; }
        done
    done
done
echo "realprog rounds=$ROUNDS (medians: wall s, cpu (user+sys) s, peak RSS MB, minor faults; and of per-round ratios to glibc)"
for w in sqlite gcc git sort; do
    for c in "${NAMES[@]}"; do
        awk -v w="$w" -v c="$c" '
            function med(a, n,   i, j, t) { for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                return n % 2 ? a[(n - 1) / 2] : (a[n / 2 - 1] + a[n / 2]) / 2 }
            $2 == w && $3 == "glibc" { gw[$1] = $4; gr[$1] = $5; gc[$1] = $6 }
            $2 == w && $3 == c { cw[$1] = $4; cr[$1] = $5; cc[$1] = $6; cf[$1] = $7 }
            END { n = 0; for (r in cw) { a[n] = cw[r]; b[n] = cr[r]; d[n] = cc[r]; f[n] = cf[r]
                    x[n] = cw[r] / gw[r]; y[n] = cr[r] / gr[r]; z[n] = cc[r] / gc[r]; n++ }
                printf "%-7s %-15s wall_s=%.3f cpu_s=%.3f peak_mb=%.1f minflt=%d wall_vs_glibc=%.3f cpu_vs_glibc=%.3f rss_vs_glibc=%.3f\n",
                    w, c, med(a, n), med(d, n), med(b, n) / 1024, med(f, n), med(x, n), med(z, n), med(y, n) }' "$W/res"
    done
done
