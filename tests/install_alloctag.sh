#!/bin/sh
# The installed alloctag command finds the installed preload library (no
# path to type) and reports an unmodified program's sites.
# usage: install_alloctag.sh /path/to/build /path/to/source-dir
set -eu
build=$1
src=$(readlink -f "$2")
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cmake --install "$build" --prefix "$prefix" >/dev/null
[ -x "$prefix/bin/alloctag" ] || fail "no $prefix/bin/alloctag"
cc -g -O1 -o "$prefix/prog" "$src/tests/tool_prog.c"
line=$(grep -n SITE_B "$src/tests/tool_prog.c" | cut -d: -f1)
cd "$prefix"
env -u LD_LIBRARY_PATH "$prefix/bin/alloctag" run --top 3 -- "$prefix/prog" 2 >/dev/null 2>"$prefix/err" ||
    { cat "$prefix/err" >&2; fail "installed alloctag run"; }
grep -q "  site_b at $src/tests/tool_prog.c:$line\$" "$prefix/err" || { cat "$prefix/err" >&2; fail "top sites"; }
ls "$prefix"/alloctag.prog.*.prof >/dev/null || fail "no profile in the current directory"
# moved elsewhere with its library: still found (relative to the executable)
mv "$prefix/bin" "$prefix/bin2" && mkdir "$prefix/moved" && mv "$prefix/bin2" "$prefix/moved/bin" &&
    mv "$prefix/lib" "$prefix/moved/lib"
"$prefix/moved/bin/alloctag" run --top 1 -- "$prefix/prog" 2 >/dev/null 2>"$prefix/err" ||
    { cat "$prefix/err" >&2; fail "moved installation"; }
grep -q "site_b at" "$prefix/err" || fail "moved installation: $(cat "$prefix/err")"
echo "installed alloctag: ok"
