#!/bin/sh
# The heap-misuse suite (tests/misuse.c): every case under glibc's malloc,
# mimalloc and jemalloc (Debian's libmimalloc2.0 and libjemalloc2, when
# installed: "n/a" otherwise) and under the preload library in each mode;
# prints a table and the number of cases each stopped (ended by a signal
# before the program went on).
# With an expected list (and its twins: _secure1 for ALLOCTAG_SECURE=1,
# _secure for ALLOCTAG_SECURE=2), fails unless alloctag stops exactly the
# cases listed there - so a defence that stops working fails the test, and
# one that starts working is written down - and unless each level of
# ALLOCTAG_SECURE stops more cases than glibc.
# usage: misuse.sh <misuse> <liballoctag-preload.so> [expected-list]
set -u
bin=$1
lib=$2
expected=${3:-}
ulimit -c 0
modes="glibc mimalloc jemalloc alloctag never debug secure1 secure2"
libdir=/usr/lib/x86_64-linux-gnu
mimalloc=${MIMALLOC:-$libdir/libmimalloc.so.2}
jemalloc=${JEMALLOC:-$libdir/libjemalloc.so.2}
run_case() { # mode case -> S (stopped) / - (not stopped) / H (hung)
	case $1 in
	glibc) timeout 20 "$bin" "$2" >/dev/null 2>&1 ;;
	mimalloc | jemalloc)
		eval "other=\$$1"
		[ -e "$other" ] || { echo n/a; return; }
		LD_PRELOAD=$other timeout 20 "$bin" "$2" >/dev/null 2>&1 ;;
	alloctag) LD_PRELOAD=$lib timeout 20 "$bin" "$2" >/dev/null 2>&1 ;;
	never) ALLOCTAG=never LD_PRELOAD=$lib timeout 20 "$bin" "$2" >/dev/null 2>&1 ;;
	debug) ALLOCTAG_DEBUG=1 LD_PRELOAD=$lib timeout 20 "$bin" "$2" >/dev/null 2>&1 ;;
	secure1 | secure2) ALLOCTAG_SECURE=${1#secure} LD_PRELOAD=$lib timeout 20 "$bin" "$2" >/dev/null 2>&1 ;;
	esac
	rc=$?
	if [ $rc = 124 ]; then echo H
	elif [ $rc -gt 128 ]; then echo S
	elif [ $rc = 0 ]; then echo -
	else echo "?$rc"
	fi
}
stopped_file=$(mktemp)
secure1_file=$(mktemp)
secure2_file=$(mktemp)
trap 'rm -f "$stopped_file" "$secure1_file" "$secure2_file"' EXIT
printf '%-28s %8s %8s %8s %8s %8s %8s %8s %8s\n' case $modes
total=0
g=0 mi=0 je=0 a=0 n=0 d=0 s1=0 s2=0
for c in $("$bin" --list); do
	line=$(printf '%-28s' "$c")
	for m in $modes; do
		r=$(run_case $m "$c")
		line="$line $(printf '%8s' "$r")"
		if [ "$r" = S ]; then
			case $m in
			glibc) g=$((g + 1)) ;;
			mimalloc) mi=$((mi + 1)) ;;
			jemalloc) je=$((je + 1)) ;;
			alloctag) a=$((a + 1)); echo "$c" >>"$stopped_file" ;;
			never) n=$((n + 1)) ;;
			debug) d=$((d + 1)) ;;
			secure1) s1=$((s1 + 1)); echo "$c" >>"$secure1_file" ;;
			secure2) s2=$((s2 + 1)); echo "$c" >>"$secure2_file" ;;
			esac
		fi
	done
	echo "$line"
	total=$((total + 1))
done
echo "stopped of $total: glibc $g, mimalloc $mi, jemalloc $je, alloctag $a, alloctag never $n, alloctag debug $d, alloctag secure=1 $s1, alloctag secure=2 $s2"
if [ -n "$expected" ]; then
	if ! diff -u "$expected" "$stopped_file"; then
		echo "FAIL: alloctag stops a different set of cases than $expected lists" >&2
		exit 1
	fi
	for level in 1 2; do
		eval "file=\$secure${level}_file count=\$s$level"
		secure_expected=${expected%.txt}_secure$([ $level = 1 ] && echo 1).txt
		if ! diff -u "$secure_expected" "$file"; then
			echo "FAIL: ALLOCTAG_SECURE=$level stops a different set of cases than $secure_expected lists" >&2
			exit 1
		fi
		if [ "$count" -le "$g" ]; then
			echo "FAIL: ALLOCTAG_SECURE=$level stops $count cases, glibc $g: not more" >&2
			exit 1
		fi
	done
fi
