#!/usr/bin/env bash
# What a process start costs under each preloaded library, in instructions
# (callgrind: a count the machine's load cannot move), split by the part of
# start-up that spends them: the dynamic loader's relocations and symbol
# lookups, its version checks, its mapping of the dependencies, the lazy
# bindings made at a first call, and the constructors (_dl_init).  Then,
# for each library, what the loader has to process: dynamic relocations by
# type, exported and imported symbols, the symbol versions it needs,
# DT_NEEDED entries and loadable segments.
#
#   bench/malloc/startcg.sh [PROGRAM] name=[/path/lib.so][:ENV=VAL...] ...
#
# PROGRAM defaults to /bin/true (a program that never allocates).  Each
# configuration runs in the environment spawn.c gives its children (PATH,
# LD_PRELOAD and the configuration's variables, nothing else), so that the
# figures match spawn's.  The first configuration is the reference of the
# ratios.  Example:
#
#   gcc -shared -fPIC -o /tmp/libempty.so -x c - <<<'int x;'
#   bench/malloc/startcg.sh glibc= empty=/tmp/libempty.so alloctag=build/liballoctag-preload.so
set -eu
command -v valgrind >/dev/null || { echo "startcg.sh: valgrind is needed" >&2; exit 1; }
prog=/bin/true
case "${1:-}" in /*) prog=$1; shift ;; esac
[ $# -gt 0 ] || { echo "usage: startcg.sh [PROGRAM] name=[lib][:ENV=VAL...] ..." >&2; exit 2; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# name: the function's inclusive count, or 0 when it never ran
incl() {
	awk -v f="$2" '$0 ~ "[:]" f " " || $0 ~ "[:]" f "$" { gsub(",", "", $1); if ($1 + 0 > m) m = $1 + 0 } END { print m + 0 }' "$1"
}
FUNCS="_dl_relocate_object _dl_lookup_symbol_x _dl_check_map_versions _dl_map_object_deps _dl_fixup _dl_init"
printf '%-12s %9s %6s' config instr ratio
for f in $FUNCS; do printf ' %s' "$f"; done
echo
ref=0
for c in "$@"; do
	name=${c%%=*}
	rest=${c#*=}
	lib=${rest%%:*}
	envs=()
	[ "$lib" = "$rest" ] || IFS=: read -r -a envs <<<"${rest#*:}"
	pre=()
	[ -z "$lib" ] || pre=("LD_PRELOAD=$lib")
	out="$W/cg.$name"
	env -i PATH=/usr/bin:/bin "${pre[@]}" "${envs[@]}" valgrind --tool=callgrind --dump-instr=no \
		--callgrind-out-file="$out" "$prog" >/dev/null 2>"$W/err.$name" ||
		{ echo "startcg.sh: $prog failed under $name:" >&2; cat "$W/err.$name" >&2; exit 1; }
	total=$(sed -n 's/^summary: *//p' "$out")
	callgrind_annotate --inclusive=yes --threshold=100 "$out" >"$W/ann.$name" 2>/dev/null
	[ "$ref" != 0 ] || ref=$total
	printf '%-12s %9d %6.3f' "$name" "$total" "$(echo "$total / $ref" | bc -l)"
	for f in $FUNCS; do printf ' %*d' "${#f}" "$(incl "$W/ann.$name" "$f")"; done
	echo
done

echo
echo "what the loader processes: relocations by type, symbols exported/imported, versions needed, DT_NEEDED, PT_LOAD"
for c in "$@"; do
	name=${c%%=*}
	rest=${c#*=}
	lib=${rest%%:*}
	[ -n "$lib" ] || continue
	rel=$(readelf -rW "$lib" | awk '/R_X86_64_/ { n[$3]++ } END { for (t in n) printf "%s=%d ", substr(t, 10), n[t] }')
	exp=$(readelf --dyn-syms -W "$lib" | awk 'NR > 3 && $7 != "UND" && $8 != ""' | wc -l)
	imp=$(readelf --dyn-syms -W "$lib" | awk 'NR > 3 && $7 == "UND" && $8 != ""' | wc -l)
	ver=$(readelf -VW "$lib" | grep -c 'Name: .*Flags' || true)
	need=$(readelf -dW "$lib" | grep -c NEEDED || true)
	loads=$(readelf -lW "$lib" | grep -c '^ *LOAD' || true)
	echo "$name: ${rel}exported=$exp imported=$imp versions=$ver needed=$need loads=$loads"
done
