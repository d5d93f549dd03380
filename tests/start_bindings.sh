#!/bin/sh
# What every process pays for the preload library at start-up, checked
# exactly: the libc functions its constructor calls (each one the loader
# binds lazily, and whose text it pages in), and its segments (each one a
# mapping the loader makes).  A program that does not allocate: /bin/true.
#   start_bindings.sh liballoctag-preload.so
set -eu
lib=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# An empty environment: the default configuration (no ALLOCTAG* set).
env -i LD_DEBUG=bindings LD_PRELOAD="$lib" /bin/true 2>"$out"
# The bindings made from our library while its constructor runs: after
# "calling init: <lib>", before the program's own initialization.
got=$(sed -n "\|calling init: .*$(basename "$lib")|,/initialize program/p" "$out" |
	sed -n "s|.*binding file [^ ]*$(basename "$lib") \[0\] to [^ ]*libc.so.6 \[0\]: normal symbol \`\([^']*\)'.*|\1|p" |
	sort | tr '\n' ' ')
# Calls that may stay: the configuration's secure-execution check
# (getauxval), the heap's reservation under the address-space limit
# (getrlimit, mmap; munmap only under a limit), the fork handlers (__register_atfork), the CPU
# count for the counters' layout (open, read, close), the live reader's
# signal (sigfillset, __libc_current_sigrtmax, sigaction), and memset and
# memcpy, which a compiler may emit for a structure (at -O0).  (A set-up an
# earlier constructor's allocation ran, as a sanitizer runtime's, binds its
# calls before ours.)  Never getenv, strncmp, strlen or a pthread mutex or
# once: start-up does those itself.
allowed=" __libc_current_sigrtmax __register_atfork close getauxval getrlimit mmap munmap open read sigaction sigfillset memset memcpy "
for f in $got; do
	case "$allowed" in
	*" $f "*) ;;
	*)
		echo "FAIL: start-up binds $f (all: $got)"
		exit 1
		;;
	esac
done
# A build without a sanitizer runtime (no earlier constructor allocates):
# exactly these.
want="__libc_current_sigrtmax __register_atfork close getauxval getrlimit mmap open read sigaction sigfillset "
if ! readelf -dW "$lib" | grep -q 'NEEDED.*lib[a-z]*san\.so' && [ "$got" != "$want" ]; then
	echo "FAIL: start-up binds: $got"
	echo "      expected:       $want"
	exit 1
fi

# Two loadable segments (-z noseparate-code): headers, read-only data and
# text in one; data and .bss in the other.
loads=$(readelf -lW "$lib" | grep -c '^ *LOAD')
if [ "$loads" != 2 ]; then
	echo "FAIL: $lib has $loads PT_LOAD segments, expected 2"
	exit 1
fi
echo "start_bindings: ok"
