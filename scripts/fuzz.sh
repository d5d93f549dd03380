#!/bin/sh
# libFuzzer targets (fuzz/*.c) for the parsers of outside input, built with
# Debian's clang (-fsanitize=fuzzer,address,undefined) in build-fuzz/.
#   sh scripts/fuzz.sh ci [seconds]    replay fuzz/corpus/<target>/ and fuzz
#                                      each target for a few seconds (5)
#   sh scripts/fuzz.sh long [hours] [target...]
#                                      fuzz each target (all: every one) in
#                                      turn for hours (1 per target), adding
#                                      new inputs to a working corpus in
#                                      build-fuzz/corpus/
# Prints each target's executions ("fuzz: <target>: N executions, ...").
# A crash or a hang (-timeout=5) fails with the input saved in build-fuzz/.
set -eu
cd "$(dirname "$0")/.."
mode=${1:-ci}
out=build-fuzz
mkdir -p "$out"
CC=${CC:-clang}
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc"
# Each target and the runtime sources its parser needs.
targets="fuzz_alloctag_env fuzz_size_env fuzz_config_env fuzz_eh_frame fuzz_elf_image fuzz_symbolize"
sources_of() {
	case $1 in
	fuzz_alloctag_env|fuzz_size_env|fuzz_config_env) echo src/core/control.c src/core/message.c ;;
	fuzz_eh_frame) echo src/sites/unwind.c src/sites/eh_file.c src/core/message.c ;;
	fuzz_elf_image) echo src/core/tag_section.c src/sites/symtab.c ;;
	fuzz_symbolize) echo -Itools tools/symbols/dwfl.c tools/common/common.c -ldw -lelf -lstdc++ ;;
	esac
}
# Longest input: the ELF targets' seeds are whole small objects.
max_len() { # target, default
	case $1 in
	fuzz_eh_frame) echo 4096 ;;
	fuzz_elf_image|fuzz_symbolize) echo 20000 ;;
	*) echo "$2" ;;
	esac
}
for t in $targets; do
	$CC $flags -o "$out/$t" "fuzz/$t.c" $(sources_of "$t")
done
run() { # target, extra libFuzzer options...
	t=$1
	shift
	log=$out/$t.log
	if ! ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
		"$out/$t" -timeout=5 -artifact_prefix="$out/$t-" "$@" >"$log" 2>&1; then
		tail -40 "$log" >&2
		echo "fuzz: $t FAILED (log: $log)" >&2
		exit 1
	fi
	runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1 | grep -o '[0-9]*')
	echo "fuzz: $t: ${runs:-0} executions, $(grep -c '' "$log") log lines, no crash, no hang"
}
case $mode in
ci)
	secs=${2:-5}
	for t in $targets; do
		run "$t" -runs=0 "fuzz/corpus/$t" # replay: every input still passes
		mkdir -p "$out/corpus/$t"
		run "$t" -max_total_time="$secs" -max_len="$(max_len "$t" 256)" "$out/corpus/$t" "fuzz/corpus/$t"
	done
	;;
long)
	hours=${2:-1}
	secs=$(awk "BEGIN { printf \"%d\", $hours * 3600 }")
	[ $# -gt 2 ] && shift 2 && targets=$*
	for t in $targets; do
		mkdir -p "$out/corpus/$t"
		run "$t" -max_total_time="$secs" -max_len="$(max_len "$t" 1024)" -jobs=1 "$out/corpus/$t" "fuzz/corpus/$t"
	done
	;;
*) echo "usage: $0 ci [seconds] | long [hours]" >&2; exit 2 ;;
esac
