#!/bin/sh
# What every process pays for the preload library at start-up, checked
# exactly: the libc functions its constructor calls (each one the loader
# binds lazily, and whose text it pages in), its segments (each one a
# mapping the loader makes), its exported symbols and the symbols its
# relocations look up.  A program that does not allocate: /bin/true.
#   start_bindings.sh liballoctag-preload.so
set -eu
lib=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT

san=0
if readelf -dW "$lib" | grep -q 'NEEDED.*lib[a-z]*san\.so'; then
	san=1
fi

# The libc functions bound from our library while its constructor runs
# (after "calling init: <lib>", before the program's own initialization),
# under the environment given: a list sorted, space-separated.
bindings() {
	env -i LD_DEBUG=bindings LD_PRELOAD="$lib" "$@" /bin/true 2>"$out"
	sed -n "\|calling init: .*$(basename "$lib")|,/initialize program/p" "$out" |
		sed -n "s|.*binding file [^ ]*$(basename "$lib") \[0\] to [^ ]*libc.so.6 \[0\]: normal symbol \`\([^']*\)'.*|\1|p" |
		sort | tr '\n' ' '
}

# Calls that may stay: the configuration's secure-execution check
# (getauxval), the fork handlers (pthread_atfork), the heap's
# reservation where libc's calls are used (getrlimit, mmap; munmap only
# under a limit: the preload library makes them as system calls,
# src/preload/libc_local.c), and
# memset and memcpy, which a compiler may emit for a structure (at -O0).  (A set-up an earlier constructor's
# allocation ran, as a sanitizer runtime's, binds its calls before ours.)
# Never getenv, strncmp, strlen or a pthread mutex or once, nor open, read
# and close (the CPU list is read by system calls made in our text),
# sigaction, sigfillset or __libc_current_sigrtmax (the live reader's
# handler is installed by a system call made in our text), nor, with ALLOCTAG* variables set, strcasecmp, strchr,
# strlen or strtoull (the parsers compare and convert by themselves):
# start-up does those itself.
allowed=" pthread_atfork getauxval getrlimit mmap munmap memset memcpy "
# A build without a sanitizer runtime (no earlier constructor allocates):
# exactly these, whether the configuration is the default (an empty
# environment), set by variables, or never (no counters, no store).
want="getauxval pthread_atfork "
for config in "" "ALLOCTAG=On,Uncompressed ALLOCTAG_DEPTH=4 ALLOCTAG_HEAP_MAX=1G ALLOCTAG_LIVE=yes" \
	"ALLOCTAG=never"; do
	# shellcheck disable=SC2086 # the configuration's words are variables
	got=$(bindings $config)
	for f in $got; do
		case "$allowed" in
		*" $f "*) ;;
		*)
			echo "FAIL: start-up under '$config' binds $f (all: $got)"
			exit 1
			;;
		esac
	done
	if [ $san = 0 ] && [ "$got" != "$want" ]; then
		echo "FAIL: start-up under '$config' binds: $got"
		echo "      expected:       $want"
		exit 1
	fi
done

# Four loadable segments (-z noseparate-code; src/preload/text_order.ld):
# headers, read-only data and the text of start-up and the allocator in
# one; profiling's text in the second, the rest of the text and .eh_frame
# in the third (each its own mapping, which bounds fault-around); data and
# .bss in the fourth.  Each segment's pages begin where the previous one's
# end: the loader leaves no hole to protect (a mapping more).
loads=$(readelf -lW "$lib" | grep -c '^ *LOAD')
if [ "$loads" != 4 ]; then
	echo "FAIL: $lib has $loads PT_LOAD segments, expected 4"
	exit 1
fi
holes=$(readelf -lW "$lib" | awk '$1 == "LOAD" { print $3, $5 }' | {
	end=
	while read -r vaddr filesz; do
		start=$((vaddr / 4096 * 4096))
		[ -z "$end" ] || [ "$start" = "$end" ] || printf '%x ' "$start"
		end=$(((vaddr + filesz + 4095) / 4096 * 4096))
	done
})
if [ -n "$holes" ]; then
	echo "FAIL: $lib's segments leave a hole before $holes"
	exit 1
fi
# The data segment's file-backed part ends on a page boundary
# (src/preload/data_end.ld): the loader zeroes no partial page of it.
rw=$(readelf -lW "$lib" | awk '$1 == "LOAD" && $7 ~ /W/ { print $3, $5 }')
end=$(($(echo "$rw" | cut -d' ' -f1) + $(echo "$rw" | cut -d' ' -f2)))
if [ -z "$rw" ] || [ $((end % 4096)) != 0 ]; then
	echo "FAIL: $lib's file-backed data ends at $end, not on a page boundary"
	exit 1
fi

