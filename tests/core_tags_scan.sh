#!/bin/sh
# Which executables make start-up read their own section headers to find
# core tags (core_tags.c): those that import one of the runtime's symbols,
# whether it sits among the unhashed undefined symbols (a call) or among
# the hashed ones (a function whose address a non-PIC executable takes),
# and with a GNU hash table large enough (400 exported functions) that the
# hashed ones are looked up by name rather than tested one by one.  The
# read is made visible by section headers made unreadable (e_shoff past the
# end of the file): a program whose headers are read says so on stderr.
#   core_tags_scan.sh liballoctag-preload.so CC
set -eu
lib=$1
cc=$2
dir=$(cd "$(dirname "$lib")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

awk 'BEGIN {
	for (i = 0; i < 400; i++) printf "int exported_fn_%d(int x) { return x + %d; }\n", i, i
	print "void at_free(void *);"
	print "void (*volatile keep)(void *);"
	print "#ifdef TAKE_ADDRESS"
	print "__attribute__((constructor)) static void take(void) { keep = at_free; }"
	print "#endif"
	print "int main(void) {"
	print "#ifdef CALL"
	print "	at_free(0);"
	print "#endif"
	print "	return exported_fn_1(0) - 1;"
	print "}"
}' >"$T/t.c"

# name, compiler options; the runtime linked as a dependency
build() {
	name=$1
	shift
	"$cc" -O1 -rdynamic "$@" "$T/t.c" -o "$T/$name" -L"$dir" -l:"$(basename "$lib")" \
		-Wl,--no-as-needed -Wl,-rpath,"$dir"
}

corrupt() {
	python3 -c 'import struct, sys
p = sys.argv[1]
d = bytearray(open(p, "rb").read())
struct.pack_into("<Q", d, 0x28, 0x7fffffff00)
open(p, "wb").write(d)' "$T/$1"
}

# expect NAME yes|no: whether its start-up reads its section headers
expect() {
	err=$("$T/$1" 2>&1 >/dev/null) || { echo "FAIL: $1 exited $?: $err"; exit 1; }
	case $2 in
	yes) want="alloctag: $T/$1: corrupt section headers; the main program's tags are left to its constructor" ;;
	no) want="" ;;
	esac
	if [ "$err" != "$want" ]; then
		echo "FAIL: $1: stderr '$err'"
		echo "      expected '$want'"
		exit 1
	fi
}

build hashed -no-pie -fno-pic -DTAKE_ADDRESS
# the case this checks: at_free undefined and hashed (a non-zero value: the
# canonical PLT entry)
readelf --dyn-syms -W "$T/hashed" | awk '$8 == "at_free" && $7 == "UND" && $2 !~ /^0+$/ { f = 1 } END { exit !f }' ||
	{ echo "FAIL: at_free is not a hashed undefined symbol of the test program"; exit 1; }
corrupt hashed
expect hashed yes
build called -DCALL
corrupt called
expect called yes
build none
corrupt none
expect none no
echo "core_tags_scan: ok"
