#!/bin/sh
# The suite under the sanitizers, each in its own build directory:
#   build-ubsan: every test, Debug (-O0: also the build type whose section
#                order differs), -fsanitize=undefined, any report fatal;
#   build-tsan:  the tests that run threads, clang -fsanitize=thread, any
#                report fatal (TSAN's exit code 66 fails the test).
# What ThreadSanitizer cannot check here is written in docs/RELIABILITY.md.
# usage: sh scripts/sanitizers.sh [ubsan] [tsan]   (default: both)
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc)
which=${*:-ubsan tsan}
san_flags() { # $1: -fsanitize=...
	echo "-DCMAKE_C_FLAGS=$1 -fno-omit-frame-pointer -Wno-unknown-warning-option" \
	     "-DCMAKE_EXE_LINKER_FLAGS=$1 -DCMAKE_SHARED_LINKER_FLAGS=$1 -DCMAKE_MODULE_LINKER_FLAGS=$1"
}
for s in $which; do
	case $s in
	ubsan)
		cmake -S . -B build-ubsan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc \
			"-DCMAKE_C_FLAGS=-fsanitize=undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
			"-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=undefined" \
			"-DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=undefined" \
			"-DCMAKE_MODULE_LINKER_FLAGS=-fsanitize=undefined" >/dev/null
		cmake --build build-ubsan -j"$jobs"
		# Everything, the preload library under Debian programs included
		# (it links libubsan; a report aborts the program).
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			ctest --test-dir build-ubsan --output-on-failure -j"$jobs" --timeout 600
		;;
	tsan)
		cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
			"-DCMAKE_C_FLAGS=-fsanitize=thread -Wno-unknown-warning-option" \
			"-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread" \
			"-DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread" \
			"-DCMAKE_MODULE_LINKER_FLAGS=-fsanitize=thread" >/dev/null
		tsan_tests='^(debug_warnings|early_.*|bin_charge.*|bin_overflow|compressed|counters_.*|chain_tags|chain_tags_uncompressed|malloc_errors|malloc_fork|malloc_migrate|malloc_threads.*|module_migrate|module_side_table|soak_ci.*)$'
		cmake --build build-tsan -j"$jobs" --target early_tracking early_concurrent \
			early_window early_accurate debug_warnings test_bin_charge test_bin_overflow \
			test_compressed test_counters test_chains test_malloc_errors \
			test_malloc_fork test_malloc_migrate test_malloc_threads test_module_migrate \
			$(grep -q 'soak_ci' tests/CMakeLists.txt && echo soak)
		# die_after_fork=0: malloc_fork starts a thread in the child of a
		# threaded parent, which TSan does not model (see RELIABILITY.md).
		TSAN_OPTIONS=halt_on_error=1:die_after_fork=0:second_deadlock_stack=1 \
			ctest --test-dir build-tsan --output-on-failure -j"$jobs" --timeout 900 \
			-R "$tsan_tests"
		;;
	*) echo "usage: $0 [ubsan] [tsan]" >&2; exit 2 ;;
	esac
done