# What the loader processes for the library at every start.  Its exports:
# the malloc family, glibc's malloc introspection and the public API
# (include/alloctag.h), nothing else: every other symbol is hidden, and an
# export added by accident makes every lookup of that name in every object
# find ours.
exports=$(readelf --dyn-syms -W "$lib" | awk 'NR > 3 && $7 != "UND" && $8 != "" { print $8 }' | sort | tr '\n' ' ')
want_exports="aligned_alloc alloctag_chain_stats alloctag_compressed alloctag_current_tag \
alloctag_debug_key alloctag_debug_restore alloctag_hooks_key alloctag_profiling alloctag_read \
alloctag_register_image alloctag_set_profiling alloctag_side_table_bytes alloctag_tag_bits \
alloctag_tag_name alloctag_top_users alloctag_unregister_image alloctag_write_allocinfo \
alloctag_write_allocinfo_fd at_aligned_alloc_noprof at_aligned_alloc_tag_noprof \
at_alloc_pages_noprof at_alloc_pages_tag_noprof at_calloc_noprof at_calloc_tag_noprof at_free \
at_free_pages at_malloc_noprof at_malloc_tag_noprof at_memalign_noprof at_memalign_tag_noprof \
at_posix_memalign_noprof at_posix_memalign_tag_noprof at_pvalloc_noprof at_pvalloc_tag_noprof \
at_realloc_noprof at_realloc_tag_noprof at_strdup_noprof at_strdup_tag_noprof at_strndup_noprof \
at_strndup_tag_noprof at_usable_size at_valloc_noprof at_valloc_tag_noprof calloc free mallinfo \
mallinfo2 malloc malloc_stats malloc_trim malloc_usable_size mallopt memalign posix_memalign \
pvalloc realloc valloc "
if [ "$exports" != "$want_exports" ]; then
	echo "FAIL: $lib exports: $exports"
	echo "      expected:     $want_exports"
	exit 1
fi

# The symbols its relocations make the loader look up at start (each a
# search of the whole lookup scope; the calls are bound lazily, at a first
# call): the libc variables it reads and the public API's data, which a
# program's copy relocation may move.  None for the C start files'
# transactional-memory, gprof or __cxa_finalize hooks (-nostartfiles), nor
# for alloctag_current_tag, which the library's code names by a hidden
# symbol (core/thread_block.c), nor for __libc_stack_end: the main
# thread's stack top is taken from the constructor's argv (startup/init.c).
looked_up=$(readelf -rW "$lib" | awk '$3 ~ /GLOB_DAT|TPOFF64|R_X86_64_64/ && $5 != "" { sub(/@.*/, "", $5); print $5 }' | sort | tr '\n' ' ')
want_looked_up="__libc_single_threaded __rseq_offset alloctag_debug_key alloctag_hooks_key environ "
if [ $san = 0 ] && [ "$looked_up" != "$want_looked_up" ]; then
	echo "FAIL: $lib's relocations look up: $looked_up"
	echo "      expected:                     $want_looked_up"
	exit 1
fi
# The symbol versions it needs: each one the loader checks against the
# defining object's at every start (about 300 instructions each).
# memfd_create, accept4 and getrandom are called by syscall() for this;
# memcpy (GLIBC_2.14), stat, lstat, fstat (GLIBC_2.33), clock_gettime and
# clock_nanosleep (GLIBC_2.17), pthread_atfork (libc_nonshared.a's, which
# calls __register_atfork, GLIBC_2.3.2) are defined in the library
# (src/preload/libc_local.c); __libc_stack_end (ld.so's GLIBC_2.2.5) is
# not read.  What stays: ld.so's __rseq_offset (GLIBC_2.35); libc's
# getauxval (2.16),
# __libc_single_threaded, pthread_sigmask and
# strerrordesc_np (2.32), the threads' functions (2.34), _dl_find_object
# (2.35), the rest (2.2.5).
versions=$(readelf -VW "$lib" | sed -n '/version_r/,$p' | awk '/File:/ { f = $5 } /Name:/ { print f ":" $3 }' | sort | tr '\n' ' ')
want_versions="ld-linux-x86-64.so.2:GLIBC_2.35 \
libc.so.6:GLIBC_2.16 libc.so.6:GLIBC_2.2.5 \
libc.so.6:GLIBC_2.32 libc.so.6:GLIBC_2.34 libc.so.6:GLIBC_2.35 "
if [ $san = 0 ] && [ "$versions" != "$want_versions" ]; then
	echo "FAIL: $lib needs versions: $versions"
	echo "      expected:           $want_versions"
	exit 1
fi
# Bound lazily (-z now would look up all of its libc imports at every
# start), never unloaded (-z nodelete: what the start files' destructor
# did at an unload is never needed).
if readelf -dW "$lib" | grep -q 'BIND_NOW\|FLAGS.*NOW'; then
	echo "FAIL: $lib is linked -z now"
	exit 1
fi
if ! readelf -dW "$lib" | grep -q 'FLAGS_1.*NODELETE'; then
	echo "FAIL: $lib is not linked -z nodelete"
	exit 1
fi
echo "start_bindings: ok"
