#!/usr/bin/env bash
# The system calls a short real program's first call chains make: strace
# counts (load-insensitive) of file reads (pread64 and preadv: the
# unwinder's CFI, the symbol index, the names), their bytes, fstat calls
# and all system calls of a whole run, under glibc, the preload library
# with ALLOCTAG=never and at its default (call chains, depth 8).
#
#   bench/malloc/firstreads.sh PRELOAD_LIB [OTHER_LIB]
#
# OTHER_LIB (optional): another build of the preload library (e.g. the one
# before a change), at its default, in the same run.  One line per program
# and configuration.
set -eu
command -v strace >/dev/null || { echo "firstreads.sh: strace is needed" >&2; exit 1; }
PRE=${1:?usage: firstreads.sh PRELOAD_LIB [OTHER_LIB]} OTHER=${2:-} TR=$(mktemp)
trap 'rm -f "$TR"' EXIT
PROGS=("/usr/bin/bash -c true" "/usr/bin/python3 -c pass" "/usr/bin/git --version" "/usr/bin/sqlite3 -version" "/bin/cat /etc/passwd")
CONFS=(glibc never default)
[ -z "$OTHER" ] || CONFS+=(other)
for prog in "${PROGS[@]}"; do
    for conf in "${CONFS[@]}"; do
        case $conf in
        glibc) set -- env ;;
        never) set -- env ALLOCTAG=never LD_PRELOAD=$PRE ;;
        default) set -- env LD_PRELOAD=$PRE ;;
        other) set -- env LD_PRELOAD=$OTHER ;;
        esac
        "$@" strace -o "$TR" $prog >/dev/null 2>&1 || true
        awk -v prog="$prog" -v conf="$conf" '
            /^(pread64|preadv)\(/ { r = $0; sub(/.*= /, "", r); reads++; bytes += r }
            /^fstat\(/ { fstats++ }
            /^[a-z_0-9]+\(/ { all++ }
            END { printf "firstreads prog=\"%s\" conf=%s reads=%d bytes=%d fstat=%d syscalls=%d\n",
                  prog, conf, reads, bytes, fstats, all }' "$TR"
    done
done
